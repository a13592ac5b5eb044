// iommu_domain_free(): a second free, a freed domain through the core API and through the driver's
// own calls, freeing with devices attached, and DomainIDs after a free.
// Regression for the TypeScript-user API review (item 1: double free shares tables between domains).
import { describe, expect, it } from 'vitest';
import {
  IOMMU_DOMAIN_BLOCKED,
  IOMMU_DOMAIN_UNMANAGED,
  IOMMU_READ,
  IommuError,
  createIotlbGather,
  iommuIovaToPhys,
  iommuMap,
  iommuTlbRangeAdd,
  iommuTlbSync,
  iommuUnmap,
  iommuUnmapFast,
} from '@x/iommu-core';
import type { AmdDomain, AmdProfileName } from '../src/index.js';
import { DEV, RW, cmdDelta, expectCountersMatchRing, setup } from './helpers.js';

const errOf = (fn: () => unknown): IommuError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof IommuError) return e;
    throw e;
  }
  throw new Error('no error');
};
const PROFILES: readonly AmdProfileName[] = ['v4.16', 'v4.17', 'mainline'];

describe.each(PROFILES)('amd_iommu_domain_free profile=%s', (profile) => {
  it('test_domain_free_twice', () => {
    const f = setup({ profile }, false);
    const tables = f.sim.mem.tables;
    expect(tables.inUse).toBe(1); // f.dom's root (mode 3)
    const a = f.amd.domainAlloc();
    expect(tables.inUse).toBe(2);
    f.amd.domainFree(a);
    expect(tables.inUse).toBe(1);
    const frees = f.sim.counters.tableFrees;
    const e = errOf(() => f.amd.domainFree(a));
    expect([e.code, e.errno, e.syscall, e.message]).toEqual([
      'EINVAL',
      -22,
      'iommu_domain_free',
      `EINVAL: domain ${a.id} was freed, iommu_domain_free`,
    ]);
    expect(tables.inUse).toBe(1); // nothing freed twice
    expect(f.sim.counters.tableFrees).toBe(frees);
    // the report: b and c used to get the same root (a's root was on the free list twice)
    const b = f.amd.domainAlloc() as AmdDomain,
      c = f.amd.domainAlloc() as AmdDomain;
    expect(b.pt.root).not.toBe(c.pt.root);
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(b, 7, pfn, 1, IOMMU_READ);
    expect(iommuIovaToPhys(b, 7)).toBe(pfn);
    expect(iommuIovaToPhys(c, 7)).toBe(-1);
    expect(f.amd.readPte(c, 7)).toBeNull();
    expect(tables.inUse).toBe(1 + 3 + 1); // f.dom; b: levels 2, 1, 0; c: root
    iommuUnmap(b, 7, 1);
    f.amd.domainFree(b);
    f.amd.domainFree(c);
    f.amd.domainFree(f.dom);
    expect(tables.inUse).toBe(0);
    expect(f.sim.violations).toEqual([]);
  });

  it('test_domain_free_core_api', () => {
    const f = setup({ profile }, false);
    const pfn = f.sim.mem.allocFrames(16, { align: 16 });
    iommuMap(f.dom, 0x1000, pfn, 16, RW);
    f.amd.domainFree(f.dom);
    expect(f.dom.type).toBe(IOMMU_DOMAIN_BLOCKED); // the paging type is cleared
    const inUse = f.sim.mem.tables.inUse,
      counters = { ...f.sim.counters },
      cmds = f.amd.commands();
    expect(inUse).toBe(0);
    const e = errOf(() => iommuMap(f.dom, 0x1000, pfn, 16, RW));
    expect([e.code, e.errno, e.syscall, e.message]).toEqual(['EINVAL', -22, 'iommu_map', 'EINVAL: not a paging domain, iommu_map']);
    expect(iommuIovaToPhys(f.dom, 0x1000)).toBe(-1);
    expect(iommuUnmap(f.dom, 0x1000, 16)).toBe(0);
    expect(iommuUnmapFast(f.dom, 0x1000, 16)).toBe(0);
    iommuTlbRangeAdd(f.dom, 0x1000, 16);
    iommuTlbSync(f.dom);
    const g = createIotlbGather();
    expect(iommuUnmapFast(f.dom, 0x1000, 16, g)).toBe(0);
    iommuTlbSync(f.dom, g);
    // the ops themselves refuse it too (callers below the core API)
    expect(f.dom.ops.mapPages(f.dom, 0x1000, pfn, 12, 1, RW)).toBe(-22);
    expect(f.dom.ops.unmapPages(f.dom, 0x1000, 12, 1, null)).toBe(0);
    expect(f.dom.ops.iovaToPhys(f.dom, 0x1000)).toBe(-1);
    expect(f.dom.model!.mappedPages(f.dom)).toBe(0);
    expect(f.sim.mem.tables.inUse).toBe(0); // was -3 in the report
    expect(f.sim.counters.tableAllocs).toBe(counters.tableAllocs);
    expect(f.sim.counters.tableFrees).toBe(counters.tableFrees);
    expect(f.sim.counters.pteWrites).toBe(counters.pteWrites);
    expect(cmdDelta(f.amd, cmds)).toEqual({}); // no commands for a dead domain
    expect(f.sim.violations).toEqual([]);
  });

  it('test_domain_free_driver_calls', () => {
    const f = setup({ profile }, false);
    f.amd.domainFree(f.dom);
    const cmds = f.amd.commands(),
      dte = f.amd.hw.devtab.read(DEV);
    const calls: [string, () => unknown][] = [
      ['readPte', () => f.amd.readPte(f.dom, 0)],
      ['mode', () => f.amd.mode(f.dom)],
      ['iommu_attach_device', () => f.amd.attachDevice(f.dom, DEV)],
      ['iommu_detach_device', () => f.amd.detachDevice(f.dom, DEV)],
      ['iommu_domain_free', () => f.amd.domainFree(f.dom)],
    ];
    for (const [syscall, fn] of calls) {
      const e = errOf(fn);
      expect([e.code, e.errno, e.syscall, e.message]).toEqual(['EINVAL', -22, syscall, `EINVAL: domain ${f.dom.id} was freed, ${syscall}`]);
    }
    expect(f.amd.deviceDomain(DEV)).toBeNull();
    expect(f.amd.hw.devtab.read(DEV)).toEqual(dte);
    expect(cmdDelta(f.amd, cmds)).toEqual({});
    // the device still gets a domain of its own
    const d2 = f.amd.domainAlloc();
    f.amd.attachDevice(d2, DEV);
    expect(f.amd.deviceDomain(DEV)).toBe(d2);
  });

  it('test_domain_free_attached_ebusy', () => {
    const f = setup({ profile });
    const pfn = f.sim.mem.allocFrames(1);
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    const inUse = f.sim.mem.tables.inUse,
      cmds = f.amd.commands();
    const e = errOf(() => f.amd.domainFree(f.dom));
    expect([e.code, e.errno, e.syscall, e.message]).toEqual([
      'EBUSY',
      -16,
      'iommu_domain_free',
      `EBUSY: domain ${f.dom.id} still has 1 device(s), iommu_domain_free`,
    ]);
    // nothing was freed or flushed: the domain and its device work as before
    expect(f.dom.type).toBe(IOMMU_DOMAIN_UNMANAGED);
    expect(f.sim.mem.tables.inUse).toBe(inUse);
    expect(cmdDelta(f.amd, cmds)).toEqual({});
    expect(iommuIovaToPhys(f.dom, 0x10)).toBe(pfn);
    expect(f.amd.dma(DEV, 0x10, 1, 'write')).toBe(true);
    f.amd.detachDevice(f.dom, DEV);
    iommuUnmap(f.dom, 0x10, 1);
    f.amd.domainFree(f.dom);
    expect(f.sim.mem.tables.inUse).toBe(0);
    expectCountersMatchRing(f);
  });

  it('test_domain_free_foreign_domain', () => {
    const f = setup({ profile }, false),
      g = setup({ profile }, false);
    const e = errOf(() => f.amd.domainFree(g.dom));
    expect([e.code, e.syscall, e.message]).toEqual([
      'EINVAL',
      'iommu_domain_free',
      'EINVAL: domain belongs to another IOMMU, iommu_domain_free',
    ]);
    expect(g.dom.type).toBe(IOMMU_DOMAIN_UNMANAGED);
    expect(g.sim.mem.tables.inUse).toBe(1);
  });
});

describe('amd_iommu DomainIDs after a free', () => {
  it('test_domain_free_domain_id_not_reused', () => {
    // v4.17 detach only waits (no domain flush), so the IOTLB still holds entries tagged with the
    // DomainID; the free drops them, and the DomainID is never handed out again (the sim's counter)
    const f = setup({ profile: 'v4.17' });
    const pfn = f.sim.mem.allocFrames(1),
      id = f.dom.id;
    iommuMap(f.dom, 0x10, pfn, 1, RW);
    expect(f.amd.dma(DEV, 0x10, 1, 'read')).toBe(true);
    f.amd.detachDevice(f.dom, DEV);
    expect(f.amd.hw.iotlb.used).toBe(1);
    f.amd.domainFree(f.dom);
    expect(f.amd.hw.iotlb.used).toBe(0);
    expect(f.amd.hw.iotlb.lookup(id, 0x10)).toBe(false);
    const ids = [id];
    for (let i = 0; i < 4; i++) {
      const d = f.amd.domainAlloc();
      ids.push(d.id);
      f.amd.domainFree(d);
    }
    expect(ids).toEqual([id, id + 1, id + 2, id + 3, id + 4]);
    // a new domain on the device sees none of the old domain's translations
    const d = f.amd.domainAlloc();
    f.amd.attachDevice(d, DEV);
    expect(f.amd.dma(DEV, 0x10, 1, 'read')).toBe(false);
    expect(f.amd.eventLog().map((ev) => [ev.type, ev.domainId, ev.iova])).toEqual([['IO_PAGE_FAULT', id + 5, 0x10]]);
  });
});
