// The result of one case (one scenario run) and of a command (several cases): the stable JSON
// schema documented in README.md ("JSON output") and docs/result.schema.json. Only plain JSON
// values (numbers, strings, booleans, arrays, objects) so results cross worker threads and files.

import type { Scenario } from '../scenario/scenario.js';

export const RESULT_SCHEMA = 'vfio-sim/result@2';
/** Earlier schemas `report` still reads: @1 is @2 without `mismatches`. */
export const RESULT_SCHEMAS_READ = ['vfio-sim/result@1', RESULT_SCHEMA] as const;

/** min / median / max / mean of regions per vfio_unmap_unpin() call, plus the histogram it came from. */
export interface RegionsPerCall {
  readonly min: number;
  readonly median: number;
  readonly max: number;
  readonly mean: number;
  /** [regions, calls] pairs, ascending by regions: `calls` vfio_unmap_unpin() calls unmapped `regions` regions. */
  readonly histogram: readonly (readonly [number, number])[];
}

export interface Metrics {
  /** VFIO_IOMMU_MAP_DMA / VFIO_IOMMU_UNMAP_DMA ioctls issued (failed ones included). */
  readonly mapIoctls: number;
  readonly unmapIoctls: number;
  /** ioctls that returned an error. */
  readonly ioctlErrors: number;
  /**
   * vfio_unmap_unpin() calls: one per vfio_dma removed (by UNMAP_DMA, a failed MAP_DMA's unwind or the
   * container's teardown). Before @x/vfio-sim 0.1 this counted UNMAP_DMA ioctls that passed their checks.
   */
  readonly unmapCalls: number;
  /** Regions (physically contiguous runs) unmapped per vfio_unmap_unpin() call. */
  readonly regionsPerCall: RegionsPerCall;
  /** Total regions unmapped (sum of the histogram). */
  readonly regions: number;
  /** IOTLB syncs issued by VFIO's unmap path (per-chunk flushes before v4.17, batch syncs after). */
  readonly iotlbSyncs: number;
  /** Fast-path chunks that fell back to the slow path. */
  readonly fallbacks: number;
  /** map_try_harder() entries (before v5.0: the AMD EBUSY quirk). */
  readonly mapTryHarder: number;
  /** IOTLB invalidation commands (AMD: INVALIDATE_IOMMU_PAGES + INVALIDATE_IOMMU_ALL). */
  readonly invalidations: number;
  /** COMPLETION_WAIT commands (waits for the invalidations). */
  readonly completionWaits: number;
  readonly pteWrites: number;
  readonly pteClears: number;
  readonly tableAllocs: number;
  readonly tableFrees: number;
  /** Page-table pages in use at the end of boot (after all maps). */
  readonly tablesAfterBoot: number;
  /** Pages pinned / unpinned (get_user_pages / put_page), 4 KiB pages. */
  readonly pins: number;
  readonly unpins: number;
  /** Most regions queued (unmapped, not yet synced, still pinned) at one time, and the kernel memory
   *  their list entries took (struct vfio_regions, 40 bytes each), as the container reports them. */
  readonly peakQueuedRegions: number;
  readonly peakQueuedBytes: number;
  /** Most guest memory (bytes) unmapped from the IOMMU but still pinned at one time. */
  readonly peakPinnedAfterUnmapBytes: number;
  /** How long unmapped pages stayed pinned before their unpin (modeled ns): mean per page and max. */
  readonly pinnedAfterUnmapMeanNs: number;
  readonly pinnedAfterUnmapMaxNs: number;
  /** DMA the device did and the IOMMU faults it took. */
  readonly dmaPages: number;
  readonly iotlbHits: number;
  readonly iotlbMisses: number;
  readonly ioPageFaults: number;
  /** Safety violations found by the checker (page unpinned while reachable, ...). */
  readonly violations: number;
  /** Modeled time of the whole run and per phase (ns). */
  readonly modeledNs: number;
  readonly phaseNs: Readonly<Record<string, number>>;
}

export interface ViolationRecord {
  readonly kind: string;
  readonly pfn: number;
  readonly iova: number;
  readonly domain: number;
  readonly via: string;
  readonly call: string;
  readonly detail: string;
}

/** What one ioctl returned: `ret` (null when it failed), `errno` (null when it succeeded), UNMAP_DMA's written-back size. */
export interface IoctlOutcome {
  readonly ret: number | null;
  readonly errno: string | null;
  readonly sizeOut: string | null;
}

/** A replayed ioctl whose result differs from the one recorded on its line (only recorded fields are compared). */
export interface MismatchRecord {
  /** Line of the replay file (1-based). */
  readonly line: number;
  readonly ioctl: string;
  readonly iova: string;
  readonly size: string;
  /** As written in the record (a field it leaves out is null and not compared). */
  readonly recorded: IoctlOutcome;
  readonly replayed: IoctlOutcome;
}

/** A replayed DMA line whose device took an IO page fault (it stops at the first faulting page). */
export interface DmaFaultRecord {
  /** Line of the replay file (1-based). */
  readonly line: number;
  readonly device: number;
  /** The DMA's first byte and length as the line gives them. */
  readonly iova: string;
  readonly pages: number;
  readonly dir: 'read' | 'write';
  /** The faulting page's first byte (0x hex) and what the IOMMU reported: 'IO_PAGE_FAULT' (AMD-Vi), or the reference driver's reason. */
  readonly faultIova: string;
  readonly event: string;
}

export interface CaseResult {
  /** What the case is called in tables ('v4.17', 'tlbSyncMax=64', ...). */
  readonly label: string;
  /** The scenario that produced the case; null for a replay of a hand-written stream. */
  readonly scenario: Scenario | null;
  /** The DMA mappings the guest layout produced. */
  readonly layout: readonly { readonly name: string; readonly iova: string; readonly size: string }[];
  readonly metrics: Metrics;
  /** Every sim counter (event name -> count) and every modeled-time bucket (event -> ns). */
  readonly counters: Readonly<Record<string, number>>;
  readonly timeNs: Readonly<Record<string, number>>;
  /** Commands issued on the AMD command ring by name, or null for the reference driver. */
  readonly commands: Readonly<Record<string, number>> | null;
  /** The container's own stats object as the vfio-type1 package reports it (bigints as strings). */
  readonly vfioStats: unknown;
  /** The first 20 violations, in detection order. */
  readonly violationSamples: readonly ViolationRecord[];
  /** The first 20 failed ioctls: which op and the error code. */
  readonly errorSamples: readonly { readonly index: number; readonly ioctl: string; readonly code: string; readonly message: string }[];
  /** Replay only: every ioctl whose result differs from the record, in order; null for a run (nothing to compare). */
  readonly mismatches: readonly MismatchRecord[] | null;
  /** Replay only: the first 20 DMA lines that faulted (metrics.ioPageFaults counts them all); null for a run. Absent in results saved before it existed. */
  readonly dmaFaults?: readonly DmaFaultRecord[] | null;
}

export interface SweepInfo {
  readonly option: string;
  readonly flag: string;
  readonly values: readonly (string | number | boolean)[];
}

/** compare: one case after the first, as a change from the first in percent. */
interface CaseChange {
  readonly label: string;
  /** The first case's label. */
  readonly vs: string;
  /** (case - first) / first x 100 of the whole run's modeled time; null when the first's is 0 and this one's is not (no percentage of nothing). */
  readonly modeledNs: number | null;
  /** The same per phase both cases have. */
  readonly phaseNs: Readonly<Record<string, number | null>>;
}

export interface CommandResult {
  readonly schema: typeof RESULT_SCHEMA;
  readonly command: 'run' | 'compare' | 'sweep' | 'replay';
  readonly cases: readonly CaseResult[];
  readonly sweep: SweepInfo | null;
  /** compare with two or more cases: every case after the first against the first. */
  readonly changes?: readonly CaseChange[];
}

// From 0 to more than 0 is no percentage: null, which JSON can hold (Infinity would be written as
// null anyway, and the schema would then refuse the tool's own output in `report FILE`).
const pct = (b: number, a: number): number | null => (a === 0 ? (b === 0 ? 0 : null) : ((b - a) / a) * 100);

/**
 * A record's own value for a key, 0 when it has none. Keys come from the data (a replayed stream
 * names its own phases, a saved result its events), so a key may be 'constructor' or 'toString':
 * only the record's own entries count, never Object.prototype's.
 */
export const ownValue = (r: Readonly<Record<string, number>>, key: string): number => (Object.hasOwn(r, key) ? r[key]! : 0);

/** A case's modeled time in a phase, 0 when it has none. */
export const phaseTime = (m: Metrics, phase: string): number => ownValue(m.phaseNs, phase);

/** The document a command prints with --json (and validate reads its figures from). */
export function commandResult(command: CommandResult['command'], cases: readonly CaseResult[], sweep: SweepInfo | null): CommandResult {
  const res: CommandResult = { schema: RESULT_SCHEMA, command, cases, sweep };
  if (command !== 'compare' || cases.length < 2) return res;
  const a = cases[0]!.metrics;
  const changes = cases.slice(1).map((c): CaseChange => {
    const b = c.metrics;
    const phaseNs = Object.fromEntries(
      Object.keys(b.phaseNs)
        .filter((k) => Object.hasOwn(a.phaseNs, k))
        .map((k) => [k, pct(b.phaseNs[k]!, a.phaseNs[k]!)]),
    );
    return { label: c.label, vs: cases[0]!.label, modeledNs: pct(b.modeledNs, a.modeledNs), phaseNs };
  });
  return { ...res, changes };
}
