// Reads the container's stats (VfioContainer.stats() from @x/vfio-type1) into the numbers the
// tool reports: vfio_unmap_unpin() calls, the regions-per-call histogram, syncs, peaks, fallbacks.

import type { VfioStats } from '@x/vfio-type1';
import type { RegionsPerCall } from './result.js';

export interface Stats {
  /** vfio_unmap_unpin() calls: one per vfio_dma removed (not UNMAP_DMA ioctls, which may remove none or several). */
  readonly unmapCalls: number;
  readonly regions: number;
  readonly regionsPerCall: RegionsPerCall;
  readonly syncs: number;
  readonly fallbacks: number;
  readonly mapTryHarder: number;
  readonly peakQueuedRegions: number;
  readonly peakQueuedBytes: number;
  /** The stats object as plain JSON (bigints as decimal strings). */
  readonly raw: unknown;
}

/** Plain-JSON copy of a value: bigint -> decimal string, Map -> object, typed arrays -> arrays. */
function toJson(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(toJson);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJson(x)]));
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}

/** Summarises a histogram given as [regions, calls] pairs. */
export function summarise(h: readonly (readonly [number, number])[]): RegionsPerCall {
  const hist = h
    .filter(([, c]) => c > 0)
    .map(([r, c]) => [r, c] as const)
    .sort((a, b) => a[0] - b[0]);
  const calls = hist.reduce((a, [, c]) => a + c, 0);
  if (calls === 0) return { min: 0, median: 0, max: 0, mean: 0, histogram: [] };
  const total = hist.reduce((a, [r, c]) => a + r * c, 0);
  // lower median: the value at rank ceil(calls/2)
  let rank = Math.ceil(calls / 2),
    median = 0;
  for (const [r, c] of hist) {
    if (rank <= c) {
      median = r;
      break;
    }
    rank -= c;
  }
  return { min: hist[0]![0], median, max: hist[hist.length - 1]![0], mean: total / calls, histogram: hist };
}

/** Histogram { value: occurrences } as [value, occurrences] pairs (summarise sorts them). */
function histPairs(h: Readonly<Record<number, number>>): [number, number][] {
  return Object.entries(h).map(([k, v]) => [Number(k), v] as [number, number]);
}

/** Reads a VfioStats snapshot (@x/vfio-type1). */
export function collectStats(s: VfioStats): Stats {
  const rpc = summarise(histPairs(s.regionsPerUnmapUnpin));
  return {
    unmapCalls: s.unmapUnpinCalls,
    regions: rpc.histogram.reduce((a, [r, c]) => a + r * c, 0),
    regionsPerCall: rpc,
    syncs: s.syncs,
    fallbacks: s.fallbacks,
    mapTryHarder: s.tryHarderEntries,
    peakQueuedRegions: s.peakQueuedRegions,
    peakQueuedBytes: s.peakQueuedBytes,
    raw: toJson(s),
  };
}
