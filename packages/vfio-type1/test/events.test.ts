// The pinning and unpinning events by release: how many GUP calls, GUP walks, accounting steps and
// unpin steps one MAP_DMA / UNMAP_DMA costs on each side of batched-pinning (v5.12), gup-thp-fast
// (v6.6) and folio-batch-acct (v6.18), with the expected numbers worked out from the VMA's frames
// here, not read back from the code; and the modeled time is count x the cost table's ns.
import { afterEach, describe, expect, it } from 'vitest';
import { ENTRY_IDS } from '@x/iommu-core';
import { VFIO_TIMELINE, type Profile } from '../src/index.js';
import { VFIO_EVENTS } from '../src/events.js';
import { RW, expectCleanClose, makeEnv, type Env } from './helpers.js';

const PIN = ['vfio.gupCalls', 'vfio.gupPages', 'vfio.gupWalks', 'vfio.pinSteps'] as const;
const UNPIN = ['vfio.unpinSteps', 'vfio.unpinFolios'] as const;
type Backing = 'thp' | 'hugetlb-2m' | 'hugetlb-1g' | '4k';

let e: Env | undefined;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
  e = undefined;
});

interface Run {
  env: Env;
  /** pfn of each page of the dma, in order. */
  pfns: number[];
  map: Record<string, number>;
  unmap: Record<string, number>;
  /** Modeled ns the MAP_DMA charged per event. */
  mapNs: Record<string, number>;
  unmapNs: Record<string, number>;
  /** Modeled ns of the whole MAP_DMA and UNMAP_DMA calls. */
  mapTotal: number;
  unmapTotal: number;
}

const delta = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const o: Record<string, number> = {};
  for (const k of Object.keys(b)) o[k] = b[k]! - (a[k] ?? 0);
  return o;
};

/** MAP_DMA and UNMAP_DMA of `pages` pages starting `skip` pages into a fresh VMA (VMAs are 1 GiB-aligned, so folio-aligned). */
function run(
  profile: string,
  backing: Backing,
  pages: number,
  o: { skip?: number; disableHugepages?: boolean; hostAge?: number } = {},
): Run {
  const env = makeEnv({
    profile: profile as Profile,
    disableHugepages: o.disableHugepages ?? false,
    memory: 4n << 30n,
    ...(o.hostAge !== undefined ? { hostAge: o.hostAge } : {}),
  });
  e = env;
  const skip = o.skip ?? 0;
  // whole huge pages: a THP VMA of another length gets 4 KiB pages, a hugetlbfs one is refused
  const unit = backing === 'hugetlb-1g' ? 2 ** 18 : 512;
  const va = env.proc.mmap(BigInt(Math.ceil((pages + skip) / unit) * unit) * 4096n, { backing });
  const vaddr = va + BigInt(skip) * 4096n,
    size = BigInt(pages) * 4096n;
  const vpage = Number(vaddr / 4096n);
  const pfns = Array.from({ length: pages }, (_, i) => env.proc.pfnOf(vpage + i));
  const s0 = env.sim.counters,
    t0 = env.sim.meter.timeSnapshot(),
    c0 = env.sim.clock.now;
  env.c.mapDma({ vaddr, iova: 0n, size, flags: RW });
  const s1 = env.sim.counters,
    t1 = env.sim.meter.timeSnapshot(),
    c1 = env.sim.clock.now;
  expect(env.c.unmapDma({ iova: 0n, size })).toEqual({ size });
  const s2 = env.sim.counters,
    t2 = env.sim.meter.timeSnapshot(),
    c2 = env.sim.clock.now;
  return {
    env,
    pfns,
    map: delta(s0, s1),
    unmap: delta(s1, s2),
    mapNs: delta(t0, t1),
    unmapNs: delta(t1, t2),
    mapTotal: c1 - c0,
    unmapTotal: c2 - c1,
  };
}

const pick = (r: Record<string, number>, keys: readonly string[]): number[] => keys.map((k) => r[k]!);

/**
 * The expected counts from the frames alone. A new piece starts at a batch boundary (every 512
 * pages of the dma), at a folio boundary (a pfn that is a multiple of the folio size) or where the
 * frames stop being contiguous.
 */
function oracle(pfns: readonly number[], folio: number) {
  let batches = 0,
    runPieces = 0,
    folioPieces = 0;
  const folios = new Set<number>();
  for (let i = 0; i < pfns.length; i++) {
    const batch = i % 512 === 0,
      broken = i === 0 || pfns[i] !== pfns[i - 1]! + 1;
    if (batch) batches++;
    if (batch || broken) runPieces++;
    if (batch || broken || pfns[i]! % folio === 0) folioPieces++;
    folios.add(Math.floor(pfns[i]! / folio));
  }
  return { pages: pfns.length, batches, runPieces, folioPieces, folios: folios.size };
}

/** Every event's modeled time is its count times the cost table's ns, and the call's time is their sum. */
function expectTimeIsCountTimesCost(r: Run): void {
  const t = r.env.sim.costTable();
  for (const k of [...PIN, ...UNPIN]) {
    expect(r.mapNs[k], k).toBeCloseTo(r.map[k]! * t[k]!.ns, 6);
    expect(r.unmapNs[k], k).toBeCloseTo(r.unmap[k]! * t[k]!.ns, 6);
  }
  const sum = (d: Record<string, number>) => Object.keys(d).reduce((s, k) => s + d[k]! * t[k]!.ns, 0);
  expect(r.mapTotal).toBeCloseTo(sum(r.map), 6);
  expect(r.unmapTotal).toBeCloseTo(sum(r.unmap), 6);
}

describe('pin events by release: 4 MiB of THP, two 2 MiB folios, the dma folio-aligned', () => {
  // [gupCalls, gupPages, gupWalks, pinSteps]: 1024 pages; one GUP call per page before v5.12, one
  // per 512-page batch after; a THP walked per page before v6.6, per folio after; one accounting
  // step per page before v6.18, per contiguous run of a batch after (a folio is one run)
  it.each([
    ['v5.11', [1024, 1024, 1024, 1024]],
    ['v5.12', [2, 1024, 1024, 1024]],
    ['v6.5', [2, 1024, 1024, 1024]],
    ['v6.6', [2, 1024, 2, 1024]],
    ['v6.17', [2, 1024, 2, 1024]],
    ['v6.18', [2, 1024, 2, 2]],
    ['mainline', [2, 1024, 2, 2]],
  ] as const)('test_thp_pin_events %s', (profile, want) => {
    const r = run(profile, 'thp', 1024);
    expect(pick(r.map, PIN)).toEqual(want);
    expect(pick(r.map, UNPIN)).toEqual([0, 0]);
    // the unpin side: put_pfn per page before v6.18, one step per folio after; two folios either way
    expect(pick(r.unmap, UNPIN)).toEqual(profile === 'v6.18' || profile === 'mainline' ? [2, 2] : [1024, 2]);
    expect(pick(r.unmap, PIN)).toEqual([0, 0, 0, 0]);
    expectTimeIsCountTimesCost(r);
  });

  it('test_thp_release_gains_are_the_dropped_events_times_their_cost', () => {
    const env0 = makeEnv();
    const t = env0.sim.costTable();
    expectCleanClose(env0);
    const ns = (p: string): [number, number] => {
      const r = run(p, 'thp', 1024);
      const x: [number, number] = [r.mapTotal, r.unmapTotal];
      expectCleanClose(r.env);
      return x;
    };
    const [m511, u511] = ns('v5.11'),
      [m512] = ns('v5.12'),
      [m65] = ns('v6.5'),
      [m66] = ns('v6.6');
    const [m617, u617] = ns('v6.17'),
      [m618, u618] = ns('v6.18');
    expect(m511 - m512).toBeCloseTo((1024 - 2) * t['vfio.gupCalls']!.ns, 6);
    expect(m65 - m66).toBeCloseTo((1024 - 2) * t['vfio.gupWalks']!.ns, 6);
    expect(m617 - m618).toBeCloseTo((1024 - 2) * t['vfio.pinSteps']!.ns, 6);
    expect(u617 - u618).toBeCloseTo((1024 - 2) * t['vfio.unpinSteps']!.ns, 6);
    expect(u511).toBeCloseTo(u617, 6); // nothing on the unpin side changed in between
  });
});

describe('pin events by backing', () => {
  it('test_hugetlb_walked_per_folio_once_batched', () => {
    // hugetlbfs had its own follow path that filled a huge page's pages in one walk long before
    // v6.6; it only needs the batch (v5.12) to get more than one page per call
    expect(pick(run('v5.11', 'hugetlb-2m', 1024).map, PIN)).toEqual([1024, 1024, 1024, 1024]);
    expectCleanClose(e!);
    expect(pick(run('v5.12', 'hugetlb-2m', 1024).map, PIN)).toEqual([2, 1024, 2, 1024]);
    expectCleanClose(e!);
    const r = run('v6.18', 'hugetlb-2m', 1024);
    expect(pick(r.map, PIN)).toEqual([2, 1024, 2, 2]);
    expect(pick(r.unmap, UNPIN)).toEqual([2, 2]);
  });

  it.each(['v5.11', 'v5.12', 'v6.6', 'v6.18'])('test_4k_backing_walks_every_page %s', (profile) => {
    // scattered 4 KiB frames: every page is its own folio, walked on its own; the runs are short
    const r = run(profile, '4k', 1024);
    const o = oracle(r.pfns, 1);
    expect(o.runPieces).toBeGreaterThan(512); // the host is fragmented: few neighbours
    const batched = profile !== 'v5.11',
      folioAcct = profile === 'v6.18';
    expect(pick(r.map, PIN)).toEqual([batched ? o.batches : 1024, 1024, 1024, folioAcct ? o.runPieces : 1024]);
    expect(pick(r.unmap, UNPIN)).toEqual([1024, 1024]); // per page = per folio
    expectTimeIsCountTimesCost(r);
  });

  it.each(['v5.11', 'v6.6', 'v6.18'])('test_disable_hugepages_pins_page_by_page %s', (profile) => {
    // disable_hugepages: a batch of one page, so one GUP call, walk and step per page in every release
    const r = run(profile, 'thp', 1024, { disableHugepages: true });
    expect(pick(r.map, PIN)).toEqual([1024, 1024, 1024, 1024]);
    // the unmap still finds the contiguous frames by iova_to_phys: one region per folio
    expect(pick(r.unmap, UNPIN)).toEqual(profile === 'v6.18' ? [2, 2] : [1024, 2]);
    expect(r.map['vfio.lockAcct']).toBe(1024);
    expectTimeIsCountTimesCost(r);
  });
});

describe('a dma not aligned to its folios', () => {
  it.each([
    ['v6.6', 'thp'],
    ['v6.18', 'hugetlb-2m'],
  ] as const)('test_misaligned_run_across_neighbouring_folios %s %s', (profile, backing) => {
    // a young host hands out neighbouring 2 MiB pages, so one physically contiguous run spans
    // three folios, and its batch and folio edges (256 pages apart) both split it
    const r = run(profile, backing, 1024, { skip: 256, hostAge: 0 });
    const o = oracle(r.pfns, 512);
    expect([o.runPieces, o.batches, o.folios, o.folioPieces]).toEqual([2, 2, 3, 4]);
    expect(r.map['vfio.gupWalks']).toBe(o.folioPieces);
  });

  it('test_neighbouring_thps_unpin_a_folio_each', () => {
    // two THPs side by side: one physically contiguous run, whose unpin in v6.18 still steps a
    // 2 MiB folio at a time (a step never spans two folios)
    const r = run('v6.18', 'thp', 1024, { hostAge: 0 });
    const o = oracle(r.pfns, 512);
    expect([o.runPieces, o.batches, o.folios, r.pfns[1023]! - r.pfns[0]!]).toEqual([2, 2, 2, 1023]);
    expect(pick(r.unmap, UNPIN)).toEqual([2, 2]);
  });

  it('test_1g_folio_from_its_first_page_walks_per_batch', () => {
    // a dma from the first page of a 1 GiB page: both grids start together, the batches are the
    // finer one, so GUP walks the folio once per 512-page call
    const r = run('v6.18', 'hugetlb-1g', 1024);
    const o = oracle(r.pfns, 2 ** 18);
    expect([r.pfns[0]! % 2 ** 18, o.runPieces, o.batches, o.folios, o.folioPieces]).toEqual([0, 2, 2, 1, 2]);
    expect(r.map['vfio.gupWalks']).toBe(2);
  });

  it('test_aligned_run_across_neighbouring_1g_folios', () => {
    // two neighbouring 1 GiB pages and a dma across their edge, which is also a batch edge: the
    // run's pieces are its batches
    const r = run('v6.18', 'hugetlb-1g', 1024, { skip: 2 ** 18 - 512, hostAge: 0 });
    const o = oracle(r.pfns, 2 ** 18);
    expect([o.runPieces, o.batches, o.folios, o.folioPieces]).toEqual([2, 2, 2, 2]);
    expect(r.map['vfio.gupWalks']).toBe(o.folioPieces);
  });

  // 4 MiB starting 1 MiB into a 2 MiB folio: the dma's 512-page batches end mid-folio, so batch and
  // folio boundaries interleave: [0,256) [256,512) | [512,768) [768,1024) over three folios
  it.each([
    ['v5.12', 'thp'],
    ['v6.6', 'thp'],
    ['v6.18', 'thp'],
    ['v5.12', 'hugetlb-2m'],
    ['v6.18', 'hugetlb-2m'],
  ] as const)('test_misaligned_batch_folio_pieces %s %s', (profile, backing) => {
    const r = run(profile, backing, 1024, { skip: 256 });
    const o = oracle(r.pfns, 512);
    expect([o.batches, o.folios, o.folioPieces]).toEqual([2, 3, 4]);
    // batchFolioPieces' count when neither grid holds the other, batches + folios - 1, is exact: a
    // 512-page batch edge 256 pages off the folio grid never meets a folio edge
    expect(o.folioPieces).toBe(o.batches + o.folios - 1);
    const perFolio = backing === 'hugetlb-2m' || profile !== 'v5.12';
    expect(r.map['vfio.gupWalks']).toBe(perFolio ? o.folioPieces : 1024);
    expect(r.map['vfio.gupCalls']).toBe(o.batches);
    expect(r.map['vfio.pinSteps']).toBe(profile === 'v6.18' ? o.runPieces : 1024);
    // each contiguous region the unmap finds lies in one folio (the folios are scattered): 3 of them
    expect(pick(r.unmap, UNPIN)).toEqual([profile === 'v6.18' ? o.folios : 1024, o.folios]);
    expectTimeIsCountTimesCost(r);
  });

  it.each([
    [1, 1500],
    [100, 700],
    [300, 2000],
    [511, 514],
    [512, 1024],
    [0, 1537],
  ])('test_gup_walks_match_the_frames skip=%i pages=%i', (skip, pages) => {
    // THP since v6.6 and hugetlbfs once batched: one walk per piece of a folio inside a batch
    for (const backing of ['thp', 'hugetlb-2m'] as const) {
      const r = run('v6.18', backing, pages, { skip });
      const o = oracle(r.pfns, 512);
      expect([r.map['vfio.gupWalks'], r.map['vfio.pinSteps'], r.map['vfio.gupCalls']], backing).toEqual([
        o.folioPieces,
        o.runPieces,
        o.batches,
      ]);
      expect(pick(r.unmap, UNPIN), backing).toEqual([o.folios, o.folios]);
      expectCleanClose(r.env);
    }
  });
});

describe('entry switches', () => {
  const counts = (p: string) => {
    const r = run(p, 'thp', 1024, { skip: 256 });
    expectCleanClose(r.env);
    return { map: pick(r.map, PIN), unmap: pick(r.unmap, UNPIN) };
  };

  it('test_folio_batch_acct_switch', () => {
    // v6.16 with Li Zhe's series counts as v6.18; v6.18 without it as v6.17
    expect(counts('v6.16+folio-batch-acct')).toEqual(counts('v6.18'));
    expect(counts('v6.18~folio-batch-acct')).toEqual(counts('v6.17'));
    expect(counts('v6.18').map).not.toEqual(counts('v6.17').map);
  });

  it('test_gup_thp_fast_switch', () => {
    expect(counts('v6.5+gup-thp-fast')).toEqual(counts('v6.6'));
    expect(counts('v6.6~gup-thp-fast')).toEqual(counts('v6.5'));
    expect(counts('v6.6').map[2]).toBe(4);
    expect(counts('v6.5').map[2]).toBe(1024);
  });

  it('test_vfio_entry_ids_are_known_to_the_core', () => {
    for (const x of VFIO_TIMELINE) expect(ENTRY_IDS, x.id).toContain(x.id);
  });

  it('test_vfio_events_registered_with_the_machine_costs', () => {
    const env = makeEnv();
    const t = env.sim.costTable();
    for (const k of Object.keys(VFIO_EVENTS)) {
      expect(t[k], k).toBeDefined();
      expect(t[k]!.source.length, k).toBeGreaterThan(10);
    }
    expectCleanClose(env);
  });
});

describe('folio size per run (backings mixing 2 MiB and 4 KiB pages)', () => {
  /** MAP_DMA and UNMAP_DMA of the first `pages` pages of a VMA of `vmaPages` pages. */
  const first = (profile: string, backing: string, vmaPages: number, pages: number) => {
    const env = makeEnv({ profile: profile as Profile, memory: 4n << 30n });
    e = env;
    const va = env.proc.mmap(BigInt(vmaPages) * 4096n, { backing: backing as Backing });
    const s0 = env.sim.counters;
    env.c.mapDma({ vaddr: va, iova: 0n, size: BigInt(pages) * 4096n, flags: RW });
    const s1 = env.sim.counters;
    env.c.unmapDma({ iova: 0n, size: BigInt(pages) * 4096n });
    const s2 = env.sim.counters;
    return { map: delta(s0, s1), unmap: delta(s1, s2) };
  };

  it('test_thp_vma_with_a_partial_tail_pins_its_2m_folios_whole', () => {
    // a THP VMA of 1025 pages: two 2 MiB pages and a 4 KiB tail page; the first 4 MiB are two THPs,
    // walked and unpinned a folio at a time on v6.18 as in a VMA of whole 2 MiB pages
    const r = first('v6.18', 'thp', 1025, 1024);
    expect([r.map['vfio.gupWalks'], r.unmap['vfio.unpinSteps'], r.unmap['vfio.unpinFolios']]).toEqual([2, 2, 2]);
    const whole = first('v6.18', 'thp', 1024, 1024);
    expect([whole.map['vfio.gupWalks'], whole.unmap['vfio.unpinSteps'], whole.unmap['vfio.unpinFolios']]).toEqual([2, 2, 2]);
  });

  it('test_fragmented_0_is_all_thp_and_fragmented_1_all_4k', () => {
    const thp = first('v6.18', 'fragmented:0', 1024, 1024);
    expect([thp.map['vfio.gupWalks'], thp.unmap['vfio.unpinSteps'], thp.unmap['vfio.unpinFolios']]).toEqual([2, 2, 2]);
    const k4 = first('v6.18', 'fragmented:1', 1024, 1024);
    expect([k4.map['vfio.gupWalks'], k4.unmap['vfio.unpinSteps'], k4.unmap['vfio.unpinFolios']]).toEqual([1024, 1024, 1024]);
    // before v6.18 the unpin steps are per page, the folios touched are the same
    const old = first('v6.17', 'fragmented:0', 1024, 1024);
    expect([old.unmap['vfio.unpinSteps'], old.unmap['vfio.unpinFolios']]).toEqual([1024, 2]);
  });
});
