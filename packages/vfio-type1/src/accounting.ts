// Models vfio_lock_acct(): pages charged to the owner's mm->locked_vm against RLIMIT_MEMLOCK
// (spec vfio-type1 §5.2: charged even with CAP_IPC_LOCK, which only skips the limit test).

import type { VfioDma } from './dma.js';
import type { VfioIommu } from './iommu.js';

/** True when charging npages more to dma's task would exceed RLIMIT_MEMLOCK (and the dma lacks CAP_IPC_LOCK). */
export function overLimit(dma: VfioDma, npages: number): boolean {
  return !dma.lockCap && dma.task.lockedVm + npages > dma.task.memlockPages;
}

/** vfio_lock_acct(dma, npage): adjusts locked_vm of the dma's task and the container's totals. */
export function vfioLockAcct(iommu: VfioIommu, dma: VfioDma, npages: number): void {
  if (npages === 0) return;
  dma.task.lockedVm += npages;
  dma.lockedPages += npages;
  iommu.lockedPages += npages;
  iommu.sim.meter.charge(iommu.evLockAcct, 1);
}
