// The number formats the table and HTML reports share, at each unit's edges, the plain-text table's
// alignment, and the `changes` a compare's JSON carries (each case after the first, in percent of
// the first). Expected strings are written out here.

import { describe, expect, it } from 'vitest';
import { commandResult, RESULT_SCHEMA, type CaseResult, type Metrics } from '../src/engine/result.js';
import { bytes, dur, durTick, eventLabel, int, textTable } from '../src/report/format.js';
import { renderJson } from '../src/report/json.js';
import { validate } from '../src/report/schema.js';
import { readFileSync } from 'node:fs';

describe('formats', () => {
  it('test_dur_at_each_unit_edge', () => {
    expect(
      [0, 1, 999, 999.4, 1000, 9994, 9999, 10_000, 999_940, 1e6, 9_994_000, 1e7, 999_940_000, 1e9, 1.234e9, 123.456e9].map(dur),
    ).toEqual([
      '0 ns',
      '1 ns',
      '999 ns',
      '999 ns',
      '1.00 us',
      '9.99 us',
      '10.0 us',
      '10.0 us',
      '999.9 us',
      '1.00 ms',
      '9.99 ms',
      '10.0 ms',
      '999.9 ms',
      '1.00 s',
      '1.23 s',
      '123.46 s',
    ]);
  });

  // A value just under an edge that rounds up to it is printed in the next unit (or with the next
  // unit's digits), never as '1000 ns', '1000.0 us' or '10.00 ms'.
  it('test_dur_rounding_up_to_an_edge', () => {
    expect([999.5, 999.96e3, 9_999_000, 9996, 999.96e6, 1e12, -5000, -999.4, -9999].map(dur)).toEqual([
      '1.00 us',
      '1.00 ms',
      '10.0 ms',
      '10.0 us',
      '1.00 s',
      '1000.00 s',
      '-5.00 us',
      '-999 ns',
      '-10.0 us',
    ]);
  });

  it('test_dur_tick_three_digits_and_a_unit', () => {
    expect([0, 500, 999, 1000, 2500, 123_456, 1e6, 120e6, 1e9, 1.5e9, -2500, -1.5e9, 1234.5].map(durTick)).toEqual([
      '0',
      '500 ns',
      '999 ns',
      '1 us',
      '2.5 us',
      '123 us',
      '1 ms',
      '120 ms',
      '1 s',
      '1.5 s',
      '-2.5 us',
      '-1.5 s',
      '1.23 us',
    ]);
  });

  it('test_int_bytes_and_event_labels', () => {
    expect([int(0), int(1234567), int(2.5), int(1.4), int(-1234.6)]).toEqual(['0', '1,234,567', '3', '1', '-1,235']);
    expect([bytes(0), bytes(4096), bytes(1 << 30), bytes(1536), bytes(1023.6)]).toEqual(['0', '4 KiB', '1 GiB', '1.50 KiB', '1 KiB']);
    expect([eventLabel('mapCalls'), eventLabel('unmapCalls'), eventLabel('pins'), eventLabel('toString')]).toEqual([
      'mapCalls (iommu_map calls)',
      'unmapCalls (iommu_unmap calls)',
      'pins',
      'toString',
    ]);
  });

  it('test_text_table_alignment', () => {
    expect(
      textTable(
        ['name', 'n', 'note'],
        [
          ['a', '1', 'x'],
          ['long name', '12345', ''],
          ['b', '7'],
        ],
      ),
    ).toBe(
      ['name           n  note', '---------  -----  ----', 'a              1     x', 'long name  12345', 'b              7'].join('\n'),
    );
    // a left-aligned column pads on the right; trailing blanks are cut
    expect(
      textTable(
        ['k', 'what', 'v'],
        [
          ['a', 'x', '10'],
          ['bb', 'longer', '2'],
        ],
        [1],
      ),
    ).toBe(['k   what     v', '--  ------  --', 'a   x       10', 'bb  longer   2'].join('\n'));
    expect(textTable(['only'], [])).toBe('only\n----');
  });
});

describe('compare changes', () => {
  const metrics = (modeledNs: number, phaseNs: Record<string, number>) => ({ modeledNs, phaseNs }) as unknown as Metrics;
  const c = (label: string, modeledNs: number, phaseNs: Record<string, number>) =>
    ({ label, metrics: metrics(modeledNs, phaseNs) }) as unknown as CaseResult;

  it('test_changes_in_percent_of_the_first', () => {
    const cases = [
      c('v4.16', 200, { boot: 100, shutdown: 50 }),
      c('v4.17', 150, { boot: 100, shutdown: 25, churn: 5 }),
      c('x', 300, { boot: 0 }),
    ];
    const res = commandResult('compare', cases, null);
    expect(res).toEqual({
      schema: RESULT_SCHEMA,
      command: 'compare',
      cases,
      sweep: null,
      changes: [
        // a phase the first case lacks is left out
        { label: 'v4.17', vs: 'v4.16', modeledNs: -25, phaseNs: { boot: 0, shutdown: -50 } },
        { label: 'x', vs: 'v4.16', modeledNs: 50, phaseNs: { boot: -100 } },
      ],
    });
    // from nothing: unchanged is 0, anything more is no percentage (null), and the saved result
    // passes its own schema (as `report FILE` checks it)
    const zero = commandResult('compare', [c('a', 0, { boot: 0, run: 0 }), c('b', 5, { boot: 0, run: 3 })], null);
    expect(zero.changes).toEqual([{ label: 'b', vs: 'a', modeledNs: null, phaseNs: { boot: 0, run: null } }]);
    const root = JSON.parse(readFileSync(new URL('../docs/result.schema.json', import.meta.url), 'utf8')) as {
      properties: { changes: Record<string, unknown> };
    };
    const changes = root.properties.changes;
    expect(validate(changes, (JSON.parse(renderJson(zero)) as { changes: unknown }).changes)).toEqual([]);
    expect(validate(changes, [{ label: 'b', vs: 'a', modeledNs: 'x', phaseNs: { run: Infinity } }])).toEqual([
      '$[0].modeledNs: want number|null, got "x"',
      '$[0].phaseNs.run: want number|null, got null',
    ]);
  });

  it('test_no_changes_but_for_a_compare_of_two_or_more', () => {
    const two = [c('a', 1, {}), c('b', 2, {})];
    for (const cmd of ['run', 'sweep', 'replay'] as const)
      expect(Object.keys(commandResult(cmd, two, null))).toEqual(['schema', 'command', 'cases', 'sweep']);
    expect(Object.keys(commandResult('compare', [c('a', 1, {})], null))).toEqual(['schema', 'command', 'cases', 'sweep']);
    expect(RESULT_SCHEMA).toBe('vfio-sim/result@2');
    // --json: two-space indented, one trailing newline
    expect(renderJson(commandResult('run', [], null))).toBe(
      '{\n  "schema": "vfio-sim/result@2",\n  "command": "run",\n  "cases": [],\n  "sweep": null\n}\n',
    );
  });
});
