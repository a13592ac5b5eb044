// The SeaBIOS boot (--firmware seabios): the exact MAP_DMA / UNMAP_DMA sequence QEMU's listener
// issues for an 8 GiB q35 and a 4 GiB pc guest with one assigned GPU, written out by hand from the
// research notes (SeaBIOS shadow.c/pciinit.c/smm.c, QEMU pam.c/q35.c/i440fx.c/pci.c/pci_bridge.c,
// and published listener traces: F1 Launchpad bug 1879175 (i440fx, QEMU 3.1), F2 nutanix/libvfio-user
// issue #439 (i440fx), F3 libvfio-user issue #544 (q35), F5 qemu-devel January 2020 (BAR0 split
// around its MSI-X page)); the state it leaves mapped against --firmware none; the counters it gives
// (pins summed by hand), replay, and --firmware none reproducing the old default's numbers.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCase } from '../src/engine/run.js';
import type { CommandResult } from '../src/engine/result.js';
import { placeBars } from '../src/scenario/firmware.js';
import { defaultScenario, resolveScenario, type Scenario } from '../src/scenario/scenario.js';
import { workload, type Op, type ProcessVmas } from '../src/scenario/workload.js';
// main() in this process: the engine and report code these cases check is the source, which Stryker mutates
import { inProcess as cli, inProcessJson as cliJson } from './helpers.js';

const G = 1n << 30n;
const R = 1,
  RW = 3; // VFIO_DMA_MAP_FLAG_READ, | VFIO_DMA_MAP_FLAG_WRITE

/** One ioctl as a trace shows it: map [first, last] with flags, or unmap [first, last] (last byte inclusive). */
type Io = ['M', number, number, number] | ['U', number, number];
const M = (first: number, last: number, flags: number): Io => ['M', first, last, flags];
const U = (first: number, last: number): Io => ['U', first, last];

function scenario(patch: (s: Scenario) => void): Scenario {
  const s = defaultScenario();
  s.dma.pattern = 'none';
  patch(s);
  return s;
}

/** The ioctls of a scenario's workload, and the vaddr of each map (RAM at 0x7f00.., each other object 1 TiB higher). */
function ioctls(s: Scenario): { io: Io[]; vaddrs: bigint[]; boot: number } {
  const r = resolveScenario(s);
  const names = ['pc.ram', ...(r.boot?.regions ?? []).map((x) => x.name)] as const;
  const vmas: ProcessVmas = new Map(names.map((n, i) => [n, 0x7f0000000000n + BigInt(i) * (1n << 40n)]));
  const io: Io[] = [],
    vaddrs: bigint[] = [];
  let boot = 0;
  for (const o of workload(r, vmas, 1) as Generator<Op>) {
    if (o.op === 'phase' && o.name === 'shutdown') boot = io.length;
    if (o.op === 'map') {
      io.push(M(Number(o.iova), Number(o.iova + o.size - 1n), o.flags));
      vaddrs.push(o.vaddr);
    }
    if (o.op === 'unmap') io.push(U(Number(o.iova), Number(o.iova + o.size - 1n)));
  }
  return { io, vaddrs, boot };
}

// q35, 8 GiB: ram-below-4g 2 GiB, ram-above-4g 6 GiB at 4 GiB; SeaBIOS puts BAR0 (16 MiB) at
// 0xfd000000, the NIC's ROM at 0xfe000000 and BAR1 (256 MiB) at 0xe0000000.
const LOW = 0x7fffffff,
  B0 = 0xfd000000,
  B1 = 0xe0000000,
  NIC = 0xfe000000;
const BAR0A = [B0, B0 + 0x5fff] as const,
  BAR0B = [B0 + 0x7000, B0 + 0xffffff] as const,
  BAR1 = [B1, B1 + 0xfffffff] as const;
const Q35_8G: Io[] = [
  // 0. realize: the listener replays every section, VGA window not routed yet (F1's first lines; notes part B, "Typical realize burst")
  M(0x0, 0xbffff, RW),
  M(0xc0000, 0xdffff, R),
  M(0xe0000, 0xfffff, R),
  M(0x100000, LOW, RW),
  M(0xfffc0000, 0xffffffff, R),
  M(0x100000000, 0x27fffffff, RW),
  // 2. make_bios_writable dword 1: PAM0-3 RAM, so 0xd8000-0xdffff is the rest of pc.rom, 0xe0000-0xeffff of isa-bios
  U(0x0, 0xbffff),
  U(0xc0000, 0xdffff),
  U(0xe0000, 0xfffff),
  U(0x100000, LOW),
  M(0x0, 0xd7fff, RW),
  M(0xd8000, 0xdffff, R),
  M(0xe0000, 0xeffff, R),
  M(0xf0000, LOW, RW),
  // 3. dword 2: PAM4-6 RAM, all low RAM is one section
  U(0x0, 0xd7fff),
  U(0xd8000, 0xdffff),
  U(0xe0000, 0xeffff),
  U(0xf0000, LOW),
  M(0x0, LOW, RW),
  // 5. GPU COMMAND.MEMORY: BAR0 split around the MSI-X page (one transaction), then BAR1
  M(...BAR0A, RW),
  M(...BAR0B, RW),
  M(...BAR1, RW),
  // 6. root port VGA enable: the VGA window becomes MMIO
  U(0x0, LOW),
  M(0x0, 0x9ffff, RW),
  M(0xc0000, LOW, RW),
  // 7. SMRAM open (the window is RAM), closed
  U(0x0, 0x9ffff),
  U(0xc0000, LOW),
  M(0x0, LOW, RW),
  U(0x0, LOW),
  M(0x0, 0x9ffff, RW),
  M(0xc0000, LOW, RW),
  // 8. the NIC's option ROM BAR, read-only RAM, enabled and disabled
  M(NIC, NIC + 0x3ffff, R),
  U(NIC, NIC + 0x3ffff),
  // 9. make_bios_readonly dword 1: 0xc0000-0xd7fff and 0xf0000-0xfffff read-only; dword 2: up to 0xe7fff
  U(0xc0000, LOW),
  M(0xc0000, 0xd7fff, R),
  M(0xd8000, 0xeffff, RW),
  M(0xf0000, 0xfffff, R),
  M(0x100000, LOW, RW),
  U(0xc0000, 0xd7fff),
  U(0xd8000, 0xeffff),
  M(0xc0000, 0xe7fff, R),
  M(0xe8000, 0xeffff, RW),
  // 10. Linux sizes the root port's BARs: its VGA alias off (only the first 768 KiB merge now), its
  //     windows off (one transaction, address order), then both back on
  U(0x0, 0x9ffff),
  M(0x0, 0xbffff, RW),
  U(...BAR1),
  U(...BAR0A),
  U(...BAR0B),
  U(0x0, 0xbffff),
  M(0x0, 0x9ffff, RW),
  M(...BAR1, RW),
  M(...BAR0A, RW),
  M(...BAR0B, RW),
  //     then the GPU's: BAR0, BAR1, VGA off; BAR0, BAR1, VGA on
  U(...BAR0A),
  U(...BAR0B),
  U(...BAR1),
  U(0x0, 0x9ffff),
  M(0x0, 0xbffff, RW),
  M(...BAR0A, RW),
  M(...BAR0B, RW),
  M(...BAR1, RW),
  U(0x0, 0xbffff),
  M(0x0, 0x9ffff, RW),
];
/** What the q35 boot leaves mapped, in address order: shutdown unmaps these. */
const Q35_8G_FINAL: Io[] = [
  U(0x0, 0x9ffff),
  U(0xc0000, 0xe7fff),
  U(0xe8000, 0xeffff),
  U(0xf0000, 0xfffff),
  U(0x100000, LOW),
  U(...BAR1),
  U(...BAR0A),
  U(...BAR0B),
  U(0xfffc0000, 0xffffffff),
  U(0x100000000, 0x27fffffff),
];

// pc (i440fx), 4 GiB: 3 GiB below 4G, 1 GiB above; the same BAR addresses (pcimem_start 0xc0000000).
// Differences: PAM0 at 0x59, so the dwords are PAM0-2 / PAM3-6 (trace F1); the GPU sits on the root
// bus, so its VGA window appears with its COMMAND.MEMORY and there is no root port to enable or probe.
const PLOW = 0xbfffffff;
const PC_4G: Io[] = [
  M(0x0, 0xbffff, RW),
  M(0xc0000, 0xdffff, R),
  M(0xe0000, 0xfffff, R),
  M(0x100000, PLOW, RW),
  M(0xfffc0000, 0xffffffff, R),
  M(0x100000000, 0x13fffffff, RW),
  // F1: the four dels, then [0x0, 0xcffff] ...
  U(0x0, 0xbffff),
  U(0xc0000, 0xdffff),
  U(0xe0000, 0xfffff),
  U(0x100000, PLOW),
  M(0x0, 0xcffff, RW),
  M(0xd0000, 0xdffff, R),
  M(0xe0000, 0xeffff, R),
  M(0xf0000, PLOW, RW),
  U(0x0, 0xcffff),
  U(0xd0000, 0xdffff),
  U(0xe0000, 0xeffff),
  U(0xf0000, PLOW),
  M(0x0, PLOW, RW),
  M(...BAR0A, RW),
  M(...BAR0B, RW),
  M(...BAR1, RW),
  U(0x0, PLOW),
  M(0x0, 0x9ffff, RW),
  M(0xc0000, PLOW, RW),
  U(0x0, 0x9ffff),
  U(0xc0000, PLOW),
  M(0x0, PLOW, RW),
  U(0x0, PLOW),
  M(0x0, 0x9ffff, RW),
  M(0xc0000, PLOW, RW),
  M(NIC, NIC + 0x3ffff, R),
  U(NIC, NIC + 0x3ffff),
  // F2: "region_del 0xc0000 - 0xbfffffff" then the re-split pieces (no kvmvapic ROM here)
  U(0xc0000, PLOW),
  M(0xc0000, 0xcffff, R),
  M(0xd0000, 0xeffff, RW),
  M(0xf0000, 0xfffff, R),
  M(0x100000, PLOW, RW),
  U(0xc0000, 0xcffff),
  U(0xd0000, 0xeffff),
  M(0xc0000, 0xe7fff, R),
  M(0xe8000, 0xeffff, RW),
  U(...BAR0A),
  U(...BAR0B),
  U(...BAR1),
  U(0x0, 0x9ffff),
  M(0x0, 0xbffff, RW),
  M(...BAR0A, RW),
  M(...BAR0B, RW),
  M(...BAR1, RW),
  U(0x0, 0xbffff),
  M(0x0, 0x9ffff, RW),
];
const PC_4G_FINAL: Io[] = [
  U(0x0, 0x9ffff),
  U(0xc0000, 0xe7fff),
  U(0xe8000, 0xeffff),
  U(0xf0000, 0xfffff),
  U(0x100000, PLOW),
  U(...BAR1),
  U(...BAR0A),
  U(...BAR0B),
  U(0xfffc0000, 0xffffffff),
  U(0x100000000, 0x13fffffff),
];

/** Pages pinned by a list of maps: every map of RAM or ROM pins its pages; the GPU's BARs are MMIO. */
function pinnedPages(io: readonly Io[]): number {
  const bar = (first: number): boolean => first === BAR0A[0] || first === BAR0B[0] || first === BAR1[0];
  return io.reduce((a, x) => (x[0] === 'M' && !bar(x[1]) ? a + (x[2] - x[1] + 1) / 4096 : a), 0);
}

describe('firmware seabios', () => {
  it('test_q35_8g_exact_sequence', () => {
    const { io, vaddrs, boot } = ioctls(
      scenario((s) => {
        s.guest.memory = '8G';
      }),
    );
    expect(io.slice(0, boot)).toEqual(Q35_8G);
    expect(io.slice(boot)).toEqual(Q35_8G_FINAL);
    expect(io.filter((x) => x[0] === 'M')).toHaveLength(36);
    expect(io.filter((x) => x[0] === 'U')).toHaveLength(26 + 10);
    // vaddrs: RAM at its GPA offset (ram-above-4g after the 2 GiB below), pc.rom, isa-bios = pc.bios + 128 KiB, pc.bios, BARs from their mmaps
    const T = 1n << 40n,
      RAM = 0x7f0000000000n;
    expect(vaddrs.slice(0, 6)).toEqual([RAM, RAM + T, RAM + 2n * T + 0x20000n, RAM + 0x100000n, RAM + 2n * T, RAM + 2n * G]);
    expect(vaddrs[7]).toBe(RAM + T + 0x18000n); // [0xd8000, 0xdffff]: pc.rom + 96 KiB
    expect(vaddrs.slice(11, 14)).toEqual([RAM + 4n * T, RAM + 4n * T + 0x7000n, RAM + 5n * T]); // BAR0 parts, BAR1
    expect(vaddrs[19]).toBe(RAM + 3n * T); // the NIC's ROM
  });

  it('test_pc_4g_exact_sequence', () => {
    const { io, boot } = ioctls(
      scenario((s) => {
        s.guest.memory = '4G';
        s.guest.machine = 'pc';
      }),
    );
    expect(io.slice(0, boot)).toEqual(PC_4G);
    expect(io.slice(boot)).toEqual(PC_4G_FINAL);
    expect(io.filter((x) => x[0] === 'M')).toHaveLength(31);
    expect(io.filter((x) => x[0] === 'U')).toHaveLength(21 + 10);
  });

  it('test_no_vga_hole_has_no_vga_or_smram_churn', () => {
    // a GPU without legacy VGA (x-vga=off): the window stays RAM, so the SMRAM window changes nothing visible
    const { io, boot } = ioctls(
      scenario((s) => {
        s.guest.memory = '8G';
        s.guest.vgaHole = false;
      }),
    );
    // realize, PAM and the BARs (the first 22 ioctls) as before; steps 6 and 7 are gone
    expect(io.slice(0, 22)).toEqual(Q35_8G.slice(0, 22));
    expect(Q35_8G[22]).toEqual(U(0x0, LOW));
    expect(io.slice(22, 24)).toEqual([M(NIC, NIC + 0x3ffff, R), U(NIC, NIC + 0x3ffff)]);
    // make_bios_readonly now splits [0x0, LOW]; the probes toggle only the BARs
    expect(io.slice(24, boot)).toEqual([
      U(0x0, LOW),
      M(0x0, 0xbffff, RW),
      M(0xc0000, 0xd7fff, R),
      M(0xd8000, 0xeffff, RW),
      M(0xf0000, 0xfffff, R),
      M(0x100000, LOW, RW),
      U(0xc0000, 0xd7fff),
      U(0xd8000, 0xeffff),
      M(0xc0000, 0xe7fff, R),
      M(0xe8000, 0xeffff, RW),
      U(...BAR1),
      U(...BAR0A),
      U(...BAR0B),
      M(...BAR1, RW),
      M(...BAR0A, RW),
      M(...BAR0B, RW),
      U(...BAR0A),
      U(...BAR0B),
      U(...BAR1),
      M(...BAR0A, RW),
      M(...BAR0B, RW),
      M(...BAR1, RW),
    ]);
  });

  it('test_bar_placement', () => {
    // SeaBIOS stacks the non-prefetchable region (BAR0 + NIC ROM) under 0xfec00000 and the prefetchable one below it
    expect(placeBars('q35', 2n * G, 256n << 20n)).toEqual({ bar0: 0xfd000000n, bar1: 0xe0000000n, nicRom: 0xfe000000n });
    expect(placeBars('q35', 2n * G, 512n << 20n)).toEqual({ bar0: 0xfd000000n, bar1: 0xc0000000n, nicRom: 0xfe000000n });
    expect(placeBars('q35', 2n * G, 1n << 30n)).toBeNull(); // would go below q35's window (0xc0000000)
    expect(placeBars('pc', 2n * G, 1n << 30n)?.bar1).toBe(0x80000000n); // pc with <= 2 GiB below 4G: window from 2 GiB
    // a BAR1 with a smaller alignment than BAR0's 16 MiB goes on top instead
    expect(placeBars('q35', 2n * G, 8n << 20n)).toEqual({ bar0: 0xfc000000n, bar1: 0xfe000000n, nicRom: 0xfd000000n });
  });

  it('test_final_mapped_set_vs_firmware_none', () => {
    // apply each boot's maps and unmaps to a page map (iova page -> vaddr page, writable) and compare
    const state = (s: Scenario): Map<number, [bigint, boolean]> => {
      const r = resolveScenario(s);
      const names = ['pc.ram', ...(r.boot?.regions ?? []).map((x) => x.name)] as const;
      const vmas: ProcessVmas = new Map(names.map((n, i) => [n, 0x7f0000000000n + BigInt(i) * (1n << 40n)]));
      const pages = new Map<number, [bigint, boolean]>();
      for (const o of workload(r, vmas, 1)) {
        if (o.op === 'phase' && o.name === 'shutdown') break;
        if (o.op === 'map')
          for (let p = 0n; p < o.size; p += 4096n) pages.set(Number((o.iova + p) >> 12n), [o.vaddr + p, (o.flags & 2) !== 0]);
        if (o.op === 'unmap') for (let p = 0n; p < o.size; p += 4096n) pages.delete(Number((o.iova + p) >> 12n));
      }
      return pages;
    };
    const small = (s: Scenario): void => {
      s.guest.memory = '256M';
      s.guest.below4g = '64M';
    };
    const boot = state(scenario(small));
    const none = state(
      scenario((s) => {
        small(s);
        s.guest.firmware = 'none';
      }),
    );
    const RAM = 0x7f0000000000n;
    // every page --firmware none maps is mapped to the same guest-RAM byte; the differences are the
    // read-only BIOS pieces, and what is not guest RAM: pc.bios at 0xfffc0000 and the GPU's BARs
    const readOnly = new Set<number>();
    for (let p = 0xc0; p < 0xe8; p++) readOnly.add(p);
    for (let p = 0xf0; p < 0x100; p++) readOnly.add(p);
    for (const [page, [vaddr, writable]] of none) {
      expect(boot.get(page)?.[0], `page ${page.toString(16)}`).toBe(vaddr);
      expect(writable).toBe(true);
      expect(boot.get(page)![1], `page ${page.toString(16)}`).toBe(!readOnly.has(page));
    }
    const extra = [...boot.keys()].filter((p) => !none.has(p)).sort((a, b) => a - b);
    const bar0 = B0 >>> 12,
      bar1 = B1 >>> 12;
    expect(extra.length).toBe(0x10000 + 4095 + 64); // BAR1, BAR0 without the MSI-X page, pc.bios
    expect(extra.filter((p) => p >= bar1 && p < bar1 + 0x10000)).toHaveLength(0x10000);
    expect(extra.filter((p) => p >= bar0 && p < bar0 + 0x1000)).toHaveLength(4095);
    expect(extra.filter((p) => p >= 0xfffc0)).toHaveLength(64);
    expect(boot.get(0xfffc0)![0]).toBe(RAM + 2n * (1n << 40n)); // pc.bios's own RAMBlock, read-only
    expect(boot.get(0xfffc0)![1]).toBe(false);
  });

  it('test_low_ram_repinned_and_pins_counter', () => {
    const out = runCase(
      scenario((s) => {
        s.guest.memory = '8G';
        s.profile = 'v4.17';
      }),
      'v4.17',
    );
    const m = out.result.metrics;
    const all = [...Q35_8G, ...Q35_8G_FINAL];
    expect(m.mapIoctls).toBe(36);
    expect(m.unmapIoctls).toBe(36);
    // the 2 GiB below 4 GiB is mapped (pinned) 7 times: realize, PAM dword 1 and 2, VGA on, SMRAM
    // open and closed, make_bios_readonly; everything pinned is unpinned by the end
    const big = Q35_8G.filter((x) => x[0] === 'M' && x[2] === LOW && x[2] - x[1] >= 0x7ff00000 - 1);
    expect(big.map((x) => x[1])).toEqual([0x100000, 0xf0000, 0x0, 0xc0000, 0x0, 0xc0000, 0x100000]);
    expect(pinnedPages(all)).toBe(5_243_504);
    expect(m.pins).toBe(pinnedPages(all));
    expect(m.unpins).toBe(m.pins);
    expect(m.ioctlErrors).toBe(0);
    expect(m.violations).toBe(0);
    // v4.17's AMD driver: a 2 MiB map over the 4 KiB table an earlier small low-RAM section left goes through map_try_harder
    expect(m.mapTryHarder).toBeGreaterThan(0);
  });

  it('test_default_64g_ioctl_counts', () => {
    const m = runCase(
      scenario((s) => {
        s.dma.pattern = 'random';
        s.profile = 'mainline';
      }),
      'mainline',
    ).result.metrics;
    // the q35 sequence above: 36 maps, 26 unmaps during boot and the 10 sections left at shutdown
    expect([m.mapIoctls, m.unmapIoctls, m.unmapCalls]).toEqual([36, 36, 36]);
    expect(m.pins).toBe(pinnedPages(Q35_8G) + (62 - 6) * 262_144); // ram-above-4g is 62 GiB instead of 6
    expect(m.ioPageFaults).toBe(0);
  });

  it('test_replay_reproduces_the_boot', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vfio-sim-fw-')), 'boot.jsonl');
    const { res: run } = await cliJson(['run', '--guest', '8G', '--qemu-machine', 'pc', '--profile', 'v4.16', '--record', file]);
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { op: string; backing?: string });
    expect(lines.filter((l) => l.op === 'mmap').map((l) => l.backing)).toEqual(['thp', '4k', '4k', '4k', 'mmio', 'mmio']);
    const { res: rep } = await cliJson(['replay', file]);
    const [a, b] = [run.cases[0]!, rep.cases[0]!];
    expect(a.metrics.mapIoctls).toBe(31);
    expect(b.metrics).toEqual(a.metrics);
    expect(b.counters).toEqual(a.counters);
    expect(b.commands).toEqual(a.commands);
    expect(b.mismatches).toEqual([]);
  });

  it('test_records_and_results_from_before_read_as_firmware_none', async () => {
    // a record and a saved result written before the firmware option existed have no guest.firmware
    // (nor gpuBar): they ran without firmware churn, and read back that way
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-old-'));
    const file = join(dir, 'old.jsonl');
    const { res: run } = await cliJson(['run', '--guest', '2G', '--firmware', 'none', '--profile', 'v4.17', '--record', file]);
    const rows = readFileSync(file, 'utf8').trimEnd().split('\n');
    const header = JSON.parse(rows[0]!) as { scenario: { guest: Record<string, unknown> } };
    delete header.scenario.guest.firmware;
    delete header.scenario.guest.gpuBar;
    writeFileSync(file, [JSON.stringify(header), ...rows.slice(1)].join('\n'));
    const { res: rep } = await cliJson(['replay', file]);
    expect(rep.cases[0]!.scenario!.guest.firmware).toBe('none');
    expect(rep.cases[0]!.metrics).toEqual(run.cases[0]!.metrics);
    const saved = join(dir, 'old.json');
    const old = structuredClone(run) as unknown as { cases: { scenario: { guest: Record<string, unknown> } }[] };
    delete old.cases[0]!.scenario.guest.firmware;
    delete old.cases[0]!.scenario.guest.gpuBar;
    writeFileSync(saved, JSON.stringify(old));
    const [a, b] = [await cli(['report', saved]), await cli(['run', '--guest', '2G', '--firmware', 'none', '--profile', 'v4.17'])];
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });

  it('test_firmware_none_reproduces_the_old_default', async () => {
    // the default's numbers before firmware boots and before the default host age became 0.02 (README
    // "First command" of 2026-11-30, mainline column): 3 MAP_DMA, 3 UNMAP_DMA, 65 syncs, 66
    // invalidations and waits, 33,312 PTE writes, ...
    const { res } = await cliJson(['run', '--firmware', 'none', '--host-age', '1', '--profile', 'mainline']);
    const m = (res as CommandResult).cases[0]!.metrics;
    expect([m.mapIoctls, m.unmapIoctls, m.unmapCalls]).toEqual([3, 3, 3]);
    expect([m.iotlbSyncs, m.invalidations, m.completionWaits]).toEqual([65, 66, 66]);
    expect([m.pteWrites, m.pteClears, m.tablesAfterBoot, m.tableAllocs, m.tableFrees]).toEqual([33_312, 33_247, 66, 66, 0]);
    expect([m.pins, m.unpins, m.dmaPages, m.ioPageFaults]).toEqual([16_777_184, 16_777_184, 1_072, 0]);
    expect(m.regionsPerCall.histogram).toEqual([
      [1, 1],
      [1024, 1],
      [31744, 1],
    ]);
    expect(m.peakPinnedAfterUnmapBytes).toBe(1 << 30);
  });
});
