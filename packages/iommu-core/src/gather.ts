// Models struct iommu_iotlb_gather (v5.15+ form, inclusive end) and its add helpers
// (include/linux/iommu.h). Addresses are IOVA page numbers; pgsize is in pages. Like the kernel's
// (since iommupt, its iommu_pages_list freelist), the gather owns the page-table pages the unmaps it
// gathered unlinked: the sync that flushes its range frees them (PageTable.putPages).

/** The freelist of a gather that has held no table yet. */
const NO_TABLES: readonly number[] = Object.freeze([]);

/** g's freelist, made its own on first use: where an unmap or map adds the tables it unlinks. */
export function gatherFreelist(g: IotlbGather): number[] {
  if (g.freelist === NO_TABLES) g.freelist = [];
  return g.freelist as number[];
}

export class IotlbGather {
  /** First page gathered; Infinity when empty (the kernel's ULONG_MAX). */
  start = Infinity;
  /** Last page gathered, inclusive; 0 when empty. */
  end = 0;
  /** Page size of the gathered entries, in pages; 0 when empty. */
  pgsize = 0;
  /** Set by DMA flush queues; VFIO never sets it. */
  queued = false;
  /**
   * Table pfns unlinked under this gather, waiting for its flush. The sync frees and empties it;
   * reset() leaves it alone, so tables of a lost sync wait for the next one (or the domain's free).
   * Read-only until the first table arrives (gatherFreelist gives a list to add to): most gathers
   * never hold a table, and the core makes one per synced unmap.
   */
  freelist: readonly number[] = NO_TABLES;
  get empty(): boolean {
    return this.start === Infinity;
  }
  /** iommu_iotlb_gather_init() of the range (the freelist is emptied only by freeing it). */
  reset(): void {
    this.start = Infinity;
    this.end = 0;
    this.pgsize = 0;
    this.queued = false;
  }
}

/** A fresh gather (iommu_iotlb_gather_init). */
export function createIotlbGather(): IotlbGather {
  return new IotlbGather();
}

/**
 * iommu_iotlb_gather_is_disjoint(): touching ranges are not disjoint. The kernel tests end != 0
 * (an inclusive byte address, never 0 once a page is gathered); in pages a gather of page 0 alone
 * has end 0, so emptiness is start's sentinel.
 */
export function iommuIotlbGatherIsDisjoint(g: IotlbGather, iova: number, npages: number): boolean {
  const last = iova + npages - 1;
  return g.start !== Infinity && (last + 1 < g.start || iova > g.end + 1);
}

/** iommu_iotlb_gather_add_range(): widen only (range-invalidating drivers). */
export function iommuIotlbGatherAddRange(g: IotlbGather, iova: number, npages: number): void {
  const last = iova + npages - 1;
  if (g.start > iova) g.start = iova;
  if (g.end < last) g.end = last;
}

/**
 * iommu_iotlb_gather_add_page(): page-based drivers must sync before gathering a page of another
 * size or one disjoint from the gathered range. `sync` performs that early sync.
 */
export function iommuIotlbGatherAddPage(g: IotlbGather, iova: number, npages: number, sync: (g: IotlbGather) => void): void {
  if ((g.pgsize !== 0 && g.pgsize !== npages) || iommuIotlbGatherIsDisjoint(g, iova, npages)) sync(g);
  g.pgsize = npages;
  iommuIotlbGatherAddRange(g, iova, npages);
}
