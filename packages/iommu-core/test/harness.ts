// Shared fixtures: a sim + reference driver + domain, and leak checks every suite ends with.
import { expect } from 'vitest';
import { createReferenceDriver, createSim, type RefDomain, type RefDriverOptions, type Sim, type ReferenceDriver } from '../src/index.js';

export interface Harness { sim: Sim; drv: ReferenceDriver; dom: RefDomain }

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
  const out: [number, number, number][] = [];
  dom.pt.forEachLeaf((iova, pfn, order) => out.push([iova, pfn, order]));
  return out;
}

export const RW = 3;
