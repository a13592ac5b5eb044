// Models the AMD IOMMU v1 ("host") I/O page-table format as a core PtFormat codec
// (spec amd-iommu §2, §9.2). The engine never reads these bits; the hardware walker does.
//
// A 64-bit entry is two int32 words: lo = bits 0..31, hi = bits 32..63 (spec §2.2 table):
//   PR 0 · A 5 · D 6 (leaf) · NextLevel 11:9 · address 51:12 · U 59 · FC 60 · IR 61 · IW 62.
// NextLevel 1..6 = pointer to a table of that 1-based level; 0 = leaf of the table's item size;
// 7 = leaf of a larger, non-default power-of-two size, replicated over 2..256 entries, its size
// encoded by a run of ones in the low address bits (spec §2.4).

import { IOMMU_READ, IOMMU_WRITE } from '@x/iommu-core';
import { PT_ENTRY_EMPTY, PT_ENTRY_OA, PT_ENTRY_TABLE, deepFreeze, type PtFormat, type PtState } from '@x/iommu-core/internals';
import { POW2 } from './pow2.js';

export const AMDV1_PR = 1 << 0;
export const AMDV1_A = 1 << 5;
export const AMDV1_D = 1 << 6;
export const AMDV1_NL_SHIFT = 9;
const AMDV1_NL_MASK = 7;
/** NextLevel value of a non-default-size (replicated) leaf. */
export const AMDV1_NL_LARGE = 7;
// bits of the hi word (bit - 32)
export const AMDV1_HI_U = 1 << (59 - 32);
export const AMDV1_HI_FC = 1 << (60 - 32);
export const AMDV1_HI_IR = 1 << (61 - 32);
export const AMDV1_HI_IW = 1 << (62 - 32);
/** Address bits 51:32 live in hi bits 19:0. */
const HI_ADDR_MASK = 0xfffff;

/** Highest 0-based level (AMD mode 6); its table holds no leaves. */
export const AMDV1_MAX_LEVEL = 5;
/**
 * Index bits of a mode-6 top table: IOVA bits 63:57, 128 entries (spec §2.1); every other level
 * indexes 9 bits.
 */
export const AMDV1_TOP_INDEX_BITS = 7;
/** Largest output-address order an entry can encode (address field ends at bit 51). */
export const AMDV1_MAX_OA_ORDER = 51;
/** 512 GiB pages are not advertised (Linux AMD_IOMMU_PGSIZES: "hardware bug"). */
export const AMDV1_HOLE_ORDER = 39;

/**
 * Linux's AMD_IOMMU_PGSIZES: every power of two from 4 KiB up, except 512 GiB, as the 64-bit
 * value the kernel computes ((~0xFFF) & ~(2 << 38)).
 */
export const AMD_IOMMU_PGSIZES = 0xffff_ff7f_ffff_f000n;

const LEAF_ORDERS: readonly (readonly number[])[] = (() => {
  const out: number[][] = [];
  for (let l = 0; l <= AMDV1_MAX_LEVEL; l++) {
    const a: number[] = [];
    const item = 12 + 9 * l;
    if (l < AMDV1_MAX_LEVEL) {
      for (let o = item; o <= Math.min(AMDV1_MAX_OA_ORDER, item + 8); o++) if (o !== AMDV1_HOLE_ORDER) a.push(o);
    }
    out.push(a);
  }
  return out;
})();

/** Number of trailing one bits of a non-negative integer < 2^53. */
export function trailingOnes(x: number): number {
  let n = 0;
  while (x >= 4294967296 && x % 4294967296 === 4294967295) {
    n += 32;
    x = Math.floor(x / 4294967296);
  }
  const lo = (x % 4294967296) >>> 0;
  const inv = ~lo;
  return n + (inv === 0 ? 32 : 31 - Math.clz32(inv & -inv));
}

/** The 40-bit address field (bits 51:12) of the entry at w, as a page number. */
export const entryPfnField = (words: Int32Array, w: number): number => (words[w + 1]! & HI_ADDR_MASK) * 0x100000 + (words[w]! >>> 12);

/** NextLevel field of the entry at w. */
export const entryNextLevel = (words: Int32Array, w: number): number => (words[w]! >>> AMDV1_NL_SHIFT) & AMDV1_NL_MASK;

/**
 * Order (log2 bytes) of a NextLevel-7 leaf from its address field: the first zero bit at or above
 * bit 12 sits at order-1 (PTE_PAGE_SIZE; spec §2.4).
 */
export const largeLeafOrder = (pfnField: number): number => 13 + trailingOnes(pfnField);

/** The 64-bit entry at w as a bigint (readPte, tests). */
export function pteBigInt(words: Int32Array, w: number): bigint {
  return (BigInt(words[w + 1]! >>> 0) << 32n) | BigInt(words[w]! >>> 0);
}

/** Writes a 64-bit bigint entry at w (tests and hand-built tables). */
export function pteStore(words: Int32Array, w: number, v: bigint): void {
  words[w] = Number(v & 0xffff_ffffn) | 0;
  words[w + 1] = Number((v >> 32n) & 0xffff_ffffn) | 0;
}

export interface Amdv1Options {
  /** Set FC (force coherent) on leaves; Linux always does (PT_FEAT_AMDV1_FORCE_COHERENCE). Default true. */
  forceCoherence?: boolean | undefined;
}

/** Creates the amdv1 codec. */
export function createAmdv1Format(opts: Amdv1Options = {}): PtFormat {
  const fc = (opts.forceCoherence ?? true) ? AMDV1_HI_FC : 0;
  return {
    name: 'amdv1',
    maxLevel: AMDV1_MAX_LEVEL,
    itemOrder: (level) => 12 + 9 * level,
    numItemsLg2: (level) => (level === AMDV1_MAX_LEVEL ? AMDV1_TOP_INDEX_BITS : 9),
    leafOrders: (level) => LEAF_ORDERS[level] ?? [],
    load(words, w, level, st: PtState) {
      const lo = words[w]!;
      if ((lo & AMDV1_PR) === 0) return PT_ENTRY_EMPTY;
      const nl = (lo >>> AMDV1_NL_SHIFT) & AMDV1_NL_MASK;
      const f = (words[w + 1]! & HI_ADDR_MASK) * 0x100000 + (lo >>> 12);
      if (level > 0 && nl !== 0 && nl !== AMDV1_NL_LARGE) {
        st.pfn = f;
        return PT_ENTRY_TABLE;
      }
      if (nl === AMDV1_NL_LARGE) {
        const order = 13 + trailingOnes(f);
        st.order = order;
        st.pfn = f - (f % POW2[order - 12]!);
      } else {
        st.order = 12 + 9 * level;
        st.pfn = f;
      }
      return PT_ENTRY_OA;
    },
    installLeaves(words, w, level, pfn, order, prot, n) {
      const rl = order - 12 - 9 * level;
      const rep = POW2[rl]!;
      const lp = POW2[order - 12]!;
      const hiFlags = fc | ((prot & IOMMU_READ) !== 0 ? AMDV1_HI_IR : 0) | ((prot & IOMMU_WRITE) !== 0 ? AMDV1_HI_IW : 0);
      if (rl === 0) {
        // natural size: NextLevel 0, no size code (PM_LEVEL_ENC is not used for these)
        for (let k = 0; k < n; k++, pfn += lp, w += 2) {
          words[w] = ((pfn & 0xfffff) << 12) | AMDV1_PR; // & keeps the low bits of any integer < 2^53
          words[w + 1] = Math.floor(pfn / 0x100000) | hiFlags;
        }
        return n;
      }
      // NextLevel 7: ones in address bits 12 .. order-2, bit order-1 zero (PAGE_SIZE_PTE)
      const code = POW2[order - 13]! - 1;
      for (let k = 0; k < n; k++, pfn += lp) {
        const f = pfn + code;
        const lo = ((f % 0x100000) << 12) | (AMDV1_NL_LARGE << AMDV1_NL_SHIFT) | AMDV1_PR;
        const hi = Math.floor(f / 0x100000) | hiFlags;
        for (let r = 0; r < rep; r++, w += 2) {
          words[w] = lo;
          words[w + 1] = hi;
        }
      }
      return n * rep;
    },
    installTable(words, w, level, tablePfn) {
      // PDE: NextLevel = 1-based level of the child = 0-based level of this table; IR|IW always
      words[w] = ((tablePfn % 0x100000) << 12) | (level << AMDV1_NL_SHIFT) | AMDV1_PR;
      words[w + 1] = Math.floor(tablePfn / 0x100000) | AMDV1_HI_IR | AMDV1_HI_IW;
    },
    leaf4k(pfn, prot, out) {
      // NextLevel 0 at level 0: the address field starts at bit 12, so the next frame is lo + 4096
      out[0] = ((pfn & 0xfffff) << 12) | AMDV1_PR;
      out[1] =
        Math.floor(pfn / 0x100000) | fc | ((prot & IOMMU_READ) !== 0 ? AMDV1_HI_IR : 0) | ((prot & IOMMU_WRITE) !== 0 ? AMDV1_HI_IW : 0);
    },
    leafProt(words, w) {
      const hi = words[w + 1]!;
      return ((hi & AMDV1_HI_IR) !== 0 ? IOMMU_READ : 0) | ((hi & AMDV1_HI_IW) !== 0 ? IOMMU_WRITE : 0);
    },
  };
}

/** Replicas of a leaf of `order` in a table at `level` (PAGE_SIZE_PTE_COUNT). */
export const replicaCount = (order: number, level: number): number => POW2[order - 12 - 9 * level]!;

/** Word offset of the head of the replicated run containing the leaf at w (first_pte_l7). */
function runHead(words: Int32Array, w: number, base: number, level: number): { head: number; rep: number } {
  const nl = entryNextLevel(words, w);
  const rep = nl === AMDV1_NL_LARGE ? replicaCount(largeLeafOrder(entryPfnField(words, w)), level) : 1;
  const i = (w - base) / 2;
  return { head: base + 2 * (i - (i % rep)), rep };
}

/** Dirty: true when D is set in any replica of the leaf at w (hardware may set only one). */
export function amdv1IsDirty(words: Int32Array, w: number, base: number, level: number): boolean {
  const { head, rep } = runHead(words, w, base, level);
  for (let r = 0; r < rep; r++) if ((words[head + 2 * r]! & AMDV1_D) !== 0) return true;
  return false;
}

/** Clears D in every replica of the leaf at w. */
export function amdv1MakeClean(words: Int32Array, w: number, base: number, level: number): void {
  const { head, rep } = runHead(words, w, base, level);
  for (let r = 0; r < rep; r++) words[head + 2 * r] = words[head + 2 * r]! & ~AMDV1_D;
}

/** Sets D in the single entry at w, as hardware does. */
export function amdv1MakeDirty(words: Int32Array, w: number): void {
  words[w] = words[w]! | AMDV1_D;
}

/** kunit configs (spec §9.2): cfg_0 starting level 2; cfg_1 also limits the VA to 32 bits. */
export const amdv1Cfgs = deepFreeze([
  { startLevel: 2, vaBits: 64 },
  { startLevel: 2, vaBits: 32 },
] as const);
