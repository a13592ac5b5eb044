// Containers with two and three domains (one per driver): a MAP_DMA that fails in any one domain,
// for any chunk, leaves no PTE in any domain; the order of the domain list as the kernel builds it
// (vfio_iommu_type1_attach_group puts a new domain at the head); a replay that fails midway.
import { afterEach, describe, expect, it } from 'vitest';
import { SZ_2M, SZ_4K, createReferenceDriver, iommuIovaToPhys, type ReferenceDriver } from '@x/iommu-core';
import { FAULT_POINTS } from '@x/iommu-core/testing';
import type { Group, Profile } from '../src/index.js';
import { K4, M2, RW, expectCleanClose, expectFailNoTrace, makeEnv, snapshot, type Env } from './helpers.js';

let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

const IOVA = 0x40000000n,
  IOVA_PAGE = 0x40000;
const FP_MAP = FAULT_POINTS.indexOf('map');

/**
 * The first group's driver 'ref' (4K|2M|1G) plus n-1 more drivers, each its own domain: 'refB'
 * (4K|2M) and 'refC' (4K only). Returned groups are in the order they joined.
 */
function container(profile: Profile, n: 2 | 3): { groups: Group[]; drvs: ReferenceDriver[] } {
  e = makeEnv({ profile, memory: 1n << 30n, drv: { realPgsizeBitmap: true } });
  const groups = [e.group],
    drvs = [e.drv];
  const more: [string, bigint][] = [
    ['refB', SZ_4K | SZ_2M],
    ['refC', SZ_4K],
  ];
  for (const [name, pgsizeBitmap] of more.slice(0, n - 1)) {
    const d = createReferenceDriver(e.sim, { release: profile, name, pgsizeBitmap, realPgsizeBitmap: true });
    const g = e.host.addGroup(d, { devices: 1 });
    e.c.addGroup(g);
    groups.push(g);
    drvs.push(d);
  }
  return { groups, drvs };
}

/** Every page of [page, page + npages) untranslated in every domain, and refused to every device. */
function expectNothingReachable(groups: Group[], page: number, npages: number): void {
  for (const d of e.c.iommu!.domains) {
    const mapped: number[] = [];
    for (let p = page; p < page + npages; p++) if (iommuIovaToPhys(d.dom, p) >= 0) mapped.push(p);
    expect(mapped, `domain ${d.dom.id}`).toEqual([]);
  }
  for (const g of groups) expect(g.drv.dma(g.devices[0]!, page, npages, 'read'), `group ${g.id}`).toBe(false);
}

describe.each<Profile>(['v4.17', 'mainline'])('multi-domain profile=%s', (profile) => {
  describe.each([2, 3] as const)('%i domains', (n) => {
    // 3 THP chunks (each 2 MiB folio is its own chunk); vfio_iommu_map maps chunk c into the domains
    // in list order, so occurrence c*n + k + 1 of the map point is chunk c in domain k
    const CHUNKS = 3;
    for (let c = 0; c < CHUNKS; c++) {
      for (let k = 0; k < n; k++) {
        it(`test_map_fails_in_domain_${k}_chunk_${c}`, () => {
          const { groups } = container(profile, n);
          expect(e.c.iommu!.domains.length).toBe(n);
          const va = e.proc.mmap(BigInt(CHUNKS) * M2, { backing: 'thp' });
          const s0 = e.c.stats();
          e.sim.faults.resetCounts();
          e.sim.faults.arm('map', c * n + k + 1);
          expectFailNoTrace(
            e,
            () => e.c.mapDma({ vaddr: va, iova: IOVA, size: BigInt(CHUNKS) * M2, flags: RW }),
            'ENOMEM',
            -12,
            'VFIO_IOMMU_MAP_DMA',
          );
          expect(e.sim.faults.fired).toEqual(['map']);
          // the map point was reached exactly up to the failing domain of the failing chunk
          expect(e.sim.faults.reached[FP_MAP]).toBe(c * n + k + 1);
          expect(e.sim.violations).toEqual([]);
          expectNothingReachable(groups, IOVA_PAGE, CHUNKS * 512);
          // c chunks were pinned and mapped whole, chunk c was pinned and then failed: all unpinned
          const s1 = e.c.stats();
          expect([s1.mapChunks - s0.mapChunks, s1.pins - s0.pins, s1.unpins - s0.unpins, s1.errors - s0.errors]).toEqual([
            c,
            (c + 1) * 512,
            (c + 1) * 512,
            1,
          ]);
          // the container still works: the same range maps into every domain
          e.c.mapDma({ vaddr: va, iova: IOVA, size: BigInt(CHUNKS) * M2, flags: RW });
          for (const g of groups) expect(g.drv.dma(g.devices[0]!, IOVA_PAGE, CHUNKS * 512, 'read')).toBe(true);
        });
      }
    }
  });

  it('test_new_domain_at_head', () => {
    // domain_list order is observable in UNMAP_DMA: every domain but the head is unmapped with one
    // iommu_unmap (in list order), then the head is walked; each ends with its own flush
    e = makeEnv({ profile, memory: 1n << 30n, drv: { realPgsizeBitmap: true, flushOnUnmap: false } });
    e.sim.trace.on = false;
    const bDrv = createReferenceDriver(e.sim, { release: profile, name: 'refB', realPgsizeBitmap: true, flushOnUnmap: false });
    const cDrv = createReferenceDriver(e.sim, { release: profile, name: 'refC', realPgsizeBitmap: true, flushOnUnmap: false });
    const gB = e.host.addGroup(bDrv, { devices: 1 }),
      gC = e.host.addGroup(cDrv, { devices: 1 });
    e.c.addGroup(gB);
    e.c.addGroup(gC);
    const va = e.proc.mmap(M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    e.sim.trace.on = true;
    e.c.unmapDma({ iova: 0n, size: M2 });
    e.sim.trace.on = false;
    const flushes = e.sim.trace.events.filter((x) => x.name === 'flush').map((x) => x.track);
    // joined A, B, C: the list is C, B, A
    expect(flushes).toEqual(['refB', 'ref', 'refC']);
    expect(e.c.iommu!.domains.map((d) => d.drv.name)).toEqual(['refC', 'refB', 'ref']);
  });

  it('test_replay_fails_midway_counters', () => {
    // A holds three dmas: a 2 MiB THP, 16 scattered 4 KiB pages (16 physical runs), another THP.
    // Replaying into B maps 1 + 16 + 1 runs; the 7th fails: the 6th run of the middle dma.
    e = makeEnv({ profile, memory: 1n << 30n, drv: { realPgsizeBitmap: true } });
    const bDrv = createReferenceDriver(e.sim, { release: profile, name: 'refB', pgsizeBitmap: SZ_4K | SZ_2M, realPgsizeBitmap: true });
    const gB = e.host.addGroup(bDrv, { devices: 1 });
    const vaT = e.proc.mmap(2n * M2, { backing: 'thp' }),
      va4 = e.proc.mmap(16n * K4, { backing: '4k' });
    e.c.mapDma({ vaddr: vaT, iova: 0n, size: M2, flags: RW });
    e.c.mapDma({ vaddr: va4, iova: IOVA, size: 16n * K4, flags: RW });
    e.c.mapDma({ vaddr: vaT + M2, iova: 2n * IOVA, size: M2, flags: RW });
    // the middle dma is 16 runs: no two of its frames are adjacent
    const pfns = Array.from({ length: 16 }, (_, i) => e.proc.pfnOf(Number(va4 >> 12n) + i));
    expect(pfns.every((p, i) => i === 0 || p !== pfns[i - 1]! + 1)).toBe(true);
    const s0 = e.c.stats(),
      c0 = e.sim.counters,
      before = snapshot(e);
    e.sim.faults.resetCounts();
    e.sim.faults.arm('map', 7);
    expect(() => e.c.addGroup(gB)).toThrow(
      expect.objectContaining({ name: 'VfioError', code: 'ENOMEM', errno: -12, syscall: 'VFIO_GROUP_SET_CONTAINER' }),
    );
    const s1 = e.c.stats(),
      c1 = e.sim.counters;
    expect(snapshot(e)).toEqual(before);
    expect(e.sim.faults.reached[FP_MAP]).toBe(7);
    // replay pins nothing and unpins nothing; it counted one replay and the 512 + 5 pages it mapped
    expect({
      replays: s1.replays - s0.replays,
      replayedPages: s1.replayedPages - s0.replayedPages,
      pins: s1.pins - s0.pins,
      unpins: s1.unpins - s0.unpins,
      mapChunks: s1.mapChunks - s0.mapChunks,
      warnings: s1.warnings - s0.warnings,
    }).toEqual({ replays: 1, replayedPages: 512 + 5, pins: 0, unpins: 0, mapChunks: 0, warnings: 0 });
    // v5.9+ unwinds from the failing dma back to the first: one synced iommu_unmap each (middle, first);
    // before, the new domain was freed with its mappings and nothing was unmapped
    const unwound = e.c.iommu!.spec.replayUnwind ? 2 : 0;
    expect(e.c.iommu!.spec.replayUnwind).toBe(profile === 'mainline');
    expect(c1.iotlbSyncs! - c0.iotlbSyncs!).toBe(unwound);
    expect(gB.container).toBe(null);
    expect(e.c.iommu!.domains.length).toBe(1);
    expect(e.sim.violations).toEqual([]);
  });
});
