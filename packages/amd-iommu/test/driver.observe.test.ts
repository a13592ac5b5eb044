// The sim's probe points on AMD-Vi per era: v4.17's sync is flush_iotlb_all (nested in the sync's
// events), mainline's flushes the gathered range, v4.16 flushes inside ->unmap (no sync op at all);
// an IO_PAGE_FAULT is reported as io_page_fault; the driver's ops object is frozen in every era,
// so nobody patches it.
import { describe, expect, it } from 'vitest';
import { IOMMU_FAULT_WRITE, iommuMap, iommuUnmap, type IommuDomain } from '@x/iommu-core';
import type { AmdProfileName } from '../src/index.js';
import { DEV, RW, setup } from './helpers.js';

type Ev = (string | number)[];

const SYNC_EVENTS: Record<AmdProfileName, Ev[]> = {
  'v4.16': [],
  'v4.17': [['iotlbSyncBegin', Infinity, -1], ['flushIotlbAllBegin'], ['flushIotlbAllEnd'], ['iotlbSyncEnd']],
  mainline: [['iotlbSyncBegin', 8, 11], ['iotlbSyncEnd']],
};

describe.each(Object.keys(SYNC_EVENTS) as AmdProfileName[])('amd_iommu_observe profile=%s', (profile) => {
  it('test_observe_unmap_sync', () => {
    const f = setup({ profile });
    const pfn = f.sim.mem.allocFrames(4, { align: 4 });
    const ev: Ev[] = [];
    const mine = (dom: IommuDomain): void => {
      expect(dom).toBe(f.dom);
    };
    const off = f.sim.observe({
      mapPagesEnd: (dom, iova, p, order, count, ret, mapped) => {
        mine(dom);
        ev.push(['mapPagesEnd', iova, p, order, count, ret, mapped]);
      },
      unmapPagesEnd: (dom, iova, order, count, unmapped) => {
        mine(dom);
        ev.push(['unmapPagesEnd', iova, order, count, unmapped]);
      },
      iotlbSyncBegin: (dom, start, last) => {
        mine(dom);
        ev.push(['iotlbSyncBegin', start, last]);
      },
      iotlbSyncEnd: (dom) => {
        mine(dom);
        ev.push(['iotlbSyncEnd']);
      },
      flushIotlbAllBegin: (dom) => {
        mine(dom);
        ev.push(['flushIotlbAllBegin']);
      },
      flushIotlbAllEnd: (dom) => {
        mine(dom);
        ev.push(['flushIotlbAllEnd']);
      },
    });
    // 4 pages at a 16 KiB-aligned IOVA and frame: one 16 KiB leaf (AMD v1 holds every power of two)
    iommuMap(f.dom, 8, pfn, 4, RW);
    expect(iommuUnmap(f.dom, 8, 4)).toBe(4);
    off();
    const sync = SYNC_EVENTS[profile];
    if (sync === undefined) throw new Error(`no expected sync events for ${profile}`);
    expect(ev).toEqual([['mapPagesEnd', 8, pfn, 14, 1, 0, 4], ['unmapPagesEnd', 8, 14, 1, 4], ...sync]);
    f.sim.mem.freeFrames(pfn, 4);
    expect(f.sim.violations).toEqual([]);
  });

  it('test_observe_io_page_fault', () => {
    const f = setup({ profile });
    const ev: Ev[] = [];
    f.sim.observe({
      ioPageFault: (dev, domainId, iova, flags) => {
        ev.push([dev, domainId, iova, flags]);
      },
    });
    expect(f.amd.dma(DEV, 0x123, 1, 'write')).toBe(false);
    expect(ev).toEqual([[DEV, f.dom.id, 0x123, IOMMU_FAULT_WRITE]]);
    expect(f.amd.eventLog().map((e) => [e.type, e.deviceId, e.domainId, e.iova])).toEqual([['IO_PAGE_FAULT', DEV, f.dom.id, 0x123]]);
  });

  it('test_ops_frozen', () => {
    const f = setup({ profile }, false);
    const ops = f.amd.ops as { unmapPages: unknown; flushIotlbAll?: unknown };
    expect(Object.isFrozen(f.amd.ops)).toBe(true);
    expect(f.dom.ops).toBe(f.amd.ops);
    expect(() => {
      ops.unmapPages = () => 0;
    }).toThrow(TypeError);
    expect(() => {
      ops.flushIotlbAll = () => {};
    }).toThrow(TypeError);
  });
});
