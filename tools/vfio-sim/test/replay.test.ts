// run --record writes the ioctl stream; replay reproduces the run's counters exactly.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliJson } from './helpers.js';

describe('replay', () => {
  it('test_replay_reproduces_counters', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vfio-sim-rec-')), 'run.jsonl');
    const { res: run } = await cliJson(['run', '--guest', '4G', '--workload', 'boot+churn', '--churn-ops', '400', '--devices', '2', '--record', file]);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ op: 'header', format: 'vfio-sim-replay', version: 1, label: 'v4.16' });
    expect(lines[1]).toMatchObject({ op: 'mmap', size: '0x100000000', backing: 'thp' });
    const ioctls = lines.filter((l) => l.op === 'ioctl');
    expect(ioctls.length).toBe(run.cases[0]!.metrics.mapIoctls + run.cases[0]!.metrics.unmapIoctls);
    expect(ioctls[0]).toEqual({ op: 'ioctl', cmd: 'VFIO_IOMMU_MAP_DMA', arg: { argsz: 32, flags: 3, vaddr: '0x7f0000000000', iova: '0x0', size: '0xa0000' }, ret: 0 });

    const { res: rep } = await cliJson(['replay', file]);
    const a = run.cases[0]!, b = rep.cases[0]!;
    expect(b.label).toBe(a.label);
    expect(b.metrics).toEqual(a.metrics);
    expect(b.counters).toEqual(a.counters);
    expect(b.timeNs).toEqual(a.timeNs);
    expect(b.commands).toEqual(a.commands);
    expect(b.vfioStats).toEqual(a.vfioStats);

    // the same stream under the other profiles: same regions, other flush strategy
    const { res: other } = await cliJson(['replay', file, '--profile', 'v4.15,mainline']);
    expect(other.cases.map((c) => c.label)).toEqual(['v4.15', 'mainline']);
    expect(other.cases[0]!.metrics.regions).toBe(a.metrics.regions);
    expect(other.cases[0]!.metrics.iotlbSyncs).toBe(a.metrics.regions);
  });
});
