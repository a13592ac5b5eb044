// A QEMU-like session: container setup, guest RAM + a peer device's BAR mapped, DMA, teardown,
// under the release before the 2018 series, the series itself, and today's.
import { createReferenceDriver, createSim } from '@x/iommu-core';
import {
  Host, PROFILE_NAMES, VFIO_TYPE1v2_IOMMU, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, isVfioError,
} from '@x/vfio-type1';

const RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
const G = 1n << 30n, M = 1n << 20n;
// before the 2018 series, the series, today (typed Profile[], so the strict .mts check passes too)
for (const profile of PROFILE_NAMES.filter((p) => p === 'v4.16' || p === 'v4.17' || p === 'mainline')) {
  const sim = createSim({ memory: 8n * G, seed: 1 });
  const drv = createReferenceDriver(sim, { release: profile }); // VT-d-like: 4K | 2M | 1G, flushing as that release did
  const host = new Host(sim);
  const gpu = host.addGroup(drv, { devices: 1 });
  const dev = gpu.devices[0];                                // number | undefined to a strict checker
  if (dev === undefined) throw new Error('the group has no device');
  const qemu = host.spawn({ memlockLimit: 5n * G, capIpcLock: false });
  const ram = qemu.mmap(4n * G, { backing: 'thp' });        // guest RAM
  const bar = qemu.mmap(16n * M, { backing: 'mmio' });      // a peer device's BAR (P2P)
  const c = host.openContainer(qemu, { profile });
  c.checkExtension(VFIO_TYPE1v2_IOMMU);
  c.addGroup(gpu);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  const info = c.getInfo();
  c.mapDma({ vaddr: ram, iova: 0n, size: 3n * G, flags: RW });              // below 4G
  c.mapDma({ vaddr: ram + 3n * G, iova: 4n * G, size: G, flags: RW });      // above 4G
  c.mapDma({ vaddr: bar, iova: 0xfd000000n, size: 16n * M, flags: RW });    // P2P window
  let msi = 'mapped';
  try {
    c.mapDma({ vaddr: ram, iova: 0xfee00000n, size: 4096n, flags: RW });
  } catch (e) {
    if (!isVfioError(e)) throw e;                            // a bug, not an errno
    msi = `${e.code} (${e.errno})`;
  }
  const ok = drv.dma(dev, 0x100000, 256, 'write');
  const locked = qemu.lockedVm;
  const t0 = sim.clock.now, s0 = sim.counters.iotlbSyncs;
  const freed = [c.unmapDma({ iova: 0n, size: 3n * G }), c.unmapDma({ iova: 4n * G, size: G }),
    c.unmapDma({ iova: 0xfd000000n, size: 16n * M })].reduce((a, r) => a + r.size, 0n);
  const st = c.stats();
  console.log(`${profile}: pgsizes=0x${info.iovaPgsizes.toString(16)} ranges=${info.iovaRanges?.length ?? 'n/a'} ` +
    `dmaAvail=${info.dmaAvail ?? 'n/a'} msi-window=${msi} dma=${ok} lockedVm=${locked} pages`);
  console.log(`  teardown: ${freed / M} MiB unmapped, ${sim.counters.iotlbSyncs - s0} IOTLB syncs, ` +
    `${st.unmapChunks} regions, modeled ${((sim.clock.now - t0) / 1e6).toFixed(2)} ms, lockedVm after=${qemu.lockedVm}`);
  c.close();
  console.log(`  after close: pinned=${sim.mem.pinnedPages} tables=${sim.mem.tables.inUse} violations=${sim.violations.length}`);
}
