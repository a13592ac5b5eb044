// --trace: Chrome/Perfetto trace-event JSON whose B/E slices nest on every track, streamed to the file
// as the run goes (a trace larger than the V8 heap is written), refused before the run when its
// estimate is over --trace-max, at the detail --trace-detail asks for.

import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import type { ChromeEvent } from '../src/report/perfetto.js';
// cli() here is main() in this process (inProcess): the report and engine code these cases check is
// the source, which Stryker mutates; the built CLI's own behaviour is covered by cli-errors,
// invocation, readme and demo.test.ts
import { CLI, inProcess as cli, inProcess } from './helpers.js';

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

/**
 * B/E slices nest per track, time never runs backwards on a track, every IOVA is 0x hex bytes; counts
 * slices by `pid track name`. Fed one event at a time (a streamed file is checked as it is read).
 */
class NestingCheck {
  readonly slices = new Map<string, number>();
  events = 0;
  private readonly stacks = new Map<string, string[]>();
  private readonly last = new Map<string, number>();
  feed(e: ChromeEvent): void {
    this.events++;
    if (e.ph === 'M') return;
    const k = `${e.pid}/${e.tid}`;
    if (e.ts < (this.last.get(k) ?? 0)) throw new Error(`time runs backwards on ${k}: ${JSON.stringify(e)}`);
    this.last.set(k, e.ts);
    if (e.ph === 'B') {
      const st = this.stacks.get(k) ?? [];
      st.push(e.name);
      this.stacks.set(k, st);
    }
    if (e.ph === 'E') {
      const open = this.stacks.get(k)?.pop();
      if (open !== e.name) throw new Error(`E ${e.name} closes ${String(open)} on ${k}`);
      const n = `${e.pid} ${e.cat} ${e.name}`;
      this.slices.set(n, (this.slices.get(n) ?? 0) + 1);
    }
    for (const key of ['iova', 'start', 'last']) {
      const v = e.args?.[key];
      if (v !== undefined && !(typeof v === 'string' && /^0x[0-9a-f]+$/.test(v)))
        throw new Error(`${key} is not 0x hex bytes: ${JSON.stringify(e)}`);
    }
  }
  /** Nothing left open; the slice counts. */
  finish(): Map<string, number> {
    for (const [k, st] of this.stacks) if (st.length > 0) throw new Error(`open slices on ${k}: ${st.join(', ')}`);
    return this.slices;
  }
}

function checkNesting(events: Iterable<ChromeEvent>): Map<string, number> {
  const c = new NestingCheck();
  for (const e of events) c.feed(e);
  return c.finish();
}

/** The CLI under a small V8 heap and a time limit. */
function smallHeap(
  heapMb: number,
  args: string[],
  timeoutMs: number,
): { status: number | null; signal: string | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [`--max-old-space-size=${heapMb}`, CLI, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 1 << 26,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

describe('trace at scale', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-trace-scale-'));

  it('test_trace_16g_4k_refused_with_estimate', () => {
    // what used to abort with a V8 heap-out-of-memory after ~55 s: refused at once, naming the estimate and what fits
    const file = join(dir, 't16.json');
    // a fully fragmented host (--host-age 1): one pin chunk and one map per 4 KiB page
    const r = smallHeap(512, ['run', '--guest', '16G', '--backing', '4k', '--host-age', '1', '--trace', file], 20_000);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^vfio-sim: --trace: about [\d,]+ events, [\d.]+ GiB at --trace-detail all, over --trace-max 1G; --trace-detail ioctl fits \(about [\d,]+ events, [\d.]+ KiB\), or --trace-max \d+G writes it\n$/,
    );
    expect(existsSync(file)).toBe(false);
    console.log(`16G 4k --trace: refused in ${r.ms} ms: ${r.stderr.trim()}`);
  }, 30_000);

  it('test_trace_16g_4k_ioctl_detail_streams', () => {
    // the same guest at ioctl detail fits: a valid trace of phases, ioctls and DMA, under a 512 MB heap
    const file = join(dir, 't16-ioctl.json');
    const r = smallHeap(
      512,
      ['run', '--guest', '16G', '--backing', '4k', '--host-age', '1', '--trace', file, '--trace-detail', 'ioctl', '--json'],
      120_000,
    );
    expect([r.signal, r.status]).toEqual([null, 0]);
    const res = JSON.parse(r.stdout) as { cases: { metrics: { mapIoctls: number; unmapIoctls: number } }[] };
    const t = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: ChromeEvent[]; metadata: Record<string, string> };
    expect(t.metadata).toMatchObject({ detail: 'ioctl', iova: 'bytes (0x hex)' });
    const slices = checkNesting(t.traceEvents);
    const m = res.cases[0]!.metrics;
    expect(slices.get('1 vfio VFIO_IOMMU_MAP_DMA')).toBe(m.mapIoctls);
    expect(slices.get('1 qemu VFIO_IOMMU_UNMAP_DMA')).toBe(m.unmapIoctls);
    expect(new Set(t.traceEvents.map((e) => e.cat ?? 'M'))).toEqual(new Set(['M', 'qemu', 'vfio']));
    expect(
      t.traceEvents
        .filter((e) => e.cat === 'vfio')
        .map((e) => e.name)
        .every((n) => n.startsWith('VFIO_IOMMU_')),
    ).toBe(true);
    console.log(`16G 4k --trace-detail ioctl: ${t.traceEvents.length} events, ${statSync(file).size} bytes, ${r.ms} ms`);
  }, 150_000);

  it('test_trace_streams_past_a_small_heap', async () => {
    // 1 GiB on 4 KiB pages at iommu detail: ~2 M events, ~240 MB, written with a 128 MB heap (held in
    // memory, the events alone would need several times that); checked line by line as it streams back
    const file = join(dir, 't1g.json');
    const r = smallHeap(
      128,
      [
        'run',
        '--guest',
        '1G',
        '--backing',
        '4k',
        '--host-age',
        '1',
        '--firmware',
        'none',
        '--trace',
        file,
        '--trace-detail',
        'iommu',
        '--json',
      ],
      120_000,
    );
    expect([r.signal, r.status], r.stderr).toEqual([null, 0]);
    const est = /^vfio-sim: --trace: about ([\d,]+) events, [\d.]+ MiB at --trace-detail iommu to /.exec(r.stderr);
    expect(est).not.toBeNull();
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    const check = new NestingCheck();
    let first = '',
      n = 0,
      tail = '';
    for await (const l of lines) {
      if (n++ === 0) {
        first = l;
        continue;
      }
      if (l.startsWith(']')) {
        tail = l;
        continue;
      }
      check.feed(JSON.parse(l.endsWith(',') ? l.slice(0, -1) : l) as ChromeEvent);
    }
    const slices = check.finish(),
      count = check.events;
    expect(first).toBe('{"traceEvents":[');
    expect(tail).toBe(
      '],"displayTimeUnit":"ns","metadata":{"clock":"modeled time (us)","iova":"bytes (0x hex)","detail":"iommu","generator":"vfio-sim"}}',
    );
    const m = (JSON.parse(r.stdout) as { cases: { metrics: { pins: number; unmapIoctls: number; iotlbSyncs: number } }[] }).cases[0]!
      .metrics;
    // one pin and one map_pages per scattered 4 KiB page, one unmap_pages and unpin per region
    expect(slices.get('1 vfio vfio_pin_pages_remote')).toBeGreaterThanOrEqual(m.pins * 0.99);
    expect(slices.get('1 iommu map_pages')).toBeGreaterThanOrEqual(m.pins * 0.99);
    expect(slices.get('1 iommu unmap_pages')).toBeGreaterThanOrEqual(m.pins * 0.99);
    expect(slices.get('1 vfio vfio_unpin_pages_remote')).toBeGreaterThanOrEqual(m.pins * 0.99);
    expect(slices.get('1 qemu VFIO_IOMMU_UNMAP_DMA')).toBe(m.unmapIoctls);
    expect(slices.has('1 memory pinned pages')).toBe(false); // counters are 'all' detail
    // the estimate printed before the run is within 5% of what was written
    const estimated = Number(est![1]!.replaceAll(',', ''));
    expect(Math.abs(estimated - count) / count).toBeLessThan(0.05);
    console.log(
      `1G 4k --trace-detail iommu, 128 MB heap: ${count} events, ${statSync(file).size} bytes (estimated ${estimated}), ${r.ms} ms`,
    );
  }, 150_000);
});
