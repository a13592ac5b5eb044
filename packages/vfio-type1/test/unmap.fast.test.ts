// The three unmap paths: exact IOTLB sync counts, the region queue, the slow fallback, and the
// ordering rule (no page unpinned before the sync that covers its unmap).
import { afterEach, describe, expect, it } from 'vitest';
import { SZ_4K, iommuMap, iommuUnmap } from '@x/iommu-core';
import type { UnmapPath } from '../src/index.js';
import { K4, M2, RW, domOf, expectCleanClose, leaves, makeEnv, type Env } from './helpers.js';

let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

/** Maps n 4 KiB pages of scattered frames as one dma at iova 0; returns how many physical runs it has. */
function mapScattered(n: number, o: Parameters<typeof makeEnv>[0]): number {
  e = makeEnv({ memory: 2n << 30n, ...o });
  const va = e.proc.mmap(BigInt(n) * K4, { backing: '4k' });
  e.c.mapDma({ vaddr: va, iova: 0n, size: BigInt(n) * K4, flags: RW });
  return e.c.stats().mapChunks;
}

describe('unmap_sync_counts', () => {
  it.each<[UnmapPath, number, number]>([
    ['slow', 1300, 1300],
    ['fast', 1300, 3],
    ['mainline', 1300, 3],
    ['fast', 512, 1],
    ['fast', 513, 2],
    ['mainline', 1024, 2],
  ])('test_sync_count path=%s regions=%i syncs=%i', (unmapPath, n, syncs) => {
    expect(mapScattered(n, { profile: 'v4.17', unmapPath })).toBe(n); // n physically separate 4K regions
    const c0 = e.sim.counters;
    expect(e.c.unmapDma({ iova: 0n, size: BigInt(n) * K4 })).toEqual({ size: BigInt(n) * K4 });
    const c1 = e.sim.counters;
    expect(c1.iotlbSyncs - c0.iotlbSyncs).toBe(syncs);
    expect(e.c.stats().syncs).toBe(syncs);
    expect(c1.unpins - c0.unpins).toBe(n);
    expect(e.c.stats().regionsPerUnmap).toEqual({ [n]: 1 });
    if (unmapPath !== 'slow') {
      expect(e.c.stats().peakQueuedRegions).toBe(Math.min(n, 512));
      expect(e.c.stats().peakQueuedBytes).toBe(Math.min(n, 512) * 40);
      const full = Math.floor(n / 512),
        rest = n % 512;
      expect(e.c.stats().regionsPerSync).toEqual(rest === 0 ? { 512: full } : full === 0 ? { [rest]: 1 } : { 512: full, [rest]: 1 });
    } else {
      expect(e.c.stats().peakQueuedRegions).toBe(0);
    }
  });

  it('test_tlb_sync_max_option', () => {
    mapScattered(1000, { profile: 'mainline', tlbSyncMax: 100 });
    const s0 = e.sim.counters.iotlbSyncs;
    e.c.unmapDma({ iova: 0n, size: 1000n * K4 });
    expect(e.sim.counters.iotlbSyncs - s0).toBe(10);
    expect(e.c.stats().regionsPerSync).toEqual({ 100: 10 });
  });

  it('test_queue_is_per_dma', () => {
    // 600 one-page dmas unmapped by one call: each vfio_unmap_unpin syncs its own queue
    e = makeEnv({ profile: 'v4.17', memory: 2n << 30n });
    const va = e.proc.mmap(600n * K4, { backing: '4k' });
    for (let i = 0n; i < 600n; i++) e.c.mapDma({ vaddr: va + i * K4, iova: i * K4, size: K4, flags: RW });
    const s0 = e.sim.counters.iotlbSyncs;
    expect(e.c.unmapDma({ iova: 0n, size: 600n * K4 })).toEqual({ size: 600n * K4 });
    expect(e.sim.counters.iotlbSyncs - s0).toBe(600);
    expect(e.c.stats().regionsPerSync).toEqual({ 1: 600 });
    expect(e.c.stats().regionsPerUnmap).toEqual({ 600: 1 });
  });

  it('test_2018_driver_range_add_per_region', () => {
    // a driver with the 2018 fast-flush ops (AMD's in v4.17; VT-d flushed inside ->unmap until v5.11)
    mapScattered(700, { profile: 'v4.17', drv: { apiEra: '2018', flushOnUnmap: false } });
    const c0 = e.sim.counters;
    e.c.unmapDma({ iova: 0n, size: 700n * K4 });
    const c1 = e.sim.counters;
    expect(c1.iotlbRangeAdds - c0.iotlbRangeAdds).toBe(700);
    expect(c1.iotlbSyncs - c0.iotlbSyncs).toBe(2);
    expect(c1.iotlbFlushes - c0.iotlbFlushes).toBe(2);
  });
});

describe('unmap_fallback', () => {
  it('test_fast_unmap_zero_falls_back_to_slow', () => {
    e = makeEnv({ profile: 'v4.17' });
    const va = e.proc.mmap(4n * M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
    expect(e.c.stats().mapChunks).toBe(4);
    e.sim.faults.arm('unmapFast', 2);
    const s0 = e.sim.counters.iotlbSyncs;
    expect(e.c.unmapDma({ iova: 0n, size: 4n * M2 })).toEqual({ size: 4n * M2 });
    // region 1 queued; region 2's fast unmap returns 0: sync + unpin the queue (1), then the slow
    // iommu_unmap with its own sync; regions 3 and 4 queued and synced at the end
    expect(e.sim.counters.iotlbSyncs - s0).toBe(3);
    const st = e.c.stats();
    expect(st.fallbacks).toBe(1);
    expect(st.syncs).toBe(3);
    expect(st.regionsPerSync).toEqual({ 1: 1, 2: 1 });
    expect(st.unmapChunks).toBe(4);
    expect(e.proc.lockedVm).toBe(0);
  });

  it('test_fallback_on_first_chunk_syncs_empty_queue', () => {
    e = makeEnv({ profile: 'mainline' });
    const va = e.proc.mmap(2n * M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 2n * M2, flags: RW });
    e.sim.faults.arm('unmapFast', 1);
    const s0 = e.sim.counters.iotlbSyncs;
    e.c.unmapDma({ iova: 0n, size: 2n * M2 });
    // the kernel syncs an empty region list before the slow path: 1 + slow 1 + final 1
    expect(e.sim.counters.iotlbSyncs - s0).toBe(3);
    expect(e.c.stats().regionsPerSync).toEqual({ 0: 1, 1: 1 });
    expect(e.c.stats().fallbacks).toBe(1);
  });
});

describe('unmap_underreport', () => {
  it.each<UnmapPath>(['slow', 'fast', 'mainline'])('test_page_missing_from_first_domain_warns_and_keeps_its_pin path=%s', (unmapPath) => {
    // someone else unmapped page 1 of the dma from the domain: iova_to_phys finds nothing there, the
    // loop WARNs and steps one page on, and the page's pin (put_page never runs) and charge stay
    e = makeEnv({ profile: 'v4.17', unmapPath, memory: 2n << 30n });
    const va = e.proc.mmap(4n * K4, { backing: '4k' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * K4, flags: RW });
    const vp = Number(va >> 12n),
      pfn1 = e.proc.pfnOf(vp + 1);
    expect(iommuUnmap(domOf(e), 1, 1)).toBe(1);
    const lookups0 = e.sim.counters.iovaToPhys!;
    expect(e.c.unmapDma({ iova: 0n, size: 4n * K4 })).toEqual({ size: 4n * K4 });
    const st = e.c.stats();
    expect([st.warnings, st.fallbacks]).toEqual([1, 0]);
    expect(leaves(domOf(e))).toEqual([]);
    expect(e.c.mappings()).toEqual([]);
    expect([e.sim.mem.pinnedPages, e.sim.mem.pinCount(pfn1), e.proc.lockedVm]).toEqual([1, 1, 1]);
    // the frames are scattered (one run per page): pages 0 and 2 look up themselves and the page
    // that ends their run, page 1 and the last page one each
    expect(e.sim.counters.iovaToPhys! - lookups0).toBe(6);
    // the leaked pin is what close finds
    e.c.close();
    expect(e.sim.violations.map((x) => [x.kind, x.call, x.detail])).toEqual([
      ['teardown-leaves-pins', 'close', '1 pages still pinned after release'],
      ['teardown-leaves-charge', 'close', '1 pages still charged after release'],
      ['locked-vm-mismatch', 'close', 'pid 1000 locked_vm 1 pages, its containers charged 0'],
    ]);
    e.sim.violations.length = 0;
  });

  it('test_domain_disagreeing_with_backing_cuts_the_run_to_one_page', () => {
    // the run length comes from the process's backing, checked against the domain's first page:
    // page 0 of a THP dma remapped behind VFIO's back to another dma's frame is a chunk of its own
    // (the kernel's next iova_to_phys would not continue the run), and that frame is what it unpins
    e = makeEnv({ profile: 'mainline', drv: { pgsizeBitmap: SZ_4K }, memory: 2n << 30n });
    const va = e.proc.mmap(M2, { backing: 'thp' }),
      va2 = e.proc.mmap(K4, { backing: '4k' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    e.c.mapDma({ vaddr: va2, iova: 1n << 30n, size: K4, flags: RW });
    const pfn0 = e.proc.pfnOf(Number(va >> 12n)),
      other = e.proc.pfnOf(Number(va2 >> 12n));
    expect(iommuUnmap(domOf(e), 0, 1)).toBe(1);
    iommuMap(domOf(e), 0, other, 1, RW);
    const s0 = e.c.stats();
    expect(e.c.unmapDma({ iova: 0n, size: M2 })).toEqual({ size: M2 });
    const s1 = e.c.stats();
    expect([s1.unmapChunks - s0.unmapChunks, s1.unpins - s0.unpins, s1.warnings]).toEqual([2, 512, 0]);
    expect([e.sim.mem.pinCount(pfn0), e.sim.mem.pinCount(pfn0 + 1), e.sim.mem.pinCount(other)]).toEqual([1, 0, 0]);
    expect(leaves(domOf(e))).toEqual([[1 << 18, other, 12]]);
    // the second dma still maps that frame: the checker sees its last pin go, and close's unpin of
    // it underflows
    const brief = () => e.sim.violations.map((x) => [x.kind, x.call, x.pfn]);
    expect(brief()).toEqual([['unpin-while-reachable', 'VFIO_IOMMU_UNMAP_DMA', other]]);
    e.sim.violations.length = 0;
    e.c.close();
    expect(brief()).toEqual([['unpin-underflow', 'close', other]]);
    e.sim.violations.length = 0;
  });

  it('test_disagreeing_large_leaf_unpins_one_folio_of_the_dma_backing_order', () => {
    // the same, with a 2 MiB leaf at a dma whose iova is not 0: the one-page chunk's unmap takes the
    // whole leaf (512 pages of the other dma's THP), and their unpin steps over them by the folio
    // order of the dma's own first page (a THP, order 9): one folio, one step
    e = makeEnv({ profile: 'mainline', memory: 2n << 30n });
    const va = e.proc.mmap(M2, { backing: 'thp' }),
      vb = e.proc.mmap(M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: M2, size: M2, flags: RW });
    e.c.mapDma({ vaddr: vb, iova: 1n << 30n, size: M2, flags: RW });
    const pa = e.proc.pfnOf(Number(va >> 12n)),
      pb = e.proc.pfnOf(Number(vb >> 12n));
    expect(iommuUnmap(domOf(e), 512, 512)).toBe(512);
    iommuMap(domOf(e), 512, pb, 512, RW);
    expect(leaves(domOf(e))).toEqual([
      [512, pb, 21],
      [1 << 18, pb, 21],
    ]);
    const c0 = e.sim.counters,
      s0 = e.c.stats();
    expect(e.c.unmapDma({ iova: M2, size: M2 })).toEqual({ size: M2 });
    const c1 = e.sim.counters,
      s1 = e.c.stats();
    const d = (k: string) => c1[k]! - c0[k]!;
    expect([d('vfio.unpinFolios'), d('vfio.unpinSteps'), s1.unmapChunks - s0.unmapChunks, s1.unpins - s0.unpins]).toEqual([1, 1, 1, 512]);
    expect(leaves(domOf(e))).toEqual([[1 << 18, pb, 21]]);
    expect([e.sim.mem.pinCount(pa), e.sim.mem.pinCount(pa + 511), e.sim.mem.pinCount(pb), e.sim.mem.pinCount(pb + 511)]).toEqual([
      1, 1, 0, 0,
    ]);
    // every page of the other dma's leaf lost its last pin while that dma still maps it
    const hits = e.sim.violations.map((x) => [x.kind, x.call, x.pfn]);
    expect(hits).toEqual(Array.from({ length: 512 }, (_, i) => ['unpin-while-reachable', 'VFIO_IOMMU_UNMAP_DMA', pb + i]));
    e.sim.violations.length = 0;
    e.c.close();
    // close unpins the other dma's frames a second time; the dma's own THP stays pinned, which the
    // teardown check cannot see (the container's pin count balances: 512 unpinned, if not its own)
    expect(e.sim.violations.map((x) => [x.kind, x.call, x.pfn])).toEqual(
      Array.from({ length: 512 }, (_, i) => ['unpin-underflow', 'close', pb + i]),
    );
    expect([e.sim.mem.pinnedPages, e.sim.mem.pinCount(pa), e.sim.mem.pinCount(pb)]).toEqual([512, 1, 0]);
    e.sim.violations.length = 0;
  });

  it('test_fast_unmap_underreport_warns_and_leaks', () => {
    // a driver that clears region 2's PTEs but reports 0 (not survivable, so the fault sweep skips
    // this point): region 1 is synced and unpinned, the slow retry of region 2 finds nothing mapped,
    // WARN_ON(!unmapped) breaks out of the dma, and regions 2..4 stay pinned and charged for good
    e = makeEnv({ profile: 'v4.17' });
    const va = e.proc.mmap(4n * M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
    const pfnAt = (chunk: number) => e.proc.pfnOf(Number(va >> 12n) + 512 * chunk);
    e.sim.faults.arm('unmapFastUnderreport', 2);
    const s0 = e.sim.counters.iotlbSyncs;
    expect(e.c.unmapDma({ iova: 0n, size: 4n * M2 })).toEqual({ size: 4n * M2 });
    expect(e.sim.faults.fired).toEqual(['unmapFastUnderreport']);
    expect(e.sim.counters.iotlbSyncs - s0).toBe(2); // the queue's sync, the slow unmap's
    const st = e.c.stats();
    expect([st.fallbacks, st.warnings, st.unmapChunks, st.regionsPerSync]).toEqual([1, 1, 1, { 1: 1 }]);
    expect(e.c.mappings()).toEqual([]);
    expect(leaves(domOf(e))).toEqual([
      [1024, pfnAt(2), 21],
      [1536, pfnAt(3), 21],
    ]);
    expect([e.sim.mem.pinnedPages, e.proc.lockedVm]).toEqual([1536, 1536]);
    expect(e.sim.violations).toEqual([]);
    // the checker finds the leak: pins and charge no dma accounts for, then what close leaves behind
    expect(e.c.check().map((x) => [x.kind, x.detail])).toEqual([
      ['dma-charge-mismatch', 'dmas charged 0 pages, container 1536'],
      ['pin-outside-dma', 'container pins 1536 pages, its dmas cover 0'],
    ]);
    e.sim.violations.length = 0;
    e.c.close();
    expect(e.sim.violations.map((x) => [x.kind, x.call, x.detail])).toEqual([
      ['teardown-leaves-mapping', 'close', 'domain free: domain 1 still maps 1024 page(s)'],
      ['teardown-leaves-pins', 'close', '1536 pages still pinned after release'],
      ['teardown-leaves-charge', 'close', '1536 pages still charged after release'],
      ['locked-vm-mismatch', 'close', 'pid 1000 locked_vm 1536 pages, its containers charged 0'],
    ]);
  });
});

describe.each<UnmapPath>(['slow', 'fast', 'mainline'])('unmap_ordering path=%s', (unmapPath) => {
  it('test_no_unpin_before_sync', () => {
    // VFIO's ordering on each path, over a driver that defers its invalidations to the sync
    e = makeEnv({ profile: 'v4.17', unmapPath, drv: { iotlbEntries: 4096, release: 'mainline' }, mixReleases: true });
    const dev = e.group.devices[0]!;
    const va = e.proc.mmap(2n * M2, { backing: '4k' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 2n * M2, flags: RW });
    expect(e.drv.dma(dev, 0, 1024, 'read')).toBe(true); // every page now cached in the IOTLB
    // a device access racing each sync: it may still hit a stale IOTLB entry, whose frame must be pinned
    const pinnedAtSync: number[] = [];
    const off = e.sim.observe({
      iotlbSyncBegin: () => {
        e.drv.dma(dev, 1023, 1, 'read');
        pinnedAtSync.push(e.sim.mem.pinCount(e.proc.pfnOf(Number(va >> 12n) + 1023)));
      },
    });
    expect(e.c.unmapDma({ iova: 0n, size: 2n * M2 })).toEqual({ size: 2n * M2 });
    off();
    expect(pinnedAtSync.length).toBe(unmapPath === 'slow' ? 1024 : 2);
    expect(pinnedAtSync[pinnedAtSync.length - 1]).toBe(1); // page 1023 still pinned at its sync
    expect(e.sim.violations).toEqual([]);
    expect(e.drv.faults().length).toBe(0); // page 1023 is reached through the stale IOTLB entry
  });

  it('test_lost_invalidation_is_caught', () => {
    // negative control: if a sync flushes nothing, unpinning after it is a violation the checker reports
    e = makeEnv({ profile: 'v4.17', unmapPath, drv: { iotlbEntries: 4096, release: 'mainline' }, mixReleases: true });
    const va = e.proc.mmap(M2, { backing: '4k' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 8n * K4, flags: RW });
    expect(e.drv.dma(e.group.devices[0]!, 0, 8, 'write')).toBe(true);
    e.sim.faults.arm('sync', 1);
    e.c.unmapDma({ iova: 0n, size: 8n * K4 });
    const v = e.sim.violations;
    // fast/mainline: the one sync of the call is lost, all 8 pages are unpinned while cached;
    // slow: only the first chunk's sync is lost
    expect(v.length).toBe(unmapPath === 'slow' ? 1 : 8);
    expect(v[0]).toMatchObject({ kind: 'unpin-while-reachable', via: 'iotlb', call: expect.stringMatching(/^VFIO_IOMMU_UNMAP_DMA/) });
    e.sim.violations.length = 0;
    e.c.close();
    e.sim.violations.length = 0;
  });
});
