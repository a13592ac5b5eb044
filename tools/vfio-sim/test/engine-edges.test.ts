// The executor at its edges, in process: what a case keeps when nobody traces it, what a traced
// case does when a call fails or its share of --trace-max runs out, what surfaces when the model
// itself throws (not an errno), and the bookkeeping a BAR, a failed map or a populate setting can
// get wrong. Machines are reached through CaseOptions.onMachine; expected values are worked out
// here from the lines given, not read back from the engine.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRACE_ALL } from '@x/iommu-core';
import { describe, expect, it } from 'vitest';
import { parseReplay } from '../src/engine/record.js';
import { replayCase, runCase, type CaseOptions, type CaseOutput } from '../src/engine/run.js';
import type { Machine } from '../src/engine/machine.js';
import type { ProgressSink } from '../src/engine/progress-meter.js';
import { defaultScenario, type Scenario } from '../src/scenario/scenario.js';
import { UsageError } from '../src/errors.js';
import type { ChromeEvent } from '../src/report/perfetto.js';

const HEADER = '{"op":"header","format":"vfio-sim-replay","version":1,"machine":{"profile":"v4.17"}}';
const MMAP_8M = '{"op":"mmap","size":"0x800000"}';
const VA = 0x7f0000000000n;
const M2 = 0x200000n;
const hex = (v: bigint) => `0x${v.toString(16)}`;
const map = (vaddr: bigint, iova: bigint, size: bigint, result = '') =>
  `{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"${hex(vaddr)}","iova":"${hex(iova)}","size":"${hex(size)}"}${result}}`;
const unmap = (iova: bigint, size: bigint, result = '') =>
  `{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"${hex(iova)}","size":"${hex(size)}"}${result}}`;
const dma = (iova: bigint, pages: number) => `{"op":"dma","device":256,"iova":"${hex(iova)}","pages":${pages},"dir":"read"}`;
const phase = (name: string) => `{"op":"phase","name":"${name}"}`;
const bar = (size: bigint) => `{"op":"mmap","name":"gpu.bar0","size":"${hex(size)}","backing":"mmio"}`;

function replay(lines: readonly string[], opts: CaseOptions = {}, header = HEADER): CaseOutput {
  const p = parseReplay([header, ...lines].join('\n'), 'f.jsonl');
  return replayCase(p.header, p.lines, 'x', opts, p.lineNos, 'f.jsonl');
}
/** The default scenario with a 1 GiB guest and these changes. */
function scenario(change: (s: Scenario) => void = () => {}): Scenario {
  const s = defaultScenario();
  s.guest = { ...s.guest, memory: '1G' };
  change(s);
  return s;
}
/** What `f` throws (undefined if nothing). */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('a case nobody traces', () => {
  // the sim's tracer keeps events in memory when it has no sink: an untraced case that emitted
  // anyway would hold one per ioctl, DMA and phase (a 1 TiB guest's run: millions)
  it('test_keeps_no_trace_events', () => {
    let run: Machine | null = null;
    const out = runCase(scenario(), 'x', { onMachine: (m) => (run = m) });
    expect(out.result.metrics.mapIoctls).toBeGreaterThan(0);
    expect([run!.sim.trace.on, run!.sim.trace.events.length]).toEqual([false, 0]);
    // a replay with every kind of line, a failing map, a faulting DMA and a failing unmap
    let rep: Machine | null = null;
    const r = replay(
      [MMAP_8M, phase('boot'), map(VA, 0n, M2), map(VA, 0n, M2), dma(0n, 1), dma(M2, 1), unmap(0n, 0x1001n), unmap(0n, M2), phase('end')],
      { onMachine: (m) => (rep = m) },
    );
    expect([r.result.metrics.ioctlErrors, r.result.metrics.ioPageFaults]).toEqual([2, 1]);
    expect([rep!.sim.trace.on, rep!.sim.trace.events.length]).toEqual([false, 0]);
  });
});

describe('a traced case', () => {
  it('test_failed_unmap_in_the_trace_and_the_record', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-edges-'));
    const file = join(dir, 't.json');
    // EINVAL: the size is not a multiple of the IOMMU page
    const out = replay([MMAP_8M, map(VA, 0n, M2), unmap(0n, 0x1001n), unmap(0n, M2)], {
      trace: { file, standalone: true, pid: 1, detail: TRACE_ALL },
      record: true,
    });
    const t = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: ChromeEvent[] };
    const ends = t.traceEvents.filter((e) => e.cat === 'qemu' && e.ph === 'E' && e.name === 'VFIO_IOMMU_UNMAP_DMA').map((e) => e.args);
    expect(ends).toEqual([{ errno: 'EINVAL' }, { size: '0x200000' }]);
    // the memory counters are on their own track
    const counters = t.traceEvents.filter((e) => e.ph === 'C');
    expect(counters.length).toBe(6);
    expect(new Set(counters.map((e) => e.cat))).toEqual(new Set(['memory']));
    // the record a replay writes: a failed call has its errno and neither ret nor sizeOut
    const rec = out.record!.filter((l) => l.includes('UNMAP')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rec.map((l) => [l.errno ?? null, l.ret ?? null, l.sizeOut ?? null])).toEqual([
      ['EINVAL', null, null],
      [null, 0, '0x200000'],
    ]);
  });

  // the writer drops what comes after its share; the tracer stops too, so the rest of the case
  // builds no events at all
  it('test_cut_at_its_share_stops_the_tracer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-edges-'));
    let m: Machine | null = null;
    const out = runCase(scenario(), 'x', {
      trace: { file: join(dir, 'cut.json'), standalone: true, pid: 1, detail: TRACE_ALL, maxBytes: 4096 },
      onMachine: (x) => (m = x),
    });
    expect(out.trace!.cut).toBe(true);
    expect(out.trace!.bytes).toBeLessThanOrEqual(4096);
    expect(m!.sim.trace.on).toBe(false);
    // the file is whole JSON and names the case it cut
    const t = JSON.parse(readFileSync(join(dir, 'cut.json'), 'utf8')) as { metadata: { cut: string } };
    expect(t.metadata.cut).toBe('at --trace-max: x');
  });
});

describe('the model throws', () => {
  it('test_an_error_without_an_errno_surfaces_as_it_is', () => {
    const boom = new Error('boom');
    const ioctl = thrown(() =>
      runCase(scenario(), 'x', {
        onMachine: (m) => {
          m.container.ioctl = () => {
            throw boom;
          };
        },
      }),
    );
    expect(ioctl).toBe(boom);
    const mmap = thrown(() =>
      runCase(scenario(), 'x', {
        onMachine: (m) => {
          m.proc.mmap = () => {
            throw boom;
          };
        },
      }),
    );
    expect(mmap).toBe(boom);
    const replayed = thrown(() =>
      replay([MMAP_8M], {
        onMachine: (m) => {
          m.proc.mmap = () => {
            throw boom;
          };
        },
      }),
    );
    expect(replayed).toBe(boom);
  });

  it('test_a_host_that_cannot_back_the_ram', () => {
    // the host's frames taken before the guest's RAM is mapped: ENOMEM, said of the RAM
    const full = thrown(() =>
      runCase(
        scenario((s) => {
          s.host = { ...s.host, memory: '2G', backing: '4k' };
        }),
        'x',
        { onMachine: (m) => void m.proc.mmap(2n << 30n, { backing: '4k' }) },
      ),
    ) as UsageError;
    expect(full).toBeInstanceOf(UsageError);
    expect(full.option).toBe('--host-memory');
    expect(full.detail).toMatch(/^the host cannot back the guest's RAM: ENOMEM: needs 262144 frames, host has \d+ free, mmap$/);
    // an mmap that fails EINVAL (a hugetlbfs length) is a usage error too
    const inval = thrown(() =>
      runCase(scenario(), 'x', {
        onMachine: (m) => {
          m.proc.mmap = () => {
            throw Object.assign(new Error('EINVAL: length'), { code: 'EINVAL' });
          };
        },
      }),
    ) as UsageError;
    expect([inval.option, inval.detail]).toEqual(['--host-memory', "the host cannot back the guest's RAM: EINVAL: length"]);
    // any other errno is not the scenario's fault
    const other = Object.assign(new Error('EIO'), { code: 'EIO' });
    const eio = thrown(() =>
      runCase(scenario(), 'x', {
        onMachine: (m) => {
          m.proc.mmap = () => {
            throw other;
          };
        },
      }),
    );
    expect(eio).toBe(other);
  });
});

describe('DMA faults', () => {
  it('test_a_run_keeps_no_fault_records', () => {
    // every DMA of a run faulting (a run keeps no DMA fault records; a replay keeps 20)
    const out = runCase(scenario(), 'x', {
      onMachine: (m) => {
        (m.drv as { dma: Machine['drv']['dma'] }).dma = () => false;
      },
    });
    expect(out.result.metrics.dmaPages).toBe(0);
    expect(out.result.dmaFaults).toBeNull();
  });

  it('test_a_fault_the_driver_did_not_log', () => {
    // the fault's address is then the DMA's own, and its event a plain 'fault'
    const out = replay([MMAP_8M, dma(0x3000n, 2)], {
      onMachine: (m) => {
        (m.drv as { lastFault: Machine['drv']['lastFault'] }).lastFault = () => null;
      },
    });
    expect(out.result.dmaFaults).toEqual([
      { line: 3, device: 256, iova: '0x3000', pages: 2, dir: 'read', faultIova: '0x3000', event: 'fault' },
    ]);
  });
});

describe('pinned after unmap', () => {
  const BAR = VA + (2n << 30n); // the second mmap: 1 GiB-aligned after a 1 GiB gap

  it('test_a_failed_bar_map_leaves_the_iova_ram', () => {
    // RAM at IOVA 0; the BAR's map at the same IOVA fails (EEXIST) and must not make IOVA 0 MMIO
    const out = replay([MMAP_8M, bar(M2), map(VA, 0n, M2), map(BAR, 0n, M2, ',"errno":"EEXIST"'), unmap(0n, M2)]).result;
    expect([out.metrics.ioctlErrors, out.mismatches]).toEqual([1, []]);
    expect(out.metrics.peakPinnedAfterUnmapBytes).toBe(2 << 20);
  });

  it('test_bar_from_its_first_page_and_ram_after_a_bar', () => {
    // a BAR mapped from its first page is MMIO
    const first = replay([MMAP_8M, bar(M2), map(BAR, 0x40000000n, M2), unmap(0x40000000n, M2)]).result;
    expect([first.metrics.ioctlErrors, first.metrics.pins, first.metrics.peakPinnedAfterUnmapBytes]).toEqual([0, 0, 0]);
    // the BAR mmapped first (at VA), RAM after it (VA + 2 GiB): RAM above a BAR is not MMIO
    const after = replay([bar(M2), MMAP_8M, map(VA + (2n << 30n), 0n, M2), unmap(0n, M2)]).result;
    expect([after.metrics.ioctlErrors, after.metrics.pins, after.metrics.peakPinnedAfterUnmapBytes]).toEqual([0, 512, 2 << 20]);
  });

  it('test_a_map_that_fails_after_an_unmap_waits_for_nothing', () => {
    // 3 MiB of RLIMIT_MEMLOCK: the 8 MiB map pins and maps its first 2 MiB THP, then fails on the
    // limit and unwinds; that unwind's unmap and unpin are not an UNMAP_DMA's wait
    const header = HEADER.replace('"profile":"v4.17"', '"profile":"v4.17","memlockLimit":"3145728"');
    const lines = [MMAP_8M, map(VA, 0n, 0x1000n), unmap(0n, 0x1000n), map(VA, 0n, 4n * M2)];
    const out = replay(lines, {}, header).result;
    expect(out.errorSamples.map((e) => e.code)).toEqual(['ENOMEM']);
    expect(out.metrics.unpins).toBe(out.metrics.pins);
    expect(out.metrics.pins).toBeGreaterThan(1);
    expect(out.metrics.peakPinnedAfterUnmapBytes).toBe(4096);
    expect(out.metrics.pinnedAfterUnmapMaxNs).toBe(replay(lines.slice(0, 3), {}, header).result.metrics.pinnedAfterUnmapMaxNs);
  });
});

describe('progress from the executor', () => {
  it('test_pages_and_lines_at_each_report', () => {
    // 600 maps of 4 KiB, then 600 unmaps of them: each is one pin (or unpin) call of one page and
    // one line, two of the meter's 1024-event ticks; the reports come at lines 512 and 1024, with
    // every page of the lines done counted
    const updates: [number, number][] = [];
    let total: unknown = null;
    const sink: ProgressSink = { start: (t) => (total = t), update: (p, o) => updates.push([p, o]) };
    const lines = [MMAP_8M];
    for (let i = 0n; i < 600n; i++) lines.push(map(VA + i * 0x1000n, i * 0x1000n, 0x1000n));
    for (let i = 0n; i < 600n; i++) lines.push(unmap(i * 0x1000n, 0x1000n));
    const out = replay(lines, { progress: sink }).result;
    expect([out.metrics.pins, out.metrics.unpins, out.metrics.ioctlErrors]).toEqual([600, 600, 0]);
    expect(total).toEqual({ pages: 1200, ops: 1200 });
    expect(updates).toEqual([
      [512, 512],
      [1024, 1024],
    ]);
  });
});

describe('what a run maps', () => {
  it('test_populate_is_guest_ram_only', () => {
    // populate off: each 2 MiB THP of the 1 GiB guest faults in once, at its first pin; the ROMs
    // (4 KiB pages) are present from their mmap either way
    const lazy = runCase(
      scenario((s) => {
        s.host = { ...s.host, populate: false };
      }),
      'x',
    ).result;
    expect(lazy.counters.pageFaults).toBe((1 << 30) / (2 << 20));
    const present = runCase(scenario(), 'x').result;
    expect(present.counters.pageFaults ?? 0).toBe(0);
  });

  it('test_table_frees_reported', () => {
    const out = runCase(scenario(), 'x').result;
    expect(out.counters.tableFrees).toBeGreaterThan(0);
    expect(out.metrics.tableFrees).toBe(out.counters.tableFrees);
  });
});

describe('replay without line numbers', () => {
  it('test_first_line_mismatch_is_line_0', () => {
    // no mmap: the map's vaddr is nobody's (EFAULT) where the record says it worked
    const p = parseReplay([HEADER, map(VA, 0n, M2, ',"ret":0')].join('\n'), 'f.jsonl');
    const out = replayCase(p.header, p.lines, 'x').result;
    expect(out.mismatches!.map((m) => [m.line, m.replayed.errno])).toEqual([[0, 'EFAULT']]);
  });
});
