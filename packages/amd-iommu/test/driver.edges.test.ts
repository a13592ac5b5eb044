// The driver's edges that the mutation run of issue 15 found untested: option validation, id
// exhaustion, capabilities, and the calls that must send no command (a domain with no device on
// it, a device attached again to its own domain, a grown domain's DTEs of other domains).
import { describe, expect, it } from 'vitest';
import {
  IOMMU_CAP_CACHE_COHERENCY,
  IOMMU_CAP_INTR_REMAP,
  IOMMU_CAP_NOEXEC,
  createIotlbGather,
  createSim,
  iommuMap,
  iommuTlbSync,
  iommuUnmapFast,
  isIommuError,
} from '@x/iommu-core';
import { createAmdIommu, type AmdDomain } from '../src/index.js';
import { RW, cmdDelta, setup, thrown } from './helpers.js';

describe('options', () => {
  it.each([20, 65, 21.5, Number.NaN, 0])('test_vabits_rejected %s', (vaBits) => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const e = thrown(() => createAmdIommu(sim, { vaBits }));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe(`vaBits must be 21..64, got ${vaBits}`);
  });

  it.each([
    // the aperture is 2^(vaBits-12) pages: 21 bits is one 2 MiB level-0 table's worth
    [21, 2 ** 9 - 1],
    [48, 2 ** 36 - 1],
    [64, 2 ** 52 - 1],
  ])('test_vabits_bounds_accepted %i', (vaBits, end) => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    expect(createAmdIommu(sim, { vaBits }).domainAlloc().geometry.apertureEnd).toBe(end);
  });
});

describe('ids', () => {
  it('test_domain_id_exhaustion', () => {
    // DomainIDs are 16 bits and come from the sim's counter (never reused): 1..0xffff, then ENOSPC
    const f = setup({}, false, 1n << 30n);
    expect(f.dom.id).toBe(1);
    f.amd.domainFree(f.dom);
    let last = 0;
    for (let i = 2; i <= 0xffff; i++) {
      const d = f.amd.domainAlloc() as AmdDomain;
      last = d.id;
      f.amd.domainFree(d);
    }
    expect(last).toBe(0xffff);
    const e = thrown(() => f.amd.domainAlloc());
    expect(isIommuError(e)).toBe(true);
    expect(e.message).toBe('ENOSPC: no free 16-bit domain id, iommu_domain_alloc');
    expect((e as unknown as { syscall: string }).syscall).toBe('iommu_domain_alloc');
  });

  it('test_probe_skips_attached_ids', () => {
    // a device attached by id without a probe holds that id: the next probe steps past it
    const f = setup({}, false);
    f.amd.attachDevice(f.dom, 0x0100);
    f.amd.attachDevice(f.dom, 0x0101);
    expect(f.amd.probeDevice()).toBe(0x0102);
    expect(f.amd.probeDevice()).toBe(0x0103);
  });

  it('test_device_id_exhaustion', () => {
    const f = setup({}, false);
    let n = 0,
      last = -1;
    for (;;) {
      let id: number;
      try {
        id = f.amd.probeDevice();
      } catch (e) {
        expect(isIommuError(e)).toBe(true);
        expect((e as Error).message).toBe('ENOSPC: no free 16-bit device id, iommu_probe_device');
        break;
      }
      expect(id).toBe(last < 0 ? 0x0100 : last + 1);
      last = id;
      n++;
    }
    // 0x0100..0xffff: the last 16-bit id is handed out, none past it
    expect([n, last]).toEqual([0x10000 - 0x0100, 0xffff]);
  });

  it.each([0x10000, -1, 1.5])('test_attach_bad_device_id %s', (dev) => {
    const f = setup({}, false);
    const e = thrown(() => f.amd.attachDevice(f.dom, dev));
    expect(isIommuError(e)).toBe(true);
    expect(e.message).toBe(`ENODEV: bad device id ${dev}, iommu_attach_device`);
    expect(f.amd.deviceDomain(0x0100)).toBe(null);
  });
});

describe('capabilities', () => {
  it('test_capable', () => {
    const { amd } = setup({}, false);
    expect([IOMMU_CAP_CACHE_COHERENCY, IOMMU_CAP_INTR_REMAP, IOMMU_CAP_NOEXEC].map((c) => amd.capable(c))).toEqual([true, true, false]);
    expect([-1, 3, 0.5].map((c) => amd.capable(c))).toEqual([false, false, false]);
  });
});

describe('calls that send no command', () => {
  it('test_attach_again_same_domain', () => {
    const f = setup({ profile: 'mainline' });
    const before = f.amd.commands();
    f.amd.attachDevice(f.dom, 0x0100); // already there: no DTE write, no flush, no EBUSY
    expect(cmdDelta(f.amd, before)).toEqual({});
    f.amd.detachDevice(f.dom, 0x0100);
    expect(f.amd.deviceDomain(0x0100)).toBe(null);
    f.amd.domainFree(f.dom); // one detach was enough: the device was counted once
  });

  it.each(['v4.17', 'v5.15', 'mainline'] as const)('test_deviceless_domain_flushes_nothing %s', (profile) => {
    // an IOMMU caches translations only for devices that use the domain: no device, no command
    const f = setup({ profile }, false);
    const pfn = f.sim.mem.allocFrames(16);
    const before = f.amd.commands();
    iommuMap(f.dom, 0x1000, pfn, 16, RW);
    const g = createIotlbGather();
    expect(iommuUnmapFast(f.dom, 0x1000, 16, g)).toBe(16);
    iommuTlbSync(f.dom, g);
    f.dom.ops.flushIotlbAll?.(f.dom);
    expect(cmdDelta(f.amd, before)).toEqual({});
    expect(f.sim.counters.iotlbFlushes).toBe(0);
  });

  it.each(['v4.17', 'mainline'] as const)('test_deviceless_domain_grows_silently %s', (profile) => {
    const f = setup({ profile }, false);
    const pfn = f.sim.mem.allocFrames(1);
    const before = f.amd.commands();
    // page 2^27 is past mode 3's 39-bit space: the table grows to mode 4
    iommuMap(f.dom, 2 ** 27, pfn, 1, RW);
    expect(f.dom.pt.top).toBe(3);
    expect(cmdDelta(f.amd, before)).toEqual({});
  });

  it('test_grow_rewrites_only_own_dtes', () => {
    const f = setup({ profile: 'mainline' });
    const other = f.amd.domainAlloc() as AmdDomain;
    f.amd.attachDevice(other, 0x0101);
    const mine = f.amd.hw.devtab.read(0x0100),
      theirs = f.amd.hw.devtab.read(0x0101);
    expect([mine.mode, theirs.mode, theirs.rootPfn]).toEqual([3, 3, other.pt.root]);
    const before = f.amd.commands();
    iommuMap(f.dom, 2 ** 27, f.sim.mem.allocFrames(1), 1, RW);
    // the grown domain's device gets the new root at mode 4; the other domain's DTE is untouched
    expect(f.amd.hw.devtab.read(0x0100)).toMatchObject({ mode: 4, rootPfn: f.dom.pt.root, domainId: f.dom.id });
    expect(f.amd.hw.devtab.read(0x0101)).toEqual(theirs);
    expect(cmdDelta(f.amd, before)).toEqual({ INVALIDATE_DEVTAB_ENTRY: 1, COMPLETION_WAIT: 1 });
  });
});
