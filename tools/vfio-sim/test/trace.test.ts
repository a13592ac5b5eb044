// --trace: Chrome/Perfetto trace-event JSON whose B/E slices nest on every track.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChromeEvent } from '../src/report/perfetto.js';
import { cli } from './helpers.js';

describe('trace', () => {
  it('test_trace_parses_and_slices_nest', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vfio-sim-trace-')), 't.json');
    // a fully fragmented host (--host-age 1) keeps v4.16's per-region flushes few enough for a quick trace
    const r = await cli(['compare', '--guest', '4G', '--profile', 'v4.16,v4.17', '--host-age', '1', '--trace', file, '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as { cases: { label: string; metrics: { iotlbSyncs: number; unmapIoctls: number; mapTryHarder: number }; counters: { iotlbSyncs: number } }[] };
    const t = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: ChromeEvent[]; displayTimeUnit: string };
    expect(t.displayTimeUnit).toBe('ns');
    const procs = t.traceEvents.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => [e.pid, e.args!.name]);
    expect(procs).toEqual([[1, 'v4.16'], [2, 'v4.17']]);
    const stacks = new Map<string, ChromeEvent[]>();
    const last = new Map<string, number>();
    const slices = new Map<string, number>();
    for (const e of t.traceEvents) {
      expect(['B', 'E', 'i', 'C', 'M']).toContain(e.ph);
      if (e.ph === 'M') continue;
      const k = `${e.pid}/${e.tid}`;
      expect(e.ts).toBeGreaterThanOrEqual(last.get(k) ?? 0);   // time never runs backwards on a track
      last.set(k, e.ts);
      if (e.ph === 'B') { const s = stacks.get(k) ?? []; s.push(e); stacks.set(k, s); }
      if (e.ph === 'E') {
        const open = stacks.get(k)?.pop();
        expect(open?.name).toBe(e.name);                         // E closes the innermost B of its track
        const n = `${e.pid} ${e.cat} ${e.name}`;
        slices.set(n, (slices.get(n) ?? 0) + 1);
      }
    }
    for (const s of stacks.values()) expect(s).toEqual([]);
    res.cases.forEach((c, i) => {
      const pid = i + 1;
      expect(slices.get(`${pid} qemu VFIO_IOMMU_UNMAP_DMA`)).toBe(c.metrics.unmapIoctls);
      expect(slices.get(`${pid} vfio VFIO_IOMMU_UNMAP_DMA`)).toBe(c.metrics.unmapIoctls);
      expect(slices.get(`${pid} qemu shutdown`)).toBe(1);
      expect(slices.get(`${pid} iommu unmap_pages`)).toBeGreaterThan(0);
    });
    // v4.17: every core sync is an iotlb_sync slice: VFIO's batched ones (and any iommu_unmap the map
    // path makes, none in this run)
    const c17 = res.cases[1]!;
    expect(slices.get('2 iommu iotlb_sync')).toBe(c17.counters.iotlbSyncs);
    expect(c17.counters.iotlbSyncs).toBe(c17.metrics.iotlbSyncs);
  });
});
