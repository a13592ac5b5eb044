// Chunked typed arrays: per-frame state for a huge host is paid for only where frames are used.

const CHUNK_SHIFT = 16;
const CHUNK = 1 << CHUNK_SHIFT;
const MASK = CHUNK - 1;

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
    return (c[i & MASK] += d);
  }
  set(i: number, v: number): void {
    const c = this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
    c[i & MASK] = v;
  }
  /** Chunk holding index i (allocated on demand) and the offset inside it, for loops over runs. */
  chunkFor(i: number): Int32Array { return this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT); }
  /** Adds d to n consecutive entries from i, a chunk at a time. */
  addRun(i: number, n: number, d: number): void {
    while (n > 0) {
      const c = this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
      const off = i & MASK;
      const m = Math.min(n, CHUNK - off);
      for (let k = off; k < off + m; k++) c[k] += d;
      i += m; n -= m;
    }
  }
  /** True when every chunk is absent or all zero. */
  allZero(): boolean {
    for (const c of this.chunks) if (c !== undefined) for (let i = 0; i < c.length; i++) if (c[i] !== 0) return false;
    return true;
  }
  /** Indices with a non-zero value (for reports and tests; not for hot paths). */
  *nonZero(): Generator<[number, number]> {
    for (let k = 0; k < this.chunks.length; k++) {
      const c = this.chunks[k];
      if (c === undefined) continue;
      for (let i = 0; i < c.length; i++) if (c[i] !== 0) yield [k * CHUNK + i, c[i]!];
    }
  }
  private alloc(k: number): Int32Array {
    const c = new Int32Array(CHUNK);
    this.chunks[k] = c;
    this.bytes += CHUNK * 4;
    return c;
  }
}

/** Same as PagedInt32 with one byte per entry (frame state). */
export class PagedUint8 {
  chunks: (Uint8Array | undefined)[] = [];
  bytes = 0;
  get(i: number): number {
    const c = this.chunks[i >>> CHUNK_SHIFT];
    return c === undefined ? 0 : c[i & MASK]!;
  }
  set(i: number, v: number): void {
    const c = this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
    c[i & MASK] = v;
  }
  /** Sets n consecutive entries from i to v. */
  fill(i: number, n: number, v: number): void {
    while (n > 0) {
      const c = this.chunks[i >>> CHUNK_SHIFT] ?? this.alloc(i >>> CHUNK_SHIFT);
      const off = i & MASK;
      const m = Math.min(n, CHUNK - off);
      c.fill(v, off, off + m);
      i += m; n -= m;
    }
  }
  private alloc(k: number): Uint8Array {
    const c = new Uint8Array(CHUNK);
    this.chunks[k] = c;
    this.bytes += CHUNK;
    return c;
  }
}

export const PAGED_CHUNK_SHIFT = CHUNK_SHIFT;
export const PAGED_MASK = MASK;
