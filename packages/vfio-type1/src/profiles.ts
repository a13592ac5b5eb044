// Models what each kernel era's vfio_iommu_type1.c had, as data: unmap path, checks and their
// errno, capabilities (spec vfio-type1 §13 errno-by-era matrix, §0 era labels).

/** Kernel eras this package models. */
export type Profile = 'v4.15' | 'v4.16' | 'mainline';
/** vfio_unmap_unpin flavour: per-chunk iommu_unmap, the 2018 region list, or mainline's gather. */
export type UnmapPath = 'slow' | 'fast' | 'mainline';
/** map_try_harder() unwind: what Linux merged, the RFC v2 under review, or the reviewer's suggestion. */
export type TryHarder = 'landed' | 'rfc-v2' | 'suggested';

export interface ProfileSpec {
  readonly name: Profile;
  readonly unmapPath: UnmapPath;
  /** map_try_harder() on -EBUSY (E-4.12 .. 4.19y); null when the era has no such fallback. */
  readonly tryHarder: TryHarder | null;
  /** Known MAP_DMA flags. */
  readonly mapFlags: number;
  /** Known UNMAP_DMA flags (0: any flag is EINVAL). */
  readonly unmapFlags: number;
  /** errno of an iova/vaddr wrap on MAP (and UNMAP, mainline): EINVAL before 6.18, EOVERFLOW after. */
  readonly wrapErrno: 'EINVAL' | 'EOVERFLOW';
  /** 4.15-4.20 UNMAP wrap test `iova + size < iova` in u64: also rejects a range ending exactly at 2^64. */
  readonly unmapWrapOffByOne: boolean;
  /** dma_entry_limit / dma_avail (5.1+): ENOSPC. */
  readonly dmaEntryLimit: boolean;
  /** iova_list from aperture and reserved regions, EINVAL outside it; IOVA_RANGE cap (5.4+). */
  readonly iovaList: boolean;
  /** GET_INFO capability chain: none (pre-5.4) or MIGRATION + DMA_AVAIL + IOVA_RANGE, 8-byte aligned (6.6+). */
  readonly infoCaps: boolean;
  /** Replay into a new domain unwinds what it mapped on failure (4.19y+). */
  readonly replayUnwind: boolean;
  /** NESTING (6) extension answered 1 and accepted as v2 (4.x). */
  readonly nesting: boolean;
  /** IOMMU_CACHE added to every map (mainline) vs only when the IOMMU reports coherency (4.x domain->prot). */
  readonly alwaysCache: boolean;
  /** UNMAP_ALL (9) and UPDATE_VADDR (10) extensions. */
  readonly unmapAllExt: boolean;
  /**
   * vfio_test_domain_fgsp() probes each new domain for fine-grained superpages, and the unmap loop
   * then takes one page per chunk (2014 .. its removal, merge release UNVERIFIED, ~6.16).
   */
  readonly fgspProbe: boolean;
}

const V4_15: ProfileSpec = {
  name: 'v4.15', unmapPath: 'slow', tryHarder: 'landed', mapFlags: 0b11, unmapFlags: 0, wrapErrno: 'EINVAL',
  unmapWrapOffByOne: true, dmaEntryLimit: false, iovaList: false, infoCaps: false, replayUnwind: false,
  nesting: true, alwaysCache: false, unmapAllExt: false, fgspProbe: true,
};

/** Profiles by name. v4.16 = v4.15 checks + the fast unmap path (the 2018 series). */
export const PROFILES: Readonly<Record<Profile, ProfileSpec>> = {
  'v4.15': V4_15,
  'v4.16': { ...V4_15, name: 'v4.16', unmapPath: 'fast' },
  mainline: {
    name: 'mainline', unmapPath: 'mainline', tryHarder: null, mapFlags: 0b111, unmapFlags: 0b111, wrapErrno: 'EOVERFLOW',
    unmapWrapOffByOne: false, dmaEntryLimit: true, iovaList: true, infoCaps: true, replayUnwind: true,
    nesting: false, alwaysCache: true, unmapAllExt: true, fgspProbe: false,
  },
};

/** The profile names, oldest first, typed as Profile (Object.keys(PROFILES) would be string[]). */
export const PROFILE_NAMES: readonly Profile[] = ['v4.15', 'v4.16', 'mainline'];

/** The spec of a profile by name; RangeError for an unknown name. */
export function profileSpec(p: string): ProfileSpec {
  const s = (PROFILES as Record<string, ProfileSpec>)[p];
  if (s === undefined) throw new RangeError(`unknown profile '${p}' (one of ${PROFILE_NAMES.join(', ')})`);
  return s;
}
