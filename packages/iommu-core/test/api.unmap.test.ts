// iommu_unmap / iommu_unmap_fast / range_add + sync / gather: return values, holes, sync counts.
import { describe, expect, it } from 'vitest';
import {
  createIotlbGather,
  iommuIotlbGatherAddPage,
  iommuIotlbGatherIsDisjoint,
  iommuIovaToPhys,
  iommuMap,
  iommuTlbRangeAdd,
  iommuTlbSync,
  iommuUnmap,
  iommuUnmapFast,
  SZ_2M,
} from '../src/index.js';
import { expectClean, leaves, makeHarness, RW } from './harness.js';

describe('iommu_unmap', () => {
  it('test_unmap_misaligned_to_min_pagesz: 0 pages, nothing removed, when iova or npages is not a multiple of it', () => {
    // a 2 MiB-only domain: min_pagesz is 512 pages; the core refuses before the driver sees the call
    const h = makeHarness({ pgsizeBitmap: SZ_2M });
    iommuMap(h.dom, 512, 1024, 512, RW);
    for (const [iova, n] of [
      [513, 512],
      [512, 511],
      [512, 513],
      [1, 511],
    ] as const) {
      expect(iommuUnmap(h.dom, iova, n)).toBe(0);
      expect(iommuUnmapFast(h.dom, iova, n)).toBe(0);
    }
    expect(leaves(h.dom)).toEqual([[512, 1024, 21]]);
    expect(iommuUnmap(h.dom, 512, 512)).toBe(512);
    expectClean(h);
  });

  it('test_unmap_split: unmapping the first 4K of a 2M leaf removes and reports 2M', () => {
    const h = makeHarness();
    iommuMap(h.dom, 512, 512, 512, RW);
    expect(iommuUnmap(h.dom, 512, 1)).toBe(512);
    expect(iommuIovaToPhys(h.dom, 1000)).toBe(-1);
    expectClean(h);
  });

  it('test_unmap_split: with two adjacent 2M leaves the unmap does not continue into the second', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 1024, RW);
    expect(leaves(h.dom).map((l) => l[2])).toEqual([21, 21]);
    expect(iommuUnmap(h.dom, 0, 1)).toBe(512);
    expect(leaves(h.dom)).toEqual([[512, 512, 21]]);
    expect(iommuUnmap(h.dom, 512, 512)).toBe(512);
    expectClean(h);
  });

  it('test_unmap_part_of_large_from_inside: a 4K unmap in the middle of a 1G leaf returns the whole 1G', () => {
    const h = makeHarness({}, 8n << 30n);
    iommuMap(h.dom, 0x40000, 0x40000, 0x40000, RW);
    expect(iommuUnmap(h.dom, 0x40000 + 0x1234, 1)).toBe(0x40000);
    expectClean(h);
  });

  it('test_unmap_hole: stops at the first hole and reports what came before it', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 8, RW);
    iommuMap(h.dom, 10, 10, 6, RW);
    expect(iommuUnmap(h.dom, 0, 16)).toBe(8);
    expect(leaves(h.dom).length).toBe(6);
    expect(iommuUnmap(h.dom, 8, 8)).toBe(0); // begins in the hole
    expect(iommuUnmap(h.dom, 10, 6)).toBe(6);
    expectClean(h);
  });

  it('test_unmap_bad_input: misaligned or non-integer input returns 0 and touches nothing', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 4, RW);
    expect(iommuUnmap(h.dom, 0.5, 1)).toBe(0);
    expect(iommuUnmap(h.dom, -1, 1)).toBe(0);
    expect(leaves(h.dom).length).toBe(4);
    expect(h.sim.counters.iotlbSyncs).toBe(0);
  });

  it('test_unmap_sync: each iommu_unmap is one core sync and one flush (gather era)', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 100, RW);
    for (let i = 0; i < 100; i++) expect(iommuUnmap(h.dom, i, 1)).toBe(1);
    const c = h.sim.counters;
    expect([c.iotlbSyncs, c.iotlbFlushes, c.completionWaits, c.unmapCalls, c.pteClears]).toEqual([100, 100, 100, 100, 100]);
  });

  it('test_unmap_frees_covered_tables: a level-0 table fully cleared is freed only after the sync', () => {
    const h = makeHarness();
    iommuMap(h.dom, 512, 512, 1, RW);
    iommuMap(h.dom, 513, 513 + 1024, 511, RW); // 4K leaves (pfn misaligned to 2M)
    expect(h.dom.pt.tables).toBe(4);
    const g = createIotlbGather();
    expect(iommuUnmapFast(h.dom, 512, 512, g)).toBe(512);
    expect(h.dom.pt.tables).toBe(3);
    expect(h.dom.pt.deferredTables).toBe(1);
    expect(h.sim.counters.tableFrees).toBe(0);
    iommuTlbSync(h.dom, g);
    expect(h.sim.counters.tableFrees).toBe(1);
    expect(h.sim.mem.tables.inUse).toBe(3);
  });
});

describe('iommu_unmap_fast, range_add and sync', () => {
  it('test_fast_2018: 100 fast unmaps + range_add + one sync = 1 sync, 1 flush', () => {
    const h = makeHarness({ apiEra: '2018' });
    iommuMap(h.dom, 0, 0, 200, RW);
    for (let i = 0; i < 100; i++) {
      const n = iommuUnmapFast(h.dom, 2 * i, 1);
      expect(n).toBe(1);
      iommuTlbRangeAdd(h.dom, 2 * i, n);
    }
    expect(h.sim.counters.iotlbSyncs).toBe(0);
    iommuTlbSync(h.dom);
    const c = h.sim.counters;
    expect([c.iotlbSyncs, c.iotlbFlushes, c.iotlbRangeAdds, c.unmapCalls]).toEqual([1, 1, 100, 100]);
    expect(h.dom.pending.empty).toBe(true);
  });

  it('test_iommu_unmap_2018: the synced unmap range-adds each step and syncs once', () => {
    const h = makeHarness({ apiEra: '2018' });
    iommuMap(h.dom, 1, 1, 0x400, RW); // 0x1ff x 4K, 2M, 4K
    expect(iommuUnmap(h.dom, 1, 0x400)).toBe(0x400);
    const c = h.sim.counters;
    expect([c.iotlbSyncs, c.iotlbRangeAdds, c.unmapCalls]).toEqual([1, 0x1ff + 2, 0x1ff + 2]);
  });

  it('test_gather_sync_reinits: iommu_iotlb_sync empties the gather', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 16, RW);
    const g = createIotlbGather();
    iommuUnmapFast(h.dom, 0, 4, g);
    iommuUnmapFast(h.dom, 8, 4, g);
    expect([g.start, g.end]).toEqual([0, 11]); // range drivers widen over the gap
    iommuTlbSync(h.dom, g);
    expect(g.empty).toBe(true);
    expect(h.sim.counters.invalidations).toBe(1);
  });

  it('test_gather_add_page: a page-size change or a disjoint page forces a sync first', () => {
    const syncs: [number, number][] = [];
    const g = createIotlbGather();
    const sync = (x: typeof g): void => {
      syncs.push([x.start, x.end]);
      x.reset();
    };
    iommuIotlbGatherAddPage(g, 0, 1, sync);
    iommuIotlbGatherAddPage(g, 1, 1, sync); // adjacent: merged
    expect(iommuIotlbGatherIsDisjoint(g, 3, 1)).toBe(true);
    iommuIotlbGatherAddPage(g, 3, 1, sync); // disjoint: sync [0,1]
    iommuIotlbGatherAddPage(g, 512, 512, sync); // size change: sync [3,3]
    expect(syncs).toEqual([
      [0, 1],
      [3, 3],
    ]);
    expect([g.start, g.end, g.pgsize]).toEqual([512, 1023, 512]);
  });
});

describe('iommu_unmap_fast fault points', () => {
  it('test_unmap_fast_underreport: the PTE is removed and queued, the call returns 0', () => {
    const h = makeHarness({ apiEra: '2018' });
    h.drv.attachDevice(h.dom, 1);
    const p = h.sim.mem.allocFrames(4);
    expect(h.sim.mem.pin(p, 4)).toBe(true);
    iommuMap(h.dom, 0, p, 4, RW);
    expect(h.drv.dma(1, 0, 4, 'read')).toBe(true); // pages 0..3 cached in the IOTLB
    h.sim.faults.arm('unmapFastUnderreport', 2);
    expect(iommuUnmapFast(h.dom, 0, 1)).toBe(1);
    expect(iommuUnmapFast(h.dom, 1, 1)).toBe(0); // the under-report
    expect(h.sim.faults.fired).toEqual(['unmapFastUnderreport']);
    expect(h.sim.faults.armed).toBe(false);
    // page 1's entry is gone, and the driver queued its invalidation with page 0's
    expect(leaves(h.dom)).toEqual([
      [2, p + 2, 12],
      [3, p + 3, 12],
    ]);
    expect(iommuIovaToPhys(h.dom, 1)).toBe(-1);
    expect([h.dom.pending.start, h.dom.pending.end]).toEqual([0, 1]);
    // disarmed: the next fast unmap still counts an occurrence of both points, and reports its page
    expect(iommuUnmapFast(h.dom, 2, 1)).toBe(1);
    // [tableAlloc (root + 3 lower tables), pin, map, unmapFast, sync, unmapFastUnderreport]
    expect(Array.from(h.sim.faults.reached)).toEqual([4, 1, 1, 3, 0, 3]);
    // no range_add for page 1 (the caller saw 0), yet the sync flushes the driver's queue, page 1 included
    iommuTlbRangeAdd(h.dom, 0, 1);
    iommuTlbRangeAdd(h.dom, 2, 1);
    iommuTlbSync(h.dom);
    expect(h.drv.dma(1, 1, 1, 'read')).toBe(false);
    expect(h.drv.faults().map((f) => [f.iova, f.reason])).toEqual([[1, 'not-present']]);
    // so unpinning pages 0..2 after the sync is safe: nothing reaches them any more
    h.sim.mem.unpin(p, 3);
    expect(h.sim.violations).toEqual([]);
  });

  it('test_unmap_fast_underreport_gather: a mainline gather still receives the range', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0x100, 8, RW);
    const g = createIotlbGather();
    h.sim.faults.arm('unmapFastUnderreport', 1);
    expect(iommuUnmapFast(h.dom, 4, 4, g)).toBe(0);
    expect([g.start, g.end]).toEqual([4, 7]);
    expect(leaves(h.dom)).toEqual([0, 1, 2, 3].map((i) => [i, 0x100 + i, 12]));
    expect(h.sim.faults.fired).toEqual(['unmapFastUnderreport']);
  });

  it('test_unmap_fast_refusal: the PTE stays and the under-report point is not reached', () => {
    const h = makeHarness({ apiEra: '2018' });
    iommuMap(h.dom, 0, 0x100, 2, RW);
    h.sim.faults.arm('unmapFast', 1);
    h.sim.faults.arm('unmapFastUnderreport', 1);
    expect(iommuUnmapFast(h.dom, 0, 1)).toBe(0); // refused
    expect(leaves(h.dom)).toEqual([
      [0, 0x100, 12],
      [1, 0x101, 12],
    ]);
    expect(h.dom.pending.empty).toBe(true);
    expect(Array.from(h.sim.faults.reached)).toEqual([4, 0, 1, 1, 0, 0]);
    expect(iommuUnmapFast(h.dom, 0, 1)).toBe(0); // the under-report, armed for this one
    expect(leaves(h.dom)).toEqual([[1, 0x101, 12]]);
    expect(h.sim.faults.fired).toEqual(['unmapFast', 'unmapFastUnderreport']);
  });
});
