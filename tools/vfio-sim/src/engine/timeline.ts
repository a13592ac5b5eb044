// The whole model's timeline, as the three packages publish it: the core's (and VT-d's), AMD's and
// VFIO's entries in one list, and what separates the releases a compare puts side by side.

import { CORE_TIMELINE, parseProfile, releaseIndex, timelineFlags, type ProfileName, type TimelineEntry } from '@x/iommu-core';
import { sortTimeline } from '@x/iommu-core/internals';
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

export interface ReleaseStep {
  readonly from: ProfileName;
  readonly to: ProfileName;
  readonly ids: readonly string[];
}

/**
 * For cases of several profiles: per pair of neighbouring profiles (by release, oldest first; a
 * profile with entry switches after its plain release), the ids of the entries the second has and
 * the first has not, then '~id' for those it lacks. Profiles with the same entries count once
 * ('mainline' and the newest release are the same kernel); empty when all have the same.
 */
export function releaseSteps(profiles: readonly ProfileName[], driver: 'amd' | 'reference' | null): ReleaseStep[] {
  const entries = timelineFor(driver);
  const seen = new Map<string, { p: ProfileName; on: Set<string>; at: number; switched: number }>();
  for (const p of profiles) {
    const f = timelineFlags(entries as readonly (TimelineEntry & { id: string })[], p);
    const on = new Set(entries.filter((e) => f[e.id]).map((e) => e.id));
    const key = [...on].join(',');
    const parsed = parseProfile(p);
    const switched = parsed.on.length + parsed.off.length > 0 ? 1 : 0;
    if (!seen.has(key)) seen.set(key, { p, on, at: releaseIndex(parsed.release), switched });
  }
  // a stable sort: profiles of one release and kind keep the order given (the Map's insertion order)
  const list = [...seen.values()].sort((a, b) => a.at - b.at || a.switched - b.switched);
  const out: ReleaseStep[] = [];
  for (let k = 1; k < list.length; k++) {
    const a = list[k - 1]!,
      b = list[k]!;
    const ids = [
      ...entries.filter((e) => b.on.has(e.id) && !a.on.has(e.id)).map((e) => e.id),
      ...entries.filter((e) => a.on.has(e.id) && !b.on.has(e.id)).map((e) => `~${e.id}`),
    ];
    out.push({ from: a.p, to: b.p, ids });
  }
  return out;
}
