// The package loads, as a test of its own (see iommu-core's module-load test): a bad timeline entry
// or profile throws at import, which would otherwise leave every test file uncollected and score a
// mutant as survived.
import { expect, it } from 'vitest';

it('test_package_loads_with_frozen_timeline', { timeout: 60_000 }, async () => {
  const m = await import('../src/index.js');
  expect([m.AMD_PROFILE_NAMES[0], m.AMD_PROFILE_NAMES.at(-1)]).toEqual(['v3.19', 'mainline']);
  expect(Object.isFrozen(m.AMD_TIMELINE)).toBe(true);
  for (const e of m.AMD_TIMELINE) {
    expect(Object.isFrozen(e)).toBe(true);
    expect(m.AMD_PROFILE_NAMES).toContain(e.since);
  }
  // AMD_IOMMU_PGSIZES: every power of two from 4 KiB up, except 512 GiB
  expect(m.AMD_IOMMU_PGSIZES).toBe(((1n << 64n) - 1n) & ~0xfffn & ~(1n << 39n));
});
