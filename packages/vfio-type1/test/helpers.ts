// Shared fixtures: a sim + reference driver + host + process + container, a full state snapshot
// for "a failed call leaves no trace", and the leak check every suite ends with.
import { expect } from 'vitest';
import { createReferenceDriver, createSim, type RefDomain, type RefDriverOptions, type ReferenceDriver, type Sim } from '@x/iommu-core';
import {
  Host,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  type Container,
  type ContainerOptions,
  type Group,
  type Process,
} from '../src/index.js';

export const RW = 3;
export const K4 = 4096n,
  M2 = 2n << 20n,
  G1 = 1n << 30n;

export interface Env {
  sim: Sim;
  drv: ReferenceDriver;
  host: Host;
  group: Group;
  proc: Process;
  c: Container;
}

export interface EnvOpts extends ContainerOptions {
  drv?: RefDriverOptions;
  memlockLimit?: bigint | null;
  capIpcLock?: boolean;
  v1?: boolean;
  memory?: bigint;
  /** The sim's host age (createSim's hostAge: 0 hands out neighbouring frames); its default otherwise. */
  hostAge?: number;
  /** Leave the container without SET_IOMMU. */
  noSet?: boolean;
}

export function makeEnv(o: EnvOpts = {}): Env {
  const sim = createSim({ memory: o.memory ?? 4n << 30n, seed: 7, ...(o.hostAge !== undefined ? { hostAge: o.hostAge } : {}) });
  // the driver models the container's release unless a test says otherwise (no kernel mixes two)
  const drv = createReferenceDriver(sim, { release: o.profile, ...o.drv });
  const host = new Host(sim);
  const group = host.addGroup(drv, { devices: 1 });
  const proc = host.spawn({ memlockLimit: o.memlockLimit ?? null, capIpcLock: o.capIpcLock ?? false });
  const c = host.openContainer(proc, o);
  c.addGroup(group);
  if (!o.noSet) c.setIommu(o.v1 ? VFIO_TYPE1_IOMMU : VFIO_TYPE1v2_IOMMU);
  return { sim, drv, host, group, proc, c };
}

/** The domain the container's group translates through. */
export function domOf(e: Env, g: Group = e.group): RefDomain {
  return g.drv.deviceDomain(g.devices[0]!) as RefDomain;
}

/** Leaves as [iova page, pfn, order], ascending. */
export function leaves(dom: RefDomain): [number, number, number][] {
  const out: [number, number, number][] = [];
  dom.pt.forEachLeaf((iova, pfn, order) => out.push([iova, pfn, order]));
  return out;
}

/** Everything a failed call must leave as it was. */
export function snapshot(e: Env) {
  const dom = domOf(e);
  return {
    mappings: e.c.mappings(),
    dmaAvail: e.c.dmaAvail,
    lockedVm: e.proc.lockedVm,
    pinnedPages: e.sim.mem.pinnedPages,
    containerPinned: e.c.iommu?.pinnedPages ?? 0,
    tablesInUse: e.sim.mem.tables.inUse,
    leaves: dom === null ? [] : leaves(dom),
    // every domain of the container, head first: a failure in a later domain must not leave a PTE
    // in an earlier one (the first group's domain is the tail once others joined)
    domains: (e.c.iommu?.domains ?? []).map((d) => ({ id: d.dom.id, leaves: leaves(d.dom as RefDomain) })),
    violations: e.sim.violations.length,
    vaddrInvalid: e.c.iommu?.vaddrInvalidCount ?? 0,
  };
}

/** Expects fn to throw a VfioError with this code/errno/syscall, and the state to be unchanged. */
/**
 * tablesLeft: page-table pages a failed call may leave allocated, exactly. MAP_DMA brackets itself
 * with the domains' model hooks (dom.model.mapBegin / mapEnd), so a failed map leaves 0 (Linux would leave the tables of
 * its successful chunks); everything else (leaves, pins, locked_vm, dma_avail) must be as before.
 */
export function expectFailNoTrace(e: Env, fn: () => unknown, code: string, errno: number, syscall: string, tablesLeft = 0): void {
  const before = snapshot(e);
  let err: unknown = null;
  try {
    fn();
  } catch (x) {
    err = x;
  }
  expect(err).toMatchObject({ name: 'VfioError', code, errno, syscall });
  expect(snapshot(e)).toEqual({ ...before, tablesInUse: before.tablesInUse + tablesLeft });
}

/** Closes the container and checks no pin, charge, table or violation is left. */
export function expectCleanClose(e: Env): void {
  e.c.close();
  expect(e.sim.violations).toEqual([]);
  expect(e.sim.mem.pinnedPages).toBe(0);
  expect(e.proc.lockedVm).toBe(0);
  expect(e.sim.mem.tables.inUse).toBe(0);
}

/** What fn threw (fails the test when it returned). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (x) {
    return x;
  }
  throw new Error('expected a throw');
}
