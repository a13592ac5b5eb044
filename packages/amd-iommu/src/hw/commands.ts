// Models the AMD IOMMU command encodings (spec amd-iommu §5.2-5.4): one builder per opcode writing
// the four 32-bit words of a 16-byte command (word k = bits 32k .. 32k+31), plus the invalidation
// address rules of the 2018 driver (one page or everything) and of 5.13+ (build_inv_address).
// Addresses are page numbers (4 KiB); no BigInt except cmdBigInt for tests and traces.

import { trailingOnes } from '../fmt-amdv1.js';
import { POW2 } from '../pow2.js';

export const CMD_COMPLETION_WAIT = 1;
export const CMD_INV_DEVTAB_ENTRY = 2;
export const CMD_INV_IOMMU_PAGES = 3;
export const CMD_INV_IOTLB_PAGES = 4;
export const CMD_INV_INTERRUPT_TABLE = 5;
export const CMD_PREFETCH_IOMMU_PAGES = 6;
export const CMD_COMPLETE_PPR_REQUEST = 7;
export const CMD_INV_IOMMU_ALL = 8;

/** Command names by opcode, as the spec writes them (index = opcode). */
export const CMD_NAMES = Object.freeze([
  '',
  'COMPLETION_WAIT',
  'INVALIDATE_DEVTAB_ENTRY',
  'INVALIDATE_IOMMU_PAGES',
  'INVALIDATE_IOTLB_PAGES',
  'INVALIDATE_INTERRUPT_TABLE',
  'PREFETCH_IOMMU_PAGES',
  'COMPLETE_PPR_REQUEST',
  'INVALIDATE_IOMMU_ALL',
] as const);
export type CmdName = Exclude<(typeof CMD_NAMES)[number], ''>;

/** Opcode sits in bits 63:60, i.e. bits 31:28 of word 1. */
const OP_SHIFT = 28;
/** COMPLETION_WAIT word 0: S (store) bit 0, I (interrupt) bit 1, F (flush queue) bit 2. */
export const CW_S = 1 << 0,
  CW_I = 1 << 1,
  CW_F = 1 << 2;
/** INVALIDATE_IOMMU_PAGES word 2: S bit 64, PDE bit 65, GN bit 66. */
export const INV_S = 1 << 0,
  INV_PDE = 1 << 1,
  INV_GN = 1 << 2;
/** Linux's CMD_INV_IOMMU_ALL_PAGES_ADDRESS (0x7FFF_FFFF_FFFF_F000) as a page number, with S=1. */
export const INV_ALL_PAGES = 2 ** 51 - 1;

const lo20 = (page: number): number => (page % 0x100000) << 12;
const hi32 = (page: number): number => Math.floor(page / 0x100000) | 0;

/** Opcode of the command at word offset c. */
export const cmdOpcode = (words: Int32Array, c: number): number => words[c + 1]! >>> OP_SHIFT;

/**
 * COMPLETION_WAIT: once every earlier command has completed, store 64-bit data (dataLo, dataHi) at
 * byte address `addr` (8-byte aligned, < 2^52) when `store`; raise ComWaitInt when `interrupt`.
 */
export function buildCompletionWait(
  words: Int32Array,
  c: number,
  addr: number,
  dataLo: number,
  dataHi: number,
  store: boolean,
  interrupt = false,
): void {
  words[c] = ((addr % 4294967296) & ~7) | (store ? CW_S : 0) | (interrupt ? CW_I : 0);
  words[c + 1] = (Math.floor(addr / 4294967296) & 0xfffff) | (CMD_COMPLETION_WAIT << OP_SHIFT);
  words[c + 2] = dataLo | 0;
  words[c + 3] = dataHi | 0;
}

/** INVALIDATE_DEVTAB_ENTRY: DeviceID in bits 15:0. */
export function buildInvDte(words: Int32Array, c: number, deviceId: number): void {
  words[c] = deviceId & 0xffff;
  words[c + 1] = CMD_INV_DEVTAB_ENTRY << OP_SHIFT;
  words[c + 2] = 0;
  words[c + 3] = 0;
}

/**
 * INVALIDATE_IOMMU_PAGES: DomainID 47:32, S 64, PDE 65, address 127:76 (a page number here).
 * S=0 is one page; S=1 a naturally aligned block whose size is given by the low ones (§5.4).
 */
export function buildInvIommuPages(words: Int32Array, c: number, domainId: number, page: number, s: boolean, pde: boolean): void {
  words[c] = 0;
  words[c + 1] = (domainId & 0xffff) | (CMD_INV_IOMMU_PAGES << OP_SHIFT);
  words[c + 2] = lo20(page) | (s ? INV_S : 0) | (pde ? INV_PDE : 0);
  words[c + 3] = hi32(page);
}

/** INVALIDATE_IOTLB_PAGES (ATS device IOTLB): DeviceID 15:0, MaxPend 31:24, QueueID 47:32, S 64, address 127:76. */
export function buildInvIotlbPages(words: Int32Array, c: number, deviceId: number, maxPend: number, page: number, s: boolean): void {
  words[c] = (deviceId & 0xffff) | ((maxPend & 0xff) << 24);
  words[c + 1] = (deviceId & 0xffff) | (CMD_INV_IOTLB_PAGES << OP_SHIFT);
  words[c + 2] = lo20(page) | (s ? INV_S : 0);
  words[c + 3] = hi32(page);
}

/** INVALIDATE_IOMMU_ALL: no operands. */
export function buildInvAll(words: Int32Array, c: number): void {
  words[c] = 0;
  words[c + 1] = CMD_INV_IOMMU_ALL << OP_SHIFT;
  words[c + 2] = 0;
  words[c + 3] = 0;
}

/** The 128-bit command at word offset c as a bigint (tests, traces). */
export function cmdBigInt(words: Int32Array, c: number): bigint {
  let v = 0n;
  for (let k = 3; k >= 0; k--) v = (v << 32n) | BigInt(words[c + k]! >>> 0);
  return v;
}

/** An invalidation address as the commands carry it: the address page and the S (size) bit. */
export interface InvAddress {
  page: number;
  s: boolean;
}

/**
 * 2018 build_inv_iommu_pages(): a range of more than one page becomes the whole domain
 * (INV_ALL_PAGES, S=1); a single page is sent with S=0. Writes and returns `out` (a new object
 * when none is given).
 */
export function invAddress2018(startPage: number, npages: number, out: InvAddress = { page: 0, s: false }): InvAddress {
  if (npages > 1) {
    out.page = INV_ALL_PAGES;
    out.s = true;
  } else {
    out.page = startPage;
    out.s = false;
  }
  return out;
}

/**
 * 5.13+ build_inv_address(): the smallest naturally aligned power-of-two block containing the
 * range; everything when the highest differing bit is above bit 51. Writes and returns `out` (a new
 * object when none is given).
 */
export function buildInvAddress(startPage: number, npages: number, out: InvAddress = { page: 0, s: false }): InvAddress {
  if (npages <= 1) {
    out.page = startPage;
    out.s = false;
    return out;
  }
  const end = startPage + npages - 1;
  const kp = msbDiff(startPage, end); // byte bit k = kp + 12
  if (kp + 12 > 51) {
    out.page = INV_ALL_PAGES;
    out.s = true;
    return out;
  }
  const m = POW2[kp]!;
  out.page = startPage - (startPage % m) + (m - 1); // set the bits below k
  out.s = true;
  return out;
}

/** Index of the most significant bit where a and b (< 2^53) differ; -1 if equal. */
function msbDiff(a: number, b: number): number {
  const ah = Math.floor(a / 4294967296),
    bh = Math.floor(b / 4294967296);
  if (ah !== bh) return 32 + 31 - Math.clz32((ah ^ bh) >>> 0);
  const x = ((a % 4294967296) ^ (b % 4294967296)) >>> 0;
  return x === 0 ? -1 : 31 - Math.clz32(x);
}

/** A decoded invalidation range: first page and page count; npages Infinity = everything. */
export interface InvRange {
  page: number;
  npages: number;
}

/**
 * Hardware decode of an INVALIDATE_*_PAGES address (amdvi_decode_invalidation_size): S=0 one page;
 * S=1 size 2^(z+1) from z = trailing ones of (addr | 0xFFF); z >= 51 means all. Writes and returns
 * `out` (a new object when none is given).
 */
export function decodeInvAddress(page: number, s: boolean, out: InvRange = { page: 0, npages: 0 }): InvRange {
  if (!s) {
    out.page = page;
    out.npages = 1;
    return out;
  }
  const z = 12 + trailingOnes(page);
  if (z >= 51) {
    out.page = 0;
    out.npages = Infinity;
    return out;
  }
  const n = POW2[z + 1 - 12]!;
  out.page = page - (page % n);
  out.npages = n;
  return out;
}

/** Address page of an INVALIDATE_*_PAGES command at c. */
export const cmdInvPage = (words: Int32Array, c: number): number => (words[c + 3]! >>> 0) * 0x100000 + (words[c + 2]! >>> 12);
