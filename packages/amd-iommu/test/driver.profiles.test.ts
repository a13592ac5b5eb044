// Driver profiles: the 2018 large-page quirk, page-table error codes per era (spec §3.4, §3.5,
// §9.5), mode growth with DTE rewrite (§2.7), replicated sizes (§2.4), and flush counts (§3.7, §4.1).
import { describe, expect, it } from 'vitest';
import {
  type IommuError,
  createIotlbGather,
  createSim,
  iommuIovaToPhys,
  iommuMap,
  iommuPgsize,
  iommuTlbRangeAdd,
  iommuTlbSync,
  iommuUnmap,
  iommuUnmapFast,
} from '@x/iommu-core';
import { AMD_PROFILES, createAmdIommu } from '../src/index.js';
import { pteBigInt } from '../src/internals.js';
import { DEV, RW, cmdDelta, expectClean, expectCountersMatchRing, setup, type Fixture } from './helpers.js';

const errOf = (fn: () => void): IommuError => {
  try {
    fn();
  } catch (e) {
    return e as IommuError;
  }
  throw new Error('no error');
};

/** Map 512 4K pages one call each (as VFIO did for scattered pages), then unmap. */
function map4kThenUnmap(f: Fixture, iova: number, pfn: number, pageByPage: boolean): void {
  for (let i = 0; i < 512; i++) iommuMap(f.dom, iova + i, pfn + i, 1, RW);
  if (pageByPage) for (let i = 0; i < 512; i++) expect(iommuUnmap(f.dom, iova + i, 1)).toBe(1);
  else expect(iommuUnmap(f.dom, iova, 512)).toBe(512);
}

describe('the 4K -> 2M remap quirk (VFIO map_try_harder, 2018)', () => {
  it('test_quirk_v4_17_ebusy', () => {
    const f = setup({ profile: 'v4.17' });
    const pfn = f.sim.mem.allocFrames(512, { align: 512 });
    map4kThenUnmap(f, 0x200, pfn, false);
    const tables = f.dom.pt.tables;
    const e = errOf(() => iommuMap(f.dom, 0x200, pfn, 512, RW));
    expect([e.code, e.errno, e.syscall]).toEqual(['EBUSY', -16, 'iommu_map']);
    expect(f.dom.pt.tables).toBe(tables); // tables were never freed, none added
    expect(f.amd.readPte(f.dom, 0x200)).toBeNull();
    // page by page still works: map_try_harder's way out
    for (let i = 0; i < 512; i++) iommuMap(f.dom, 0x200 + i, pfn + i, 1, RW);
    expect(f.amd.readPte(f.dom, 0x3ff)?.level).toBe(0);
  });

  it('test_quirk_mainline_replaces_table', () => {
    const f = setup({ profile: 'mainline' });
    const pfn = f.sim.mem.allocFrames(512, { align: 512 });
    map4kThenUnmap(f, 0x200, pfn, true); // page by page: the empty table stays
    const frees = f.sim.counters.tableFrees,
      before = f.amd.commands();
    iommuMap(f.dom, 0x200, pfn, 512, RW);
    expect(f.amd.readPte(f.dom, 0x200)).toEqual({ pte: 0x7000_0000_0000_0001n + BigInt(pfn) * 4096n, level: 1 });
    expect(f.sim.counters.tableFrees - frees).toBe(1); // the leftover level-0 table, after a flush
    expect(cmdDelta(f.amd, before)).toEqual({ INVALIDATE_IOMMU_PAGES: 1, COMPLETION_WAIT: 1 });
    expect(iommuIovaToPhys(f.dom, 0x3ff)).toBe(pfn + 511);
  });

  it('test_quirk_mainline_unmap_frees_table', () => {
    const f = setup({ profile: 'mainline' });
    const pfn = f.sim.mem.allocFrames(512, { align: 512 });
    const frees = f.sim.counters.tableFrees;
    map4kThenUnmap(f, 0x200, pfn, false); // one unmap covering the whole table frees it
    expect(f.sim.counters.tableFrees - frees).toBe(1);
    iommuMap(f.dom, 0x200, pfn, 512, RW);
    expect(f.amd.readPte(f.dom, 0x200)?.level).toBe(1);
  });

  it('test_quirk_toggles', () => {
    const a = setup({ profile: 'mainline', quirks: { ebusyOnPresent: true } });
    const pa = a.sim.mem.allocFrames(512, { align: 512 });
    map4kThenUnmap(a, 0x200, pa, true);
    expect(errOf(() => iommuMap(a.dom, 0x200, pa, 512, RW)).code).toBe('EBUSY');
    const b = setup({ profile: 'v4.17', quirks: { ebusyOnPresent: false } });
    const pb = b.sim.mem.allocFrames(512, { align: 512 });
    map4kThenUnmap(b, 0x200, pb, true);
    iommuMap(b.dom, 0x200, pb, 512, RW);
    expect(b.amd.readPte(b.dom, 0x200)?.level).toBe(1);
  });
});

describe('page-table conflicts per era (spec §9.5)', () => {
  for (const [profile, onLeaf, inLarge] of [
    ['v4.17', 'EBUSY', 'ENOMEM'],
    ['mainline', 'EADDRINUSE', 'EADDRINUSE'],
  ] as const) {
    it(`test_overmap_${profile.replace('.', '_')}`, () => {
      const f = setup({ profile });
      const pfn = f.sim.mem.allocFrames(1024, { align: 512 });
      iommuMap(f.dom, 0x10, pfn, 1, RW);
      expect(errOf(() => iommuMap(f.dom, 0x10, pfn + 1, 1, RW)).code).toBe(onLeaf);
      expect(iommuIovaToPhys(f.dom, 0x10)).toBe(pfn); // old entry kept
      iommuMap(f.dom, 0x400, pfn + 512, 512, RW); // a 2 MiB leaf
      expect(errOf(() => iommuMap(f.dom, 0x401, pfn, 1, RW)).code).toBe(inLarge);
      iommuMap(f.dom, 0x800, pfn, 16, RW); // a 64 KiB run
      expect(errOf(() => iommuMap(f.dom, 0x805, pfn + 100, 1, RW)).code).toBe(onLeaf);
    });
  }

  it('test_unmap_inside_large_v4_17', () => {
    const f = setup({ profile: 'v4.17' });
    const pfn = f.sim.mem.allocFrames(512, { align: 512 });
    iommuMap(f.dom, 0x400, pfn, 512, RW);
    expect(iommuUnmap(f.dom, 0x401, 1)).toBe(512); // clears the whole 2 MiB page
    expect(f.amd.readPte(f.dom, 0x400)).toBeNull();
    // holes are counted: an empty mode-3 root slot stands for 1 GiB
    expect(iommuUnmap(f.dom, 0x4000000, 10)).toBe(262144);
  });

  it('test_unmap_inside_large_mainline', () => {
    const f = setup({ profile: 'mainline' });
    const pfn = f.sim.mem.allocFrames(512, { align: 512 });
    iommuMap(f.dom, 0x400, pfn, 512, RW);
    expect(iommuUnmap(f.dom, 0x401, 1)).toBe(0); // starts inside a leaf: nothing
    expect(iommuUnmap(f.dom, 0x400, 1)).toBe(512); // ends inside: the whole leaf
    expect(iommuUnmap(f.dom, 0x4000000, 10)).toBe(0); // stops at the first hole
    expectClean(f);
  });

  it('test_tables_never_freed_v4_17', () => {
    const f = setup({ profile: 'v4.17' });
    const pfn = f.sim.mem.allocFrames(512, { align: 512 });
    const frees = f.sim.counters.tableFrees;
    map4kThenUnmap(f, 0x200, pfn, false);
    expect(f.sim.counters.tableFrees).toBe(frees);
    expect(f.dom.pt.tables).toBe(3); // root, level 1, level 0
  });
});

describe('mode growth (increase_address_space)', () => {
  for (const profile of ['v4.17', 'mainline'] as const) {
    it(`test_grow_to_mode_4_${profile.replace('.', '_')}`, () => {
      const f = setup({ profile });
      expect(f.amd.mode(f.dom)).toBe(3);
      expect(f.amd.hw.devtab.read(DEV).mode).toBe(3);
      const oldRoot = f.dom.pt.root;
      const pfn = f.sim.mem.allocFrames(1);
      const before = f.amd.commands();
      iommuMap(f.dom, 2 ** 27, pfn, 1, RW); // IOVA 512 GiB: beyond mode 3
      expect(f.amd.mode(f.dom)).toBe(4);
      const newRoot = f.dom.pt.root;
      expect(newRoot).not.toBe(oldRoot);
      const tw = f.sim.mem.tables;
      // entry 0 of the new root: PDE with NextLevel 3 pointing at the old root, PR | IR | IW
      expect(pteBigInt(tw.words(newRoot), tw.wordOffset(newRoot))).toBe(
        0x6000_0000_0000_0000n | (BigInt(oldRoot) << 12n) | (3n << 9n) | 1n,
      );
      expect(f.amd.hw.devtab.read(DEV)).toEqual({ v: true, tv: true, mode: 4, rootPfn: newRoot, ir: true, iw: true, domainId: f.dom.id });
      expect(f.amd.hw.devtab.raw(DEV)[0]).toBe((3n << 61n) | (BigInt(newRoot) << 12n) | (4n << 9n) | 3n);
      // 2018 update_domain: DTE flush + whole-domain PDE flush, no wait; mainline: DTE flush + wait
      expect(cmdDelta(f.amd, before)).toEqual(
        profile === 'v4.17'
          ? { INVALIDATE_DEVTAB_ENTRY: 1, INVALIDATE_IOMMU_PAGES: 1 }
          : { INVALIDATE_DEVTAB_ENTRY: 1, COMPLETION_WAIT: 1 },
      );
      expect(f.amd.dma(DEV, 2 ** 27, 1, 'write')).toBe(true);
      expect(f.amd.readPte(f.dom, 2 ** 27)?.level).toBe(0);
      expectCountersMatchRing(f);
    });
  }

  it.each(['v4.17', 'v5.10', 'mainline'] as const)('test_grow_fails_part_way %s', (profile) => {
    // two levels to add (mode 3 to 5) and no table for the second: ENOMEM in every era; the level
    // added first stays and the DTE points at it, so what is mapped later under it is reachable
    const f = setup({ profile });
    const pfn = f.sim.mem.allocFrames(2);
    const oldRoot = f.dom.pt.root;
    f.sim.faults.arm('tableAlloc', 2);
    const before = f.amd.commands();
    const err = errOf(() => iommuMap(f.dom, 2 ** 40 - 1, pfn, 1, RW));
    expect([err.code, err.errno]).toEqual(['ENOMEM', -12]);
    expect(f.amd.mode(f.dom)).toBe(4);
    expect(f.dom.pt.root).not.toBe(oldRoot);
    expect(f.amd.hw.devtab.read(DEV)).toEqual({
      v: true,
      tv: true,
      mode: 4,
      rootPfn: f.dom.pt.root,
      ir: true,
      iw: true,
      domainId: f.dom.id,
    });
    expect(cmdDelta(f.amd, before)).toEqual(
      profile === 'v4.17' ? { INVALIDATE_DEVTAB_ENTRY: 1, INVALIDATE_IOMMU_PAGES: 1 } : { INVALIDATE_DEVTAB_ENTRY: 1, COMPLETION_WAIT: 1 },
    );
    iommuMap(f.dom, 2 ** 27, pfn + 1, 1, RW); // IOVA 512 GiB: inside mode 4, no growth
    expect(f.amd.dma(DEV, 2 ** 27, 1, 'read')).toBe(true);
    expect(f.amd.eventLog()).toEqual([]);
  });

  it('test_grow_for_page_level', () => {
    const f = setup({ profile: 'mainline' });
    iommuMap(f.dom, 0, 0, 2 ** 28, RW); // one 1 TiB leaf needs a level-3 table: mode 4
    expect(f.amd.mode(f.dom)).toBe(4);
    expect(f.amd.readPte(f.dom, 2 ** 28 - 1)?.level).toBe(3);
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 2 ** 40 - 1, pfn, 1, RW); // IOVA 2^52 - 4K: mode 5
    expect(f.amd.mode(f.dom)).toBe(5);
    expect(f.amd.dma(DEV, 2 ** 40 - 1, 1, 'write')).toBe(true); // the walker reads 5 levels
    expect(f.sim.counters.walkLevels).toBe(5);
    iommuMap(f.dom, 2 ** 52 - 1, pfn, 1, RW); // the last 4 KiB of the 64-bit space: mode 6
    expect(f.amd.mode(f.dom)).toBe(6);
    expect(f.amd.dma(DEV, 2 ** 52 - 1, 1, 'read')).toBe(true);
    expect(f.sim.counters.walkLevels).toBe(11);
  });
});

describe('replicated (NextLevel 7) sizes', () => {
  const cases: [number, number][] = [];
  for (let o = 13; o <= 20; o++) cases.push([o, 0]);
  for (let o = 22; o <= 28; o++) cases.push([o, 1]);
  it.each(cases)('test_replicated order %i at level %i', (order, level) => {
    for (const profile of ['v4.17', 'mainline'] as const) {
      const f = setup({ profile });
      const lp = 2 ** (order - 12),
        item = 2 ** (9 * level),
        rep = lp / item;
      const pfn = f.sim.mem.allocFrames(lp, { align: lp });
      const iova = 4 * lp;
      expect(iommuPgsize(f.dom, iova, pfn, lp)).toBe(order);
      const writes = f.sim.counters.pteWrites,
        tables = f.sim.counters.tableAllocs;
      iommuMap(f.dom, iova, pfn, lp, RW);
      expect(f.sim.counters.pteWrites - writes - (f.sim.counters.tableAllocs - tables)).toBe(rep);
      const head = f.amd.readPte(f.dom, iova)!;
      expect(head.level).toBe(level);
      expect((head.pte >> 9n) & 7n).toBe(7n);
      for (let k = 0; k < rep; k++) expect(f.amd.readPte(f.dom, iova + k * item)).toEqual(head);
      expect(f.amd.readPte(f.dom, iova + lp)).toBeNull();
      for (const off of [0, 1, lp >> 1, lp - 1]) expect(iommuIovaToPhys(f.dom, iova + off)).toBe(pfn + off);
      if (profile === 'v4.17')
        expect(iommuUnmap(f.dom, iova + lp - 1, 1)).toBe(lp); // any page removes it
      else expect(iommuUnmap(f.dom, iova, 1)).toBe(lp); // from its head
      expect(f.amd.readPte(f.dom, iova)).toBeNull();
      expectClean(f);
    }
  });

  it('test_512g_refused', () => {
    const f = setup({ profile: 'v4.17' });
    expect(f.dom.pgsizeBitmap & (1n << 39n)).toBe(0n);
    expect(iommuPgsize(f.dom, 2 ** 27, 2 ** 27, 2 ** 27)).toBe(38); // two 256 GiB pages instead
    expect(f.dom.ops.mapPages(f.dom, 2 ** 27, 2 ** 27, 39, 1, RW)).toBe(-22);
    expect(f.dom.mapped).toBe(0);
    iommuMap(f.dom, 2 ** 27, 2 ** 27, 2 ** 27, RW);
    expect(f.amd.readPte(f.dom, 2 ** 27)?.level).toBe(2);
    expect(f.amd.readPte(f.dom, 2 ** 28 - 1)?.pte).toBe(0x7000_0000_0000_0e01n | (BigInt(2 ** 27 + 2 ** 26 + 2 ** 25 - 1) << 12n)); // 25 ones: bits 36:12
  });
});

describe('flush counts per profile', () => {
  /** 100 scattered 4K mappings at 0x100000.. */
  function populate(f: Fixture): void {
    const pfn = f.sim.mem.allocFrames(200);
    for (let i = 0; i < 100; i++) iommuMap(f.dom, 0x100000 + i, pfn + 2 * i, 1, RW);
  }

  it('test_flush_v4_17_fast_batch', () => {
    const f = setup({ profile: 'v4.17' });
    populate(f);
    const before = f.amd.commands(),
      syncs = f.sim.counters.iotlbSyncs;
    for (let i = 0; i < 100; i++) {
      expect(iommuUnmapFast(f.dom, 0x100000 + i, 1)).toBe(1);
      iommuTlbRangeAdd(f.dom, 0x100000 + i, 1);
    }
    expect(cmdDelta(f.amd, before)).toEqual({}); // nothing flushed yet
    expect(f.dom.pending.empty).toBe(true); // v4.17: iotlb_range_add records nothing
    iommuTlbSync(f.dom);
    expect(cmdDelta(f.amd, before)).toEqual({ INVALIDATE_IOMMU_PAGES: 1, COMPLETION_WAIT: 1 });
    expect(f.sim.counters.iotlbSyncs - syncs).toBe(1);
    // whole domain, S=1, PDE=1; then the wait storing 1 to cmd_sem
    expect(f.amd.hw.cmdRing.recent(2)).toBe(0x7fff_ffff_ffff_f003_3000_0000_0000_0000n | (BigInt(f.dom.id) << 32n));
    expect(f.amd.hw.cmdRing.recent(1) >> 64n).toBe(1n);
    expectCountersMatchRing(f);
    expectClean(f);
  });

  it('test_flush_v4_17_unmap_each', () => {
    const f = setup({ profile: 'v4.17' });
    populate(f);
    const before = f.amd.commands();
    for (let i = 0; i < 100; i++) iommuUnmap(f.dom, 0x100000 + i, 1);
    expect(cmdDelta(f.amd, before)).toEqual({ INVALIDATE_IOMMU_PAGES: 100, COMPLETION_WAIT: 100 });
    expectCountersMatchRing(f);
  });

  it('test_flush_v4_16_unmap_each', () => {
    const f = setup({ profile: 'v4.16' });
    populate(f);
    expect(f.dom.ops.iotlbSync).toBeUndefined();
    const before = f.amd.commands(),
      flushes = f.sim.counters.iotlbFlushes;
    for (let i = 0; i < 100; i++) expect(iommuUnmap(f.dom, 0x100000 + i, 1)).toBe(1);
    expect(cmdDelta(f.amd, before)).toEqual({ INVALIDATE_IOMMU_PAGES: 100, COMPLETION_WAIT: 100 });
    expect(f.sim.counters.iotlbFlushes - flushes).toBe(100);
    expectCountersMatchRing(f);
  });

  it('test_flush_v4_16_fast_still_flushes', () => {
    const f = setup({ profile: 'v4.16' });
    populate(f);
    const before = f.amd.commands();
    for (let i = 0; i < 100; i++) {
      iommuUnmapFast(f.dom, 0x100000 + i, 1);
      iommuTlbRangeAdd(f.dom, 0x100000 + i, 1);
    }
    iommuTlbSync(f.dom);
    expect(cmdDelta(f.amd, before)).toEqual({ INVALIDATE_IOMMU_PAGES: 100, COMPLETION_WAIT: 100 });
  });

  it('test_flush_v4_16_per_size_step', () => {
    const f = setup({ profile: 'v4.16' });
    const pfn = f.sim.mem.allocFrames(4, { align: 4 });
    iommuMap(f.dom, 0x101, pfn + 1, 3, RW); // 4K at 0x101, 8K at 0x102
    const before = f.amd.commands();
    expect(iommuUnmap(f.dom, 0x101, 3)).toBe(3);
    expect(cmdDelta(f.amd, before)).toEqual({ INVALIDATE_IOMMU_PAGES: 2, COMPLETION_WAIT: 2 });
  });

  it('test_flush_mainline_gather', () => {
    const f = setup({ profile: 'mainline' });
    populate(f);
    const before = f.amd.commands();
    const g = createIotlbGather();
    for (let i = 0; i < 100; i++) iommuUnmapFast(f.dom, 0x100000 + i, 1, g);
    expect(cmdDelta(f.amd, before)).toEqual({});
    iommuTlbSync(f.dom, g);
    expect(cmdDelta(f.amd, before)).toEqual({ INVALIDATE_IOMMU_PAGES: 1, COMPLETION_WAIT: 1 });
    // 128 pages at 0x100000 (build_inv_address), S=1, PDE=1
    expect(f.amd.hw.cmdRing.recent(2)).toBe(0x0000_0001_0003_f003_3000_0000_0000_0000n | (BigInt(f.dom.id) << 32n));
    expect(f.amd.hw.cmdRing.recent(1) >> 64n).toBe(BigInt(f.amd.commands().COMPLETION_WAIT)); // mainline: the wait's sequence number
    expectCountersMatchRing(f);
  });

  it('test_flush_mainline_single_page', () => {
    const f = setup({ profile: 'mainline' });
    populate(f);
    const before = f.amd.commands();
    expect(iommuUnmap(f.dom, 0x100005, 1)).toBe(1);
    expect(cmdDelta(f.amd, before)).toEqual({ INVALIDATE_IOMMU_PAGES: 1, COMPLETION_WAIT: 1 });
    expect(f.amd.hw.cmdRing.recent(2)).toBe(0x0000_0001_0000_5002_3000_0000_0000_0000n | (BigInt(f.dom.id) << 32n));
  });

  it('test_no_commands_without_devices', () => {
    const f = setup({ profile: 'v4.17' }, false);
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 1, pfn, 1, RW);
    iommuUnmap(f.dom, 1, 1);
    expect(f.amd.commands().INVALIDATE_IOMMU_PAGES + f.amd.commands().COMPLETION_WAIT).toBe(0);
  });

  it('test_attach_detach_commands', () => {
    const f = setup({ profile: 'v4.17' }, false);
    f.amd.attachDevice(f.dom, DEV);
    expect(f.amd.commands()).toMatchObject({ INVALIDATE_DEVTAB_ENTRY: 1, INVALIDATE_IOMMU_PAGES: 1, COMPLETION_WAIT: 1 });
    expect(f.amd.hw.devtab.raw(DEV)[1]).toBe(BigInt(f.dom.id));
    expect(() => f.amd.attachDevice(f.amd.domainAlloc(), DEV)).toThrow(expect.objectContaining({ code: 'EBUSY', errno: -16 }));
    expect(() => f.amd.domainFree(f.dom)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    f.amd.detachDevice(f.dom, DEV);
    // 2018 do_detach: DTE flush, then the wait; no domain flush
    expect(f.amd.commands()).toMatchObject({ INVALIDATE_DEVTAB_ENTRY: 2, INVALIDATE_IOMMU_PAGES: 1, COMPLETION_WAIT: 2 });
    expect(f.amd.hw.devtab.raw(DEV)).toEqual([3n, 0n, 0n, 0n]);
    expect(f.amd.deviceDomain(DEV)).toBeNull();
    f.amd.domainFree(f.dom);
  });

  it('test_detach_mainline_flushes_domain', () => {
    const f = setup({ profile: 'mainline' });
    f.amd.detachDevice(f.dom, DEV);
    expect(f.amd.commands()).toMatchObject({ INVALIDATE_DEVTAB_ENTRY: 2, INVALIDATE_IOMMU_PAGES: 2, COMPLETION_WAIT: 2 });
    expectCountersMatchRing(f);
  });

  it('test_profiles_data', () => {
    // the table lists the key releases of the published experiments and both sides of every entry
    for (const r of ['v3.19', 'v4.16', 'v4.17', 'v5.11', 'v5.12', 'v6.16', 'v6.18', 'mainline']) expect(AMD_PROFILES[r]).toBeDefined();
    expect(Object.keys(AMD_PROFILES).at(-1)).toBe('mainline');
    expect(AMD_PROFILES['v4.17']!.apiEra).toBe('2018');
    expect(AMD_PROFILES.mainline!.apiEra).toBe('gather');
  });
});

describe('page sizes per profile', () => {
  it.each([
    ['v4.16', 0xffff_ff7f_ffff_f000n],
    ['v4.17', 0xffff_ff7f_ffff_f000n],
    // iommupt derives the sizes from the format: none at or above the 52-bit output address
    ['mainline', 0x000f_ff7f_ffff_f000n],
  ] as const)('test_pgsize_bitmap profile=%s', (profile, bitmap) => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const amd = createAmdIommu(sim, { profile });
    expect(amd.pgsizeBitmap).toBe(bitmap);
    const dom = amd.domainAlloc();
    expect(dom.pgsizeBitmap).toBe(bitmap);
    expect(dom.orders[0]).toBe(12);
    expect(dom.orders.at(-1)).toBe(profile === 'mainline' ? 51 : 63);
    expect(dom.orders.includes(39)).toBe(false);
  });
});
