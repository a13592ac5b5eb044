// One default release for every factory (issue "vfio-sim for real users", item 7): createAmdIommu,
// createReferenceDriver and Host.openContainer, each given no release, model the same one, so a
// driver and a container made with defaults go together; another release is refused unless asked for.

import { createReferenceDriver, createSim, parseRelease } from '@x/iommu-core';
import { createAmdIommu } from '@x/amd-iommu';
import { describe, expect, it } from 'vitest';
import { Host, VFIO_TYPE1v2_IOMMU } from '../src/index.js';

describe('factory defaults', () => {
  it('test_factories_default_to_one_release', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const amd = createAmdIommu(sim);
    const ref = createReferenceDriver(sim);
    const host = new Host(sim);
    const c = host.openContainer(host.spawn());
    // the one default is 'mainline', the newest modelled release
    expect(amd.profile).toBe('mainline');
    expect(c.profile).toBe('mainline');
    expect([amd.release, ref.release, c.spec.release]).toEqual(Array(3).fill(parseRelease('mainline')));
    // so both default drivers join the default container without mixReleases
    c.addGroup(host.addGroup(amd));
    c.addGroup(host.addGroup(ref));
    c.setIommu(VFIO_TYPE1v2_IOMMU);
    c.close();
    expect(sim.violations).toEqual([]);
  });

  it('test_other_release_needs_mix_releases', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const host = new Host(sim);
    const old = host.addGroup(createAmdIommu(sim, { profile: 'v4.17' }));
    expect(() => host.openContainer(host.spawn()).addGroup(old)).toThrow(RangeError);
    expect(old.container).toBe(null);
    const mixed = host.openContainer(host.spawn(), { mixReleases: true });
    mixed.addGroup(old);
    expect(old.container).toBe(mixed);
  });
});
