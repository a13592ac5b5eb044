// The AMD IOMMU driver's behaviours by release, as data (spec amd-iommu §3, §4, §9.5): which flush
// ops it had, how it encoded invalidations, and which page-table code it ran. profiles.ts derives
// every quirk from these entries and the core's (the core API shape the driver implements).

import type { TimelineEntry } from '@x/iommu-core';
import { deepFreeze } from '@x/iommu-core/internals';

export type AmdEntryId =
  | 'amd-fast-flush'
  | 'amd-detach-flush'
  | 'amd-upgrade-pgsize'
  | 'amd-grow-dte-flush'
  | 'amd-cmd-sem-seq'
  | 'amd-inv-address'
  | 'amd-sync-range'
  | 'amd-map-pages'
  | 'amd-iommupt';

export const AMD_TIMELINE: readonly (TimelineEntry & { readonly id: AmdEntryId })[] = deepFreeze([
  {
    id: 'amd-fast-flush',
    component: 'amd-iommu',
    commit: 'eb5ecd1a40e2',
    since: 'v4.17',
    title: 'iommu/amd: Add support for fast IOTLB flushing',
    effect:
      'unmap no longer flushes the domain and waits; iotlb_range_add does nothing, iotlb_sync and flush_iotlb_all flush the whole domain (PDE=1) and wait.',
    verified:
      'likely: authored 2018-02-21, after the v4.16 merge window closed, and applied by Joerg Roedel for the cycle whose VFIO pull (vfio-v4.17-rc1) adopted it; its diff moves the per-unmap domain flush into iotlb_sync.',
  },
  {
    id: 'amd-detach-flush',
    component: 'amd-iommu',
    commit: '9825bd94e3a2',
    since: 'v5.0',
    title: 'iommu/amd: Fix IOMMU page flush when detach device from a domain',
    effect: "detaching a device flushes the domain's IOTLB (PDE=1) and waits; before, detach only invalidated the DTE and waited.",
    verified:
      'likely: the diff (matched to the title on a 4.x stable shortlog) was committed for v5.0; the commit id comes from the diff page.',
  },
  {
    id: 'amd-upgrade-pgsize',
    component: 'amd-iommu',
    commit: '6f820bb995b6',
    since: 'v5.0',
    title: 'iommu/amd: Allow to upgrade page-size',
    also: ['6d568ef9a622 iommu/amd: Allow downgrading page-sizes in alloc_pte()'],
    effect:
      'a large page may be mapped over a range whose 4 KiB tables were emptied: the tables are replaced and freed after a flush, instead of EBUSY (the 2018 quirk behind map_try_harder).',
    verified:
      'likely: part of Joerg Roedel\'s Nov-2018 series "iommu/amd: Always allow to map huge pages", whose last patch (7a30423a95a1, VFIO) was committed after v4.20-rc1, for v5.0.',
  },
  {
    id: 'amd-grow-dte-flush',
    component: 'amd-iommu',
    commit: '19c6978fba68',
    since: 'v5.7',
    title: 'iommu/amd: Update Device Table in increase_address_space()',
    also: ['f44a4d7e4f1c iommu/amd: Call domain_flush_complete() in update_domain()'],
    effect: 'growing the table rewrites every attached DTE, flushes them and waits instead of flushing the domain without a wait.',
    verified: '"IOMMU fixes for v5.7-rc4" pull (tag iommu-fixes-v5.7-rc4) lists the series.',
  },
  {
    id: 'amd-cmd-sem-seq',
    component: 'amd-iommu',
    commit: 'c69d89aff393',
    since: 'v5.10',
    title: 'iommu/amd: Use 4K page for completion wait write-back semaphore',
    effect: 'COMPLETION_WAIT stores an increasing sequence number (cmd_sem_val) instead of 1 into a zeroed semaphore.',
    verified: '"IOMMU updates for v5.10" pull (tag iommu-updates-v5.10) lists it.',
  },
  {
    id: 'amd-inv-address',
    component: 'amd-iommu',
    commit: '268aa4548277',
    since: 'v5.13',
    title: 'iommu/amd: Page-specific invalidations for more than one page',
    effect:
      'a multi-page INVALIDATE_IOMMU_PAGES covers the smallest naturally aligned power-of-two block holding the range (S bit) instead of the whole domain (iotlb_sync itself still flushes the whole domain until amd-sync-range).',
    verified: 'likely: in the spring-2021 linux-next rev-list; its fix a017c567915f (Fixes: 268aa4548277) went in as a v5.13-rc fix.',
  },
  {
    id: 'amd-sync-range',
    component: 'amd-iommu',
    commit: 'fc65d0acaf23',
    since: 'v5.15',
    title: 'iommu/amd: Selective flush on unmap',
    effect:
      'unmap adds its range to the gather and iotlb_sync flushes only the gathered range (PDE=1, and waits) instead of the whole domain.',
    also: ['fe6d269d0e9b iommu/amd: Tailored gather logic for AMD', '3b122a5666cb iommu/amd: Sync once for scatter-gather operations'],
    verified: 'Joerg Roedel "Applied, thanks Nadav." to the v6 series (Aug 2021, after v5.14-rc1), the v5.15 merge window.',
  },
  {
    id: 'amd-map-pages',
    component: 'amd-iommu',
    commit: '6b080c4e815c',
    since: 'v6.1',
    title: 'iommu/amd: Add map/unmap_pages() iommu_domain_ops callback support',
    also: [
      '8cc233dec313 iommu/amd/io-pgtable: Implement map_pages io_pgtable_ops callback',
      '251c4db699ca iommu/amd/io-pgtable: Implement unmap_pages io_pgtable_ops callback',
    ],
    effect: 'the driver takes a run of same-size pages per map/unmap call instead of one page per call.',
    verified:
      'likely: the Aug-2022 series sits beside "iommu/amd: Initial support for AMD IOMMU v2 page table" (a 6.1 feature) in the rev-lists.',
  },
  {
    id: 'amd-iommupt',
    component: 'amd-iommu',
    commit: '789a5913b29c',
    since: 'v6.19',
    title: 'iommu/amd: Use the generic iommu page table',
    also: [
      'cdb39d918579 iommupt: Add the basic structure of the iommu implementation',
      '2fdf6db436e3 iommu/amd: Remove AMD io_pgtable support',
    ],
    effect:
      'the page table moves to iommupt (generic_pt): one walk per call, EADDRINUSE on an existing leaf, unmap stops at the first hole and frees the tables it empties, page sizes below 2^52 only.',
    verified:
      'likely-high: Joerg Roedel applied v8 in Nov 2025 (after the v6.18 merge window); the ids are in the Dec-2025 patchwork summary; the VFIO v7.0-rc1 pull (Feb 2026) follows the v6.19 release.',
  },
]);
