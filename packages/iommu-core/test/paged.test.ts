// Chunked per-frame arrays: PagedCount8 (one byte per entry, exact int32 values through a spill map)
// and BlockedInt32 (per-block base + per-frame delta, what PhysMem keeps pin counts in).
import { describe, expect, it } from 'vitest';
import { createSim } from '../src/index.js';
import { BlockedInt32, COUNT8_SPILLED, PagedCount8, PagedInt32, PagedUint8, Prng } from '../src/internals.js';

const CHUNK = 1 << 16;
/** Frames per 64 Ki blocks of 512: the first frame whose block lives in a block layer's second chunk. */
const BLOCK_CHUNK = CHUNK * 512;

describe('PagedInt32', () => {
  it('test_int32_set_add: each entry keeps its own value, one 256 KiB chunk per 64 Ki entries', () => {
    const a = new PagedInt32();
    expect([a.get(3), a.bytes]).toEqual([0, 0]);
    a.set(3, 2 ** 31 - 1);
    a.set(4, -5); // a second set in an allocated chunk must not replace the chunk
    expect(a.add(3, -1)).toBe(2 ** 31 - 2);
    expect(a.add(CHUNK + 1, 9)).toBe(9);
    expect([a.get(3), a.get(4), a.get(5), a.get(CHUNK + 1)]).toEqual([2 ** 31 - 2, -5, 0, 9]);
    expect(a.bytes).toBe(2 * 4 * CHUNK);
    a.chunkFor(7)[7] = 11; // the chunk handed out is the one get() reads
    expect([a.get(7), a.get(3)]).toEqual([11, 2 ** 31 - 2]);
    expect(a.chunkFor(3 * CHUNK + 2)[2]).toBe(0);
    expect(a.bytes).toBe(3 * 4 * CHUNK);
  });

  it('test_int32_add_run: a run across two chunk edges adds exactly once to each entry and nothing beside it', () => {
    const a = new PagedInt32();
    a.set(CHUNK - 1, 100);
    a.addRun(CHUNK - 3, CHUNK + 5, 2); // CHUNK-3 .. 2*CHUNK+1
    const at = [CHUNK - 4, CHUNK - 3, CHUNK - 1, CHUNK, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 1, 2 * CHUNK + 2];
    expect(at.map((i) => a.get(i))).toEqual([0, 2, 102, 2, 2, 2, 2, 0]);
    a.addRun(5, 0, 7);
    a.addRun(5, -3, 7);
    expect(a.get(5)).toBe(0);
    expect(a.allZero()).toBe(false);
    a.addRun(CHUNK - 3, CHUNK + 5, -2);
    expect([...a.nonZero()]).toEqual([[CHUNK - 1, 100]]);
    a.set(CHUNK - 1, 0);
    expect([a.allZero(), [...a.nonZero()]]).toEqual([true, []]);
  });
});

describe('PagedUint8', () => {
  it('test_u8_whole_blocks: aligned 512-entry fills are one byte per block, no per-entry chunk', () => {
    const a = new PagedUint8();
    a.fill(1024, 1024, 3);
    expect([a.get(1023), a.get(1024), a.get(2047), a.get(2048)]).toEqual([0, 3, 3, 0]);
    expect([a.uniformValue(1), a.uniformValue(2), a.uniformValue(3), a.uniformValue(4)]).toEqual([0, 3, 3, 0]);
    expect(a.bytes).toBe(0);
  });

  it('test_u8_partial: 511 entries are per-entry bytes, the 512th keeps the block value', () => {
    const a = new PagedUint8();
    a.fill(0, 511, 4);
    expect([a.get(0), a.get(510), a.get(511), a.uniformValue(0)]).toEqual([4, 4, 0, -1]);
    expect(a.bytes).toBe(CHUNK);
  });

  it('test_u8_unaligned_run: head and tail entries per entry, whole blocks between by the block', () => {
    const a = new PagedUint8();
    a.fill(500, 1100, 9); // 500..511 per entry, blocks 1 and 2, 1536..1599 per entry
    expect([499, 500, 511, 512, 1535, 1536, 1599, 1600].map((i) => a.get(i))).toEqual([0, 9, 9, 9, 9, 9, 9, 0]);
    expect([0, 1, 2, 3].map((b) => a.uniformValue(b))).toEqual([-1, 9, 9, -1]);
  });

  it('test_u8_mix_and_refill: a set inside a uniform block keeps the others, a whole fill makes it uniform again', () => {
    const a = new PagedUint8();
    a.fill(512, 512, 7);
    a.set(515, 1);
    expect([a.get(514), a.get(515), a.get(516), a.get(1023), a.get(511), a.uniformValue(1)]).toEqual([7, 1, 7, 7, 0, -1]);
    const c = a.mixBlock(1); // already mixed: same chunk, same bytes
    expect([c[515], c[516]]).toEqual([1, 7]);
    a.fill(512, 512, 2);
    expect([a.get(515), a.uniformValue(1)]).toEqual([2, 2]);
  });

  it("test_u8_block_chunk_edge: a fill across the block layer's chunk edge sets both blocks", () => {
    const a = new PagedUint8();
    a.fill(BLOCK_CHUNK - 512, 1024, 5);
    expect([
      a.get(BLOCK_CHUNK - 513),
      a.get(BLOCK_CHUNK - 512),
      a.get(BLOCK_CHUNK),
      a.get(BLOCK_CHUNK + 511),
      a.get(BLOCK_CHUNK + 512),
    ]).toEqual([0, 5, 5, 5, 0]);
    a.set(BLOCK_CHUNK + 3, 6); // the mixed flag of a block in the second chunk
    expect([a.get(BLOCK_CHUNK + 3), a.get(BLOCK_CHUNK + 4), a.uniformValue(CHUNK), a.uniformValue(CHUNK - 1)]).toEqual([6, 5, -1, 5]);
    expect(a.bytes).toBe(CHUNK);
  });
});

describe('PagedCount8', () => {
  it('test_count8_inline: values -127..127 stay in the byte, one chunk per 64 Ki entries', () => {
    const a = new PagedCount8();
    expect(a.get(5)).toBe(0);
    expect(a.bytes).toBe(0);
    expect(a.add(5, 127)).toBe(127);
    expect(a.add(CHUNK + 9, -127)).toBe(-127);
    expect([a.get(5), a.get(CHUNK + 9), a.get(6)]).toEqual([127, -127, 0]);
    expect(a.chunkFor(5)[5]).toBe(127);
    expect(a.spill.size).toBe(0);
    expect(a.bytes).toBe(2 * CHUNK);
  });

  it('test_count8_spill: 128 and -128 spill, stay exact, and come back inline', () => {
    const a = new PagedCount8();
    a.set(7, 127);
    expect(a.add(7, 1)).toBe(128); // leaves the byte: spilled, not wrapped to -128
    expect(a.chunkFor(7)[7]).toBe(COUNT8_SPILLED);
    expect(a.spill.get(7)).toBe(128);
    expect(a.add(7, 70000)).toBe(70128);
    expect(a.get(7)).toBe(70128);
    expect(a.add(7, -70001)).toBe(127); // back in range: inline again, map entry gone
    expect(a.chunkFor(7)[7]).toBe(127);
    expect(a.spill.size).toBe(0);
    expect(a.add(8, -128)).toBe(-128); // -128 itself is the marker, so it spills
    expect([a.chunkFor(8)[8], a.spill.get(8), a.get(8)]).toEqual([COUNT8_SPILLED, -128, -128]);
    a.set(8, 2 ** 31 - 1);
    expect(a.get(8)).toBe(2 ** 31 - 1);
    a.set(8, 0);
    expect([a.get(8), a.spill.size]).toEqual([0, 0]);
  });

  it('test_count8_add_run: a run across a chunk edge, with spilled entries inside', () => {
    const a = new PagedCount8();
    a.set(CHUNK - 2, 127);
    a.set(CHUNK + 1, -200);
    a.addRun(CHUNK - 3, 6, 1);
    expect([CHUNK - 3, CHUNK - 2, CHUNK - 1, CHUNK, CHUNK + 1, CHUNK + 2, CHUNK + 3].map((i) => a.get(i))).toEqual([
      1, 128, 1, 1, -199, 1, 0,
    ]);
    expect([...a.spill.entries()].sort((x, y) => x[0] - y[0])).toEqual([
      [CHUNK - 2, 128],
      [CHUNK + 1, -199],
    ]);
    a.addRun(CHUNK - 3, 6, -1);
    expect([...a.nonZero()]).toEqual([
      [CHUNK - 2, 127],
      [CHUNK + 1, -200],
    ]);
    expect(a.allZero()).toBe(false);
    a.set(CHUNK - 2, 0);
    a.set(CHUNK + 1, 0);
    expect(a.allZero()).toBe(true);
    expect(a.spill.size).toBe(0);
  });

  it('test_count8_random: 20000 seeded adds match a plain number array', () => {
    const rng = new Prng(42),
      a = new PagedCount8(),
      ref = new Float64Array(3 * CHUNK);
    for (let n = 0; n < 20000; n++) {
      const i = rng.int(64) * 3000 + rng.int(8); // few hot entries, so some wander far
      const d = rng.int(4) === 0 ? rng.int(401) - 200 : rng.int(3) - 1;
      if (rng.int(2) === 0) {
        ref[i]! += d;
        expect(a.add(i, d)).toBe(ref[i]);
      } else {
        const len = 1 + rng.int(5);
        for (let k = 0; k < len; k++) ref[i + k]! += d;
        a.addRun(i, len, d);
      }
    }
    for (let i = 0; i < ref.length; i++) if (a.get(i) !== ref[i]) expect([i, a.get(i)]).toEqual([i, ref[i]]);
    let spilled = 0;
    for (let i = 0; i < ref.length; i++) if (ref[i]! < -127 || ref[i]! > 127) spilled++;
    expect(a.spill.size).toBe(spilled);
  });
});

describe('BlockedInt32', () => {
  it('test_blocked_whole_blocks: aligned 512-entry runs go to the base, no per-entry bytes', () => {
    const b = new BlockedInt32();
    b.addRun(1024, 1024, 1);
    expect([b.get(1023), b.get(1024), b.get(2047), b.get(2048)]).toEqual([0, 1, 1, 0]);
    expect([b.uniform(2), b.uniform(3), b.delta.bytes]).toEqual([true, true, 0]);
  });

  it('test_blocked_partial: a partial block and single entries land in the byte delta', () => {
    const b = new BlockedInt32();
    b.addRun(1000, 600, 1); // 1000..1023 delta, 1024..1535 base, 1536..1599 delta
    b.addRun(1030, 1, 1);
    expect([b.get(999), b.get(1000), b.get(1024), b.get(1030), b.get(1599), b.get(1600)]).toEqual([0, 1, 1, 2, 1, 0]);
    expect([b.uniform(1), b.uniform(2), b.uniform(3)]).toEqual([false, false, false]);
    expect(b.bytes).toBe(4 * CHUNK + CHUNK); // one Int32 base chunk, one Int8 delta chunk
    b.addRun(1000, 600, -1);
    b.addRun(1030, 1, -1);
    expect(b.allZero()).toBe(true);
  });

  it('test_blocked_511: 511 aligned entries are not a whole block', () => {
    const b = new BlockedInt32();
    b.addRun(0, 511, 1);
    expect([b.get(0), b.get(510), b.get(511), b.uniform(0), b.base.get(0)]).toEqual([1, 1, 0, false, 0]);
  });

  it('test_blocked_all_zero: a base cancelled by deltas is zero; a base, a delta or one uncancelled entry is not', () => {
    const baseOnly = new BlockedInt32();
    baseOnly.addRun(1024, 512, 1); // block 2 of the base's first chunk
    expect(baseOnly.allZero()).toBe(false);
    const far = new BlockedInt32();
    far.addRun(BLOCK_CHUNK + 1024, 512, 1); // block 2 of the base's second chunk; the first chunk absent
    expect([far.base.chunks[0], far.allZero()]).toEqual([undefined, false]);
    const deltaOnly = new BlockedInt32();
    deltaOnly.addRun(5, 1, 1);
    expect(deltaOnly.allZero()).toBe(false);
    const cancelled = new BlockedInt32();
    cancelled.addRun(1024, 512, 1);
    cancelled.addRun(1024, 510, -1);
    cancelled.addRun(1534, 1, -1);
    expect([cancelled.get(1535), cancelled.allZero()]).toEqual([1, false]); // the last entry is the one left
    cancelled.addRun(1535, 1, -1);
    expect([cancelled.base.get(2), cancelled.get(1024), cancelled.get(1535), cancelled.allZero()]).toEqual([1, 0, 0, true]);
    const head = new BlockedInt32();
    head.addRun(1024, 512, 1);
    head.addRun(1024, 1, -1); // only the first entry cancelled
    expect(head.allZero()).toBe(false);
  });

  it('test_blocked_spill: 200 single pins of one frame are exact and unwind to zero', () => {
    const b = new BlockedInt32();
    for (let k = 0; k < 200; k++) b.addRun(77, 1, 1);
    expect([b.get(77), b.delta.spill.get(77)]).toEqual([200, 200]);
    b.addRun(0, 512, 1); // a whole-block pin on top: base 1
    expect(b.get(77)).toBe(201);
    for (let k = 0; k < 200; k++) b.addRun(77, 1, -1);
    b.addRun(0, 512, -1);
    expect([b.get(77), b.delta.spill.size, b.allZero()]).toEqual([0, 0, true]);
  });
});

describe('PhysMem pin counts through the byte delta', () => {
  it('test_pin_count_spill: a frame pinned 300 times apart from its block unpins exactly, then underflows once', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    const pfn = 4096 + 3;
    for (let k = 0; k < 300; k++) expect(sim.mem.pin(pfn, 1)).toBe(true);
    expect([sim.mem.pinCount(pfn), sim.mem.pinnedPages]).toEqual([300, 300]);
    for (let k = 0; k < 300; k++) sim.mem.unpin(pfn, 1);
    expect([sim.mem.pinCount(pfn), sim.mem.pinnedPages, sim.mem.pins.delta.spill.size]).toEqual([0, 0, 0]);
    sim.mem.unpin(pfn, 1); // not pinned: reported, count stays 0
    expect([sim.mem.pinCount(pfn), sim.mem.pinnedPages]).toEqual([0, 0]);
    // no page table or IOTLB reaches it: the violation names no domain, IOVA or path, and no call
    expect(sim.checker.violations).toEqual([
      { kind: 'unpin-underflow', pfn, iova: -1, domain: -1, via: '', call: '', detail: 'unpin of a frame that is not pinned' },
    ]);
  });

  it('test_pin_count_block_base_minus_deltas: 200 block pins, then per-frame unpins push the delta below -127', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    const f0 = 512 * 5;
    for (let k = 0; k < 200; k++) sim.mem.pin(f0, 512);
    for (let k = 0; k < 199; k++) sim.mem.unpin(f0 + 10, 3);
    expect([sim.mem.pinCount(f0 + 9), sim.mem.pinCount(f0 + 10), sim.mem.pinCount(f0 + 12), sim.mem.pinCount(f0 + 13)]).toEqual([
      200, 1, 1, 200,
    ]);
    expect(sim.mem.pins.delta.get(f0 + 11)).toBe(-199);
    sim.mem.unpin(f0 + 10, 3);
    expect(sim.mem.pinCount(f0 + 11)).toBe(0);
    expect(sim.checker.violations.length).toBe(0);
    sim.mem.unpin(f0 + 11, 1); // underflow: delta goes back to -base, count 0
    expect([sim.mem.pinCount(f0 + 11), sim.mem.pins.delta.get(f0 + 11)]).toEqual([0, -200]);
    expect(sim.checker.violations.map((v) => v.kind)).toEqual(['unpin-underflow']);
    expect(sim.mem.pinnedPages).toBe(200 * 512 - 200 * 3);
  });
});
