// What the engine counts besides PTEs: the reach count of every frame a leaf translates to (the
// safety checker's O(1) "is it still reachable" test, PhysMem.reach*) and the pteWrites /
// pteClears events. The 4 KiB counts are one signed byte per frame in chunks (PagedCount8); the
// engine's hot loops take a chunk at a time from here and step its bytes with inc()/dec(), which
// hold the spill rule (a byte leaving -127..127 moves to the count's map), so no loop repeats it.

import { PAGED_CHUNK_SHIFT } from '../mem/paged.js';
import type { PagedCount8 } from '../mem/paged.js';
import type { PhysMem } from '../physmem.js';
import { EV, type Meter } from '../sim/meter.js';

const CHUNK = 1 << PAGED_CHUNK_SHIFT,
  MASK = CHUNK - 1;

export class PtAccount {
  private readonly r4: PagedCount8;
  private readonly ram: number;
  /**
   * Reach bytes for 4 KiB leaves outside host RAM (MMIO, whose pfns lie far above it): a run of
   * them steps this page table's own scratch chunk so the loops stay monomorphic. Its values mean
   * nothing, and a saturated byte takes the slow path, which skips non-RAM frames.
   */
  private noReach: Int8Array | null = null;

  constructor(
    private readonly mem: PhysMem,
    private readonly meter: Meter,
  ) {
    this.r4 = mem.reach4k;
    this.ram = mem.nFrames;
  }

  /** The reach-byte chunk holding 4 KiB frame pfn (index it with pfn & CHUNK-1): chunkOffset(). */
  chunk(pfn: number): Int8Array {
    if (pfn < this.ram) return this.r4.chunkFor(pfn);
    if (this.noReach === null) this.noReach = new Int8Array(CHUNK);
    return this.noReach;
  }

  /** Index of frame pfn's byte inside chunk(pfn). */
  chunkOffset(pfn: number): number {
    return pfn & MASK;
  }

  /** Frames from pfn, at most n, whose bytes chunk(pfn) holds: a run ends at a chunk edge and at the end of RAM. */
  run(pfn: number, n: number): number {
    const inChunk = CHUNK - (pfn & MASK);
    const m = n < inChunk ? n : inChunk;
    if (pfn >= this.ram) return m;
    const left = this.ram - pfn;
    return m < left ? m : left;
  }

  /** One more leaf reaches frame pfn, whose byte is c[k]. */
  inc(c: Int8Array, k: number, pfn: number): void {
    const x = c[k]!; // 127 and -128 (spilled) go the slow way
    if (x < 127 && x > -128) c[k] = x + 1;
    else this.slow(pfn, 1);
  }

  /** One leaf less reaches frame pfn, whose byte is c[k]. */
  dec(c: Int8Array, k: number, pfn: number): void {
    const x = c[k]!; // -127 and -128 (spilled) go the slow way
    if (x > -127) c[k] = x - 1;
    else this.slow(pfn, -1);
  }

  /** A leaf of 2^order bytes at pfn appears (d = 1) or goes (d = -1). */
  leaf(pfn: number, order: number, d: number): void {
    this.mem.reachAdd(pfn, order, d);
  }

  /** n runs of 4 KiB frames from pfn gain (d = 1) or lose (d = -1) a leaf. */
  run4k(pfn: number, n: number, d: number): void {
    this.mem.reachAddRun4k(pfn, n, d);
  }

  /** n 64-bit entries were written (leaves with their replicas, or table pointers). */
  wrote(n: number): void {
    this.meter.charge(EV.pteWrites, n);
  }

  /** n entries were cleared. */
  cleared(n: number): void {
    this.meter.charge(EV.pteClears, n);
  }

  private slow(pfn: number, d: number): void {
    if (pfn < this.ram) this.r4.add(pfn, d);
  }
}
