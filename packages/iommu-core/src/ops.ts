// The driver contract (struct iommu_ops / iommu_domain_ops) and the domain every core call takes.
// Sizes are page-granular numbers: iova is an IOVA page number, pfn a frame, order log2 bytes.

import { IommuError } from './errno.js';
import type { IotlbGather } from './gather.js';
import type { Sim } from './sim.js';
import type { Release } from './timeline/release.js';

export const IOMMU_READ = 1 << 0,
  IOMMU_WRITE = 1 << 1,
  IOMMU_CACHE = 1 << 2,
  IOMMU_NOEXEC = 1 << 3,
  IOMMU_MMIO = 1 << 4,
  IOMMU_PRIV = 1 << 5;
export const __IOMMU_DOMAIN_PAGING = 1 << 0;
const __IOMMU_DOMAIN_DMA_API = 1 << 1,
  __IOMMU_DOMAIN_PT = 1 << 2;
export const IOMMU_DOMAIN_BLOCKED = 0,
  IOMMU_DOMAIN_IDENTITY = __IOMMU_DOMAIN_PT,
  IOMMU_DOMAIN_DMA = __IOMMU_DOMAIN_PAGING | __IOMMU_DOMAIN_DMA_API;
/** @alias __IOMMU_DOMAIN_PAGING: the kernel has both names for the type of a domain its user (VFIO) owns. */
export const IOMMU_DOMAIN_UNMANAGED = __IOMMU_DOMAIN_PAGING;
/** report_iommu_fault() flags: the faulting access was a read / a write. */
export const IOMMU_FAULT_READ = 0,
  IOMMU_FAULT_WRITE = 1 << 0;
export const IOMMU_CAP_CACHE_COHERENCY = 0,
  IOMMU_CAP_INTR_REMAP = 1,
  IOMMU_CAP_NOEXEC = 2;
export const SZ_4K = 1n << 12n,
  SZ_2M = 1n << 21n,
  SZ_1G = 1n << 30n;

/** enum iommu_resv_type. */
export const IOMMU_RESV_DIRECT = 0,
  IOMMU_RESV_DIRECT_RELAXABLE = 1,
  IOMMU_RESV_RESERVED = 2,
  IOMMU_RESV_MSI = 3,
  IOMMU_RESV_SW_MSI = 4;

/** A reserved IOVA region a device may not map (iommu_get_resv_regions), in pages, inclusive last. */
export interface ResvRegion {
  readonly start: number;
  readonly last: number;
  readonly type: number;
}

/** struct iommu_domain_geometry, in pages (apertureEnd is the last page, inclusive). */
export interface DomainGeometry {
  apertureStart: number;
  apertureEnd: number;
  forceAperture: boolean;
}

export interface IommuDomain {
  readonly id: number;
  readonly type: number;
  readonly ops: IommuOps;
  readonly sim: Sim;
  /** bit k set: leaves of 2^k bytes. Change it only through domainSetPgsizeBitmap(). */
  pgsizeBitmap: bigint;
  /** Supported orders, ascending, derived from pgsizeBitmap (hot-path form). */
  orders: readonly number[];
  geometry: DomainGeometry;
  /** Out-parameter of ops.mapPages: pages mapped by the call (the kernel's *mapped). */
  mapped: number;
  /** The model-only hooks of the domain's page table (no kernel counterpart); null when its driver has none. */
  readonly model: IommuModelOps | null;
}

/**
 * Model-only hooks (no kernel counterpart), kept apart from the kernel's ops so IommuOps reads like
 * struct iommu_domain_ops. Reached through dom.model; not for hot paths.
 */
export interface IommuModelOps {
  /** Pages the domain still maps, for leak checks. */
  mappedPages(dom: IommuDomain): number;
  /**
   * Bracket an iommu_map so a failed one leaves no new tables. Brackets nest, so a caller may wrap
   * several iommu_map calls (VFIO's MAP_DMA) in one more; mapEnd(dom, true) frees the tables the
   * maps allocated since the matching mapBegin that are now empty.
   */
  mapBegin(dom: IommuDomain): void;
  mapEnd(dom: IommuDomain, failed: boolean): void;
}

/**
 * Driver operations, named after the kernel's ops. Errors are returned as negative errno numbers
 * from mapPages (the hot path never allocates an Error); the core turns them into IommuErrors.
 * Drivers freeze their ops object: observe calls with sim.observe(), never by replacing an op.
 */
export interface IommuOps {
  readonly name: string;
  /** '2018': iotlb_range_add + iotlb_sync(domain); 'gather': iotlb_sync(domain, gather). */
  readonly apiEra: '2018' | 'gather';
  /**
   * The driver has only ->map / ->unmap, one page per call (before map_pages / unmap_pages): the
   * core counts one call per page of each run. Default: true for apiEra '2018', false for 'gather'.
   */
  readonly singlePageOps?: boolean;
  /**
   * The driver stores what one call maps in its own smaller entries (VT-d before v5.15 reported
   * every power of two and split each chunk into 4K/2M/1G entries), so unmapping one page of an 8 KiB
   * chunk removes one page. Default false: a reported size is a leaf the driver removes whole.
   */
  readonly splitsChunks?: boolean;
  /** map_pages: count leaves of 2^order bytes. 0 or -errno; sets dom.mapped. */
  mapPages(dom: IommuDomain, iova: number, pfn: number, order: number, count: number, prot: number): number;
  /** unmap_pages: returns pages removed (may exceed the request; 0 at a hole). Records into gather, or the domain's own pending range when gather is null. */
  unmapPages(dom: IommuDomain, iova: number, order: number, count: number, gather: IotlbGather | null): number;
  /** iova_to_phys: pfn of the page, or -1. */
  iovaToPhys(dom: IommuDomain, iova: number): number;
  flushIotlbAll?(dom: IommuDomain): void;
  /** 2018 API: record a range to invalidate at the next sync. */
  iotlbRangeAdd?(dom: IommuDomain, iova: number, npages: number): void;
  /** Invalidate what was gathered (or the domain's pending range when gather is null) and wait. */
  iotlbSync?(dom: IommuDomain, gather: IotlbGather | null): void;
  iotlbSyncMap?(dom: IommuDomain, iova: number, npages: number): void;
}

/** What VFIO and other users need from a driver instance (one IOMMU unit). */
export interface IommuDriver {
  readonly name: string;
  /**
   * The kernel release whose driver this models, when it models one. A VFIO container refuses a
   * driver of another release unless asked to mix them.
   */
  readonly release?: Release;
  readonly sim: Sim;
  readonly ops: IommuOps;
  readonly pgsizeBitmap: bigint;
  /** iommu_domain_alloc(IOMMU_DOMAIN_UNMANAGED). */
  domainAlloc(): IommuDomain;
  /**
   * iommu_domain_free(); the domain must have no attached devices (EBUSY). A second free is EINVAL
   * ('iommu_domain_free'); the freed domain is marked with domainMarkFreed() so the core refuses it.
   */
  domainFree(dom: IommuDomain): void;
  /** Registers a new device behind this IOMMU (its own group); returns its id. */
  probeDevice(): number;
  /** iommu_attach_device(): throws IommuError (ENODEV, EBUSY, EINVAL). */
  attachDevice(dom: IommuDomain, dev: number): void;
  detachDevice(dom: IommuDomain, dev: number): void;
  /** Domain a device translates through, or null. */
  deviceDomain(dev: number): IommuDomain | null;
  /** iommu_capable(). */
  capable(cap: number): boolean;
  /** iommu_get_resv_regions() for a device. */
  resvRegions(dev: number): readonly ResvRegion[];
  /** A device access: true when every page translated with the needed permission. */
  dma(dev: number, iova: number, npages: number, dir: 'read' | 'write'): boolean;
}

/** Orders (log2 bytes) set in a bitmap, ascending. */
export function bitmapOrders(bm: bigint): number[] {
  const out: number[] = [];
  for (let o = 0; o < 64; o++) if (((bm >> BigInt(o)) & 1n) !== 0n) out.push(o);
  return out;
}

/** Changes a domain's pgsize_bitmap (drivers narrow or widen it after allocation). */
export function domainSetPgsizeBitmap(dom: IommuDomain, bm: bigint): void {
  const orders = bitmapOrders(bm);
  if (orders.length > 0 && orders[0]! < 12) throw new RangeError('page sizes below 4 KiB are not modeled (page-granular model)');
  dom.pgsizeBitmap = bm;
  dom.orders = orders;
}

/** A domain domainMarkFreed() cleared (or never a paging one): the core API and the layers refuse it. */
export function domainIsDead(dom: IommuDomain): boolean {
  return (dom.type & __IOMMU_DOMAIN_PAGING) === 0;
}

/**
 * Marks a domain freed, for drivers' domainFree (a model helper: in the kernel a freed domain is
 * gone and any later use is a use-after-free). Clears __IOMMU_DOMAIN_PAGING, so the core API gives
 * the answers it gives any non-paging domain: iommuMap throws IommuError EINVAL 'not a paging
 * domain', iommuUnmap / iommuUnmapFast return 0, iommuIovaToPhys returns -1. Call it last, once the
 * free can no longer fail; the driver still refuses a second free itself (EINVAL, 'iommu_domain_free').
 */
export function domainMarkFreed(dom: IommuDomain): void {
  (dom as { type: number }).type = dom.type & ~__IOMMU_DOMAIN_PAGING;
}

/**
 * `dom` as a live domain of the driver whose ops are `ops`, for a driver's entry points that take a
 * domain (domain free, attach, ...): IommuError EINVAL (`syscall`) for another IOMMU's domain or one
 * already freed (domainMarkFreed cleared its paging type).
 */
export function driverDomain<D extends IommuDomain>(ops: IommuOps, dom: IommuDomain, syscall: string): D {
  if (dom.ops !== ops) throw new IommuError('EINVAL', syscall, 'domain belongs to another IOMMU');
  if (domainIsDead(dom)) throw new IommuError('EINVAL', syscall, `domain ${dom.id} was freed`);
  return dom as D;
}
