// Number formatting shared by the table and HTML reports.

import { fmtSize } from '../scenario/size.js';

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Modeled nanoseconds as a human duration: 812 ns, 3.41 us, 12.3 ms, 1.52 s. */
export function dur(ns: number): string {
  // The unit and the digits follow the printed (rounded) value, not the raw one: 999.7 ns is
  // '1.00 us', not '1000 ns', and 9999 ns is '10.0 us', not '10.00 us'.
  const last = DUR_UNITS.length - 1;
  for (let i = 0; i < last; i++) {
    const [d, unit] = DUR_UNITS[i]!;
    let text = (ns / d).toFixed(i === 0 ? 0 : 2);
    if (i > 0 && Math.abs(+text) >= 10) text = (ns / d).toFixed(1);
    if (Math.abs(+text) < 1000) return `${text} ${unit}`;
  }
  const [d, unit] = DUR_UNITS[last]!;
  return `${(ns / d).toFixed(2)} ${unit}`;
}
const DUR_UNITS: readonly (readonly [number, string])[] = [
  [1, 'ns'],
  [1e3, 'us'],
  [1e6, 'ms'],
  [1e9, 's'],
];

/** Nanoseconds as a short axis label with its unit: 0, 500 ns, 2.5 us, 120 ms, 1.5 s. */
export function durTick(ns: number): string {
  if (ns === 0) return '0';
  const a = Math.abs(ns);
  const [d, u] = a < 1e3 ? [1, 'ns'] : a < 1e6 ? [1e3, 'us'] : a < 1e9 ? [1e6, 'ms'] : [1e9, 's'];
  return `${+(ns / d).toPrecision(3)} ${u}`;
}

export const bytes = (n: number): string => (n === 0 ? '0' : fmtSize(BigInt(Math.round(n))));

/** Cost events whose name alone reads as something else: the core's unmapCalls are not VFIO's unmap calls. */
const EVENT_LABELS: ReadonlyMap<string, string> = new Map([
  ['mapCalls', 'mapCalls (iommu_map calls)'],
  ['unmapCalls', 'unmapCalls (iommu_unmap calls)'],
]);

/**
 * A cost event as the reports name it: the event, with what it counts where the name could mislead.
 * A Map, not an object: a name like 'toString' must not find Object.prototype's.
 */
export const eventLabel = (event: string): string => EVENT_LABELS.get(event) ?? event;

/** Plain-text table with a header row; the first column (and any in `left`) left-aligned, the rest right-aligned. */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[], left: readonly number[] = []): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 || left.includes(i) ? c.padEnd(w[i]!) : c.padStart(w[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}
