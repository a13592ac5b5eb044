// Models the driver-facing half of generic_pt's IOMMU layer (include/linux/generic_pt/iommu.h):
// struct pt_iommu inside a driver's domain, struct pt_iommu_driver_ops (the few things only the
// driver knows: how to flush its IOTLB and how to point the hardware at a new top), and
// pt_iommu_init / pt_iommu_deinit, which here also register the table with the safety checker.
// A driver describes its page table once (PtIommuConfig) and gets its domain ops from
// iommuPtDomainOps() (domain-ops.ts).

import { IotlbGather } from '../gather.js';
import {
  IOMMU_DOMAIN_UNMANAGED,
  domainIsDead,
  domainMarkFreed,
  domainSetPgsizeBitmap,
  type IommuDomain,
  type IommuModelOps,
  type IommuOps,
} from '../ops.js';
import type { PtFormat } from '../pagetable/format.js';
import type { PtPolicy } from '../pagetable/policy.js';
import { PageTable } from '../pagetable/table.js';
import type { Sim } from '../sim.js';

/** A paging domain whose map, unmap and iova_to_phys run on the page-table engine (struct pt_iommu). */
export interface PtIommuDomain extends IommuDomain {
  readonly pt: PageTable;
  /** Ranges unmapped with no gather (2018 API, or a gather-era caller passing none) and their freed tables, for the next sync. */
  readonly pending: IotlbGather;
  /** The tables a map replaces: flushed with the map's range and freed before the map returns; empty between calls. */
  readonly mapGather: IotlbGather;
}

/**
 * The model-only hooks of every PtIommuDomain (dom.model): they work on the domain's own table, so
 * one frozen object serves all drivers.
 */
export const PT_IOMMU_MODEL_OPS: IommuModelOps = Object.freeze({
  mappedPages: (dom: IommuDomain) => (domainIsDead(dom) ? 0 : (dom as PtIommuDomain).pt.mappedPages()),
  mapBegin: (dom: IommuDomain) => {
    if (!domainIsDead(dom)) (dom as PtIommuDomain).pt.txBegin();
  },
  mapEnd: (dom: IommuDomain, failed: boolean) => {
    if (!domainIsDead(dom)) (dom as PtIommuDomain).pt.txEnd(failed);
  },
});

/**
 * struct pt_iommu_driver_ops plus the flush primitives the driver's iotlb ops are made of. The
 * layer calls flushRange / flushAll where the driver's iotlb_sync, flush_iotlb_all and (before the
 * deferred-flush API) ->unmap flush, then frees the tables that flush covered.
 */
export interface PtIommuDriverOps<D extends PtIommuDomain> {
  /** Invalidates IOVA pages start..last (inclusive) of the domain and waits for it. */
  flushRange(dom: D, start: number, last: number): void;
  /** Invalidates everything the domain may have cached and waits. */
  flushAll(dom: D): void;
  /** change_top: the table grew one or more levels; point the hardware (DTEs) at the new root. */
  changeTop?(dom: D): void;
}

/** How a driver's page table and its flushes behave (its era's choices as data). */
export interface PtIommuConfig {
  /** ops.name. */
  readonly name: string;
  readonly apiEra: '2018' | 'gather';
  /** IommuOps.singlePageOps and splitsChunks, passed through. */
  readonly singlePageOps: boolean;
  readonly splitsChunks: boolean;
  readonly fmt: PtFormat;
  readonly policy: PtPolicy;
  /** Level of the root of a new domain (AMD mode 3 = 2; a 4-level VT-d table = 3). */
  readonly topLevel: number;
  /**
   * Before the deferred-flush API a driver flushed inside every ->unmap call and had no iotlb ops:
   * 'range' flushes what the call removed (VT-d before v5.11), 'domain' the whole domain (AMD before
   * v4.17). 'none': unmaps are gathered and flushed by iotlb_sync.
   */
  readonly flushOnUnmap: 'none' | 'range' | 'domain';
  /** iotlb_range_add does nothing and iotlb_sync is flush_iotlb_all (AMD v4.17 .. v5.14). */
  readonly syncFlushesAll: boolean;
  /** A size the table cannot hold: 'split' into sizes it can (VT-d before v5.15 took every size), or 'einval'. */
  readonly oddOrders: 'split' | 'einval';
  /** Negative errno of a map reaching past the aperture (VT-d -EFAULT, AMD -ERANGE). */
  readonly rangeErrno: number;
  /** PT_FEAT_DYNAMIC_TOP: the top grows on demand, and this negative errno answers when it cannot; null: a fixed top. */
  readonly growErrno: number | null;
  /** io-pgtable's per-page walks (AMD before iommupt): meter events charged per page mapped and per leaf or hole unmapped. */
  readonly walkEvents: { readonly map: number; readonly unmap: number } | null;
}

/**
 * pt_iommu_init(): a new UNMANAGED domain with an empty table at cfg.topLevel, its aperture
 * 0..apertureEnd (pages), the page sizes of pgsizeBitmap, and `extra`'s driver fields; the table
 * joins the safety checker's reachers. IommuError ENOMEM when the root cannot be allocated.
 */
export function ptIommuInit<X extends object>(
  sim: Sim,
  ops: IommuOps,
  cfg: PtIommuConfig,
  id: number,
  apertureEnd: number,
  pgsizeBitmap: bigint,
  extra: X,
): PtIommuDomain & X {
  const pt = new PageTable(cfg.fmt, sim.mem, sim.meter, cfg.policy, cfg.topLevel, id);
  sim.checker.reachers.push(pt);
  const dom = {
    id,
    type: IOMMU_DOMAIN_UNMANAGED,
    ops,
    sim,
    pgsizeBitmap: 0n,
    orders: [] as readonly number[],
    geometry: { apertureStart: 0, apertureEnd, forceAperture: true },
    mapped: 0,
    pt,
    pending: new IotlbGather(),
    mapGather: new IotlbGather(),
    model: PT_IOMMU_MODEL_OPS,
    ...extra,
  };
  domainSetPgsizeBitmap(dom, pgsizeBitmap);
  return dom;
}

/**
 * pt_iommu_deinit(): frees every table of the domain (and those still waiting on a gather), drops
 * it from the checker and marks it freed, so the core API refuses it from now on. The driver checks
 * the free is allowed and drops its IOTLB entries first.
 */
export function ptIommuDeinit(dom: PtIommuDomain): void {
  dom.pt.destroy();
  dom.pending.reset();
  const reachers = dom.sim.checker.reachers,
    i = reachers.indexOf(dom.pt);
  if (i >= 0) reachers.splice(i, 1);
  domainMarkFreed(dom);
}
