// The emulated page walker on hand-written tables (spec amd-iommu §2.3, §11.2): the DTE mode's
// range, NextLevel checks, the page-size encoding of NextLevel 7 leaves and the ANDed IR/IW bits.
// The entries are written here bit by bit, not by the driver's codec, so a codec and a walker that
// agree on the same wrong layout cannot pass.
import { describe, expect, it } from 'vitest';
import { createSim, type PhysMem } from '@x/iommu-core';
import { WalkResult, walk } from '../src/internals.js';

const PR = 1,
  IR = 1 << 29,
  IW = 1 << 30;
// IO_PAGE_FAULT flag bits as the event log stores them (the event's bits 16+: PR 20, RZ 23)
const RZ = 1 << 7,
  PR_FLAG = 1 << 4;

/** Writes one 64-bit entry: present, NextLevel nl, address field f (a frame number), IR/IW. */
function put(mem: PhysMem, table: number, index: number, f: number, nl: number, perm = IR | IW): void {
  const words = mem.tables.words(table),
    w = mem.tables.wordOffset(table) + 2 * index;
  words[w] = PR | (nl << 9) | ((f % 0x100000) << 12);
  words[w + 1] = Math.floor(f / 0x100000) | perm;
}

/** A mode-3 table (levels 2, 1, 0) whose path for IOVA page `iova` exists down to level 0. */
function threeLevels(mem: PhysMem, iova: number): { root: number; l1: number; l0: number } {
  const root = mem.allocTable(),
    l1 = mem.allocTable(),
    l0 = mem.allocTable();
  put(mem, root, Math.floor(iova / 2 ** 18) % 512, l1, 2);
  put(mem, l1, Math.floor(iova / 512) % 512, l0, 1);
  return { root, l1, l0 };
}

function fresh(): PhysMem {
  return createSim({ memory: 1n << 30n, seed: 1 }).mem;
}

describe('hardware page walk', () => {
  it('test_walk_4k_leaf', () => {
    const mem = fresh(),
      r = new WalkResult();
    const iova = 0x12345;
    const t = threeLevels(mem, iova);
    put(mem, t.l0, iova % 512, 0x4321, 0);
    expect(walk(mem, 3, t.root, iova, 3, r)).toBe(true);
    expect([r.pfn, r.leafIova, r.leafPfn, r.order, r.prot, r.levels, r.faultFlags]).toEqual([0x4321, iova, 0x4321, 12, 3, 3, 0]);
  });

  it.each([0, 7, -1])('test_walk_bad_mode %i', (mode) => {
    const mem = fresh(),
      r = new WalkResult();
    const t = threeLevels(mem, 0);
    put(mem, t.l0, 0, 5, 0);
    expect(walk(mem, mode, t.root, 0, 3, r)).toBe(false);
    expect([r.faultFlags, r.levels]).toEqual([RZ, 0]);
  });

  it('test_walk_mode_6_and_1', () => {
    // mode 1: one level-0 table is the whole space (512 pages); mode 6 decodes every IOVA bit
    const mem = fresh(),
      r = new WalkResult();
    const t0 = mem.allocTable();
    put(mem, t0, 511, 77, 0);
    expect(walk(mem, 1, t0, 511, 3, r)).toBe(true);
    expect([r.pfn, r.levels]).toEqual([77, 1]);
    expect(walk(mem, 1, t0, 512, 3, r)).toBe(false); // past mode 1's reach: no read at all
    expect([r.faultFlags, r.levels]).toEqual([0, 0]);
    const top = mem.allocTable();
    expect(walk(mem, 6, top, 2 ** 52 - 1, 3, r)).toBe(false); // an empty root entry: one read
    expect([r.faultFlags, r.levels]).toEqual([0, 1]);
  });

  it('test_walk_iova_past_mode_reach', () => {
    const mem = fresh(),
      r = new WalkResult();
    const t = threeLevels(mem, 2 ** 27 - 1);
    put(mem, t.l0, 511, 9, 0);
    // mode 3 reaches 2^27 pages (39 bits): the last page walks, the next one faults before any read
    expect(walk(mem, 3, t.root, 2 ** 27 - 1, 3, r)).toBe(true);
    expect(r.levels).toBe(3);
    expect(walk(mem, 3, t.root, 2 ** 27, 3, r)).toBe(false);
    expect([r.faultFlags, r.levels]).toEqual([0, 0]);
  });

  it('test_walk_root_not_a_table', () => {
    const mem = fresh(),
      r = new WalkResult();
    const data = mem.allocFrames(1);
    expect(walk(mem, 3, data, 0, 3, r)).toBe(false);
    expect([r.faultFlags, r.levels]).toEqual([RZ, 0]);
  });

  it('test_walk_next_level_mismatch', () => {
    const mem = fresh(),
      r = new WalkResult();
    // the root (level 2) points at a level-0 table with NextLevel 1: level skipping is not modeled
    const root = mem.allocTable(),
      l0 = mem.allocTable();
    put(mem, root, 0, l0, 1);
    put(mem, l0, 0, 5, 0);
    expect(walk(mem, 3, root, 0, 3, r)).toBe(false);
    expect([r.faultFlags, r.levels]).toEqual([PR_FLAG | RZ, 1]);
    // a level-0 entry with a directory NextLevel
    const t = threeLevels(mem, 0);
    put(mem, t.l0, 0, 5, 1);
    expect(walk(mem, 3, t.root, 0, 3, r)).toBe(false);
    expect([r.faultFlags, r.levels]).toEqual([PR_FLAG | RZ, 3]);
  });

  it('test_walk_directory_must_point_at_a_table', () => {
    const mem = fresh(),
      r = new WalkResult();
    const root = mem.allocTable(),
      data = mem.allocFrames(1);
    put(mem, root, 0, data, 2);
    expect(walk(mem, 3, root, 0, 3, r)).toBe(false);
    expect([r.faultFlags, r.levels]).toEqual([RZ, 1]);
  });

  it.each([
    // [level, order]: NextLevel 7 leaves are sizes strictly between the level's own and the next
    [0, 16], // 64 KiB at level 0
    [0, 13], // no trailing one: 8 KiB
    [0, 20],
    [1, 22],
    [1, 29],
  ])('test_walk_large_leaf level %i order %i', (level, order) => {
    const mem = fresh(),
      r = new WalkResult();
    const lp = 2 ** (order - 12);
    const base = 1 << 20; // frame 2^20: aligned to every size here
    const f = base + (2 ** (order - 13) - 1); // trailing ones: size - 13
    const iova = 3 * lp; // a leaf-aligned IOVA inside one level-1 table's span for every case
    const off = lp - 1;
    const t = threeLevels(mem, iova + off);
    const table = level === 0 ? t.l0 : t.l1;
    const per = level === 0 ? 1 : 512;
    put(mem, table, Math.floor((iova + off) / per) % 512, f, 7);
    expect(walk(mem, 3, t.root, iova + off, 3, r)).toBe(true);
    expect([r.order, r.leafPfn, r.pfn, r.leafIova, r.levels]).toEqual([order, base, base + off, iova, 3 - level]);
  });

  it.each([
    [0, 21], // the level's next size up (eight trailing ones)
    [1, 21],
    [1, 30],
  ])('test_walk_bad_size level %i order %i', (level, order) => {
    const mem = fresh(),
      r = new WalkResult();
    const f = (1 << 22) + (2 ** (order - 13) - 1);
    const t = threeLevels(mem, 0);
    put(mem, level === 0 ? t.l0 : t.l1, 0, f, 7);
    expect(walk(mem, 3, t.root, 0, 3, r)).toBe(false);
    expect([r.faultFlags, r.levels]).toEqual([PR_FLAG | RZ, 3 - level]);
  });

  it.each([
    // [DTE prot, root perm, level-1 perm, leaf perm, result]
    [3, IR | IW, IR | IW, IR | IW, 3],
    [3, IR, IR | IW, IR | IW, 1],
    [3, IR | IW, IW, IR | IW, 2],
    [3, IR | IW, IR | IW, IR, 1],
    [1, IR | IW, IR | IW, IR | IW, 1],
    [3, IR, IR | IW, IW, 0],
  ])('test_walk_permissions_and dte %i', (dte, p2, p1, p0, want) => {
    const mem = fresh(),
      r = new WalkResult();
    const root = mem.allocTable(),
      l1 = mem.allocTable(),
      l0 = mem.allocTable();
    put(mem, root, 0, l1, 2, p2);
    put(mem, l1, 0, l0, 1, p1);
    put(mem, l0, 0, 42, 0, p0);
    expect(walk(mem, 3, root, 0, dte, r)).toBe(true);
    expect(r.prot).toBe(want);
  });
});
