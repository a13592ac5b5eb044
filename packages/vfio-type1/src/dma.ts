// Models struct vfio_dma and the container's dma_list (an rb-tree keyed by iova in the kernel; a
// sorted array here: entries are per MAP_DMA call, never per page). Units are 4 KiB pages.

import type { Process } from './mm.js';

/** struct vfio_dma: one MAP_DMA call's range. iova/vaddr/size in pages. */
export class VfioDma {
  /** Pages mapped so far: grows chunk by chunk while mapping (vfio_link_dma inserts it zero-sized). */
  size = 0;
  iommuMapped = false;
  /** Pages charged to the owner's locked_vm for this dma (E-main's dma->locked_vm). */
  lockedPages = 0;
  vaddrInvalid = false;
  constructor(
    readonly iova: number,
    public vaddr: number,
    readonly prot: number,
    /** Task whose mm pins and accounting go to. */
    readonly task: Process,
    /** capable(CAP_IPC_LOCK) sampled at MAP_DMA time. */
    readonly lockCap: boolean,
  ) {}
  get end(): number {
    return this.iova + this.size;
  }
}

/** The dma tree: non-overlapping VfioDmas sorted by iova. */
export class DmaTree {
  readonly list: VfioDma[] = [];
  get count(): number {
    return this.list.length;
  }

  /** Index of the first dma whose end is above page `start` (list.length when none). */
  lowerIndex(start: number): number {
    const l = this.list;
    let lo = 0,
      hi = l.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (l[mid]!.iova + l[mid]!.size <= start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** vfio_find_dma(start, npages): a dma overlapping [start, start+npages) (the lowest), or null. */
  findOverlap(start: number, npages: number): VfioDma | null {
    const i = this.lowerIndex(start);
    const d = this.list[i];
    return d !== undefined && d.iova < start + npages ? d : null;
  }

  /** The dma holding page p, or null. */
  containing(p: number): VfioDma | null {
    const d = this.list[this.lowerIndex(p)];
    return d !== undefined && d.iova <= p ? d : null;
  }

  /** vfio_link_dma(): inserts a (zero-sized) dma at its iova position. */
  link(d: VfioDma): void {
    const l = this.list;
    let lo = 0,
      hi = l.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (l[mid]!.iova < d.iova) lo = mid + 1;
      else hi = mid;
    }
    l.splice(lo, 0, d);
  }

  /** vfio_unlink_dma(). */
  unlink(d: VfioDma): void {
    const l = this.list;
    let lo = 0,
      hi = l.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (l[mid]!.iova < d.iova) lo = mid + 1;
      else hi = mid;
    }
    if (l[lo] !== d) throw new Error(`BUG: dma at iova page 0x${d.iova.toString(16)} is not in the tree`);
    l.splice(lo, 1);
  }
}
