// compare with scenario files: each file is a case, and every flag the user typed overrides the
// same field of every file (as `run --scenario F --flag` does); flags not typed leave files alone.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliJson } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-files-'));
const small = join(dir, 'small.json');
writeFileSync(small, JSON.stringify({ guest: { memory: '2G' }, dma: { pattern: 'none' }, vfio: { tlbSyncMax: 64 } }));
const other = join(dir, 'other.json');
writeFileSync(other, JSON.stringify({ name: 'two-dev', guest: { memory: '1G' }, devices: 2, cost: { pins: 100, unpins: 30 } }));

describe('compare files', () => {
  it('test_compare_flag_overrides_file', async () => {
    const { res } = await cliJson(['compare', small, '--guest', '4G', '--profile', 'v4.17']);
    expect(res.cases.map((c) => c.label)).toEqual(['small']);
    const s = res.cases[0]!.scenario!;
    expect(s.guest.memory).toBe('4G'); // typed: beats the file's 2G
    expect(s.dma.pattern).toBe('none'); // only in the file
    expect(s.vfio.tlbSyncMax).toBe(64); // a flag's default never overrides the file
    expect(res.cases[0]!.layout).toEqual([
      { name: 'ram-below-4g@0', iova: '0x0', size: '0xa0000' },
      { name: 'ram-below-4g@0xc0000', iova: '0xc0000', size: '0x7ff40000' },
      { name: 'ram-above-4g', iova: '0x100000000', size: '0x80000000' },
    ]);
  });

  it('test_compare_flag_overrides_example_file', async () => {
    // the review's report: the dGPU example's 256 GiB guest must give way to --guest 8G
    const { res } = await cliJson(['compare', 'examples/dgpu-256g.json', '--guest', '8G', '--profile', 'v4.17']);
    const c = res.cases[0]!;
    expect(c.label).toBe('dgpu-256g');
    expect(c.scenario!.guest.memory).toBe('8G');
    expect(c.scenario!.host).toEqual({ memory: '260G', backing: 'hugetlb-1g', age: 0.02, populate: true, machine: 'lizhe-2025' }); // memory and backing from the file, the rest the defaults
    // the 8 GiB q35 SeaBIOS boot's pins, summed by hand in test/firmware.test.ts (the 2 GiB below 4G
    // pinned seven times); with --firmware none it is 8 GiB minus the 128 KiB VGA window
    expect(c.metrics.pins).toBe(5_243_504);
    const { res: none } = await cliJson([
      'compare',
      'examples/dgpu-256g.json',
      '--guest',
      '8G',
      '--profile',
      'v4.17',
      '--firmware',
      'none',
    ]);
    expect(none.cases[0]!.metrics.pins).toBe(2_097_120);
  });

  it('test_compare_flags_apply_to_every_file', async () => {
    // the default command (no `compare`), two files, a list and a --cost merged per event
    const { res } = await cliJson([
      small,
      other,
      '--guest',
      '4G',
      '--profile',
      'v4.16,mainline',
      '--cost',
      'pins=200',
      '--dma-bursts',
      '1',
    ]);
    expect(res.cases.map((c) => c.label)).toEqual(['small v4.16', 'small mainline', 'other v4.16', 'other mainline']);
    expect(res.cases.map((c) => c.scenario!.guest.memory)).toEqual(['4G', '4G', '4G', '4G']);
    expect(res.cases.map((c) => c.scenario!.profile)).toEqual(['v4.16', 'mainline', 'v4.16', 'mainline']);
    expect(res.cases.map((c) => c.scenario!.devices)).toEqual([1, 1, 2, 2]);
    expect(res.cases.map((c) => c.scenario!.name)).toEqual(['small', 'small', 'two-dev', 'two-dev']);
    expect(res.cases[2]!.scenario!.cost).toEqual({ pins: 200, unpins: 30 });
    expect(res.cases[0]!.scenario!.cost).toEqual({ pins: 200 });
    expect(res.cases.map((c) => c.scenario!.dma.bursts)).toEqual([1, 1, 1, 1]);
  });

  it('test_compare_scenario_flag_is_the_base', async () => {
    // --scenario (no file arguments) is the base of the profile comparison, flags over it
    const { res } = await cliJson(['compare', '--scenario', small, '--tlb-sync-max', '8']);
    expect(res.cases.map((c) => c.label)).toEqual(['v4.16', 'v4.17', 'mainline']);
    expect(res.cases.map((c) => [c.scenario!.guest.memory, c.scenario!.vfio.tlbSyncMax])).toEqual([
      ['2G', 8],
      ['2G', 8],
      ['2G', 8],
    ]);
  });
});
