// The unmap level functions (generic_pt iommu_pt.h __unmap_range, with the older drivers' rules as
// policy): clear whole leaves from the first page on, descend into tables, and at an empty slot
// stop (iommupt, VT-d) or step over it counting its size (AMD before iommupt). A leaf that starts
// before the range is removed whole, or ends the unmap with nothing removed (iommupt). Then the
// free walk unlinks the tables whose whole span the unmap cleared, onto the caller's freelist.

import type { IotlbGather } from '../gather.js';
import { POW2_TABLE } from '../pgsize.js';
import { LEAF4K_CARRY, PT_ENTRY_OA, PT_ENTRY_TABLE, clearEntries, type PtState } from './format.js';
import { PT_WALK_STOP, ptCachedState, ptDescend, ptDescendPresent, ptLoadTable, ptSetRange, type PtWalk } from './iter.js';
import type { PtLevelTable } from './level-table.js';

/** Clears the leaves from r.va to r.end under the policy, resuming at the lowest loaded table. */
export function ptUnmapRange(t: PtLevelTable, r: PtWalk): void {
  while (r.va < r.end) {
    if (unmapLevel(t, r, ptDescendPresent(t, r, ptCachedState(t, r, 0), 0)) === PT_WALK_STOP) return;
  }
}

function unmapLevel(t: PtLevelTable, r: PtWalk, pts: PtState): number {
  const fmt = t.fmt,
    level = pts.level,
    words = pts.words,
    base = pts.base,
    pol = t.policy,
    geo = t.geo;
  const item = geo.itemPages[level]!,
    items = geo.items[level]!;
  while (pts.index < pts.endIndex) {
    let i = pts.index,
      w = base + 2 * i;
    if ((words[w]! | words[w + 1]!) === 0) {
      if (pol.holes === 'stop') return PT_WALK_STOP;
      // AMD before iommupt: the empty slot counts as unmapped, its whole item (and a PTE write at level 0)
      if (level === 0) r.cleared++;
      r.steps++;
      r.done += item;
      r.va = r.va - (r.va % item) + item;
      if (r.spanStart < 0) r.spanStart = r.start;
      pts.index = i + 1;
      continue;
    }
    if (fmt.load(words, w, level, pts) === PT_ENTRY_TABLE) {
      if (unmapLevel(t, r, ptDescend(t, r, pts)) === PT_WALK_STOP) return PT_WALK_STOP;
      pts.index = i + 1;
      continue;
    }
    // a leaf, and the leaves after it in this table that the range reaches
    // (`%` on these doubles is a runtime call in V8: 4K leaves, the per-page hot path, skip it)
    const small = pts.order === 12;
    let lp = small ? 1 : POW2_TABLE[pts.order - 12]!;
    let leafStart = small ? r.va : r.va - (r.va % lp);
    if (r.spanStart < 0) {
      if (leafStart < r.va && pol.startInLeaf === 'zero') return PT_WALK_STOP;
      r.spanStart = leafStart;
    }
    // entry arithmetic in int32 (replicas <= 256): PtState.index must stay a small integer
    let rep = small ? 1 : geo.replicas[pts.order]! | 0;
    if (!small) i -= i % rep;
    for (;;) {
      w = base + 2 * i;
      if (lp === 1 && t.lin !== null) {
        const k = clearRun4k(t, r, pts.pfn, words, w, items - i);
        r.cleared += k;
        r.done += k;
        r.va += k;
        i += k;
        r.steps += k;
      } else {
        if (rep === 1) {
          words[w] = 0;
          words[w + 1] = 0;
        } else clearEntries(words, w, rep);
        t.acct.leaf(pts.pfn, pts.order, -1);
        r.cleared += rep;
        r.done += lp;
        r.va = leafStart + lp;
        i += rep;
        r.steps++;
      }
      if (r.va >= r.end || i >= items) break;
      w = base + 2 * i;
      if ((words[w]! | words[w + 1]!) === 0) break; // the loop above applies the hole rule
      const prevOrder = pts.order;
      if (fmt.load(words, w, level, pts) !== PT_ENTRY_OA) break; // a table: the loop above descends
      if (pts.order !== prevOrder) {
        lp = POW2_TABLE[pts.order - 12]!;
        rep = geo.replicas[pts.order]! | 0;
      }
      leafStart = r.va;
    }
    pts.index = i;
  }
  return 0;
}

/**
 * A 4 KiB leaf of frame p at word w and the run of linearly encoded successors (consecutive
 * frames, same prot: PtFormat.leaf4k) the range covers, at most `room` entries: cleared and
 * uncounted in one pass. Returns the entries cleared (at least the first).
 */
function clearRun4k(t: PtLevelTable, r: PtWalk, p: number, words: Int32Array, w: number, room: number): number {
  const acct = t.acct;
  const carry = LEAF4K_CARRY - (p & (LEAF4K_CARRY - 1));
  let seg = acct.run(p, Math.min(r.end - r.va, room));
  if (carry < seg) seg = carry;
  const c = acct.chunk(p),
    off = acct.chunkOffset(p);
  let lo = words[w]!,
    k = 1;
  const hi = words[w + 1]!;
  words[w] = 0;
  words[w + 1] = 0;
  acct.dec(c, off, p);
  // the reach byte's fast path written out (dec() rechecks and spills): this function is inlined
  // into unmapLevel, and V8's inlining budget left the per-page dec() call standing (15% slower)
  for (w += 2; k < seg; k++, w += 2) {
    lo = (lo + 4096) | 0;
    if (words[w] !== lo || words[w + 1] !== hi) break;
    words[w] = 0;
    words[w + 1] = 0;
    const x = c[off + k]!;
    if (x > -127) c[off + k] = x - 1;
    else acct.dec(c, off + k, p + k);
  }
  return k;
}

/**
 * The 4 KiB leaf at entry i of level-0 table pts, just loaded into pts (VFIO's per-page teardown
 * of a 4k guest), removed without the walk: 1 when it was one, else 0 (the caller takes the walk).
 */
export function ptUnmapOne4k(t: PtLevelTable, pts: PtState, i: number): number {
  const words = pts.words,
    w = pts.base + 2 * i;
  if (pts.order !== 12) return 0;
  words[w] = 0;
  words[w + 1] = 0;
  const acct = t.acct,
    p = pts.pfn;
  acct.dec(acct.chunk(p), acct.chunkOffset(p), p);
  acct.cleared(1);
  return 1;
}

/**
 * The free walk over [r.va, r.end) (what an unmap cleared): unlinks, children first, every table
 * whose whole span lies in it and that holds nothing any more, onto freed. It starts at the lowest
 * loaded table that holds the whole range and is larger than it (every table the range can free
 * hangs below that one), else at the root: a 2 MiB leaf's unmap looks at one entry, not three levels.
 */
export function ptFreeCovered(t: PtLevelTable, r: PtWalk, freed: IotlbGather): void {
  const states = t.states,
    geo = t.geo,
    first = r.va,
    last = r.end - 1,
    n = r.end - r.va;
  // level-0 tables hold no tables
  let l = 1;
  for (; l < t.top; l++) {
    const key = Math.floor(first * geo.perTable[l]!);
    if (states[l]!.key === key && Math.floor(last * geo.perTable[l]!) === key && geo.tablePages[l]! > n) break;
  }
  const pts = states[l]!;
  if (l >= t.top) ptLoadTable(t, pts, t.root, 0);
  ptSetRange(t, pts, r);
  freeLevel(t, r, pts, freed);
}

function freeLevel(t: PtLevelTable, r: PtWalk, pts: PtState, freed: IotlbGather): void {
  const words = pts.words,
    level = pts.level,
    item = t.geo.itemPages[level]!;
  for (let i = pts.index; i < pts.endIndex; i++) {
    const w = pts.base + 2 * i;
    if ((words[w]! | words[w + 1]!) === 0 || t.fmt.load(words, w, level, pts) !== PT_ENTRY_TABLE) continue;
    const child = pts.pfn,
      cs = pts.va + i * item;
    if (level > 1) {
      pts.index = i;
      freeLevel(t, r, ptDescend(t, r, pts), freed);
    }
    if (cs >= r.va && cs + item <= r.end && t.tableEmpty(child)) {
      clearEntries(words, w, 1);
      const list = r.tables;
      list.length = 0;
      list.push(child);
      t.unlink(list, freed, t.top);
    }
  }
}
