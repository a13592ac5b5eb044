// node bench/scale.mjs <GiB> <backing> <profile>: wall time of one MAP_DMA + UNMAP_DMA of a whole guest.
import { createSim, createReferenceDriver } from '@x/iommu-core';
import { Host } from '../dist/index.js';
const GB = BigInt(process.argv[2] ?? 64), backing = process.argv[3] ?? 'thp', profile = process.argv[4] ?? 'v4.16';
const sim = createSim({ memory: (GB + 2n) << 30n, seed: 1 });
const drv = createReferenceDriver(sim);
const host = new Host(sim);
const g = host.addGroup(drv);
const proc = host.spawn({});
let t = performance.now();
const va = proc.mmap(GB << 30n, { backing });
const tMmap = performance.now() - t;
const c = host.openContainer(proc, { profile });
c.addGroup(g); c.setIommu(3);
t = performance.now();
c.mapDma({ vaddr: va, iova: 1n << 32n, size: GB << 30n, flags: 3 });   // above the x86 MSI window
const tMap = performance.now() - t;
t = performance.now();
c.unmapDma({ iova: 1n << 32n, size: GB << 30n });
const tUnmap = performance.now() - t;
const st = c.stats();
c.close();
console.log(`${GB} GiB ${backing} ${profile}: mmap ${tMmap.toFixed(0)} ms, map ${tMap.toFixed(0)} ms, unmap ${tUnmap.toFixed(0)} ms, ` +
  `chunks ${st.mapChunks}, syncs ${st.syncs}, violations ${sim.violations.length}, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
