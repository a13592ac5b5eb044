// Every error of MAP_DMA, UNMAP_DMA and GET_INFO with its errno and exact message, in the order the
// era checks them: v5.4 (prot, size, alignment, then wrap, all EINVAL), v6.18's reworked order
// (size, EOVERFLOW on a wrap, the READ/WRITE-or-VADDR rule, alignment), the VADDR operations, the
// bitmap checks and v2's bisection rule. A failed call leaves nothing behind (expectCleanClose).
import { afterEach, describe, expect, it } from 'vitest';
import {
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  encodeDmaMap,
  encodeDmaUnmap,
  encodeInfoRequest,
  type Profile,
} from '../src/index.js';
import { K4, M2, RW, expectCleanClose, makeEnv, type Env } from './helpers.js';

let e: Env | undefined;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
  e = undefined;
});

const MAP = 'VFIO_IOMMU_MAP_DMA',
  UNMAP = 'VFIO_IOMMU_UNMAP_DMA',
  INFO = 'VFIO_IOMMU_GET_INFO';
const TOP = 1n << 64n;

/** `CODE: detail, SYSCALL` of what fn threw. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (x) {
    return (x as Error).message;
  }
  throw new Error('expected a throw');
}

/** A container of the release with a 16 MiB THP VMA; returns its address. */
function env(profile: Profile, o: Parameters<typeof makeEnv>[0] = {}): bigint {
  e = makeEnv({ profile, ...o });
  return e.proc.mmap(8n * M2, { backing: 'thp' });
}

const raw = (cmd: number, b: Uint8Array) => () => e!.c.ioctl(cmd, b);

describe('MAP_DMA errors', () => {
  it('test_struct_errors', () => {
    const va = env('mainline');
    const m = encodeDmaMap({ vaddr: va, iova: 0n, size: K4, flags: RW });
    expect(failure(raw(VFIO_IOMMU_MAP_DMA, m.subarray(0, 31)))).toBe(`EFAULT: copy_from_user of 32 bytes from a 31-byte buffer, ${MAP}`);
    expect(failure(raw(VFIO_IOMMU_MAP_DMA, encodeDmaMap({ argsz: 31, vaddr: va, iova: 0n, size: K4, flags: RW })))).toBe(
      `EINVAL: argsz 31 < minsz 32, ${MAP}`,
    );
    expect(failure(() => e!.c.mapDma({ vaddr: va, iova: 0n, size: K4, flags: RW | 8 }))).toBe(`EINVAL: unknown flags 0xb, ${MAP}`);
    expect(e!.c.stats().errors).toBe(3);
  });

  it('test_vaddr_flag_unknown_before_v5_12', () => {
    const va = env('v5.4');
    expect(failure(() => e!.c.mapDma({ vaddr: va, iova: 0n, size: K4, flags: RW | VFIO_DMA_MAP_FLAG_VADDR }))).toBe(
      `EINVAL: unknown flags 0x7, ${MAP}`,
    );
  });

  // [flags, vaddr offset, iova, size] -> message; v5.4 checks prot first, then size, alignment, wrap
  it('test_v5_4_order', () => {
    const va = env('v5.4');
    const m = (flags: number, iova: bigint, size: bigint, vaddr = va) => failure(() => e!.c.mapDma({ vaddr, iova, size, flags }));
    expect(m(0, 0n, 0n)).toBe(`EINVAL: neither READ nor WRITE, ${MAP}`);
    expect(m(1, 0n, 0n)).toBe(`EINVAL: size is 0, ${MAP}`);
    expect(m(2, 0x800n, K4)).toBe(`EINVAL: size/iova/vaddr not aligned to 0x1000, ${MAP}`);
    expect(m(RW, 0n, K4 + 1n)).toBe(`EINVAL: size/iova/vaddr not aligned to 0x1000, ${MAP}`);
    expect(m(RW, 0n, K4, va + 8n)).toBe(`EINVAL: size/iova/vaddr not aligned to 0x1000, ${MAP}`);
    // misaligned and wrapping: the alignment is reported, it is checked first in this era
    expect(m(RW, TOP - K4 + 1n, 2n * K4)).toBe(`EINVAL: size/iova/vaddr not aligned to 0x1000, ${MAP}`);
    expect(m(RW, TOP - K4, 2n * K4)).toBe(`EINVAL: iova 0xfffffffffffff000 or vaddr 0x${va.toString(16)} + size 0x2000 wraps, ${MAP}`);
    expect(m(RW, 0n, 2n * K4, TOP - K4)).toBe(`EINVAL: iova 0x0 or vaddr 0xfffffffffffff000 + size 0x2000 wraps, ${MAP}`);
  });

  it('test_v6_18_order', () => {
    const va = env('v6.18');
    const m = (flags: number, iova: bigint, size: bigint, vaddr = va) => failure(() => e!.c.mapDma({ vaddr, iova, size, flags }));
    expect(m(0, 0n, 0n)).toBe(`EINVAL: size is 0, ${MAP}`);
    // a wrap is EOVERFLOW now, and is checked before the flags and the alignment
    expect(m(0, TOP - K4 + 1n, 2n * K4)).toBe(
      `EOVERFLOW: iova 0xfffffffffffff001 or vaddr 0x${va.toString(16)} + size 0x2000 wraps, ${MAP}`,
    );
    expect(m(0, 0n, K4)).toBe(`EINVAL: need READ and/or WRITE, or VADDR alone, ${MAP}`);
    expect(m(RW | VFIO_DMA_MAP_FLAG_VADDR, 0n, K4)).toBe(`EINVAL: need READ and/or WRITE, or VADDR alone, ${MAP}`);
    expect(m(1, 0x800n, K4)).toBe(`EINVAL: size/iova/vaddr not aligned to 0x1000, ${MAP}`);
    expect(e!.c.stats().errors).toBe(5);
  });

  it('test_vaddr_update_errors', () => {
    const va = env('mainline');
    const upd = (iova: bigint, size: bigint) => failure(() => e!.c.mapDma({ vaddr: va, iova, size, flags: VFIO_DMA_MAP_FLAG_VADDR }));
    expect(upd(0n, K4)).toBe(`ENOENT: VADDR: no mapping at iova, ${MAP}`);
    e!.c.mapDma({ vaddr: va, iova: 0n, size: 2n * K4, flags: RW });
    // the mapping is there but its vaddr was not invalidated
    expect(upd(0n, 2n * K4)).toBe(`EINVAL: VADDR: range must match one invalidated mapping, ${MAP}`);
    e!.c.unmapDma({ iova: 0n, size: 2n * K4, flags: VFIO_DMA_UNMAP_FLAG_VADDR });
    // invalidated, but the range must be exactly the mapping's
    expect(upd(0n, K4)).toBe(`EINVAL: VADDR: range must match one invalidated mapping, ${MAP}`);
    expect(upd(K4, K4)).toBe(`EINVAL: VADDR: range must match one invalidated mapping, ${MAP}`);
    // the right size at another iova that overlaps it is not the mapping either
    expect(upd(K4, 2n * K4)).toBe(`EINVAL: VADDR: range must match one invalidated mapping, ${MAP}`);
    e!.c.mapDma({ vaddr: va + M2, iova: 0n, size: 2n * K4, flags: VFIO_DMA_MAP_FLAG_VADDR });
    expect(e!.c.mappings()[0]!.vaddr).toBe(va + M2);
    expect(e!.c.iommu!.vaddrInvalidCount).toBe(0);
    // the update made the vaddr valid again: a second update has nothing invalidated to match
    expect(upd(0n, 2n * K4)).toBe(`EINVAL: VADDR: range must match one invalidated mapping, ${MAP}`);
    expect(e!.c.iommu!.dmas.list.map((d) => [d.vaddrInvalid, d.iommuMapped])).toEqual([[false, true]]);
  });

  it('test_overlap_limit_and_iova_range', () => {
    const va = env('mainline', { dmaEntryLimit: 2 });
    e!.c.mapDma({ vaddr: va, iova: 0x200000n, size: M2, flags: RW });
    expect(failure(() => e!.c.mapDma({ vaddr: va, iova: 0x3ff000n, size: 2n * K4, flags: RW }))).toBe(
      `EEXIST: overlaps the mapping at iova 0x200000, ${MAP}`,
    );
    // the x86 MSI window is reserved: outside every valid IOVA range
    expect(failure(() => e!.c.mapDma({ vaddr: va, iova: 0xfee00000n, size: K4, flags: RW }))).toBe(
      `EINVAL: [0xfee00000, 0xfee00fff] is not inside one valid IOVA range, ${MAP}`,
    );
    e!.c.mapDma({ vaddr: va + M2, iova: 0x400000n, size: K4, flags: RW });
    expect(failure(() => e!.c.mapDma({ vaddr: va + 2n * M2, iova: 0x800000n, size: K4, flags: RW }))).toBe(
      `ENOSPC: dma_entry_limit reached, ${MAP}`,
    );
    expect(e!.c.dmaAvail).toBe(0);
  });

  it('test_iova_range_edges', () => {
    // the last page below the MSI window and the first page above it are valid IOVA
    const va = env('mainline');
    e!.c.mapDma({ vaddr: va, iova: 0xfedff000n, size: K4, flags: RW });
    e!.c.mapDma({ vaddr: va + K4, iova: 0xfef00000n, size: K4, flags: RW });
    expect(failure(() => e!.c.mapDma({ vaddr: va + 2n * K4, iova: 0xfedff000n + K4, size: K4, flags: RW }))).toBe(
      `EINVAL: [0xfee00000, 0xfee00fff] is not inside one valid IOVA range, ${MAP}`,
    );
    expect(failure(() => e!.c.mapDma({ vaddr: va + 2n * K4, iova: 0xfedff000n, size: 2n * K4, flags: RW }))).toBe(
      `EEXIST: overlaps the mapping at iova 0xfedff000, ${MAP}`,
    );
    expect(failure(() => e!.c.mapDma({ vaddr: va + 2n * K4, iova: 0xfedfe000n, size: 2n * K4, flags: RW }))).toBe(
      `EEXIST: overlaps the mapping at iova 0xfedff000, ${MAP}`,
    );
    expect(e!.c.mappings().map((m) => m.iova)).toEqual([0xfedff000n, 0xfef00000n]);
  });
});

describe('UNMAP_DMA errors', () => {
  it('test_struct_and_flag_errors', () => {
    env('mainline');
    const u = encodeDmaUnmap({ iova: 0n, size: K4 });
    expect(failure(raw(VFIO_IOMMU_UNMAP_DMA, u.subarray(0, 23)))).toBe(
      `EFAULT: copy_from_user of 24 bytes from a 23-byte buffer, ${UNMAP}`,
    );
    expect(failure(raw(VFIO_IOMMU_UNMAP_DMA, encodeDmaUnmap({ argsz: 23, iova: 0n, size: K4 })))).toBe(
      `EINVAL: argsz 23 < minsz 24, ${UNMAP}`,
    );
    expect(failure(() => e!.c.unmapDma({ iova: 0n, size: K4, flags: 8 }))).toBe(`EINVAL: unknown flags 0x8, ${UNMAP}`);
    const dirty = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    for (const f of [dirty | VFIO_DMA_UNMAP_FLAG_ALL, dirty | VFIO_DMA_UNMAP_FLAG_VADDR]) {
      expect(failure(() => e!.c.unmapDma({ iova: 0n, size: 0n, flags: f }))).toBe(
        `EINVAL: GET_DIRTY_BITMAP cannot be combined with ALL or VADDR, ${UNMAP}`,
      );
    }
    expect(failure(() => e!.c.unmapDma({ iova: 0n, size: K4, flags: dirty }))).toBe(`EINVAL: argsz 24 < 48 with a dirty bitmap, ${UNMAP}`);
    // argsz claims the bitmap, the buffer does not hold it
    expect(failure(raw(VFIO_IOMMU_UNMAP_DMA, encodeDmaUnmap({ argsz: 48, iova: 0n, size: K4, flags: dirty })))).toBe(
      `EFAULT: copy_from_user of struct vfio_bitmap, ${UNMAP}`,
    );
    const bitmap = { pgsize: K4, size: 8n, data: 0x1000n };
    expect(failure(() => e!.c.unmapDma({ iova: 0n, size: K4, flags: dirty, bitmap }))).toBe(
      `EINVAL: dirty page tracking is not enabled, ${UNMAP}`,
    );
  });

  it('test_dirty_flag_unknown_before_v5_10', () => {
    env('v5.4');
    expect(failure(() => e!.c.unmapDma({ iova: 0n, size: K4, flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP }))).toBe(
      `EINVAL: unknown flags 0x1, ${UNMAP}`,
    );
  });

  it('test_range_errors', () => {
    env('mainline');
    const un = (iova: bigint, size: bigint, flags = 0) => failure(() => e!.c.unmapDma({ iova, size, flags }));
    expect(un(0x1800n, K4)).toBe(`EINVAL: iova 0x1800 not aligned to 0x1000, ${UNMAP}`);
    expect(un(K4, 0n, VFIO_DMA_UNMAP_FLAG_ALL)).toBe(`EINVAL: UNMAP_ALL needs iova and size 0, ${UNMAP}`);
    expect(un(0n, K4, VFIO_DMA_UNMAP_FLAG_ALL)).toBe(`EINVAL: UNMAP_ALL needs iova and size 0, ${UNMAP}`);
    expect(un(0n, 0n)).toBe(`EINVAL: size 0x0 is 0 or not aligned to 0x1000, ${UNMAP}`);
    expect(un(0n, K4 + 8n)).toBe(`EINVAL: size 0x1008 is 0 or not aligned to 0x1000, ${UNMAP}`);
    expect(un(TOP - K4, 2n * K4)).toBe(`EOVERFLOW: iova 0xfffffffffffff000 + size 0x2000 wraps, ${UNMAP}`);
    // a range that ends exactly at 2^64 does not wrap
    expect(e!.c.unmapDma({ iova: TOP - K4, size: K4 })).toEqual({ size: 0n });
  });

  it('test_v2_bisection', () => {
    const va = env('mainline');
    e!.c.mapDma({ vaddr: va, iova: 0x200000n, size: 4n * K4, flags: RW });
    expect(failure(() => e!.c.unmapDma({ iova: 0x201000n, size: 8n * K4 }))).toBe(
      `EINVAL: v2: iova 0x201000 bisects the mapping at 0x200000, ${UNMAP}`,
    );
    expect(failure(() => e!.c.unmapDma({ iova: 0x1ff000n, size: 2n * K4 }))).toBe(
      `EINVAL: v2: the range end bisects the mapping at 0x200000, ${UNMAP}`,
    );
    expect(e!.c.mappings().length).toBe(1);
    expect(e!.c.unmapDma({ iova: 0x1ff000n, size: 6n * K4 })).toEqual({ size: 4n * K4 });
  });

  it('test_vaddr_invalidate_twice_rolls_back', () => {
    const va = env('mainline');
    e!.c.mapDma({ vaddr: va, iova: 0n, size: K4, flags: RW });
    e!.c.mapDma({ vaddr: va + K4, iova: K4, size: K4, flags: RW });
    e!.c.unmapDma({ iova: K4, size: K4, flags: VFIO_DMA_UNMAP_FLAG_VADDR });
    expect(e!.c.iommu!.vaddrInvalidCount).toBe(1);
    // the first dma is invalidated, then the second already was: the first is restored
    expect(failure(() => e!.c.unmapDma({ iova: 0n, size: 2n * K4, flags: VFIO_DMA_UNMAP_FLAG_VADDR }))).toBe(
      `EINVAL: VADDR: mapping already invalidated, ${UNMAP}`,
    );
    expect(e!.c.iommu!.vaddrInvalidCount).toBe(1);
    expect(e!.c.iommu!.dmas.list.map((d) => d.vaddrInvalid)).toEqual([false, true]);
    e!.c.mapDma({ vaddr: va + K4, iova: K4, size: K4, flags: VFIO_DMA_MAP_FLAG_VADDR });
  });
});

describe('GET_INFO errors', () => {
  it.each<Profile>(['v4.17', 'mainline'])('test_get_info_errors %s', (profile) => {
    env(profile);
    expect(failure(raw(VFIO_IOMMU_GET_INFO, encodeInfoRequest(16).subarray(0, 15)))).toBe(
      `EFAULT: copy_from_user of 16 bytes from a 15-byte buffer, ${INFO}`,
    );
    expect(failure(raw(VFIO_IOMMU_GET_INFO, encodeInfoRequest(15, 16)))).toBe(`EINVAL: argsz 15 < minsz 16, ${INFO}`);
  });

  it('test_get_info_copy_to_user_beyond_the_buffer', () => {
    env('mainline');
    // argsz 24 asks for the whole base struct back: a 16-byte buffer cannot take it
    expect(failure(raw(VFIO_IOMMU_GET_INFO, encodeInfoRequest(24, 16)))).toBe(`EFAULT: copy_to_user beyond the buffer, ${INFO}`);
    // argsz large enough for the chain, buffer only the base struct
    expect(failure(raw(VFIO_IOMMU_GET_INFO, encodeInfoRequest(4096, 24)))).toBe(`EFAULT: copy_to_user beyond the buffer, ${INFO}`);
    // argsz 16: the first 16 bytes only, into a 16-byte buffer
    const b = encodeInfoRequest(16);
    expect(e!.c.ioctl(VFIO_IOMMU_GET_INFO, b)).toBe(0);
    expect(new DataView(b.buffer).getUint32(4, true)).toBe(3);
  });
});
