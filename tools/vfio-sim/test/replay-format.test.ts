// Replay files people write: every header field has a default, --init prints a template that
// replays as it is, errors say "missing" / "unknown field" with the file and line (a header lists
// every problem), bad values never reach the model as an internal error, and a DMA that faults
// names its line.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import RESULT_JSON_SCHEMA from '../docs/result.schema.json' with { type: 'json' };
import { validate } from '../src/report/schema.js';
// cli() here is main() in this process (inProcess): the report and engine code these cases check is
// the source, which Stryker mutates; the built CLI's own behaviour is covered by cli-errors,
// invocation, readme and demo.test.ts
import { PKG, REPLAY_MACHINE, inProcess as cli, inProcessJson as cliJson, inProcess } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-fmt-'));
const HEADER = '{"op":"header","format":"vfio-sim-replay","version":1';
let n = 0;
/** Writes the lines to a fresh file; returns its path. */
function file(...lines: string[]): string {
  const f = join(dir, `f${++n}.jsonl`);
  writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
}
const MAP_1G = '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"0x7f0000000000","iova":"0x0","size":"0x40000000"},"ret":0}';
const UNMAP_1G = '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x40000000"},"ret":0,"sizeOut":"0x40000000"}';

/** One line on stderr, nothing on stdout, exit 2. */
async function usage(f: string, want: string): Promise<void> {
  expect(await cli(['replay', f])).toEqual({ code: 2, stdout: '', stderr: `vfio-sim: ${want}\n` });
}

describe('replay format', () => {
  it('test_replay_minimal_header_takes_the_defaults', async () => {
    const f = file(`${HEADER}}`, '{"op":"mmap","size":"0x40000000"}', MAP_1G, UNMAP_1G);
    const { res } = await cliJson(['replay', f]);
    const c = res.cases[0]!;
    // label = the profile; a run's defaults: AMD-Vi mainline, thp, one device
    expect(c.label).toBe('mainline');
    expect(c.scenario).toBeNull();
    expect(c.mismatches).toEqual([]);
    expect(c.dmaFaults).toEqual([]);
    expect(c.metrics.pins).toBe(262144);
    expect(c.metrics.unpins).toBe(262144);
    expect(c.commands).not.toBeNull();
    // the same stream under the comparison's kernels
    const { res: three } = await cliJson(['replay', f, '--profile', 'v4.16,v4.17,mainline']);
    expect(three.cases.map((x) => x.mismatches)).toEqual([[], [], []]);
  });

  it('test_replay_init_template_replays_as_is', async () => {
    const t = await cli(['replay', '--init']);
    expect(t.code).toBe(0);
    expect(t.stderr).toBe('');
    expect(t.stdout.split('\n').filter((l) => l.startsWith('{'))).toHaveLength(8);
    const f = join(dir, 'init.jsonl');
    writeFileSync(f, t.stdout);
    const r = await cli(['replay', f]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/DMA pages \/ IO faults\s+16\/0/);
    const { res } = await cliJson(['replay', f, '--profile', 'v4.16,v4.17,mainline']);
    expect(res.cases.map((c) => [c.label, c.mismatches, c.metrics.ioctlErrors])).toEqual([
      ['v4.16', [], 0],
      ['v4.17', [], 0],
      ['mainline', [], 0],
    ]);
    expect(await cli(['replay', '--init', f])).toEqual({
      code: 2,
      stdout: '',
      stderr: `vfio-sim: --init: prints a template on stdout and takes no FILE (got ${f}): vfio-sim replay --init > my.jsonl\n`,
    });
    expect(await cli(['replay'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'vfio-sim: replay: missing FILE (a .jsonl replay file; vfio-sim replay --init prints a template)\n',
    });
  });

  it('test_replay_header_without_scenario', async () => {
    // today's full machine without a scenario field: it replays (scenario null), no internal error
    const machine = REPLAY_MACHINE;
    const f = file(
      JSON.stringify({ op: 'header', format: 'vfio-sim-replay', version: 1, label: 'x', machine }),
      '{"op":"mmap","size":"0x40000000"}',
      MAP_1G,
      UNMAP_1G,
    );
    const r = await cli(['replay', f, '--profile', 'v4.16,v4.17,mainline']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^vfio-sim replay: replayed stream/);
  });

  it('test_replay_bad_host_memory', async () => {
    await usage(
      file(`${HEADER},"machine":{"hostMemory":"1048576"}}`),
      `${dir}/f${n}.jsonl:1: header: machine.hostMemory 1048576 is not a multiple of 2 MiB`,
    );
    await usage(
      file(`${HEADER},"machine":{"hostMemory":"123456789012345678901234"}}`),
      `${dir}/f${n}.jsonl:1: header: machine.hostMemory 123456789012345678901234 is larger than the 16 TiB this tool models`,
    );
    await usage(
      file(`${HEADER},"machine":{"hostMemory":"lots"}}`),
      `${dir}/f${n}.jsonl:1: header: machine.hostMemory must be bytes: a decimal string like "8589934592", or a size like "8G"`,
    );
    await usage(
      file(`${HEADER},"machine":{"memlockLimit":"123456789012345678901234"}}`),
      `${dir}/f${n}.jsonl:1: header: machine.memlockLimit 123456789012345678901234 is larger than a u64 (RLIMIT_MEMLOCK is a 64-bit byte count)`,
    );
  });

  it('test_replay_mmap_fails', async () => {
    // ENOMEM: more than the host has; EINVAL: a hugetlbfs length that is not a multiple of the huge page
    await usage(
      file(`${HEADER},"machine":{"hostMemory":"4G"}}`, '{"op":"mmap","size":"0x200000000"}'),
      `${dir}/f${n}.jsonl:2: mmap of 0x200000000 bytes (thp) failed: ENOMEM: needs 2097152 frames, host has 1048576 free, mmap (machine.hostMemory is 4294967296 bytes)`,
    );
    await usage(
      file(`${HEADER},"machine":{"backing":"hugetlb-1g"}}`, '{"op":"mmap","size":"0x200000"}'),
      `${dir}/f${n}.jsonl:2: mmap of 0x200000 bytes (hugetlb-1g) failed: EINVAL: hugetlbfs length must be a multiple of the huge page size (hugetlb-1g), mmap`,
    );
  });

  it('test_replay_bad_costs', async () => {
    // a negative cost would print a negative time; 1e300 and 1e400 (Infinity once parsed) an infinite one
    await usage(
      file(`${HEADER},"machine":{"cost":{"pins":-1}}}`),
      `${dir}/f${n}.jsonl:1: header: machine.cost: cost of 'pins' must be a number of nanoseconds in [0, 1000000000], got -1`,
    );
    await usage(
      file(`${HEADER},"machine":{"cost":{"pins":1e300,"completionWaits":1e400,"bogus":1}}}`),
      `${dir}/f${n}.jsonl:1: header: ` +
        [
          "machine.cost: cost of 'pins' must be a number of nanoseconds in [0, 1000000000], got 1e+300",
          "machine.cost: cost of 'completionWaits' must be a number of nanoseconds in [0, 1000000000], got Infinity",
          "machine.cost: unknown event 'bogus' (see `vfio-sim report --costs --driver amd`)",
        ].join('; '),
    );
    // the flag goes through the same check
    expect((await inProcess(['run', '--guest', '1G', '--cost', 'pins=10000000000'])).stderr).toBe(
      "vfio-sim: --cost: cost of 'pins' must be a number of nanoseconds in [0, 1000000000], got 10000000000\n",
    );
  });

  it('test_replay_header_lists_every_problem', async () => {
    await usage(
      file('{"op":"header","format":"vfio-sim-replay","seed":1,"machine":{"seed":-1,"driver":"intel","container":{"tlbSyncMax":0,"x":1}}}'),
      `${dir}/f${n}.jsonl:1: header: ` +
        [
          "unknown field 'seed' (known: op, format, version, label, machine, scenario)",
          "missing field 'version' (1)",
          'machine.seed must be an integer in [0, 4294967295]',
          "machine.driver must be 'amd' or 'reference'",
          "unknown field 'machine.container.x' (known: machine.container.tlbSyncMax, machine.container.unmapPath, machine.container.disableHugepages, machine.container.dmaEntryLimit)",
          'machine.container.tlbSyncMax must be an integer in [1, 1048576]',
        ].join('; '),
    );
    // a recorded scenario is checked as a scenario file is, by its JSON path
    await usage(
      file(`${HEADER},"scenario":{"guest":{"memory":"3M"}}}`),
      `${dir}/f${n}.jsonl:1: header: scenario.guest.memory: 3M is not a multiple of 2 MiB`,
    );
    await usage(
      file('{"op":"mmap"}'),
      `${dir}/f${n}.jsonl:1: first line must be {"op":"header","format":"vfio-sim-replay","version":1} (every other header field is optional)`,
    );
    await usage(
      file('# only a comment'),
      `${dir}/f${n}.jsonl: empty replay file: no header line (vfio-sim replay --init prints a template)`,
    );
  });

  it('test_replay_lines_say_missing_and_unknown', async () => {
    await usage(
      file(`${HEADER}}`, '{"op":"mmap","size":"0x200000","bogus":1}'),
      `${dir}/f${n}.jsonl:2: mmap: unknown field 'bogus' (known: op, name, size, backing, vaddr, populate)`,
    );
    await usage(
      file(`${HEADER}}`, '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"iova":"0x0","size":"0x1000","x":1}}'),
      `${dir}/f${n}.jsonl:2: ioctl: unknown field 'arg.x' (known: arg.argsz, arg.flags, arg.vaddr, arg.iova, arg.size); missing field 'arg.vaddr' (a 0x hex u64 string)`,
    );
    await usage(
      file(`${HEADER}}`, '{"op":"dma","device":256,"iova":"0x0"}'),
      `${dir}/f${n}.jsonl:2: dma: missing field 'pages' (a page count > 0); missing field 'dir' ('read' or 'write')`,
    );
    await usage(file(`${HEADER}}`, '{"cmd":"x"}'), `${dir}/f${n}.jsonl:2: missing field 'op' (mmap, phase, ioctl, dma)`);
  });

  it('test_replay_dma_fault_names_its_line', async () => {
    // the device reads 2 pages at 4 MiB (line 7, comments counted): nothing is mapped there (2 MiB at IOVA 0)
    const f = join(PKG, 'examples', 'dma-fault.jsonl');
    const t = await cli(['replay', f]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/DMA pages \/ IO faults\s+2\/1\n/);
    const shown =
      '\nv4.17: 1 replayed DMA(s) took an IO page fault:\n  line 7: dma device 256 read iova 0x400000 pages 2: IO_PAGE_FAULT at iova 0x400000\n';
    expect(t.stdout.endsWith(shown)).toBe(true);
    // the README shows the same lines
    expect(readFileSync(join(PKG, 'README.md'), 'utf8')).toContain(`\`\`\`text${shown}\`\`\``);
    const { res } = await cliJson(['replay', f, '--profile', 'v4.17,mainline']);
    for (const c of res.cases) {
      expect(c.dmaFaults).toEqual([
        { line: 7, device: 256, iova: '0x400000', pages: 2, dir: 'read', faultIova: '0x400000', event: 'IO_PAGE_FAULT' },
      ]);
    }
    expect(validate(RESULT_JSON_SCHEMA, res)).toEqual([]);
    // the reference driver (its first device is 1) names its reason
    const ref = file(
      readFileSync(f, 'utf8')
        .replace('"profile":"v4.17"', '"profile":"v4.17","driver":"reference"')
        .replaceAll('"device":256', '"device":1'),
    );
    const { res: r2 } = await cliJson(['replay', ref]);
    expect(r2.cases[0]!.dmaFaults).toEqual([
      { line: 7, device: 1, iova: '0x400000', pages: 2, dir: 'read', faultIova: '0x400000', event: 'not-present' },
    ]);
  });

  it('test_result_without_dma_faults_still_valid', async () => {
    // a @2 result saved before dmaFaults existed: valid, and report renders it
    const { res, raw } = await cliJson(['run', '--guest', '1G', '--dma', 'none']);
    expect(res.cases[0]!.dmaFaults).toBeNull();
    const old = JSON.parse(raw) as { cases: Record<string, unknown>[] };
    for (const c of old.cases) delete c.dmaFaults;
    expect(validate(RESULT_JSON_SCHEMA, old)).toEqual([]);
    const f = join(dir, 'old.json');
    writeFileSync(f, JSON.stringify(old));
    expect((await cli(['report', f])).code).toBe(0);
  });
});
