// Host frame allocator: scattered 4 KiB frames keep their states implicit while their block is open.
import { describe, expect, it } from 'vitest';
import { createSim, FRAME_FREE, FRAME_USER } from '../src/index.js';

/** Frames per state over the whole host, read one by one through frameState(). */
function census(sim: ReturnType<typeof createSim>): [number, number, number] {
  const n: [number, number, number] = [0, 0, 0];
  for (let f = 0; f < sim.mem.nFrames; f++) n[sim.mem.frameState(f) as 0 | 1 | 2]++;
  return n;
}

describe('FrameAllocator scattered frames', () => {
  it('test_scatter_states_implicit: dealt frames read USER, the rest FREE, with no per-frame bytes', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 9 });
    const b = sim.mem.allocBacking(3000, '4k');
    const user = new Set(b.pfns);
    expect(user.size).toBe(3000);
    expect(census(sim)).toEqual([16384 - 3000, 0, 3000]);
    for (let f = 0; f < sim.mem.nFrames; f++) if ((sim.mem.frameState(f) === FRAME_USER) !== user.has(f)) expect(f).toBe(-1);
    expect(sim.mem.frames.state.bytes).toBe(0);
  });

  it('test_scatter_full_block_uniform: a block whose 512 frames were all dealt is one uniform byte', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 2 });
    const b = sim.mem.allocBacking(12000, '4k');
    const perBlock = new Map<number, number>();
    for (const p of b.pfns) perBlock.set(p >>> 9, (perBlock.get(p >>> 9) ?? 0) + 1);
    const full = [...perBlock].filter(([, n]) => n === 512).map(([blk]) => blk);
    expect(full.length).toBeGreaterThan(0);
    for (const blk of full) for (let f = blk * 512; f < blk * 512 + 512; f++) expect(sim.mem.frameState(f)).toBe(FRAME_USER);
    expect(sim.mem.frames.state.bytes).toBe(0);
  });

  it('test_scatter_free_while_open: freeing a frame of an open block gives it explicit bytes, states stay exact', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 4 });
    const b = sim.mem.allocBacking(100, '4k');
    const victim = b.pfns[37]!;
    sim.mem.frames.freeFrame(victim);
    expect(sim.mem.frameState(victim)).toBe(FRAME_FREE);
    expect(sim.mem.frames.state.bytes).toBe(1 << 16);     // one chunk of per-frame bytes now
    expect(census(sim)).toEqual([16384 - 99, 0, 99]);
    expect(() => sim.mem.frames.freeFrame(victim)).toThrow(/double free/);
    // a frame the slot has not dealt yet is free: freeing it is a double free, as with explicit bytes
    const blk = b.pfns[0]! >>> 9;
    let undealt = -1;
    for (let f = blk * 512; f < blk * 512 + 512 && undealt < 0; f++) if (sim.mem.frameState(f) === FRAME_FREE && f !== victim) undealt = f;
    expect(() => sim.mem.frames.freeFrame(undealt)).toThrow(/double free/);
    // dealing goes on after the block turned explicit
    const more = sim.mem.allocBacking(9000, '4k');
    expect(new Set([...b.pfns, ...more.pfns]).size).toBe(9100);
    expect(census(sim)).toEqual([16384 - 9099, 0, 9099]);
    sim.mem.freeBacking(more);
    expect(census(sim)).toEqual([16384 - 99, 0, 99]);
  });
});
