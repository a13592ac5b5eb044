// The host's own bookkeeping: groups it creates, which processes may open its containers, and where
// it places device BARs in the MMIO pfn space.
import { describe, expect, it } from 'vitest';
import { createReferenceDriver, createSim } from '@x/iommu-core';
import { Host } from '../src/index.js';

const newHost = () => {
  const sim = createSim({ memory: 1n << 30n, seed: 1 });
  return { host: new Host(sim), drv: createReferenceDriver(sim) };
};

describe('host', () => {
  it('test_add_group_lists_groups_and_refuses_bad_device_counts', () => {
    const { host, drv } = newHost();
    const g1 = host.addGroup(drv),
      g2 = host.addGroup(drv, { devices: 3 });
    expect(host.groups).toEqual([g1, g2]);
    expect([g1.id, g2.id, g1.devices.length, g2.devices.length]).toEqual([0, 1, 1, 3]);
    for (const n of [0, -1, 1.5, Number.NaN]) {
      expect(() => host.addGroup(drv, { devices: n })).toThrow(new RangeError(`devices must be an integer >= 1, got ${n}`));
    }
    // nothing probed or listed for a refused group: the next one gets the next id
    expect(host.groups).toEqual([g1, g2]);
    expect(host.addGroup(drv).id).toBe(2);
  });

  it('test_open_container_refuses_another_hosts_process', () => {
    const a = newHost(),
      b = newHost();
    const proc = b.host.spawn({});
    expect(() => a.host.openContainer(proc)).toThrow(new RangeError('process belongs to another host'));
    expect(a.host.containers).toEqual([]);
    expect(b.host.openContainer(proc).closed).toBe(false);
  });

  it('test_alloc_mmio_aligns_each_bar_to_its_size_up_to_1g', () => {
    const { host } = newHost();
    const base = 2 ** 34; // MMIO pfns start far above any RAM frame
    // 64 KiB BARs: aligned to 16 pages, each followed by its 512-page block and a 512-page gap
    expect(host.allocMmio(16)).toBe(base);
    expect(host.allocMmio(16)).toBe(base + 1024);
    // 4 MiB (1024 pages): two blocks and the gap; then 1000 pages, aligned up to 1024 from base + 3584
    expect(host.allocMmio(1024)).toBe(base + 2048);
    expect(host.allocMmio(1000)).toBe(base + 4096);
    // 2 GiB: the alignment stops at 1 GiB (2^18 pages)
    const p = host.allocMmio(2 ** 19);
    expect(p).toBe(base + 2 ** 18);
    expect(host.allocMmio(1)).toBe(p + 2 ** 19 + 512);
  });
});
