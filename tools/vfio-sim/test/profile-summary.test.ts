// bench:scale --prof: the "where the time goes" summary of a .cpuprofile, checked on a hand-made
// profile (exact shares, recursion counted once) and end to end on a small case.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PKG } from './helpers.js';

interface Entry {
  fn: string;
  ms: number;
  pct: number;
}
interface Summary {
  totalMs: number;
  self: Entry[];
  inclusive: Entry[];
}
interface Mod {
  summariseProfile(p: unknown, top?: number, maxInclusivePct?: number): Summary;
  formatProfileSummary(title: string, s: Summary): string;
}
// not a literal: the bench is plain .mjs without a .d.ts
const load = async (): Promise<Mod> => (await import(pathToFileURL(join(PKG, 'bench', 'profile-summary.mjs')).href)) as Mod;

const URL_A = 'file:///repo/tools/vfio-sim/bench/a.mjs';
const frame = (functionName: string, lineNumber: number, url = URL_A) => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
  scriptId: '1',
});
// (root) > main > f > g > f (recursion), and main > g; samples 10..60 us
const PROFILE = {
  nodes: [
    { id: 1, callFrame: frame('(root)', -1, ''), children: [2] },
    { id: 2, callFrame: frame('main', 0), children: [3, 6] },
    { id: 3, callFrame: frame('f', 9), children: [4] },
    { id: 4, callFrame: frame('g', 19), children: [5] },
    { id: 5, callFrame: frame('f', 9), children: [] },
    { id: 6, callFrame: frame('g', 19), children: [] },
  ],
  samples: [2, 3, 3, 4, 5, 6],
  timeDeltas: [10, 20, 30, 40, 50, 60],
};

describe('profile summary', () => {
  it('test_self_and_inclusive_shares_exact_with_recursion_counted_once', async () => {
    const s = (await load()).summariseProfile(PROFILE);
    expect(s.totalMs).toBeCloseTo(0.21, 12);
    // self: f 20+30+50, g 40+60 (a tie, by name), main 10; (root) sampled nothing
    expect(s.self.map((e) => [e.fn, e.ms * 1000])).toEqual(
      [
        ['f bench/a.mjs:10', 100],
        ['g bench/a.mjs:20', 100],
        ['main bench/a.mjs:1', 10],
      ].map(([fn, us]) => [`${(fn as string).split(' ')[0]} vfio-sim/${(fn as string).split(' ')[1]}`, us]),
    );
    // inclusive: g = (40 + its callee f's 50) + 60; f = its outer frame's 20+30+40+50 (the inner f adds nothing);
    // main and (root) see every sample (100% >= 80%) and are left out
    expect(s.inclusive.map((e) => [e.fn, Math.round(e.ms * 1000), Number(e.pct.toFixed(2))])).toEqual([
      ['g vfio-sim/bench/a.mjs:20', 150, 71.43],
      ['f vfio-sim/bench/a.mjs:10', 140, 66.67],
    ]);
    // the length and the cap are parameters: above 100% the runner frames stay (a tie, by name)
    expect((await load()).summariseProfile(PROFILE, 2, 101).inclusive.map((e) => e.fn)).toEqual(['(root)', 'main vfio-sim/bench/a.mjs:1']);
    expect((await load()).summariseProfile(PROFILE, 1).self.map((e) => e.fn)).toEqual(['f vfio-sim/bench/a.mjs:10']);
  });

  it('test_format_two_columns', async () => {
    const m = await load();
    expect(m.formatProfileSummary('t', m.summariseProfile(PROFILE))).toBe(
      [
        't: 0 ms sampled',
        // the left column is as wide as its longest cell (33) and at least 30
        '  inclusive (with callees)            self',
        '   71.4%  g vfio-sim/bench/a.mjs:20    47.6%  f vfio-sim/bench/a.mjs:10',
        '   66.7%  f vfio-sim/bench/a.mjs:10    47.6%  g vfio-sim/bench/a.mjs:20',
        '                                        4.8%  main vfio-sim/bench/a.mjs:1',
      ].join('\n'),
    );
  });
});

describe('bench:scale --prof', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-prof-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('test_prof_prints_where_the_time_goes_per_case', () => {
    const r = spawnSync(
      process.execPath,
      [join(PKG, 'bench', 'scale.mjs'), '--sizes', '4G', '--backings', 'thp', '--prof', dir, '--json'],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { rows: { size: string; profile: Summary }[] };
    const p = doc.rows[0]!.profile;
    expect(doc.rows[0]!.size).toBe('4G');
    // sampled, so only the shape is asserted: shares are sorted, bounded and named
    expect(p.self.length).toBeGreaterThan(0);
    expect(p.self.reduce((a, e) => a + e.pct, 0)).toBeLessThanOrEqual(100 + 1e-9);
    for (const list of [p.self, p.inclusive]) {
      for (let i = 1; i < list.length; i++) expect(list[i]!.ms).toBeLessThanOrEqual(list[i - 1]!.ms);
    }
    for (const e of p.inclusive) expect(e.pct).toBeLessThan(80);
  }, 60_000);
});
