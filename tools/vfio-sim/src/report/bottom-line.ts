// The bottom line under a comparison's table: which case is cheapest in modeled total time and,
// against the next cheapest, the two cost lines (events of the case's timeNs, the modeled time each
// event took) that make most of the difference, each with its share of it. A sweep has its
// trade-off lines instead (table.ts sweepAnswer).

import { ownValue, type CaseResult, type CommandResult } from '../engine/result.js';
import { dur, eventLabel } from './format.js';

/** Per event, `b`'s modeled time minus `a`'s (ns), largest difference first (by size; ties by name). */
export function costDiff(a: CaseResult, b: CaseResult): [event: string, ns: number][] {
  const events = new Set([...Object.keys(a.timeNs), ...Object.keys(b.timeNs)]);
  return [...events]
    .map((e): [string, number] => [e, ownValue(b.timeNs, e) - ownValue(a.timeNs, e)])
    .filter(([, d]) => d !== 0)
    .sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]) || (x[0] < y[0] ? -1 : 1));
}

const signed = (ns: number): string => `${ns < 0 ? '-' : '+'}${dur(Math.abs(ns))}`;

/**
 * Two lines for a result of two or more cases that is not a sweep, else none:
 *   bottom line: v4.17 is cheapest (modeled total 3.80 s); next is v4.16, 58.7 ms (1.5%) more.
 *     most of the difference: completionWaits +48.3 ms (82%), invalidations +12.1 ms (21%)
 * Shares are of the whole difference; events that went the other way can make the two add past 100%.
 */
export function bottomLine(res: CommandResult): string[] {
  if (res.sweep !== null || res.cases.length < 2) return [];
  // stable sort: equal totals keep the table's order
  const byTotal = [...res.cases].sort((x, y) => x.metrics.modeledNs - y.metrics.modeledNs);
  const [best, next] = [byTotal[0]!, byTotal[1]!];
  const total = next.metrics.modeledNs - best.metrics.modeledNs;
  if (total === 0) {
    return [
      `bottom line: ${best.label} and ${next.label} take the same modeled total time (${dur(best.metrics.modeledNs)}), the cheapest.`,
    ];
  }
  const pct = (100 * total) / best.metrics.modeledNs;
  const head =
    `bottom line: ${best.label} is cheapest (modeled total ${dur(best.metrics.modeledNs)}); next is ${next.label}, ` +
    `${dur(total)} (${pct < 0.1 ? '<0.1' : pct.toFixed(1)}%) more.`;
  const top = costDiff(best, next)
    .slice(0, 2)
    .map(([e, d]) => `${eventLabel(e)} ${signed(d)} (${Math.round((100 * d) / total)}%)`);
  return [head, `  most of the difference: ${top.join(', ')}`];
}
