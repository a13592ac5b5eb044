// Per-container counters: what a VFIO user pays for a workload (issue 5 "stats()").

/** Counters of one container; histograms are { value: occurrences }. */
export class VfioStats {
  mapCalls = 0;
  /** UNMAP_DMA calls that passed the argument checks (one that removes nothing included). */
  unmapCalls = 0;
  /** Failed MAP_DMA / UNMAP_DMA calls. */
  errors = 0;
  /** Chunks pinned and mapped (one vfio_iommu_map call each). */
  mapChunks = 0;
  /** Chunks unmapped from the first domain (fast regions + slow chunks). */
  unmapChunks = 0;
  /** Regions (chunks) unmapped per UNMAP_DMA call. */
  regionsPerUnmap: Record<number, number> = {};
  /**
   * vfio_unmap_unpin() calls: one per vfio_dma removed, whoever removes it (UNMAP_DMA, the unwind of a
   * failed MAP_DMA, the last group's detach). Each unmaps its regions and syncs them on its own.
   */
  unmapUnpinCalls = 0;
  /** Regions (chunks) unmapped per vfio_unmap_unpin() call. */
  regionsPerUnmapUnpin: Record<number, number> = {};
  /** IOTLB syncs VFIO issued itself (fast/mainline) plus the slow path's synchronous iommu_unmap calls. */
  syncs = 0;
  /** Regions unpinned per sync of the fast/mainline paths. */
  regionsPerSync: Record<number, number> = {};
  /** Most regions queued at once, and their bytes (struct vfio_regions is 40 bytes). */
  peakQueuedRegions = 0;
  peakQueuedBytes = 0;
  /** Pages pinned / unpinned by this container (RAM only; MMIO is never pinned). */
  pins = 0;
  unpins = 0;
  /** Chunks whose fast unmap returned 0 and went through unmap_unpin_slow. */
  fallbacks = 0;
  /** map_try_harder entries and pages it mapped one by one. */
  tryHarderEntries = 0;
  tryHarderPages = 0;
  /** Domains replayed into and pages mapped by replay. */
  replays = 0;
  replayedPages = 0;
  /** Kernel WARN_ONs that would have fired. */
  warnings = 0;

  /** A plain copy (histograms copied too). */
  snapshot(): VfioStats {
    const s = Object.assign(new VfioStats(), this);
    s.regionsPerUnmap = { ...this.regionsPerUnmap };
    s.regionsPerUnmapUnpin = { ...this.regionsPerUnmapUnpin };
    s.regionsPerSync = { ...this.regionsPerSync };
    return s;
  }
}

export function histAdd(h: Record<number, number>, k: number): void {
  h[k] = (h[k] ?? 0) + 1;
}
