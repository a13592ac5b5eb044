// The process memory VFIO pins from (mm.ts), with exact values: where mmap places VMAs, munmap's
// errors and what it gives back, VMA lookup at every boundary, the page-table mappings vfio-pci
// gives a BAR (PUD / PMD / PTE), and the contiguous runs and folio orders of each backing, checked
// against a page-by-page count over pfnAt().
import { afterEach, describe, expect, it } from 'vitest';
import { createSim } from '@x/iommu-core';
import { Host } from '../src/index.js';
import { K4, M2, RW, domOf, expectCleanClose, leaves, makeEnv, type Env, thrown } from './helpers.js';

let e: Env | undefined;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
  e = undefined;
});

const G1 = 1n << 30n;
/** mmap's first address, and the 1 GiB grid VMAs are placed on. */
const MMAP_BASE = 0x7f0000000000n;

describe('mmap placement and munmap', () => {
  it('test_vmas_on_a_1g_grid_with_a_gap', () => {
    const env = makeEnv({ memory: 8n << 30n });
    e = env;
    const a = env.proc.mmap(M2, { backing: 'thp' });
    const b = env.proc.mmap(G1, { backing: 'hugetlb-1g' });
    const c = env.proc.mmap(G1 + K4, { backing: '4k' });
    const d = env.proc.mmap(K4, { backing: '4k' });
    // each VMA starts 1 GiB past the 1 GiB boundary at or after the end of the previous one
    expect(a).toBe(MMAP_BASE);
    expect(b).toBe(MMAP_BASE + 2n * G1);
    expect(c).toBe(MMAP_BASE + 4n * G1);
    expect(d).toBe(MMAP_BASE + 7n * G1);
    expect(env.proc.vmas.map((v) => [v.startPage, v.npages, v.endPage])).toEqual([
      [Number(a >> 12n), 512, Number(a >> 12n) + 512],
      [Number(b >> 12n), 262144, Number(b >> 12n) + 262144],
      [Number(c >> 12n), 262145, Number(c >> 12n) + 262145],
      [Number(d >> 12n), 1, Number(d >> 12n) + 1],
    ]);
  });

  it('test_pfn_of_at_every_vma_boundary', () => {
    const env = makeEnv({});
    e = env;
    const vas = [env.proc.mmap(M2, { backing: 'thp' }), env.proc.mmap(3n * K4, { backing: '4k' }), env.proc.mmap(M2, { backing: 'mmio' })];
    vas.push(env.proc.mmap(2n * M2, { backing: 'hugetlb-2m' }), env.proc.mmap(K4, { backing: '4k' }));
    for (const v of env.proc.vmas) {
      expect(env.proc.pfnOf(v.startPage - 1)).toBe(-1);
      expect(env.proc.pfnOf(v.startPage)).toBe(v.pfnAt(0));
      expect(env.proc.pfnOf(v.endPage - 1)).toBe(v.pfnAt(v.npages - 1));
      expect(env.proc.pfnOf(v.endPage)).toBe(-1);
      expect(env.proc.findVma(v.startPage)).toBe(v);
      expect(env.proc.vmaHint).toBe(v);
    }
    expect(env.proc.findVma(0)).toBe(null);
    // the hint stays on the last VMA found when a lookup misses
    expect(env.proc.vmaHint).toBe(env.proc.vmas[4]);
    expect(env.proc.vmas.map((v) => v.mmio)).toEqual([false, false, true, false, false]);
  });

  it('test_munmap_errors_name_the_address_and_page', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const va = env.proc.mmap(M2, { backing: 'thp' });
    for (const bad of [va + K4, va + 1n, va - K4]) {
      expect(thrown(() => env.proc.munmap(bad))).toMatchObject({
        code: 'EINVAL',
        syscall: 'munmap',
        message: `EINVAL: no VMA starts at 0x${bad.toString(16)}, munmap`,
      });
    }
    env.c.mapDma({ vaddr: va + 3n * K4, iova: 0n, size: 2n * K4, flags: RW });
    expect(thrown(() => env.proc.munmap(va))).toMatchObject({
      code: 'EBUSY',
      errno: -16,
      message: 'EBUSY: page 3 of the VMA is pinned, munmap',
    });
    expect(env.proc.vmas.length).toBe(1);
    env.c.unmapDma({ iova: 0n, size: 2n * K4 });
    const free0 = env.sim.mem.frames.freeFrames;
    env.proc.findVma(Number(va >> 12n));
    env.proc.munmap(va);
    // the frames are back, the VMA and the hint on it are gone
    expect(env.sim.mem.frames.freeFrames).toBe(free0 + 512);
    expect(env.proc.vmas).toEqual([]);
    expect(env.proc.vmaHint).toBe(null);
    expect(env.proc.pfnOf(Number(va >> 12n))).toBe(-1);
  });

  it('test_munmap_keeps_the_hint_on_another_vma', () => {
    const env = makeEnv({});
    e = env;
    const a = env.proc.mmap(M2, { backing: 'thp' });
    const b = env.proc.mmap(M2, { backing: 'thp' });
    const vb = env.proc.findVma(Number(b >> 12n));
    env.proc.munmap(a);
    expect(env.proc.vmaHint).toBe(vb);
    expect(env.proc.vmas).toEqual([vb]);
  });

  it('test_munmap_mmio_gives_back_no_frames', () => {
    const env = makeEnv({});
    e = env;
    const free0 = env.sim.mem.frames.freeFrames;
    const bar = env.proc.mmap(M2, { backing: 'mmio' });
    expect(env.sim.mem.frames.freeFrames).toBe(free0);
    env.proc.munmap(bar);
    expect(env.sim.mem.frames.freeFrames).toBe(free0);
    expect(env.proc.unpopulatedVmas).toBe(0);
  });

  it('test_unpopulated_count_follows_mmap_and_munmap', () => {
    const env = makeEnv({});
    e = env;
    const a = env.proc.mmap(M2, { backing: 'thp', populate: false });
    const b = env.proc.mmap(M2, { backing: 'mmio', populate: false }); // a BAR has no pages to fault in
    const c = env.proc.mmap(M2, { backing: '4k', populate: false });
    expect(env.proc.unpopulatedVmas).toBe(2);
    expect(env.proc.vmas.map((v) => v.populated === null)).toEqual([false, true, false]);
    env.proc.munmap(b);
    expect(env.proc.unpopulatedVmas).toBe(2);
    env.proc.munmap(a);
    env.proc.munmap(c);
    expect(env.proc.unpopulatedVmas).toBe(0);
  });
});

describe('BAR mappings (vfio-pci huge_fault)', () => {
  // [BAR bytes, page index, pages left in the mapping that holds it]
  it.each<[bigint, number, number]>([
    [G1, 0, 262144],
    [G1, 262143, 1],
    [G1, 1000, 261144],
    [M2, 0, 512],
    [M2, 5, 507],
    [(3n * M2) / 2n, 0, 512],
    [(3n * M2) / 2n, 511, 1],
    [(3n * M2) / 2n, 512, 1],
    [(3n * M2) / 2n, 767, 1],
    [K4, 0, 1],
    [G1 + M2, 262144, 512],
    [G1 + M2, 262144 + 100, 412],
  ])('test_mapping_left size=%s idx=%s', (size, idx, left) => {
    const env = makeEnv({});
    e = env;
    env.proc.mmap(K4, { backing: 'mmio' }); // a BAR before it: the next one's pfn is aligned again
    env.proc.mmap(size, { backing: 'mmio' });
    const v = env.proc.vmas[1]!;
    expect(v.mappingLeft(idx)).toBe(left);
    expect(v.pfnAt(idx)).toBe(v.mmioPfn + idx);
    expect(v.contigFrom(idx, 1 << 30)).toBe(v.npages - idx);
    expect(v.folioOrderAt(idx, 1)).toBe(0);
  });

  it('test_bar_pfns_are_aligned_and_apart', () => {
    const env = makeEnv({});
    e = env;
    env.proc.mmap(K4, { backing: 'mmio' });
    env.proc.mmap((3n * M2) / 2n, { backing: 'mmio' });
    env.proc.mmap(G1, { backing: 'mmio' });
    const [a, b, c] = env.proc.vmas.map((v) => v.mmioPfn) as [number, number, number];
    expect(a).toBeGreaterThanOrEqual(2 ** 34);
    expect(b % 1024).toBe(0); // 768 pages: aligned to the next power of two
    expect(c % 262144).toBe(0); // 1 GiB: aligned to 1 GiB
    expect(b).toBeGreaterThan(a + 1);
    expect(c).toBeGreaterThan(b + 768);
  });
});

/** Pages from idx (at most max) whose pfns continue pfnAt(idx), counted one page at a time. */
function contigByPage(v: { pfnAt(i: number): number; npages: number }, idx: number, max: number): number {
  let n = 1;
  while (n < max && idx + n < v.npages && v.pfnAt(idx + n) === v.pfnAt(idx) + n) n++;
  return n;
}

describe('backing runs', () => {
  it.each(['4k', 'thp', 'hugetlb-2m', 'fragmented:0.5', 'fragmented:0.1'] as const)('test_contig_from_matches_page_count %s', (backing) => {
    const env = makeEnv({ memory: 1n << 30n });
    e = env;
    // a first VMA scatters the allocator, so the runs of the second one end in different places
    env.proc.mmap(backing === 'hugetlb-2m' ? 3n * M2 : 3n * M2 + 5n * K4, { backing });
    env.proc.mmap(8n * M2, { backing });
    const v = env.proc.vmas[1]!;
    const maxes = [1, 2, 7, 511, 512, 513, 1500, 4096];
    for (let idx = 0; idx < v.npages; idx += 37) {
      for (const max of maxes) expect(v.contigFrom(idx, max), `idx ${idx} max ${max}`).toBe(contigByPage(v, idx, max));
    }
    for (const idx of [0, 511, 512, 1023, v.npages - 1]) expect(v.contigFrom(idx, 1 << 20)).toBe(contigByPage(v, idx, 1 << 20));
  });

  it('test_folio_order_per_backing', () => {
    const env = makeEnv({ memory: 8n << 30n });
    e = env;
    const mk = (size: bigint, backing: '4k' | 'thp' | 'hugetlb-2m' | 'hugetlb-1g') => {
      env.proc.mmap(size, { backing });
      return env.proc.vmas[env.proc.vmas.length - 1]!;
    };
    const h1 = mk(G1, 'hugetlb-1g');
    expect([h1.folioOrder, h1.folioOrderAt(0, 1), h1.hugetlb]).toEqual([18, 18, true]);
    const small = mk(M2, '4k');
    expect([small.folioOrder, small.folioOrderAt(0, 512), small.hugetlb]).toEqual([0, 0, false]);
    const h2 = mk(2n * M2, 'hugetlb-2m');
    expect([h2.folioOrder, h2.folioOrderAt(3, 700), h2.hugetlb]).toEqual([9, 9, true]);
    // THP with a partial tail: 2 MiB pages, then 4 KiB pages past the last whole 2 MiB
    const thp = mk(M2 + 3n * K4, 'thp');
    expect(thp.hugetlb).toBe(false);
    expect(thp.folioOrderAt(0, 512)).toBe(9);
    expect(thp.folioOrderAt(100, 412)).toBe(9);
    expect(thp.folioOrderAt(510, 3)).toBe(0);
    expect(thp.folioOrderAt(512, 3)).toBe(0);
  });
});

/** Seeded PRNG (mulberry32): the same ranges every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fault-in of an unpopulated VMA', () => {
  // the oracle: a set of present pages; a missing page faults in its whole unit (its run for
  // hugetlb, its 2 MiB region where the backing maps one with a PMD, else the page), cleared once
  it.each([
    ['4k', 3n * M2 + 20n * K4],
    ['thp', 3n * M2 + 20n * K4],
    ['fragmented:0.5', 4n * M2 + 9n * K4],
    ['hugetlb-2m', 4n * M2],
  ] as const)('test_fault_in_matches_a_page_set %s', (backing, size) => {
    const env = makeEnv({ memory: 1n << 30n });
    e = env;
    env.proc.mmap(size, { backing, populate: false });
    const v = env.proc.vmas[0]!;
    const b = v.backing!;
    const unit = (i: number): [number, number] => {
      if (b.runOrder !== 0) return [i - (i % (1 << b.runOrder)), 1 << b.runOrder];
      if (b.pmdMapped !== null && b.pmdMapped[i >>> 9] === 1) return [i - (i % 512), 512];
      return [i, 1];
    };
    const present = new Set<number>();
    const next = rng(backing.length * 7919);
    let faults = 0,
      zeroes = 0;
    const c0 = env.sim.counters;
    const f0 = c0.pageFaults,
      z0 = c0.pageZeroes;
    for (let step = 0; step < 300; step++) {
      const idx = Math.floor(next() * v.npages);
      // mostly short ranges, some long ones, and empty ones
      const r = next();
      const n = Math.min(v.npages - idx, r < 0.1 ? 0 : r < 0.7 ? 1 + Math.floor(next() * 20) : Math.floor(next() * 1100));
      for (let i = idx; i < idx + n; i++) {
        if (present.has(i)) continue;
        const [u0, un] = unit(i);
        for (let k = u0; k < u0 + un; k++) present.add(k);
        faults++;
        zeroes += un;
      }
      v.faultIn(idx, n, env.sim.meter);
      const c = env.sim.counters;
      expect([c.pageFaults - f0, c.pageZeroes - z0], `step ${step}: faultIn(${idx}, ${n})`).toEqual([faults, zeroes]);
      const q = Math.floor(next() * v.npages),
        qn = Math.floor(next() * (v.npages - q + 1));
      let want = 0;
      for (let i = q; i < q + qn; i++) if (present.has(i)) want++;
      expect(v.presentPages(q, qn), `presentPages(${q}, ${qn})`).toBe(want);
    }
    expect(present.size).toBeGreaterThan(v.npages / 2);
  });

  it('test_populated_vma_never_faults', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const va = env.proc.mmap(2n * M2, { backing: '4k' });
    const bar = env.proc.mmap(M2, { backing: 'mmio', populate: false });
    const [v, b] = env.proc.vmas as [NonNullable<(typeof env.proc.vmas)[0]>, NonNullable<(typeof env.proc.vmas)[0]>];
    expect([v.populated, b.populated, env.proc.unpopulatedVmas]).toEqual([null, null, 0]);
    expect([v.mmioPfn, b.mmioPfn >= 2 ** 34]).toEqual([-1, true]);
    expect([v.presentPages(3, 700), b.presentPages(0, 512)]).toEqual([700, 512]);
    const c0 = { ...env.sim.counters };
    v.faultIn(0, 1024, env.sim.meter);
    env.c.mapDma({ vaddr: va, iova: 0n, size: 2n * M2, flags: RW });
    env.c.mapDma({ vaddr: bar, iova: 0x40000000n, size: M2, flags: RW });
    expect([env.sim.counters.pageFaults - c0.pageFaults, env.sim.counters.pageZeroes - c0.pageZeroes]).toEqual([0, 0]);
  });

  it.each([
    [0, 511, 1],
    [0, 512, 1],
    [0, 513, 2],
    [511, 1, 1],
    [511, 2, 2],
    [1023, 1, 1],
  ])('test_fault_in_ends_at_its_last_page idx=%s n=%s', (idx, n, faults) => {
    const env = makeEnv({});
    e = env;
    env.proc.mmap(4n * M2, { backing: 'hugetlb-2m', populate: false });
    const v = env.proc.vmas[0]!;
    const f0 = env.sim.counters.pageFaults;
    v.faultIn(idx, n, env.sim.meter);
    expect(env.sim.counters.pageFaults - f0).toBe(faults);
    expect(v.presentPages(0, v.npages)).toBe(512 * faults);
  });

  it('test_fault_in_of_no_pages', () => {
    const env = makeEnv({});
    e = env;
    env.proc.mmap(2n * M2, { backing: 'hugetlb-2m', populate: false });
    env.proc.mmap(M2, { backing: '4k', populate: false });
    const c0 = env.sim.counters.pageFaults;
    // an empty range inside a run or a byte faults nothing
    for (const v of env.proc.vmas) {
      v.faultIn(5, 0, env.sim.meter);
      v.faultIn(520, 0, env.sim.meter);
      expect(v.presentPages(0, v.npages)).toBe(0);
    }
    expect(env.sim.counters.pageFaults).toBe(c0);
  });
});

describe('folio orders of a mixed backing', () => {
  // fragmented memory mixes 2 MiB THP regions with scattered 4 KiB pages: a range's order is the
  // smallest of its pages' (9 in a PMD-mapped region, else 0), for ranges within two regions
  it.each(['fragmented:0.5', 'fragmented:0.2', 'thp'] as const)('test_folio_order_at_matches_its_pages %s', (backing) => {
    const env = makeEnv({ memory: 1n << 30n });
    e = env;
    env.proc.mmap(5n * M2 + 7n * K4, { backing });
    const v = env.proc.vmas[0]!;
    const pm = v.backing!.pmdMapped!;
    const order = (i: number) => (pm[i >>> 9] === 1 ? 9 : 0);
    const next = rng(backing.length);
    let mixed = 0;
    for (let t = 0; t < 400; t++) {
      const idx = Math.floor(next() * v.npages);
      const n = 1 + Math.floor(next() * Math.min(v.npages - idx, 1024 - (idx % 512))); // ends in this region or the next
      let want = 9;
      for (let i = idx; i < idx + n; i++) want = Math.min(want, order(i));
      if (order(idx) !== order(idx + n - 1)) mixed++;
      expect(v.folioOrderAt(idx, n), `folioOrderAt(${idx}, ${n})`).toBe(want);
    }
    // the ranges did cross from one kind into the other
    if (backing !== 'thp') expect(mixed).toBeGreaterThan(10);
  });
});

describe('runs that continue across huge pages', () => {
  // a young host hands out neighbouring 2 MiB / 1 GiB pages: contigFrom must follow a run into the next
  // (30 s: the 1 GiB case checks its offsets against a page-by-page walk, seconds on a busy machine)
  it.each([
    [0, 'hugetlb-2m', 16n * M2],
    [0.5, 'hugetlb-2m', 16n * M2],
    [0, 'thp', 16n * M2],
    [0, 'hugetlb-1g', 2n * G1],
  ] as const)(
    'test_contig_from_across_runs hostAge=%s %s',
    (hostAge, backing, size) => {
      const sim = createSim({ memory: 4n << 30n, seed: 3, hostAge });
      const proc = new Host(sim).spawn();
      proc.mmap(size, { backing });
      const v = proc.vmas[0]!;
      const run = 1 << v.backing!.runOrder;
      let across = 0;
      for (let idx = 0; idx < v.npages; idx += run >= 512 ? 97 : 1) {
        for (const max of [1, run - 1, run, run + 1, 3 * run + 5, v.npages]) {
          const want = contigByPage(v, idx, max);
          if (want > run - (idx % run)) across++;
          expect(v.contigFrom(idx, max), `idx ${idx} max ${max}`).toBe(want);
        }
        if (run > 512 && idx > 4 * 512) idx += run - 4 * 512; // 1 GiB runs: a few offsets in each
      }
      expect(across).toBeGreaterThan(0);
    },
    30_000,
  );
});

describe('a run that breaks inside its VMA', () => {
  it('test_run_does_not_restart_at_the_vmas_first_page', () => {
    // VMA frames rearranged by hand so that page 0's frame directly follows the run that starts at
    // page 3 and breaks at page 6: the run ends there (3 pages), and the dma's page 3 maps page 6's
    // frame, not page 0's (a run only continues into another VMA, and only from that VMA's end)
    e = makeEnv({ profile: 'mainline', hostAge: 0 });
    const va = e.proc.mmap(8n * K4, { backing: '4k' });
    const pfns = e.proc.findVma(Number(va >> 12n))!.backing!.pfns;
    const b = Math.min(...pfns);
    expect([...pfns]).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((k) => b + k));
    pfns.set([3, 6, 7, 0, 1, 2, 4, 5].map((k) => b + k));
    e.c.mapDma({ vaddr: va + 3n * K4, iova: 0n, size: 5n * K4, flags: RW });
    expect(leaves(domOf(e))).toEqual([0, 1, 2, 4, 5].map((k, i) => [i, b + k, 12]));
    expect(e.c.stats().mapChunks).toBe(2);
    e.c.unmapDma({ iova: 0n, size: 5n * K4 });
    pfns.set([0, 1, 2, 3, 4, 5, 6, 7].map((k) => b + k));
  });
});
