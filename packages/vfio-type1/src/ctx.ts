// The per-call state of the pin and unmap loops: the locals of vfio_pin_map_dma() and
// vfio_unmap_unpin() (*pfn_base, unmapped_region_list, unmapped_region_cnt, unlocked). Each
// container (VfioIommu) owns one reusable instance of each, so a loop allocates nothing per chunk
// and two containers never share one. A container is not re-entered while a loop runs: the kernel
// holds iommu->lock across MAP_DMA, UNMAP_DMA, attach and detach.

/**
 * A physically contiguous run of a dma's pages, all RAM or all reserved, as contigRun() found it:
 * the kernel's *pfn_base plus what GUP learns about the folios. Filled in place by contigRun().
 */
export class ContigRun {
  /** First pfn of the run. */
  pfn = 0;
  /** The run is reserved (MMIO, VM_PFNMAP): never pinned nor charged. */
  reserved = false;
  /** log2 pages of the smallest folio of the run. */
  folioOrder = 0;
  /** Every VMA of the run is hugetlbfs (GUP walks it per folio in every release). */
  hugetlb = false;
}

/**
 * vfio_unmap_unpin()'s locals: the chunk at hand, the fast path's region list (struct vfio_regions,
 * as parallel typed arrays: no object per region), its count and the pages unpinned so far.
 */
export class UnmapUnpinCtx {
  /** The chunk chunkAt() found: first pfn, pages, log2 pages of its folios. */
  pfn = 0;
  len = 0;
  order = 0;
  /** contigRun()'s answer for the chunk. */
  readonly run = new ContigRun();
  /** Regions queued since the last sync (unmapped_region_cnt). */
  cnt = 0;
  /** Pages unpinned so far (the kernel's `unlocked`). */
  unlocked = 0;
  /** Regions (chunks) this call has unmapped, fast and slow. */
  regions = 0;
  readonly qIova: Float64Array;
  readonly qPfn: Float64Array;
  readonly qLen: Float64Array;
  /** log2 pages of each queued region's folios (its unpin steps over them from v6.18). */
  readonly qOrder: Uint8Array;

  /** tlbSyncMax: the most regions queued before a sync (VFIO_IOMMU_TLB_SYNC_MAX). */
  constructor(tlbSyncMax: number) {
    this.qIova = new Float64Array(tlbSyncMax);
    this.qPfn = new Float64Array(tlbSyncMax);
    this.qLen = new Float64Array(tlbSyncMax);
    this.qOrder = new Uint8Array(tlbSyncMax);
  }
}
