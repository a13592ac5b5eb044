// The page-table format contract: a small codec per format, modeled on generic_pt's format
// functions (drivers/iommu/generic_pt/fmt/*.h). The engine never reads PTE bits itself, and it
// asks the format for the geometry too: how many items a table at each level holds
// (pt_num_items_lg2) and how much one item covers (pt_table_item_lg2sz), so a 16 KiB granule or a
// 128-entry top level is a format change only.
//
// A table is one arena page of up to 512 64-bit entries, each two int32 words: lo = bits 0..31,
// hi = bits 32..63. An all-zero entry is always empty, and clearing always writes zeros, so the
// engine can test emptiness without a call.

export const PT_ENTRY_EMPTY = 0,
  PT_ENTRY_TABLE = 1,
  PT_ENTRY_OA = 2;

/** Frames over which a linear 4K codec's low word carries (PtFormat.leaf4k): 2^20, the lo word's 20 pfn bits. */
export const LEAF4K_CARRY = 0x100000;

/** Zero-length words: a PtState's table before it is loaded (nothing can be written to it). */
const NO_WORDS = new Int32Array(0);

/**
 * A number field's first value: -0 is not a small integer, so V8 gives the field a double
 * representation from the start. The fields it initializes hold pfns and page numbers above 2^31
 * (table pfns start at 2^36); a field that started as a small integer would change the object's
 * hidden class the first time one arrived, and every optimized walk would have to be rebuilt.
 */
export const F64 = -0;

/** PtState.key of a state that holds no table (never equal to a table's key, which is >= 0). */
export const PT_NO_KEY = -0.5;

/**
 * One level of a walk (generic_pt's struct pt_state) and the decoded entry PtFormat.load() fills.
 * The engine preallocates one per level per page table; every field is set here, so the shape
 * never changes. A format's load() writes only pfn and order.
 */
export class PtState {
  /** PT_ENTRY_* of the last load. */
  type = 0;
  /** TABLE: child table pfn. OA: first pfn of the whole leaf (head of a replicated run). */
  pfn = F64;
  /** OA: leaf size as an order (log2 bytes). */
  order = 0;
  /** Level of the table this state walks (0 holds the smallest leaves). */
  level = 0;
  /** pfn of the table. */
  table = F64;
  /** Arena chunk holding the table (TableArena.words) and the word offset of its entry 0. */
  words: Int32Array = NO_WORDS;
  base = 0;
  /** Entry the walk is at, and one past the last entry the range covers in this table. */
  index = 0;
  endIndex = 0;
  /** IOVA page of entry 0 (the first page the table covers). */
  va = F64;
  /** Which table of its level is loaded: va / table span; PT_NO_KEY when none is (or it was unlinked). */
  key = PT_NO_KEY;
}

export interface PtFormat {
  readonly name: string;
  /** Highest 0-based level a table may sit at (ref: 3 for 48-bit; amdv1: 5, AMD mode 6). */
  readonly maxLevel: number;
  /** Log2 bytes one item of a table at `level` covers (pt_table_item_lg2sz); level 0's is the granule, >= 12. */
  itemOrder(level: number): number;
  /** Log2 of the items a table at `level` holds (pt_num_items_lg2), 1..9: a table page has 512 entries. */
  numItemsLg2(level: number): number;
  /** Leaf orders (log2 bytes) the format can hold at a level, ascending; [] when none (pt_possible_sizes). */
  leafOrders(level: number): readonly number[];
  /** Classify the entry at word offset w of a table at `level`; fills st.pfn and st.order. pt_load_entry(). */
  load(words: Int32Array, w: number, level: number, st: PtState): number;
  /**
   * Writes n consecutive leaves of 2^order bytes starting at pfn (each leaf's replicas included),
   * from word w. Returns the number of 64-bit entries written. pt_install_leaf_entry().
   */
  installLeaves(words: Int32Array, w: number, level: number, pfn: number, order: number, prot: number, n: number): number;
  /** Writes a pointer to table `tablePfn` at w (entry of a table at `level`). pt_install_table(). */
  installTable(words: Int32Array, w: number, level: number, tablePfn: number): void;
  /**
   * Optional linear 4 KiB codec, for formats whose level-0 items are 4 KiB: the two words of a
   * natural-size leaf at level 0 for pfn, into out[0] (lo) and out[1] (hi). A format that has it
   * promises that the leaf for pfn + 1 with the same prot is (lo + 4096, hi) unless pfn + 1 is a
   * multiple of LEAF4K_CARRY, and that no other entry encodes like that. The engine then writes,
   * recognises and counts runs of 4 KiB leaves itself, in one pass with the conflict check and the
   * reach counts (the hot path of every 4K guest).
   */
  leaf4k?(pfn: number, prot: number, out: Int32Array): void;
  /** IOMMU_READ | IOMMU_WRITE | ... permissions of the leaf entry at w. pt_attr_from_entry(). */
  leafProt(words: Int32Array, w: number): number;
}

/** P9[L] = 2^(9L): pages one item covers at level L of the 4 KiB-granule, 9-bit-per-level geometry (frozen). */
export const P9: readonly number[] = Object.freeze([1, 512, 262144, 134217728, 68719476736, 35184372088832, 18014398509481984, 2 ** 63]);

/** Clears n 64-bit entries from word w (shared by every format: empty is all zeros). */
export function clearEntries(words: Int32Array, w: number, n: number): void {
  words.fill(0, w, w + 2 * n);
}
