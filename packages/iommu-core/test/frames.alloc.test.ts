// The frame allocator on its own, with a Prng the test holds: exact placements, the draws each host
// age makes, the bounds it refuses, and what exhaustion and the drain of held-open blocks give back.
// Each expectation is worked out here from the allocator's documented rules (address order on a
// fresh host, first fit from a random aligned candidate, ...) and from a twin Prng of the same seed.
import { describe, expect, it } from 'vitest';
import { FRAME_FREE, FRAME_KERNEL, FRAME_USER, FrameAllocator } from '../src/mem/frames.js';
import { Prng } from '../src/sim/prng.js';
import { expectSysErr } from './harness.js';

const B = 512; // frames per 2 MiB block
const GIGA = 262144; // frames per 1 GiB

const alloc = (blocks: number, seed = 1, age = 1): FrameAllocator => new FrameAllocator(blocks * B, new Prng(seed), age);

/** The first seed from 1 up whose Prng's first int(n) satisfies want. */
function seedWithFirstInt(n: number, want: (v: number) => boolean): number {
  for (let s = 1; ; s++) if (want(new Prng(s).int(n))) return s;
}

/** Frames per state (free, kernel, user) over the whole host, read one by one through stateOf(). */
function census(fa: FrameAllocator): [number, number, number] {
  const c: [number, number, number] = [0, 0, 0];
  for (let f = 0; f < fa.nFrames; f++) c[fa.stateOf(f) as 0 | 1 | 2]++;
  return c;
}

/** Gives back every frame of block b (all of them in use). */
function freeBlock(fa: FrameAllocator, b: number): void {
  for (let f = b * B; f < (b + 1) * B; f++) fa.freeFrame(f);
}

describe('FrameAllocator bounds', () => {
  it('test_host_size_bounds: a positive multiple of 512 frames, at most 2^32', () => {
    for (const n of [0, -512, 1, 511, 513, 1000, 1536 + 256]) {
      expect(() => new FrameAllocator(n, new Prng(1))).toThrow(
        new RangeError(`host memory must be a positive multiple of 2 MiB (got ${n} frames)`),
      );
    }
    expect(() => new FrameAllocator(2 ** 32 + B, new Prng(1))).toThrow(
      new RangeError('host memory above 16 TiB is not modeled (pfns are stored as u32)'),
    );
    const one = new FrameAllocator(B, new Prng(1));
    expect([one.nBlocks, one.freeFrames, one.allocBlock(FRAME_USER)]).toEqual([1, B, 0]);
  });

  it('test_16_tib_host: blocks past 8 TiB get their pfns right (no int32 shift)', () => {
    // a seed whose first draw picks a block in the top half, where b << 9 would be negative
    const seed = seedWithFirstInt(2 ** 23, (v) => v >= 2 ** 22);
    const top = new Prng(seed).int(2 ** 23);
    const fa = new FrameAllocator(2 ** 32, new Prng(seed));
    expect([fa.nBlocks, fa.freeFrames]).toEqual([2 ** 23, 2 ** 32]);
    const p = fa.allocBlock(FRAME_USER);
    expect(p).toBe(top * B);
    expect(p).toBeGreaterThanOrEqual(2 ** 31);
    expect([fa.stateOf(p), fa.stateOf(p + B - 1), fa.stateOf(p - 1), fa.stateOf(p + B)]).toEqual([
      FRAME_USER,
      FRAME_USER,
      FRAME_FREE,
      FRAME_FREE,
    ]);
    fa.freeFrame(p + 7);
    expect([fa.stateOf(p + 7), fa.freeFrames]).toEqual([FRAME_FREE, 2 ** 32 - B + 1]);
    // other placements stay inside the host with the state they were given
    const got = [
      fa.allocGiga(FRAME_USER),
      fa.allocContig(3, 1, FRAME_KERNEL),
      fa.allocScattered(),
      fa.allocContig(600, 1024, FRAME_KERNEL),
    ];
    for (const f of got) expect(f >= 0 && f < 2 ** 32).toBe(true);
    expect(got.map((f) => fa.stateOf(f))).toEqual([FRAME_USER, FRAME_KERNEL, FRAME_USER, FRAME_KERNEL]);
    expect([got[0]! % GIGA, got[3]! % 1024]).toEqual([0, 0]);
    expect(fa.framesInUse).toBe(B - 1 + GIGA + 3 + 1 + 600);
    // kernel bump blocks, a new one per block-aligned frame: about half lie past 8 TiB
    const kernel = Array.from({ length: 24 }, () => fa.allocContig(1, B, FRAME_KERNEL));
    expect(kernel.filter((f) => f >= 0 && f < 2 ** 32 && f % B === 0 && fa.stateOf(f) === FRAME_KERNEL).length).toBe(24);
    expect(kernel.filter((f) => f >= 2 ** 31).length).toBeGreaterThan(0);
  });

  it('test_alloc_contig_bad_arguments: EINVAL for a count or an alignment out of range, nothing taken', () => {
    const fa = alloc(8);
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectSysErr(() => fa.allocContig(n, 1, FRAME_KERNEL), 'EINVAL', 'alloc_pages', `bad frame count ${n}`);
    }
    for (const a of [0, -2, 3, 6, 1.5, 0.5, 2 ** 32, 2 ** 33, Number.NaN]) {
      expectSysErr(() => fa.allocContig(1, a, FRAME_KERNEL), 'EINVAL', 'alloc_pages', `align ${a} is not a power of two up to 2^31 frames`);
    }
    expect(fa.framesInUse).toBe(0);
    // the largest alignment is taken, and on this host only pfn 0 has it
    expect(fa.allocContig(1, 2 ** 31, FRAME_KERNEL)).toBe(0);
    expect(census(fa)).toEqual([8 * B - 1, 1, 0]);
    // a second one finds pfn 0 taken and no other 2^31-aligned frame below 4 GiB: ENOMEM, not block 1
    // (2^31 read as a signed shift would make the step negative, then one block)
    expectSysErr(
      () => fa.allocContig(1, 2 ** 31, FRAME_KERNEL),
      'ENOMEM',
      'alloc_pages',
      'no 1 contiguous free frames aligned to 2147483648',
    );
    expect(census(fa)).toEqual([8 * B - 1, 1, 0]);
  });

  it('test_partial_gigabyte_region: a region of 511 blocks holds no 1 GiB page', () => {
    for (const seed of [1, 2, 3, 4]) {
      const fa = alloc(1023, seed); // 2 GiB less 2 MiB: region 1 has 511 blocks
      expect(fa.allocGiga(FRAME_USER)).toBe(0);
      expectSysErr(() => fa.allocGiga(FRAME_USER), 'ENOMEM', 'alloc_gigantic_page', 'no free naturally aligned 1 GiB run in host memory');
      expect(fa.freeFrames).toBe(511 * B);
    }
  });
});

describe('FrameAllocator host age draws', () => {
  it('test_age_0_draws_nothing: a fresh host hands out address order without touching the Prng', () => {
    const rng = new Prng(3);
    const fa = new FrameAllocator(1024 * B, rng, 0);
    expect(fa.allocBlock(FRAME_USER)).toBe(0);
    expect(fa.allocGiga(FRAME_USER)).toBe(GIGA); // region 0 lost block 0
    const out = new Uint32Array(700);
    expect(fa.allocScatteredRun(out, 0, 700)).toBe(700);
    expect([...out]).toEqual(Array.from({ length: 700 }, (_, i) => B + i)); // blocks 1 and 2, ascending
    expect(fa.allocScattered()).toBe(B + 700);
    expect(rng.u32()).toBe(new Prng(3).u32());
    // one frame at a time across the end of a block: the next block opens in address order too
    const one = new FrameAllocator(8 * B, new Prng(3), 0);
    expect(Array.from({ length: 2 * B + 1 }, () => one.allocScattered())).toEqual(Array.from({ length: 2 * B + 1 }, (_, i) => i));
  });

  it('test_age_0_gigantic_pages_in_address_order: the next free region after the one taken last, wrapping', () => {
    const fa = alloc(4 * 512, 1, 0); // four 1 GiB regions
    expect([fa.allocGiga(FRAME_USER), fa.allocGiga(FRAME_USER), fa.allocGiga(FRAME_USER)]).toEqual([0, GIGA, 2 * GIGA]);
    for (let b = 0; b < 1024; b++) freeBlock(fa, b); // regions 0 and 1 come back
    expect(fa.allocGiga(FRAME_USER)).toBe(3 * GIGA);
    expect(fa.allocGiga(FRAME_USER)).toBe(0);
    expect(fa.allocGiga(FRAME_USER)).toBe(GIGA);
  });

  it('test_age_draw_equal_to_age_is_fresh: a draw equal to the age counts as the fresh pick', () => {
    // the age is the Prng's own first draw, so fresh() compares that draw with itself
    let seed = 1;
    for (; ; seed++) {
      const t = new Prng(seed);
      const a = t.next(),
        second = t.next();
      if (a > 0 && second >= a && Math.floor(second * 64) !== 0) break;
    }
    const age = new Prng(seed).next();
    expect(new FrameAllocator(64 * B, new Prng(seed), age).allocBlock(FRAME_USER)).toBe(0);
    // the same for a 4 KiB run: the sequential slot opens on block 0 (its pickBlock draw is the second
    // draw, also >= a) and deals frame 0 first
    const out = new Uint32Array(1);
    const fa = new FrameAllocator(64 * B, new Prng(seed), age);
    expect(fa.allocScatteredRun(out, 0, 1)).toBe(1);
    expect(out[0]).toBe(0);
  });
});

describe('FrameAllocator scattered runs', () => {
  it.each([1, 0.5, 0])('test_run_count age=%d: n frames at out[at..], or fewer once no whole block is left', (age) => {
    const fa = alloc(64, 5, age);
    const out = new Uint32Array(120).fill(0xffffffff);
    expect(fa.allocScatteredRun(out, 7, 100)).toBe(100);
    expect(out.slice(0, 7).every((v) => v === 0xffffffff) && out.slice(107).every((v) => v === 0xffffffff)).toBe(true);
    expect(new Set(out.slice(7, 107)).size).toBe(100);
    expect(fa.framesInUse).toBe(100);
    for (const f of out.slice(7, 107)) expect(fa.stateOf(f)).toBe(FRAME_USER);

    // two blocks: the run stops right after the deal that opened the second one
    const two = alloc(2, 5, age);
    const o2 = new Uint32Array(1024);
    const k = two.allocScatteredRun(o2, 0, 1024);
    const second = [...o2.slice(0, k)].findIndex((f) => f >>> 9 !== o2[0]! >>> 9);
    expect(second).toBeGreaterThan(0);
    expect(k).toBe(second + 1);
    expect(two.framesInUse).toBe(k);
    expect(new Set(o2.slice(0, k)).size).toBe(k);
  });
});

describe('FrameAllocator kernel allocations (allocContig)', () => {
  it('test_whole_block_kernel_alloc: 512 frames take a block the way allocBlock does, the bump block stays', () => {
    const seed = seedWithFirstInt(8, (v) => v !== 0);
    const fa = alloc(8, seed, 0);
    const k = fa.allocContig(1, 1, FRAME_KERNEL); // the bump block is random even on a fresh host
    const kb = k >>> 9;
    expect(k).toBe(new Prng(seed).int(8) * B);
    const whole = fa.allocContig(B, 1, FRAME_KERNEL); // a fresh host's next block in address order
    expect(whole).toBe(kb === 0 ? B : 0);
    expect(fa.allocContig(1, 1, FRAME_KERNEL)).toBe(k + 1);
    expect(census(fa)).toEqual([8 * B - 514, 514, 0]);
  });

  it('test_block_aligned_kernel_alloc: align 512 opens a bump block that later frames continue', () => {
    for (const seed of [1, 2, 3]) {
      const fa = alloc(8, seed);
      const p = fa.allocContig(1, B, FRAME_KERNEL);
      expect(p % B).toBe(0);
      expect(fa.allocContig(3, 1, FRAME_KERNEL)).toBe(p + 1);
      expect(fa.allocContig(1, 4, FRAME_KERNEL)).toBe(p + 4);
    }
  });

  it('test_kernel_alloc_aligned_past_a_block: align 1024 and 4096 frames, however small the count', () => {
    const fa = alloc(64, 11);
    const got: number[] = [];
    for (let i = 0; i < 6; i++) got.push(fa.allocContig(1, 1024, FRAME_KERNEL));
    for (let i = 0; i < 3; i++) got.push(fa.allocContig(2, 4096, FRAME_KERNEL));
    expect(got.map((p, i) => p % (i < 6 ? 1024 : 4096))).toEqual(Array(9).fill(0));
    expect(new Set(got.map((p) => p >>> 9)).size).toBe(9);
    expect(census(fa)).toEqual([64 * B - 12, 12, 0]); // each block's tail came back
  });

  it('test_kernel_bump_block_0: a bump block at pfn 0 is used like any other', () => {
    const seed = seedWithFirstInt(2, (v) => v === 0);
    const fa = alloc(2, seed);
    expect(fa.allocContig(1, 1, FRAME_KERNEL)).toBe(0);
    expect(fa.allocContig(1, 1, FRAME_KERNEL)).toBe(1);
    expect(fa.allocContig(2, 2, FRAME_KERNEL)).toBe(2);
  });

  it('test_kernel_enomem_and_drain: ENOMEM with no block, unless a held-open empty block comes back', () => {
    const full = alloc(2);
    full.allocBlock(FRAME_USER);
    full.allocBlock(FRAME_USER);
    expectSysErr(() => full.allocBlock(FRAME_USER), 'ENOMEM', 'alloc_pages', 'no free 2 MiB block left in host memory');
    expectSysErr(() => full.allocContig(1, 1, FRAME_KERNEL), 'ENOMEM', 'alloc_pages', 'no 1 contiguous free frames');
    expectSysErr(() => full.allocContig(600, 1, FRAME_KERNEL), 'ENOMEM', 'alloc_pages', 'no 600 contiguous free frames aligned to 1');
    expect(full.framesInUse).toBe(2 * B);

    // the bump block's frames all come back while it is the bump block: held, then drained
    const fa = alloc(2, 4);
    const k = fa.allocContig(300, 1, FRAME_KERNEL);
    const other = fa.allocBlock(FRAME_USER);
    expect(other >>> 9).toBe(1 - (k >>> 9));
    for (let i = 0; i < 300; i++) fa.freeFrame(k + i);
    expect(fa.allocContig(300, 1, FRAME_KERNEL)).toBe(k);
    expect(census(fa)).toEqual([212, 300, 512]);
  });

  it('test_kernel_bump_block_survives_a_drain: a bump block with frames in use keeps bumping', () => {
    for (const seed of [1, 2, 3]) {
      const fa = alloc(3, seed);
      const k = fa.allocContig(10, 1, FRAME_KERNEL);
      const s = fa.allocScattered(); // opens a scatter slot on another block
      const o = fa.allocBlock(FRAME_USER); // the last free block
      expect(new Set([k >>> 9, s >>> 9, o >>> 9]).size).toBe(3);
      fa.freeFrame(s); // the scatter block is empty but held open
      expect(fa.allocBlock(FRAME_USER)).toBe((s >>> 9) * B); // the drain gave it back
      expect(fa.allocContig(1, 1, FRAME_KERNEL)).toBe(k + 10);
      expect(census(fa)).toEqual([3 * B - 1035, 11, 1024]);
    }
  });

  it("test_kernel_bump_block_kept_by_a_drain_with_a_free_block_left: the next kernel frame is the bump block's next", () => {
    // as above, and then a block comes back whole: a drain that had dropped the bump block would
    // have the next kernel allocation open a new bump block there instead of bumping on
    for (const seed of [1, 2, 3]) {
      const fa = alloc(4, seed);
      const k = fa.allocContig(10, 1, FRAME_KERNEL);
      const s = fa.allocScattered();
      const o1 = fa.allocBlock(FRAME_USER);
      const o2 = fa.allocBlock(FRAME_USER);
      expect(new Set([k >>> 9, s >>> 9, o1 >>> 9, o2 >>> 9]).size).toBe(4);
      fa.freeFrame(s);
      expect(fa.allocBlock(FRAME_USER)).toBe((s >>> 9) * B); // the drain gave it back
      freeBlock(fa, o2 >>> 9);
      expect(fa.allocContig(1, 1, FRAME_KERNEL)).toBe(k + 10);
      expect(fa.allocContig(5, 1, FRAME_KERNEL)).toBe(k + 11);
      expect(census(fa)).toEqual([4 * B - 1040, 16, 1024]);
    }
  });

  it('test_kernel_bump_block_0_drained: an empty bump block at pfn 0 comes back', () => {
    const seed = seedWithFirstInt(2, (v) => v === 0);
    const fa = alloc(2, seed);
    expect(fa.allocContig(1, 1, FRAME_KERNEL)).toBe(0);
    expect(fa.allocBlock(FRAME_USER)).toBe(B);
    fa.freeFrame(0);
    expect(fa.allocBlock(FRAME_USER)).toBe(0);
    expect(fa.freeFrames).toBe(0);
  });
});

describe('FrameAllocator multi-block runs: first fit from a random aligned candidate', () => {
  /**
   * Where an allocContig of `blocks` blocks at `step`-block alignment lands: the first candidate c0,
   * c0+1, ... (wrapping) whose blocks are all free and inside the host.
   */
  function firstFit(free: boolean[], blocks: number, step: number, c0: number): number {
    const cands = Math.ceil(free.length / step);
    for (let k = 0; k < cands; k++) {
      const b0 = ((c0 + k) % cands) * step;
      if (b0 + blocks > free.length) continue;
      let ok = true;
      for (let b = b0; b < b0 + blocks; b++) ok &&= free[b]!;
      if (ok) return b0;
    }
    return -1;
  }

  /** A fresh host (no draws) of nb blocks, with the blocks in `used` taken whole by allocBlock and the rest free. */
  function hostWith(nb: number, used: readonly number[], seed: number): FrameAllocator {
    const fa = alloc(nb, seed, 0);
    for (let b = 0; b < nb; b++) expect(fa.allocBlock(FRAME_USER)).toBe(b * B);
    for (let b = 0; b < nb; b++) if (!used.includes(b)) freeBlock(fa, b);
    return fa;
  }

  const cases: [string, number, readonly number[], number, number][] = [
    // name, host blocks, blocks in use, frames, alignment
    ['3 blocks among holes', 8, [3], 1025, 1],
    ['2 blocks, used blocks in the middle', 8, [1, 4], 600, 1],
    ['2 blocks aligned to 4', 16, [0, 5], 700, 2048],
    ['1 block aligned to 2, the last candidate a single block', 9, [2, 3], 10, 1024],
    ['4 blocks, the host end', 10, [2], 2048, 1],
  ];
  it.each(cases)('test_first_fit %s', (_name, nb, used, n, align) => {
    const free = Array.from({ length: nb }, (_, b) => !used.includes(b));
    const blocks = Math.ceil(n / B),
      step = Math.max(1, align / B);
    const starts = new Set<number>();
    for (let seed = 1; seed <= 12; seed++) {
      const fa = hostWith(nb, used, seed);
      const c0 = new Prng(seed).int(Math.ceil(nb / step));
      const want = firstFit(free, blocks, step, c0) * B;
      starts.add(want);
      const before = census(fa);
      expect(fa.allocContig(n, align, FRAME_KERNEL)).toBe(want);
      // exactly n frames taken, the tail of the last block given back
      expect(census(fa)).toEqual([before[0] - n, n, before[2]]);
      let wrong = 0;
      for (let f = want; f < want + blocks * B; f++) if (fa.stateOf(f) !== (f < want + n ? FRAME_KERNEL : FRAME_FREE)) wrong++;
      expect(wrong).toBe(0);
    }
    expect(starts.size).toBeGreaterThan(1);
  });

  it('test_first_fit_enomem: no fitting run, every state as it was', () => {
    const fa = hostWith(8, [0, 3, 5, 7], 2);
    const before = census(fa);
    expectSysErr(() => fa.allocContig(1025, 1, FRAME_KERNEL), 'ENOMEM', 'alloc_pages', 'no 1025 contiguous free frames aligned to 1');
    expectSysErr(() => fa.allocContig(10, 4096, FRAME_KERNEL), 'ENOMEM', 'alloc_pages', 'no 10 contiguous free frames aligned to 4096');
    expect(census(fa)).toEqual(before);
  });

  it('test_first_fit_after_drain: the run found once a held-open block is given back', () => {
    for (const seed of [1, 2, 3, 4]) {
      const fa = alloc(4, seed, 0);
      expect([fa.allocBlock(FRAME_USER), fa.allocBlock(FRAME_USER)]).toEqual([0, B]);
      const k = fa.allocContig(1, 1, FRAME_KERNEL); // the bump block: 2 or 3
      const kb = k >>> 9;
      expect(fa.allocBlock(FRAME_USER)).toBe((5 - kb) * B); // the other one: the host is full
      freeBlock(fa, kb - 1); // the block below the bump block, given back at once
      fa.freeFrame(k); // the bump block is empty but held
      expect(fa.allocContig(1024, 1, FRAME_KERNEL)).toBe((kb - 1) * B);
      expect(census(fa)).toEqual([0, 1024, 1024]);
    }
  });

  it('test_freed_block_is_free_at_once: a block given back whole is a candidate before any drain', () => {
    // blocks 0-2 freed after use, 3 in use, 4-7 never used: a start at 0 fits 0-2 at once
    const seed = seedWithFirstInt(8, (v) => v === 0);
    const fa = alloc(8, seed, 0);
    for (let b = 0; b < 4; b++) fa.allocBlock(FRAME_USER);
    for (let b = 0; b < 3; b++) freeBlock(fa, b);
    expect(fa.allocContig(1500, 1, FRAME_KERNEL)).toBe(0);
  });
});

describe('FrameAllocator drain and the last frames', () => {
  it.each([1, 2, 3])('test_drain_keeps_slots_in_use seed=%i: only the empty scatter block is given back', (seed) => {
    const fa = alloc(4, seed);
    const out = new Uint32Array(64);
    const k = fa.allocScatteredRun(out, 0, 64); // stops once every block is open
    const live = new Set(out.slice(0, k));
    const blocks = [...new Set([...live].map((f) => f >>> 9))];
    expect(blocks.length).toBe(4);
    const empty = blocks[0]!;
    for (const f of [...live]) {
      if (f >>> 9 === empty) {
        fa.freeFrame(f);
        live.delete(f);
      }
    }
    expect(fa.allocBlock(FRAME_KERNEL)).toBe(empty * B);
    // the other slots still deal, and every frame reads what it is
    for (let i = 0; i < 40; i++) live.add(fa.allocScattered());
    expect(live.size).toBe(k - out.slice(0, k).filter((f) => f >>> 9 === empty).length + 40);
    for (let f = 0; f < fa.nFrames; f++) {
      const want = f >>> 9 === empty ? FRAME_KERNEL : live.has(f) ? FRAME_USER : FRAME_FREE;
      if (fa.stateOf(f) !== want) expect([f, fa.stateOf(f)]).toEqual([f, want]);
    }
  });

  it.each([1, 2, 3])('test_scattered_frame_after_a_drain seed=%i: the emptied block is reopened for the slot that asks', (seed) => {
    // every block open and no free one left; the frames of one block all given back: the next user
    // frame drains that block and deals it to the drawing slot, so nothing is left for a kernel block
    const fa = alloc(4, seed);
    const out = new Uint32Array(64);
    const k = fa.allocScatteredRun(out, 0, 64);
    const empty = out[0]! >>> 9;
    for (const f of out.slice(0, k)) if (f >>> 9 === empty) fa.freeFrame(f);
    const next = fa.allocScattered();
    expect(next >>> 9).toBe(empty);
    expectSysErr(() => fa.allocBlock(FRAME_KERNEL), 'ENOMEM', 'alloc_pages', 'no free 2 MiB block left in host memory');
  });

  it("test_last_frames_from_the_bump_block_0: the kernel block's tail, then ENOMEM", () => {
    const seed = seedWithFirstInt(2, (v) => v === 0);
    const fa = alloc(2, seed);
    expect(fa.allocContig(1, 1, FRAME_KERNEL)).toBe(0);
    const user = new Set<number>();
    for (let i = 0; i < B; i++) user.add(fa.allocScattered()); // block 1, whole
    expect(user.size).toBe(B);
    expect([...user].every((f) => f >>> 9 === 1)).toBe(true);
    const tail: number[] = [];
    for (let i = 0; i < B - 1; i++) tail.push(fa.allocScattered());
    expect(tail).toEqual(Array.from({ length: B - 1 }, (_, i) => i + 1));
    expect(fa.freeFrames).toBe(0);
    expectSysErr(() => fa.allocScattered(), 'ENOMEM', 'alloc_pages', 'host memory exhausted');
    expect(census(fa)).toEqual([0, 1, 2 * B - 1]);
  });
});
