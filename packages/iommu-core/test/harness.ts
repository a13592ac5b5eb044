// Shared fixtures: a sim + reference driver + domain, and leak checks every suite ends with.
import { expect } from 'vitest';
import {
  IotlbGather,
  SZ_1G,
  SZ_2M,
  SZ_4K,
  createReferenceDriver,
  createSim,
  type Backing,
  type RefDomain,
  type RefDriverOptions,
  type Sim,
  type ReferenceDriver,
} from '../src/index.js';
import { FRAME_KERNEL, FRAME_USER, PageTable, REF_POLICY, createRefFormat } from '../src/internals.js';

export interface Harness {
  sim: Sim;
  drv: ReferenceDriver;
  dom: RefDomain;
}

export function makeHarness(drvOpts: RefDriverOptions = {}, memory = 8n << 30n, seed = 1): Harness {
  const sim = createSim({ memory, seed });
  const drv = createReferenceDriver(sim, drvOpts);
  const dom = drv.domainAlloc() as RefDomain;
  return { sim, drv, dom };
}

/** No leaves, no pins, no violations, and only the root table left. */
export function expectClean(h: Harness): void {
  expect(h.dom.pt.countLeaves()).toBe(0);
  expect(h.sim.mem.pinnedPages).toBe(0);
  expect(h.sim.violations).toEqual([]);
  expect(h.sim.mem.reach4k.allZero() && h.sim.mem.reach2m.allZero() && h.sim.mem.reach1g.allZero()).toBe(true);
}

/** Leaves as [iova, pfn, order] triples, ascending. */
export function leaves(dom: RefDomain): [number, number, number][] {
  return ptLeaves(dom.pt);
}

/** A page table's leaves as [iova, pfn, order] triples, ascending. */
export function ptLeaves(pt: PageTable): [number, number, number][] {
  const out: [number, number, number][] = [];
  pt.forEachLeaf((iova, pfn, order) => out.push([iova, pfn, order]));
  return out;
}

/**
 * A PageTable on its own (no driver, no core API): the reference format with 4K, 2M and 1G leaves,
 * root at level `top`, domain id 7, over a 1 GiB host; and a gather for what its unmaps free.
 */
export function refPageTable(top: number, seed = 1): { sim: Sim; pt: PageTable; g: IotlbGather } {
  const sim = createSim({ memory: 1n << 30n, seed });
  const pt = new PageTable(createRefFormat(SZ_4K | SZ_2M | SZ_1G), sim.mem, sim.meter, REF_POLICY, top, 7);
  return { sim, pt, g: new IotlbGather() };
}

export const RW = 3;

/** The error a call throws (fails the test when it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** Frames by state over the whole host: [free, kernel, user]. */
export function census(sim: Sim): [number, number, number] {
  const n: [number, number, number] = [0, 0, 0];
  for (let f = 0; f < sim.mem.nFrames; f++) n[sim.mem.frameState(f) as 0 | 1 | 2]++;
  return n;
}

/**
 * Each frame of the live backings and kernel frames is handed out once, reads USER (KERNEL), and the
 * allocator's counts agree with a census of all frames. Returns the number of user frames.
 */
export function expectDistinct(sim: Sim, live: readonly Backing[], kernel: readonly number[] = []): number {
  const seen = new Uint8Array(sim.mem.nFrames);
  let user = 0,
    dup = 0,
    wrong = 0;
  for (const b of live) {
    for (let i = 0; i < b.npages; i++) {
      const f = b.pfns[i >>> b.runOrder]! + (i & ((1 << b.runOrder) - 1));
      if (seen[f]!++ !== 0) dup++;
      if (sim.mem.frameState(f) !== FRAME_USER) wrong++;
      user++;
    }
  }
  for (const f of kernel) {
    if (seen[f]!++ !== 0) dup++;
    if (sim.mem.frameState(f) !== FRAME_KERNEL) wrong++;
  }
  expect(dup).toBe(0);
  expect(wrong).toBe(0);
  const inUse = user + kernel.length;
  expect(sim.mem.frames.framesInUse).toBe(inUse);
  expect(sim.mem.frames.freeFrames).toBe(sim.mem.nFrames - inUse);
  expect(census(sim)).toEqual([sim.mem.nFrames - inUse, kernel.length, user]);
  return user;
}

/** call throws the IommuError `${code}: ${detail}, ${syscall}` with that code and syscall. */
export function expectSysErr(call: () => unknown, code: string, syscall: string, detail: string): void {
  let err: unknown;
  try {
    call();
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ name: 'IommuError', code, syscall, message: `${code}: ${detail}, ${syscall}` });
}
