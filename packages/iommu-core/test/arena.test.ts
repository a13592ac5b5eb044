// The page-table arena (sim.mem.tables): table pfns from 2^36 up, 256 tables per 1 MiB chunk, a
// freed table reused first and zeroed, the peak, and the RangeErrors for pages that are not tables.
import { describe, expect, it } from 'vitest';
import { createSim } from '../src/index.js';
import { expectSysErr } from './harness.js';

const BASE = 2 ** 36;
const arena = () => createSim({ memory: 64n << 20n, seed: 1 }).mem.tables;

describe('TableArena', () => {
  it('test_arena_chunks: pfns in order, a second 1 MiB chunk at the 257th table, offsets restart in it', () => {
    const a = arena();
    const pfns = Array.from({ length: 257 }, () => a.alloc());
    expect(pfns).toEqual(Array.from({ length: 257 }, (_, i) => BASE + i));
    expect([a.bytes, a.chunks.length]).toEqual([2 * 1024 * 1024, 2]);
    expect([a.wordOffset(BASE + 1), a.wordOffset(BASE + 255), a.wordOffset(BASE + 256)]).toEqual([1024, 255 * 1024, 0]);
    expect(a.words(BASE + 255)).toBe(a.chunks[0]);
    expect(a.words(BASE + 256)).toBe(a.chunks[1]);
    expect([a.isTable(BASE - 1), a.isTable(BASE), a.isTable(BASE + 256), a.isTable(BASE + 257)]).toEqual([false, true, true, false]);
  });

  it('test_arena_reuse: the last table freed comes back first, zeroed; peak and inUse follow', () => {
    const a = arena();
    const [t0, t1, t2] = [a.alloc(), a.alloc(), a.alloc()];
    const w = a.words(t1!),
      o = a.wordOffset(t1!);
    w.fill(-1, o, o + 1024);
    a.free(t0!);
    a.free(t1!);
    expect([a.inUse, a.peak]).toEqual([1, 3]);
    expect(a.alloc()).toBe(t1);
    expect(w.subarray(o, o + 1024).every((x) => x === 0)).toBe(true);
    expect(a.alloc()).toBe(t0);
    expect(a.alloc()).toBe(t2! + 1);
    expect([a.inUse, a.peak]).toEqual([4, 4]);
  });

  it('test_arena_bad_free: a pfn below the arena, past its last table or between tables is not a table page', () => {
    const a = arena();
    a.alloc();
    for (const p of [BASE - 1, BASE + 1, BASE + 0.5, 5])
      expect(() => a.free(p)).toThrow(new RangeError(`pfn ${p} is not a page-table page`));
    expect(a.inUse).toBe(1);
  });

  it('test_arena_full: table 2^31 is ENOMEM from alloc_pgtable_page, and nothing is taken', () => {
    const a = arena();
    a.alloc();
    // 2^31 tables are 8 TiB of page-table pages: the counter is set there rather than filled
    (a as unknown as { next: number }).next = 2 ** 31;
    expectSysErr(() => a.alloc(), 'ENOMEM', 'alloc_pgtable_page', 'page-table arena is full');
    expect([a.inUse, a.peak, a.chunks.length]).toEqual([1, 1, 1]);
  });
});
