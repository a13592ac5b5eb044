// The table's frame around its rows, on made results: a `cases:` line only for several cases or a
// sweep, the timeline entries between the releases wrapped at 100 columns (greedy: every line as
// full as the next entry allows, continued under the first entry), and the blank line before the
// bottom line, the sweep's trade-off and the hints.

import { describe, expect, it } from 'vitest';
import type { CaseResult, CommandResult, Metrics } from '../src/engine/result.js';
import { releaseSteps } from '../src/engine/timeline.js';
import { bytes, dur } from '../src/report/format.js';
import { command } from '../src/invocation.js';
import { renderTable, sweepAnswer, wrap } from '../src/report/table.js';
import type { Profile } from '../src/scenario/scenario.js';
import { madeCase, metricsOf } from './made-result.js';

function kase(label: string, profile: Profile = 'mainline', modeledNs = 1000): CaseResult {
  return madeCase(label, metricsOf({ modeledNs, iotlbSyncs: 10, phaseNs: {} }), { timeNs: { pins: modeledNs } }, (s) => {
    s.profile = profile;
  });
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

  it('test_sweep_answer_lines_and_its_knee', () => {
    const at = (label: string, m: Partial<Metrics>): CaseResult => ({ ...kase(label), metrics: metricsOf(m) }) as CaseResult;
    const cases = [
      at('a=1', { iotlbSyncs: 1000, peakPinnedAfterUnmapBytes: 4096, pinnedAfterUnmapMaxNs: 1000, phaseNs: { shutdown: 5_000_000 } }),
      at('a=16', { iotlbSyncs: 100, peakPinnedAfterUnmapBytes: 65536, pinnedAfterUnmapMaxNs: 2000, phaseNs: { shutdown: 1_010_000 } }),
      at('a=512', { iotlbSyncs: 10, peakPinnedAfterUnmapBytes: 1 << 21, pinnedAfterUnmapMaxNs: 3000, phaseNs: { shutdown: 1_000_000 } }),
    ];
    const sweep = (option: string, cs = cases) =>
      sweepAnswer(result('sweep', cs, { option, flag: '--x', values: cs.map((_, i) => i) })).split('\n');
    // label padded to the longest (5), syncs right-aligned in 9 with their ratio to the fewest, the
    // first part padded to 40 (5 + 35), then memory, its longest wait and the shutdown time
    const line = (label: string, syncs: string, ratio: string, mem: string, max: string, shut: string) =>
      `  ${label.padEnd(5)}  syncs ${syncs.padStart(9)} (${ratio} min)`.padEnd(40) +
      `  unmapped but pinned: up to ${mem.padStart(8)} for up to ${max.padStart(8)}  shutdown ${shut.padStart(8)}`;
    const rows = [
      line('a=1', '1,000', '100.0x', '4 KiB', '1.00 us', '5.00 ms'),
      line('a=16', '100', '10.0x', '64 KiB', '2.00 us', '1.01 ms'),
      line('a=512', '10', '1.0x', '2 MiB', '3.00 us', '1.00 ms'),
    ];
    expect([bytes(4096), dur(1_010_000)]).toEqual(['4 KiB', '1.01 ms']);
    // the knee: the first within 1% of the fastest shutdown (1.01 ms is exactly 1% over 1.00 ms)
    expect(sweep('vfio.tlbSyncMax')).toEqual([
      'trade-off (--x):',
      ...rows,
      'answer: from a=16 on, shutdown is within 1% of the fastest (1.00 ms; a=16: 1.01 ms, 100 syncs); larger values only keep more memory pinned after its unmap (a=512: 2 MiB for up to 3.00 us).',
    ]);
    // another option: the lines, no answer (the answer reads a batching cap)
    expect(sweep('guest.memory')).toEqual(['trade-off (--x):', ...rows]);
    // the knee at the last value: nothing larger to name
    expect(sweep('vfio.tlbSyncMax', cases.slice(0, 2)).at(-1)).toBe(
      'answer: from a=16 on, shutdown is within 1% of the fastest (1.01 ms; a=16: 1.01 ms, 100 syncs).',
    );
    // the knee at the first value: every larger one named, separated by '; '
    const first = [1_000_000, 2_000_000, 3_000_000].map((t, i) =>
      at(`a=${i}`, { iotlbSyncs: 10, peakPinnedAfterUnmapBytes: 4096 << i, pinnedAfterUnmapMaxNs: 1000, phaseNs: { shutdown: t } }),
    );
    expect(sweep('vfio.tlbSyncMax', first).at(-1)).toBe(
      'answer: from a=0 on, shutdown is within 1% of the fastest (1.00 ms; a=0: 1.00 ms, 10 syncs); larger values only keep more memory pinned after its unmap (a=1: 8 KiB for up to 1.00 us; a=2: 16 KiB for up to 1.00 us).',
    );
    // a case with no sync: no ratio
    const none = sweep('guest.memory', [at('a=1', { iotlbSyncs: 0 }), at('a=2', { iotlbSyncs: 5 })]);
    // labels of 3: padded to 3
    expect(none[1]!.slice(0, 40).trimEnd()).toBe('  a=1  syncs         0 (- min)');
    expect(none[2]!.slice(0, 40).trimEnd()).toBe('  a=2  syncs         5 (- min)');
  });

  it('test_hints_scale_the_guest_of_v4_17_or_the_first_case', () => {
    const guest = (label: string, memory: string): CaseResult => {
      const c = kase(label);
      return { ...c, scenario: { ...c.scenario!, guest: { ...c.scenario!.guest, memory } } };
    };
    const hints = (cases: CaseResult[]) => {
      const out = renderTable(result('compare', cases), { hints: true });
      return out.slice(out.indexOf('What to try next:')).split('\n');
    };
    const h = hints([guest('v4.16', '1G'), guest('v4.17', '8G')]);
    // the commands padded to the longest, each with what it answers
    const rows: [string, string][] = [
      [command('sweep --tlb-sync-max 1,8,64,512,4096'), 'is 512 regions per sync a good cap?'],
      [command('compare --profile v4.17 --backing 4k,thp,hugetlb-1g'), 'what the host backing does to regions per unmap'],
      [command('sweep --guest 2G,8G,32G'), 'how it scales with memory above 4 GiB'],
      [command('compare --workload churn'), 'vIOMMU/DPDK-like: many small map/unmap calls'],
      [command('sweep --firmware seabios,none'), "what the SeaBIOS boot's re-mapping of low RAM costs"],
      [command('run --trace t.json --html r.html'), 'open t.json in ui.perfetto.dev, r.html in a browser'],
      [command('--help'), 'every command and option'],
    ];
    const w = Math.max(...rows.map(([a]) => a.length));
    expect(h).toEqual(['What to try next:', ...rows.map(([a, b]) => `  ${a.padEnd(w)}  # ${b}`)]);
    // no v4.17 case: the first case's guest; a replayed stream: 64 GiB
    expect(hints([guest('a', '1G'), guest('b', '8G')])[3]).toContain(command('sweep --guest 256M,1G,4G'));
    expect(hints([{ ...kase('r'), scenario: null }, kase('s')])[3]).toContain(command('sweep --guest 16G,64G,256G'));
  });
});
