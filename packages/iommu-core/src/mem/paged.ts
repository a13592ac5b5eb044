// Chunked typed arrays: per-frame state for a huge host is paid for only where frames are used.

const CHUNK_SHIFT = 16;
const CHUNK = 1 << CHUNK_SHIFT;
const MASK = CHUNK - 1;
// 2 MiB blocks (512 frames): the granularity of THP / hugetlb runs
const BLOCK_SHIFT = 9,
  BLOCK = 1 << BLOCK_SHIFT,
  BLOCK_MASK = BLOCK - 1;

type Chunks = readonly (ArrayLike<number> | undefined)[];

/** True when every allocated chunk holds only zeros (shared by the chunked counters' allZero). */
function chunksAllZero(chunks: Chunks): boolean {
  for (const c of chunks) if (c !== undefined) for (let i = 0; i < c.length; i++) if (c[i] !== 0) return false;
  return true;
}

/** [index, value] of each entry whose stored element is non-zero, its value read through get(). */
function* nonZeroEntries(chunks: Chunks, arr: { get(i: number): number }): Generator<[number, number]> {
  for (let k = 0; k < chunks.length; k++) {
    const c = chunks[k];
    if (c === undefined) continue;
    for (let i = 0; i < c.length; i++) if (c[i] !== 0) yield [k * CHUNK + i, arr.get(k * CHUNK + i)];
  }
}

/** A sparse Int32 array indexed by frame number; untouched chunks read as 0 and cost nothing. */
export class PagedInt32 {
  chunks: (Int32Array | undefined)[] = [];
  /** Bytes allocated so far. */
  bytes = 0;
  get(i: number): number {
    const c = this.chunks[i >>> CHUNK_SHIFT];
    return c === undefined ? 0 : c[i & MASK]!;
  }
  /** Adds d at i and returns the new value. */
  add(i: number, d: number): number {
    const c = this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
    const k = i & MASK,
      v = c[k]! + d;
    c[k] = v;
    return v;
  }
  set(i: number, v: number): void {
    const c = this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
    c[i & MASK] = v;
  }
  /** Chunk holding index i (allocated on demand) and the offset inside it, for loops over runs. */
  chunkFor(i: number): Int32Array {
    return this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
  }
  /** Adds d to n consecutive entries from i, a chunk at a time. */
  addRun(i: number, n: number, d: number): void {
    while (n > 0) {
      const c = this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
      const off = i & MASK;
      const m = Math.min(n, CHUNK - off);
      for (let k = off; k < off + m; k++) c[k]! += d;
      i += m;
      n -= m;
    }
  }
  /** True when every chunk is absent or all zero. */
  allZero(): boolean {
    return chunksAllZero(this.chunks);
  }
  /** Indices with a non-zero value (for reports and tests; not for hot paths). */
  nonZero(): Generator<[number, number]> {
    return nonZeroEntries(this.chunks, this);
  }
  private alloc(k: number): Int32Array {
    const c = new Int32Array(CHUNK);
    this.chunks[k] = c;
    this.bytes += CHUNK * 4;
    return c;
  }
}

/**
 * Same as PagedInt32 with one byte per entry (frame state), plus a per-2 MiB-block layer: a fill of
 * whole aligned 512-entry blocks stores one byte per block and touches no per-entry memory; a block
 * gets per-entry bytes only once an entry in it is set apart from the rest.
 */
export class PagedUint8 {
  chunks: (Uint8Array | undefined)[] = [];
  bytes = 0;
  /** Per block: its value while uniform. */
  private readonly blkVal = new PagedBlockBytes();
  /** Per block: 1 once its entries live in `chunks`. */
  private readonly blkMixed = new PagedBlockBytes();
  get(i: number): number {
    const b = i >>> BLOCK_SHIFT;
    if (this.blkMixed.get(b) === 0) return this.blkVal.get(b);
    return this.chunks[i >>> CHUNK_SHIFT]![i & MASK]!;
  }
  set(i: number, v: number): void {
    this.mixBlock(i >>> BLOCK_SHIFT)[i & MASK] = v;
  }
  /** Sets n consecutive entries from i to v. */
  fill(i: number, n: number, v: number): void {
    while (n > 0) {
      const b = i >>> BLOCK_SHIFT;
      if ((i & BLOCK_MASK) === 0 && n > BLOCK_MASK) {
        // whole blocks: one byte each
        const k = Math.floor(n / BLOCK);
        n -= k * BLOCK;
        i += k * BLOCK;
        this.blkVal.fill(b, k, v);
        this.blkMixed.fill(b, k, 0);
        continue;
      }
      const m = Math.min(n, BLOCK - (i & BLOCK_MASK));
      const off = i & MASK;
      this.mixBlock(b).fill(v, off, off + m);
      i += m;
      n -= m;
    }
  }
  /** Block b's value while all its entries are equal and stored once, else -1. */
  uniformValue(b: number): number {
    return this.blkMixed.get(b) === 0 ? this.blkVal.get(b) : -1;
  }
  /**
   * Gives block b per-entry bytes (filled with its uniform value); returns its chunk, where entry i
   * of the block is at (i & PAGED_MASK). The chunk stays the block's until fill() covers the whole
   * block again, so a caller that owns the block may write it directly.
   */
  mixBlock(b: number): Uint8Array {
    const c = this.chunks[b >>> (CHUNK_SHIFT - BLOCK_SHIFT)] ?? this.alloc(b >>> (CHUNK_SHIFT - BLOCK_SHIFT));
    if (this.blkMixed.get(b) === 0) {
      const off = (b << BLOCK_SHIFT) & MASK;
      c.fill(this.blkVal.get(b), off, off + BLOCK);
      this.blkMixed.set(b, 1);
    }
    return c;
  }
  private alloc(k: number): Uint8Array {
    const c = new Uint8Array(CHUNK);
    this.chunks[k] = c;
    this.bytes += CHUNK;
    return c;
  }
}

/** One byte per 2 MiB block, chunked (the block layer of PagedUint8). */
class PagedBlockBytes {
  chunks: (Uint8Array | undefined)[] = [];
  get(b: number): number {
    const c = this.chunks[b >>> CHUNK_SHIFT];
    return c === undefined ? 0 : c[b & MASK]!;
  }
  set(b: number, v: number): void {
    const c = this.chunks[b >>> CHUNK_SHIFT];
    if (c !== undefined) c[b & MASK] = v;
    else if (v !== 0) this.fill(b, 1, v);
  }
  fill(b: number, n: number, v: number): void {
    while (n > 0) {
      const k = b >>> CHUNK_SHIFT;
      let c = this.chunks[k];
      if (c === undefined) {
        c = new Uint8Array(CHUNK);
        this.chunks[k] = c;
      }
      const off = b & MASK;
      const m = Math.min(n, CHUNK - off);
      c.fill(v, off, off + m);
      b += m;
      n -= m;
    }
  }
}

/** Inline byte of a PagedCount8 entry whose value lives in the spill map. */
export const COUNT8_SPILLED = -128;

/**
 * A sparse int32 array indexed by frame number, one signed byte per entry: values -127..127 live in
 * the byte, any other value in a small Map, with the byte set to COUNT8_SPILLED. Pin-count deltas are
 * 0 or 1 for nearly every frame, and each byte of per-frame state costs about 3 ns per page on
 * first touch, so this is 1 byte per frame where an Int32Array is 4; a frame pinned 128 or more
 * times apart from its block is exact too, through the spill.
 */
export class PagedCount8 {
  chunks: (Int8Array | undefined)[] = [];
  /** Bytes of chunks allocated so far (the spill map holds a handful of entries, not counted). */
  bytes = 0;
  /** Values outside -127..127, by index. */
  readonly spill = new Map<number, number>();
  get(i: number): number {
    const c = this.chunks[i >>> CHUNK_SHIFT];
    if (c === undefined) return 0;
    const x = c[i & MASK]!;
    return x !== COUNT8_SPILLED ? x : this.spill.get(i)!;
  }
  /** Adds d at i and returns the new value. */
  add(i: number, d: number): number {
    const c = this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
    const k = i & MASK,
      x = c[k]!,
      w = x + d;
    if (x !== COUNT8_SPILLED && w >= -127 && w <= 127) {
      c[k] = w;
      return w;
    }
    return this.addSlow(c, i, d);
  }
  set(i: number, v: number): void {
    const c = this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
    this.store(c, i, v);
  }
  /** Chunk holding index i (allocated on demand); a byte equal to COUNT8_SPILLED means "ask get()". */
  chunkFor(i: number): Int8Array {
    return this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
  }
  /** Adds d to n consecutive entries from i, a chunk at a time. */
  addRun(i: number, n: number, d: number): void {
    if (n === 1) {
      this.add(i, d);
      return;
    } // a scattered 4 KiB frame: no loop set-up
    while (n > 0) {
      const c = this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
      const off = i & MASK;
      const m = Math.min(n, CHUNK - off);
      for (let k = off; k < off + m; k++) {
        const x = c[k]!,
          w = x + d;
        if (x !== COUNT8_SPILLED && w >= -127 && w <= 127) c[k] = w;
        else this.addSlow(c, i + (k - off), d);
      }
      i += m;
      n -= m;
    }
  }
  /** True when every entry is 0 (a spilled entry's byte is COUNT8_SPILLED, never 0). */
  allZero(): boolean {
    return chunksAllZero(this.chunks);
  }
  /** Indices with a non-zero value, read through get() (for reports and tests; not for hot paths). */
  nonZero(): Generator<[number, number]> {
    return nonZeroEntries(this.chunks, this);
  }
  /** The rare path of add: the entry is spilled, or its new value leaves -127..127. */
  private addSlow(c: Int8Array, i: number, d: number): number {
    const k = i & MASK;
    const v = (c[k] === COUNT8_SPILLED ? this.spill.get(i)! : c[k]!) + d;
    this.store(c, i, v);
    return v;
  }
  private store(c: Int8Array, i: number, v: number): void {
    const k = i & MASK;
    if (v >= -127 && v <= 127) {
      if (c[k] === COUNT8_SPILLED) this.spill.delete(i); // back in range: keep the map small
      c[k] = v;
    } else {
      c[k] = COUNT8_SPILLED;
      this.spill.set(i, v);
    }
  }
  private alloc(k: number): Int8Array {
    const c = new Int8Array(CHUNK);
    this.chunks[k] = c;
    this.bytes += CHUNK;
    return c;
  }
}

/**
 * Per-frame counts (pin counts) stored as a per-2 MiB-block base plus a per-entry delta:
 * value(i) = base[i >> 9] + delta[i]. Adding to whole aligned 512-entry blocks (a THP or hugetlb
 * pin) touches 4 bytes per block; per-entry memory (one byte, see PagedCount8) is paid only for
 * blocks touched partially. Values are exact int32s.
 */
export class BlockedInt32 {
  readonly base = new PagedInt32();
  readonly delta = new PagedCount8();
  /** Per block: 1 once delta was touched in it (its entries may differ from each other). */
  readonly touched = new PagedBlockBytes();
  get bytes(): number {
    return this.base.bytes + this.delta.bytes;
  }
  get(i: number): number {
    return this.base.get(i >>> BLOCK_SHIFT) + this.delta.get(i);
  }
  /** True when block b's entries all equal base[b] (its delta was never touched). */
  uniform(b: number): boolean {
    return this.touched.get(b) === 0;
  }
  /** Adds d to n consecutive entries from i: whole aligned blocks in the base, the rest in delta. */
  addRun(i: number, n: number, d: number): void {
    if (n === 1) {
      // one scattered 4 KiB page: the common case of a 4k-backed guest, no loop
      this.touched.set(i >>> BLOCK_SHIFT, 1);
      this.delta.add(i, d);
      return;
    }
    while (n > 0) {
      if ((i & BLOCK_MASK) === 0 && n > BLOCK_MASK) {
        this.base.add(i >>> BLOCK_SHIFT, d);
        i += BLOCK;
        n -= BLOCK;
        continue;
      }
      const m = Math.min(n, BLOCK - (i & BLOCK_MASK));
      this.touched.set(i >>> BLOCK_SHIFT, 1);
      if (m === 1) this.delta.add(i, d);
      else this.delta.addRun(i, m, d);
      i += m;
      n -= m;
    }
  }
  allZero(): boolean {
    for (let k = 0; k < this.base.chunks.length; k++) {
      const c = this.base.chunks[k];
      if (c === undefined) continue;
      for (let j = 0; j < c.length; j++)
        if (c[j] !== 0) {
          for (let f = (k * CHUNK + j) << BLOCK_SHIFT, e = f + BLOCK; f < e; f++) if (this.get(f) !== 0) return false;
        }
    }
    for (const [f] of this.delta.nonZero()) if (this.get(f) !== 0) return false;
    return true;
  }
}

export const PAGED_CHUNK_SHIFT = CHUNK_SHIFT;
export const PAGED_MASK = MASK;
