// One A/B case, run by run.mjs under callgrind: `node case.mjs <tree> <case> <n>` warms up, then
// runs n operations of the case against the built packages of the checkout at <tree>. run.mjs runs
// it for two op counts and takes the difference, so start-up, module loading and warm-up cancel.
import { pathToFileURL } from 'node:url';

const [tree, name, nArg] = process.argv.slice(2);
const n = Number(nArg);
const dist = (pkg) => pathToFileURL(`${tree}/packages/${pkg}/dist/index.js`).href;
const core = await import(dist('iommu-core'));
const RW = 3;

/** A core case: map+unmap pairs on one domain of the reference driver (or of AMD mainline). */
async function corePair(kind, pages, pfnKind) {
  const sim = core.createSim({ memory: 16n << 30n, seed: 1 });
  let drv;
  if (kind === 'amd') drv = (await import(dist('amd-iommu'))).createAmdIommu(sim, { profile: 'mainline' });
  else drv = core.createReferenceDriver(sim, { pgsizeBitmap: core.SZ_4K | core.SZ_2M | core.SZ_1G });
  const dom = drv.domainAlloc();
  drv.attachDevice(dom, kind === 'amd' ? 0x100 : 1);
  const span = Math.max(1024, pages);
  const pfns = sim.mem.allocFrames(pfnKind === 'aligned' ? pages * 64 : 64 * 1024, { align: pfnKind === 'aligned' ? pages : 1 });
  const base = 0x100000;
  return (i) => {
    const k = i & 63,
      iova = base + k * span,
      pfn = pfnKind === 'aligned' ? pfns + k * pages : pfns + 1 + k * 1024;
    core.iommuMap(dom, iova, pages === 1 ? pfns + k : pfn, pages, RW);
    core.iommuUnmap(dom, iova, pages);
  };
}

/** A VFIO case: MAP_DMA + UNMAP_DMA of 1 GiB through vfio-type1 on the reference driver (pnpm bench's op). */
async function vfioOp(profile, backing) {
  const { Host, VFIO_TYPE1v2_IOMMU } = await import(dist('vfio-type1'));
  const GiB = 1n << 30n;
  const sim = core.createSim({ memory: 4n * GiB, seed: 1 });
  const drv = core.createReferenceDriver(sim, { release: profile, flushOnUnmap: false });
  const host = new Host(sim);
  const g = host.addGroup(drv, { devices: 1 });
  const proc = host.spawn({});
  const vaddr = proc.mmap(GiB, { backing });
  const c = host.openContainer(proc, { profile });
  c.addGroup(g);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  return () => {
    c.mapDma({ vaddr, iova: 0n, size: GiB, flags: RW });
    c.unmapDma({ iova: 0n, size: GiB });
  };
}

const CASES = {
  'core ref 4K': () => corePair('ref', 1, 'any'),
  'core ref 256x4K': () => corePair('ref', 256, 'any'),
  'core ref 2M': () => corePair('ref', 512, 'aligned'),
  'core amd 256x4K': () => corePair('amd', 256, 'any'),
  'core amd 64K': () => corePair('amd', 16, 'aligned'),
  'core amd 2M': () => corePair('amd', 512, 'aligned'),
  'vfio 4k mainline': () => vfioOp('mainline', '4k'),
  'vfio 4k fast': () => vfioOp('v4.17', '4k'),
  'vfio thp mainline': () => vfioOp('mainline', 'thp'),
  'vfio thp fast': () => vfioOp('v4.17', 'thp'),
};

const make = CASES[name];
if (make === undefined || !Number.isInteger(n) || n < 0) {
  console.error(`case.mjs: usage: node case.mjs <tree> <${Object.keys(CASES).join(' | ')}> <n>`);
  process.exit(2);
}
const op = await make();
const warm = name.startsWith('vfio') ? 2 : 30000;
for (let i = 0; i < warm; i++) op(i);
for (let i = 0; i < n; i++) op(i);
