// Device DMA through the emulated hardware: DTE, IOTLB (tagged by DomainID), the page walker and
// IO_PAGE_FAULT events in the spec's layout (§6.2, §8, §11); stale IOTLB entries after an unmap
// without a sync reach the old frame, which the core's safety checker reports.
import { describe, expect, it } from 'vitest';
import { createIotlbGather, iommuMap, iommuTlbRangeAdd, iommuTlbSync, iommuUnmap, iommuUnmapFast } from '@x/iommu-core';
import { EVENT_FLAG_PE, EVENT_FLAG_PR, EVENT_FLAG_RW, type AmdEvent } from '../src/index.js';
import { EventLog } from '../src/internals.js';
import { DEV, RO, RW, setup } from './helpers.js';

describe('DMA through the AMD IOMMU', () => {
  it('test_dma_mapped_page', () => {
    const f = setup({ profile: 'v4.17' });
    const pfn = f.sim.mem.allocFrames(4);
    iommuMap(f.dom, 0x1000, pfn + 2, 1, RW);
    const c0 = f.sim.counters;
    expect(f.amd.dma(DEV, 0x1000, 1, 'write')).toBe(true);
    const c1 = f.sim.counters;
    expect(f.sim.mem.dmaWritten.get(pfn + 2)).toBe(1);
    expect(f.sim.mem.dmaWritten.get(pfn + 1)).toBeUndefined();
    // miss: one walk reading 3 entries (mode 3, 4 KiB leaf); the DTE was fetched once
    expect([c1.iotlbMisses! - c0.iotlbMisses!, c1.walkLevels! - c0.walkLevels!, c1['amd.walks']! - c0['amd.walks']!]).toEqual([1, 3, 1]);
    expect(c1['amd.dte.fetch']! - c0['amd.dte.fetch']!).toBe(1);
    expect(f.amd.dma(DEV, 0x1000, 1, 'read')).toBe(true);
    const c2 = f.sim.counters;
    expect([c2.iotlbHits! - c1.iotlbHits!, c2.walkLevels! - c1.walkLevels!, c2['amd.dte.fetch']! - c1['amd.dte.fetch']!]).toEqual([
      1, 0, 0,
    ]);
    expect(f.sim.counters.dmaPages).toBe(2);
    expect(f.amd.eventLog()).toEqual([]);
    expect(f.sim.violations).toEqual([]);
  });

  it('test_dma_large_page_walk', () => {
    const f = setup({ profile: 'mainline' });
    const pfn = f.sim.mem.allocFrames(512, { align: 512 });
    iommuMap(f.dom, 0x200, pfn, 512, RW);
    const w0 = f.sim.counters.walkLevels!;
    expect(f.amd.dma(DEV, 0x200, 512, 'read')).toBe(true); // one miss fills the 2 MiB entry
    expect(f.sim.counters.walkLevels! - w0).toBe(2);
    expect(f.sim.counters.iotlbHits).toBe(511);
    expect(f.amd.hw.iotlb.entriesOf(f.dom.id)).toBe(1);
  });

  it('test_dma_unmapped_faults', () => {
    const f = setup({ profile: 'v4.17' });
    expect(f.amd.dma(DEV, 0x2000, 1, 'read')).toBe(false);
    const ev = f.amd.eventLog();
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({
      type: 'IO_PAGE_FAULT',
      code: 2,
      deviceId: DEV,
      domainId: f.dom.id,
      iova: 0x2000,
      flags: 0,
      address: 0x200_0000n,
    });
    // DeviceID 15:0, DomainID 47:32, code 2 in 63:60, address 127:64
    expect(ev[0]!.raw).toBe((0x200_0000n << 64n) | ((0x2000_0000n | BigInt(f.dom.id)) << 32n) | 0x100n);
    expect(f.sim.counters.faults).toBe(1);
    expect(f.sim.counters['amd.event.IO_PAGE_FAULT']).toBe(1);
    expect(f.amd.hw.events.head).toBe(f.amd.hw.events.tail); // drained
  });

  it('test_dma_read_only_write_faults', () => {
    const f = setup({ profile: 'v4.17' });
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x3000, pfn, 1, RO);
    expect(f.amd.dma(DEV, 0x3000, 1, 'read')).toBe(true);
    expect(f.amd.dma(DEV, 0x3000, 1, 'write')).toBe(false); // IOTLB hit, permission denied
    const ev = f.amd.eventLog();
    expect(ev).toHaveLength(1);
    expect(ev[0]!.flags).toBe(EVENT_FLAG_PR | EVENT_FLAG_RW | EVENT_FLAG_PE);
    expect(ev[0]!.flags).toBe(0x70);
    expect((ev[0]!.raw >> 48n) & 0x1ffn).toBe(0x70n);
    expect(f.sim.mem.dmaWritten.has(pfn)).toBe(false);
    // the same on a fresh walk (no IOTLB entry)
    const g = setup({ profile: 'v4.17' });
    const p2 = g.sim.mem.allocFrames(1);
    iommuMap(g.dom, 0x3000, p2, 1, RO);
    expect(g.amd.dma(DEV, 0x3000, 1, 'write')).toBe(false);
    expect(g.amd.eventLog()[0]!.flags).toBe(0x70);
  });

  it('test_dma_stops_at_first_fault', () => {
    const f = setup({ profile: 'v4.17' });
    const pfn = f.sim.mem.allocFrames(2);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    iommuMap(f.dom, 0x12, pfn + 1, 1, RW);
    expect(f.amd.dma(DEV, 0x10, 3, 'write')).toBe(false);
    expect(f.amd.eventLog().map((e) => [e.iova, e.flags])).toEqual([[0x11, EVENT_FLAG_RW]]);
    expect(f.sim.counters.dmaPages).toBe(1);
  });

  it('test_dma_unattached_device_blocked', () => {
    const f = setup({ profile: 'v4.17' });
    expect(f.amd.dma(0x0200, 0, 1, 'read')).toBe(false); // Linux's default DTE: V|TV, mode 0, no IR/IW
    expect(f.amd.eventLog()[0]).toMatchObject({ deviceId: 0x0200, domainId: 0, flags: EVENT_FLAG_PR | EVENT_FLAG_PE });
  });

  for (const profile of ['v4.17', 'mainline'] as const) {
    it(`test_stale_iotlb_until_sync_${profile.replace('.', '_')}`, () => {
      const f = setup({ profile });
      const pfn = f.sim.mem.allocFrames(1);
      f.sim.mem.pin(pfn, 1);
      iommuMap(f.dom, 0x5000, pfn, 1, RW);
      expect(f.amd.dma(DEV, 0x5000, 1, 'write')).toBe(true); // caches the translation
      const g = createIotlbGather();
      expect(iommuUnmapFast(f.dom, 0x5000, 1, profile === 'mainline' ? g : undefined)).toBe(1);
      if (profile === 'v4.17') iommuTlbRangeAdd(f.dom, 0x5000, 1);
      expect(f.amd.readPte(f.dom, 0x5000)).toBeNull();
      // the page table no longer maps it, but the IOTLB does
      expect(f.amd.dma(DEV, 0x5000, 1, 'write')).toBe(true);
      expect(f.sim.mem.dmaWritten.get(pfn)).toBe(2);
      f.sim.mem.unpin(pfn, 1); // unpin before the sync: the bug VFIO avoids
      expect(f.sim.violations).toHaveLength(1);
      expect(f.sim.violations[0]).toMatchObject({ kind: 'unpin-while-reachable', pfn, iova: 0x5000, domain: f.dom.id, via: 'iotlb' });
      iommuTlbSync(f.dom, profile === 'mainline' ? g : undefined);
      expect(f.amd.dma(DEV, 0x5000, 1, 'write')).toBe(false);
      expect(f.amd.eventLog().map((e) => e.iova)).toEqual([0x5000]);
      expect(f.sim.mem.isReachable(pfn)).toBe(false);
    });
  }

  it('test_stale_iotlb_dma_to_free_frame', () => {
    const f = setup({ profile: 'v4.17' });
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x6000, pfn, 1, RW);
    f.amd.dma(DEV, 0x6000, 1, 'read');
    iommuUnmapFast(f.dom, 0x6000, 1);
    f.sim.mem.freeFrames(pfn, 1);
    expect(f.amd.dma(DEV, 0x6000, 1, 'write')).toBe(true);
    expect(f.sim.violations.map((v) => [v.kind, v.pfn, v.via])).toEqual([['dma-to-free-frame', pfn, 'iotlb']]);
  });

  it('test_synced_unmap_leaves_nothing', () => {
    const f = setup({ profile: 'v4.16' });
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x7000, pfn, 1, RW);
    f.amd.dma(DEV, 0x7000, 1, 'read');
    iommuUnmapFast(f.dom, 0x7000, 1); // v4.16 flushes inside ->unmap
    expect(f.amd.dma(DEV, 0x7000, 1, 'read')).toBe(false);
  });
});

describe('IOTLB', () => {
  it('test_iotlb_tagged_by_domain', () => {
    const f = setup({ profile: 'mainline' });
    const d2 = f.amd.domainAlloc();
    f.amd.attachDevice(d2, 0x0101);
    const pfn = f.sim.mem.allocFrames(2);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    iommuMap(d2, 0x10, pfn + 1, 1, RW);
    f.amd.dma(DEV, 0x10, 1, 'write');
    f.amd.dma(0x0101, 0x10, 1, 'write');
    expect(f.sim.mem.dmaWritten.get(pfn)).toBe(1);
    expect(f.sim.mem.dmaWritten.get(pfn + 1)).toBe(1);
    expect(f.amd.hw.iotlb.entriesOf(f.dom.id)).toBe(1);
    iommuUnmap(f.dom, 0x10, 1); // invalidates only domain 1's entry
    expect(f.amd.hw.iotlb.entriesOf(f.dom.id)).toBe(0);
    expect(f.amd.hw.iotlb.entriesOf(d2.id)).toBe(1);
    expect(f.sim.counters['amd.iotlb.dropped']).toBe(1);
  });

  it('test_iotlb_lru_capacity', () => {
    const f = setup({ profile: 'v4.17', iotlbEntries: 4 });
    const pfn = f.sim.mem.allocFrames(5);
    for (let i = 0; i < 5; i++) iommuMap(f.dom, 0x100 + 2 * i, pfn + i, 1, RW);
    for (let i = 0; i < 5; i++) f.amd.dma(DEV, 0x100 + 2 * i, 1, 'read');
    expect(f.amd.hw.iotlb.used).toBe(4);
    expect(f.sim.counters['amd.iotlb.evictions']).toBe(1);
    expect(f.amd.dma(DEV, 0x100, 1, 'read')).toBe(true); // the evicted one misses again
    expect(f.sim.counters.iotlbMisses).toBe(6);
  });

  it('test_iotlb_wipe_when_full', () => {
    const f = setup({ profile: 'v4.17', iotlbEntries: 4, iotlbPolicy: 'wipe' });
    const pfn = f.sim.mem.allocFrames(5);
    for (let i = 0; i < 5; i++) iommuMap(f.dom, 0x100 + 2 * i, pfn + i, 1, RW);
    for (let i = 0; i < 5; i++) f.amd.dma(DEV, 0x100 + 2 * i, 1, 'read');
    expect(f.amd.hw.iotlb.used).toBe(1); // QEMU: cleared, then the new entry
    expect(f.sim.counters['amd.iotlb.evictions']).toBe(4);
    expect(f.amd.hw.iotlb.wipes).toBe(1);
  });

  it('test_iotlb_default_capacity', () => {
    const f = setup({ profile: 'v4.17' });
    expect(f.amd.hw.iotlb.capacity).toBe(1024);
    expect(f.amd.hw.iotlb.policy).toBe('lru');
  });

  it('test_selective_flush_keeps_other_ranges', () => {
    const f = setup({ profile: 'mainline' });
    const pfn = f.sim.mem.allocFrames(2);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    iommuMap(f.dom, 0x800, pfn + 1, 1, RW);
    f.amd.dma(DEV, 0x10, 1, 'read');
    f.amd.dma(DEV, 0x800, 1, 'read');
    iommuUnmap(f.dom, 0x10, 1); // mainline: one page, S=0
    expect(f.amd.hw.iotlb.entriesOf(f.dom.id)).toBe(1);
    const v = setup({ profile: 'v4.17' });
    const p2 = v.sim.mem.allocFrames(2);
    iommuMap(v.dom, 0x10, p2, 1, RW);
    iommuMap(v.dom, 0x800, p2 + 1, 1, RW);
    v.amd.dma(DEV, 0x10, 1, 'read');
    v.amd.dma(DEV, 0x800, 1, 'read');
    iommuUnmap(v.dom, 0x10, 1); // v4.17: the whole domain
    expect(v.amd.hw.iotlb.entriesOf(v.dom.id)).toBe(0);
  });

  it('test_dte_cache_needs_invalidation', () => {
    const f = setup({ profile: 'v4.17' });
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    expect(f.amd.dma(DEV, 0x10, 1, 'read')).toBe(true);
    // rewrite the DTE in memory without INVALIDATE_DEVTAB_ENTRY: the hardware keeps the old one
    f.amd.hw.devtab.write(DEV, { v: true, tv: true, mode: 0, rootPfn: 0, ir: false, iw: false, domainId: 0 });
    f.amd.hw.iotlb.flushAll();
    expect(f.amd.dma(DEV, 0x10, 1, 'read')).toBe(true);
    f.amd.hw.devtab.invalidate(DEV);
    expect(f.amd.dma(DEV, 0x10, 1, 'read')).toBe(false);
  });
});

describe('hardware commands and costs', () => {
  it('test_inv_all_and_illegal_command', () => {
    const f = setup({ profile: 'mainline' });
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    f.amd.dma(DEV, 0x10, 1, 'read');
    const fetches = f.amd.hw.devtab.fetches;
    f.amd.invalidateAll();
    expect(f.amd.hw.iotlb.used).toBe(0);
    expect(f.amd.commands()).toMatchObject({ INVALIDATE_IOMMU_ALL: 1 });
    f.amd.dma(DEV, 0x10, 1, 'read');
    expect(f.amd.hw.devtab.fetches - fetches).toBe(1); // the DTE cache was dropped too
    const ring = f.amd.hw.cmdRing;
    ring.words.fill(0, ring.slot(), ring.slot() + 4); // opcode 0 is not a command
    ring.advance();
    f.amd.hw.doorbell();
    expect(f.amd.eventLog().map((e) => e.type)).toEqual(['ILLEGAL_COMMAND_ERROR']);
    expect(f.sim.counters['amd.event.ILLEGAL_COMMAND_ERROR']).toBe(1);
  });

  it('test_modeled_cost_of_sync', () => {
    const f = setup({ profile: 'v4.17' });
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    iommuUnmapFast(f.dom, 0x10, 1);
    const costs = f.sim.costTable();
    const t0 = f.sim.clock.now;
    iommuTlbSync(f.dom);
    // INVALIDATE_IOMMU_PAGES + COMPLETION_WAIT, each a ring submit, plus the core's sync event
    // (the clock is a float sum of fractional costs: compare to a nanosecond millionth)
    expect(f.sim.clock.now - t0).toBeCloseTo(
      costs.invalidations!.ns + costs.completionWaits!.ns + 2 * costs['amd.cmd.submit']!.ns + costs.iotlbSyncs!.ns,
      6,
    );
    for (const [k, v] of Object.entries(costs)) if (k.startsWith('amd.')) expect(v.source.length, k).toBeGreaterThan(5);
  });
});

describe('event log ring', () => {
  it('test_event_log_overflow', () => {
    const log = new EventLog(4); // 4 slots, one kept empty
    for (let i = 0; i < 4; i++) log.ioPageFault(0x100, 1, 0x10 + i, EVENT_FLAG_RW);
    expect([log.overflow, log.dropped]).toEqual([true, 1]);
    const out: AmdEvent[] = [];
    expect(log.drain(out)).toBe(3);
    expect(out.map((e) => e.iova)).toEqual([0x10, 0x11, 0x12]);
    expect(log.overflow).toBe(false);
    expect(Array.from(log.words)).toEqual(new Array(16).fill(0)); // consumed entries are zeroed
  });
});
