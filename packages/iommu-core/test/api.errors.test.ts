// Overmap, injected failures and the unwind: a failed iommu_map leaves the tree exactly as before.
import { describe, expect, it } from 'vitest';
import { IommuError, iommuIovaToPhys, iommuMap, iommuUnmap } from '../src/index.js';
import { expectClean, leaves, makeHarness, RW } from './harness.js';

function snapshot(h: ReturnType<typeof makeHarness>) {
  return { leaves: leaves(h.dom), tables: h.dom.pt.tables, inUse: h.sim.mem.tables.inUse, reach: [...h.sim.mem.reach4k.nonZero()] };
}

describe('iommu_map errors and unwind', () => {
  it('test_map_over_existing: EBUSY, the old entry stays', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 100, 1, RW);
    const err = (() => {
      try {
        iommuMap(h.dom, 0, 200, 1, RW);
      } catch (e) {
        return e as IommuError;
      }
      return null;
    })();
    expect(err).toMatchObject({ name: 'IommuError', code: 'EBUSY', errno: -16, syscall: 'iommu_map' });
    expect(iommuIovaToPhys(h.dom, 0)).toBe(100);
  });

  it('test_map_over_existing_unwinds_prefix: a run that hits a mapped page unmaps what it did (one synced unmap)', () => {
    const h = makeHarness();
    iommuMap(h.dom, 5, 5, 1, RW);
    const before = snapshot(h);
    const syncs = h.sim.counters.iotlbSyncs;
    expect(() => iommuMap(h.dom, 0, 1000, 8, RW)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(snapshot(h)).toEqual(before);
    expect(h.sim.counters.iotlbSyncs - syncs).toBe(1);
  });

  it('test_large_over_leftover_table: an empty 4K table under a new 2M page is replaced (VT-d) and freed after the flush', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 512, RW); // pfn 0: one 2M leaf
    iommuUnmap(h.dom, 0, 512);
    iommuMap(h.dom, 0, 1, 1, RW); // misaligned pfn: a 4K table appears
    iommuUnmap(h.dom, 0, 1); // 4K of a 2M span: the now-empty table stays linked
    expect(h.dom.pt.tables).toBe(4);
    iommuMap(h.dom, 0, 0, 512, RW);
    expect(leaves(h.dom)).toEqual([[0, 0, 21]]);
    expect(h.dom.pt.tables).toBe(3);
    expect(h.sim.mem.tables.inUse).toBe(3); // the replaced table was flushed and freed inside the map
  });

  it('test_1g_over_leftover_subtree: an emptied level-1 table with an emptied level-0 table under it gives way to a 1G page', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 1, 1, RW); // a misaligned pfn: level-2, level-1 and level-0 tables appear
    iommuUnmap(h.dom, 0, 1);
    expect(h.dom.pt.tables).toBe(4);
    iommuMap(h.dom, 0, 0, 262144, RW);
    expect(leaves(h.dom)).toEqual([[0, 0, 30]]);
    expect([h.dom.pt.tables, h.sim.mem.tables.inUse]).toEqual([2, 2]); // the root and the level-2 table
  });

  // the replace looks through the whole subtree: one leaf anywhere under it refuses the large page
  for (const [name, at, pfn, n, order] of [
    ['a 4K leaf in the second level-0 table', 512 + 3, 7, 1, 12],
    ['a 2M leaf beside an emptied level-0 table', 512, 512, 512, 21],
  ] as const) {
    it(`test_1g_over_subtree_with_leaf: ${name} refuses the 1G page, EBUSY, nothing freed`, () => {
      const h = makeHarness();
      iommuMap(h.dom, 0, 1, 1, RW); // an emptied level-0 table first in the subtree
      iommuUnmap(h.dom, 0, 1);
      iommuMap(h.dom, at, pfn, n, RW);
      const tables = h.dom.pt.tables;
      expect(() => iommuMap(h.dom, 0, 0, 262144, RW)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
      expect(leaves(h.dom)).toEqual([[at, pfn, order]]);
      expect([h.dom.pt.tables, h.sim.mem.tables.inUse]).toEqual([tables, tables]);
      expect(iommuIovaToPhys(h.dom, at)).toBe(pfn);
    });
  }

  it('test_large_over_leftover_table_busy: with replaceEmptyTables false the driver answers EBUSY (AMD 2018 style)', () => {
    const h = makeHarness({ replaceEmptyTables: false });
    iommuMap(h.dom, 0, 1, 1, RW);
    iommuUnmap(h.dom, 0, 1);
    expect(() => iommuMap(h.dom, 0, 0, 512, RW)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    for (let i = 0; i < 512; i++) iommuMap(h.dom, i, i, 1, RW); // page by page works
    expect(leaves(h.dom).length).toBe(512);
  });

  it('test_small_inside_large: EBUSY when a 2M leaf sits where the walk must descend', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 512, RW);
    expect(() => iommuMap(h.dom, 3, 3, 1, RW)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(leaves(h.dom)).toEqual([[0, 0, 21]]);
  });

  it('test_unwind_table_alloc_failure: the 4th table allocation fails; tree, tables and reach are as before', () => {
    const h = makeHarness();
    const before = snapshot(h);
    const c0 = h.sim.counters;
    h.sim.faults.arm('tableAlloc', 4);
    expect(() => iommuMap(h.dom, 0x1ff, 0x1ff, 2, RW)).toThrow(expect.objectContaining({ code: 'ENOMEM', errno: -12 }));
    expect(snapshot(h)).toEqual(before);
    const c = h.sim.counters;
    expect(c.tableAllocs - c0.tableAllocs).toBe(3); // L2, L1, L0 for page 0x1ff; the 2nd L0 failed
    expect(c.tableFrees - c0.tableFrees).toBe(3); // all three were new and are empty again
    expect(c.iotlbSyncs - c0.iotlbSyncs).toBe(1); // the unwind is a synced iommu_unmap of 1 page
    expect(h.sim.faults.fired).toEqual(['tableAlloc']);
    expectClean(h);
  });

  it('test_unwind_keeps_old_tables: tables that existed before a failed map survive it', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 1, RW);
    iommuUnmap(h.dom, 0, 1);
    const before = snapshot(h);
    h.sim.faults.arm('map', 1);
    expect(() => iommuMap(h.dom, 1, 1, 1, RW)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(snapshot(h)).toEqual(before);
  });

  it('test_injected_driver_map_failure_midway: the second run fails, the first is unwound', () => {
    const h = makeHarness();
    h.sim.faults.arm('map', 2);
    expect(() => iommuMap(h.dom, 1, 1, 0x400, RW)).toThrow(IommuError);
    expectClean(h);
    expect(h.dom.pt.tables).toBe(1);
  });
});

describe('nested map brackets (model hook)', () => {
  it('test_nested_tx_abort: an outer bracket around two successful maps frees their new tables on abort', () => {
    const h = makeHarness();
    const before = snapshot(h);
    h.dom.model!.mapBegin(h.dom);
    iommuMap(h.dom, 0, 0, 1, RW); // L2, L1, L0
    iommuMap(h.dom, 0x40000, 0x40000, 1, RW); // L1, L0 under the same L2
    expect(h.dom.pt.tables).toBe(6);
    iommuUnmap(h.dom, 0, 1);
    iommuUnmap(h.dom, 0x40000, 1);
    h.dom.model!.mapEnd(h.dom, true);
    expect(snapshot(h)).toEqual(before);
  });

  it('test_nested_tx_commit: an inner abort inside an outer commit frees only its own tables', () => {
    const h = makeHarness();
    h.dom.model!.mapBegin(h.dom);
    iommuMap(h.dom, 0, 0, 1, RW);
    h.sim.faults.arm('map', 1);
    expect(() => iommuMap(h.dom, 0x40000, 0x40000, 1, RW)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    h.dom.model!.mapEnd(h.dom, false);
    expect(h.dom.pt.tables).toBe(4);
    expect(h.dom.model!.mappedPages(h.dom)).toBe(1);
  });
});
