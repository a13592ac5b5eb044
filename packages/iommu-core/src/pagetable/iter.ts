// The engine's one iterator, after generic_pt's pt_iter.h: a walk over [va, end) visits each table
// that covers part of the range once, top-down; a level function (map, unmap, free, collect,
// enumerate, teardown, lookup) runs on one table at a time with a PtState cursor set to the
// entries the range covers there, and calls itself on the level below through ptDescend(). The
// arguments and results of one call travel in a PtWalk, passed down with the cursor.
//
// The per-level states are preallocated once per page table and keep the table they last held
// after a walk ends (PtState.key names which one), so the next walk can start from the lowest
// table that already covers its first page instead of from the root: consecutive single-page calls
// (VFIO's per-page map and unmap of a 4 KiB guest) touch only their level-0 table. A state whose
// table is unlinked is dropped (key -1), so a loaded state is always a live table at its place.

import type { IotlbGather } from '../gather.js';
import type { TableArena } from '../mem/arena.js';
import { F64, PT_ENTRY_TABLE, PT_NO_KEY, type PtFormat, type PtState } from './format.js';
import type { PtGeometry } from './geometry.js';

/** A level function's answer when the whole walk must end here (a hole under holes='stop', ...). */
export const PT_WALK_STOP = 1;

/**
 * The range one engine call walks and what it carries: generic_pt's struct pt_range plus the
 * operation's argument struct. One per page table, reset by every call: the values are meaningful
 * only during the call and as its results right after it.
 */
export class PtWalk {
  /** Next IOVA page the walk visits; a level function advances it past what it handled. */
  va = F64;
  /** One past the last page of the range (never beyond the top's span). */
  end = F64;
  /** First page the call was asked for. */
  start = F64;
  // map: the leaves to install
  /** Frame of the next leaf. */
  pfn = F64;
  /** Leaf order (log2 bytes), its pages, its level and the entries each leaf fills there. */
  order = 0;
  lp = F64;
  level = 0;
  rep = 0;
  prot = 0;
  // results
  /** map: pages installed. unmap: pages removed (whole leaves, counted holes). */
  done = F64;
  /** unmap: entries cleared (for pteClears) and leaves removed plus holes stepped over. */
  cleared = F64;
  steps = F64;
  /** unmap: first page of the first leaf removed (the span freed tables must lie in), -1 before it. */
  spanStart = F64;
  /** map: where the empty tables a large leaf replaces go, to be freed after the flush that covers them (the unmap free walk takes its gather as an argument). */
  freed: IotlbGather | null = null;
  /** collect: tables of a subtree, post-order (children first). */
  readonly tables: number[] = [];
}

/** What the iterator needs of a page table: its arena, geometry, per-level states and top. */
export interface PtWalkable {
  readonly arena: TableArena;
  readonly geo: PtGeometry;
  readonly states: readonly PtState[];
  readonly top: number;
}

/** Loads table `pfn` (its first page is va) into pts, the state of its level. */
export function ptLoadTable(t: PtWalkable, pts: PtState, pfn: number, va: number): void {
  pts.table = pfn;
  pts.words = t.arena.words(pfn);
  pts.base = t.arena.wordOffset(pfn);
  pts.va = va;
  pts.key = Math.floor(va * t.geo.perTable[pts.level]!);
}

/** Sets pts.index and pts.endIndex to the entries of its table that [r.va, r.end) covers. */
export function ptSetRange(t: PtWalkable, pts: PtState, r: PtWalk): void {
  const geo = t.geo,
    l = pts.level,
    per = geo.perItem[l]!;
  const from = r.va - pts.va,
    to = r.end - pts.va;
  // both quotients are below the table's 512 items here: int32 truncation is floor
  pts.index = from <= 0 ? 0 : (from * per) | 0;
  pts.endIndex = to >= geo.tablePages[l]! ? geo.items[l]! : ((to + geo.itemPages[l]! - 1) * per) | 0;
}

/**
 * pt_descend(): the entry at pts.index was loaded as a table (pts.pfn); loads that table into the
 * state of the level below, with the part of r's range it covers, and returns that state.
 */
export function ptDescend(t: PtWalkable, r: PtWalk, pts: PtState): PtState {
  const c = t.states[pts.level - 1]!;
  ptLoadTable(t, c, pts.pfn, pts.va + pts.index * t.geo.itemPages[pts.level]!);
  ptSetRange(t, c, r);
  return c;
}

/**
 * The lowest state at or above level `from` whose loaded table covers page r.va, with its range
 * set from r; the top's state (the root) covers every page below the span.
 */
export function ptCachedState(t: PtWalkable, r: PtWalk, from: number): PtState {
  const va = r.va,
    states = t.states,
    per = t.geo.perTable,
    top = t.top;
  let l = from;
  while (l < top && states[l]!.key !== Math.floor(va * per[l]!)) l++;
  const pts = states[l]!;
  ptSetRange(t, pts, r);
  return pts;
}

/**
 * From pts down through present tables toward r.va's entry, stopping above level `to` or at an
 * entry that is empty or a leaf: the state a level function should run on. The walk's caller
 * resumes above it through the cached states once that table is done.
 */
export function ptDescendPresent(t: PtWalkable & { readonly fmt: PtFormat }, r: PtWalk, pts: PtState, to: number): PtState {
  while (pts.level > to) {
    const words = pts.words,
      w = pts.base + 2 * pts.index;
    if ((words[w]! | words[w + 1]!) === 0 || t.fmt.load(words, w, pts.level, pts) !== PT_ENTRY_TABLE) break;
    pts = ptDescend(t, r, pts);
  }
  return pts;
}

/** Drops every loaded state below the top (a table was unlinked: any of them may be it). */
export function ptForget(t: PtWalkable): void {
  ptForgetBelow(t, t.top);
}

/** Drops the loaded states of the levels below `level`. */
export function ptForgetBelow(t: PtWalkable, level: number): void {
  for (let l = 0; l < level; l++) t.states[l]!.key = PT_NO_KEY;
}
