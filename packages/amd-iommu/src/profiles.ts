// Models the AMD IOMMU driver's behaviour per kernel era as data (spec amd-iommu §3, §4, §9.5):
// v4.15 (unmap flushes the domain and waits), v4.16 (the 2018 fast-flush ops; the seed), and
// mainline (range-selective flushes, gather, iommupt page-table semantics). Each quirk can be
// toggled on its own.

import type { PtPolicy } from '@x/iommu-core';

export type AmdProfileName = 'v4.15' | 'v4.16' | 'mainline';

export interface AmdQuirks {
  /** v4.15: every ->unmap ends with a whole-domain PDE flush + COMPLETION_WAIT; no iotlb ops. */
  flushOnUnmap: boolean;
  /** v4.16: iotlb_range_add is empty and iotlb_sync = flush_iotlb_all (whole domain, PDE=1, wait). */
  syncFlushesAll: boolean;
  /** 2018 build_inv_iommu_pages: any range of more than one page is sent as the whole domain. */
  invPageOrAll: boolean;
  /**
   * 2018 iommu_map_page: map refuses any present target entry (EBUSY), even a pointer to an emptied
   * 4 KiB table, and a leaf above the target level fails the walk (ENOMEM). Off: iommupt rules
   * (EADDRINUSE on a leaf, empty leftover tables replaced and freed after a flush).
   */
  ebusyOnPresent: boolean;
  /** 2018 iommu_unmap_page: steps over holes counting their size; unmap inside a large leaf removes it whole. */
  unmapCountsHoles: boolean;
  /** Tables are never freed on unmap (only when the domain is freed). */
  keepTables: boolean;
  /** 2018 update_domain after growth: DTE flushes + whole-domain PDE invalidation, no wait (else DTE flushes + wait). */
  growFlush2018: boolean;
  /** COMPLETION_WAIT stores 1 every time (2018) instead of an increasing sequence number. */
  semaphoreOne: boolean;
}

export interface AmdProfile {
  readonly name: AmdProfileName;
  /** Which core API shape the driver implements. */
  readonly apiEra: '2018' | 'gather';
  readonly quirks: Readonly<AmdQuirks>;
}

export const AMD_PROFILES: Readonly<Record<AmdProfileName, AmdProfile>> = {
  'v4.15': {
    name: 'v4.15', apiEra: '2018',
    quirks: { flushOnUnmap: true, syncFlushesAll: true, invPageOrAll: true, ebusyOnPresent: true, unmapCountsHoles: true,
      keepTables: true, growFlush2018: true, semaphoreOne: true },
  },
  'v4.16': {
    name: 'v4.16', apiEra: '2018',
    quirks: { flushOnUnmap: false, syncFlushesAll: true, invPageOrAll: true, ebusyOnPresent: true, unmapCountsHoles: true,
      keepTables: true, growFlush2018: true, semaphoreOne: true },
  },
  mainline: {
    name: 'mainline', apiEra: 'gather',
    quirks: { flushOnUnmap: false, syncFlushesAll: false, invPageOrAll: false, ebusyOnPresent: false, unmapCountsHoles: false,
      keepTables: false, growFlush2018: false, semaphoreOne: false },
  },
};

export const EBUSY = -16, ENOMEM = -12, EADDRINUSE = -98;

/** The page-table engine policy a set of quirks implies. */
export function ptPolicyOf(q: Readonly<AmdQuirks>): PtPolicy {
  return {
    overmap: q.ebusyOnPresent ? EBUSY : EADDRINUSE,
    leafAbove: q.ebusyOnPresent ? ENOMEM : EADDRINUSE,
    replaceEmptyTables: !q.ebusyOnPresent,
    holes: q.unmapCountsHoles ? 'count' : 'stop',
    startInLeaf: q.unmapCountsHoles ? 'whole' : 'zero',
    freeTables: !q.keepTables,
  };
}
