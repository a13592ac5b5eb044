// Page-table pages: one growable arena of fixed-size chunks, 1024 int32 words (512 64-bit PTEs)
// per table. A table's pfn is TABLE_PFN_BASE + its index, so PTEs hold real-looking addresses and
// a hardware walker can turn a pfn back into words without a lookup.

import { IommuError } from '../errno.js';

export const TABLE_WORDS = 1024;
export const TABLE_PFN_BASE = 2 ** 36; // above any modeled RAM (<= 2^32 frames) and MMIO
const TABLES_PER_CHUNK_SHIFT = 8; // 256 tables = 1 MiB per chunk
const TABLES_PER_CHUNK = 1 << TABLES_PER_CHUNK_SHIFT;

export class TableArena {
  chunks: Int32Array[] = [];
  /** Per chunk, one byte per table: 1 while allocated (catches a double free before it corrupts). */
  private live: Uint8Array[] = [];
  private freeIdx: number[] = [];
  private next = 0;
  inUse = 0;
  peak = 0;

  /** Allocates a zeroed table; returns its pfn. */
  alloc(): number {
    let t: number;
    if (this.freeIdx.length > 0) {
      t = this.freeIdx.pop()!;
      const c = this.chunks[t >>> TABLES_PER_CHUNK_SHIFT]!;
      const o = (t & (TABLES_PER_CHUNK - 1)) * TABLE_WORDS;
      c.fill(0, o, o + TABLE_WORDS);
    } else {
      t = this.next++;
      if (t >>> TABLES_PER_CHUNK_SHIFT >= this.chunks.length) {
        if (t >= 2 ** 31) throw new IommuError('ENOMEM', 'alloc_pgtable_page', 'page-table arena is full');
        this.chunks.push(new Int32Array(TABLES_PER_CHUNK * TABLE_WORDS));
        this.live.push(new Uint8Array(TABLES_PER_CHUNK));
      }
    }
    this.live[t >>> TABLES_PER_CHUNK_SHIFT]![t & (TABLES_PER_CHUNK - 1)] = 1;
    if (++this.inUse > this.peak) this.peak = this.inUse;
    return TABLE_PFN_BASE + t;
  }

  /**
   * Returns table `pfn` to the arena. RangeError (an internal invariant: a caller's bug) for a pfn
   * that is not a table page, or a table already free: a second free would put it on the free list
   * twice and two later allocations would share it.
   */
  free(pfn: number): void {
    const t = pfn - TABLE_PFN_BASE;
    if (!(t >= 0 && t < this.next && Number.isInteger(t))) throw new RangeError(`pfn ${pfn} is not a page-table page`);
    const live = this.live[t >>> TABLES_PER_CHUNK_SHIFT]!,
      k = t & (TABLES_PER_CHUNK - 1);
    if (live[k] === 0) throw new RangeError(`BUG: double free of table page ${pfn}`);
    live[k] = 0;
    this.freeIdx.push(t);
    this.inUse--;
  }

  /** The chunk holding table `pfn`; pair with wordOffset(). */
  words(pfn: number): Int32Array {
    return this.chunks[(pfn - TABLE_PFN_BASE) >>> TABLES_PER_CHUNK_SHIFT]!;
  }
  /** Word offset of entry 0 of table `pfn` inside words(pfn). */
  wordOffset(pfn: number): number {
    return ((pfn - TABLE_PFN_BASE) & (TABLES_PER_CHUNK - 1)) * TABLE_WORDS;
  }
  isTable(pfn: number): boolean {
    return pfn >= TABLE_PFN_BASE && pfn < TABLE_PFN_BASE + this.next;
  }
  /** Bytes reserved for tables (chunks). */
  get bytes(): number {
    return this.chunks.length * TABLES_PER_CHUNK * TABLE_WORDS * 4;
  }
}
