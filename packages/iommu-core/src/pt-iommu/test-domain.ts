// A paging domain on the engine alone, for any format and policy: no IOTLB behind it (flushes do
// nothing), the mainline gather API, the format's top level fixed. What the engine suite runs the
// core's own tests on, so that every policy is exercised whether or not a driver of this package uses it.

import { iommuPtDomainOps } from './domain-ops.js';
import { ptIommuDeinit, ptIommuInit, type PtIommuConfig, type PtIommuDomain } from './iommu.js';
import type { PtFormat } from '../pagetable/format.js';
import type { PtPolicy } from '../pagetable/policy.js';
import type { Sim } from '../sim.js';
import { ERRNO } from '../errno.js';

/**
 * The config of a test domain: the mainline gather API, no flush inside unmap, a fixed top at
 * topLevel, EINVAL for a size the table lacks. Tests of other era choices spread over it.
 */
export function ptTestConfig(fmt: PtFormat, policy: PtPolicy, topLevel: number): PtIommuConfig {
  return {
    name: 'pt-test',
    apiEra: 'gather',
    singlePageOps: false,
    splitsChunks: false,
    fmt,
    policy,
    topLevel,
    flushOnUnmap: 'none',
    syncFlushesAll: false,
    oddOrders: 'einval',
    rangeErrno: -ERRNO.ERANGE,
    growErrno: null,
    walkEvents: null,
  };
}

/**
 * A domain whose table uses fmt and policy with its root at topLevel (default the format's top),
 * offering pgsizeBitmap; apertureEnd is the last IOVA page (default what the top level spans, less one).
 */
export function ptTestDomain(
  sim: Sim,
  fmt: PtFormat,
  policy: PtPolicy,
  pgsizeBitmap: bigint,
  opts: { topLevel?: number; apertureEnd?: number } = {},
): PtIommuDomain {
  const cfg = ptTestConfig(fmt, policy, opts.topLevel ?? fmt.maxLevel);
  const ops = iommuPtDomainOps<PtIommuDomain>(sim, cfg, { flushRange() {}, flushAll() {} });
  const top = cfg.topLevel;
  const spanPages = 2 ** (fmt.itemOrder(top) + fmt.numItemsLg2(top) - 12);
  return ptIommuInit(sim, ops, cfg, sim.nextDomainId(), opts.apertureEnd ?? spanPages - 1, pgsizeBitmap, {});
}

/** Frees a ptTestDomain's tables. */
export function ptTestDomainFree(dom: PtIommuDomain): void {
  ptIommuDeinit(dom);
}
