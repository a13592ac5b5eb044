// The driver's answers at the edges of its inputs, found untested by the quiet-machine Stryker run
// of 2026-12-05: the first and last 16-bit DeviceIDs, the EBUSY of a device already on another
// domain, a detach from the wrong domain, device DMA with a bad id or to frame 0, the errno of a map
// past the aperture at the ops level, and a Completion-Wait whose store never comes.
import { describe, expect, it } from 'vitest';
import { ERRNO, iommuMap, isIommuError } from '@x/iommu-core';
import { DEV, RW, cmdDelta, setup, thrown } from './helpers.js';

describe('device ids', () => {
  it.each([0, 0xffff])('test_attach_and_dma_at_the_edge_device_id %i', (dev) => {
    const f = setup({ profile: 'mainline' }, false);
    f.amd.attachDevice(f.dom, dev);
    expect(f.amd.deviceDomain(dev)).toBe(f.dom);
    expect(f.amd.hw.devtab.read(dev)).toEqual({
      v: true,
      tv: true,
      mode: 3,
      rootPfn: f.dom.pt.root,
      ir: true,
      iw: true,
      domainId: f.dom.id,
    });
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x40, pfn, 1, RW);
    expect(f.amd.dma(dev, 0x40, 1, 'write')).toBe(true);
    expect(f.sim.mem.dmaWritten.get(pfn)).toBe(1);
  });

  it.each([0x10000, -1, 1.5, Number.NaN])('test_dma_bad_device_id %s', (dev) => {
    const f = setup({ profile: 'mainline' });
    const e = thrown(() => f.amd.dma(dev, 0, 1, 'read'));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe(`bad device id ${dev}`);
    expect(f.sim.counters.dmaPages).toBe(0);
  });

  it('test_attach_busy_names_the_device_and_its_domain', () => {
    const f = setup({ profile: 'mainline' });
    const other = f.amd.domainAlloc();
    const before = f.amd.commands();
    const e = thrown(() => f.amd.attachDevice(other, DEV));
    expect(isIommuError(e)).toBe(true);
    expect(e.message).toBe(`EBUSY: device 0x100 is attached to domain ${f.dom.id}, iommu_attach_device`);
    expect(f.amd.deviceDomain(DEV)).toBe(f.dom);
    expect(cmdDelta(f.amd, before)).toEqual({});
  });

  it('test_detach_from_another_domain_leaves_the_device_alone', () => {
    const f = setup({ profile: 'mainline' });
    const other = f.amd.domainAlloc();
    const dte = f.amd.hw.devtab.read(DEV),
      before = f.amd.commands();
    f.amd.detachDevice(other, DEV);
    expect(f.amd.deviceDomain(DEV)).toBe(f.dom);
    expect(f.amd.hw.devtab.read(DEV)).toEqual(dte);
    expect(cmdDelta(f.amd, before)).toEqual({});
    // the device still reaches its own domain's pages
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    expect(f.amd.dma(DEV, 0x10, 1, 'read')).toBe(true);
  });
});

describe('device DMA', () => {
  it('test_dma_to_frame_0', () => {
    // frame 0 is RAM like any other: a DMA the IOMMU translates to it succeeds
    const f = setup({ profile: 'mainline' });
    iommuMap(f.dom, 0x20, 0, 1, RW);
    expect(f.amd.dma(DEV, 0x20, 1, 'write')).toBe(true);
    expect(f.sim.mem.dmaWritten.get(0)).toBe(1);
    expect(f.sim.counters.dmaPages).toBe(1);
    expect(f.amd.eventLog()).toEqual([]);
  });
});

describe('the page-table ops the driver configures', () => {
  it.each(['v4.16', 'v4.17', 'v5.4', 'mainline'] as const)('test_ops_contract %s', (profile) => {
    const f = setup({ profile, vaBits: 32 });
    // AMD keeps a mapped size as one leaf (replicated when it has no level of its own): the core
    // never splits a chunk for it, which is what VFIO's fgsp probe relies on
    expect(f.amd.ops.splitsChunks).toBe(false);
    // a map past the aperture answers -ERANGE at the ops level, before the core turns it into an error
    const pfn = f.sim.mem.allocFrames(1);
    expect(f.amd.ops.mapPages(f.dom, 2 ** 20, pfn, 12, 1, RW)).toBe(-ERRNO.ERANGE);
    expect(f.dom.mapped).toBe(0);
    expect(f.amd.ops.mapPages(f.dom, 2 ** 20 - 1, pfn, 12, 1, RW)).toBe(0);
    // and a growth with no table for the new top answers -ENOMEM (the core reports a positive
    // errno the same way, so only the op's own return tells them apart)
    const big = setup({ profile });
    big.sim.faults.arm('tableAlloc', 1);
    expect(big.amd.ops.mapPages(big.dom, 2 ** 27, pfn, 12, 1, RW)).toBe(-ERRNO.ENOMEM);
    expect(big.amd.mode(big.dom)).toBe(3);
  });
});

describe('Completion-Wait', () => {
  it.each(['v4.17', 'mainline'] as const)('test_wait_that_never_stores_is_a_bug %s', (profile) => {
    // a command processor that stopped: the store never comes. v4.17 waits for the value 1 every
    // time (the semaphore is cleared before each wait), mainline for the next sequence number
    const f = setup({ profile });
    f.amd.completionWait();
    f.amd.hw.doorbell = () => {};
    const e = thrown(() => f.amd.completionWait());
    expect(e.message).toBe('BUG: Completion-Wait loop timed out');
  });

  it('test_first_wait_that_never_stores_is_a_bug', () => {
    // no store at all yet
    const f = setup({ profile: 'mainline' }, false);
    f.amd.hw.doorbell = () => {};
    expect(thrown(() => f.amd.completionWait()).message).toBe('BUG: Completion-Wait loop timed out');
  });
});
