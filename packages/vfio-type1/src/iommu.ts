// Models struct vfio_iommu (one per container after SET_IOMMU) and struct vfio_domain: the domain
// list (new domains at the head), the dma tree, dma_avail, the iova list and the page-size bitmap.

import type { IommuDomain, IommuDriver, Sim } from '@x/iommu-core';
import { ContigRun, UnmapUnpinCtx } from './ctx.js';
import { DmaTree } from './dma.js';
import { registerVfioEvents } from './events.js';
import type { Process } from './mm.js';
import type { ProfileSpec, TryHarder, UnmapPath } from './profiles.js';
import { VfioStats } from './stats.js';

/**
 * struct iommu_group as type1 sees it (vfio_iommu_group->iommu_group): devices behind one IOMMU
 * driver, attached to a domain together. A Group is one; type1 never sees the group's container.
 */
export interface IommuGroup {
  readonly id: number;
  readonly drv: IommuDriver;
  /** Device ids on drv. */
  readonly devices: readonly number[];
}

/** struct vfio_domain: one IOMMU domain and the groups attached to it. */
export class VfioDomain {
  readonly groups: IommuGroup[] = [];
  /**
   * domain->fgsp: the domain maps 8 KiB as one leaf, so unmapping one page removes both (AMD). The
   * unmap loop then takes one page per chunk and lets the over-unmap cover the leaf.
   */
  fgsp = false;
  /** IOMMU_CACHE when added to every map of this domain (4.x: only if the IOMMU is coherent). */
  constructor(
    readonly dom: IommuDomain,
    readonly drv: IommuDriver,
    readonly prot: number,
  ) {}
}

/** An inclusive range of IOVA pages (struct vfio_iova). */
export interface IovaNode {
  start: number;
  last: number;
}

/** Bytes of one queued struct vfio_regions (list_head 16 + iova 8 + phys 8 + len 8). */
export const VFIO_REGION_BYTES = 40;

/**
 * What a VfioIommu is made of: the container's process, release and module parameters, already
 * checked by the container (SET_IOMMU builds one; see ContainerOptions for the defaults).
 */
export interface VfioIommuOptions {
  readonly sim: Sim;
  /** The process whose mm pins and locked_vm charges go to (the container's opener). */
  readonly proc: Process;
  readonly spec: ProfileSpec;
  /** VFIO_TYPE1v2_IOMMU (true) or VFIO_TYPE1_IOMMU: v1 unmaps whole dmas, v2 refuses to bisect one. */
  readonly v2: boolean;
  readonly unmapPath: UnmapPath;
  /** map_try_harder() variant, or null when the release (or the options) has none. */
  readonly tryHarder: TryHarder | null;
  /** VFIO_IOMMU_TLB_SYNC_MAX: regions queued per sync on the fast and mainline paths. */
  readonly tlbSyncMax: number;
  /** disable_hugepages module parameter. */
  readonly disableHugepages: boolean;
  /** allow_unsafe_interrupts module parameter. */
  readonly allowUnsafeInterrupts: boolean;
  /** dma_entry_limit module parameter: dma_avail's start. */
  readonly dmaEntryLimit: number;
}

/**
 * struct vfio_iommu: the type1 instance behind one container (Container.iommu), from SET_IOMMU until
 * its last group leaves. Built from a VfioIommuOptions object.
 */
export class VfioIommu {
  readonly sim: Sim;
  readonly proc: Process;
  readonly spec: ProfileSpec;
  readonly v2: boolean;
  readonly unmapPath: UnmapPath;
  readonly tryHarder: TryHarder | null;
  readonly tlbSyncMax: number;
  readonly disableHugepages: boolean;
  readonly allowUnsafeInterrupts: boolean;
  readonly domains: VfioDomain[] = [];
  readonly dmas = new DmaTree();
  dmaAvail: number;
  vaddrInvalidCount = 0;
  /** Valid IOVA ranges (5.4+); empty = no restriction. */
  iovaList: IovaNode[] = [];
  /** Pages charged to locked_vm by this container's dmas, and RAM pages it holds pinned. */
  lockedPages = 0;
  pinnedPages = 0;
  readonly stats = new VfioStats();
  /** vfio_pin_map_dma()'s out-parameters of vfio_pin_pages_remote(), reused by every MAP_DMA. */
  readonly mapRun = new ContigRun();
  /** vfio_unmap_unpin()'s locals, reused by every dma this container unmaps. */
  readonly unmapCtx: UnmapUnpinCtx;
  readonly evLockAcct: number;
  readonly evRegionAlloc: number;
  readonly evIoctl: number;
  readonly evGupCalls: number;
  readonly evGupPages: number;
  readonly evGupWalks: number;
  readonly evPinSteps: number;
  readonly evUnpinSteps: number;
  readonly evUnpinFolios: number;
  readonly evPfnLookups: number;

  constructor(o: VfioIommuOptions) {
    this.sim = o.sim;
    this.proc = o.proc;
    this.spec = o.spec;
    this.v2 = o.v2;
    this.unmapPath = o.unmapPath;
    this.tryHarder = o.tryHarder;
    this.tlbSyncMax = o.tlbSyncMax;
    this.disableHugepages = o.disableHugepages;
    this.allowUnsafeInterrupts = o.allowUnsafeInterrupts;
    this.dmaAvail = o.dmaEntryLimit;
    this.unmapCtx = new UnmapUnpinCtx(o.tlbSyncMax);
    const ev = registerVfioEvents(o.sim.meter);
    this.evLockAcct = ev['vfio.lockAcct'];
    this.evRegionAlloc = ev['vfio.regionAllocs'];
    this.evIoctl = ev['vfio.ioctls'];
    this.evGupCalls = ev['vfio.gupCalls'];
    this.evGupPages = ev['vfio.gupPages'];
    this.evGupWalks = ev['vfio.gupWalks'];
    this.evPinSteps = ev['vfio.pinSteps'];
    this.evUnpinSteps = ev['vfio.unpinSteps'];
    this.evUnpinFolios = ev['vfio.unpinFolios'];
    this.evPfnLookups = ev['vfio.pfnLookups'];
  }

  /** vfio_pgsize_bitmap(): AND over domains; sub-4K sizes collapse to 4K. */
  pgsizeBitmap(): bigint {
    let bm = 0xffffffffffffffffn;
    for (const d of this.domains) bm &= d.dom.pgsizeBitmap;
    if ((bm & 0xfffn) !== 0n) bm = (bm & ~0xfffn) | 0x1000n;
    return bm;
  }

  /** Smallest page size in bytes (1 << __ffs(bitmap)). */
  minPgsize(): bigint {
    const bm = this.pgsizeBitmap();
    if (bm === 0n) throw new Error('BUG: empty page-size intersection (__ffs(0) is undefined in the kernel)');
    return bm & -bm;
  }

  /** True when [start, last] pages lies inside one iova list node (or the list is empty). */
  iovaRangeValid(start: number, last: number): boolean {
    if (this.iovaList.length === 0) return true;
    for (const n of this.iovaList) if (start >= n.start && last <= n.last) return true;
    return false;
  }
}
