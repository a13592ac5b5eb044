// vfio-sim timeline [A] [B]: the kernel timeline the model is built from. No release: every entry.
// One release: the entries in its profile. Two: the entries that differ between them, with the
// commit of each (what a kernel engineer would look up), oldest first.

import { parseRelease, releaseError, isReleaseName, entriesAt, timelineDiff, type ReleaseName, type TimelineEntry } from '@x/iommu-core';
import { UsageError } from '../errors.js';
import { TIMELINE, timelineFor } from '../engine/timeline.js';
import { textTable } from '../report/format.js';
import { command } from '../invocation.js';

export interface TimelineOpts {
  json?: boolean;
  driver?: string;
}

function release(arg: string): ReleaseName {
  if (!isReleaseName(arg)) throw new UsageError('timeline', releaseError(arg));
  return arg;
}

const row = (e: TimelineEntry, sign = ''): string[] => [`${sign}${e.since}`, e.id, e.component, e.commit, e.title];
const jsonEntry = (e: TimelineEntry) => ({
  id: e.id,
  component: e.component,
  since: e.since,
  commit: e.commit,
  title: e.title,
  effect: e.effect,
  verified: e.verified,
  ...(e.also !== undefined ? { also: e.also } : {}),
});

export function timelineCommand(args: readonly string[], o: TimelineOpts): number {
  // `timeline v4.16..v4.17` is the same as `timeline v4.16 v4.17`
  const parts = args.length === 1 && args[0]!.includes('..') ? args[0]!.split('..') : [...args];
  if (parts.length > 2) throw new UsageError('timeline', `takes at most two releases, got ${parts.length}`);
  const driver = o.driver === undefined ? null : o.driver;
  if (driver !== null && driver !== 'amd' && driver !== 'reference')
    throw new UsageError('--driver', `'${driver}' is not one of amd, reference`);
  const entries = timelineFor(driver);
  const out = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };
  if (parts.length === 2) {
    const [a, b] = [release(parts[0]!), release(parts[1]!)];
    const d = timelineDiff(entries, a, b);
    const label = (n: string): string => (n === 'mainline' ? `mainline (${parseRelease(n)})` : n);
    if (o.json) {
      out(
        JSON.stringify(
          { from: a, to: b, fromRelease: d.from, toRelease: d.to, added: d.added.map(jsonEntry), removed: d.removed.map(jsonEntry) },
          null,
          2,
        ),
      );
      return 0;
    }
    const list = d.added.length > 0 ? d.added : d.removed;
    out(
      `${label(a)} -> ${label(b)}: ${list.length} entr${list.length === 1 ? 'y' : 'ies'} ${d.added.length > 0 ? 'added' : list.length > 0 ? 'removed' : 'differ'}${driver === null ? '' : ` (driver ${driver})`}`,
    );
    if (list.length > 0)
      out(
        `\n${textTable(
          ['release', 'entry', 'component', 'commit', 'title'],
          list.map((e) => row(e, d.added.length > 0 ? '+' : '-')),
          [1, 2, 3, 4],
        )}`,
      );
    out(`\nmore: ${command(`timeline ${a} ${b} --json`)}   # what each entry changes in the model, and how its release was verified`);
    return 0;
  }
  const list = parts.length === 1 ? entriesAt(entries, release(parts[0]!)) : entries;
  const one = parts.length === 1 ? release(parts[0]!) : null;
  if (o.json) {
    out(
      JSON.stringify(
        one !== null ? { release: one, resolved: parseRelease(one), entries: list.map(jsonEntry) } : { entries: list.map(jsonEntry) },
        null,
        2,
      ),
    );
    return 0;
  }
  const head =
    one !== null
      ? `${one}${one === 'mainline' ? ` (${parseRelease(one)})` : ''}: ${list.length} of ${entries.length} entries in effect`
      : `the model's timeline: ${TIMELINE.length} entries`;
  out(
    `${head}\n\n${textTable(
      ['release', 'entry', 'component', 'commit', 'title'],
      list.map((e) => row(e)),
      [1, 2, 3, 4],
    )}`,
  );
  return 0;
}
