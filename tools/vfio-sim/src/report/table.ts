// The readable default output: one column per case, one row per number that answers the review's
// questions, then a short note on what to try next.

import { phaseTime, type CaseResult, type CommandResult, type IoctlOutcome } from '../engine/result.js';
import { fmtSize, parseSize } from '../scenario/size.js';
import { resolveScenario } from '../scenario/scenario.js';
import { bytes, dur, int, textTable } from './format.js';
import { releaseSteps } from '../engine/timeline.js';
import { command } from '../invocation.js';
import { bottomLine } from './bottom-line.js';

type Row = readonly [string, (c: CaseResult) => string];

const ROWS: readonly Row[] = [
  ['UNMAP_DMA ioctls', (c) => int(c.metrics.unmapIoctls)],
  ['vfio_unmap_unpin calls', (c) => int(c.metrics.unmapCalls)],
  [
    'regions/call min/med/max',
    (c) => {
      const r = c.metrics.regionsPerCall;
      return `${r.min}/${r.median}/${r.max}`;
    },
  ],
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
];

const TAIL_ROWS: readonly Row[] = [
  ['modeled time: total', (c) => dur(c.metrics.modeledNs)],
  ['ioctl errors', (c) => int(c.metrics.ioctlErrors)],
  ['safety violations', (c) => int(c.metrics.violations)],
];

/** The workload's phases in the order a scenario runs them ('trace': an imported QEMU trace); a replayed stream may name others. */
const PHASE_ORDER = ['boot', 'trace', 'run', 'churn', 'shutdown'];

/** Every phase any case has, in scenario order, then unknown names in the order they appear. */
export function phasesOf(cases: readonly CaseResult[]): string[] {
  const seen = new Set(cases.flatMap((c) => Object.keys(c.metrics.phaseNs)));
  return [...PHASE_ORDER.filter((p) => seen.has(p)), ...[...seen].filter((p) => !PHASE_ORDER.includes(p))];
}

/** Modeled time outside every phase: building the container (VFIO_SET_IOMMU, group attach) before the first phase marker. */
export function setupNs(c: CaseResult): number {
  const inPhases = Object.values(c.metrics.phaseNs).reduce((a, b) => a + b, 0);
  return Math.max(0, c.metrics.modeledNs - inPhases);
}

/**
 * The table's rows for these cases: the fixed counters, page faults when a case took any, then one
 * modeled-time row per phase any case has (setup, boot, run, churn, shutdown, ...), which add up to the total row.
 */
export function tableRows(cases: readonly CaseResult[]): Row[] {
  // only when some case faulted pages in (--populate off): default tables keep their rows
  const faults: Row[] = cases.some((c) => (c.counters.pageFaults ?? 0) > 0)
    ? [['page faults / 4K cleared', (c) => `${int(c.counters.pageFaults ?? 0)}/${int(c.counters.pageZeroes ?? 0)}`]]
    : [];
  const time: Row[] = [['modeled time: setup', (c) => dur(setupNs(c))]];
  for (const p of phasesOf(cases)) time.push([`modeled time: ${p}`, (c) => dur(phaseTime(c.metrics, p))]);
  return [...ROWS, ...faults, ...time, ...TAIL_ROWS];
}

/**
 * The parts of a case's one-line description, each with the name used when it varies between cases.
 * A part whose text is '' is at its default and not shown (but still named when the cases differ).
 */
function describeParts(c: CaseResult): [name: string, text: string][] {
  const s = c.scenario!;
  const r = resolveScenario(s);
  const high = r.blocks.filter((b) => b.gpa >= 1n << 32n).reduce((a, b) => a + b.size, 0n);
  const low = r.guestBytes - high;
  const dma = s.dma.pattern === 'none' ? 'no DMA' : `DMA ${s.dma.pattern}`;
  const work =
    s.workload === 'boot'
      ? 'boot + shutdown'
      : s.workload === 'churn'
        ? `churn ${s.churn.ops} ops`
        : s.workload === 'map-test'
          ? `one MAP_DMA + UNMAP_DMA of the guest RAM`
          : s.workload === 'bar-map'
            ? `one MAP_DMA + UNMAP_DMA of a ${fmtSize(r.barBytes)} BAR`
            : `boot + churn ${s.churn.ops} ops + shutdown`;
  const boot = r.boot === null ? null : r.boot.changes.reduce((a, c) => [a[0]! + c.add.length, a[1]! + c.del.length], [0, 0]);
  const maps =
    s.workload === 'churn'
      ? 'RAM not mapped at boot (vIOMMU)'
      : s.workload === 'map-test' || s.workload === 'bar-map'
        ? 'one mapping at IOVA 4 GiB'
        : boot === null
          ? `${r.blocks.length} DMA mappings`
          : `SeaBIOS boot: ${boot[0]} maps, ${boot[1]} unmaps, ${r.boot!.final.length} DMA mappings after`;
  return [
    [
      'guest',
      s.workload === 'map-test' || s.workload === 'bar-map'
        ? `process RAM ${fmtSize(r.guestBytes)} (${maps})`
        : `guest ${fmtSize(r.guestBytes)} (${s.guest.machine}: ${fmtSize(low)} below 4G + ${fmtSize(high)} above, ${maps})`,
    ],
    ['host memory', `host ${fmtSize(r.hostBytes)}`],
    ['backing', s.host.backing],
    ['host age', r.hostAge !== 1 ? `host age ${r.hostAge}` : ''],
    ['populate', r.populate ? '' : 'not pre-populated'],
    ['machine', `machine ${r.machine}`],
    ['driver', s.driver === 'amd' ? 'AMD-Vi' : 'reference (VT-d-like)'],
    ['devices', `${s.devices} device${s.devices > 1 ? 's' : ''}/${s.groups} group${s.groups > 1 ? 's' : ''}`],
    ['DMA', s.workload === 'map-test' || s.workload === 'bar-map' ? '' : dma],
    ['workload', work],
    ['seed', `seed ${s.seed}`],
  ];
}

/** Joins parts as the header does: `host 68 GiB thp` is two parts, the rest are separated by commas. */
function joinParts(parts: readonly [string, string][]): string {
  const out: string[] = [];
  for (const [name, text] of parts) {
    if (text === '') continue;
    if (name === 'backing' && out.length > 0 && out[out.length - 1]!.startsWith('host ')) out[out.length - 1] += ` ${text}`;
    else out.push(name === 'backing' ? `${text} backing` : text);
  }
  return out.join(', ');
}

/** One line describing a case's scenario. */
export function describeScenario(c: CaseResult): string {
  if (c.scenario === null) return 'replayed stream';
  return joinParts(describeParts(c));
}

/**
 * What all cases share, for the header: the parts of the description every case has the same,
 * then `varies: ...` naming the others (the case columns show them).
 */
function common(cases: readonly CaseResult[]): string {
  if (cases.some((c) => c.scenario === null)) return 'replayed stream';
  const all = cases.map(describeParts);
  const same = all[0]!.filter(([name, text]) => all.every((p) => p.find(([n]) => n === name)![1] === text));
  const varies = all[0]!.filter(([name]) => !same.some(([n]) => n === name)).map(([name]) => name);
  return `${joinParts(same)}${varies.length > 0 ? `; varies: ${varies.join(', ')}` : ''}`;
}

export function renderTable(res: CommandResult, opts: { hints?: boolean } = {}): string {
  const out: string[] = [];
  const cases = res.cases;
  const title = res.sweep !== null ? `sweep ${res.sweep.flag} over ${res.sweep.values.join(', ')}` : res.command;
  out.push(`vfio-sim ${title}: ${common(cases)}`);
  if (res.sweep !== null || cases.length > 1) {
    const diffs = cases.map((c) => c.label);
    out.push(`cases: ${diffs.join(' | ')}`);
    for (const line of timelineLines(cases)) out.push(line);
  }
  out.push('');
  out.push(
    textTable(
      ['', ...cases.map((c) => c.label)],
      tableRows(cases).map(([name, f]) => [name, ...cases.map(f)]),
    ),
  );
  const v = cases.filter((c) => c.metrics.violations > 0);
  for (const c of v) {
    const s = c.violationSamples[0];
    if (s)
      out.push(
        `\n${c.label}: ${c.metrics.violations} safety violation(s); first: ${s.kind} pfn ${s.pfn} iova page ${s.iova} via ${s.via} in ${s.call}: ${s.detail}`,
      );
  }
  const e = cases.filter((c) => c.metrics.ioctlErrors > 0);
  for (const c of e) {
    const s = c.errorSamples[0]!;
    out.push(`\n${c.label}: ${c.metrics.ioctlErrors} ioctl(s) failed; first: ${s.ioctl} -> ${s.code}: ${s.message}`);
  }
  for (const c of cases) {
    const mm = c.mismatches ?? [];
    if (mm.length === 0) continue;
    out.push(
      `\n${c.label}: ${int(mm.length)} replayed ioctl(s) differ from the record${mm.length > MISMATCHES_SHOWN ? ` (first ${MISMATCHES_SHOWN}; --json lists all)` : ''}:`,
    );
    for (const x of mm.slice(0, MISMATCHES_SHOWN)) {
      out.push(
        `  line ${x.line}: ${x.ioctl} iova ${x.iova} size ${x.size}: recorded ${outcome(x.recorded, x.recorded)}, replayed ${outcome(x.replayed, x.recorded)}`,
      );
    }
  }
  for (const c of cases) {
    const f = c.dmaFaults ?? [];
    if (f.length === 0) continue;
    // which replayed DMA lines the IOMMU refused (the device stops at its first faulting page)
    const n = Math.max(c.metrics.ioPageFaults, f.length);
    out.push(
      `\n${c.label}: ${int(n)} replayed DMA(s) took an IO page fault${n > MISMATCHES_SHOWN ? ` (first ${MISMATCHES_SHOWN}; --json lists ${f.length < n ? `the first ${f.length}` : 'all'})` : ''}:`,
    );
    for (const x of f.slice(0, MISMATCHES_SHOWN)) {
      out.push(`  line ${x.line}: dma device ${x.device} ${x.dir} iova ${x.iova} pages ${x.pages}: ${x.event} at iova ${x.faultIova}`);
    }
  }
  const bottom = bottomLine(res);
  if (bottom.length > 0) out.push('', ...bottom);
  if (res.sweep !== null) out.push('', sweepAnswer(res));
  if (opts.hints) out.push('', hints(res));
  return out.join('\n');
}

const MISMATCHES_SHOWN = 5;

/** `head` then the words, comma-separated, over lines of at most `width`, continued under the first word. */
export function wrap(head: string, words: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let cur = head;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]! + (i < words.length - 1 ? ',' : '');
    if (cur.length > head.length && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = ' '.repeat(head.length) + w;
    } else cur += (cur.length > head.length ? ' ' : '') + w;
  }
  lines.push(cur);
  return lines;
}

/**
 * When the cases run different releases: per step between neighbouring releases, the timeline
 * entries (for the cases' driver) that make the columns differ; `vfio-sim timeline A B` has commits
 * (printed the way the user runs the CLI, see invocation.ts).
 */
function timelineLines(cases: readonly CaseResult[]): string[] {
  const scen = cases.map((c) => c.scenario).filter((s) => s !== null);
  if (scen.length !== cases.length) return [];
  const drivers = new Set(scen.map((s) => s.driver));
  const steps = releaseSteps(
    scen.map((s) => s.profile),
    drivers.size === 1 ? scen[0]!.driver : null,
  );
  if (steps.length === 0) return [];
  const lines = steps.flatMap((s) => wrap(`  ${s.from} -> ${s.to}: `, s.ids.length === 0 ? ['no entry'] : [...s.ids], 100));
  const first = steps[0]!.from,
    last = steps[steps.length - 1]!.to;
  return [`timeline entries between the releases (commits: ${command(`timeline ${first} ${last}`)}):`, ...lines];
}

/** `ret 0 sizeOut 0x3000` or `errno EINVAL`; sizeOut only when the record has one. */
function outcome(o: IoctlOutcome, recorded: IoctlOutcome): string {
  const parts = [o.errno !== null ? `errno ${o.errno}` : `ret ${o.ret}`];
  if (recorded.sizeOut !== null && o.sizeOut !== null) parts.push(`sizeOut ${o.sizeOut}`);
  return parts.join(' ');
}

/** What the sweep shows, in words: the trade-off between syncs, memory held pinned after unmap and time. */
export function sweepAnswer(res: CommandResult): string {
  const cs = res.cases;
  const minSync = Math.min(...cs.map((c) => c.metrics.iotlbSyncs));
  const w = Math.max(...cs.map((c) => c.label.length));
  const lines = [`trade-off (${res.sweep!.flag}):`];
  for (const c of cs) {
    const m = c.metrics;
    lines.push(
      `  ${c.label.padEnd(w)}  syncs ${int(m.iotlbSyncs).padStart(9)} (${minSync > 0 ? `${(m.iotlbSyncs / minSync).toFixed(1)}x` : '-'} min)`.padEnd(
        w + 35,
      ) +
        `  unmapped but pinned: up to ${bytes(m.peakPinnedAfterUnmapBytes).padStart(8)} for up to ${dur(m.pinnedAfterUnmapMaxNs).padStart(8)}` +
        `  shutdown ${dur(m.phaseNs.shutdown ?? 0).padStart(8)}`,
    );
  }
  const shut = cs.map((c) => c.metrics.phaseNs.shutdown ?? 0);
  const best = Math.min(...shut);
  const knee = shut.findIndex((t) => t <= best * 1.01);
  // the "answer" reads a batching cap: more batching, fewer syncs, more memory held pinned
  if (knee >= 0 && res.sweep!.option === 'vfio.tlbSyncMax') {
    const k = cs[knee]!;
    const more = cs
      .slice(knee + 1)
      .map((c) => `${c.label}: ${bytes(c.metrics.peakPinnedAfterUnmapBytes)} for up to ${dur(c.metrics.pinnedAfterUnmapMaxNs)}`);
    lines.push(
      `answer: from ${k.label} on, shutdown is within 1% of the fastest (${dur(best)}; ${k.label}: ${dur(shut[knee]!)}, ${int(k.metrics.iotlbSyncs)} syncs)` +
        (more.length > 0 ? `; larger values only keep more memory pinned after its unmap (${more.join('; ')}).` : '.'),
    );
  }
  return lines.join('\n');
}

function hints(res: CommandResult): string {
  const c = res.cases.find((x) => x.label === 'v4.17') ?? res.cases[0]!;
  const guest = parseSize(c.scenario === null ? '64G' : c.scenario.guest.memory, '--guest');
  const g = (b: bigint): string => fmtSize(b).replace(/ (.)iB$/, '$1');
  const rows: [string, string][] = [
    [command('sweep --tlb-sync-max 1,8,64,512,4096'), 'is 512 regions per sync a good cap?'],
    [command('compare --profile v4.17 --backing 4k,thp,hugetlb-1g'), 'what the host backing does to regions per unmap'],
    [command(`sweep --guest ${g(guest / 4n)},${g(guest)},${g(guest * 4n)}`), 'how it scales with memory above 4 GiB'],
    [command('compare --workload churn'), 'vIOMMU/DPDK-like: many small map/unmap calls'],
    [command('sweep --firmware seabios,none'), "what the SeaBIOS boot's re-mapping of low RAM costs"],
    [command('run --trace t.json --html r.html'), 'open t.json in ui.perfetto.dev, r.html in a browser'],
    [command('--help'), 'every command and option'],
  ];
  const w = Math.max(...rows.map(([a]) => a.length));
  return ['What to try next:', ...rows.map(([a, b]) => `  ${a.padEnd(w)}  # ${b}`)].join('\n');
}
