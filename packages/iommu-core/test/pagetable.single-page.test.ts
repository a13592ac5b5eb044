// The 4 KiB shortcuts of PageTable (a 4k guest's per-page VFIO traffic): map() into the level-0 table
// the last walk ended in or down through present tables, unmap() of the leaf the lookup just before
// found, and lookup()'s own descent from the lowest cached table. Each must give exactly what the
// general walk gives; here they are checked against a plain Map of page -> frame, with pages picked
// at table edges so that every level's cached state and descent is used.
import { describe, expect, it } from 'vitest';
import { IotlbGather, SZ_1G, SZ_2M, SZ_4K } from '../src/index.js';
import { PageTable, Prng, REF_POLICY, createRefFormat } from '../src/internals.js';
import { RW, ptLeaves, refPageTable } from './harness.js';

const L1 = 512 * 512; // pages under one level-2 entry

describe('PageTable single-page shortcuts', () => {
  it('test_cached_level0_table_of_a_far_page: a page whose number times 512 is the cached table key is not in that table', () => {
    // the level-0 table of pages 262144..262655 has key 512 (its first page / 512); page 1 lies in
    // the table of key 0, so neither map(1) nor lookup(1) may use the cached one
    const { pt, g } = refPageTable(2);
    expect(pt.map(L1 + 3, 90, 12, 1, RW, g)).toBe(0);
    expect(pt.map(1, 91, 12, 1, RW, g)).toBe(0);
    expect([pt.lookup(L1 + 3, null), pt.lookup(1, null)]).toEqual([90, 91]);
    expect(pt.lookup(L1 + 3, null)).toBe(90);
    expect(pt.unmap(1, 1, g)).toBe(1);
    expect([pt.lookup(1, null), pt.lookup(L1 + 3, null)]).toEqual([-1, 90]);
    expect(ptLeaves(pt)).toEqual([[L1 + 3, 90, 12]]);
  });

  it('test_descent_from_a_cached_level1_table: the entry of the page inside that table, not one further on', () => {
    // level-1 tables A (pages 0..L1-1), B (L1..) and C (2*L1..) allocated one after the other, each
    // with a level-0 table; then a level-0 table under A and one under B, so that the walk state of
    // level 1 is A or B and that of level 0 another table: the next single-page map descends from
    // the cached level-1 table through its entry 0
    for (const [first, under] of [
      [0, 512],
      [L1, L1 + 512],
    ] as const) {
      const { pt, g } = refPageTable(2);
      for (const [k, p] of [0, L1, 2 * L1, under].entries()) expect(pt.map(p, 100 + k, 12, 1, RW, g)).toBe(0);
      const tables = pt.tables;
      expect(pt.map(first + 2, 200, 12, 1, RW, g)).toBe(0);
      expect(pt.map(first + 3, 201, 12, 1, RW, g)).toBe(0);
      expect(pt.tables).toBe(tables);
      expect([0, 2, 3, L1, L1 + 2, L1 + 3, 2 * L1, under].map((p) => pt.lookup(p, null))).toEqual(
        first === 0 ? [100, 200, 201, 101, -1, -1, 102, 103] : [100, -1, -1, 101, 200, 201, 102, 103],
      );
    }
  });

  it('test_single_page_maps_beside_a_high_frame_2m_leaf: entry 2 of the level-1 table, not a mix of entries 0 and 1', () => {
    // entry 0 of the level-1 table is a 2 MiB leaf at frame 65 << 20 (260 GiB up): its high word,
    // 65, has the bits of a present table entry, so a descent that read a word off would take it for one
    const { pt, g } = refPageTable(2);
    const high = 65 * 2 ** 20;
    expect(pt.map(0, high, 21, 1, RW, g)).toBe(0);
    for (const p of [1024 + 5, 1024 + 6, 512 + 1, 1536]) expect(pt.map(p, p, 12, 1, RW, g), `map ${p}`).toBe(0);
    expect([3, 1029, 1030, 513, 1536, 1537].map((p) => pt.lookup(p, null))).toEqual([high + 3, 1029, 1030, 513, 1536, -1]);
    expect(pt.tables).toBe(1 + 1 + 3);
  });

  it('test_unmap_after_a_map_descends: a map between the lookup and the unmap drops the found leaf', () => {
    const { pt, g } = refPageTable(1);
    expect(pt.map(0, 1000, 12, 4, RW, g)).toBe(0);
    expect(pt.lookup(3, null)).toBe(1003);
    expect(pt.map(10, 1010, 12, 1, RW, g)).toBe(0);
    expect(pt.unmap(1, 1, g)).toBe(1);
    expect([0, 1, 2, 3, 10].map((p) => pt.lookup(p, null))).toEqual([1000, -1, 1002, 1003, 1010]);
  });

  it('test_unmap_after_an_unmap_descends: the found leaf is used by one unmap only', () => {
    const { pt, g } = refPageTable(1);
    expect(pt.map(0, 1000, 12, 4, RW, g)).toBe(0);
    expect(pt.lookup(3, null)).toBe(1003);
    expect(pt.unmap(3, 1, g)).toBe(1);
    expect(pt.unmap(1, 1, g)).toBe(1);
    expect([0, 1, 2, 3].map((p) => pt.lookup(p, null))).toEqual([1000, -1, 1002, -1]);
    expect(pt.unmap(1, 1, g)).toBe(0);
  });

  it("test_put_pages_of_another_tables_gather: leaves this table's own waiting tables on its list", () => {
    const { sim, pt: a, g: ga } = refPageTable(1);
    const b = new PageTable(createRefFormat(SZ_4K | SZ_2M | SZ_1G), sim.mem, sim.meter, REF_POLICY, 1, 8);
    const gb = new IotlbGather();
    for (const [pt, g] of [
      [a, ga],
      [b, gb],
    ] as const) {
      expect(pt.map(0, 2000, 12, 512, RW, g)).toBe(0);
      expect(pt.unmap(0, 512, g)).toBe(512);
      expect([pt.tables, pt.deferredTables]).toEqual([1, 1]);
    }
    const inUse = sim.mem.tables.inUse;
    a.putPages(gb); // b's level-0 table: freed all the same (iommu_put_pages_list frees a list)
    expect([sim.mem.tables.inUse, gb.freelist.length]).toEqual([inUse - 1, 0]);
    expect(a.deferredTables).toBe(1);
    a.putPages(ga);
    expect([sim.mem.tables.inUse, a.deferredTables, b.deferredTables]).toEqual([inUse - 2, 0, 0]);
  });

  it('test_single_page_churn_matches_a_plain_model: maps, unmaps and lookups of one page at table edges, seed 15', () => {
    const { pt, g } = refPageTable(2);
    const span = 512 * L1;
    // pages around the edges of level-0, level-1 and level-2 tables, and the span's ends
    const bases = [0, 509, 1021, L1 - 3, L1 + 510, 3 * L1 + 512 * 7 - 2, 200 * L1 + 253, span - 6];
    const rng = new Prng(15);
    const model = new Map<number, number>();
    const page = (): number => bases[rng.int(bases.length)]! + rng.int(6);
    let nextPfn = 1 << 20;
    const counts = { map: 0, overmap: 0, unmap: 0, hole: 0, lookup: 0, runs: 0 };
    for (let op = 0; op < 8000; op++) {
      const iova = page();
      const k = rng.int(10);
      const where = `op ${op}, page ${iova}`;
      if (k < 4) {
        const pfn = nextPfn++;
        const ret = pt.map(iova, pfn, 12, 1, RW, g);
        if (model.has(iova)) {
          expect(ret, where).toBe(REF_POLICY.overmap);
          counts.overmap++;
        } else {
          expect(ret, where).toBe(0);
          model.set(iova, pfn);
          counts.map++;
        }
      } else if (k < 7) {
        // after a lookup half of the time: the unmap then starts from the leaf the lookup found
        if (rng.int(2) === 0) expect(pt.lookup(iova, null), where).toBe(model.get(iova) ?? -1);
        const got = pt.unmap(iova, 1, g);
        expect(got, where).toBe(model.has(iova) ? 1 : 0);
        if (got === 1) counts.unmap++;
        else counts.hole++;
        model.delete(iova);
      } else if (k < 9) {
        expect(pt.lookup(iova, null), where).toBe(model.get(iova) ?? -1);
        counts.lookup++;
      } else {
        // a short run through the general walk, where every page of it is free
        const n = 1 + rng.int(4);
        if (iova + n > span) continue;
        let free = true;
        for (let p = iova; p < iova + n; p++) if (model.has(p)) free = false;
        if (!free) continue;
        expect(pt.map(iova, nextPfn, 12, n, RW, g), where).toBe(0);
        for (let p = 0; p < n; p++) model.set(iova + p, nextPfn + p);
        nextPfn += n;
        counts.runs++;
      }
      if (op % 500 === 499) {
        const want = [...model.entries()].sort((x, y) => x[0] - y[0]).map(([i, p]) => [i, p, 12]);
        expect(ptLeaves(pt), where).toEqual(want);
      }
    }
    // every kind of step happened often enough to matter
    for (const [kind, n] of Object.entries(counts)) expect(n, kind).toBeGreaterThan(100);
    for (const [iova, pfn] of model) expect(pt.lookup(iova, null)).toBe(pfn);
  });
});
