// The reference driver: a VT-d-like IOMMU in the spirit of the iommufd selftest mock domain, on the
// generic engine with any page-size bitmap. Its page-table ops come from the pt_iommu layer
// (pt-iommu/); what is its own is the era's choices, its small IOTLB tagged by domain and its two
// flushes, devices that DMA through it and the fault log, so VFIO's unmap/sync ordering can be
// checked without AMD code.
//
// Map over a present leaf fails with EBUSY and keeps the old entry (VT-d keeps it too, but only
// warns and returns 0; the refusal makes the conflict visible); an empty leftover table under a
// new large page is replaced, as VT-d's
// __domain_mapping freed small-page tables before installing a superpage. Unmap removes whole
// leaves, stops at the first hole and frees tables it fully cleared, after the next sync.

import { ERRNO, IommuError } from './errno.js';
import { Iotlb, type IotlbPolicy } from './iotlb.js';
import {
  IOMMU_FAULT_READ,
  IOMMU_FAULT_WRITE,
  IOMMU_READ,
  IOMMU_RESV_MSI,
  IOMMU_WRITE,
  SZ_1G,
  SZ_2M,
  SZ_4K,
  bitmapOrders,
  driverDomain,
  type IommuDomain,
  type IommuDriver,
  type IommuOps,
  type ResvRegion,
} from './ops.js';
import { createRefFormat } from './pagetable/fmt-ref.js';
import type { PtPolicy } from './pagetable/policy.js';
import { PtLookup } from './pagetable/table.js';
import { POW2_TABLE as POW2 } from './pgsize.js';
import { iommuPtDomainOps } from './pt-iommu/domain-ops.js';
import { ptIommuDeinit, ptIommuInit, type PtIommuConfig, type PtIommuDomain } from './pt-iommu/iommu.js';
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
  /**
   * Guest address width in bits (VT-d's domain->gaw): each domain's aperture is 0 .. 2^gaw - 1.
   * An integer from 13 to 48; RangeError otherwise. The table keeps its 4 levels. Default 48.
   */
  gaw?: number | undefined;
  name?: string | undefined;
}

/** What VT-d reported before v5.15 (INTEL_IOMMU_PGSIZES, ~0xFFF): every power of two from 4 KiB. */
const ALL_SIZES = 0xfffffffffffff000n;

export const REF_POLICY: PtPolicy = Object.freeze({
  overmap: -16,
  leafAbove: -16,
  replaceEmptyTables: true,
  holes: 'stop',
  startInLeaf: 'whole',
  freeTables: true,
} as const);

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

/** A reference driver's domain: the page-table layer's domain (pt, pending, mapGather) as is. */
export type RefDomain = PtIommuDomain;

export class ReferenceDriver implements IommuDriver {
  readonly name: string;
  readonly release: Release;
  readonly ops: IommuOps;
  /** Page sizes the driver's tables hold. */
  readonly pgsizeBitmap: bigint;
  /** Page sizes reported to the core (domain.pgsizeBitmap): pgsizeBitmap, or every size before v5.15. */
  readonly reportedPgsizeBitmap: bigint;
  readonly iotlb: Iotlb;
  private readonly devs = new Map<number, RefDomain | null>();
  private readonly faultLog: DmaFault[] = [];
  private nextDev = 1;
  private readonly resv: readonly ResvRegion[];
  private readonly coherent: boolean;
  /** Last IOVA page of every domain's aperture. */
  private readonly apertureEnd: number;
  private readonly policy: PtPolicy;
  /** The page table this driver's domains get (format, policy, flush era). */
  private readonly ptCfg: PtIommuConfig;
  /** What the device's page walk found besides the frame (dma(), one walk at a time). */
  private readonly leaf = new PtLookup();

  constructor(
    readonly sim: Sim,
    opts: RefDriverOptions = {},
  ) {
    const profile = opts.release ?? 'mainline';
    this.release = parseProfile(profile).release;
    const era = timelineFlags(CORE_TIMELINE, profile);
    this.pgsizeBitmap = opts.pgsizeBitmap ?? SZ_4K | SZ_2M | SZ_1G;
    const real = opts.realPgsizeBitmap ?? era['vtd-real-pgsize'];
    this.reportedPgsizeBitmap = real ? this.pgsizeBitmap : ALL_SIZES;
    const orders = bitmapOrders(this.pgsizeBitmap);
    if (orders.length === 0 || orders[0]! < 12) throw new RangeError('reference driver needs a bitmap with sizes >= 4 KiB');
    const fmt = createRefFormat(this.pgsizeBitmap);
    if (orders.some((o) => o >= 39)) throw new RangeError('reference format holds leaves up to 256 GiB (order 38)');
    const gaw = opts.gaw ?? 48;
    if (!(Number.isInteger(gaw) && gaw >= 13 && gaw <= 48)) throw new RangeError(`gaw must be an integer from 13 to 48 bits, got ${gaw}`);
    this.apertureEnd = POW2[gaw - 12]! - 1;
    this.name = opts.name ?? 'ref';
    this.iotlb = new Iotlb(opts.iotlbEntries ?? 64, opts.iotlbPolicy ?? 'lru', sim.mem, sim.meter);
    sim.checker.reachers.push(this.iotlb);
    this.resv = opts.resvRegions ?? [X86_MSI];
    this.coherent = opts.cacheCoherent ?? true;
    this.policy = opts.replaceEmptyTables === false ? Object.freeze({ ...REF_POLICY, replaceEmptyTables: false }) : REF_POLICY;
    const flushOnUnmap = opts.flushOnUnmap ?? !era['vtd-iotlb-sync'];
    this.ptCfg = {
      name: this.name,
      apiEra: opts.apiEra ?? (era['iotlb-gather'] ? 'gather' : '2018'),
      // an explicit apiEra '2018' keeps meaning what it did before releases: one page per ->unmap call
      singlePageOps: opts.apiEra !== undefined ? opts.apiEra === '2018' : !era['vtd-map-pages'],
      splitsChunks: !real,
      fmt,
      policy: this.policy,
      topLevel: 3,
      // VT-d before v5.11 flushed what each ->unmap call removed, and waited
      flushOnUnmap: flushOnUnmap ? 'range' : 'none',
      syncFlushesAll: false,
      // before v5.15 the core handed over any power of two: __domain_mapping split it into the table's sizes
      oddOrders: 'split',
      // VT-d: a map past the address width fails with -EFAULT
      rangeErrno: -ERRNO.EFAULT,
      growErrno: null,
      walkEvents: null,
    };
    const iotlb = this.iotlb,
      meter = sim.meter,
      trace = sim.trace,
      name = this.name;
    this.ops = iommuPtDomainOps<RefDomain>(sim, this.ptCfg, {
      // one page-selective invalidation of the range and its wait descriptor
      flushRange(d, start, last) {
        iotlb.invalidateRange(d.id, start, last);
        meter.charge(EV.invalidations, 1);
        meter.charge(EV.iotlbFlushes, 1);
        meter.charge(EV.completionWaits, 1);
        // the flushed range's first and last IOVA page, as byte addresses
        if (trace.on && trace.detail >= TRACE_IOMMU)
          trace.instant(name, 'flush', { domain: d.id, start: traceIova(start), last: traceIova(last) });
      },
      // a domain-selective invalidation and its wait
      flushAll(d) {
        iotlb.invalidateDomain(d.id);
        meter.charge(EV.invalidations, 1);
        meter.charge(EV.iotlbFlushes, 1);
        meter.charge(EV.completionWaits, 1);
      },
    });
  }

  /** iommu_domain_alloc(UNMANAGED): a 4-level table, a gaw-bit aperture (48 bits unless the options say). */
  domainAlloc(): IommuDomain {
    return ptIommuInit(this.sim, this.ops, this.ptCfg, this.sim.nextDomainId(), this.apertureEnd, this.reportedPgsizeBitmap, {});
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
    ptIommuDeinit(d);
  }

  /** dom as one of this driver's live domains; IommuError EINVAL for another IOMMU's or a freed one. */
  private own(dom: IommuDomain, syscall: string): RefDomain {
    return driverDomain<RefDomain>(this.ops, dom, syscall);
  }

  probeDevice(): number {
    while (this.devs.has(this.nextDev)) this.nextDev++;
    const id = this.nextDev++;
    this.devs.set(id, null);
    return id;
  }

  attachDevice(dom: IommuDomain, dev: number): void {
    if (!(Number.isInteger(dev) && dev > 0)) throw new IommuError('ENODEV', 'iommu_attach_device', `bad device id ${dev}`);
    const cur = this.devs.get(dev);
    if (cur !== undefined && cur !== null && cur !== dom)
      throw new IommuError('EBUSY', 'iommu_attach_device', `device ${dev} is attached to domain ${cur.id}`);
    this.devs.set(dev, this.own(dom, 'iommu_attach_device'));
  }

  detachDevice(dom: IommuDomain, dev: number): void {
    if (this.devs.get(dev) === dom) this.devs.set(dev, null);
  }

  deviceDomain(dev: number): IommuDomain | null {
    return this.devs.get(dev) ?? null;
  }
  capable(cap: number): boolean {
    return cap === 0 ? this.coherent : cap === 1;
  }
  resvRegions(_dev: number): readonly ResvRegion[] {
    return this.resv;
  }

  /**
   * A device reads or writes npages from IOVA page iova: IOTLB first, then the page table. False at
   * the first fault (see faults()). RangeError for an iova that is not a non-negative integer, npages
   * that is not a positive integer, or a dir other than 'read' / 'write' (programming errors, not faults).
   */
  dma(dev: number, iova: number, npages: number, dir: 'read' | 'write'): boolean {
    // one check per call; the message is built only on failure
    if (!(npages >>> 0 === npages && npages !== 0 && Number.isInteger(iova) && iova >= 0 && (dir === 'write' || dir === 'read'))) {
      throw badDma(iova, npages, dir);
    }
    const d = this.devs.get(dev) ?? null;
    const write = dir === 'write';
    const need = write ? IOMMU_WRITE : IOMMU_READ;
    const meter = this.sim.meter,
      mem = this.sim.mem,
      leaf = this.leaf;
    if (d === null) {
      this.fault(dev, -1, iova, write, 'no-domain');
      return false;
    }
    for (let i = 0; i < npages; i++) {
      const va = iova + i;
      let pfn: number, prot: number, via: 'pte' | 'iotlb';
      if (this.iotlb.lookup(d.id, va)) {
        pfn = this.iotlb.hitPfn;
        prot = this.iotlb.hitProt;
        via = 'iotlb';
      } else {
        meter.charge(EV.walkLevels, d.pt.top + 1);
        pfn = d.pt.lookup(va, leaf);
        if (pfn < 0) {
          this.fault(dev, d.id, va, write, 'not-present');
          return false;
        }
        prot = leaf.prot;
        const lp = POW2[leaf.order - 12]!;
        const off = va % lp;
        this.iotlb.fill(d.id, va - off, pfn - off, leaf.order, prot);
        via = 'pte';
      }
      if ((prot & need) === 0) {
        this.fault(dev, d.id, va, write, 'permission');
        return false;
      }
      mem.dmaAccess(pfn, write, d.id, va, via);
      meter.charge(EV.dmaPages, 1);
    }
    return true;
  }

  /** Faults logged so far, oldest first. */
  faults(): readonly DmaFault[] {
    return this.faultLog;
  }

  private fault(dev: number, dom: number, iova: number, write: boolean, reason: DmaFault['reason']): void {
    this.faultLog.push({ deviceId: dev, domainId: dom, iova, write, reason });
    this.sim.meter.charge(EV.faults, 1);
    const obs = this.sim.observers;
    if (obs.on) obs.ioPageFault(dev, dom, iova, write ? IOMMU_FAULT_WRITE : IOMMU_FAULT_READ);
  }
}

/** The RangeError for a dma() call with bad arguments (cold path). */
function badDma(iova: number, npages: number, dir: unknown): RangeError {
  if (!(Number.isInteger(npages) && npages > 0)) return new RangeError(`dma: npages must be a positive integer, got ${npages}`);
  if (!(npages >>> 0 === npages)) return new RangeError(`dma: npages ${npages} is more than one access can touch (max ${2 ** 32 - 1})`);
  if (!(Number.isInteger(iova) && iova >= 0)) return new RangeError(`dma: iova must be a non-negative integer (an IOVA page), got ${iova}`);
  return new RangeError(`dma: dir must be 'read' or 'write', got ${typeof dir === 'string' ? `'${dir}'` : String(dir)}`);
}

/** Creates a reference driver (one IOMMU unit) on a sim. */
export function createReferenceDriver(sim: Sim, opts: RefDriverOptions = {}): ReferenceDriver {
  return new ReferenceDriver(sim, opts);
}
