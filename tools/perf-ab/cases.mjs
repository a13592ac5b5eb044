// The A/B cases of pnpm bench:ab, one table for both sides: run.mjs reads the names and op counts,
// case.mjs (the process under callgrind) builds and runs the operation against a checkout's dist.
const RW = 3;

/** A core case: map+unmap pairs of `pages` pages on one domain of the reference driver (or of AMD mainline). */
async function corePair(dist, kind, pages, aligned) {
  const core = await import(dist('iommu-core'));
  const sim = core.createSim({ memory: 16n << 30n, seed: 1 });
  const drv =
    kind === 'amd'
      ? (await import(dist('amd-iommu'))).createAmdIommu(sim, { profile: 'mainline' })
      : core.createReferenceDriver(sim, { pgsizeBitmap: core.SZ_4K | core.SZ_2M | core.SZ_1G });
  const dom = drv.domainAlloc();
  drv.attachDevice(dom, kind === 'amd' ? 0x100 : 1);
  const span = Math.max(1024, pages);
  // aligned: each range on its own naturally aligned frames (large leaves); else 4K leaves from frame 1 of a 4 MiB slot
  const pfns = sim.mem.allocFrames(aligned ? pages * 64 : 64 * 1024, { align: aligned ? pages : 1 });
  const pfnOf = aligned ? (k) => pfns + k * pages : pages === 1 ? (k) => pfns + k : (k) => pfns + 1 + k * 1024;
  return (i) => {
    const k = i & 63,
      iova = 0x100000 + k * span;
    core.iommuMap(dom, iova, pfnOf(k), pages, RW);
    core.iommuUnmap(dom, iova, pages);
  };
}

/** A VFIO case: MAP_DMA + UNMAP_DMA of 1 GiB through vfio-type1 on the reference driver (pnpm bench's op). */
async function vfioOp(dist, profile, backing) {
  const core = await import(dist('iommu-core'));
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

const core = (ops, kind, pages, aligned) => ({ ops, warm: 30000, make: (dist) => corePair(dist, kind, pages, aligned) });
const vfio = (ops, profile, backing) => ({ ops, warm: 2, make: (dist) => vfioOp(dist, profile, backing) });

/**
 * name -> { ops: the two op counts run.mjs takes the difference of (enough extra ops that it dwarfs
 * a garbage collection or a late optimisation), warm: ops run first, make(dist): the operation }.
 */
export const CASES = Object.freeze({
  'core ref 4K': core([20000, 100000], 'ref', 1, false),
  'core ref 256x4K': core([5000, 25000], 'ref', 256, false),
  'core ref 2M': core([10000, 50000], 'ref', 512, true),
  'core amd 256x4K': core([5000, 25000], 'amd', 256, false),
  'core amd 64K': core([10000, 50000], 'amd', 16, true),
  'core amd 2M': core([10000, 50000], 'amd', 512, true),
  'vfio 4k mainline': vfio([0, 2], 'mainline', '4k'),
  'vfio 4k fast': vfio([0, 2], 'v4.17', '4k'),
  'vfio thp mainline': vfio([0, 200], 'mainline', 'thp'),
  'vfio thp fast': vfio([0, 200], 'v4.17', 'thp'),
});
