// Shared fixtures: a sim, an AMD IOMMU of a profile, one domain with device 0x0100 attached.
import { expect } from 'vitest';
import { createSim, type Sim } from '@x/iommu-core';
import { createAmdIommu, type AmdDomain, type AmdIommu, type AmdIommuOptions } from '../src/index.js';

export const RW = 3,
  RO = 1,
  DEV = 0x0100;

export interface Fixture {
  sim: Sim;
  amd: AmdIommu;
  dom: AmdDomain;
}

export function setup(opts: AmdIommuOptions = {}, attach = true, memory = 8n << 30n): Fixture {
  const sim = createSim({ memory, seed: 1 });
  const amd = createAmdIommu(sim, opts);
  const dom = amd.domainAlloc() as AmdDomain;
  if (attach) amd.attachDevice(dom, DEV);
  return { sim, amd, dom };
}

/** Commands executed since `before` (a commands() snapshot). */
export function cmdDelta(amd: AmdIommu, before: Record<string, number>): Record<string, number> {
  const now = amd.commands() as Record<string, number>;
  const out: Record<string, number> = {};
  for (const k of Object.keys(now)) if (now[k]! - (before[k] ?? 0) !== 0) out[k] = now[k]! - (before[k] ?? 0);
  return out;
}

/** The core counters must agree with the ring: one completionWaits per COMPLETION_WAIT, etc. */
export function expectCountersMatchRing(f: Fixture): void {
  const c = f.amd.commands();
  expect(f.sim.counters.completionWaits).toBe(c.COMPLETION_WAIT);
  expect(f.sim.counters.invalidations).toBe(c.INVALIDATE_IOMMU_PAGES + c.INVALIDATE_IOMMU_ALL);
  expect(f.sim.counters['amd.cmd.INVALIDATE_DEVTAB_ENTRY']).toBe(c.INVALIDATE_DEVTAB_ENTRY);
}

/** No leaves, no violations, no reach left. */
export function expectClean(f: Fixture): void {
  expect(f.dom.pt.countLeaves()).toBe(0);
  expect(f.sim.violations).toEqual([]);
  const m = f.sim.mem;
  expect(m.reach4k.allZero() && m.reach2m.allZero() && m.reach1g.allZero()).toBe(true);
}

/** The error fn throws (fails the test when it returns). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

/** Queues one command built by `build` at the ring's tail and rings the doorbell. */
export function submit(f: Fixture, build: (words: Int32Array, c: number) => void): void {
  const ring = f.amd.hw.cmdRing;
  build(ring.words, ring.slot());
  ring.advance();
  f.amd.hw.doorbell();
}
