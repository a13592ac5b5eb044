// --csv: long format `case,metric,value`, every number of the table and of --json's metrics, then
// every counter and modeled-time bucket; RFC 4180 quoting; not with --json.

import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CaseResult, CommandResult } from '../src/engine/result.js';
import { csvField, renderCsv } from '../src/report/csv.js';
// cli() here is main() in this process (inProcess): the report and engine code these cases check is
// the source, which Stryker mutates; the built CLI's own behaviour is covered by cli-errors,
// invocation, readme and demo.test.ts
import { PKG, inProcess as cli, inProcess } from './helpers.js';

/** RFC 4180 parser (quoted fields, doubled quotes, commas and line breaks inside quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [],
    f = '',
    q = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (q) {
      if (ch === '"' && text[i + 1] === '"') {
        f += '"';
        i++;
      } else if (ch === '"') q = false;
      else f += ch;
    } else if (ch === '"' && f === '') q = true;
    else if (ch === ',') {
      row.push(f);
      f = '';
    } else if (ch === '\n') {
      row.push(f);
      rows.push(row);
      row = [];
      f = '';
    } else f += ch;
  }
  expect(q).toBe(false);
  expect(f === '' && row.length === 0).toBe(true); // ends with a line break
  return rows;
}

/** The case's value at a CSV metric's path (`metrics.regionsPerCall.max`, `counters.pins`, ...). */
function at(c: CaseResult, metric: string): unknown {
  if (metric === 'metrics.setupNs') return c.metrics.modeledNs - Object.values(c.metrics.phaseNs).reduce((a, b) => a + b, 0);
  const [top, ...rest] = metric.split('.');
  let v: unknown = (c as unknown as Record<string, unknown>)[top!];
  // counter names may hold dots themselves (amd.cmd.submit, vfio.ioctls)
  if (top !== 'metrics') return (v as Record<string, unknown>)[rest.join('.')];
  for (const k of rest) v = (v as Record<string, unknown>)[k];
  return v;
}

describe('csv', () => {
  it('test_csv_parses_and_matches_json', async () => {
    const args = ['compare', '--guest', '2G', '--profile', 'v4.16,mainline', '--backing', 'thp,hugetlb-2m', '--serial'];
    const [csv, json] = [await cli([...args, '--csv']), await cli([...args, '--json'])];
    expect(csv.code).toBe(0);
    expect(csv.stderr).toBe('');
    const res = JSON.parse(json.stdout) as CommandResult;
    const rows = parseCsv(csv.stdout);
    expect(rows[0]).toEqual(['case', 'metric', 'value']);
    const body = rows.slice(1);
    expect(body.every((r) => r.length === 3)).toBe(true);
    expect([...new Set(body.map((r) => r[0]))]).toEqual(res.cases.map((c) => c.label));
    for (const c of res.cases) {
      const mine = body.filter((r) => r[0] === c.label);
      const names = mine.map((r) => r[1]!);
      // every metric of the JSON (the histogram aside), the setup row, every counter and time bucket, once each
      const want = [
        ...Object.keys(c.metrics)
          .filter((k) => !['regionsPerCall', 'phaseNs'].includes(k))
          .map((k) => `metrics.${k}`),
        'metrics.regionsPerCall.min',
        'metrics.regionsPerCall.median',
        'metrics.regionsPerCall.max',
        'metrics.regionsPerCall.mean',
        'metrics.setupNs',
        ...Object.keys(c.metrics.phaseNs).map((p) => `metrics.phaseNs.${p}`),
        ...Object.keys(c.counters).map((e) => `counters.${e}`),
        ...Object.keys(c.timeNs).map((e) => `timeNs.${e}`),
      ];
      expect([...names].sort()).toEqual([...want].sort());
      for (const [, m = '', v = ''] of mine) {
        // every row has 3 cells: checked above
        expect(v).toMatch(/^-?\d+(\.\d+)?(e[+-]\d+)?$/);
        if (m === 'metrics.setupNs') expect(Number(v)).toBeCloseTo(at(c, m) as number, 3);
        else expect(Number(v), `${c.label} ${m}`).toBe(at(c, m));
      }
      // the table's rows are all there: the unmap rows, syncs, pins, the modeled time
      expect(mine.find((r) => r[1] === 'metrics.unmapCalls')![2]).toBe(String(c.metrics.unmapCalls));
      expect(mine.find((r) => r[1] === 'metrics.modeledNs')![2]).toBe(String(c.metrics.modeledNs));
    }
  });

  it('test_csv_quotes_fields', async () => {
    // a case label from a scenario file name with a comma and quotes
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-csv-'));
    try {
      const f = join(dir, 'gpu, "big".json');
      copyFileSync(join(PKG, 'examples', 'churn.json'), f);
      const r = await cli(['compare', f, '--guest', '1G', '--churn-ops', '20', '--csv']);
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')[1]).toMatch(/^"gpu, ""big""",metrics\.mapIoctls,\d+$/);
      expect(parseCsv(r.stdout)[1]![0]).toBe('gpu, "big"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(csvField('a')).toBe('a');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "x"')).toBe('"say ""x"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    expect(csvField('')).toBe('');
  });

  it('test_csv_run_sweep_and_report', async () => {
    const run = await inProcess(['run', '--guest', '1G', '--dma', 'none', '--csv']);
    expect(run.stdout.startsWith('case,metric,value\nmainline,metrics.mapIoctls,')).toBe(true);
    const sweep = await inProcess(['sweep', '--guest', '1G', '--tlb-sync-max', '1,512', '--dma', 'none', '--csv', '--serial']);
    const labels = [
      ...new Set(
        parseCsv(sweep.stdout)
          .slice(1)
          .map((r) => r[0]),
      ),
    ];
    expect(labels).toEqual(['tlb-sync-max=1', 'tlb-sync-max=512']);
    // report re-renders a saved result the same way
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-csv-'));
    try {
      const json = await inProcess(['run', '--guest', '1G', '--dma', 'none', '--json']);
      expect(renderCsv(JSON.parse(json.stdout) as CommandResult)).toBe(run.stdout);
      writeFileSync(join(dir, 'run.json'), json.stdout);
      expect(await inProcess(['report', join(dir, 'run.json'), '--csv'])).toEqual({ code: 0, stdout: run.stdout, stderr: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('test_csv_readme_block', async () => {
    // README "CSV output": the block holds the first lines of a real run
    const md = readFileSync(join(PKG, 'README.md'), 'utf8');
    const block = /The first lines of `vfio-sim run --guest 1G --csv`:\n\n```text\n([\s\S]*?)```/.exec(md)![1]!;
    const r = await inProcess(['run', '--guest', '1G', '--csv']);
    expect(block.split('\n').length).toBeGreaterThan(3);
    expect(r.stdout.startsWith(block)).toBe(true);
  });

  it('test_csv_not_with_json', async () => {
    expect(await cli(['run', '--csv', '--json'])).toEqual({
      code: 2,
      stdout: '',
      stderr: "vfio-sim: option '--csv' cannot be used with option '--json'\n",
    });
    expect(await cli(['report', '--costs', '--csv'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'vfio-sim: --csv: re-renders a saved result FILE; --costs prints its table only as text or --json\n',
    });
  });
});
