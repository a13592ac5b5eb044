// Models the history of the path as data: each behaviour the model knows is an entry naming the
// commit that brought it and the first release that shipped it. A release's profile is the set of
// entries at or before it; every era flag in the packages is derived from that set, never set by hand.

import { RELEASES, parseRelease, previousRelease, releaseIndex, type Release, type ReleaseName } from './release.js';
import { parseProfile } from './profile.js';

/**
 * Where a behaviour lives in the kernel. The package that models it: iommu-core for the core and
 * intel-iommu, amd-iommu, vfio-type1 for vfio-type1 and for the mm code VFIO pins through ('mm').
 */
export type TimelineComponent = 'iommu-core' | 'intel-iommu' | 'amd-iommu' | 'vfio-type1' | 'mm';

export interface TimelineEntry {
  /** Short, stable name: 'fast-unmap', 'batched-pinning'. */
  readonly id: string;
  readonly component: TimelineComponent;
  /** The commit that brought the behaviour (12 hex digits). */
  readonly commit: string;
  /** That commit's subject line. */
  readonly title: string;
  /** The first release tag that contains the commit. */
  readonly since: Release;
  /** What the entry changes in the model, in one or two sentences. */
  readonly effect: string;
  /** How `since` was checked (pull request, shortlog, Fixes: tag, ...). */
  readonly verified: string;
  /** Other commits of the same change, as 'id subject'. */
  readonly also?: readonly string[];
}

/** The entries in effect at `release` (since <= release), in timeline order. RangeError for a bad name. */
export function entriesAt(entries: readonly TimelineEntry[], release: ReleaseName): TimelineEntry[] {
  const at = releaseIndex(parseRelease(release));
  return entries.filter((e) => releaseIndex(e.since) <= at);
}

/**
 * The answer to "does profile P have entry `id`" for every id of a timeline, as one object, so a
 * profile is computed once and read as plain booleans. P is a release, or a release with entries
 * switched on ('+id') or off ('~id'); switches of other timelines' entries are left to those.
 * RangeError for a bad profile name.
 */
export function timelineFlags<Id extends string>(
  entries: readonly (TimelineEntry & { readonly id: Id })[],
  profile: string,
): Readonly<Record<Id, boolean>> {
  const p = parseProfile(profile);
  const at = releaseIndex(p.release);
  const out = {} as Record<Id, boolean>;
  for (const e of entries) out[e.id] = p.on.includes(e.id) || (!p.off.includes(e.id) && releaseIndex(e.since) <= at);
  return out;
}

/** The entries that differ between two releases: those with `since` in (older, newer]. */
export interface TimelineDiff {
  readonly from: Release;
  readonly to: Release;
  /** In `to` but not in `from` (from is older), oldest first. */
  readonly added: readonly TimelineEntry[];
  /** In `from` but not in `to` (from is newer), newest first. */
  readonly removed: readonly TimelineEntry[];
}

/** What changes going from release `a` to release `b` (either order). RangeError for a bad name. */
export function timelineDiff(entries: readonly TimelineEntry[], a: ReleaseName, b: ReleaseName): TimelineDiff {
  const from = parseRelease(a),
    to = parseRelease(b);
  const ia = releaseIndex(from),
    ib = releaseIndex(to);
  const lo = Math.min(ia, ib),
    hi = Math.max(ia, ib);
  const between = sortTimeline(
    entries.filter((e) => {
      const i = releaseIndex(e.since);
      return i > lo && i <= hi;
    }),
  );
  return { from, to, added: ib >= ia ? between : [], removed: ib < ia ? between.reverse() : [] };
}

/** Entries ordered by release, then by component and id (a stable order for tables). */
export function sortTimeline<E extends TimelineEntry>(entries: readonly E[]): E[] {
  return [...entries].sort(
    (x, y) =>
      releaseIndex(x.since) - releaseIndex(y.since) ||
      (x.component < y.component ? -1 : x.component > y.component ? 1 : 0) ||
      (x.id < y.id ? -1 : x.id > y.id ? 1 : 0),
  );
}

/**
 * Checks a timeline's data: unique ids, 12-hex commits, known releases. Throws Error naming the
 * first bad entry (a packaging bug, caught by each package's tests).
 */
export function checkTimeline(entries: readonly TimelineEntry[]): void {
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.id)) throw new Error(`timeline: duplicate id '${e.id}'`);
    seen.add(e.id);
    if (!/^[0-9a-f]{12}$/.test(e.commit) || /^0+$/.test(e.commit))
      throw new Error(`timeline: '${e.id}' commit '${e.commit}' is not a 12-hex-digit commit id`);
    if (e.verified.trim().length < 12 || e.verified.startsWith('PENDING'))
      throw new Error(`timeline: '${e.id}' does not say how its release was verified`);
    if (releaseIndex(e.since) < 0 || e.since === ('mainline' as string))
      throw new Error(`timeline: '${e.id}' since '${e.since}' is not a release`);
  }
}

/** Markers around the generated timeline table in a spec document. */
export const TIMELINE_BEGIN = '<!-- timeline:begin -->',
  TIMELINE_END = '<!-- timeline:end -->';

/**
 * A spec document with the part between its timeline markers replaced by the table of `entries`.
 * Equal to `md` when the table is current. Error when the markers are missing or out of order.
 */
export function withTimelineTable(md: string, entries: readonly TimelineEntry[]): string {
  const a = md.indexOf(TIMELINE_BEGIN),
    b = md.indexOf(TIMELINE_END);
  if (a < 0 || b < a) throw new Error(`no ${TIMELINE_BEGIN} ... ${TIMELINE_END} markers`);
  return `${md.slice(0, a + TIMELINE_BEGIN.length)}\n${timelineMarkdown(entries)}\n${md.slice(b)}`;
}

/** The spec table of a timeline (Markdown), generated from the data the code uses. */
export function timelineMarkdown(entries: readonly TimelineEntry[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const rows = sortTimeline(entries).map(
    (e) =>
      `| \`${e.id}\` | ${e.since} | \`${e.commit}\` ${esc(e.title)}${e.also === undefined ? '' : e.also.map((a) => `; \`${a.slice(0, 12)}\` ${esc(a.slice(13))}`).join('')} | ${esc(e.effect)} | ${esc(e.verified)} |`,
  );
  return [
    '| entry | release | commit | what it changes in the model | how the release was verified |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/**
 * The releases the published experiments compare (before and after the 2018 series, batched
 * pinning, the fgsp removal and the folio series): every package's named profiles include them.
 */
export const KEY_RELEASES: readonly Release[] = Object.freeze(['v3.19', 'v4.16', 'v4.17', 'v5.11', 'v5.12', 'v6.16', 'v6.18']);

/**
 * Named profiles of a timeline: the `extra` releases and, for every entry, its release and the one
 * before it (so each commit can be switched on and off by name), oldest first, then 'mainline'.
 */
export function namedReleases(entries: readonly TimelineEntry[], extra: readonly Release[]): ReleaseName[] {
  const set = new Set<Release>(extra);
  for (const e of entries) {
    set.add(e.since);
    const p = previousRelease(e.since);
    if (p !== null) set.add(p);
  }
  return [...RELEASES.filter((r) => set.has(r)), 'mainline'];
}
