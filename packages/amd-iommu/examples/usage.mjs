// The README's usage example (run: node examples/usage.mjs after a build): the 2018 remap bug,
// a replicated 64 KiB page, and a stale IOTLB entry between a fast unmap and its sync.
import {
  createSim, iommuMap, iommuUnmap, iommuUnmapFast, iommuTlbRangeAdd, iommuTlbSync, IommuError, IOMMU_READ, IOMMU_WRITE,
} from '@x/iommu-core';
import { createAmdIommu } from '@x/amd-iommu';

const sim = createSim({ memory: 8n << 30n, seed: 1 });
const amd = createAmdIommu(sim, { profile: 'v4.17', iotlbEntries: 1024 });
const dom = amd.domainAlloc();
amd.attachDevice(dom, 0x0100);                       // writes the DTE: mode 3, root, domain id

// VFIO 2018: map 2 MiB as 4 KiB pages, unmap it, then try it as one 2 MiB page
const pfn = sim.mem.allocFrames(512, { align: 512 });
for (let i = 0; i < 512; i++) iommuMap(dom, 0x200 + i, pfn + i, 1, IOMMU_READ | IOMMU_WRITE);
console.log('unmapped pages:', iommuUnmap(dom, 0x200, 512));
try {
  iommuMap(dom, 0x200, pfn, 512, IOMMU_READ | IOMMU_WRITE);
} catch (err) {
  if (!(err instanceof IommuError)) throw err;         // a caught value is `unknown` in TypeScript
  console.log('2M map:', err.code, err.errno);
}

// a 64 KiB page is 16 replicated NextLevel-7 entries
iommuMap(dom, 0x1000, pfn, 16, IOMMU_READ);
const entry = amd.readPte(dom, 0x1005);                // null when nothing translates the page
if (entry === null) throw new Error('IOVA page 0x1005 is not mapped');
console.log('readPte:', '0x' + entry.pte.toString(16), 'level', entry.level);

// a device reads it (IOTLB miss, walk, fill), then the fast unmap leaves a stale IOTLB entry
console.log('dma read:', amd.dma(0x0100, 0x1000, 16, 'read'));
iommuUnmapFast(dom, 0x1000, 16); iommuTlbRangeAdd(dom, 0x1000, 16);
console.log('dma after unmapFast:', amd.dma(0x0100, 0x1000, 1, 'read'));
iommuTlbSync(dom);                                    // v4.17: whole domain, S=1 PDE=1, + COMPLETION_WAIT
console.log('dma after sync:', amd.dma(0x0100, 0x1000, 1, 'write'));
console.log(amd.eventLog().map((ev) => `${ev.type} dev=0x${ev.deviceId.toString(16)} domain=${ev.domainId} iova=0x${ev.iova.toString(16)} flags=0x${ev.flags.toString(16)}`));
console.log(amd.commands());
const c = sim.counters;
console.log({ completionWaits: c.completionWaits, invalidations: c.invalidations, iotlbHits: c.iotlbHits, iotlbMisses: c.iotlbMisses, walkLevels: c.walkLevels, modeledNs: Math.round(sim.clock.now) });
