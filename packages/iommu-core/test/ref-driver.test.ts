// The reference driver's own rules: the bitmaps and widths it takes, the era answers its options
// give, device ids and attach, capabilities, its flushes (counted and traced), and what a device
// access reads: the IOTLB entry a walk fills covers the whole leaf, at the leaf's own frames.
import { describe, expect, it } from 'vitest';
import { CORE_TIMELINE, IOMMU_READ, IOMMU_WRITE, SZ_4K, createReferenceDriver, createSim, iommuMap, iommuUnmap } from '../src/index.js';
import { TRACE_IOCTL, TRACE_IOMMU } from '../src/trace.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const sim1 = () => createSim({ memory: 1n << 30n, seed: 1 });
const count = (sim: ReturnType<typeof createSim>, ev: string): number => (sim.counters as Record<string, number>)[ev]!;

describe('reference driver options', () => {
  it('test_ref_bitmap_bounds: sizes from 4 KiB to 256 GiB', () => {
    const sim = sim1();
    for (const bm of [0n, 1n << 11n, (1n << 11n) | SZ_4K]) {
      expect(() => createReferenceDriver(sim, { pgsizeBitmap: bm })).toThrow(
        new RangeError('reference driver needs a bitmap with sizes >= 4 KiB'),
      );
    }
    for (const bm of [1n << 39n, SZ_4K | (1n << 39n), SZ_4K | (1n << 47n)]) {
      expect(() => createReferenceDriver(sim, { pgsizeBitmap: bm })).toThrow(
        new RangeError('reference format holds leaves up to 256 GiB (order 38)'),
      );
    }
    expect(createReferenceDriver(sim, { pgsizeBitmap: SZ_4K | (1n << 38n) }).pgsizeBitmap).toBe(SZ_4K | (1n << 38n));
    // the narrowest width: a 13-bit aperture is two pages
    const narrow = createReferenceDriver(sim, { gaw: 13 });
    expect(narrow.domainAlloc().geometry.apertureEnd).toBe(1);
  });

  it('test_ref_api_era: the release picks the unmap API, an explicit apiEra overrides it', () => {
    const sim = sim1();
    const ops = (o: Parameters<typeof createReferenceDriver>[1]) => createReferenceDriver(sim, o).ops;
    expect([ops({ release: 'v4.14' }).apiEra, ops({ release: 'mainline' }).apiEra]).toEqual(['2018', 'gather']);
    expect([ops({ apiEra: 'gather' }).singlePageOps, ops({ apiEra: '2018' }).singlePageOps]).toEqual([false, true]);
  });

  it('test_ref_flush_on_unmap: before the gather, each page-size step of an unmap flushes its own range and waits', () => {
    const sim = sim1();
    const drv = createReferenceDriver(sim, { flushOnUnmap: true });
    const dom = drv.domainAlloc();
    const dev = drv.probeDevice();
    drv.attachDevice(dom, dev);
    iommuMap(dom, 0, 100, 4, RW);
    expect(drv.dma(dev, 3, 1, 'read')).toBe(true); // page 3's IOTLB entry
    const before = [count(sim, 'invalidations'), count(sim, 'completionWaits')];
    expect(iommuUnmap(dom, 0, 3)).toBe(3);
    expect([count(sim, 'invalidations') - before[0]!, count(sim, 'completionWaits') - before[1]!]).toEqual([3, 3]);
    // the flushes were page-selective: page 3 still hits the IOTLB, no walk
    const walks = count(sim, 'walkLevels');
    expect(drv.dma(dev, 3, 1, 'read')).toBe(true);
    expect(count(sim, 'walkLevels')).toBe(walks);
  });

  it('test_ref_flush_all_and_trace: a domain flush is counted; range flushes are traced at TRACE_IOMMU only', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1, trace: true });
    const drv = createReferenceDriver(sim);
    const dom = drv.domainAlloc();
    const c0 = ['invalidations', 'iotlbFlushes', 'completionWaits'].map((e) => count(sim, e));
    dom.ops.flushIotlbAll!(dom);
    expect(['invalidations', 'iotlbFlushes', 'completionWaits'].map((e, k) => count(sim, e) - c0[k]!)).toEqual([1, 1, 1]);
    const flushes = () => sim.trace.events.filter((e) => e.name === 'flush' && e.track === 'ref');
    iommuMap(dom, 0x10, 100, 2, RW);
    iommuUnmap(dom, 0x10, 2);
    expect(flushes().map((e) => e.args)).toEqual([{ domain: dom.id, start: '0x10000', last: '0x11000' }]);
    sim.trace.detail = TRACE_IOCTL;
    iommuMap(dom, 0x10, 100, 2, RW);
    iommuUnmap(dom, 0x10, 2);
    expect(flushes().length).toBe(1);
    sim.trace.detail = TRACE_IOMMU;
    iommuMap(dom, 0x10, 100, 2, RW);
    iommuUnmap(dom, 0x10, 2);
    expect(flushes().length).toBe(2);
    sim.trace.on = false;
    iommuMap(dom, 0x10, 100, 2, RW);
    iommuUnmap(dom, 0x10, 2);
    expect(flushes().length).toBe(2);
  });
});

describe('reference driver devices', () => {
  it('test_ref_device_ids_and_attach: ids from 1, ENODEV for a bad id, EBUSY elsewhere, the same domain again is fine', () => {
    const sim = sim1();
    const drv = createReferenceDriver(sim);
    expect([drv.probeDevice(), drv.probeDevice(), drv.probeDevice()]).toEqual([1, 2, 3]);
    const a = drv.domainAlloc(),
      b = drv.domainAlloc();
    for (const dev of [0, -1, 1.5, Number.NaN]) {
      expect(() => drv.attachDevice(a, dev)).toThrow(
        expect.objectContaining({
          code: 'ENODEV',
          syscall: 'iommu_attach_device',
          message: `ENODEV: bad device id ${dev}, iommu_attach_device`,
        }),
      );
    }
    drv.attachDevice(a, 2);
    drv.attachDevice(a, 2);
    expect(drv.deviceDomain(2)).toBe(a);
    expect(() => drv.attachDevice(b, 2)).toThrow(
      expect.objectContaining({
        code: 'EBUSY',
        syscall: 'iommu_attach_device',
        message: `EBUSY: device 2 is attached to domain ${a.id}, iommu_attach_device`,
      }),
    );
    // a detach from a domain the device is not in changes nothing
    drv.detachDevice(b, 2);
    expect(drv.deviceDomain(2)).toBe(a);
    drv.detachDevice(a, 2);
    expect(drv.deviceDomain(2)).toBe(null);
    drv.attachDevice(b, 2);
    expect(drv.deviceDomain(2)).toBe(b);
  });

  it('test_ref_probe_skips_attached_ids: an id attached before it was probed is not handed out again', () => {
    const drv = createReferenceDriver(sim1());
    const a = drv.domainAlloc();
    drv.attachDevice(a, 2);
    drv.attachDevice(a, 3);
    expect([drv.probeDevice(), drv.probeDevice(), drv.probeDevice()]).toEqual([1, 4, 5]);
    expect([drv.deviceDomain(2), drv.deviceDomain(3), drv.deviceDomain(4)]).toEqual([a, a, null]);
  });

  it('test_ref_map_pages_range_errno: the driver op answers a map past the aperture with -EFAULT', () => {
    const drv = createReferenceDriver(sim1());
    const dom = drv.domainAlloc();
    expect(dom.ops.mapPages(dom, dom.geometry.apertureEnd, 0, 12, 2, RW)).toBe(-14);
    expect(dom.ops.mapPages(dom, dom.geometry.apertureEnd, 0, 12, 1, RW)).toBe(0);
  });

  it('test_ref_capable: cache coherency as configured, interrupt remapping always, nothing else', () => {
    const sim = sim1();
    const on = createReferenceDriver(sim),
      off = createReferenceDriver(sim, { cacheCoherent: false });
    expect([0, 1, 2, 3].map((c) => on.capable(c))).toEqual([true, true, false, false]);
    expect([0, 1, 2].map((c) => off.capable(c))).toEqual([false, true, false]);
  });

  it('test_ref_dma_fault_without_domain: logged with domain -1', () => {
    const sim = sim1();
    const drv = createReferenceDriver(sim);
    const dev = drv.probeDevice();
    expect(drv.dma(dev, 5, 1, 'write')).toBe(false);
    expect(drv.faults()).toEqual([{ deviceId: dev, domainId: -1, iova: 5, write: true, reason: 'no-domain' }]);
  });

  it('test_ref_dma_iotlb_fill_covers_the_leaf: frame 0 translates, a 2 MiB leaf is one IOTLB entry at its own frames', () => {
    const sim = sim1();
    const drv = createReferenceDriver(sim);
    const dom = drv.domainAlloc();
    const dev = drv.probeDevice();
    drv.attachDevice(dom, dev);
    iommuMap(dom, 7, 0, 1, RW); // frame 0 is a frame like any other
    expect(drv.dma(dev, 7, 1, 'read')).toBe(true);
    const pfn = 512 * 9;
    iommuMap(dom, 1024, pfn, 512, RW); // one 2 MiB leaf
    const walks = count(sim, 'walkLevels');
    expect(drv.dma(dev, 1024 + 5, 1, 'write')).toBe(true); // walks, fills the leaf's entry
    expect(count(sim, 'walkLevels')).toBe(walks + 4);
    expect(drv.dma(dev, 1024 + 300, 2, 'write')).toBe(true); // IOTLB hits: no walk
    expect(count(sim, 'walkLevels')).toBe(walks + 4);
    expect([...sim.mem.dmaWritten.keys()].sort((x, y) => x - y)).toEqual([pfn + 5, pfn + 300, pfn + 301]);
    expect(drv.faults()).toEqual([]);
  });
});

describe('core timeline', () => {
  it('test_core_timeline_component: the core entries, then the VT-d ones', () => {
    expect(CORE_TIMELINE[0]!.component).toBe('iommu-core');
    expect(new Set(CORE_TIMELINE.map((e) => e.component))).toEqual(new Set(['iommu-core', 'intel-iommu']));
  });
});
