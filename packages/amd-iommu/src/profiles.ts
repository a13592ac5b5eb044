// Models the AMD IOMMU driver's behaviour per kernel release as data (spec amd-iommu §3, §4, §9.5):
// every quirk is derived from the AMD timeline and the core's (which API shape the driver
// implements), so a release is exactly the set of commits it contains. Each quirk can still be
// toggled on its own (createAmdIommu's `quirks`).

import {
  CORE_TIMELINE,
  ERRNO,
  KEY_RELEASES,
  namedReleases,
  parseProfile,
  timelineFlags,
  type ProfileName,
  type Release,
} from '@x/iommu-core';
import type { PtPolicy } from '@x/iommu-core/internals';
import { AMD_TIMELINE } from './timeline.js';

/** A kernel release ('v4.17', ...) or 'mainline' (the newest modelled release), optionally with '+id' / '~id' entry switches. */
export type AmdProfileName = ProfileName;

export interface AmdQuirks {
  /** Before v4.17: every ->unmap ends with a whole-domain PDE flush + COMPLETION_WAIT; no iotlb ops. */
  flushOnUnmap: boolean;
  /** v4.17 .. v5.14: iotlb_range_add is empty and iotlb_sync = flush_iotlb_all (whole domain, PDE=1, wait). */
  syncFlushesAll: boolean;
  /** Before v5.13, build_inv_iommu_pages: any range of more than one page is sent as the whole domain. */
  invPageOrAll: boolean;
  /**
   * Before v5.0, iommu_map_page: map refuses any present target entry (EBUSY), even a pointer to an
   * emptied 4 KiB table, and a leaf above the target level fails the walk (ENOMEM).
   */
  ebusyOnPresent: boolean;
  /** Before iommupt: unmap steps over holes counting their size; unmap inside a large leaf removes it whole. */
  unmapCountsHoles: boolean;
  /** Before iommupt: tables are never freed on unmap (only when the domain is freed). */
  keepTables: boolean;
  /** Before v5.7: update_domain after growth = DTE flushes + whole-domain PDE invalidation, no wait (else DTE flushes + wait). */
  growFlush2018: boolean;
  /** From v5.0: detach flushes the domain (PDE=1) before its wait; before, detach only invalidated the DTE and waited. */
  detachFlush: boolean;
  /** Before cmd_sem_val: COMPLETION_WAIT stores 1 every time instead of an increasing sequence number. */
  semaphoreOne: boolean;
  /** Before map_pages: the core calls ->map / ->unmap once per page (else once per run of same-size pages). */
  singlePageOps: boolean;
  /** iommupt page tables: EADDRINUSE on an existing leaf, one walk per call, page sizes below 2^52 only. */
  iommupt: boolean;
}

export interface AmdProfile {
  /** The name it was asked by ('mainline' stays 'mainline'). */
  readonly name: AmdProfileName;
  /** The release it stands for. */
  readonly release: Release;
  /** Which core API shape the driver implements: 2018 range_add + sync(domain), or the gather. */
  readonly apiEra: '2018' | 'gather';
  readonly quirks: Readonly<AmdQuirks>;
}

const cache = new Map<string, AmdProfile>();

/**
 * The AMD driver profile of a release: any 'vX.Y' from v3.19 to the newest modelled release, or
 * 'mainline'. RangeError naming the valid range for anything else.
 */
export function amdProfile(name: string): AmdProfile {
  let p = cache.get(name);
  if (p !== undefined) return p;
  const release = parseProfile(name).release;
  const a = timelineFlags(AMD_TIMELINE, name),
    c = timelineFlags(CORE_TIMELINE, name);
  const quirks: AmdQuirks = {
    flushOnUnmap: !a['amd-fast-flush'],
    syncFlushesAll: !a['amd-sync-range'],
    invPageOrAll: !a['amd-inv-address'],
    ebusyOnPresent: !a['amd-upgrade-pgsize'],
    unmapCountsHoles: !a['amd-iommupt'],
    keepTables: !a['amd-iommupt'],
    growFlush2018: !a['amd-grow-dte-flush'],
    detachFlush: a['amd-detach-flush'],
    semaphoreOne: !a['amd-cmd-sem-seq'],
    singlePageOps: !a['amd-map-pages'],
    iommupt: a['amd-iommupt'],
  };
  p = Object.freeze({
    name: name as AmdProfileName,
    release,
    apiEra: c['iotlb-gather'] ? 'gather' : '2018',
    quirks: Object.freeze(quirks),
  });
  cache.set(name, p);
  return p;
}

/** The releases the AMD profile table lists: the key releases and both sides of every entry. */
export const AMD_PROFILE_NAMES: readonly AmdProfileName[] = Object.freeze(namedReleases([...CORE_TIMELINE, ...AMD_TIMELINE], KEY_RELEASES));

/** Profiles of the named releases (any other release works through amdProfile / createAmdIommu). */
export const AMD_PROFILES: Readonly<Record<string, AmdProfile>> = Object.freeze(
  Object.fromEntries(AMD_PROFILE_NAMES.map((n) => [n, amdProfile(n)])),
);

/** The page-table engine policy a set of quirks implies. */
export function ptPolicyOf(q: Readonly<AmdQuirks>): PtPolicy {
  // 5.0 .. iommupt (io_pgtable) silently replaced a present leaf; the model refuses it (EBUSY), which
  // no VFIO call can reach: VFIO answers EEXIST before it maps over a live mapping
  const present = q.ebusyOnPresent || !q.iommupt ? -ERRNO.EBUSY : -ERRNO.EADDRINUSE;
  return {
    overmap: present,
    leafAbove: q.ebusyOnPresent ? -ERRNO.ENOMEM : present,
    replaceEmptyTables: !q.ebusyOnPresent,
    holes: q.unmapCountsHoles ? 'count' : 'stop',
    startInLeaf: q.unmapCountsHoles ? 'whole' : 'zero',
    freeTables: !q.keepTables,
  };
}
