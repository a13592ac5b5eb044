// Results made by hand for the report tests: a case's metrics with every count at zero unless given,
// a whole case around them, and the titles of the figures the HTML report draws for a numeric sweep.

import type { CaseResult, Metrics } from '../src/engine/result.js';
import { defaultScenario, type Scenario } from '../src/scenario/scenario.js';

/** Metrics with every count, byte and time zero, no phases, one empty histogram; `m` overrides. */
export function metricsOf(m: Partial<Metrics> = {}): Metrics {
  return {
    mapIoctls: 0,
    unmapIoctls: 0,
    ioctlErrors: 0,
    unmapCalls: 0,
    regionsPerCall: { min: 0, median: 0, max: 0, mean: 0, histogram: [] },
    regions: 0,
    iotlbSyncs: 0,
    fallbacks: 0,
    mapTryHarder: 0,
    invalidations: 0,
    completionWaits: 0,
    pteWrites: 0,
    pteClears: 0,
    tableAllocs: 0,
    tableFrees: 0,
    tablesAfterBoot: 0,
    pins: 0,
    unpins: 0,
    peakQueuedRegions: 0,
    peakQueuedBytes: 0,
    peakPinnedAfterUnmapBytes: 0,
    pinnedAfterUnmapMeanNs: 0,
    pinnedAfterUnmapMaxNs: 0,
    dmaPages: 0,
    iotlbHits: 0,
    iotlbMisses: 0,
    ioPageFaults: 0,
    violations: 0,
    modeledNs: 0,
    phaseNs: {},
    ...m,
  };
}

/** The HTML report's figures, in order, for a sweep of a numeric option (here --tlb-sync-max). */
export const SWEEP_FIGURES = [
  'Regions per vfio_unmap_unpin call (histogram)',
  'IOTLB syncs, invalidations, completion waits',
  'Modeled time per phase',
  'IOTLB syncs vs --tlb-sync-max',
  'Memory unmapped but still pinned vs --tlb-sync-max',
  'Time pages stay pinned after unmap vs --tlb-sync-max',
  'Modeled shutdown time vs --tlb-sync-max',
];

/**
 * A case of a 1 GiB q35 guest without firmware boot (changed by `scenario`), with these metrics and
 * nothing else recorded; `extra` overrides any field.
 */
export function madeCase(
  label: string,
  metrics: Metrics,
  extra: Partial<CaseResult> = {},
  scenario: (s: Scenario) => void = () => {},
): CaseResult {
  const s = defaultScenario();
  s.guest = { ...s.guest, memory: '1G', firmware: 'none' };
  scenario(s);
  return {
    label,
    scenario: s,
    layout: [],
    metrics,
    counters: {},
    timeNs: {},
    commands: null,
    vfioStats: {},
    violationSamples: [],
    errorSamples: [],
    mismatches: null,
    dmaFaults: null,
    ...extra,
  };
}
