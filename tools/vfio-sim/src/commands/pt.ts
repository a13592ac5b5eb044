// vfio-sim pt map|unmap: the page-table micro-benchmark of the iommupt cover letter. One domain, no
// device attached (so no IOTLB commands), tables built once before timing; then `--repeat` times an
// iommu_map of N pages of one size, or an iommu_unmap_fast of them (its sync is not timed), and the
// modeled nanoseconds per call with the events each call charged.

import {
  IOMMU_READ,
  IOMMU_WRITE,
  createIotlbGather,
  createReferenceDriver,
  createSim,
  iommuMap,
  iommuTlbSync,
  iommuUnmapFast,
  type IommuDomain,
  type Sim,
} from '@x/iommu-core';
import { checkedMachineOpts } from './report.js';
import { createAmdIommu } from '@x/amd-iommu';
import { UsageError } from '../errors.js';
import { textTable } from '../report/format.js';
import { parseCost } from '../scenario/options.js';
import { parseSize } from '../scenario/size.js';

const PT_SCHEMA = 'vfio-sim/pt@1';
const PAGE_SIZES: Readonly<Record<string, number>> = { [String(1 << 12)]: 12, [String(1 << 21)]: 21, [String(2 ** 30)]: 30 };

export interface PtOptions {
  pages?: string;
  pageSize?: string;
  profile?: string;
  machine?: string;
  driver?: string;
  repeat?: string;
  cost?: string;
  json?: boolean;
}

/** What `pt --json` prints. */
interface PtResult {
  readonly schema: typeof PT_SCHEMA;
  readonly op: 'map' | 'unmap';
  readonly pages: number;
  /** log2 bytes of each page. */
  readonly pageOrder: number;
  readonly driver: 'amd' | 'reference';
  readonly profile: string;
  readonly machine: string;
  readonly repeat: number;
  /** Modeled ns per iommu_map / iommu_unmap_fast call. */
  readonly nsPerCall: number;
  /** Events one call charged (counts), those that occurred. */
  readonly perCall: Readonly<Record<string, number>>;
}

function whole(flag: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) throw new UsageError(flag, `'${v}' must be an integer in [1, ${max}]`);
  return Number(v);
}

/** Checks the options and measures; UsageError for bad input. */
function ptResult(op: string, o: PtOptions): PtResult {
  if (op !== 'map' && op !== 'unmap') throw new UsageError('pt', `'${op}' is not map or unmap`);
  const pages = whole('--pages', o.pages, 1, 4096);
  const sizeBytes = parseSize(o.pageSize ?? '4K', '--page-size');
  const order = PAGE_SIZES[String(sizeBytes)];
  if (order === undefined) throw new UsageError('--page-size', `'${o.pageSize}' is not 4K, 2M or 1G`);
  if (order === 30 && pages > 16) throw new UsageError('--pages', 'at most 16 pages of 1G');
  const repeat = whole('--repeat', o.repeat, 100, 100_000);
  const { driver, profile, machine } = checkedMachineOpts(o);
  const cost = o.cost !== undefined ? parseCost(o.cost) : {};
  const per = 2 ** (order - 12),
    n = pages * per;
  let sim: Sim;
  let dom: IommuDomain;
  try {
    sim = createSim({ memory: (BigInt(Math.ceil((n * 2 * 4096) / 2 ** 30)) + 2n) << 30n, machine, cost });
    dom =
      driver === 'amd' ? createAmdIommu(sim, { profile }).domainAlloc() : createReferenceDriver(sim, { release: profile }).domainAlloc();
  } catch (e) {
    throw new UsageError('--cost', (e as Error).message);
  }
  // frames aligned to the page size but not to the next one, so the core maps pages of exactly that
  // size, N of them in one run (map_pages) as the kunit benchmark does; the IOVA is 1 GiB-aligned
  const base = sim.mem.allocFrames(n + per, { align: Math.max(per * 2, 512) });
  const pfn = base + per;
  const iova = 2 ** 18;
  const RW = IOMMU_READ | IOMMU_WRITE;
  const g = createIotlbGather();
  // build the tables (and grow the AMD table's top) outside the timing
  iommuMap(dom, iova, pfn, n, RW);
  iommuUnmapFast(dom, iova, n, g);
  iommuTlbSync(dom, g);
  const before = { ...sim.counters };
  let ns = 0;
  for (let r = 0; r < repeat; r++) {
    const t0 = sim.clock.now;
    iommuMap(dom, iova, pfn, n, RW);
    const t1 = sim.clock.now;
    iommuUnmapFast(dom, iova, n, g);
    const t2 = sim.clock.now;
    iommuTlbSync(dom, g);
    ns += op === 'map' ? t1 - t0 : t2 - t1;
  }
  // the events of the timed calls only: the other half of each round and the sync left out
  const after = sim.counters,
    perCall: Record<string, number> = {};
  const mapEv = ['mapCalls', 'pteWrites', 'amd.pt.mapWalks', 'tableAllocs'];
  const unmapEv = ['unmapCalls', 'pteClears', 'amd.pt.unmapWalks', 'iotlbRangeAdds'];
  for (const k of op === 'map' ? mapEv : unmapEv) {
    const d = ((after[k] ?? 0) - (before[k] ?? 0)) / repeat;
    if (d !== 0) perCall[k] = d;
  }
  return { schema: PT_SCHEMA, op, pages, pageOrder: order, driver, profile, machine, repeat, nsPerCall: ns / repeat, perCall };
}

export function ptCommand(op: string, o: PtOptions): number {
  const r = ptResult(op, o);
  if (o.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return 0;
  }
  const size = r.pageOrder === 12 ? '4K' : r.pageOrder === 21 ? '2M' : '1G';
  process.stdout.write(
    `iommu_${r.op === 'map' ? 'map' : 'unmap_fast'} of ${r.pages} x ${size} (${r.driver}, ${r.profile}, machine ${r.machine}): ${r.nsPerCall.toFixed(1)} ns per call (${r.repeat} calls; the sync is not timed)\n\n`,
  );
  process.stdout.write(
    `${textTable(
      ['event', 'per call'],
      Object.entries(r.perCall).map(([k, v]) => [k, String(v)]),
      [1],
    )}\n`,
  );
  return 0;
}
