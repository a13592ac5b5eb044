// A format-agnostic radix page-table engine, after generic_pt's iommu_pt.h: map and unmap walk a
// range once, top-down, and keep their position across entries and tables instead of walking
// again from the root for every PTE. A per-level cache of the last table visited (keyed by the
// IOVA bits above that table) also lets consecutive single-page calls skip the upper levels.

import { IommuError } from '../errno.js';
import { POW2 } from '../pgsize.js';
import { PAGED_CHUNK_SHIFT } from '../mem/paged.js';
import type { PhysMem } from '../physmem.js';
import type { Reacher } from '../sim/checker.js';
import { EV, type Meter } from '../sim/meter.js';
import { PT_ENTRY_EMPTY, PT_ENTRY_OA, PT_ENTRY_TABLE, PtState, clearEntries, levelOfOrder, type PtFormat } from './format.js';

/** 2^(9L): pages one item covers at level L. */
export const P9 = [1, 512, 262144, 134217728, 68719476736, 35184372088832, 18014398509481984, 2 ** 72];

/** How a driver's page table answers conflicts and holes (per era, see spec amd-iommu §9.5). */
export interface PtPolicy {
  /** Negative errno when a map target slot already holds a leaf (or a table it may not replace). */
  readonly overmap: number;
  /** Negative errno when a leaf at a higher level sits where the walk must descend. */
  readonly leafAbove: number;
  /** A map over an empty subtree unlinks it and frees its tables after the next sync (else overmap). */
  readonly replaceEmptyTables: boolean;
  /** Unmap meeting an empty slot: 'stop' ends it; 'count' steps over the slot and counts its size (AMD 2018). */
  readonly holes: 'stop' | 'count';
  /** Unmap starting inside a larger leaf: 'whole' removes and reports the leaf; 'zero' removes nothing (iommupt). */
  readonly startInLeaf: 'whole' | 'zero';
  /** Unmap frees tables whose whole span it cleared (released after the next sync). */
  readonly freeTables: boolean;
}

const ENOMEM = -12;
// reach-count chunks (PagedInt32) and the pfn span over which a linear 4K encoding carries (format.ts)
const RCHUNK = 1 << PAGED_CHUNK_SHIFT, RMASK = RCHUNK - 1, LIN = 0x100000;
/**
 * Reach bytes for leaves outside host RAM (MMIO, whose pfns lie far above it): the fused 4K loops
 * count into this shared scratch chunk so they stay monomorphic; its values mean nothing, and a
 * saturated byte takes the slow path, which skips non-RAM frames.
 */
const NO_REACH = new Int8Array(RCHUNK);

export class PageTable implements Reacher {
  /** 0-based level of the root table. */
  top = 0;
  /** pfn of the root table. */
  root = 0;
  /** Tables this page table owns, root included (deferred frees excluded). */
  tables = 1;
  /** Pages installed by the last map() call, including a partly done run. */
  mapped = 0;
  /** The last map() unlinked tables: the driver must flush before they are freed. */
  replaced = false;
  /** Order and prot of the leaf found by the last lookup(). */
  lastOrder = 0;
  lastProt = 0;
  /** Leaves the last unmap removed and holes it stepped over (one lookup each in a page-walking driver). */
  unmapSteps = 0;

  private readonly st = new PtState();
  /** The format's linear 4K codec (format.ts leaf4k), or null. */
  private readonly lin: ((pfn: number, prot: number, out: Int32Array) => void) | null;
  private readonly enc = new Int32Array(2);
  private readonly cPfn = new Float64Array(8);
  private readonly cKey = new Float64Array(8).fill(-1);
  private readonly cBase = new Int32Array(8);
  private readonly cWords: Int32Array[] = [];
  // result of the last find()/descend(): table words, base of the table, word of the entry
  private wWords: Int32Array;
  private wBase = 0;
  private wW = 0;
  private wLevel = 0;
  private deferred: number[] = [];
  private readonly txTables: number[] = [];
  private readonly txMarks: number[] = [];

  constructor(readonly fmt: PtFormat, private readonly mem: PhysMem, private readonly meter: Meter,
              readonly policy: PtPolicy, topLevel: number, readonly domainId: number) {
    if (!(topLevel >= 0 && topLevel <= fmt.maxLevel)) throw new RangeError(`top level ${topLevel} outside 0..${fmt.maxLevel}`);
    const r = mem.allocTable();
    if (r < 0) throw new IommuError('ENOMEM', 'iommu_domain_alloc', 'page-table root allocation failed');
    this.root = r;
    this.top = topLevel;
    this.lin = fmt.leaf4k !== undefined ? fmt.leaf4k.bind(fmt) : null;
    const empty = mem.tables.words(r);
    for (let i = 0; i < 8; i++) this.cWords.push(empty);
    this.wWords = empty;
    this.setCache(topLevel, r, 0);
  }

  /** Pages of IOVA space the current top covers. */
  get span(): number { return P9[this.top + 1]!; }

  // ---- walking ------------------------------------------------------------------------------

  private setCache(level: number, pfn: number, key: number): void {
    this.cPfn[level] = pfn;
    this.cKey[level] = key;
    this.cWords[level] = this.mem.tables.words(pfn);
    this.cBase[level] = this.mem.tables.wordOffset(pfn);
  }
  private invalidateCache(): void {
    for (let l = 0; l < this.top; l++) this.cKey[l] = -1;
  }
  /** Lowest level >= from whose table for iova is cached. */
  private cachedLevel(iova: number, from: number): number {
    let l = from;
    while (l < this.top && this.cKey[l] !== Math.floor(iova / P9[l + 1]!)) l++;
    return l;
  }

  /** Descends to the entry for iova and stops at the first non-table entry. Returns its type. */
  private find(iova: number): number {
    let l = this.cachedLevel(iova, 0);
    const st = this.st;
    for (;;) {
      const words = this.cWords[l]!, base = this.cBase[l]!;
      const w = base + 2 * ((iova / P9[l]!) & 511);
      const type = (words[w] | words[w + 1]!) === 0 ? PT_ENTRY_EMPTY : this.fmt.load(words, w, l, st);
      if (type !== PT_ENTRY_TABLE) {
        this.wWords = words; this.wBase = base; this.wW = w; this.wLevel = l;
        return type;
      }
      l--;
      this.setCache(l, st.pfn, Math.floor(iova / P9[l + 1]!));
    }
  }

  /** Descends to the table at `target` for iova, allocating missing tables. 0 or negative errno. */
  private descend(iova: number, target: number): number {
    let l = this.cachedLevel(iova, target);
    const st = this.st, fmt = this.fmt;
    while (l > target) {
      const words = this.cWords[l]!;
      const w = this.cBase[l]! + 2 * ((iova / P9[l]!) & 511);
      let child: number;
      if ((words[w] | words[w + 1]!) === 0) {
        child = this.mem.allocTable();
        if (child < 0) return ENOMEM;
        fmt.installTable(words, w, l, child);
        this.tables++;
        this.meter.charge(EV.pteWrites, 1);
        if (this.txMarks.length > 0) this.txTables.push(child);
      } else if (fmt.load(words, w, l, st) === PT_ENTRY_TABLE) {
        child = st.pfn;
      } else {
        return this.policy.leafAbove;
      }
      l--;
      this.setCache(l, child, Math.floor(iova / P9[l + 1]!));
    }
    this.wWords = this.cWords[target]!;
    this.wBase = this.cBase[target]!;
    return 0;
  }

  // ---- map ----------------------------------------------------------------------------------

  /**
   * Installs `count` leaves of 2^order bytes from iova (pages) to pfn. iova and pfn must be aligned
   * to the leaf and the range covered by the current top. Returns 0 or a negative errno; `mapped`
   * says how many pages were installed before a failure (the caller unwinds them).
   */
  map(iova: number, pfn: number, order: number, count: number, prot: number): number {
    if (order === 12 && this.lin !== null) return this.map4k(iova, pfn, count, prot);
    const tl = levelOfOrder(order);
    const rep = POW2[order - 12 - 9 * tl]!;
    const lp = POW2[order - 12]!;
    const fmt = this.fmt, mem = this.mem;
    this.mapped = 0;
    this.replaced = false;
    if (iova + count * lp > this.span) throw new RangeError(`iova page ${iova} + ${count * lp} beyond the top level's span`);
    while (count > 0) {
      const e = this.descend(iova, tl);
      if (e < 0) return e;
      const words = this.wWords, base = this.wBase;
      const i = (iova / P9[tl]!) & 511;
      const fit = Math.min(count, Math.floor((512 - i) / rep));
      let s = i;
      const lim = i + fit * rep;
      while (s < lim && (words[base + 2 * s] | words[base + 2 * s + 1]!) === 0) s++;
      const good = Math.floor((s - i) / rep);
      if (good > 0) {
        const written = fmt.installLeaves(words, base + 2 * i, tl, pfn, order, prot, good);
        this.meter.charge(EV.pteWrites, written);
        if (lp === 1) mem.reachAddRun4k(pfn, good, 1);
        else for (let k = 0; k < good; k++) mem.reachAdd(pfn + k * lp, order, 1);
        iova += good * lp; pfn += good * lp; count -= good; this.mapped += good * lp;
      }
      if (good < fit) {
        // a present entry inside the next leaf's slots
        const w = base + 2 * (i + good * rep);
        let k = 0;
        for (; k < rep; k++) if ((words[w + 2 * k] | words[w + 2 * k + 1]!) !== 0) break;
        const type = fmt.load(words, w + 2 * k, tl, this.st);
        if (type === PT_ENTRY_TABLE && this.policy.replaceEmptyTables && tl > 0 && this.subtreeEmpty(this.st.pfn, tl - 1)) {
          clearEntries(words, w + 2 * k, 1);
          this.deferSubtree(this.st.pfn, tl - 1);
          this.replaced = true;
          continue;
        }
        return this.policy.overmap;
      }
    }
    return 0;
  }

  /**
   * map() for 4 KiB leaves on a format with a linear 4K codec: per level-0 table, one pass checks
   * each slot is empty, writes the leaf and counts the frame's reach (cut where a reach chunk or
   * the codec's 2^20-frame carry ends). A level-0 slot never holds a table, so a present entry is
   * always the policy's overmap.
   */
  private map4k(iova: number, pfn: number, count: number, prot: number): number {
    const lin = this.lin!, enc = this.enc, reach = this.mem.reach4k, ram = this.mem.nFrames;
    this.mapped = 0;
    this.replaced = false;
    if (count === 1 && this.cKey[0] === Math.floor(iova / 512) && this.top > 0) {
      // one page into the level-0 table the last walk ended in: VFIO's per-page map of a 4k guest
      const words = this.cWords[0]!, w = this.cBase[0]! + 2 * (iova & 511);
      if ((words[w]! | words[w + 1]!) !== 0) return this.policy.overmap;
      lin(pfn, prot, enc);
      words[w] = enc[0]!; words[w + 1] = enc[1]!;
      if (pfn < ram) {
        const c = reach.chunkFor(pfn), off = pfn & RMASK, x = c[off]!;
        if (x < 127 && x > -128) c[off] = x + 1; else reach.add(pfn, 1);
      }
      this.meter.charge(EV.pteWrites, 1);
      this.mapped = 1;
      return 0;
    }
    if (iova + count > this.span) throw new RangeError(`iova page ${iova} + ${count} beyond the top level's span`);
    while (count > 0) {
      let words: Int32Array, base: number;
      if (this.cKey[0] === Math.floor(iova / 512) && this.top > 0) { words = this.cWords[0]!; base = this.cBase[0]!; }
      else {
        const e = this.descend(iova, 0);
        if (e < 0) return e;
        words = this.wWords; base = this.wBase;
      }
      const i = iova & 511;
      const fit = Math.min(count, 512 - i);
      let w = base + 2 * i, n = 0;
      while (n < fit) {
        const p = pfn + n, off = p & RMASK;
        if (n === 0 || (p & (LIN - 1)) === 0) lin(p, prot, enc);
        const inRam = p < ram;
        const seg = Math.min(fit - n, RCHUNK - off, LIN - (p & (LIN - 1)), inRam ? ram - p : RCHUNK);
        const c = inRam ? reach.chunkFor(p) : NO_REACH;
        let lo = enc[0]!, k = 0;
        const hi = enc[1]!;
        for (; k < seg; k++, w += 2) {
          if ((words[w]! | words[w + 1]!) !== 0) break;
          words[w] = lo; words[w + 1] = hi;
          const x = c[off + k]!;                       // a reach byte; 127 and -128 (spilled) go the slow way
          if (x < 127 && x > -128) c[off + k] = x + 1; else this.mem.reach4kAdd(p + k, 1);
          lo = (lo + 4096) | 0;
        }
        n += k;
        if (k < seg) break;
        enc[0] = lo;
      }
      if (n > 0) this.meter.charge(EV.pteWrites, n);
      iova += n; pfn += n; count -= n; this.mapped += n;
      if (n < fit) return this.policy.overmap;
    }
    return 0;
  }

  // ---- unmap --------------------------------------------------------------------------------

  /**
   * Clears the leaves from iova over npages (pages) under the policy's hole rules. A leaf that
   * starts before iova or ends past the range is removed whole. Returns pages removed (rounded to
   * whole leaves, holes included under holes='count').
   */
  unmap(iova: number, npages: number): number {
    if (npages === 1 && this.lin !== null && this.cKey[0] === Math.floor(iova / 512) && this.top > 0) {
      // one 4K leaf in the level-0 table the last walk ended in: VFIO's per-page teardown of a 4k guest
      const words = this.cWords[0]!, w = this.cBase[0]! + 2 * (iova & 511), st = this.st;
      if ((words[w]! | words[w + 1]!) !== 0 && this.fmt.load(words, w, 0, st) === PT_ENTRY_OA && st.order === 12) {
        words[w] = 0; words[w + 1] = 0;
        const p = st.pfn;
        if (p < this.mem.nFrames) {
          const c = this.mem.reach4k.chunkFor(p), off = p & RMASK, x = c[off]!;
          if (x > -127) c[off] = x - 1; else this.mem.reach4k.add(p, -1);
        }
        this.meter.charge(EV.pteClears, 1);
        this.unmapSteps = 1;
        return 1;
      }
    }
    const end = iova + npages;
    let steps = 0;
    const fmt = this.fmt, st = this.st, mem = this.mem, pol = this.policy;
    const lin = this.lin !== null, reach = mem.reach4k;
    let cur = iova, removed = 0, cleared = 0, spanStart = -1;
    while (cur < end) {
      if (cur >= this.span) break;
      let type = this.find(cur);
      if (type === PT_ENTRY_EMPTY) {
        if (pol.holes === 'stop') break;
        const sz = P9[this.wLevel]!;
        if (this.wLevel === 0) cleared++;
        steps++;
        removed += sz;
        cur = cur - (cur % sz) + sz;
        if (spanStart < 0) spanStart = iova;
        continue;
      }
      const l = this.wLevel, words = this.wWords, base = this.wBase;
      // `%` on these doubles is a runtime call in V8: 4K leaves (the per-page hot path) skip it
      const small = st.order === 12;
      let lp = small ? 1 : POW2[st.order - 12]!;
      let leafStart = small ? cur : cur - (cur % lp);
      if (spanStart < 0) {
        if (leafStart < cur && pol.startInLeaf === 'zero') break;
        spanStart = leafStart;
      }
      let rep = small ? 1 : POW2[st.order - 12 - 9 * l]!;
      let i = (this.wW - base) >> 1;
      if (!small) i -= i % rep;
      for (;;) {
        let w = base + 2 * i;
        if (lp === 1 && lin) {
          // a 4K leaf and the run of linearly encoded successors (consecutive frames, same prot)
          // that the range covers: cleared and uncounted in one pass
          const p = st.pfn, off = p & RMASK, inRam = p < mem.nFrames;
          const seg = Math.min(end - cur, 512 - i, RCHUNK - off, LIN - (p & (LIN - 1)), inRam ? mem.nFrames - p : RCHUNK);
          const c = inRam ? reach.chunkFor(p) : NO_REACH;
          let lo = words[w]!, k = 1;
          const hi = words[w + 1]!;
          words[w] = 0; words[w + 1] = 0;
          let x = c[off]!;                             // reach bytes: -127 and -128 (spilled) go the slow way
          if (x > -127) c[off] = x - 1; else mem.reach4kAdd(p, -1);
          for (w += 2; k < seg; k++, w += 2) {
            lo = (lo + 4096) | 0;
            if (words[w] !== lo || words[w + 1] !== hi) break;
            words[w] = 0; words[w + 1] = 0;
            x = c[off + k]!;
            if (x > -127) c[off + k] = x - 1; else mem.reach4kAdd(p + k, -1);
          }
          cleared += k; removed += k; cur += k; i += k; steps += k;
        } else {
          if (rep === 1) { words[w] = 0; words[w + 1] = 0; } else clearEntries(words, w, rep);
          mem.reachAdd(st.pfn, st.order, -1);
          cleared += rep; removed += lp; cur = leafStart + lp; i += rep; steps++;
        }
        if (cur >= end || i >= 512) break;
        w = base + 2 * i;
        if ((words[w]! | words[w + 1]!) === 0) break;            // outer loop applies the hole rule
        const prevOrder = st.order;
        type = fmt.load(words, w, l, st);
        if (type !== PT_ENTRY_OA) break;                          // a table: outer loop descends
        if (st.order !== prevOrder) {
          lp = POW2[st.order - 12]!;
          rep = POW2[st.order - 12 - 9 * l]!;
        }
        leafStart = cur;
      }
    }
    if (cleared > 0) this.meter.charge(EV.pteClears, cleared);
    this.unmapSteps = steps;
    // a table spans at least 512 pages: a shorter cleared span cannot free one
    if (pol.freeTables && spanStart >= 0 && cur - spanStart >= 512) this.freeCovered(this.root, this.top, 0, spanStart, cur);
    return removed;
  }

  /** Unlinks and defers tables whose whole span lies in [start, end) and that hold nothing. */
  private freeCovered(table: number, level: number, tableIova: number, start: number, end: number): void {
    const tw = this.mem.tables;
    const words = tw.words(table), base = tw.wordOffset(table);
    const item = P9[level]!;
    const i0 = Math.max(0, Math.floor((start - tableIova) / item));
    const i1 = Math.min(511, Math.floor((end - 1 - tableIova) / item));
    for (let i = i0; i <= i1; i++) {
      const w = base + 2 * i;
      if ((words[w] | words[w + 1]!) === 0 || this.fmt.load(words, w, level, this.st) !== PT_ENTRY_TABLE) continue;
      const child = this.st.pfn;
      const cs = tableIova + i * item;
      if (level > 1) this.freeCovered(child, level - 1, cs, start, end);
      if (cs >= start && cs + item <= end && this.tableEmpty(child)) {
        clearEntries(words, w, 1);
        this.deferSubtree(child, level - 1);
      }
    }
  }

  private tableEmpty(pfn: number): boolean {
    const words = this.mem.tables.words(pfn), base = this.mem.tables.wordOffset(pfn);
    for (let k = base; k < base + 1024; k++) if (words[k] !== 0) return false;
    return true;
  }

  private subtreeEmpty(pfn: number, level: number): boolean {
    const words = this.mem.tables.words(pfn), base = this.mem.tables.wordOffset(pfn);
    for (let i = 0; i < 512; i++) {
      const w = base + 2 * i;
      if ((words[w] | words[w + 1]!) === 0) continue;
      if (level === 0 || this.fmt.load(words, w, level, this.st) !== PT_ENTRY_TABLE) return false;
      if (!this.subtreeEmpty(this.st.pfn, level - 1)) return false;
    }
    return true;
  }

  /** Queues a table and every table below it for release after the next sync. */
  private deferSubtree(pfn: number, level: number): void {
    if (level > 0) {
      const words = this.mem.tables.words(pfn), base = this.mem.tables.wordOffset(pfn);
      for (let i = 0; i < 512; i++) {
        const w = base + 2 * i;
        if ((words[w] | words[w + 1]!) !== 0 && this.fmt.load(words, w, level, this.st) === PT_ENTRY_TABLE) {
          this.deferSubtree(this.st.pfn, level - 1);
        }
      }
    }
    this.deferred.push(pfn);
    this.tables--;
    this.invalidateCache();
  }

  /** Tables waiting for an IOTLB sync before they may be freed. */
  get deferredTables(): number { return this.deferred.length; }

  /** Position in the deferred list, so a caller can release only what it unlinked itself. */
  deferredMark(): number { return this.deferred.length; }

  /**
   * Frees the tables unlinked since `mark` (default: all); drivers call it after the IOTLB sync
   * that made them unreachable. A map that replaced tables releases from its own mark after
   * flushing its range, leaving an unmap's tables for the gather sync (iommupt keeps two lists).
   */
  releaseDeferred(mark = 0): void {
    const d = this.deferred;
    if (d.length <= mark) return;
    for (let k = mark; k < d.length; k++) this.mem.freeTable(d[k]!);
    d.length = mark;
  }

  // ---- failed-map cleanup (model hook: a failed iommu_map leaves no tables behind) ----------

  /**
   * Starts recording the tables map() allocates. Nestable: VFIO may bracket a whole MAP_DMA while
   * the core brackets each iommu_map inside it; an abort frees what was allocated since its own begin.
   */
  txBegin(): void {
    if (this.txMarks.length === 0 && this.txTables.length !== 0) this.txTables.length = 0;
    this.txMarks.push(this.txTables.length);
  }
  /** Ends the innermost bracket; on abort frees every table recorded since it that is now empty, deepest first. */
  txEnd(abort: boolean): void {
    const list = this.txTables;
    const mark = this.txMarks.pop();
    if (mark === undefined) return;
    if (abort) {
      for (let k = list.length - 1; k >= mark; k--) this.unlinkIfEmpty(list[k]!);
      list.length = mark;
    }
    if (this.txMarks.length === 0 && list.length !== 0) list.length = 0;
  }
  private unlinkIfEmpty(pfn: number): void {
    if (!this.tableEmpty(pfn)) return;
    if (!this.clearParentOf(this.root, this.top, pfn)) return;
    this.mem.freeTable(pfn);
    this.tables--;
    this.invalidateCache();
  }
  private clearParentOf(table: number, level: number, child: number): boolean {
    if (level === 0) return false;
    const words = this.mem.tables.words(table), base = this.mem.tables.wordOffset(table);
    for (let i = 0; i < 512; i++) {
      const w = base + 2 * i;
      if ((words[w] | words[w + 1]!) === 0 || this.fmt.load(words, w, level, this.st) !== PT_ENTRY_TABLE) continue;
      const c = this.st.pfn;
      if (c === child) { clearEntries(words, w, 1); return true; }
      if (level > 1 && this.clearParentOf(c, level - 1, child)) return true;
    }
    return false;
  }

  // ---- lookup, growth, teardown ---------------------------------------------------------------

  /** pfn that iova (a page) translates to, or -1. Sets lastOrder and lastProt. */
  lookup(iova: number): number {
    if (iova >= this.span || iova < 0) return -1;
    if (this.find(iova) !== PT_ENTRY_OA) return -1;
    const st = this.st;
    this.lastOrder = st.order;
    this.lastProt = this.fmt.leafProt(this.wWords, this.wW);
    return st.order === 12 ? st.pfn : st.pfn + (iova % POW2[st.order - 12]!);
  }

  /** Level and word position of the entry that translates iova (for raw PTE reads), or null. */
  entryOf(iova: number): { words: Int32Array; w: number; level: number } | null {
    if (iova >= this.span || iova < 0) return null;
    return this.find(iova) === PT_ENTRY_OA ? { words: this.wWords, w: this.wW, level: this.wLevel } : null;
  }

  /** Adds one level on top: the new root's entry 0 points at the old root. False at the format's max or on ENOMEM. */
  grow(): boolean {
    if (this.top >= this.fmt.maxLevel) return false;
    const nr = this.mem.allocTable();
    if (nr < 0) return false;
    const old = this.root;
    this.fmt.installTable(this.mem.tables.words(nr), this.mem.tables.wordOffset(nr), this.top + 1, old);
    this.meter.charge(EV.pteWrites, 1);
    this.tables++;
    this.root = nr;
    this.top++;
    this.setCache(this.top - 1, old, 0);
    this.setCache(this.top, nr, 0);
    return true;
  }

  /** Calls fn(iova, pfn, order) for every leaf (heads of replicated runs once); none after destroy(). Not for hot paths. */
  forEachLeaf(fn: (iova: number, pfn: number, order: number) => void): void {
    if (this.tables === 0) return;                 // destroyed: the old root may be another domain's table now
    const walk = (table: number, level: number, tableIova: number): void => {
      const words = this.mem.tables.words(table), base = this.mem.tables.wordOffset(table);
      const st = new PtState();
      for (let i = 0; i < 512; i++) {
        const w = base + 2 * i;
        if ((words[w] | words[w + 1]!) === 0) continue;
        const type = this.fmt.load(words, w, level, st);
        const iova = tableIova + i * P9[level]!;
        if (type === PT_ENTRY_TABLE) walk(st.pfn, level - 1, iova);
        else {
          const rep = POW2[st.order - 12 - 9 * level]!;
          if (i % rep === 0) fn(iova, st.pfn, st.order);
        }
      }
    };
    walk(this.root, this.top, 0);
  }

  /** Pages mapped by all leaves (for teardown checks). */
  mappedPages(): number { let n = 0; this.forEachLeaf((_i, _p, o) => { n += POW2[o - 12]!; }); return n; }

  /** Number of leaves (a replicated run counts once). */
  countLeaves(): number { let n = 0; this.forEachLeaf(() => { n++; }); return n; }

  findReach(pfn: number): { domain: number; iova: number; via: 'pte' } | null {
    let hit: { domain: number; iova: number; via: 'pte' } | null = null;
    this.forEachLeaf((iova, p, order) => {
      const n = POW2[order - 12]!;
      if (hit === null && pfn >= p && pfn < p + n) hit = { domain: this.domainId, iova: iova + (pfn - p), via: 'pte' };
    });
    return hit;
  }

  /**
   * Clears every leaf and frees every table, root included (domain free). A second call throws a
   * RangeError 'BUG: ...': the freed root may already belong to another domain, whose tables it would free.
   */
  destroy(): void {
    if (this.tables === 0) throw new RangeError(`BUG: page table of domain ${this.domainId} destroyed twice`);
    const all: number[] = [];
    this.forEachLeaf((iova, pfn, order) => { this.mem.reachAdd(pfn, order, -1); });
    const collect = (table: number, level: number): void => {
      if (level > 0) {
        const words = this.mem.tables.words(table), base = this.mem.tables.wordOffset(table);
        const st = new PtState();
        for (let i = 0; i < 512; i++) {
          const w = base + 2 * i;
          if ((words[w] | words[w + 1]!) !== 0 && this.fmt.load(words, w, level, st) === PT_ENTRY_TABLE) collect(st.pfn, level - 1);
        }
      }
      all.push(table);
    };
    collect(this.root, this.top);
    this.releaseDeferred();
    for (const t of all) this.mem.freeTable(t);
    this.tables = 0;
    this.invalidateCache();
  }
}
