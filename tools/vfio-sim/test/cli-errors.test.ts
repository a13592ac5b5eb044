// Bad invocations: one line on stderr naming the option, nothing on stdout, exit code 2.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PKG, REPLAY_MACHINE, cli, inProcess, type Ran } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-err-'));
const badScenario = join(dir, 'bad.json');
writeFileSync(badScenario, JSON.stringify({ guest: { memory: '8G', ram: 1 } }));
const notJson = join(dir, 'nope.json');
writeFileSync(notJson, '{ guest: ');
const badReplay = join(dir, 'bad.jsonl');
const machine = REPLAY_MACHINE;
const header = { op: 'header', format: 'vfio-sim-replay', version: 1, label: 'x', machine, scenario: null };
writeFileSync(
  badReplay,
  `${JSON.stringify(header)}\n{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x0","iova":"0x0"}}\n`,
);
const badHeader = join(dir, 'badhdr.jsonl');
writeFileSync(badHeader, `${JSON.stringify({ ...header, machine: { ...machine, profile: 'v4.21' } })}\n`);

// files report FILE must refuse with one line: JSON null, a result missing its fields, not JSON at all
const nullResult = join(dir, 'null.json');
writeFileSync(nullResult, 'null\n');
const hollowResult = join(dir, 'hollow.json');
writeFileSync(hollowResult, JSON.stringify({ schema: 'vfio-sim/result@2', cases: [{}] }));
const notJsonResult = join(dir, 'two.json');
writeFileSync(notJsonResult, '{"a":1} x\n');
// a hand-written replay header asking for more than any flag may (4 GiB of queue arrays)
const hugeQueue = join(dir, 'hugeq.jsonl');
writeFileSync(
  hugeQueue,
  `${JSON.stringify({ ...header, machine: { ...machine, container: { ...machine.container, tlbSyncMax: 2 ** 32 } } })}\n`,
);

// costs and machines enter through flags, scenario files and replay headers: each refuses bad ones alike
const MACHINES_LIST = 'lizhe-2025, broadwell-2021, vtd-2015, amdvi-2015, xeon-e5-2018, williamson-2025, i7-12700';
const costScenario = (v: unknown) => {
  const f = join(dir, `cost-${String(v)}.json`);
  writeFileSync(f, JSON.stringify({ cost: { pins: v } }));
  return f;
};
const machineScenario = join(dir, 'hw.json');
writeFileSync(machineScenario, JSON.stringify({ host: { machine: 'epyc-9999' } }));
const hugeCostHeader = join(dir, 'hugecost.jsonl');
writeFileSync(hugeCostHeader, `${JSON.stringify({ ...header, machine: { ...machine, cost: { pins: 1e300 } } })}\n`);
const badHwHeader = join(dir, 'badhw.jsonl');
writeFileSync(badHwHeader, `${JSON.stringify({ ...header, machine: { ...machine, hardware: 'epyc-9999' } })}\n`);

const cases: [string, string[], RegExp][] = [
  ['test_unknown_option', ['--bogus'], /--bogus/],
  ['test_unknown_option_on_command', ['run', '--tlb-sync', '4'], /--tlb-sync/],
  ['test_bad_size', ['run', '--guest', '12Q'], /^vfio-sim: --guest: bad size '12Q'/],
  ['test_bad_size_unaligned', ['run', '--guest', '4097M'], /^vfio-sim: --guest: .*not a multiple of 2 MiB/],
  [
    'test_guest_bigger_than_host',
    ['run', '--guest', '128G', '--host-memory', '64G'],
    /^vfio-sim: --host-memory: the host \(64G\) is smaller than the guest \(128G\)/,
  ],
  ['test_bad_int', ['compare', '--tlb-sync-max', 'lots'], /^vfio-sim: --tlb-sync-max: 'lots' is not a whole number/],
  ['test_zero_tlb_sync_max', ['run', '--tlb-sync-max', '0'], /^vfio-sim: --tlb-sync-max: '0' must be an integer in \[1,/],
  ['test_bad_enum', ['run', '--backing', '2m'], /^vfio-sim: --backing: '2m' is not one of 4k, thp/],
  ['test_list_on_run', ['run', '--profile', 'v4.17,mainline'], /^vfio-sim: --profile: takes one value here/],
  ['test_sweep_needs_a_list', ['sweep'], /^vfio-sim: sweep: give one option a comma list/],
  [
    'test_sweep_two_lists',
    ['sweep', '--tlb-sync-max', '1,8', '--guest', '4G,8G'],
    /^vfio-sim: --guest, --tlb-sync-max: sweep varies one option; use compare for several$/m,
  ],
  ['test_below_4g_in_pci_hole', ['run', '--guest', '8G', '--below-4g', '3840M'], /^vfio-sim: --below-4g: .*PCI hole/],
  ['test_scenario_unknown_field', ['run', '--scenario', badScenario], /^vfio-sim: --scenario bad.json: unknown field 'guest.ram'/],
  ['test_scenario_not_json', ['run', '--scenario', notJson], /^vfio-sim: --scenario: .*nope.json is not valid JSON/],
  ['test_replay_missing_file', ['replay', join(dir, 'missing.jsonl')], /^vfio-sim: replay: cannot read .*ENOENT/],
  ['test_replay_bad_line', ['replay', badReplay], /^vfio-sim: .*bad.jsonl:2: ioctl: missing field 'arg.size' \(a 0x hex u64 string\)$/m],
  [
    'test_replay_bad_header',
    ['replay', badHeader],
    /^vfio-sim: .*badhdr.jsonl:1: header: machine.profile must be a release from v3.19 to v7.1 or 'mainline' \(optionally with \+id \/ ~id entry switches\)$/m,
  ],
  ['test_bad_cost', ['run', '--cost', 'pins'], /^vfio-sim: --cost: 'pins' is not event=ns/],
  ['test_unknown_cost_event', ['compare', '--cost', 'pins=100,amd.cmd.sumbit=5'], /^vfio-sim: --cost: unknown event 'amd.cmd.sumbit'/],
  [
    'test_report_costs_unknown_core_event',
    ['report', '--costs', '--cost', 'bogus=2'],
    /^vfio-sim: --cost: unknown cost event 'bogus' \(core events: mapCalls, /,
  ],
  ['test_report_not_json', ['report', notJsonResult], /^vfio-sim: report: .*two.json is not valid JSON: /],
  ['test_validate_no_case', ['validate', 'nope'], /^vfio-sim: validate: no case starts with 'nope' \(cases: lizhe-thp-map-6.16, /],
];

// the hand-written example with its DMA sent from a device the machine does not have
const strayDevice = join(dir, 'stray.jsonl');
writeFileSync(
  strayDevice,
  readFileSync(join(PKG, 'examples', 'hand.jsonl'), 'utf8').replace('"op":"dma","device":256', '"op":"dma","device":999'),
);

const goodScenario = join(dir, 'small.json');
writeFileSync(goodScenario, JSON.stringify({ guest: { memory: '2G' } }));
const COMMANDS = 'compare, run, sweep, replay, import, report, pt, validate, timeline, demo, help';

// the whole of stderr, exactly (one line, exit 2, nothing on stdout)
const exact: [string, string[], string][] = [
  ['test_unknown_command_suggests', ['rn'], "vfio-sim: unknown command 'rn' (did you mean 'run'?)"],
  ['test_unknown_command_with_options', ['swep', '--guest', '1G'], "vfio-sim: unknown command 'swep' (did you mean 'sweep'?)"],
  ['test_unknown_command_swapped_letters', ['reprot'], "vfio-sim: unknown command 'reprot' (did you mean 'report'?)"],
  ['test_unknown_command_no_suggestion', ['frobnicate'], `vfio-sim: unknown command 'frobnicate' (commands: ${COMMANDS})`],
  ['test_missing_scenario_file', ['nonexist.json'], 'vfio-sim: cannot read scenario file nonexist.json: ENOENT'],
  ['test_missing_scenario_file_path', [join(dir, 'sub', 'x')], `vfio-sim: cannot read scenario file ${join(dir, 'sub', 'x')}: ENOENT`],
  ['test_compare_missing_file_named', ['compare', 'rn'], 'vfio-sim: cannot read scenario file rn: ENOENT'],
  ['test_scenario_flag_missing_file', ['run', '--scenario', 'nonexist.json'], 'vfio-sim: --scenario: cannot read nonexist.json: ENOENT'],
  ['test_help_unknown_command', ['help', 'foo'], `vfio-sim: unknown command 'foo' (commands: ${COMMANDS})`],
  ['test_help_unknown_command_suggests', ['help', 'swep'], "vfio-sim: unknown command 'swep' (did you mean 'sweep'?)"],
  [
    'test_compare_files_and_scenario_flag',
    ['compare', goodScenario, '--scenario', goodScenario],
    'vfio-sim: --scenario: give scenario files either as arguments or with --scenario, not both (every argument is a case of its own)',
  ],
  [
    'test_trace_dir_missing',
    ['run', '--guest', '1G', '--trace', '/nonexistent/dir/t.json'],
    'vfio-sim: --trace: cannot write /nonexistent/dir/t.json: ENOENT (no such directory)',
  ],
  ['test_html_is_a_directory', ['run', '--guest', '1G', '--html', dir], `vfio-sim: --html: cannot write ${dir}: EISDIR (is a directory)`],
  [
    'test_record_dir_missing',
    ['run', '--guest', '1G', '--record', '/nonexistent/x.jsonl'],
    'vfio-sim: --record: cannot write /nonexistent/x.jsonl: ENOENT (no such directory)',
  ],
  [
    'test_output_parent_is_a_file',
    ['sweep', '--guest', '1G,2G', '--html', join(goodScenario, 'r.html')],
    `vfio-sim: --html: cannot write ${join(goodScenario, 'r.html')}: ENOTDIR (${goodScenario} is not a directory)`,
  ],
  [
    'test_output_same_file_twice',
    ['compare', '--guest', '1G', '--trace', join(dir, 'o'), '--html', join(dir, 'o')],
    `vfio-sim: --html: ${join(dir, 'o')} is also the --trace file; give each output its own file`,
  ],
  [
    'test_replay_output_checked',
    ['replay', join(PKG, 'examples', 'hand.jsonl'), '--trace', '/nonexistent/t.json'],
    'vfio-sim: --trace: cannot write /nonexistent/t.json: ENOENT (no such directory)',
  ],
  [
    'test_report_file_and_costs',
    ['report', goodScenario, '--costs'],
    `vfio-sim: report: give either a saved --json result FILE or --costs, not both (got ${goodScenario} and --costs)`,
  ],
  [
    'test_report_costs_html',
    ['report', '--costs', '--html', join(dir, 'c.html')],
    'vfio-sim: --html: re-renders a saved result FILE; --costs prints its table only as text or --json',
  ],
  [
    'test_report_driver_without_costs',
    ['report', goodScenario, '--driver', 'reference'],
    'vfio-sim: --driver: goes with --costs (a saved result FILE already says its driver, profile and costs)',
  ],
  [
    'test_dma_entry_limit_not_mainline',
    ['run', '--guest', '1G', '--dma-entry-limit', '5', '--profile', 'v4.17'],
    'vfio-sim: --dma-entry-limit: dma_entry_limit came in v5.1 (492855939bdb); release v4.17 has no such limit',
  ],
  [
    'test_dma_entry_limit_compare_profiles',
    ['compare', '--guest', '1G', '--dma-entry-limit', '5'],
    'vfio-sim: --dma-entry-limit: dma_entry_limit came in v5.1 (492855939bdb); release v4.16 has no such limit',
  ],
  [
    'test_dma_entry_limit_mainline_exceeded',
    ['run', '--guest', '1G', '--dma-entry-limit', '1', '--profile', 'mainline', '--firmware', 'none'],
    'vfio-sim: --dma-entry-limit: 2 RAM blocks exceed the limit of 1 mappings',
  ],
  // a 1 GiB q35 SeaBIOS boot peaks at 9 sections: low RAM split by the VGA hole and the read-only BIOS
  // pieces (5), the GPU's BAR0 (two, around the MSI-X page) and BAR1, pc.bios at 0xfffc0000
  [
    'test_dma_entry_limit_seabios_peak',
    ['run', '--guest', '1G', '--dma-entry-limit', '8', '--profile', 'mainline'],
    'vfio-sim: --dma-entry-limit: the SeaBIOS boot has up to 9 sections mapped at once, more than the limit of 8 mappings',
  ],
  // churn alone maps no RAM: its live mappings have the whole limit; boot+churn shares it with RAM
  [
    'test_dma_entry_limit_churn_only',
    ['run', '--guest', '1G', '--workload', 'churn', '--churn-live', '9', '--dma-entry-limit', '8', '--profile', 'mainline'],
    'vfio-sim: --churn-live: 9 live churn mappings exceed --dma-entry-limit 8',
  ],
  [
    'test_dma_entry_limit_boot_and_churn',
    [
      'run',
      '--guest',
      '1G',
      '--workload',
      'boot+churn',
      '--churn-live',
      '7',
      '--dma-entry-limit',
      '8',
      '--profile',
      'mainline',
      '--firmware',
      'none',
    ],
    'vfio-sim: --churn-live: 7 live churn mappings plus 2 RAM blocks exceed --dma-entry-limit 8',
  ],
  [
    'test_dma_entry_limit_seabios_and_churn',
    ['run', '--guest', '1G', '--workload', 'boot+churn', '--churn-live', '4', '--dma-entry-limit', '12', '--profile', 'mainline'],
    'vfio-sim: --churn-live: 4 live churn mappings plus 9 sections mapped after boot exceed --dma-entry-limit 12',
  ],
  ['test_firmware_unknown', ['run', '--firmware', 'ovmf'], "vfio-sim: --firmware: 'ovmf' is not one of seabios, none"],
  [
    'test_gpu_bar_not_power_of_two',
    ['run', '--gpu-bar', '384M'],
    'vfio-sim: --gpu-bar: 384M is not a power of two of at least 1 MiB (a BAR behind a bridge window)',
  ],
  // 1 GiB from 0xfd000000 down aligns to 0x80000000, below q35's window start 0xc0000000 (above MMCONFIG)
  [
    'test_gpu_bar_above_4g',
    ['run', '--gpu-bar', '1G'],
    "vfio-sim: --gpu-bar: a 1G BAR1 does not fit in SeaBIOS's 32-bit PCI window below 0xfec00000 (SeaBIOS would move it above 4 GiB, which this tool does not model)",
  ],
  [
    'test_q35_below_4g_over_mmconfig',
    ['run', '--guest', '8G', '--below-4g', '3G'],
    "vfio-sim: --below-4g: 3G below 4 GiB overlaps q35's MMCONFIG window at 0xb0000000, where SeaBIOS puts PCIEXBAR (at most 2816M with --firmware seabios)",
  ],
  [
    'test_report_costs_unknown_driver_event',
    ['report', '--costs', '--cost', 'pins=1,amd.cmd.sumbit=3'],
    "vfio-sim: --cost: unknown event 'amd.cmd.sumbit' (see `vfio-sim report --costs --driver amd`)",
  ],
  [
    'test_replay_tlb_sync_max_zero',
    ['replay', join(PKG, 'examples', 'hand.jsonl'), '--tlb-sync-max', '0'],
    "vfio-sim: --tlb-sync-max: '0' must be an integer in [1, 1048576]",
  ],
  [
    'test_replay_tlb_sync_max_too_big',
    ['replay', join(PKG, 'examples', 'hand.jsonl'), '--tlb-sync-max', '2000000'],
    "vfio-sim: --tlb-sync-max: '2000000' must be an integer in [1, 1048576]",
  ],
  [
    'test_replay_header_tlb_sync_max_too_big',
    ['replay', hugeQueue],
    `vfio-sim: ${hugeQueue}:1: header: machine.container.tlbSyncMax must be an integer in [1, 1048576]`,
  ],
  [
    'test_report_null_document',
    ['report', nullResult],
    `vfio-sim: report: ${nullResult} is not a vfio-sim result (schema undefined, want vfio-sim/result@1 or vfio-sim/result@2)`,
  ],
  [
    'test_report_hollow_document',
    ['report', hollowResult],
    `vfio-sim: report: ${hollowResult} is not a complete vfio-sim/result@2 document: $: missing 'command' (and 12 more)`,
  ],
  ['test_report_missing_file', ['report', join(dir, 'none.json')], `vfio-sim: report: cannot read ${join(dir, 'none.json')}: ENOENT`],
  ['test_output_path_empty', ['run', '--guest', '1G', '--trace', ''], 'vfio-sim: --trace: needs a file name (got an empty string)'],
  [
    'test_seed_beyond_2_53',
    ['run', '--seed', '99999999999999999999'],
    "vfio-sim: --seed: '99999999999999999999' is too large (every option's range ends below 2^53)",
  ],
  [
    'test_backing_p_out_of_range',
    ['run', '--backing', 'fragmented:2'],
    "vfio-sim: --backing: 'fragmented:2' is not one of 4k, thp, hugetlb-2m, hugetlb-1g, fragmented, fragmented:<p> (p in [0,1] = share of 2 MiB regions left as scattered 4 KiB pages)",
  ],
  [
    'test_replay_dma_from_unknown_device',
    ['replay', strayDevice],
    `vfio-sim: ${strayDevice}:5: dma device 999 is not one of the machine's devices (256)`,
  ],
  ['test_list_empty_entry', ['sweep', '--tlb-sync-max', '1,,2'], "vfio-sim: --tlb-sync-max: '1,,2' has an empty list entry"],
  [
    'test_machine_unknown',
    ['run', '--machine', 'epyc-9999'],
    `vfio-sim: --machine: unknown machine 'epyc-9999' (machines: ${MACHINES_LIST})`,
  ],
  [
    'test_machine_unknown_in_list',
    ['compare', '--machine', 'lizhe-2025,epyc'],
    `vfio-sim: --machine: unknown machine 'epyc' (machines: ${MACHINES_LIST})`,
  ],
  [
    'test_machine_was_the_qemu_type',
    ['run', '--machine', 'pc'],
    `vfio-sim: --machine: 'pc' is a QEMU machine type: use --qemu-machine pc (--machine names the host hardware: ${MACHINES_LIST})`,
  ],
  // a scenario file's bad field names the file and the field (no --machine was given)
  [
    'test_machine_unknown_in_scenario',
    ['run', '--scenario', machineScenario],
    `vfio-sim: --scenario hw.json: host.machine: unknown machine 'epyc-9999' (machines: ${MACHINES_LIST})`,
  ],
  [
    'test_machine_unknown_report',
    ['report', '--costs', '--machine', 'x'],
    `vfio-sim: --machine: unknown machine 'x' (machines: ${MACHINES_LIST})`,
  ],
  [
    'test_machine_unknown_replay_header',
    ['replay', badHwHeader],
    `vfio-sim: ${badHwHeader}:1: header: machine.hardware: unknown machine 'epyc-9999' (machines: ${MACHINES_LIST})`,
  ],
  [
    'test_machine_unknown_replay_flag',
    ['replay', join(PKG, 'examples', 'hand.jsonl'), '--machine', 'x'],
    `vfio-sim: --machine: unknown machine 'x' (machines: ${MACHINES_LIST})`,
  ],
  [
    'test_cost_negative',
    ['run', '--cost', 'pins=-1'],
    "vfio-sim: --cost: cost of 'pins' must be a number of nanoseconds in [0, 1000000000], got -1",
  ],
  [
    'test_cost_absurd',
    ['run', '--cost', 'completionWaits=1e300'],
    "vfio-sim: --cost: cost of 'completionWaits' must be a number of nanoseconds in [0, 1000000000], got 1e+300",
  ],
  [
    'test_cost_not_a_number',
    ['run', '--cost', 'pins=Infinity'],
    "vfio-sim: --cost: 'Infinity' is not a number (pins=ns, e.g. completionWaits=2000)",
  ],
  ['test_cost_nan', ['compare', '--cost', 'pins=NaN'], "vfio-sim: --cost: 'NaN' is not a number (pins=ns, e.g. completionWaits=2000)"],
  [
    'test_cost_negative_in_scenario',
    ['run', '--scenario', costScenario(-5)],
    "vfio-sim: --scenario cost--5.json: cost: cost of 'pins' must be a number of nanoseconds in [0, 1000000000], got -5",
  ],
  [
    'test_cost_absurd_in_scenario',
    ['run', '--scenario', costScenario(1e300)],
    "vfio-sim: --scenario cost-1e+300.json: cost: cost of 'pins' must be a number of nanoseconds in [0, 1000000000], got 1e+300",
  ],
  [
    'test_cost_string_in_scenario',
    ['run', '--scenario', costScenario('5')],
    'vfio-sim: --scenario cost-5.json: cost: cost of \'pins\' must be a number of nanoseconds in [0, 1000000000], got "5"',
  ],
  // a flag given over the file is the flag's own
  [
    'test_flag_over_scenario_named',
    ['run', '--scenario', costScenario(7), '--tlb-sync-max', '0'],
    "vfio-sim: --tlb-sync-max: '0' must be an integer in [1, 1048576]",
  ],
  [
    'test_cost_absurd_replay_header',
    ['replay', hugeCostHeader],
    `vfio-sim: ${hugeCostHeader}:1: header: machine.cost: cost of 'pins' must be a number of nanoseconds in [0, 1000000000], got 1e+300`,
  ],
  [
    'test_cost_absurd_pt',
    ['pt', 'map', '--cost', 'mapCalls=2e9'],
    "vfio-sim: --cost: cost of 'mapCalls' must be a number of nanoseconds in [0, 1000000000], got 2000000000",
  ],
  [
    'test_profile_unknown_entry',
    ['run', '--profile', 'v4.0+remove-fgps'],
    "vfio-sim: --profile: unknown timeline entry 'remove-fgps' in profile 'v4.0+remove-fgps' (see `vfio-sim timeline` for the entry ids)",
  ],
  [
    'test_profile_entry_twice',
    ['run', '--profile', 'v4.0+remove-fgsp~remove-fgsp'],
    "vfio-sim: --profile: profile 'v4.0+remove-fgsp~remove-fgsp' names entry 'remove-fgsp' twice",
  ],
  [
    'test_profile_bad_release_with_switch',
    ['run', '--profile', 'v3.0+remove-fgsp'],
    "vfio-sim: --profile: release 'v3.0' is older than v3.19, the oldest this model covers (a release from v3.19 to v7.1, or mainline)",
  ],
  ['test_pt_bad_op', ['pt', 'walk'], "vfio-sim: pt: 'walk' is not map or unmap"],
  ['test_pt_bad_pages', ['pt', 'map', '--pages', '0'], "vfio-sim: --pages: '0' must be an integer in [1, 4096]"],
  ['test_pt_bad_page_size', ['pt', 'map', '--page-size', '8K'], "vfio-sim: --page-size: '8K' is not 4K, 2M or 1G"],
  ['test_pt_bad_machine', ['pt', 'map', '--machine', 'x'], `vfio-sim: --machine: unknown machine 'x' (machines: ${MACHINES_LIST})`],
  ['test_validate_bad_kind', ['validate', '--kind', 'some'], "vfio-sim: --kind: 'some' is not one of target, held-out, all"],
  [
    'test_validate_json_and_markdown',
    ['validate', '--json', '--markdown'],
    'vfio-sim: --markdown: prints the page docs/validation.md is; not with --json',
  ],
  ['test_list_trailing_comma', ['compare', '--guest', '1G,'], "vfio-sim: --guest: '1G,' has an empty list entry"],
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
  it.concurrent.each(cases.filter(([n]) => ['test_unknown_option', 'test_bad_size', 'test_guest_bigger_than_host'].includes(n)))(
    '%s (node dist/cli.js)',
    async (_name, args, msg) => {
      expectUsageError(await cli(args), msg);
    },
  );

  it.each(cases)('%s', async (_name, args, msg) => {
    const r = await inProcess(args);
    expectUsageError(r, msg);
  });

  it.each(exact)('%s', async (_name, args, msg) => {
    const r = await inProcess(args);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `${msg}\n` });
  });

  // the real binary: no stack trace, exit 2, before any simulation ran
  it.concurrent.each(
    exact.filter(([n]) => ['test_unknown_command_suggests', 'test_trace_dir_missing', 'test_html_is_a_directory'].includes(n)),
  )('%s (node dist/cli.js)', async (_name, args, msg) => {
    expect(await cli(args)).toEqual({ code: 2, stdout: '', stderr: `${msg}\n` });
  });

  it('test_report_html_dir_missing', async () => {
    const saved = join(dir, 'cmp.json');
    const ran = await inProcess(['run', '--guest', '1G', '--dma', 'none', '--json']);
    expect(ran.code).toBe(0);
    writeFileSync(saved, ran.stdout);
    expect(await inProcess(['report', saved, '--html', '/nonexistent/x.html'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'vfio-sim: --html: cannot write /nonexistent/x.html: ENOENT (no such directory)\n',
    });
  });

  it('test_churn_only_may_use_the_whole_dma_entry_limit', async () => {
    // what the check above allows really runs within the limit: 8 live churn mappings, limit 8, no RAM mapped
    const r = await inProcess([
      'run',
      '--guest',
      '1G',
      '--workload',
      'churn',
      '--churn-live',
      '8',
      '--churn-ops',
      '50',
      '--dma-entry-limit',
      '8',
      '--profile',
      'mainline',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const m = (JSON.parse(r.stdout) as { cases: { metrics: { mapIoctls: number; ioctlErrors: number } }[] }).cases[0]!.metrics;
    expect([m.mapIoctls, m.ioctlErrors]).toEqual([50, 0]);
  });

  it('test_output_write_fails_late', async (ctx) => {
    // the path passes the checks (it exists and is not a directory) but every write fails: exit 1, one line
    if (!existsSync('/dev/full')) ctx.skip();
    expect(await cli(['run', '--guest', '1G', '--dma', 'none', '--trace', '/dev/full'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'vfio-sim: --trace: cannot write /dev/full: ENOSPC (no space left on device)\n',
    });
  });

  it('test_help_command_prints_command_help', async () => {
    const [a, b] = [await inProcess(['help', 'run']), await inProcess(['run', '--help'])];
    expect(a.code).toBe(0);
    expect(a.stderr).toBe('');
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.startsWith('Usage: vfio-sim run [options]\n')).toBe(true);
    const top = await inProcess(['help']);
    expect(top.stdout).toBe((await inProcess(['--help'])).stdout);
  });

  it('test_help_example_files_exist', async () => {
    // help examples name the shipped example files as paths from the working directory (here the package's)
    const files: string[] = [];
    for (const args of [
      ['--help'],
      ['run', '--help'],
      ['compare', '--help'],
      ['sweep', '--help'],
      ['replay', '--help'],
      ['report', '--help'],
      ['demo', '--help'],
    ]) {
      const text = (await inProcess(args)).stdout;
      for (const m of text.matchAll(/(?:^|\s)(\S*examples\/\S+)/g)) files.push(m[1]!);
    }
    // vitest runs in the package directory (pnpm test) or the repository root (pnpm test:all)
    expect(files).toEqual(['churn.json', 'dgpu-256g.json'].map((f) => relative(process.cwd(), join(PKG, 'examples', f))));
    for (const f of files) expect(existsSync(f), f).toBe(true);
  });

  it('test_help_has_examples', async () => {
    for (const args of [
      ['--help'],
      ['run', '--help'],
      ['compare', '--help'],
      ['sweep', '--help'],
      ['replay', '--help'],
      ['report', '--help'],
    ]) {
      const r = await inProcess(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Examples:');
      expect(r.stderr).toBe('');
    }
  });
});
