// Models the IOMMU core API VFIO consumes (drivers/iommu/iommu.c): iommu_map with its unwind,
// iommu_unmap / iommu_unmap_fast with the over-unmap and stop-at-hole rules, the 2018 TLB
// interface (iommu_tlb_range_add / iommu_tlb_sync) and mainline's gather. See spec/iommu-core.md §1-3.

import { ERRNO, IommuError, errnoName } from './errno.js';
import { IotlbGather } from './gather.js';
import {
  __IOMMU_DOMAIN_PAGING,
  IOMMU_CACHE,
  IOMMU_DOMAIN_IDENTITY,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  type IommuDomain,
} from './ops.js';
import { POW2_TABLE as POW2, pgsizeCount, pgsizeIndex, pgsizeRunCount } from './pgsize.js';
import { FP_MAP, FP_SYNC, FP_UNMAP_FAST, FP_UNMAP_FAST_UNDERREPORT } from './sim/faults.js';
import { EV } from './sim/meter.js';

const MAX_PAGE = 2 ** 52;
// `>>> 0` first: the page numbers of most calls are below 2^32, and one compare settles them
const isPageCount = (n: number): boolean => n >>> 0 === n || (Number.isInteger(n) && n >= 0 && n <= MAX_PAGE);
/** Every prot bit the core defines; iommu_map refuses any other. */
const PROT_BITS = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE | IOMMU_NOEXEC | IOMMU_MMIO | IOMMU_PRIV;
/** A page number for a message: hex when it is one, else as given (no '0x-1000', no '0x1.8'). */
const pageStr = (n: number): string => (Number.isSafeInteger(n) && n >= 0 ? `0x${n.toString(16)}` : String(n));

/** Pages of the domain's smallest page size (min_pagesz), or 0 when the bitmap is empty. */
function minPages(dom: IommuDomain): number {
  const o = dom.orders[0];
  return o === undefined ? 0 : POW2[o - 12]!;
}

/**
 * iommu_map(): maps npages from IOVA page `iova` to frames from `pfn`, choosing page sizes from
 * the domain's bitmap by size and alignment. Throws IommuError (ENODEV no ops or empty bitmap,
 * EINVAL not a paging domain (a freed one included), page numbers that are not non-negative
 * integers, a prot that is not a combination of the IOMMU_* prot bits, or misaligned; or the
 * driver's errno, e.g. EINVAL for a prot with neither IOMMU_READ nor IOMMU_WRITE); a failed map is
 * unwound with a synced iommu_unmap of exactly what succeeded and leaves no mapping behind.
 */
export function iommuMap(dom: IommuDomain, iova: number, pfn: number, npages: number, prot: number): void {
  const ops = dom.ops,
    sim = dom.sim;
  const mp = minPages(dom);
  if (mp === 0) throw new IommuError('ENODEV', 'iommu_map', 'domain has no page sizes');
  if ((dom.type & __IOMMU_DOMAIN_PAGING) === 0) throw new IommuError('EINVAL', 'iommu_map', 'not a paging domain');
  if (!isPageCount(iova) || !isPageCount(pfn) || !isPageCount(npages)) {
    throw new IommuError('EINVAL', 'iommu_map', `iova ${iova}, pfn ${pfn} and npages ${npages} must be page numbers`);
  }
  // one check for the whole call: a non-negative int32 with only known bits (1.5, -1, 2 ** 40 fail)
  if ((prot | 0) !== prot || (prot & ~PROT_BITS) !== 0) {
    throw new IommuError(
      'EINVAL',
      'iommu_map',
      `prot ${prot} is not a combination of IOMMU_READ, IOMMU_WRITE, IOMMU_CACHE, IOMMU_NOEXEC, IOMMU_MMIO and IOMMU_PRIV`,
    );
  }
  if (mp > 1 && (iova % mp !== 0 || pfn % mp !== 0 || npages % mp !== 0)) {
    throw new IommuError(
      'EINVAL',
      'iommu_map',
      `unaligned: iova ${pageStr(iova)} pfn ${pageStr(pfn)} npages ${npages} min_pagesz ${mp} pages`,
    );
  }
  // no early return for 0 pages: __iommu_map's loop does nothing, then trace_map and
  // iotlb_sync_map run with size 0, as in the kernel
  sim.checker.enter('iommu_map');
  const model = dom.model;
  if (model !== null) model.mapBegin(dom);
  const perPage = ops.singlePageOps ?? ops.apiEra === '2018';
  const faults = sim.faults,
    meter = sim.meter,
    obs = sim.observers;
  const orders = dom.orders;
  let done = 0,
    ret = 0;
  while (done < npages) {
    const left = npages - done;
    // one page of a 4 KiB-min domain (VFIO's per-page map of a 4k guest): no size to choose
    const k = left === 1 && orders[0] === 12 ? 0 : pgsizeIndex(orders, iova + done, pfn + done, left);
    if (k < 0) throw new Error(`BUG: iommu_pgsize found no size for iova ${iova + done}`);
    const order = orders[k]!,
      count = left === 1 ? 1 : pgsizeRunCount(orders, k, iova + done, pfn + done, left);
    meter.charge(EV.mapCalls, perPage ? count : 1); // before map_pages, ops->map took one page per call
    if (faults.hit(FP_MAP)) {
      ret = -ERRNO.ENOMEM;
      break;
    }
    if (obs.on) obs.mapPagesBegin(dom, iova + done, pfn + done, order, count, prot);
    ret = ops.mapPages(dom, iova + done, pfn + done, order, count, prot);
    if (obs.on) obs.mapPagesEnd(dom, iova + done, pfn + done, order, count, ret, dom.mapped);
    done += dom.mapped;
    if (ret !== 0) break;
  }
  if (ret !== 0) {
    if (done > 0) iommuUnmap(dom, iova, done);
    if (model !== null) model.mapEnd(dom, true);
    sim.checker.leave();
    throw new IommuError(
      errnoName(ret),
      'iommu_map',
      `driver ${ops.name} failed at iova page ${pageStr(iova + done)} after ${done} of ${npages} pages`,
    );
  }
  if (obs.on) obs.map(dom, iova, pfn, npages); // trace_map ends __iommu_map, before iotlb_sync_map
  if (model !== null) model.mapEnd(dom, false);
  if (ops.iotlbSyncMap !== undefined) ops.iotlbSyncMap(dom, iova, npages);
  sim.checker.leave();
}

/** The __iommu_unmap loop: page size from the IOVA alone, stop at the first 0, return pages. */
function unmapLoop(dom: IommuDomain, iova: number, npages: number, gather: IotlbGather | null, rangeAdd: boolean): number {
  const ops = dom.ops,
    meter = dom.sim.meter,
    obs = dom.sim.observers,
    perPage = ops.singlePageOps ?? ops.apiEra === '2018';
  const orders = dom.orders;
  let unmapped = 0;
  while (unmapped < npages) {
    const cur = iova + unmapped,
      left = npages - unmapped;
    // one page of a 4 KiB-min domain (VFIO's per-page teardown): the answer of both calls, without them
    const k = left === 1 && orders[0] === 12 ? 0 : pgsizeIndex(orders, cur, cur, left);
    if (k < 0) break;
    const order = orders[k]!,
      count = left === 1 ? 1 : pgsizeRunCount(orders, k, cur, cur, left);
    meter.charge(EV.unmapCalls, perPage ? count : 1);
    if (obs.on) obs.unmapPagesBegin(dom, cur, order, count);
    const got = ops.unmapPages(dom, cur, order, count, gather);
    if (obs.on) obs.unmapPagesEnd(dom, cur, order, count, got);
    if (got === 0) break;
    if (rangeAdd && ops.iotlbRangeAdd !== undefined) {
      meter.charge(EV.iotlbRangeAdds, perPage ? count : 1); // the 2018 loop added once per page-size step
      ops.iotlbRangeAdd(dom, cur, count * POW2[order - 12]!); // 2018 adds the step size, not what came back
    }
    unmapped += got;
  }
  return unmapped;
}

/** Validity checks shared by both unmaps: the gather-era kernel returns 0 for any bad input. */
function unmapArgsOk(dom: IommuDomain, iova: number, npages: number): boolean {
  const o = dom.orders[0];
  if (o === undefined || (dom.type & __IOMMU_DOMAIN_PAGING) === 0) return false;
  if (!isPageCount(iova) || !isPageCount(npages)) return false;
  if (o === 12) return true; // 4 KiB min_pagesz: every page number is aligned
  const mp = POW2[o - 12]!;
  return iova % mp === 0 && npages % mp === 0;
}

/**
 * iommu_unmap(): unmaps npages from iova and syncs the IOTLB. Returns the pages the driver removed:
 * more than asked when a larger page covered the range, less when it hit a hole, 0 for bad input.
 */
export function iommuUnmap(dom: IommuDomain, iova: number, npages: number): number {
  if (!unmapArgsOk(dom, iova, npages)) return 0;
  const sim = dom.sim;
  sim.checker.enter('iommu_unmap');
  const obs = sim.observers;
  let n: number;
  if (dom.ops.apiEra === 'gather') {
    const g = new IotlbGather(); // the kernel's on-stack iotlb_gather
    n = unmapLoop(dom, iova, npages, g, false);
    if (obs.on) obs.unmap(dom, iova, npages, n); // __iommu_unmap's trace_unmap, before the caller's sync
    syncNow(dom, g);
  } else {
    n = unmapLoop(dom, iova, npages, null, true);
    syncNow(dom, null);
    if (obs.on) obs.unmap(dom, iova, npages, n); // 2018: __iommu_unmap(sync) synced, then traced
  }
  sim.checker.leave();
  return n;
}

/**
 * iommu_unmap_fast(): unmaps without syncing; the caller adds the range (2018) or passes a gather
 * (mainline) and syncs later. Returns pages removed, like iommuUnmap.
 */
export function iommuUnmapFast(dom: IommuDomain, iova: number, npages: number, gather?: IotlbGather): number {
  if (!unmapArgsOk(dom, iova, npages)) return 0;
  const sim = dom.sim,
    faults = sim.faults;
  // injected refusal: the PTEs stay; hit() only when something is armed, pass() counts the same
  if (faults.armed) {
    if (faults.hit(FP_UNMAP_FAST)) return 0;
  } else faults.pass(FP_UNMAP_FAST);
  sim.checker.enter('iommu_unmap_fast');
  const n = unmapLoop(dom, iova, npages, gather ?? null, false);
  if (sim.observers.on) sim.observers.unmap(dom, iova, npages, n);
  sim.checker.leave();
  // injected under-report: the PTEs are gone (and the driver queued their invalidation as usual),
  // but the caller is told 0; only test hit() when something is armed
  if (!faults.armed) faults.pass(FP_UNMAP_FAST_UNDERREPORT);
  else if (faults.hit(FP_UNMAP_FAST_UNDERREPORT)) return 0;
  return n;
}

/** iommu_tlb_range_add() (2018): tells the driver a range to invalidate at the next sync. */
export function iommuTlbRangeAdd(dom: IommuDomain, iova: number, npages: number): void {
  if (dom.ops.iotlbRangeAdd === undefined) return;
  dom.sim.meter.charge(EV.iotlbRangeAdds, 1);
  dom.ops.iotlbRangeAdd(dom, iova, npages);
}

/** iommu_tlb_sync(domain) (2018) / iommu_iotlb_sync(domain, gather) (mainline); re-inits the gather. */
export function iommuTlbSync(dom: IommuDomain, gather?: IotlbGather): void {
  const sim = dom.sim;
  sim.checker.enter('iommu_tlb_sync');
  syncNow(dom, gather ?? null);
  sim.checker.leave();
}

function syncNow(dom: IommuDomain, g: IotlbGather | null): void {
  const sim = dom.sim;
  sim.meter.charge(EV.iotlbSyncs, 1);
  // an injected sync failure models a lost invalidation: nothing is flushed
  if (!sim.faults.hit(FP_SYNC) && dom.ops.iotlbSync !== undefined) dom.ops.iotlbSync(dom, g);
  if (g !== null) g.reset();
}

/** iommu_flush_iotlb_all(): synchronous flush of everything the domain may have cached. */
export function iommuFlushIotlbAll(dom: IommuDomain): void {
  if (dom.ops.flushIotlbAll !== undefined) dom.ops.flushIotlbAll(dom);
}

/**
 * iommu_iova_to_phys(): the pfn iova translates to, or -1 when not mapped. Like the kernel, asks the
 * driver only for a paging domain: -1 for a blocked or freed one, iova itself for an identity one.
 */
export function iommuIovaToPhys(dom: IommuDomain, iova: number): number {
  const type = dom.type;
  if ((type & __IOMMU_DOMAIN_PAGING) === 0) return type === IOMMU_DOMAIN_IDENTITY ? iova : -1;
  dom.sim.meter.charge(EV.iovaToPhys, 1);
  return dom.ops.iovaToPhys(dom, iova);
}

/** iova, pfn and npages describe something a page size can fit: page numbers and at least one page. */
const pgsizeArgsOk = (iova: number, pfn: number, npages: number): boolean =>
  isPageCount(iova) && isPageCount(pfn) && isPageCount(npages) && npages > 0;

/**
 * iommu_pgsize(): the order (log2 bytes) the core would use next for iova -> pfn with npages left;
 * -1 if none fits, including for npages < 1 and for arguments that are not non-negative integers.
 */
export function iommuPgsize(dom: IommuDomain, iova: number, pfn: number, npages: number): number {
  if (!pgsizeArgsOk(iova, pfn, npages)) return -1;
  return pgsizeCount(dom.orders, iova, pfn, npages);
}

/** Like iommuPgsize, also returning how many pages of that size the core emits in one run ({ order: -1, count: 0 } if none). */
export function iommuPgsizeCount(dom: IommuDomain, iova: number, pfn: number, npages: number): { order: number; count: number } {
  if (!pgsizeArgsOk(iova, pfn, npages)) return { order: -1, count: 0 };
  const out = { order: -1, count: 0 };
  out.order = pgsizeCount(dom.orders, iova, pfn, npages, out);
  return out;
}
