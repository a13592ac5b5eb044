// A scenario: the guest, the host, the IOMMU and VFIO configuration and the workload of one run.
// Scenarios are plain JSON (sizes as strings), so they can live in files, cross worker threads
// and be echoed in --json output; resolveScenario() validates one and computes what a run needs.

import {
  DEFAULT_MACHINE,
  costError,
  isBackingProfile,
  isMachineName,
  isProfileName,
  machineError,
  profileError,
  type BackingProfile,
  type ProfileName,
} from '@x/iommu-core';
import { profileSpec } from '@x/vfio-type1';
import { UsageError } from '../errors.js';
import { parseSize, shortSize } from './size.js';
import { defaultBelow4g, qemuLayout, type RamBlock } from './layout.js';
import { MIN_BAR1, Q35_MMCONFIG, seabiosBoot, type BootPlan } from './firmware.js';

/** The default comparison: before the 2018 series, the series (6bd06f5a486c, eb5ecd1a40e2), today. */
export const DEFAULT_COMPARE = ['v4.16', 'v4.17', 'mainline'] as const;
/** A kernel release ('v4.17', any 'vX.Y' from v3.19 to the newest modelled one) or 'mainline', with optional '+id' / '~id' entry switches. */
export type Profile = ProfileName;
export const DRIVERS = ['amd', 'reference'] as const;
export const MACHINES = ['q35', 'pc'] as const;
/** seabios: the boot maps what QEMU's listener sees while SeaBIOS and Linux initialise the machine (firmware.ts); none: each RAM section once. */
export const FIRMWARES = ['seabios', 'none'] as const;
/**
 * boot, churn, boot+churn: a VM's life. map-test: one MAP_DMA of the guest's RAM at IOVA 4 GiB, then
 * its UNMAP_DMA, as Alex Williamson's vfio-pci-mem-dma-map test does (the Li Zhe measurements);
 * bar-map: the same with the GPU's BAR1 (device MMIO) instead of RAM.
 */
export const WORKLOADS = ['boot', 'churn', 'boot+churn', 'map-test', 'bar-map'] as const;
export const DMA_PATTERNS = ['none', 'sequential', 'random', 'hotset'] as const;
export const UNMAP_PATHS = ['slow', 'fast', 'mainline'] as const;
export const BACKINGS = ['4k', 'thp', 'hugetlb-2m', 'hugetlb-1g', 'fragmented', 'fragmented:<p>'] as const;

/** The JSON shape of a scenario (every field optional in a file; defaults fill the rest). */
export interface Scenario {
  name: string;
  seed: number;
  guest: {
    memory: string;
    machine: (typeof MACHINES)[number];
    below4g: string | null;
    vgaHole: boolean;
    firmware: (typeof FIRMWARES)[number];
    /** Size of the assigned GPU's prefetchable BAR1 (the first device; firmware 'seabios' maps its BARs). */
    gpuBar: string;
  };
  /**
   * age: the host's allocator, 1 (long-running, fragmented) .. 0 (freshly booted), see createSim's
   * hostAge; populate: guest RAM present at mmap (true) or faulted in by the first pin (false).
   * machine: the hardware cost profile (createSim's machine). All three may be absent in a result
   * saved before they existed (then 1, true and the default machine).
   */
  host: { memory: string | null; backing: string; age: number; populate: boolean; machine: string };
  driver: (typeof DRIVERS)[number];
  profile: Profile;
  devices: number;
  groups: number;
  dma: { pattern: (typeof DMA_PATTERNS)[number]; bursts: number; pages: number };
  workload: (typeof WORKLOADS)[number];
  churn: { ops: number; maxPages: number; live: number };
  vfio: { tlbSyncMax: number; unmapPath: (typeof UNMAP_PATHS)[number] | null; disableHugepages: boolean; dmaEntryLimit: number };
  iommu: { iotlbEntries: number; superpages: boolean };
  cost: Record<string, number>;
}

/**
 * The host age of a run unless told otherwise: a host whose free memory still comes in long
 * physically contiguous stretches; 2% of the allocator's picks land elsewhere, each breaking a run
 * twice (runs of ~25 blocks or pages on average). It gives what the 2018 review thread saw on dGPU
 * VMs: at most ~1500 regions per unmap call and mostly fewer than 100 (`vfio-sim validate`).
 */
const DEFAULT_HOST_AGE = 0.02;

/** vfio_iommu_type1's dma_entry_limit default (5.1+; the 4.x profiles have no limit). */
export const DMA_ENTRY_LIMIT_DEFAULT = 65535;

export function defaultScenario(): Scenario {
  return {
    name: 'default',
    seed: 1,
    guest: { memory: '64G', machine: 'q35', below4g: null, vgaHole: true, firmware: 'seabios', gpuBar: '256M' },
    host: { memory: null, backing: 'thp', age: DEFAULT_HOST_AGE, populate: true, machine: DEFAULT_MACHINE },
    driver: 'amd',
    profile: 'mainline',
    devices: 1,
    groups: 1,
    dma: { pattern: 'random', bursts: 64, pages: 16 },
    workload: 'boot',
    churn: { ops: 2000, maxPages: 16, live: 32 },
    vfio: { tlbSyncMax: 512, unmapPath: null, disableHugepages: false, dmaEntryLimit: DMA_ENTRY_LIMIT_DEFAULT },
    iommu: { iotlbEntries: 1024, superpages: true },
    cost: {},
  };
}

/** What a run needs, computed from a validated scenario. */
export interface Resolved {
  readonly scenario: Scenario;
  /** The host backing, checked. */
  readonly backing: BackingProfile;
  /** host.age, checked (1 when absent). */
  readonly hostAge: number;
  /** host.populate (true when absent). */
  readonly populate: boolean;
  /** host.machine, checked (the default machine when absent). */
  readonly machine: string;
  /** The GPU's BAR1 in bytes (guest.gpuBar). */
  readonly barBytes: bigint;
  readonly guestBytes: bigint;
  readonly hostBytes: bigint;
  readonly blocks: readonly RamBlock[];
  /** The firmware boot's topology changes, or null when the boot maps each RAM section once (firmware 'none', or no RAM at boot). */
  readonly boot: BootPlan | null;
}

/** Where a field came from, for error messages: the CLI flag and the JSON path. */
export interface FieldName {
  readonly flag: string;
  readonly path: string;
}
/** Each field's flag and JSON path, by path; frozen once the table below has registered them all. */
export const FIELDS: Readonly<Record<string, FieldName>> = {};
function f(flag: string, path: string): FieldName {
  const n = { flag, path };
  (FIELDS as Record<string, FieldName>)[path] = n;
  return n;
}
const F = {
  name: f('--name', 'name'),
  seed: f('--seed', 'seed'),
  guest: f('--guest', 'guest.memory'),
  machine: f('--qemu-machine', 'guest.machine'),
  hostMachine: f('--machine', 'host.machine'),
  below4g: f('--below-4g', 'guest.below4g'),
  vgaHole: f('--no-vga-hole', 'guest.vgaHole'),
  firmware: f('--firmware', 'guest.firmware'),
  gpuBar: f('--gpu-bar', 'guest.gpuBar'),
  host: f('--host-memory', 'host.memory'),
  backing: f('--backing', 'host.backing'),
  hostAge: f('--host-age', 'host.age'),
  populate: f('--populate', 'host.populate'),
  driver: f('--driver', 'driver'),
  profile: f('--profile', 'profile'),
  devices: f('--devices', 'devices'),
  groups: f('--groups', 'groups'),
  dma: f('--dma', 'dma.pattern'),
  dmaBursts: f('--dma-bursts', 'dma.bursts'),
  dmaPages: f('--dma-pages', 'dma.pages'),
  workload: f('--workload', 'workload'),
  churnOps: f('--churn-ops', 'churn.ops'),
  churnMax: f('--churn-max-pages', 'churn.maxPages'),
  churnLive: f('--churn-live', 'churn.live'),
  tlbSyncMax: f('--tlb-sync-max', 'vfio.tlbSyncMax'),
  unmapPath: f('--unmap-path', 'vfio.unmapPath'),
  disableHugepages: f('--disable-hugepages', 'vfio.disableHugepages'),
  dmaEntryLimit: f('--dma-entry-limit', 'vfio.dmaEntryLimit'),
  iotlb: f('--iotlb-entries', 'iommu.iotlbEntries'),
  superpages: f('--superpages', 'iommu.superpages'),
  cost: f('--cost', 'cost'),
};
// every field is registered by the table above: from here on the lookup is read-only
Object.freeze(FIELDS);

/** [min, max] of the numeric fields a replay header repeats (checked there with the same bounds). */
export const BOUNDS = {
  seed: [0, 2 ** 32 - 1],
  groups: [1, 64],
  devices: [1, 256],
  tlbSyncMax: [1, 1 << 20],
  dmaEntryLimit: [1, 2 ** 31 - 1],
  iotlbEntries: [1, 1 << 20],
} as const satisfies Record<string, readonly [number, number]>;

function bad(n: FieldName, msg: string): never {
  throw new UsageError(n.flag, msg, n.path);
}
function oneOf<T extends string>(n: FieldName, v: unknown, list: readonly T[]): T {
  if (typeof v !== 'string' || !list.includes(v as T)) bad(n, `'${String(v)}' is not one of ${list.join(', ')}`);
  return v as T;
}
function int(n: FieldName, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(n, `'${String(v)}' must be an integer in [${min}, ${max}]`);
  return v;
}
function bool(n: FieldName, v: unknown): boolean {
  if (typeof v !== 'boolean') bad(n, `'${String(v)}' must be true or false`);
  return v;
}
function size(n: FieldName, v: unknown): bigint {
  if (typeof v !== 'string' && typeof v !== 'number') bad(n, `'${String(v)}' is not a size`);
  try {
    return parseSize(String(v), n.flag);
  } catch (e) {
    return bad(n, (e as UsageError).detail);
  }
}

const SZ_4K = 1n << 12n,
  SZ_2M = 1n << 21n,
  SZ_1G = 1n << 30n;

/** Checks a backing name the way the host model reads it. */
export function checkBacking(v: unknown): BackingProfile {
  if (isBackingProfile(v)) return v; // the core's parse: names, and p in [0, 1]
  bad(F.backing, `'${String(v)}' is not one of ${BACKINGS.join(', ')} (p in [0,1] = share of 2 MiB regions left as scattered 4 KiB pages)`);
}

/** A host age as the tool accepts it: a number in [0, 1] (also checked alone by replay for its header). */
function checkHostAge(v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1))
    bad(F.hostAge, `'${String(v)}' must be a number in [0, 1] (1 = long-running host, 0 = freshly booted)`);
  return v;
}

/** VFIO_IOMMU_TLB_SYNC_MAX as the tool accepts it (also checked alone by replay, whose header may have no scenario). */
export function checkTlbSyncMax(v: unknown): number {
  return int(F.tlbSyncMax, v, ...BOUNDS.tlbSyncMax);
}

/**
 * Validates a complete scenario and computes the guest layout. Throws UsageError naming the flag
 * for any bad field and for impossible combinations (guest bigger than host, ...).
 */
export function resolveScenario(s: Scenario): Resolved {
  if (typeof s.name !== 'string' || s.name.length === 0 || s.name.length > 80)
    bad(F.name, 'must be a non-empty string of at most 80 characters');
  int(F.seed, s.seed, ...BOUNDS.seed);
  const guestBytes = size(F.guest, s.guest.memory);
  if (guestBytes % SZ_2M !== 0n) bad(F.guest, `${s.guest.memory} is not a multiple of 2 MiB`);
  if (guestBytes > 1n << 42n) bad(F.guest, `${s.guest.memory} is larger than the 4 TiB this tool models`);
  oneOf(F.machine, s.guest.machine, MACHINES);
  bool(F.vgaHole, s.guest.vgaHole);
  oneOf(F.firmware, s.guest.firmware, FIRMWARES);
  const gpuBar = size(F.gpuBar, s.guest.gpuBar);
  if (gpuBar < MIN_BAR1 || (gpuBar & (gpuBar - 1n)) !== 0n)
    bad(F.gpuBar, `${s.guest.gpuBar} is not a power of two of at least 1 MiB (a BAR behind a bridge window)`);
  const below = s.guest.below4g === null ? null : size(F.below4g, s.guest.below4g);
  const backing = checkBacking(s.host.backing);
  // absent in results saved before these fields existed: the defaults they ran with
  const hostAge = s.host.age === undefined ? 1 : checkHostAge(s.host.age);
  const populate = s.host.populate === undefined ? true : bool(F.populate, s.host.populate);
  const machine = s.host.machine === undefined ? DEFAULT_MACHINE : s.host.machine;
  if (!isMachineName(machine)) bad(F.hostMachine, machineError(machine));
  const hostBytes = s.host.memory === null ? guestBytes + (4n << 30n) : size(F.host, s.host.memory);
  if (hostBytes % SZ_2M !== 0n) bad(F.host, `${s.host.memory} is not a multiple of 2 MiB`);
  if (hostBytes > 1n << 44n) bad(F.host, `${s.host.memory} is larger than the 16 TiB this tool models`);
  if (guestBytes > hostBytes)
    bad(
      F.host,
      `the host (${shortSize(hostBytes)}) is smaller than the guest (${shortSize(guestBytes)}): the guest's RAM cannot be backed`,
    );
  if (backing === 'hugetlb-1g' && guestBytes % SZ_1G !== 0n)
    bad(F.guest, `${s.guest.memory} is not a multiple of 1 GiB, which hugetlb-1g backing needs`);
  if (backing === 'hugetlb-1g' && hostBytes < guestBytes + SZ_1G) {
    // 1 GiB pages need 1 GiB-aligned free regions; the allocator keeps its first block for itself
    bad(
      F.host,
      `hugetlb-1g backing needs a host at least 1 GiB larger than the guest (got host ${shortSize(hostBytes)}, guest ${shortSize(guestBytes)})`,
    );
  }
  oneOf(F.driver, s.driver, DRIVERS);
  if (!isProfileName(s.profile)) bad(F.profile, profileError(s.profile));
  bool(F.superpages, s.iommu.superpages);
  if (!s.iommu.superpages && s.driver !== 'reference')
    bad(F.superpages, "'off' applies to --driver reference (VT-d-like); AMD-Vi's page sizes come from its page-table format");
  const groups = int(F.groups, s.groups, ...BOUNDS.groups);
  const devices = int(F.devices, s.devices, ...BOUNDS.devices);
  if (devices < groups) bad(F.devices, `${devices} devices cannot fill ${groups} groups (each group needs a device)`);
  oneOf(F.dma, s.dma.pattern, DMA_PATTERNS);
  int(F.dmaBursts, s.dma.bursts, 0, 1_000_000);
  int(F.dmaPages, s.dma.pages, 1, 1 << 20);
  oneOf(F.workload, s.workload, WORKLOADS);
  int(F.churnOps, s.churn.ops, 0, 10_000_000);
  int(F.churnMax, s.churn.maxPages, 1, 1 << 18);
  int(F.churnLive, s.churn.live, 1, 65535);
  checkTlbSyncMax(s.vfio.tlbSyncMax);
  if (s.vfio.unmapPath !== null) oneOf(F.unmapPath, s.vfio.unmapPath, UNMAP_PATHS);
  bool(F.disableHugepages, s.vfio.disableHugepages);
  int(F.dmaEntryLimit, s.vfio.dmaEntryLimit, ...BOUNDS.dmaEntryLimit);
  int(F.iotlb, s.iommu.iotlbEntries, ...BOUNDS.iotlbEntries);
  if (typeof s.cost !== 'object' || s.cost === null || Array.isArray(s.cost)) bad(F.cost, 'must be an object of event -> ns');
  for (const [k, v] of Object.entries(s.cost)) {
    const e = costError(k, v);
    if (e !== null) bad(F.cost, e);
  }
  const blocks = qemuLayout(guestBytes, s.guest.machine, below, s.guest.vgaHole, F.below4g.flag);
  // 'churn' alone maps no RAM (a vIOMMU guest), the map tests map one range: no boot, whatever the firmware
  const single = s.workload === 'map-test' || s.workload === 'bar-map';
  let boot: BootPlan | null = null;
  if (s.guest.firmware === 'seabios' && s.workload !== 'churn' && !single) {
    const low = below ?? defaultBelow4g(guestBytes, s.guest.machine);
    // q35 never puts RAM above 0xb0000000 below 4 GiB (pc_q35.c): SeaBIOS's MMCONFIG window starts there
    if (s.guest.machine === 'q35' && low > Q35_MMCONFIG)
      bad(
        F.below4g,
        `${shortSize(low)} below 4 GiB overlaps q35's MMCONFIG window at 0xb0000000, where SeaBIOS puts PCIEXBAR (at most 2816M with --firmware seabios)`,
      );
    boot = seabiosBoot({ machine: s.guest.machine, low, high: guestBytes - low, vga: s.guest.vgaHole, bar1: gpuBar });
    if (boot === null)
      bad(
        F.gpuBar,
        `a ${s.guest.gpuBar} BAR1 does not fit in SeaBIOS's 32-bit PCI window below 0xfec00000 (SeaBIOS would move it above 4 GiB, which this tool does not model)`,
      );
  }
  // dma_entry_limit came in v5.1: older releases have no limit to exceed
  const limited = profileSpec(s.profile).dmaEntryLimit;
  if (limited && s.workload !== 'churn') {
    if (boot === null && blocks.length > s.vfio.dmaEntryLimit)
      bad(F.dmaEntryLimit, `${blocks.length} RAM blocks exceed the limit of ${s.vfio.dmaEntryLimit} mappings`);
    if (boot !== null && boot.peak > s.vfio.dmaEntryLimit)
      bad(
        F.dmaEntryLimit,
        `the SeaBIOS boot has up to ${boot.peak} sections mapped at once, more than the limit of ${s.vfio.dmaEntryLimit} mappings`,
      );
  }
  const ramMaps = s.workload === 'churn' ? 0 : boot !== null ? boot.final.length : blocks.length;
  if (limited && s.workload !== 'boot' && s.churn.live > s.vfio.dmaEntryLimit - ramMaps) {
    bad(
      F.churnLive,
      ramMaps === 0
        ? `${s.churn.live} live churn mappings exceed --dma-entry-limit ${s.vfio.dmaEntryLimit}`
        : `${s.churn.live} live churn mappings plus ${ramMaps} ${boot !== null ? 'sections mapped after boot' : 'RAM blocks'} exceed --dma-entry-limit ${s.vfio.dmaEntryLimit}`,
    );
  }
  if (BigInt(s.churn.maxPages) * SZ_4K > guestBytes) bad(F.churnMax, 'a churn buffer cannot be larger than the guest');
  return { scenario: s, backing, hostAge, populate, machine, barBytes: gpuBar, guestBytes, hostBytes, blocks, boot };
}

/**
 * A scenario read back from a replay header or a saved result, with the fields that came after it
 * was written filled in as what that run did: no firmware churn (firmware 'none'), the default GPU
 * BAR, and the reference driver's superpages on.
 */
export function upgradeScenario(s: Scenario): Scenario {
  const g = s.guest as Partial<Scenario['guest']> | undefined,
    i = s.iommu as Partial<Scenario['iommu']> | undefined;
  // a malformed object is left for resolveScenario to report
  if (typeof g !== 'object' || g === null || typeof i !== 'object' || i === null) return s;
  if (g.firmware !== undefined && g.gpuBar !== undefined && i.superpages !== undefined) return s;
  return {
    ...s,
    guest: { ...s.guest, firmware: g.firmware ?? 'none', gpuBar: g.gpuBar ?? '256M' },
    iommu: { ...s.iommu, superpages: i.superpages ?? true },
  };
}

/** Deep-merges a partial scenario (from a JSON file or overrides) over a base; unknown keys are errors. */
export function mergeScenario(base: Scenario, patch: unknown, where: string): Scenario {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  walk(out, patch, '');
  return out as unknown as Scenario;
  function walk(dst: Record<string, unknown>, src: unknown, prefix: string): void {
    if (typeof src !== 'object' || src === null || Array.isArray(src)) {
      throw new UsageError(where, `${prefix === '' ? 'scenario' : prefix} must be a JSON object`);
    }
    for (const [k, v] of Object.entries(src as Record<string, unknown>)) {
      const path = prefix === '' ? k : `${prefix}.${k}`;
      if (k === '$schema' || k === 'comment') continue;
      // own fields only: 'toString' or '__proto__' in a file is not a field of the scenario
      if (!Object.hasOwn(dst, k))
        throw new UsageError(
          where,
          `unknown field '${path}' (known: ${Object.keys(dst)
            .map((x) => (prefix === '' ? x : `${prefix}.${x}`))
            .join(', ')})`,
        );
      const cur = dst[k];
      if (path === 'cost') {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(where, 'cost must be an object of event -> ns');
        dst[k] = { ...(cur as object), ...(v as object) };
      } else if (typeof cur === 'object' && cur !== null) {
        walk(cur as Record<string, unknown>, v, path);
      } else {
        dst[k] = v;
      }
    }
  }
}
