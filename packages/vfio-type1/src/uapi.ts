// Models the type1 part of include/uapi/linux/vfio.h: ioctl numbers (x86 _IO(';', 100 + n)),
// extension ids, flags, and the little-endian struct layouts with their minsz (spec vfio-type1 §1).

const VFIO_TYPE = 0x3b; // ';'
const VFIO_BASE = 100;
const io = (n: number): number => (VFIO_TYPE << 8) | (VFIO_BASE + n);

/** The container API version VFIO_GET_API_VERSION returns. */
export const VFIO_API_VERSION = 0;

export const VFIO_GET_API_VERSION = io(0); // 0x3b64
export const VFIO_CHECK_EXTENSION = io(1); // 0x3b65
export const VFIO_SET_IOMMU = io(2); // 0x3b66
export const VFIO_GROUP_GET_STATUS = io(3); // 0x3b67
export const VFIO_GROUP_SET_CONTAINER = io(4); // 0x3b68
export const VFIO_GROUP_UNSET_CONTAINER = io(5); // 0x3b69
export const VFIO_IOMMU_GET_INFO = io(12); // 0x3b70
export const VFIO_IOMMU_MAP_DMA = io(13); // 0x3b71
export const VFIO_IOMMU_UNMAP_DMA = io(14); // 0x3b72
export const VFIO_IOMMU_ENABLE = io(15); // 0x3b73 (SPAPR only)
export const VFIO_IOMMU_DISABLE = io(16); // 0x3b74 (SPAPR only)
export const VFIO_IOMMU_DIRTY_PAGES = io(17); // 0x3b75

/** Extension ids (CHECK_EXTENSION / SET_IOMMU argument). */
export const VFIO_TYPE1_IOMMU = 1,
  VFIO_SPAPR_TCE_IOMMU = 2,
  VFIO_TYPE1v2_IOMMU = 3,
  VFIO_DMA_CC_IOMMU = 4,
  VFIO_EEH = 5,
  VFIO_TYPE1_NESTING_IOMMU = 6,
  VFIO_SPAPR_TCE_v2_IOMMU = 7,
  VFIO_NOIOMMU_IOMMU = 8,
  VFIO_UNMAP_ALL = 9,
  VFIO_UPDATE_VADDR = 10;

export const VFIO_DMA_MAP_FLAG_READ = 1 << 0,
  VFIO_DMA_MAP_FLAG_WRITE = 1 << 1,
  VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0,
  VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1,
  VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0,
  VFIO_IOMMU_INFO_CAPS = 1 << 1;

/** GET_INFO capability ids (type1-info namespace) and their versions. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;

/** Struct sizes and minsz (offsetofend of the last mandatory field). */
export const DMA_MAP_MINSZ = 32; // struct vfio_iommu_type1_dma_map
export const DMA_UNMAP_MINSZ = 24; // struct vfio_iommu_type1_dma_unmap (+ data[])
export const DMA_UNMAP_BITMAP_MINSZ = 48; // + struct vfio_bitmap
export const INFO_MINSZ = 16; // offsetofend(iova_pgsizes)
export const INFO_SIZE = 24; // with cap_offset and pad (x86_64)
/** max_dirty_bitmap_size reported in the MIGRATION capability (256 MiB). */
export const DIRTY_BITMAP_SIZE_REPORTED = 0x10000000n;

/**
 * A MAP_DMA argument as typed methods take it. Addresses and size are bytes. Each field must fit its
 * uapi field (argsz __u32: an integer in 0..2^32-1; flags __u32, or the int32 a bitwise expression
 * gives; vaddr, iova, size __u64: bigints in 0..2^64-1); encodeDmaMap() throws a TypeError /
 * RangeError naming the field otherwise.
 */
export interface DmaMap {
  argsz?: number | undefined;
  flags: number;
  vaddr: bigint;
  iova: bigint;
  size: bigint;
}
/** An UNMAP_DMA argument; `bitmap` only with GET_DIRTY_BITMAP. Fields checked as in DmaMap. */
export interface DmaUnmap {
  argsz?: number | undefined;
  flags?: number | undefined;
  iova: bigint;
  size: bigint;
  bitmap?: { pgsize: bigint; size: bigint; data: bigint } | undefined;
}

/** One valid IOVA range, bytes, inclusive end (struct vfio_iova_range). */
export interface IovaRange {
  start: bigint;
  end: bigint;
}
/** GET_INFO result: capabilities appear only in the eras that report them. */
export interface IommuInfo {
  argsz: number;
  flags: number;
  iovaPgsizes: bigint;
  capOffset?: number | undefined;
  iovaRanges?: IovaRange[] | undefined;
  dmaAvail?: number | undefined;
  migration?: { flags: number; pgsizeBitmap: bigint; maxDirtyBitmapSize: bigint } | undefined;
}

const U64_MAX = (1n << 64n) - 1n;

/** How a bad value reads in an error message: its type, and the value when it has a short form. */
function shown(v: unknown): string {
  if (v === undefined || v === null) return String(v);
  if (typeof v === 'bigint') return `bigint ${v}n`;
  if (typeof v === 'string') return `string '${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v;
}

/**
 * A typed __u64 field: a bigint in 0..2^64-1, returned as is. Throws TypeError for anything that is
 * not a bigint (a number would otherwise fail deep inside with "Cannot mix BigInt and other types"),
 * RangeError outside u64 (DataView would silently store it mod 2^64): programming errors, thrown
 * before the call does anything. `where` names the field: 'vfio_iommu_type1_dma_map.iova'.
 */
export function checkU64(where: string, v: unknown): bigint {
  if (typeof v !== 'bigint') throw new TypeError(`${where}: expected a bigint (u64), got ${shown(v)}`);
  if (v < 0n || v > U64_MAX) throw new RangeError(`${where}: ${v} is outside u64 (0 to 2^64-1)`);
  return v;
}

/** A typed __u32 field: an integer number in 0..2^32-1 (TypeError if not a number, RangeError otherwise). */
function checkU32(where: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${where}: expected a number (u32), got ${shown(v)}`);
  if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) throw new RangeError(`${where}: ${v} is not a u32 (an integer in 0 to 2^32-1)`);
  return v;
}

/**
 * A typed __u32 flags word. JS bitwise operators yield int32s (`READ | WRITE | 0x80000000` is
 * -2147483645), so an integer in -2^31..-1 is taken as its two's-complement bit pattern (0x80000003);
 * any other value outside 0..2^32-1, or a non-integer, is a RangeError, and a non-number a TypeError.
 */
function checkFlags(where: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${where}: expected a number (u32 flags), got ${shown(v)}`);
  if (!(Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff)) {
    throw new RangeError(`${where}: ${v} is not a u32 flags word (an integer in 0 to 2^32-1, or the int32 of a bitwise expression)`);
  }
  return v >>> 0;
}

/** A buffer a decoder reads: at least min bytes, else a RangeError saying so (not DataView's bare bounds error). */
function needBytes(where: string, b: Uint8Array, min: number): void {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${where}: expected a Uint8Array, got ${shown(b)}`);
  if (b.byteLength < min) throw new RangeError(`${where}: the buffer is ${b.byteLength} bytes, shorter than the ${min}-byte minimum`);
}

const MAP_S = 'vfio_iommu_type1_dma_map',
  UNMAP_S = 'vfio_iommu_type1_dma_unmap',
  INFO_S = 'vfio_iommu_type1_info';

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Reads the fields of a dma_map struct. RangeError for a buffer shorter than its 32 bytes. */
export function decodeDmaMap(b: Uint8Array): DmaMap & { argsz: number } {
  needBytes(`decodeDmaMap: struct ${MAP_S}`, b, DMA_MAP_MINSZ);
  const v = view(b);
  return {
    argsz: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    vaddr: v.getBigUint64(8, true),
    iova: v.getBigUint64(16, true),
    size: v.getBigUint64(24, true),
  };
}
/**
 * The 32 bytes of a dma_map struct (argsz defaults to 32). Throws TypeError / RangeError naming the
 * field for a value its uapi field cannot hold (see checkU32 / checkU64); the bytes of a valid value
 * are exactly what the kernel would read, so its checks (unknown flags, wrap, ...) still decide.
 */
export function encodeDmaMap(m: DmaMap): Uint8Array {
  const argsz = m.argsz === undefined ? DMA_MAP_MINSZ : checkU32(`${MAP_S}.argsz`, m.argsz);
  const flags = checkFlags(`${MAP_S}.flags`, m.flags);
  const vaddr = checkU64(`${MAP_S}.vaddr`, m.vaddr),
    iova = checkU64(`${MAP_S}.iova`, m.iova),
    size = checkU64(`${MAP_S}.size`, m.size);
  const b = new Uint8Array(DMA_MAP_MINSZ),
    v = view(b);
  v.setUint32(0, argsz, true);
  v.setUint32(4, flags, true);
  v.setBigUint64(8, vaddr, true);
  v.setBigUint64(16, iova, true);
  v.setBigUint64(24, size, true);
  return b;
}

/** Reads a dma_unmap struct (and its vfio_bitmap from 48 bytes). RangeError below its 24 bytes. */
export function decodeDmaUnmap(b: Uint8Array): DmaUnmap & { argsz: number; flags: number } {
  needBytes(`decodeDmaUnmap: struct ${UNMAP_S}`, b, DMA_UNMAP_MINSZ);
  const v = view(b);
  const u: DmaUnmap & { argsz: number; flags: number } = {
    argsz: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    iova: v.getBigUint64(8, true),
    size: v.getBigUint64(16, true),
  };
  if (b.byteLength >= DMA_UNMAP_BITMAP_MINSZ) {
    u.bitmap = { pgsize: v.getBigUint64(24, true), size: v.getBigUint64(32, true), data: v.getBigUint64(40, true) };
  }
  return u;
}
/** The 24 bytes of a dma_unmap struct (48 with a bitmap; flags default 0). Fields checked as in encodeDmaMap. */
export function encodeDmaUnmap(u: DmaUnmap): Uint8Array {
  const bm = u.bitmap;
  const len = bm !== undefined ? DMA_UNMAP_BITMAP_MINSZ : DMA_UNMAP_MINSZ;
  const argsz = u.argsz === undefined ? len : checkU32(`${UNMAP_S}.argsz`, u.argsz);
  const flags = u.flags === undefined ? 0 : checkFlags(`${UNMAP_S}.flags`, u.flags);
  const iova = checkU64(`${UNMAP_S}.iova`, u.iova),
    size = checkU64(`${UNMAP_S}.size`, u.size);
  if (bm !== undefined) {
    checkU64('vfio_bitmap.pgsize', bm.pgsize);
    checkU64('vfio_bitmap.size', bm.size);
    checkU64('vfio_bitmap.data', bm.data);
  }
  const b = new Uint8Array(len),
    v = view(b);
  v.setUint32(0, argsz, true);
  v.setUint32(4, flags, true);
  v.setBigUint64(8, iova, true);
  v.setBigUint64(16, size, true);
  if (bm !== undefined) {
    v.setBigUint64(24, bm.pgsize, true);
    v.setBigUint64(32, bm.size, true);
    v.setBigUint64(40, bm.data, true);
  }
  return b;
}
/** Writes the `size` field back (the only output of UNMAP_DMA). */
export function writeUnmapSize(b: Uint8Array, size: bigint): void {
  view(b).setBigUint64(16, size, true);
}

/**
 * A GET_INFO buffer of bufLen bytes (default argsz) with argsz filled in, as a caller prepares it.
 * argsz must be a u32 and bufLen a byte count (an integer >= 0): RangeError / TypeError otherwise.
 */
export function encodeInfoRequest(argsz: number, bufLen: number = argsz): Uint8Array {
  checkU32(`encodeInfoRequest: ${INFO_S}.argsz`, argsz);
  if (typeof bufLen !== 'number') throw new TypeError(`encodeInfoRequest: buffer length: expected a number, got ${shown(bufLen)}`);
  if (!(Number.isSafeInteger(bufLen) && bufLen >= 0))
    throw new RangeError(`encodeInfoRequest: buffer length ${bufLen} is not a byte count (an integer >= 0)`);
  const b = new Uint8Array(bufLen);
  // a buffer shorter than 4 bytes holds only part of argsz, as a short user buffer would
  const le = new Uint8Array(4);
  view(le).setUint32(0, argsz, true);
  b.set(le.subarray(0, Math.min(4, bufLen)));
  return b;
}

/**
 * Parses a GET_INFO buffer the kernel filled (header, then the capability chain when present).
 * RangeError for a buffer shorter than the 16-byte minimum (argsz, flags, iova_pgsizes) or a
 * capability that runs past the end of the buffer.
 */
export function decodeInfo(b: Uint8Array): IommuInfo {
  needBytes(`decodeInfo: struct ${INFO_S}`, b, INFO_MINSZ);
  const v = view(b);
  const info: IommuInfo = { argsz: v.getUint32(0, true), flags: v.getUint32(4, true), iovaPgsizes: v.getBigUint64(8, true) };
  if (b.byteLength < INFO_SIZE) return info;
  info.capOffset = v.getUint32(16, true);
  let off = info.capOffset;
  const past = (what: string, end: number): RangeError =>
    new RangeError(`decodeInfo: ${what} at offset ${off} ends at byte ${end}, past the end of the ${b.byteLength}-byte buffer`);
  for (let guard = 0; off !== 0 && off + 8 <= b.byteLength && guard < 64; guard++) {
    const id = v.getUint16(off, true),
      next = v.getUint32(off + 4, true);
    if (id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
      if (off + 16 > b.byteLength) throw past('the IOVA_RANGE capability', off + 16);
      const n = v.getUint32(off + 8, true);
      if (off + 16 + 16 * n > b.byteLength) throw past(`the IOVA_RANGE capability with ${n} ranges`, off + 16 + 16 * n);
      info.iovaRanges = [];
      for (let i = 0; i < n; i++) {
        info.iovaRanges.push({ start: v.getBigUint64(off + 16 + 16 * i, true), end: v.getBigUint64(off + 24 + 16 * i, true) });
      }
    } else if (id === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
      if (off + 12 > b.byteLength) throw past('the DMA_AVAIL capability', off + 12);
      info.dmaAvail = v.getUint32(off + 8, true);
    } else if (id === VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
      if (off + 32 > b.byteLength) throw past('the MIGRATION capability', off + 32);
      info.migration = {
        flags: v.getUint32(off + 8, true),
        pgsizeBitmap: v.getBigUint64(off + 16, true),
        maxDirtyBitmapSize: v.getBigUint64(off + 24, true),
      };
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
    const b = new Uint8Array(Math.ceil(len / this.align) * this.align),
      v = view(b);
    v.setUint16(0, id, true);
    v.setUint16(2, version, true);
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
