// Bad invocations: one line on stderr naming the option, nothing on stdout, exit code 2.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';
import { cli, type Ran } from './helpers.js';

/** The CLI's main() in this process (no node start-up per case), with stdout/stderr captured. */
async function inProcess(args: readonly string[]): Promise<Ran> {
  let stdout = '', stderr = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => { stdout += String(c); return true; });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => { stderr += String(c); return true; });
  const saved = process.exitCode;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    o.mockRestore(); e.mockRestore();
    process.exitCode = saved;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-err-'));
const badScenario = join(dir, 'bad.json');
writeFileSync(badScenario, JSON.stringify({ guest: { memory: '8G', ram: 1 } }));
const notJson = join(dir, 'nope.json');
writeFileSync(notJson, '{ guest: ');
const badReplay = join(dir, 'bad.jsonl');
const machine = { hostMemory: '8589934592', seed: 1, backing: 'thp', cost: {}, driver: 'amd', profile: 'v4.16', iotlbEntries: 1024, groups: 1, devices: 1,
  memlockLimit: '5368709120', capIpcLock: false, container: { tlbSyncMax: 512, unmapPath: null, disableHugepages: false, dmaEntryLimit: 65535 } };
const header = { op: 'header', format: 'vfio-sim-replay', version: 1, label: 'x', machine, scenario: null };
writeFileSync(badReplay, `${JSON.stringify(header)}\n{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x0","iova":"0x0"}}\n`);
const badHeader = join(dir, 'badhdr.jsonl');
writeFileSync(badHeader, `${JSON.stringify({ ...header, machine: { ...machine, profile: 'v5.0' } })}\n`);

const cases: [string, string[], RegExp][] = [
  ['test_unknown_option', ['--bogus'], /--bogus/],
  ['test_unknown_option_on_command', ['run', '--tlb-sync', '4'], /--tlb-sync/],
  ['test_bad_size', ['run', '--guest', '12Q'], /^vfio-sim: --guest: bad size '12Q'/],
  ['test_bad_size_unaligned', ['run', '--guest', '4097M'], /^vfio-sim: --guest: .*not a multiple of 2 MiB/],
  ['test_guest_bigger_than_host', ['run', '--guest', '128G', '--host-memory', '64G'], /^vfio-sim: --host-memory: the host \(64G\) is smaller than the guest \(128G\)/],
  ['test_bad_int', ['compare', '--tlb-sync-max', 'lots'], /^vfio-sim: --tlb-sync-max: 'lots' is not a whole number/],
  ['test_zero_tlb_sync_max', ['run', '--tlb-sync-max', '0'], /^vfio-sim: --tlb-sync-max: '0' must be an integer in \[1,/],
  ['test_bad_enum', ['run', '--backing', '2m'], /^vfio-sim: --backing: '2m' is not one of 4k, thp/],
  ['test_list_on_run', ['run', '--profile', 'v4.16,mainline'], /^vfio-sim: --profile: takes one value here/],
  ['test_sweep_needs_a_list', ['sweep'], /^vfio-sim: sweep: give one option a comma list/],
  ['test_sweep_two_lists', ['sweep', '--tlb-sync-max', '1,8', '--guest', '4G,8G'], /^vfio-sim: --guest, --tlb-sync-max: sweep varies one option; use compare for several$/m],
  ['test_below_4g_in_pci_hole', ['run', '--guest', '8G', '--below-4g', '3840M'], /^vfio-sim: --below-4g: .*PCI hole/],
  ['test_scenario_unknown_field', ['run', '--scenario', badScenario], /^vfio-sim: --scenario bad.json: unknown field 'guest.ram'/],
  ['test_scenario_not_json', ['run', '--scenario', notJson], /^vfio-sim: --scenario: .*nope.json is not valid JSON/],
  ['test_replay_missing_file', ['replay', join(dir, 'missing.jsonl')], /^vfio-sim: replay: cannot read .*ENOENT/],
  ['test_replay_bad_line', ['replay', badReplay], /^vfio-sim: .*bad.jsonl:2: ioctl: arg.size must be a 0x hex u64 string/],
  ['test_replay_bad_header', ['replay', badHeader], /^vfio-sim: .*badhdr.jsonl:1: header: machine.profile must be 'v4.15', 'v4.16' or 'mainline'$/m],
  ['test_bad_cost', ['run', '--cost', 'pins'], /^vfio-sim: --cost: 'pins' is not event=ns/],
  ['test_unknown_cost_event', ['compare', '--cost', 'pins=100,amd.cmd.sumbit=5'], /^vfio-sim: --cost: unknown event 'amd.cmd.sumbit'/],
];

function expectUsageError(r: Ran, msg: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(msg);
}

describe('cli errors', () => {
  // the real binary: exit status and stderr as a shell sees them
  it.concurrent.each(cases.filter(([n]) => ['test_unknown_option', 'test_bad_size', 'test_guest_bigger_than_host'].includes(n)))('%s (node dist/cli.js)', async (_name, args, msg) => {
    expectUsageError(await cli(args), msg);
  });

  it.each(cases)('%s', async (_name, args, msg) => {
    const r = await inProcess(args);
    expectUsageError(r, msg);
  });

  it('test_help_has_examples', async () => {
    for (const args of [['--help'], ['run', '--help'], ['compare', '--help'], ['sweep', '--help'], ['replay', '--help'], ['report', '--help']]) {
      const r = await inProcess(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Examples:');
      expect(r.stderr).toBe('');
    }
  });
});
