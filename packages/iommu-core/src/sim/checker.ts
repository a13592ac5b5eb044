// The safety checker's record: what went wrong, on which frame, reached through which domain and
// IOVA, during which call. Detection is O(1) per page (reach counts in PhysMem); locating the
// offending PTE or IOTLB entry is done only when a violation is found.

/** Something that can say how a frame is still reachable (a page table, an IOTLB). */
export interface Reacher {
  findReach(pfn: number): { domain: number; iova: number; via: 'pte' | 'iotlb' } | null;
}

export interface Violation {
  /** 'unpin-while-reachable' | 'dma-to-unpinned' | 'dma-to-free-frame' | 'unpin-underflow' | checks added by users of the core */
  readonly kind: string;
  readonly pfn: number;
  /** IOVA page through which the frame is reachable, or -1. */
  readonly iova: number;
  /** Domain id, or -1. */
  readonly domain: number;
  readonly via: string;
  /** Call stack at detection, outermost first, e.g. 'VFIO_IOMMU_UNMAP_DMA > iommu_unmap'. */
  readonly call: string;
  readonly detail: string;
}

export class SafetyChecker {
  readonly violations: Violation[] = [];
  /** Entry points currently executing, outermost first. */
  readonly callStack: string[] = [];
  readonly reachers: Reacher[] = [];
  /** Violations beyond this many are counted but not stored. */
  limit = 10000;
  dropped = 0;

  enter(name: string): void { this.callStack.push(name); }
  leave(): void { this.callStack.pop(); }
  get call(): string { return this.callStack.join(' > '); }

  /** Records a violation on a frame, locating the PTE/IOTLB entry that still reaches it. */
  report(kind: string, pfn: number, detail: string, where?: { domain: number; iova: number; via: string }): void {
    if (this.violations.length >= this.limit) { this.dropped++; return; }
    let w = where ?? null;
    if (w === null) for (const r of this.reachers) { w = r.findReach(pfn); if (w !== null) break; }
    this.violations.push({ kind, pfn, iova: w?.iova ?? -1, domain: w?.domain ?? -1, via: w?.via ?? '', call: this.call, detail });
  }
}
