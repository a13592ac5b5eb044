// vfio_iommu_type1_attach_group() when one device of the group cannot attach: the devices attached
// before it are detached again, the new domain is freed, and the container stays without an IOMMU.
import { expect, it, vi } from 'vitest';
import { IommuError, createReferenceDriver, createSim } from '@x/iommu-core';
import { Host, VFIO_TYPE1v2_IOMMU } from '../src/index.js';
import { thrown } from './helpers.js';

it('test_group_attach_fails_at_its_third_device', () => {
  const sim = createSim({ memory: 1n << 30n, seed: 1 });
  const drv = createReferenceDriver(sim, { release: 'mainline' });
  const host = new Host(sim);
  const g = host.addGroup(drv, { devices: 3 });
  // the third device already translates through another domain: its attach is EBUSY
  const other = drv.domainAlloc();
  drv.attachDevice(other, g.devices[2]!);
  const c = host.openContainer(host.spawn(), { profile: 'mainline' });
  c.addGroup(g);
  const err = thrown(() => c.setIommu(VFIO_TYPE1v2_IOMMU)) as Error;
  expect(err.message).toBe('EBUSY: attaching group 0 failed, VFIO_SET_IOMMU');
  // the first two were detached again, the third is where it was
  expect(g.devices.map((d) => drv.deviceDomain(d)?.id ?? null)).toEqual([null, null, other.id]);
  expect(c.iommu).toBe(null);
  expect(sim.violations).toEqual([]);
  // nothing else holds a page table: only `other`'s root is left
  expect(sim.mem.tables.inUse).toBe(1);
  drv.detachDevice(other, g.devices[2]!);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  expect(g.devices.map((d) => drv.deviceDomain(d) !== null)).toEqual([true, true, true]);
  c.close();
  expect(sim.violations).toEqual([]);
});

it('test_second_group_fails_to_join_the_existing_domain', () => {
  // a second group of the same driver, whose second device is attached elsewhere: the attach to a
  // new domain (before the kernel looks for one to reuse) fails with EBUSY, and the container's
  // domain keeps only the first group; once the device is free the group joins that domain
  const sim = createSim({ memory: 1n << 30n, seed: 1 });
  const drv = createReferenceDriver(sim, { release: 'mainline' });
  const host = new Host(sim);
  const g1 = host.addGroup(drv),
    g2 = host.addGroup(drv, { devices: 2 });
  const other = drv.domainAlloc();
  drv.attachDevice(other, g2.devices[1]!);
  const c = host.openContainer(host.spawn(), { profile: 'mainline' });
  c.addGroup(g1);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  const shared = drv.deviceDomain(g1.devices[0]!)!;
  const err = thrown(() => c.addGroup(g2)) as Error;
  expect(err.message).toBe('EBUSY: attach failed (EBUSY), VFIO_GROUP_SET_CONTAINER');
  expect(g2.devices.map((d) => drv.deviceDomain(d)?.id ?? null)).toEqual([null, other.id]);
  expect(g2.container).toBe(null);
  expect(c.iommu!.domains.map((d) => [d.dom.id, d.groups.map((g) => g.id)])).toEqual([[shared.id, [g1.id]]]);
  expect(sim.violations).toEqual([]);
  drv.detachDevice(other, g2.devices[1]!);
  c.addGroup(g2);
  expect(c.iommu!.domains.map((d) => [d.dom.id, d.groups.map((g) => g.id)])).toEqual([[shared.id, [g1.id, g2.id]]]);
  c.close();
  expect(sim.violations).toEqual([]);
});

it('test_group_refused_by_the_reused_domain', () => {
  // the driver takes the second group's device on the new domain, then refuses it on the domain the
  // container already has (the reuse step detaches it from the new one and attaches it there): the
  // attach fails with that errno and the existing domain keeps only the first group
  const sim = createSim({ memory: 1n << 30n, seed: 1 });
  const drv = createReferenceDriver(sim, { release: 'mainline' });
  const host = new Host(sim);
  const g1 = host.addGroup(drv),
    g2 = host.addGroup(drv);
  const c = host.openContainer(host.spawn(), { profile: 'mainline' });
  c.addGroup(g1);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  const shared = drv.deviceDomain(g1.devices[0]!)!;
  const attach = drv.attachDevice.bind(drv);
  const spy = vi.spyOn(drv, 'attachDevice').mockImplementation((dom, dev) => {
    if (dom === shared && dev === g2.devices[0]) throw new IommuError('ENOSPC', 'iommu_attach_device', 'no room for another device');
    attach(dom, dev);
  });
  const tablesBefore = sim.mem.tables.inUse;
  const err = thrown(() => c.addGroup(g2)) as Error;
  expect(err.message).toBe('ENOSPC: attach failed (ENOSPC), VFIO_GROUP_SET_CONTAINER');
  expect(spy.mock.calls.map(([dom]) => dom === shared)).toEqual([false, true]);
  expect(drv.deviceDomain(g2.devices[0]!)).toBe(null);
  expect(g2.container).toBe(null);
  expect(c.iommu!.domains.map((d) => [d.dom.id, d.groups.map((g) => g.id)])).toEqual([[shared.id, [g1.id]]]);
  expect(sim.mem.tables.inUse).toBe(tablesBefore); // the new domain was freed
  spy.mockRestore();
  c.addGroup(g2);
  expect(c.iommu!.domains.map((d) => [d.dom.id, d.groups.map((g) => g.id)])).toEqual([[shared.id, [g1.id, g2.id]]]);
  c.close();
  expect(sim.violations).toEqual([]);
});

it.each(['mainline', 'v5.4'] as const)(
  'test_driver_bug_is_rethrown profile=%s: an error without an errno is not an attach failure',
  (profile) => {
    // a driver that throws something other than a SysError has a bug: the container passes it on as
    // it is, from the domain allocation and from a device attach, and converts neither into an errno
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const drv = createReferenceDriver(sim, { release: profile });
    const host = new Host(sim);
    const g = host.addGroup(drv);
    const c = host.openContainer(host.spawn(), { profile });
    c.addGroup(g);
    const bug = new TypeError('driver bug');
    const alloc = vi.spyOn(drv, 'domainAlloc').mockImplementationOnce(() => {
      throw bug;
    });
    expect(thrown(() => c.setIommu(VFIO_TYPE1v2_IOMMU))).toBe(bug);
    expect(alloc).toHaveBeenCalledTimes(1);
    const dev = vi.spyOn(drv, 'attachDevice').mockImplementationOnce(() => {
      throw bug;
    });
    expect(thrown(() => c.setIommu(VFIO_TYPE1v2_IOMMU))).toBe(bug);
    expect(dev).toHaveBeenCalledTimes(1);
    vi.restoreAllMocks();
  },
);

it('test_set_iommu_unwinds_the_groups_attached_before_a_failing_one', () => {
  // two groups in the container before VFIO_SET_IOMMU; the second one's device translates through
  // another domain: its attach is EBUSY, and the first group, attached just before, is detached
  // again and its domain freed
  const sim = createSim({ memory: 1n << 30n, seed: 1 });
  const drv = createReferenceDriver(sim, { release: 'mainline' });
  const host = new Host(sim);
  const g1 = host.addGroup(drv, { devices: 2 }),
    g2 = host.addGroup(drv);
  const other = drv.domainAlloc();
  drv.attachDevice(other, g2.devices[0]!);
  const c = host.openContainer(host.spawn(), { profile: 'mainline' });
  c.addGroup(g1);
  c.addGroup(g2);
  const err = thrown(() => c.setIommu(VFIO_TYPE1v2_IOMMU)) as Error;
  expect(err.message).toBe(`EBUSY: attaching group ${g2.id} failed, VFIO_SET_IOMMU`);
  expect([...g1.devices, ...g2.devices].map((d) => drv.deviceDomain(d)?.id ?? null)).toEqual([null, null, other.id]);
  expect(c.iommu).toBe(null);
  // only `other`'s root table is left
  expect(sim.mem.tables.inUse).toBe(1);
  expect(sim.violations).toEqual([]);
  drv.detachDevice(other, g2.devices[0]!);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  expect([...g1.devices, ...g2.devices].map((d) => drv.deviceDomain(d) !== null)).toEqual([true, true, true]);
  c.close();
  expect(sim.violations).toEqual([]);
});
