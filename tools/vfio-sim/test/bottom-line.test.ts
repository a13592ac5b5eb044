// compare's bottom line: the cheapest case in modeled total time and, against the next cheapest, the
// two events of timeNs that make most of the difference, with their shares. A sweep keeps its
// trade-off lines instead; one case has no bottom line.

import { describe, expect, it } from 'vitest';
import type { CaseResult, CommandResult } from '../src/engine/result.js';
import { bottomLine, costDiff } from '../src/report/bottom-line.js';
import { dur } from '../src/report/format.js';
import { inProcess } from './helpers.js';

/** A case with just what the bottom line reads. */
const kase = (label: string, timeNs: Record<string, number>): CaseResult =>
  ({
    label,
    timeNs,
    metrics: { modeledNs: Object.values(timeNs).reduce((a, b) => a + b, 0) },
  }) as unknown as CaseResult;
const result = (cases: CaseResult[], sweep: CommandResult['sweep'] = null): CommandResult => ({
  schema: 'vfio-sim/result@2',
  command: 'compare',
  cases,
  sweep,
});

describe('bottom line', () => {
  it('test_bottom_line_picks_cheapest_and_next', () => {
    const a = kase('a', { pins: 1e6, completionWaits: 4e6, invalidations: 1e6, unmapCalls: 2e5 });
    const b = kase('b', { pins: 1e6, completionWaits: 1e6, invalidations: 0.5e6, unmapCalls: 1e5 });
    const c = kase('c', { pins: 1e6, completionWaits: 9e6 });
    // b (2.6 ms) is cheapest, a (6.2 ms) next: +3 ms waits, +0.5 ms invalidations, +0.1 ms iommu_unmap
    expect(costDiff(b, a)).toEqual([
      ['completionWaits', 3e6],
      ['invalidations', 0.5e6],
      ['unmapCalls', 1e5],
    ]);
    expect(bottomLine(result([a, b, c]))).toEqual([
      'bottom line: b is cheapest (modeled total 2.60 ms); next is a, 3.60 ms (138.5%) more.',
      '  most of the difference: completionWaits +3.00 ms (83%), invalidations +500.0 us (14%)',
    ]);
  });

  it('test_bottom_line_signs_and_labels', () => {
    // the next case saves on one event and pays more on another; unmapCalls is named as iommu_unmap calls
    const a = kase('a', { unmapCalls: 1e6, pins: 1e5 });
    const b = kase('b', { unmapCalls: 3e6, pins: 0 });
    expect(bottomLine(result([a, b]))[1]).toBe(
      '  most of the difference: unmapCalls (iommu_unmap calls) +2.00 ms (105%), pins -100.0 us (-5%)',
    );
  });

  it('test_bottom_line_small_shares_and_equal_differences', () => {
    // 0.5 ms more on 1 s: under a tenth of a percent; one event only: one item, all of it
    const a = kase('a', { pins: 1e9 });
    const b = kase('b', { pins: 1e9 + 5e5 });
    expect(bottomLine(result([b, a]))).toEqual([
      'bottom line: a is cheapest (modeled total 1.00 s); next is b, 500.0 us (<0.1%) more.',
      '  most of the difference: pins +500.0 us (100%)',
    ]);
    // exactly a tenth of a percent is printed as such
    expect(bottomLine(result([a, kase('c', { pins: 1e9 + 1e6 })]))[0]).toContain('1.00 ms (0.1%) more.');
    // differences of the same size: by name, whatever their sign or the order of the keys
    const x = kase('x', { pins: 3000, invalidations: 1000, completionWaits: 2000 });
    const y = kase('y', { completionWaits: 1000, pins: 2000, invalidations: 3000 });
    expect(costDiff(x, y)).toEqual([
      ['invalidations', 2000],
      ['completionWaits', -1000],
      ['pins', -1000],
    ]);
    // an event only one case has, named like an Object.prototype property: the other's is 0
    expect(costDiff(kase('p', { constructor: 5, pins: 1 }), kase('q', { pins: 1 }))).toEqual([['constructor', -5]]);
    expect(costDiff(kase('q', { pins: 1 }), kase('p', { toString: 5, pins: 1 }))).toEqual([['toString', 5]]);
    expect(costDiff(y, x)).toEqual([
      ['invalidations', -2000],
      ['completionWaits', 1000],
      ['pins', 1000],
    ]);
  });

  it('test_bottom_line_ties_sweeps_and_single_cases', () => {
    const a = kase('a', { pins: 5 }),
      b = kase('b', { pins: 5 });
    expect(bottomLine(result([a, b]))).toEqual(['bottom line: a and b take the same modeled total time (5 ns), the cheapest.']);
    expect(bottomLine(result([a]))).toEqual([]);
    expect(bottomLine(result([a, kase('c', { pins: 9 })], { option: 'vfio.tlbSyncMax', flag: '--tlb-sync-max', values: [1, 2] }))).toEqual(
      [],
    );
  });

  it('test_compare_ends_with_bottom_line', async () => {
    const args = ['compare', '--guest', '2G', '--dma', 'none', '--firmware', 'none', '--serial'];
    const [t, j] = [await inProcess(args), await inProcess([...args, '--json'])];
    const res = JSON.parse(j.stdout) as CommandResult;
    const byTotal = [...res.cases].sort((x, y) => x.metrics.modeledNs - y.metrics.modeledNs);
    const [best, next] = byTotal as [CaseResult, CaseResult];
    const lines = t.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('bottom line: '));
    expect(at).toBeGreaterThan(0);
    expect(lines[at - 1]).toBe('');
    expect(lines[at]).toContain(
      `bottom line: ${best.label} is cheapest (modeled total ${dur(best.metrics.modeledNs)}); next is ${next.label}, ${dur(next.metrics.modeledNs - best.metrics.modeledNs)} (`,
    );
    // the two events named are the two largest differences of the JSON's timeNs
    const [[e1, d1], [e2, d2]] = costDiff(best, next) as [[string, number], [string, number]];
    expect(Math.abs(d1)).toBeGreaterThanOrEqual(Math.abs(d2));
    expect(lines[at + 1]).toMatch(new RegExp(`^  most of the difference: ${e1}\\b.*\\(\\d+%\\), ${e2}\\b.*\\(\\d+%\\)$`));
    // then the hints, as before
    expect(lines[at + 3]).toBe('What to try next:');
  });

  it('test_sweep_keeps_trade_off_and_run_has_none', async () => {
    const s = await inProcess(['sweep', '--guest', '1G', '--dma', 'none', '--tlb-sync-max', '1,512', '--serial']);
    expect(s.stdout).not.toContain('bottom line:');
    expect(s.stdout).toContain('\ntrade-off (--tlb-sync-max):\n');
    const r = await inProcess(['run', '--guest', '1G', '--dma', 'none']);
    expect(r.stdout).not.toContain('bottom line:');
  });
});
