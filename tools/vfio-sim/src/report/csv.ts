// --csv: the numbers of a result in long format, one per row (`case,metric,value`), for a spreadsheet
// or a script: every metric of the table and of --json's `metrics`, then every counter and every
// modeled-time bucket. RFC 4180 quoting (a field with a comma, quote or line break goes in double
// quotes, its quotes doubled); lines end in "\n" (the RFC says CRLF; CSV readers take both).

import type { CaseResult, CommandResult } from '../engine/result.js';
import { phasesOf, setupNs } from './table.js';

const CSV_HEADER = 'case,metric,value';

/** One CSV field: as it is, or quoted when it holds a comma, a double quote or a line break. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A case's numbers as [metric, value] rows. A metric is the value's path in the --json case
 * (`metrics.iotlbSyncs`, `metrics.regionsPerCall.max`, `metrics.phaseNs.boot`, `counters.pins`,
 * `timeNs.pins`), in the JSON's order, with two exceptions: the regions histogram is left out
 * (--json has it), and `metrics.setupNs`, the table's `modeled time: setup` row, is not in the JSON
 * (modeledNs minus the phases). Values are the JSON's numbers, unrounded: counts, bytes, nanoseconds.
 */
function csvRows(c: CaseResult): [metric: string, value: number][] {
  const rows: [string, number][] = [];
  for (const [k, v] of Object.entries(c.metrics)) {
    if (typeof v === 'number') rows.push([`metrics.${k}`, v]);
    else if (k === 'regionsPerCall') {
      const r = c.metrics.regionsPerCall;
      rows.push(
        ['metrics.regionsPerCall.min', r.min],
        ['metrics.regionsPerCall.median', r.median],
        ['metrics.regionsPerCall.max', r.max],
        ['metrics.regionsPerCall.mean', r.mean],
      );
    } else if (k === 'phaseNs') {
      rows.push(['metrics.setupNs', setupNs(c)]);
      for (const p of phasesOf([c])) rows.push([`metrics.phaseNs.${p}`, c.metrics.phaseNs[p]!]);
    }
  }
  for (const [e, n] of Object.entries(c.counters)) rows.push([`counters.${e}`, n]);
  for (const [e, ns] of Object.entries(c.timeNs)) rows.push([`timeNs.${e}`, ns]);
  return rows;
}

/** The header, then every case's rows in case order; ends with a line break. */
export function renderCsv(res: CommandResult): string {
  const lines = [CSV_HEADER];
  for (const c of res.cases) {
    const label = csvField(c.label);
    for (const [m, v] of csvRows(c)) lines.push(`${label},${csvField(m)},${String(v)}`);
  }
  return `${lines.join('\n')}\n`;
}
