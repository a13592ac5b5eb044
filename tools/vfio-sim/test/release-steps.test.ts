// The entries between the releases a compare puts side by side (the header's "entries between
// columns"), checked against the entries' own `since` releases: each step names what its later
// release has that the earlier has not, oldest first, entry switches after their plain release,
// the other driver's entries left out, and kernels with the same entries counted once.

import { releaseIndex } from '@x/iommu-core';
import { describe, expect, it } from 'vitest';
import { TIMELINE, releaseSteps, timelineFor } from '../src/engine/timeline.js';

/** Ids of the entries for `driver` whose release is after `from` and at or before `to`, in timeline order. */
function between(from: string, to: string, driver: 'amd' | 'reference'): string[] {
  const other = driver === 'amd' ? 'intel-iommu' : 'amd-iommu';
  return TIMELINE.filter(
    (e) => e.component !== other && releaseIndex(e.since) > releaseIndex(from) && releaseIndex(e.since) <= releaseIndex(to),
  ).map((e) => e.id);
}

describe('release steps', () => {
  it('test_timeline_for_a_driver_leaves_out_the_other', () => {
    expect(timelineFor(null)).toEqual([...TIMELINE]);
    expect(timelineFor('amd')).toEqual(TIMELINE.filter((e) => e.component !== 'intel-iommu'));
    expect(timelineFor('reference')).toEqual(TIMELINE.filter((e) => e.component !== 'amd-iommu'));
    // both drivers have entries of their own, and each list keeps the shared ones
    expect(timelineFor('amd').length).toBeLessThan(TIMELINE.length);
    expect(timelineFor('reference').length).toBeLessThan(TIMELINE.length);
    // a copy: changing it leaves the timeline as it is
    const all = timelineFor(null);
    all.pop();
    expect(TIMELINE.length).toBe(all.length + 1);
  });

  // releaseSteps tells entry sets apart by their ids joined in timeline order: with no id the
  // start of another, two different sets can never join to the same string (a prefix code)
  it('test_entry_ids_are_prefix_free', () => {
    const ids = TIMELINE.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const a of ids) for (const b of ids) if (a !== b) expect(b.startsWith(a), `${a} starts ${b}`).toBe(false);
  });

  it('test_steps_oldest_first_per_driver', () => {
    expect(releaseSteps(['mainline', 'v4.16', 'v4.17'], 'amd')).toEqual([
      { from: 'v4.16', to: 'v4.17', ids: between('v4.16', 'v4.17', 'amd') },
      { from: 'v4.17', to: 'mainline', ids: between('v4.17', 'v7.1', 'amd') },
    ]);
    expect(releaseSteps(['v4.16', 'v4.17'], 'amd')[0]!.ids).toEqual(['amd-fast-flush', 'fast-unmap']);
    expect(releaseSteps(['v5.4', 'v6.6'], 'reference')).toEqual([{ from: 'v5.4', to: 'v6.6', ids: between('v5.4', 'v6.6', 'reference') }]);
    expect(releaseSteps(['v5.4', 'v6.6'], null)[0]!.ids).toEqual(
      TIMELINE.filter((e) => releaseIndex(e.since) > releaseIndex('v5.4') && releaseIndex(e.since) <= releaseIndex('v6.6')).map(
        (e) => e.id,
      ),
    );
  });

  it('test_same_entries_count_once_and_one_profile_has_no_step', () => {
    // the newest release is mainline's kernel; two releases with no entry between them are one
    expect(releaseSteps(['v7.1', 'mainline'], 'amd')).toEqual([]);
    expect(releaseSteps(['mainline'], 'amd')).toEqual([]);
    expect(releaseSteps([], 'amd')).toEqual([]);
    expect(between('v4.17', 'v4.18', 'amd')).toEqual([]);
    expect(releaseSteps(['v4.17', 'v4.18'], 'amd')).toEqual([]);
    // the first profile of a set with the same entries names the step
    expect(releaseSteps(['v4.16', 'v4.17', 'v4.17'], 'amd')).toEqual([
      { from: 'v4.16', to: 'v4.17', ids: ['amd-fast-flush', 'fast-unmap'] },
    ]);
    expect(releaseSteps(['v4.16', 'v4.17', 'v4.18'], 'amd')).toEqual([
      { from: 'v4.16', to: 'v4.17', ids: ['amd-fast-flush', 'fast-unmap'] },
    ]);
    expect(releaseSteps(['v4.18', 'v4.17', 'v4.16'], 'amd')).toEqual([
      { from: 'v4.16', to: 'v4.18', ids: ['amd-fast-flush', 'fast-unmap'] },
    ]);
  });

  it('test_entry_switches_after_their_release', () => {
    // a switch off is named with '~', after the entries the later profile adds
    expect(releaseSteps(['v4.17', 'v4.17~fast-unmap'], 'amd')).toEqual([{ from: 'v4.17', to: 'v4.17~fast-unmap', ids: ['~fast-unmap'] }]);
    // the plain release first, whatever the order given
    expect(releaseSteps(['v4.17~fast-unmap', 'v4.17'], 'amd')).toEqual([{ from: 'v4.17', to: 'v4.17~fast-unmap', ids: ['~fast-unmap'] }]);
    expect(releaseSteps(['v4.16+remove-map-try-harder', 'v4.17'], 'amd')).toEqual([
      { from: 'v4.16+remove-map-try-harder', to: 'v4.17', ids: ['amd-fast-flush', 'fast-unmap', '~remove-map-try-harder'] },
    ]);
    // same release: the plain one first whatever the order given; a later release after both
    expect(releaseSteps(['v5.0', 'v4.17+dma-entry-limit', 'v4.17'], 'amd')).toEqual([
      { from: 'v4.17', to: 'v4.17+dma-entry-limit', ids: ['dma-entry-limit'] },
      { from: 'v4.17+dma-entry-limit', to: 'v5.0', ids: [...between('v4.17', 'v5.0', 'amd'), '~dma-entry-limit'] },
    ]);
    // two switched profiles of one release keep the order given
    expect(releaseSteps(['v4.17~fast-unmap', 'v4.17+dma-entry-limit'], 'amd').map((s) => [s.from, s.to])).toEqual([
      ['v4.17~fast-unmap', 'v4.17+dma-entry-limit'],
    ]);
    expect(releaseSteps(['v4.17+dma-entry-limit', 'v4.17~amd-fast-flush', 'v4.17~fast-unmap'], 'amd').map((s) => [s.from, s.to])).toEqual([
      ['v4.17+dma-entry-limit', 'v4.17~amd-fast-flush'],
      ['v4.17~amd-fast-flush', 'v4.17~fast-unmap'],
    ]);
  });
});
