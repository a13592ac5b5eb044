// Each table row shows its own metric: a result whose metrics all differ (values chosen here, none
// equal to another) is rendered, and every row is read back against the value set for it. A row
// that printed a neighbour's metric (completion waits for invalidations, fallbacks for
// map_try_harder, min or max for the median) fails here even when a real run has them equal.

import { beforeAll, describe, expect, it } from 'vitest';
import type { CaseResult, CommandResult, Metrics } from '../src/engine/result.js';
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
