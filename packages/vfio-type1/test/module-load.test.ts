// The package loads, as a test of its own. Its module-level data (the timeline, the profiles built
// from it) is evaluated at import; a bad entry throws there, and a test file that imports the
// package statically then fails to collect with no test run, which Stryker scores as a survived
// mutant. Importing inside the test turns the same failure into a failing test.
import { expect, it } from 'vitest';

it('test_package_loads_with_frozen_timeline', async () => {
  const m = await import('../src/index.js');
  expect(m.PROFILE_NAMES[0]).toBe('v3.19');
  expect(m.PROFILE_NAMES.at(-1)).toBe('mainline');
  expect(m.VFIO_TIMELINE.length).toBe(21);
  expect(Object.isFrozen(m.VFIO_TIMELINE)).toBe(true);
  for (const e of m.VFIO_TIMELINE) {
    expect(Object.isFrozen(e)).toBe(true);
    if (e.also !== undefined) expect([e.id, Object.isFrozen(e.also)]).toEqual([e.id, true]);
  }
  // the entries that list further commits keep them
  expect(m.VFIO_TIMELINE.filter((e) => e.also !== undefined).map((e) => [e.id, e.also!.length])).toEqual([
    ['dirty-tracking', 1],
    ['unmap-all-vaddr', 1],
    ['always-cache', 1],
    ['folio-batch-acct', 4],
    ['overflow-rework', 2],
  ]);
});
