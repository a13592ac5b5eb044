// Host age (createSim({ hostAge })): 1 is the long-running, fully fragmented host the allocator always
// modeled, with the very same frames per seed; 0 is a freshly booted buddy allocator handing out
// ascending memory; in between, each pick is the fresh host's with probability 1 - a.
import { describe, expect, it } from 'vitest';
import { createSim, IommuError, type Backing, type BackingProfile } from '../src/index.js';
import { expectDistinct } from './harness.js';

type SimT = ReturnType<typeof createSim>;

/** Physically contiguous runs of a per-page pfn array, counted here from the pfns alone. */
function runs(p: Uint32Array): number {
  let r = p.length > 0 ? 1 : 0;
  for (let i = 1; i < p.length; i++) if (p[i] !== p[i - 1]! + 1) r++;
  return r;
}
function longestRun(p: Uint32Array): number {
  let best = p.length > 0 ? 1 : 0,
    cur = 1;
  for (let i = 1; i < p.length; i++) {
    cur = p[i] === p[i - 1]! + 1 ? cur + 1 : 1;
    if (cur > best) best = cur;
  }
  return best;
}

/** The same calls on a sim: a kernel frame, a 1 GiB VMA, a second one, the first freed, a third. */
function script(sim: SimT, p: BackingProfile): Backing[] {
  sim.mem.allocFrames(1);
  const a = sim.mem.allocBacking(262144, p),
    b = sim.mem.allocBacking(p === 'hugetlb-1g' ? 262144 : 100_000 + 512 * 3, p);
  sim.mem.freeBacking(a);
  return [a, b, sim.mem.allocBacking(262144, p)];
}

describe('host age 1: the frames of a long-running host, as before host age existed', () => {
  it.each(['4k', 'thp', 'hugetlb-1g', 'fragmented'] as const)('test_host_age_1_same_frames backing=%s', (p) => {
    for (const seed of [1, 7]) {
      const [a, b] = [createSim({ memory: 4n << 30n, seed }), createSim({ memory: 4n << 30n, seed, hostAge: 1 })];
      const x = script(a, p),
        y = script(b, p);
      for (let k = 0; k < x.length; k++) expect(Buffer.from(y[k]!.pfns.buffer).equals(Buffer.from(x[k]!.pfns.buffer))).toBe(true);
      expect(b.hostAge).toBe(1);
      expect(a.hostAge).toBe(1);
    }
  });

  // golden frames of seed 1 and 7 (the allocator before host age gave these; no extra draw at a = 1 keeps them)
  it('test_host_age_1_golden_pfns', () => {
    const want: Record<string, [number, string][]> = {
      '4k': [
        [1, '177871,529543,941540,408440,177922,70697'],
        [7, '431914,963980,184286,210002,849827,840045'],
      ],
      thp: [
        [1, '87040,177664,103936,424448,669184,528384'],
        [7, '42496,431616,1043968,610304,865280,961536'],
      ],
      'hugetlb-1g': [
        [1, '0'],
        [7, '262144'],
      ],
      fragmented: [
        [1, '104775,206841,893568,885284,206464,583211'],
        [7, '1045415,605960,231421,1041862,335248,982001'],
      ],
    };
    for (const [p, cases] of Object.entries(want)) {
      for (const [seed, pfns] of cases) {
        const sim = createSim({ memory: 4n << 30n, seed, hostAge: 1 });
        sim.mem.allocFrames(1);
        expect([...sim.mem.allocBacking(262144, p as BackingProfile).pfns.slice(0, 6)].join(','), `${p} seed ${seed}`).toBe(pfns);
      }
    }
  });
});

describe('younger hosts hand out ascending memory', () => {
  /** 256 MiB host, seed 1: three kernel allocations (blocks 59, 10-11, 59), a 16 MiB THP VMA, then a 128 MiB 4k VMA. */
  function fourK(hostAge: number): { thp: Backing; vma: Backing } {
    const sim = createSim({ memory: 256n << 20n, seed: 1, hostAge });
    const k0 = sim.mem.allocFrames(1),
      k1 = sim.mem.allocFrames(600),
      k2 = sim.mem.allocFrames(1);
    const thp = sim.mem.allocBacking(8 * 512, 'thp');
    const vma = sim.mem.allocBacking(32768, '4k');
    expectDistinct(sim, [thp, vma], [k0, ...Array.from({ length: 600 }, (_, i) => k1 + i), k2]);
    return { thp, vma };
  }

  it('test_host_age_4k_runs: runs of physically contiguous 4 KiB frames, counted from the pfns', () => {
    const ages = [1, 0.75, 0.5, 0.25, 0];
    const got = ages.map((a) => {
      const { vma } = fourK(a);
      return [runs(vma.pfns), longestRun(vma.pfns)];
    });
    // a = 1: no two neighbours contiguous; a = 0.5: about 3/4 of the pages start a run (both of a pair
    // must be sequential); a = 0: 128 MiB in 3 runs, broken only by the two kernel blocks in the way
    expect(got).toEqual([
      [32768, 1],
      [30793, 7],
      [24725, 15],
      [14254, 31],
      [3, 24064],
    ]);
    for (let k = 1; k < got.length; k++) expect(got[k]![0]).toBeLessThan(got[k - 1]![0]!);
  });

  it('test_host_age_0_fresh_host: THP blocks, 1 GiB pages and 4K pages in address order', () => {
    const { thp, vma } = fourK(0);
    expect([...thp.pfns].map((p) => p >>> 9)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // 64 blocks in order from block 8, around the kernel's blocks 10-11 and 59: the last is block 74
    expect([vma.pfns[0], vma.pfns[1023], vma.pfns[1024], vma.pfns[32767]]).toEqual([8 * 512, 10 * 512 - 1, 12 * 512, 75 * 512 - 1]);
    expect([...fourK(1).thp.pfns].map((p) => p >>> 9)).toEqual([21, 12, 49, 78, 61, 23, 31, 116]);
    const gig = (hostAge: number): number[] => {
      const sim = createSim({ memory: 4n << 30n, seed: 1, hostAge });
      return [0, 1, 2].map(() => sim.mem.allocBacking(262144, 'hugetlb-1g').pfns[0]! >>> 18);
    };
    expect(gig(0)).toEqual([0, 1, 2]);
    expect(gig(1)).toEqual([1, 0, 2]);
    // a fresh host's 'fragmented' VMA is contiguous too: THP regions and 4K regions follow each other
    const f = createSim({ memory: 256n << 20n, seed: 1, hostAge: 0 }).mem.allocBacking(32768, 'fragmented');
    expect(runs(f.pfns)).toBe(1);
    expect(runs(createSim({ memory: 256n << 20n, seed: 1, hostAge: 1 }).mem.allocBacking(32768, 'fragmented').pfns)).toBe(17438);
  });

  it('test_host_age_free_realloc: freed blocks come back once the address order wraps', () => {
    const sim = createSim({ memory: 256n << 20n, seed: 1, hostAge: 0 }); // 128 blocks
    const a = sim.mem.allocBacking(4096, '4k'),
      b = sim.mem.allocBacking(4096, '4k');
    sim.mem.freeBacking(a);
    const c = sim.mem.allocBacking(4096, '4k');
    expect([a.pfns[0], b.pfns[0], c.pfns[0], runs(c.pfns)]).toEqual([0, 4096, 8192, 1]);
    // the rest of the host and 100 frames more: blocks 24..127, then a's blocks from 0
    const d = sim.mem.allocBacking(65536 - 12288 + 100, '4k');
    expect([d.pfns[0], runs(d.pfns), d.pfns[d.pfns.length - 1]]).toEqual([12288, 2, 99]);
    expectDistinct(sim, [b, c, d]);
  });

  it.each([0, 0.5, 0.9])('test_host_age_distinct a=%d: each frame once, up to a full host and back', (hostAge) => {
    for (const seed of [1, 2, 3]) {
      const sim = createSim({ memory: 16n << 20n, seed, hostAge }); // 8 blocks, 4096 frames
      const live: Backing[] = [];
      for (let k = 0; k < 4; k++) live.push(sim.mem.allocBacking(1000, '4k'));
      sim.mem.freeBacking(live.splice(1, 1)[0]!);
      live.push(sim.mem.allocBacking(700, '4k'));
      expectDistinct(sim, live);
      // past the last whole free block: the slow path deals from open and partly used blocks
      live.push(sim.mem.allocBacking(sim.mem.frames.freeFrames, '4k'));
      expectDistinct(sim, live);
      expect(sim.mem.frames.freeFrames).toBe(0);
      expect(() => sim.mem.allocBacking(1, '4k')).toThrow(IommuError);
      for (const b of live.splice(0)) sim.mem.freeBacking(b);
      expectDistinct(sim, []);
      // whole again: THP and 1 GiB-free-style fills still work
      live.push(...Array.from({ length: 8 }, () => sim.mem.allocBacking(512, 'thp')));
      expect(live.every((b) => b.runOrder === 9)).toBe(true);
      expectDistinct(sim, live);
    }
  });
});

describe('host age option', () => {
  it('test_host_age_bad_values: RangeError with one clear line', () => {
    for (const v of [2, -0.1, 1.0001, NaN, Infinity, -Infinity, '0.5']) {
      expect(() => createSim({ hostAge: v as number })).toThrow(RangeError);
      expect(() => createSim({ hostAge: v as number })).toThrow(
        `hostAge must be a number in [0, 1] (1 = long-running host, 0 = freshly booted), got ${String(v)}`,
      );
    }
    for (const v of [0, 0.25, 1, undefined]) expect(createSim({ memory: 16n << 20n, hostAge: v }).hostAge).toBe(v ?? 1);
  });
});
