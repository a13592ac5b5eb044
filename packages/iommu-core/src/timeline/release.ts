// Models Linux release tags as ordered values: the profile of a release is every timeline entry
// whose first release is at or before it. 'mainline' names the newest release this model covers.

/** A kernel release tag: 'v4.17', 'v6.18', ... */
export type Release = `v${number}.${number}`;
/** A profile name: a release, or 'mainline' (= NEWEST_RELEASE). */
export type ReleaseName = Release | 'mainline';

/** Last minor of each major series the model spans (4.20 and 5.19 were the last of theirs). */
const SERIES: readonly (readonly [major: number, first: number, last: number])[] = [
  [3, 19, 19],
  [4, 0, 20],
  [5, 0, 19],
  [6, 0, 19],
  [7, 0, 1],
];

/** Every release from v3.19 to the newest modelled one, oldest first. */
export const RELEASES: readonly Release[] = Object.freeze(
  SERIES.flatMap(([maj, a, b]) => Array.from({ length: b - a + 1 }, (_, i) => `v${maj}.${a + i}` as Release)),
);

/** The oldest release modelled (the first release this project's timeline starts from). */
export const OLDEST_RELEASE: Release = RELEASES[0]!;
/** The newest release modelled: what 'mainline' means. */
export const NEWEST_RELEASE: Release = RELEASES[RELEASES.length - 1]!;

const INDEX: ReadonlyMap<string, number> = new Map(RELEASES.map((r, i) => [r, i]));

/** Position of a release in RELEASES (0 = OLDEST_RELEASE); -1 for a name that is not one. */
export function releaseIndex(r: string): number {
  return r === 'mainline' ? RELEASES.length - 1 : (INDEX.get(r) ?? -1);
}

/** True for 'mainline' and every release in RELEASES. */
export function isReleaseName(v: unknown): v is ReleaseName {
  return typeof v === 'string' && releaseIndex(v) >= 0;
}

/** [major, minor] of a release tag. */
const versionOf = (r: Release): [number, number] => r.slice(1).split('.').map(Number) as [number, number];

/** Why `v` is not a release name: one line naming the valid range. */
export function releaseError(v: unknown): string {
  const range = `a release from ${OLDEST_RELEASE} to ${NEWEST_RELEASE}, or mainline`;
  if (typeof v === 'string') {
    const m = /^v?(\d+)\.(\d+)$/.exec(v);
    if (m !== null) {
      const major = Number(m[1]),
        minor = Number(m[2]);
      const [om, on] = versionOf(OLDEST_RELEASE),
        [nm, nn] = versionOf(NEWEST_RELEASE);
      if (major < om || (major === om && minor < on))
        return `release '${v}' is older than ${OLDEST_RELEASE}, the oldest this model covers (${range})`;
      if (!v.startsWith('v')) return `unknown release '${v}' (write it as 'v${major}.${minor}'; ${range})`;
      if (major > nm || (major === nm && minor > nn))
        return `release '${v}' is newer than ${NEWEST_RELEASE}, the newest this model covers (${range})`;
    }
  }
  return `unknown release '${String(v)}' (${range})`;
}

/** The release a profile name stands for ('mainline' -> NEWEST_RELEASE). RangeError for anything else. */
export function parseRelease(name: string): Release {
  const i = releaseIndex(name);
  if (i < 0) throw new RangeError(releaseError(name));
  return RELEASES[i]!;
}

/**
 * True when release `r` contains what first shipped in `since`. Both must be valid release names;
 * `r` may carry entry switches ('v4.0+remove-fgsp'), which do not change its release.
 */
export function releaseAtLeast(r: ReleaseName | `${ReleaseName}${'+' | '~'}${string}`, since: ReleaseName): boolean {
  return releaseIndex(r.split(/[+~]/)[0]!) >= releaseIndex(since);
}

/** The release before `r`, or null for OLDEST_RELEASE. */
export function previousRelease(r: ReleaseName): Release | null {
  const i = releaseIndex(r);
  if (i < 0) throw new RangeError(releaseError(r));
  return i === 0 ? null : RELEASES[i - 1]!;
}
