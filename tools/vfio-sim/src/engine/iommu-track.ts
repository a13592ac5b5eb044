// Puts the IOMMU driver's work on an 'iommu' trace track at --trace-detail iommu and above (the core
// and the drivers trace nothing below the ioctl themselves): a slice per map_pages, unmap_pages,
// iotlb_sync and flush_iotlb_all, from the sim's probe points. IOVAs in bytes (traceIova).

import { TRACE_IOMMU, traceIova, type IommuDomain, type IommuObserver, type Sim, type Tracer } from '@x/iommu-core';

const TRACK = 'iommu';

/** The subscriber; each hook tests the tracer first, so a trace that stops (a failed write) stops the track too. */
class IommuTrack implements IommuObserver {
  constructor(private readonly tr: Tracer) {}
  private get traced(): boolean {
    return this.tr.on && this.tr.detail >= TRACE_IOMMU;
  }
  mapPagesBegin(_dom: IommuDomain, iova: number, _pfn: number, order: number, count: number): void {
    if (this.traced) this.tr.begin(TRACK, 'map_pages', { iova: traceIova(iova), order, count });
  }
  mapPagesEnd(_dom: IommuDomain, _iova: number, _pfn: number, _order: number, _count: number, ret: number): void {
    if (this.traced) this.tr.end(TRACK, 'map_pages', { ret });
  }
  unmapPagesBegin(_dom: IommuDomain, iova: number, order: number, count: number): void {
    if (this.traced) this.tr.begin(TRACK, 'unmap_pages', { iova: traceIova(iova), order, count });
  }
  unmapPagesEnd(_dom: IommuDomain, _iova: number, _order: number, _count: number, unmapped: number): void {
    if (this.traced) this.tr.end(TRACK, 'unmap_pages', { pages: unmapped });
  }
  iotlbSyncBegin(dom: IommuDomain): void {
    if (this.traced) this.tr.begin(TRACK, 'iotlb_sync', { domain: dom.id });
  }
  iotlbSyncEnd(): void {
    if (this.traced) this.tr.end(TRACK, 'iotlb_sync');
  }
  flushIotlbAllBegin(dom: IommuDomain): void {
    if (this.traced) this.tr.begin(TRACK, 'flush_iotlb_all', { domain: dom.id });
  }
  flushIotlbAllEnd(): void {
    if (this.traced) this.tr.end(TRACK, 'flush_iotlb_all');
  }
}

/**
 * Subscribes the 'iommu' track when the sim traces at all (a tracer only ever turns off during a
 * run, so a run without --trace subscribes nothing); returns the unsubscribe.
 */
export function traceIommuTrack(sim: Sim): () => void {
  if (!sim.trace.on) return () => {};
  return sim.observe(new IommuTrack(sim.trace));
}
