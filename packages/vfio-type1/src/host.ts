// Models the host around VFIO: the machine (a sim), its IOMMU groups, the processes that open
// containers, and the containers they opened. The top of the package: it creates everything below.

import type { IommuDriver, Sim } from '@x/iommu-core';
import { Container, type ContainerHost, type ContainerOptions } from './container.js';
import { Group } from './group.js';
import { MMIO_PFN_BASE, PUD_ORDER, Process, type MmHost, type SpawnOptions } from './mm.js';

/** Host.addGroup() options; a property set to undefined is the same as one left out. */
export interface AddGroupOptions {
  /** Devices in the group, each probed on the driver. Default 1. */
  devices?: number | undefined;
}

/**
 * The host: a sim, its IOMMU groups, processes and open containers. It is each process's MmHost and
 * each container's ContainerHost.
 */
export class Host implements MmHost, ContainerHost {
  readonly groups: Group[] = [];
  readonly processes: Process[] = [];
  readonly containers: Container[] = [];
  private nextMmio = MMIO_PFN_BASE;
  private nextGroup = 0;
  private nextPid = 1000;

  constructor(readonly sim: Sim) {}

  /** A new IOMMU group of `devices` devices behind drv (each probed on the driver). */
  addGroup(drv: IommuDriver, opts: AddGroupOptions = {}): Group {
    const n = opts.devices ?? 1;
    if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`devices must be an integer >= 1, got ${n}`);
    const devs: number[] = [];
    for (let i = 0; i < n; i++) devs.push(drv.probeDevice());
    const g = new Group(this.nextGroup++, drv, devs);
    this.groups.push(g);
    return g;
  }

  /**
   * A new process. memlockLimit: RLIMIT_MEMLOCK in bytes (default RLIM_INFINITY); RangeError when
   * negative or past u64, TypeError when not a bigint (see Process).
   */
  spawn(opts: SpawnOptions = {}): Process {
    const p = new Process(this, this.nextPid, opts.memlockLimit ?? null, opts.capIpcLock ?? false);
    this.nextPid++; // only once the limit was accepted: a rejected spawn leaves the host as it was
    this.processes.push(p);
    return p;
  }

  /** open("/dev/vfio/vfio") by proc: a container with no IOMMU driver set yet. */
  openContainer(proc: Process, opts: ContainerOptions = {}): Container {
    if (proc.host !== this) throw new RangeError('process belongs to another host');
    const c = new Container(this, proc, opts);
    this.containers.push(c);
    return c;
  }

  /**
   * MMIO pfns for a device BAR mapping (never RAM). A BAR is naturally aligned to its size (PCI),
   * up to 1 GiB here, which decides which huge mappings vfio-pci can use for it.
   */
  allocMmio(npages: number): number {
    const align = Math.min(2 ** Math.ceil(Math.log2(npages)), 2 ** PUD_ORDER);
    const p = Math.ceil(this.nextMmio / align) * align;
    this.nextMmio = p + Math.ceil(npages / 512) * 512 + 512; // a gap after each BAR
    return p;
  }
}
