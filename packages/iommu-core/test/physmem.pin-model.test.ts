// PhysMem's pin and reach counts against a plain per-frame model. Seeded runs of pin, unpin and reach
// changes at every alignment and length (one frame, part of a 2 MiB block, whole uniform blocks, runs
// across blocks, across a 1 GiB boundary and across a chunk of the paged counts), each call compared
// with the model: the checker's reports (kind, frame, in frame order), every frame's pin count and
// reachability in the window, pinnedPages and the pins/unpins counters. Then the edges the runs do
// not reach: delta bytes past their range, leaves over MMIO, DMA to MMIO, and the argument errors.
import { describe, expect, it } from 'vitest';
import { createSim, PhysMem } from '../src/index.js';

const B = 512;
const G = 1 << 18; // frames per 1 GiB
// 4 GiB host; the window straddles the first frame of the second GiB, which also starts a chunk
const HOST = 4n << 30n;
const W0 = G - 4 * B,
  WN = 8 * B;

/** mulberry32: the test's own generator, independent of the model's Prng. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n) >>> 0;
  };
}

type Sim = ReturnType<typeof createSim>;
type Report = [kind: string, pfn: number];

/** The plain model: one pin count and one reach count per frame of the host. */
class Model {
  readonly pins: Int32Array;
  readonly reach: Int32Array;
  pinned = 0;
  pinCalls = 0;
  unpinCalls = 0;
  constructor(readonly nFrames: number) {
    this.pins = new Int32Array(nFrames);
    this.reach = new Int32Array(nFrames);
  }
  pin(pfn: number, n: number): void {
    for (let f = pfn; f < pfn + n; f++) this.pins[f]!++;
    this.pinned += n;
    this.pinCalls += n;
  }
  /** Drops one pin per frame in frame order: below zero is an underflow (the count stays 0), zero while reached is unsafe. */
  unpin(pfn: number, n: number): Report[] {
    const out: Report[] = [];
    for (let f = pfn; f < pfn + n; f++) {
      const v = --this.pins[f]!;
      if (v < 0) {
        this.pins[f] = 0;
        out.push(['unpin-underflow', f]);
      } else {
        this.pinned--;
        if (v === 0 && this.reach[f]! > 0) out.push(['unpin-while-reachable', f]);
      }
    }
    this.unpinCalls += n;
    return out;
  }
  reachRun(pfn: number, n: number, d: number): void {
    for (let f = pfn; f < Math.min(pfn + n, this.nFrames); f++) this.reach[f]! += d;
  }
}

function reports(sim: Sim): Report[] {
  const out = sim.checker.violations.map((v): Report => [v.kind, v.pfn]);
  sim.checker.violations.length = 0;
  return out;
}

function expectSame(sim: Sim, m: Model, what: string): void {
  // [frame, what PhysMem says, what the model says] for each frame that differs
  const pins: [number, number, number][] = [],
    reach: [number, boolean, number][] = [];
  for (let f = W0; f < W0 + WN; f++) {
    const p = sim.mem.pinCount(f);
    if (p !== m.pins[f]) pins.push([f, p, m.pins[f]!]);
    const r = sim.mem.isReachable(f);
    if (r !== m.reach[f]! > 0) reach.push([f, r, m.reach[f]!]);
  }
  expect({ what, pins: pins.slice(0, 5), reach: reach.slice(0, 5) }).toEqual({ what, pins: [], reach: [] });
  expect([sim.mem.pinnedPages, sim.mem.usage().pinnedPages, sim.counters.pins, sim.counters.unpins]).toEqual([
    m.pinned,
    m.pinned,
    m.pinCalls,
    m.unpinCalls,
  ]);
}

/**
 * A run in the window: often 2 MiB aligned, of one frame, part of a block, a block or two, or more.
 * With `blocks`, mostly whole aligned blocks, so blocks stay uniform (one base count, the unpin's
 * fast path) until an odd run splits one.
 */
function run(r: (n: number) => number, blocks = false): [number, number] {
  if (blocks && r(12) !== 0) {
    const n = (1 + r(3)) * B;
    return [W0 + r(WN / B - n / B + 1) * B, n];
  }
  const aligned = r(2) === 0;
  let pfn = aligned ? W0 + r(WN / B) * B : W0 + r(WN);
  const n = [1, 2, 1 + r(700), B, 2 * B, B + r(B), 3 * B - r(3)][r(7)]!;
  if (pfn + n > W0 + WN) pfn = W0 + WN - n;
  return [pfn, n];
}

/** Runs the seeded steps; returns how many reports of each kind the model expected (and got). */
function churn(seed: number, steps: number, blocks = false): Map<string, number> {
  const seen = new Map<string, number>();
  const sim = createSim({ memory: HOST, seed: 1 });
  const m = new Model(sim.mem.nFrames);
  expect(m.nFrames).toBe(4 * G);
  const r = rng(seed);
  const pinned: [number, number][] = [];
  const leaves: [number, number][] = []; // [pfn, order] of the reach added so far
  const runs4k: [number, number][] = [];
  for (let step = 0; step < steps; step++) {
    const op = r(10);
    let what: string;
    let got: Report[] = [];
    let want: Report[] = [];
    if (op >= 3 && op < 6 && pinned.length > 0) {
      // undo an earlier pin, whole (a uniform block's fast path) or in two parts
      const [pfn, n] = pinned.splice(r(pinned.length), 1)[0]!;
      const cut = r(3) === 0 ? r(n) : 0;
      what = `unpin ${pfn} ${n} cut ${cut}`;
      if (cut > 0) {
        sim.mem.unpin(pfn, cut);
        want = m.unpin(pfn, cut);
      }
      sim.mem.unpin(pfn + cut, n - cut);
      want.push(...m.unpin(pfn + cut, n - cut));
      got = reports(sim);
    } else if (op === 6) {
      // a range nobody pinned as a whole: underflows beside frames still pinned
      const [pfn, n] = run(r, blocks);
      what = `stray unpin ${pfn} ${n}`;
      sim.mem.unpin(pfn, n);
      want = m.unpin(pfn, n);
      got = reports(sim);
    } else if (op === 7 && leaves.length > 0 && r(2) === 0) {
      const [pfn, order] = leaves.splice(r(leaves.length), 1)[0]!;
      what = `reach -1 ${pfn} order ${order}`;
      sim.mem.reachAdd(pfn, order, -1);
      m.reachRun(pfn, 2 ** (order - 12), -1);
    } else if (op === 7) {
      // a leaf of 4 KiB, 8 KiB, 64 KiB, 2 MiB, 4 MiB or 1 GiB (the pfn aligned to it), or 2 GiB
      const order = [12, 13, 16, 21, 22, 30, 31][r(7)]!;
      const span = 2 ** (order - 12);
      const at = order === 31 ? [0, 2 * G][r(2)]! : order === 30 ? [0, G, 2 * G][r(3)]! : Math.floor((W0 + r(WN)) / span) * span;
      what = `reach +1 ${at} order ${order}`;
      sim.mem.reachAdd(at, order, 1);
      m.reachRun(at, span, 1);
      leaves.push([at, order]);
    } else if (op === 8 && runs4k.length > 0 && r(2) === 0) {
      const [pfn, n] = runs4k.splice(r(runs4k.length), 1)[0]!;
      what = `4k run -1 ${pfn} ${n}`;
      sim.mem.reachAddRun4k(pfn, n, -1);
      m.reachRun(pfn, n, -1);
    } else if (op === 8) {
      const [pfn, n] = run(r, blocks);
      what = `4k run +1 ${pfn} ${n}`;
      sim.mem.reachAddRun4k(pfn, n, 1);
      m.reachRun(pfn, n, 1);
      runs4k.push([pfn, n]);
    } else {
      // ops 0-2 and 9 (and 3-5 while nothing is pinned): pins, often of frames pinned already, so
      // counts above 1 and blocks that are not uniform are common
      const [pfn, n] = run(r, blocks);
      what = `pin ${pfn} ${n}`;
      expect(sim.mem.pin(pfn, n)).toBe(true);
      m.pin(pfn, n);
      pinned.push([pfn, n]);
    }
    expect({ what, got }).toEqual({ what, got: want });
    expectSame(sim, m, what);
    for (const [k] of want) seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return seen;
}

describe('PhysMem pins and reach against a per-frame model', () => {
  for (const seed of [1, 2, 3, 4])
    it(`test_pin_model_churn seed ${seed}: every report, count and reach as the model says`, () => {
      const seen = churn(seed, 400, seed > 2);
      // the runs reach both reports often (the fewest: seed 2's 7367 underflows, seed 1's 11544 unsafe unpins)
      expect([seen.get('unpin-underflow')! > 1000, seen.get('unpin-while-reachable')! > 1000]).toEqual([true, true]);
    });
});

describe('PhysMem edges', () => {
  it('test_unaligned_unpin_over_uniform_blocks: only the frames asked for lose a pin, never the rest of the block', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    const f0 = 4 * B;
    // blocks 4..6 pinned twice as whole blocks (one uniform count each)
    for (let i = 0; i < 2; i++) sim.mem.pin(f0, 3 * B);
    sim.mem.unpin(f0 + 100, B + 50);
    sim.mem.unpin(f0 + B + 200, B);
    const at = [0, 99, 100, B - 1, B, B + 149, B + 150, B + 199, B + 200, 2 * B, 2 * B + 199, 2 * B + 200, 3 * B - 1];
    expect(at.map((k) => sim.mem.pinCount(f0 + k))).toEqual([2, 2, 1, 1, 1, 1, 2, 2, 1, 1, 1, 2, 2]);
    expect([sim.mem.pinnedPages, sim.violations.length]).toEqual([6 * B - 2 * B - 50, 0]);
    // a whole aligned block that is still uniform, then a run of exactly one block from an odd frame
    sim.mem.pin(f0 + 3 * B, B);
    sim.mem.unpin(f0 + 3 * B, B);
    sim.mem.unpin(f0 + 3 * B + 7, B);
    expect(reports(sim)).toEqual(Array.from({ length: B }, (_, k): Report => ['unpin-underflow', f0 + 3 * B + 7 + k]));
    expect([0, 1].map((k) => sim.mem.pinCount(f0 + k))).toEqual([2, 2]);
  });

  it('test_pin_delta_past_its_byte: a frame 150 pins below its uniform block counts right on both unpin paths', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    const f0 = 9 * B;
    for (let i = 0; i < 200; i++) sim.mem.pin(f0, B);
    sim.mem.reachAdd(f0 + 10, 12, 1);
    // one frame alone (the single-page path) and two together (the block loop), 150 times each
    for (let i = 0; i < 150; i++) {
      sim.mem.unpin(f0 + 3, 1);
      sim.mem.unpin(f0 + 10, 2);
    }
    expect([3, 10, 11, 12, 0, B - 1].map((k) => sim.mem.pinCount(f0 + k))).toEqual([50, 50, 50, 200, 200, 200]);
    expect([sim.mem.pinnedPages, sim.violations.length]).toEqual([200 * B - 450, 0]);
    for (let i = 0; i < 50; i++) {
      sim.mem.unpin(f0 + 3, 1);
      sim.mem.unpin(f0 + 10, 2);
    }
    // the last pins: frame 10 is still reached, frame 3 and 11 are not
    expect(reports(sim)).toEqual([['unpin-while-reachable', f0 + 10]]);
    sim.mem.unpin(f0 + 3, 1);
    sim.mem.unpin(f0 + 10, 2);
    expect(reports(sim)).toEqual([
      ['unpin-underflow', f0 + 3],
      ['unpin-underflow', f0 + 10],
      ['unpin-underflow', f0 + 11],
    ]);
    expect([3, 10, 11, 12].map((k) => sim.mem.pinCount(f0 + k))).toEqual([0, 0, 0, 200]);
    expect(sim.mem.pinnedPages).toBe(200 * (B - 3));
    // pinned again from 0, and again past the byte the other way
    for (let i = 0; i < 300; i++) sim.mem.pin(f0 + 3, 1);
    expect(sim.mem.pinCount(f0 + 3)).toBe(300);
  });

  it('test_reach_leaf_spans: a leaf of each size reaches exactly its own frames, from its first to its last', () => {
    const sim = createSim({ memory: HOST, seed: 1 });
    const cases: [pfn: number, order: number][] = [
      [5 * B + 8, 15], // 32 KiB: 8 frames
      [6 * B, 21],
      [8 * B, 22], // 4 MiB: two blocks
      [G, 30],
      [0, 31], // 2 GiB: two GiB entries
    ];
    for (const [pfn, order] of cases) {
      const span = 2 ** (order - 12);
      sim.mem.reachAdd(pfn, order, 1);
      expect([pfn - 1, pfn, pfn + span - 1, pfn + span].map((f) => sim.mem.isReachable(f))).toEqual([false, true, true, false]);
      sim.mem.reachAdd(pfn, order, -1);
      expect([pfn, pfn + span - 1].map((f) => sim.mem.isReachable(f))).toEqual([false, false]);
    }
  });

  it('test_mmio_leaf_reaches_no_ram: leaves far above RAM (whose pfns wrap 32-bit shifts) reach nothing', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    const n = sim.mem.nFrames;
    // pfn / 512 and pfn / 2^18 are 2^32 here, index 0 once shifted; 2^32 + 5 is frame 5 once shifted
    sim.mem.reachAdd(2 ** 41, 21, 1);
    sim.mem.reachAdd(2 ** 50, 30, 1);
    sim.mem.reachAdd(2 ** 32 + 5, 12, 1);
    sim.mem.reachAdd(n, 21, 1);
    sim.mem.reachAddRun4k(2 ** 32 + 7, 3, 1);
    sim.mem.reachAddRun4k(n - 2, 4, 1); // the last two frames of RAM, and two past it
    const reached = [0, 5, 7, 8, 9, n - 3, n - 2, n - 1].map((f) => sim.mem.isReachable(f));
    expect(reached).toEqual([false, false, false, false, false, false, true, true]);
    // a pfn past RAM is not reachable, even one whose shifted index is a reached frame
    sim.mem.reachAdd(5, 12, 1);
    expect([sim.mem.isReachable(5), sim.mem.isReachable(2 ** 32 + 5), sim.mem.isReachable(n), sim.mem.isReachable(n + 1)]).toEqual([
      true,
      false,
      false,
      false,
    ]);
    sim.mem.pin(0, 16);
    sim.mem.unpin(0, 16);
    expect(reports(sim)).toEqual([['unpin-while-reachable', 5]]);
  });

  it('test_dma_access_checks: a free frame and an unpinned user page are reported with where; MMIO is not checked', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    sim.mem.dmaAccess(2 ** 40, true, 3, 0x50, 'pte');
    sim.mem.dmaAccess(sim.mem.nFrames, false, 3, 0x51, 'pte');
    expect(sim.violations).toEqual([]);
    const k = sim.mem.allocFrames(1);
    sim.mem.dmaAccess(k, true, 3, 0x52, 'pte'); // kernel memory in use: not this checker's business
    sim.mem.freeFrames(k, 1);
    sim.mem.dmaAccess(k, false, 4, 0x60, 'iotlb');
    const u = sim.mem.allocBacking(1, '4k').pfns[0]!;
    sim.mem.pin(u, 1);
    sim.mem.dmaAccess(u, true, 5, 0x70, 'pte');
    sim.mem.unpin(u, 1);
    sim.mem.dmaAccess(u, true, 5, 0x71, 'pte');
    expect(sim.violations.map(({ kind, pfn, domain, iova, via, detail }) => ({ kind, pfn, domain, iova, via, detail }))).toEqual([
      {
        kind: 'dma-to-free-frame',
        pfn: k,
        domain: 4,
        iova: 0x60,
        via: 'iotlb',
        detail: 'device reached a frame that is back in the allocator',
      },
      { kind: 'dma-to-unpinned', pfn: u, domain: 5, iova: 0x71, via: 'pte', detail: 'device reached a user page nobody pins' },
    ]);
    // writes are remembered whatever the checks said, MMIO included
    expect([sim.mem.dmaWritten.get(2 ** 40), sim.mem.dmaWritten.get(k), sim.mem.dmaWritten.get(u)]).toEqual([1, 1, 2]);
  });

  it('test_unpin_report_details: each report says what went wrong in words', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    sim.mem.pin(100, 3);
    sim.mem.reachAdd(101, 12, 1);
    sim.mem.unpin(100, 3);
    sim.mem.unpin(100, 2);
    expect(sim.violations.map((v) => [v.kind, v.pfn, v.detail])).toEqual([
      ['unpin-while-reachable', 101, 'last pin dropped while a PTE or IOTLB entry still translates to the frame'],
      ['unpin-underflow', 100, 'unpin of a frame that is not pinned'],
      ['unpin-underflow', 101, 'unpin of a frame that is not pinned'],
    ]);
  });

  it('test_pin_range_errors: the message names the first bad argument; frame 0 is a valid pfn', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    const n = sim.mem.nFrames;
    expect(() => sim.mem.pin(0, n + 1)).toThrow(new RangeError(`pin: frames 0..${n} are not all host RAM (pfns 0..${n - 1})`));
    expect(() => sim.mem.unpin(-1, 1)).toThrow(new RangeError('unpin: pfn must be a non-negative integer, got -1'));
    expect(() => sim.mem.unpin(0.5, 1)).toThrow(new RangeError('unpin: pfn must be a non-negative integer, got 0.5'));
    expect([sim.mem.pinnedPages, sim.counters.pins, sim.counters.unpins]).toEqual([0, 0, 0]);
  });

  it('test_pin_unpin_fixed_on_the_prototype: neither can be redefined, so every probe point stays in place', () => {
    for (const m of ['pin', 'unpin']) expect(() => Object.defineProperty(PhysMem.prototype, m, { value: () => true })).toThrow(TypeError);
  });
});
