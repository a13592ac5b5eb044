// vfio_iommu_replay() into a new domain: each dma is walked in the first domain with iova_to_phys,
// physically contiguous pages are mapped as one run that never crosses the dma's end, and a page the
// first domain does not translate is skipped with a warning.
import { afterEach, describe, expect, it } from 'vitest';
import { IOMMU_RESV_RESERVED, SZ_2M, SZ_4K, createReferenceDriver, iommuIovaToPhys, iommuUnmap } from '@x/iommu-core';
import type { Profile } from '../src/index.js';
import { K4, M2, RW, domOf, expectCleanClose, leaves, makeEnv, type Env } from './helpers.js';

let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

/** A second group on another driver (4K|2M): its domain is new, so attaching it replays every dma. */
function otherGroup(release: Profile = 'mainline', gaw = 48) {
  const drv = createReferenceDriver(e.sim, { release, name: 'refB', pgsizeBitmap: SZ_4K | SZ_2M, realPgsizeBitmap: true, gaw });
  return e.host.addGroup(drv, { devices: 1 });
}

describe('replay', () => {
  it('test_replay_run_stops_at_the_dma_end', () => {
    // a young host gives the 4 MiB THP VMA two neighbouring 2 MiB pages; two dmas at neighbouring
    // IOVAs: the frames run on across their edge, but each dma is replayed as its own run
    e = makeEnv({ profile: 'mainline', memory: 1n << 30n, hostAge: 0 });
    const va = e.proc.mmap(2n * M2, { backing: 'thp' });
    const pfn0 = e.proc.pfnOf(Number(va >> 12n));
    expect(e.proc.pfnOf(Number(va >> 12n) + 512)).toBe(pfn0 + 512);
    e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    e.c.mapDma({ vaddr: va + M2, iova: M2, size: M2, flags: RW });
    const gB = otherGroup();
    const s0 = e.c.stats();
    e.c.addGroup(gB);
    const s1 = e.c.stats();
    expect([s1.replays - s0.replays, s1.replayedPages - s0.replayedPages, s1.warnings - s0.warnings]).toEqual([1, 1024, 0]);
    expect(leaves(domOf(e, gB))).toEqual([
      [0, pfn0, 21],
      [512, pfn0 + 512, 21],
    ]);
  });

  it('test_replay_skips_a_page_the_first_domain_lacks', () => {
    // page 1 of the dma was unmapped from the first domain behind VFIO's back: iova_to_phys finds
    // nothing, the replay warns and steps one page on, and the new domain does not map it either
    e = makeEnv({ profile: 'mainline', memory: 1n << 30n });
    const va = e.proc.mmap(4n * K4, { backing: '4k' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * K4, flags: RW });
    expect(iommuUnmap(domOf(e), 1, 1)).toBe(1);
    const gB = otherGroup();
    const s0 = e.c.stats();
    e.c.addGroup(gB);
    const s1 = e.c.stats();
    expect([s1.replayedPages - s0.replayedPages, s1.warnings - s0.warnings]).toEqual([3, 1]);
    const vp = Number(va >> 12n);
    expect([0, 1, 2, 3].map((p) => iommuIovaToPhys(domOf(e, gB), p))).toEqual([
      e.proc.pfnOf(vp),
      -1,
      e.proc.pfnOf(vp + 2),
      e.proc.pfnOf(vp + 3),
    ]);
    // UNMAP_DMA: the new domain, now first in the list, is walked (page 1 warns again, its pin
    // leaks); the old one gets one iommu_unmap, which stops at its hole: pages 2 and 3 stay mapped
    // there while they are unpinned, as in the kernel, and the checker sees it
    const dA = domOf(e);
    e.c.unmapDma({ iova: 0n, size: 4n * K4 });
    expect(e.c.stats().warnings - s1.warnings).toBe(1);
    expect(e.sim.violations.map((x) => [x.kind, x.pfn, x.iova, x.domain])).toEqual([
      ['unpin-while-reachable', e.proc.pfnOf(vp + 2), 2, dA.id],
      ['unpin-while-reachable', e.proc.pfnOf(vp + 3), 3, dA.id],
    ]);
    expect(leaves(dA).map(([iova]) => iova)).toEqual([2, 3]);
    expect([e.sim.mem.pinCount(e.proc.pfnOf(vp + 1)), e.proc.lockedVm]).toEqual([1, 1]);
    e.sim.violations.length = 0;
    e.c.close();
    expect(e.sim.violations.map((x) => x.kind)).toEqual(['teardown-leaves-pins', 'teardown-leaves-charge', 'locked-vm-mismatch']);
    e.sim.violations.length = 0;
  });
});

describe('iova list', () => {
  it('test_no_iova_list_before_v5_4_after_a_detach', () => {
    // before the iova list (v5.4) a detach rebuilds nothing: the container keeps no list, and
    // GET_INFO reports no IOVA_RANGE
    e = makeEnv({ profile: 'v4.17', memory: 1n << 30n });
    const gB = otherGroup('v4.17');
    e.c.addGroup(gB);
    expect(e.c.getInfo().iovaRanges).toBe(undefined);
    e.c.removeGroup(gB);
    expect(e.c.iommu!.domains.length).toBe(1);
    expect(e.c.getInfo().iovaRanges).toBe(undefined);
    expect(e.c.iommu!.iovaList).toEqual([]);
  });

  // vfio_iommu_aper_conflict() / vfio_iommu_resv_conflict() at attach: a new domain whose aperture
  // (here a 39-bit VT-d domain: IOVA pages 0 .. 2^27 - 1) misses the container's iova list, or
  // leaves out an existing dma, is refused with EINVAL and the container stays as it was
  const P39 = 2 ** 27;
  const refused = expect.objectContaining({ name: 'VfioError', code: 'EINVAL', syscall: 'VFIO_GROUP_SET_CONTAINER' });

  it('test_attach_refused_when_a_dma_lies_past_the_new_aperture', () => {
    e = makeEnv({ profile: 'mainline', memory: 1n << 30n });
    const va = e.proc.mmap(M2, { backing: '4k' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: K4, flags: RW });
    e.c.mapDma({ vaddr: va + K4, iova: BigInt(P39) << 12n, size: K4, flags: RW }); // one page past 2^39
    const gB = otherGroup('mainline', 39);
    const list = e.c.iommu!.iovaList.slice();
    expect(() => e.c.addGroup(gB)).toThrow(refused);
    expect([gB.container, e.c.iommu!.domains.length, e.c.iommu!.iovaList]).toEqual([null, 1, list]);
    // a dma ending on the aperture's last page fits
    e.c.unmapDma({ iova: BigInt(P39) << 12n, size: K4 });
    e.c.mapDma({ vaddr: va + K4, iova: BigInt(P39 - 1) << 12n, size: K4, flags: RW });
    e.c.addGroup(gB);
    expect(e.c.iommu!.domains.length).toBe(2);
    expect(e.c.iommu!.iovaList.at(-1)!.last).toBe(P39 - 1);
  });

  it('test_attach_refused_when_the_iova_list_lies_past_the_new_aperture', () => {
    // the first driver reserves IOVA pages 0 .. reservedLast for every device: the list starts after
    const run = (reservedLast: number) => {
      e = makeEnv({
        profile: 'mainline',
        memory: 1n << 30n,
        drv: { resvRegions: [{ start: 0, last: reservedLast, type: IOMMU_RESV_RESERVED }] },
      });
      expect(e.c.iommu!.iovaList[0]!.start).toBe(reservedLast + 1);
      return otherGroup('mainline', 39);
    };
    const gB = run(P39 - 1);
    expect(() => e.c.addGroup(gB)).toThrow(refused);
    expect([gB.container, e.c.iommu!.domains.length]).toEqual([null, 1]);
    e.c.close();
    // a list that starts on the aperture's last page still meets it
    const gC = run(P39 - 2);
    e.c.addGroup(gC);
    expect(e.c.iommu!.iovaList).toEqual([{ start: P39 - 1, last: P39 - 1 }]);
    e.c.close();
    // and a list that is page 0 alone (the first driver reserves every other page) meets it too
    e = makeEnv({
      profile: 'mainline',
      memory: 1n << 30n,
      drv: { resvRegions: [{ start: 1, last: 2 ** 36 - 1, type: IOMMU_RESV_RESERVED }] },
    });
    e.c.addGroup(otherGroup('mainline', 39));
    expect(e.c.iommu!.iovaList).toEqual([{ start: 0, last: 0 }]);
  });
});
