// --trace: Chrome/Perfetto trace-event JSON whose B/E slices nest on every track, streamed to the file
// as the run goes (a trace larger than the V8 heap is written), refused before the run when its
// estimate is over --trace-max, at the detail --trace-detail asks for.

import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChromeEvent } from '../src/report/perfetto.js';
// cli() here is main() in this process (inProcess): the report and engine code these cases check is
// the source, which Stryker mutates; the built CLI's own behaviour is covered by cli-errors,
// invocation, readme and demo.test.ts
import { inProcess as cli, inProcess } from './helpers.js';
import { checkNesting } from './trace-nesting.js';

describe('trace', () => {
  it('test_trace_parses_and_slices_nest', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vfio-sim-trace-')), 't.json');
    // a fully fragmented host (--host-age 1) keeps v4.16's per-region flushes few enough for a quick trace
    const r = await cli(['compare', '--guest', '4G', '--profile', 'v4.16,v4.17', '--host-age', '1', '--trace', file, '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as {
      cases: {
        label: string;
        metrics: { iotlbSyncs: number; unmapIoctls: number; mapTryHarder: number };
        counters: { iotlbSyncs: number };
      }[];
    };
    const t = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: ChromeEvent[]; displayTimeUnit: string };
    expect(t.displayTimeUnit).toBe('ns');
    const procs = t.traceEvents.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => [e.pid, e.args!.name]);
    expect(procs).toEqual([
      [1, 'v4.16'],
      [2, 'v4.17'],
    ]);
    expect(t.traceEvents.every((e) => ['B', 'E', 'i', 'C', 'M'].includes(e.ph))).toBe(true);
    const slices = checkNesting(t.traceEvents);
    res.cases.forEach((c, i) => {
      const pid = i + 1;
      expect(slices.get(`${pid} qemu VFIO_IOMMU_UNMAP_DMA`)).toBe(c.metrics.unmapIoctls);
      expect(slices.get(`${pid} vfio VFIO_IOMMU_UNMAP_DMA`)).toBe(c.metrics.unmapIoctls);
      expect(slices.get(`${pid} qemu shutdown`)).toBe(1);
      expect(slices.get(`${pid} iommu unmap_pages`)).toBeGreaterThan(0);
    });
    // v4.17: VFIO's batched syncs appear as iotlb_sync slices, one per sync
    expect(slices.get('2 iommu iotlb_sync')).toBe(res.cases[1]!.metrics.iotlbSyncs);
    // pins and unpins are slices on the vfio track, inside their ioctl (each THP block its own chunk)
    for (const pid of [1, 2]) {
      expect(slices.get(`${pid} vfio vfio_pin_pages_remote`)).toBeGreaterThan(0);
      expect(slices.get(`${pid} vfio vfio_unpin_pages_remote`)).toBeGreaterThan(0);
    }
    expect(t.traceEvents.filter((e) => e.ph === 'C' && e.cat === 'memory').length).toBeGreaterThan(0);
    // the cases' part files were joined and removed
    expect(readdirSync(dirname(file))).toEqual(['t.json']);
  });

  it('test_trace_options_refused', async () => {
    expect(await inProcess(['run', '--guest', '1G', '--trace-detail', 'iommu'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'vfio-sim: --trace-detail: goes with --trace FILE\n',
    });
    expect((await inProcess(['run', '--guest', '1G', '--trace-detail', 'pages'])).stderr).toBe(
      "vfio-sim: option '--trace-detail <level>' argument 'pages' is invalid. Allowed choices are ioctl, iommu, all.\n",
    );
    expect((await inProcess(['run', '--guest', '1G', '--trace', '/tmp/x.json', '--trace-max', '12Q'])).stderr).toBe(
      "vfio-sim: --trace-max: bad size '12Q' (examples: 64G, 512M, 4K, 1T, 4096)\n",
    );
    // a small cap names the detail that fits
    expect((await inProcess(['run', '--guest', '1G', '--trace', '/tmp/x.json', '--trace-max', '100K'])).stderr).toMatch(
      /^vfio-sim: --trace: about [\d,]+ events, [\d.]+ MiB at --trace-detail all, over --trace-max 100K; --trace-detail ioctl fits \(about \d+ events, [\d.]+ KiB\), or --trace-max 1G writes it\n$/,
    );
  });

  it('test_trace_write_fails_with_several_cases', async (ctx) => {
    // the parts go to a temporary directory (/dev/full is no regular file); joining them fails: one line, exit 1
    if (!existsSync('/dev/full')) ctx.skip();
    expect(await cli(['compare', '--guest', '1G', '--profile', 'v4.16,mainline', '--trace', '/dev/full'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'vfio-sim: --trace: cannot write /dev/full: ENOSPC (no space left on device)\n',
    });
  });
});
