// Models struct vfio_iommu (one per container after SET_IOMMU) and struct vfio_domain: the domain
// list (new domains at the head), the dma tree, dma_avail, the iova list and the page-size bitmap.

import { type IommuDomain, type IommuDriver, type Sim } from '@x/iommu-core';
import { ContigRun, UnmapUnpinCtx } from './ctx.js';
import { DmaTree } from './dma.js';
import { registerVfioEvents } from './events.js';
import type { Group, Process } from './host-mm.js';
import type { ProfileSpec, TryHarder, UnmapPath } from './profiles.js';
import { VfioStats } from './stats.js';

/** struct vfio_domain: one IOMMU domain and the groups attached to it. */
export class VfioDomain {
  readonly groups: Group[] = [];
  /**
   * domain->fgsp: the domain maps 8 KiB as one leaf, so unmapping one page removes both (AMD). The
   * unmap loop then takes one page per chunk and lets the over-unmap cover the leaf.
   */
  fgsp = false;
  /** IOMMU_CACHE when added to every map of this domain (4.x: only if the IOMMU is coherent). */
  constructor(readonly dom: IommuDomain, readonly drv: IommuDriver, readonly prot: number) {}
}

/** An inclusive range of IOVA pages (struct vfio_iova). */
export interface IovaNode { start: number; last: number }

/** Bytes of one queued struct vfio_regions (list_head 16 + iova 8 + phys 8 + len 8). */
export const VFIO_REGION_BYTES = 40;

export class VfioIommu {
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

  constructor(
    readonly sim: Sim,
    readonly proc: Process,
    readonly spec: ProfileSpec,
    readonly v2: boolean,
    readonly unmapPath: UnmapPath,
    readonly tryHarder: TryHarder | null,
    readonly tlbSyncMax: number,
    readonly disableHugepages: boolean,
    readonly allowUnsafeInterrupts: boolean,
    dmaEntryLimit: number,
  ) {
    this.dmaAvail = dmaEntryLimit;
    this.unmapCtx = new UnmapUnpinCtx(tlbSyncMax);
    const m = sim.meter;
    const ev = registerVfioEvents(m);
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
