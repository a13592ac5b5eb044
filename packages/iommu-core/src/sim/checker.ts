// The safety checker's record: what went wrong, on which frame, reached through which domain and
// IOVA, during which call. Detection is O(1) per page (reach counts in PhysMem); locating the
// offending PTE or IOTLB entry is done only when a violation is found.

/** Something that can say how a frame is still reachable (a page table, an IOTLB). */
export interface Reacher {
  findReach(pfn: number): { domain: number; iova: number; via: 'pte' | 'iotlb' } | null;
}

/**
 * The violation kinds, as the keys of an interface so a package that adds checks can declare its
 * own: `declare module '@x/iommu-core' { interface ViolationKinds { 'my-check': true } }`.
 */
export interface ViolationKinds {
  // the core's checks (physmem.ts)
  /** A frame's last pin dropped while a PTE or IOTLB entry still translates to it. */
  'unpin-while-reachable': true;
  /** An unpin of a frame that was not pinned (the count stays at 0). */
  'unpin-underflow': true;
  /** A device reached a frame that is back in the allocator. */
  'dma-to-free-frame': true;
  /** A device reached a user page nobody pins. */
  'dma-to-unpinned': true;
}
export type ViolationKind = keyof ViolationKinds;

export interface Violation {
  /** What went wrong: one of ViolationKinds' keys. */
  readonly kind: ViolationKind;
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

  enter(name: string): void {
    this.callStack.push(name);
  }
  leave(): void {
    this.callStack.pop();
  }
  get call(): string {
    return this.callStack.join(' > ');
  }

  /** Records a violation on a frame, locating the PTE/IOTLB entry that still reaches it. */
  report(kind: ViolationKind, pfn: number, detail: string, where?: { domain: number; iova: number; via: string }): void {
    if (this.violations.length >= this.limit) {
      this.dropped++;
      return;
    }
    let w = where ?? null;
    if (w === null)
      for (const r of this.reachers) {
        w = r.findReach(pfn);
        if (w !== null) break;
      }
    this.violations.push({ kind, pfn, iova: w?.iova ?? -1, domain: w?.domain ?? -1, via: w?.via ?? '', call: this.call, detail });
  }
}
