// --html FILE: one self-contained page (inline CSS and SVG, no script, no network) with the plots a
// reviewer asks for (regions per vfio_unmap_unpin call, syncs and modeled time per case, the sweep curve)
// and the same tables as the text output.

import { ownValue, phaseTime, type CaseResult, type CommandResult } from '../engine/result.js';
import { bytes, dur, durTick, eventLabel, int } from './format.js';
import { barChart, esc, lineChart } from './svg.js';
import { describeScenario, phasesOf, sweepAnswer, tableRows } from './table.js';
import { bottomLine } from './bottom-line.js';

/**
 * What a swept numeric option counts, for the x axis title of the sweep's curves. A Map: a saved
 * result's flag is any string (`report FILE`), and 'toString' must not find Object.prototype's.
 */
const SWEEP_UNITS: ReadonlyMap<string, string> = new Map([
  ['--tlb-sync-max', 'regions per IOTLB sync'],
  ['--devices', 'devices'],
  ['--groups', 'groups'],
  ['--dma-bursts', 'bursts'],
  ['--dma-pages', '4 KiB pages per burst'],
  ['--churn-ops', 'map calls'],
  ['--churn-max-pages', '4 KiB pages'],
  ['--churn-live', 'live mappings'],
  ['--dma-entry-limit', 'mappings'],
  ['--iotlb-entries', 'entries'],
  ['--host-age', '0 fresh .. 1 fragmented'],
]);

/** The title of a sweep's x axis: the flag and what its values count. */
function sweepAxis(flag: string, log: boolean): string {
  return `${flag} (${SWEEP_UNITS.get(flag) ?? 'swept value'}${log ? ', log scale' : ''})`;
}

/** log2 bins for regions per vfio_unmap_unpin() call: 1, 2-3, 4-7, ... */
function binsOf(cases: readonly CaseResult[]): { labels: string[]; series: { name: string; values: number[] }[] } {
  const max = Math.max(1, ...cases.map((c) => c.metrics.regionsPerCall.max));
  const nb = Math.floor(Math.log2(max)) + 1;
  const labels = Array.from({ length: nb }, (_, b) => (b < 10 ? String(2 ** b) : b < 20 ? `${2 ** (b - 10)}k` : `${2 ** (b - 20)}M`));
  const series = cases.map((c) => {
    const v = new Array<number>(nb).fill(0);
    for (const [r, n] of c.metrics.regionsPerCall.histogram) if (r > 0) v[Math.floor(Math.log2(r))]! += n;
    return { name: c.label, values: v };
  });
  return { labels, series };
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function renderHtml(res: CommandResult, title = 'vfio-sim report'): string {
  const cases = res.cases;
  const labels = cases.map((c) => c.label);
  // bar categories: a sweep's values are shorter than its labels and say the same
  const cats = res.sweep !== null ? res.sweep.values.map(String) : labels;
  const figs: string[] = [];
  // the x axis of the per-case bars: the cases, or the swept option's values
  const caseAxis = res.sweep !== null ? sweepAxis(res.sweep.flag, false) : 'case';
  const h = binsOf(cases);
  const hmax = Math.max(1, ...h.series.flatMap((x) => x.values));
  const hlog = hmax >= 100;
  figs.push(
    barChart({
      title: 'Regions per vfio_unmap_unpin call (histogram)',
      categories: h.labels,
      series: h.series,
      yLabel: `vfio_unmap_unpin calls (count${hlog ? ', log scale' : ''})`,
      xLabel: 'regions per vfio_unmap_unpin call (log2 bins, labelled by the first value of each)',
      log: hlog,
      integer: true,
      value: int,
      width: 760,
    }),
  );
  figs.push(
    barChart({
      title: 'IOTLB syncs, invalidations, completion waits',
      categories: cats,
      xLabel: caseAxis,
      yLabel: 'count (log scale)',
      log: true,
      value: int,
      series: [
        { name: 'IOTLB syncs', values: cases.map((c) => c.metrics.iotlbSyncs) },
        { name: 'invalidation cmds', values: cases.map((c) => c.metrics.invalidations) },
        { name: 'completion waits', values: cases.map((c) => c.metrics.completionWaits) },
      ],
    }),
  );
  const phases = phasesOf(cases);
  figs.push(
    barChart({
      title: 'Modeled time per phase',
      categories: cats,
      xLabel: caseAxis,
      yLabel: 'modeled time',
      tick: durTick,
      series: phases.map((p) => ({ name: p, values: cases.map((c) => phaseTime(c.metrics, p)) })),
    }),
  );
  if (res.sweep?.values.every((v) => typeof v === 'number')) {
    const x = res.sweep.values as number[];
    const logX = Math.min(...x) > 0 && Math.max(...x) / Math.min(...x) >= 16;
    const xLabel = sweepAxis(res.sweep.flag, logX);
    figs.push(
      lineChart({
        title: `IOTLB syncs vs ${res.sweep.flag}`,
        x,
        xLabel,
        yLabel: 'IOTLB syncs (count, log scale)',
        logX,
        logY: true,
        series: [{ name: 'IOTLB syncs', values: cases.map((c) => c.metrics.iotlbSyncs) }],
      }),
    );
    figs.push(
      lineChart({
        title: `Memory unmapped but still pinned vs ${res.sweep.flag}`,
        x,
        xLabel,
        yLabel: 'memory (bytes, log scale)',
        logX,
        logY: true,
        yRadix: 1024,
        fmt: (v) => bytes(v),
        series: [
          { name: 'peak unmapped+pinned', values: cases.map((c) => c.metrics.peakPinnedAfterUnmapBytes) },
          { name: 'peak queued list (40 B/region)', values: cases.map((c) => c.metrics.peakQueuedBytes) },
        ],
      }),
    );
    figs.push(
      lineChart({
        title: `Time pages stay pinned after unmap vs ${res.sweep.flag}`,
        x,
        xLabel,
        yLabel: 'modeled time (log scale)',
        logX,
        logY: true,
        fmt: durTick,
        series: [
          { name: 'max', values: cases.map((c) => c.metrics.pinnedAfterUnmapMaxNs) },
          { name: 'mean', values: cases.map((c) => c.metrics.pinnedAfterUnmapMeanNs) },
        ],
      }),
    );
    figs.push(
      lineChart({
        title: `Modeled shutdown time vs ${res.sweep.flag}`,
        x,
        xLabel,
        yLabel: 'modeled time',
        logX,
        fmt: durTick,
        series: [{ name: 'shutdown', values: cases.map((c) => c.metrics.phaseNs.shutdown ?? 0) }],
      }),
    );
  }
  const main = table(
    ['', ...labels],
    tableRows(cases).map(([n, f]) => [n, ...cases.map(f)]),
  );
  // where the modeled time went: the biggest cost buckets of each case
  const events = [...new Set(cases.flatMap((c) => Object.keys(c.timeNs)))]
    .map((e) => [e, Math.max(...cases.map((c) => ownValue(c.timeNs, e)))] as const)
    .filter(([, t]) => t > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([e]) => e);
  const costs = table(
    ['event (count / modeled time)', ...labels],
    events.map((e) => [eventLabel(e), ...cases.map((c) => `${int(ownValue(c.counters, e))} / ${dur(ownValue(c.timeNs, e))}`)]),
  );
  const sweep = res.sweep !== null ? `<h2>Sweep</h2><pre>${esc(sweepAnswer(res))}</pre>` : '';
  const bottom = bottomLine(res);
  const bottomHtml = bottom.length > 0 ? `<pre>${esc(bottom.join('\n'))}</pre>` : '';
  const scen = cases.map((c) => `<li><b>${esc(c.label)}</b>: ${esc(describeScenario(c))}</li>`).join('');
  const viol = cases
    .filter((c) => c.metrics.violations > 0)
    .map(
      (c) => `<li><b>${esc(c.label)}</b>: ${c.metrics.violations} violation(s), first: ${esc(JSON.stringify(c.violationSamples[0]))}</li>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.figs{display:flex;flex-wrap:wrap;gap:12px}.figs svg{background:#fafafa;border:1px solid #e3e3e3;border-radius:4px}
svg .t{font:600 13px system-ui,sans-serif}svg .a{font:11px system-ui,sans-serif;fill:#444}svg .ax,svg .ay{font-weight:600}svg .g{stroke:#e6e6e6}svg .x{stroke:#888}
svg .v{font:10px system-ui,sans-serif;fill:#333}svg .v.in{fill:#fff}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}th,td{border:1px solid #ddd;padding:3px 8px}td{text-align:right}
thead th{background:#f0f0f0}tbody th{text-align:left;font-weight:normal;background:#fbfbfb}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}
.muted{color:#666}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="muted">vfio-sim ${esc(res.command)}${res.sweep !== null ? ` over ${esc(res.sweep.flag)}` : ''}: modeled numbers from the VFIO type1 / IOMMU core / AMD-Vi model; times are modeled, not measured.</p>
<ul>${scen}</ul>
<h2>Plots</h2><div class="figs">${figs.join('\n')}</div>
<h2>Numbers</h2>${main}
${bottomHtml}${sweep}
<h2>Where the modeled time went</h2>${costs}
${viol !== '' ? `<h2>Safety violations</h2><ul>${viol}</ul>` : '<p>No safety violations.</p>'}
</body></html>
`;
}
