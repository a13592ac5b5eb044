// --trace at scale, through the built CLI under a small V8 heap: a trace too big for --trace-max is
// refused before the run with its estimate; at a lighter detail, or past the heap, it streams to the
// file. These spawn dist/cli.js, so Stryker, whose mutants live only in its test processes, leaves
// them out (vitest.stryker.config.ts).

import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import type { ChromeEvent } from '../src/report/perfetto.js';
import { CLI } from './helpers.js';
import { checkNesting, NestingCheck } from './trace-nesting.js';

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
