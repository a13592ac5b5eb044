// How big a --trace will be, from the cases before they run: the ioctls, DMAs and phases of the
// workload (or the replayed lines), and at iommu detail and above the pinned chunks, map_pages and
// unmap_pages calls and syncs, which follow the host backing: one per 4 KiB page when it is
// scattered (4k, the 4k share of fragmented:<p>), one per 2 MiB or 1 GiB page otherwise. The
// estimate is checked against --trace-max before anything runs, so a trace that would not fit is
// refused with the flags that would, instead of filling the disk (the writer streams, so memory is
// not the limit).

import { TRACE_ALL, TRACE_IOMMU, type BackingProfile } from '@x/iommu-core';
import { profileSpec } from '@x/vfio-type1';
import type { RecordLine } from '../engine/record.js';
import { resolveScenario, type Scenario } from '../scenario/scenario.js';
import type { RegionName } from '../scenario/firmware.js';
import { workload } from '../scenario/workload.js';
import type { Task } from '../task.js';

export interface TraceEstimate {
  readonly events: number;
  readonly bytes: number;
}

/**
 * Average bytes per event line in the file, measured: 116 at iommu detail on a 1 GiB 4k guest
 * (14.7 M events, 1.71 GB; map_pages/unmap_pages/pin slices with an IOVA, E events with little),
 * 108 at ioctl detail.
 */
const BYTES_PER_EVENT = 116;
/** Per map chunk at iommu detail: vfio_pin_pages_remote and map_pages, each B and E. */
const PER_MAP_RUN = 4;
/**
 * Per unmapped region: unmap_pages and vfio_unpin_pages_remote, each B and E; per batched sync
 * iotlb_sync B/E and vfio_sync_unpin; the slow path (before v4.17) an iotlb_sync per region.
 */
const PER_UNMAP_RUN = 4,
  PER_SYNC = 3,
  PER_SLOW_REGION = 2;

const PAGE = 4096n,
  SZ_2M = 1n << 21n,
  SZ_1G = 1n << 30n;

/** How a mapping's pages split into physically contiguous runs on a backing: the share of scattered 4 KiB pages and the huge page size. */
function shape(backing: BackingProfile | 'mmio' | '4k-rom', age: number): { scattered: number; huge: bigint } {
  if (backing === 'mmio') return { scattered: 0, huge: SZ_1G }; // a BAR: one pfnmap run per 1 GiB at most
  // host age A: each 4 KiB pick is the fresh host's next page with probability 1 - A, so a page
  // continues its neighbour's run when both were (1 - A)^2); measured 0.77 runs per page at A = 0.5
  if (backing === '4k' || backing === '4k-rom') return { scattered: 1 - (1 - age) ** 2, huge: SZ_2M };
  if (backing === 'hugetlb-1g') return { scattered: 0, huge: SZ_1G };
  const m = /^fragmented(?::(.*))?$/.exec(backing);
  if (m !== null) return { scattered: Number(m[1] ?? 0.5), huge: SZ_2M };
  return { scattered: 0, huge: SZ_2M };
}

/** Contiguous runs (pin chunks, map_pages calls, unmapped regions) of `size` bytes at `iova`. */
function runs(iova: bigint, size: bigint, s: { scattered: number; huge: bigint }): number {
  const pages = Number(size / PAGE);
  const first = iova / s.huge,
    last = (iova + size - 1n) / s.huge;
  const huge = Number(last - first + 1n);
  return Math.ceil(pages * s.scattered + huge * (1 - s.scattered));
}

/** Counts the events of one case's ops. */
class Tally {
  events = 0;
  /** Runs of each live mapping by IOVA, for its unmap. */
  private readonly live = new Map<bigint, number>();
  constructor(
    private readonly detail: number,
    private readonly slow: boolean,
    private readonly syncMax: number,
  ) {}
  phase(): void {
    this.events += 2;
  }
  dma(): void {
    this.events += 2;
  }
  map(iova: bigint, size: bigint, s: { scattered: number; huge: bigint }): void {
    this.ioctl();
    const n = runs(iova, size, s);
    this.live.set(iova, n);
    if (this.detail >= TRACE_IOMMU) this.events += n * PER_MAP_RUN;
  }
  unmap(iova: bigint, size: bigint): void {
    this.ioctl();
    let n = 0;
    for (const [k, v] of this.live)
      if (k >= iova && k < iova + size) {
        n += v;
        this.live.delete(k);
      }
    // before v4.17 (and --unmap-path slow) every region is its own flush
    if (this.detail >= TRACE_IOMMU)
      this.events += n * PER_UNMAP_RUN + (this.slow ? n * PER_SLOW_REGION : Math.ceil(n / this.syncMax) * PER_SYNC);
  }
  private ioctl(): void {
    this.events += 4; // qemu and vfio B/E
    if (this.detail >= TRACE_ALL) this.events += 2; // memory counters
  }
}

/** The events and bytes a run's workload will trace. */
function runEstimate(scenario: Scenario, detail: number): number {
  const r = resolveScenario(scenario);
  const s = r.scenario;
  const slow = (s.vfio.unmapPath ?? profileSpec(s.profile).unmapPath) === 'slow';
  const t = new Tally(detail, slow, s.vfio.tlbSyncMax);
  // distinct stand-in addresses tell the regions apart: guest RAM at 0, the firmware boot's ROMs and BARs above 2^50 each
  const vmas = new Map<RegionName, bigint>([['pc.ram', 0n]]);
  const kinds: ReturnType<typeof shape>[] = [shape(r.backing, r.hostAge)];
  for (const x of r.boot?.regions ?? []) {
    vmas.set(x.name, BigInt(kinds.length) << 50n);
    kinds.push(shape(x.kind === 'mmio' ? 'mmio' : '4k-rom', 1));
  }
  const at = (vaddr: bigint): ReturnType<typeof shape> => kinds[Number(vaddr >> 50n)] ?? kinds[0]!;
  for (const op of workload(r, vmas, s.devices)) {
    if (op.op === 'phase') t.phase();
    else if (op.op === 'dma') t.dma();
    else if (op.op === 'map') t.map(op.iova, op.size, at(op.vaddr));
    else t.unmap(op.iova, op.size);
  }
  return t.events;
}

/** The events a replayed stream will trace: mmap lines tell each MAP_DMA's backing (areas placed as Process.mmap does). */
function replayEstimate(
  lines: readonly RecordLine[],
  backing: BackingProfile,
  profile: string,
  unmapPath: string | null,
  syncMax: number,
  age: number,
  detail: number,
): number {
  const slow = (unmapPath ?? profileSpec(profile).unmapPath) === 'slow';
  const t = new Tally(detail, slow, syncMax);
  const areas: { start: bigint; end: bigint; s: ReturnType<typeof shape> }[] = [];
  let next = 0x7f0000000000n;
  for (const l of lines) {
    if (l.op === 'mmap') {
      const size = BigInt(l.size),
        start = l.vaddr !== undefined ? BigInt(l.vaddr) : next;
      areas.push({ start, end: start + size, s: shape(l.backing, age) });
      next = ((start + size + SZ_1G - 1n) / SZ_1G) * SZ_1G + SZ_1G;
    } else if (l.op === 'phase') t.phase();
    else if (l.op === 'dma') t.dma();
    else if (l.op !== 'ioctl') continue;
    else if (l.cmd === 'VFIO_IOMMU_MAP_DMA') {
      const v = BigInt(l.arg.vaddr),
        iova = BigInt(l.arg.iova);
      t.map(iova, BigInt(l.arg.size), areas.find((a) => v >= a.start && v < a.end)?.s ?? shape(backing, age));
    } else t.unmap(BigInt(l.arg.iova), BigInt(l.arg.size));
  }
  return t.events;
}

/** The trace of these cases at this detail: events (metadata included) and bytes in the file. */
export function estimateTrace(tasks: readonly Task[], detail: number): TraceEstimate {
  let events = 0;
  for (const t of tasks) {
    events += 8; // process and thread names
    if (t.kind === 'run') events += runEstimate(t.scenario, detail);
    else {
      const m = t.header.machine;
      events += replayEstimate(t.lines, m.backing, m.profile, m.container.unmapPath, m.container.tlbSyncMax, m.hostAge ?? 1, detail);
    }
  }
  return { events, bytes: events * BYTES_PER_EVENT };
}
