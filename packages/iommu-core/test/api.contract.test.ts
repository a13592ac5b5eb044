// The core's side of the driver contract (api.ts): the entry point a driver or observer sees on the
// checker's call stack, the defaults of the optional ops fields, the optional ops the core calls
// only when a driver has them, a domain without model hooks, page numbers at the 2^52 bound, and
// calls that must do nothing at all (no sync, no event, no charge).
import { describe, expect, it } from 'vitest';
import {
  IotlbGather,
  SZ_2M,
  SZ_4K,
  createIotlbGather,
  createReferenceDriver,
  createSim,
  iommuFlushIotlbAll,
  iommuMap,
  iommuPgsize,
  iommuPgsizeCount,
  iommuTlbSync,
  iommuUnmap,
  iommuUnmapFast,
  type IommuDomain,
  type IommuOps,
} from '../src/index.js';
import { bitmapOrders, domainSetPgsizeBitmap } from '../src/internals.js';
import { FAULT_POINTS, FP_UNMAP_FAST_UNDERREPORT } from '../src/sim/faults.js';
import { RW, leaves, makeHarness, thrown } from './harness.js';

/** The same domain seen through other ops (the driver's own functions still do the work). */
const withOps = (dom: IommuDomain, over: Partial<Record<keyof IommuOps, unknown>>): IommuDomain => ({
  ...dom,
  ops: { ...dom.ops, ...over } as IommuOps,
});

describe('the call on the checker stack', () => {
  it('test_call_names: each entry point is on the stack while its driver calls run, nested for an unwind, and gone after', () => {
    const h = makeHarness();
    const seen: string[] = [];
    const at = (hook: string) => () => {
      seen.push(`${hook}@${h.sim.checker.call}`);
    };
    h.sim.observe({
      mapPagesBegin: at('mapPages'),
      unmapPagesBegin: at('unmapPages'),
      iotlbSyncBegin: at('sync'),
      map: at('map'),
      unmap: at('unmap'),
    });
    iommuMap(h.dom, 0, 100, 2, RW);
    iommuUnmap(h.dom, 0, 2);
    iommuMap(h.dom, 0, 100, 2, RW);
    const g = createIotlbGather();
    iommuUnmapFast(h.dom, 0, 2, g);
    iommuTlbSync(h.dom, g);
    expect(seen).toEqual([
      'mapPages@iommu_map',
      'map@iommu_map',
      'unmapPages@iommu_unmap',
      'unmap@iommu_unmap',
      'sync@iommu_unmap',
      'mapPages@iommu_map',
      'map@iommu_map',
      'unmapPages@iommu_unmap_fast',
      'unmap@iommu_unmap_fast',
      'sync@iommu_tlb_sync',
    ]);
    iommuMap(h.dom, 5, 5, 1, RW);
    seen.length = 0;
    expect(thrown(() => iommuMap(h.dom, 0, 1000, 8, RW))).toMatchObject({
      code: 'EBUSY',
      message: 'EBUSY: driver ref failed at iova page 0x5 after 5 of 8 pages, iommu_map',
    });
    expect(seen).toEqual([
      'mapPages@iommu_map',
      'unmapPages@iommu_map > iommu_unmap', // the unwind of the 5 pages mapped
      'unmap@iommu_map > iommu_unmap',
      'sync@iommu_map > iommu_unmap',
    ]);
    expect(h.sim.checker.callStack).toEqual([]);
  });
});

describe('ops defaults and optional ops', () => {
  it('test_single_page_ops_default: one call per page for a 2018 driver that leaves singlePageOps out, one per run for a gather one', () => {
    for (const [apiEra, single, calls] of [
      ['2018', undefined, 8],
      ['gather', undefined, 1],
      ['gather', true, 8],
      ['2018', false, 1],
    ] as const) {
      const h = makeHarness({ apiEra });
      const dom = withOps(h.dom, { singlePageOps: single });
      const c0 = h.sim.counters;
      iommuMap(dom, 0, 100, 8, RW);
      expect(iommuUnmap(dom, 0, 8)).toBe(8);
      const c = h.sim.counters;
      expect([c.mapCalls - c0.mapCalls, c.unmapCalls - c0.unmapCalls]).toEqual([calls, calls]);
    }
  });

  it('test_range_add_only_in_2018: a gather-era unmap adds no range; a 2018 one adds each step at its page size', () => {
    const gather = makeHarness();
    const c0 = gather.sim.counters.iotlbRangeAdds;
    iommuMap(gather.dom, 0, 100, 8, RW);
    iommuUnmap(gather.dom, 0, 8);
    expect(gather.sim.counters.iotlbRangeAdds - c0).toBe(0);

    const old = makeHarness({ apiEra: '2018' });
    const synced: [number, number][] = [];
    old.sim.observe({ iotlbSyncBegin: (_d, start, last) => synced.push([start, last]) });
    iommuMap(old.dom, 512, 512, 512, RW); // one 2 MiB leaf
    expect(iommuUnmap(old.dom, 512, 512)).toBe(512);
    expect(synced).toEqual([[512, 1023]]); // the 2 MiB step's range, not 1 page
    // what the core itself tells the driver (this driver also gathers in unmap_pages, so the sync alone cannot show it)
    const added: [number, number][] = [];
    const spy = withOps(old.dom, { iotlbRangeAdd: (_d: IommuDomain, iova: number, n: number) => added.push([iova, n]) });
    iommuMap(spy, 512, 512, 512, RW);
    iommuMap(spy, 1024, 2000, 3, RW); // 4 KiB leaves
    expect(iommuUnmap(spy, 512, 515)).toBe(515);
    expect(added).toEqual([
      [512, 512],
      [1024, 3],
    ]);
  });

  it('test_iotlb_sync_map: called once after a map that succeeded, with its range; not after a failed one', () => {
    const h = makeHarness();
    const calls: [number, number, number][] = [];
    const dom = withOps(h.dom, { iotlbSyncMap: (d: IommuDomain, iova: number, n: number) => calls.push([d.id, iova, n]) });
    iommuMap(dom, 16, 16, 4, RW);
    expect(calls).toEqual([[h.dom.id, 16, 4]]);
    expect(() => iommuMap(dom, 12, 12, 8, RW)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(calls.length).toBe(1);
  });

  it('test_flush_all_optional: iommu_flush_iotlb_all on a driver without flush_iotlb_all does nothing', () => {
    const h = makeHarness();
    const dom = withOps(h.dom, { flushIotlbAll: undefined });
    const c0 = h.sim.counters;
    iommuFlushIotlbAll(dom);
    expect(h.sim.counters).toEqual(c0);
    iommuFlushIotlbAll(h.dom);
    expect(h.sim.counters.iotlbFlushes - c0.iotlbFlushes).toBe(1);
  });

  it('test_no_model_hooks: a domain whose driver has no model hooks maps, fails and unwinds the same', () => {
    const h = makeHarness();
    const dom: IommuDomain = { ...h.dom, model: null };
    iommuMap(dom, 0, 100, 4, RW);
    expect(() => iommuMap(dom, 2, 300, 4, RW)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(leaves(h.dom)).toEqual([
      [0, 100, 12],
      [1, 101, 12],
      [2, 102, 12],
      [3, 103, 12],
    ]);
    expect(h.sim.checker.callStack).toEqual([]);
  });
});

describe('bounds and calls that do nothing', () => {
  it('test_page_number_bound: 2^52 is a page number, 2^52 + 2 is not', () => {
    const h = makeHarness();
    expect(thrown(() => iommuMap(h.dom, 2 ** 52, 0, 1, RW))).toMatchObject({ code: 'EFAULT' }); // past the aperture
    expect(thrown(() => iommuMap(h.dom, 2 ** 52 + 2, 0, 1, RW))).toMatchObject({
      code: 'EINVAL',
      message: `EINVAL: iova ${2 ** 52 + 2}, pfn 0 and npages 1 must be page numbers, iommu_map`,
    });
    expect([iommuPgsize(h.dom, 2 ** 52, 0, 1), iommuPgsize(h.dom, 2 ** 52 + 2, 0, 1)]).toEqual([12, -1]);
  });

  it('test_map_no_page_sizes: ENODEV, named', () => {
    const h = makeHarness();
    domainSetPgsizeBitmap(h.dom, 0n);
    expect(thrown(() => iommuMap(h.dom, 0, 0, 1, RW))).toMatchObject({
      name: 'IommuError',
      code: 'ENODEV',
      syscall: 'iommu_map',
      message: 'ENODEV: domain has no page sizes, iommu_map',
    });
  });

  it('test_set_pgsize_bitmap: orders follow the bitmap up to bit 63; a size below 4 KiB is refused and changes nothing', () => {
    const h = makeHarness();
    const high = (1n << 63n) | SZ_2M;
    domainSetPgsizeBitmap(h.dom, high);
    expect([h.dom.pgsizeBitmap, h.dom.orders]).toEqual([high, [21, 63]]);
    expect(bitmapOrders(0n)).toEqual([]);
    expect(bitmapOrders((1n << 64n) | 1n)).toEqual([0]); // bits past 63 are not sizes
    expect(() => domainSetPgsizeBitmap(h.dom, SZ_4K | (1n << 11n))).toThrow(
      new RangeError('page sizes below 4 KiB are not modeled (page-granular model)'),
    );
    expect([h.dom.pgsizeBitmap, h.dom.orders]).toEqual([high, [21, 63]]);
  });

  it('test_unmap_misaligned_does_nothing: no sync, no event, no charge for an unmap refused by min_pagesz', () => {
    const h = makeHarness();
    domainSetPgsizeBitmap(h.dom, SZ_2M);
    iommuMap(h.dom, 512, 512, 512, RW);
    const events: string[] = [];
    h.sim.observe({ unmap: () => events.push('unmap'), iotlbSyncBegin: () => events.push('sync') });
    const c0 = h.sim.counters;
    expect([iommuUnmap(h.dom, 513, 511), iommuUnmapFast(h.dom, 513, 511, createIotlbGather())]).toEqual([0, 0]);
    expect([h.sim.counters, events]).toEqual([c0, []]);
  });

  it('test_map_zero_pages: nothing mapped or charged, but trace_map and iotlb_sync_map run with 0 pages as in __iommu_map', () => {
    const h = makeHarness();
    const calls: unknown[][] = [];
    h.sim.observe({ map: (_d, iova, pfn, n) => calls.push(['map', iova, pfn, n]), mapPagesBegin: () => calls.push(['mapPages']) });
    const dom = withOps(h.dom, { iotlbSyncMap: (_d: IommuDomain, iova: number, n: number) => calls.push(['syncMap', iova, n]) });
    const c0 = h.sim.counters;
    iommuMap(dom, 7, 9, 0, RW);
    expect(calls).toEqual([
      ['map', 7, 9, 0],
      ['syncMap', 7, 0],
    ]);
    expect([h.sim.counters, leaves(h.dom), h.sim.checker.callStack]).toEqual([c0, [], []]);
  });

  it('test_sync_resets_the_gather: after iommu_tlb_sync the gather is empty again', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 100, 4, RW);
    const g = createIotlbGather();
    iommuUnmapFast(h.dom, 1, 2, g);
    expect([g.start, g.end]).toEqual([1, 2]);
    iommuTlbSync(h.dom, g);
    expect(g).toEqual(new IotlbGather());
    // the core re-inits the gather itself (iommu_iotlb_gather_init after ops->iotlb_sync), whatever the driver does
    const lazy = withOps(h.dom, { iotlbSync: () => {} });
    iommuUnmapFast(lazy, 3, 1, g);
    expect([g.start, g.end]).toEqual([3, 3]);
    iommuTlbSync(lazy, g);
    expect(g).toEqual(new IotlbGather());
  });

  it('test_underreport_point_reached: every fast unmap reaches the under-report point, armed or not', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 100, 4, RW);
    const k = FP_UNMAP_FAST_UNDERREPORT;
    const r0 = h.sim.faults.reached[k]!;
    iommuUnmapFast(h.dom, 0, 1, createIotlbGather());
    h.sim.faults.arm(FAULT_POINTS[FP_UNMAP_FAST_UNDERREPORT]!, 5); // armed far ahead: this call passes
    iommuUnmapFast(h.dom, 1, 1, createIotlbGather());
    expect(h.sim.faults.reached[k]! - r0).toBe(2);
  });

  it('test_pgsize_count_none: no size fits a misaligned iova: order -1 and count 0', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const dom = createReferenceDriver(sim, { pgsizeBitmap: SZ_2M }).domainAlloc();
    expect(iommuPgsizeCount(dom, 1, 1, 512)).toEqual({ order: -1, count: 0 });
    expect(iommuPgsizeCount(dom, 512, 512, 1024)).toEqual({ order: 21, count: 2 });
    expect(iommuPgsizeCount(createReferenceDriver(sim, { pgsizeBitmap: SZ_4K }).domainAlloc(), 0, 0, 0)).toEqual({ order: -1, count: 0 });
  });
});
