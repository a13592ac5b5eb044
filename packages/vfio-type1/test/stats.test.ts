// stats(): every counter after a known workload; trace events when the tracer is on.
import { afterEach, describe, expect, it } from 'vitest';
import { TRACE_IOCTL, TRACE_IOMMU, createReferenceDriver, createSim } from '@x/iommu-core';
import { Host, VfioStats } from '../src/index.js';
import { K4, M2, RW, expectCleanClose, makeEnv, type Env } from './helpers.js';

let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

describe('stats', () => {
  it('test_stats_exact', () => {
    e = makeEnv({ profile: 'v4.17', memlockLimit: 8n * M2 });
    const va = e.proc.mmap(4n * M2, { backing: 'hugetlb-2m' });
    const v4 = e.proc.mmap(3n * K4, { backing: '4k' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
    e.c.mapDma({ vaddr: v4, iova: 0x10000000n, size: 3n * K4, flags: RW });
    expect(() => e.c.mapDma({ vaddr: va, iova: 0n, size: K4, flags: RW })).toThrow();
    e.c.unmapDma({ iova: 0n, size: 0x20000000n });
    const expected = Object.assign(new VfioStats(), {
      mapCalls: 2,
      unmapCalls: 1,
      errors: 1,
      mapChunks: 4 + 3,
      unmapChunks: 4 + 3,
      // one UNMAP_DMA over both mappings: two vfio_unmap_unpin() calls, each syncing its own regions
      regionsPerUnmap: { 7: 1 },
      unmapUnpinCalls: 2,
      regionsPerUnmapUnpin: { 4: 1, 3: 1 },
      syncs: 2,
      regionsPerSync: { 4: 1, 3: 1 },
      peakQueuedRegions: 4,
      peakQueuedBytes: 160,
      pins: 2051,
      unpins: 2051,
    });
    expect(e.c.stats()).toEqual(expected);
  });

  it('test_regions_per_unmap_each_call', () => {
    // each UNMAP_DMA counts only its own regions: 1 (one 4K page), then 3, then 0 (nothing there)
    e = makeEnv({ profile: 'mainline' });
    const v4 = e.proc.mmap(4n * K4, { backing: '4k' });
    e.c.mapDma({ vaddr: v4, iova: 0n, size: K4, flags: RW });
    e.c.mapDma({ vaddr: v4 + K4, iova: 0x100000n, size: 3n * K4, flags: RW });
    e.c.unmapDma({ iova: 0n, size: K4 });
    expect(e.c.stats().regionsPerUnmap).toEqual({ 1: 1 });
    e.c.unmapDma({ iova: 0x100000n, size: 3n * K4 });
    e.c.unmapDma({ iova: 0x100000n, size: 3n * K4 });
    const s = e.c.stats();
    expect([s.unmapCalls, s.unmapChunks, s.regionsPerUnmap]).toEqual([3, 4, { 1: 1, 3: 1, 0: 1 }]);
  });

  it('test_trace_events', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 3, trace: true });
    const drv = createReferenceDriver(sim);
    const host = new Host(sim);
    const g = host.addGroup(drv);
    const proc = host.spawn();
    const va = proc.mmap(2n * M2, { backing: 'thp' });
    const c = host.openContainer(proc, { profile: 'mainline' });
    c.addGroup(g);
    c.setIommu(3);
    c.mapDma({ vaddr: va, iova: 0n, size: 2n * M2, flags: RW });
    c.unmapDma({ iova: 0n, size: 2n * M2 });
    const ev = sim.trace.events.filter((x) => x.track === 'vfio').map((x) => [x.ph, x.name, x.args?.regions ?? x.args?.pages]);
    // each chunk's pin and each region's unpin is a slice inside its ioctl (the two THP pages are not adjacent)
    expect(ev).toEqual([
      ['B', 'VFIO_IOMMU_MAP_DMA', undefined],
      ['B', 'vfio_pin_pages_remote', 512],
      ['E', 'vfio_pin_pages_remote', undefined],
      ['B', 'vfio_pin_pages_remote', 512],
      ['E', 'vfio_pin_pages_remote', undefined],
      ['E', 'VFIO_IOMMU_MAP_DMA', undefined],
      ['B', 'VFIO_IOMMU_UNMAP_DMA', undefined],
      ['i', 'vfio_sync_unpin', 2],
      ['B', 'vfio_unpin_pages_remote', 512],
      ['E', 'vfio_unpin_pages_remote', undefined],
      ['B', 'vfio_unpin_pages_remote', 512],
      ['E', 'vfio_unpin_pages_remote', undefined],
      ['E', 'VFIO_IOMMU_UNMAP_DMA', undefined],
    ]);
    expect(sim.trace.events.find((x) => x.name === 'vfio_pin_pages_remote')!.args).toEqual({ iova: '0x0', pages: 512 });
    // at ioctl detail only the ioctls
    sim.trace.clear();
    sim.trace.detail = TRACE_IOCTL;
    c.mapDma({ vaddr: va, iova: 0n, size: 2n * M2, flags: RW });
    c.unmapDma({ iova: 0n, size: 2n * M2 });
    expect(sim.trace.events.filter((x) => x.track === 'vfio').map((x) => x.ph + x.name)).toEqual([
      'BVFIO_IOMMU_MAP_DMA',
      'EVFIO_IOMMU_MAP_DMA',
      'BVFIO_IOMMU_UNMAP_DMA',
      'EVFIO_IOMMU_UNMAP_DMA',
    ]);
    c.close();
    expect(sim.violations).toEqual([]);
  });

  it('test_pin_trace_at_iommu_detail', () => {
    // TRACE_IOMMU is enough for the pin and unpin slices; each pin names its chunk's iova, and the
    // pin that fails (RLIMIT_MEMLOCK, 512 pages under a 768-page limit, then 512 more) ends with ret
    const sim = createSim({ memory: 1n << 30n, seed: 3, trace: true });
    sim.trace.detail = TRACE_IOMMU;
    const host = new Host(sim);
    const g = host.addGroup(createReferenceDriver(sim));
    const proc = host.spawn({ memlockLimit: 3n * (M2 / 2n) });
    const va = proc.mmap(2n * M2, { backing: 'thp' });
    const c = host.openContainer(proc, { profile: 'mainline' });
    c.addGroup(g);
    c.setIommu(3);
    expect(() => c.mapDma({ vaddr: va, iova: 0x40000000n, size: 2n * M2, flags: RW })).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    const pins = sim.trace.events.filter((x) => x.name === 'vfio_pin_pages_remote').map((x) => [x.ph, x.args]);
    expect(pins).toEqual([
      ['B', { iova: '0x40000000', pages: 512 }],
      ['E', {}],
      ['B', { iova: '0x40200000', pages: 512 }],
      ['E', { ret: -12 }],
    ]);
    // the unwind unpins the first chunk, traced as well
    expect(sim.trace.events.filter((x) => x.name === 'vfio_unpin_pages_remote').map((x) => [x.ph, x.args?.pages])).toEqual([
      ['B', 512],
      ['E', undefined],
    ]);
    // after the one sync of the unwind's single region
    expect(sim.trace.events.filter((x) => x.name === 'vfio_sync_unpin').map((x) => [x.ph, x.args])).toEqual([
      ['i', { domain: g.drv.deviceDomain(g.devices[0]!)!.id, regions: 1 }],
    ]);
    c.close();
    expect(sim.violations).toEqual([]);
  });
});
