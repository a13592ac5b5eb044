// vfio-sim import: QEMU -trace output of the VFIO memory listener and the iommufd backend becomes a
// replay file. Fixtures: six published excerpts (test/fixtures/qemu/f*.log, verbatim trace lines;
// sources in FIXTURES below) and hand-written traces for each prefix form and each QEMU era's event
// names (h-*.log). Each import is checked line by line, then replayed under v4.16, v4.17 and mainline
// with no mismatch.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// main() in this process: the engine code the replays run is the source, which Stryker mutates
import { PKG, inProcess as cli, inProcessJson as cliJson, inProcess } from './helpers.js';

const FIX = join(PKG, 'test', 'fixtures', 'qemu');
const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-import-'));

/** Where each published excerpt comes from (research notes, part A.5). */
export const FIXTURES = {
  'f1-lp1879175-qemu3.1.log': 'Launchpad bug 1879175 (qemu-devel 2020-06-09): QEMU 3.1, i440fx, SeaBIOS, IGD; log backend, no prefix',
  'f2-libvfio-user-439.log': 'nutanix/libvfio-user issue #439 (2021-04-12): QEMU ~6.0 fork, i440fx, SeaBIOS; PID@sec.usec prefix',
  'f3-libvfio-user-544.log': 'nutanix/libvfio-user issue #544 (2021): q35, the lines of a grep for 0x7fffffff',
  'f4-qemu-devel-2021-05-07.log': 'qemu-devel 2021-05-07 "QEMU adding overlapping memory regions": a hand-picked excerpt (dels missing)',
  'f5-qemu-devel-2020-01-syslog.log': 'qemu-devel 2020-01 (QEMU 4.0): syslog backend, a BAR split around its MSI-X page',
  'f6-unmap-all-2025.log': 'Zhenzhong Duan, "vfio: Support unmap all in one ioctl()" cover letter (2025): iommufd',
} as const;

/** A replay line in short: every field that varies, one line each (the full JSON is checked for F1). */
function short(l: string): string {
  if (l.startsWith('#')) return l;
  // biome-ignore lint/suspicious/noExplicitAny: any kind of replay line, read field by field
  const o = JSON.parse(l) as Record<string, any>;
  if (o.op === 'header')
    return `header ${o.label} ${o.machine.profile} ${o.machine.backing} host ${o.machine.hostMemory} memlock ${o.machine.memlockLimit}`;
  if (o.op === 'mmap') return `mmap ${o.name} ${o.size} ${o.backing} @${o.vaddr}`;
  if (o.op === 'phase') return `phase ${o.name}`;
  // argsz and ret are always the same: the uapi sizes, and the success QEMU went on after
  expect([o.arg.argsz, o.ret]).toEqual([o.cmd === 'VFIO_IOMMU_MAP_DMA' ? 32 : 24, 0]);
  if (o.cmd === 'VFIO_IOMMU_MAP_DMA')
    return `MAP ${o.arg.iova}+${o.arg.size} @${o.arg.vaddr} ${o.arg.flags === 3 ? 'rw' : o.arg.flags === 1 ? 'r' : o.arg.flags}`;
  expect(o.arg.flags).toBe(0);
  return `UNMAP ${o.arg.iova}+${o.arg.size} -> ${o.sizeOut}`;
}

/** `import FIXTURE -o OUT [args]`; the replay lines and the assumptions printed. */
async function imp(name: string, args: string[] = []): Promise<{ out: string; lines: string[]; notes: string[] }> {
  const out = join(dir, `${name}.jsonl`);
  const r = await cli(['import', join(FIX, name), '-o', out, ...args]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(
    new RegExp(
      `^import: wrote ${out}: \\d+ mmap, \\d+ MAP_DMA, \\d+ UNMAP_DMA \\(replay: vfio-sim replay ${out} --profile v4.16,v4.17,mainline\\)\\n$`,
    ),
  );
  const notes = r.stderr.trimEnd().split('\n');
  for (const n of notes) expect(n).toMatch(/^import: /);
  return { out, lines: readFileSync(out, 'utf8').trimEnd().split('\n'), notes: notes.map((n) => n.slice('import: '.length)) };
}

/** Replays under the three releases of the default comparison: exit 0, no call differs, none fails. */
async function replaysCleanly(file: string): Promise<void> {
  const { res, ran } = await cliJson(['replay', file, '--profile', 'v4.16,v4.17,mainline']);
  expect(ran.code).toBe(0);
  expect(res.cases.map((c) => [c.label, c.mismatches, c.metrics.ioctlErrors, c.metrics.violations])).toEqual([
    ['v4.16', [], 0, 0],
    ['v4.17', [], 0, 0],
    ['mainline', [], 0, 0],
  ]);
}

const ASSUME_LEGACY =
  'read-only: a legacy trace does not say which sections are read-only: every MAP_DMA is READ|WRITE (QEMU maps ROMs and read-only PAM pieces READ only)';
const RELEASE =
  'release: mainline (the trace does not say which kernel ran; --profile to choose, or replay with --profile v4.16,v4.17,mainline)';
const BACKING = (n: number): string =>
  `backing: thp for ${n === 1 ? 'the RAM block' : `the ${n} RAM blocks`} (the trace does not say how QEMU's RAM was backed; --backing to choose)`;
const teardown = (n: number): string =>
  `teardown: ${n} mapping${n === 1 ? '' : 's'} still in place when the trace ends: unmapped at the end (phase shutdown), one UNMAP_DMA each, as the kernel's release of the container removes them`;

describe('import: published traces', () => {
  it('test_import_f1_qemu31_no_prefix', async () => {
    const { out, lines, notes } = await imp('f1-lp1879175-qemu3.1.log');
    expect(lines).toEqual([
      '# vfio-sim import of f1-lp1879175-qemu3.1.log: legacy VFIO container (vfio_listener_region_add_ram, vfio_listener_region_del): 9 MAP_DMA and 6 UNMAP_DMA; QEMU 7.2 or earlier (vfio_listener_region_add_skip, vfio_listener_region_del_skip)',
      '{"op":"header","format":"vfio-sim-replay","version":1,"label":"mainline","machine":{"hostMemory":"11848908800","seed":1,"backing":"thp","cost":{},"driver":"amd","profile":"mainline","iotlbEntries":1024,"superpages":true,"groups":1,"devices":1,"memlockLimit":"8623751168","capIpcLock":false,"container":{"tlbSyncMax":512,"unmapPath":null,"disableHugepages":false,"dmaEntryLimit":65535}},"scenario":null}',
      // pc.ram (below 4G, its PAM pieces and above 4G at offset 3 GiB) is one block; pc.rom and pc.bios (isa-bios is its last 128 KiB) the other
      '{"op":"mmap","name":"host 0x7f5b41e00000","size":"0x1c2000000","backing":"thp","vaddr":"0x7f0000000000"}',
      '{"op":"mmap","name":"host 0x7f5d1d400000","size":"0x400000","backing":"thp","vaddr":"0x7f0240000000"}',
      '{"op":"phase","name":"trace"}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x7f0000000000","iova":"0x0","size":"0xc0000"},"ret":0}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x7f0240000000","iova":"0xc0000","size":"0x20000"},"ret":0}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x7f0240220000","iova":"0xe0000","size":"0x20000"},"ret":0}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x7f0000100000","iova":"0x100000","size":"0xbff00000"},"ret":0}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x7f0240200000","iova":"0xfffc0000","size":"0x40000"},"ret":0}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x7f00c0000000","iova":"0x100000000","size":"0x102000000"},"ret":0}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"argsz":24,"flags":0,"iova":"0x0","size":"0xc0000"},"ret":0,"sizeOut":"0xc0000"}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x7f0000000000","iova":"0x0","size":"0xa0000"},"ret":0}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"argsz":24,"flags":0,"iova":"0x0","size":"0xa0000"},"ret":0,"sizeOut":"0xa0000"}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x7f0000000000","iova":"0x0","size":"0xc0000"},"ret":0}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"argsz":24,"flags":0,"iova":"0x0","size":"0xc0000"},"ret":0,"sizeOut":"0xc0000"}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"argsz":24,"flags":0,"iova":"0xc0000","size":"0x20000"},"ret":0,"sizeOut":"0x20000"}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"argsz":24,"flags":0,"iova":"0xe0000","size":"0x20000"},"ret":0,"sizeOut":"0x20000"}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"argsz":24,"flags":0,"iova":"0x100000","size":"0xbff00000"},"ret":0,"sizeOut":"0xbff00000"}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":32,"flags":3,"vaddr":"0x7f0000000000","iova":"0x0","size":"0xd0000"},"ret":0}',
      "# the trace ends with 3 mappings in place: the kernel removes them when QEMU's container fd closes; one UNMAP_DMA each here",
      '{"op":"phase","name":"shutdown"}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"argsz":24,"flags":0,"iova":"0x0","size":"0xd0000"},"ret":0,"sizeOut":"0xd0000"}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"argsz":24,"flags":0,"iova":"0xfffc0000","size":"0x40000"},"ret":0,"sizeOut":"0x40000"}',
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"argsz":24,"flags":0,"iova":"0x100000000","size":"0x102000000"},"ret":0,"sizeOut":"0x102000000"}',
    ]);
    expect(notes).toEqual([
      'trace: f1-lp1879175-qemu3.1.log: 19 lines: 15 map/unmap events used (legacy VFIO container), 4 skipped sections, 0 other trace events, 0 lines that are no trace event; QEMU 7.2 or earlier (vfio_listener_region_add_skip, vfio_listener_region_del_skip)',
      ASSUME_LEGACY,
      'device BARs: the trace does not tell a device BAR (ram_device) from RAM: all 2 host blocks are RAM and pinned (trace pci_update_mappings_* as well to map vfio-pci BARs as MMIO)',
      BACKING(2),
      'host memory: 11.04 GiB = 2 RAM blocks of 7204 MiB + 4 GiB, rounded up to 2 MiB; RLIMIT_MEMLOCK 8.03 GiB (most RAM mapped at once + 1 GiB)',
      RELEASE,
      teardown(3),
    ]);
    await replaysCleanly(out);
  });

  it('test_import_f2_pid_prefix_merged_unmap', async () => {
    const { out, lines, notes } = await imp('f2-libvfio-user-439.log');
    expect(lines.map(short)).toEqual([
      '# vfio-sim import of f2-libvfio-user-439.log: legacy VFIO container (vfio_listener_region_add_ram, vfio_listener_region_del): 12 MAP_DMA and 4 UNMAP_DMA; QEMU 7.2 or earlier (vfio_listener_region_add_skip)',
      'header mainline mainline thp host 7522484224 memlock 4295098368',
      'mmap host 0x7fcaa6000000 0x200000 thp @0x7f0000000000', // the NIC's option ROM (RAM: mapped, then unmapped)
      'mmap host 0x7fcaa7e00000 0xc0000000 thp @0x7f0080000000', // pc.ram below 4 GiB (the excerpt maps nothing above)
      'mmap host 0x7fcbb4200000 0x400000 thp @0x7f0180000000', // pc.rom and pc.bios
      'phase trace',
      'MAP 0x0+0xa0000 @0x7f0080000000 rw',
      'MAP 0xc0000+0x20000 @0x7f0180000000 rw',
      'MAP 0xe0000+0x20000 @0x7f0180220000 rw',
      'MAP 0x100000+0xbff00000 @0x7f0080100000 rw',
      'MAP 0xfeb80000+0x40000 @0x7f0000000000 rw',
      'UNMAP 0xfeb80000+0x40000 -> 0x40000',
      // the excerpt leaves out the PAM lines that merged these three: one UNMAP_DMA removes all three, as type1 does
      'UNMAP 0xc0000+0xbff40000 -> 0xbff40000',
      'MAP 0xc0000+0xb000 @0x7f00800c0000 rw',
      'MAP 0xcb000+0x3000 @0x7f00800cb000 rw',
      'MAP 0xce000+0x2000 @0x7f00800ce000 rw',
      'MAP 0xd0000+0x20000 @0x7f00800d0000 rw',
      'MAP 0xf0000+0x10000 @0x7f00800f0000 rw',
      'MAP 0x100000+0xbff00000 @0x7f0080100000 rw',
      'UNMAP 0xce000+0x2000 -> 0x2000',
      'UNMAP 0xd0000+0x20000 -> 0x20000',
      'MAP 0xce000+0x1a000 @0x7f00800ce000 rw',
      "# the trace ends with 6 mappings in place: the kernel removes them when QEMU's container fd closes; one UNMAP_DMA each here",
      'phase shutdown',
      'UNMAP 0x0+0xa0000 -> 0xa0000',
      'UNMAP 0xc0000+0xb000 -> 0xb000',
      'UNMAP 0xcb000+0x3000 -> 0x3000',
      'UNMAP 0xce000+0x1a000 -> 0x1a000',
      'UNMAP 0xf0000+0x10000 -> 0x10000',
      'UNMAP 0x100000+0xbff00000 -> 0xbff00000',
    ]);
    expect(notes[0]).toBe(
      'trace: f2-libvfio-user-439.log: 20 lines: 16 map/unmap events used (legacy VFIO container), 4 skipped sections, 0 other trace events, 0 lines that are no trace event; prefix: pid@time; QEMU 7.2 or earlier (vfio_listener_region_add_skip)',
    );
    expect(notes.slice(1)).toEqual([
      ASSUME_LEGACY,
      'device BARs: the trace does not tell a device BAR (ram_device) from RAM: all 3 host blocks are RAM and pinned (trace pci_update_mappings_* as well to map vfio-pci BARs as MMIO)',
      BACKING(3),
      'host memory: 7174 MiB = 3 RAM blocks of 3078 MiB + 4 GiB, rounded up to 2 MiB; RLIMIT_MEMLOCK 4.00 GiB (most RAM mapped at once + 1 GiB)',
      RELEASE,
      teardown(6),
    ]);
    await replaysCleanly(out);
  });

  it('test_import_f3_low_ram_churn', async () => {
    const { out, lines, notes } = await imp('f3-libvfio-user-544.log');
    expect(lines.map(short)).toEqual([
      '# vfio-sim import of f3-libvfio-user-544.log: legacy VFIO container (vfio_listener_region_add_ram, vfio_listener_region_del): 7 MAP_DMA and 6 UNMAP_DMA',
      'header mainline mainline thp host 6442450944 memlock 3221225472',
      'mmap host 0x7f2ff7e00000 0x80000000 thp @0x7f0000000000',
      'phase trace',
      'MAP 0xc0000+0x7ff40000 @0x7f00000c0000 rw',
      'UNMAP 0xc0000+0x7ff40000 -> 0x7ff40000',
      'MAP 0x100000+0x7ff00000 @0x7f0000100000 rw',
      'UNMAP 0x100000+0x7ff00000 -> 0x7ff00000',
      'MAP 0xf0000+0x7ff10000 @0x7f00000f0000 rw',
      'UNMAP 0xf0000+0x7ff10000 -> 0x7ff10000',
      'MAP 0xc0000+0x7ff40000 @0x7f00000c0000 rw',
      'UNMAP 0xc0000+0x7ff40000 -> 0x7ff40000',
      'MAP 0x0+0x80000000 @0x7f0000000000 rw',
      'UNMAP 0x0+0x80000000 -> 0x80000000',
      'MAP 0xc0000+0x7ff40000 @0x7f00000c0000 rw',
      'UNMAP 0xc0000+0x7ff40000 -> 0x7ff40000',
      'MAP 0x100000+0x7ff00000 @0x7f0000100000 rw',
      "# the trace ends with 1 mapping in place: the kernel removes it when QEMU's container fd closes; one UNMAP_DMA each here",
      'phase shutdown',
      'UNMAP 0x100000+0x7ff00000 -> 0x7ff00000',
    ]);
    // no event name or prefix that dates the trace
    expect(notes[0]).toBe(
      'trace: f3-libvfio-user-544.log: 13 lines: 13 map/unmap events used (legacy VFIO container), 0 skipped sections, 0 other trace events, 0 lines that are no trace event',
    );
    expect(notes.at(-1)).toBe(teardown(1));
    await replaysCleanly(out);
  });

  it('test_import_f5_syslog_bar_split', async () => {
    const { out, lines, notes } = await imp('f5-qemu-devel-2020-01-syslog.log');
    expect(lines.map(short)).toEqual([
      '# vfio-sim import of f5-qemu-devel-2020-01-syslog.log: legacy VFIO container (vfio_listener_region_add_ram, vfio_listener_region_del): 3 MAP_DMA and 0 UNMAP_DMA',
      'header mainline mainline thp host 4328521728 memlock 1107292160',
      // BAR0 (split around the MSI-X page at +0x6000) and the next BAR's mmap touch in host memory: one block
      'mmap host 0x7f691d800000 0x2000000 thp @0x7f0000000000',
      'phase trace',
      'MAP 0xf8000000+0x6000 @0x7f0001000000 rw',
      'MAP 0xf8007000+0xff9000 @0x7f0001007000 rw',
      'MAP 0xf9000000+0x1000000 @0x7f0000000000 rw',
      "# the trace ends with 3 mappings in place: the kernel removes them when QEMU's container fd closes; one UNMAP_DMA each here",
      'phase shutdown',
      'UNMAP 0xf8000000+0x6000 -> 0x6000',
      'UNMAP 0xf8007000+0xff9000 -> 0xff9000',
      'UNMAP 0xf9000000+0x1000000 -> 0x1000000',
    ]);
    // vfio_region_mmap is another event; without pci_update_mappings the BARs are taken for RAM, and said so
    expect(notes[0]).toBe(
      'trace: f5-qemu-devel-2020-01-syslog.log: 4 lines: 3 map/unmap events used (legacy VFIO container), 0 skipped sections, 1 other trace event, 0 lines that are no trace event; prefix: syslog',
    );
    expect(notes[2]).toBe(
      'device BARs: the trace does not tell a device BAR (ram_device) from RAM: the host block is RAM and pinned (trace pci_update_mappings_* as well to map vfio-pci BARs as MMIO)',
    );
    await replaysCleanly(out);
  });

  it('test_import_f4_excerpt_refused', async () => {
    // hand-picked lines: a region_del of a range no region_add in the excerpt mapped
    const f = join(FIX, 'f4-qemu-devel-2021-05-07.log');
    expect(await cli(['import', f])).toEqual({
      code: 2,
      stdout: '',
      stderr: `vfio-sim: ${f}:2: region_del 0xc4000 - 0xdffff unmaps a range no region_add mapped: the trace starts after its region_add, or it is a virtio-mem section (QEMU does not trace those maps); neither can be replayed\n`,
    });
  });

  it('test_import_f6_unmap_all_of_nothing_refused', async () => {
    // iommufd says it unmapped (ret 0) where the excerpt mapped nothing: the maps came before it
    const f = join(FIX, 'f6-unmap-all-2025.log');
    expect((await inProcess(['import', f])).stderr).toBe(
      `vfio-sim: ${f}:2: IOAS unmap 0x0 size 0xffffffffffffffff unmaps a range nothing mapped, though the kernel unmapped something (ret 0): the trace starts after its map\n`,
    );
  });
});

describe('import: prefix forms and QEMU eras (hand-written)', () => {
  it('test_import_tid_prefix_qemu5_old_names', async () => {
    // TID@sec.usec (2.10 .. 5.2 always), _add_skip/_del_skip (<= 7.2), other events and an error_report line between
    const { out, lines, notes } = await imp('h-qemu5-tid.log');
    expect(lines.map(short).slice(2, 16)).toEqual([
      'mmap host 0x7f1200000000 0x100000000 thp @0x7f0000000000',
      'mmap host 0x7f1300200000 0x400000 thp @0x7f0140000000',
      'phase trace',
      'MAP 0x0+0xc0000 @0x7f0000000000 rw',
      'MAP 0xc0000+0x20000 @0x7f0140000000 rw',
      'MAP 0xe0000+0x20000 @0x7f0140220000 rw',
      'MAP 0x100000+0xbff00000 @0x7f0000100000 rw',
      'MAP 0xfffc0000+0x40000 @0x7f0140200000 rw',
      'MAP 0x100000000+0x40000000 @0x7f00c0000000 rw',
      'UNMAP 0x0+0xc0000 -> 0xc0000',
      'MAP 0x0+0xa0000 @0x7f0000000000 rw',
      'UNMAP 0x0+0xa0000 -> 0xa0000',
      'MAP 0x0+0xc0000 @0x7f0000000000 rw',
      "# the trace ends with 6 mappings in place: the kernel removes them when QEMU's container fd closes; one UNMAP_DMA each here",
    ]);
    expect(lines).toHaveLength(23);
    expect(notes[0]).toBe(
      'trace: h-qemu5-tid.log: 18 lines: 10 map/unmap events used (legacy VFIO container), 4 skipped sections, 3 other trace events, 1 line that is no trace event; prefix: pid@time; QEMU 7.2 or earlier (vfio_listener_region_add_skip, vfio_listener_region_del_skip)',
    );
    await replaysCleanly(out);
  });

  it('test_import_iso8601_prefix_qemu101', async () => {
    // 10.1+ with -msg timestamp=on, the 8.0+ vfio_listener_region_skip, an error_report line with the same prefix; SeaBIOS's first PAM write
    const { out, lines, notes } = await imp('h-qemu10.1-iso.log');
    expect(lines.map(short).slice(1, 21)).toEqual([
      'header mainline mainline thp host 12889096192 memlock 9663938560',
      'mmap host 0x7f3a40000000 0x200000000 thp @0x7f0000000000',
      'mmap host 0x7f3c80200000 0x400000 thp @0x7f0240000000',
      'phase trace',
      'MAP 0x0+0xc0000 @0x7f0000000000 rw',
      'MAP 0xc0000+0x20000 @0x7f0240000000 rw',
      'MAP 0xe0000+0x20000 @0x7f0240220000 rw',
      'MAP 0x100000+0x7ff00000 @0x7f0000100000 rw',
      'MAP 0xfffc0000+0x40000 @0x7f0240200000 rw',
      'MAP 0x100000000+0x180000000 @0x7f0080000000 rw',
      'UNMAP 0x0+0xc0000 -> 0xc0000',
      'UNMAP 0xc0000+0x20000 -> 0x20000',
      'UNMAP 0xe0000+0x20000 -> 0x20000',
      'UNMAP 0x100000+0x7ff00000 -> 0x7ff00000',
      'MAP 0x0+0xd8000 @0x7f0000000000 rw',
      'MAP 0xd8000+0x8000 @0x7f0240018000 rw',
      'MAP 0xe0000+0x10000 @0x7f0240220000 rw',
      'MAP 0xf0000+0x7ff10000 @0x7f00000f0000 rw',
      "# the trace ends with 6 mappings in place: the kernel removes them when QEMU's container fd closes; one UNMAP_DMA each here",
      'phase shutdown',
    ]);
    expect(notes[0]).toBe(
      'trace: h-qemu10.1-iso.log: 18 lines: 14 map/unmap events used (legacy VFIO container), 3 skipped sections, 0 other trace events, 1 line that is no trace event; prefix: iso8601; QEMU 10.1 or later (the iso8601 prefix)',
    );
    await replaysCleanly(out);
  });

  it('test_import_ftrace_prefix_qemu8', async () => {
    const { out, lines, notes } = await imp('h-qemu8-ftrace.log');
    expect(lines.map(short).slice(2)).toEqual([
      'mmap host 0x7f5500000000 0x80000000 thp @0x7f0000000000',
      'phase trace',
      'MAP 0x0+0xa0000 @0x7f0000000000 rw',
      'MAP 0xc0000+0x7ff40000 @0x7f00000c0000 rw',
      'UNMAP 0x0+0xa0000 -> 0xa0000',
      'UNMAP 0xc0000+0x7ff40000 -> 0x7ff40000',
      'MAP 0x0+0x80000000 @0x7f0000000000 rw',
      "# the trace ends with 1 mapping in place: the kernel removes it when QEMU's container fd closes; one UNMAP_DMA each here",
      'phase shutdown',
      'UNMAP 0x0+0x80000000 -> 0x80000000',
    ]);
    // the trace file's '#' header lines are no trace events
    expect(notes[0]).toBe(
      'trace: h-qemu8-ftrace.log: 13 lines: 5 map/unmap events used (legacy VFIO container), 3 skipped sections, 0 other trace events, 5 lines that are no trace event; prefix: ftrace; QEMU 8.0 or later (vfio_listener_region_skip)',
    );
    await replaysCleanly(out);
  });

  it('test_import_bars_and_no_dma_map', async () => {
    // pci_update_mappings_add of a vfio-pci device: its BAR sections are MMIO; an emulated device's BAR is not
    // VFIO's; a ram_device section QEMU could not align is neither mapped nor unmapped
    const { out, lines, notes } = await imp('h-qemu9-bars.log');
    expect(lines.map(short).slice(1)).toEqual([
      'header mainline mainline thp host 6442450944 memlock 3221094400',
      'mmap host 0x7f0a00000000 0x80000000 thp @0x7f0000000000',
      'mmap host 0x7f0b00000000 0x10000000 mmio @0x7f00c0000000',
      'mmap host 0x7f0c00000000 0x1000000 mmio @0x7f0140000000',
      'phase trace',
      'MAP 0x0+0xa0000 @0x7f0000000000 rw',
      'MAP 0xc0000+0x7ff40000 @0x7f00000c0000 rw',
      'MAP 0xfd000000+0x6000 @0x7f0140000000 rw',
      'MAP 0xfd007000+0xff9000 @0x7f0140007000 rw',
      'MAP 0xe0000000+0x10000000 @0x7f00c0000000 rw',
      'UNMAP 0xe0000000+0x10000000 -> 0x10000000',
      "# the trace ends with 4 mappings in place: the kernel removes them when QEMU's container fd closes; one UNMAP_DMA each here",
      'phase shutdown',
      'UNMAP 0x0+0xa0000 -> 0xa0000',
      'UNMAP 0xc0000+0x7ff40000 -> 0x7ff40000',
      'UNMAP 0xfd000000+0x6000 -> 0x6000',
      'UNMAP 0xfd007000+0xff9000 -> 0xff9000',
    ]);
    expect(notes).toContain(
      'device BARs: 3 sections inside vfio-pci BARs (pci_update_mappings_add) are device MMIO (2 host blocks, backing mmio: not pinned)',
    );
    expect(notes).toContain('no_dma_map: 3 lines of sections QEMU did not map (a device BAR not aligned to the IOMMU page): no ioctl');
    await replaysCleanly(out);
    // MMIO is never pinned: only the RAM block's pages are
    const { res } = await cliJson(['replay', out]);
    expect(res.cases[0]!.metrics.pins).toBe((0xa0000 + 0x7ff40000) / 4096);
  });

  it('test_import_iommufd_qemu101', async () => {
    // map_dma (read-only ROMs), map_file_dma with and without a region_add before it, a BAR map that failed (-1),
    // an unmap of nothing (non_exist), and an unmap of the whole space: one UNMAP_DMA per mapping
    const { out, lines, notes } = await imp('h-qemu10.1-iommufd.log', ['--profile', 'v4.17']);
    expect(lines.map(short)).toEqual([
      '# vfio-sim import of h-qemu10.1-iommufd.log: iommufd backend (iommufd_backend_map_dma, iommufd_backend_unmap_dma): 6 MAP_DMA and 6 UNMAP_DMA; QEMU 10.1 or later (iommufd_backend_map_file_dma)',
      'header v4.17 v4.17 thp host 7520387072 memlock 4295229440',
      'mmap host 0x7f4000000000 0x80000000 thp @0x7f0000000000',
      'mmap host 0x7f4100200000 0x400000 thp @0x7f00c0000000',
      'mmap fd 26 offset 0x0 0x40000000 thp @0x7f0140000000',
      'phase trace',
      'MAP 0x0+0xc0000 @0x7f0000000000 rw',
      'MAP 0xc0000+0x20000 @0x7f00c0000000 r',
      'MAP 0xe0000+0x20000 @0x7f00c0220000 r',
      'MAP 0x100000+0x7ff00000 @0x7f0000100000 rw',
      'MAP 0xfffc0000+0x40000 @0x7f00c0200000 r',
      'MAP 0x100000000+0x40000000 @0x7f0140000000 rw',
      'UNMAP 0xc0000+0x20000 -> 0x20000',
      'UNMAP 0x0+0xc0000 -> 0xc0000',
      'UNMAP 0xe0000+0x20000 -> 0x20000',
      'UNMAP 0x100000+0x7ff00000 -> 0x7ff00000',
      'UNMAP 0xfffc0000+0x40000 -> 0x40000',
      'UNMAP 0x100000000+0x40000000 -> 0x40000000',
    ]);
    expect(notes).toEqual([
      'trace: h-qemu10.1-iommufd.log: 22 lines: 12 map/unmap events used (iommufd backend), 1 skipped section, 2 other trace events, 1 line that is no trace event; QEMU 10.1 or later (iommufd_backend_map_file_dma)',
      'iommufd: IOAS maps and unmaps replayed as type1 MAP_DMA and UNMAP_DMA (an IOAS unmap of several mappings as one UNMAP_DMA each); read-only from the trace; 1 call that failed in the trace left out; 1 unmap of nothing (non_exist) left out',
      'iommufd file mappings: 1 map without a region_add [ram] line before it to give the host address: host blocks by fd and offset',
      'device BARs: the trace does not tell a device BAR (ram_device) from RAM: all 3 host blocks are RAM and pinned (trace pci_update_mappings_* as well to map vfio-pci BARs as MMIO)',
      BACKING(3),
      'host memory: 7172 MiB = 3 RAM blocks of 3076 MiB + 4 GiB, rounded up to 2 MiB; RLIMIT_MEMLOCK 4.00 GiB (most RAM mapped at once + 1 GiB)',
      'release: v4.17 (--profile)',
    ]);
    await replaysCleanly(out);
  });

  it('test_import_viommu_and_notes_qemu91', async () => {
    // 9.1+ region_add/_del [iommu] with the region's name, map notifications (no host address: not imported),
    // the IOMMU region's own region_del (not an unmap of RAM), TPM CRB misalignment and the 8.2-10.1 overflow note
    const { out, lines, notes } = await imp('h-qemu9.1-viommu.log');
    expect(lines.map(short).slice(4)).toEqual([
      'MAP 0x0+0xa0000 @0x7f0000000000 rw',
      'MAP 0xc0000+0x7ff40000 @0x7f00000c0000 rw',
      'UNMAP 0xc0000+0x7ff40000 -> 0x7ff40000',
      "# the trace ends with 1 mapping in place: the kernel removes it when QEMU's container fd closes; one UNMAP_DMA each here",
      'phase shutdown',
      'UNMAP 0x0+0xa0000 -> 0xa0000',
    ]);
    expect(notes[0]).toBe(
      'trace: h-qemu9.1-viommu.log: 12 lines: 3 map/unmap events used (legacy VFIO container), 1 skipped section, 2 other trace events, 0 lines that are no trace event; QEMU 9.1 to 10.1 (vfio_listener_region_del_iommu, vfio_legacy_dma_unmap_overflow_workaround)',
    );
    expect(notes.at(-1)).toBe(
      'vIOMMU: 6 events (IOMMU regions, iommu MAP/UNMAP notifications) not imported: the trace has no host address for them',
    );
    await replaysCleanly(out);
  });

  it('test_import_backing_option_and_stdout', async () => {
    // hugetlb-1g: blocks aligned to 1 GiB (a hugetlbfs length must be a multiple of the huge page)
    const { out, lines, notes } = await imp('h-qemu10.1-iso.log', ['--backing', 'hugetlb-1g']);
    expect(lines.map(short).slice(1, 4)).toEqual([
      'header mainline mainline hugetlb-1g host 13958643712 memlock 9663938560',
      'mmap host 0x7f3a40000000 0x200000000 hugetlb-1g @0x7f0000000000',
      'mmap host 0x7f3c80000000 0x40000000 hugetlb-1g @0x7f0240000000',
    ]);
    expect(notes).toContain('backing: hugetlb-1g for the 2 RAM blocks (--backing)');
    await replaysCleanly(out);
    // without -o the replay file goes to stdout, the assumptions to stderr
    const r = await inProcess(['import', join(FIX, 'f3-libvfio-user-544.log')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(dir, 'f3-libvfio-user-544.log.jsonl'), 'utf8'));
    expect(
      r.stderr
        .split('\n')
        .filter((l) => l !== '')
        .every((l) => l.startsWith('import: ')),
    ).toBe(true);
  });
});

describe('import: bad input', () => {
  let k = 0;
  const trace = (...lines: string[]): string => {
    const f = join(dir, `bad${++k}.log`);
    writeFileSync(f, `${lines.join('\n')}\n`);
    return f;
  };
  const ADD = (a: string, b: string, p: string): string => `vfio_listener_region_add_ram region_add [ram] ${a} - ${b} [${p}]`;
  const DEL = (a: string, b: string): string => `vfio_listener_region_del region_del ${a} - ${b}`;
  /** One line on stderr, nothing on stdout, exit 2. */
  async function refused(args: string[], msg: string): Promise<void> {
    expect(await inProcess(args)).toEqual({ code: 2, stdout: '', stderr: `vfio-sim: ${msg}\n` });
  }

  it('test_import_missing_file', async () => {
    await refused(['import', join(dir, 'none.log')], `import: cannot read ${join(dir, 'none.log')}: ENOENT`);
  });

  it('test_import_no_vfio_events', async () => {
    const f = trace(
      'qemu-system-x86_64: -device vfio-pci,host=0000:01:00.0: warning: something',
      'vfio_listener_region_skip SKIPPING region_add 0xfec00000 - 0xfec00fff',
      'pci_update_mappings_add e1000 00:03.0 0,0xfeb80000+0x20000',
    );
    await refused(
      ['import', f],
      `import: ${f} has no VFIO map or unmap event (vfio_listener_region_add_ram, vfio_listener_region_del, iommufd_backend_map_dma, iommufd_backend_map_file_dma, iommufd_backend_unmap_dma): trace QEMU with -trace 'vfio_listener_region*' (or -trace 'iommufd_backend*')`,
    );
    const empty = trace('');
    await refused(
      ['import', empty],
      `import: ${empty} has no VFIO map or unmap event (vfio_listener_region_add_ram, vfio_listener_region_del, iommufd_backend_map_dma, iommufd_backend_map_file_dma, iommufd_backend_unmap_dma): trace QEMU with -trace 'vfio_listener_region*' (or -trace 'iommufd_backend*')`,
    );
  });

  it('test_import_viommu_only', async () => {
    const f = trace(
      'vfio_listener_region_add_iommu region_add [iommu] intel_iommu_devfn_24 0x0 - 0xffffffffffffffff',
      'vfio_iommu_map_notify iommu MAP @ 0xfffff000 - 0xffffffff',
    );
    await refused(
      ['import', f],
      `import: ${f} has only vIOMMU events (2: vfio_iommu_map_notify, IOMMU regions), which give no host address to replay: nothing to import`,
    );
  });

  it('test_import_del_never_added', async () => {
    const f = trace(ADD('0x0', '0x9ffff', '0x7f0000000000'), DEL('0x100000', '0x7fffffff'));
    await refused(
      ['import', f],
      `${f}:2: region_del 0x100000 - 0x7fffffff unmaps a range no region_add mapped: the trace starts after its region_add, or it is a virtio-mem section (QEMU does not trace those maps); neither can be replayed`,
    );
  });

  it('test_import_del_splits_a_mapping', async () => {
    const f = trace(ADD('0x0', '0x7fffffff', '0x7f0000000000'), DEL('0x0', '0x9ffff'));
    await refused(
      ['import', f],
      `${f}:2: region_del 0x0 - 0x9ffff splits the mapping 0x0 - 0x7fffffff of line 1; type1 refuses that (EINVAL) and QEMU's listener unmaps whole sections`,
    );
  });

  it('test_import_overlapping_adds', async () => {
    // F4's pattern: 0xc0000 added again (another host address) with no region_del in between
    const f = trace(
      ADD('0xc0000', '0xc0fff', '0x7f6702c00000'),
      ADD('0xc1000', '0xc3fff', '0x7f66406c1000'),
      ADD('0xc0000', '0xc3fff', '0x7f66406c0000'),
    );
    await refused(
      ['import', f],
      `${f}:3: region_add [ram] 0xc0000 - 0xc3fff overlaps 0xc0000 - 0xc0fff mapped on line 1 and not unmapped; QEMU's listener never adds a section over a live one`,
    );
    // the same section again, same host address: what a second container's listener would print
    const g = trace(ADD('0x0', '0x9ffff', '0x7f0000000000'), ADD('0x0', '0x9ffff', '0x7f0000000000'));
    await refused(
      ['import', g],
      `${g}:2: region_add [ram] 0x0 - 0x9ffff [0x7f0000000000] maps again what line 1 mapped and nothing unmapped: a second VFIO container (each replays the memory map)? import traces one container`,
    );
  });

  it('test_import_malformed_and_impossible_lines', async () => {
    const cut = trace(ADD('0x0', '0x9ffff', '0x7f0000000000'), 'vfio_listener_region_add_ram region_add [ram] 0xc0000 - ');
    await refused(
      ['import', cut],
      `${cut}:2: vfio_listener_region_add_ram: cannot read 'region_add [ram] 0xc0000 - ' (expected 'region_add [ram] 0x<iova> - 0x<last> [<host address>]')`,
    );
    const unaligned = trace(ADD('0x800', '0x9ffff', '0x7f0000000800'));
    await refused(
      ['import', unaligned],
      `${unaligned}:1: region_add [ram] 0x800 - 0x9ffff [0x7f0000000800]: not 4 KiB page aligned; QEMU's listener maps host-page aligned ranges`,
    );
    const nil = trace(ADD('0x0', '0x9ffff', '(nil)'));
    await refused(['import', nil], `${nil}:1: region_add [ram] 0x0 - 0x9ffff: host address (nil): QEMU maps RAM it has mmapped`);
    const twoIoas = trace(
      'iommufd_backend_map_dma  iommufd=3 ioas=2 iova=0x0 size=0x1000 addr=0x7f0000000000 readonly=0 (0)',
      'iommufd_backend_map_dma  iommufd=3 ioas=7 iova=0x0 size=0x1000 addr=0x7f0000000000 readonly=0 (0)',
    );
    await refused(
      ['import', twoIoas],
      `${twoIoas}:2: iommufd IOAS 7: the trace also maps into IOAS 2; import traces one address space (one container) at a time`,
    );
  });

  it('test_import_bad_options', async () => {
    const f = join(FIX, 'f3-libvfio-user-544.log');
    await refused(
      ['import', f, '--backing', '2m'],
      "--backing: '2m' is not one of 4k, thp, hugetlb-2m, hugetlb-1g, fragmented, fragmented:<p> (p in [0,1] = share of 2 MiB regions left as scattered 4 KiB pages)",
    );
    await refused(['import', f, '--profile', 'v4.21'], "--profile: unknown release 'v4.21' (a release from v3.19 to v7.1, or mainline)");
    await refused(['import', f, '-o', dir], `--output: cannot write ${dir}: EISDIR (is a directory)`);
    await refused(['import', f, '-o', f], `--output: ${f} is the trace being read; give the replay file another name`);
  });
});
