// One I/O page table (generic_pt's struct pt_common and the table half of struct pt_iommu): a root,
// its level, the per-level walk states, and the entry points that run the level functions of
// map.ts, unmap.ts and walk-all.ts on the one iterator (iter.ts). A format (format.ts) supplies
// the codec and the geometry, a policy (policy.ts) the era's answers to conflicts and holes.
//
// Tables an unmap or a map unlinks go onto the caller's gather (IotlbGather.freelist) and are
// freed by putPages() once the IOTLB flush that covers them is done.

import { IommuError } from '../errno.js';
import { gatherFreelist, type IotlbGather } from '../gather.js';
import type { TableArena } from '../mem/arena.js';
import type { PhysMem } from '../physmem.js';
import { POW2_TABLE } from '../pgsize.js';
import type { Reacher } from '../sim/checker.js';
import type { Meter } from '../sim/meter.js';
import { PtAccount } from './account.js';
import { PT_ENTRY_OA, PT_ENTRY_TABLE, PtState, clearEntries, type PtFormat } from './format.js';
import { PtGeometry } from './geometry.js';
import { PtWalk, ptForget, ptForgetBelow, ptLoadTable } from './iter.js';
import type { PtLevelTable } from './level-table.js';
import { ptMapOne4k, ptMapRange } from './map.js';
import type { PtPolicy } from './policy.js';
import { ptFreeCovered, ptUnmapOne4k, ptUnmapRange } from './unmap.js';
import { ptEnumerate, ptParentOf, ptTeardown } from './walk-all.js';

/** What lookup() found besides the frame: the leaf's order (log2 bytes) and its IOMMU_* prot. */
export class PtLookup {
  order = 0;
  prot = 0;
}

export class PageTable implements Reacher, PtLevelTable {
  /** 0-based level of the root table. */
  top = 0;
  /** pfn of the root table. */
  root = 0;
  /** Tables this page table owns, root included (tables waiting on a freelist excluded). */
  tables = 1;
  readonly geo: PtGeometry;
  readonly arena: TableArena;
  /** One walk state per level, states[l].level === l; each keeps the table it last held (iter.ts). */
  readonly states: readonly PtState[];
  readonly acct: PtAccount;
  /** The format's linear 4K codec (PtFormat.leaf4k) when its level-0 items are 4 KiB, else null. */
  readonly lin: ((pfn: number, prot: number, out: Int32Array) => void) | null;
  /** Two words the linear codec encodes into. */
  readonly enc = new Int32Array(2);
  /** The call in progress (or the last one): its range, arguments and results. */
  private readonly walk = new PtWalk();
  /** Tables allocated inside open map brackets, as (pfn, first page, level) triples. */
  private readonly txLog: number[] = [];
  private readonly txMarks: number[] = [];
  /** Gathers whose freelist holds tables unlinked from this table, not yet freed. */
  private readonly holders: IotlbGather[] = [];
  /**
   * IOVA page of the leaf the last lookup() left loaded in states[0] (index at its entry), or -1.
   * VFIO's teardown of a 4k guest asks iova_to_phys for a page and then unmaps that page: the unmap
   * takes the leaf from here instead of descending again. map(), unmap() and every descent (find)
   * reset it. grow() and the map brackets keep it valid: they load no level-0 table but the old
   * root of a level-0 top, the same table, and free only empty tables, which hold no leaf. Nothing
   * calls a destroyed table (its domain is dead: domain-ops returns before the table).
   */
  private found = -1;

  /**
   * A table with an empty root at topLevel. RangeError for a top level outside 0..fmt.maxLevel or a
   * format whose geometry the engine cannot walk; IommuError ENOMEM when the root cannot be allocated.
   */
  constructor(
    readonly fmt: PtFormat,
    readonly mem: PhysMem,
    meter: Meter,
    readonly policy: PtPolicy,
    topLevel: number,
    readonly domainId: number,
  ) {
    if (!(Number.isInteger(topLevel) && topLevel >= 0 && topLevel <= fmt.maxLevel))
      throw new RangeError(`top level ${topLevel} outside 0..${fmt.maxLevel}`);
    this.geo = new PtGeometry(fmt);
    this.arena = mem.tables;
    this.acct = new PtAccount(mem, meter);
    const states: PtState[] = [];
    for (let l = 0; l <= fmt.maxLevel; l++) {
      const s = new PtState();
      s.level = l;
      states.push(s);
    }
    this.states = states;
    this.lin = this.geo.linear4k ? fmt.leaf4k!.bind(fmt) : null;
    const r = mem.allocTable();
    if (r < 0) throw new IommuError('ENOMEM', 'iommu_domain_alloc', 'page-table root allocation failed');
    this.root = r;
    this.top = topLevel;
    ptLoadTable(this, states[topLevel]!, r, 0);
  }

  /** Pages of IOVA space the current top covers. */
  get span(): number {
    return this.geo.tablePages[this.top]!;
  }

  /** Pages the last map() installed, a partly done run included (the kernel's *mapped). */
  get mapped(): number {
    return this.walk.done;
  }

  /** Leaves the last unmap() removed plus the holes it stepped over (one lookup each in a page-walking driver). */
  get unmapSteps(): number {
    return this.walk.steps;
  }

  /**
   * Installs `count` leaves of 2^order bytes from IOVA page iova to frame pfn; iova and pfn must be
   * aligned to the leaf and the range inside the span. Returns 0 or a negative errno (the policy's
   * for a conflict, ENOMEM); `mapped` says how many pages went in before a failure (the caller
   * unwinds them). Empty tables a large leaf replaces go onto freed's freelist. RangeError for an
   * order the format cannot hold or a range outside the span (a negative iova included).
   */
  map(iova: number, pfn: number, order: number, count: number, prot: number, freed: IotlbGather): number {
    const r = this.walk,
      geo = this.geo;
    r.done = 0;
    this.found = -1;
    const level = geo.levelOf[order] ?? -1;
    if (level < 0) throw new RangeError(`format ${this.fmt.name} holds no leaf of order ${order}`);
    const lp = POW2_TABLE[order - 12]!;
    // checked before the 4 KiB shortcuts, which index tables straight from iova: a negative page would
    // reach the entry before its table's first, and the walk would take it for page 0
    if (!(iova >= 0 && iova + count * lp <= this.span))
      throw new RangeError(`iova page ${iova} + ${count * lp} outside the top level's span of ${this.span} pages`);
    if (lp === 1 && count === 1 && this.lin !== null) {
      const s = this.states[0]!;
      if (s.key === Math.floor(iova * geo.perTable[0]!) && this.top > 0) {
        // the level-0 table the last walk ended in (VFIO's per-page map of a 4k guest): no walk
        const e = ptMapOne4k(this, s, (iova - s.va) | 0, pfn, prot);
        if (e === 0) r.done = 1;
        return e;
      }
      const e = this.mapOne4kDescend(iova, pfn, prot);
      if (e <= 0) return e;
    }
    r.va = iova;
    r.start = iova;
    r.end = iova + count * lp;
    r.pfn = pfn;
    r.order = order;
    r.lp = lp;
    r.level = level;
    r.rep = geo.replicas[order]!;
    r.prot = prot;
    r.freed = freed;
    return ptMapRange(this, r);
  }

  /**
   * Clears the leaves from IOVA page iova over npages under the policy's hole rules; a leaf that
   * starts before iova or ends past the range is removed whole (or, under startInLeaf 'zero', one
   * starting before iova ends the unmap). Tables whose whole span it cleared go onto freed's
   * freelist when the policy frees tables. Returns pages removed (whole leaves, counted holes).
   */
  unmap(iova: number, npages: number, freed: IotlbGather): number {
    const r = this.walk,
      known = this.found === iova;
    this.found = -1;
    if (npages === 1 && this.lin !== null) {
      // one 4 KiB leaf (VFIO's per-page teardown of a 4k guest): the leaf the lookup just before
      // found, else a plain descent; no walk
      const pts = known ? this.states[0]! : this.find(iova);
      if (pts !== null && pts.level === 0 && ptUnmapOne4k(this, pts, pts.index) === 1) {
        r.steps = 1;
        return 1;
      }
    }
    r.va = iova;
    r.start = iova;
    r.end = Math.min(iova + npages, this.span);
    r.done = 0;
    r.cleared = 0;
    r.steps = 0;
    r.spanStart = -1;
    ptUnmapRange(this, r);
    if (r.cleared > 0) this.acct.cleared(r.cleared);
    // a shorter cleared span cannot hold a whole table
    if (this.policy.freeTables && r.spanStart >= 0 && r.va - r.spanStart >= this.geo.tablePages[0]!) {
      const cur = r.va;
      r.va = r.spanStart;
      r.end = cur;
      // the gather goes as an argument, not into the walk: it is usually a young object (the core's
      // per-call one), whose store into the walk costs a write barrier call
      ptFreeCovered(this, r, freed);
      r.va = cur;
    }
    return r.done;
  }

  /** Frame IOVA page iova translates to, or -1; fills out (when given) with the leaf's order and prot. */
  lookup(iova: number, out: PtLookup | null): number {
    const pts = this.find(iova);
    if (pts === null) return -1;
    if (pts.level === 0) this.found = iova;
    if (out !== null) {
      out.order = pts.order;
      out.prot = this.fmt.leafProt(pts.words, pts.base + 2 * pts.index);
    }
    return pts.order === 12 ? pts.pfn : pts.pfn + (iova % POW2_TABLE[pts.order - 12]!);
  }

  /** The entry that translates IOVA page iova (for raw PTE reads): its words, word offset and level; null if none. */
  entryOf(iova: number): { words: Int32Array; w: number; level: number } | null {
    const pts = this.find(iova);
    return pts === null ? null : { words: pts.words, w: pts.base + 2 * pts.index, level: pts.level };
  }

  /**
   * One 4 KiB leaf at iova, which map() has checked is inside the span, when the tables down to
   * level 0 are there (a single-page map into another level-0 table): 0 or the policy's overmap; 1
   * when it needs the walk (a table to allocate, a leaf above level 0). Kept out of map(): inlined
   * there, it cost the 4k guest's cached path more than it saved.
   */
  private mapOne4kDescend(iova: number, pfn: number, prot: number): number {
    const states = this.states,
      geo = this.geo;
    let l = this.top;
    while (l > 0 && states[l - 1]!.key === Math.floor(iova * geo.perTable[l - 1]!)) l--;
    // from the lowest loaded table that covers iova, through present tables down to level 0
    let pts = states[l]!;
    while (l > 0) {
      const i = ((iova - pts.va) * geo.perItem[l]!) | 0,
        w = pts.base + 2 * i,
        words = pts.words;
      if ((words[w]! | words[w + 1]!) === 0 || this.fmt.load(words, w, l, pts) !== PT_ENTRY_TABLE) return 1;
      ptLoadTable(this, states[l - 1]!, pts.pfn, pts.va + i * geo.itemPages[l]!);
      l--;
      pts = states[l]!;
    }
    const e = ptMapOne4k(this, pts, ((iova - pts.va) * geo.perItem[0]!) | 0, pfn, prot);
    if (e === 0) this.walk.done = 1;
    return e;
  }

  /**
   * The state at the leaf translating iova (pfn and order loaded, index at its entry), or null.
   * A descent of its own, not the iterator's: one page needs no range bounds per level, and a 4k
   * guest runs it twice per page (iova_to_phys, then the unmap). It starts at the lowest loaded
   * table that covers iova, usually the level-0 table the last call ended in.
   */
  private find(iova: number): PtState | null {
    this.found = -1;
    if (!(iova >= 0 && iova < this.span)) return null;
    const states = this.states,
      geo = this.geo,
      top = this.top;
    let l = 0;
    while (l < top && states[l]!.key !== Math.floor(iova * geo.perTable[l]!)) l++;
    let pts = states[l]!;
    for (;;) {
      // `| 0`: the index stays a small integer (below the table's item count). A double stored
      // into PtState.index makes the field a boxed number for every reader, and the 4 KiB map and
      // unmap loops ran 10-16% more instructions.
      const i = ((iova - pts.va) * geo.perItem[l]!) | 0,
        w = pts.base + 2 * i,
        words = pts.words;
      if ((words[w]! | words[w + 1]!) === 0) return null;
      pts.index = i;
      const type = this.fmt.load(words, w, l, pts);
      if (type === PT_ENTRY_OA) return pts;
      if (type !== PT_ENTRY_TABLE) return null;
      const c = states[l - 1]!;
      ptLoadTable(this, c, pts.pfn, pts.va + i * geo.itemPages[l]!);
      pts = c;
      l--;
    }
  }

  /** increase_top: a new root whose entry 0 points at the old one. False at the format's max level or on ENOMEM. */
  grow(): boolean {
    if (this.top >= this.fmt.maxLevel) return false;
    const nr = this.mem.allocTable();
    if (nr < 0) return false;
    const old = this.root;
    this.fmt.installTable(this.arena.words(nr), this.arena.wordOffset(nr), this.top + 1, old);
    this.acct.wrote(1);
    this.tables++;
    this.root = nr;
    this.top++;
    ptLoadTable(this, this.states[this.top - 1]!, old, 0);
    ptLoadTable(this, this.states[this.top]!, nr, 0);
    return true;
  }

  /** Calls fn(iova, pfn, order) for every leaf (heads of replicated runs once); none after destroy(). Not for hot paths. */
  forEachLeaf(fn: (iova: number, pfn: number, order: number) => void): void {
    if (this.tables === 0) return; // destroyed: the old root may be another domain's table now
    ptEnumerate(this, fn);
  }

  /** Pages mapped by all leaves (for teardown checks). */
  mappedPages(): number {
    let n = 0;
    this.forEachLeaf((_i, _p, o) => {
      n += POW2_TABLE[o - 12]!;
    });
    return n;
  }

  /** Number of leaves (a replicated run counts once). */
  countLeaves(): number {
    let n = 0;
    this.forEachLeaf(() => {
      n++;
    });
    return n;
  }

  findReach(pfn: number): { domain: number; iova: number; via: 'pte' } | null {
    let hit: { domain: number; iova: number; via: 'pte' } | null = null;
    this.forEachLeaf((iova, p, order) => {
      const n = POW2_TABLE[order - 12]!;
      if (hit === null && pfn >= p && pfn < p + n) hit = { domain: this.domainId, iova: iova + (pfn - p), via: 'pte' };
    });
    return hit;
  }

  /**
   * Clears every leaf and frees every table, root included, and the tables still waiting on a
   * gather (domain free). A second call throws a RangeError 'BUG: ...': the freed root may already
   * belong to another domain, whose tables it would free.
   */
  destroy(): void {
    if (this.tables === 0) throw new RangeError(`BUG: page table of domain ${this.domainId} destroyed twice`);
    const all: number[] = [];
    ptTeardown(this, all);
    while (this.holders.length > 0) this.putPages(this.holders[0]!);
    for (const t of all) this.mem.freeTable(t);
    this.tables = 0;
    ptForget(this);
  }

  // ---- freed tables ---------------------------------------------------------------------------

  /** Tables waiting on a gather for an IOTLB flush before they may be freed. */
  get deferredTables(): number {
    let n = 0;
    for (const g of this.holders) n += g.freelist.length;
    return n;
  }

  /** Moves the unlinked tables in list onto g's freelist; states below `belowLevel` may have held them. */
  unlink(list: readonly number[], g: IotlbGather, belowLevel: number): void {
    const fl = gatherFreelist(g);
    for (const t of list) fl.push(t);
    this.tables -= list.length;
    if (!this.holders.includes(g)) this.holders.push(g);
    ptForgetBelow(this, belowLevel);
  }

  /**
   * iommu_put_pages_list(): frees the tables on g's freelist, in the order they were unlinked.
   * Drivers call it after the IOTLB flush that made them unreachable.
   */
  putPages(g: IotlbGather): void {
    const fl = g.freelist;
    if (fl.length === 0) return;
    for (let k = 0; k < fl.length; k++) this.mem.freeTable(fl[k]!);
    (fl as number[]).length = 0;
    const i = this.holders.indexOf(g);
    if (i >= 0) this.holders.splice(i, 1);
  }

  /** True when every entry of table pfn is empty. */
  tableEmpty(pfn: number): boolean {
    const words = this.arena.words(pfn),
      base = this.arena.wordOffset(pfn);
    for (let k = base; k < base + 1024; k++) if (words[k] !== 0) return false;
    return true;
  }

  // ---- failed-map cleanup (model hook: a failed iommu_map leaves no tables behind) ----------

  /**
   * Starts recording the tables map() allocates. Nestable: VFIO may bracket a whole MAP_DMA while
   * the core brackets each iommu_map inside it; an abort frees what was allocated since its own begin.
   */
  txBegin(): void {
    if (this.txMarks.length === 0 && this.txLog.length !== 0) this.txLog.length = 0;
    this.txMarks.push(this.txLog.length);
  }

  /** Records a table map() allocated at `level` for the IOVA pages from va, inside a bracket. */
  txRecord(pfn: number, va: number, level: number): void {
    if (this.txMarks.length > 0) this.txLog.push(pfn, va, level);
  }

  /** Ends the innermost bracket; on abort frees every table recorded since it that is now empty, newest first. */
  txEnd(abort: boolean): void {
    const log = this.txLog;
    const mark = this.txMarks.pop();
    if (mark === undefined) return;
    if (abort) {
      for (let k = log.length - 3; k >= mark; k -= 3) this.unlinkIfEmpty(log[k]!, log[k + 1]!, log[k + 2]!);
      log.length = mark;
    }
    if (this.txMarks.length === 0 && log.length !== 0) log.length = 0;
  }

  /** Frees table pfn at once when it is empty and still hangs where it was allocated (no walker can have cached it). */
  private unlinkIfEmpty(pfn: number, va: number, level: number): void {
    if (!this.tableEmpty(pfn)) return;
    const parent = ptParentOf(this, this.walk, va, level, pfn);
    if (parent === null) return;
    clearEntries(parent.words, parent.base + 2 * parent.index, 1);
    this.mem.freeTable(pfn);
    this.tables--;
    ptForget(this);
  }
}
