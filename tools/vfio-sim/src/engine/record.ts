// The replay format: JSON Lines, one object per line. Line 1 is a header describing the machine;
// then the process's mmap, phase markers, ioctls with their uapi struct field by field (u64 as
// "0x..." strings) and the result the kernel model gave, and device DMA. See
// README "Replay format". Every header field has a default, so a hand-written file may start with
// just {"op":"header","format":"vfio-sim-replay","version":1}.

import {
  NEWEST_RELEASE,
  OLDEST_RELEASE,
  costError,
  isBackingProfile,
  isMachineName,
  isProfileName,
  machineError,
  type BackingProfile,
} from '@x/iommu-core';
import { UsageError } from '../errors.js';
import { BOUNDS, FIELDS, defaultScenario, mergeScenario, resolveScenario, upgradeScenario, type Scenario } from '../scenario/scenario.js';
import { parseSize } from '../scenario/size.js';
import { DMA_MAP_SIZE, DMA_UNMAP_SIZE } from './uapi.js';
import type { MachineSpec } from './machine.js';

export const REPLAY_FORMAT = 'vfio-sim-replay',
  REPLAY_VERSION = 1;

export interface HeaderLine {
  op: 'header';
  format: typeof REPLAY_FORMAT;
  version: number;
  label: string;
  machine: MachineSpec;
  scenario: Scenario | null;
}
/**
 * An mmap of the QEMU process: guest RAM (no name), or what a firmware boot maps besides it
 * ('pc.rom', 'gpu.bar0' with backing 'mmio', ...); populate: present at mmap (absent: true) or
 * faulted in by the first pin (false). In a file `backing` may be left out (the machine's backing).
 */
export interface MmapLine {
  op: 'mmap';
  name?: string;
  size: string;
  backing: BackingProfile | 'mmio';
  vaddr?: string;
  populate?: boolean;
}
interface PhaseLine {
  op: 'phase';
  name: string;
}
export interface MapLine {
  op: 'ioctl';
  cmd: 'VFIO_IOMMU_MAP_DMA';
  arg: { argsz: number; flags: number; vaddr: string; iova: string; size: string };
  ret?: number;
  errno?: string;
}
export interface UnmapLine {
  op: 'ioctl';
  cmd: 'VFIO_IOMMU_UNMAP_DMA';
  arg: { argsz: number; flags: number; iova: string; size: string };
  ret?: number;
  errno?: string;
  sizeOut?: string;
}
interface DmaLine {
  op: 'dma';
  device: number;
  iova: string;
  pages: number;
  dir: 'read' | 'write';
}
export type RecordLine = HeaderLine | MmapLine | PhaseLine | MapLine | UnmapLine | DmaLine;

const U64 = /^0x[0-9a-f]{1,16}$/i;
const SZ_2M = 1n << 21n,
  SZ_1G = 1n << 30n;
/** The host the tool models at most (as the scenario's host.memory). */
const HOST_MAX = 1n << 44n;
const U64_MAX = (1n << 64n) - 1n;
/** VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE: what a hand-written MAP_DMA gets without flags. */
const MAP_RW = 3;

const isU64 = (v: unknown): boolean => typeof v === 'string' && U64.test(v);
const isU32 = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isStr = (v: unknown): boolean => typeof v === 'string';
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Field checks of one line; problems collect in `p` (`missing field 'x' (...)`, `field 'x' must be ...`). */
function need(o: Record<string, unknown>, k: string, what: string, ok: (v: unknown) => boolean, p: string[], prefix = ''): void {
  const v = o[k];
  if (v === undefined) p.push(`missing field '${prefix}${k}' (${what})`);
  else if (!ok(v)) p.push(`field '${prefix}${k}' must be ${what}`);
}
function may(o: Record<string, unknown>, k: string, what: string, ok: (v: unknown) => boolean, p: string[], prefix = ''): void {
  if (o[k] !== undefined && !ok(o[k])) p.push(`field '${prefix}${k}' must be ${what}`);
}
function known(o: Record<string, unknown>, keys: readonly string[], p: string[], prefix = ''): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k)) p.push(`unknown field '${prefix}${k}' (known: ${keys.map((x) => prefix + x).join(', ')})`);
}

const LINE_KEYS: Record<string, readonly string[]> = {
  mmap: ['op', 'name', 'size', 'backing', 'vaddr', 'populate'],
  phase: ['op', 'name'],
  ioctl: ['op', 'cmd', 'arg', 'ret', 'errno', 'sizeOut'],
  dma: ['op', 'device', 'iova', 'pages', 'dir'],
};

/** Checks one line after the header and fills what a file may leave out (ioctl argsz and flags); throws naming every problem. */
function checkLine(o: Record<string, unknown>, where: string): RecordLine {
  const op = o.op;
  // own keys only: an op named 'toString' must not find Object.prototype's
  const keys = typeof op === 'string' && Object.hasOwn(LINE_KEYS, op) ? LINE_KEYS[op] : undefined;
  if (keys === undefined) {
    throw new UsageError(
      where,
      op === undefined
        ? `missing field 'op' (${Object.keys(LINE_KEYS).join(', ')})`
        : `unknown op '${String(op)}' (${Object.keys(LINE_KEYS).join(', ')})`,
    );
  }
  const p: string[] = [];
  known(o, keys, p);
  switch (op) {
    case 'mmap':
      need(o, 'size', 'a 0x hex u64', isU64, p);
      may(
        o,
        'backing',
        "a backing name or 'mmio' (a device BAR)",
        (v) => v === 'mmio' || (typeof v === 'string' && isBackingProfile(v)),
        p,
      );
      may(o, 'name', 'a string', isStr, p);
      may(o, 'vaddr', 'a 0x hex u64', isU64, p);
      may(o, 'populate', 'true or false (or absent: true)', (v) => typeof v === 'boolean', p);
      break;
    case 'phase':
      need(o, 'name', 'a string', isStr, p);
      break;
    case 'dma':
      need(o, 'device', 'a device id', isU32, p);
      need(o, 'iova', 'a 0x hex byte address', isU64, p);
      need(o, 'pages', 'a page count > 0', (v) => isU32(v) && (v as number) > 0, p);
      need(o, 'dir', "'read' or 'write'", (v) => v === 'read' || v === 'write', p);
      break;
    case 'ioctl': {
      const map = o.cmd === 'VFIO_IOMMU_MAP_DMA',
        unmap = o.cmd === 'VFIO_IOMMU_UNMAP_DMA';
      if (o.cmd === undefined) p.push("missing field 'cmd' (VFIO_IOMMU_MAP_DMA or VFIO_IOMMU_UNMAP_DMA)");
      else if (!map && !unmap) p.push(`unsupported cmd '${String(o.cmd)}' (VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA)`);
      const a = o.arg;
      if (a === undefined) p.push("missing field 'arg' (the uapi struct's fields)");
      else if (!isObj(a)) p.push("field 'arg' must be an object (the uapi struct's fields)");
      else if (map || unmap) {
        known(a, map ? ['argsz', 'flags', 'vaddr', 'iova', 'size'] : ['argsz', 'flags', 'iova', 'size'], p, 'arg.');
        may(a, 'argsz', 'a u32 number', isU32, p, 'arg.');
        may(a, 'flags', 'a u32 number', isU32, p, 'arg.');
        if (map) need(a, 'vaddr', 'a 0x hex u64 string', isU64, p, 'arg.');
        need(a, 'iova', 'a 0x hex u64 string', isU64, p, 'arg.');
        need(a, 'size', 'a 0x hex u64 string', isU64, p, 'arg.');
      }
      // the recorded result, which replay compares with its own (all optional in a hand-written stream)
      if (o.ret !== undefined && o.errno !== undefined) p.push("give 'ret' or 'errno', not both");
      may(o, 'ret', 'an integer', (v) => typeof v === 'number' && Number.isInteger(v), p);
      may(o, 'errno', "an errno name like 'EINVAL'", (v) => typeof v === 'string' && /^E[A-Z0-9]+$/.test(v), p);
      if (o.sizeOut !== undefined && map) p.push("'sizeOut' belongs to VFIO_IOMMU_UNMAP_DMA");
      may(o, 'sizeOut', 'a 0x hex u64', isU64, p);
      if (p.length === 0) {
        // argsz and flags as the uapi has them when a hand-written line leaves them out
        const arg = a as Record<string, unknown>;
        if (arg.argsz === undefined) arg.argsz = map ? DMA_MAP_SIZE : DMA_UNMAP_SIZE;
        if (arg.flags === undefined) arg.flags = map ? MAP_RW : 0;
      }
      break;
    }
  }
  if (p.length > 0) throw new UsageError(where, `${String(op)}: ${p.join('; ')}`);
  return o as unknown as RecordLine;
}

/** A byte count as a header may write it: a decimal string (as records do), a number, or a size ('8G'). Null when it is none. */
function headerBytes(v: unknown): bigint | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v > 0 ? BigInt(v) : null;
  if (typeof v !== 'string') return null;
  try {
    return parseSize(v, '');
  } catch {
    return null;
  }
}

const HEADER_KEYS = ['op', 'format', 'version', 'label', 'machine', 'scenario'] as const;
const MACHINE_KEYS = [
  'hostMemory',
  'seed',
  'backing',
  'hostAge',
  'hardware',
  'cost',
  'driver',
  'profile',
  'iotlbEntries',
  'superpages',
  'groups',
  'devices',
  'memlockLimit',
  'capIpcLock',
  'container',
] as const;
const CONTAINER_KEYS = ['tlbSyncMax', 'unmapPath', 'disableHugepages', 'dmaEntryLimit'] as const;

/** Known cost events of a driver and release (the core's and the driver's), for the header's machine.cost. */
export type CostEvents = (driver: 'amd' | 'reference', profile: MachineSpec['profile']) => ReadonlySet<string>;

/**
 * The header with every default filled in (README "Replay format"), or a UsageError listing every
 * problem found. `ramBytes`: the file's mmaps that are not MMIO, which size the default host
 * (ram + 4 GiB, a run's rule) and RLIMIT_MEMLOCK (ram + 1 GiB, libvirt's rule).
 */
function checkHeader(o: Record<string, unknown>, where: string, ramBytes: bigint, costEvents?: CostEvents): HeaderLine {
  const p: string[] = [];
  for (const k of Object.keys(o))
    if (!(HEADER_KEYS as readonly string[]).includes(k)) p.push(`unknown field '${k}' (known: ${HEADER_KEYS.join(', ')})`);
  if (o.version === undefined) p.push(`missing field 'version' (${REPLAY_VERSION})`);
  else if (o.version !== REPLAY_VERSION) p.push(`unsupported version ${String(o.version)} (this tool reads ${REPLAY_VERSION})`);
  if (o.label !== undefined && !(typeof o.label === 'string' && o.label.length > 0 && o.label.length <= 80))
    p.push('label must be a non-empty string of at most 80 characters');
  const d = defaultScenario();
  const m = o.machine === undefined ? {} : o.machine;
  if (!isObj(m)) p.push('machine must be an object (every field optional)');
  const mm: Record<string, unknown> = isObj(m) ? m : {};
  const bad = (k: string, what: string): void => {
    p.push(`machine.${k} must be ${what}`);
  };
  const int = (k: string, v: unknown, [min, max]: readonly [number, number]): number => {
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max)) bad(k, `an integer in [${min}, ${max}]`);
    return v as number;
  };
  known(mm, MACHINE_KEYS, p, 'machine.');

  const bytesOf = (k: string, v: unknown): bigint | null => {
    const b = headerBytes(v);
    if (b === null) bad(k, 'bytes: a decimal string like "8589934592", or a size like "8G"');
    return b;
  };
  let hostMemory = ((ramBytes + (4n << 30n) + SZ_2M - 1n) / SZ_2M) * SZ_2M;
  if (mm.hostMemory !== undefined) {
    const b = bytesOf('hostMemory', mm.hostMemory);
    if (b !== null && b > HOST_MAX) p.push(`machine.hostMemory ${String(mm.hostMemory)} is larger than the 16 TiB this tool models`);
    else if (b !== null && b % SZ_2M !== 0n) p.push(`machine.hostMemory ${String(mm.hostMemory)} is not a multiple of 2 MiB`);
    else if (b !== null) hostMemory = b;
  }
  let memlockLimit = ramBytes + SZ_1G;
  if (mm.memlockLimit !== undefined) {
    const b = bytesOf('memlockLimit', mm.memlockLimit);
    if (b !== null && b > U64_MAX)
      p.push(`machine.memlockLimit ${String(mm.memlockLimit)} is larger than a u64 (RLIMIT_MEMLOCK is a 64-bit byte count)`);
    else if (b !== null) memlockLimit = b;
  }
  const seed = mm.seed === undefined ? d.seed : int('seed', mm.seed, BOUNDS.seed);
  const backing = mm.backing === undefined ? d.host.backing : mm.backing;
  if (!(typeof backing === 'string' && isBackingProfile(backing)))
    bad('backing', 'a backing name (4k, thp, hugetlb-2m, hugetlb-1g, fragmented:<p>)');
  if (mm.hostAge !== undefined && !(typeof mm.hostAge === 'number' && mm.hostAge >= 0 && mm.hostAge <= 1))
    bad('hostAge', 'a number in [0, 1] (or absent: 1)');
  if (mm.hardware !== undefined && !isMachineName(mm.hardware)) p.push(`machine.hardware: ${machineError(mm.hardware)}`);
  const driver = mm.driver === undefined ? d.driver : mm.driver;
  if (driver !== 'amd' && driver !== 'reference') bad('driver', "'amd' or 'reference'");
  const profile = mm.profile === undefined ? d.profile : mm.profile;
  if (!isProfileName(profile))
    bad('profile', `a release from ${OLDEST_RELEASE} to ${NEWEST_RELEASE} or 'mainline' (optionally with +id / ~id entry switches)`);
  const cost = mm.cost === undefined ? {} : mm.cost;
  if (!isObj(cost)) bad('cost', 'an object of event -> ns');
  else {
    for (const [k, v] of Object.entries(cost)) {
      const why = costError(k, v);
      if (why !== null) p.push(`machine.cost: ${why}`);
    }
    const names = Object.keys(cost);
    if (names.length > 0 && costEvents !== undefined && (driver === 'amd' || driver === 'reference') && isProfileName(profile)) {
      const ev = costEvents(driver, profile);
      for (const n of names)
        if (!ev.has(n)) p.push(`machine.cost: unknown event '${n}' (see \`vfio-sim report --costs --driver ${driver}\`)`);
    }
  }
  if (mm.superpages !== undefined && typeof mm.superpages !== 'boolean') bad('superpages', 'true or false (or absent: true)');
  const iotlbEntries = mm.iotlbEntries === undefined ? d.iommu.iotlbEntries : int('iotlbEntries', mm.iotlbEntries, BOUNDS.iotlbEntries);
  const groups = mm.groups === undefined ? d.groups : int('groups', mm.groups, BOUNDS.groups);
  // one device per group unless it says otherwise
  const devices =
    mm.devices === undefined
      ? Math.max(d.devices, typeof groups === 'number' ? groups : 1)
      : int('devices', mm.devices, [Number.isInteger(groups) ? Math.max(1, groups) : 1, BOUNDS.devices[1]]);
  if (mm.capIpcLock !== undefined && typeof mm.capIpcLock !== 'boolean') bad('capIpcLock', 'true or false');
  const c = mm.container === undefined ? {} : mm.container;
  if (!isObj(c)) bad('container', 'an object (every field optional)');
  const cc: Record<string, unknown> = isObj(c) ? c : {};
  known(cc, CONTAINER_KEYS, p, 'machine.container.');
  const tlbSyncMax = cc.tlbSyncMax === undefined ? d.vfio.tlbSyncMax : int('container.tlbSyncMax', cc.tlbSyncMax, BOUNDS.tlbSyncMax);
  const unmapPath = cc.unmapPath === undefined ? d.vfio.unmapPath : cc.unmapPath;
  if (!(unmapPath === null || unmapPath === 'slow' || unmapPath === 'fast' || unmapPath === 'mainline'))
    bad('container.unmapPath', "null, 'slow', 'fast' or 'mainline'");
  if (cc.disableHugepages !== undefined && typeof cc.disableHugepages !== 'boolean') bad('container.disableHugepages', 'true or false');
  const dmaEntryLimit =
    cc.dmaEntryLimit === undefined ? d.vfio.dmaEntryLimit : int('container.dmaEntryLimit', cc.dmaEntryLimit, BOUNDS.dmaEntryLimit);

  let scenario: Scenario | null = null;
  if (o.scenario !== undefined && o.scenario !== null) {
    if (!isObj(o.scenario)) p.push('scenario must be a scenario object or null');
    else scenario = checkHeaderScenario(o.scenario, p);
  }
  if (p.length > 0) throw new UsageError(where, `header: ${p.join('; ')}`);
  const machine: MachineSpec = {
    hostMemory: String(hostMemory),
    seed,
    backing: backing as BackingProfile,
    ...(mm.hostAge !== undefined ? { hostAge: mm.hostAge as number } : {}),
    ...(mm.hardware !== undefined ? { hardware: mm.hardware as string } : {}),
    cost: { ...(cost as Record<string, number>) },
    driver: driver as MachineSpec['driver'],
    profile: profile as MachineSpec['profile'],
    iotlbEntries,
    superpages: (mm.superpages as boolean | undefined) ?? true,
    groups,
    devices,
    memlockLimit: String(memlockLimit),
    capIpcLock: (mm.capIpcLock as boolean | undefined) ?? false,
    container: {
      tlbSyncMax,
      unmapPath: unmapPath as string | null,
      disableHugepages: (cc.disableHugepages as boolean | undefined) ?? false,
      dmaEntryLimit,
    },
  };
  return {
    op: 'header',
    format: REPLAY_FORMAT,
    version: REPLAY_VERSION,
    label: (o.label as string | undefined) ?? machine.profile,
    machine,
    scenario,
  };
}

/**
 * A header's scenario (what the recorded run was; it only describes the case in the output): a
 * record made before a scenario field existed ran without it (no firmware churn, ...); fields it
 * leaves out are the defaults. Problems go to `p` named by their JSON path.
 */
function checkHeaderScenario(s: Record<string, unknown>, p: string[]): Scenario | null {
  let merged: Scenario;
  try {
    merged = mergeScenario(defaultScenario(), upgradeScenario(s as unknown as Scenario), 'scenario');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    p.push(`scenario: ${e.detail}`);
    return null;
  }
  try {
    resolveScenario(merged);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const path = Object.values(FIELDS).find((f) => f.flag === e.option)?.path;
    p.push(`scenario.${path ?? e.option}: ${e.detail}`);
    return null;
  }
  return merged;
}

/**
 * Parses and checks a replay file; errors name the file and line. `lineNos[i]` is the file line
 * (1-based) of `lines[i]`. Blank lines and lines starting with '#' are skipped. The header comes
 * back complete (defaults filled in), mmap lines with their backing. `costEvents` checks the
 * header's cost overrides by name.
 */
export function parseReplay(
  text: string,
  file: string,
  costEvents?: CostEvents,
): { header: HeaderLine; lines: RecordLine[]; lineNos: number[] } {
  const rows = text.split('\n');
  const lines: RecordLine[] = [];
  const lineNos: number[] = [];
  let header: Record<string, unknown> | null = null;
  let headerAt = 0;
  for (let i = 0; i < rows.length; i++) {
    const raw = rows[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const where = `${file}:${i + 1}`;
    let o: unknown;
    try {
      o = JSON.parse(raw);
    } catch (e) {
      throw new UsageError(where, `not JSON: ${(e as Error).message}`);
    }
    if (!isObj(o)) throw new UsageError(where, 'each line must be a JSON object');
    if (header === null) {
      if (o.op !== 'header' || o.format !== REPLAY_FORMAT) {
        throw new UsageError(
          where,
          `first line must be {"op":"header","format":"${REPLAY_FORMAT}","version":${REPLAY_VERSION}} (every other header field is optional)`,
        );
      }
      header = o;
      headerAt = i + 1;
      continue;
    }
    lines.push(checkLine(o, where));
    lineNos.push(i + 1);
  }
  if (header === null) throw new UsageError(file, `empty replay file: no header line (vfio-sim replay --init prints a template)`);
  let ram = 0n;
  for (const l of lines) if (l.op === 'mmap' && l.backing !== 'mmio') ram += BigInt(l.size);
  const h = checkHeader(header, `${file}:${headerAt}`, ram, costEvents);
  for (const l of lines) if (l.op === 'mmap' && l.backing === undefined) l.backing = h.machine.backing;
  return { header: h, lines, lineNos };
}
