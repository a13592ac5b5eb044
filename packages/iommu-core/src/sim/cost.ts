// The cost table as data: modeled nanoseconds per named event, each default with its source.
// Numbers marked "assumption" are placeholders to calibrate; spec/iommu-core.md §7 lists what is verified.

export interface CostEntry { readonly ns: number; readonly source: string }

/** Core events. Drivers register their own (see Meter.register) with the same shape. */
export const CORE_COSTS = {
  mapCalls: { ns: 53, source: 'iommu_map 4K, AMDv1 iommupt: 53 ns per call (iommupt v5 cover letter, 2025; spec iommu-core §7.1)' },
  // iommu_unmap() calls, not VFIO's vfio_unmap_unpin() calls (the CLI's `vfio_unmap_unpin calls` row)
  unmapCalls: { ns: 69, source: 'iommu_unmap() calls: 69 ns each (4K, AMDv1 iommupt, flush excluded; iommupt v5 cover letter; spec §7.1)' },
  pteWrites: { ns: 1.4, source: '(386-53)/255 ns per extra 4K leaf in one iommupt AMDv1 map call (spec iommu-core §7.1)' },
  pteClears: { ns: 1.2, source: '(353-69)/255 ns per extra 4K leaf in one iommupt AMDv1 unmap call (spec §7.1)' },
  tableAllocs: { ns: 150, source: 'assumption: one zeroed 4 KiB page from the page allocator' },
  tableFrees: { ns: 60, source: 'assumption: freeing one page-table page' },
  iotlbSyncs: { ns: 0, source: 'count only: the driver charges the commands it issues for the sync' },
  iotlbRangeAdds: { ns: 5, source: 'assumption: an indirect call that records a range' },
  iotlbFlushes: { ns: 0, source: 'count only: driver flush operations; commands and waits are charged separately' },
  invalidations: { ns: 300, source: 'assumption (UNVERIFIED): submitting one IOTLB invalidation; FAST\'15/ATC\'15 report ~1-2 us with the wait' },
  completionWaits: { ns: 1200, source: 'assumption (UNVERIFIED): waiting for the invalidation to complete; spec iommu-core §7.2' },
  pins: { ns: 150, source: 'assumption (UNVERIFIED): get_user_pages per 4K page, placeholder 0.1-0.3 us (spec §7.2)' },
  unpins: { ns: 40, source: 'assumption: put_page per 4K page' },
  iovaToPhys: { ns: 20, source: 'assumption: one page-table walk by the CPU' },
  iotlbHits: { ns: 2, source: 'assumption: IOTLB lookup hit' },
  iotlbMisses: { ns: 0, source: 'count only: the walk is charged per level read' },
  walkLevels: { ns: 90, source: 'assumption: one DRAM read of a PTE by the IOMMU walker' },
  dmaPages: { ns: 0, source: 'count only: pages a device touched' },
  faults: { ns: 0, source: 'count only: IO page faults' },
  // populate-on-pin (an mmap without MAP_POPULATE): get_user_pages faults each page in and clears it;
  // clearing took 78.6% of QEMU's pin time in Daniel Jordan's 2021 measurement
  pageFaults: { ns: 250, source: 'assumption: calibrated by the calibration issue; one get_user_pages fault (4 KiB, 2 MiB or 1 GiB page)' },
  pageZeroes: { ns: 400, source: 'assumption: calibrated by the calibration issue; clearing one 4 KiB page (clear_page, clear_huge_page)' },
} as const satisfies Record<string, CostEntry>;

export type CoreEvent = keyof typeof CORE_COSTS;
