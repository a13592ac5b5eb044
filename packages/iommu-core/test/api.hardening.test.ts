// Public-API hardening from the TypeScript-user review of @x/iommu-core (items 1-9): use after free
// and double free, argument checks on the hot entry points, exact types, cross-build error guards.
// Type-level cases are checked by `tsc -p tsconfig.json` (exactOptionalPropertyTypes on).
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  BACKING_PROFILES,
  createIotlbGather,
  createReferenceDriver,
  createSim,
  domainMarkFreed,
  IOMMU_CACHE,
  IOMMU_DOMAIN_BLOCKED,
  IOMMU_DOMAIN_IDENTITY,
  IOMMU_DOMAIN_UNMANAGED,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  IommuError,
  iommuIovaToPhys,
  iommuMap,
  iommuPgsize,
  iommuPgsizeCount,
  iommuUnmap,
  iommuUnmapFast,
  isBackingProfile,
  parseBacking,
  isIommuError,
  isSysError,
  SZ_1G,
  SZ_2M,
  SZ_4K,
  SysError,
  type BackingProfile,
  type CoreEvent,
  type CostEntry,
  type IommuDomain,
  type PhysMem,
  type RefDomain,
  type RefDriverOptions,
  type SimCostTable,
  type SimCounters,
  type SimOptions,
  type Violation,
  type ViolationKind,
} from '../src/index.js';
import { makeHarness, RW, thrown } from './harness.js';

/** Keys of T that are not covered by a string index signature only. */
type KnownKeys<T> = keyof { [K in keyof T as string extends K ? never : K]: T[K] };

describe('item 1: freed domains and table pages', () => {
  it('test_arena_double_free: a second free of a table page throws and changes nothing', () => {
    const sim = createSim({ memory: 64n << 20n });
    const t = sim.mem.allocTable();
    sim.mem.freeTable(t);
    const inUse = sim.mem.tables.inUse,
      frees = sim.counters.tableFrees;
    const e = thrown(() => sim.mem.freeTable(t));
    expect(e).toBeInstanceOf(RangeError);
    expect((e as Error).message).toBe(`BUG: double free of table page ${t}`);
    expect(sim.mem.tables.inUse).toBe(inUse);
    expect(sim.counters.tableFrees).toBe(frees);
    const a = sim.mem.allocTable(),
      b = sim.mem.allocTable(); // the page went on the free list once
    expect(a).toBe(t);
    expect(b).not.toBe(t);
    expect(() => sim.mem.tables.free(12345)).toThrow(new RangeError('pfn 12345 is not a page-table page'));
  });

  it('test_domain_double_free: EINVAL iommu_domain_free, tables balanced, later domains do not share tables', () => {
    const sim = createSim({ memory: 1n << 30n });
    const drv = createReferenceDriver(sim);
    const a = drv.domainAlloc();
    drv.domainFree(a);
    expect(sim.mem.tables.inUse).toBe(0);
    const e = thrown(() => drv.domainFree(a));
    expect(e).toBeInstanceOf(IommuError);
    expect(e).toMatchObject({
      code: 'EINVAL',
      errno: -22,
      syscall: 'iommu_domain_free',
      message: `EINVAL: domain ${a.id} was freed, iommu_domain_free`,
    });
    expect(sim.mem.tables.inUse).toBe(0);
    // the review's sequence continued: two new domains each get their own tables
    const b = drv.domainAlloc() as RefDomain,
      c = drv.domainAlloc() as RefDomain;
    expect(b.pt.root).not.toBe(c.pt.root);
    iommuMap(b, 0, 100, 1, RW);
    iommuMap(c, 0, 200, 1, RW);
    expect([iommuIovaToPhys(b, 0), iommuIovaToPhys(c, 0)]).toEqual([100, 200]);
    expect(sim.mem.tables.inUse).toBe(2 * 4); // root + 3 levels each (top level 3)
    drv.domainFree(b);
    drv.domainFree(c);
    expect(sim.mem.tables.inUse).toBe(0);
    expect(sim.violations).toEqual([]);
  });

  it('test_freed_domain_refused_by_core: map EINVAL, unmaps 0, iova_to_phys -1, nothing charged', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 100, 512, RW);
    h.drv.domainFree(h.dom);
    expect(h.dom.type).toBe(IOMMU_DOMAIN_BLOCKED);
    const other = h.drv.domainAlloc(); // reuses the freed table pages
    iommuMap(other, 0, 300, 512, RW);
    const before = h.sim.counters;
    const e = thrown(() => iommuMap(h.dom, 0, 100, 1, RW));
    expect(e).toBeInstanceOf(IommuError);
    expect(e).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'iommu_map', message: 'EINVAL: not a paging domain, iommu_map' });
    expect(iommuUnmap(h.dom, 0, 512)).toBe(0);
    expect(iommuUnmapFast(h.dom, 0, 512)).toBe(0);
    expect(iommuUnmapFast(h.dom, 0, 512, createIotlbGather())).toBe(0);
    expect(iommuIovaToPhys(h.dom, 3)).toBe(-1); // not the other domain's 303
    expect(h.sim.counters).toEqual(before);
    expect(iommuIovaToPhys(other, 3)).toBe(303);
    expect(h.dom.pt.mappedPages()).toBe(0); // leak checks see nothing either
    expect(h.dom.model!.mappedPages(h.dom)).toBe(0);
  });

  it('test_freed_domain_attach: attachDevice of a freed domain is EINVAL', () => {
    const h = makeHarness();
    h.drv.domainFree(h.dom);
    expect(thrown(() => h.drv.attachDevice(h.dom, 1))).toMatchObject({
      name: 'IommuError',
      code: 'EINVAL',
      syscall: 'iommu_attach_device',
      message: `EINVAL: domain ${h.dom.id} was freed, iommu_attach_device`,
    });
    expect(h.drv.deviceDomain(1)).toBe(null);
  });

  it("test_domain_free_checks: EBUSY while attached leaves it usable; another IOMMU's domain is EINVAL", () => {
    const h = makeHarness();
    h.drv.attachDevice(h.dom, 1);
    iommuMap(h.dom, 0, 100, 1, RW);
    expect(thrown(() => h.drv.domainFree(h.dom))).toMatchObject({
      code: 'EBUSY',
      syscall: 'iommu_domain_free',
      message: 'EBUSY: device 1 is still attached, iommu_domain_free',
    });
    expect(h.dom.type).toBe(IOMMU_DOMAIN_UNMANAGED);
    expect(h.drv.dma(1, 0, 1, 'write')).toBe(true);
    const drv2 = createReferenceDriver(h.sim);
    expect(thrown(() => drv2.domainFree(h.dom))).toMatchObject({
      code: 'EINVAL',
      syscall: 'iommu_domain_free',
      message: 'EINVAL: domain belongs to another IOMMU, iommu_domain_free',
    });
    expect(iommuIovaToPhys(h.dom, 0)).toBe(100);
    h.drv.detachDevice(h.dom, 1);
    h.drv.domainFree(h.dom);
    expect(h.sim.mem.tables.inUse).toBe(0);
  });

  it("test_page_table_destroy_twice: a BUG RangeError, not a free of another domain's tables", () => {
    const h = makeHarness();
    h.dom.pt.destroy();
    const other = h.drv.domainAlloc() as RefDomain;
    const inUse = h.sim.mem.tables.inUse;
    expect(() => h.dom.pt.destroy()).toThrow(new RangeError(`BUG: page table of domain ${h.dom.id} destroyed twice`));
    expect(h.sim.mem.tables.inUse).toBe(inUse);
    expect(other.pt.tables).toBe(1);
  });

  it('test_domain_mark_freed: clears only __IOMMU_DOMAIN_PAGING (the helper drivers share)', () => {
    const dom = { type: IOMMU_DOMAIN_UNMANAGED } as IommuDomain;
    domainMarkFreed(dom);
    expect(dom.type).toBe(IOMMU_DOMAIN_BLOCKED);
    const dma = { type: 3 } as IommuDomain; // IOMMU_DOMAIN_DMA
    domainMarkFreed(dma);
    expect(dma.type).toBe(2);
  });

  it('test_iova_to_phys_non_paging: kernel answers for blocked (-1) and identity (iova) domains', () => {
    const h = makeHarness();
    iommuMap(h.dom, 5, 100, 1, RW);
    const n = h.sim.counters.iovaToPhys;
    expect(iommuIovaToPhys({ ...h.dom, type: IOMMU_DOMAIN_IDENTITY }, 5)).toBe(5);
    expect(iommuIovaToPhys({ ...h.dom, type: IOMMU_DOMAIN_BLOCKED }, 5)).toBe(-1);
    expect(h.sim.counters.iovaToPhys).toBe(n); // no walk, no charge
    expect(iommuIovaToPhys(h.dom, 5)).toBe(100);
    expect(h.sim.counters.iovaToPhys).toBe(n + 1);
  });
});

describe('item 2: argument checks on pin, unpin, iommuPgsize, dma, prot', () => {
  it('test_pin_bad_args: RangeError, nothing pinned or counted, no injected fault consumed', () => {
    const sim = createSim({ memory: 2n << 30n }); // 524288 frames
    const pfn = sim.mem.allocFrames(4);
    sim.faults.arm('pin');
    const cases: [() => unknown, string][] = [
      [() => sim.mem.pin(pfn, 1.5), 'pin: npages must be a positive integer, got 1.5'],
      [() => sim.mem.pin(pfn, -1), 'pin: npages must be a positive integer, got -1'],
      [() => sim.mem.pin(pfn, 0), 'pin: npages must be a positive integer, got 0'],
      [() => sim.mem.pin(pfn, NaN), 'pin: npages must be a positive integer, got NaN'],
      [() => sim.mem.pin(2 ** 31, 1), 'pin: frames 2147483648..2147483648 are not all host RAM (pfns 0..524287)'],
      [() => sim.mem.pin(524287, 2), 'pin: frames 524287..524288 are not all host RAM (pfns 0..524287)'],
      [() => sim.mem.pin(-1, 1), 'pin: pfn must be a non-negative integer, got -1'],
      [() => sim.mem.pin(1.5, 1), 'pin: pfn must be a non-negative integer, got 1.5'],
      [() => sim.mem.unpin(pfn, -1), 'unpin: npages must be a positive integer, got -1'],
      [() => sim.mem.unpin(pfn, 0.5), 'unpin: npages must be a positive integer, got 0.5'],
      [() => sim.mem.unpin(2 ** 31, 1), 'unpin: frames 2147483648..2147483648 are not all host RAM (pfns 0..524287)'],
      [() => sim.mem.unpin(1.5, 512), 'unpin: pfn must be a non-negative integer, got 1.5'],
    ];
    for (const [fn, msg] of cases) {
      const e = thrown(fn);
      expect(e).toBeInstanceOf(RangeError);
      expect((e as Error).message).toBe(msg);
    }
    expect(sim.mem.pinnedPages).toBe(0);
    expect([sim.counters.pins, sim.counters.unpins]).toEqual([0, 0]);
    expect(sim.violations).toEqual([]);
    expect(sim.faults.armed).toBe(true);
    expect(sim.mem.pin(pfn, 1)).toBe(false); // the armed fault hits the first valid pin
    expect(sim.mem.pin(524287, 1)).toBe(true); // the last frame of RAM
    sim.mem.unpin(524287, 1);
    expect(sim.mem.pinnedPages).toBe(0);
  });

  it('test_pgsize_bad_size: -1 when nothing fits, including npages < 1 and non-integers', () => {
    const h = makeHarness();
    expect(iommuPgsize(h.dom, 0, 512, 512)).toBe(21);
    for (const n of [-1, 0, 1.5, NaN, Infinity, -512]) {
      expect(iommuPgsize(h.dom, 0, 512, n)).toBe(-1);
      expect(iommuPgsizeCount(h.dom, 0, 512, n)).toEqual({ order: -1, count: 0 });
    }
    expect(iommuPgsize(h.dom, -512, 512, 512)).toBe(-1);
    expect(iommuPgsize(h.dom, 0, 0.5, 512)).toBe(-1);
    expect(iommuPgsizeCount(h.dom, 0, 512, 1024)).toEqual({ order: 21, count: 2 });
  });

  it('test_dma_bad_args: RangeError for npages, iova and dir; no fault logged, nothing counted', () => {
    const h = makeHarness();
    h.drv.attachDevice(h.dom, 1);
    iommuMap(h.dom, 0, 100, 4, RW);
    const before = h.sim.counters;
    const cases: [() => unknown, string][] = [
      [() => h.drv.dma(1, 0, -1, 'read'), 'dma: npages must be a positive integer, got -1'],
      [() => h.drv.dma(1, 0, 0, 'write'), 'dma: npages must be a positive integer, got 0'],
      [() => h.drv.dma(1, 0, 1.5, 'read'), 'dma: npages must be a positive integer, got 1.5'],
      [() => h.drv.dma(1, 0, 2 ** 32, 'read'), 'dma: npages 4294967296 is more than one access can touch (max 4294967295)'],
      [() => h.drv.dma(1, -1, 1, 'read'), 'dma: iova must be a non-negative integer (an IOVA page), got -1'],
      [() => h.drv.dma(1, 0.5, 1, 'read'), 'dma: iova must be a non-negative integer (an IOVA page), got 0.5'],
      [() => h.drv.dma(1, 0, 1, 'rw' as 'read'), "dma: dir must be 'read' or 'write', got 'rw'"],
      [() => h.drv.dma(1, 0, 1, undefined as unknown as 'read'), "dma: dir must be 'read' or 'write', got undefined"],
    ];
    for (const [fn, msg] of cases) {
      const e = thrown(fn);
      expect(e).toBeInstanceOf(RangeError);
      expect((e as Error).message).toBe(msg);
    }
    expect(h.drv.faults()).toEqual([]);
    expect(h.sim.counters).toEqual(before);
    expect(h.drv.dma(1, 0, 4, 'write')).toBe(true);
    expect(h.drv.dma(1, 4, 1, 'read')).toBe(false); // a real fault is still a fault
    expect(h.drv.faults()).toEqual([{ deviceId: 1, domainId: h.dom.id, iova: 4, write: false, reason: 'not-present' }]);
  });

  it("test_map_bad_prot: EINVAL for a prot that is not IOMMU_* bits; no R/W is still the driver's EINVAL", () => {
    const h = makeHarness();
    const before = h.sim.counters;
    for (const prot of [1.5, -1, 1 << 6, 2 ** 32 + 1, NaN, 2 ** 31]) {
      const e = thrown(() => iommuMap(h.dom, 0, 100, 1, prot));
      expect(e).toBeInstanceOf(IommuError);
      expect(e).toMatchObject({
        code: 'EINVAL',
        errno: -22,
        syscall: 'iommu_map',
        message: `EINVAL: prot ${prot} is not a combination of IOMMU_READ, IOMMU_WRITE, IOMMU_CACHE, IOMMU_NOEXEC, IOMMU_MMIO and IOMMU_PRIV, iommu_map`,
      });
    }
    expect(h.sim.counters).toEqual(before); // refused before the driver ran
    expect(thrown(() => iommuMap(h.dom, 0, 100, 1, 0))).toMatchObject({
      code: 'EINVAL',
      message: 'EINVAL: driver ref failed at iova page 0x0 after 0 of 1 pages, iommu_map',
    });
    expect(thrown(() => iommuMap(h.dom, 0, 100, 1, IOMMU_CACHE))).toMatchObject({ code: 'EINVAL', syscall: 'iommu_map' });
    expect(iommuIovaToPhys(h.dom, 0)).toBe(-1);
    iommuMap(h.dom, 0, 100, 1, IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE | IOMMU_NOEXEC | IOMMU_MMIO | IOMMU_PRIV);
    expect(iommuIovaToPhys(h.dom, 0)).toBe(100);
  });
});

describe('item 3: counters and cost table types', () => {
  it('test_counters_typed: core events are number, always present; the snapshot is readonly', () => {
    const sim = createSim({ memory: 64n << 20n });
    expectTypeOf(sim.counters).toEqualTypeOf<SimCounters>();
    expectTypeOf(sim.counters.iotlbSyncs).toEqualTypeOf<number>();
    expectTypeOf<KnownKeys<SimCounters>>().toEqualTypeOf<CoreEvent>();
    expectTypeOf(sim.costTable()).toEqualTypeOf<SimCostTable>();
    expectTypeOf(sim.costTable().completionWaits).toEqualTypeOf<CostEntry>();
    expectTypeOf<KnownKeys<SimCostTable>>().toEqualTypeOf<CoreEvent>();
    const assign = (): void => {
      // @ts-expect-error -- a snapshot: readonly
      sim.counters.pteWrites = 1;
    };
    expect(typeof assign).toBe('function');
    const c = sim.counters,
      t = sim.costTable();
    const core: CoreEvent[] = [
      'mapCalls',
      'unmapCalls',
      'pteWrites',
      'pteClears',
      'tableAllocs',
      'tableFrees',
      'iotlbSyncs',
      'iotlbRangeAdds',
      'iotlbFlushes',
      'invalidations',
      'completionWaits',
      'pins',
      'unpins',
      'iovaToPhys',
      'iotlbHits',
      'iotlbMisses',
      'walkLevels',
      'dmaPages',
      'faults',
      'pageFaults',
      'pageZeroes',
    ];
    expect(Object.keys(c)).toEqual(core);
    for (const k of core) {
      expect(c[k]).toBe(0);
      expect(typeof t[k].ns).toBe('number');
    }
  });
});

describe('item 4: backing profiles', () => {
  it('test_backing_profile_types: SimOptions, Sim, allocBacking and BACKING_PROFILES use BackingProfile', () => {
    expectTypeOf<SimOptions['backing']>().toEqualTypeOf<BackingProfile | undefined>();
    expectTypeOf<Parameters<PhysMem['allocBacking']>[1]>().toEqualTypeOf<BackingProfile>();
    expectTypeOf(BACKING_PROFILES).toEqualTypeOf<readonly ['4k', 'thp', 'hugetlb-2m', 'hugetlb-1g', 'fragmented']>();
    const sim = createSim({ memory: 64n << 20n, backing: 'fragmented:0.25' });
    expectTypeOf(sim.backing).toEqualTypeOf<BackingProfile>();
    const bad = (): void => {
      // @ts-expect-error -- not a profile
      createSim({ backing: 'huge' });
      // @ts-expect-error -- not a profile
      sim.mem.allocBacking(1, 'fragmented:<p>');
    };
    expect(typeof bad).toBe('function');
  });

  it('test_backing_profiles_usable: every listed name works; isBackingProfile narrows strings', () => {
    expect(BACKING_PROFILES).toEqual(['4k', 'thp', 'hugetlb-2m', 'hugetlb-1g', 'fragmented']);
    for (const p of BACKING_PROFILES) {
      const sim = createSim({ memory: 2n << 30n, backing: p });
      expect(sim.mem.allocBacking(262144, p).npages).toBe(262144);
    }
    const inputs: unknown[] = [
      'thp',
      'fragmented:0.25',
      'fragmented:1',
      'fragmented:2',
      'fragmented:<p>',
      'fragmented:-0.5',
      'huge',
      '',
      42,
      null,
    ];
    expect(inputs.map(isBackingProfile)).toEqual([true, true, true, false, false, false, false, false, false, false]);
    const s: string = 'fragmented:0.5';
    if (isBackingProfile(s)) expectTypeOf(s).toEqualTypeOf<BackingProfile>();
  });

  it('test_parse_backing: each name, the share of scattered regions, and values that only look like a name', () => {
    expect(['4k', 'thp', 'hugetlb-2m', 'hugetlb-1g', 'fragmented', 'fragmented:0.25', 'fragmented:.5'].map(parseBacking)).toEqual([
      { kind: '4k', scatter: 1 },
      { kind: 'thp', scatter: 0 },
      { kind: 'hugetlb-2m', scatter: 0 },
      { kind: 'hugetlb-1g', scatter: 0 },
      { kind: 'fragmented', scatter: 0.5 },
      { kind: 'fragmented', scatter: 0.25 },
      { kind: 'fragmented', scatter: 0.5 },
    ]);
    // a JSON array or an object whose text is a name, and names inside longer text, are not names
    for (const p of [['fragmented:0.5'], ['thp'], { toString: () => 'fragmented:0.5' }, 'xfragmented:0.5', 'fragmented:0.5x']) {
      expect(isBackingProfile(p)).toBe(false);
      expect(thrown(() => parseBacking(p as string))).toMatchObject({ code: 'EINVAL', syscall: 'mmap' });
    }
  });

  it('test_backing_errors: createSim RangeError (a bad option), allocBacking IommuError EINVAL (the mmap)', () => {
    const e1 = thrown(() => createSim({ backing: 'fragmented:7' }));
    expect(e1).toBeInstanceOf(RangeError);
    expect(isSysError(e1)).toBe(false);
    expect((e1 as Error).message).toBe(
      "unknown backing 'fragmented:7' (one of 4k, thp, hugetlb-2m, hugetlb-1g, fragmented, fragmented:<p>; p in [0,1] is the share of 2 MiB regions left as scattered 4 KiB pages)",
    );
    const sim = createSim({ memory: 64n << 20n });
    const e2 = thrown(() => sim.mem.allocBacking(1, 'fragmented:7'));
    expect(e2).toMatchObject({
      name: 'IommuError',
      code: 'EINVAL',
      errno: -22,
      syscall: 'mmap',
      message: `EINVAL: ${(e1 as Error).message}, mmap`,
    });
  });
});

describe('item 5: isSysError / isIommuError', () => {
  it('test_error_guards: true for the classes and subclasses, false for look-alikes', () => {
    const ie = new IommuError('EBUSY', 'iommu_map', 'x');
    const se = new SysError('EINVAL', 'VFIO_IOMMU_MAP_DMA', 'y');
    class VfioLike extends SysError {}
    const lookalike = { name: 'IommuError', code: 'EINVAL', errno: -22, syscall: 'iommu_map', message: 'EINVAL: x, iommu_map' };
    expect([ie, se, new VfioLike('EPERM', 'open', 'z')].map(isSysError)).toEqual([true, true, true]);
    expect([ie, se, new VfioLike('EPERM', 'open', 'z')].map(isIommuError)).toEqual([true, false, false]);
    for (const v of [
      lookalike,
      new Error('EINVAL'),
      new RangeError('x'),
      null,
      undefined,
      'EINVAL',
      -22,
      Symbol.for('@x/iommu-core.SysError'),
    ]) {
      expect(isSysError(v)).toBe(false);
      expect(isIommuError(v)).toBe(false);
    }
    const u: unknown = ie;
    if (isIommuError(u)) expectTypeOf(u).toEqualTypeOf<IommuError>();
    if (isSysError(u)) expectTypeOf(u).toEqualTypeOf<SysError>();
    // the brand lives on the prototype: an error's own keys are as before
    expect(Object.getOwnPropertySymbols(ie)).toEqual([]);
    expect(Object.keys(ie).sort()).toEqual(['code', 'errno', 'name', 'syscall']);
  });

  it('test_error_guards_across_copies: an error from another copy of the module (as CJS vs ESM) is recognised', async () => {
    vi.resetModules();
    const copy = await import('../src/errno.js'); // a second instance of the classes
    expect(copy.IommuError).not.toBe(IommuError);
    const foreign = new copy.IommuError('ENOMEM', 'iommu_map', 'x');
    expect(foreign instanceof IommuError).toBe(false);
    expect(isIommuError(foreign)).toBe(true);
    expect(isSysError(foreign)).toBe(true);
    expect(copy.isIommuError(new IommuError('EBUSY', 'iommu_map', 'y'))).toBe(true);
    expect(isIommuError(new copy.SysError('EINVAL', 'x', 'y'))).toBe(false);
  });
});

describe('item 6: option types under exactOptionalPropertyTypes', () => {
  it('test_options_accept_undefined: undefined means the default, at run time too', () => {
    const cfg: { seed?: number | undefined; memory?: bigint | undefined; backing?: BackingProfile | undefined } = {};
    const sim = createSim({
      seed: cfg.seed,
      memory: cfg.memory,
      backing: cfg.backing,
      cost: undefined,
      trace: undefined,
      machine: undefined,
    });
    const ref = createSim();
    expect([sim.seed, sim.backing, sim.mem.nFrames, sim.trace.on]).toEqual([1, 'thp', 16777216, false]);
    expect(sim.costTable()).toEqual(ref.costTable());
    expect(sim.mem.allocBacking(1024, '4k').pfns).toEqual(ref.mem.allocBacking(1024, '4k').pfns);
    const o: Required<{ [K in keyof RefDriverOptions]: undefined }> = {
      release: undefined,
      pgsizeBitmap: undefined,
      realPgsizeBitmap: undefined,
      iotlbEntries: undefined,
      iotlbPolicy: undefined,
      apiEra: undefined,
      flushOnUnmap: undefined,
      resvRegions: undefined,
      replaceEmptyTables: undefined,
      cacheCoherent: undefined,
      gaw: undefined,
      name: undefined,
    };
    const drv = createReferenceDriver(sim, o);
    expect([drv.name, drv.pgsizeBitmap, drv.ops.apiEra, drv.iotlb.capacity, drv.iotlb.policy, drv.capable(0)]).toEqual([
      'ref',
      SZ_4K | SZ_2M | SZ_1G,
      'gather',
      64,
      'lru',
      true,
    ]);
    expect(drv.resvRegions(1)).toEqual([{ start: 0xfee00, last: 0xfeeff, type: 3 }]);
    const dom = drv.domainAlloc();
    expect(dom.geometry.apertureEnd).toBe(2 ** 36 - 1); // a 48-bit address width
    iommuMap(dom, 0, sim.mem.allocFrames(1), 1, RW);
    iommuUnmapFast(dom, 0, 1, createIotlbGather());
    expect(sim.counters.iotlbFlushes).toBe(0); // flushOnUnmap: false
  });

  it('test_ref_driver_gaw_sets_the_aperture', () => {
    // VT-d's guest address width: a 39-bit domain (3-level AGAW) ends its aperture at 512 GiB, and
    // a map past it fails the way a 48-bit domain's map past 256 TiB does (EFAULT)
    const sim = createSim({ memory: 1n << 30n });
    const drv = createReferenceDriver(sim, { gaw: 39 });
    const dom = drv.domainAlloc();
    expect([dom.geometry.apertureStart, dom.geometry.apertureEnd]).toEqual([0, 2 ** 27 - 1]);
    const pfn = sim.mem.allocFrames(2);
    iommuMap(dom, 2 ** 27 - 1, pfn, 1, RW);
    expect(() => iommuMap(dom, 2 ** 27, pfn + 1, 1, RW)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    const reachers = sim.checker.reachers.length;
    for (const gaw of [12, 49, 39.5, Number.NaN]) {
      expect(() => createReferenceDriver(sim, { gaw })).toThrow(new RangeError(`gaw must be an integer from 13 to 48 bits, got ${gaw}`));
    }
    expect(sim.checker.reachers.length).toBe(reachers); // a refused driver registers no IOTLB
  });
});

describe('item 7: violation kinds', () => {
  it('test_violation_kinds: Violation.kind is the ViolationKind union; each core kind is emitted as typed', () => {
    expectTypeOf<Violation['kind']>().toEqualTypeOf<ViolationKind>();
    expectTypeOf<'unpin-while-reachable'>().toExtend<ViolationKind>();
    const typo = (): ViolationKind => {
      // @ts-expect-error -- a typo is not a kind
      return 'unpin-while-reachble';
    };
    expect(typeof typo).toBe('function');
    const h = makeHarness();
    h.drv.attachDevice(h.dom, 1);
    const user = h.sim.mem.allocBacking(2, '4k');
    const [p0, p1] = [user.pfns[0]!, user.pfns[1]!];
    h.sim.mem.pin(p0, 1);
    iommuMap(h.dom, 0, p0, 1, RW);
    h.sim.mem.unpin(p0, 1); // unpin-while-reachable
    h.sim.mem.unpin(p0, 1); // unpin-underflow
    iommuMap(h.dom, 1, p1, 1, RW);
    h.drv.dma(1, 1, 1, 'read'); // dma-to-unpinned
    const k = h.sim.mem.allocFrames(1);
    h.sim.mem.freeFrames(k, 1);
    iommuMap(h.dom, 2, k, 1, RW);
    h.drv.dma(1, 2, 1, 'read'); // dma-to-free-frame
    const want: ViolationKind[] = ['unpin-while-reachable', 'unpin-underflow', 'dma-to-unpinned', 'dma-to-free-frame'];
    expect(h.sim.violations.map((v) => v.kind)).toEqual(want);
  });
});

describe('item 9: messages print bad numbers as given', () => {
  it('test_map_messages_plain: negative and fractional values are not printed as hex', () => {
    const h = makeHarness();
    const msg = (fn: () => unknown): string => (thrown(fn) as Error).message;
    expect(msg(() => iommuMap(h.dom, -4096, 0, 1, RW))).toBe('EINVAL: iova -4096, pfn 0 and npages 1 must be page numbers, iommu_map');
    expect(msg(() => iommuMap(h.dom, 1.5, 0, 1, RW))).toBe('EINVAL: iova 1.5, pfn 0 and npages 1 must be page numbers, iommu_map');
    expect(msg(() => iommuMap(h.dom, 0, 0, -1, RW))).toBe('EINVAL: iova 0, pfn 0 and npages -1 must be page numbers, iommu_map');
    const h2 = makeHarness({ pgsizeBitmap: SZ_2M });
    expect(msg(() => iommuMap(h2.dom, 1, 512, 512, RW))).toBe(
      'EINVAL: unaligned: iova 0x1 pfn 0x200 npages 512 min_pagesz 512 pages, iommu_map',
    );
    expect(msg(() => iommuMap(h.dom, 2 ** 36 - 1, 0, 2, RW))).toBe(
      'EFAULT: driver ref failed at iova page 0xfffffffff after 0 of 2 pages, iommu_map',
    );
    for (const bad of [-1, -0x1000, 1.5, 0.5, NaN, -Infinity]) {
      for (const fn of [
        () => iommuMap(h.dom, bad, 0, 1, RW),
        () => iommuMap(h.dom, 0, bad, 1, RW),
        () => iommuMap(h.dom, 0, 0, bad, RW),
        () => iommuMap(h2.dom, bad, 512, 512, RW),
        () => iommuMap(h.dom, 0, 0, 1, bad),
        () => h.sim.mem.pin(bad, 1),
        () => h.sim.mem.pin(0, bad),
        () => h.drv.dma(1, bad, 1, 'read'),
        () => h.drv.dma(1, 0, bad, 'read'),
      ]) {
        expect(msg(fn)).not.toMatch(/0x-|0x[0-9a-f]*\.|0xNaN|0x-?Infinity/);
      }
    }
  });
});
