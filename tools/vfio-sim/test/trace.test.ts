// --trace: Chrome/Perfetto trace-event JSON whose B/E slices nest on every track, streamed to the file
// as the run goes (a trace larger than the V8 heap is written), refused before the run when its
// estimate is over --trace-max, at the detail --trace-detail asks for, and stopped at a case's share
// of --trace-max when the estimate was low.

import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
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
    const t = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: ChromeEvent[]; displayTimeUnit: string; metadata: object };
    expect(t.displayTimeUnit).toBe('ns');
    expect(t.metadata).toEqual({ clock: 'modeled time (us)', iova: 'bytes (0x hex)', detail: 'all', generator: 'vfio-sim' });
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

  it('test_trace_stops_at_its_share_of_trace_max', async () => {
    // v4.16 on a SeaBIOS boot: the old AMD driver refuses a huge page over an earlier 4 KiB table
    // (EBUSY) and VFIO's map_try_harder maps page by page, so the trace is far larger than the
    // estimate (which counts huge pages): about 4.5 MB estimated, about 900 MB at iommu detail
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-trace-'));
    const file = join(dir, 't.json');
    const args = ['--guest', '1G', '--host-age', '0', '--json'];
    const r = await cli(['run', ...args, '--profile', 'v4.16', '--trace', file, '--trace-detail', 'iommu', '--trace-max', '8M']);
    expect(r.code).toBe(0);
    const size = statSync(file).size;
    expect(size).toBeLessThanOrEqual(8 << 20);
    // cut close to the cap: another event would not have fit in the share less the closing room
    expect(size).toBeGreaterThan((8 << 20) - 1024);
    const t = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: ChromeEvent[]; metadata: { cut?: string } };
    expect(t.metadata.cut).toBe('at --trace-max: v4.16');
    expect(r.stderr).toBe(
      `vfio-sim: --trace: v4.16's trace stopped at its share of --trace-max 8M after ${t.traceEvents.length.toLocaleString('en-US')} events (the estimate before the run was low); a larger --trace-max or a lighter --trace-detail writes it whole\n`,
    );
    // the run itself is whole: its results are those of a run without --trace
    const plain = await cli(['run', ...args, '--profile', 'v4.16']);
    expect((JSON.parse(r.stdout) as { cases: { metrics: unknown }[] }).cases[0]!.metrics).toEqual(
      (JSON.parse(plain.stdout) as { cases: { metrics: unknown }[] }).cases[0]!.metrics,
    );

    // several cases: each may use --trace-max in proportion to its estimate; mainline's trace is
    // whole, v4.16's is cut, the file stays within --trace-max and the parts are gone
    const both = join(dir, 'both.json');
    const c = await cli([
      'compare',
      ...args,
      '--profile',
      'v4.16,mainline',
      '--trace',
      both,
      '--trace-detail',
      'iommu',
      '--trace-max',
      '10M',
    ]);
    expect(c.code).toBe(0);
    expect(statSync(both).size).toBeLessThanOrEqual(10 << 20);
    const tb = JSON.parse(readFileSync(both, 'utf8')) as { traceEvents: ChromeEvent[]; metadata: { cut?: string } };
    expect(tb.metadata.cut).toBe('at --trace-max: v4.16');
    expect(c.stderr).toMatch(/^vfio-sim: --trace: v4\.16's trace stopped at its share of --trace-max 10M after [\d,]+ events /);
    expect(c.stderr.split('\n')).toHaveLength(2);
    const main = tb.traceEvents.filter((e) => e.pid === 2);
    const slices = checkNesting(main);
    const res = JSON.parse(c.stdout) as { cases: { metrics: { unmapIoctls: number } }[] };
    expect(slices.get('2 qemu VFIO_IOMMU_UNMAP_DMA')).toBe(res.cases[1]!.metrics.unmapIoctls);
    expect(readdirSync(dir).sort()).toEqual(['both.json', 't.json']);
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
