// Measures how long pages stay pinned after the IOMMU stopped translating them: the price of
// batching (since v4.17 VFIO keeps up to tlbSyncMax regions pinned until one sync). Each unmap_pages return
// is logged with the modeled time; each unpin during an UNMAP_DMA ioctl consumes the oldest logged
// pages (VFIO unpins in unmap order on every path), and the time difference is the delay. Pages of
// a device BAR mapping (MMIO, reserved pfns) are never pinned nor unpinned: their unmaps are not logged.

import { TRACE_IOMMU, traceIova, type IommuOps } from '@x/iommu-core';
import type { Machine } from './machine.js';

type DriverOps = { -readonly [K in keyof IommuOps]: IommuOps[K] };
const TRACK = 'iommu';

export class PinnedAfterUnmap {
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

  constructor(m: Machine) {
    const { sim } = m;
    const clock = sim.clock, tr = sim.trace;
    this.clock = clock;
    // the driver's ops object is shared by all its domains: wrap its entry points once. Besides the
    // pinned-after-unmap log this puts the driver's work on an 'iommu' trace track at --trace-detail
    // iommu and above (the core and drivers trace nothing below the ioctl themselves); IOVAs in bytes.
    const ops = (m.drv.raw as { ops?: DriverOps }).ops;
    if (ops !== undefined && typeof ops.unmapPages === 'function') {
      const unmap = ops.unmapPages;
      ops.unmapPages = (dom, iova, order, count, gather) => {
        const traced = tr.on && tr.detail >= TRACE_IOMMU;
        if (traced) tr.begin(TRACK, 'unmap_pages', { iova: traceIova(iova), order, count });
        const got = unmap.call(ops, dom, iova, order, count, gather);
        if (traced) tr.end(TRACK, 'unmap_pages', { pages: got });
        if (got > 0 && this.inUnmap && (this.mmio.length === 0 || !this.isMmio(iova))) this.push(got);
        return got;
      };
      const map = ops.mapPages;
      ops.mapPages = (dom, iova, pfn, order, count, prot) => {
        if (!tr.on || tr.detail < TRACE_IOMMU) return map.call(ops, dom, iova, pfn, order, count, prot);
        tr.begin(TRACK, 'map_pages', { iova: traceIova(iova), order, count });
        const r = map.call(ops, dom, iova, pfn, order, count, prot);
        tr.end(TRACK, 'map_pages', { ret: r });
        return r;
      };
      const sync = ops.iotlbSync;
      if (sync !== undefined) {
        ops.iotlbSync = (dom, gather) => {
          if (!tr.on || tr.detail < TRACE_IOMMU) { sync.call(ops, dom, gather); return; }
          tr.begin(TRACK, 'iotlb_sync', { domain: dom.id });
          sync.call(ops, dom, gather);
          tr.end(TRACK, 'iotlb_sync');
        };
      }
      const flushAll = ops.flushIotlbAll;
      if (flushAll !== undefined) {
        ops.flushIotlbAll = (dom) => {
          if (!tr.on || tr.detail < TRACE_IOMMU) { flushAll.call(ops, dom); return; }
          tr.begin(TRACK, 'flush_iotlb_all', { domain: dom.id });
          flushAll.call(ops, dom);
          tr.end(TRACK, 'flush_iotlb_all');
        };
      }
    }
    const mem = sim.mem;
    const unpin = mem.unpin;
    mem.unpin = (pfn: number, npages: number): void => {
      if (this.inUnmap) this.consume(npages);
      unpin.call(mem, pfn, npages);
    };
  }

  meanNs(): number { return this.pages === 0 ? 0 : this.sumNs / this.pages; }

  /** A MAP_DMA of MMIO (a BAR mmap) covered IOVA pages [start, end). */
  mapMmio(start: number, end: number): void { this.mmio.push(start, end); }

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
      if (this.head > 0) { this.t.copyWithin(0, this.head, this.tail); this.n.copyWithin(0, this.head, this.tail); this.tail -= this.head; this.head = 0; }
      if (this.tail === this.t.length) {
        const t = new Float64Array(this.t.length * 2); t.set(this.t); this.t = t;
        const n = new Float64Array(this.n.length * 2); n.set(this.n); this.n = n;
      }
    }
    this.t[this.tail] = now; this.n[this.tail] = pages; this.tail++;
    this.outstanding += pages;
    if (this.outstanding > this.peakPages) this.peakPages = this.outstanding;
  }

  private consume(pages: number): void {
    const now = this.clock.now;
    while (pages > 0 && this.head < this.tail) {
      const take = Math.min(pages, this.n[this.head]!);
      const d = now - this.t[this.head]!;
      this.sumNs += d * take; this.pages += take;
      if (d > this.maxNs) this.maxNs = d;
      pages -= take;
      this.outstanding -= take;
      this.n[this.head]! -= take;
      if (this.n[this.head] === 0) this.head++;
    }
  }
}
