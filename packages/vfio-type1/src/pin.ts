// Models vfio_pin_pages_remote() / vfio_unpin_pages_remote(): pin a physically contiguous,
// homogeneous (all RAM or all reserved) run of a dma's pages, charging locked_vm per RAM page
// (spec vfio-type1 §5.2), and faulting in pages not present yet as get_user_pages does. Reserved
// (MMIO, VM_PFNMAP) pfns are never pinned, charged nor faulted in.

import { ERRNO, TRACE_IOMMU, traceIova } from '@x/iommu-core';
import { overLimit, vfioLockAcct } from './accounting.js';
import type { ContigRun } from './ctx.js';
import type { VfioDma } from './dma.js';
import type { VfioIommu } from './iommu.js';

/** Pages per vfio_batch: one page of struct page pointers (PAGE_SIZE / sizeof(void *)). */
const VFIO_BATCH_PAGES = 512;

/**
 * Contiguous run starting at page off of dma's vaddr range (virtual page dma.vaddr + off), at most max
 * pages: fills run (first pfn, reserved, folios), returns its length, or -EFAULT when no VMA holds
 * the page (run untouched). Crosses into an adjacent VMA when its first frame continues the run.
 * Takes the offset, not the virtual page: user virtual page numbers are above 2^31, so passing one
 * to a call that is not inlined would box it (one heap number per page pinned or unmapped).
 */
export function contigRun(dma: VfioDma, off: number, max: number, run: ContigRun): number {
  const proc = dma.task,
    vpage = dma.vaddr + off;
  let vma = proc.vmaHint;
  // indices inside a VMA are small integers; only vpage itself is a large double
  let idx = vma === null ? -1 : vpage - vma.startPage;
  if (vma === null || idx < 0 || idx >= vma.npages) {
    vma = proc.findVma(vpage);
    if (vma === null) return -ERRNO.EFAULT;
    idx = vpage - vma.startPage;
  }
  const pfn = vma.pfnAt(idx),
    rsvd = vma.mmio;
  let hugetlb = vma.hugetlb;
  let n = vma.contigFrom(idx, max);
  let folioOrder = vma.folioOrderAt(idx, n);
  let atEnd = idx + n === vma.npages;
  while (n < max && atEnd) {
    const nv = proc.findVma(vpage + n);
    if (nv === null || nv.mmio !== rsvd || nv.pfnAt(0) !== pfn + n) break;
    const k = nv.contigFrom(0, max - n);
    n += k;
    atEnd = k === nv.npages;
    folioOrder = Math.min(folioOrder, nv.folioOrderAt(0, k));
    hugetlb = hugetlb && nv.hugetlb;
  }
  run.pfn = pfn;
  run.reserved = rsvd;
  run.folioOrder = folioOrder;
  run.hugetlb = hugetlb;
  return n;
}

/** Runs of `unit` pages (aligned from 0) that [off, off + n) overlaps. */
function segments(off: number, n: number, unit: number): number {
  return Math.floor((off + n - 1) / unit) - Math.floor(off / unit) + 1;
}

/**
 * Pieces [off, off + n) splits into at batch boundaries (multiples of 512 in dma offsets) and folio
 * boundaries (multiples of `folio` in pfns from `pfn`): when one grid contains the other, the finer
 * one's count; otherwise both counted apart. That is exact, not a bound: both sizes are powers of
 * two, so a shared boundary would need off - pfn to be a multiple of the smaller one, the case the
 * first two tests take.
 */
function batchFolioPieces(off: number, pfn: number, n: number, folio: number): number {
  const b = segments(off, n, VFIO_BATCH_PAGES),
    f = segments(pfn, n, folio);
  if (folio <= VFIO_BATCH_PAGES && (off - pfn) % folio === 0) return f;
  if (folio >= VFIO_BATCH_PAGES && (off - pfn) % VFIO_BATCH_PAGES === 0) return b;
  return b + f - 1;
}

/**
 * The pfn lookups pinning a VM_PFNMAP run costs: one per page (vma offset arithmetic, then
 * follow_pfn / follow_pte), or since v6.15 (0fd06844de5d) one per page-table mapping of the BAR.
 */
function chargePfnLookups(iommu: VfioIommu, dma: VfioDma, off: number, n: number): void {
  if (iommu.spec.pfnmapStep === 'page') {
    iommu.sim.meter.charge(iommu.evPfnLookups, n);
    return;
  }
  const proc = dma.task;
  let steps = 0;
  for (let done = 0; done < n; ) {
    const vpage = dma.vaddr + off + done,
      vma = proc.findVma(vpage)!;
    done += Math.min(n - done, vma.mappingLeft(vpage - vma.startPage));
    steps++;
  }
  iommu.sim.meter.charge(iommu.evPfnLookups, steps);
}

/**
 * The pinning work the release's vfio_pin_pages_remote does for the run of n RAM pages at page off
 * of the dma (run, from contigRun, describes it): GUP calls (one per page before v5.12; one per
 * vfio_batch of 512 since 4d83de6da265), GUP's page-table walks (one per 4 KiB folio; for a large
 * folio one per folio and call, except a THP before v6.6 (57edfcfd3419), walked per page), the
 * pages GUP hands back, and steps of VFIO's accounting loop (one per page before v6.18; one per
 * contiguous run of a batch since f6c84a52cc41). The run is physically contiguous, so only batch
 * and folio boundaries split it.
 */
function chargePinWork(iommu: VfioIommu, off: number, n: number, run: ContigRun): void {
  const s = iommu.spec,
    m = iommu.sim.meter;
  const batched = s.batchedPinning && !iommu.disableHugepages;
  m.charge(iommu.evGupCalls, batched ? Math.ceil((off + n) / VFIO_BATCH_PAGES) - Math.ceil(off / VFIO_BATCH_PAGES) : n);
  m.charge(iommu.evGupPages, n);
  const folio = 1 << Math.min(run.folioOrder, 18); // not 2 **: a variable power is a call to C's pow()
  const perFolio = folio > 1 && (run.hugetlb || s.gupThpFast);
  m.charge(iommu.evGupWalks, !perFolio || !batched ? n : batchFolioPieces(off, run.pfn, n, folio));
  m.charge(iommu.evPinSteps, s.folioAcct && batched ? segments(off, n, VFIO_BATCH_PAGES) : n);
}

/**
 * get_user_pages() faulting in pages [off, off + n) of dma's vaddr range that are not present yet
 * (VMAs mmapped with populate false), VMA by VMA: see Vma.faultIn for what is charged. Pages stay
 * present afterwards, whatever becomes of the pin.
 */
function faultInRun(iommu: VfioIommu, dma: VfioDma, off: number, n: number): void {
  const proc = dma.task;
  for (let done = 0; done < n; ) {
    const vpage = dma.vaddr + off + done;
    let vma = proc.vmaHint;
    let idx = vma === null ? -1 : vpage - vma.startPage;
    if (vma === null || idx < 0 || idx >= vma.npages) {
      vma = proc.findVma(vpage);
      if (vma === null) return; // contigRun found the run: not reached
      idx = vpage - vma.startPage;
    }
    const k = Math.min(n - done, vma.npages - idx);
    vma.faultIn(idx, k, iommu.sim.meter);
    done += k;
  }
}

/**
 * vfio_pin_pages_remote(): pins the contiguous run at page off of dma's vaddr range (at most npage
 * pages; 1 with disable_hugepages). Returns the pages pinned (run holds the first pfn and the folio
 * order: the kernel's *pfn_base), or -EFAULT
 * (no VMA, or GUP failed: an injected pin fault), or -ENOMEM (RLIMIT_MEMLOCK; nothing left pinned).
 * Pages not present yet are faulted in by the pin (get_user_pages); with -ENOMEM the pages that fit
 * under the limit and the first one over it have been faulted in already and stay present.
 */
export function vfioPinPagesRemote(iommu: VfioIommu, dma: VfioDma, off: number, npage: number, run: ContigRun): number {
  const n = contigRun(dma, off, iommu.disableHugepages ? 1 : npage, run);
  if (n < 0) return n;
  const tr = iommu.sim.trace;
  if (tr.on && tr.detail >= TRACE_IOMMU) {
    tr.begin('vfio', 'vfio_pin_pages_remote', { iova: traceIova(dma.iova + off), pages: n });
    const r = pinRun(iommu, dma, off, n, run);
    tr.end('vfio', 'vfio_pin_pages_remote', r < 0 ? { ret: r } : {});
    return r;
  }
  return pinRun(iommu, dma, off, n, run);
}

/** The pin of a run contigRun found (n pages at off; run says where): vfio_pin_pages_remote past its GUP walk. */
function pinRun(iommu: VfioIommu, dma: VfioDma, off: number, n: number, run: ContigRun): number {
  if (run.reserved) {
    // is_invalid_reserved_pfn: no pin, no charge
    chargePfnLookups(iommu, dma, off, n);
    return n;
  }
  chargePinWork(iommu, off, n, run);
  const lazy = dma.task.unpopulatedVmas !== 0; // false unless some VMA was mmapped with populate false
  if (overLimit(dma, n)) {
    iommu.stats.warnings++; // pr_warn("RLIMIT_MEMLOCK (%ld) exceeded")
    if (lazy) {
      // v4.16 pins page by page: vaddr_get_pfn() (GUP, which faults the page in) comes before each
      // limit test, so the pages under the limit and the one over it were faulted in; their pins are
      // dropped, the pages stay present (as in Linux: put_page does not unmap)
      faultInRun(iommu, dma, off, Math.min(n, Math.max(0, dma.task.memlockPages - dma.task.lockedVm) + 1));
    }
    return -ERRNO.ENOMEM;
  }
  if (!iommu.sim.mem.pin(run.pfn, n)) return -ERRNO.EFAULT;
  if (lazy) faultInRun(iommu, dma, off, n);
  iommu.pinnedPages += n;
  iommu.stats.pins += n;
  vfioLockAcct(iommu, dma, n);
  return n;
}

/** log2 pages of the folios behind page off of dma's vaddr range (0 when no VMA holds it). */
export function folioOrderOf(dma: VfioDma, off: number, n: number): number {
  const vpage = dma.vaddr + off,
    vma = dma.task.findVma(vpage);
  return vma === null ? 0 : vma.folioOrderAt(vpage - vma.startPage, Math.min(n, vma.endPage - vpage));
}

/**
 * vfio_unpin_pages_remote(): drops the pins of npage frames from pfn (a homogeneous run whose
 * folios are 2^folioOrder pages) and, with doAccounting, uncharges them. Returns the pages released
 * that were RAM (the kernel's `unlocked`).
 */
export function vfioUnpinPagesRemote(
  iommu: VfioIommu,
  dma: VfioDma,
  pfn: number,
  npage: number,
  doAccounting: boolean,
  folioOrder: number,
): number {
  if (!iommu.sim.mem.isRam(pfn)) return 0; // put_pfn() is a no-op on reserved pfns
  const tr = iommu.sim.trace;
  if (tr.on && tr.detail >= TRACE_IOMMU) {
    tr.begin('vfio', 'vfio_unpin_pages_remote', { pages: npage });
    const r = unpinRun(iommu, dma, pfn, npage, doAccounting, folioOrder);
    tr.end('vfio', 'vfio_unpin_pages_remote');
    return r;
  }
  return unpinRun(iommu, dma, pfn, npage, doAccounting, folioOrder);
}

function unpinRun(iommu: VfioIommu, dma: VfioDma, pfn: number, npage: number, doAccounting: boolean, folioOrder: number): number {
  // put_pfn() per page; since d14de5b92578 (v6.18) one unpin_user_page_range_dirty_lock() that
  // steps over the range a folio at a time. Either way each folio's struct page is touched once.
  const folios = segments(pfn, npage, 1 << Math.min(folioOrder, 18));
  iommu.sim.meter.charge(iommu.evUnpinSteps, iommu.spec.folioAcct ? folios : npage);
  iommu.sim.meter.charge(iommu.evUnpinFolios, folios);
  iommu.sim.mem.unpin(pfn, npage);
  iommu.pinnedPages -= npage;
  iommu.stats.unpins += npage;
  if (doAccounting) vfioLockAcct(iommu, dma, -npage);
  return npage;
}
