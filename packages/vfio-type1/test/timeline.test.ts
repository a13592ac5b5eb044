// vfio_iommu_type1's timeline: the entry data, each release's flags (written out from the kernel
// history, not derived), the behaviour at each boundary through the public API, and the refusal to
// mix a driver and a container of different releases.
import { afterEach, describe, expect, it } from 'vitest';
import { createReferenceDriver, createSim, previousRelease, type Release } from '@x/iommu-core';
import { checkTimeline } from '@x/iommu-core/testing';
import {
  Host,
  INFO_SIZE,
  PROFILE_NAMES,
  VFIO_IOMMU_GET_INFO,
  VFIO_TIMELINE,
  VFIO_TYPE1v2_IOMMU,
  encodeInfoRequest,
  profileSpec,
  type ProfileSpec,
} from '../src/index.js';
import { K4, M2, RW, expectCleanClose, makeEnv, type Env } from './helpers.js';

let e: Env | undefined;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
  e = undefined;
});

describe('vfio timeline data', () => {
  it('test_vfio_timeline_data', () => {
    expect(() => checkTimeline(VFIO_TIMELINE)).not.toThrow();
    // the mm commit is the only one outside drivers/vfio
    expect(VFIO_TIMELINE.filter((x) => x.component !== 'vfio-type1').map((x) => [x.id, x.component])).toEqual([['gup-thp-fast', 'mm']]);
    expect(Object.fromEntries(VFIO_TIMELINE.map((x) => [x.id, [x.commit, x.since]]))).toEqual({
      'dma-unmap-chunking': ['6fe1010d6d9c', 'v4.0'],
      'unmap-wrap-check': ['71a7d3d78e3c', 'v4.15'],
      'fast-unmap': ['6bd06f5a486c', 'v4.17'],
      'unmap-wrap-fix': ['58fec830fc19', 'v5.0'],
      'remove-map-try-harder': ['7a30423a95a1', 'v5.0'],
      'dma-entry-limit': ['492855939bdb', 'v5.1'],
      'iova-list': ['af029169b8fd', 'v5.4'],
      'dirty-tracking': ['ad721705d09c', 'v5.8'],
      'dma-avail-cap': ['7d6e1329652e', 'v5.10'],
      'replay-unwind': ['aae7a75a821a', 'v5.9'],
      'unmap-all-vaddr': ['c3cbab24db38', 'v5.12'],
      'batched-pinning': ['4d83de6da265', 'v5.12'],
      'always-cache': ['71cfafda9c9b', 'v5.19'],
      'cap-align': ['a881b496941f', 'v6.6'],
      'paging-domain-alloc': ['60ffc4501722', 'v6.11'],
      'remove-nesting': ['35890f85573c', 'v6.13'],
      'pfnmap-huge-step': ['0fd06844de5d', 'v6.15'],
      'remove-fgsp': ['07970d048cdd', 'v6.16'],
      'folio-batch-acct': ['f6c84a52cc41', 'v6.18'],
      'overflow-rework': ['6012379ede6a', 'v6.18'],
      'gup-thp-fast': ['57edfcfd3419', 'v6.6'],
    });
  });

  it('test_profile_names', () => {
    for (const r of ['v3.19', 'v4.16', 'v4.17', 'v5.11', 'v5.12', 'v6.16', 'v6.18']) expect(PROFILE_NAMES).toContain(r);
    expect(PROFILE_NAMES.at(-1)).toBe('mainline');
    expect(profileSpec('mainline').release).toBe('v7.1');
    // any release in range works, named or not
    expect(profileSpec('v5.5').unmapPath).toBe('mainline');
    expect(() => profileSpec('v3.18')).toThrow(
      new RangeError("release 'v3.18' is older than v3.19, the oldest this model covers (a release from v3.19 to v7.1, or mainline)"),
    );
  });
});

type Flags = Omit<ProfileSpec, 'name' | 'release' | 'entries'>;
// what vfio_iommu_type1.c of each release did (spec vfio-type1 §13 and the entries' commits)
const AT: Record<string, Partial<Flags>> = {
  'v3.19': {
    unmapChunking: false,
    unmapPath: 'slow',
    tryHarder: 'landed',
    fgspProbe: false,
    unmapWrapCheck: false,
    unmapWrapOffByOne: false,
    mapFlags: 3,
    unmapFlags: 0,
    nesting: true,
    alwaysCache: false,
  },
  'v4.0': { unmapChunking: true, fgspProbe: true, unmapPath: 'slow', unmapWrapCheck: false },
  'v4.15': { unmapWrapCheck: true, unmapWrapOffByOne: true, unmapPath: 'slow' },
  'v4.16': { unmapPath: 'slow', tryHarder: 'landed', dmaEntryLimit: false },
  'v4.17': { unmapPath: 'fast', tryHarder: 'landed', unmapWrapOffByOne: true, wrapErrno: 'EINVAL' },
  'v5.0': { unmapPath: 'fast', tryHarder: null, unmapWrapOffByOne: false, dmaEntryLimit: false },
  'v5.1': { dmaEntryLimit: true, iovaList: false, infoCaps: false },
  'v5.4': { unmapPath: 'mainline', iovaList: true, infoCaps: true, capMigration: false, capDmaAvail: false, unmapFlags: 0 },
  'v5.8': { capMigration: true, capDmaAvail: false, unmapFlags: 1, replayUnwind: false },
  'v5.9': { replayUnwind: true },
  'v5.10': { capDmaAvail: true, capAlign: false },
  'v5.11': { batchedPinning: false, unmapAllExt: false, mapFlags: 3 },
  'v5.12': { batchedPinning: true, unmapAllExt: true, mapFlags: 7, unmapFlags: 7 },
  'v5.19': { alwaysCache: true },
  'v6.6': { capAlign: true, pagingDomainAlloc: false },
  'v6.11': { pagingDomainAlloc: true, nesting: true },
  'v6.13': { nesting: false, pfnmapStep: 'page' },
  'v6.15': { pfnmapStep: 'mapping', fgspProbe: true },
  'v6.16': { fgspProbe: false, folioAcct: false },
  'v6.17': { folioAcct: false, wrapErrno: 'EINVAL', overflowRework: false },
  'v6.18': { folioAcct: true, wrapErrno: 'EOVERFLOW', overflowRework: true },
  mainline: { unmapPath: 'mainline', tryHarder: null, fgspProbe: false, batchedPinning: true, folioAcct: true, pfnmapStep: 'mapping' },
};

describe('vfio flags by release', () => {
  it.each(Object.entries(AT))('test_flags_at %s', (r, want) => {
    expect(profileSpec(r)).toMatchObject(want);
  });

  it('test_every_entry_changes_the_profile_at_its_release', () => {
    // a profile differs from the one before exactly where an entry lands
    const releases = new Set(VFIO_TIMELINE.map((x) => x.since));
    for (const r of releases) {
      const a = profileSpec(previousRelease(r as Release)!),
        b = profileSpec(r);
      const { name: _a, release: _b, entries: ea, ...fa } = a;
      const { name: _c, release: _d, entries: eb, ...fb } = b;
      expect(fb, r).not.toEqual(fa);
      expect(eb.length, r).toBeGreaterThan(ea.length);
    }
  });

  it('test_profile_entries_and_names_follow_the_timeline', () => {
    // a profile lists the entries that had landed by its release (both timelines), in order, and
    // every release an entry landed in is a named profile
    expect(profileSpec('v4.17').entries).toEqual(['iommu-tlb-interface', 'dma-unmap-chunking', 'unmap-wrap-check', 'fast-unmap']);
    for (const x of VFIO_TIMELINE) {
      expect(PROFILE_NAMES, x.id).toContain(x.since);
      expect(profileSpec(x.since).entries, x.id).toContain(x.id);
      expect(profileSpec(previousRelease(x.since as Release)!).entries, x.id).not.toContain(x.id);
    }
  });
});

/** Raw GET_INFO of a container: argsz answered and the capability chain as (id, offset, next). */
function capChain(env: Env): { argsz: number; caps: [number, number, number][] } {
  const probe = encodeInfoRequest(INFO_SIZE);
  env.c.ioctl(VFIO_IOMMU_GET_INFO, probe);
  const need = new DataView(probe.buffer).getUint32(0, true);
  const b = encodeInfoRequest(Math.max(need, INFO_SIZE)),
    v = new DataView(b.buffer);
  env.c.ioctl(VFIO_IOMMU_GET_INFO, b);
  const caps: [number, number, number][] = [];
  for (let off = need > INFO_SIZE ? v.getUint32(16, true) : 0; off !== 0; off = v.getUint32(off + 4, true))
    caps.push([v.getUint16(off, true), off, v.getUint32(off + 4, true)]);
  return { argsz: v.getUint32(0, true), caps };
}

describe('vfio behaviour at each boundary', () => {
  it('test_unmap_one_page_per_call_before_chunking', () => {
    // v3.19: iommu_unmap(PAGE_SIZE) per step, relying on the 2 MiB leaf being removed whole;
    // v4.0 (6fe1010d6d9c): one iova_to_phys per page to find the run, then one call for it
    const lookups: number[] = [];
    for (const profile of ['v3.19', 'v4.0'] as const) {
      e = makeEnv({ profile });
      const va = e.proc.mmap(4n * M2, { backing: 'thp' });
      e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
      const before = e.sim.counters.iovaToPhys;
      expect(e.c.unmapDma({ iova: 0n, size: 4n * M2 })).toEqual({ size: 4n * M2 });
      lookups.push(e.sim.counters.iovaToPhys - before);
      expect(e.c.stats().unmapChunks).toBe(4); // four 2 MiB blocks, physically apart
      expectCleanClose(e);
    }
    // v3.19: one lookup per 2 MiB leaf; v4.0 (no fgsp on VT-d): a lookup for each page of each
    // physically contiguous run plus the one that ends it (THP blocks are scattered: 4 runs of 512)
    expect(lookups[0]).toBe(4);
    expect(lookups[1]).toBe(4 * 512 + 3);
  });

  it('test_unmap_wrap_before_4_15_finds_nothing', () => {
    const TOP = 1n << 64n,
      top = TOP - K4;
    e = makeEnv({ profile: 'v4.14' });
    expect(e.c.unmapDma({ iova: top, size: 2n * K4 })).toEqual({ size: 0n });
    expect(e.c.stats().unmapCalls).toBe(1);
    // a wrapped range from a mapping's own iova: its end in u64 arithmetic lies below the mapping,
    // so vfio_find_dma() finds nothing and the mapping stays
    const va = e.proc.mmap(K4, { backing: '4k' });
    e.c.mapDma({ vaddr: va, iova: 0x100000n, size: K4, flags: RW });
    expect(e.c.unmapDma({ iova: 0x100000n, size: top })).toEqual({ size: 0n });
    expect(e.c.mappings().map((m) => m.iova)).toEqual([0x100000n]);
    expect(e.c.stats().unmapCalls).toBe(2);
    // v2's bisection checks ran before the search, the end taken mod 2^64: the start inside a
    // mapping, or the wrapped end inside one it does not end, is EINVAL; the end on its last page is not
    const big = e.proc.mmap(M2, { backing: '4k' });
    e.c.mapDma({ vaddr: big, iova: 0x400000n, size: M2, flags: RW });
    expect(() => e!.c.unmapDma({ iova: 0x500000n, size: top })).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        message: 'EINVAL: v2: iova 0x500000 bisects the mapping at 0x400000, VFIO_IOMMU_UNMAP_DMA',
      }),
    );
    expect(() => e!.c.unmapDma({ iova: 0x800000n, size: TOP - 0x800000n + 0x500000n })).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        message: 'EINVAL: v2: the range end bisects the mapping at 0x400000, VFIO_IOMMU_UNMAP_DMA',
      }),
    );
    expect(e.c.unmapDma({ iova: 0x800000n, size: TOP - 0x800000n + 0x600000n })).toEqual({ size: 0n });
    expect(e.c.mappings().map((m) => m.iova)).toEqual([0x100000n, 0x400000n]);
    expect(e.c.stats().unmapCalls).toBe(3);
    e.c.unmapDma({ iova: 0x100000n, size: 0x500000n });
    expectCleanClose(e);
    e = makeEnv({ profile: 'v4.15' });
    expect(() => e!.c.unmapDma({ iova: top, size: 2n * K4 })).toThrow(expect.objectContaining({ code: 'EINVAL', errno: -22 }));
  });

  it.each([
    // release, argsz the kernel answers, caps as [id, offset, next] (IOVA_RANGE 1, MIGRATION 2,
    // DMA_AVAIL 3). Sizes: MIGRATION 32, DMA_AVAIL 12 (16 once padded), IOVA_RANGE 16 + 16 per range
    // (two here: below and above the MSI window). The chain starts after the 24-byte struct.
    ['v5.3', 24, []],
    ['v5.4', 24 + 48, [[1, 24, 0]]],
    [
      'v5.8',
      24 + 32 + 48,
      [
        [2, 24, 56],
        [1, 56, 0],
      ],
    ],
    [
      'v5.10',
      24 + 32 + 12 + 48,
      [
        [2, 24, 56],
        [3, 56, 68],
        [1, 68, 0],
      ],
    ],
    [
      'v6.6',
      24 + 32 + 16 + 48,
      [
        [2, 24, 56],
        [3, 56, 72],
        [1, 72, 0],
      ],
    ],
  ] as const)('test_get_info_caps %s', (profile, argsz, caps) => {
    e = makeEnv({ profile });
    const got = capChain(e);
    expect(got.caps).toEqual(caps);
    expect(got.argsz).toBe(argsz);
  });

  it('test_pin_work_by_release', () => {
    // 4 MiB of THP: before v5.12 one GUP call per page, then one per 512-page vfio_batch; before
    // v6.18 one accounting step per page, then one per contiguous run of a batch; unpin likewise
    const work = (profile: string, backing: 'thp' | '4k') => {
      const env = makeEnv({ profile: profile as never });
      const va = env.proc.mmap(4n * M2, { backing });
      env.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
      env.c.unmapDma({ iova: 0n, size: 4n * M2 });
      const c = env.sim.counters;
      expectCleanClose(env);
      return [c['vfio.gupCalls'], c['vfio.pinSteps'], c['vfio.unpinSteps']];
    };
    expect(work('v5.11', 'thp')).toEqual([2048, 2048, 2048]);
    expect(work('v5.12', 'thp')).toEqual([4, 2048, 2048]);
    expect(work('v6.17', 'thp')).toEqual([4, 2048, 2048]);
    expect(work('v6.18', 'thp')).toEqual([4, 4, 4]);
    // scattered 4 KiB pages: every page is its own folio and its own run
    expect(work('v5.11', '4k')).toEqual([2048, 2048, 2048]);
    expect(work('v6.18', '4k')).toEqual([4, 2048, 2048]);
  });

  it('test_pfnmap_lookups_by_release', () => {
    // a 16 MiB BAR (naturally aligned) mapped for P2P: one pfn lookup per page before v6.15, one
    // per 2 MiB PMD mapping after; never pinned, never charged
    for (const [profile, lookups] of [
      ['v6.14', 4096],
      ['v6.15', 8],
    ] as const) {
      e = makeEnv({ profile });
      const bar = e.proc.mmap(16n << 20n, { backing: 'mmio' });
      e.c.mapDma({ vaddr: bar, iova: 1n << 32n, size: 16n << 20n, flags: RW });
      expect(e.sim.counters['vfio.pfnLookups']).toBe(lookups);
      expect([e.proc.lockedVm, e.sim.mem.pinnedPages]).toEqual([0, 0]);
      expectCleanClose(e);
    }
    // disable_hugepages asks for one page per call: one lookup per page in v6.15 too, each at its
    // own page of the BAR (the mapping it lies in is looked up from there)
    e = makeEnv({ profile: 'v6.15', disableHugepages: true });
    const bar = e.proc.mmap(16n << 20n, { backing: 'mmio' });
    e.c.mapDma({ vaddr: bar, iova: 1n << 32n, size: 16n << 20n, flags: RW });
    expect([e.sim.counters['vfio.pfnLookups'], e.c.stats().mapChunks]).toEqual([4096, 4096]);
    expectCleanClose(e);
  });

  it('test_bar_dma_unmapped_after_its_vma_is_gone', () => {
    // a BAR's pages are not pinned, so munmap lets its VMA go while a dma still maps it; the unmap
    // then finds no VMA behind the dma, takes one page, and its unmap removes the 2 MiB leaf whole
    e = makeEnv({ profile: 'mainline' });
    const bar = e.proc.mmap(M2, { backing: 'mmio' });
    // a first map and unmap of the BAR leaves the container's unmap run on the BAR's first frame
    e.c.mapDma({ vaddr: bar, iova: 1n << 32n, size: M2, flags: RW });
    e.c.unmapDma({ iova: 1n << 32n, size: M2 });
    e.c.mapDma({ vaddr: bar, iova: 1n << 32n, size: M2, flags: RW });
    e.proc.munmap(bar);
    expect(e.c.unmapDma({ iova: 1n << 32n, size: M2 })).toEqual({ size: M2 });
    expect([e.c.mappings(), e.sim.violations, e.c.stats().unmapChunks]).toEqual([[], [], 2]);
    expectCleanClose(e);
  });
});

describe('driver and container of different releases', () => {
  const setup = (drvRelease: string, profile: string, mix?: boolean) => {
    const sim = createSim({ memory: 1n << 30n });
    const drv = createReferenceDriver(sim, { release: drvRelease as never });
    const host = new Host(sim);
    const g = host.addGroup(drv);
    const c = host.openContainer(
      host.spawn(),
      mix === undefined ? { profile: profile as never } : { profile: profile as never, mixReleases: mix },
    );
    return { g, c };
  };

  it('test_mixed_releases_refused_with_both_named', () => {
    const { g, c } = setup('v5.12', 'v4.17');
    expect(() => c.addGroup(g)).toThrow(
      new RangeError(
        "group 0's IOMMU driver ref models v5.12 but the container models v4.17: create both for one release, or pass mixReleases: true to openContainer",
      ),
    );
    // nothing changed: the group is free, the container has none
    expect(g.container).toBe(null);
    expect(c.groups).toEqual([]);
    expect(() => c.setIommu(VFIO_TYPE1v2_IOMMU)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('test_mainline_is_the_newest_release', () => {
    const { g, c } = setup('v7.1', 'mainline');
    c.addGroup(g);
    c.setIommu(VFIO_TYPE1v2_IOMMU);
    expect(c.spec.release).toBe('v7.1');
    c.close();
  });

  it('test_mixing_on_request', () => {
    const { g, c } = setup('v5.12', 'v4.17', true);
    c.addGroup(g);
    c.setIommu(VFIO_TYPE1v2_IOMMU);
    expect(c.groups.length).toBe(1);
    c.close();
  });
});

describe('spec timeline table', () => {
  it('test_spec_table_is_generated_from_the_data', async () => {
    const { readFileSync } = await import('node:fs');
    const { withTimelineTable } = await import('@x/iommu-core/internals');
    const { VFIO_TIMELINE: data } = await import('../src/index.js');
    const spec = readFileSync(new URL('../docs/spec.md', import.meta.url), 'utf8');
    // regenerate with `pnpm docs:timeline`
    expect(withTimelineTable(spec, data)).toBe(spec);
  });
});
