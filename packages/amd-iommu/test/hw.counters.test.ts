// The emulated hardware's counters and records that the quiet-machine Stryker run of 2026-12-05
// found unchecked: the DTE's V and TV read back, the quadword-1 bits a DTE write does not own,
// the semaphore's memory, the per-page and domain-wide invalidation counts, the entries
// INVALIDATE_IOMMU_ALL drops, the commands that do nothing here, an illegal command's ring
// offset, and where a violating access got its translation.
import { describe, expect, it } from 'vitest';
import { iommuMap } from '@x/iommu-core';
import { CMD_NAMES, type CmdName } from '../src/hw/commands.js';
import { buildInvAddress, buildInvIommuPages, CMD_SEM_ADDR, DeviceTable } from '../src/internals.js';
import { DEV, RW, cmdDelta, setup, submit, type Fixture } from './helpers.js';

/** A command of opcode op with nothing else set. */
const bare = (op: number) => (w: Int32Array, c: number) => {
  w.fill(0, c, c + 4);
  w[c + 1] = op << 28;
};

const counter = (f: Fixture, name: string) => f.sim.counters[name] ?? 0;

describe('device table', () => {
  it.each([
    [false, true],
    [true, false],
    [false, false],
  ])('test_dte_read_decodes_v %s tv %s', (v, tv) => {
    const t = new DeviceTable();
    t.write(0x0102, { v, tv, mode: 3, rootPfn: 0x1234, ir: true, iw: false, domainId: 7 });
    expect(t.read(0x0102)).toEqual({ v, tv, mode: 3, rootPfn: 0x1234, ir: true, iw: false, domainId: 7 });
  });

  it('test_dte_write_keeps_the_bits_it_does_not_own', () => {
    // word 2 holds the DomainID in its low 16 bits; the bits above belong to fields the driver
    // does not write here, and stay as they are (the word before it is another quadword's)
    const t = new DeviceTable();
    const w = 0x0102 * 8;
    t.words[w + 2] = 0x5a5a_0000;
    t.words[w] = 0x0f0f_0000 | 3;
    t.write(0x0102, { v: true, tv: true, mode: 3, rootPfn: 0x42, ir: true, iw: true, domainId: 0x1234 });
    expect(t.words[w + 2]).toBe(0x5a5a_1234);
    expect(t.read(0x0102).domainId).toBe(0x1234);
  });
});

describe('command processor', () => {
  it('test_completion_wait_stores_into_the_same_memory', () => {
    // the semaphore is 8 bytes at one address: every store rewrites them, and what software
    // cleared there is what the next store overwrites
    const f = setup({ profile: 'mainline' });
    const cell = f.amd.hw.stores.get(CMD_SEM_ADDR)!;
    const before = cell[0]!;
    f.amd.completionWait();
    expect(f.amd.hw.stores.get(CMD_SEM_ADDR)).toBe(cell);
    expect(cell[0]).toBe(before + 1);
  });

  it('test_invalidation_counts_pages_or_the_domain', () => {
    const f = setup({ profile: 'mainline' });
    const p0 = counter(f, 'amd.inv.pages'),
      d0 = counter(f, 'amd.inv.domainWide');
    // pages 0x100..0x107: an 8-page naturally aligned block (S=1)
    const block = buildInvAddress(0x100, 8);
    submit(f, (w, c) => buildInvIommuPages(w, c, f.dom.id, block.page, block.s, false));
    expect([counter(f, 'amd.inv.pages') - p0, counter(f, 'amd.inv.domainWide') - d0]).toEqual([8, 0]);
    f.amd.completionWait();
    const p1 = counter(f, 'amd.inv.pages');
    const all = buildInvAddress(0, 2 ** 52);
    submit(f, (w, c) => buildInvIommuPages(w, c, f.dom.id, all.page, all.s, false));
    expect([counter(f, 'amd.inv.pages') - p1, counter(f, 'amd.inv.domainWide') - d0]).toEqual([0, 1]);
  });

  it('test_invalidate_all_counts_the_entries_it_drops', () => {
    const f = setup({ profile: 'mainline' });
    const other = f.amd.domainAlloc();
    f.amd.attachDevice(other, 0x0200);
    const pfn = f.sim.mem.allocFrames(3);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    iommuMap(f.dom, 0x20, pfn + 1, 1, RW);
    iommuMap(other, 0x10, pfn + 2, 1, RW);
    f.amd.dma(DEV, 0x10, 1, 'read');
    f.amd.dma(DEV, 0x20, 1, 'read');
    f.amd.dma(0x0200, 0x10, 1, 'read');
    expect(f.amd.hw.iotlb.used).toBe(3);
    const d0 = counter(f, 'amd.iotlb.dropped');
    const INV_ALL = CMD_NAMES.indexOf('INVALIDATE_IOMMU_ALL');
    submit(f, bare(INV_ALL));
    expect([counter(f, 'amd.iotlb.dropped') - d0, f.amd.hw.iotlb.used]).toEqual([3, 0]);
    submit(f, bare(INV_ALL)); // nothing left to drop
    expect(counter(f, 'amd.iotlb.dropped') - d0).toBe(3);
  });

  it.each<CmdName>(['INVALIDATE_IOTLB_PAGES', 'INVALIDATE_INTERRUPT_TABLE', 'PREFETCH_IOMMU_PAGES', 'COMPLETE_PPR_REQUEST'])(
    'test_command_with_nothing_to_act_on %s',
    (name) => {
      // legal commands for parts the model does not have: executed and counted, no event
      const f = setup({ profile: 'mainline' });
      const before = f.amd.commands();
      submit(f, bare(CMD_NAMES.indexOf(name)));
      expect(cmdDelta(f.amd, before)).toEqual({ [name]: 1 });
      expect(f.amd.eventLog()).toEqual([]);
    },
  );

  it('test_ring_counts_every_command_written', () => {
    // the attach's commands, then a wait and an illegal one: every command built and advanced over
    const f = setup({ profile: 'mainline' });
    const sum = () => Object.values(f.amd.commands()).reduce((a, b) => a + b, 0);
    expect(f.amd.hw.cmdRing.written).toBe(sum());
    f.amd.completionWait();
    submit(f, bare(0));
    expect(f.amd.hw.cmdRing.written).toBe(sum() + 1);
  });

  it('test_illegal_command_logs_its_ring_offset', () => {
    const f = setup({ profile: 'mainline' });
    const ring = f.amd.hw.cmdRing;
    const offset = ring.slot() * 4; // the slot's word index, in bytes
    submit(f, bare(0));
    const ev = f.amd.eventLog();
    expect(ev.map((e) => [e.type, e.address])).toEqual([['ILLEGAL_COMMAND_ERROR', BigInt(offset)]]);
    expect(offset).toBeGreaterThan(0); // the attach's commands came first
  });
});

describe('violations say where the translation came from', () => {
  it('test_violation_via_walk_then_iotlb', () => {
    const f = setup({ profile: 'mainline' });
    const free = 1 << 20; // a frame nobody allocated
    iommuMap(f.dom, 0x30, free, 1, RW);
    expect(f.amd.dma(DEV, 0x30, 1, 'read')).toBe(true);
    expect(f.amd.dma(DEV, 0x30, 1, 'read')).toBe(true);
    expect(f.sim.violations.map((v) => [v.kind, v.pfn, v.via])).toEqual([
      ['dma-to-free-frame', free, 'pte'],
      ['dma-to-free-frame', free, 'iotlb'],
    ]);
    f.sim.violations.length = 0;
  });

  it('test_violation_via_untranslated', () => {
    // V=0: the address goes out as is, as from the page tables
    const f = setup({ profile: 'mainline' });
    f.amd.hw.devtab.write(0x0200, { v: false, tv: true, mode: 0, rootPfn: 0, ir: false, iw: false, domainId: 0 });
    const free = 1 << 20;
    expect(f.amd.dma(0x0200, free, 1, 'write')).toBe(true);
    expect(f.sim.violations.map((v) => [v.kind, v.pfn, v.via])).toEqual([['dma-to-free-frame', free, 'pte']]);
    f.sim.violations.length = 0;
  });
});
