// Chunked per-frame arrays: PagedCount8 (one byte per entry, exact int32 values through a spill map)
// and BlockedInt32 (per-block base + per-frame delta, what PhysMem keeps pin counts in).
import { describe, expect, it } from 'vitest';
import { createSim } from '../src/index.js';
import { BlockedInt32, COUNT8_SPILLED, PagedCount8, Prng } from '../src/internals.js';

const CHUNK = 1 << 16;

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
    expect(sim.checker.violations.map((v) => [v.kind, v.pfn])).toEqual([['unpin-underflow', pfn]]);
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
