// Host memory options: --populate off (guest RAM faulted in and cleared by VFIO's first pin) and
// --host-age (1 = long-running fragmented host, 0 = freshly booted): counters, lists, usage errors,
// the table header, the result schema and a record/replay round trip.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validate } from '../src/report/schema.js';
import { DEFAULT_MACHINE, machineCosts } from '@x/iommu-core';
// main() in this process: the engine and report code these cases check is the source, which Stryker mutates
import { PKG, inProcess as cli, inProcessJson as cliJson } from './helpers.js';

/** The default machine's costs, from the cost tables (not from a run). */
const COST = machineCosts(DEFAULT_MACHINE);

const GIB = 2 ** 30,
  SZ_2M = 2 ** 21,
  SZ_4K = 4096;
const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-host-'));
const schema = JSON.parse(readFileSync(join(PKG, 'docs', 'result.schema.json'), 'utf8')) as Record<string, unknown>;

describe('populate', () => {
  it('test_populate_off_counts_faults_and_zeroes', async () => {
    const { res } = await cliJson(['run', '--guest', '1G', '--firmware', 'none', '--populate', 'off']);
    const c = res.cases[0]!;
    // THP: every 2 MiB page of the 1 GiB guest faults once (the VGA hole's too: it shares the first
    // 2 MiB page with mapped RAM) and clears its 512 4 KiB pages
    expect(c.counters.pageFaults).toBe(GIB / SZ_2M);
    expect(c.counters.pageZeroes).toBe(GIB / SZ_4K);
    expect([c.counters.pageFaults, c.counters.pageZeroes]).toEqual([512, 262144]);
    expect(c.timeNs.pageZeroes).toBeCloseTo(262144 * COST.pageZeroes!.ns, 3);
    expect(c.scenario!.host).toEqual({ memory: null, backing: 'thp', age: 0.02, populate: false, machine: 'lizhe-2025' });
    expect(validate(schema, res)).toEqual([]);
    // the default: present at mmap, nothing faulted; 4k backing: one fault per mapped page (all but
    // the 32 pages of the VGA hole 0xa0000-0xbffff, which no MAP_DMA pins)
    const { res: on } = await cliJson(['run', '--guest', '1G', '--firmware', 'none']);
    expect([on.cases[0]!.counters.pageFaults, on.cases[0]!.counters.pageZeroes]).toEqual([0, 0]);
    const { res: k4 } = await cliJson([
      'run',
      '--guest',
      '1G',
      '--firmware',
      'none',
      '--backing',
      '4k',
      '--populate',
      'off',
      '--dma',
      'none',
    ]);
    const hole = (0xc0000 - 0xa0000) / SZ_4K;
    expect(k4.cases[0]!.counters.pageFaults).toBe(GIB / SZ_4K - hole);
    expect([k4.cases[0]!.counters.pageFaults, k4.cases[0]!.counters.pageZeroes, k4.cases[0]!.metrics.pins]).toEqual([
      262112, 262112, 262112,
    ]);
  });

  it('test_compare_populate_on_off', async () => {
    const { res } = await cliJson(['compare', '--populate', 'on,off', '--guest', '1G', '--firmware', 'none', '--profile', 'mainline']);
    expect(res.cases.map((c) => c.label)).toEqual(['populate=on', 'populate=off']);
    expect(res.cases.map((c) => c.scenario!.host.populate)).toEqual([true, false]);
    expect(res.cases.map((c) => c.counters.pageFaults)).toEqual([0, 512]);
    // the clearing is the boot's difference: 512 faults and 262144 pages cleared, at the default
    // machine's costs
    const [a, b] = res.cases.map((c) => c.metrics.phaseNs.boot!);
    expect(b! - a!).toBeCloseTo(512 * COST.pageFaults!.ns + 262144 * COST.pageZeroes!.ns, 3);
    // without --profile, compare's three default releases times the list: 6 cases
    const { res: all } = await cliJson(['compare', '--populate', 'on,off', '--guest', '1G', '--firmware', 'none', '--dma', 'none']);
    expect(all.cases.map((c) => c.label)).toEqual([
      'v4.16 populate=on',
      'v4.16 populate=off',
      'v4.17 populate=on',
      'v4.17 populate=off',
      'mainline populate=on',
      'mainline populate=off',
    ]);
    const t = await cli([
      'compare',
      '--populate',
      'on,off',
      '--guest',
      '1G',
      '--firmware',
      'none',
      '--profile',
      'mainline',
      '--dma',
      'none',
    ]);
    expect(t.stdout.split('\n').slice(0, 2)).toEqual([
      'vfio-sim compare: guest 1 GiB (q35: 1 GiB below 4G + 0 B above, 2 DMA mappings), host 5 GiB thp, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, no DMA, boot + shutdown, seed 1; varies: populate',
      'cases: populate=on | populate=off',
    ]);
    expect(t.stdout).toMatch(/^page faults \/ 4K cleared +0\/0 +512\/262,144$/m);
  });
});

describe('host age', () => {
  it('test_host_age_regions_per_unmap_4k', async () => {
    const { res } = await cliJson([
      'compare',
      '--guest',
      '1G',
      '--firmware',
      'none',
      '--backing',
      '4k',
      '--host-age',
      '1,0.5,0',
      '--profile',
      'mainline',
      '--dma',
      'none',
    ]);
    expect(res.cases.map((c) => c.label)).toEqual(['host-age=1', 'host-age=0.5', 'host-age=0']);
    // seed 1: an aged host scatters nearly every page (262,087 regions for 262,112 pages); a fresh
    // one hands the guest ascending memory, one physically contiguous run per RAM block
    expect(res.cases.map((c) => c.metrics.regions)).toEqual([262087, 197013, 2]);
    expect(res.cases.map((c) => c.metrics.regionsPerCall.histogram)).toEqual([
      [
        [160, 1],
        [261927, 1],
      ],
      [
        [112, 1],
        [196901, 1],
      ],
      [[1, 2]],
    ]);
    expect(res.cases.map((c) => c.metrics.pins)).toEqual([262112, 262112, 262112]);
    // contiguous 2 MiB-aligned runs become 2 MiB IOMMU leaves
    expect(res.cases.map((c) => c.metrics.pteWrites)).toEqual([262625, 262625, 993]);
    expect(res.cases.map((c) => c.scenario!.host.age)).toEqual([1, 0.5, 0]);
    expect(validate(schema, res)).toEqual([]);
    // the default is 0.02: 2% of the picks elsewhere, each breaking a run twice (runs of ~25 pages)
    const { res: dflt } = await cliJson([
      'run',
      '--guest',
      '1G',
      '--firmware',
      'none',
      '--backing',
      '4k',
      '--profile',
      'mainline',
      '--dma',
      'none',
    ]);
    expect(dflt.cases[0]!.scenario!.host.age).toBe(0.02);
    const runs = dflt.cases[0]!.metrics.regions;
    expect(runs).toBeGreaterThan(262112 * 0.02 * 2 * 0.8);
    expect(runs).toBeLessThan(262112 * 0.02 * 2 * 1.2);
  });

  it('test_host_age_header_and_sweep', async () => {
    const t = await cli(['run', '--guest', '1G', '--firmware', 'none', '--host-age', '0.25', '--populate', 'off', '--dma', 'none']);
    expect(t.code).toBe(0);
    expect(t.stdout.split('\n')[0]).toBe(
      'vfio-sim run: guest 1 GiB (q35: 1 GiB below 4G + 0 B above, 2 DMA mappings), host 5 GiB thp, host age 0.25, not pre-populated, machine lizhe-2025, AMD-Vi, 1 device/1 group, no DMA, boot + shutdown, seed 1',
    );
    const { res } = await cliJson(['sweep', '--guest', '1G', '--firmware', 'none', '--host-age', '1,.5,0', '--dma', 'none']);
    expect(res.sweep).toEqual({ option: 'host.age', flag: '--host-age', values: [1, 0.5, 0] });
    const s = await cli(['sweep', '--guest', '1G', '--firmware', 'none', '--host-age', '1,0', '--dma', 'none']);
    expect(s.stdout.split('\n')[0]).toBe(
      'vfio-sim sweep --host-age over 1, 0: guest 1 GiB (q35: 1 GiB below 4G + 0 B above, 2 DMA mappings), host 5 GiB thp, machine lizhe-2025, AMD-Vi, 1 device/1 group, no DMA, boot + shutdown, seed 1; varies: host age',
    );
  });
});

describe('host memory usage errors', () => {
  const bad = join(dir, 'age.json');
  writeFileSync(bad, JSON.stringify({ host: { age: 2 } }));
  const badPop = join(dir, 'pop.json');
  writeFileSync(badPop, JSON.stringify({ host: { populate: 'no' } }));
  it.each([
    [['run', '--host-age', '2'], "vfio-sim: --host-age: '2' is not a number in [0, 1]"],
    [['run', '--host-age', '-0.5'], "vfio-sim: --host-age: '-0.5' is not a number in [0, 1]"],
    [['run', '--host-age', '1e-1'], "vfio-sim: --host-age: '1e-1' is not a number in [0, 1]"],
    [['compare', '--host-age', '0.5,2'], "vfio-sim: --host-age: '2' is not a number in [0, 1]"],
    [['compare', '--host-age', '0.5,.5'], "vfio-sim: --host-age: lists a value twice: '0.5,.5'"],
    [['run', '--host-age', '0,1'], "vfio-sim: --host-age: takes one value here, got '0,1' (comma lists work with compare and sweep)"],
    [['run', '--populate', 'maybe'], "vfio-sim: --populate: 'maybe' is not on or off"],
    [['compare', '--populate', 'on,maybe'], "vfio-sim: --populate: 'maybe' is not on or off"],
    [
      ['run', '--scenario', bad],
      "vfio-sim: --scenario age.json: host.age: '2' must be a number in [0, 1] (1 = long-running host, 0 = freshly booted)",
    ],
    [['run', '--scenario', badPop], "vfio-sim: --scenario pop.json: host.populate: 'no' must be true or false"],
  ])('test_host_memory_usage_error %j', async (args, msg) => {
    expect(await cli(args)).toEqual({ code: 2, stdout: '', stderr: `${msg}\n` });
  });
});

describe('host memory record and replay', () => {
  it('test_replay_reproduces_populate_off_and_host_age', async () => {
    const file = join(dir, 'pop.jsonl');
    const { res: run } = await cliJson([
      'run',
      '--guest',
      '2G',
      '--firmware',
      'none',
      '--backing',
      '4k',
      '--host-age',
      '0.5',
      '--populate',
      'off',
      '--workload',
      'boot+churn',
      '--churn-ops',
      '50',
      '--profile',
      'mainline',
      '--record',
      file,
    ]);
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect((lines[0]!.machine as Record<string, unknown>).hostAge).toBe(0.5);
    expect(lines[1]).toEqual({ op: 'mmap', size: '0x80000000', backing: '4k', vaddr: '0x7f0000000000', populate: false });
    const a = run.cases[0]!;
    // the boot maps all RAM but the VGA hole, one fault per 4 KiB page; churn buffers lie in RAM already present
    expect([a.counters.pageFaults, a.counters.pageZeroes]).toEqual([524256, 524256]);
    expect(a.metrics.regions).toBe(394200);
    const { res: rep } = await cliJson(['replay', file]);
    const b = rep.cases[0]!;
    expect(b.metrics).toEqual(a.metrics);
    expect(b.counters).toEqual(a.counters);
    expect(b.timeNs).toEqual(a.timeNs);
    expect(b.mismatches).toEqual([]);
    // the mmap line decides: the same stream with populate left out (= true) faults nothing
    const edited = join(dir, 'pop-on.jsonl');
    const rows = readFileSync(file, 'utf8').split('\n');
    rows[1] = rows[1]!.replace(',"populate":false}', '}');
    writeFileSync(edited, rows.join('\n'));
    const { res: on } = await cliJson(['replay', edited]);
    expect([on.cases[0]!.counters.pageFaults, on.cases[0]!.counters.pageZeroes]).toEqual([0, 0]);
    expect(on.cases[0]!.metrics.regions).toBe(a.metrics.regions);
  });

  it('test_default_record_host_memory_fields', async () => {
    // the default host age (0.02, not 1) and the machine are written; populate only when off
    const file = join(dir, 'dflt.jsonl');
    await cliJson(['run', '--guest', '1G', '--firmware', 'none', '--dma-bursts', '1', '--record', file]);
    const [h, m] = readFileSync(file, 'utf8')
      .split('\n')
      .slice(0, 2)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect((h!.machine as Record<string, unknown>).hostAge).toBe(0.02);
    expect((h!.machine as Record<string, unknown>).hardware).toBe('lizhe-2025');
    expect(m).toEqual({ op: 'mmap', size: '0x40000000', backing: 'thp', vaddr: '0x7f0000000000' });
  });

  it('test_replay_bad_host_memory_fields', async () => {
    const src = readFileSync(join(dir, 'dflt.jsonl'), 'utf8').split('\n');
    const age = join(dir, 'bad-age.jsonl'),
      pop = join(dir, 'bad-pop.jsonl');
    const h = JSON.parse(src[0]!) as { machine: Record<string, unknown> };
    writeFileSync(age, [JSON.stringify({ ...h, machine: { ...h.machine, hostAge: 1.5 } }), ...src.slice(1)].join('\n'));
    writeFileSync(pop, [src[0], src[1]!.replace('}', ',"populate":"no"}'), ...src.slice(2)].join('\n'));
    expect(await cli(['replay', age])).toEqual({
      code: 2,
      stdout: '',
      stderr: `vfio-sim: ${age}:1: header: machine.hostAge must be a number in [0, 1] (or absent: 1)\n`,
    });
    expect(await cli(['replay', pop])).toEqual({
      code: 2,
      stdout: '',
      stderr: `vfio-sim: ${pop}:2: mmap: field 'populate' must be true or false (or absent: true)\n`,
    });
  });
});
