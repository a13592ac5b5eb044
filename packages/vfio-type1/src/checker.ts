// The container's own safety checks, on top of the core's unpin-while-reachable hook: every pinned
// page belongs to a vfio_dma, locked_vm equals the pages charged, and teardown leaves no pin, mapping
// or page table behind. Findings go to sim.violations with the call that caused them.

import type { IommuDomain } from '@x/iommu-core';
import type { SafetyChecker } from '@x/iommu-core/internals';
import { ContigRun } from './ctx.js';
import type { VfioIommu } from './iommu.js';
import type { Process } from './mm.js';
import { contigRun } from './pin.js';

// The container's violation kinds, added to the core's list (its ViolationKinds) so that
// sim.checker.report() and Violation.kind know them.
declare module '@x/iommu-core' {
  interface ViolationKinds {
    'pinned-not-charged': true;
    'locked-vm-mismatch': true;
    'dma-vaddr-unbacked': true;
    'dma-page-not-pinned': true;
    'dma-charge-mismatch': true;
    'pin-outside-dma': true;
    'teardown-leaves-mapping': true;
    'teardown-leaves-pins': true;
    'teardown-leaves-charge': true;
    'teardown-leaves-dma': true;
  }
}

/** Pages a domain still maps, when its driver has the model hooks (dom.model); -1 if unknown. */
export function domainLeaves(dom: IommuDomain): number {
  return dom.model !== null ? dom.model.mappedPages(dom) : -1;
}

/** A container as the accounting check reads it: whose locked_vm it charges, and its type1 instance. */
export interface Charger {
  readonly proc: Process;
  readonly iommu: VfioIommu | null;
}

/**
 * O(1)-ish checks run after every MAP/UNMAP/attach/detach of a container (iommu, opened by proc):
 * its pins equal its charged pages, and proc's locked_vm equals what the containers among `all`
 * that proc opened charged.
 */
export function checkAccounting(chk: SafetyChecker, iommu: VfioIommu | null, proc: Process, all: readonly Charger[]): void {
  if (iommu !== null && iommu.pinnedPages !== iommu.lockedPages) {
    chk.report('pinned-not-charged', -1, `container pins ${iommu.pinnedPages} RAM pages but charged ${iommu.lockedPages} to locked_vm`);
  }
  let sum = 0;
  for (const o of all) if (o.iommu !== null && o.proc === proc) sum += o.iommu.lockedPages;
  if (sum !== proc.lockedVm) {
    chk.report('locked-vm-mismatch', -1, `pid ${proc.pid} locked_vm ${proc.lockedVm} pages, its containers charged ${sum}`);
  }
}

/**
 * Full walk (O(pages mapped)): each dma's RAM pages are pinned, the charges of the dmas add up to the
 * container's, and the container holds no pin outside its dmas.
 */
export function checkDeep(iommu: VfioIommu): void {
  const chk = iommu.sim.checker,
    mem = iommu.sim.mem;
  let pages = 0,
    charged = 0;
  const run = new ContigRun();
  for (const dma of iommu.dmas.list) {
    charged += dma.lockedPages;
    let off = 0;
    while (off < dma.size) {
      const n = contigRun(dma, off, dma.size - off, run);
      if (n <= 0) {
        chk.report(
          'dma-vaddr-unbacked',
          -1,
          `dma iova page 0x${dma.iova.toString(16)}: vaddr page 0x${(dma.vaddr + off).toString(16)} has no VMA`,
        );
        break;
      }
      if (!run.reserved) {
        for (let i = 0; i < n; i++) {
          if (mem.pinCount(run.pfn + i) < 1)
            chk.report('dma-page-not-pinned', run.pfn + i, `page ${off + i} of dma at iova page 0x${dma.iova.toString(16)} is not pinned`);
        }
        pages += n;
      }
      off += n;
    }
  }
  if (charged !== iommu.lockedPages) chk.report('dma-charge-mismatch', -1, `dmas charged ${charged} pages, container ${iommu.lockedPages}`);
  if (pages !== iommu.pinnedPages) chk.report('pin-outside-dma', -1, `container pins ${iommu.pinnedPages} pages, its dmas cover ${pages}`);
}

/** Before a domain is freed on teardown: nothing may still be mapped in it. */
export function checkDomainEmpty(iommu: VfioIommu, dom: IommuDomain, why: string): void {
  const n = domainLeaves(dom);
  if (n > 0) iommu.sim.checker.report('teardown-leaves-mapping', -1, `${why}: domain ${dom.id} still maps ${n} page(s)`);
}

/** After the type1 instance is released: no pins, no charge, no dma left. */
export function checkReleased(iommu: VfioIommu): void {
  const chk = iommu.sim.checker;
  if (iommu.pinnedPages !== 0) chk.report('teardown-leaves-pins', -1, `${iommu.pinnedPages} pages still pinned after release`);
  if (iommu.lockedPages !== 0) chk.report('teardown-leaves-charge', -1, `${iommu.lockedPages} pages still charged after release`);
  if (iommu.dmas.count !== 0) chk.report('teardown-leaves-dma', -1, `${iommu.dmas.count} dma(s) left after release`);
}
