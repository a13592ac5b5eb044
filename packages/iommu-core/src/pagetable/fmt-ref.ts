// The reference driver's page-table format: a plain 4-level, 9-bit radix table in the spirit of
// the iommufd selftest's mock format. Not a hardware format; it exists so the core can be tested
// and used on any page-size bitmap, including replicated (contiguous) leaves.
//
// lo word: bit 0 present, bits 1..5 prot (R, W, CACHE, NOEXEC, MMIO), bit 6 table,
//          bits 7..10 log2(replicas), bits 12..31 pfn[19:0]; hi word: pfn[39:20].
// Every replica of a leaf holds the same value (the leaf's first pfn).

import { POW2_TABLE } from '../pgsize.js';
import { PT_ENTRY_EMPTY, PT_ENTRY_OA, PT_ENTRY_TABLE, type PtFormat, type PtState } from './format.js';

const REF_PR = 1 << 0;
const REF_PROT_SHIFT = 1;
const REF_PROT_MASK = 0x1f;
const REF_TABLE = 1 << 6;
const REF_REP_SHIFT = 7;

const pfnLo = (pfn: number): number => (pfn & 0xfffff) << 12; // & keeps the low bits of any integer < 2^53
const pfnHi = (pfn: number): number => Math.floor(pfn / 0x100000) | 0;
const pfnOf = (words: Int32Array, w: number): number => (words[w + 1]! >>> 0) * 0x100000 + (words[w]! >>> 12);

/** A reference format whose leaf orders per level come from a page-size bitmap (4K granule, 48-bit IOVA). */
export function createRefFormat(pgsizeBitmap: bigint): PtFormat {
  const perLevel: number[][] = [[], [], [], []];
  for (let o = 12; o < 48; o++) {
    if (((pgsizeBitmap >> BigInt(o)) & 1n) === 0n) continue;
    const l = Math.floor((o - 12) / 9);
    if (l < 3) perLevel[l]!.push(o); // level 3 items (512 GiB) cannot be leaves here
  }
  return {
    name: 'ref',
    maxLevel: 3,
    itemOrder: (level) => 12 + 9 * level,
    numItemsLg2: () => 9,
    leafOrders: (level) => perLevel[level] ?? [],
    load(words, w, level, st: PtState) {
      const lo = words[w]!;
      if ((lo & REF_PR) === 0) return PT_ENTRY_EMPTY;
      st.pfn = pfnOf(words, w);
      if ((lo & REF_TABLE) !== 0) return PT_ENTRY_TABLE;
      st.order = 12 + 9 * level + ((lo >>> REF_REP_SHIFT) & 15);
      return PT_ENTRY_OA;
    },
    installLeaves(words, w, level, pfn, order, prot, n) {
      const rl = order - 12 - 9 * level;
      const rep = 1 << rl;
      const flags = REF_PR | ((prot & REF_PROT_MASK) << REF_PROT_SHIFT) | (rl << REF_REP_SHIFT);
      if (rep === 1 && order === 12) {
        // consecutive 4K frames: carry the low 20 pfn bits, divide only when they wrap
        let lo20 = pfn & 0xfffff,
          hi = pfnHi(pfn);
        for (let k = 0; k < n; k++, w += 2) {
          words[w] = (lo20 << 12) | flags;
          words[w + 1] = hi;
          if (++lo20 === 0x100000) {
            lo20 = 0;
            hi++;
          }
        }
        return n;
      }
      const lp = POW2_TABLE[order - 12]!; // `2 ** k` with a variable k is a Math.pow call
      for (let k = 0; k < n; k++, pfn += lp) {
        const lo = pfnLo(pfn) | flags,
          hi = pfnHi(pfn);
        for (let r = 0; r < rep; r++, w += 2) {
          words[w] = lo;
          words[w + 1] = hi;
        }
      }
      return n * rep;
    },
    installTable(words, w, _level, tablePfn) {
      words[w] = pfnLo(tablePfn) | REF_PR | REF_TABLE | (3 << REF_PROT_SHIFT);
      words[w + 1] = pfnHi(tablePfn);
    },
    leaf4k(pfn, prot, out) {
      out[0] = pfnLo(pfn) | REF_PR | ((prot & REF_PROT_MASK) << REF_PROT_SHIFT);
      out[1] = pfnHi(pfn);
    },
    leafProt: (words, w) => (words[w]! >>> REF_PROT_SHIFT) & REF_PROT_MASK,
  };
}
