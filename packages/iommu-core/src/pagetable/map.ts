// The map level functions (generic_pt iommu_pt.h __map_range): above the leaves' level a walk
// allocates missing tables and descends; at it, one pass per table checks the slots are empty and
// installs a run of leaves. A leaf in the way, or a table the policy may not replace, ends the map
// with the policy's errno; an empty subtree under a new large leaf is unlinked onto the map's
// freelist (flushed and freed by the caller before it returns, iommupt and VT-d alike).

import { ERRNO } from '../errno.js';
import { LEAF4K_CARRY, PT_ENTRY_TABLE, clearEntries, type PtState } from './format.js';
import { ptCachedState, ptDescend, ptDescendPresent, ptForgetBelow, type PtWalk } from './iter.js';
import type { PtLevelTable } from './level-table.js';
import { ptCollectEmpty } from './walk-all.js';

/** Maps r's leaves from r.va to r.end, resuming at the lowest loaded table at or above their level. 0 or -errno. */
export function ptMapRange(t: PtLevelTable, r: PtWalk): number {
  while (r.va < r.end) {
    // straight down through present tables (the level functions allocate the missing ones)
    const pts = ptDescendPresent(t, r, ptCachedState(t, r, r.level), r.level);
    const ret = pts.level === r.level ? mapLeaves(t, r, pts) : mapLevel(t, r, pts);
    if (ret !== 0) return ret;
  }
  return 0;
}

/** A table above the leaves' level: descend into each entry the range covers, allocating missing tables. */
function mapLevel(t: PtLevelTable, r: PtWalk, pts: PtState): number {
  const fmt = t.fmt,
    level = pts.level,
    words = pts.words;
  for (; pts.index < pts.endIndex; pts.index++) {
    const w = pts.base + 2 * pts.index;
    if ((words[w]! | words[w + 1]!) === 0) {
      const child = t.mem.allocTable();
      if (child < 0) return -ERRNO.ENOMEM;
      fmt.installTable(words, w, level, child);
      t.tables++;
      t.acct.wrote(1);
      pts.pfn = child;
      t.txRecord(child, pts.va + pts.index * t.geo.itemPages[level]!, level - 1);
    } else if (fmt.load(words, w, level, pts) !== PT_ENTRY_TABLE) {
      return t.policy.leafAbove;
    }
    const c = ptDescend(t, r, pts);
    const ret = c.level === r.level ? mapLeaves(t, r, c) : mapLevel(t, r, c);
    if (ret !== 0) return ret;
  }
  return 0;
}

/** The leaves' table: install as many of r's leaves as it holds from r.va. */
function mapLeaves(t: PtLevelTable, r: PtWalk, pts: PtState): number {
  if (r.lp === 1 && t.lin !== null) return mapRun4k(t, r, pts);
  const fmt = t.fmt,
    words = pts.words,
    base = pts.base,
    level = pts.level,
    lp = r.lp;
  // entry arithmetic in int32 (a table has at most 512 entries): PtState.index must stay a small integer
  const rep = r.rep | 0,
    items = t.geo.items[level]!;
  while (r.va < r.end && pts.index < items) {
    const i = pts.index;
    const fit = Math.min((r.end - r.va) / lp, ((items - i) / rep) | 0) | 0;
    let s = i;
    const lim = i + fit * rep;
    while (s < lim && (words[base + 2 * s]! | words[base + 2 * s + 1]!) === 0) s++;
    const good = ((s - i) / rep) | 0;
    if (good > 0) {
      t.acct.wrote(fmt.installLeaves(words, base + 2 * i, level, r.pfn, r.order, r.prot, good));
      if (lp === 1) t.acct.run4k(r.pfn, good, 1);
      else for (let k = 0; k < good; k++) t.acct.leaf(r.pfn + k * lp, r.order, 1);
      r.va += good * lp;
      r.pfn += good * lp;
      r.done += good * lp;
      pts.index = i + good * rep;
    }
    if (good < fit) {
      // a present entry inside the next leaf's slots: an empty subtree may give way, anything else refuses
      const w = base + 2 * pts.index;
      let k = 0;
      for (; k < rep; k++) if ((words[w + 2 * k]! | words[w + 2 * k + 1]!) !== 0) break;
      if (
        fmt.load(words, w + 2 * k, level, pts) === PT_ENTRY_TABLE &&
        t.policy.replaceEmptyTables &&
        level > 0 &&
        replaceEmpty(t, r, pts, w + 2 * k)
      )
        continue;
      return t.policy.overmap;
    }
  }
  return 0;
}

/**
 * Unlinks the table entry at word w (its table is pts.pfn) onto r.freed when nothing below it
 * holds a leaf. True when it did.
 */
function replaceEmpty(t: PtLevelTable, r: PtWalk, pts: PtState, w: number): boolean {
  const list = r.tables;
  list.length = 0;
  const va = pts.va + ((w - pts.base) >> 1) * t.geo.itemPages[pts.level]!;
  if (!ptCollectEmpty(t, pts.pfn, pts.level - 1, va, list)) {
    // the search loaded the subtree's tables into the walk states below: the map fails here, and
    // the next walk starts from the states it finds, so leave none of them cached
    ptForgetBelow(t, pts.level);
    return false;
  }
  clearEntries(pts.words, w, 1);
  t.unlink(list, r.freed!, pts.level);
  return true;
}

/**
 * mapLeaves for 4 KiB leaves on a format with a linear 4K codec (PtFormat.leaf4k): per level-0
 * table, one pass checks each slot is empty, writes the leaf and counts the frame's reach, cut
 * where a reach chunk or the codec's carry ends. A level-0 slot never holds a table, so a present
 * entry is always the policy's overmap.
 */
function mapRun4k(t: PtLevelTable, r: PtWalk, pts: PtState): number {
  const lin = t.lin!,
    enc = t.enc,
    acct = t.acct,
    words = pts.words;
  const fit = Math.min(r.end - r.va, t.geo.items[0]! - pts.index);
  const pfn = r.pfn,
    prot = r.prot;
  let w = pts.base + 2 * pts.index,
    n = 0;
  while (n < fit) {
    const p = pfn + n;
    if (n === 0 || (p & (LEAF4K_CARRY - 1)) === 0) lin(p, prot, enc);
    const c = acct.chunk(p),
      off = acct.chunkOffset(p);
    const carry = LEAF4K_CARRY - (p & (LEAF4K_CARRY - 1));
    const room = acct.run(p, fit - n);
    const seg = room < carry ? room : carry;
    let lo = enc[0]!,
      k = 0;
    const hi = enc[1]!;
    for (; k < seg; k++, w += 2) {
      if ((words[w]! | words[w + 1]!) !== 0) break;
      words[w] = lo;
      words[w + 1] = hi;
      const x = c[off + k]!;
      if (x < 127 && x > -128) c[off + k] = x + 1;
      else acct.inc(c, off + k, p + k);
      lo = (lo + 4096) | 0;
    }
    n += k;
    if (k < seg) break;
    enc[0] = lo;
  }
  if (n > 0) acct.wrote(n);
  r.va += n;
  r.pfn += n;
  r.done += n;
  return n < fit ? t.policy.overmap : 0;
}

/**
 * One 4 KiB leaf into the loaded level-0 table pts at entry i (VFIO's per-page map of a 4k guest):
 * the run above cut to one page, without the walk. 0 or the policy's overmap.
 */
export function ptMapOne4k(t: PtLevelTable, pts: PtState, i: number, pfn: number, prot: number): number {
  const words = pts.words,
    w = pts.base + 2 * i,
    enc = t.enc,
    acct = t.acct;
  if ((words[w]! | words[w + 1]!) !== 0) return t.policy.overmap;
  t.lin!(pfn, prot, enc);
  words[w] = enc[0]!;
  words[w + 1] = enc[1]!;
  acct.inc(acct.chunk(pfn), acct.chunkOffset(pfn), pfn);
  acct.wrote(1);
  return 0;
}
