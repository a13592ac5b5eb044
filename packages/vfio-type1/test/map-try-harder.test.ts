// map_try_harder(): a 2 MiB chunk over a leftover 4 KiB table (the 2018 AMD EBUSY) is mapped page
// by page; a failure midway runs the chosen unwind variant.
import { afterEach, describe, expect, it } from 'vitest';
import type { TryHarder } from '../src/index.js';
import { K4, M2, RW, domOf, expectCleanClose, expectFailNoTrace, leaves, makeEnv, type Env } from './helpers.js';

let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

/** A container whose IOVA 0..2M once held a 4 KiB mapping: the driver keeps the empty table. */
function leftover(o: Parameters<typeof makeEnv>[0]): bigint {
  e = makeEnv({ drv: { replaceEmptyTables: false }, ...o });
  const small = e.proc.mmap(K4, { backing: '4k' });
  e.c.mapDma({ vaddr: small, iova: 0n, size: K4, flags: RW });
  e.c.unmapDma({ iova: 0n, size: K4 });
  return e.proc.mmap(M2, { backing: 'hugetlb-2m' });
}

describe('map_try_harder', () => {
  it.each<TryHarder>(['landed', 'rfc-v2', 'suggested'])('test_try_harder_maps_page_by_page variant=%s', (v) => {
    const va = leftover({ profile: 'v4.17', mapTryHarder: v });
    e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    const st = e.c.stats();
    expect(st.tryHarderEntries).toBe(1);
    expect(st.tryHarderPages).toBe(512);
    const l = leaves(domOf(e));
    expect(l.length).toBe(512);
    expect(l[511]).toEqual([511, e.proc.pfnOf(Number(va >> 12n)) + 511, 12]);
    expect(e.proc.lockedVm).toBe(512);
    expect(e.drv.dma(e.group.devices[0]!, 0, 512, 'write')).toBe(true);
    expect(e.c.unmapDma({ iova: 0n, size: M2 })).toEqual({ size: M2 });
    expect(e.sim.violations).toEqual([]);
  });

  it('test_try_harder_absent_in_mainline', () => {
    const va = leftover({ profile: 'mainline' });
    expectFailNoTrace(e, () => e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW }), 'EBUSY', -16, 'VFIO_IOMMU_MAP_DMA');
    expect(e.c.stats().tryHarderEntries).toBe(0);
  });

  it('test_try_harder_disabled_option', () => {
    const va = leftover({ profile: 'v4.17', mapTryHarder: false });
    expectFailNoTrace(e, () => e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW }), 'EBUSY', -16, 'VFIO_IOMMU_MAP_DMA');
  });

  // fault 'map' counts every step of iommu_map: 1 for the 2 MiB attempt (which the driver then
  // refuses with EBUSY), then one per page: occurrence 102 is page 100
  const FAIL_AT_PAGE_100 = 102;

  it('test_try_harder_failure_suggested_leaves_nothing', () => {
    const va = leftover({ profile: 'v4.17', mapTryHarder: 'suggested' });
    const s0 = e.sim.counters.iotlbSyncs;
    e.sim.faults.arm('map', FAIL_AT_PAGE_100);
    // the page-by-page retry failed (ENOMEM): the call returns the ORIGINAL EBUSY
    expectFailNoTrace(e, () => e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW }), 'EBUSY', -16, 'VFIO_IOMMU_MAP_DMA');
    expect(e.sim.counters.iotlbSyncs - s0).toBe(1); // pages 99..0 fast-unmapped, one sync
    expect(e.c.stats().tryHarderPages).toBe(100);
    expect(e.c.stats().warnings).toBe(0);
    expect(leaves(domOf(e))).toEqual([]);
    expect(e.sim.violations).toEqual([]);
  });

  it.each<[TryHarder, number, [number, number][]]>([
    // rfc-v2: pages 100..1 fast-unmapped, a range added for each that returned a page (100 was never mapped)
    ['rfc-v2', 99, [[1, 99]]],
    // suggested: pages 99..0, a range added for each
    ['suggested', 100, [[0, 99]]],
  ])('test_try_harder_unwind_range_adds variant=%s', (v, adds, synced) => {
    // a driver that defers its flushes to the sync (AMD's v4.17 ops): the range adds reach it
    const va = leftover({ profile: 'v4.17', mapTryHarder: v, drv: { replaceEmptyTables: false, flushOnUnmap: false } });
    const a0 = e.sim.counters.iotlbRangeAdds;
    const ranges: [number, number][] = [];
    const off = e.sim.observe({ iotlbSyncBegin: (_d, start, last) => void ranges.push([start, last]) });
    e.sim.faults.arm('map', FAIL_AT_PAGE_100);
    expect(() => e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW })).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    off();
    expect(e.sim.counters.iotlbRangeAdds - a0).toBe(adds);
    // the unwind's sync invalidates exactly the pages it unmapped (the chunk's unwind adds none: nothing else was mapped)
    expect(ranges.slice(0, 1)).toEqual(synced);
    if (v === 'rfc-v2') {
      // page 0 stays mapped (rfc-v2's off-by-one, below): its unpin and the close report it
      expect(e.sim.violations.map((x) => x.kind)).toEqual(['unpin-while-reachable']);
      e.c.close();
      e.sim.violations.length = 0;
    }
  });

  it.each<[TryHarder, number]>([
    ['landed', 100],
    ['rfc-v2', 1],
  ])('test_try_harder_failure_off_by_one variant=%s', (v, syncs) => {
    const va = leftover({ profile: 'v4.17', mapTryHarder: v });
    const pfn0 = e.proc.pfnOf(Number(va >> 12n));
    const s0 = e.sim.counters.iotlbSyncs;
    e.sim.faults.arm('map', FAIL_AT_PAGE_100);
    expect(() => e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW })).toThrow(
      expect.objectContaining({ code: 'EBUSY', errno: -16, syscall: 'VFIO_IOMMU_MAP_DMA' }),
    );
    // landed: iommu_unmap of pages 100..1, one sync each (page 100 was never mapped: a no-op);
    // rfc-v2: the same pages fast, one sync because the last unmap (page 1) returned a page
    expect(e.sim.counters.iotlbSyncs - s0).toBe(syncs);
    // page 0 of the chunk stays mapped while VFIO unpins the whole chunk: the checker sees it
    expect(leaves(domOf(e))).toEqual([[0, pfn0, 12]]);
    expect(e.c.mappings()).toEqual([]);
    expect(e.proc.lockedVm).toBe(0);
    expect(e.sim.mem.pinnedPages).toBe(0);
    expect(e.sim.violations).toEqual([
      expect.objectContaining({
        kind: 'unpin-while-reachable',
        pfn: pfn0,
        iova: 0,
        via: 'pte',
        call: 'VFIO_IOMMU_MAP_DMA',
      }),
    ]);
    // and the stale mapping outlives the container's last dma
    e.c.close();
    expect(e.sim.violations.map((x) => x.kind)).toEqual(['unpin-while-reachable', 'teardown-leaves-mapping']);
    e.sim.violations.length = 0;
  });
});
