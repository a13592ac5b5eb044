// Measures how long pages stay pinned after the IOMMU stopped translating them: the price of
// batching (since v4.17 VFIO keeps up to tlbSyncMax regions pinned until one sync). Each unmap_pages return
// is logged with the modeled time; each unpin during an UNMAP_DMA ioctl consumes the oldest logged
// pages (VFIO unpins in unmap order on every path), and the time difference is the delay. Pages of
// a device BAR mapping (MMIO, reserved pfns) are never pinned nor unpinned: their unmaps are not logged.
// The driver's work on the 'iommu' trace track is another subscriber (iommu-track.ts).

import type { IommuDomain, IommuObserver } from '@x/iommu-core';
import type { Machine } from './machine.js';

/** A subscriber of the sim's probe points (unmapPagesEnd, unpin): nothing of the driver or PhysMem is replaced. */
export class PinnedAfterUnmap implements IommuObserver {
  inUnmap = false;
  maxNs = 0;
  /** Most pages unmapped from the IOMMU but not yet unpinned at one time. */
  peakPages = 0;
  private outstanding = 0;
  private sumNs = 0;
  private pages = 0;
  // FIFO of (time, pages) runs
  private t = new Float64Array(1024);
  private n = new Float64Array(1024);
  private head = 0;
  private tail = 0;
  // read here rather than passed in: a modeled time is a double, and passing one to a call that is
  // not inlined boxes it (a heap number per unpin)
  private readonly clock: { readonly now: number };
  /** IOVA page ranges mapped from MMIO (device BARs), as [start, end) pairs; usually empty. */
  private readonly mmio: number[] = [];
  /** Stops observing (the machine lives as long as the run; tests may drop it sooner). */
  readonly unsubscribe: () => void;

  constructor(m: Machine) {
    this.clock = m.sim.clock;
    this.unsubscribe = m.sim.observe(this);
  }

  /** unmap_pages returned: the pages the IOMMU no longer translates wait for their unpin from now. */
  unmapPagesEnd(_dom: IommuDomain, iova: number, _order: number, _count: number, unmapped: number): void {
    if (unmapped > 0 && this.inUnmap && (this.mmio.length === 0 || !this.isMmio(iova))) this.push(unmapped);
  }

  /** An unpin is about to drop the pins (before its cost is charged): the oldest waiting pages end their wait now. */
  unpin(_pfn: number, npages: number): void {
    if (this.inUnmap) this.consume(npages);
  }

  meanNs(): number {
    return this.pages === 0 ? 0 : this.sumNs / this.pages;
  }

  /** A MAP_DMA of MMIO (a BAR mmap) covered IOVA pages [start, end). */
  mapMmio(start: number, end: number): void {
    this.mmio.push(start, end);
  }

  /** An UNMAP_DMA of IOVA pages [start, end) removed the MMIO mappings inside it. */
  unmapMmio(start: number, end: number): void {
    for (let i = this.mmio.length - 2; i >= 0; i -= 2) {
      if (this.mmio[i]! >= start && this.mmio[i + 1]! <= end) this.mmio.splice(i, 2);
    }
  }

  private isMmio(iova: number): boolean {
    for (let i = 0; i < this.mmio.length; i += 2) if (iova >= this.mmio[i]! && iova < this.mmio[i + 1]!) return true;
    return false;
  }

  private push(pages: number): void {
    const now = this.clock.now;
    if (this.tail === this.t.length) {
      if (this.head > 0) {
        this.t.copyWithin(0, this.head, this.tail);
        this.n.copyWithin(0, this.head, this.tail);
        this.tail -= this.head;
        this.head = 0;
      }
      if (this.tail === this.t.length) {
        const t = new Float64Array(this.t.length * 2);
        t.set(this.t);
        this.t = t;
        const n = new Float64Array(this.n.length * 2);
        n.set(this.n);
        this.n = n;
      }
    }
    this.t[this.tail] = now;
    this.n[this.tail] = pages;
    this.tail++;
    this.outstanding += pages;
    if (this.outstanding > this.peakPages) this.peakPages = this.outstanding;
  }

  private consume(pages: number): void {
    const now = this.clock.now;
    while (pages > 0 && this.head < this.tail) {
      const take = Math.min(pages, this.n[this.head]!);
      const d = now - this.t[this.head]!;
      this.sumNs += d * take;
      this.pages += take;
      if (d > this.maxNs) this.maxNs = d;
      pages -= take;
      this.outstanding -= take;
      this.n[this.head]! -= take;
      if (this.n[this.head] === 0) this.head++;
    }
  }
}
