// Models the type1 part of include/uapi/linux/vfio.h: ioctl numbers (x86 _IO(';', 100 + n)),
// extension ids, flags, and the little-endian struct layouts with their minsz (spec vfio-type1 §1).

const VFIO_TYPE = 0x3b;            // ';'
const VFIO_BASE = 100;
const io = (n: number): number => (VFIO_TYPE << 8) | (VFIO_BASE + n);

/** The container API version VFIO_GET_API_VERSION returns. */
export const VFIO_API_VERSION = 0;

export const VFIO_GET_API_VERSION = io(0);          // 0x3b64
export const VFIO_CHECK_EXTENSION = io(1);          // 0x3b65
export const VFIO_SET_IOMMU = io(2);                // 0x3b66
export const VFIO_GROUP_GET_STATUS = io(3);         // 0x3b67
export const VFIO_GROUP_SET_CONTAINER = io(4);      // 0x3b68
export const VFIO_GROUP_UNSET_CONTAINER = io(5);    // 0x3b69
export const VFIO_IOMMU_GET_INFO = io(12);          // 0x3b70
export const VFIO_IOMMU_MAP_DMA = io(13);           // 0x3b71
export const VFIO_IOMMU_UNMAP_DMA = io(14);         // 0x3b72
export const VFIO_IOMMU_ENABLE = io(15);            // 0x3b73 (SPAPR only)
export const VFIO_IOMMU_DISABLE = io(16);           // 0x3b74 (SPAPR only)
export const VFIO_IOMMU_DIRTY_PAGES = io(17);       // 0x3b75

/** Extension ids (CHECK_EXTENSION / SET_IOMMU argument). */
export const VFIO_TYPE1_IOMMU = 1, VFIO_SPAPR_TCE_IOMMU = 2, VFIO_TYPE1v2_IOMMU = 3, VFIO_DMA_CC_IOMMU = 4,
  VFIO_EEH = 5, VFIO_TYPE1_NESTING_IOMMU = 6, VFIO_SPAPR_TCE_v2_IOMMU = 7, VFIO_NOIOMMU_IOMMU = 8,
  VFIO_UNMAP_ALL = 9, VFIO_UPDATE_VADDR = 10;

export const VFIO_DMA_MAP_FLAG_READ = 1 << 0, VFIO_DMA_MAP_FLAG_WRITE = 1 << 1, VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0, VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1,
  VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0, VFIO_IOMMU_INFO_CAPS = 1 << 1;

/** GET_INFO capability ids (type1-info namespace) and their versions. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;

/** Struct sizes and minsz (offsetofend of the last mandatory field). */
export const DMA_MAP_MINSZ = 32;          // struct vfio_iommu_type1_dma_map
export const DMA_UNMAP_MINSZ = 24;        // struct vfio_iommu_type1_dma_unmap (+ data[])
export const DMA_UNMAP_BITMAP_MINSZ = 48; // + struct vfio_bitmap
export const INFO_MINSZ = 16;             // offsetofend(iova_pgsizes)
export const INFO_SIZE = 24;              // with cap_offset and pad (x86_64)
export const DIRTY_BITMAP_SIZE_MAX = 1 << 28;
/** max_dirty_bitmap_size reported in the MIGRATION capability (256 MiB). */
export const DIRTY_BITMAP_SIZE_REPORTED = 0x10000000n;

/** A MAP_DMA argument as typed methods take it. Addresses and size are bytes. */
export interface DmaMap { argsz?: number; flags: number; vaddr: bigint; iova: bigint; size: bigint }
/** An UNMAP_DMA argument; `bitmap` only with GET_DIRTY_BITMAP. */
export interface DmaUnmap { argsz?: number; flags?: number; iova: bigint; size: bigint;
  bitmap?: { pgsize: bigint; size: bigint; data: bigint } }

/** One valid IOVA range, bytes, inclusive end (struct vfio_iova_range). */
export interface IovaRange { start: bigint; end: bigint }
/** GET_INFO result: capabilities appear only in the eras that report them. */
export interface IommuInfo {
  argsz: number;
  flags: number;
  iovaPgsizes: bigint;
  capOffset?: number;
  iovaRanges?: IovaRange[];
  dmaAvail?: number;
  migration?: { flags: number; pgsizeBitmap: bigint; maxDirtyBitmapSize: bigint };
}

function view(b: Uint8Array): DataView { return new DataView(b.buffer, b.byteOffset, b.byteLength); }

/** Reads the fields of a dma_map struct (bytes beyond the buffer read as 0; the caller checks length). */
export function decodeDmaMap(b: Uint8Array): Required<DmaMap> {
  const v = view(b);
  return { argsz: v.getUint32(0, true), flags: v.getUint32(4, true), vaddr: v.getBigUint64(8, true),
    iova: v.getBigUint64(16, true), size: v.getBigUint64(24, true) };
}
export function encodeDmaMap(m: DmaMap): Uint8Array {
  const b = new Uint8Array(DMA_MAP_MINSZ), v = view(b);
  v.setUint32(0, m.argsz ?? DMA_MAP_MINSZ, true); v.setUint32(4, m.flags >>> 0, true);
  v.setBigUint64(8, m.vaddr, true); v.setBigUint64(16, m.iova, true); v.setBigUint64(24, m.size, true);
  return b;
}

export function decodeDmaUnmap(b: Uint8Array): DmaUnmap & { argsz: number; flags: number } {
  const v = view(b);
  const u: DmaUnmap & { argsz: number; flags: number } = { argsz: v.getUint32(0, true), flags: v.getUint32(4, true),
    iova: v.getBigUint64(8, true), size: v.getBigUint64(16, true) };
  if (b.byteLength >= DMA_UNMAP_BITMAP_MINSZ) {
    u.bitmap = { pgsize: v.getBigUint64(24, true), size: v.getBigUint64(32, true), data: v.getBigUint64(40, true) };
  }
  return u;
}
export function encodeDmaUnmap(u: DmaUnmap): Uint8Array {
  const len = u.bitmap !== undefined ? DMA_UNMAP_BITMAP_MINSZ : DMA_UNMAP_MINSZ;
  const b = new Uint8Array(len), v = view(b);
  v.setUint32(0, u.argsz ?? len, true); v.setUint32(4, (u.flags ?? 0) >>> 0, true);
  v.setBigUint64(8, u.iova, true); v.setBigUint64(16, u.size, true);
  if (u.bitmap !== undefined) {
    v.setBigUint64(24, u.bitmap.pgsize, true); v.setBigUint64(32, u.bitmap.size, true); v.setBigUint64(40, u.bitmap.data, true);
  }
  return b;
}
/** Writes the `size` field back (the only output of UNMAP_DMA). */
export function writeUnmapSize(b: Uint8Array, size: bigint): void { view(b).setBigUint64(16, size, true); }

/** A GET_INFO buffer of argsz bytes with argsz filled in, as a caller prepares it. */
export function encodeInfoRequest(argsz: number, bufLen = argsz): Uint8Array {
  const b = new Uint8Array(bufLen);
  view(b).setUint32(0, argsz >>> 0, true);
  return b;
}

/** Parses a GET_INFO buffer the kernel filled (header, then the capability chain when present). */
export function decodeInfo(b: Uint8Array): IommuInfo {
  const v = view(b);
  const info: IommuInfo = { argsz: v.getUint32(0, true), flags: v.getUint32(4, true), iovaPgsizes: v.getBigUint64(8, true) };
  if (b.byteLength < INFO_SIZE) return info;
  info.capOffset = v.getUint32(16, true);
  let off = info.capOffset;
  for (let guard = 0; off !== 0 && off + 8 <= b.byteLength && guard < 64; guard++) {
    const id = v.getUint16(off, true), next = v.getUint32(off + 4, true);
    if (id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
      const n = v.getUint32(off + 8, true);
      info.iovaRanges = [];
      for (let i = 0; i < n; i++) {
        info.iovaRanges.push({ start: v.getBigUint64(off + 16 + 16 * i, true), end: v.getBigUint64(off + 24 + 16 * i, true) });
      }
    } else if (id === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
      info.dmaAvail = v.getUint32(off + 8, true);
    } else if (id === VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
      info.migration = { flags: v.getUint32(off + 8, true), pgsizeBitmap: v.getBigUint64(off + 16, true),
        maxDirtyBitmapSize: v.getBigUint64(off + 24, true) };
    }
    off = next;
  }
  return info;
}

/** Capability chain builder (vfio_info_cap_add): each cap's size rounded up to `align` bytes. */
export class CapChain {
  private readonly parts: Uint8Array[] = [];
  size = 0;
  constructor(private readonly align: number) {}
  /**
   * Appends a cap of `len` bytes; fill writes its body (after the 8-byte header). The cap is zeroed
   * over its aligned size, pad included, and copied out whole, as vfio_info_cap_add() does since
   * it aligns capabilities: the caller's bytes under the pad come back 0.
   */
  add(id: number, version: number, len: number, fill: (v: DataView) => void): void {
    const b = new Uint8Array(Math.ceil(len / this.align) * this.align), v = view(b);
    v.setUint16(0, id, true); v.setUint16(2, version, true);
    fill(v);
    this.parts.push(b);
    this.size += b.byteLength;
  }
  /** Copies the chain at `base` of out, making each `next` absolute (last = 0). */
  writeAt(out: Uint8Array, base: number): void {
    let off = base;
    for (let i = 0; i < this.parts.length; i++) {
      const p = this.parts[i]!;
      const step = p.byteLength;
      out.set(p, off);
      view(out).setUint32(off + 4, i + 1 < this.parts.length ? off + step : 0, true);
      off += step;
    }
  }
}
