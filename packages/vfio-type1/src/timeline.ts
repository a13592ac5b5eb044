// vfio_iommu_type1's behaviours by release, as data (spec vfio-type1 §0, §13): profiles.ts derives
// every era flag of a container from these entries and the core's, so a release is exactly the
// set of commits it contains. A removal is an entry of its own ('remove-fgsp').

import type { TimelineEntry } from '@x/iommu-core';
import { deepFreeze } from '@x/iommu-core/internals';

export type VfioEntryId =
  | 'dma-unmap-chunking'
  | 'unmap-wrap-check'
  | 'fast-unmap'
  | 'unmap-wrap-fix'
  | 'remove-map-try-harder'
  | 'dma-entry-limit'
  | 'iova-list'
  | 'dirty-tracking'
  | 'dma-avail-cap'
  | 'replay-unwind'
  | 'unmap-all-vaddr'
  | 'batched-pinning'
  | 'always-cache'
  | 'cap-align'
  | 'paging-domain-alloc'
  | 'remove-nesting'
  | 'pfnmap-huge-step'
  | 'remove-fgsp'
  | 'folio-batch-acct'
  | 'overflow-rework'
  | 'gup-thp-fast';

export const VFIO_TIMELINE: readonly (TimelineEntry & { readonly id: VfioEntryId })[] = deepFreeze([
  {
    id: 'dma-unmap-chunking',
    component: 'vfio-type1',
    commit: '6fe1010d6d9c',
    since: 'v4.0',
    title: 'vfio/type1: DMA unmap chunking',
    effect:
      'vfio_unmap_unpin unmaps each physically contiguous run (found with iova_to_phys per page) in one iommu_unmap, and each new domain is probed for fine-grained superpages (fgsp): with them the loop keeps one page per call. Before, it unmapped one PAGE_SIZE per call and relied on over-unmap.',
    verified:
      'committed 2015-02-06 on top of v3.19-rc7 for the v4.0 merge window; v3.19 (2015-02-08) shipped without it (commit page). Later fixes carry Fixes: 6fe1010d6d9c.',
  },
  {
    id: 'unmap-wrap-check',
    component: 'vfio-type1',
    commit: '71a7d3d78e3c',
    since: 'v4.15',
    title: 'vfio/type1: silence integer overflow warning',
    effect:
      'UNMAP_DMA refuses a range that wraps with EINVAL, testing `iova + size < iova`, which also refuses a range ending exactly at 2^64. Before, a wrapping unmap went on with its end taken mod 2^64: the v2 bisection checks could refuse it (EINVAL), else the search found nothing and it returned 0.',
    verified: 'its fix 58fec830fc19 carries "Cc: stable@vger.kernel.org # v4.15+".',
  },
  {
    id: 'fast-unmap',
    component: 'vfio-type1',
    commit: '6bd06f5a486c',
    since: 'v4.17',
    title: 'vfio/type1: Adopt fast IOTLB flush interface when unmap IOVAs',
    effect:
      'vfio_unmap_unpin unmaps with iommu_unmap_fast, queues up to 512 unmapped regions, syncs the IOTLB once and only then unpins them; a chunk the fast unmap refuses goes the slow way.',
    verified:
      '"Merge tag \'vfio-v4.17-rc1\'" lists it ("Adopt iommu_unmap_fast() interface to type1 backend"); v4 was posted 2018-02-01, inside the 4.16 merge window.',
  },
  {
    id: 'unmap-wrap-fix',
    component: 'vfio-type1',
    commit: '58fec830fc19',
    since: 'v5.0',
    title: 'vfio/type1: Fix unmap overflow off-by-one',
    effect: 'the UNMAP_DMA wrap test becomes `iova + size - 1 < iova`: a range ending exactly at 2^64 is accepted.',
    verified: '"[GIT PULL] VFIO fixes for v5.0-rc2" (tag vfio-v5.0-rc2 ends at 58fec830fc19).',
  },
  {
    id: 'remove-map-try-harder',
    component: 'vfio-type1',
    commit: '7a30423a95a1',
    since: 'v5.0',
    title: 'vfio/type1: Remove map_try_harder() code path',
    effect:
      'an EBUSY from iommu_map is returned as is; before, VFIO retried the chunk one page at a time (map_try_harder) for the AMD page-size quirk.',
    verified:
      'likely: committed 2018-11-15, after v4.20-rc1, as the last patch of Joerg Roedel\'s "iommu/amd: Always allow to map huge pages" series, which went in for v5.0.',
  },
  {
    id: 'dma-entry-limit',
    component: 'vfio-type1',
    commit: '492855939bdb',
    since: 'v5.1',
    title: 'vfio/type1: Limit DMA mappings per container',
    effect: 'MAP_DMA fails with ENOSPC once dma_entry_limit (module parameter, default 65535) mappings exist.',
    verified: '"[GIT PULL] VFIO fixes for v5.1-rc4" (tag vfio-v5.1-rc4 ends at 492855939bdb).',
  },
  {
    id: 'iova-list',
    component: 'vfio-type1',
    commit: 'af029169b8fd',
    since: 'v5.4',
    title: 'vfio/type1: Check reserved region conflict and update iova list',
    effect:
      'the container keeps the valid IOVA ranges (apertures minus reserved regions): MAP_DMA outside them is EINVAL, attach checks conflicts, GET_INFO gains the capability chain with IOVA_RANGE.',
    verified:
      '"[GIT PULL] VFIO updates for v5.4-rc1" (2019-09-20): "Support for reporting valid IOVA regions to user" (Shameer Kolothum\'s series).',
  },
  {
    id: 'dirty-tracking',
    component: 'vfio-type1',
    commit: 'ad721705d09c',
    since: 'v5.8',
    title: 'vfio iommu: Add migration capability to report supported features',
    also: ['331e33d2960c vfio iommu: Update UNMAP_DMA ioctl to get dirty bitmap before unmap'],
    effect: 'GET_INFO reports the MIGRATION capability and UNMAP_DMA knows VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP.',
    verified: '"[GIT PULL] VFIO updates for v5.8-rc1" (2020-06-03); merged as 5a36f0f3f518 (vfio-v5.8-rc1).',
  },
  {
    id: 'dma-avail-cap',
    component: 'vfio-type1',
    commit: '7d6e1329652e',
    since: 'v5.10',
    title: 'vfio iommu: Add dma available capability',
    effect: 'GET_INFO reports DMA_AVAIL (dma_avail) in its capability chain.',
    verified: '"[GIT PULL] VFIO updates for v5.10-rc1" (2020-10-22) lists it (Matthew Rosato).',
  },
  {
    id: 'replay-unwind',
    component: 'vfio-type1',
    commit: 'aae7a75a821a',
    since: 'v5.9',
    title: 'vfio/type1: Add proper error unwind for vfio_iommu_replay()',
    effect: 'a replay into a new domain that fails unmaps what it had mapped there before the attach fails.',
    verified: 'likely: posted 2020-08-07 and merged as a v5.9-rc fix; backported to the 4.14+ stable trees.',
  },
  {
    id: 'unmap-all-vaddr',
    component: 'vfio-type1',
    commit: 'c3cbab24db38',
    since: 'v5.12',
    title: 'vfio/type1: implement interfaces to update vaddr',
    also: ['c19650995374 vfio/type1: implement unmap all'],
    effect: 'VFIO_UPDATE_VADDR and VFIO_UNMAP_ALL extensions: MAP_DMA takes FLAG_VADDR, UNMAP_DMA takes FLAG_ALL and FLAG_VADDR.',
    verified: '"[GIT PULL] VFIO updates for v5.12-rc1" (2021-02-24) lists Steve Sistare\'s series.',
  },
  {
    id: 'batched-pinning',
    component: 'vfio-type1',
    commit: '4d83de6da265',
    since: 'v5.12',
    title: 'vfio/type1: Batch page pinning',
    effect:
      'vfio_pin_pages_remote pins through a vfio_batch: one pin_user_pages_remote call for up to 512 pages instead of one call per page.',
    verified: 'Alex Williamson: "Applied to vfio next branch for v5.12" (2021-02-23); listed in the VFIO v5.12-rc1 pull.',
  },
  {
    id: 'always-cache',
    component: 'vfio-type1',
    commit: '71cfafda9c9b',
    since: 'v5.19',
    title: 'vfio: Move the Intel no-snoop control off of IOMMU_CACHE',
    also: ['e8ae0e140c05 vfio: Require that devices support DMA cache coherence'],
    effect: 'IOMMU_CACHE is added to every map; before, only when the IOMMU reported cache coherency.',
    verified: '"[git pull] IOMMU Updates for Linux v5.19" (2022-05-31) lists the series.',
  },
  {
    id: 'cap-align',
    component: 'vfio-type1',
    commit: 'a881b496941f',
    since: 'v6.6',
    title: 'vfio: align capability structures',
    effect: "each capability in GET_INFO's chain is padded to 8 bytes (DMA_AVAIL grows from 12 to 16 bytes).",
    verified:
      'the VFIO pull for v6.6 lists "Stefan Hajnoczi (2): vfio/type1: fix cap_migration information leak; vfio: align capability structures".',
  },
  {
    id: 'paging-domain-alloc',
    component: 'vfio-type1',
    commit: '60ffc4501722',
    since: 'v6.11',
    title: 'vfio/type1: Use iommu_paging_domain_alloc()',
    effect: "a failed domain allocation at attach returns the allocator's errno; before, -EIO.",
    verified: '"IOMMU updates for v6.11" pull (tag iommu-updates-v6.11) lists it (Lu Baolu).',
  },
  {
    id: 'remove-nesting',
    component: 'vfio-type1',
    commit: '35890f85573c',
    since: 'v6.13',
    title: 'vfio: Remove VFIO_TYPE1_NESTING_IOMMU',
    effect: 'CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) answers 0 and SET_IOMMU refuses it.',
    verified: 'likely: patch 1 of the SMMUv3 nesting series (v4, 2024-10-30) that went in for v6.13 (rev-list).',
  },
  {
    id: 'pfnmap-huge-step',
    component: 'vfio-type1',
    commit: '0fd06844de5d',
    since: 'v6.15',
    title: 'vfio/type1: Use mapping page mask for pfnmaps',
    effect:
      'a VM_PFNMAP range advances one whole mapping (4 KiB, 2 MiB or 1 GiB, as the BAR is mapped) per pfn lookup instead of one page.',
    verified:
      '"[GIT PULL] VFIO updates for v6.15-rc1" (2025-03-31): "Accelerate DMA mapping of device MMIO by iterating at PMD and PUD levels".',
  },
  {
    id: 'remove-fgsp',
    component: 'vfio-type1',
    commit: '07970d048cdd',
    since: 'v6.16',
    title: 'vfio/type1: Remove Fine Grained Superpages detection',
    effect: 'no fgsp probe at attach; the unmap loop always takes the physically contiguous run.',
    verified: 'listed under "Jason Gunthorpe (1)" in the VFIO pull for v6.16.',
  },
  {
    id: 'folio-batch-acct',
    component: 'vfio-type1',
    commit: 'f6c84a52cc41',
    since: 'v6.18',
    title: 'vfio/type1: optimize vfio_pin_pages_remote()',
    also: [
      '929bf010e059 mm: introduce num_pages_contiguous()',
      'd10872050ffe vfio/type1: batch vfio_find_vpfn() in function vfio_unpin_pages_remote()',
      '089722e8939e vfio/type1: introduce a new member has_rsvd for struct vfio_dma',
      'd14de5b92578 vfio/type1: optimize vfio_unpin_pages_remote()',
    ],
    effect:
      'pinning and unpinning step over a large folio at once (contiguity, accounting and unpin per folio run) instead of page by page.',
    verified: '"[GIT PULL] VFIO updates for v6.18-rc1 part 2" (2025-10-08) lists the five commits; merged as ed4d6e92463e.',
  },
  {
    id: 'gup-thp-fast',
    component: 'mm',
    commit: '57edfcfd3419',
    since: 'v6.6',
    title: 'mm/gup: accelerate thp gup even for "pages != NULL"',
    effect:
      'GUP fills every page of a PMD-mapped THP from one page-table walk, as it did for hugetlbfs; before, a caller passing a pages array (VFIO does) got one walk, PMD lock and reference per 4 KiB page of the THP.',
    verified:
      'Peter Xu\'s series "mm/gup: Unify hugetlb, speed up thp" is in the mm-stable-2023-08-28 pull for the 6.6 merge window; later fixes of it carry "Fixes: 57edfcfd3419" with "Cc: <stable@vger.kernel.org> [6.6+]".',
  },
  {
    id: 'overflow-rework',
    component: 'vfio-type1',
    commit: '6012379ede6a',
    since: 'v6.18',
    title: 'vfio/type1: sanitize for overflow using check_*_overflow()',
    also: [
      '1196f1f897d4 vfio/type1: move iova increment to unmap_unpin_*() caller',
      'ef270ec44637 vfio/type1: handle DMA map/unmap up to the addressable limit',
    ],
    effect:
      'MAP_DMA checks size, then overflow (EOVERFLOW), then the prot/VADDR rule, then alignment; UNMAP_DMA reports a wrapping range with EOVERFLOW; ranges may end at 2^64.',
    verified: 'merged between v6.18-rc3 and -rc4 via tag vfio-v6.18-rc4 (kernel.org rev-list of 2025-10-31).',
  },
]);
