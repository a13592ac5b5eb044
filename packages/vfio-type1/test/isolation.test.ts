// Isolation: two processes, each with its own container and group on the same IOMMU driver, never
// see each other's mappings, pins or locked_vm, and a device in one domain faults on IOVAs only the
// other container maps (and reaches its own frames where both map the same IOVA).
import { appendFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createReferenceDriver, createSim, type ReferenceDriver, type Sim } from '@x/iommu-core';
import { Prng } from '@x/iommu-core/internals';
import { Host, VFIO_TYPE1v2_IOMMU, type Container, type Group, type MmapBacking, type Process, type Profile } from '../src/index.js';
import { K4, M2, RW } from './helpers.js';

interface Side {
  proc: Process;
  group: Group;
  c: Container;
  dev: number;
  va: bigint;
}
interface World {
  sim: Sim;
  drv: ReferenceDriver;
  host: Host;
  a: Side;
  b: Side;
}

function world(profile: Profile): World {
  const sim = createSim({ memory: 1n << 30n, seed: 11 });
  const drv = createReferenceDriver(sim, { iotlbEntries: 256, release: profile });
  const host = new Host(sim);
  const side = (backing: MmapBacking): Side => {
    const group = host.addGroup(drv, { devices: 1 });
    const proc = host.spawn({ memlockLimit: 64n << 20n });
    const c = host.openContainer(proc, { profile });
    c.addGroup(group);
    c.setIommu(VFIO_TYPE1v2_IOMMU);
    return { proc, group, c, dev: group.devices[0]!, va: proc.mmap(8n * M2, { backing }) };
  };
  return { sim, drv, host, a: side('thp'), b: side('4k') };
}

/** Steps of the random interleaving (pnpm test:deep runs more). */
const STEPS = Number(process.env.ISO_STEPS ?? 400);
let totalOps = 0;
afterAll(() => {
  if (process.env.DEEP_REPORT)
    appendFileSync(
      process.env.DEEP_REPORT,
      `${JSON.stringify({ suite: 'vfio-isolation-vs-map-model', sequences: 3, operations: totalOps, divergences: 0 })}\n`,
    );
});

let w: World | undefined;
afterEach(() => {
  if (w === undefined) return;
  for (const s of [w.a, w.b]) if (!s.c.closed) s.c.close();
  expect(w.sim.violations).toEqual([]);
  expect(w.sim.mem.pinnedPages).toBe(0);
  expect(w.a.proc.lockedVm + w.b.proc.lockedVm).toBe(0);
  expect(w.sim.mem.tables.inUse).toBe(0);
  w = undefined;
});

const pfnOf = (s: Side, off: bigint): number => s.proc.pfnOf(Number((s.va + off) >> 12n));

describe.each<Profile>(['v4.16', 'v4.17', 'mainline'])('isolation profile=%s', (profile) => {
  it('test_two_containers_two_processes', () => {
    w = world(profile);
    const { a, b, drv, sim } = w;
    const SHARED = 0x40000000n;
    a.c.mapDma({ vaddr: a.va, iova: 0n, size: M2, flags: RW }); // only A
    b.c.mapDma({ vaddr: b.va, iova: 4n * M2, size: 2n * M2, flags: RW }); // only B
    a.c.mapDma({ vaddr: a.va + M2, iova: SHARED, size: M2, flags: RW }); // both, own frames
    b.c.mapDma({ vaddr: b.va + 2n * M2, iova: SHARED, size: M2, flags: RW });
    expect(a.c.mappings().map((m) => [m.iova, m.size])).toEqual([
      [0n, M2],
      [SHARED, M2],
    ]);
    expect(b.c.mappings().map((m) => [m.iova, m.size])).toEqual([
      [4n * M2, 2n * M2],
      [SHARED, M2],
    ]);
    expect(a.proc.lockedVm).toBe(1024);
    expect(b.proc.lockedVm).toBe(1536);
    expect(a.c.iommu!.pinnedPages).toBe(1024);
    expect(b.c.iommu!.pinnedPages).toBe(1536);
    expect(sim.mem.pinnedPages).toBe(2560);
    const domA = drv.deviceDomain(a.dev)!,
      domB = drv.deviceDomain(b.dev)!;
    expect(domA).not.toBe(domB);
    // same IOVA, each device reaches its own process's frame
    const sp = Number(SHARED >> 12n);
    expect(domA.ops.iovaToPhys(domA, sp + 7)).toBe(pfnOf(a, M2 + 7n * K4));
    expect(domB.ops.iovaToPhys(domB, sp + 7)).toBe(pfnOf(b, 2n * M2 + 7n * K4));
    expect(drv.dma(a.dev, sp, 512, 'write')).toBe(true);
    expect(drv.dma(b.dev, sp, 512, 'write')).toBe(true);
    // each device faults on what only the other container maps
    const f0 = drv.faults().length;
    expect(drv.dma(a.dev, 4 * 512, 1, 'read')).toBe(false);
    expect(drv.dma(b.dev, 0, 1, 'read')).toBe(false);
    expect(
      drv
        .faults()
        .slice(f0)
        .map((f) => [f.deviceId, f.iova]),
    ).toEqual([
      [a.dev, 4 * 512],
      [b.dev, 0],
    ]);
    // A cannot unmap B's range (nothing of A's there) nor map from B's address space
    expect(a.c.unmapDma({ iova: 4n * M2, size: 2n * M2 })).toEqual({ size: 0n });
    const bOnly = b.proc.mmap(M2, { backing: 'thp' });
    expect(a.proc.findVma(Number(bOnly >> 12n))).toBe(null);
    expect(() => a.c.mapDma({ vaddr: bOnly, iova: 8n * M2, size: M2, flags: RW })).toThrow(
      expect.objectContaining({ code: 'EFAULT', errno: -14, syscall: 'VFIO_IOMMU_MAP_DMA' }),
    );
    expect(b.c.mappings().length).toBe(2);
    expect(b.proc.lockedVm).toBe(1536);
    // tearing A down leaves B whole
    a.c.close();
    expect(a.proc.lockedVm).toBe(0);
    expect(b.proc.lockedVm).toBe(1536);
    expect(sim.mem.pinnedPages).toBe(1536);
    expect(drv.dma(b.dev, sp, 512, 'read')).toBe(true);
    expect(drv.dma(b.dev, 4 * 512, 1024, 'read')).toBe(true);
    expect(drv.dma(a.dev, sp, 1, 'read')).toBe(false);
    expect(b.c.unmapDma({ iova: 0n, size: 1n << 32n })).toEqual({ size: 3n * M2 });
  });

  it(`test_random_interleaving_stays_isolated steps=${STEPS}`, () => {
    w = world(profile);
    const { a, b, drv, sim } = w;
    const rng = new Prng(profile.length * 7 + 1);
    // per side: IOVA page -> pfn it must translate to (a plain Map model)
    const model = new Map<Side, Map<number, number>>([
      [a, new Map()],
      [b, new Map()],
    ]);
    const SPACE = 64; // IOVA slots of 16 pages; vaddr slot = IOVA slot
    let ops = 0,
      faults = 0;
    for (let step = 0; step < STEPS; step++) {
      const s = rng.next() < 0.5 ? a : b,
        o = s === a ? b : a;
      const m = model.get(s)!;
      const slot = rng.int(SPACE),
        iova = BigInt(slot) * 16n * K4,
        pages = 1 + rng.int(16);
      const size = BigInt(pages) * K4;
      const r = rng.next();
      if (r < 0.45) {
        const free = [...Array(pages).keys()].every((i) => !m.has(slot * 16 + i));
        let err: unknown = null;
        try {
          s.c.mapDma({ vaddr: s.va + iova, iova, size, flags: RW });
        } catch (x) {
          err = x;
        }
        if (free) {
          expect(err).toBe(null);
          for (let i = 0; i < pages; i++) m.set(slot * 16 + i, pfnOf(s, iova + BigInt(i) * K4));
        } else {
          expect(err).toMatchObject({ code: 'EEXIST' });
        }
      } else if (r < 0.75) {
        // unmap whole slots only (v2 would refuse a bisection): everything this side maps in the slot
        const n = [...m.keys()].filter((p) => p >> 4 === slot).length;
        expect(s.c.unmapDma({ iova, size: 16n * K4 })).toEqual({ size: BigInt(n) * K4 });
        for (let i = 0; i < 16; i++) m.delete(slot * 16 + i);
      } else {
        // DMA by s's device: succeeds iff s maps every page, whatever the other side maps
        const p0 = slot * 16,
          ok = [...Array(pages).keys()].every((i) => m.has(p0 + i));
        const got = drv.dma(s.dev, p0, pages, 'write');
        expect(got).toBe(ok);
        if (!ok) faults++;
      }
      ops++;
      // after every step: each side sees exactly its own model, whatever the other did
      for (const x of [s, o]) {
        const mx = model.get(x)!;
        expect(x.proc.lockedVm).toBe(mx.size);
        expect(x.c.iommu!.pinnedPages).toBe(mx.size);
        const dom = drv.deviceDomain(x.dev)!;
        for (const probe of [p0Of(slot), p0Of(slot) + pages - 1]) {
          expect(dom.ops.iovaToPhys(dom, probe)).toBe(mx.get(probe) ?? -1);
        }
      }
      expect(sim.mem.pinnedPages).toBe(model.get(a)!.size + model.get(b)!.size);
    }
    expect(ops).toBe(STEPS);
    totalOps += ops;
    // the seeds (same for the two 4.x profiles) give this many DMAs that must fault
    if (STEPS === 400) expect(faults).toBe(profile === 'mainline' ? 77 : 88);
    expect(sim.violations).toEqual([]);
  }, 600_000);
});

function p0Of(slot: number): number {
  return slot * 16;
}
