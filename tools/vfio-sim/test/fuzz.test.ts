// The input surface under fuzzing: random flag sets, corrupted scenario files and corrupted replay
// files. Whatever comes in, the CLI answers with its documented exit codes and, on a usage error,
// exactly one line on stderr that names where the bad value came from (a scenario file's own
// errors name the file, never a flag the user did not give) and never a stack trace. Fixed seeds;
// FUZZ_RUNS=N (pnpm test:deep) runs more.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SCENARIO_OPTS } from '../src/scenario/options.js';
import { defaultScenario } from '../src/scenario/scenario.js';
import { PKG, inProcess, type Ran } from './helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-fuzz-'));
let fileNo = 0;
const write = (name: string, text: string): string => {
  const f = join(dir, `${fileNo++}-${name}`);
  writeFileSync(f, text);
  return f;
};

/** Every run is small: the fuzz is about input handling, not simulation size. */
const SMALL = ['--guest', '256M', '--firmware', 'none', '--dma', 'none'];

/** The contract: 0 (ran) or 2 (one line on stderr, nothing on stdout); never an internal error. */
function expectContract(r: Ran, ctx: string, allowed: readonly number[] = [0, 2]): void {
  expect(r.stderr, ctx).not.toMatch(/internal error|\n\s+at /);
  expect(allowed, `${ctx}: exit ${r.code}\n${r.stderr}`).toContain(r.code);
  if (r.code === 2) {
    expect(r.stdout, ctx).toBe('');
    expect(r.stderr, ctx).toMatch(/^vfio-sim: [^\n]+\n$/);
  }
}

/** Values a user or a broken file may put anywhere: plausible, wrong-typed, out of range, garbage. */
const junk = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1e300',
    'NaN',
    'Infinity',
    '0x10',
    '4G',
    '64G',
    '1T',
    '3.5',
    'v4.17',
    'mainline',
    'on',
    'off',
    'amd',
    'q35',
    ',',
    '1,,2',
    'v4.0+remove-fgsp',
    'v9.9',
    // Object.prototype's names: a lookup in a plain object finds them (an op 'toString' once crashed)
    'toString',
    'constructor',
    '__proto__',
  ),
  fc.string({ maxLength: 8 }),
  fc.integer({ min: -5, max: 1 << 22 }).map(String),
);

/** Near misses for each kind of option value: what a typo or a wrong unit gives. */
const NEAR: Readonly<Record<string, readonly string[]>> = {
  int: ['-1', '0', '1.5', '1e3', ' 7', '0x10', '99999999999999999999', '2147483648', '1,2'],
  seed: ['-1', '1.5', '4294967296', '1,2'],
  size: ['0', '-4G', '1Q', '4097M', '1.5K', '5T', '0x0', '1G,2G'],
  fraction: ['-0.1', '1.01', '1e-1', '.', '0.5,2'],
  onoff: ['yes', 'ON', '1', 'true', 'on,off'],
  release: ['v4.21', 'v3.0', '4.17', 'v4.17+', 'v4.17+nope', 'v4.17~fast-unmap~fast-unmap', 'mainline~', 'v6.18,v4.0+remove-fgsp'],
  machine: ['pc', 'q35', 'epyc', 'LIZHE-2025', 'lizhe-2025,vtd-2015'],
  backing: ['2m', 'fragmented:2', 'fragmented:-1', 'fragmented:', 'thp,4k'],
  enum: ['', 'x', 'AMD', 'none,none'],
};

describe('fuzz: flag sets', () => {
  it(`test_fuzz_flags_runs=${RUNS}`, async () => {
    const opts = SCENARIO_OPTS.filter((o) => !['guest.memory', 'host.memory'].includes(o.path));
    const flag = fc
      .constantFrom(...opts)
      .chain((o) => fc.tuple(fc.constant(o.flag.split(' ')[0]!), fc.oneof(fc.constantFrom(...(NEAR[o.kind] ?? NEAR.enum!)), junk)));
    const cmd = fc.constantFrom('run', 'compare', 'sweep');
    const check = async (c: string, flags: readonly (readonly string[])[]): Promise<void> => {
      const args = [c, ...SMALL, ...flags.flat(), '--json'];
      const r = await inProcess(args);
      expectContract(r, args.join(' '));
      if (r.code === 0) expect(JSON.parse(r.stdout).cases.length).toBeGreaterThan(0);
    };
    // one flag at a time reaches every option's own check (with several, the first bad one answers)
    await fc.assert(
      fc.asyncProperty(cmd, flag, async (c, f) => check(c, [f])),
      { seed: 15, numRuns: RUNS },
    );
    await fc.assert(fc.asyncProperty(cmd, fc.array(flag, { maxLength: 3 }), check), { seed: 16, numRuns: RUNS });
  }, 120_000);
});

/** Sets `path` in a copy of `o` (creating objects on the way). */
function setIn(o: Record<string, unknown>, path: readonly string[], v: unknown): Record<string, unknown> {
  const out = structuredClone(o);
  let cur: Record<string, unknown> = out;
  for (const k of path.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = v;
  return out;
}

/** Leaf paths of the default scenario (every field a file may set), and one unknown key per object. */
function leafPaths(o: unknown, prefix: string[] = []): string[][] {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return [prefix];
  return [...Object.entries(o).flatMap(([k, v]) => leafPaths(v, [...prefix, k])), [...prefix, 'bogus']];
}

describe('fuzz: scenario files', () => {
  it(`test_fuzz_scenario_files_runs=${RUNS}`, async () => {
    const base = { guest: { memory: '256M', firmware: 'none' }, dma: { pattern: 'none' } } as Record<string, unknown>;
    const path = fc.constantFrom(...leafPaths(defaultScenario()).filter((p) => p.join('.') !== 'guest.memory'));
    const value = fc.oneof(
      junk,
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant([]),
      fc.constant({}),
      fc.constant(1e300),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(path, value), { minLength: 1, maxLength: 2 }), async (edits) => {
        let doc = base;
        for (const [p, v] of edits) doc = setIn(doc, p, v);
        const f = write('s.json', JSON.stringify(doc));
        const r = await inProcess(['run', '--scenario', f, '--json']);
        expectContract(r, JSON.stringify(doc));
        // the file's own errors name the file: no flag was given
        if (r.code === 2) expect(r.stderr, JSON.stringify(doc)).toMatch(/^vfio-sim: --scenario \d+-s\.json: /);
      }),
      { seed: 15, numRuns: RUNS },
    );
  }, 120_000);
});

describe('fuzz: replay files', () => {
  // a real record of a small boot: header, mmaps, phases, ioctls with their results, DMA
  const recFile = write('rec.jsonl', '');
  let rec: string[] = [];

  it(`test_fuzz_replay_files_runs=${RUNS}`, async () => {
    const made = await inProcess(['run', '--guest', '256M', '--dma-bursts', '2', '--record', recFile, '--json']);
    expect(made.code).toBe(0);
    rec = readFileSync(recFile, 'utf8').trimEnd().split('\n');
    const hand = readFileSync(join(PKG, 'examples', 'hand.jsonl'), 'utf8')
      .trimEnd()
      .split('\n');
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('dup' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('swap' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), len: fc.nat({ max: 60 }) }),
      fc.record({ kind: fc.constant('garbage' as const), at: fc.nat(), text: fc.string({ maxLength: 20 }) }),
      fc.record({
        kind: fc.constant('field' as const),
        at: fc.nat(),
        key: fc.constantFrom(
          'op',
          'cmd',
          'size',
          'iova',
          'vaddr',
          'backing',
          'arg',
          'ret',
          'errno',
          'sizeOut',
          'device',
          'pages',
          'dir',
          'machine',
          'version',
          'populate',
          'name',
          'scenario',
          'label',
          'format',
        ),
        value: fc.oneof(junk, fc.integer(), fc.constant(null), fc.constant({}), fc.constant('0xffffffffffffffff')),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (useHand, muts) => {
        const lines = [...(useHand ? hand : rec)];
        for (const m of muts) {
          const i = m.at % lines.length;
          if (m.kind === 'drop' && lines.length > 1) lines.splice(i, 1);
          else if (m.kind === 'dup') lines.splice(i, 0, lines[i]!);
          else if (m.kind === 'swap') {
            const j = (i + 1) % lines.length;
            [lines[i], lines[j]] = [lines[j]!, lines[i]!];
          } else if (m.kind === 'cut') lines[i] = lines[i]!.slice(0, m.len);
          else if (m.kind === 'garbage') lines.splice(i, 0, m.text);
          else if (m.kind === 'field') {
            try {
              const o = JSON.parse(lines[i]!) as Record<string, unknown>;
              o[m.key] = m.value;
              lines[i] = JSON.stringify(o);
            } catch {
              /* a line an earlier mutation broke stays broken */
            }
          }
        }
        const f = write('r.jsonl', `${lines.join('\n')}\n`);
        const r = await inProcess(['replay', f, '--json']);
        // 1: the replay ran and some ioctl's result differs from the record (documented)
        expectContract(r, lines.join('\n'), [0, 1, 2]);
        if (r.code === 2) expect(r.stderr).toMatch(new RegExp(`^vfio-sim: (${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|replay)`));
      }),
      { seed: 15, numRuns: RUNS },
    );
  }, 240_000);
});
