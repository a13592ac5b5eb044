// The emulated IOMMU's command processor and translation path at the edges the mutation run of
// issue 15 found unchecked: DTEs with translation off or mode 0, an entry without permissions
// (never cached), COMPLETION_WAIT without a store and with a 64-bit value, a single-page
// INVALIDATE_IOMMU_PAGES, an illegal opcode's cost, and the eviction count of a wiping IOTLB.
import { describe, expect, it } from 'vitest';
import { iommuMap } from '@x/iommu-core';
import { buildCompletionWait, buildInvIommuPages } from '../src/internals.js';
import { DEV, RW, cmdDelta, setup, submit } from './helpers.js';

const OTHER = 0x0200;
const RW_FLAG = 1 << 5; // IO_PAGE_FAULT flags: the access was a write

describe('translation with translation off or mode 0', () => {
  it.each([
    [false, true],
    [true, false],
    [false, false],
  ])('test_dte_v %s tv %s is untranslated', (v, tv) => {
    const f = setup({ profile: 'mainline' });
    f.amd.hw.devtab.write(OTHER, { v, tv, mode: 3, rootPfn: f.dom.pt.root, ir: false, iw: false, domainId: f.dom.id });
    // the address goes out as is: no walk, no fault
    expect(f.amd.hw.translate(OTHER, 0x1234, true)).toBe(0x1234);
    expect(f.sim.counters['amd.walks']).toBe(0);
    expect(f.amd.eventLog()).toEqual([]);
  });

  it('test_dte_mode0_permissions', () => {
    const f = setup({ profile: 'mainline' });
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    expect(f.amd.hw.translate(DEV, 0x10, false)).toBe(pfn);
    expect(f.amd.hw.translate(DEV, 0x10, false)).toBe(pfn);
    expect(f.amd.hw.via).toBe('iotlb');
    // mode 0: the DTE's IR/IW decide, the address passes untranslated
    f.amd.hw.devtab.write(OTHER, { v: true, tv: true, mode: 0, rootPfn: 0, ir: true, iw: false, domainId: 9 });
    expect(f.amd.hw.translate(OTHER, 0x777, false)).toBe(0x777);
    expect(f.amd.hw.via).toBe('pte');
    expect(f.amd.hw.translate(OTHER, 0x777, true)).toBe(-1);
    expect(f.amd.eventLog().map((e) => [e.type, e.deviceId, e.domainId, e.iova, (e.flags & RW_FLAG) !== 0])).toEqual([
      ['IO_PAGE_FAULT', OTHER, 9, 0x777, true],
    ]);
  });

  it('test_entry_without_permissions_is_not_cached', () => {
    const f = setup({ profile: 'mainline' });
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    // clear IR and IW of the leaf in memory (hardware would fault; nothing to cache)
    const e = f.dom.pt.entryOf(0x10)!;
    e.words[e.w + 1] = e.words[e.w + 1]! & ~((1 << 29) | (1 << 30));
    expect(f.amd.hw.translate(DEV, 0x10, false)).toBe(-1);
    expect(f.amd.hw.iotlb.used).toBe(0);
    expect(f.amd.hw.translate(DEV, 0x10, false)).toBe(-1);
    expect(f.sim.counters['amd.walks']).toBe(2);
  });
});

describe('commands', () => {
  it('test_completion_wait_store_bit', () => {
    const f = setup({ profile: 'mainline' });
    const addr = 0x12_3456_7000;
    submit(f, (w, c) => buildCompletionWait(w, c, addr, 5, 0, false));
    expect(f.amd.hw.stores.get(addr)).toBe(undefined);
    submit(f, (w, c) => buildCompletionWait(w, c, addr, 0x89abcdef | 0, 0x01234567, true));
    expect(Array.from(f.amd.hw.stores.get(addr)!)).toEqual([0x89abcdef | 0, 0x01234567]);
  });

  it('test_inv_pages_single_page_s0', () => {
    const f = setup({ profile: 'mainline' });
    // eight 4 KiB leaves on scattered frames (contiguous ones would make one 32 KiB leaf)
    const pfn = f.sim.mem.allocFrames(16);
    for (let i = 0; i < 8; i++) iommuMap(f.dom, 0x100 + i, pfn + 2 * i, 1, RW);
    for (let i = 0; i < 8; i++) expect(f.amd.dma(DEV, 0x100 + i, 1, 'read')).toBe(true);
    const before = f.amd.hw.iotlb.entriesOf(f.dom.id);
    // S=0: exactly page 0x105; read with S=1 the same address would be the block 0x104..0x107
    submit(f, (w, c) => buildInvIommuPages(w, c, f.dom.id, 0x105, false, true));
    expect(f.amd.hw.iotlb.entriesOf(f.dom.id)).toBe(before - 1);
    const walks = f.sim.counters['amd.walks']!;
    f.amd.dma(DEV, 0x104, 1, 'read');
    f.amd.dma(DEV, 0x106, 1, 'read');
    expect(f.sim.counters['amd.walks']! - walks).toBe(0);
    f.amd.dma(DEV, 0x105, 1, 'read');
    expect(f.sim.counters['amd.walks']! - walks).toBe(1);
  });

  it('test_illegal_opcode_costs', () => {
    for (const op of [0, 9, 15]) {
      const f = setup({ profile: 'mainline' });
      const t = f.sim.costTable();
      const now = f.sim.clock.now,
        before = f.amd.commands();
      submit(f, (w, c) => {
        w.fill(0, c, c + 4);
        w[c + 1] = op << 28;
      });
      // the submit and the event, nothing charged or counted as a command
      expect(f.sim.clock.now - now).toBeCloseTo(t['amd.cmd.submit']!.ns + t['amd.event.ILLEGAL_COMMAND_ERROR']!.ns, 9);
      expect(cmdDelta(f.amd, before)).toEqual({});
      expect(f.amd.eventLog().map((e) => e.type)).toEqual(['ILLEGAL_COMMAND_ERROR']);
    }
  });

  it('test_wipe_counts_each_wipe_once', () => {
    const f = setup({ profile: 'v4.17', iotlbEntries: 4, iotlbPolicy: 'wipe' });
    const pfn = f.sim.mem.allocFrames(8);
    for (let i = 0; i < 8; i++) iommuMap(f.dom, 0x100 + 2 * i, pfn + i, 1, RW);
    for (let i = 0; i < 5; i++) f.amd.dma(DEV, 0x100 + 2 * i, 1, 'read');
    expect(f.sim.counters['amd.iotlb.evictions']).toBe(4); // one wipe of 4 entries
    // fills after the wipe that do not wipe again charge nothing
    for (let i = 5; i < 8; i++) f.amd.dma(DEV, 0x100 + 2 * i, 1, 'read');
    expect([f.amd.hw.iotlb.used, f.amd.hw.iotlb.wipes, f.sim.counters['amd.iotlb.evictions']]).toEqual([4, 1, 4]);
    f.amd.dma(DEV, 0x100, 1, 'read'); // the fifth distinct entry since the wipe: the second wipe
    expect([f.amd.hw.iotlb.used, f.amd.hw.iotlb.wipes, f.sim.counters['amd.iotlb.evictions']]).toEqual([1, 2, 8]);
  });
});
