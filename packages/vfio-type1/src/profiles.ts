// Models what each kernel release's vfio_iommu_type1.c had, as data derived from the timeline
// (timeline.ts and the core's): unmap path, checks and their errno, capabilities, pinning (spec
// vfio-type1 §13 errno-by-era matrix, §0 era labels). Nothing here is set per release by hand.

import { CORE_TIMELINE, KEY_RELEASES, namedReleases, parseProfile, timelineFlags, type ProfileName, type Release } from '@x/iommu-core';
import { VFIO_TIMELINE, type VfioEntryId } from './timeline.js';
import {
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
} from './uapi.js';

/**
 * A kernel release ('v4.17', any 'vX.Y' from v3.19 to the newest modelled one) or 'mainline',
 * optionally with timeline entries switched on ('+id') or off ('~id'): 'v4.0+remove-fgsp'.
 */
export type Profile = ProfileName;
/** vfio_unmap_unpin flavour: per-chunk iommu_unmap, the 2018 region list, or the gather (v5.4+). */
export type UnmapPath = 'slow' | 'fast' | 'mainline';
/** map_try_harder() unwind: what Linux merged, the RFC v2 under review, or the reviewer's suggestion. */
export type TryHarder = 'landed' | 'rfc-v2' | 'suggested';
/** How pinning walks a VM_PFNMAP range (a device BAR): one pfn lookup per page, or one per mapping (4K/2M/1G, v6.15+). */
export type PfnmapStep = 'page' | 'mapping';

export interface ProfileSpec {
  /** The name it was asked by ('mainline' stays 'mainline'). */
  readonly name: Profile;
  /** The release it stands for. */
  readonly release: Release;
  /** Timeline entries in effect (vfio-type1's and the core's), by id. */
  readonly entries: readonly string[];
  /** 6fe1010d6d9c (v4.0): unmap by physically contiguous chunks; before, one page per iommu_unmap. */
  readonly unmapChunking: boolean;
  readonly unmapPath: UnmapPath;
  /** map_try_harder() on -EBUSY (until v5.0); null when the release has no such fallback. */
  readonly tryHarder: TryHarder | null;
  /** Known MAP_DMA flags. */
  readonly mapFlags: number;
  /** Known UNMAP_DMA flags (0: any flag is EINVAL). */
  readonly unmapFlags: number;
  /** errno of an iova/vaddr wrap on MAP (and UNMAP): EINVAL before 6.18, EOVERFLOW after. */
  readonly wrapErrno: 'EINVAL' | 'EOVERFLOW';
  /** 6.18 order of the MAP_DMA checks (size, overflow, prot/VADDR, alignment) and u64-end-inclusive ranges. */
  readonly overflowRework: boolean;
  /** UNMAP_DMA tests for a wrapping range (v4.15+); before, a wrapping unmap finds nothing and returns 0. */
  readonly unmapWrapCheck: boolean;
  /** v4.15-v4.20 UNMAP wrap test `iova + size < iova` in u64: also rejects a range ending exactly at 2^64. */
  readonly unmapWrapOffByOne: boolean;
  /** dma_entry_limit / dma_avail (5.1+): ENOSPC. */
  readonly dmaEntryLimit: boolean;
  /** iova_list from aperture and reserved regions, EINVAL outside it; GET_INFO capability chain with IOVA_RANGE (5.4+). */
  readonly iovaList: boolean;
  /** GET_INFO has a capability chain (5.4+). */
  readonly infoCaps: boolean;
  /** MIGRATION capability (5.8+). */
  readonly capMigration: boolean;
  /** DMA_AVAIL capability (5.10+). */
  readonly capDmaAvail: boolean;
  /** Capabilities padded to 8 bytes (6.6+). */
  readonly capAlign: boolean;
  /** Replay into a new domain unwinds what it mapped on failure. */
  readonly replayUnwind: boolean;
  /** NESTING (6) extension answered 1 and accepted as v2 (until its removal). */
  readonly nesting: boolean;
  /** IOMMU_CACHE added to every map vs only when the IOMMU reports coherency (domain->prot). */
  readonly alwaysCache: boolean;
  /** UNMAP_ALL (9) and UPDATE_VADDR (10) extensions. */
  readonly unmapAllExt: boolean;
  /** vfio_test_domain_fgsp() probes each new domain; with fgsp the unmap loop takes one page per chunk (v4.0 until its removal). */
  readonly fgspProbe: boolean;
  /** vfio_batch: one pin_user_pages_remote call per 512 pages (5.12+); before, one get_user_pages call per page. */
  readonly batchedPinning: boolean;
  /** Pin and unpin step over a large folio at once (6.18+). */
  readonly folioAcct: boolean;
  /** mm: GUP walks a PMD-mapped THP once per folio (6.6+); before, once per 4 KiB page when given a pages array. */
  readonly gupThpFast: boolean;
  readonly pfnmapStep: PfnmapStep;
  /** A failed domain allocation at attach returns its own errno (6.11+); before, -EIO. */
  readonly pagingDomainAlloc: boolean;
}

// A memo, not state: each value is frozen and a function of its key alone, so what a caller sees does
// not depend on who asked first (containers of one profile share one spec object).
const cache = new Map<string, ProfileSpec>();

/**
 * The spec of a profile: any 'vX.Y' from v3.19 to the newest modelled release, or 'mainline', with
 * optional '+id' / '~id' entry switches. RangeError naming the valid range for anything else.
 */
export function profileSpec(p: string): ProfileSpec {
  let s = cache.get(p);
  if (s !== undefined) return s;
  const release = parseProfile(p).release;
  const f: Readonly<Record<VfioEntryId, boolean>> = timelineFlags(VFIO_TIMELINE, p);
  const c = timelineFlags(CORE_TIMELINE, p);
  const entries = [...CORE_TIMELINE, ...VFIO_TIMELINE].filter((e) => (e.id in f ? f[e.id as VfioEntryId] : c[e.id as keyof typeof c]));
  s = Object.freeze({
    name: p as Profile,
    release,
    entries: Object.freeze(entries.map((e) => e.id)),
    unmapChunking: f['dma-unmap-chunking'],
    unmapPath: c['iotlb-gather'] ? 'mainline' : f['fast-unmap'] ? 'fast' : 'slow',
    tryHarder: f['remove-map-try-harder'] ? null : 'landed',
    mapFlags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | (f['unmap-all-vaddr'] ? VFIO_DMA_MAP_FLAG_VADDR : 0),
    unmapFlags:
      (f['dirty-tracking'] ? VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP : 0) |
      (f['unmap-all-vaddr'] ? VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR : 0),
    wrapErrno: f['overflow-rework'] ? 'EOVERFLOW' : 'EINVAL',
    overflowRework: f['overflow-rework'],
    unmapWrapCheck: f['unmap-wrap-check'],
    unmapWrapOffByOne: f['unmap-wrap-check'] && !f['unmap-wrap-fix'],
    dmaEntryLimit: f['dma-entry-limit'],
    iovaList: f['iova-list'],
    infoCaps: f['iova-list'],
    capMigration: f['dirty-tracking'],
    capDmaAvail: f['dma-avail-cap'],
    capAlign: f['cap-align'],
    replayUnwind: f['replay-unwind'],
    nesting: !f['remove-nesting'],
    alwaysCache: f['always-cache'],
    unmapAllExt: f['unmap-all-vaddr'],
    fgspProbe: f['dma-unmap-chunking'] && !f['remove-fgsp'],
    batchedPinning: f['batched-pinning'],
    folioAcct: f['folio-batch-acct'],
    gupThpFast: f['gup-thp-fast'],
    pfnmapStep: f['pfnmap-huge-step'] ? 'mapping' : 'page',
    pagingDomainAlloc: f['paging-domain-alloc'],
  } satisfies ProfileSpec);
  cache.set(p, s);
  return s;
}

/**
 * The named profiles, oldest first: the key releases of the published experiments and both sides
 * of every timeline entry, then 'mainline'. Any other release in range works too.
 */
export const PROFILE_NAMES: readonly Profile[] = Object.freeze(namedReleases([...CORE_TIMELINE, ...VFIO_TIMELINE], KEY_RELEASES));

/** Profiles of the named releases. */
export const PROFILES: Readonly<Record<string, ProfileSpec>> = Object.freeze(
  Object.fromEntries(PROFILE_NAMES.map((n) => [n, profileSpec(n)])),
);
