// The core's safety hook: a frame unpinned while a PTE or IOTLB entry still reaches it is reported.
import { describe, expect, it } from 'vitest';
import { createIotlbGather, iommuMap, iommuTlbSync, iommuUnmap, iommuUnmapFast } from '../src/index.js';
import { makeHarness, RW } from './harness.js';

function pinnedBuffer(h: ReturnType<typeof makeHarness>, n: number): number {
  const pfn = h.sim.mem.allocBacking(n, '4k').pfns[0]!; // one user frame (FRAME_USER)
  expect(h.sim.mem.pin(pfn, 1)).toBe(true);
  return pfn;
}

describe('safety hook', () => {
  it('test_unpin_before_sync: a stale IOTLB entry makes the unpin a violation with pfn, iova, domain and call', () => {
    const h = makeHarness();
    h.drv.attachDevice(h.dom, 1);
    const pfn = pinnedBuffer(h, 1);
    iommuMap(h.dom, 0x10, pfn, 1, RW);
    expect(h.drv.dma(1, 0x10, 1, 'write')).toBe(true); // fills the IOTLB
    const g = createIotlbGather();
    expect(iommuUnmapFast(h.dom, 0x10, 1, g)).toBe(1);
    expect(h.drv.dma(1, 0x10, 1, 'read')).toBe(true); // still reachable through the IOTLB
    h.sim.checker.enter('VFIO_IOMMU_UNMAP_DMA');
    h.sim.mem.unpin(pfn, 1);
    h.sim.checker.leave();
    expect(h.sim.violations).toEqual([
      {
        kind: 'unpin-while-reachable',
        pfn,
        iova: 0x10,
        domain: h.dom.id,
        via: 'iotlb',
        call: 'VFIO_IOMMU_UNMAP_DMA',
        detail: 'last pin dropped while a PTE or IOTLB entry still translates to the frame',
      },
    ]);
  });

  it('test_unpin_after_sync: the same sequence with the sync first is clean, and the device faults', () => {
    const h = makeHarness();
    h.drv.attachDevice(h.dom, 1);
    const pfn = pinnedBuffer(h, 1);
    iommuMap(h.dom, 0x10, pfn, 1, RW);
    h.drv.dma(1, 0x10, 1, 'write');
    const g = createIotlbGather();
    iommuUnmapFast(h.dom, 0x10, 1, g);
    iommuTlbSync(h.dom, g);
    h.sim.mem.unpin(pfn, 1);
    expect(h.sim.violations).toEqual([]);
    expect(h.drv.dma(1, 0x10, 1, 'read')).toBe(false);
    expect(h.drv.faults().at(-1)).toEqual({ deviceId: 1, domainId: h.dom.id, iova: 0x10, write: false, reason: 'not-present' });
  });

  it('test_unpin_while_mapped: unpinning a frame a PTE still maps is reported via the pte', () => {
    const h = makeHarness();
    const pfn = pinnedBuffer(h, 1);
    iommuMap(h.dom, 0x20, pfn, 1, RW);
    h.sim.mem.unpin(pfn, 1);
    expect(h.sim.violations).toMatchObject([{ kind: 'unpin-while-reachable', pfn, iova: 0x20, via: 'pte' }]);
  });

  it('test_dma_to_unpinned_user_page: a device reaching a user page nobody pins is reported', () => {
    const h = makeHarness();
    h.drv.attachDevice(h.dom, 3);
    const pfn = h.sim.mem.allocBacking(1, '4k').pfns[0]!;
    iommuMap(h.dom, 0x30, pfn, 1, RW);
    expect(h.drv.dma(3, 0x30, 1, 'write')).toBe(true);
    expect(h.sim.violations).toMatchObject([{ kind: 'dma-to-unpinned', pfn, iova: 0x30, via: 'pte' }]);
    expect(h.sim.mem.dmaWritten.get(pfn)).toBe(1);
  });

  it('test_violation_limit: past checker.limit violations are counted in dropped, not stored', () => {
    const h = makeHarness();
    h.sim.checker.limit = 2;
    const pfn = h.sim.mem.allocBacking(1, '4k').pfns[0]!;
    for (let k = 0; k < 3; k++) h.sim.mem.unpin(pfn, 1); // never pinned: three underflows
    expect([h.sim.violations.length, h.sim.checker.dropped]).toEqual([2, 1]);
    expect(h.sim.violations.map((v) => v.kind)).toEqual(['unpin-underflow', 'unpin-underflow']);
  });

  it('test_dma_to_unpinned_via_iotlb: the same DMA through a stale IOTLB entry after the unmap names the IOTLB', () => {
    const h = makeHarness();
    h.drv.attachDevice(h.dom, 3);
    const pfn = h.sim.mem.allocBacking(1, '4k').pfns[0]!;
    iommuMap(h.dom, 0x30, pfn, 1, RW);
    expect(h.drv.dma(3, 0x30, 1, 'read')).toBe(true); // fills the IOTLB (and is reported via the pte)
    expect(iommuUnmapFast(h.dom, 0x30, 1, createIotlbGather())).toBe(1); // no sync: the entry stays
    expect(h.drv.dma(3, 0x30, 1, 'read')).toBe(true);
    expect(h.sim.violations.map((v) => [v.kind, v.pfn, v.iova, v.via])).toEqual([
      ['dma-to-unpinned', pfn, 0x30, 'pte'],
      ['dma-to-unpinned', pfn, 0x30, 'iotlb'],
    ]);
  });

  it('test_dma_permissions: a write to a read-only page faults; kernel frames need no pin', () => {
    const h = makeHarness();
    h.drv.attachDevice(h.dom, 1);
    const pfn = h.sim.mem.allocFrames(1);
    iommuMap(h.dom, 0x40, pfn, 1, 1);
    expect(h.drv.dma(1, 0x40, 1, 'read')).toBe(true);
    expect(h.drv.dma(1, 0x40, 1, 'write')).toBe(false);
    expect(h.drv.faults()).toEqual([{ deviceId: 1, domainId: h.dom.id, iova: 0x40, write: true, reason: 'permission' }]);
    expect(h.sim.violations).toEqual([]);
    expect(h.drv.dma(9, 0x40, 1, 'read')).toBe(false); // unattached device
    expect(h.drv.faults().at(-1)!.reason).toBe('no-domain');
  });

  it('test_iotlb_reach_released: entries flushed by a synced unmap leave no reach behind', () => {
    const h = makeHarness({ iotlbEntries: 4 });
    h.drv.attachDevice(h.dom, 1);
    const pfn = h.sim.mem.allocFrames(512, { align: 512 });
    iommuMap(h.dom, 0, pfn, 512, RW);
    h.drv.dma(1, 0, 16, 'read'); // one 2M IOTLB entry
    expect(h.drv.iotlb.entriesOf(h.dom.id)).toBe(1);
    expect(h.sim.counters.iotlbMisses).toBe(1);
    expect(h.sim.counters.iotlbHits).toBe(15);
    iommuUnmap(h.dom, 0, 512);
    expect(h.drv.iotlb.entriesOf(h.dom.id)).toBe(0);
    expect(h.sim.mem.isReachable(pfn + 7)).toBe(false);
  });

  it('test_unpin_underflow: unpinning a frame that is not pinned is reported and does not go negative', () => {
    const h = makeHarness();
    const pfn = h.sim.mem.allocFrames(1);
    h.sim.mem.unpin(pfn, 1);
    expect(h.sim.mem.pinCount(pfn)).toBe(0);
    expect(h.sim.violations).toMatchObject([{ kind: 'unpin-underflow', pfn }]);
  });
});

// Regression: reach counts indexed pfns with 32-bit shifts, so a leaf over MMIO at 2^34 + p counted
// as a mapping of RAM frame p, and unpinning p after its own unmap was reported as a violation.
describe('safety hook and MMIO leaves', () => {
  const MMIO = 2 ** 34;

  it('test_mmio_leaves_never_count_as_ram: 4K (one page and fused runs), 2M and IOTLB fills', () => {
    const h = makeHarness();
    h.drv.attachDevice(h.dom, 1);
    const pfn = pinnedBuffer(h, 1);
    const blk = pfn - (pfn % 512);
    iommuMap(h.dom, 0x10, pfn, 1, RW);
    iommuMap(h.dom, 0x400, MMIO + pfn, 1, RW); // the one-page path
    iommuMap(h.dom, 0x800, MMIO + blk, 512, RW); // 2 MiB leaf over MMIO
    iommuMap(h.dom, 0x1000 + (pfn & 511), MMIO + pfn, 300, RW); // a fused 4K run over MMIO
    expect(h.drv.dma(1, 0x400, 1, 'read')).toBe(true); // an IOTLB entry for the MMIO leaf
    expect(h.drv.dma(1, 0x800 + (pfn & 511), 1, 'read')).toBe(true);
    expect(h.sim.mem.reach4k.get(pfn)).toBe(1); // only the RAM mapping at 0x10
    expect(h.sim.mem.reach2m.get(blk / 512)).toBe(0);
    expect(iommuUnmap(h.dom, 0x10, 1)).toBe(1);
    expect(h.sim.mem.isReachable(pfn)).toBe(false);
    expect(h.sim.mem.isReachable(MMIO + pfn)).toBe(false); // MMIO is never counted
    h.sim.mem.unpin(pfn, 1);
    expect(h.sim.violations).toEqual([]);
    expect(iommuUnmap(h.dom, 0x400, 1)).toBe(1);
    expect(iommuUnmap(h.dom, 0x800, 512)).toBe(512);
    expect(iommuUnmap(h.dom, 0x1000 + (pfn & 511), 300)).toBe(300);
    expect(h.sim.mem.reach4k.allZero() && h.sim.mem.reach2m.allZero()).toBe(true);
  });

  it('test_mmio_run_beside_ram_end: a run from the last RAM frames into the space above counts RAM only', () => {
    const h = makeHarness();
    const last = h.sim.mem.nFrames - 4;
    iommuMap(h.dom, 0x2000, last, 8, RW); // 4 RAM frames, 4 beyond RAM
    expect([0, 1, 2, 3].map((k) => h.sim.mem.reach4k.get(last + k))).toEqual([1, 1, 1, 1]);
    expect(h.sim.mem.isReachable(last + 4)).toBe(false);
    expect(iommuUnmap(h.dom, 0x2000, 8)).toBe(8);
    expect(h.sim.mem.reach4k.allZero()).toBe(true);
  });
});
