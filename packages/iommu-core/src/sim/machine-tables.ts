// The machines' cost tables as data. Each number says which published figure determines it; the
// fits are shown, figure by figure, by `vfio-sim validate` (docs/validation.md). Events not listed
// for the default keep the registering package's entry (count-only events).

import type { MachineProfile } from './machine-profile.js';
import { deepFreeze } from '../freeze.js';

const LZ = 'Li Zhe, "vfio/type1: optimize vfio_pin_pages_remote() and vfio_unpin_pages_remote()" v5 cover letter (16 GiB, 6.16 vs 6.18)';
const PT = 'iommupt v5 cover letter ("Consolidate iommu page table implementations (AMD)"), AMDv1 on an i7-12700, ns per call';
const DJ = 'Daniel Jordan, 4d83de6da265 (64 GB guest pinned by QEMU on a two-node Broadwell, 17.47 s on 5.11)';
const AW15 = '6fe1010d6d9c (synthetic 1 TB guest, map + shutdown)';

/** The default machine first; every other one names its base. */
export const MACHINE_TABLES: readonly MachineProfile[] = deepFreeze([
  {
    name: 'lizhe-2025',
    host: "the host of Li Zhe's 2025 VFIO map/unmap runs (ByteDance; the CPU is not named in the mails)",
    measured: `${LZ}: MAP and UNMAP of 16 GiB, THP, 4 KiB (MAP_POPULATE) and hugetlbfs, on 6.16 and 6.18`,
    base: null,
    cpuScale: 1,
    scaleSource: '',
    costs: {
      // ---- pinning (vfio_pin_pages_remote and GUP) ----------------------------------------------------
      'vfio.gupPages': {
        ns: 6.2,
        source: `fit: ${LZ}, 6.18 MAP of THP (25 ms) and hugetlbfs (30 ms): what is left per page once the accounting loop steps per run`,
      },
      'vfio.pinSteps': {
        ns: 5.4,
        source: `fit: ${LZ}, the 6.16 -> 6.18 MAP gain of THP (24 ms), hugetlbfs (21 ms) and 4 KiB (19 ms) over 4M pages: one accounting step per page before f6c84a52cc41`,
      },
      'vfio.gupWalks': {
        ns: 44.7,
        source: `fit: ${LZ}, 4 KiB MAP (268 / 249 ms): GUP walks the page table and takes a reference for every 4 KiB folio`,
      },
      'vfio.gupCalls': { ns: 34.7, source: `${DJ}: 85 ns per call saved by batching (8.2%), divided by broadwell-2021's cpuScale 2.45` },
      'vfio.lockAcct': {
        ns: 100,
        source: 'assumption: mmap_lock and mm->locked_vm per vfio_lock_acct call (one per pinned run; no figure isolates it)',
      },
      'vfio.ioctls': {
        ns: 300,
        source: 'assumption: ioctl entry and exit, copy of the argument struct, the container mutex (one per call; no figure isolates it)',
      },
      'vfio.pfnLookups': {
        ns: 119,
        source: '0fd06844de5d (Alex Williamson, 2025): a 32 GB BAR took ~1 s to map before it: 8M lookups (williamson-2025)',
      },
      // ---- unpinning and the unmap loop ------------------------------------------------------------
      iovaToPhys: {
        ns: 10.4,
        source: `fit: ${LZ}, 6.18 UNMAP of THP and hugetlbfs (44 ms each): the unmap loop's iova_to_phys per page is what remains`,
      },
      'vfio.unpinSteps': {
        ns: 21,
        source: `fit: ${LZ}, 6.16 UNMAP of THP (141 ms) and hugetlbfs (135 ms): put_pfn per page before d14de5b92578, one step per folio after`,
      },
      'vfio.unpinFolios': {
        ns: 33.6,
        source: `fit: ${LZ}, 4 KiB UNMAP (307 / 289 ms): releasing the pins of a folio whose struct page is not in the cache`,
      },
      'vfio.regionAllocs': {
        ns: 50,
        source: 'assumption: kzalloc of a 40-byte struct vfio_regions (one per unmapped chunk; no figure isolates it)',
      },
      // ---- faulting in memory the process never touched ---------------------------------------------
      pageZeroes: {
        ns: 333.9,
        source: `${DJ}: clear_page took 78.6% of it, 818 ns per 4 KiB page, divided by broadwell-2021's cpuScale 2.45`,
      },
      pageFaults: {
        ns: 85.7,
        source: `fit: ${AW15}, "about a 30% overall improvement mapping standard 4K pages" (vtd-2015: 210 ns per fault), divided by the 2.45 vtd-2015 inherits from broadwell-2021`,
      },
      // ---- page tables ----------------------------------------------------------------------------
      mapCalls: {
        ns: 55,
        source: `iommu_map() calls (one per ->map or ->map_pages call): ${PT}: map 4K 53 / 256x4K 386 (iommupt) and 66 / 1909 (old AMD): the per-call part shared by both`,
      },
      unmapCalls: {
        ns: 65,
        source: `iommu_unmap() calls (one per ->unmap or ->unmap_pages call; not VFIO's vfio_unmap_unpin calls): ${PT}: unmap 4K 69 / 256x4K 353 (iommupt) and 88 / 6498 (old AMD), flush excluded`,
      },
      pteWrites: { ns: 1.31, source: `${PT}: (386 - 53) / 255 ns per extra 4 KiB PTE in one iommupt map call` },
      pteClears: { ns: 1.11, source: `${PT}: (353 - 69) / 255 ns per extra 4 KiB PTE in one iommupt unmap call` },
      'amd.pt.mapWalks': {
        ns: 5.92,
        source: `${PT}: (1909 - 66) / 255 - 1.31: the old AMD map_pages walked the table from the top again for every PTE`,
      },
      'amd.pt.unmapWalks': {
        ns: 24.03,
        source: `${PT}: (6498 - 88) / 255 - 1.11: the old AMD unmap_pages looked every PTE up from the top`,
      },
      tableAllocs: { ns: 150, source: 'assumption: one zeroed 4 KiB page from the page allocator (rare: a few per GiB)' },
      tableFrees: { ns: 60, source: 'assumption: freeing one page-table page' },
      iotlbRangeAdds: { ns: 5, source: 'assumption: an indirect call that records a range' },
      // ---- the IOMMU (hardware latencies: not scaled by a machine's cpuScale) ----------------------------
      invalidations: {
        ns: 300,
        source: 'assumption for the split: submitting and executing one invalidation; the pair with completionWaits is fitted',
      },
      completionWaits: {
        ns: 250,
        source: `fit: ${AW15}, "about a 40% improvement mapping 2M hugetlbfs pages when IOMMU superpages are not available" (vtd-2015): the flush (invalidation + wait) of each 4 KiB ->unmap before chunking costs 550 ns`,
      },
      'amd.cmd.submit': { ns: 100, source: 'assumption: 16 bytes into the command ring and one uncached MMIO write of the tail register' },
      'amd.cmd.INVALIDATE_DEVTAB_ENTRY': { ns: 300, source: 'assumption: as one invalidation' },
      'amd.dte.fetch': { ns: 90, source: 'assumption: one DRAM read of a 32-byte DTE, as walkLevels' },
      walkLevels: {
        ns: 90,
        source: 'assumption: one DRAM read of a PTE by the IOMMU walker (device side; no published figure of this path)',
      },
      iotlbHits: { ns: 2, source: 'assumption: an IOTLB lookup that hits (device side)' },
    },
  },
  {
    name: 'broadwell-2021',
    host: "Daniel Jordan's two-node Broadwell server, 128 GB per node (Oracle, 2021)",
    measured: `${DJ}; 5.12 with batched pinning: 16.04 s; clear_page_erms 78.6% of the profile`,
    base: 'lizhe-2025',
    cpuScale: 2.45,
    scaleSource: `fit: ${DJ}: with clearing and the GUP calls set, the rest of the 17.47 s per page`,
    costs: {
      pageZeroes: { ns: 818, source: `${DJ}: clear_page_erms took 78.6% of 17.47 s over 16,777,216 pages` },
      'vfio.gupCalls': {
        ns: 85,
        source: `${DJ}: 5.12 is 1.43 s faster with one pin_user_pages_remote call per 512 pages instead of one per page`,
      },
    },
  },
  {
    name: 'vtd-2015',
    host: "Alex Williamson's Intel VT-d test host of 2015 (2M IOMMU superpages; CPU not named)",
    measured: `${AW15} on VT-d: 4K pages ~30% faster, 2M hugetlbfs without IOMMU superpages ~40% faster, with superpages unchanged`,
    base: 'broadwell-2021',
    cpuScale: 1,
    scaleSource: 'assumption: a server CPU of the same generation as broadwell-2021',
    costs: {
      pageFaults: {
        ns: 210,
        source: `fit: ${AW15}, "about a 30% overall improvement mapping standard 4K pages": one fault per 4 KiB page of the never-touched guest (clearing it is pageZeroes)`,
      },
    },
  },
  {
    name: 'amdvi-2015',
    host: "Alex Williamson's AMD-Vi test host of 2015 (CPU not named)",
    measured: `${AW15} on AMD-Vi: chunked unmap "costing about 25% extra"`,
    base: 'broadwell-2021',
    cpuScale: 1,
    scaleSource: 'assumption: a server CPU of the same generation as broadwell-2021',
    costs: {
      iovaToPhys: {
        ns: 14.4,
        source: `fit: ${AW15}, AMD-Vi "costing about 25% extra": the iova_to_phys per page that chunking adds to a hugetlbfs shutdown, against put_pfn per page (broadwell-2021's)`,
      },
    },
  },
  {
    name: 'xeon-e5-2018',
    host: "Jason Cai's Xeon E5 2.6 GHz host (Alibaba, 2018)",
    measured: '356e88ebe447 (reverted before v4.17): mapping a 16 GB BAR took about 0.4 s',
    base: 'broadwell-2021',
    cpuScale: 1,
    scaleSource: 'assumption: a server CPU of the same generation as broadwell-2021',
    costs: {
      'vfio.pfnLookups': {
        ns: 95,
        source:
          '356e88ebe447: 0.4 s for 4M per-page lookups of a 16 GB BAR (then: GUP-fast fails, mmap_sem, find_vma, vm_pgoff arithmetic)',
      },
    },
  },
  {
    name: 'williamson-2025',
    host: "Alex Williamson's 2025 test host for huge pfnmaps",
    measured: '0fd06844de5d: DMA mapping a 32 GB BAR ~1 s before, under 1 ms after',
    base: 'lizhe-2025',
    cpuScale: 1,
    scaleSource: "assumption: a 2025 server like lizhe-2025 (the default carries this host's vfio.pfnLookups)",
    costs: {},
  },
  {
    name: 'i7-12700',
    host: "Jason Gunthorpe's i7-12700 (the iommupt kunit benchmark, 2025)",
    measured: `${PT}`,
    base: 'lizhe-2025',
    cpuScale: 1,
    scaleSource: "the default carries this host's page-table costs",
    costs: {},
  },
]);
