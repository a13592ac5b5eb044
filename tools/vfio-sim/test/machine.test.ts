// buildMachine from a MachineSpec, and the 'iommu' trace track: devices spread over groups (earlier
// groups take the remainder), dma_entry_limit applied only from v5.1, the container's unmap path,
// the reference driver's page sizes, RLIMIT_MEMLOCK and CAP_IPC_LOCK, what each driver reports of a
// DMA fault, and the track's slices at the detail levels.

import { TRACE_ALL, TRACE_IOCTL, TRACE_IOMMU, type IommuDomain, type IommuObserver, type Sim, type TraceEvent } from '@x/iommu-core';
import type { AmdIommu } from '@x/amd-iommu';
import { VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, encodeDmaMap, encodeDmaUnmap } from '@x/vfio-type1';
import { describe, expect, it } from 'vitest';
import { traceIommuTrack } from '../src/engine/iommu-track.js';
import { buildMachine, type Machine, type MachineSpec } from '../src/engine/machine.js';

const MIB = 1n << 20n;
function spec(change: Partial<MachineSpec> = {}): MachineSpec {
  return {
    hostMemory: String(1n << 30n),
    seed: 1,
    backing: 'thp',
    cost: {},
    driver: 'amd',
    profile: 'mainline',
    iotlbEntries: 1024,
    groups: 1,
    devices: 1,
    memlockLimit: String(1n << 30n),
    capIpcLock: false,
    container: { tlbSyncMax: 512, unmapPath: null, disableHugepages: false, dmaEntryLimit: 65535 },
    ...change,
  };
}

/** MAP_DMA of `size` bytes of a fresh mmap at `iova`; the errno or null. */
function mapNew(m: Machine, iova: bigint, size: bigint, backing: MachineSpec['backing'] = 'thp'): string | null {
  const vaddr = m.proc.mmap(size, { backing, populate: true });
  try {
    m.container.ioctl(VFIO_IOMMU_MAP_DMA, encodeDmaMap({ argsz: 32, flags: 3, vaddr, iova, size }));
    return null;
  } catch (e) {
    return (e as { code: string }).code;
  }
}

describe('buildMachine', () => {
  it('test_devices_spread_over_groups', () => {
    expect(buildMachine(spec({ groups: 3, devices: 5 }), false).deviceIds).toEqual([256, 257, 258, 259, 260]);
    const groups = (g: number, d: number) => {
      const m = buildMachine(spec({ groups: g, devices: d }), false);
      return m.host.groups.map((x) => x.devices.length);
    };
    // earlier groups take the remainder
    expect(groups(3, 5)).toEqual([2, 2, 1]);
    expect(groups(3, 7)).toEqual([3, 2, 2]);
    expect(groups(2, 2)).toEqual([1, 1]);
    expect(groups(1, 4)).toEqual([4]);
    // the reference driver numbers its devices from 1
    expect(buildMachine(spec({ driver: 'reference', groups: 2, devices: 3 }), false).deviceIds).toEqual([1, 2, 3]);
  });

  it('test_dma_entry_limit_from_v5_1', () => {
    const limited = (profile: MachineSpec['profile']) => {
      const m = buildMachine(
        spec({ profile, container: { tlbSyncMax: 512, unmapPath: null, disableHugepages: false, dmaEntryLimit: 1 } }),
        false,
      );
      return [mapNew(m, 0n, 2n * MIB), mapNew(m, 4n * MIB, 2n * MIB)];
    };
    expect(limited('v5.0')).toEqual([null, null]);
    expect(limited('v5.1')).toEqual([null, 'ENOSPC']);
    expect(limited('mainline')).toEqual([null, 'ENOSPC']);
  });

  it('test_unmap_path_given_or_the_releases', () => {
    // 4 MiB of 4 KiB pages: v4.17's own path (fast) gathers the 1024 pages and syncs per batch and
    // at the end; 'slow' syncs after each page's unmap
    const syncs = (unmapPath: string | null) => {
      const m = buildMachine(
        spec({ profile: 'v4.17', container: { tlbSyncMax: 512, unmapPath, disableHugepages: false, dmaEntryLimit: 65535 } }),
        false,
      );
      expect(mapNew(m, 0n, 4n * MIB, '4k')).toBeNull();
      m.container.ioctl(VFIO_IOMMU_UNMAP_DMA, encodeDmaUnmap({ argsz: 24, flags: 0, iova: 0n, size: 4n * MIB }));
      return m.container.stats().syncs;
    };
    expect(syncs(null)).toBe(2);
    expect(syncs('fast')).toBe(2);
    expect(syncs('slow')).toBe(1024);
  });

  it('test_reference_page_sizes_and_disable_hugepages', () => {
    const writes = (change: Partial<MachineSpec>) => {
      const m = buildMachine(spec({ driver: 'reference', ...change }), false);
      expect(mapNew(m, 0n, 2n * MIB)).toBeNull();
      return m.sim.counters.pteWrites;
    };
    // a 2 MiB map of a THP: the two table links below the root and one 2 MiB PTE with superpages;
    // three links and 512 PTEs of 4 KiB without them (or when VFIO pins page by page)
    expect(writes({})).toBe(3);
    expect(writes({ superpages: true })).toBe(3);
    expect(writes({ superpages: false })).toBe(3 + 512);
    expect(writes({ container: { tlbSyncMax: 512, unmapPath: null, disableHugepages: true, dmaEntryLimit: 65535 } })).toBe(3 + 512);
  });

  it('test_memlock_limit_and_cap_ipc_lock', () => {
    const m = buildMachine(spec({ memlockLimit: String(2n * MIB) }), false);
    expect(mapNew(m, 0n, 2n * MIB)).toBeNull();
    expect(mapNew(m, 2n * MIB, 2n * MIB)).toBe('ENOMEM');
    const root = buildMachine(spec({ memlockLimit: String(2n * MIB), capIpcLock: true }), false);
    expect([mapNew(root, 0n, 2n * MIB), mapNew(root, 2n * MIB, 2n * MIB)]).toEqual([null, null]);
  });

  it('test_dma_faults_as_each_driver_reports_them', () => {
    for (const driver of ['amd', 'reference'] as const) {
      const m = buildMachine(spec({ driver }), false);
      const dev = m.deviceIds[0]!;
      expect(m.drv.kind).toBe(driver);
      expect(m.drv.lastFault()).toBeNull();
      expect(m.drv.faults()).toBe(0);
      expect(mapNew(m, 0n, 2n * MIB)).toBeNull();
      expect(m.drv.dma(dev, 0, 512, true)).toBe(true);
      expect(m.drv.dma(dev, 0x600, 1, false)).toBe(false);
      expect(m.drv.dma(dev, 0x1ff, 3, true)).toBe(false);
      // the newest fault: the first unmapped page of the last DMA
      expect(m.drv.lastFault()).toEqual({ page: 0x200, event: driver === 'amd' ? 'IO_PAGE_FAULT' : 'not-present' });
      expect(m.drv.faults()).toBe(2);
      if (driver === 'amd') {
        // an ILLEGAL_COMMAND_ERROR after the faults (opcode 0 written to the command ring): the log's
        // other event is neither counted as a DMA fault nor taken for the newest one
        const hw = (m.drv.iommu as AmdIommu).hw;
        hw.cmdRing.words.fill(0, hw.cmdRing.slot(), hw.cmdRing.slot() + 4);
        hw.cmdRing.advance();
        hw.doorbell();
        expect((m.drv.iommu as AmdIommu).eventLog().map((e) => e.type)).toEqual([
          'IO_PAGE_FAULT',
          'IO_PAGE_FAULT',
          'ILLEGAL_COMMAND_ERROR',
        ]);
        expect(m.drv.faults()).toBe(2);
        expect(m.drv.lastFault()).toEqual({ page: 0x200, event: 'IO_PAGE_FAULT' });
        const cmds = m.drv.commands()!;
        expect(cmds.COMPLETION_WAIT).toBeGreaterThan(0);
        // a copy: changing it changes nothing of the driver's
        cmds.COMPLETION_WAIT = -1;
        expect(m.drv.commands()!.COMPLETION_WAIT).toBeGreaterThan(0);
      } else expect(m.drv.commands()).toBeNull();
    }
  });

  it('test_host_age_and_hardware_reach_the_sim', () => {
    expect(buildMachine(spec(), false).sim.trace.on).toBe(false);
    expect(buildMachine(spec(), true).sim.trace.on).toBe(true);
    // the same map costs differently on another machine's costs
    const ns = (hardware?: string) => {
      const m = buildMachine(spec(hardware === undefined ? {} : { hardware }), false);
      const t0 = m.sim.clock.now;
      mapNew(m, 0n, 2n * MIB);
      return m.sim.clock.now - t0;
    };
    expect(ns('vtd-2015')).not.toBe(ns('lizhe-2025'));
    expect(ns()).toBe(ns('lizhe-2025'));
    // a fresh host (age 0) backs 1 GiB of THP with one aligned 1 GiB run: a single 1 GiB PTE; a
    // header without hostAge is a fully aged host (1), as records from before host age ran
    const writes = (hostAge?: number) => {
      const m = buildMachine(spec({ hostMemory: String(4096n * MIB), ...(hostAge === undefined ? {} : { hostAge }) }), false);
      expect(mapNew(m, 0n, 1024n * MIB)).toBeNull();
      return m.sim.counters.pteWrites;
    };
    expect(writes(0)).toBe(1);
    expect(writes(1)).toBe(513);
    expect(writes()).toBe(513);
  });
});

describe('iommu trace track', () => {
  const traced = (detail: number) => {
    const m = buildMachine(spec(), true);
    const events: TraceEvent[] = [];
    m.sim.trace.detail = detail;
    m.sim.trace.sink = (e) => {
      events.push(e);
    };
    const off = traceIommuTrack(m.sim);
    expect(mapNew(m, 0x200000n, 2n * MIB)).toBeNull();
    m.container.ioctl(VFIO_IOMMU_UNMAP_DMA, encodeDmaUnmap({ argsz: 24, flags: 0, iova: 0x200000n, size: 2n * MIB }));
    return { events: events.filter((e) => e.track === 'iommu'), m, off };
  };

  it('test_slices_at_iommu_detail', () => {
    const { events, m, off } = traced(TRACE_IOMMU);
    const dom = events.find((e) => e.name === 'iotlb_sync')!.args!.domain;
    expect(typeof dom).toBe('number');
    expect(events.map((e) => [e.ph, e.name, e.args])).toEqual([
      ['B', 'map_pages', { iova: '0x200000', order: 21, count: 1 }],
      ['E', 'map_pages', { ret: 0 }],
      ['B', 'unmap_pages', { iova: '0x200000', order: 21, count: 1 }],
      ['E', 'unmap_pages', { pages: 512 }],
      ['B', 'iotlb_sync', { domain: dom }],
      ['E', 'iotlb_sync', undefined],
    ]);
    // every slice ends where the next begins or later, in modeled time
    for (let i = 1; i < events.length; i++) expect(events[i]!.ts).toBeGreaterThanOrEqual(events[i - 1]!.ts);
    // a tracer that stops (a failed write) stops the track; unsubscribed, it adds nothing more
    off();
    m.sim.trace.on = true;
    const before = events.length;
    expect(mapNew(m, 0x200000n, 2n * MIB)).toBeNull();
    expect(events.length).toBe(before);
  });

  it('test_flush_all_and_detail_levels', () => {
    expect(traced(TRACE_IOCTL).events).toEqual([]);
    expect(traced(TRACE_ALL).events.length).toBe(6);
    // a machine not traced subscribes nothing: the remover is a no-op
    const m = buildMachine(spec(), false);
    const before = m.sim.observers.count;
    const off = traceIommuTrack(m.sim);
    expect(m.sim.observers.count).toBe(before);
    expect(off()).toBeUndefined();
    // a traced one subscribes the track, and its remover takes it off
    const t = buildMachine(spec(), true);
    const n = t.sim.observers.count;
    const offT = traceIommuTrack(t.sim);
    expect(t.sim.observers.count).toBe(n + 1);
    offT();
    expect(t.sim.observers.count).toBe(n);
    // VFIO never flushes a whole domain, so the flush_iotlb_all slices are checked on the observer
    // itself, with a stand-in tracer
    const calls: unknown[][] = [];
    const tr = {
      on: true,
      detail: TRACE_IOMMU,
      begin: (...a: unknown[]) => calls.push(['B', ...a]),
      end: (...a: unknown[]) => calls.push(['E', ...a]),
    };
    let obs: IommuObserver | null = null;
    const observe = (o: IommuObserver) => {
      obs = o;
      return () => {};
    };
    traceIommuTrack({ trace: tr, observe } as unknown as Sim);
    const o = obs as unknown as IommuObserver;
    o.flushIotlbAllBegin!({ id: 7 } as IommuDomain);
    o.flushIotlbAllEnd!({ id: 7 } as IommuDomain);
    tr.detail = TRACE_IOCTL;
    o.flushIotlbAllBegin!({ id: 7 } as IommuDomain);
    tr.detail = TRACE_ALL;
    tr.on = false;
    o.flushIotlbAllEnd!({ id: 7 } as IommuDomain);
    expect(calls).toEqual([
      ['B', 'iommu', 'flush_iotlb_all', { domain: 7 }],
      ['E', 'iommu', 'flush_iotlb_all'],
    ]);
  });
});
