// The table's `vfio_unmap_unpin calls` row (metrics.unmapCalls) counts vfio_unmap_unpin() calls, one
// per vfio_dma removed, not UNMAP_DMA ioctls: an UNMAP_DMA over nothing calls it 0 times, one over two
// mappings twice. `regions/call` is per vfio_unmap_unpin() call. The core's unmapCalls event counts
// iommu_unmap() calls and says so in the cost table.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandResult } from '../src/engine/result.js';
import { inProcess } from './helpers.js';

const HEADER = {
  op: 'header',
  format: 'vfio-sim-replay',
  version: 1,
  label: 'two',
  scenario: null,
  machine: {
    hostMemory: '1073741824',
    seed: 1,
    backing: 'thp',
    cost: {},
    driver: 'amd',
    profile: 'v4.17',
    iotlbEntries: 64,
    groups: 1,
    devices: 1,
    memlockLimit: '1073741824',
    capIpcLock: false,
    container: { tlbSyncMax: 512, unmapPath: null, disableHugepages: false, dmaEntryLimit: 65535 },
  },
};
const map = (vaddr: string, iova: string) => ({
  op: 'ioctl',
  cmd: 'VFIO_IOMMU_MAP_DMA',
  arg: { argsz: 32, flags: 3, vaddr, iova, size: '0x80000' },
});
const unmap = (iova: string, size: string) => ({ op: 'ioctl', cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { argsz: 24, flags: 0, iova, size } });

describe('unmap calls', () => {
  it('test_unmap_calls_count_vfio_unmap_unpin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-unmap-calls-'));
    try {
      const file = join(dir, 'two.jsonl');
      const lines = [
        HEADER,
        { op: 'mmap', size: '0x200000', backing: 'thp' },
        map('0x7f0000000000', '0x100000'),
        map('0x7f0000080000', '0x180000'),
        unmap('0x0', '0x1000'),
        unmap('0x40000000', '0x1000'), // remove nothing
        unmap('0x100000', '0x100000'),
      ]; // removes both mappings
      writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
      const r = await inProcess(['replay', file, '--json']);
      expect(r.code).toBe(0);
      const m = (JSON.parse(r.stdout) as CommandResult).cases[0]!.metrics;
      expect([m.unmapIoctls, m.unmapCalls]).toEqual([3, 2]);
      expect(m.regionsPerCall.histogram.reduce((a, [, calls]) => a + calls, 0)).toBe(2);
      const t = await inProcess(['replay', file]);
      expect(t.stdout).toMatch(/\nUNMAP_DMA ioctls +3\nvfio_unmap_unpin calls +2\nregions\/call min\/med\/max +/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('test_core_unmap_calls_are_iommu_unmap', async () => {
    const r = await inProcess(['report', '--costs']);
    // the cost table in force: machine lizhe-2025 (unmapCalls fitted to the iommupt figures)
    expect(r.stdout).toMatch(
      /\nunmapCalls +65 +iommu_unmap\(\) calls \(one per ->unmap or ->unmap_pages call; not VFIO's vfio_unmap_unpin calls\): /,
    );
  });
});
