// The default scenario (64 GiB q35 guest booted by SeaBIOS, THP host, AMD-Vi, v4.16 vs v4.17 vs
// mainline): its numbers are deterministic, identical on worker threads and serially, match the
// documented schema, and agree with each other the way the kernel's algorithms say they must;
// --firmware none still gives the numbers the default had before firmware boots (3 MAP_DMA, 3 UNMAP_DMA).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CaseResult, CommandResult } from '../src/engine/result.js';
// cli() here is main() in this process (inProcess): the report and engine code these cases check is
// the source, which Stryker mutates; the built CLI's own behaviour is covered by cli-errors,
// invocation, readme and demo.test.ts
import { PKG, inProcess as cli, fastSyncs } from './helpers.js';
import { validate } from '../src/report/schema.js';
import { DEFAULT_MACHINE, machineCosts } from '@x/iommu-core';

const COST = machineCosts(DEFAULT_MACHINE);

let parallel: string, serial: string, res: CommandResult, plain: CommandResult;
const byLabel = (l: string): CaseResult => res.cases.find((c) => c.label === l)!;
const plainCase = (l: string): CaseResult => plain.cases.find((c) => c.label === l)!;

describe('default scenario', () => {
  beforeAll(async () => {
    // the plain boot on a fully fragmented host (--host-age 1): one region per THP block, countable by hand
    const [p, s, n] = [
      await cli(['--json']),
      await cli(['--json', '--serial']),
      await cli(['--json', '--firmware', 'none', '--host-age', '1']),
    ];
    expect(p.code).toBe(0);
    expect(s.code).toBe(0);
    expect(n.code).toBe(0);
    expect(p.stderr).toBe(''); // not a TTY: no progress bar
    parallel = p.stdout;
    serial = s.stdout;
    res = JSON.parse(parallel) as CommandResult;
    plain = JSON.parse(n.stdout) as CommandResult;
  }, 180_000);

  it('test_deterministic_and_parallel_equals_serial', () => {
    expect(parallel).toBe(serial);
    expect(res.cases.map((c) => c.label)).toEqual(['v4.16', 'v4.17', 'mainline']);
  });

  it('test_json_schema', () => {
    const schema = JSON.parse(readFileSync(join(PKG, 'docs', 'result.schema.json'), 'utf8')) as Record<string, unknown>;
    expect(validate(schema, res)).toEqual([]);
    // the validator does reject what the schema forbids
    expect(validate(schema, { ...res, extra: 1 })).toEqual(["$: unexpected 'extra'"]);
    expect(validate(schema, { ...res, schema: 'x' })[0]).toMatch(/^\$\.schema: want/);
  });

  it('test_seabios_boot_counts', () => {
    // 64 GiB q35: 2 GiB below 4G (524,288 pages), 62 GiB above (16,252,928 pages). The boot maps 36
    // sections and unmaps 26 of them, shutdown unmaps the 10 left (test/firmware.test.ts writes the
    // 8 GiB sequence out; only the size of ram-above-4g differs here)
    const low = 524_288,
      high = 16_252_928;
    // pinned pages per MAP_DMA, in boot order: realize [0,0xbffff] pc.rom isa-bios [1M,2G) pc.bios high;
    // PAM dword 1 and 2; (BARs: MMIO, never pinned); VGA on; SMRAM open and closed; NIC ROM;
    // make_bios_readonly dword 1 and 2; Linux probe: root port and GPU decode toggles (VGA window only)
    const pins = [
      192,
      32,
      32,
      low - 256,
      64,
      high,
      216,
      8,
      16,
      low - 240,
      low,
      160,
      low - 192,
      low,
      160,
      low - 192,
      64,
      24,
      24,
      16,
      low - 256,
      40,
      8,
      192,
      160,
      192,
      160,
    ].reduce((a, b) => a + b, 0);
    // BAR0 minus the MSI-X page (4,095 pages) and BAR1 (256 MiB), unmapped at the two probes and at shutdown
    const mmioUnmapped = 3 * (4095 + 65_536);
    for (const c of res.cases) {
      expect(c.layout.map((b) => b.name)).toEqual(['ram-below-4g@0', 'ram-below-4g@0xc0000', 'ram-above-4g']);
      expect(c.metrics.mapIoctls).toBe(36);
      expect(c.metrics.unmapIoctls).toBe(36);
      expect(c.metrics.unmapCalls).toBe(36); // each UNMAP_DMA removes exactly one mapping
      expect(c.metrics.pins).toBe(pins);
      expect(c.metrics.unpins).toBe(pins);
      expect(c.metrics.ioctlErrors).toBe(0);
      expect(c.metrics.violations).toBe(0);
      expect(c.metrics.ioPageFaults).toBe(0);
      // 64 bursts of 16 pages, then one burst before each writable RAM section's unmap (0xe8000-0xeffff has 8 pages)
      expect(c.metrics.dmaPages).toBe(64 * 16 + 16 + 8 + 16 + 16);
      // the histogram's regions are the chunks the container counted unmapping (two counts, two places)
      expect(c.metrics.regions).toBe((c.vfioStats as { unmapChunks: number }).unmapChunks);
    }
    // the default host (age 0.02) keeps most 2 MiB blocks physically contiguous with their neighbours:
    // mainline's calls have the shape the 2018 review saw on dGPU VMs, at most ~1500 regions and
    // mostly fewer than 100 (not one per THP block: 31,744 for the 62 GiB above 4G)
    const m = byLabel('mainline').metrics.regionsPerCall;
    expect(m.max).toBeLessThanOrEqual(1500);
    expect(m.median).toBeLessThan(100);
    expect(m.max).toBeLessThan(31_744 / 10);
    expect(pins).toBe(19_923_568);
    expect(byLabel('v4.17').metrics.regionsPerCall).toEqual(byLabel('v4.16').metrics.regionsPerCall);
    for (const l of ['v4.16', 'v4.17']) expect(byLabel(l).counters.iovaToPhys).toBe(byLabel(l).metrics.regions);
    const main = byLabel('mainline');
    // one lookup per unmapped page (RAM and BAR), plus the one that ended each run that did not end its dma
    expect(main.counters.iovaToPhys).toBe(main.metrics.pins + mmioUnmapped + main.metrics.regions - main.metrics.unmapCalls);
  });

  it('test_firmware_none_layout_and_pins', () => {
    // each RAM section mapped once and unmapped once: the default before firmware boots
    for (const c of plain.cases) {
      expect(c.layout).toEqual([
        { name: 'ram-below-4g@0', iova: '0x0', size: '0xa0000' },
        { name: 'ram-below-4g@0xc0000', iova: '0xc0000', size: '0x7ff40000' },
        { name: 'ram-above-4g', iova: '0x100000000', size: '0xf80000000' },
      ]);
      const pages = c.layout.reduce((a, b) => a + Number(BigInt(b.size) >> 12n), 0);
      expect(c.metrics.pins).toBe(pages);
      expect(c.metrics.unpins).toBe(pages);
      expect(c.metrics.mapIoctls).toBe(3);
      expect(c.metrics.unmapIoctls).toBe(3);
      expect(c.metrics.unmapCalls).toBe(3);
      expect(c.metrics.ioctlErrors).toBe(0);
      expect(c.metrics.violations).toBe(0);
      // the histogram's regions are the chunks the container counted unmapping (two counts, two places)
      expect(c.metrics.regions).toBe((c.vfioStats as { unmapChunks: number }).unmapChunks);
    }
    // same host frames under every profile. 4.x probed AMD's domain for fine-grained superpages
    // (vfio_test_domain_fgsp), so its unmap loop takes one IOMMU leaf per region and one iova_to_phys
    // per region; mainline has no probe and scans each physically contiguous run page by page. The low
    // 640 KiB (512K + 128K leaves) and the run from 0xc0000 to the first 2 MiB boundary (256K + 1M)
    // are two regions each in 4.x and one each in mainline; every THP block above 4 GiB is one leaf.
    expect(plainCase('v4.17').metrics.regionsPerCall).toEqual(plainCase('v4.16').metrics.regionsPerCall);
    expect(plainCase('v4.16').metrics.regionsPerCall.histogram).toEqual([
      [2, 1],
      [1025, 1],
      [31744, 1],
    ]);
    expect(plainCase('mainline').metrics.regionsPerCall.histogram).toEqual([
      [1, 1],
      [1024, 1],
      [31744, 1],
    ]);
    for (const l of ['v4.16', 'v4.17']) expect(plainCase(l).counters.iovaToPhys).toBe(plainCase(l).metrics.regions);
    const main = plainCase('mainline');
    // one lookup per page, plus the one that ended each run that did not end its dma
    expect(main.counters.iovaToPhys).toBe(main.metrics.pins + main.metrics.regions - main.metrics.unmapCalls);
  });

  it('test_syncs_follow_the_unmap_path', () => {
    const old = byLabel('v4.16').metrics;
    // v4.16: one synchronous iommu_unmap (flush + wait) per chunk, nothing queued
    expect(old.iotlbSyncs).toBe(old.regions);
    expect(old.peakQueuedRegions).toBe(0);
    for (const l of ['v4.17', 'mainline']) {
      const m = byLabel(l).metrics;
      // fast path: ceil(regions / VFIO_IOMMU_TLB_SYNC_MAX) syncs per unmap call, plus the slow fallbacks
      expect(m.iotlbSyncs).toBe(fastSyncs(m.regionsPerCall.histogram, 512) + m.fallbacks);
      expect(m.peakQueuedRegions).toBe(Math.min(512, m.regionsPerCall.max));
      expect(m.peakQueuedBytes).toBe(m.peakQueuedRegions * 40); // struct vfio_regions
      expect(m.iotlbSyncs).toBeLessThan(old.iotlbSyncs);
      expect(m.peakPinnedAfterUnmapBytes).toBeGreaterThan(old.peakPinnedAfterUnmapBytes);
    }
    // the batching saves the per-chunk syncs; mainline also drops the pins a folio at a time (v6.18),
    // where 4.x put every page on its own
    const shutdown = (l: string) => byLabel(l).metrics.phaseNs.shutdown!;
    expect(shutdown('v4.17')).toBeLessThan(shutdown('v4.16'));
    expect(shutdown('mainline')).toBeLessThan(shutdown('v4.17'));
    expect(byLabel('v4.17').counters['vfio.unpinSteps']).toBe(byLabel('v4.17').metrics.unpins);
    expect(byLabel('mainline').counters['vfio.unpinSteps']).toBe(byLabel('mainline').counters['vfio.unpinFolios']);
    expect(byLabel('mainline').counters['vfio.unpinSteps']! * 400).toBeLessThan(byLabel('mainline').metrics.unpins);
    for (const c of res.cases) {
      // every sync waits for its invalidations on the AMD command ring
      expect(c.commands!.COMPLETION_WAIT).toBe(c.metrics.completionWaits);
      expect(c.metrics.completionWaits).toBeGreaterThanOrEqual(c.metrics.iotlbSyncs);
      // the clock is every event's count times the default machine's cost for it (the tables, not the run's)
      const sum = Object.entries(c.counters).reduce((a, [e, n]) => a + n * (COST[e]?.ns ?? 0), 0);
      expect(Math.abs(c.metrics.modeledNs - sum) / sum).toBeLessThan(1e-9);
    }
  });

  it('test_table_output', async () => {
    // the table is the same result rendered for people: check it on a small guest against its JSON
    const [t, j] = [await cli(['--guest', '8G']), await cli(['--guest', '8G', '--json'])];
    expect(t.code).toBe(0);
    expect(t.stderr).toBe('');
    const small = JSON.parse(j.stdout) as CommandResult;
    const lines = t.stdout.split('\n');
    // the header counts the SeaBIOS boot's ioctls (test/firmware.test.ts lists them) and what stays mapped
    expect(lines[0]).toMatch(
      /^vfio-sim compare: guest 8 GiB \(q35: 2 GiB below 4G \+ 6 GiB above, SeaBIOS boot: 36 maps, 26 unmaps, 10 DMA mappings after\), host 12 GiB thp, host age 0.02, machine lizhe-2025, AMD-Vi/,
    );
    // the header names the timeline entries between the columns, then the table starts
    expect(lines[2]).toBe('timeline entries between the releases (commits: vfio-sim timeline v4.16 mainline):');
    expect(lines[3]).toBe('  v4.16 -> v4.17: amd-fast-flush, fast-unmap');
    const head = lines.findIndex((l) => /^\s+v4\.16\s+v4\.17\s+mainline$/.test(l));
    expect(lines[head - 1]).toBe('');
    expect(lines.slice(4, head - 1).every((l) => l.startsWith('  '))).toBe(true);
    const row = (name: string): string[] =>
      lines
        .find((l) => l.startsWith(name))!
        .slice(24)
        .trim()
        .split(/\s{2,}/);
    expect(row('IOTLB syncs').map((x) => Number(x.replace(/,/g, '')))).toEqual(small.cases.map((c) => c.metrics.iotlbSyncs));
    expect(row('pins (4K pages)').map((x) => Number(x.replace(/,/g, '')))).toEqual(small.cases.map((c) => c.metrics.pins));
    expect(row('regions/call min/med/max')).toEqual(
      small.cases.map((c) => {
        const r = c.metrics.regionsPerCall;
        return `${r.min}/${r.median}/${r.max}`;
      }),
    );
    expect(t.stdout).toContain('What to try next:\n  vfio-sim sweep --tlb-sync-max 1,8,64,512,4096');
  }, 60_000);
});
