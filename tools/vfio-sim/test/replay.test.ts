// run --record writes the ioctl stream; replay reproduces the run's counters exactly.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandResult } from '../src/engine/result.js';
// cli() here is main() in this process (inProcess): the report and engine code these cases check is
// the source, which Stryker mutates; the built CLI's own behaviour is covered by cli-errors,
// invocation, readme and demo.test.ts
import { inProcess as cli, inProcessJson as cliJson } from './helpers.js';

/** A small record (2 GiB guest mapped without firmware churn, 3 churn maps, DMA, v4.17) and its lines. */
async function smallRecord(): Promise<{ file: string; rows: string[] }> {
  const file = join(mkdtempSync(join(tmpdir(), 'vfio-sim-rec-')), 'small.jsonl');
  const { res } = await cliJson([
    'run',
    '--guest',
    '2G',
    '--workload',
    'boot+churn',
    '--churn-ops',
    '3',
    '--churn-live',
    '2',
    '--dma-bursts',
    '2',
    '--profile',
    'v4.17',
    '--firmware',
    'none',
    '--record',
    file,
  ]);
  expect(res.cases[0]!.mismatches).toBeNull(); // a run has nothing to compare with
  return { file, rows: readFileSync(file, 'utf8').split('\n') };
}

describe('replay', () => {
  it('test_replay_reproduces_counters', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vfio-sim-rec-')), 'run.jsonl');
    const { res: run } = await cliJson([
      'run',
      '--guest',
      '4G',
      '--workload',
      'boot+churn',
      '--churn-ops',
      '400',
      '--devices',
      '2',
      '--profile',
      'v4.17',
      '--record',
      file,
    ]);
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ op: 'header', format: 'vfio-sim-replay', version: 1, label: 'v4.17' });
    // guest RAM, then what the SeaBIOS boot maps besides it: the ROM RAMBlocks and the GPU's BAR mmaps
    expect(lines.slice(1, 7)).toEqual([
      { op: 'mmap', size: '0x100000000', backing: 'thp', vaddr: '0x7f0000000000' },
      { op: 'mmap', name: 'pc.rom', size: '0x20000', backing: '4k', vaddr: '0x7f0140000000' },
      { op: 'mmap', name: 'pc.bios', size: '0x40000', backing: '4k', vaddr: '0x7f01c0000000' },
      { op: 'mmap', name: 'nic.rom', size: '0x40000', backing: '4k', vaddr: '0x7f0240000000' },
      { op: 'mmap', name: 'gpu.bar0', size: '0x1000000', backing: 'mmio', vaddr: '0x7f02c0000000' },
      { op: 'mmap', name: 'gpu.bar1', size: '0x10000000', backing: 'mmio', vaddr: '0x7f0340000000' },
    ]);
    const ioctls = lines.filter((l) => l.op === 'ioctl');
    expect(ioctls.length).toBe(run.cases[0]!.metrics.mapIoctls + run.cases[0]!.metrics.unmapIoctls);
    // the listener's first replay at realize: low RAM up to the read-only option-ROM area
    expect(ioctls[0]).toEqual({
      op: 'ioctl',
      cmd: 'VFIO_IOMMU_MAP_DMA',
      arg: { argsz: 32, flags: 3, vaddr: '0x7f0000000000', iova: '0x0', size: '0xc0000' },
      ret: 0,
    });
    expect(ioctls[1]).toEqual({
      op: 'ioctl',
      cmd: 'VFIO_IOMMU_MAP_DMA',
      arg: { argsz: 32, flags: 1, vaddr: '0x7f0140000000', iova: '0xc0000', size: '0x20000' },
      ret: 0,
    });

    const { res: rep } = await cliJson(['replay', file]);
    const a = run.cases[0]!,
      b = rep.cases[0]!;
    expect(b.label).toBe(a.label);
    expect(b.metrics).toEqual(a.metrics);
    expect(b.counters).toEqual(a.counters);
    expect(b.timeNs).toEqual(a.timeNs);
    expect(b.commands).toEqual(a.commands);
    expect(b.vfioStats).toEqual(a.vfioStats);
    expect(b.mismatches).toEqual([]);

    // the same stream under the other profiles: same regions, other flush strategy
    const { res: other } = await cliJson(['replay', file, '--profile', 'v4.16,mainline']);
    expect(other.cases.map((c) => c.label)).toEqual(['v4.16', 'mainline']);
    expect(other.cases[0]!.metrics.regions).toBe(a.metrics.regions);
    expect(other.cases[0]!.metrics.iotlbSyncs).toBe(a.metrics.regions);
    expect(other.cases.map((c) => c.mismatches)).toEqual([[], []]); // every call gives the recorded result there too
  });

  it('test_replay_faithful_record_no_mismatch', async () => {
    const { file } = await smallRecord();
    const { res, ran } = await cliJson(['replay', file]);
    expect(ran.code).toBe(0);
    expect(res.schema).toBe('vfio-sim/result@2');
    expect(res.cases[0]!.mismatches).toEqual([]);
    const t = await cli(['replay', file]);
    expect(t.code).toBe(0);
    expect(t.stderr).toBe('');
    expect(t.stdout).not.toContain('differ from the record');
  });

  it('test_replay_edited_ret_mismatch', async () => {
    const { file, rows } = await smallRecord();
    // line 4 is the first MAP_DMA (header, mmap, phase before it); the first churn UNMAP_DMA wrote back 0x3000
    expect(rows[3]).toBe(
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x7f0000000000","iova":"0x0","size":"0xa0000"},"ret":0}',
    );
    const unmap = rows.findIndex((r) => r.includes('VFIO_IOMMU_UNMAP_DMA') && r.includes('"sizeOut"'));
    const edited = rows.map((r, i) =>
      i === 3 ? r.replace('"ret":0', '"ret":-22') : i === unmap ? r.replace(/"sizeOut":"0x[0-9a-f]+"/, '"sizeOut":"0x1000"') : r,
    );
    const bad = file.replace('small.jsonl', 'edited.jsonl');
    writeFileSync(bad, edited.join('\n'));
    const size = /"size":"(0x[0-9a-f]+)"/.exec(rows[unmap]!)![1]!,
      iova = /"iova":"(0x[0-9a-f]+)"/.exec(rows[unmap]!)![1]!;
    const sizeOut = /"sizeOut":"(0x[0-9a-f]+)"/.exec(rows[unmap]!)![1]!;

    const ran = await cli(['replay', bad, '--json']);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe('');
    const res = JSON.parse(ran.stdout) as CommandResult;
    expect(res.cases[0]!.mismatches).toEqual([
      {
        line: 4,
        ioctl: 'VFIO_IOMMU_MAP_DMA',
        iova: '0x0',
        size: '0xa0000',
        recorded: { ret: -22, errno: null, sizeOut: null },
        replayed: { ret: 0, errno: null, sizeOut: null },
      },
      {
        line: unmap + 1,
        ioctl: 'VFIO_IOMMU_UNMAP_DMA',
        iova,
        size,
        recorded: { ret: 0, errno: null, sizeOut: '0x1000' },
        replayed: { ret: 0, errno: null, sizeOut },
      },
    ]);
    // the counters are still the run's: only the recorded results were edited
    expect(res.cases[0]!.metrics.ioctlErrors).toBe(0);

    const t = await cli(['replay', bad]);
    expect(t.code).toBe(1);
    expect(t.stderr).toBe('');
    expect(t.stdout).toContain(
      [
        'v4.17: 2 replayed ioctl(s) differ from the record:',
        '  line 4: VFIO_IOMMU_MAP_DMA iova 0x0 size 0xa0000: recorded ret -22, replayed ret 0',
        `  line ${unmap + 1}: VFIO_IOMMU_UNMAP_DMA iova ${iova} size ${size}: recorded ret 0 sizeOut 0x1000, replayed ret 0 sizeOut ${sizeOut}`,
      ].join('\n'),
    );
  });

  it('test_replay_recorded_errno_mismatch', async () => {
    // a call recorded as failed that succeeds on replay, and a bad 'ret' type (usage error, exit 2)
    const { file, rows } = await smallRecord();
    const bad = file.replace('small.jsonl', 'errno.jsonl');
    writeFileSync(bad, rows.map((r, i) => (i === 3 ? r.replace('"ret":0', '"errno":"EEXIST"') : r)).join('\n'));
    const ran = await cli(['replay', bad, '--json']);
    expect(ran.code).toBe(1);
    expect((JSON.parse(ran.stdout) as CommandResult).cases[0]!.mismatches).toEqual([
      {
        line: 4,
        ioctl: 'VFIO_IOMMU_MAP_DMA',
        iova: '0x0',
        size: '0xa0000',
        recorded: { ret: null, errno: 'EEXIST', sizeOut: null },
        replayed: { ret: 0, errno: null, sizeOut: null },
      },
    ]);
    const typo = file.replace('small.jsonl', 'typo.jsonl');
    writeFileSync(typo, rows.map((r, i) => (i === 3 ? r.replace('"ret":0', '"ret":"0"') : r)).join('\n'));
    expect(await cli(['replay', typo])).toEqual({
      code: 2,
      stdout: '',
      stderr: `vfio-sim: ${typo}:4: ioctl: field 'ret' must be an integer\n`,
    });
    // an mmap that lands elsewhere would shift every later MAP_DMA: a usage error naming the line, no stack
    const moved = file.replace('small.jsonl', 'moved.jsonl');
    writeFileSync(moved, rows.map((r, i) => (i === 1 ? r.replace('"vaddr":"0x7f0000000000"', '"vaddr":"0x7f0000200000"') : r)).join('\n'));
    expect(await cli(['replay', moved])).toEqual({
      code: 2,
      stdout: '',
      stderr: `vfio-sim: ${moved}:2: mmap returned 0x7f0000000000, the record says 0x7f0000200000; the process layout differs\n`,
    });
  });
});
