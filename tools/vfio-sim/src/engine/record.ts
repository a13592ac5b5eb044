// The replay format: JSON Lines, one object per line. Line 1 is a header describing the machine;
// then the process's mmap, phase markers, ioctls with their uapi struct field by field (u64 as
// "0x..." strings) and the result the kernel model gave, and device DMA. See README "Replay format".

import {
  NEWEST_RELEASE, OLDEST_RELEASE, costError, isBackingProfile, isMachineName, isProfileName, machineError, type BackingProfile,
} from '@x/iommu-core';
import { UsageError } from '../errors.js';
import { BOUNDS, upgradeScenario, type Scenario } from '../scenario/scenario.js';
import type { MachineSpec } from './machine.js';

export const REPLAY_FORMAT = 'vfio-sim-replay', REPLAY_VERSION = 1;

export interface HeaderLine { op: 'header'; format: typeof REPLAY_FORMAT; version: number; label: string; machine: MachineSpec; scenario: Scenario | null }
/**
 * An mmap of the QEMU process: guest RAM (no name), or what a firmware boot maps besides it
 * ('pc.rom', 'gpu.bar0' with backing 'mmio', ...); populate: present at mmap (absent: true) or
 * faulted in by the first pin (false).
 */
export interface MmapLine { op: 'mmap'; name?: string; size: string; backing: BackingProfile | 'mmio'; vaddr: string; populate?: boolean }
export interface PhaseLine { op: 'phase'; name: string }
export interface MapLine {
  op: 'ioctl'; cmd: 'VFIO_IOMMU_MAP_DMA';
  arg: { argsz: number; flags: number; vaddr: string; iova: string; size: string };
  ret?: number; errno?: string;
}
export interface UnmapLine {
  op: 'ioctl'; cmd: 'VFIO_IOMMU_UNMAP_DMA';
  arg: { argsz: number; flags: number; iova: string; size: string };
  ret?: number; errno?: string; sizeOut?: string;
}
export interface DmaLine { op: 'dma'; device: number; iova: string; pages: number; dir: 'read' | 'write' }
export type RecordLine = HeaderLine | MmapLine | PhaseLine | MapLine | UnmapLine | DmaLine;

const U64 = /^0x[0-9a-f]{1,16}$/i;

/** Parses and checks a replay file; errors name the line. `lineNos[i]` is the file line (1-based) of `lines[i]`. */
export function parseReplay(text: string, file: string): { header: HeaderLine; lines: RecordLine[]; lineNos: number[] } {
  const rows = text.split('\n');
  const lines: RecordLine[] = [];
  const lineNos: number[] = [];
  let header: HeaderLine | null = null;
  for (let i = 0; i < rows.length; i++) {
    const raw = rows[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const where = `${file}:${i + 1}`;
    let o: Record<string, unknown>;
    try { o = JSON.parse(raw) as Record<string, unknown>; } catch (e) { throw new UsageError(where, `not JSON: ${(e as Error).message}`); }
    if (typeof o !== 'object' || o === null) throw new UsageError(where, 'each line must be a JSON object');
    if (header === null) {
      if (o.op !== 'header' || o.format !== REPLAY_FORMAT) throw new UsageError(where, `first line must be {"op":"header","format":"${REPLAY_FORMAT}",...}`);
      if (o.version !== REPLAY_VERSION) throw new UsageError(where, `unsupported version ${String(o.version)} (this tool reads ${REPLAY_VERSION})`);
      if (typeof o.machine !== 'object' || o.machine === null) throw new UsageError(where, 'header needs a machine object');
      checkMachine(o.machine as Record<string, unknown>, where);
      header = o as unknown as HeaderLine;
      // a record made before a scenario field existed ran without it (no firmware churn, ...)
      if (typeof header.scenario === 'object' && header.scenario !== null) header = { ...header, scenario: upgradeScenario(header.scenario) };
      continue;
    }
    const need = (k: string, ok: (v: unknown) => boolean, what: string): void => {
      if (!ok(o[k])) throw new UsageError(where, `${String(o.op)}: field '${k}' must be ${what}`);
    };
    const u64 = (v: unknown): boolean => typeof v === 'string' && U64.test(v);
    const u32 = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
    switch (o.op) {
      case 'mmap':
        need('size', u64, 'a 0x hex u64');
        need('backing', (v) => v === 'mmio' || (typeof v === 'string' && isBackingProfile(v)), "a backing name or 'mmio' (a device BAR)");
        if (o.name !== undefined) need('name', (v) => typeof v === 'string', 'a string');
        need('populate', (v) => v === undefined || typeof v === 'boolean', 'true or false (or absent: true)');
        break;
      case 'phase': need('name', (v) => typeof v === 'string', 'a string'); break;
      case 'dma':
        need('device', u32, 'a device id'); need('iova', u64, 'a 0x hex byte address'); need('pages', (v) => u32(v) && (v as number) > 0, 'a page count > 0');
        need('dir', (v) => v === 'read' || v === 'write', "'read' or 'write'");
        break;
      case 'ioctl': {
        const a = o.arg as Record<string, unknown> | undefined;
        if (typeof a !== 'object' || a === null) throw new UsageError(where, 'ioctl: field \'arg\' must be an object');
        const fields = o.cmd === 'VFIO_IOMMU_MAP_DMA' ? ['vaddr', 'iova', 'size'] : o.cmd === 'VFIO_IOMMU_UNMAP_DMA' ? ['iova', 'size'] : null;
        if (fields === null) throw new UsageError(where, `ioctl: unsupported cmd '${String(o.cmd)}' (VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA)`);
        if (!u32(a.argsz) || !u32(a.flags)) throw new UsageError(where, 'ioctl: arg.argsz and arg.flags must be u32 numbers');
        for (const k of fields) if (!u64(a[k])) throw new UsageError(where, `ioctl: arg.${k} must be a 0x hex u64 string`);
        // the recorded result, which replay compares with its own (all optional in a hand-written stream)
        if (o.ret !== undefined && o.errno !== undefined) throw new UsageError(where, "ioctl: give 'ret' or 'errno', not both");
        if (o.ret !== undefined) need('ret', (v) => typeof v === 'number' && Number.isInteger(v), 'an integer');
        if (o.errno !== undefined) need('errno', (v) => typeof v === 'string' && /^E[A-Z0-9]+$/.test(v), "an errno name like 'EINVAL'");
        if (o.sizeOut !== undefined) {
          if (o.cmd !== 'VFIO_IOMMU_UNMAP_DMA') throw new UsageError(where, "ioctl: 'sizeOut' belongs to VFIO_IOMMU_UNMAP_DMA");
          need('sizeOut', u64, 'a 0x hex u64');
        }
        break;
      }
      default: throw new UsageError(where, `unknown op '${String(o.op)}' (mmap, phase, ioctl, dma)`);
    }
    lines.push(o as unknown as RecordLine);
    lineNos.push(i + 1);
  }
  if (header === null) throw new UsageError(file, 'empty replay file');
  return { header, lines, lineNos };
}

/** Checks a header's machine object field by field (what buildMachine reads). */
function checkMachine(m: Record<string, unknown>, where: string): void {
  const need = (k: string, ok: boolean, what: string): void => { if (!ok) throw new UsageError(where, `header: machine.${k} must be ${what}`); };
  const dec = (v: unknown): boolean => typeof v === 'string' && /^[1-9]\d*$/.test(v);
  const int = (v: unknown, min: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min;
  // the scenario's bounds: a hand-written header gets no more room than a flag
  const bounded = (k: string, v: unknown, [min, max]: readonly [number, number]): void =>
    need(k, int(v, min) && (v as number) <= max, `an integer in [${min}, ${max}]`);
  need('hostMemory', dec(m.hostMemory), 'bytes as a decimal string');
  bounded('seed', m.seed, BOUNDS.seed);
  need('backing', typeof m.backing === 'string' && isBackingProfile(m.backing), 'a backing name');
  need('cost', typeof m.cost === 'object' && m.cost !== null && !Array.isArray(m.cost), 'an object of event -> ns');
  for (const [k, v] of Object.entries(m.cost as Record<string, unknown>)) {
    const e = costError(k, v);
    if (e !== null) throw new UsageError(where, `header: machine.cost: ${e}`);
  }
  if (m.hardware !== undefined && !isMachineName(m.hardware)) throw new UsageError(where, `header: machine.hardware: ${machineError(m.hardware)}`);
  need('driver', m.driver === 'amd' || m.driver === 'reference', "'amd' or 'reference'");
  need('profile', isProfileName(m.profile), `a release from ${OLDEST_RELEASE} to ${NEWEST_RELEASE} or 'mainline' (optionally with +id / ~id entry switches)`);
  need('superpages', m.superpages === undefined || typeof m.superpages === 'boolean', 'true or false (or absent: true)');
  need('hostAge', m.hostAge === undefined || (typeof m.hostAge === 'number' && m.hostAge >= 0 && m.hostAge <= 1), 'a number in [0, 1] (or absent: 1)');
  bounded('iotlbEntries', m.iotlbEntries, BOUNDS.iotlbEntries);
  bounded('groups', m.groups, BOUNDS.groups);
  need('devices', int(m.devices, m.groups as number) && (m.devices as number) <= BOUNDS.devices[1], `an integer in [groups, ${BOUNDS.devices[1]}]`);
  need('memlockLimit', dec(m.memlockLimit), 'bytes as a decimal string');
  need('capIpcLock', typeof m.capIpcLock === 'boolean', 'true or false');
  const c = m.container as Record<string, unknown> | undefined;
  need('container', typeof c === 'object' && c !== null, 'an object');
  bounded('container.tlbSyncMax', c!.tlbSyncMax, BOUNDS.tlbSyncMax);
  need('container.unmapPath', c!.unmapPath === null || c!.unmapPath === 'slow' || c!.unmapPath === 'fast' || c!.unmapPath === 'mainline', "null, 'slow', 'fast' or 'mainline'");
  need('container.disableHugepages', typeof c!.disableHugepages === 'boolean', 'true or false');
  bounded('container.dmaEntryLimit', c!.dmaEntryLimit, BOUNDS.dmaEntryLimit);
}
