// Models the MAP_DMA, UNMAP_DMA and GET_INFO handlers of vfio_iommu_type1.c: vfio_iommu_type1_map_dma()
// and _unmap_dma() read the little-endian uapi struct and check argsz and flags, vfio_dma_do_map() and
// vfio_dma_do_unmap() check the range and do the work; each era's checks in its order with their
// errno (spec vfio-type1 §4, §6.0, §7, §13).

import { VfioDma } from './dma.js';
import { VfioError } from './errors.js';
import type { VfioIommu } from './iommu.js';
import { vfioPinMapDma } from './map.js';
import { histAdd } from './stats.js';
import {
  CapChain,
  DMA_MAP_MINSZ,
  DMA_UNMAP_BITMAP_MINSZ,
  DMA_UNMAP_MINSZ,
  DIRTY_BITMAP_SIZE_REPORTED,
  INFO_MINSZ,
  INFO_SIZE,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  decodeDmaMap,
  decodeDmaUnmap,
  writeUnmapSize,
  type DmaMap,
  type DmaUnmap,
} from './uapi.js';
import { IOMMU_READ, IOMMU_WRITE } from '@x/iommu-core';
import { vfioRemoveDma } from './unmap.js';

const U64_MAX = (1n << 64n) - 1n;
const MAP = 'VFIO_IOMMU_MAP_DMA',
  UNMAP = 'VFIO_IOMMU_UNMAP_DMA',
  INFO = 'VFIO_IOMMU_GET_INFO';
const hex = (v: bigint): string => `0x${v.toString(16)}`;
const page = (v: bigint): number => Number(v >> 12n);

/** An UNMAP_DMA argument as read from the user's struct (argsz and flags always there). */
type DmaUnmapArg = DmaUnmap & { argsz: number; flags: number };

/**
 * vfio_iommu_type1_map_dma(): reads struct vfio_iommu_type1_dma_map from b (EFAULT when shorter
 * than minsz), checks argsz and flags (EINVAL), then vfio_dma_do_map(). 0, or throws VfioError; a
 * pin/map failure returns -errno after a full unwind.
 */
export function vfioIommuType1MapDma(iommu: VfioIommu, b: Uint8Array): number {
  if (b.byteLength < DMA_MAP_MINSZ)
    throw new VfioError('EFAULT', MAP, `copy_from_user of ${DMA_MAP_MINSZ} bytes from a ${b.byteLength}-byte buffer`);
  const m = decodeDmaMap(b);
  if (m.argsz < DMA_MAP_MINSZ) throw new VfioError('EINVAL', MAP, `argsz ${m.argsz} < minsz ${DMA_MAP_MINSZ}`);
  if ((m.flags & ~iommu.spec.mapFlags) !== 0) throw new VfioError('EINVAL', MAP, `unknown flags 0x${m.flags.toString(16)}`);
  return vfioDmaDoMap(iommu, m);
}

/**
 * vfio_dma_do_map(): the range checks in the era's order (size, wrap, prot/VADDR, alignment, then
 * overlap EEXIST, dma_entry_limit ENOSPC, iova list EINVAL), then a VADDR update or a new dma pinned
 * and mapped (vfio_pin_map_dma). 0, or throws VfioError; -errno after a full unwind when pinning or
 * mapping fails.
 */
function vfioDmaDoMap(iommu: VfioIommu, m: DmaMap & { argsz: number }): number {
  const s = iommu.spec;
  const { iova, vaddr, size } = m;
  let prot = 0;
  if ((m.flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0) prot |= IOMMU_WRITE;
  if ((m.flags & VFIO_DMA_MAP_FLAG_READ) !== 0) prot |= IOMMU_READ;
  const vaddrOp = (m.flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0;
  const mask = iommu.minPgsize() - 1n;
  const wrap = iova + size - 1n > U64_MAX || vaddr + size - 1n > U64_MAX;
  if (s.overflowRework) {
    // 6.18 order: size, overflow (EOVERFLOW), prot/VADDR rule, alignment
    if (size === 0n) throw new VfioError('EINVAL', MAP, 'size is 0');
    if (wrap) throw new VfioError(s.wrapErrno, MAP, `iova ${hex(iova)} or vaddr ${hex(vaddr)} + size ${hex(size)} wraps`);
    if ((prot !== 0 && vaddrOp) || (prot === 0 && !vaddrOp)) throw new VfioError('EINVAL', MAP, 'need READ and/or WRITE, or VADDR alone');
    if (((size | iova | vaddr) & mask) !== 0n) throw new VfioError('EINVAL', MAP, `size/iova/vaddr not aligned to ${hex(mask + 1n)}`);
  } else {
    if (prot === 0) throw new VfioError('EINVAL', MAP, 'neither READ nor WRITE');
    if (size === 0n) throw new VfioError('EINVAL', MAP, 'size is 0');
    if (((size | iova | vaddr) & mask) !== 0n) throw new VfioError('EINVAL', MAP, `size/iova/vaddr not aligned to ${hex(mask + 1n)}`);
    if (wrap) throw new VfioError(s.wrapErrno, MAP, `iova ${hex(iova)} or vaddr ${hex(vaddr)} + size ${hex(size)} wraps`);
  }
  const iovaP = page(iova),
    npage = page(size),
    vaddrP = page(vaddr);
  const hit = iommu.dmas.findOverlap(iovaP, npage);
  if (vaddrOp) {
    if (hit === null) throw new VfioError('ENOENT', MAP, 'VADDR: no mapping at iova');
    if (!hit.vaddrInvalid || hit.iova !== iovaP || hit.size !== npage)
      throw new VfioError('EINVAL', MAP, 'VADDR: range must match one invalidated mapping');
    hit.vaddr = vaddrP;
    hit.vaddrInvalid = false;
    iommu.vaddrInvalidCount--;
    return 0;
  }
  if (hit !== null) throw new VfioError('EEXIST', MAP, `overlaps the mapping at iova ${hex(BigInt(hit.iova) << 12n)}`);
  if (s.dmaEntryLimit && iommu.dmaAvail === 0) throw new VfioError('ENOSPC', MAP, 'dma_entry_limit reached');
  if (s.iovaList && !iommu.iovaRangeValid(iovaP, iovaP + npage - 1)) {
    throw new VfioError('EINVAL', MAP, `[${hex(iova)}, ${hex(iova + size - 1n)}] is not inside one valid IOVA range`);
  }
  iommu.stats.mapCalls++;
  const dma = new VfioDma(iovaP, vaddrP, prot, iommu.proc, iommu.proc.capIpcLock);
  iommu.dmas.link(dma);
  iommu.dmaAvail--;
  return vfioPinMapDma(iommu, dma, npage);
}

/**
 * vfio_iommu_type1_unmap_dma(): reads struct vfio_iommu_type1_dma_unmap from b (EFAULT when shorter
 * than minsz), checks argsz, flags and the dirty bitmap's presence (EINVAL, EFAULT), then
 * vfio_dma_do_unmap(); on success writes the bytes unmapped back into b's size field. 0, or throws
 * VfioError (nothing written).
 */
export function vfioIommuType1UnmapDma(iommu: VfioIommu, b: Uint8Array): number {
  if (b.byteLength < DMA_UNMAP_MINSZ)
    throw new VfioError('EFAULT', UNMAP, `copy_from_user of ${DMA_UNMAP_MINSZ} bytes from a ${b.byteLength}-byte buffer`);
  const u = decodeDmaUnmap(b),
    s = iommu.spec;
  if (u.argsz < DMA_UNMAP_MINSZ) throw new VfioError('EINVAL', UNMAP, `argsz ${u.argsz} < minsz ${DMA_UNMAP_MINSZ}`);
  if ((u.flags & ~s.unmapFlags) !== 0) throw new VfioError('EINVAL', UNMAP, `unknown flags 0x${u.flags.toString(16)}`);
  const dirty = (u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
  const all = (u.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
  const vaddrOp = (u.flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0;
  if (dirty && (all || vaddrOp)) throw new VfioError('EINVAL', UNMAP, 'GET_DIRTY_BITMAP cannot be combined with ALL or VADDR');
  if (dirty) {
    if (u.argsz < DMA_UNMAP_BITMAP_MINSZ)
      throw new VfioError('EINVAL', UNMAP, `argsz ${u.argsz} < ${DMA_UNMAP_BITMAP_MINSZ} with a dirty bitmap`);
    if (b.byteLength < DMA_UNMAP_BITMAP_MINSZ) throw new VfioError('EFAULT', UNMAP, 'copy_from_user of struct vfio_bitmap');
  }
  const pages = vfioDmaDoUnmap(iommu, u);
  writeUnmapSize(b, BigInt(pages) << 12n);
  return 0;
}

/**
 * vfio_dma_do_unmap(): the range checks (alignment, ALL, size, wrap, dirty tracking, v2 bisection),
 * then removes (or with VADDR invalidates) every dma in the range, lowest first; v1 stops at a dma
 * the range starts inside. Returns the pages unmapped (whole dmas: may exceed the request in v1), or
 * throws VfioError with nothing removed.
 */
function vfioDmaDoUnmap(iommu: VfioIommu, u: DmaUnmapArg): number {
  const s = iommu.spec;
  const dirty = (u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
  const all = (u.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
  const vaddrOp = (u.flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0;
  const { iova, size } = u;
  const mask = iommu.minPgsize() - 1n;
  if ((iova & mask) !== 0n) throw new VfioError('EINVAL', UNMAP, `iova ${hex(iova)} not aligned to ${hex(mask + 1n)}`);
  let lo: number, hi: number;
  if (all) {
    if (iova !== 0n || size !== 0n) throw new VfioError('EINVAL', UNMAP, 'UNMAP_ALL needs iova and size 0');
    lo = 0;
    hi = 2 ** 52;
  } else {
    if (size === 0n || (size & mask) !== 0n)
      throw new VfioError('EINVAL', UNMAP, `size ${hex(size)} is 0 or not aligned to ${hex(mask + 1n)}`);
    // 4.15-4.20: `iova + size < iova` in u64 also rejects a range ending exactly at 2^64
    const wraps = s.unmapWrapOffByOne ? iova + size > U64_MAX : iova + size - 1n > U64_MAX;
    if (wraps && s.unmapWrapCheck) throw new VfioError(s.wrapErrno, UNMAP, `iova ${hex(iova)} + size ${hex(size)} wraps`);
    lo = page(iova);
    // before v4.15 a wrapped range goes on with its end taken mod 2^64: below its start, so the v2
    // checks below may refuse it and the search finds nothing
    hi = page((iova + size - 1n) & U64_MAX);
  }
  if (dirty) throw new VfioError('EINVAL', UNMAP, 'dirty page tracking is not enabled');
  const tree = iommu.dmas;
  if (iommu.v2 && !all) {
    const a = tree.containing(lo);
    if (a !== null && a.iova !== lo)
      throw new VfioError('EINVAL', UNMAP, `v2: iova ${hex(iova)} bisects the mapping at ${hex(BigInt(a.iova) << 12n)}`);
    const z = tree.containing(hi);
    if (z !== null && z.end - 1 !== hi)
      throw new VfioError('EINVAL', UNMAP, `v2: the range end bisects the mapping at ${hex(BigInt(z.iova) << 12n)}`);
  }
  iommu.stats.unmapCalls++;
  // regions this call unmapped: what its vfio_unmap_unpin calls added to the container's count
  const chunks0 = iommu.stats.unmapChunks;
  let unmapped = 0;
  const l = tree.list;
  let i = tree.lowerIndex(lo);
  const invalidated: VfioDma[] = [];
  while (i < l.length && l[i]!.iova <= hi) {
    const d = l[i]!;
    if (!iommu.v2 && lo > d.iova) break; // v1: a range starting inside a mapping unmaps nothing
    if (vaddrOp) {
      if (d.vaddrInvalid) {
        for (const x of invalidated) {
          x.vaddrInvalid = false;
          iommu.vaddrInvalidCount--;
        }
        throw new VfioError('EINVAL', UNMAP, 'VADDR: mapping already invalidated');
      }
      d.vaddrInvalid = true;
      iommu.vaddrInvalidCount++;
      invalidated.push(d);
      unmapped += d.size;
      i++;
      continue;
    }
    unmapped += d.size;
    vfioRemoveDma(iommu, d);
  }
  histAdd(iommu.stats.regionsPerUnmap, iommu.stats.unmapChunks - chunks0);
  return unmapped;
}

/**
 * vfio_iommu_type1_get_info(): GET_INFO into b: flags, iova_pgsizes and (5.4+) the capability chain,
 * or the argsz it needs when the chain does not fit; 0 or throws VfioError.
 */
export function vfioIommuType1GetInfo(iommu: VfioIommu, b: Uint8Array): number {
  if (b.byteLength < INFO_MINSZ)
    throw new VfioError('EFAULT', INFO, `copy_from_user of ${INFO_MINSZ} bytes from a ${b.byteLength}-byte buffer`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const argsz = v.getUint32(0, true);
  if (argsz < INFO_MINSZ) throw new VfioError('EINVAL', INFO, `argsz ${argsz} < minsz ${INFO_MINSZ}`);
  const bm = iommu.pgsizeBitmap();
  if (!iommu.spec.infoCaps) {
    // pre-5.4: flags and page sizes only; argsz is never modified; 16 bytes copied back
    v.setUint32(4, VFIO_IOMMU_INFO_PGSIZES, true);
    v.setBigUint64(8, bm, true);
    return 0;
  }
  // v6.6 pads each capability to 8 bytes; before, DMA_AVAIL's 12 bytes left the next one misaligned
  const caps = new CapChain(iommu.spec.capAlign ? 8 : 1);
  if (iommu.spec.capMigration) {
    caps.add(VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 1, 32, (c) => {
      c.setUint32(8, 0, true);
      c.setBigUint64(16, bm & -bm, true);
      c.setBigUint64(24, DIRTY_BITMAP_SIZE_REPORTED, true);
    });
  }
  if (iommu.spec.capDmaAvail) caps.add(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, 12, (c) => c.setUint32(8, iommu.dmaAvail, true));
  const ranges = iommu.iovaList;
  if (ranges.length > 0) {
    caps.add(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1, 16 + 16 * ranges.length, (c) => {
      c.setUint32(8, ranges.length, true);
      ranges.forEach((r, k) => {
        c.setBigUint64(16 + 16 * k, BigInt(r.start) << 12n, true);
        c.setBigUint64(24 + 16 * k, (BigInt(r.last) << 12n) | 0xfffn, true);
      });
    });
  }
  const need = INFO_SIZE + caps.size;
  const outlen = Math.min(argsz, INFO_SIZE);
  const fits = argsz >= need;
  if (b.byteLength < outlen || (fits && b.byteLength < need)) throw new VfioError('EFAULT', INFO, 'copy_to_user beyond the buffer');
  const out = new Uint8Array(INFO_SIZE),
    ov = new DataView(out.buffer);
  ov.setUint32(0, fits ? argsz : need, true);
  ov.setUint32(4, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS, true);
  ov.setBigUint64(8, bm, true);
  ov.setUint32(16, fits ? INFO_SIZE : 0, true);
  if (fits) caps.writeAt(b, INFO_SIZE);
  b.set(out.subarray(0, outlen), 0);
  return 0;
}
