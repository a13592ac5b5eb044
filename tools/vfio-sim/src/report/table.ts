// The readable default output: one column per case, one row per number that answers the review's
// questions, then a short note on what to try next.

import type { CaseResult, CommandResult } from '../engine/result.js';
import { fmtSize, parseSize } from '../scenario/size.js';
import { resolveScenario } from '../scenario/scenario.js';
import { bytes, dur, int, textTable } from './format.js';

type Row = readonly [string, (c: CaseResult) => string];

export const ROWS: readonly Row[] = [
  ['UNMAP_DMA ioctls', (c) => int(c.metrics.unmapIoctls)],
  ['unmap calls (vfio_dma)', (c) => int(c.metrics.unmapCalls)],
  ['regions/call min/med/max', (c) => { const r = c.metrics.regionsPerCall; return `${r.min}/${r.median}/${r.max}`; }],
  ['IOTLB syncs', (c) => int(c.metrics.iotlbSyncs)],
  ['  slow-path fallbacks', (c) => int(c.metrics.fallbacks)],
  ['invalidation commands', (c) => int(c.metrics.invalidations)],
  ['completion waits', (c) => int(c.metrics.completionWaits)],
  ['PTE writes', (c) => int(c.metrics.pteWrites)],
  ['PTE clears', (c) => int(c.metrics.pteClears)],
  ['page tables after boot', (c) => int(c.metrics.tablesAfterBoot)],
  ['table allocs/frees', (c) => `${int(c.metrics.tableAllocs)}/${int(c.metrics.tableFrees)}`],
  ['pins (4K pages)', (c) => int(c.metrics.pins)],
  ['map_try_harder', (c) => int(c.metrics.mapTryHarder)],
  ['peak queued regions', (c) => int(c.metrics.peakQueuedRegions)],
  ['peak queued list bytes', (c) => bytes(c.metrics.peakQueuedBytes)],
  ['peak unmapped+pinned', (c) => bytes(c.metrics.peakPinnedAfterUnmapBytes)],
  ['pinned after unmap mean', (c) => dur(c.metrics.pinnedAfterUnmapMeanNs)],
  ['pinned after unmap max', (c) => dur(c.metrics.pinnedAfterUnmapMaxNs)],
  ['DMA pages / IO faults', (c) => `${int(c.metrics.dmaPages)}/${int(c.metrics.ioPageFaults)}`],
  ['modeled time: boot', (c) => dur(c.metrics.phaseNs.boot ?? 0)],
  ['modeled time: shutdown', (c) => dur(c.metrics.phaseNs.shutdown ?? 0)],
  ['modeled time: total', (c) => dur(c.metrics.modeledNs)],
  ['ioctl errors', (c) => int(c.metrics.ioctlErrors)],
  ['safety violations', (c) => int(c.metrics.violations)],
];

/** One line describing a case's scenario. */
export function describeScenario(c: CaseResult): string {
  const s = c.scenario;
  if (s === null) return 'replayed stream';
  const r = resolveScenario(s);
  const high = r.blocks.filter((b) => b.gpa >= 1n << 32n).reduce((a, b) => a + b.size, 0n);
  const low = r.guestBytes - high;
  const dma = s.dma.pattern === 'none' ? 'no DMA' : `DMA ${s.dma.pattern}`;
  const work = s.workload === 'boot' ? 'boot + shutdown' : s.workload === 'churn' ? `churn ${s.churn.ops} ops` : `boot + churn ${s.churn.ops} ops + shutdown`;
  const maps = s.workload === 'churn' ? 'RAM not mapped at boot (vIOMMU)' : `${r.blocks.length} DMA mappings`;
  return `guest ${fmtSize(r.guestBytes)} (${s.guest.machine}: ${fmtSize(low)} below 4G + ${fmtSize(high)} above, ${maps}), ` +
    `host ${fmtSize(r.hostBytes)} ${s.host.backing}, ${s.driver === 'amd' ? 'AMD-Vi' : 'reference (VT-d-like)'}, ` +
    `${s.devices} device${s.devices > 1 ? 's' : ''}/${s.groups} group${s.groups > 1 ? 's' : ''}, ${dma}, ${work}, seed ${s.seed}`;
}

/** Fields that differ between cases, so a header can say only what is common. */
function common(cases: readonly CaseResult[]): string {
  const first = cases[0]!;
  if (first.scenario === null) return 'replayed stream';
  return describeScenario(first);
}

export function renderTable(res: CommandResult, opts: { hints?: boolean } = {}): string {
  const out: string[] = [];
  const cases = res.cases;
  const title = res.sweep !== null ? `sweep ${res.sweep.flag} over ${res.sweep.values.join(', ')}` : res.command;
  out.push(`vfio-sim ${title}: ${common(cases)}`);
  if (res.sweep !== null || cases.length > 1) {
    const diffs = cases.map((c) => c.label);
    out.push(`cases: ${diffs.join(' | ')}`);
  }
  out.push('');
  out.push(textTable(['', ...cases.map((c) => c.label)], ROWS.map(([name, f]) => [name, ...cases.map(f)])));
  const v = cases.filter((c) => c.metrics.violations > 0);
  for (const c of v) {
    const s = c.violationSamples[0];
    if (s) out.push(`\n${c.label}: ${c.metrics.violations} safety violation(s); first: ${s.kind} pfn ${s.pfn} iova page ${s.iova} via ${s.via} in ${s.call}: ${s.detail}`);
  }
  const e = cases.filter((c) => c.metrics.ioctlErrors > 0);
  for (const c of e) {
    const s = c.errorSamples[0]!;
    out.push(`\n${c.label}: ${c.metrics.ioctlErrors} ioctl(s) failed; first: ${s.ioctl} -> ${s.code}: ${s.message}`);
  }
  if (res.sweep !== null) out.push('', sweepAnswer(res));
  if (opts.hints) out.push('', hints(res));
  return out.join('\n');
}

/** What the sweep shows, in words: the trade-off between syncs, memory held pinned after unmap and time. */
export function sweepAnswer(res: CommandResult): string {
  const cs = res.cases;
  const minSync = Math.min(...cs.map((c) => c.metrics.iotlbSyncs));
  const w = Math.max(...cs.map((c) => c.label.length));
  const lines = [`trade-off (${res.sweep!.flag}):`];
  for (const c of cs) {
    const m = c.metrics;
    lines.push(`  ${c.label.padEnd(w)}  syncs ${int(m.iotlbSyncs).padStart(9)} (${minSync > 0 ? `${(m.iotlbSyncs / minSync).toFixed(1)}x` : '-'} min)`.padEnd(w + 35) +
      `  unmapped but pinned: up to ${bytes(m.peakPinnedAfterUnmapBytes).padStart(8)} for up to ${dur(m.pinnedAfterUnmapMaxNs).padStart(8)}` +
      `  shutdown ${dur(m.phaseNs.shutdown ?? 0).padStart(8)}`);
  }
  const shut = cs.map((c) => c.metrics.phaseNs.shutdown ?? 0);
  const best = Math.min(...shut);
  const knee = shut.findIndex((t) => t <= best * 1.01);
  // the "answer" reads a batching cap: more batching, fewer syncs, more memory held pinned
  if (knee >= 0 && res.sweep!.option === 'vfio.tlbSyncMax') {
    const k = cs[knee]!;
    const more = cs.slice(knee + 1).map((c) => `${c.label}: ${bytes(c.metrics.peakPinnedAfterUnmapBytes)} for up to ${dur(c.metrics.pinnedAfterUnmapMaxNs)}`);
    lines.push(`answer: from ${k.label} on, shutdown is within 1% of the fastest (${dur(best)}; ${k.label}: ${dur(shut[knee]!)}, ${int(k.metrics.iotlbSyncs)} syncs)` +
      (more.length > 0 ? `; larger values only keep more memory pinned after its unmap (${more.join('; ')}).` : '.'));
  }
  return lines.join('\n');
}

function hints(res: CommandResult): string {
  const c = res.cases.find((x) => x.label === 'v4.16') ?? res.cases[0]!;
  const guest = parseSize(c.scenario === null ? '64G' : c.scenario.guest.memory, '--guest');
  const g = (b: bigint): string => fmtSize(b).replace(/ (.)iB$/, '$1');
  const rows: [string, string][] = [
    ['vfio-sim sweep --tlb-sync-max 1,8,64,512,4096', 'is 512 regions per sync a good cap?'],
    ['vfio-sim compare --profile v4.16 --backing 4k,thp,hugetlb-1g', 'what the host backing does to regions per unmap'],
    [`vfio-sim sweep --guest ${g(guest / 4n)},${g(guest)},${g(guest * 4n)}`, 'how it scales with memory above 4 GiB'],
    ['vfio-sim compare --workload churn', 'vIOMMU/DPDK-like: many small map/unmap calls'],
    ['vfio-sim run --trace t.json --html r.html', 'open t.json in ui.perfetto.dev, r.html in a browser'],
    ['vfio-sim --help', 'every command and option'],
  ];
  const w = Math.max(...rows.map(([a]) => a.length));
  return ['What to try next:', ...rows.map(([a, b]) => `  ${a.padEnd(w)}  # ${b}`)].join('\n');
}
