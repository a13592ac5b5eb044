// Host frame allocator: scattered 4 KiB frames keep their states implicit while their block is open.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSim, IommuError, type Backing } from '../src/index.js';
import { FRAME_FREE, FRAME_USER } from '../src/internals.js';
import { census, expectDistinct } from './harness.js';

/** Frames per state over the whole host, read one by one through frameState(). */

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
    expect(sim.mem.frames.state.bytes).toBe(1 << 16); // one chunk of per-frame bytes now
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

type SimT = ReturnType<typeof createSim>;

/** Every frame's state, read through frameState(), and the allocator's count: what a failed call must leave as it was. */
function snapshot(sim: SimT): { states: Uint8Array; inUse: number; free: number } {
  const states = new Uint8Array(sim.mem.nFrames);
  for (let f = 0; f < sim.mem.nFrames; f++) states[f] = sim.mem.frameState(f);
  return { states, inUse: sim.mem.frames.framesInUse, free: sim.mem.frames.freeFrames };
}

/** A call that throws ENOMEM leaves every frame state and the counts as they were. */
function expectEnomemUnchanged(sim: SimT, call: () => unknown): void {
  const before = snapshot(sim);
  let err: unknown;
  try {
    call();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(IommuError);
  expect(err).toMatchObject({ code: 'ENOMEM', errno: -12 });
  const after = snapshot(sim);
  expect(after.inUse).toBe(before.inUse);
  expect(after.free).toBe(before.free);
  expect(Buffer.from(after.states).equals(Buffer.from(before.states))).toBe(true);
}

// Regression: once no whole free 2 MiB block was left, allocFromAnyPartial() took undealt frames of
// open scatter blocks that their slot then dealt again (16 MiB host, 4000 4k pages: 3510 distinct pfns).
describe('FrameAllocator nearly full host', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([1, 2, 3, 7, 42])('test_scatter_fallback_distinct seed=%i: every 4k frame dealt once up to a full host', (seed) => {
    for (const n of [3584, 3900, 4000, 4095, 4096]) {
      const sim = createSim({ memory: 16n << 20n, seed });
      const b = sim.mem.allocBacking(n, '4k');
      expect(new Set(b.pfns).size).toBe(n);
      expect(expectDistinct(sim, [b])).toBe(n);
      expect(sim.mem.frames.freeFrames).toBe(4096 - n);
    }
  });

  it.each([1, 5, 9])('test_scatter_fallback_free_refill seed=%i: frees between fills, refill to exactly full, then ENOMEM', (seed) => {
    const sim = createSim({ memory: 16n << 20n, seed });
    const live: Backing[] = [];
    for (let k = 0; k < 4; k++) live.push(sim.mem.allocBacking(1000, '4k'));
    expect(expectDistinct(sim, live)).toBe(4000);
    sim.mem.freeBacking(live.splice(1, 1)[0]!); // 1000 frames back, scattered over every block
    expect(expectDistinct(sim, live)).toBe(3000);
    live.push(sim.mem.allocBacking(700, '4k'));
    expect(expectDistinct(sim, live)).toBe(3700);
    sim.mem.freeBacking(live.splice(0, 1)[0]!);
    expect(expectDistinct(sim, live)).toBe(2700);
    live.push(sim.mem.allocBacking(1396, '4k'));
    expect(expectDistinct(sim, live)).toBe(4096);
    expect(sim.mem.frames.freeFrames).toBe(0);
    expectEnomemUnchanged(sim, () => sim.mem.allocBacking(1, '4k'));
    expectEnomemUnchanged(sim, () => sim.mem.frames.allocScattered());
    for (const b of live) sim.mem.freeBacking(b);
    expect(expectDistinct(sim, [])).toBe(0);
    // the host is whole again: a full 4k fill still deals each frame once
    expect(expectDistinct(sim, [sim.mem.allocBacking(4096, '4k')])).toBe(4096);
  });

  it.each([1, 2, 3])('test_fallback_thp_fragmented seed=%i: thp and fragmented on a nearly full host', (seed) => {
    const sim = createSim({ memory: 64n << 20n, seed }); // 32 blocks, 16384 frames
    const fallback = vi.spyOn(Object.getPrototypeOf(sim.mem.frames) as { allocFromAnyPartial(j: number): number }, 'allocFromAnyPartial');
    const live: Backing[] = [sim.mem.allocBacking(3000, '4k')]; // opens 16 scatter blocks
    const thp = sim.mem.allocBacking(16 * 512, 'thp'); // every whole free block left
    live.push(thp);
    expect(expectDistinct(sim, live)).toBe(11192);
    // fragmented deals 4K regions before it fails on a 2 MiB one: the unwind frees them (per-frame bytes now)
    expect(sim.mem.frames.state.bytes).toBe(0);
    expectEnomemUnchanged(sim, () => sim.mem.allocBacking(2048, 'fragmented'));
    expect(sim.mem.frames.state.bytes).toBe(1 << 16);
    // no whole block left: a THP VMA of whole 2 MiB pages fails and unwinds although 5192 frames are free
    expectEnomemUnchanged(sim, () => sim.mem.allocBacking(512, 'thp'));
    expectEnomemUnchanged(sim, () => sim.mem.allocBacking(512, 'fragmented:0'));
    // 4K pages until slots run dry and the fallback deals; a THP tail and small fragmented VMAs are 4K pages too
    expect(fallback).toHaveBeenCalledTimes(0);
    live.push(sim.mem.allocBacking(4000, '4k'));
    expect(expectDistinct(sim, live)).toBe(15192);
    live.push(sim.mem.allocBacking(300, 'thp'));
    live.push(sim.mem.allocBacking(400, 'fragmented'));
    live.push(sim.mem.allocBacking(300, 'fragmented:0.25'));
    expect(expectDistinct(sim, live)).toBe(16192);
    expect(fallback.mock.calls.length).toBeGreaterThan(0);
    // 16 whole blocks come back: thp takes 8, fragmented 1 or none; its 4K pages open the rest and then
    // deal from partly used blocks again (every slot was fully dealt)
    sim.mem.freeBacking(thp);
    live.splice(live.indexOf(thp), 1);
    expect(expectDistinct(sim, live)).toBe(8000);
    live.push(sim.mem.allocBacking(8 * 512, 'thp'));
    live.push(sim.mem.allocBacking(1000, 'fragmented'));
    expect(expectDistinct(sim, live)).toBe(8000 + 4096 + 1000);
    // fill the rest with 4K pages to exactly full
    const rest = sim.mem.frames.freeFrames;
    live.push(sim.mem.allocBacking(rest, '4k'));
    expect(expectDistinct(sim, live)).toBe(16384);
    expectEnomemUnchanged(sim, () => sim.mem.allocBacking(1, 'fragmented'));
    expectEnomemUnchanged(sim, () => sim.mem.allocBacking(1, 'thp'));
  });

  it("test_fallback_kernel_bump_block: 4k pages take the kernel bump block's tail, later kernel frames do not reuse it", () => {
    const sim = createSim({ memory: 16n << 20n, seed: 3 });
    const kernel = [sim.mem.allocFrames(1)];
    const kb = kernel[0]! >>> 9;
    // 7 scatter blocks (3584 frames) then 501 frames of the kernel block's tail, in order
    const b = sim.mem.allocBacking(4085, '4k');
    expect(expectDistinct(sim, [b], kernel)).toBe(4085);
    const tail = [...b.pfns].filter((f) => f >>> 9 === kb);
    expect(tail.length).toBe(501);
    expect(tail).toEqual(Array.from({ length: 501 }, (_, i) => kb * 512 + 1 + i));
    // the kernel bump goes on after the frames the fallback took
    kernel.push(sim.mem.allocFrames(1));
    expect(kernel[1]).toBe(kb * 512 + 502);
    const k8 = sim.mem.allocFrames(8, { align: 8 });
    expect(k8).toBe(kb * 512 + 504);
    for (let i = 0; i < 8; i++) kernel.push(k8 + i);
    expect(expectDistinct(sim, [b], kernel)).toBe(4085);
    // the alignment gap is the one free frame left
    expect(sim.mem.frames.freeFrames).toBe(1);
    const last = sim.mem.allocBacking(1, '4k');
    expect(last.pfns[0]).toBe(kb * 512 + 503);
    expect(expectDistinct(sim, [b, last], kernel)).toBe(4086);
    expectEnomemUnchanged(sim, () => sim.mem.allocBacking(1, '4k'));
    expectEnomemUnchanged(sim, () => sim.mem.allocFrames(1));
  });

  it('test_backing_enomem_unchanged: more than is free fails up front with every state as it was', () => {
    const sim = createSim({ memory: 16n << 20n, seed: 8 });
    const b = sim.mem.allocBacking(3000, '4k');
    for (const p of ['4k', 'thp', 'fragmented', 'hugetlb-2m'] as const) expectEnomemUnchanged(sim, () => sim.mem.allocBacking(1536, p));
    expect(expectDistinct(sim, [b])).toBe(3000);
    expect(sim.mem.allocBacking(1096, '4k').npages).toBe(1096);
    expect(sim.mem.frames.freeFrames).toBe(0);
  });
});

// A block whose frames were all freed while it was an open scatter or kernel bump block used to stay
// off the free list for good: after 4k VMAs came and went, THP and 1 GiB pages failed with ENOMEM on
// a host with every frame free. Exhaustion now drains such blocks first (the kernel drains its
// per-CPU page lists before it gives up).
describe('FrameAllocator blocks held open come back', () => {
  it.each([1, 2, 3])('test_4k_churn_then_thp_fills_host seed=%i', (seed) => {
    const sim = createSim({ memory: 64n << 20n, seed }); // 32 blocks
    for (let k = 0; k < 20; k++) sim.mem.freeBacking(sim.mem.allocBacking(3000, '4k'));
    expect(expectDistinct(sim, [])).toBe(0);
    const live = Array.from({ length: 32 }, () => sim.mem.allocBacking(512, 'thp'));
    expect(live.every((b) => b.runOrder === 9)).toBe(true); // whole 2 MiB pages, no 4K tail
    expect(expectDistinct(sim, live)).toBe(16384);
    expectEnomemUnchanged(sim, () => sim.mem.allocBacking(1, 'thp'));
  });

  it('test_4k_churn_then_gigantic_pages', () => {
    const sim = createSim({ memory: 2n << 30n, seed: 4 }); // two 1 GiB regions
    for (let k = 0; k < 3; k++) sim.mem.freeBacking(sim.mem.allocBacking(200_000, '4k'));
    const g = [sim.mem.allocBacking(262144, 'hugetlb-1g'), sim.mem.allocBacking(262144, 'hugetlb-1g')];
    expect(g.map((b) => b.pfns[0] ?? -1).sort((a, b) => a - b)).toEqual([0, 262144]);
    expect(expectDistinct(sim, g)).toBe(524288);
  });

  it('test_kernel_bump_block_freed_then_thp_takes_it', () => {
    const sim = createSim({ memory: 16n << 20n, seed: 5 }); // 8 blocks
    const k = sim.mem.allocFrames(4);
    sim.mem.freeFrames(k, 4);
    const live = Array.from({ length: 8 }, () => sim.mem.allocBacking(512, 'thp'));
    expect(live.map((b) => b.pfns[0]! >>> 9)).toContain(k >>> 9);
    expect(expectDistinct(sim, live)).toBe(4096);
    // the next kernel frame needs a block of its own: none is left
    expectEnomemUnchanged(sim, () => sim.mem.allocFrames(1));
  });

  it('test_open_blocks_still_in_use_stay_held', () => {
    const sim = createSim({ memory: 16n << 20n, seed: 6 });
    const keep = sim.mem.allocBacking(16, '4k'); // up to 16 open blocks, each with a frame in use
    const held = new Set([...keep.pfns].map((f) => f >>> 9)).size;
    const thp: Backing[] = [];
    for (;;) {
      try {
        thp.push(sim.mem.allocBacking(512, 'thp'));
      } catch {
        break;
      }
    }
    expect(thp.length).toBe(8 - held);
    expect(expectDistinct(sim, [keep, ...thp])).toBe(16 + 512 * (8 - held));
  });
});

// Backing.pmdMapped says which 2 MiB regions of a per-page backing are one 2 MiB page: a page fault
// maps those whole (one fault, 512 pages cleared), the others page by page.
describe('Backing.pmdMapped', () => {
  it('test_backing_pmd_mapped: the regions whose frames are one whole block, for mixed backings only', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 3 });
    expect(sim.mem.allocBacking(1024, '4k').pmdMapped).toBeNull();
    expect(sim.mem.allocBacking(1024, 'thp').pmdMapped).toBeNull(); // runOrder 9: each run is the page
    const tail = sim.mem.allocBacking(1024 + 100, 'thp'); // two 2 MiB pages, a 4K tail
    expect(tail.runOrder).toBe(0);
    expect([...tail.pmdMapped!]).toEqual([1, 1, 0]);
    const f = sim.mem.allocBacking(8 * 512, 'fragmented');
    const whole = (r: number): number => (f.pfns[r * 512]! % 512 === 0 && f.pfns[r * 512 + 511] === f.pfns[r * 512]! + 511 ? 1 : 0);
    expect([...f.pmdMapped!]).toEqual(Array.from({ length: 8 }, (_, r) => whole(r)));
    expect([...f.pmdMapped!]).toEqual([1, 0, 0, 0, 0, 0, 1, 1]);
  });
});
