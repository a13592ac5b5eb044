// Bad-input matrix: table-driven cases over MAP_DMA / UNMAP_DMA / GET_INFO / SET_IOMMU /
// CHECK_EXTENSION and unknown ioctl numbers, through the typed methods and raw c.ioctl(cmd, bytes),
// run in every profile. Each row asserts the kernel's errno (or return value) for that era and an
// unchanged state snapshot. The same rows render the "Bad-input matrix" table of the README
// (test_readme_table_matches; regenerate with BAD_INPUT_WRITE_README=1).
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_GET_API_VERSION,
  VFIO_GROUP_GET_STATUS,
  VFIO_IOMMU_DISABLE,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  encodeDmaMap,
  encodeDmaUnmap,
  encodeInfoRequest,
  type Profile,
} from '../src/index.js';
import { K4, M2, RW, makeEnv, snapshot, type Env, type EnvOpts } from './helpers.js';

const PROFILES: Profile[] = ['v4.16', 'v4.17', 'mainline'];
const TOP = 1n << 64n;
const ERRNO: Record<string, number> = {
  EPERM: -1,
  ENOENT: -2,
  EIO: -5,
  EBADF: -9,
  ENOMEM: -12,
  EFAULT: -14,
  EBUSY: -16,
  EEXIST: -17,
  ENODEV: -19,
  EINVAL: -22,
  ENOTTY: -25,
  ENOSPC: -28,
  ERANGE: -34,
  EOVERFLOW: -75,
};
const SYSCALL: Record<string, string> = {
  MAP: 'VFIO_IOMMU_MAP_DMA',
  UNMAP: 'VFIO_IOMMU_UNMAP_DMA',
  INFO: 'VFIO_IOMMU_GET_INFO',
  SET: 'VFIO_SET_IOMMU',
  EXT: 'VFIO_CHECK_EXTENSION',
};

/** State every case starts from: dma A = [0x100000, 0x300000) from a THP VMA; a free VMA tail; an MMIO BAR. */
interface Ctx {
  va: bigint;
  mmio: bigint;
}
/** An errno name, or `=n`: the call returns n (and, for UNMAP, writes size n back). */
type Want = string;
interface Case {
  ioctl: 'MAP' | 'UNMAP' | 'INFO' | 'SET' | 'EXT' | 'RAW';
  via: 'typed' | 'raw';
  what: string;
  want: Want | (Partial<Record<Profile, Want>> & { default?: Want });
  env?: EnvOpts & { noGroup?: boolean; closed?: boolean };
  /** Profiles the case applies to (default all). */
  only?: Profile[];
  /** syscall name in the error (default from ioctl). */
  syscall?: string;
  // biome-ignore lint/suspicious/noConfusingVoidType: a case may call a method that returns nothing
  run(e: Env, x: Ctx): number | bigint | void;
}

const FREE_IOVA = 0x40000000n;
const A_IOVA = 0x100000n;
const map = (e: Env, vaddr: bigint, iova: bigint, size: bigint, flags = RW): void => e.c.mapDma({ vaddr, iova, size, flags });
const rawMap = (e: Env, f: { argsz?: number; flags?: number; vaddr: bigint; iova: bigint; size: bigint }, len = 32): number =>
  e.c.ioctl(VFIO_IOMMU_MAP_DMA, encodeDmaMap({ flags: RW, ...f }).subarray(0, len));
const unmap = (e: Env, iova: bigint, size: bigint, flags = 0): bigint => e.c.unmapDma({ iova, size, flags }).size;
const rawUnmap = (e: Env, f: { argsz?: number; flags?: number; iova: bigint; size: bigint }, len = 24): bigint => {
  const b = encodeDmaUnmap(f);
  const r = e.c.ioctl(VFIO_IOMMU_UNMAP_DMA, b.subarray(0, len));
  expect(r).toBe(0);
  return new DataView(b.buffer).getBigUint64(16, true);
};
const rawInfo = (e: Env, argsz: number, len: number): number => e.c.ioctl(VFIO_IOMMU_GET_INFO, encodeInfoRequest(argsz, len));

const wrapErr = { 'v4.16': 'EINVAL', 'v4.17': 'EINVAL', mainline: 'EOVERFLOW' } as const;
const v4Mainline = (v4: Want, ml: Want) => ({ 'v4.16': v4, 'v4.17': v4, mainline: ml });

export const CASES: Case[] = [
  // ---- MAP_DMA: argsz and buffer
  {
    ioctl: 'MAP',
    via: 'raw',
    what: 'argsz 0',
    want: 'EINVAL',
    run: (e, x) => rawMap(e, { argsz: 0, vaddr: x.va + M2, iova: FREE_IOVA, size: K4 }),
  },
  {
    ioctl: 'MAP',
    via: 'raw',
    what: 'argsz 31 (< minsz 32)',
    want: 'EINVAL',
    run: (e, x) => rawMap(e, { argsz: 31, vaddr: x.va + M2, iova: FREE_IOVA, size: K4 }),
  },
  {
    ioctl: 'MAP',
    via: 'raw',
    what: 'argsz 0xffffffff is not an error (no upper bound): overlap decides',
    want: 'EEXIST',
    run: (e, x) => rawMap(e, { argsz: 0xffffffff, vaddr: x.va + M2, iova: A_IOVA, size: K4 }),
  },
  {
    ioctl: 'MAP',
    via: 'raw',
    what: 'buffer 31 bytes (copy_from_user faults)',
    want: 'EFAULT',
    run: (e, x) => rawMap(e, { vaddr: x.va + M2, iova: FREE_IOVA, size: K4 }, 31),
  },
  {
    ioctl: 'MAP',
    via: 'raw',
    what: 'buffer 0 bytes',
    want: 'EFAULT',
    run: (e, x) => rawMap(e, { vaddr: x.va + M2, iova: FREE_IOVA, size: K4 }, 0),
  },
  // ---- MAP_DMA: flags
  { ioctl: 'MAP', via: 'typed', what: 'flags 0 (no READ/WRITE)', want: 'EINVAL', run: (e, x) => map(e, x.va + M2, FREE_IOVA, K4, 0) },
  { ioctl: 'MAP', via: 'typed', what: 'unknown flag 0x8', want: 'EINVAL', run: (e, x) => map(e, x.va + M2, FREE_IOVA, K4, RW | 8) },
  {
    ioctl: 'MAP',
    via: 'raw',
    what: 'unknown flag 0x80000000',
    want: 'EINVAL',
    run: (e, x) => rawMap(e, { flags: RW | 0x80000000, vaddr: x.va + M2, iova: FREE_IOVA, size: K4 }),
  },
  { ioctl: 'MAP', via: 'typed', what: 'VADDR with READ|WRITE', want: 'EINVAL', run: (e, x) => map(e, x.va + M2, FREE_IOVA, K4, RW | 4) },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'VADDR alone, nothing mapped there',
    want: v4Mainline('EINVAL', 'ENOENT'),
    run: (e, x) => map(e, x.va + M2, FREE_IOVA, K4, 4),
  },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'VADDR alone on a dma whose vaddr is valid',
    want: 'EINVAL',
    run: (e, x) => map(e, x.va, A_IOVA, M2, 4),
  },
  { ioctl: 'MAP', via: 'typed', what: 'WRITE only, size 0', want: 'EINVAL', run: (e, x) => map(e, x.va + M2, FREE_IOVA, 0n, 2) },
  // ---- MAP_DMA: sizes and alignment
  { ioctl: 'MAP', via: 'typed', what: 'size 0', want: 'EINVAL', run: (e, x) => map(e, x.va + M2, FREE_IOVA, 0n) },
  { ioctl: 'MAP', via: 'typed', what: 'size 0 and flags 0', want: 'EINVAL', run: (e, x) => map(e, x.va + M2, FREE_IOVA, 0n, 0) },
  { ioctl: 'MAP', via: 'typed', what: 'size 0x800', want: 'EINVAL', run: (e, x) => map(e, x.va + M2, FREE_IOVA, 0x800n) },
  { ioctl: 'MAP', via: 'typed', what: 'size 4K+1', want: 'EINVAL', run: (e, x) => map(e, x.va + M2, FREE_IOVA, K4 + 1n) },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'iova 0x40000800 (unaligned)',
    want: 'EINVAL',
    run: (e, x) => map(e, x.va + M2, FREE_IOVA + 0x800n, K4),
  },
  { ioctl: 'MAP', via: 'raw', what: 'iova 1', want: 'EINVAL', run: (e, x) => rawMap(e, { vaddr: x.va + M2, iova: 1n, size: K4 }) },
  { ioctl: 'MAP', via: 'typed', what: 'vaddr +0x10 (unaligned)', want: 'EINVAL', run: (e, x) => map(e, x.va + M2 + 0x10n, FREE_IOVA, K4) },
  // ---- MAP_DMA: near 2^64
  { ioctl: 'MAP', via: 'typed', what: 'iova 2^64-4K, size 8K (wraps)', want: wrapErr, run: (e, x) => map(e, x.va + M2, TOP - K4, 2n * K4) },
  {
    ioctl: 'MAP',
    via: 'raw',
    what: 'vaddr 2^64-4K, size 8K (wraps)',
    want: wrapErr,
    run: (e) => rawMap(e, { vaddr: TOP - K4, iova: FREE_IOVA, size: 2n * K4 }),
  },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'iova 2^64-0x800, size 4K (wraps and unaligned: order decides)',
    want: wrapErr,
    run: (e, x) => map(e, x.va + M2, TOP - 0x800n, K4),
  },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'iova 0x1000, vaddr 0, size 2^64-4K (ends at 2^64-1, no wrap; overlaps A)',
    want: 'EEXIST',
    run: (e) => map(e, 0n, K4, TOP - K4),
  },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'iova 0x1000, size 2^64-4K from the VMA (vaddr wraps)',
    want: wrapErr,
    run: (e, x) => map(e, x.va, K4, TOP - K4),
  },
  { ioctl: 'MAP', via: 'typed', what: 'iova 0, size 2^63 (overlaps A)', want: 'EEXIST', run: (e, x) => map(e, x.va, 0n, 1n << 63n) },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'iova 2^64-4K, size 4K (last page: 4.x the driver refuses it, 5.4+ outside iova_list)',
    want: v4Mainline('EFAULT', 'EINVAL'),
    run: (e, x) => map(e, x.va + M2, TOP - K4, K4),
  },
  { ioctl: 'MAP', via: 'typed', what: 'vaddr 2^64-4K, size 4K (no VMA)', want: 'EFAULT', run: (e) => map(e, TOP - K4, FREE_IOVA, K4) },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'iova 2^48 (above the 48-bit aperture)',
    want: v4Mainline('EFAULT', 'EINVAL'),
    run: (e, x) => map(e, x.va + M2, 1n << 48n, K4),
  },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'iova 2^48-4K, size 8K (crosses the aperture end)',
    want: v4Mainline('EFAULT', 'EINVAL'),
    run: (e, x) => map(e, x.va + M2, (1n << 48n) - K4, 2n * K4),
  },
  // ---- MAP_DMA: overlaps
  { ioctl: 'MAP', via: 'typed', what: 'same range as A', want: 'EEXIST', run: (e, x) => map(e, x.va + M2, A_IOVA, M2) },
  { ioctl: 'MAP', via: 'typed', what: "overlaps A's first page from below", want: 'EEXIST', run: (e, x) => map(e, x.va + M2, 0n, M2) },
  { ioctl: 'MAP', via: 'typed', what: 'inside A', want: 'EEXIST', run: (e, x) => map(e, x.va + M2, A_IOVA + K4, K4) },
  { ioctl: 'MAP', via: 'typed', what: 'contains A', want: 'EEXIST', run: (e, x) => map(e, x.va, 0n, 4n * M2) },
  { ioctl: 'MAP', via: 'typed', what: "A's last page", want: 'EEXIST', run: (e, x) => map(e, x.va + M2, A_IOVA + M2 - K4, K4) },
  // ---- MAP_DMA: vaddr
  { ioctl: 'MAP', via: 'typed', what: 'vaddr 0x1000 (unmapped)', want: 'EFAULT', run: (e) => map(e, K4, FREE_IOVA, K4) },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'vaddr runs 4K past the VMA end (partial pin undone)',
    want: 'EFAULT',
    run: (e, x) => map(e, x.va + 8n * M2 - K4, FREE_IOVA, 2n * K4),
  },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'MMIO vaddr runs past the BAR end',
    want: 'EFAULT',
    run: (e, x) => map(e, x.mmio + M2 - K4, FREE_IOVA, 2n * K4),
  },
  {
    ioctl: 'MAP',
    via: 'raw',
    what: "MMIO BAR over A's IOVA",
    want: 'EEXIST',
    run: (e, x) => rawMap(e, { vaddr: x.mmio, iova: A_IOVA, size: K4 }),
  },
  // ---- MAP_DMA: limits and reserved ranges
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'x86 MSI window 0xfee00000',
    only: ['mainline'],
    want: 'EINVAL',
    run: (e, x) => map(e, x.va + M2, 0xfee00000n, K4),
  },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'RLIMIT_MEMLOCK (2 MiB, A holds it all)',
    env: { memlockLimit: M2 },
    want: 'ENOMEM',
    run: (e, x) => map(e, x.va + M2, FREE_IOVA, K4),
  },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: "MMIO BAR at A's IOVA under a full RLIMIT_MEMLOCK",
    env: { memlockLimit: M2 },
    want: 'EEXIST',
    run: (e, x) => map(e, x.mmio, A_IOVA, K4),
  },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'dma_entry_limit 1 reached',
    only: ['mainline'],
    env: { dmaEntryLimit: 1 },
    want: 'ENOSPC',
    run: (e, x) => map(e, x.va + M2, FREE_IOVA, K4),
  },
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'dma_entry_limit 1 and overlap: EEXIST first',
    only: ['mainline'],
    env: { dmaEntryLimit: 1 },
    want: 'EEXIST',
    run: (e, x) => map(e, x.va + M2, A_IOVA, K4),
  },
  // ---- MAP_DMA: container state
  {
    ioctl: 'MAP',
    via: 'typed',
    what: 'before SET_IOMMU',
    env: { noSet: true },
    want: 'EINVAL',
    run: (e, x) => map(e, x.va + M2, FREE_IOVA, K4),
  },
  {
    ioctl: 'MAP',
    via: 'raw',
    what: 'container fd closed',
    env: { closed: true },
    want: 'EBADF',
    run: (e, x) => rawMap(e, { vaddr: x.va + M2, iova: FREE_IOVA, size: K4 }),
  },
  { ioctl: 'MAP', via: 'raw', what: 'argument is an integer, not a buffer', want: 'EFAULT', run: (e) => e.c.ioctl(VFIO_IOMMU_MAP_DMA, 0) },

  // ---- UNMAP_DMA
  {
    ioctl: 'UNMAP',
    via: 'raw',
    what: 'argsz 23 (< minsz 24)',
    want: 'EINVAL',
    run: (e) => rawUnmap(e, { argsz: 23, iova: A_IOVA, size: M2 }),
  },
  { ioctl: 'UNMAP', via: 'raw', what: 'buffer 16 bytes', want: 'EFAULT', run: (e) => rawUnmap(e, { iova: A_IOVA, size: M2 }, 16) },
  {
    ioctl: 'UNMAP',
    via: 'raw',
    what: 'argsz 0xffffffff, nothing mapped in range',
    want: '=0',
    run: (e) => rawUnmap(e, { argsz: 0xffffffff, iova: FREE_IOVA, size: K4 }),
  },
  { ioctl: 'UNMAP', via: 'typed', what: 'flags 0x8 (unknown)', want: 'EINVAL', run: (e) => unmap(e, A_IOVA, M2, 8) },
  { ioctl: 'UNMAP', via: 'typed', what: 'GET_DIRTY_BITMAP with argsz 24', want: 'EINVAL', run: (e) => unmap(e, A_IOVA, M2, 1) },
  {
    ioctl: 'UNMAP',
    via: 'raw',
    what: 'GET_DIRTY_BITMAP, argsz 48, tracking off',
    want: 'EINVAL',
    run: (e) =>
      e.c.ioctl(
        VFIO_IOMMU_UNMAP_DMA,
        encodeDmaUnmap({ iova: A_IOVA, size: M2, flags: 1, bitmap: { pgsize: K4, size: 64n, data: 0x1000n } }),
      ),
  },
  { ioctl: 'UNMAP', via: 'typed', what: 'ALL with iova 0x100000', want: 'EINVAL', run: (e) => unmap(e, A_IOVA, 0n, 2) },
  { ioctl: 'UNMAP', via: 'typed', what: 'ALL with size 2 MiB', want: 'EINVAL', run: (e) => unmap(e, 0n, M2, 2) },
  { ioctl: 'UNMAP', via: 'typed', what: 'ALL | GET_DIRTY_BITMAP', want: 'EINVAL', run: (e) => unmap(e, 0n, 0n, 3) },
  {
    ioctl: 'UNMAP',
    via: 'typed',
    what: 'VADDR, nothing mapped in range',
    want: v4Mainline('EINVAL', '=0'),
    run: (e) => unmap(e, FREE_IOVA, K4, 4),
  },
  { ioctl: 'UNMAP', via: 'typed', what: 'iova 0x100800 (unaligned)', want: 'EINVAL', run: (e) => unmap(e, A_IOVA + 0x800n, M2) },
  { ioctl: 'UNMAP', via: 'typed', what: 'size 0', want: 'EINVAL', run: (e) => unmap(e, A_IOVA, 0n) },
  { ioctl: 'UNMAP', via: 'typed', what: 'size 0x800', want: 'EINVAL', run: (e) => unmap(e, A_IOVA, 0x800n) },
  { ioctl: 'UNMAP', via: 'typed', what: 'unaligned iova and size 0', want: 'EINVAL', run: (e) => unmap(e, 1n, 0n) },
  { ioctl: 'UNMAP', via: 'typed', what: 'iova 2^64-4K, size 8K (wraps)', want: wrapErr, run: (e) => unmap(e, TOP - K4, 2n * K4) },
  {
    ioctl: 'UNMAP',
    via: 'typed',
    what: 'iova 2^64-4K, size 4K (ends exactly at 2^64)',
    want: v4Mainline('EINVAL', '=0'),
    run: (e) => unmap(e, TOP - K4, K4),
  },
  {
    ioctl: 'UNMAP',
    via: 'raw',
    what: 'iova 2^63, size 2^62 (huge, nothing mapped)',
    want: '=0',
    run: (e) => rawUnmap(e, { iova: 1n << 63n, size: 1n << 62n }),
  },
  { ioctl: 'UNMAP', via: 'typed', what: 'v2: starts inside A', want: 'EINVAL', run: (e) => unmap(e, A_IOVA + K4, M2) },
  { ioctl: 'UNMAP', via: 'typed', what: 'v2: ends inside A', want: 'EINVAL', run: (e) => unmap(e, A_IOVA, K4) },
  { ioctl: 'UNMAP', via: 'typed', what: 'v2: from 2 MiB to 2^64-1, bisects A', want: 'EINVAL', run: (e) => unmap(e, M2, TOP - M2) },
  {
    ioctl: 'UNMAP',
    via: 'typed',
    what: 'v1: starts inside A (removes nothing)',
    env: { v1: true },
    want: '=0',
    run: (e) => unmap(e, A_IOVA + K4, K4),
  },
  { ioctl: 'UNMAP', via: 'typed', what: 'nothing mapped in range', want: '=0', run: (e) => unmap(e, FREE_IOVA, M2) },
  { ioctl: 'UNMAP', via: 'typed', what: 'range just below A', want: '=0', run: (e) => unmap(e, 0n, A_IOVA) },
  { ioctl: 'UNMAP', via: 'typed', what: 'before SET_IOMMU', env: { noSet: true }, want: 'EINVAL', run: (e) => unmap(e, A_IOVA, M2) },
  {
    ioctl: 'UNMAP',
    via: 'raw',
    what: 'container fd closed',
    env: { closed: true },
    want: 'EBADF',
    run: (e) => rawUnmap(e, { iova: A_IOVA, size: M2 }),
  },

  // ---- GET_INFO
  { ioctl: 'INFO', via: 'raw', what: 'argsz 0', want: 'EINVAL', run: (e) => rawInfo(e, 0, 24) },
  { ioctl: 'INFO', via: 'raw', what: 'argsz 15 (< minsz 16)', want: 'EINVAL', run: (e) => rawInfo(e, 15, 24) },
  { ioctl: 'INFO', via: 'raw', what: 'buffer 8 bytes', want: 'EFAULT', run: (e) => rawInfo(e, 16, 8) },
  { ioctl: 'INFO', via: 'raw', what: 'argsz 16: too small for caps is not an error', want: '=0', run: (e) => rawInfo(e, 16, 16) },
  { ioctl: 'INFO', via: 'raw', what: 'argsz 24, buffer 20 bytes', want: v4Mainline('=0', 'EFAULT'), run: (e) => rawInfo(e, 24, 20) },
  {
    ioctl: 'INFO',
    via: 'raw',
    what: 'argsz 0xffffffff, buffer 24 bytes (caps copied past the buffer)',
    want: v4Mainline('=0', 'EFAULT'),
    run: (e) => rawInfo(e, 0xffffffff, 24),
  },
  {
    ioctl: 'INFO',
    via: 'typed',
    what: 'before SET_IOMMU',
    env: { noSet: true },
    want: 'EINVAL',
    run: (e) => {
      e.c.getInfo();
    },
  },
  { ioctl: 'INFO', via: 'raw', what: 'container fd closed', env: { closed: true }, want: 'EBADF', run: (e) => rawInfo(e, 24, 24) },

  // ---- SET_IOMMU
  { ioctl: 'SET', via: 'typed', what: 'type1v2 when already set', want: 'EINVAL', run: (e) => e.c.setIommu(VFIO_TYPE1v2_IOMMU) },
  { ioctl: 'SET', via: 'raw', what: 'type1 when already set', want: 'EINVAL', run: (e) => e.c.ioctl(VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) },
  {
    ioctl: 'SET',
    via: 'typed',
    what: 'no group in the container',
    env: { noSet: true, noGroup: true },
    want: 'EINVAL',
    run: (e) => e.c.setIommu(VFIO_TYPE1v2_IOMMU),
  },
  { ioctl: 'SET', via: 'typed', what: 'type 0', env: { noSet: true }, want: 'ENODEV', run: (e) => e.c.setIommu(0) },
  { ioctl: 'SET', via: 'typed', what: 'SPAPR_TCE (2)', env: { noSet: true }, want: 'ENODEV', run: (e) => e.c.setIommu(2) },
  { ioctl: 'SET', via: 'raw', what: 'NOIOMMU (8)', env: { noSet: true }, want: 'ENODEV', run: (e) => e.c.ioctl(VFIO_SET_IOMMU, 8) },
  {
    ioctl: 'SET',
    via: 'raw',
    what: 'type 0xffffffff',
    env: { noSet: true },
    want: 'ENODEV',
    run: (e) => e.c.ioctl(VFIO_SET_IOMMU, 0xffffffff),
  },
  {
    ioctl: 'SET',
    via: 'raw',
    what: 'NESTING (6)',
    env: { noSet: true },
    only: ['mainline'],
    want: 'ENODEV',
    run: (e) => e.c.ioctl(VFIO_SET_IOMMU, 6),
  },
  {
    ioctl: 'SET',
    via: 'raw',
    what: 'UNMAP_ALL (9) is an extension, not a type',
    env: { noSet: true },
    only: ['v4.16', 'v4.17'],
    want: 'ENODEV',
    run: (e) => e.c.ioctl(VFIO_SET_IOMMU, 9),
  },
  {
    ioctl: 'SET',
    via: 'typed',
    what: 'container fd closed',
    env: { closed: true, noSet: true },
    want: 'EBADF',
    run: (e) => e.c.setIommu(VFIO_TYPE1v2_IOMMU),
  },

  // ---- CHECK_EXTENSION (answers, never errors, on an open fd)
  { ioctl: 'EXT', via: 'typed', what: 'extension 0', want: '=0', run: (e) => e.c.checkExtension(0) },
  { ioctl: 'EXT', via: 'typed', what: 'SPAPR_TCE (2)', want: '=0', run: (e) => e.c.checkExtension(2) },
  { ioctl: 'EXT', via: 'raw', what: 'NESTING (6)', want: v4Mainline('=1', '=0'), run: (e) => e.c.ioctl(VFIO_CHECK_EXTENSION, 6) },
  { ioctl: 'EXT', via: 'raw', what: 'UNMAP_ALL (9)', want: v4Mainline('=0', '=1'), run: (e) => e.c.ioctl(VFIO_CHECK_EXTENSION, 9) },
  {
    ioctl: 'EXT',
    via: 'typed',
    what: 'UPDATE_VADDR (10) before SET_IOMMU',
    env: { noSet: true },
    want: '=0',
    run: (e) => e.c.checkExtension(10),
  },
  {
    ioctl: 'EXT',
    via: 'typed',
    what: 'DMA_CC_IOMMU (4) before SET_IOMMU',
    env: { noSet: true },
    want: '=0',
    run: (e) => e.c.checkExtension(4),
  },
  { ioctl: 'EXT', via: 'raw', what: 'extension 0xffffffff', want: '=0', run: (e) => e.c.ioctl(VFIO_CHECK_EXTENSION, 0xffffffff) },
  {
    ioctl: 'EXT',
    via: 'raw',
    what: 'argument is a buffer, not an integer',
    want: '=0',
    run: (e) => e.c.ioctl(VFIO_CHECK_EXTENSION, new Uint8Array(8)),
  },
  {
    ioctl: 'EXT',
    via: 'typed',
    what: 'container fd closed',
    env: { closed: true },
    want: 'EBADF',
    run: (e) => e.c.checkExtension(VFIO_TYPE1v2_IOMMU),
  },

  // ---- wrong ioctl numbers on the container fd
  {
    ioctl: 'RAW',
    via: 'raw',
    what: 'VFIO_IOMMU_ENABLE 0x3b73 (SPAPR only)',
    syscall: 'ioctl(0x3b73)',
    want: 'ENOTTY',
    run: (e) => e.c.ioctl(VFIO_IOMMU_ENABLE, new Uint8Array(8)),
  },
  {
    ioctl: 'RAW',
    via: 'raw',
    what: 'VFIO_IOMMU_DISABLE 0x3b74 (SPAPR only)',
    syscall: 'ioctl(0x3b74)',
    want: 'ENOTTY',
    run: (e) => e.c.ioctl(VFIO_IOMMU_DISABLE),
  },
  {
    ioctl: 'RAW',
    via: 'raw',
    what: 'VFIO_GROUP_GET_STATUS 0x3b67 (a group-fd ioctl)',
    syscall: 'ioctl(0x3b67)',
    want: 'ENOTTY',
    run: (e) => e.c.ioctl(VFIO_GROUP_GET_STATUS, new Uint8Array(8)),
  },
  {
    ioctl: 'RAW',
    via: 'raw',
    what: '0x3b71 with the _IOW size bits (0x40203b71)',
    syscall: 'ioctl(0x40203b71)',
    want: 'ENOTTY',
    run: (e, x) => e.c.ioctl(0x40203b71, encodeDmaMap({ vaddr: x.va + M2, iova: FREE_IOVA, size: K4, flags: RW })),
  },
  { ioctl: 'RAW', via: 'raw', what: 'ioctl 0', syscall: 'ioctl(0x0)', want: 'ENOTTY', run: (e) => e.c.ioctl(0) },
  {
    ioctl: 'RAW',
    via: 'raw',
    what: 'unknown ioctl before SET_IOMMU',
    env: { noSet: true },
    syscall: 'ioctl(0x3b73)',
    want: 'EINVAL',
    run: (e) => e.c.ioctl(VFIO_IOMMU_ENABLE),
  },
  {
    ioctl: 'RAW',
    via: 'raw',
    what: 'GET_API_VERSION with a stray buffer',
    want: '=0',
    run: (e) => e.c.ioctl(VFIO_GET_API_VERSION, new Uint8Array(32)),
  },
];

function wantFor(c: Case, p: Profile): Want | undefined {
  if (c.only !== undefined && !c.only.includes(p)) return undefined;
  if (typeof c.want === 'string') return c.want;
  return c.want[p] ?? c.want.default;
}

function setup(c: Case, profile: Profile): { e: Env; x: Ctx } {
  const o = c.env ?? {};
  const e = makeEnv({ ...o, profile, memory: 1n << 30n, noSet: o.noSet === true || o.noGroup === true });
  if (o.noGroup) {
    e.c.close();
    e.c = e.host.openContainer(e.proc, { profile });
  }
  const va = e.proc.mmap(8n * M2, { backing: 'thp' });
  const mmio = e.proc.mmap(M2, { backing: 'mmio' });
  if (!o.noSet && !o.noGroup) map(e, va, A_IOVA, M2);
  if (o.closed) e.c.close();
  return { e, x: { va, mmio } };
}

let cur: Env | undefined;
afterEach(() => {
  if (cur === undefined) return;
  if (!cur.c.closed) cur.c.close();
  expect(cur.sim.violations).toEqual([]);
  expect(cur.sim.mem.pinnedPages).toBe(0);
  expect(cur.proc.lockedVm).toBe(0);
  cur = undefined;
});

const rows = CASES.flatMap((c, i) =>
  PROFILES.filter((p) => wantFor(c, p) !== undefined).map(
    (p) => [`#${i + 1} ${c.ioctl} ${c.via}: ${c.what} profile=${p} -> ${wantFor(c, p)}`, c, p] as const,
  ),
);

describe('bad_input_matrix', () => {
  it('test_matrix_size', () => {
    expect(CASES.length).toBe(105);
    expect(rows.length).toBe(306);
  });

  it.each(rows)('test_bad_input %s', (_n, c, p) => {
    const { e, x } = setup(c, p);
    cur = e;
    const want = wantFor(c, p)!;
    const before = snapshot(e);
    let err: unknown = null,
      ret: unknown;
    try {
      ret = c.run(e, x);
    } catch (z) {
      err = z;
    }
    if (want.startsWith('=')) {
      expect(err).toBe(null);
      expect(Number(ret ?? 0)).toBe(Number(want.slice(1)));
    } else {
      expect(err).toMatchObject({ name: 'VfioError', code: want, errno: ERRNO[want], syscall: c.syscall ?? SYSCALL[c.ioctl] });
    }
    expect(snapshot(e)).toEqual(before);
  });
});

/** The README table: one row per case, the result per profile. */
export function renderTable(): string {
  const head = '| # | ioctl | via | input | v4.16 | v4.17 | mainline |\n|---|---|---|---|---|---|---|\n';
  const cell = (w: Want | undefined): string => (w === undefined ? 'n/a' : w.startsWith('=') ? `ok, ${w.slice(1)}` : w);
  return (
    head +
    CASES.map(
      (c, i) =>
        `| ${i + 1} | ${c.ioctl} | ${c.via} | ${c.what.replace(/\|/g, '\\|')} | ${PROFILES.map((p) => cell(wantFor(c, p))).join(' | ')} |`,
    ).join('\n') +
    '\n'
  );
}

it('test_readme_table_matches', () => {
  const path = new URL('../README.md', import.meta.url);
  const md = readFileSync(path, 'utf8');
  const start = md.indexOf('<!-- bad-input-matrix:begin -->'),
    end = md.indexOf('<!-- bad-input-matrix:end -->');
  const table = `<!-- bad-input-matrix:begin -->\n${renderTable()}<!-- bad-input-matrix:end -->`;
  if (process.env.BAD_INPUT_WRITE_README === '1' && start >= 0 && end > start) {
    writeFileSync(path, md.slice(0, start) + table + md.slice(end + '<!-- bad-input-matrix:end -->'.length));
    return;
  }
  expect(start).toBeGreaterThan(0);
  expect(md.slice(start, end + '<!-- bad-input-matrix:end -->'.length)).toBe(table);
});
