// Models the kernel's tracepoints on the IOMMU path (include/trace/events/iommu.h: map, unmap,
// io_page_fault) plus
// named probe points where the kernel has none (map_pages, unmap_pages, iotlb_sync, flush_iotlb_all,
// the GUP pin and unpin): a consumer that needs a figure subscribes with sim.observe() instead of
// replacing another module's function. Emitters test `observers.on` first, so with nobody
// subscribed a probe point costs one field load and one branch, and allocates nothing.

import type { IommuDomain } from './ops.js';

/**
 * A subscriber: implement the hooks you need, every one is optional. Hooks run synchronously at the
 * probe point, in subscription order, with positional arguments (no event object is allocated). They
 * may call back into the model (map, unmap, DMA); a hook that throws propagates out of the call that
 * emitted it. Sizes follow the core: iova an IOVA page number, pfn a frame, order log2 bytes, count
 * leaves of that order, npages / unmapped / mapped 4 KiB pages.
 */
export interface IommuObserver {
  /** trace_map: iommu_map() of npages from iova to pfn succeeded (a failed map, unwound, emits none). */
  map?(dom: IommuDomain, iova: number, pfn: number, npages: number): void;
  /**
   * trace_unmap: __iommu_unmap (iommu_unmap and iommu_unmap_fast) was asked for npages at iova and
   * removed `unmapped` (before an injected under-report). Where the kernel put it: before
   * iommu_unmap's sync in the gather era, after it in the 2018 one.
   */
  unmap?(dom: IommuDomain, iova: number, npages: number, unmapped: number): void;
  /** The core is about to call ops->map_pages (after its cost was charged; not when a fault was injected instead). */
  mapPagesBegin?(dom: IommuDomain, iova: number, pfn: number, order: number, count: number, prot: number): void;
  /** ops->map_pages returned ret (0 or -errno) having mapped `mapped` pages. */
  mapPagesEnd?(dom: IommuDomain, iova: number, pfn: number, order: number, count: number, ret: number, mapped: number): void;
  /** The core is about to call ops->unmap_pages. */
  unmapPagesBegin?(dom: IommuDomain, iova: number, order: number, count: number): void;
  /** ops->unmap_pages returned `unmapped` pages (may exceed count leaves of order; 0 at a hole). */
  unmapPagesEnd?(dom: IommuDomain, iova: number, order: number, count: number, unmapped: number): void;
  /**
   * A driver's iotlb_sync starts (generic_pt layer). start..last (inclusive IOVA pages) is the range it
   * gathered: the gather passed and the domain's pending range, or start > last when it holds none
   * (a v4.17 .. v5.14 AMD sync gathers nothing and flushes the whole domain).
   */
  iotlbSyncBegin?(dom: IommuDomain, start: number, last: number): void;
  iotlbSyncEnd?(dom: IommuDomain): void;
  /** A driver's flush_iotlb_all starts (called by iommu_flush_iotlb_all, or by the 2018 AMD sync). */
  flushIotlbAllBegin?(dom: IommuDomain): void;
  flushIotlbAllEnd?(dom: IommuDomain): void;
  /**
   * trace_io_page_fault (report_iommu_fault): a device access to IOVA page iova through domain
   * domainId faulted; flags IOMMU_FAULT_READ or IOMMU_FAULT_WRITE. Emitted by the driver as it logs the fault.
   */
  ioPageFault?(dev: number, domainId: number, iova: number, flags: number): void;
  /** PhysMem.pin (GUP) pinned npages frames from pfn (emitted after the pin, not for one the fault injector refused). */
  pin?(pfn: number, npages: number): void;
  /** PhysMem.unpin is about to drop one pin on npages frames from pfn (before its cost and checks). */
  unpin?(pfn: number, npages: number): void;
}

type Hook = keyof IommuObserver;
const HOOKS: readonly Hook[] = [
  'map',
  'unmap',
  'mapPagesBegin',
  'mapPagesEnd',
  'unmapPagesBegin',
  'unmapPagesEnd',
  'iotlbSyncBegin',
  'iotlbSyncEnd',
  'flushIotlbAllBegin',
  'flushIotlbAllEnd',
  'ioPageFault',
  'pin',
  'unpin',
];
const NONE: readonly IommuObserver[] = Object.freeze([]);

/** The observers of l that implement hook h, in subscription order (NONE when none does). */
function implementing(l: readonly IommuObserver[], h: Hook): readonly IommuObserver[] {
  const r = l.filter((o) => o[h] !== undefined);
  return r.length === 0 ? NONE : r;
}

/**
 * sim.observers: the subscriber list and the emitters the core calls. Subscribing and unsubscribing
 * replace the lists (copy on write), so a hook that unsubscribes, or subscribes another observer,
 * does not disturb the emission in progress. Each probe point has its own list of the observers
 * that implement it, taken at subscription: the vfio-sim CLI always has a subscriber (its
 * pinned-after-unmap figure needs two hooks), and the probe points nobody implements must then
 * cost an empty loop, not a property lookup per observer per event.
 */
export class SimObservers {
  /** True while at least one observer is subscribed: test it before emitting. */
  on = false;
  private list: readonly IommuObserver[] = NONE;
  private mapL: readonly IommuObserver[] = NONE;
  private unmapL: readonly IommuObserver[] = NONE;
  private mapPagesBeginL: readonly IommuObserver[] = NONE;
  private mapPagesEndL: readonly IommuObserver[] = NONE;
  private unmapPagesBeginL: readonly IommuObserver[] = NONE;
  private unmapPagesEndL: readonly IommuObserver[] = NONE;
  private iotlbSyncBeginL: readonly IommuObserver[] = NONE;
  private iotlbSyncEndL: readonly IommuObserver[] = NONE;
  private flushIotlbAllBeginL: readonly IommuObserver[] = NONE;
  private flushIotlbAllEndL: readonly IommuObserver[] = NONE;
  private ioPageFaultL: readonly IommuObserver[] = NONE;
  private pinL: readonly IommuObserver[] = NONE;
  private unpinL: readonly IommuObserver[] = NONE;

  /**
   * Adds an observer; returns the function that removes it (calling that again does nothing). The
   * hooks it implements are read here: one added to the object later is not called.
   */
  subscribe(o: IommuObserver): () => void {
    if (typeof o !== 'object' || o === null) throw new TypeError('observer must be an object of hooks');
    for (const h of HOOKS) {
      const f = o[h];
      if (f !== undefined && typeof f !== 'function') throw new TypeError(`observer.${h} must be a function`);
    }
    this.setList([...this.list, o]);
    // a flag, not a lookup: the same object subscribed twice has two removers, each removing one
    let live = true;
    return () => {
      if (!live) return;
      live = false;
      const i = this.list.indexOf(o);
      this.setList(this.list.filter((_, k) => k !== i));
    };
  }

  /** Observers subscribed now. */
  get count(): number {
    return this.list.length;
  }

  private setList(l: readonly IommuObserver[]): void {
    this.list = l;
    this.mapL = implementing(l, 'map');
    this.unmapL = implementing(l, 'unmap');
    this.mapPagesBeginL = implementing(l, 'mapPagesBegin');
    this.mapPagesEndL = implementing(l, 'mapPagesEnd');
    this.unmapPagesBeginL = implementing(l, 'unmapPagesBegin');
    this.unmapPagesEndL = implementing(l, 'unmapPagesEnd');
    this.iotlbSyncBeginL = implementing(l, 'iotlbSyncBegin');
    this.iotlbSyncEndL = implementing(l, 'iotlbSyncEnd');
    this.flushIotlbAllBeginL = implementing(l, 'flushIotlbAllBegin');
    this.flushIotlbAllEndL = implementing(l, 'flushIotlbAllEnd');
    this.ioPageFaultL = implementing(l, 'ioPageFault');
    this.pinL = implementing(l, 'pin');
    this.unpinL = implementing(l, 'unpin');
    this.on = l.length > 0;
  }

  map(dom: IommuDomain, iova: number, pfn: number, npages: number): void {
    const l = this.mapL;
    for (let i = 0; i < l.length; i++) l[i]!.map!(dom, iova, pfn, npages);
  }
  unmap(dom: IommuDomain, iova: number, npages: number, unmapped: number): void {
    const l = this.unmapL;
    for (let i = 0; i < l.length; i++) l[i]!.unmap!(dom, iova, npages, unmapped);
  }
  mapPagesBegin(dom: IommuDomain, iova: number, pfn: number, order: number, count: number, prot: number): void {
    const l = this.mapPagesBeginL;
    for (let i = 0; i < l.length; i++) l[i]!.mapPagesBegin!(dom, iova, pfn, order, count, prot);
  }
  mapPagesEnd(dom: IommuDomain, iova: number, pfn: number, order: number, count: number, ret: number, mapped: number): void {
    const l = this.mapPagesEndL;
    for (let i = 0; i < l.length; i++) l[i]!.mapPagesEnd!(dom, iova, pfn, order, count, ret, mapped);
  }
  unmapPagesBegin(dom: IommuDomain, iova: number, order: number, count: number): void {
    const l = this.unmapPagesBeginL;
    for (let i = 0; i < l.length; i++) l[i]!.unmapPagesBegin!(dom, iova, order, count);
  }
  unmapPagesEnd(dom: IommuDomain, iova: number, order: number, count: number, unmapped: number): void {
    const l = this.unmapPagesEndL;
    for (let i = 0; i < l.length; i++) l[i]!.unmapPagesEnd!(dom, iova, order, count, unmapped);
  }
  iotlbSyncBegin(dom: IommuDomain, start: number, last: number): void {
    const l = this.iotlbSyncBeginL;
    for (let i = 0; i < l.length; i++) l[i]!.iotlbSyncBegin!(dom, start, last);
  }
  iotlbSyncEnd(dom: IommuDomain): void {
    const l = this.iotlbSyncEndL;
    for (let i = 0; i < l.length; i++) l[i]!.iotlbSyncEnd!(dom);
  }
  flushIotlbAllBegin(dom: IommuDomain): void {
    const l = this.flushIotlbAllBeginL;
    for (let i = 0; i < l.length; i++) l[i]!.flushIotlbAllBegin!(dom);
  }
  flushIotlbAllEnd(dom: IommuDomain): void {
    const l = this.flushIotlbAllEndL;
    for (let i = 0; i < l.length; i++) l[i]!.flushIotlbAllEnd!(dom);
  }
  ioPageFault(dev: number, domainId: number, iova: number, flags: number): void {
    const l = this.ioPageFaultL;
    for (let i = 0; i < l.length; i++) l[i]!.ioPageFault!(dev, domainId, iova, flags);
  }
  pin(pfn: number, npages: number): void {
    const l = this.pinL;
    for (let i = 0; i < l.length; i++) l[i]!.pin!(pfn, npages);
  }
  unpin(pfn: number, npages: number): void {
    const l = this.unpinL;
    for (let i = 0; i < l.length; i++) l[i]!.unpin!(pfn, npages);
  }
}
