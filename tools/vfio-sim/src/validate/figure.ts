// How a validation case reads in the table and the page: its figures with their units, and the
// machine its command runs on.

import type { CaseOutcome } from './run.js';

/** A figure as the table shows it: ms and s with a few significant digits, percentages signed. */
export function fmtFigure(v: number, unit: CaseOutcome['unit']): string {
  if (unit === '%') return `${v > 0 ? '+' : ''}${v.toFixed(1)}%`;
  if (unit === 'regions' || unit === 'bytes') return `${Math.round(v)} ${unit === 'bytes' ? 'B' : ''}`.trim();
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return `${v.toFixed(digits)} ${unit}`;
}

/** The machine a case's command runs on (its --machine, or the default). */
export function machineOf(o: CaseOutcome): string {
  const m = /--machine (\S+)/.exec(o.command);
  return m === null ? 'default' : m[1]!;
}
