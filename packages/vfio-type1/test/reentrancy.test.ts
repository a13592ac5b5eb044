// Two containers in one process, one entered from inside the other's ioctl: container A's driver
// calls container B while A is half way through its unmap (or map) loop. Each container serialises
// its own calls (the kernel's iommu->lock), but two containers are independent, so A's loop state
// (the region queue, its count, `unlocked`, the pin's out-parameters) must not be shared with B's.
import { afterEach, describe, expect, it } from 'vitest';
import { createReferenceDriver, iommuIovaToPhys, type IommuDomain } from '@x/iommu-core';
import { VFIO_TYPE1v2_IOMMU, type Container, type UnmapPath } from '../src/index.js';
import { K4, RW, domOf, expectCleanClose, makeEnv, type Env } from './helpers.js';

let e: Env | undefined;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
  e = undefined;
});

/** A: n scattered 4 KiB pages at IOVA 0 (n regions); B: a second container, on its own driver, with m. */
function twoContainers(unmapPath: UnmapPath, n: number, m: number): { env: Env; b: Container } {
  const env = makeEnv({ profile: 'v4.17', unmapPath, memory: 2n << 30n });
  const drvB = createReferenceDriver(env.sim, { release: 'v4.17', name: 'refB' });
  const b = env.host.openContainer(env.proc, { profile: 'v4.17', unmapPath });
  b.addGroup(env.host.addGroup(drvB, { devices: 1 }));
  b.setIommu(VFIO_TYPE1v2_IOMMU);
  const vaA = env.proc.mmap(BigInt(n) * K4, { backing: '4k' });
  const vaB = env.proc.mmap(BigInt(m) * K4, { backing: '4k' });
  env.c.mapDma({ vaddr: vaA, iova: 0n, size: BigInt(n) * K4, flags: RW });
  b.mapDma({ vaddr: vaB, iova: 0n, size: BigInt(m) * K4, flags: RW });
  return { env, b };
}

/** Runs `call` from inside A's k-th ->name (1-based; counted on A's driver only), once; returns the unsubscribe. */
function onOp(env: Env, name: 'unmapPages' | 'mapPages', k: number, call: () => void): () => void {
  let n = 0;
  const at = (dom: IommuDomain): void => {
    if (dom.ops === env.drv.ops && ++n === k) call();
  };
  return env.sim.observe(name === 'unmapPages' ? { unmapPagesBegin: at } : { mapPagesBegin: at });
}

describe.each<UnmapPath>(['slow', 'fast', 'mainline'])('reentrancy path=%s', (unmapPath) => {
  it('test_two_containers_interleave_unmap', () => {
    // A has 1300 regions: B's whole UNMAP_DMA (100 regions, its own queue and sync) runs from inside
    // A's 600th ->unmap, when A has 87 regions queued since its sync at 512
    const { env, b } = twoContainers(unmapPath, 1300, 100);
    e = env;
    let bSize = -1n;
    const undo = onOp(env, 'unmapPages', 600, () => {
      bSize = b.unmapDma({ iova: 0n, size: 100n * K4 }).size;
    });
    expect(env.c.unmapDma({ iova: 0n, size: 1300n * K4 })).toEqual({ size: 1300n * K4 });
    undo();
    expect(bSize).toBe(100n * K4);
    const a = env.c.stats(),
      s = b.stats();
    expect([a.unmapChunks, a.regionsPerUnmap, a.regionsPerUnmapUnpin, a.unpins]).toEqual([1300, { 1300: 1 }, { 1300: 1 }, 1300]);
    expect([s.unmapChunks, s.regionsPerUnmap, s.regionsPerUnmapUnpin, s.unpins]).toEqual([100, { 100: 1 }, { 100: 1 }, 100]);
    if (unmapPath === 'slow') {
      expect([a.syncs, s.syncs, a.peakQueuedRegions]).toEqual([1300, 100, 0]);
    } else {
      expect([a.syncs, a.regionsPerSync, a.peakQueuedRegions]).toEqual([3, { 512: 2, 276: 1 }, 512]);
      expect([s.syncs, s.regionsPerSync, s.peakQueuedRegions]).toEqual([1, { 100: 1 }, 100]);
    }
    expect(env.sim.violations).toEqual([]);
    expect([env.proc.lockedVm, env.sim.mem.pinnedPages, env.c.iommu!.pinnedPages, b.iommu!.pinnedPages]).toEqual([0, 0, 0, 0]);
    b.close();
  });

  it('test_two_containers_interleave_map', () => {
    // B maps and unmaps from inside A's 300th ->map_pages: A's pinned run (first pfn, folio order)
    // is read back after the map, so B's pin must not overwrite it
    const { env, b } = twoContainers(unmapPath, 8, 8);
    e = env;
    const vaB = env.proc.mmap(64n * K4, { backing: '4k' });
    const vaA = env.proc.mmap(1000n * K4, { backing: '4k' });
    const undo = onOp(env, 'mapPages', 300, () => {
      b.mapDma({ vaddr: vaB, iova: 1n << 30n, size: 64n * K4, flags: RW });
      b.unmapDma({ iova: 1n << 30n, size: 64n * K4 });
    });
    env.c.mapDma({ vaddr: vaA, iova: 1n << 30n, size: 1000n * K4, flags: RW });
    undo();
    const pageA = Number(vaA >> 12n);
    for (let i = 0; i < 1000; i += 37) expect(iommuIovaToPhys(domOf(env), (1 << 18) + i)).toBe(env.proc.pfnOf(pageA + i));
    expect(env.c.mappings()[1]).toEqual({ iova: 1n << 30n, vaddr: vaA, size: 1000n * K4, prot: RW, lockedPages: 1000 });
    expect([env.c.stats().pins, b.stats().pins, b.stats().unpins]).toEqual([1008, 72, 64]);
    expect(env.proc.lockedVm).toBe(1008 + 8);
    expect(env.sim.violations).toEqual([]);
    b.close();
  });
});
