// VFIO_IOMMU_UNMAP_DMA: checks per era, v1 vs v2 semantics, the size written back.
import { afterEach, describe, expect, it } from 'vitest';
import {
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_DMA_MAP_FLAG_VADDR,
  encodeDmaUnmap,
  type Profile,
} from '../src/index.js';
import { K4, M2, RW, expectCleanClose, expectFailNoTrace, makeEnv, type Env } from './helpers.js';

const UNMAP = 'VFIO_IOMMU_UNMAP_DMA';
const TOP = 1n << 64n;
let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

/** Three mappings: A [1M, 3M), B [3M, 3M+8K), C [8M, 12M). */
function three(profile: Profile, v1 = false): bigint {
  e = makeEnv({ profile, v1 });
  const va = e.proc.mmap(16n * M2, { backing: 'thp' });
  e.c.mapDma({ vaddr: va, iova: 0x100000n, size: M2, flags: RW });
  e.c.mapDma({ vaddr: va + M2, iova: 0x300000n, size: 2n * K4, flags: RW });
  e.c.mapDma({ vaddr: va + 2n * M2, iova: 0x800000n, size: 2n * M2, flags: RW });
  return va;
}
const iovas = (): bigint[] => e.c.mappings().map((m) => m.iova);

describe.each<Profile>(['v4.16', 'v4.17', 'mainline'])('unmap_dma_checks profile=%s', (profile) => {
  const ml = profile === 'mainline';

  it('test_unmap_argsz_short_and_efault', () => {
    three(profile);
    expectFailNoTrace(
      e,
      () => e.c.ioctl(VFIO_IOMMU_UNMAP_DMA, encodeDmaUnmap({ argsz: 23, iova: 0x100000n, size: M2 })),
      'EINVAL',
      -22,
      UNMAP,
    );
    expectFailNoTrace(e, () => e.c.ioctl(VFIO_IOMMU_UNMAP_DMA, new Uint8Array(16)), 'EFAULT', -14, UNMAP);
  });

  it('test_unmap_flags', () => {
    three(profile);
    expectFailNoTrace(e, () => e.c.unmapDma({ flags: 8, iova: 0x100000n, size: M2 }), 'EINVAL', -22, UNMAP);
    expectFailNoTrace(e, () => e.c.unmapDma({ flags: VFIO_DMA_UNMAP_FLAG_ALL, iova: 0x100000n, size: M2 }), 'EINVAL', -22, UNMAP);
    expectFailNoTrace(
      e,
      () => e.c.unmapDma({ flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL, iova: 0n, size: 0n }),
      'EINVAL',
      -22,
      UNMAP,
    );
    expectFailNoTrace(
      e,
      () => e.c.unmapDma({ flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, iova: 0x100000n, size: M2 }),
      'EINVAL',
      -22,
      UNMAP,
    );
    expectFailNoTrace(
      e,
      () =>
        e.c.unmapDma({
          flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
          iova: 0x100000n,
          size: M2,
          bitmap: { pgsize: K4, size: 64n, data: 0x1000n },
        }),
      'EINVAL',
      -22,
      UNMAP,
    );
    if (!ml)
      expectFailNoTrace(e, () => e.c.unmapDma({ flags: VFIO_DMA_UNMAP_FLAG_VADDR, iova: 0x100000n, size: M2 }), 'EINVAL', -22, UNMAP);
  });

  it('test_unmap_alignment_and_size_zero', () => {
    three(profile);
    expectFailNoTrace(e, () => e.c.unmapDma({ iova: 0x100800n, size: M2 }), 'EINVAL', -22, UNMAP);
    expectFailNoTrace(e, () => e.c.unmapDma({ iova: 0x100000n, size: 0n }), 'EINVAL', -22, UNMAP);
    expectFailNoTrace(e, () => e.c.unmapDma({ iova: 0x100000n, size: M2 + 1n }), 'EINVAL', -22, UNMAP);
  });

  it('test_unmap_wrap_and_last_page', () => {
    three(profile);
    expectFailNoTrace(e, () => e.c.unmapDma({ iova: TOP - 2n * K4, size: 4n * K4 }), ml ? 'EOVERFLOW' : 'EINVAL', ml ? -75 : -22, UNMAP);
    if (ml) expect(e.c.unmapDma({ iova: TOP - K4, size: K4 })).toEqual({ size: 0n });
    else expectFailNoTrace(e, () => e.c.unmapDma({ iova: TOP - K4, size: K4 }), 'EINVAL', -22, UNMAP); // 4.15-4.20 off-by-one
  });

  it('test_unmap_nothing_mapped_size_zero', () => {
    three(profile);
    expect(e.c.unmapDma({ iova: 0x40000000n, size: M2 })).toEqual({ size: 0n });
    expect(iovas()).toEqual([0x100000n, 0x300000n, 0x800000n]);
  });

  it('test_unmap_v2_bisect_einval', () => {
    three(profile);
    // start inside A: nothing removed, not even B which the range fully covers
    expectFailNoTrace(e, () => e.c.unmapDma({ iova: 0x200000n, size: 0x200000n }), 'EINVAL', -22, UNMAP);
    // end inside C
    expectFailNoTrace(e, () => e.c.unmapDma({ iova: 0x300000n, size: 0x600000n }), 'EINVAL', -22, UNMAP);
    // part of A
    expectFailNoTrace(e, () => e.c.unmapDma({ iova: 0x100000n, size: K4 }), 'EINVAL', -22, UNMAP);
  });

  it('test_unmap_v2_covering_with_holes', () => {
    three(profile);
    expect(e.c.unmapDma({ iova: 0x100000n, size: 0x200000n + 0x100000n })).toEqual({ size: M2 + 2n * K4 });
    expect(iovas()).toEqual([0x800000n]);
    expect(e.proc.lockedVm).toBe(1024);
  });

  it('test_unmap_v1_semantics', () => {
    three(profile, true);
    // starts inside A: success, size 0, nothing removed even though B is covered
    expect(e.c.unmapDma({ iova: 0x200000n, size: 0x200000n })).toEqual({ size: 0n });
    expect(iovas()).toEqual([0x100000n, 0x300000n, 0x800000n]);
    // starts at A's first byte with 4 KiB: all of A goes (size written back exceeds the request)
    expect(e.c.unmapDma({ iova: 0x100000n, size: K4 })).toEqual({ size: M2 });
    // straddles B and the start of C: both removed whole
    expect(e.c.unmapDma({ iova: 0x300000n, size: 0x600000n })).toEqual({ size: 2n * K4 + 2n * M2 });
    expect(iovas()).toEqual([]);
    expect(e.proc.lockedVm).toBe(0);
  });

  it('test_unmap_size_written_back_raw', () => {
    three(profile);
    const b = encodeDmaUnmap({ iova: 0x300000n, size: 0x400000n });
    expect(e.c.ioctl(VFIO_IOMMU_UNMAP_DMA, b)).toBe(0);
    expect(new DataView(b.buffer).getBigUint64(16, true)).toBe(2n * K4);
    // on error nothing is copied back: the size field keeps its input
    const bad = encodeDmaUnmap({ iova: 0x200000n, size: 0x100000n });
    const copy = bad.slice();
    expect(() => e.c.ioctl(VFIO_IOMMU_UNMAP_DMA, bad)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(bad).toEqual(copy);
  });
});

describe('unmap_dma_mainline_flags', () => {
  it('test_unmap_all', () => {
    three('mainline');
    expectFailNoTrace(e, () => e.c.unmapDma({ flags: VFIO_DMA_UNMAP_FLAG_ALL, iova: K4, size: 0n }), 'EINVAL', -22, UNMAP);
    expect(e.c.unmapDma({ flags: VFIO_DMA_UNMAP_FLAG_ALL, iova: 0n, size: 0n })).toEqual({ size: 3n * M2 + 2n * K4 });
    expect(e.c.mappings()).toEqual([]);
    expect(e.c.dmaAvail).toBe(65535);
    expect(e.proc.lockedVm).toBe(0);
  });

  it('test_unmap_vaddr_and_update', () => {
    const va = three('mainline');
    const pinned = e.sim.mem.pinnedPages;
    expect(e.c.unmapDma({ flags: VFIO_DMA_UNMAP_FLAG_VADDR, iova: 0x100000n, size: 0x300000n })).toEqual({ size: M2 + 2n * K4 });
    expect(e.sim.mem.pinnedPages).toBe(pinned); // nothing unmapped or unpinned
    expect(e.c.iommu!.vaddrInvalidCount).toBe(2);
    // a second invalidation covering an invalid one fails and undoes this call's own invalidations
    expectFailNoTrace(e, () => e.c.unmapDma({ flags: VFIO_DMA_UNMAP_FLAG_VADDR, iova: 0n, size: 0x1000000n }), 'EINVAL', -22, UNMAP);
    // attaching a group while a vaddr is invalid: EBUSY
    const g2 = e.host.addGroup(e.drv, { devices: 1 });
    expect(() => e.c.addGroup(g2)).toThrow(expect.objectContaining({ code: 'EBUSY', errno: -16 }));
    expectFailNoTrace(
      e,
      () => e.c.mapDma({ vaddr: va, iova: 0x100000n, size: K4, flags: VFIO_DMA_MAP_FLAG_VADDR }),
      'EINVAL',
      -22,
      'VFIO_IOMMU_MAP_DMA',
    );
    e.c.mapDma({ vaddr: va, iova: 0x100000n, size: M2, flags: VFIO_DMA_MAP_FLAG_VADDR });
    e.c.mapDma({ vaddr: va + M2, iova: 0x300000n, size: 2n * K4, flags: VFIO_DMA_MAP_FLAG_VADDR });
    expect(e.c.iommu!.vaddrInvalidCount).toBe(0);
    e.c.addGroup(g2);
  });

  it('test_unmap_of_an_invalidated_dma_forgets_its_vaddr', () => {
    // a plain UNMAP_DMA removes a dma whose vaddr was invalidated: the count drops with it, and a
    // group can be attached again
    three('mainline');
    expect(e.c.unmapDma({ flags: VFIO_DMA_UNMAP_FLAG_VADDR, iova: 0x100000n, size: M2 })).toEqual({ size: M2 });
    expect(e.c.iommu!.vaddrInvalidCount).toBe(1);
    expect(e.c.unmapDma({ iova: 0x100000n, size: M2 })).toEqual({ size: M2 });
    expect(e.c.iommu!.vaddrInvalidCount).toBe(0);
    e.c.addGroup(e.host.addGroup(e.drv, { devices: 1 }));
    expect(e.c.groups.length).toBe(2);
  });
});
