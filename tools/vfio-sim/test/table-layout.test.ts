// The table's frame around its rows, on made results: a `cases:` line only for several cases or a
// sweep, the timeline entries between the releases wrapped at 100 columns (greedy: every line as
// full as the next entry allows, continued under the first entry), and the blank line before the
// bottom line, the sweep's trade-off and the hints.

import { describe, expect, it } from 'vitest';
import type { CaseResult, CommandResult } from '../src/engine/result.js';
import { releaseSteps } from '../src/engine/timeline.js';
import { renderTable, sweepAnswer, wrap } from '../src/report/table.js';
import { defaultScenario, type Profile } from '../src/scenario/scenario.js';
import { metricsOf } from './made-result.js';

function kase(label: string, profile: Profile = 'mainline', modeledNs = 1000): CaseResult {
  const s = defaultScenario();
  s.guest = { ...s.guest, memory: '1G', firmware: 'none' };
  s.profile = profile;
  return {
    label,
    scenario: s,
    layout: [],
    metrics: metricsOf({ modeledNs, iotlbSyncs: 10, phaseNs: {} }),
    counters: {},
    timeNs: { pins: modeledNs },
    commands: null,
    vfioStats: {},
    violationSamples: [],
    errorSamples: [],
    mismatches: null,
    dmaFaults: null,
  } as CaseResult;
}
const result = (command: CommandResult['command'], cases: CaseResult[], sweep: CommandResult['sweep'] = null): CommandResult => ({
  schema: 'vfio-sim/result@2',
  command,
  cases,
  sweep,
});

describe('table frame', () => {
  it('test_cases_line_only_for_several_cases_or_a_sweep', () => {
    expect(renderTable(result('run', [kase('mainline')])).split('\n')[1]).toBe('');
    expect(renderTable(result('compare', [kase('a'), kase('b')])).split('\n')[1]).toBe('cases: a | b');
    const sweep = result('sweep', [kase('x=1'), kase('x=2')], { option: 'vfio.tlbSyncMax', flag: '--tlb-sync-max', values: [1, 2] });
    const out = renderTable(sweep);
    expect(out.split('\n').slice(0, 2)).toEqual([expect.stringMatching(/^vfio-sim sweep --tlb-sync-max over 1, 2: /), 'cases: x=1 | x=2']);
    // the trade-off after a blank line, and no bottom line for a sweep
    expect(out.endsWith(`\n\n${sweepAnswer(sweep)}`)).toBe(true);
    expect(out).not.toContain('bottom line');
  });

  it('test_blank_lines_before_the_bottom_line_and_the_hints', () => {
    const res = result('compare', [kase('a', 'mainline', 1000), kase('b', 'mainline', 2000)]);
    const lines = renderTable(res, { hints: true }).split('\n');
    const bottom = lines.findIndex((l) => l.startsWith('bottom line: '));
    expect(lines[bottom - 1]).toBe('');
    const hints = lines.indexOf('What to try next:');
    expect(hints).toBeGreaterThan(bottom);
    expect(lines[hints - 1]).toBe('');
    expect(renderTable(res).split('\n')).not.toContain('What to try next:');
  });

  it('test_timeline_entries_wrapped_at_100_columns', () => {
    const lines = renderTable(result('compare', [kase('old', 'v4.16'), kase('new', 'mainline')])).split('\n');
    const at = lines.findIndex((l) => l.startsWith('timeline entries between the releases (commits: '));
    expect(at).toBe(2);
    expect(lines[at]).toMatch(/timeline v4\.16 mainline\):$/);
    const head = '  v4.16 -> mainline: ';
    const block = lines.slice(at + 1, lines.indexOf('', at));
    expect(block[0]!.startsWith(head)).toBe(true);
    for (const l of block.slice(1)) expect(l.startsWith(' '.repeat(head.length)) && l[head.length] !== ' ').toBe(true);
    // the entries in order, each once, comma-separated
    const ids = releaseSteps(['v4.16', 'mainline'], 'amd')[0]!.ids;
    expect(ids.length).toBeGreaterThan(15);
    const words = block.flatMap((l) => l.slice(head.length).split(' '));
    expect(words).toEqual(ids.map((id, i) => (i < ids.length - 1 ? `${id},` : id)));
    // no line past 100 columns, and none that had room for the next entry
    for (let i = 0; i < block.length; i++) {
      expect(block[i]!.length).toBeLessThanOrEqual(100);
      if (i + 1 < block.length) expect(block[i]!.length + 1 + block[i + 1]!.slice(head.length).split(' ')[0]!.length).toBeGreaterThan(100);
    }
    expect(block.length).toBeGreaterThan(2);
    // releases with no entry between them: no timeline lines
    expect(renderTable(result('compare', [kase('a', 'v4.17'), kase('b', 'v4.18')])).split('\n')[2]).toBe('');
  });

  it('test_wrap_at_the_edges', () => {
    // 'h: ' then words of 4 ('abc,'), width 15: 'h: abc, abc,' is 12, one more word makes 17
    expect(wrap('h: ', ['abc', 'abc', 'abc', 'abc'], 15)).toEqual(['h: abc, abc,', '   abc, abc']);
    // a line may be exactly the width: 'h: abc, abcde,' is 14 = width
    expect(wrap('h: ', ['abc', 'abcde', 'x'], 14)).toEqual(['h: abc, abcde,', '   x']);
    // one past the width wraps
    expect(wrap('h: ', ['abc', 'abcdef', 'x'], 14)).toEqual(['h: abc,', '   abcdef, x']);
    // a first word longer than the line stays on the head's line (never a line with the head alone)
    expect(wrap('h: ', ['abcdefghijklmnop', 'q'], 10)).toEqual(['h: abcdefghijklmnop,', '   q']);
    expect(wrap('h: ', [], 10)).toEqual(['h: ']);
  });
});
