// Builds the simulated machine a run drives: the sim (host RAM, clock, costs, checker, tracer), the
// IOMMU driver for the chosen kernel profile, the VFIO host with its groups, the QEMU process and
// one type1v2 container with every group attached, as QEMU sets it up before mapping guest RAM.

import { SZ_1G, SZ_2M, SZ_4K, createReferenceDriver, createSim, type BackingProfile, type IommuDriver, type Sim } from '@x/iommu-core';
import { createAmdIommu } from '@x/amd-iommu';
import { Host, VFIO_TYPE1v2_IOMMU, profileSpec, type UnmapPath } from '@x/vfio-type1';
import type { Profile } from '../scenario/scenario.js';

/** Everything needed to rebuild the machine; the header of a replay file. Sizes in bytes as decimal strings. */
export interface MachineSpec {
  hostMemory: string;
  seed: number;
  backing: BackingProfile;
  cost: Record<string, number>;
  driver: 'amd' | 'reference';
  profile: Profile;
  iotlbEntries: number;
  /** Reference driver page sizes: 4K|2M|1G (true) or 4K only (VT-d sp_off). Absent in older replay headers: true. */
  superpages?: boolean;
  /** createSim's hostAge in [0, 1]. Absent (older replay headers, and runs at host age 1): 1. */
  hostAge?: number;
  /** createSim's machine: the hardware cost profile. Absent (older replay headers): the default machine. */
  hardware?: string;
  groups: number;
  devices: number;
  memlockLimit: string;
  capIpcLock: boolean;
  container: { tlbSyncMax: number; unmapPath: string | null; disableHugepages: boolean; dmaEntryLimit: number };
}

/** What the driver side of a machine offers the run: DMA by a device and the counters it keeps. */
interface DriverHandle {
  readonly kind: 'amd' | 'reference';
  /** The driver itself (an AmdIommu or a ReferenceDriver), as VFIO's groups take it. */
  readonly iommu: IommuDriver;
  dma(dev: number, iova: number, pages: number, write: boolean): boolean;
  faults(): number;
  /** The newest DMA fault: its IOVA page and what the IOMMU logged ('IO_PAGE_FAULT', or the reference driver's reason); null if none. */
  lastFault(): { page: number; event: string } | null;
  commands(): Record<string, number> | null;
}

export interface Machine {
  readonly sim: Sim;
  readonly drv: DriverHandle;
  readonly host: InstanceType<typeof Host>;
  readonly proc: ReturnType<InstanceType<typeof Host>['spawn']>;
  readonly container: ReturnType<InstanceType<typeof Host>['openContainer']>;
  /** Device ids across all groups, in group order. */
  readonly deviceIds: readonly number[];
}

export function buildMachine(m: MachineSpec, trace: boolean): Machine {
  const sim = createSim({
    memory: BigInt(m.hostMemory),
    backing: m.backing,
    seed: m.seed,
    cost: m.cost,
    trace,
    hostAge: m.hostAge ?? 1,
    machine: m.hardware,
  });
  let drv: DriverHandle;
  if (m.driver === 'amd') {
    const amd = createAmdIommu(sim, { profile: m.profile, iotlbEntries: m.iotlbEntries });
    drv = {
      kind: 'amd',
      iommu: amd,
      dma: (dev, iova, pages, write) => amd.dma(dev, iova, pages, write ? 'write' : 'read'),
      faults: () => amd.eventLog().filter((e: { type: string }) => e.type === 'IO_PAGE_FAULT').length,
      lastFault: () => {
        const log = amd.eventLog();
        for (let i = log.length - 1; i >= 0; i--)
          if (log[i]!.type === 'IO_PAGE_FAULT') return { page: log[i]!.iova, event: 'IO_PAGE_FAULT' };
        return null;
      },
      commands: () => ({ ...(amd.commands() as Record<string, number>) }),
    };
  } else {
    // VT-d-like, flushing as the release's intel-iommu did (inside ->unmap before v5.11)
    const ref = createReferenceDriver(sim, {
      release: m.profile,
      iotlbEntries: m.iotlbEntries,
      pgsizeBitmap: m.superpages === false ? SZ_4K : SZ_4K | SZ_2M | SZ_1G,
    });
    drv = {
      kind: 'reference',
      iommu: ref,
      dma: (dev, iova, pages, write) => ref.dma(dev, iova, pages, write ? 'write' : 'read'),
      faults: () => ref.faults().length,
      lastFault: () => {
        const f = ref.faults();
        const x = f[f.length - 1];
        return x === undefined ? null : { page: x.iova, event: x.reason };
      },
      commands: () => null,
    };
  }
  const host = new Host(sim);
  const groups = [];
  const deviceIds: number[] = [];
  for (let g = 0; g < m.groups; g++) {
    // devices spread over groups as evenly as possible, earlier groups take the remainder
    const n = Math.floor(m.devices / m.groups) + (g < m.devices % m.groups ? 1 : 0);
    const grp = host.addGroup(drv.iommu, { devices: n });
    groups.push(grp);
    deviceIds.push(...grp.devices);
  }
  const proc = host.spawn({ memlockLimit: BigInt(m.memlockLimit), capIpcLock: m.capIpcLock });
  const c = host.openContainer(proc, {
    profile: m.profile,
    tlbSyncMax: m.container.tlbSyncMax,
    disableHugepages: m.container.disableHugepages,
    // dma_entry_limit came in v5.1: the package refuses it for older releases
    ...(profileSpec(m.profile).dmaEntryLimit ? { dmaEntryLimit: m.container.dmaEntryLimit } : {}),
    ...(m.container.unmapPath !== null ? { unmapPath: m.container.unmapPath as UnmapPath } : {}),
  });
  for (const g of groups) c.addGroup(g);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  return { sim, drv, host, proc, container: c, deviceIds };
}
