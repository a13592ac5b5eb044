// The IOMMU core's and the VT-d driver's behaviours by release (the reference driver is VT-d-like
// and takes its flush behaviour from the intel-iommu entries). Data only; see entry.ts.

import type { TimelineEntry } from './entry.js';
import { deepFreeze } from '../freeze.js';

export type CoreEntryId = 'iommu-tlb-interface' | 'iotlb-gather' | 'map-pages' | 'vtd-iotlb-sync' | 'vtd-map-pages' | 'vtd-real-pgsize';

/** The core's timeline (component 'iommu-core') and VT-d's ('intel-iommu'). */
export const CORE_TIMELINE: readonly (TimelineEntry & { readonly id: CoreEntryId })[] = deepFreeze([
  {
    id: 'iommu-tlb-interface',
    component: 'iommu-core',
    commit: 'add02cfdc9bc',
    since: 'v4.14',
    title: 'iommu: Introduce Interface for IOMMU TLB Flushing',
    effect:
      'iommu_unmap_fast, iommu_tlb_range_add and iommu_tlb_sync exist: a driver with iotlb ops may defer the invalidation of an unmap to a later sync.',
    verified: 'Joerg Roedel\'s signed tag iommu-updates-v4.14 lists "New functions in the IOMMU-API for explicit IO/TLB flushing".',
  },
  {
    id: 'iotlb-gather',
    component: 'iommu-core',
    commit: 'a7d20dc19d9e',
    since: 'v5.4',
    title: 'iommu: Introduce struct iommu_iotlb_gather for batching TLB flushes',
    effect:
      'unmap records what it removed in a struct iommu_iotlb_gather and iommu_iotlb_sync(domain, gather) flushes it; VFIO passes one gather per vfio_unmap_unpin call.',
    verified:
      '"[git pull] IOMMU Updates for Linux v5.4" (tag iommu-updates-v5.4, 2019-09-16) lists it; its diffstat touches vfio_iommu_type1.c.',
  },
  {
    id: 'map-pages',
    component: 'iommu-core',
    commit: '647c57764b37',
    since: 'v5.15',
    title: 'iommu: Add support for the map_pages() callback',
    also: ['cacffb7f7b45 iommu: Add an unmap_pages() op for IOMMU drivers'],
    effect:
      'the core hands a driver that implements map_pages/unmap_pages a run of same-size pages in one call; before, ops->map/unmap took one page per call.',
    verified: '"IOMMU updates for v5.15" pull (tag iommu-updates-v5.15) lists both; committed 2021-07-26, after v5.14-rc1.',
  },
  {
    id: 'vtd-iotlb-sync',
    component: 'intel-iommu',
    commit: '2a2b8eaa5b25',
    since: 'v5.11',
    title: 'iommu: Handle freelists when using deferred flushing in iommu drivers',
    effect:
      'intel_iommu_unmap stops flushing inside ->unmap; iotlb_sync flushes the gathered range once. Before, every ->unmap call issued its own page-selective invalidation and waited, and the driver had no iotlb_range_add/iotlb_sync.',
    verified:
      '"[GIT PULL] IOMMU updates for 5.11" (tag iommu-updates-v5.11, 2020-12-14) lists it; its diff removes the flush from intel_iommu_unmap and adds intel_iommu_tlb_sync.',
  },
  {
    id: 'vtd-map-pages',
    component: 'intel-iommu',
    commit: '3f34f1259776',
    since: 'v5.15',
    title: 'iommu/vt-d: Implement map/unmap_pages() iommu_ops callback',
    effect: 'VT-d takes a run of same-size pages per map/unmap call.',
    verified: '"IOMMU updates for v5.15" pull lists it (Lu Baolu).',
  },
  {
    id: 'vtd-real-pgsize',
    component: 'intel-iommu',
    commit: 'a886d5a7e67b',
    since: 'v5.15',
    title: 'iommu/vt-d: Report real pgsize bitmap to iommu core',
    effect:
      'VT-d reports the page sizes its tables hold (4K, and 2M and 1G with superpages). Before, it reported every power of two from 4K, so the core handed it one naturally aligned chunk per call (one flush per unmapped chunk before v5.11) and the driver split it into 4K/2M/1G entries itself.',
    verified:
      '"[git pull] IOMMU Updates for Linux v5.15" (tag iommu-updates-v5.15) lists it under Lu Baolu; Joerg Roedel applied the three-patch series to iommu/core in July 2021.',
  },
]);
