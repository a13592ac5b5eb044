// The package loads, as a test of its own. Its module-level data (release list, timeline, machine
// tables) is evaluated at import; a bad value that throws there makes every test file that imports
// the package statically fail to collect, with no test run, which Stryker scores as a survived
// mutant. Importing inside the test turns the same failure into a failing test.
import { expect, it } from 'vitest';

it('test_package_loads_with_frozen_tables', { timeout: 60_000 }, async () => {
  const m = await import('../src/index.js');
  // v3.19, v4.0-v4.20, v5.0-v5.19, v6.0-v6.19, v7.0, v7.1
  expect([m.OLDEST_RELEASE, m.NEWEST_RELEASE, m.RELEASES.length]).toEqual(['v3.19', 'v7.1', 1 + 21 + 20 + 20 + 2]);
  expect([m.RELEASES[0], m.RELEASES.at(-1)]).toEqual([m.OLDEST_RELEASE, m.NEWEST_RELEASE]);
  for (const r of m.KEY_RELEASES) expect(m.RELEASES).toContain(r);
  expect(Object.isFrozen(m.CORE_TIMELINE)).toBe(true);
  for (const e of m.CORE_TIMELINE) {
    expect(Object.isFrozen(e)).toBe(true);
    expect(m.RELEASES).toContain(e.since);
  }
  expect(m.MACHINE_NAMES).toContain(m.DEFAULT_MACHINE);
  expect(m.DEFAULT_MACHINE).toBe('lizhe-2025');
  expect(m.BACKING_PROFILES).toEqual(['4k', 'thp', 'hugetlb-2m', 'hugetlb-1g', 'fragmented']);
  // nothing a caller could change under every later sim: the tables are frozen all the way down
  for (const t of [m.RELEASES, m.KEY_RELEASES, m.ENTRY_IDS, m.MACHINES, m.MACHINE_NAMES, m.BACKING_PROFILES, m.ERRNO]) {
    expect(Object.isFrozen(t)).toBe(true);
  }
  for (const mc of m.MACHINES) {
    expect([mc.name, Object.isFrozen(mc), Object.isFrozen(mc.costs)]).toEqual([mc.name, true, true]);
    for (const c of Object.values(mc.costs)) expect(Object.isFrozen(c)).toBe(true);
  }
  expect(() => {
    (m.ERRNO as { EINVAL: number }).EINVAL = 0;
  }).toThrow(TypeError);
});
