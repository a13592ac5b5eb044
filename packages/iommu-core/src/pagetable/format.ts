// The page-table format contract: a small codec per format, modeled on generic_pt's format
// functions (drivers/iommu/generic_pt/fmt/*.h). The engine never reads PTE bits itself.
//
// Every format here is a radix tree of 4 KiB tables with 512 64-bit entries; level 0 holds 4 KiB
// items and an item at level L covers 2^(12 + 9L) bytes. A 64-bit entry is two int32 words in the
// arena: lo = bits 0..31, hi = bits 32..63. An all-zero entry is always empty, and clearing always
// writes zeros, so the engine can test emptiness without a call.

export const PT_ENTRY_EMPTY = 0, PT_ENTRY_TABLE = 1, PT_ENTRY_OA = 2;

/** Decoded entry, filled by PtFormat.load(); one preallocated instance per walker. */
export class PtState {
  /** PT_ENTRY_* of the last load. */
  type = 0;
  /** TABLE: child table pfn. OA: first pfn of the whole leaf (head of a replicated run). */
  pfn = 0;
  /** OA: leaf size as an order (log2 bytes). */
  order = 0;
}

export interface PtFormat {
  readonly name: string;
  /** Highest 0-based level a table may sit at (ref: 3 for 48-bit; amdv1: 5, AMD mode 6). */
  readonly maxLevel: number;
  /** Leaf orders (log2 bytes) the format can hold at a level, ascending; [] when none. */
  leafOrders(level: number): readonly number[];
  /** Classify the entry at word offset w of a table at `level`; fills st. pt_load_entry(). */
  load(words: Int32Array, w: number, level: number, st: PtState): number;
  /**
   * Writes n consecutive leaves of 2^order bytes starting at pfn (each leaf's replicas included),
   * from word w. Returns the number of 64-bit entries written. pt_install_leaf_entry().
   */
  installLeaves(words: Int32Array, w: number, level: number, pfn: number, order: number, prot: number, n: number): number;
  /** Writes a pointer to table `tablePfn` at w (entry of a table at `level`). pt_install_table(). */
  installTable(words: Int32Array, w: number, level: number, tablePfn: number): void;
  /**
   * Optional linear 4 KiB codec: the two words of a natural-size leaf at level 0 for pfn, into
   * out[0] (lo) and out[1] (hi). A format that has it promises that the leaf for pfn + 1 with the
   * same prot is (lo + 4096, hi) unless pfn + 1 is a multiple of 2^20, and that no other entry
   * encodes like that. The engine then writes, recognises and counts runs of 4 KiB leaves itself,
   * in one pass with the conflict check and the reach counts (the hot path of every 4K guest).
   */
  leaf4k?(pfn: number, prot: number, out: Int32Array): void;
  /** IOMMU_READ | IOMMU_WRITE | ... permissions of the leaf entry at w. pt_attr_from_entry(). */
  leafProt(words: Int32Array, w: number): number;
}

/** Log2 bytes one item covers at a level: 12 + 9 * level. */
export const itemOrder = (level: number): number => 12 + 9 * level;
/** Level whose items are the natural home of a leaf of `order`. */
export const levelOfOrder = (order: number): number => Math.floor((order - 12) / 9);

/** Clears n 64-bit entries from word w (shared by every format: empty is all zeros). */
export function clearEntries(words: Int32Array, w: number, n: number): void {
  words.fill(0, w, w + 2 * n);
}
