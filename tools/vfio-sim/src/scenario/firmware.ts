// Models the guest-physical topology changes QEMU's VFIO memory listener sees while SeaBIOS and a
// Linux guest bring up a q35 or pc machine with one assigned GPU: PAM shadowing of the BIOS area,
// the SMRAM window, the legacy VGA window and the GPU's BARs following PCI_COMMAND, and an emulated
// NIC's option ROM (QEMU hw/pci-host/pam.c, q35.c, i440fx.c, hw/pci/pci.c, pci_bridge.c,
// hw/vfio/listener.c; SeaBIOS src/fw/shadow.c, pciinit.c, smm.c, src/optionroms.c; Linux
// drivers/pci/probe.c). Each change is one memory transaction: VFIO gets region_del for every old
// section that is not in the new flat view, then region_add for every new one, each in address
// order (system/memory.c address_space_update_topology_pass); a section is one MAP_DMA of its
// page-aligned range, a deleted one one UNMAP_DMA, MMIO sections none (listener.c
// vfio_listener_valid_section).

/** A host memory object that sections are mapped from: a RAMBlock or a vfio BAR mmap. */
export type RegionName = 'pc.ram' | 'pc.rom' | 'pc.bios' | 'nic.rom' | 'gpu.bar0' | 'gpu.bar1';

/** What the QEMU process maps besides guest RAM (pc.ram) for a firmware boot, in mmap order. */
interface HostRegion {
  readonly name: RegionName;
  readonly size: bigint;
  /** 'rom': a small anonymous RAMBlock (4 KiB pages); 'mmio': a vfio BAR mmap (VM_PFNMAP, never pinned). */
  readonly kind: 'rom' | 'mmio';
}

/** One FlatRange of the system address space that VFIO maps: `size` bytes at GPA (= IOVA) `gpa`. */
export interface Section {
  readonly gpa: bigint;
  readonly size: bigint;
  /** What backs it, and from which byte of that object. */
  readonly region: RegionName;
  readonly offset: bigint;
  /** ROM, pc.bios, isa-bios and read-only PAM segments: MAP_DMA with READ only. */
  readonly readonly: boolean;
}

/** One memory transaction: the sections VFIO unmaps, then the ones it maps, each in address order. */
interface TopologyChange {
  /** What the firmware or guest did. */
  readonly step: string;
  /** Where QEMU turns it into the transaction (file and function). */
  readonly source: string;
  readonly del: readonly Section[];
  readonly add: readonly Section[];
}

/** A firmware boot as data: the extra host regions, the ordered changes, and what stays mapped. */
export interface BootPlan {
  readonly regions: readonly HostRegion[];
  readonly changes: readonly TopologyChange[];
  /** Sections mapped once boot is done, in address order: the steady state that shutdown unmaps. */
  readonly final: readonly Section[];
  /** Most sections mapped at any point of the boot (what dma_entry_limit must allow). */
  readonly peak: number;
  /** Guest-physical addresses SeaBIOS gave the GPU's BARs and the NIC's ROM BAR. */
  readonly bars: { readonly bar0: bigint; readonly bar1: bigint; readonly nicRom: bigint };
}

/** The machine a boot runs on. */
export interface MachineShape {
  readonly machine: 'q35' | 'pc';
  /** ram-below-4g and ram-above-4g sizes in bytes. */
  readonly low: bigint;
  readonly high: bigint;
  /** The GPU decodes the legacy VGA window (vfio-pci x-vga=on): 0xa0000-0xbffff becomes MMIO when routed to it. */
  readonly vga: boolean;
  /** Size of the GPU's prefetchable BAR1 in bytes (a power of two). */
  readonly bar1: bigint;
}

const KiB = 1n << 10n,
  MiB = 1n << 20n,
  GiB = 1n << 30n;
const VGA_START = 0xa0000n,
  VGA_END = 0xc0000n,
  ISA_BIOS_START = 0xe0000n,
  ONE_MIB = 0x100000n;
/** "pc.rom": 128 KiB of read-only RAM at 0xc0000 in PCI space (hw/i386/pc.c pc_memory_init, PC_ROM_SIZE). */
const PC_ROM_SIZE = 128n * KiB;
/** "pc.bios": SeaBIOS bios-256k.bin, read-only RAM at 4 GiB - 256 KiB; "isa-bios" aliases its last 128 KiB at 0xe0000 (hw/i386/x86-common.c x86_bios_rom_init). */
const BIOS_SIZE = 256n * KiB,
  ISA_BIOS_OFFSET = BIOS_SIZE - 128n * KiB;
/** GPU BAR0: 16 MiB of registers, mmapped whole; QEMU's MSI-X table emulation covers the page at +0x6000 (a QEMU 4.0 trace on qemu-devel, January 2020: sections 0x0-0x5fff and 0x7000-0xffffff of the BAR). */
const GPU_BAR0_SIZE = 16n * MiB;
const MSIX_TABLE_OFFSET = 0x6000n;
const MSIX_TABLE_END = MSIX_TABLE_OFFSET + 0x1000n;
/** The emulated NIC's option ROM BAR: QEMU's default NIC (e1000e on q35, e1000 on pc) with its iPXE ROM, 256 KiB. */
const NIC_ROM_SIZE = 256n * KiB;
/** SeaBIOS's 32-bit PCI window ends below the IOAPIC (BUILD_PCIMEM_END). */
const PCIMEM_END = 0xfec00000n;
/** q35: SeaBIOS puts PCIEXBAR (MMCONFIG) at 0xb0000000, 256 MiB, and the PCI window above it (pciinit.c mch_mem_addr_setup). */
export const Q35_MMCONFIG = 0xb0000000n;
const Q35_PCIMEM_START = Q35_MMCONFIG + 256n * MiB;
/** Smallest bridge window (PCI_BRIDGE_MEM_MIN): the q35 root port's windows are the BARs rounded up to it. */
export const MIN_BAR1 = 1n * MiB;

const alignDown = (x: bigint, a: bigint): bigint => x - (x % a);

/** Start of SeaBIOS's 32-bit PCI window (pciinit.c: pcimem_start = RamSize, then mch_/i440fx_mem_addr_setup). */
function pcimemStart(machine: 'q35' | 'pc', low: bigint): bigint {
  if (machine === 'q35') return Q35_PCIMEM_START;
  return low <= 2n * GiB ? 2n * GiB : low <= 3n * GiB ? 3n * GiB : low;
}

/**
 * Where SeaBIOS puts the GPU's BARs and the NIC's ROM (src/fw/pciinit.c
 * pci_bios_init_root_regions_mem, pci_region_map_entries), counting only these memory BARs (the
 * chipset's and the NIC's own small BARs do not move them). The root bus has a non-prefetchable
 * region (BAR0, on q35 inside the root port's window of the same size, and the NIC ROM) and a
 * prefetchable one (BAR1, 64-bit). They are stacked down from the top of the 32-bit window, the one
 * with the smaller alignment on top, each base aligned to its largest entry; inside a region entries
 * go upward, largest alignment first. Returns null when the lower region falls below pcimem_start:
 * SeaBIOS then moves 64-bit BARs above 4 GiB, which this model does not do.
 */
export function placeBars(machine: 'q35' | 'pc', low: bigint, bar1: bigint): { bar0: bigint; bar1: bigint; nicRom: bigint } | null {
  const mem = { sum: GPU_BAR0_SIZE + NIC_ROM_SIZE, align: GPU_BAR0_SIZE, base: 0n };
  const pref = { sum: bar1, align: bar1, base: 0n };
  const [top, below] = mem.align < pref.align ? [mem, pref] : [pref, mem];
  top.base = alignDown(PCIMEM_END - top.sum, top.align);
  below.base = alignDown(top.base - below.sum, below.align);
  if (below.base < pcimemStart(machine, low)) return null;
  return { bar0: mem.base, bar1: pref.base, nicRom: mem.base + GPU_BAR0_SIZE };
}

/** PAM attribute of a segment (hw/pci-host/pam.c): 0 = PCI space shows through, 1 = RAM read-only, 2 and 3 = RAM. */
const PAM_PCI = 0,
  PAM_RO = 1;
/** The 13 segments: 0 is 0xf0000-0xfffff (PAM0 high nibble); 1..12 are 16 KiB from 0xc0000 (PAM1..PAM6, low nibble first). */
const PAM_SEGMENTS = 13;
function pamSegment(i: number): [start: bigint, size: bigint] {
  return i === 0 ? [0xf0000n, 0x10000n] : [0xc0000n + BigInt(i - 1) * 0x4000n, 0x4000n];
}
/** A PAM register write: PAM0 uses its high nibble only; PAMn's low nibble is segment 2n-1, its high nibble 2n. */
function writePam(pam: number[], reg: number, value: number): void {
  if (reg === 0) pam[0] = (value >> 4) & 3;
  else {
    pam[2 * reg - 1] = value & 3;
    pam[2 * reg] = (value >> 4) & 3;
  }
}
/**
 * The PAM registers in each of the two dwords SeaBIOS writes (shadow.c, ALIGN_DOWN(pam0, 4)):
 * q35's PAM0 is at 0x90, so 0x90-0x93 (PAM0-3) and 0x94-0x97 (PAM4-6); i440fx's is at 0x59, so
 * 0x58-0x5b (PAM0-2) and 0x5c-0x5f (PAM3-6).
 */
const PAM_DWORDS: Record<'q35' | 'pc', [number[], number[]]> = {
  q35: [
    [0, 1, 2, 3],
    [4, 5, 6],
  ],
  pc: [
    [0, 1, 2],
    [3, 4, 5, 6],
  ],
};

/** The device and chipset state that decides the flat view. */
interface Chipset {
  readonly pam: number[];
  /** SMRAM D_OPEN: the "smram-region" alias over 0xa0000-0xbffff is disabled and RAM shows there. */
  smramOpen: boolean;
  /** Root port (q35) VGA alias enabled (BRIDGE_CONTROL.VGA and COMMAND.MEMORY, pci_update_vga) and its memory windows open (pci_bridge_update_mappings); on pc the GPU sits on the root bus, both always true. */
  portVga: boolean;
  portWindows: boolean;
  /** GPU BAR0 and BAR1 in the bus address space (pci_update_mappings) and its VGA regions enabled (pci_update_vga). */
  bar0: boolean;
  bar1: boolean;
  gpuVga: boolean;
  /** The NIC's ROM BAR enabled. */
  nicRom: boolean;
}

/** The sections VFIO sees in a state: RAM, ROM and ram_device pieces, adjacent ones of one object merged (FlatView simplification). */
function flatView(m: MachineShape, bars: BootPlan['bars'], st: Chipset): Section[] {
  const pieces: Section[] = [];
  const ram = (gpa: bigint, size: bigint, readonly = false): void => {
    pieces.push({ gpa, size, region: 'pc.ram', offset: gpa, readonly });
  };
  ram(0n, VGA_START);
  // smram-region aliases the PCI space over the VGA window while SMRAM is closed: the GPU's VGA MMIO when routed, else nothing (RAM shows)
  const vgaMmio = m.vga && st.gpuVga && st.portVga && !st.smramOpen;
  if (!vgaMmio) ram(VGA_START, VGA_END - VGA_START);
  for (let i = 1; i <= PAM_SEGMENTS; i++) {
    const seg = i % PAM_SEGMENTS; // 0xc0000 upward, then 0xf0000
    const [gpa, size] = pamSegment(seg);
    const attr = st.pam[seg]!;
    if (attr === PAM_PCI) {
      // pam-pci: pc.rom at 0xc0000-0xdffff, isa-bios at 0xe0000-0xfffff
      if (gpa < ISA_BIOS_START) pieces.push({ gpa, size, region: 'pc.rom', offset: gpa - VGA_END, readonly: true });
      else pieces.push({ gpa, size, region: 'pc.bios', offset: ISA_BIOS_OFFSET + gpa - ISA_BIOS_START, readonly: true });
    } else {
      ram(gpa, size, attr === PAM_RO); // pam-rom is a read-only alias of RAM; QEMU treats WE-only as RAM
    }
  }
  ram(ONE_MIB, m.low - ONE_MIB);
  const pci: Section[] = [];
  if (st.portWindows && st.bar0) {
    pci.push({ gpa: bars.bar0, size: MSIX_TABLE_OFFSET, region: 'gpu.bar0', offset: 0n, readonly: false });
    pci.push({
      gpa: bars.bar0 + MSIX_TABLE_END,
      size: GPU_BAR0_SIZE - MSIX_TABLE_END,
      region: 'gpu.bar0',
      offset: MSIX_TABLE_END,
      readonly: false,
    });
  }
  if (st.portWindows && st.bar1) pci.push({ gpa: bars.bar1, size: m.bar1, region: 'gpu.bar1', offset: 0n, readonly: false });
  if (st.nicRom) pci.push({ gpa: bars.nicRom, size: NIC_ROM_SIZE, region: 'nic.rom', offset: 0n, readonly: true });
  pci.push({ gpa: 4n * GiB - BIOS_SIZE, size: BIOS_SIZE, region: 'pc.bios', offset: 0n, readonly: true });
  pieces.push(...pci.sort((a, b) => (a.gpa < b.gpa ? -1 : 1)));
  if (m.high > 0n) pieces.push({ gpa: 4n * GiB, size: m.high, region: 'pc.ram', offset: m.low, readonly: false });
  // adjacent pieces of one object at contiguous offsets with the same attributes are one FlatRange
  const out: Section[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (
      last !== undefined &&
      last.region === p.region &&
      last.readonly === p.readonly &&
      last.gpa + last.size === p.gpa &&
      last.offset + last.size === p.offset
    ) {
      out[out.length - 1] = { ...last, size: last.size + p.size };
    } else {
      out.push(p);
    }
  }
  return out;
}

const same = (a: Section, b: Section): boolean =>
  a.gpa === b.gpa && a.size === b.size && a.region === b.region && a.offset === b.offset && a.readonly === b.readonly;

/**
 * The SeaBIOS + Linux boot of a machine with one assigned GPU (the first assigned device), as the
 * ordered memory transactions QEMU's listener sees; transactions that change nothing are left out.
 * Returns null when SeaBIOS could not place BAR1 below 4 GiB (see placeBars).
 */
export function seabiosBoot(m: MachineShape): BootPlan | null {
  const bars = placeBars(m.machine, m.low, m.bar1);
  if (bars === null) return null;
  const q35 = m.machine === 'q35';
  const st: Chipset = {
    pam: new Array<number>(PAM_SEGMENTS).fill(PAM_PCI),
    smramOpen: false,
    portVga: !q35,
    portWindows: !q35,
    bar0: false,
    bar1: false,
    gpuVga: false,
    nicRom: false,
  };
  const changes: TopologyChange[] = [];
  let cur: Section[] = [];
  let peak = 0;
  const commit = (step: string, source: string, change: (s: Chipset) => void): void => {
    change(st);
    const next = flatView(m, bars, st);
    const del = cur.filter((a) => !next.some((b) => same(a, b)));
    const add = next.filter((b) => !cur.some((a) => same(a, b)));
    if (del.length > 0 || add.length > 0) changes.push({ step, source, del, add });
    peak = Math.max(peak, cur.length, next.length); // all deletions come first: never both at once
    cur = next;
  };
  const mch = q35
    ? 'hw/pci-host/q35.c mch_write_config -> mch_update_pam (pam.c pam_update)'
    : 'hw/pci-host/i440fx.c i440fx_write_config -> i440fx_update_memory_mappings (pam.c pam_update)';
  const smram = q35 ? 'hw/pci-host/q35.c mch_update_smram' : 'hw/pci-host/i440fx.c i440fx_update_memory_mappings';
  const [dw1, dw2] = PAM_DWORDS[m.machine];
  const pams = (regs: readonly number[]): string => `PAM${regs[0]}-${regs[regs.length - 1]}`;
  const gpuCmd = 'hw/vfio/pci.c vfio_pci_write_config -> hw/pci/pci.c pci_default_write_config -> pci_update_mappings';

  // 0. realize: registering the listener replays every section of the flat view
  commit(
    'realize: listener registration replays the memory map',
    'hw/vfio/listener.c vfio_listener_register (common.c before 10.1); layout hw/i386/pc.c pc_memory_init, x86-common.c x86_bios_rom_init, pam.c init_pam',
    () => {},
  );
  // 1. system reset changes nothing: PAM stays, SMRAM closed, COMMAND 0 (no BARs)
  // 2-3. SeaBIOS make_bios_writable: two dword writes, every segment read-write (0x33, PAM0 0x30)
  for (const [k, regs] of [
    [1, dw1],
    [2, dw2],
  ] as const) {
    commit(`SeaBIOS make_bios_writable, dword ${k} (${pams(regs)} = RAM)`, `src/fw/shadow.c __make_bios_writable_intel; ${mch}`, (s) => {
      for (const r of regs) writePam(s.pam, r, r === 0 ? 0x30 : 0x33);
    });
  }
  // 4. pci_setup: PCIEXBAR (q35 MMCONFIG, MMIO: skipped) and BAR addresses with decode off: no section changes.
  // 5. pci_bios_init_devices sets COMMAND IO|MEMORY per device in BDF order: the q35 root port first
  //    (its windows open, nothing behind them yet), the NIC (MMIO BARs only), then the GPU: one
  //    transaction per BAR, then its VGA regions (visible at once on pc, where the GPU is on the root bus)
  commit(
    'SeaBIOS pci_bios_init_devices: root port COMMAND.MEMORY (windows)',
    'hw/pci/pci_bridge.c pci_bridge_write_config -> pci_bridge_update_mappings',
    (s) => {
      s.portWindows = true;
    },
  );
  commit('SeaBIOS pci_bios_init_devices: GPU COMMAND.MEMORY, BAR0', gpuCmd, (s) => {
    s.bar0 = true;
  });
  commit('SeaBIOS pci_bios_init_devices: GPU COMMAND.MEMORY, BAR1', gpuCmd, (s) => {
    s.bar1 = true;
  });
  commit('SeaBIOS pci_bios_init_devices: GPU COMMAND.MEMORY, legacy VGA', 'hw/pci/pci.c pci_update_mappings -> pci_update_vga', (s) => {
    s.gpuVga = true;
  });
  // 6. pci_enable_default_vga: the GPU is not VGA-routed behind its root port, so SeaBIOS sets the port's BRIDGE_CONTROL.VGA
  commit(
    'SeaBIOS pci_enable_default_vga: root port BRIDGE_CONTROL.VGA',
    'hw/pci/pci_bridge.c pci_bridge_update_mappings -> pci_bridge_init_vga_aliases -> pci_register_vga',
    (s) => {
      s.portVga = true;
    },
  );
  // 7. smm_setup: SMRAM = 0x4a (D_OPEN, the window is RAM), SMBASE relocation, SMRAM = 0x0a (closed)
  commit(
    'SeaBIOS smm_setup: SMRAM open (0x4a)',
    `src/fw/smm.c ${q35 ? 'ich9_lpc_apmc_smm_setup' : 'piix4_apmc_smm_setup'}; ${smram}`,
    (s) => {
      s.smramOpen = true;
    },
  );
  commit('SeaBIOS smm_setup: SMRAM closed (0x0a)', `src/fw/smm.c; ${smram}`, (s) => {
    s.smramOpen = false;
  });
  // 8. vgarom_setup copies the GPU's ROM through vfio's ROM region (MMIO, never mapped); optionrom_setup
  //    enables the NIC's ROM BAR (a RAM "rom" region: read-only map), copies it and disables it
  commit(
    'SeaBIOS optionrom_setup: NIC ROM BAR enabled',
    'src/optionroms.c map_pcirom; hw/pci/pci.c pci_update_mappings (PCI_ROM_SLOT, pci_add_option_rom)',
    (s) => {
      s.nicRom = true;
    },
  );
  commit('SeaBIOS optionrom_setup: NIC ROM BAR disabled', 'src/optionroms.c init_pcirom; hw/pci/pci.c pci_update_mappings', (s) => {
    s.nicRom = false;
  });
  // 9. make_bios_readonly: 0xf0000 read-only (0x10); 32 KiB pairs up to rom_get_max() read-only (0x11):
  //    0xc0000-0xe7fff, 0xe8000-0xeffff left RAM (PAM6 untouched), as the i440fx trace in
  //    nutanix/libvfio-user issue #439 (2021) shows
  commit(`SeaBIOS make_bios_readonly, dword 1 (${pams(dw1)})`, `src/fw/shadow.c make_bios_readonly_intel; ${mch}`, (s) => {
    for (const r of dw1) writePam(s.pam, r, r === 0 ? 0x10 : 0x11);
  });
  commit(`SeaBIOS make_bios_readonly, dword 2 (${pams(dw2)})`, `src/fw/shadow.c make_bios_readonly_intel; ${mch}`, (s) => {
    for (const r of dw2) if (r <= 5) writePam(s.pam, r, 0x11);
  });
  // 10. Linux sizes each device's BARs with PCI_COMMAND decode cleared, then restores it: the root
  //     port (q35; its VGA alias in pci_default_write_config, then its windows), then the GPU
  const probe = 'Linux drivers/pci/probe.c pci_read_bases (decode off while sizing; once per BAR in older __pci_read_base)';
  if (q35) {
    commit(
      'Linux pci_read_bases: root port decode off, VGA alias',
      `${probe}; hw/pci/pci_bridge.c pci_bridge_write_config -> pci_default_write_config -> pci_update_vga`,
      (s) => {
        s.portVga = false;
      },
    );
    commit('Linux pci_read_bases: root port decode off, windows', `${probe}; hw/pci/pci_bridge.c pci_bridge_update_mappings`, (s) => {
      s.portWindows = false;
    });
    commit(
      'Linux pci_read_bases: root port decode on, VGA alias',
      `${probe}; hw/pci/pci_bridge.c pci_default_write_config -> pci_update_vga`,
      (s) => {
        s.portVga = true;
      },
    );
    commit('Linux pci_read_bases: root port decode on, windows', `${probe}; hw/pci/pci_bridge.c pci_bridge_update_mappings`, (s) => {
      s.portWindows = true;
    });
  }
  commit('Linux pci_read_bases: GPU decode off, BAR0', `${probe}; ${gpuCmd}`, (s) => {
    s.bar0 = false;
  });
  commit('Linux pci_read_bases: GPU decode off, BAR1', `${probe}; ${gpuCmd}`, (s) => {
    s.bar1 = false;
  });
  commit('Linux pci_read_bases: GPU decode off, legacy VGA', `${probe}; hw/pci/pci.c pci_update_vga`, (s) => {
    s.gpuVga = false;
  });
  commit('Linux pci_read_bases: GPU decode on, BAR0', `${probe}; ${gpuCmd}`, (s) => {
    s.bar0 = true;
  });
  commit('Linux pci_read_bases: GPU decode on, BAR1', `${probe}; ${gpuCmd}`, (s) => {
    s.bar1 = true;
  });
  commit('Linux pci_read_bases: GPU decode on, legacy VGA', `${probe}; hw/pci/pci.c pci_update_vga`, (s) => {
    s.gpuVga = true;
  });

  const regions: HostRegion[] = [
    { name: 'pc.rom', size: PC_ROM_SIZE, kind: 'rom' },
    { name: 'pc.bios', size: BIOS_SIZE, kind: 'rom' },
    { name: 'nic.rom', size: NIC_ROM_SIZE, kind: 'rom' },
    { name: 'gpu.bar0', size: GPU_BAR0_SIZE, kind: 'mmio' },
    { name: 'gpu.bar1', size: m.bar1, kind: 'mmio' },
  ];
  return { regions, changes, final: cur, peak, bars };
}
