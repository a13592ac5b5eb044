// The events vfio_iommu_type1 (and the mm code it pins through) charges, with what one occurrence
// is. Their costs come from the sim's machine (iommu-core machine tables); the ns here is only the
// fallback for a machine that has no entry (0: counted, not timed).

import type { CostEntry } from '@x/iommu-core';
import type { Meter } from '@x/iommu-core/internals';

const E = (what: string): CostEntry => Object.freeze({ ns: 0, source: what });

export const VFIO_EVENTS = Object.freeze({
  'vfio.ioctls': E('one container ioctl: entry and exit, copy of the argument struct, the container mutex'),
  'vfio.lockAcct': E('one vfio_lock_acct call: mmap_lock and mm->locked_vm'),
  'vfio.regionAllocs': E('one struct vfio_regions (40 bytes) allocated for an unmapped chunk (v4.17+ fast path)'),
  'vfio.gupCalls': E('one get_user_pages / pin_user_pages_remote call: one per page before v5.12, one per 512-page vfio_batch after'),
  'vfio.gupPages': E('one page returned by GUP (the pages array entry)'),
  'vfio.gupWalks': E(
    'one GUP page-table walk and reference: per 4 KiB folio, per THP page before v6.6 (57edfcfd3419), else per folio and call',
  ),
  'vfio.pinSteps': E(
    "one step of vfio_pin_pages_remote's contiguity and accounting loop: per page before v6.18, per contiguous run of a batch after",
  ),
  'vfio.unpinSteps': E('put_pfn per page before v6.18; one folio step of unpin_user_page_range_dirty_lock after'),
  'vfio.unpinFolios': E('a folio whose pins are dropped (its struct page brought into the cache), any release'),
  'vfio.pfnLookups': E('one pfn lookup of a VM_PFNMAP range (a device BAR): per page before v6.15, per BAR mapping after'),
} as const satisfies Record<string, CostEntry>);

export type VfioEvent = keyof typeof VFIO_EVENTS;

/** Registers every VFIO event on a meter: event name -> id, for the hot paths. */
export function registerVfioEvents(m: Meter): Readonly<Record<VfioEvent, number>> {
  const out = {} as Record<VfioEvent, number>;
  for (const k of Object.keys(VFIO_EVENTS) as VfioEvent[]) out[k] = m.register(k, VFIO_EVENTS[k]);
  return out;
}
