// The executor under replayCase, in process and small (a few MiB): which recorded fields a replay
// compares, the first 20 errors and DMA faults it keeps (and counts past them), where a DMA's fault
// is, phase times that add up, the page tables counted after boot, the record a replay writes, the
// totals its progress starts from, and a device or mmap the machine cannot have.

import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRACE_ALL, TRACE_IOMMU } from '@x/iommu-core';
import { describe, expect, it } from 'vitest';
import { parseReplay } from '../src/engine/record.js';
import { replayCase, type CaseOutput } from '../src/engine/run.js';
import type { ProgressSink } from '../src/engine/progress-meter.js';
import { UsageError } from '../src/errors.js';
import type { ChromeEvent } from '../src/report/perfetto.js';

const HEADER = '{"op":"header","format":"vfio-sim-replay","version":1,"machine":{"profile":"v4.17"}}';
const MMAP_8M = '{"op":"mmap","size":"0x800000"}';
const VA = 0x7f0000000000n;
const hex = (v: bigint) => `0x${v.toString(16)}`;
const map = (off: bigint, size: bigint, result = '') =>
  `{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"${hex(VA + off)}","iova":"${hex(off)}","size":"${hex(size)}"}${result}}`;
const unmap = (iova: bigint, size: bigint, result = '') =>
  `{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"${hex(iova)}","size":"${hex(size)}"}${result}}`;
const dma = (iova: bigint, pages: number, device = 256) =>
  `{"op":"dma","device":${device},"iova":"${hex(iova)}","pages":${pages},"dir":"read"}`;
const phase = (name: string) => `{"op":"phase","name":"${name}"}`;
const M2 = 0x200000n;

/** Replays the lines (file lines counted from 1, the header first). */
function replay(lines: readonly string[], opts: Parameters<typeof replayCase>[3] = {}, header = HEADER): CaseOutput {
  const p = parseReplay([header, ...lines].join('\n'), 'f.jsonl');
  return replayCase(p.header, p.lines, 'x', opts, p.lineNos, 'f.jsonl');
}

describe('replay compares what the record has', () => {
  it('test_each_recorded_field_compared_alone', () => {
    const out = replay([
      MMAP_8M,
      map(0n, M2, ',"ret":0'), // line 3: as recorded
      map(0n, M2, ',"errno":"EEXIST"'), // 4: fails as recorded
      map(0n, M2, ',"ret":0'), // 5: fails, recorded as done
      map(0n, M2, ',"errno":"EINVAL"'), // 6: fails with another errno
      map(0n, M2), // 7: fails, nothing recorded to compare
      unmap(0n, M2, ',"sizeOut":"0x0000200000"'), // 8: the same size written with leading zeros
      unmap(0n, M2, ',"ret":0,"sizeOut":"0x1000"'), // 9: nothing left there: the kernel writes back 0
      unmap(0n, 0x1001n, ',"sizeOut":"0x0"'), // 10: EINVAL, nothing written back: differs from any recorded size
      unmap(0n, M2, ',"errno":"ENOENT"'), // 11: succeeds where the record says it failed
      unmap(0n, M2, ',"ret":-1'), // 12: ret compared on its own
    ]);
    const r = out.result;
    const none = { ret: null, errno: null, sizeOut: null };
    expect(r.mismatches).toEqual([
      {
        line: 5,
        ioctl: 'VFIO_IOMMU_MAP_DMA',
        iova: '0x0',
        size: '0x200000',
        recorded: { ...none, ret: 0 },
        replayed: { ...none, errno: 'EEXIST' },
      },
      {
        line: 6,
        ioctl: 'VFIO_IOMMU_MAP_DMA',
        iova: '0x0',
        size: '0x200000',
        recorded: { ...none, errno: 'EINVAL' },
        replayed: { ...none, errno: 'EEXIST' },
      },
      {
        line: 9,
        ioctl: 'VFIO_IOMMU_UNMAP_DMA',
        iova: '0x0',
        size: '0x200000',
        recorded: { ret: 0, errno: null, sizeOut: '0x1000' },
        replayed: { ret: 0, errno: null, sizeOut: '0x0' },
      },
      {
        line: 10,
        ioctl: 'VFIO_IOMMU_UNMAP_DMA',
        iova: '0x0',
        size: '0x1001',
        recorded: { ...none, sizeOut: '0x0' },
        replayed: { ...none, errno: 'EINVAL' },
      },
      {
        line: 11,
        ioctl: 'VFIO_IOMMU_UNMAP_DMA',
        iova: '0x0',
        size: '0x200000',
        recorded: { ...none, errno: 'ENOENT' },
        replayed: { ret: 0, errno: null, sizeOut: '0x0' },
      },
      {
        line: 12,
        ioctl: 'VFIO_IOMMU_UNMAP_DMA',
        iova: '0x0',
        size: '0x200000',
        recorded: { ...none, ret: -1 },
        replayed: { ret: 0, errno: null, sizeOut: '0x0' },
      },
    ]);
    // 10 ioctls, 4 failed (lines 4-7 and 10: the EEXISTs and the unaligned unmap)
    expect([r.metrics.mapIoctls, r.metrics.unmapIoctls, r.metrics.ioctlErrors]).toEqual([5, 5, 5]);
    // an error sample: the line's index among the lines run (the mmap is not one), the call, the errno
    expect(r.errorSamples.map((e) => [e.index, e.ioctl, e.code])).toEqual([
      [1, 'VFIO_IOMMU_MAP_DMA', 'EEXIST'],
      [2, 'VFIO_IOMMU_MAP_DMA', 'EEXIST'],
      [3, 'VFIO_IOMMU_MAP_DMA', 'EEXIST'],
      [4, 'VFIO_IOMMU_MAP_DMA', 'EEXIST'],
      [7, 'VFIO_IOMMU_UNMAP_DMA', 'EINVAL'],
    ]);
    for (const e of r.errorSamples) expect(e.message.startsWith(`${e.code}: `), e.message).toBe(true);
  });

  it('test_first_20_errors_and_faults_kept_all_counted', () => {
    const lines = [MMAP_8M, map(0n, M2)];
    for (let i = 0; i < 23; i++) lines.push(map(0n, M2), dma(0x400000n + BigInt(i) * 0x1000n, 1));
    const r = replay(lines).result;
    expect(r.metrics.ioctlErrors).toBe(23);
    // one IO page fault per faulting DMA line; every one counted
    expect(r.metrics.ioPageFaults).toBe(23);
    expect(r.errorSamples.map((e) => e.index)).toEqual(Array.from({ length: 20 }, (_, i) => 1 + 2 * i));
    expect(r.dmaFaults!.map((f) => [f.line, f.faultIova])).toEqual(
      Array.from({ length: 20 }, (_, i) => [5 + 2 * i, hex(0x400000n + BigInt(i) * 0x1000n)]),
    );
  });

  it('test_fault_is_at_the_first_unmapped_page', () => {
    // 3 pages from 8 KiB below the end of a 2 MiB mapping: the third faults
    const r = replay([MMAP_8M, map(0n, M2), dma(M2 - 0x2000n, 3), dma(0n, 512)]).result;
    expect(r.dmaFaults).toEqual([
      { line: 4, device: 256, iova: '0x1fe000', pages: 3, dir: 'read', faultIova: '0x200000', event: 'IO_PAGE_FAULT' },
    ]);
    expect(r.metrics.ioPageFaults).toBe(1);
    // the device stops at its fault: 2 pages of the first DMA, all 512 of the second
    expect(r.metrics.dmaPages).toBe(514);
  });
});

describe('replay phases, tables and its own record', () => {
  it('test_phase_times_add_up_per_name', () => {
    const apart = replay([MMAP_8M, phase('boot'), map(0n, M2), phase('run'), phase('boot'), map(M2, M2)]).result.metrics;
    const together = replay([MMAP_8M, phase('boot'), map(0n, M2), map(M2, M2), phase('run')]).result.metrics;
    expect(apart.phaseNs.run).toBe(0);
    expect(apart.phaseNs.boot).toBe(together.phaseNs.boot);
    expect(apart.modeledNs).toBe(together.modeledNs);
    // both maps cost something, and the second boot phase is counted
    const one = replay([MMAP_8M, phase('boot'), map(0n, M2)]).result.metrics;
    expect(one.phaseNs.boot).toBeGreaterThan(0);
    expect(apart.phaseNs.boot).toBeGreaterThan(one.phaseNs.boot!);
    // work before the first phase is in no phase
    const before = replay([MMAP_8M, map(0n, M2), phase('boot')]).result.metrics;
    expect(before.phaseNs).toEqual({ boot: 0 });
  });

  it('test_tables_after_boot_are_counted_when_boot_ends', () => {
    // 4 KiB pages (no superpages); a 4 KiB map 1 GiB away needs page tables of its own
    const h = '{"op":"header","format":"vfio-sim-replay","version":1,"machine":{"profile":"v4.17","superpages":false}}';
    const far = `{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"${hex(VA + 0x1000n)}","iova":"0x40000000","size":"0x1000"}}`;
    const m = (lines: string[]) => replay([MMAP_8M, ...lines], {}, h).result.metrics;
    const bootOnly = m([phase('boot'), map(0n, 0x1000n)]);
    const booted = m([phase('boot'), map(0n, 0x1000n), phase('run'), far]);
    const whole = m([phase('boot'), map(0n, 0x1000n), far]);
    expect([bootOnly.ioctlErrors, booted.ioctlErrors, whole.ioctlErrors]).toEqual([0, 0, 0]);
    expect(bootOnly.tablesAfterBoot).toBeGreaterThan(0);
    // counted when the boot phase ends, not at the end of the case
    expect(booted.tablesAfterBoot).toBe(bootOnly.tablesAfterBoot);
    expect(booted.tableAllocs - bootOnly.tableAllocs).toBeGreaterThan(0);
    expect(whole.tablesAfterBoot - bootOnly.tablesAfterBoot).toBe(booted.tableAllocs - bootOnly.tableAllocs);
    // no boot phase: none counted; an imported trace's one phase counts as the boot
    expect(m([map(0n, 0x1000n)]).tablesAfterBoot).toBe(0);
    expect(m([phase('trace'), map(0n, 0x1000n)]).tablesAfterBoot).toBe(bootOnly.tablesAfterBoot);
    expect(m([phase('run'), map(0n, 0x1000n)]).tablesAfterBoot).toBe(0);
  });

  it('test_replay_writes_what_it_ran', () => {
    const out = replay(
      ['{"op":"mmap","size":"0x400000","backing":"4k"}', phase('boot'), map(0n, M2), map(0n, M2), dma(0n, 2), unmap(0n, M2, ',"ret":5')],
      { record: true },
    );
    expect(out.record!.slice(1)).toEqual([
      `{"op":"mmap","size":"0x400000","backing":"4k","vaddr":"${hex(VA)}"}`,
      '{"op":"phase","name":"boot"}',
      `{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"${hex(VA)}","iova":"0x0","size":"0x200000","argsz":32,"flags":3},"ret":0}`,
      `{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"${hex(VA)}","iova":"0x0","size":"0x200000","argsz":32,"flags":3},"errno":"EEXIST"}`,
      '{"op":"dma","device":256,"iova":"0x0","pages":2,"dir":"read"}',
      // what the kernel gave replaces what the line recorded
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x200000","argsz":24,"flags":0},"ret":0,"sizeOut":"0x200000"}',
    ]);
    // the header under the replay's label
    const h = JSON.parse(out.record![0]!) as { label: string; machine: { profile: string } };
    expect([h.label, h.machine.profile]).toEqual(['x', 'v4.17']);
    expect(replay([MMAP_8M]).record).toBeNull();
  });

  it('test_progress_starts_from_the_whole_stream', () => {
    const starts: { pages: number; ops: number }[] = [];
    let last: [number, number] = [0, 0];
    const sink: ProgressSink = {
      start: (t) => starts.push(t),
      update: (p, o) => {
        last = [p, o];
      },
    };
    // 512 + 512 pages mapped; the unmap of 6 MiB removes at most the 1024 mapped; 2 DMAs; phases are no ops
    replay([MMAP_8M, phase('boot'), map(0n, M2), map(M2, M2), dma(0n, 1), unmap(0n, 0x600000n), dma(0n, 1)], { progress: sink });
    expect(starts).toEqual([{ pages: 2048, ops: 5 }]);
    // fewer than 1024 pins and ops: no update reaches the sink (it reports every 1024)
    expect(last).toEqual([0, 0]);
  });
});

describe('replay refuses what the machine cannot be', () => {
  const err = (lines: readonly string[], header = HEADER): string => {
    try {
      replay(lines, {}, header);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as Error).message;
    }
    throw new Error('replayed');
  };
  it('test_unknown_device_and_moved_mmap', () => {
    expect(err([MMAP_8M, dma(0n, 1, 257)])).toBe("f.jsonl:3: dma device 257 is not one of the machine's devices (256)");
    expect(err([MMAP_8M, dma(0n, 1, 2)], HEADER.replace('"profile":"v4.17"', '"profile":"v4.17","groups":2'))).toBe(
      "f.jsonl:3: dma device 2 is not one of the machine's devices (256, 257)",
    );
    expect(err([`{"op":"mmap","size":"0x800000","vaddr":"${hex(VA + M2)}"}`])).toBe(
      `f.jsonl:2: mmap returned ${hex(VA)}, the record says ${hex(VA + M2)}; the process layout differs`,
    );
  });

  it('test_mmap_failures_name_the_host', () => {
    // 4 GiB of host: an 8 GiB mmap cannot be backed
    expect(err(['{"op":"mmap","size":"0x200000000"}'], HEADER.replace('"profile":"v4.17"', '"profile":"v4.17","hostMemory":"4G"'))).toMatch(
      /^f\.jsonl:2: mmap of 0x200000000 bytes \(thp\) failed: .* \(machine\.hostMemory is 4294967296 bytes\)$/,
    );
    // a hugetlbfs length that is not a multiple of the huge page: EINVAL, no host size
    expect(err(['{"op":"mmap","size":"0x1000","backing":"hugetlb-2m"}'])).toBe(
      'f.jsonl:2: mmap of 0x1000 bytes (hugetlb-2m) failed: EINVAL: hugetlbfs length must be a multiple of the huge page size (hugetlb-2m), mmap',
    );
  });
});

describe('replay trace', () => {
  it('test_qemu_track_and_memory_counters', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-er-'));
    const traced = (detail: number) => {
      const file = join(dir, `t${detail}.json`);
      replay([MMAP_8M, phase('boot'), map(0n, M2), map(0n, M2), dma(0x1000n, 2), dma(M2, 1), unmap(0n, M2)], {
        trace: { file, standalone: true, pid: 1, detail },
      });
      const t = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: ChromeEvent[]; metadata: { detail: string } };
      // the file names its detail level
      expect(t.metadata.detail).toBe(detail === TRACE_ALL ? 'all' : 'iommu');
      return t.traceEvents;
    };
    const all = traced(TRACE_ALL);
    const qemu = all.filter((e) => e.cat === 'qemu').map((e) => [e.ph, e.name, e.args ?? null]);
    expect(qemu).toEqual([
      ['B', 'boot', null],
      ['B', 'VFIO_IOMMU_MAP_DMA', { iova: '0x0', size: '0x200000' }],
      ['E', 'VFIO_IOMMU_MAP_DMA', {}],
      ['B', 'VFIO_IOMMU_MAP_DMA', { iova: '0x0', size: '0x200000' }],
      ['E', 'VFIO_IOMMU_MAP_DMA', { errno: 'EEXIST' }],
      ['B', 'dma', { device: 256, iova: '0x1000', pages: 2 }],
      ['E', 'dma', {}],
      ['B', 'dma', { device: 256, iova: '0x200000', pages: 1 }],
      ['E', 'dma', { fault: true }],
      ['B', 'VFIO_IOMMU_UNMAP_DMA', { iova: '0x0', size: '0x200000' }],
      ['E', 'VFIO_IOMMU_UNMAP_DMA', { size: '0x200000' }],
      ['E', 'boot', null],
    ]);
    // at 'all', after each ioctl (not a DMA or a phase) the pinned pages and the page tables
    const counters = all.filter((e) => e.ph === 'C').map((e) => [e.name, e.args]);
    expect(counters.map((c) => c[0])).toEqual([
      'pinned pages',
      'page tables',
      'pinned pages',
      'page tables',
      'pinned pages',
      'page tables',
    ]);
    expect(counters.filter((c) => c[0] === 'pinned pages').map((c) => c[1])).toEqual([{ pages: 512 }, { pages: 512 }, { pages: 0 }]);
    for (const c of counters.filter((x) => x[0] === 'page tables')) expect(Object.keys(c[1] as object)).toEqual(['tables']);
    // below 'all': no counters; the ioctl slices are the same
    const iommu = traced(TRACE_IOMMU);
    expect(iommu.filter((e) => e.ph === 'C')).toEqual([]);
    expect(iommu.filter((e) => e.cat === 'qemu').map((e) => [e.ph, e.name, e.args ?? null])).toEqual(qemu);
  });
});

describe('replay results from the machine', () => {
  it('test_metrics_read_from_driver_container_and_sim', () => {
    const lines = [MMAP_8M, phase('boot'), map(0n, 4n * M2), dma(0n, 4), unmap(0n, 4n * M2)];
    const amd = replay(lines).result;
    const cmds = amd.commands!;
    // AMD-Vi: invalidations and completion waits are the commands the driver queued
    expect(amd.metrics.invalidations).toBe((cmds.INVALIDATE_IOMMU_PAGES ?? 0) + (cmds.INVALIDATE_IOMMU_ALL ?? 0));
    expect(amd.metrics.completionWaits).toBe(cmds.COMPLETION_WAIT);
    expect(amd.metrics.invalidations).toBeGreaterThan(0);
    // the container's stats as plain JSON, and the counters the metrics copy
    const raw = amd.vfioStats as { syncs: number; unmapUnpinCalls: number };
    expect([raw.syncs, raw.unmapUnpinCalls]).toEqual([amd.metrics.iotlbSyncs, amd.metrics.unmapCalls]);
    expect([amd.metrics.pins, amd.metrics.unpins, amd.metrics.pteWrites, amd.metrics.dmaPages]).toEqual([
      amd.counters.pins,
      amd.counters.unpins,
      amd.counters.pteWrites,
      amd.counters.dmaPages,
    ]);
    expect(amd.metrics.pins).toBe(2048);
    expect([amd.metrics.pteClears, amd.metrics.iotlbHits, amd.metrics.iotlbMisses, amd.metrics.tableFrees]).toEqual([
      amd.counters.pteClears,
      amd.counters.iotlbHits ?? 0,
      amd.counters.iotlbMisses ?? 0,
      amd.counters.tableFrees ?? 0,
    ]);
    expect(amd.metrics.pteClears).toBeGreaterThan(0);
    expect(amd.metrics.iotlbMisses).toBeGreaterThan(0);
    // RAM present at mmap (no populate field): no page faults; populate false: the first pin faults in
    // each 2 MiB THP once
    expect(amd.counters.pageFaults ?? 0).toBe(0);
    const lazy = replay(['{"op":"mmap","size":"0x800000","populate":false}', ...lines.slice(1)]).result;
    expect(lazy.counters.pageFaults).toBe(4);
    expect(amd.metrics.dmaPages).toBe(4);
    // v4.17 gathers the whole unmap before one sync: all 8 MiB wait for their unpin at once
    expect(amd.metrics.peakPinnedAfterUnmapBytes).toBe(8 << 20);
    expect(amd.metrics.pinnedAfterUnmapMaxNs).toBeGreaterThan(0);
    expect(amd.metrics.pinnedAfterUnmapMeanNs).toBeGreaterThan(0);
    expect(amd.metrics.pinnedAfterUnmapMeanNs).toBeLessThanOrEqual(amd.metrics.pinnedAfterUnmapMaxNs);
    expect(amd.metrics.modeledNs).toBeGreaterThan(amd.metrics.phaseNs.boot!);
    // a replayed stream without a scenario has no layout
    expect(amd.layout).toEqual([]);
    // the reference driver queues no commands: its own counters say what it invalidated
    const ref = replay(
      lines.map((l) => l.replace('"device":256', '"device":1')),
      {},
      HEADER.replace('"profile":"v4.17"', '"profile":"v4.17","driver":"reference"'),
    ).result;
    expect(ref.commands).toBeNull();
    expect([ref.metrics.invalidations, ref.metrics.completionWaits]).toEqual([
      ref.counters.invalidations ?? 0,
      ref.counters.completionWaits ?? 0,
    ]);
    expect(ref.metrics.invalidations).toBeGreaterThan(0);
  });

  it('test_progress_reports_from_the_executor', () => {
    const updates: [number, number][] = [];
    const sink: ProgressSink = { start: () => {}, update: (p, o) => updates.push([p, o]) };
    // one 2 MiB map of a THP (one pin call, 512 pages), then 1100 DMAs: the pin, the map's line and
    // 1022 DMA lines are the 1024 events of the first report
    const lines = [MMAP_8M, map(0n, M2)];
    for (let i = 0; i < 1100; i++) lines.push(dma(0n, 1));
    lines.push(unmap(0n, M2));
    replay(lines, { progress: sink });
    expect(updates[0]).toEqual([512, 1023]);
  });

  it('test_without_line_numbers_or_file', () => {
    // a caller that gives no file lines: line 0 in a mismatch, '?' in an error, 'replay' for the file
    const p = parseReplay([HEADER, MMAP_8M, map(0n, M2, ',"ret":-1'), dma(0n, 1, 999)].join('\n'), 'f.jsonl');
    expect(() => replayCase(p.header, p.lines, 'x')).toThrow(/^replay:\?: dma device 999 is not one of the machine's devices \(256\)$/);
    const q = parseReplay([HEADER, MMAP_8M, map(0n, M2, ',"ret":-1')].join('\n'), 'f.jsonl');
    expect(replayCase(q.header, q.lines, 'x').result.mismatches!.map((m) => m.line)).toEqual([0]);
  });

  it('test_a_failed_replay_removes_its_trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-er-'));
    const file = join(dir, 'gone.json');
    expect(() => replay([MMAP_8M, map(0n, M2), dma(0n, 1, 999)], { trace: { file, standalone: true, pid: 1, detail: TRACE_ALL } })).toThrow(
      /dma device 999 is not one of the machine's devices/,
    );
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('replay of a BAR', () => {
  it('test_bar_pages_never_wait_for_an_unpin', () => {
    // guest RAM, then a 2 MiB BAR mmap (placed 1 GiB-aligned after a 1 GiB gap: VA + 2 GiB)
    const BAR = VA + (2n << 30n);
    const lines = [
      MMAP_8M,
      `{"op":"mmap","name":"gpu.bar0","size":"0x200000","backing":"mmio","vaddr":"${hex(BAR)}"}`,
      `{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"${hex(BAR + 0x1000n)}","iova":"0x40001000","size":"0x1000"},"ret":0}`,
      unmap(0x40001000n, 0x1000n, ',"ret":0'),
    ];
    // a BAR's pages are not pinned: unmapping it leaves nothing waiting for an unpin
    const bar = replay(lines).result;
    expect([bar.metrics.ioctlErrors, bar.metrics.pins, bar.metrics.peakPinnedAfterUnmapBytes]).toEqual([0, 0, 0]);
    // RAM mapped at that IOVA afterwards is RAM again: its pages wait for their unpin
    const ram = replay([...lines, map(0n, 0x1000n).replace('"iova":"0x0"', '"iova":"0x40001000"'), unmap(0x40001000n, 0x1000n)]).result;
    expect(ram.metrics.ioctlErrors).toBe(0);
    expect(ram.metrics.peakPinnedAfterUnmapBytes).toBe(4096);
    // an unmap that fails (EINVAL: not page-aligned) leaves the BAR mapped and its IOVA an MMIO
    // range: the unmap that then removes it leaves nothing waiting either
    const kept = replay([...lines.slice(0, 3), unmap(0x40001000n, 0x1001n), lines[3]!]).result;
    expect([kept.metrics.ioctlErrors, kept.metrics.peakPinnedAfterUnmapBytes]).toEqual([1, 0]);
  });
});

describe('replay DMA direction', () => {
  it('test_a_write_to_a_read_only_mapping_faults', () => {
    const ro = `{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"flags":1,"vaddr":"${hex(VA)}","iova":"0x0","size":"0x200000"}}`;
    const write = '{"op":"dma","device":256,"iova":"0x0","pages":1,"dir":"write"}';
    const r = replay([MMAP_8M, ro, dma(0n, 1), write]).result;
    // the read goes through; the write (line 5) is refused by the IOMMU
    expect(r.dmaFaults!.map((f) => [f.line, f.dir])).toEqual([[5, 'write']]);
    expect(r.metrics.dmaPages).toBe(1);
  });
});
