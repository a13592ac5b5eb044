// runCase in process on small guests: the machine a run records in its header (RLIMIT_MEMLOCK by
// libvirt's rule plus the churn buffers, host age only when not 1), the mmap lines it writes for
// RAM, ROMs and BARs, a host that cannot back a ROM, and the totals its progress starts from. The
// expected values are computed here from the scenario, not read back from the engine.

import { describe, expect, it } from 'vitest';
import { parseReplay } from '../src/engine/record.js';
import { replayCase, runCase } from '../src/engine/run.js';
import type { ProgressSink } from '../src/engine/progress-meter.js';
import { defaultScenario, resolveScenario, type Scenario } from '../src/scenario/scenario.js';
import { UsageError } from '../src/errors.js';

const GIB = 1n << 30n;
const VA = 0x7f0000000000n;

/** The default scenario with a 1 GiB guest and these changes (one level deep). */
function scenario(change: (s: Scenario) => void): Scenario {
  const s = defaultScenario();
  s.guest = { ...s.guest, memory: '1G' };
  change(s);
  return s;
}
const recordOf = (s: Scenario) => runCase(s, 'lbl', { record: true }).record!.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('what a run records', () => {
  it('test_header_machine_from_the_scenario', () => {
    const s = scenario((x) => {
      x.seed = 5;
      x.workload = 'churn';
      x.churn = { ops: 4, maxPages: 16, live: 3 };
      x.host = { ...x.host, memory: '3G', backing: '4k', age: 1 };
      x.guest = { ...x.guest, firmware: 'none' };
      x.vfio = { tlbSyncMax: 7, unmapPath: 'fast', disableHugepages: true, dmaEntryLimit: 99 };
      x.iommu = { iotlbEntries: 32, superpages: false };
      x.driver = 'reference';
      x.profile = 'v5.4';
      x.groups = 2;
      x.devices = 3;
      x.cost = { pins: 9 };
    });
    const [h] = recordOf(s);
    expect(h).toEqual({
      op: 'header',
      format: 'vfio-sim-replay',
      version: 1,
      label: 'lbl',
      machine: {
        hostMemory: String(3n * GIB),
        seed: 5,
        backing: '4k',
        // host age 1: left out (records from before host age existed ran with 1)
        hardware: 'lizhe-2025',
        cost: { pins: 9 },
        driver: 'reference',
        profile: 'v5.4',
        iotlbEntries: 32,
        superpages: false,
        groups: 2,
        devices: 3,
        // guest RAM + 1 GiB, and the churn's live buffers charged again: 3 x 16 pages
        memlockLimit: String(GIB + GIB + 3n * 16n * 4096n),
        capIpcLock: false,
        container: { tlbSyncMax: 7, unmapPath: 'fast', disableHugepages: true, dmaEntryLimit: 99 },
      },
      scenario: s,
    });
    // the default host age is written
    const [d] = recordOf(scenario(() => {}));
    expect((d!.machine as { hostAge?: number }).hostAge).toBe(0.02);
  });

  it('test_mmap_lines_for_ram_roms_and_bars', () => {
    const boot = recordOf(scenario((x) => (x.host = { ...x.host, populate: false })));
    const mmaps = boot.filter((l) => l.op === 'mmap');
    // RAM first, with no name and populate written only when false; then the ROMs (4 KiB pages) and
    // the GPU's BARs (MMIO); each area where the process's mmap put it: 1 GiB-aligned, a 1 GiB gap
    // above the last (README "Replay format")
    expect(mmaps.map((l) => [l.name ?? 'RAM', l.backing, l.populate ?? null])).toEqual([
      ['RAM', 'thp', false],
      ['pc.rom', '4k', null],
      ['pc.bios', '4k', null],
      ['nic.rom', '4k', null],
      ['gpu.bar0', 'mmio', null],
      ['gpu.bar1', 'mmio', null],
    ]);
    expect(mmaps[0]).toEqual({ op: 'mmap', size: '0x40000000', backing: 'thp', vaddr: `0x${VA.toString(16)}`, populate: false });
    for (let i = 1; i < mmaps.length; i++) {
      const prevEnd = BigInt(mmaps[i - 1]!.vaddr as string) + BigInt(mmaps[i - 1]!.size as string);
      const at = BigInt(mmaps[i]!.vaddr as string);
      expect(at).toBe(((prevEnd + GIB - 1n) / GIB) * GIB + GIB);
    }
    // 256 MiB of BAR1 (the default gpuBar)
    expect(mmaps[5]!.size).toBe('0x10000000');
    // RAM populated at mmap (the default): no populate field
    const [, ram] = recordOf(scenario((x) => (x.guest = { ...x.guest, firmware: 'none' })));
    expect(ram).toEqual({ op: 'mmap', size: '0x40000000', backing: 'thp', vaddr: `0x${VA.toString(16)}` });
    // the BAR workload maps BAR1 besides RAM
    const bar = recordOf(
      scenario((x) => {
        x.workload = 'bar-map';
        x.guest = { ...x.guest, firmware: 'none', gpuBar: '64M' };
      }),
    ).filter((l) => l.op === 'mmap');
    expect(bar.map((l) => [l.name ?? 'RAM', l.size, l.backing])).toEqual([
      ['RAM', '0x40000000', 'thp'],
      ['gpu.bar1', '0x4000000', 'mmio'],
    ]);
  });

  it('test_host_without_room_for_a_rom', () => {
    // a 4 GiB guest on a 4 GiB host of 4 KiB pages: RAM takes every frame, the first ROM finds none
    const s = scenario((x) => {
      x.guest = { ...x.guest, memory: '4G' };
      x.host = { ...x.host, memory: '4G', backing: '4k' };
    });
    let e: unknown;
    try {
      runCase(s, 'x');
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).option).toBe('--host-memory');
    expect((e as UsageError).detail).toBe(
      "the host cannot back the guest's pc.rom (128 KiB): ENOMEM: needs 32 frames, host has 0 free, mmap",
    );
  });

  it('test_devices_and_directions_in_dma_lines', () => {
    const lines = recordOf(
      scenario((x) => {
        x.guest = { ...x.guest, firmware: 'none' };
        x.groups = 2;
        x.devices = 2;
        x.dma = { pattern: 'random', bursts: 40, pages: 4 };
      }),
    );
    // the 40 bursts while the guest runs (shutdown then touches each RAM block once more)
    const shutdown = lines.findIndex((l) => l.op === 'phase' && l.name === 'shutdown');
    expect(lines.slice(0, shutdown).filter((l) => l.op === 'dma').length).toBe(40);
    const dmas = lines.filter((l) => l.op === 'dma');
    // AMD-Vi device ids count up from 256; both devices and both directions occur
    expect(new Set(dmas.map((l) => l.device))).toEqual(new Set([256, 257]));
    expect(new Set(dmas.map((l) => l.dir))).toEqual(new Set(['read', 'write']));
    for (const l of dmas) expect(l.iova).toMatch(/^0x[0-9a-f]*000$/);
  });
});

describe('run progress', () => {
  it('test_progress_totals_the_workload_before_it_runs', () => {
    const starts: { pages: number; ops: number }[] = [];
    const sink: ProgressSink = { start: (t) => starts.push(t), update: () => {} };
    const s = scenario((x) => {
      x.guest = { ...x.guest, firmware: 'none' };
      x.dma = { pattern: 'random', bursts: 10, pages: 4 };
    });
    const out = runCase(s, 'x', { progress: sink, record: true });
    // from the record: the pages each MAP_DMA maps, each UNMAP_DMA at most what is mapped then (its
    // range may cover holes), and one op per ioctl and DMA line
    let mapped = 0,
      pages = 0,
      ops = 0,
      dmas = 0;
    for (const raw of out.record!.slice(1)) {
      const l = JSON.parse(raw) as { op: string; cmd?: string; arg?: { size: string } };
      if (l.op === 'dma') dmas++;
      if (l.op !== 'ioctl') continue;
      const n = Number(BigInt(l.arg!.size) >> 12n);
      const p = l.cmd === 'VFIO_IOMMU_MAP_DMA' ? n : Math.min(n, mapped);
      mapped += l.cmd === 'VFIO_IOMMU_MAP_DMA' ? n : -p;
      pages += p;
      ops++;
    }
    expect(starts).toEqual([{ pages, ops: ops + dmas }]);
    // every page mapped was pinned once and unmapped once
    const m = out.result.metrics;
    expect(pages).toBe(m.pins + m.unpins);
    expect([ops, dmas]).toEqual([m.mapIoctls + m.unmapIoctls, 10 + 2]);
  });
});

describe('what a run reports', () => {
  it('test_ioctl_lines_and_layout', () => {
    const s = scenario(() => {});
    const out = runCase(s, 'x', { record: true });
    const lines = out.record!.map(
      (l) => JSON.parse(l) as { op: string; name?: string; cmd?: string; vaddr?: string; size?: string; arg?: Record<string, unknown> },
    );
    const roms = lines.filter((l) => l.op === 'mmap' && (l.name === 'pc.rom' || l.name === 'pc.bios' || l.name === 'nic.rom'));
    const inRom = (v: bigint) => roms.some((r) => v >= BigInt(r.vaddr!) && v < BigInt(r.vaddr!) + BigInt(r.size!));
    const maps = lines.filter((l) => l.cmd === 'VFIO_IOMMU_MAP_DMA');
    const unmaps = lines.filter((l) => l.cmd === 'VFIO_IOMMU_UNMAP_DMA');
    expect(maps.length).toBe(out.result.metrics.mapIoctls);
    expect(unmaps.length).toBe(out.result.metrics.unmapIoctls);
    // QEMU maps ROMs READ only, RAM READ|WRITE (but the read-only PAM pieces of RAM during the
    // boot); the uapi sizes of the two structs
    for (const m of maps) {
      expect(m.arg!.argsz).toBe(32);
      if (inRom(BigInt(m.arg!.vaddr as string))) expect(m.arg!.flags).toBe(1);
      else expect([1, 3]).toContain(m.arg!.flags);
    }
    expect(maps.filter((m) => inRom(BigInt(m.arg!.vaddr as string))).length).toBeGreaterThan(0);
    expect(maps.filter((m) => m.arg!.flags === 3).length).toBeGreaterThan(0);
    for (const u of unmaps) expect([u.arg!.argsz, u.arg!.flags]).toEqual([24, 0]);
    // the guest's RAM blocks as the scenario lays them out
    expect(out.result.layout).toEqual(
      resolveScenario(s).blocks.map((b) => ({ name: b.name, iova: `0x${b.gpa.toString(16)}`, size: `0x${b.size.toString(16)}` })),
    );
    expect(out.result.layout.length).toBeGreaterThan(0);
    expect(out.result.mismatches).toBeNull();
    expect(out.result.dmaFaults).toBeNull();
    expect(runCase(s, 'x').record).toBeNull();
  });
});

// No driver of the model lets a run break the safety invariant, so the checker is made to report
// here (as a buggy driver would during a call): the case counts every violation, stored or
// dropped past the checker's limit, and keeps the first 20 stored ones with all their fields.
it('test_violations_counted_and_sampled', () => {
  const s = scenario(() => {});
  const made = Array.from({ length: 30 }, (_, i) => ({
    kind: i % 2 === 0 ? ('unpin-while-reachable' as const) : ('dma-to-unpinned' as const),
    pfn: 100 + i,
    iova: 7 * i,
    domain: i % 3,
    via: i % 2 === 0 ? 'pte' : 'iotlb',
    detail: `d${i}`,
  }));
  const out = runCase(s, 'v', {
    onMachine: (m) => {
      m.sim.checker.limit = 25;
      m.sim.checker.enter('OUTER');
      m.sim.checker.enter('inner');
      for (const x of made) m.sim.checker.report(x.kind, x.pfn, x.detail, { domain: x.domain, iova: x.iova, via: x.via });
      m.sim.checker.leave();
      m.sim.checker.leave();
    },
  });
  expect(out.result.metrics.violations).toBe(30);
  expect(out.result.violationSamples).toEqual(
    made
      .slice(0, 20)
      .map((x) => ({ kind: x.kind, pfn: x.pfn, iova: x.iova, domain: x.domain, via: x.via, call: 'OUTER > inner', detail: x.detail })),
  );
  // the same case without them: none
  const clean = runCase(s, 'v');
  expect([clean.result.metrics.violations, clean.result.violationSamples]).toEqual([0, []]);
});

describe('a run replayed', () => {
  it('test_replay_of_a_record_keeps_its_scenario_layout', () => {
    const s = scenario(() => {});
    const out = runCase(s, 'x', { record: true });
    const p = parseReplay(out.record!.join('\n'), 'r.jsonl');
    const again = replayCase(p.header, p.lines, 'x', {}, p.lineNos, 'r.jsonl').result;
    expect(again.layout).toEqual(out.result.layout);
    expect(again.scenario).toEqual(s);
    expect(again.metrics).toEqual(out.result.metrics);
  });
});
