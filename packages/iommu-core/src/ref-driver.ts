// The reference driver: a VT-d-like IOMMU in the spirit of the iommufd selftest mock domain, on the
// generic engine with any page-size bitmap. It keeps a small IOTLB tagged by domain, lets devices
// DMA through it and logs faults, so VFIO's unmap/sync ordering can be checked without AMD code.
//
// Map over a present leaf fails with EBUSY and keeps the old entry (VT-d keeps it too, but only
// warns and returns 0; the refusal makes the conflict visible); an empty leftover table under a
// new large page is replaced, as VT-d's
// __domain_mapping freed small-page tables before installing a superpage. Unmap removes whole
// leaves, stops at the first hole and frees tables it fully cleared, after the next sync.

import { POW2, pgsizeCount, pgsizeOut } from './pgsize.js';
import { IommuError } from './errno.js';
import { IotlbGather, iommuIotlbGatherAddRange } from './gather.js';
import { Iotlb, type IotlbPolicy } from './iotlb.js';
import {
  IOMMU_DOMAIN_UNMANAGED, IOMMU_READ, IOMMU_RESV_MSI, IOMMU_WRITE, SZ_1G, SZ_2M, SZ_4K, bitmapOrders,
  domainMarkFreed, domainSetPgsizeBitmap, driverDomain, type IommuDomain, type IommuDriver, type IommuOps, type ResvRegion,
} from './ops.js';
import { PageTable, type PtPolicy } from './pagetable/engine.js';
import { createRefFormat } from './pagetable/fmt-ref.js';
import type { Sim } from './sim.js';
import { EV } from './sim/meter.js';
import { TRACE_IOMMU, traceIova } from './trace.js';
import { CORE_TIMELINE } from './timeline/core-entries.js';
import { timelineFlags } from './timeline/entry.js';
import type { Release } from './timeline/release.js';
import { parseProfile, type ProfileName } from './timeline/profile.js';

/** Options of createReferenceDriver. Every property may be left out or set to undefined: both mean the default. */
export interface RefDriverOptions {
  /**
   * Kernel release whose VT-d driver this one behaves like (any 'vX.Y' from v3.19 to the newest
   * modelled release, or 'mainline', optionally with timeline entries switched: 'v5.10+vtd-iotlb-sync').
   * Default 'mainline'. Before v5.11 every ->unmap call flushed its range and waited and the driver
   * had no iotlb ops; before v5.15 it reported every power of two from 4K to the core and split each
   * call into its table's sizes itself. apiEra, flushOnUnmap and realPgsizeBitmap below override it.
   */
  release?: ProfileName | undefined;
  /** Page sizes the driver's tables hold. Default SZ_4K | SZ_2M | SZ_1G (VT-d-like); pass ~0xfffn & ((1n << 39n) - 1n) for AMD-like fine-grained sizes. */
  pgsizeBitmap?: bigint | undefined;
  /**
   * true: the core is told pgsizeBitmap (VT-d since v5.15, a886d5a7e67b). false: the core is told
   * every power of two from 4 KiB and each map or unmap call is split here into the
   * table's sizes (VT-d before v5.15: one call, and before v5.11 one flush, per naturally aligned
   * chunk of a run). Default: the release's.
   */
  realPgsizeBitmap?: boolean | undefined;
  /** IOTLB entries (all domains share them). Default 64. */
  iotlbEntries?: number | undefined;
  /** IOTLB replacement policy. Default 'lru'. */
  iotlbPolicy?: IotlbPolicy | undefined;
  /** '2018' (range_add + sync(domain)) or 'gather'. Default: the release's (gather from v5.4). */
  apiEra?: '2018' | 'gather' | undefined;
  /**
   * VT-d before v5.11: every ->unmap call (one per page before map_pages) flushes its range and
   * waits, and the driver has no iotlb_range_add / iotlb_sync / flush_iotlb_all, so the core's sync
   * does nothing. Default: the release's.
   */
  flushOnUnmap?: boolean | undefined;
  /** Reserved regions reported for every device. Default: the x86 MSI window 0xfee00000-0xfeefffff. */
  resvRegions?: readonly ResvRegion[] | undefined;
  /**
   * Replace an empty leftover table under a new large page (VT-d). false answers EBUSY instead, the
   * way the 2018 AMD driver did, for testing VFIO's map_try_harder on this driver. Default true.
   */
  replaceEmptyTables?: boolean | undefined;
  /** iommu_capable(IOMMU_CAP_CACHE_COHERENCY). Default true. */
  cacheCoherent?: boolean | undefined;
  name?: string | undefined;
}

/** What VT-d reported before v5.15 (INTEL_IOMMU_PGSIZES, ~0xFFF): every power of two from 4 KiB. */
const ALL_SIZES = 0xfffffffffffff000n;

export const REF_POLICY: PtPolicy = {
  overmap: -16, leafAbove: -16, replaceEmptyTables: true, holes: 'stop', startInLeaf: 'whole', freeTables: true,
};

/** A logged translation fault. */
export interface DmaFault {
  readonly deviceId: number;
  readonly domainId: number;
  /** IOVA page that faulted. */
  readonly iova: number;
  readonly write: boolean;
  readonly reason: 'not-present' | 'permission' | 'no-domain';
}

const X86_MSI: ResvRegion = { start: 0xfee00, last: 0xfeeff, type: IOMMU_RESV_MSI };

export interface RefDomain extends IommuDomain { readonly pt: PageTable; readonly pending: IotlbGather }

export class ReferenceDriver implements IommuDriver {
  readonly name: string;
  readonly release: Release;
  readonly ops: IommuOps;
  /** Page sizes the driver's tables hold. */
  readonly pgsizeBitmap: bigint;
  /** Page sizes reported to the core (domain.pgsizeBitmap): pgsizeBitmap, or every size before v5.15. */
  readonly reportedPgsizeBitmap: bigint;
  readonly iotlb: Iotlb;
  private readonly fmt;
  private readonly devs = new Map<number, RefDomain | null>();
  private readonly faultLog: DmaFault[] = [];
  private nextDev = 1;
  private readonly resv: readonly ResvRegion[];
  private readonly coherent: boolean;
  private readonly policy: PtPolicy;

  constructor(readonly sim: Sim, opts: RefDriverOptions = {}) {
    const profile = opts.release ?? 'mainline';
    this.release = parseProfile(profile).release;
    const era = timelineFlags(CORE_TIMELINE, profile);
    this.pgsizeBitmap = opts.pgsizeBitmap ?? (SZ_4K | SZ_2M | SZ_1G);
    const real = opts.realPgsizeBitmap ?? era['vtd-real-pgsize'];
    this.reportedPgsizeBitmap = real ? this.pgsizeBitmap : ALL_SIZES;
    const orders = bitmapOrders(this.pgsizeBitmap);
    if (orders.length === 0 || orders[0]! < 12) throw new RangeError('reference driver needs a bitmap with sizes >= 4 KiB');
    this.fmt = createRefFormat(this.pgsizeBitmap);
    if (orders.some((o) => o >= 39)) throw new RangeError('reference format holds leaves up to 256 GiB (order 38)');
    this.name = opts.name ?? 'ref';
    this.iotlb = new Iotlb(opts.iotlbEntries ?? 64, opts.iotlbPolicy ?? 'lru', sim.mem, sim.meter);
    sim.checker.reachers.push(this.iotlb);
    this.resv = opts.resvRegions ?? [X86_MSI];
    this.coherent = opts.cacheCoherent ?? true;
    this.policy = opts.replaceEmptyTables === false ? { ...REF_POLICY, replaceEmptyTables: false } : REF_POLICY;
    const flushOnUnmap = opts.flushOnUnmap ?? !era['vtd-iotlb-sync'];
    const drv = this;
    const leafOrders = orders;
    // VT-d before v5.15 (__domain_mapping): the largest table size that the IOVA and the pfn are both
    // aligned to and that fits what is left, run after run
    const mapSplit = (d: RefDomain, iova: number, pfn: number, npages: number, prot: number): number => {
      let done = 0;
      while (done < npages) {
        const o = pgsizeCount(leafOrders, iova + done, pfn + done, npages - done);
        const r = d.pt.map(iova + done, pfn + done, o, pgsizeOut.count, prot);
        done += d.pt.mapped;
        if (r !== 0) { d.mapped = done; return r; }
      }
      d.mapped = done;
      return 0;
    };
    const flushRange = (d: RefDomain, g: IotlbGather, mark = 0): void => {
      if (!g.empty) {
        drv.iotlb.invalidateRange(d.id, g.start, g.end);
        sim.meter.charge(EV.invalidations, 1);
        sim.meter.charge(EV.iotlbFlushes, 1);
        sim.meter.charge(EV.completionWaits, 1);
        // the gathered range's first and last IOVA page, as byte addresses
        if (sim.trace.on && sim.trace.detail >= TRACE_IOMMU) sim.trace.instant(drv.name, 'flush', { domain: d.id, start: traceIova(g.start), last: traceIova(g.end) });
      }
      d.pt.releaseDeferred(mark);
      g.reset();
    };
    const ops: IommuOps = {
      name: this.name,
      apiEra: opts.apiEra ?? (era['iotlb-gather'] ? 'gather' : '2018'),
      // an explicit apiEra '2018' keeps meaning what it did before releases: one page per ->unmap call
      singlePageOps: opts.apiEra !== undefined ? opts.apiEra === '2018' : !era['vtd-map-pages'],
      splitsChunks: !real,
      mapPages(dom, iova, pfn, order, count, prot) {
        const d = dom as RefDomain;
        const lp = POW2[order - 12]!;
        if ((prot & (IOMMU_READ | IOMMU_WRITE)) === 0) { dom.mapped = 0; return -22; }
        if (iova + count * lp - 1 > dom.geometry.apertureEnd) { dom.mapped = 0; return -14; } // VT-d: beyond the address width
        const mark = d.pt.deferredMark();
        let r: number;
        if (real || leafOrders.includes(order)) {
          r = d.pt.map(iova, pfn, order, count, prot);
          dom.mapped = d.pt.mapped;
        } else r = mapSplit(d, iova, pfn, count * lp, prot);
        if (d.pt.replaced) flushRange(d, rangeOf(iova, count * lp), mark);   // an unmap's tables wait for its own sync
        return r;
      },
      unmapPages(dom, iova, order, count, gather) {
        const d = dom as RefDomain;
        const lp = POW2[order - 12]!;
        if (flushOnUnmap) {
          // VT-d before v5.11: the core called ->unmap once per page and each call flushed its range
          // (iommu_flush_iotlb_psi: one invalidation, then the wait descriptor)
          let got = 0;
          for (let k = 0; k < count; k++) {
            const n = d.pt.unmap(iova + got, lp);
            if (n === 0) break;
            flushRange(d, rangeOf(iova + got, n));
            got += n;
            if (got >= count * lp) break;
          }
          return got;
        }
        const got = d.pt.unmap(iova, count * lp);
        if (got > 0) iommuIotlbGatherAddRange(gather ?? d.pending, iova, got);
        return got;
      },
      iovaToPhys: (dom, iova) => (dom as RefDomain).pt.lookup(iova),
      mappedPages: (dom) => (dom as RefDomain).pt.mappedPages(),
      mapBegin: (dom) => (dom as RefDomain).pt.txBegin(),
      mapEnd: (dom, failed) => (dom as RefDomain).pt.txEnd(failed),
    };
    if (!flushOnUnmap) {
      ops.flushIotlbAll = (dom) => {
        const d = dom as RefDomain;
        drv.iotlb.invalidateDomain(d.id);
        sim.meter.charge(EV.invalidations, 1);
        sim.meter.charge(EV.iotlbFlushes, 1);
        sim.meter.charge(EV.completionWaits, 1);
        d.pending.reset();
        d.pt.releaseDeferred();
      };
      ops.iotlbRangeAdd = (dom, iova, npages) => { iommuIotlbGatherAddRange((dom as RefDomain).pending, iova, npages); };
      ops.iotlbSync = (dom, gather) => {
        const d = dom as RefDomain;
        if (gather !== null) {
          // a gather and the domain's own pending range may both hold work: flush their union
          if (!d.pending.empty) { iommuIotlbGatherAddRange(gather, d.pending.start, d.pending.end - d.pending.start + 1); d.pending.reset(); }
          flushRange(d, gather);
        } else flushRange(d, d.pending);
      };
    }
    this.ops = ops;
  }

  domainAlloc(): IommuDomain {
    const id = this.sim.nextDomainId();
    const pt = new PageTable(this.fmt, this.sim.mem, this.sim.meter, this.policy, 3, id);
    this.sim.checker.reachers.push(pt);
    const dom: RefDomain = {
      id, type: IOMMU_DOMAIN_UNMANAGED, ops: this.ops, sim: this.sim, pgsizeBitmap: 0n, orders: [],
      geometry: { apertureStart: 0, apertureEnd: 2 ** 36 - 1, forceAperture: true }, mapped: 0, pt, pending: new IotlbGather(),
    };
    domainSetPgsizeBitmap(dom, this.reportedPgsizeBitmap);
    return dom;
  }

  /**
   * iommu_domain_free(): drops the domain's IOTLB entries and frees its tables. Throws IommuError
   * EINVAL for a domain already freed (a second free would hand its table pages out twice) or one of
   * another IOMMU, EBUSY while a device is attached (nothing is freed then). Afterwards the core API
   * refuses the domain (domainMarkFreed) and attachDevice throws EINVAL.
   */
  domainFree(dom: IommuDomain): void {
    const d = this.own(dom, 'iommu_domain_free');
    for (const [dev, dd] of this.devs) if (dd === d) throw new IommuError('EBUSY', 'iommu_domain_free', `device ${dev} is still attached`);
    this.iotlb.invalidateDomain(d.id);
    d.pt.destroy();
    d.pending.reset();
    const i = this.sim.checker.reachers.indexOf(d.pt);
    if (i >= 0) this.sim.checker.reachers.splice(i, 1);
    domainMarkFreed(d);
  }

  /** dom as one of this driver's live domains; IommuError EINVAL for another IOMMU's or a freed one. */
  private own(dom: IommuDomain, syscall: string): RefDomain { return driverDomain<RefDomain>(this.ops, dom, syscall); }

  probeDevice(): number {
    while (this.devs.has(this.nextDev)) this.nextDev++;
    const id = this.nextDev++;
    this.devs.set(id, null);
    return id;
  }

  attachDevice(dom: IommuDomain, dev: number): void {
    if (!(Number.isInteger(dev) && dev > 0)) throw new IommuError('ENODEV', 'iommu_attach_device', `bad device id ${dev}`);
    const cur = this.devs.get(dev);
    if (cur !== undefined && cur !== null && cur !== dom) throw new IommuError('EBUSY', 'iommu_attach_device', `device ${dev} is attached to domain ${cur.id}`);
    this.devs.set(dev, this.own(dom, 'iommu_attach_device'));
  }

  detachDevice(dom: IommuDomain, dev: number): void {
    if (this.devs.get(dev) === dom) this.devs.set(dev, null);
  }

  deviceDomain(dev: number): IommuDomain | null { return this.devs.get(dev) ?? null; }
  capable(cap: number): boolean { return cap === 0 ? this.coherent : cap === 1; }
  resvRegions(_dev: number): readonly ResvRegion[] { return this.resv; }

  /**
   * A device reads or writes npages from IOVA page iova: IOTLB first, then the page table. False at
   * the first fault (see faults()). RangeError for an iova that is not a non-negative integer, npages
   * that is not a positive integer, or a dir other than 'read' / 'write' (programming errors, not faults).
   */
  dma(dev: number, iova: number, npages: number, dir: 'read' | 'write'): boolean {
    // one check per call; the message is built only on failure
    if (!((npages >>> 0) === npages && npages !== 0 && Number.isInteger(iova) && iova >= 0 && (dir === 'write' || dir === 'read'))) {
      throw badDma(iova, npages, dir);
    }
    const d = this.devs.get(dev) ?? null;
    const write = dir === 'write';
    const need = write ? IOMMU_WRITE : IOMMU_READ;
    const meter = this.sim.meter, mem = this.sim.mem;
    if (d === null) { this.fault(dev, -1, iova, write, 'no-domain'); return false; }
    for (let i = 0; i < npages; i++) {
      const va = iova + i;
      let pfn: number, prot: number, via: 'pte' | 'iotlb';
      if (this.iotlb.lookup(d.id, va)) {
        pfn = this.iotlb.hitPfn; prot = this.iotlb.hitProt; via = 'iotlb';
      } else {
        meter.charge(EV.walkLevels, d.pt.top + 1);
        pfn = d.pt.lookup(va);
        if (pfn < 0) { this.fault(dev, d.id, va, write, 'not-present'); return false; }
        prot = d.pt.lastProt;
        const lp = POW2[d.pt.lastOrder - 12]!;
        const off = va % lp;
        this.iotlb.fill(d.id, va - off, pfn - off, d.pt.lastOrder, prot);
        via = 'pte';
      }
      if ((prot & need) === 0) { this.fault(dev, d.id, va, write, 'permission'); return false; }
      mem.dmaAccess(pfn, write, d.id, va, via);
      meter.charge(EV.dmaPages, 1);
    }
    return true;
  }

  /** Faults logged so far, oldest first. */
  faults(): readonly DmaFault[] { return this.faultLog; }

  private fault(dev: number, dom: number, iova: number, write: boolean, reason: DmaFault['reason']): void {
    this.faultLog.push({ deviceId: dev, domainId: dom, iova, write, reason });
    this.sim.meter.charge(EV.faults, 1);
  }
}

/** The RangeError for a dma() call with bad arguments (cold path). */
function badDma(iova: number, npages: number, dir: unknown): RangeError {
  if (!(Number.isInteger(npages) && npages > 0)) return new RangeError(`dma: npages must be a positive integer, got ${npages}`);
  if (!((npages >>> 0) === npages)) return new RangeError(`dma: npages ${npages} is more than one access can touch (max ${2 ** 32 - 1})`);
  if (!(Number.isInteger(iova) && iova >= 0)) return new RangeError(`dma: iova must be a non-negative integer (an IOVA page), got ${iova}`);
  return new RangeError(`dma: dir must be 'read' or 'write', got ${typeof dir === 'string' ? `'${dir}'` : String(dir)}`);
}

function rangeOf(iova: number, npages: number): IotlbGather {
  const g = new IotlbGather();
  iommuIotlbGatherAddRange(g, iova, npages);
  return g;
}

/** Creates a reference driver (one IOMMU unit) on a sim. */
export function createReferenceDriver(sim: Sim, opts: RefDriverOptions = {}): ReferenceDriver {
  return new ReferenceDriver(sim, opts);
}
