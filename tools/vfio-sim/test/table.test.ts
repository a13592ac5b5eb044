// The text table: a modeled-time row for every phase any case ran (they add up to the total), and
// a header that says only what every case shares.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandResult } from '../src/engine/result.js';
import { dur } from '../src/report/format.js';
import { setupNs } from '../src/report/table.js';
// cli() here is main() in this process (inProcess): the report and engine code these cases check is
// the source, which Stryker mutates; the built CLI's own behaviour is covered by cli-errors,
// invocation, readme and demo.test.ts
import { inProcess as cli } from './helpers.js';

/** The table and the --json result of the same command. */
async function both(args: readonly string[]): Promise<{ lines: string[]; res: CommandResult }> {
  const [t, j] = [await cli(args), await cli([...args, '--json'])];
  expect(t.code).toBe(0);
  expect(t.stderr).toBe('');
  return { lines: t.stdout.split('\n'), res: JSON.parse(j.stdout) as CommandResult };
}

const timeRows = (lines: readonly string[]): string[][] =>
  lines
    .filter((l) => l.startsWith('modeled time: '))
    .map((l) => [
      l.slice(0, 24).trim(),
      ...l
        .slice(24)
        .trim()
        .split(/\s{2,}/),
    ]);

describe('table', () => {
  it('test_table_phase_rows_churn', async () => {
    // churn maps no RAM at boot: no boot row, the churn row carries the time
    const { lines, res } = await both(['compare', '--guest', '2G', '--workload', 'churn', '--churn-ops', '200']);
    const rows = timeRows(lines);
    expect(rows.map((r) => r[0])).toEqual(['modeled time: setup', 'modeled time: churn', 'modeled time: shutdown', 'modeled time: total']);
    const m = res.cases.map((c) => c.metrics);
    expect(Object.keys(m[0]!.phaseNs)).toEqual(['churn', 'shutdown']);
    expect(rows[0]!.slice(1)).toEqual(res.cases.map((c) => dur(setupNs(c))));
    expect(rows[1]!.slice(1)).toEqual(m.map((x) => dur(x.phaseNs.churn!)));
    expect(rows[2]!.slice(1)).toEqual(m.map((x) => dur(x.phaseNs.shutdown!)));
    expect(rows[3]!.slice(1)).toEqual(m.map((x) => dur(x.modeledNs)));
    for (const c of res.cases) {
      // setup is what no phase covers: container, groups, VFIO_SET_IOMMU
      const sum = setupNs(c) + Object.values(c.metrics.phaseNs).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - c.metrics.modeledNs)).toBeLessThan(1e-6 * c.metrics.modeledNs);
      expect(setupNs(c)).toBeGreaterThan(0);
    }
  });

  it('test_table_phase_rows_in_scenario_order', async () => {
    // the union over cases, in the order a scenario runs its phases (not the order the cases list them)
    const { lines, res } = await both([
      'compare',
      '--guest',
      '2G',
      '--profile',
      'v4.17',
      '--workload',
      'churn,boot+churn',
      '--churn-ops',
      '50',
    ]);
    expect(res.cases.map((c) => Object.keys(c.metrics.phaseNs))).toEqual([
      ['churn', 'shutdown'],
      ['boot', 'run', 'churn', 'shutdown'],
    ]);
    const rows = timeRows(lines);
    expect(rows.map((r) => r[0])).toEqual([
      'modeled time: setup',
      'modeled time: boot',
      'modeled time: run',
      'modeled time: churn',
      'modeled time: shutdown',
      'modeled time: total',
    ]);
    expect(rows[1]![1]).toBe('0 ns'); // the churn-only case has no boot
    expect(rows[1]![2]).toBe(dur(res.cases[1]!.metrics.phaseNs.boot!));
  });

  it('test_table_header_only_common', async () => {
    const a = await cli(['compare', '--guest', '2G', '--backing', '4k,thp', '--profile', 'v4.17,mainline', '--dma', 'none']);
    expect(a.code).toBe(0);
    expect(a.stdout.split('\n').slice(0, 2)).toEqual([
      // a 2 GiB q35 guest has no RAM above 4 GiB: the 8 GiB SeaBIOS boot of test/firmware.test.ts minus its one map of it
      'vfio-sim compare: guest 2 GiB (q35: 2 GiB below 4G + 0 B above, SeaBIOS boot: 35 maps, 26 unmaps, 9 DMA mappings after), host 6 GiB, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, no DMA, boot + shutdown, seed 1; varies: backing',
      'cases: backing=4k v4.17 | backing=4k mainline | backing=thp v4.17 | backing=thp mainline',
    ]);
    const b = await cli(['sweep', '--guest', '2G,4G', '--dma', 'none']);
    expect(b.code).toBe(0);
    expect(b.stdout.split('\n')[0]).toBe(
      'vfio-sim sweep --guest over 2G, 4G: thp backing, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, no DMA, boot + shutdown, seed 1; varies: guest, host memory',
    );
    // cases that share everything the header describes (only the profile differs): the whole description
    const c = await cli(['compare', '--guest', '2G', '--dma', 'none', '--firmware', 'none']);
    expect(c.stdout.split('\n')[0]).toBe(
      'vfio-sim compare: guest 2 GiB (q35: 2 GiB below 4G + 0 B above, 2 DMA mappings), host 6 GiB thp, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, no DMA, boot + shutdown, seed 1',
    );
    // cases that differ in firmware: the guest's description says what each boot maps, so it varies
    const d = await cli(['compare', '--guest', '2G', '--dma', 'none', '--profile', 'v4.17', '--firmware', 'seabios,none']);
    expect(d.stdout.split('\n').slice(0, 2)).toEqual([
      'vfio-sim compare: host 6 GiB thp, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, no DMA, boot + shutdown, seed 1; varies: guest',
      'cases: firmware=seabios | firmware=none',
    ]);
  });
});

describe('report', () => {
  it('test_report_reads_result_at_1', async () => {
    // a result saved before replay compared results (schema @1, no mismatches) still re-renders
    const j = await cli(['run', '--guest', '1G', '--dma', 'none', '--json']);
    const res = JSON.parse(j.stdout) as Record<string, unknown> & { cases: Record<string, unknown>[] };
    const old = { ...res, schema: 'vfio-sim/result@1', cases: res.cases.map(({ mismatches: _m, ...c }) => c) };
    const file = join(mkdtempSync(join(tmpdir(), 'vfio-sim-rep-')), 'old.json');
    writeFileSync(file, JSON.stringify(old));
    const [a, b] = [await cli(['report', file]), await cli(['run', '--guest', '1G', '--dma', 'none'])];
    expect(a.code).toBe(0);
    expect(a.stderr).toBe('');
    expect(a.stdout).toBe(b.stdout);
  });
});
