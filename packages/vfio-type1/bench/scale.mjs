// node bench/scale.mjs [GiB] [backing] [profile]: wall time of one MAP_DMA + UNMAP_DMA of a whole guest.
import { createSim, createReferenceDriver } from '@x/iommu-core';
import { Host, PROFILES } from '../dist/index.js';

const USAGE = `usage: node bench/scale.mjs [GiB] [backing] [profile]   (defaults: 64 thp v4.17)
  GiB      guest size in GiB, a whole number from 1 to 16384
  backing  4k | thp | hugetlb-2m | hugetlb-1g | fragmented
  profile  ${Object.keys(PROFILES).join(' | ')}`;
const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}
function usage(msg) {
  console.error(`bench/scale.mjs: ${msg}\n${USAGE}`);
  process.exit(2);
}
if (args.length > 3) usage(`too many arguments: ${args.slice(3).join(' ')}`);
const [gbArg = '64', backing = 'thp', profile = 'v4.17'] = args;
if (!/^[1-9]\d*$/.test(gbArg) || Number(gbArg) > 16384) usage(`GiB '${gbArg}': want a whole number from 1 to 16384`);
if (!['4k', 'thp', 'hugetlb-2m', 'hugetlb-1g', 'fragmented'].includes(backing))
  usage(`backing '${backing}': want 4k, thp, hugetlb-2m, hugetlb-1g or fragmented`);
if (!Object.keys(PROFILES).includes(profile)) usage(`profile '${profile}': want ${Object.keys(PROFILES).join(', ')}`);
const GB = BigInt(gbArg);
const sim = createSim({ memory: (GB + 2n) << 30n, seed: 1 });
const drv = createReferenceDriver(sim, { release: profile });
const host = new Host(sim);
const g = host.addGroup(drv);
const proc = host.spawn({});
let t = performance.now();
const va = proc.mmap(GB << 30n, { backing });
const tMmap = performance.now() - t;
const c = host.openContainer(proc, { profile });
c.addGroup(g);
c.setIommu(3);
t = performance.now();
c.mapDma({ vaddr: va, iova: 1n << 32n, size: GB << 30n, flags: 3 }); // above the x86 MSI window
const tMap = performance.now() - t;
t = performance.now();
c.unmapDma({ iova: 1n << 32n, size: GB << 30n });
const tUnmap = performance.now() - t;
const st = c.stats();
c.close();
console.log(
  `${GB} GiB ${backing} ${profile}: mmap ${tMmap.toFixed(0)} ms, map ${tMap.toFixed(0)} ms, unmap ${tUnmap.toFixed(0)} ms, ` +
    `chunks ${st.mapChunks}, syncs ${st.syncs}, violations ${sim.violations.length}, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
);
