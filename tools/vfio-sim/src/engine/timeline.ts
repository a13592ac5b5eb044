// The whole model's timeline, as the three packages publish it: the core's (and VT-d's), AMD's and
// VFIO's entries in one list, and what separates the releases a compare puts side by side.

import { CORE_TIMELINE, releaseIndex, sortTimeline, timelineDiff, type ReleaseName, type TimelineEntry } from '@x/iommu-core';
import { AMD_TIMELINE } from '@x/amd-iommu';
import { VFIO_TIMELINE } from '@x/vfio-type1';

/** Every entry the model knows, ordered by release. */
export const TIMELINE: readonly TimelineEntry[] = sortTimeline([...CORE_TIMELINE, ...AMD_TIMELINE, ...VFIO_TIMELINE]);

/** The entries that apply to a machine with this driver (the other driver's entries change nothing it runs). */
export function timelineFor(driver: 'amd' | 'reference' | null): TimelineEntry[] {
  if (driver === null) return [...TIMELINE];
  const other = driver === 'amd' ? 'intel-iommu' : 'amd-iommu';
  return TIMELINE.filter((e) => e.component !== other);
}

export interface ReleaseStep { readonly from: ReleaseName; readonly to: ReleaseName; readonly ids: readonly string[] }

/**
 * For cases of several releases: per pair of neighbouring releases (oldest first), the ids of the
 * entries that differ. Empty when the cases share one release.
 */
export function releaseSteps(profiles: readonly ReleaseName[], driver: 'amd' | 'reference' | null): ReleaseStep[] {
  const entries = timelineFor(driver);
  // one name per release ('mainline' and the newest release are the same kernel)
  const byRelease = new Map<number, ReleaseName>();
  for (const p of profiles) if (!byRelease.has(releaseIndex(p))) byRelease.set(releaseIndex(p), p);
  const names = [...byRelease.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
  const out: ReleaseStep[] = [];
  for (let i = 1; i < names.length; i++) {
    out.push({ from: names[i - 1]!, to: names[i]!, ids: timelineDiff(entries, names[i - 1]!, names[i]!).added.map((e) => e.id) });
  }
  return out;
}
