// The --trace size estimate, from the rules it documents (src/report/trace-size.ts), worked out by
// hand for small replayed streams: 8 metadata events a case; a phase or a DMA 2; an ioctl 4 (its qemu
// and vfio slices), 6 at 'all' (the memory counters); at 'iommu' and above 4 per contiguous run a
// MAP_DMA pins and maps, 4 per run an UNMAP_DMA removes, and 3 per sync of up to tlbSyncMax regions
// (2 per region on the slow path instead). A run of a scenario is estimated like the replay of its
// own record. 116 bytes an event.

import { TRACE_ALL, TRACE_IOCTL, TRACE_IOMMU } from '@x/iommu-core';
import { describe, expect, it } from 'vitest';
import { parseReplay } from '../src/engine/record.js';
import { runCase } from '../src/engine/run.js';
import { estimateTrace } from '../src/report/trace-size.js';
import { defaultScenario, type Scenario } from '../src/scenario/scenario.js';
import type { Task } from '../src/task.js';

const hex = (v: bigint) => `0x${v.toString(16)}`;
const VA = 0x7f0000000000n;
const M2 = 0x200000n;
const G1 = 0x40000000n;
const map = (vaddr: bigint, iova: bigint, size: bigint) =>
  `{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"${hex(vaddr)}","iova":"${hex(iova)}","size":"${hex(size)}"}}`;
const unmap = (iova: bigint, size: bigint) =>
  `{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"${hex(iova)}","size":"${hex(size)}"}}`;
const mmap = (size: bigint, backing = 'thp', vaddr?: bigint) =>
  `{"op":"mmap","size":"${hex(size)}","backing":"${backing}"${vaddr === undefined ? '' : `,"vaddr":"${hex(vaddr)}"`}}`;
const DMA = '{"op":"dma","device":256,"iova":"0x0","pages":1,"dir":"read"}';
const PHASE = '{"op":"phase","name":"boot"}';

/** A replay task of these lines under a header with this machine (JSON fields). */
function replayTask(lines: readonly string[], machine = '"profile":"v4.17"'): Task {
  const p = parseReplay([`{"op":"header","format":"vfio-sim-replay","version":1,"machine":{${machine}}}`, ...lines].join('\n'), 'f');
  return { kind: 'replay', label: 'x', header: p.header, lines: p.lines, lineNos: p.lineNos, file: 'f', trace: true };
}
const events = (lines: readonly string[], detail: number, machine?: string) => estimateTrace([replayTask(lines, machine)], detail).events;

describe('trace size of a replayed stream', () => {
  it('test_events_at_each_detail', () => {
    const lines = [mmap(8n * M2), PHASE, map(VA, 0n, M2), DMA, unmap(0n, M2)];
    // metadata 8, phase 2, two ioctls 4 each, a DMA 2
    expect(events(lines, TRACE_IOCTL)).toBe(8 + 2 + 4 + 2 + 4);
    // one THP: one run mapped (4) and unmapped (4), one sync (3)
    expect(events(lines, TRACE_IOMMU)).toBe(20 + 4 + 4 + 3);
    // and the memory counters after each ioctl
    expect(events(lines, TRACE_ALL)).toBe(31 + 2 + 2);
    expect(estimateTrace([replayTask(lines)], TRACE_ALL)).toEqual({ events: 35, bytes: 35 * 116 });
    // two cases: the sum
    expect(estimateTrace([replayTask(lines), replayTask(lines)], TRACE_ALL)).toEqual({ events: 70, bytes: 70 * 116 });
    expect(estimateTrace([], TRACE_ALL)).toEqual({ events: 0, bytes: 0 });
  });

  it('test_runs_per_backing', () => {
    // map only, at iommu detail: 8 + 4 + 4 per run
    const runsOf = (backing: string, vaddr: bigint, iova: bigint, size: bigint, machine?: string) =>
      (events([mmap(4n * G1, backing), map(vaddr, iova, size)], TRACE_IOMMU, machine) - 12) / 4;
    // huge pages: one run per 2 MiB (or 1 GiB) the range touches
    expect(runsOf('thp', VA, 0n, M2)).toBe(1);
    expect(runsOf('thp', VA, 0x100000n, 2n * M2)).toBe(3);
    expect(runsOf('hugetlb-2m', VA, 0n, 4n * M2)).toBe(4);
    expect(runsOf('hugetlb-1g', VA, 0n, 2n * G1)).toBe(2);
    expect(runsOf('hugetlb-1g', VA, G1 - M2, 2n * M2)).toBe(2);
    // a BAR: one run per 1 GiB at most
    expect(runsOf('mmio', VA, 0n, 4n * M2)).toBe(1);
    // 4 KiB pages: every page its own run on an aged host (age 1), of 512 pages and 1 huge page the
    // shares 1 - (1 - age)^2 and (1 - age)^2 at another age, rounded up
    expect(runsOf('4k', VA, 0n, M2)).toBe(512);
    expect(runsOf('4k', VA, 0n, M2, '"profile":"v4.17","hostAge":0.5')).toBe(Math.ceil(512 * 0.75 + 0.25));
    expect(runsOf('4k', VA, 0n, M2, '"profile":"v4.17","hostAge":0')).toBe(1);
    // fragmented:<p>: p of the pages scattered (0.5 when not given)
    expect(runsOf('fragmented:0.25', VA, 0n, M2)).toBe(Math.ceil(512 * 0.25 + 0.75));
    expect(runsOf('fragmented', VA, 0n, 2n * M2)).toBe(Math.ceil(1024 * 0.5 + 2 * 0.5));
  });

  it('test_areas_placed_as_mmap_places_them', () => {
    // an mmap without a vaddr goes 1 GiB-aligned after a 1 GiB gap: the second 8 MiB (4 KiB pages)
    // at VA + 2 GiB; a map there has 4 KiB runs, one in the first area a THP
    const lines = [mmap(4n * M2), mmap(4n * M2, '4k')];
    const second = VA + 2n * G1;
    expect(events([...lines, map(second, 0n, M2)], TRACE_IOMMU)).toBe(12 + 4 * 512);
    expect(events([...lines, map(VA, 0n, M2)], TRACE_IOMMU)).toBe(12 + 4);
    // the gap is counted from the end of the area rounded up to 1 GiB
    expect(events([mmap(G1 + M2), mmap(M2, '4k'), map(VA + 3n * G1, 0n, 0x1000n)], TRACE_IOMMU)).toBe(12 + 4);
    // an area ending exactly on a 1 GiB line: the gap starts there, the next area 1 GiB later
    expect(events([mmap(G1), mmap(M2, '4k'), map(VA + 2n * G1, 0n, M2)], TRACE_IOMMU)).toBe(12 + 4 * 512);
    // a map is in the area that holds its vaddr: not one that starts above it, not one that ends at it
    expect(events([mmap(M2, '4k', VA + 8n * G1), mmap(M2, 'thp', VA), map(VA, 0n, M2)], TRACE_IOMMU)).toBe(12 + 4);
    expect(events([mmap(M2, '4k'), map(VA + M2, 0n, M2)], TRACE_IOMMU, '"profile":"v4.17","backing":"thp"')).toBe(12 + 4);
    // an mmap with its vaddr is there, and the next one placed after it
    const at = VA + 8n * G1;
    expect(events([mmap(M2, '4k', at), mmap(M2, '4k'), map(at, 0n, M2), map(at + 2n * G1, M2, M2)], TRACE_IOMMU)).toBe(
      8 + 4 + 4 * 512 + 4 + 4 * 512,
    );
    // a map in no area: the header's backing (4 KiB pages at age 1: a run per page)
    expect(events([map(VA, 0n, M2)], TRACE_IOMMU, '"profile":"v4.17","backing":"4k"')).toBe(12 + 4 * 512);
    expect(events([map(VA, 0n, M2)], TRACE_IOMMU, '"profile":"v4.17","backing":"thp"')).toBe(12 + 4);
  });

  it('test_unmaps_count_the_runs_they_remove', () => {
    // three THPs mapped apart, one UNMAP_DMA over all: 3 runs, one sync of 3 regions
    const maps = [mmap(8n * M2), map(VA, 0n, M2), map(VA + M2, M2, M2), map(VA + 2n * M2, 2n * M2, M2)];
    const base = 8 + 3 * (4 + 4);
    expect(events([...maps, unmap(0n, 3n * M2)], TRACE_IOMMU)).toBe(base + 4 + 3 * 4 + 3);
    // syncs of at most tlbSyncMax regions
    expect(events([...maps, unmap(0n, 3n * M2)], TRACE_IOMMU, '"profile":"v4.17","container":{"tlbSyncMax":2}')).toBe(
      base + 4 + 3 * 4 + 2 * 3,
    );
    // the slow path (v4.16, or unmapPath slow): a flush per region
    expect(events([...maps, unmap(0n, 3n * M2)], TRACE_IOMMU, '"profile":"v4.16"')).toBe(base + 4 + 3 * 4 + 3 * 2);
    expect(events([...maps, unmap(0n, 3n * M2)], TRACE_IOMMU, '"profile":"v4.17","container":{"unmapPath":"slow"}')).toBe(
      base + 4 + 3 * 4 + 3 * 2,
    );
    expect(events([...maps, unmap(0n, 3n * M2)], TRACE_IOMMU, '"profile":"v4.16","container":{"unmapPath":"fast"}')).toBe(
      base + 4 + 3 * 4 + 3,
    );
    // only what starts inside the range, and once: the second unmap finds nothing left
    expect(events([...maps, unmap(M2, M2), unmap(M2, 2n * M2)], TRACE_IOMMU)).toBe(base + (4 + 4 + 3) + (4 + 4 + 3));
    expect(events([...maps, unmap(M2, M2), unmap(M2, M2)], TRACE_IOMMU)).toBe(base + (4 + 4 + 3) + 4);
    // the map at the range's end is not in it
    expect(events([...maps, unmap(0n, M2)], TRACE_IOMMU)).toBe(base + 4 + 4 + 3);
    // below iommu detail: the ioctl's slices only
    expect(events([...maps, unmap(0n, 3n * M2)], TRACE_IOCTL)).toBe(8 + 4 * 4);
  });
});

describe('trace size of a run', () => {
  /** A run and the replay of its record: the same ops, the same backing. */
  const both = (s: Scenario, detail: number) => {
    const rec = runCase(s, 'x', { record: true }).record!;
    const p = parseReplay(rec.join('\n'), 'r');
    const replay: Task = { kind: 'replay', label: 'x', header: p.header, lines: p.lines, lineNos: p.lineNos, file: 'r', trace: true };
    const run: Task = { kind: 'run', label: 'x', scenario: s, trace: true, record: false };
    return [estimateTrace([run], detail).events, estimateTrace([replay], detail).events];
  };
  const scenario = (change: (s: Scenario) => void) => {
    const s = defaultScenario();
    s.guest = { ...s.guest, memory: '1G' };
    s.host = { ...s.host, age: 1 };
    change(s);
    return s;
  };

  it('test_a_run_is_estimated_as_its_record', () => {
    for (const detail of [TRACE_IOCTL, TRACE_IOMMU, TRACE_ALL]) {
      // a SeaBIOS boot (ROMs, BARs, RAM remapped in pieces), then the DMA and the shutdown
      const [run, rec] = both(
        scenario(() => {}),
        detail,
      );
      expect(run).toBe(rec);
      expect(run).toBeGreaterThan(8);
    }
    const slow = both(
      scenario((s) => {
        s.profile = 'v4.16';
        s.host = { ...s.host, backing: '4k' };
      }),
      TRACE_IOMMU,
    );
    expect(slow[0]).toBe(slow[1]);
    const churn = both(
      scenario((s) => {
        s.workload = 'churn';
        s.churn = { ops: 20, maxPages: 64, live: 4 };
        s.vfio = { ...s.vfio, tlbSyncMax: 3 };
      }),
      TRACE_ALL,
    );
    expect(churn[0]).toBe(churn[1]);
  });
});
