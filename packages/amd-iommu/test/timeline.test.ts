// The AMD driver's timeline: its data, the quirks each release has (written out from the kernel
// history, not derived), and that each entry switches exactly its own quirks at its release.
import { describe, expect, it } from 'vitest';
import { createSim, previousRelease, type Release } from '@x/iommu-core';
import { checkTimeline } from '@x/iommu-core/testing';
import { AMD_TIMELINE, amdProfile, createAmdIommu, type AmdQuirks } from '../src/index.js';

type Q = keyof AmdQuirks;
// f: flushOnUnmap, A: syncFlushesAll, P: invPageOrAll, B: ebusyOnPresent, H: unmapCountsHoles,
// K: keepTables, G: growFlush2018, D: detachFlush, S: semaphoreOne, 1: singlePageOps, T: iommupt
const LETTERS: Record<string, Q> = {
  f: 'flushOnUnmap',
  A: 'syncFlushesAll',
  P: 'invPageOrAll',
  B: 'ebusyOnPresent',
  H: 'unmapCountsHoles',
  K: 'keepTables',
  G: 'growFlush2018',
  D: 'detachFlush',
  S: 'semaphoreOne',
  1: 'singlePageOps',
  T: 'iommupt',
};
const quirks = (on: string): AmdQuirks =>
  Object.fromEntries(Object.entries(LETTERS).map(([l, q]) => [q, on.includes(l)])) as unknown as AmdQuirks;

describe('amd timeline', () => {
  it('test_amd_timeline_data', () => {
    expect(() => checkTimeline(AMD_TIMELINE)).not.toThrow();
    expect(AMD_TIMELINE.every((e) => e.component === 'amd-iommu')).toBe(true);
    expect(Object.fromEntries(AMD_TIMELINE.map((e) => [e.id, [e.commit, e.since]]))).toEqual({
      'amd-fast-flush': ['eb5ecd1a40e2', 'v4.17'],
      'amd-detach-flush': ['9825bd94e3a2', 'v5.0'],
      'amd-upgrade-pgsize': ['6f820bb995b6', 'v5.0'],
      'amd-grow-dte-flush': ['19c6978fba68', 'v5.7'],
      'amd-cmd-sem-seq': ['c69d89aff393', 'v5.10'],
      'amd-inv-address': ['268aa4548277', 'v5.13'],
      'amd-sync-range': ['fc65d0acaf23', 'v5.15'],
      'amd-map-pages': ['6b080c4e815c', 'v6.1'],
      'amd-iommupt': ['789a5913b29c', 'v6.19'],
    });
  });

  // what the driver of each release did, from the kernel's history (spec amd-iommu §3, §4, §9.5)
  it.each([
    ['v3.19', 'fAPBHKGS1', '2018'],
    ['v4.16', 'fAPBHKGS1', '2018'], // the release before the 2018 series
    ['v4.17', 'APBHKGS1', '2018'], // fast-flush ops: sync flushes the whole domain
    ['v5.0', 'APHKGDS1', '2018'], // page-size upgrade (no EBUSY), detach flushes
    ['v5.4', 'APHKGDS1', 'gather'], // the gather API; sync still flushes everything
    ['v5.7', 'APHKDS1', 'gather'], // growth updates and flushes DTEs, then waits
    ['v5.10', 'APHKD1', 'gather'], // COMPLETION_WAIT sequence numbers
    ['v5.13', 'AHKD1', 'gather'], // page-selective addresses
    ['v5.15', 'HKD1', 'gather'], // sync flushes the gathered range
    ['v6.1', 'HKD', 'gather'], // map_pages / unmap_pages
    ['v6.18', 'HKD', 'gather'],
    ['v6.19', 'DT', 'gather'], // iommupt
    ['mainline', 'DT', 'gather'],
  ] as const)('test_amd_quirks_at %s', (release, on, apiEra) => {
    const p = amdProfile(release);
    expect(p.quirks).toEqual(quirks(on));
    expect(p.apiEra).toBe(apiEra);
    expect(p.release).toBe(release === 'mainline' ? 'v7.1' : release);
    const amd = createAmdIommu(createSim({ memory: 1n << 30n }), { profile: release });
    expect([amd.release, amd.quirks.iommupt, amd.ops.singlePageOps]).toEqual([p.release, p.quirks.iommupt, p.quirks.singlePageOps]);
  });

  it('test_each_entry_switches_at_its_release', () => {
    // which quirks each commit changes (the inverse of the derivation, written out)
    const changes: Record<string, Q[]> = {
      'amd-fast-flush': ['flushOnUnmap'],
      'amd-detach-flush': ['detachFlush'],
      'amd-upgrade-pgsize': ['ebusyOnPresent'],
      'amd-grow-dte-flush': ['growFlush2018'],
      'amd-cmd-sem-seq': ['semaphoreOne'],
      'amd-inv-address': ['invPageOrAll'],
      'amd-sync-range': ['syncFlushesAll'],
      'amd-map-pages': ['singlePageOps'],
      'amd-iommupt': ['unmapCountsHoles', 'keepTables', 'iommupt'],
    };
    const byRelease = new Map<string, Q[]>();
    for (const e of AMD_TIMELINE) byRelease.set(e.since, [...(byRelease.get(e.since) ?? []), ...changes[e.id]!]);
    for (const [r, qs] of byRelease) {
      const before = amdProfile(previousRelease(r as Release)!).quirks,
        after = amdProfile(r).quirks;
      const differ = (Object.keys(after) as Q[]).filter((k) => after[k] !== before[k]).sort();
      expect(differ, r).toEqual([...qs].sort());
    }
  });

  it('test_bad_release', () => {
    const sim = createSim({ memory: 1n << 30n });
    expect(() => createAmdIommu(sim, { profile: 'v4.21' as never })).toThrow(
      new RangeError("unknown release 'v4.21' (a release from v3.19 to v7.1, or mainline)"),
    );
    expect(() => amdProfile('v3.10')).toThrow("release 'v3.10' is older than v3.19");
  });
});

describe('spec timeline table', () => {
  it('test_spec_table_is_generated_from_the_data', async () => {
    const { readFileSync } = await import('node:fs');
    const { withTimelineTable } = await import('@x/iommu-core/internals');
    const { AMD_TIMELINE: data } = await import('../src/index.js');
    const spec = readFileSync(new URL('../docs/spec.md', import.meta.url), 'utf8');
    // regenerate with `pnpm docs:timeline`
    expect(withTimelineTable(spec, data)).toBe(spec);
  });
});
