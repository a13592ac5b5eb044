// Models vfio_unmap_unpin() with its three paths (drivers/vfio/vfio_iommu_type1.c): 'slow' (before
// v4.17: iommu_unmap + unpin per chunk, one page per chunk before v4.0), 'fast' (v4.17: unmap_unpin_fast
// queues up to tlbSyncMax regions, one iommu_tlb_sync, then unpins; unmap_unpin_slow when the fast
// unmap returns 0) and 'mainline' (v5.4+: the same with an iommu_iotlb_gather). Also vfio_remove_dma()
// (spec vfio-type1 §6.1-6.5).

import {
  EV, TRACE_IOMMU, createIotlbGather, iommuTlbRangeAdd, iommuTlbSync, iommuUnmap, iommuUnmapFast, type IotlbGather,
} from '@x/iommu-core';
import { vfioLockAcct } from './accounting.js';
import type { VfioDma } from './dma.js';
import { VFIO_REGION_BYTES, type VfioDomain, type VfioIommu } from './iommu.js';
import { contigRun, folioOrderOf, pinOut, vfioUnpinPagesRemote } from './pin.js';
import { histAdd } from './stats.js';

/** Chunk found by chunkAt: first pfn, pages and the log2 pages of its folios. */
const chunk = { pfn: 0, len: 0, order: 0 };

/**
 * The unmap loop's chunk at IOVA page iova of dma: phys from the first domain (iova_to_phys), then the
 * physically contiguous run up to the dma end. The run length comes from the process's backing (what
 * the kernel learns with one iova_to_phys per page; those lookups are charged, not performed) and is
 * cut to 1 page if the backing disagrees with the domain. Returns false when iova is not mapped.
 */
function chunkAt(it: VfioIommu, first: VfioDomain, dma: VfioDma, iova: number): boolean {
  const dom = first.dom, meter = it.sim.meter;
  const phys = dom.ops.iovaToPhys(dom, iova);
  if (phys < 0 || first.fgsp || !it.spec.unmapChunking) {
    // with fine-grained superpages (and before v4.0's chunking, always) the kernel does not look
    // further: one page, and the unmap removes the whole leaf that holds it
    meter.charge(EV.iovaToPhys, 1);
    chunk.pfn = phys;
    chunk.len = 1;
    chunk.order = phys >= 0 ? folioOrderOf(dma, iova - dma.iova, 1) : 0;
    return phys >= 0;
  }
  const left = dma.end - iova;
  let len = contigRun(dma, iova - dma.iova, left);
  chunk.order = len > 0 ? pinOut.folioOrder : 0;
  if (len <= 0 || pinOut.pfn !== phys) { len = 1; chunk.order = folioOrderOf(dma, iova - dma.iova, 1); }
  // the kernel's lookups: the first page, each page that continued the run, and the one that broke it
  meter.charge(EV.iovaToPhys, len + (len < left ? 1 : 0));
  chunk.pfn = phys;
  chunk.len = len;
  return true;
}

/** vfio_sync_unpin(): one IOTLB sync, then unpin every queued region. Returns pages released. */
function vfioSyncUnpin(it: VfioIommu, first: VfioDomain, dma: VfioDma, cnt: number, gather: IotlbGather | null): number {
  if (gather !== null) iommuTlbSync(first.dom, gather); else iommuTlbSync(first.dom);
  it.stats.syncs++;
  const tr = it.sim.trace;
  if (tr.on && tr.detail >= TRACE_IOMMU) tr.instant('vfio', 'vfio_sync_unpin', { domain: first.dom.id, regions: cnt });
  histAdd(it.stats.regionsPerSync, cnt);
  let unlocked = 0;
  for (let r = 0; r < cnt; r++) unlocked += vfioUnpinPagesRemote(it, dma, it.qPfn[r]!, it.qLen[r]!, false, it.qOrder[r]!);
  return unlocked;
}

/** Per-call state of the fast path (the kernel's locals), module-level to avoid a closure per chunk. */
const fast = { cnt: 0, unlocked: 0, regions: 0 };

/**
 * unmap_unpin_fast(): unmaps one chunk without a flush and queues it; syncs and unpins the queue when
 * it reaches tlbSyncMax regions or when the unmap returned 0. Returns pages unmapped (0 = failed).
 */
function unmapUnpinFast(it: VfioIommu, first: VfioDomain, dma: VfioDma, iova: number, len: number, pfn: number,
  order: number, gather: IotlbGather | null): number {
  it.sim.meter.charge(it.evRegionAlloc, 1);
  const unmapped = gather !== null ? iommuUnmapFast(first.dom, iova, len, gather) : iommuUnmapFast(first.dom, iova, len);
  if (unmapped !== 0) {
    if (gather === null) iommuTlbRangeAdd(first.dom, iova, unmapped);   // 2018: VFIO tells the driver the range
    const c = fast.cnt;
    it.qIova[c] = iova; it.qPfn[c] = pfn; it.qLen[c] = unmapped; it.qOrder[c] = order;
    fast.cnt = c + 1;
    fast.regions++;
    if (fast.cnt > it.stats.peakQueuedRegions) {
      it.stats.peakQueuedRegions = fast.cnt;
      it.stats.peakQueuedBytes = fast.cnt * VFIO_REGION_BYTES;
    }
  }
  if (fast.cnt >= it.tlbSyncMax || unmapped === 0) {
    fast.unlocked += vfioSyncUnpin(it, first, dma, fast.cnt, gather);
    fast.cnt = 0;
  }
  return unmapped;
}

/** unmap_unpin_slow(): iommu_unmap (synchronous flush) and unpin at once. Returns pages unmapped. */
function unmapUnpinSlow(it: VfioIommu, first: VfioDomain, dma: VfioDma, iova: number, len: number, pfn: number, order: number): number {
  const unmapped = iommuUnmap(first.dom, iova, len);
  it.stats.syncs++;
  if (unmapped !== 0) fast.unlocked += vfioUnpinPagesRemote(it, dma, pfn, unmapped, false, order);
  return unmapped;
}

/**
 * vfio_unmap_unpin(): removes dma's mappings from every domain and unpins its pages. Other domains
 * are unmapped first with one plain iommu_unmap each; the first domain is walked chunk by chunk
 * along the era's path. Returns pages released (the kernel's `unlocked`); uncharges them when
 * doAccounting.
 */
export function vfioUnmapUnpin(it: VfioIommu, dma: VfioDma, doAccounting: boolean): number {
  it.stats.unmapUnpinCalls++;
  if (dma.size === 0 || it.domains.length === 0) { fast.regions = 0; histAdd(it.stats.regionsPerUnmapUnpin, 0); return 0; }
  const doms = it.domains, first = doms[0]!;
  for (let k = 1; k < doms.length; k++) iommuUnmap(doms[k]!.dom, dma.iova, dma.size);
  const path = it.unmapPath;
  const gather = path === 'mainline' ? createIotlbGather() : null;
  fast.cnt = 0; fast.unlocked = 0; fast.regions = 0;
  const end = dma.end;
  let iova = dma.iova;
  while (iova < end) {
    if (!chunkAt(it, first, dma, iova)) { it.stats.warnings++; iova++; continue; }   // WARN_ON(!phys)
    const len = chunk.len, pfn = chunk.pfn, order = chunk.order;
    let unmapped: number;
    if (path === 'slow') {
      unmapped = unmapUnpinSlow(it, first, dma, iova, len, pfn, order);
      if (unmapped !== 0) fast.regions++;
    } else {
      unmapped = unmapUnpinFast(it, first, dma, iova, len, pfn, order, gather);
      if (unmapped === 0) {
        it.stats.fallbacks++;
        unmapped = unmapUnpinSlow(it, first, dma, iova, len, pfn, order);
        if (unmapped !== 0) fast.regions++;
      }
    }
    if (unmapped === 0) { it.stats.warnings++; break; }                              // WARN_ON(!unmapped)
    iova += unmapped;
  }
  dma.iommuMapped = false;
  if (fast.cnt > 0) { fast.unlocked += vfioSyncUnpin(it, first, dma, fast.cnt, gather); fast.cnt = 0; }
  it.stats.unmapChunks += fast.regions;
  histAdd(it.stats.regionsPerUnmapUnpin, fast.regions);
  const unlocked = fast.unlocked;
  if (doAccounting) vfioLockAcct(it, dma, -unlocked);
  return unlocked;
}

/** Regions unmapped by the last vfioUnmapUnpin call (for the per-UNMAP_DMA histogram). */
export function lastUnmapRegions(): number { return fast.regions; }

/** vfio_remove_dma(): unmap and unpin with accounting, unlink, dma_avail++. */
export function vfioRemoveDma(it: VfioIommu, dma: VfioDma): void {
  vfioUnmapUnpin(it, dma, true);
  it.dmas.unlink(dma);
  if (dma.vaddrInvalid) it.vaddrInvalidCount--;
  it.dmaAvail++;
}

/** vfio_iommu_unmap_unpin_all(): removes every dma, lowest first. */
export function vfioIommuUnmapUnpinAll(it: VfioIommu): void {
  const l = it.dmas.list;
  while (l.length > 0) vfioRemoveDma(it, l[0]!);
}
