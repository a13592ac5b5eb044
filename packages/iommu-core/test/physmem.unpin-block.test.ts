// PhysMem.unpin of a whole 2 MiB block whose pins are uniform (one update for the block): the last
// pin dropped under a 2 MiB or 1 GiB leaf, or under a 4 KiB leaf on one frame, reports exactly the
// frames still reached; one unpin too many reports every frame once and leaves the count at 0.
// Also the host memory bounds and which frames are RAM.
import { describe, expect, it } from 'vitest';
import { createSim } from '../src/index.js';

const B = 512;
const f0 = 5 * B; // a 2 MiB block inside the first reach chunk (2^16 frames)
const kinds = (sim: ReturnType<typeof createSim>): [string, number][] => sim.checker.violations.map((v) => [v.kind, v.pfn]);
const every = (kind: string, from: number): [string, number][] => Array.from({ length: B }, (_, k) => [kind, from + k]);

describe('PhysMem.unpin of a uniform 2 MiB block', () => {
  it('test_block_unpin_no_reach: the last pin of a block nothing reaches goes quietly', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    sim.mem.pin(f0, B);
    sim.mem.unpin(f0, B);
    expect([sim.mem.pinCount(f0), sim.mem.pinCount(f0 + B - 1), sim.mem.pinnedPages, kinds(sim)]).toEqual([0, 0, 0, []]);
  });

  it('test_block_unpin_underflow: one unpin too many reports each of the 512 frames once, and the count stays 0', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    sim.mem.pin(f0, B);
    sim.mem.unpin(f0, B);
    sim.mem.unpin(f0, B);
    expect(kinds(sim)).toEqual(every('unpin-underflow', f0));
    expect(sim.checker.violations[7]!.detail).toBe('unpin of a frame that is not pinned');
    expect([sim.mem.pinCount(f0), sim.mem.pinCount(f0 + 300), sim.mem.pinnedPages]).toEqual([0, 0, 0]);
    // the block's count went back to 0, not -1: a new pin counts 1 and its unpin is clean
    sim.mem.pin(f0, B);
    expect([sim.mem.pinCount(f0 + 9), sim.mem.pinnedPages]).toEqual([1, B]);
    sim.mem.unpin(f0, B);
    expect([sim.mem.pinnedPages, sim.checker.violations.length]).toEqual([0, B]);
  });

  it('test_block_unpin_under_2m_leaf: the last pin under a 2 MiB leaf reports all 512 frames', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    sim.mem.pin(f0, B);
    sim.mem.reachAdd(f0, 21, 1);
    sim.mem.unpin(f0, B);
    expect(kinds(sim)).toEqual(every('unpin-while-reachable', f0));
    expect(sim.checker.violations[0]!.detail).toBe('last pin dropped while a PTE or IOTLB entry still translates to the frame');
  });

  it('test_block_unpin_under_1g_leaf: the last pin of a block a 1 GiB leaf covers reports all 512 frames', () => {
    const sim = createSim({ memory: 2n << 30n, seed: 1 });
    const g = 2 ** 18; // the second 1 GiB of the host
    sim.mem.reachAdd(g, 30, 1);
    sim.mem.pin(g + 3 * B, B);
    sim.mem.unpin(g + 3 * B, B);
    expect(kinds(sim)).toEqual(every('unpin-while-reachable', g + 3 * B));
  });

  it('test_block_unpin_under_4k_leaf: only the frame a 4 KiB leaf reaches is reported', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    sim.mem.pin(f0, B);
    sim.mem.reachAdd(f0 + 7, 12, 1);
    sim.mem.reachAdd(f0 + B + 1, 12, 1); // the next block: same reach chunk, not this block
    sim.mem.unpin(f0, B);
    expect(kinds(sim)).toEqual([['unpin-while-reachable', f0 + 7]]);
  });
});

describe('PhysMem bounds', () => {
  it('test_host_memory_bounds: a positive multiple of 2 MiB, else RangeError naming the value', () => {
    for (const m of [0n, -(2n << 20n), 3n << 20n, (2n << 20n) + 4096n]) {
      expect(() => createSim({ memory: m, seed: 1 })).toThrow(new RangeError(`memory must be a positive multiple of 2 MiB, got ${m}`));
    }
    expect(createSim({ memory: 2n << 20n, seed: 1 }).mem.nFrames).toBe(B);
  });

  it('test_is_ram: frames 0 .. nFrames - 1, nothing below or past them', () => {
    const mem = createSim({ memory: 64n << 20n, seed: 1 }).mem;
    expect([-1, 0, mem.nFrames - 1, mem.nFrames, 2 ** 36].map((p) => mem.isRam(p))).toEqual([false, true, true, false, false]);
  });
});
