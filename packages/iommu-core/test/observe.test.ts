// The probe points (sim.observe): exact event sequences of a map, an unmap and a sync, the gathered
// range a sync reports, unsubscribing, and the frozen ops that keep run-time patching out.
import { afterEach, describe, expect, it } from 'vitest';
import {
  IOMMU_FAULT_READ,
  IOMMU_FAULT_WRITE,
  IOMMU_READ,
  SZ_2M,
  SZ_4K,
  createIotlbGather,
  iommuFlushIotlbAll,
  iommuMap,
  iommuTlbSync,
  iommuUnmap,
  iommuUnmapFast,
  type IommuDomain,
  type IommuObserver,
} from '../src/index.js';
import { PT_IOMMU_MODEL_OPS } from '../src/internals.js';
import { RW, expectClean, makeHarness, type Harness } from './harness.js';

type Ev = [string, ...(number | string)[]];

/** An observer implementing every hook, logging each call with the domain as its id. */
function recorder(out: Ev[]): IommuObserver {
  const d = (dom: IommuDomain): string => `dom${dom.id}`;
  return {
    map: (dom, iova, pfn, npages) => {
      out.push(['map', d(dom), iova, pfn, npages]);
    },
    unmap: (dom, iova, npages, unmapped) => {
      out.push(['unmap', d(dom), iova, npages, unmapped]);
    },
    mapPagesBegin: (dom, iova, pfn, order, count, prot) => {
      out.push(['mapPagesBegin', d(dom), iova, pfn, order, count, prot]);
    },
    mapPagesEnd: (dom, iova, pfn, order, count, ret, mapped) => {
      out.push(['mapPagesEnd', d(dom), iova, pfn, order, count, ret, mapped]);
    },
    unmapPagesBegin: (dom, iova, order, count) => {
      out.push(['unmapPagesBegin', d(dom), iova, order, count]);
    },
    unmapPagesEnd: (dom, iova, order, count, unmapped) => {
      out.push(['unmapPagesEnd', d(dom), iova, order, count, unmapped]);
    },
    iotlbSyncBegin: (dom, start, last) => {
      out.push(['iotlbSyncBegin', d(dom), start, last]);
    },
    iotlbSyncEnd: (dom) => {
      out.push(['iotlbSyncEnd', d(dom)]);
    },
    flushIotlbAllBegin: (dom) => {
      out.push(['flushIotlbAllBegin', d(dom)]);
    },
    flushIotlbAllEnd: (dom) => {
      out.push(['flushIotlbAllEnd', d(dom)]);
    },
    ioPageFault: (dev, domainId, iova, flags) => {
      out.push(['ioPageFault', dev, domainId, iova, flags]);
    },
    pin: (pfn, npages) => {
      out.push(['pin', pfn, npages]);
    },
    unpin: (pfn, npages) => {
      out.push(['unpin', pfn, npages]);
    },
  };
}

let h: Harness;
afterEach(() => expectClean(h));

describe('iommu_observe', () => {
  it('test_observe_map_unmap_sync: every probe point of a map and a synced unmap, in order, with its fields', () => {
    h = makeHarness({ release: 'mainline', pgsizeBitmap: SZ_4K | SZ_2M });
    const ev: Ev[] = [];
    h.sim.observe(recorder(ev));
    const pfn = h.sim.mem.allocFrames(1024, { align: 512 }) + 510;
    // iova and pfn both 2 pages below a 2 MiB boundary: 2 x 4K, then one 2M leaf (order 21)
    iommuMap(h.dom, 510, pfn, 514, RW);
    expect(ev).toEqual([
      ['mapPagesBegin', 'dom1', 510, pfn, 12, 2, RW],
      ['mapPagesEnd', 'dom1', 510, pfn, 12, 2, 0, 2],
      ['mapPagesBegin', 'dom1', 512, pfn + 2, 21, 1, RW],
      ['mapPagesEnd', 'dom1', 512, pfn + 2, 21, 1, 0, 512],
      ['map', 'dom1', 510, pfn, 514],
    ]);
    ev.length = 0;
    // one page of the 2M leaf asked: the driver removes the whole leaf, the sync covers it
    expect(iommuUnmap(h.dom, 512, 1)).toBe(512);
    expect(iommuUnmap(h.dom, 510, 2)).toBe(2);
    expect(ev).toEqual([
      ['unmapPagesBegin', 'dom1', 512, 12, 1],
      ['unmapPagesEnd', 'dom1', 512, 12, 1, 512],
      ['unmap', 'dom1', 512, 1, 512],
      ['iotlbSyncBegin', 'dom1', 512, 1023],
      ['iotlbSyncEnd', 'dom1'],
      ['unmapPagesBegin', 'dom1', 510, 12, 2],
      ['unmapPagesEnd', 'dom1', 510, 12, 2, 2],
      ['unmap', 'dom1', 510, 2, 2],
      ['iotlbSyncBegin', 'dom1', 510, 511],
      ['iotlbSyncEnd', 'dom1'],
    ]);
    h.sim.mem.freeFrames(pfn - 510, 1024);
  });

  it('test_observe_sync_range: a sync reports the union of its gather and the domain pending range', () => {
    h = makeHarness({ release: 'mainline' });
    const pfn = h.sim.mem.allocFrames(8);
    iommuMap(h.dom, 0, pfn, 4, RW);
    iommuMap(h.dom, 100, pfn + 4, 2, RW);
    const ev: Ev[] = [];
    h.sim.observe(recorder(ev));
    const g = createIotlbGather();
    expect(iommuUnmapFast(h.dom, 0, 4)).toBe(4); // no gather: the domain's pending range
    expect(iommuUnmapFast(h.dom, 100, 2, g)).toBe(2);
    iommuTlbSync(h.dom, g);
    iommuTlbSync(h.dom); // nothing left gathered: start > last
    iommuFlushIotlbAll(h.dom);
    expect(ev).toEqual([
      ['unmapPagesBegin', 'dom1', 0, 12, 4],
      ['unmapPagesEnd', 'dom1', 0, 12, 4, 4],
      ['unmap', 'dom1', 0, 4, 4],
      ['unmapPagesBegin', 'dom1', 100, 12, 2],
      ['unmapPagesEnd', 'dom1', 100, 12, 2, 2],
      ['unmap', 'dom1', 100, 2, 2],
      ['iotlbSyncBegin', 'dom1', 0, 101],
      ['iotlbSyncEnd', 'dom1'],
      ['iotlbSyncBegin', 'dom1', Infinity, -1],
      ['iotlbSyncEnd', 'dom1'],
      ['flushIotlbAllBegin', 'dom1'],
      ['flushIotlbAllEnd', 'dom1'],
    ]);
    h.sim.mem.freeFrames(pfn, 8);
  });

  it('test_observe_unmap_2018: before the gather, iommu_unmap traced after its sync', () => {
    // v4.17 VT-d, its flushes deferred to iotlb_sync as AMD's were; the core is told every power of two
    h = makeHarness({ release: 'v4.17', flushOnUnmap: false });
    const pfn = h.sim.mem.allocFrames(4, { align: 4 });
    iommuMap(h.dom, 8, pfn, 4, RW);
    const ev: Ev[] = [];
    h.sim.observe(recorder(ev));
    expect(iommuUnmap(h.dom, 8, 4)).toBe(4);
    expect(ev).toEqual([
      ['unmapPagesBegin', 'dom1', 8, 14, 1],
      ['unmapPagesEnd', 'dom1', 8, 14, 1, 4],
      ['iotlbSyncBegin', 'dom1', 8, 11],
      ['iotlbSyncEnd', 'dom1'],
      ['unmap', 'dom1', 8, 4, 4],
    ]);
    h.sim.mem.freeFrames(pfn, 4);
  });

  it('test_observe_failed_map: no map event; the unwind shows as an unmap', () => {
    h = makeHarness({ release: 'mainline', pgsizeBitmap: SZ_4K });
    const pfn = h.sim.mem.allocFrames(3);
    const ev: Ev[] = [];
    h.sim.observe(recorder(ev));
    h.sim.faults.arm('map', 1); // the first map_pages is refused before the driver runs
    expect(() => iommuMap(h.dom, 0, pfn, 3, RW)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(ev).toEqual([]);
    h.sim.faults.disarm();
    // a driver error: prot without read or write is the driver's -EINVAL, after 0 pages
    expect(() => iommuMap(h.dom, 0, pfn, 3, 0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(ev).toEqual([
      ['mapPagesBegin', 'dom1', 0, pfn, 12, 3, 0],
      ['mapPagesEnd', 'dom1', 0, pfn, 12, 3, -22, 0],
    ]);
    h.sim.mem.freeFrames(pfn, 3);
  });

  it('test_observe_pin_unpin: PhysMem pin and unpin, not a pin the fault injector refused', () => {
    h = makeHarness();
    const ev: Ev[] = [];
    h.sim.observe(recorder(ev));
    const pfn = h.sim.mem.allocFrames(4);
    expect(h.sim.mem.pin(pfn, 4)).toBe(true);
    h.sim.faults.arm('pin', 1);
    expect(h.sim.mem.pin(pfn, 4)).toBe(false);
    h.sim.mem.unpin(pfn + 1, 3);
    h.sim.mem.unpin(pfn, 1);
    expect(ev).toEqual([
      ['pin', pfn, 4],
      ['unpin', pfn + 1, 3],
      ['unpin', pfn, 1],
    ]);
    h.sim.mem.freeFrames(pfn, 4);
  });

  it('test_observe_hooks_read_at_subscribe: each probe reaches the observers implementing it then, in order', () => {
    h = makeHarness();
    const ev: string[] = [];
    const late: IommuObserver = { unpin: () => ev.push('late.unpin') };
    h.sim.observe({ pin: () => ev.push('a.pin') });
    h.sim.observe(late);
    h.sim.observe({ pin: () => ev.push('c.pin'), unpin: () => ev.push('c.unpin') });
    // a hook added after subscribing is not called: the probe points' lists were taken at subscribe
    late.pin = () => ev.push('late.pin');
    const pfn = h.sim.mem.allocFrames(1);
    h.sim.mem.pin(pfn, 1);
    h.sim.mem.unpin(pfn, 1);
    expect(ev).toEqual(['a.pin', 'c.pin', 'late.unpin', 'c.unpin']);
    h.sim.mem.freeFrames(pfn, 1);
  });

  it('test_observe_io_page_fault: the reference driver reports a device fault (first faulting page only)', () => {
    h = makeHarness({ release: 'mainline' });
    const dev = h.drv.probeDevice();
    h.drv.attachDevice(h.dom, dev);
    const pfn = h.sim.mem.allocFrames(1);
    iommuMap(h.dom, 0x41, pfn, 1, IOMMU_READ);
    const ev: Ev[] = [];
    h.sim.observe(recorder(ev));
    expect(h.drv.dma(dev, 0x41, 1, 'read')).toBe(true);
    expect(h.drv.dma(dev, 0x40, 4, 'read')).toBe(false); // 0x40 not mapped: stops there
    expect(h.drv.dma(dev, 0x41, 1, 'write')).toBe(false); // mapped read-only
    expect(ev).toEqual([
      ['ioPageFault', dev, 1, 0x40, IOMMU_FAULT_READ],
      ['ioPageFault', dev, 1, 0x41, IOMMU_FAULT_WRITE],
    ]);
    expect(h.drv.faults().length).toBe(2);
    iommuUnmap(h.dom, 0x41, 1);
    h.sim.mem.freeFrames(pfn, 1);
  });

  it('test_observe_unsubscribe: no events after it, twice is harmless, order of subscription kept', () => {
    h = makeHarness();
    const a: Ev[] = [],
      b: Ev[] = [];
    expect(h.sim.observers.on).toBe(false);
    const offA = h.sim.observe({
      pin: (pfn, n) => {
        a.push(['pin', pfn, n]);
        offA();
      },
    }); // leaves from inside its hook
    const offB = h.sim.observe({
      pin: (pfn, n) => {
        b.push(['pin', pfn, n, a.length]);
      },
    });
    expect([h.sim.observers.on, h.sim.observers.count]).toEqual([true, 2]);
    const pfn = h.sim.mem.allocFrames(2);
    h.sim.mem.pin(pfn, 1);
    h.sim.mem.pin(pfn + 1, 1);
    // B still got the first pin (the emission in progress kept its list), after A
    expect(a).toEqual([['pin', pfn, 1]]);
    expect(b).toEqual([
      ['pin', pfn, 1, 1],
      ['pin', pfn + 1, 1, 1],
    ]);
    offB();
    offB();
    offA();
    expect([h.sim.observers.on, h.sim.observers.count]).toEqual([false, 0]);
    h.sim.mem.pin(pfn, 1);
    iommuMap(h.dom, 0, pfn, 1, RW);
    iommuUnmap(h.dom, 0, 1);
    h.sim.mem.unpin(pfn, 2);
    h.sim.mem.unpin(pfn, 1);
    expect([a.length, b.length]).toEqual([1, 2]);
    h.sim.mem.freeFrames(pfn, 2);
  });

  it('test_observe_bad_observer: TypeError, nothing subscribed', () => {
    h = makeHarness();
    for (const bad of [null, undefined, 5, 'map', () => {}])
      expect(() => h.sim.observe(bad as unknown as IommuObserver)).toThrow(new TypeError('observer must be an object of hooks'));
    // every hook is checked by its own name, whatever the others hold
    const hooks = ['map', 'unmap', 'mapPagesBegin', 'mapPagesEnd', 'unmapPagesBegin', 'unmapPagesEnd', 'iotlbSyncBegin', 'iotlbSyncEnd'];
    hooks.push('flushIotlbAllBegin', 'flushIotlbAllEnd', 'ioPageFault', 'pin', 'unpin');
    for (const k of hooks) {
      const o = { map: () => {}, pin: () => {}, [k]: 1 };
      expect(() => h.sim.observe(o as unknown as IommuObserver)).toThrow(new TypeError(`observer.${k} must be a function`));
    }
    expect([h.sim.observers.on, h.sim.observers.count]).toEqual([false, 0]);
  });

  it('test_observe_same_object_twice: two subscriptions, two removers, each removing one', () => {
    h = makeHarness();
    const pins: number[] = [];
    const o: IommuObserver = { pin: (pfn) => pins.push(pfn) };
    const offA = h.sim.observe(o),
      offB = h.sim.observe(o);
    const pfn = h.sim.mem.allocFrames(1);
    h.sim.mem.pin(pfn, 1);
    expect(pins).toEqual([pfn, pfn]);
    offA();
    offA(); // again: nothing, and above all not the other subscription
    expect(h.sim.observers.count).toBe(1);
    h.sim.mem.pin(pfn, 1);
    expect(pins).toEqual([pfn, pfn, pfn]);
    offB();
    expect([h.sim.observers.on, h.sim.observers.count]).toEqual([false, 0]);
    h.sim.mem.unpin(pfn, 1);
    h.sim.mem.unpin(pfn, 1);
    h.sim.mem.freeFrames(pfn, 1);
  });
});

describe('iommu_no_patching', () => {
  it('test_ops_frozen: a driver ops object, the model hooks and PhysMem methods cannot be replaced', () => {
    h = makeHarness({ release: 'mainline' });
    const ops = h.drv.ops as { mapPages: unknown; iotlbSync?: unknown };
    expect([Object.isFrozen(h.drv.ops), Object.isFrozen(PT_IOMMU_MODEL_OPS), h.dom.model]).toEqual([true, true, PT_IOMMU_MODEL_OPS]);
    expect(() => {
      ops.mapPages = () => 0;
    }).toThrow(TypeError);
    expect(() => {
      ops.iotlbSync = () => {};
    }).toThrow(TypeError);
    expect(() => {
      (PT_IOMMU_MODEL_OPS as { mapBegin: unknown }).mapBegin = () => {};
    }).toThrow(TypeError);
    const mem = h.sim.mem as { unpin: unknown; pin: unknown };
    expect(() => {
      mem.unpin = () => {};
    }).toThrow(TypeError);
    expect(() => {
      mem.pin = () => true;
    }).toThrow(TypeError);
    // a 2018-era driver (its ->unmap flushes; no iotlb ops) too
    const old = makeHarness({ release: 'v4.16' });
    expect([Object.isFrozen(old.drv.ops), old.drv.ops.iotlbSync]).toEqual([true, undefined]);
    expectClean(old);
  });
});
