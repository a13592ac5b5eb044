// The README's usage example: map a 2 MiB page, let a device DMA through it, unmap it
// with the fast API, and watch the safety checker catch an unpin before the sync.
import {
  createSim, createReferenceDriver, createIotlbGather, iommuMap, iommuUnmap, iommuUnmapFast, iommuTlbSync,
  iommuIovaToPhys, iommuPgsize, backingPfn, IOMMU_READ, IOMMU_WRITE, SZ_4K, SZ_2M, SZ_1G,
} from '@x/iommu-core';

const sim = createSim({ memory: 64n << 30n, backing: 'thp', seed: 1 });
const drv = createReferenceDriver(sim, { pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G });
const dom = drv.domainAlloc();
drv.attachDevice(dom, 1);

const pfn = backingPfn(sim.mem.allocBacking(512, 'thp'), 0);   // one THP-backed 2 MiB user page
sim.mem.pin(pfn, 512);
console.log('page size chosen:', 2 ** iommuPgsize(dom, 0x100000, pfn, 512) / 1024, 'KiB');
iommuMap(dom, 0x100000, pfn, 512, IOMMU_READ | IOMMU_WRITE);
console.log('iova_to_phys(0x100003) - pfn =', iommuIovaToPhys(dom, 0x100003) - pfn);
console.log('dma write ok:', drv.dma(1, 0x100000, 8, 'write'));

const g = createIotlbGather();
console.log('unmap_fast of 1 page removed', iommuUnmapFast(dom, 0x100000, 1, g), 'pages');
console.log('device still reaches the page through the IOTLB:', drv.dma(1, 0x100000, 1, 'read'));
sim.mem.unpin(pfn, 1);                                      // too early: the sync has not run
console.log('violation:', sim.violations[0]);
iommuTlbSync(dom, g);
sim.mem.unpin(pfn + 1, 511);
console.log('after sync, dma ok:', drv.dma(1, 0x100000, 1, 'read'), drv.faults().at(-1));
const c = sim.counters;
console.log({ pteWrites: c.pteWrites, tableAllocs: c.tableAllocs, iotlbSyncs: c.iotlbSyncs, iotlbFlushes: c.iotlbFlushes,
  completionWaits: c.completionWaits, pins: c.pins, unpins: c.unpins, modeledNs: sim.clock.now });
console.log('iommu_unmap of nothing:', iommuUnmap(dom, 0x100000, 512));
