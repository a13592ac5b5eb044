// Each table row shows its own metric: a result whose metrics all differ (values chosen here, none
// equal to another) is rendered, and every row is read back against the value set for it. A row
// that printed a neighbour's metric (completion waits for invalidations, fallbacks for
// map_try_harder, min or max for the median) fails here even when a real run has them equal.

import { beforeAll, describe, expect, it } from 'vitest';
import type { CaseResult, CommandResult, IoctlOutcome, Metrics } from '../src/engine/result.js';
import { bytes, dur } from '../src/report/format.js';
import { phasesOf, renderTable, tableRows } from '../src/report/table.js';
import { inProcess } from './helpers.js';

let real: CaseResult;

beforeAll(async () => {
  const r = await inProcess(['run', '--guest', '256M', '--firmware', 'none', '--json']);
  expect(r.code).toBe(0);
  real = (JSON.parse(r.stdout) as CommandResult).cases[0]!;
});

/** Distinct small integers (no thousands separator) for every counted metric. */
const SET: Partial<Record<keyof Metrics, number>> = {
  unmapIoctls: 101,
  unmapCalls: 102,
  iotlbSyncs: 103,
  fallbacks: 104,
  invalidations: 105,
  completionWaits: 106,
  pteWrites: 107,
  pteClears: 108,
  tablesAfterBoot: 109,
  tableAllocs: 110,
  tableFrees: 111,
  pins: 112,
  mapTryHarder: 113,
  peakQueuedRegions: 114,
  dmaPages: 115,
  ioPageFaults: 116,
  ioctlErrors: 117,
  violations: 118,
  peakQueuedBytes: 4096 * 3,
  peakPinnedAfterUnmapBytes: 1 << 21,
  pinnedAfterUnmapMeanNs: 1500,
  pinnedAfterUnmapMaxNs: 2_500_000,
};

describe('table rows', () => {
  it('test_every_row_shows_its_own_metric', () => {
    const metrics = {
      ...real.metrics,
      ...SET,
      // min, median and max all different, and none equal to a count above
      regionsPerCall: {
        min: 3,
        median: 7,
        max: 19,
        mean: 9,
        histogram: [
          [3, 1],
          [7, 1],
          [19, 1],
        ],
      },
      modeledNs: 5_000_000,
      phaseNs: { boot: 1_000_000, shutdown: 3_000_000 },
    } as Metrics;
    // the failed ioctls and violations the counts announce, one sample each
    const errorSamples = [{ index: 3, ioctl: 'VFIO_IOMMU_MAP_DMA', code: 'EINVAL', message: 'EINVAL: x' }];
    const violationSamples = [{ kind: 'unpin-while-reachable', pfn: 5, iova: 7, domain: 1, via: 'pte', call: 'iommu_unmap', detail: 'x' }];
    const res: CommandResult = {
      schema: 'vfio-sim/result@2',
      command: 'run',
      cases: [{ ...real, metrics, errorSamples, violationSamples }],
      sweep: null,
    };
    const lines = renderTable(res).split('\n');
    const row = (name: string): string => {
      const l = lines.find((x) => x.startsWith(name) && x.slice(name.length, name.length + 2) === '  ');
      expect(l, name).toBeDefined();
      return l!.slice(name.length).trim();
    };
    expect(row('UNMAP_DMA ioctls')).toBe('101');
    expect(row('vfio_unmap_unpin calls')).toBe('102');
    expect(row('regions/call min/med/max')).toBe('3/7/19');
    expect(row('IOTLB syncs')).toBe('103');
    expect(row('  slow-path fallbacks')).toBe('104');
    expect(row('invalidation commands')).toBe('105');
    expect(row('completion waits')).toBe('106');
    expect(row('PTE writes')).toBe('107');
    expect(row('PTE clears')).toBe('108');
    expect(row('page tables after boot')).toBe('109');
    expect(row('table allocs/frees')).toBe('110/111');
    expect(row('pins (4K pages)')).toBe('112');
    expect(row('map_try_harder')).toBe('113');
    expect(row('peak queued regions')).toBe('114');
    expect(row('peak queued list bytes')).toBe(bytes(4096 * 3));
    expect(row('peak unmapped+pinned')).toBe(bytes(1 << 21));
    expect(row('pinned after unmap mean')).toBe(dur(1500));
    expect(row('pinned after unmap max')).toBe(dur(2_500_000));
    expect(row('DMA pages / IO faults')).toBe('115/116');
    expect(row('ioctl errors')).toBe('117');
    expect(row('safety violations')).toBe('118');
    // the phases and the setup that precedes them add up to the total
    expect(row('modeled time: setup')).toBe(dur(1_000_000));
    expect(row('modeled time: boot')).toBe(dur(1_000_000));
    expect(row('modeled time: shutdown')).toBe(dur(3_000_000));
    expect(row('modeled time: total')).toBe(dur(5_000_000));
  });
});

describe('rows that depend on the cases', () => {
  /** A case with just the fields these rows read. */
  const kase = (phaseNs: Record<string, number>, counters: Record<string, number> = {}) =>
    ({ metrics: { phaseNs, modeledNs: 0 }, counters }) as unknown as CaseResult;

  it('test_phases_in_scenario_order_then_as_they_come', () => {
    // a replayed stream's own names after the scenario's phases, in the order the cases give them
    expect(phasesOf([kase({ x: 1, shutdown: 1, trace: 1, boot: 1 }), kase({ churn: 1, y: 1, run: 1, x: 2 })])).toEqual([
      'boot',
      'trace',
      'run',
      'churn',
      'shutdown',
      'x',
      'y',
    ]);
    expect(phasesOf([])).toEqual([]);
  });

  it('test_page_fault_row_only_when_a_case_faulted', () => {
    const names = (cases: CaseResult[]) => tableRows(cases).map(([n]) => n);
    const calm = kase({ boot: 1 }, { pins: 5 });
    const lazy = kase({ boot: 1 }, { pageFaults: 3, pageZeroes: 1536 });
    expect(names([calm, calm])).not.toContain('page faults / 4K cleared');
    expect(names([calm, kase({ boot: 1 }, { pageFaults: 0 })])).not.toContain('page faults / 4K cleared');
    // one case that faulted is enough; the other shows zeros
    const rows = tableRows([calm, lazy]);
    const at = rows.findIndex(([n]) => n === 'page faults / 4K cleared');
    expect(rows[at - 1]![0]).toBe('DMA pages / IO faults');
    expect(rows[at + 1]![0]).toBe('modeled time: setup');
    expect([calm, lazy].map(rows[at]![1])).toEqual(['0/0', '3/1,536']);
  });
});

describe('what follows the table', () => {
  it('test_violations_errors_mismatches_and_faults', () => {
    const rec: IoctlOutcome = { ret: 0, errno: null, sizeOut: '0x1000' };
    const mm = (line: number, replayed: IoctlOutcome, recorded = rec) => ({
      line,
      ioctl: 'VFIO_IOMMU_UNMAP_DMA',
      iova: `0x${line}000`,
      size: '0x1000',
      recorded,
      replayed,
    });
    const fault = (line: number) => ({
      line,
      device: 256,
      iova: `0x${line}000`,
      pages: 2,
      dir: 'write' as const,
      faultIova: `0x${line + 1}000`,
      event: 'IO_PAGE_FAULT',
    });
    const kase = (label: string, m: Partial<Metrics>, extra: Partial<CaseResult>): CaseResult => ({
      ...real,
      label,
      metrics: { ...real.metrics, violations: 0, ioctlErrors: 0, ioPageFaults: 0, ...m },
      violationSamples: [],
      errorSamples: [],
      mismatches: [],
      dmaFaults: [],
      ...extra,
    });
    const a = kase(
      'a',
      { violations: 3, ioctlErrors: 2, ioPageFaults: 30 },
      {
        violationSamples: [{ kind: 'unpin-while-reachable', pfn: 5, iova: 7, domain: 1, via: 'pte', call: 'X > iommu_unmap', detail: 'd' }],
        errorSamples: [{ index: 3, ioctl: 'VFIO_IOMMU_MAP_DMA', code: 'EEXIST', message: 'EEXIST: overlaps' }],
        mismatches: [
          mm(1, { ret: 0, errno: null, sizeOut: '0x0' }),
          mm(2, { ret: null, errno: 'EINVAL', sizeOut: null }),
          mm(3, { ret: 0, errno: null, sizeOut: '0x0' }, { ret: 0, errno: null, sizeOut: null }),
          mm(4, { ret: 0, errno: null, sizeOut: '0x0' }, { ret: null, errno: 'ENOENT', sizeOut: null }),
          mm(5, { ret: 0, errno: null, sizeOut: '0x0' }),
          mm(6, { ret: 0, errno: null, sizeOut: '0x0' }),
        ],
        dmaFaults: [10, 11, 12, 13, 14, 15, 16].map(fault),
      },
    );
    // a violation count without a sample prints nothing; five mismatches, all shown
    const b = kase(
      'b',
      { violations: 1, ioPageFaults: 7 },
      {
        mismatches: [1, 2, 3, 4, 5].map((l) => mm(l, { ret: 0, errno: null, sizeOut: '0x0' })),
        dmaFaults: [20, 21, 22, 23, 24, 25, 26].map(fault),
      },
    );
    // faults kept but none counted (a made result): the kept ones count
    const c = kase('c', {}, { mismatches: null, dmaFaults: [30, 31].map(fault) });
    // exactly five: all shown, no note; none kept (a run: null) or none taken: no section
    const d = kase('d', { ioPageFaults: 5 }, { dmaFaults: [40, 41, 42, 43, 44].map(fault) });
    const e = kase('e', { ioPageFaults: 3 }, { dmaFaults: null });
    const g = kase('g', {}, { dmaFaults: [] });
    const out = renderTable({ schema: 'vfio-sim/result@2', command: 'replay', cases: [a, b, c, d, e, g], sweep: null });
    const after = out.slice(out.indexOf('\n\na: 3 safety'));
    const f = (l: number) => `  line ${l}: dma device 256 write iova 0x${l}000 pages 2: IO_PAGE_FAULT at iova 0x${l + 1}000`;
    const same = (l: number) =>
      `  line ${l}: VFIO_IOMMU_UNMAP_DMA iova 0x${l}000 size 0x1000: recorded ret 0 sizeOut 0x1000, replayed ret 0 sizeOut 0x0`;
    expect(after.split('\n\nbottom line')[0]!.split('\n')).toEqual([
      '',
      '',
      'a: 3 safety violation(s); first: unpin-while-reachable pfn 5 iova page 7 via pte in X > iommu_unmap: d',
      '',
      'a: 2 ioctl(s) failed; first: VFIO_IOMMU_MAP_DMA -> EEXIST: EEXIST: overlaps',
      '',
      'a: 6 replayed ioctl(s) differ from the record (first 5; --json lists all):',
      same(1),
      '  line 2: VFIO_IOMMU_UNMAP_DMA iova 0x2000 size 0x1000: recorded ret 0 sizeOut 0x1000, replayed errno EINVAL',
      '  line 3: VFIO_IOMMU_UNMAP_DMA iova 0x3000 size 0x1000: recorded ret 0, replayed ret 0',
      '  line 4: VFIO_IOMMU_UNMAP_DMA iova 0x4000 size 0x1000: recorded errno ENOENT, replayed ret 0',
      same(5),
      '',
      'b: 5 replayed ioctl(s) differ from the record:',
      ...[1, 2, 3, 4, 5].map(same),
      '',
      'a: 30 replayed DMA(s) took an IO page fault (first 5; --json lists the first 7):',
      ...[10, 11, 12, 13, 14].map(f),
      '',
      'b: 7 replayed DMA(s) took an IO page fault (first 5; --json lists all):',
      ...[20, 21, 22, 23, 24].map(f),
      '',
      'c: 2 replayed DMA(s) took an IO page fault:',
      f(30),
      f(31),
      '',
      'd: 5 replayed DMA(s) took an IO page fault:',
      ...[40, 41, 42, 43, 44].map(f),
    ]);
  });
});

describe('regions per call summary', () => {
  it('test_summarise_lower_median_min_max_mean', async () => {
    const { summarise } = await import('../src/engine/stats.js');
    // 1, 2, 2, 9, 40 (five calls): the middle one is 2; unsorted input and zero-count rows are fine
    expect(
      summarise([
        [40, 1],
        [2, 2],
        [1, 1],
        [9, 1],
        [5, 0],
      ]),
    ).toEqual({
      min: 1,
      median: 2,
      max: 40,
      mean: 54 / 5,
      histogram: [
        [1, 1],
        [2, 2],
        [9, 1],
        [40, 1],
      ],
    });
    // four calls 3, 3, 8, 8: the lower median is 3 (rank ceil(4/2) = 2)
    expect(
      summarise([
        [8, 2],
        [3, 2],
      ]).median,
    ).toBe(3);
    // one call each of 1, 100, 1000: median 100, not min or max
    expect(
      summarise([
        [1, 1],
        [100, 1],
        [1000, 1],
      ]),
    ).toMatchObject({ min: 1, median: 100, max: 1000, mean: 367 });
    expect(summarise([])).toEqual({ min: 0, median: 0, max: 0, mean: 0, histogram: [] });
    expect(summarise([[5, 0]])).toEqual({ min: 0, median: 0, max: 0, mean: 0, histogram: [] });
  });
});
