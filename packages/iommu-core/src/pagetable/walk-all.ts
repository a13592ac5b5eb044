// The whole-subtree level functions, on the same iterator as map and unmap: collect (the tables of
// an empty subtree a large leaf replaces), enumerate (every leaf, for leak checks and the safety
// checker's report), teardown (domain free: drop every leaf's reach, collect every table) and the
// descent that finds where a table hangs (a failed map's cleanup). None is on a hot path.

import { PtState, PT_ENTRY_OA, PT_ENTRY_TABLE, type PtFormat } from './format.js';
import { ptDescend, ptLoadTable, ptSetRange, PtWalk, type PtWalkable } from './iter.js';
import type { PtLevelTable } from './level-table.js';

/** A walk over everything: index 0 to the end of every table. */
const ALL = Object.freeze(Object.assign(new PtWalk(), { va: 0, end: Infinity }));

/**
 * Collects, children first, the tables of the subtree rooted at table `pfn` (at `level`, its first
 * page va) into list. False, as soon as one is found, when the subtree holds a leaf.
 */
export function ptCollectEmpty(t: PtLevelTable, pfn: number, level: number, va: number, list: number[]): boolean {
  const pts = t.states[level]!;
  ptLoadTable(t, pts, pfn, va);
  ptSetRange(t, pts, ALL);
  return collectLevel(t, pts, list);
}

function collectLevel(t: PtLevelTable, pts: PtState, list: number[]): boolean {
  const words = pts.words,
    level = pts.level;
  for (; pts.index < pts.endIndex; pts.index++) {
    const w = pts.base + 2 * pts.index;
    if ((words[w]! | words[w + 1]!) === 0) continue;
    if (level === 0 || t.fmt.load(words, w, level, pts) !== PT_ENTRY_TABLE) return false;
    if (!collectLevel(t, ptDescend(t, ALL, pts), list)) return false;
  }
  list.push(pts.table);
  return true;
}

/**
 * Calls fn(iova, pfn, order) for every leaf under the root, in IOVA order (the head of a
 * replicated run once). Walks on states of its own, so fn may call back into the page table.
 */
export function ptEnumerate(t: PtLevelTable, fn: (iova: number, pfn: number, order: number) => void): void {
  const own: OwnWalk = {
    arena: t.arena,
    geo: t.geo,
    fmt: t.fmt,
    top: t.top,
    states: t.states.map((s) => Object.assign(new PtState(), { level: s.level })),
  };
  const pts = own.states[t.top]!;
  ptLoadTable(own, pts, t.root, 0);
  ptSetRange(own, pts, ALL);
  enumerateLevel(own, pts, fn);
}

/** A walkable with states of its own (re-entrant walks). */
interface OwnWalk extends PtWalkable {
  readonly fmt: PtFormat;
}

function enumerateLevel(t: OwnWalk, pts: PtState, fn: (iova: number, pfn: number, order: number) => void): void {
  const words = pts.words,
    level = pts.level,
    fmt = t.fmt;
  for (; pts.index < pts.endIndex; pts.index++) {
    const w = pts.base + 2 * pts.index;
    if ((words[w]! | words[w + 1]!) === 0) continue;
    const type = fmt.load(words, w, level, pts);
    if (type === PT_ENTRY_TABLE) {
      enumerateLevel(t, ptDescend(t, ALL, pts), fn);
      continue;
    }
    if (type !== PT_ENTRY_OA) continue;
    const rep = t.geo.replicas[pts.order]!;
    if (pts.index % rep === 0) fn(pts.va + pts.index * t.geo.itemPages[level]!, pts.pfn, pts.order);
  }
}

/**
 * Domain free: drops the reach of every leaf and collects every table, children first, the root
 * last, into list.
 */
export function ptTeardown(t: PtLevelTable, list: number[]): void {
  const pts = t.states[t.top]!;
  ptLoadTable(t, pts, t.root, 0);
  ptSetRange(t, pts, ALL);
  teardownLevel(t, pts, list);
}

function teardownLevel(t: PtLevelTable, pts: PtState, list: number[]): void {
  const words = pts.words,
    level = pts.level;
  for (; pts.index < pts.endIndex; pts.index++) {
    const w = pts.base + 2 * pts.index;
    if ((words[w]! | words[w + 1]!) === 0) continue;
    const type = t.fmt.load(words, w, level, pts);
    if (type === PT_ENTRY_TABLE) teardownLevel(t, ptDescend(t, ALL, pts), list);
    else if (type === PT_ENTRY_OA && pts.index % t.geo.replicas[pts.order]! === 0) t.acct.leaf(pts.pfn, pts.order, -1);
  }
  list.push(pts.table);
}

/**
 * The state of the table at `level` above page va whose entry points at table `child` (one level
 * down), with its index at that entry; null when the path to va ends first or the entry points
 * elsewhere (the child is no longer linked there).
 */
export function ptParentOf(t: PtLevelTable, r: PtWalk, va: number, level: number, child: number): PtState | null {
  r.va = va;
  r.end = va + 1;
  let pts = t.states[t.top]!;
  ptLoadTable(t, pts, t.root, 0);
  ptSetRange(t, pts, r);
  for (;;) {
    const w = pts.base + 2 * pts.index;
    if ((pts.words[w]! | pts.words[w + 1]!) === 0 || t.fmt.load(pts.words, w, pts.level, pts) !== PT_ENTRY_TABLE) return null;
    if (pts.level === level + 1) return pts.pfn === child ? pts : null;
    pts = ptDescend(t, r, pts);
  }
}
