// Models vfio_unmap_unpin() with its three paths (drivers/vfio/vfio_iommu_type1.c): 'slow' (before
// v4.17: iommu_unmap + unpin per chunk, one page per chunk before v4.0), 'fast' (v4.17: unmap_unpin_fast
// queues up to tlbSyncMax regions, one iommu_tlb_sync, then unpins; unmap_unpin_slow when the fast
// unmap returns 0) and 'mainline' (v5.4+: the same with an iommu_iotlb_gather). Also vfio_remove_dma()
// (spec vfio-type1 §6.1-6.5).

import {
  TRACE_IOMMU,
  createIotlbGather,
  iommuTlbRangeAdd,
  iommuTlbSync,
  iommuUnmap,
  iommuUnmapFast,
  type IotlbGather,
} from '@x/iommu-core';
import { EV } from '@x/iommu-core/internals';
import { vfioLockAcct } from './accounting.js';
import type { UnmapUnpinCtx } from './ctx.js';
import type { VfioDma } from './dma.js';
import { VFIO_REGION_BYTES, type VfioDomain, type VfioIommu } from './iommu.js';
import { contigRun, folioOrderOf, vfioUnpinPagesRemote } from './pin.js';
import { histAdd } from './stats.js';

/**
 * The unmap loop's chunk at IOVA page iova of dma, into ctx.pfn/len/order: phys from the first
 * domain (iova_to_phys), then the physically contiguous run up to the dma end. The run length comes
 * from the process's backing (what the kernel learns with one iova_to_phys per page; those lookups
 * are charged, not performed) and is cut to 1 page if the backing disagrees with the domain.
 * Returns false when iova is not mapped.
 */
function chunkAt(iommu: VfioIommu, first: VfioDomain, dma: VfioDma, iova: number, ctx: UnmapUnpinCtx): boolean {
  const dom = first.dom,
    meter = iommu.sim.meter;
  const phys = dom.ops.iovaToPhys(dom, iova);
  if (phys < 0 || first.fgsp || !iommu.spec.unmapChunking) {
    // with fine-grained superpages (and before v4.0's chunking, always) the kernel does not look
    // further: one page, and the unmap removes the whole leaf that holds it
    meter.charge(EV.iovaToPhys, 1);
    ctx.pfn = phys;
    ctx.len = 1;
    ctx.order = phys >= 0 ? folioOrderOf(dma, iova - dma.iova, 1) : 0;
    return phys >= 0;
  }
  const left = dma.end - iova,
    run = ctx.run;
  let len = contigRun(dma, iova - dma.iova, left, run);
  ctx.order = len > 0 ? run.folioOrder : 0;
  if (len <= 0 || run.pfn !== phys) {
    len = 1;
    ctx.order = folioOrderOf(dma, iova - dma.iova, 1);
  }
  // the kernel's lookups: the first page, each page that continued the run, and the one that broke it
  meter.charge(EV.iovaToPhys, len + (len < left ? 1 : 0));
  ctx.pfn = phys;
  ctx.len = len;
  return true;
}

/** vfio_sync_unpin(): one IOTLB sync, then unpin every queued region; empties the queue into ctx.unlocked. */
function vfioSyncUnpin(iommu: VfioIommu, first: VfioDomain, dma: VfioDma, ctx: UnmapUnpinCtx, gather: IotlbGather | null): void {
  if (gather !== null) iommuTlbSync(first.dom, gather);
  else iommuTlbSync(first.dom);
  iommu.stats.syncs++;
  const cnt = ctx.cnt,
    tr = iommu.sim.trace;
  if (tr.on && tr.detail >= TRACE_IOMMU) tr.instant('vfio', 'vfio_sync_unpin', { domain: first.dom.id, regions: cnt });
  histAdd(iommu.stats.regionsPerSync, cnt);
  let unlocked = 0;
  const qPfn = ctx.qPfn,
    qLen = ctx.qLen,
    qOrder = ctx.qOrder;
  for (let r = 0; r < cnt; r++) unlocked += vfioUnpinPagesRemote(iommu, dma, qPfn[r]!, qLen[r]!, false, qOrder[r]!);
  ctx.unlocked += unlocked;
  ctx.cnt = 0;
}

/**
 * unmap_unpin_fast(): unmaps ctx's chunk at iova without a flush and queues it; syncs and unpins the
 * queue when it reaches tlbSyncMax regions or when the unmap returned 0. Returns pages unmapped (0 =
 * failed).
 */
function unmapUnpinFast(
  iommu: VfioIommu,
  first: VfioDomain,
  dma: VfioDma,
  iova: number,
  ctx: UnmapUnpinCtx,
  gather: IotlbGather | null,
): number {
  iommu.sim.meter.charge(iommu.evRegionAlloc, 1);
  const unmapped = gather !== null ? iommuUnmapFast(first.dom, iova, ctx.len, gather) : iommuUnmapFast(first.dom, iova, ctx.len);
  if (unmapped !== 0) {
    if (gather === null) iommuTlbRangeAdd(first.dom, iova, unmapped); // 2018: VFIO tells the driver the range
    const c = ctx.cnt;
    ctx.qIova[c] = iova;
    ctx.qPfn[c] = ctx.pfn;
    ctx.qLen[c] = unmapped;
    ctx.qOrder[c] = ctx.order;
    ctx.cnt = c + 1;
    ctx.regions++;
    const st = iommu.stats;
    if (c + 1 > st.peakQueuedRegions) {
      st.peakQueuedRegions = c + 1;
      st.peakQueuedBytes = (c + 1) * VFIO_REGION_BYTES;
    }
  }
  if (ctx.cnt >= iommu.tlbSyncMax || unmapped === 0) vfioSyncUnpin(iommu, first, dma, ctx, gather);
  return unmapped;
}

/** unmap_unpin_slow(): iommu_unmap (synchronous flush) of ctx's chunk and unpin at once. Returns pages unmapped. */
function unmapUnpinSlow(iommu: VfioIommu, first: VfioDomain, dma: VfioDma, iova: number, ctx: UnmapUnpinCtx): number {
  const unmapped = iommuUnmap(first.dom, iova, ctx.len);
  iommu.stats.syncs++;
  if (unmapped !== 0) {
    ctx.unlocked += vfioUnpinPagesRemote(iommu, dma, ctx.pfn, unmapped, false, ctx.order);
    ctx.regions++;
  }
  return unmapped;
}

/**
 * vfio_unmap_unpin(): removes dma's mappings from every domain and unpins its pages. Other domains
 * are unmapped first with one plain iommu_unmap each; the first domain is walked chunk by chunk
 * along the era's path. Returns pages released (the kernel's `unlocked`); uncharges them when
 * doAccounting. Adds the chunks it unmapped to stats.unmapChunks.
 */
function vfioUnmapUnpin(iommu: VfioIommu, dma: VfioDma, doAccounting: boolean): number {
  const st = iommu.stats;
  st.unmapUnpinCalls++;
  if (dma.size === 0 || iommu.domains.length === 0) {
    histAdd(st.regionsPerUnmapUnpin, 0);
    return 0;
  }
  const doms = iommu.domains,
    first = doms[0]!;
  for (let k = 1; k < doms.length; k++) iommuUnmap(doms[k]!.dom, dma.iova, dma.size);
  const slow = iommu.unmapPath === 'slow';
  const gather = iommu.unmapPath === 'mainline' ? createIotlbGather() : null;
  const ctx = iommu.unmapCtx;
  ctx.cnt = 0;
  ctx.unlocked = 0;
  ctx.regions = 0;
  const end = dma.end;
  let iova = dma.iova;
  while (iova < end) {
    if (!chunkAt(iommu, first, dma, iova, ctx)) {
      st.warnings++;
      iova++;
      continue;
    } // WARN_ON(!phys)
    let unmapped: number;
    if (slow) {
      unmapped = unmapUnpinSlow(iommu, first, dma, iova, ctx);
    } else {
      unmapped = unmapUnpinFast(iommu, first, dma, iova, ctx, gather);
      if (unmapped === 0) {
        st.fallbacks++;
        unmapped = unmapUnpinSlow(iommu, first, dma, iova, ctx);
      }
    }
    if (unmapped === 0) {
      st.warnings++;
      break;
    } // WARN_ON(!unmapped)
    iova += unmapped;
  }
  dma.iommuMapped = false;
  if (ctx.cnt > 0) vfioSyncUnpin(iommu, first, dma, ctx, gather);
  st.unmapChunks += ctx.regions;
  histAdd(st.regionsPerUnmapUnpin, ctx.regions);
  const unlocked = ctx.unlocked;
  if (doAccounting) vfioLockAcct(iommu, dma, -unlocked);
  return unlocked;
}

/** vfio_remove_dma(): unmap and unpin with accounting, unlink, dma_avail++. */
export function vfioRemoveDma(iommu: VfioIommu, dma: VfioDma): void {
  vfioUnmapUnpin(iommu, dma, true);
  iommu.dmas.unlink(dma);
  if (dma.vaddrInvalid) iommu.vaddrInvalidCount--;
  iommu.dmaAvail++;
}

/** vfio_iommu_unmap_unpin_all(): removes every dma, lowest first. */
export function vfioIommuUnmapUnpinAll(iommu: VfioIommu): void {
  const l = iommu.dmas.list;
  while (l.length > 0) vfioRemoveDma(iommu, l[0]!);
}
