// Models the AMD IOMMU driver (drivers/iommu/amd_iommu.c from v3.19, amd/iommu.c + io_pgtable.c,
// then iommupt) as an IommuDriver: protection domains on the amdv1 page table with a dynamic top,
// attach/detach through DTEs, the era's flush ops issued as real commands on the ring, and DMA
// through the emulated hardware (DTE, IOTLB, walker, event log).

import {
  ERRNO,
  IOMMU_RESV_MSI,
  IommuError,
  type IommuDomain,
  type IommuDriver,
  type IommuOps,
  type IotlbPolicy,
  type Release,
  type ResvRegion,
  type Sim,
} from '@x/iommu-core';
import {
  EV,
  driverDomain,
  iommuPtDomainOps,
  ptIommuDeinit,
  ptIommuInit,
  type PtIommuConfig,
  type PtIommuDomain,
} from '@x/iommu-core/internals';
import { AMD_IOMMU_PGSIZES, createAmdv1Format, pteBigInt } from './fmt-amdv1.js';
import {
  buildCompletionWait,
  buildInvAddress,
  buildInvAll,
  buildInvDte,
  buildInvIommuPages,
  invAddress2018,
  INV_ALL_PAGES,
  type CmdName,
  type InvAddress,
} from './hw/commands.js';
import { DEV_ID_MAX } from './hw/dte.js';
import type { AmdEvent } from './hw/event-log.js';
import { AmdIommuHw } from './hw/iommu.js';
import { amdProfile, ptPolicyOf, type AmdProfileName, type AmdQuirks } from './profiles.js';

/**
 * Options of createAmdIommu. Every property may be left out or set to `undefined` (the same thing:
 * the default applies), so the type holds under `exactOptionalPropertyTypes`.
 */
export interface AmdIommuOptions {
  /**
   * Kernel release: any 'vX.Y' from v3.19 to the newest modelled release, or 'mainline'. Default
   * 'mainline', as for every factory of these packages.
   */
  profile?: AmdProfileName | undefined;
  /** Override single quirks of the profile; a quirk left out or `undefined` keeps the profile's value. */
  quirks?: { [K in keyof AmdQuirks]?: AmdQuirks[K] | undefined } | undefined;
  /** IOTLB entries. Default 1024. */
  iotlbEntries?: number | undefined;
  /** IOTLB replacement: 'lru' (default), 'fifo', 'wipe' (QEMU-like). */
  iotlbPolicy?: IotlbPolicy | undefined;
  /** Highest IOVA bit + 1 the hardware translates (EFR HATS). Default 64. */
  vaBits?: number | undefined;
  /** Reserved regions per device. Default: the x86 MSI window 0xfee00000-0xfeefffff. */
  resvRegions?: readonly ResvRegion[] | undefined;
  /** Driver name (ops.name). Default `amd-iommu <profile>`. */
  name?: string | undefined;
}

/** A protection domain: the page-table layer's domain (amdv1 table, pending gather) plus its devices. */
export interface AmdDomain extends PtIommuDomain {
  /** Devices attached (dev_iommu[] count for our single IOMMU). */
  devCount: number;
}

const X86_MSI: ResvRegion = { start: 0xfee00, last: 0xfeeff, type: IOMMU_RESV_MSI };
/** Where the driver's cmd_sem lives: a fixed modeled kernel address (byte), outside RAM and tables. */
export const CMD_SEM_ADDR = 0xffff_ffff_f000;

/** The io-pgtable code's per-page walks (before iommupt); their costs come from the sim's machine. */
export const AMD_PT_EVENTS = {
  'amd.pt.mapWalks': {
    ns: 0,
    source: 'one walk from the top of the table per page the io-pgtable code mapped (before iommupt, 789a5913b29c)',
  },
  'amd.pt.unmapWalks': { ns: 0, source: 'one lookup from the top per leaf (or hole) the io-pgtable code unmapped (before iommupt)' },
} as const;

export class AmdIommu implements IommuDriver {
  readonly name: string;
  readonly ops: IommuOps;
  /**
   * AMD_IOMMU_PGSIZES before iommupt; iommupt derives the domain's sizes from the
   * format's limits, which drops every size at or above the 52-bit output address.
   */
  readonly pgsizeBitmap: bigint;
  readonly hw: AmdIommuHw;
  readonly quirks: Readonly<AmdQuirks>;
  readonly profile: AmdProfileName;
  /** The release this driver models (profile 'mainline' = the newest modelled release). */
  readonly release: Release;
  readonly fmt = createAmdv1Format();
  private readonly devs = new Map<number, AmdDomain | null>();
  private readonly eventList: AmdEvent[] = [];
  private readonly resv: readonly ResvRegion[];
  private readonly maxPage: number;
  /** The page table this driver's domains get (format, policy, flush era). */
  private readonly ptCfg: PtIommuConfig;
  /** The invalidation address and S bit of the flush being built (one flush at a time). */
  private readonly inv: InvAddress = { page: 0, s: false };
  private nextDev = 0x0100;
  private semVal = 0;

  constructor(
    readonly sim: Sim,
    opts: AmdIommuOptions = {},
  ) {
    this.profile = opts.profile ?? 'mainline';
    const p = amdProfile(this.profile); // RangeError naming the valid releases
    this.release = p.release;
    const quirks: AmdQuirks = { ...p.quirks };
    // a quirk given as undefined keeps the profile's value (a plain spread would copy the undefined)
    if (opts.quirks !== undefined) {
      for (const k of Object.keys(opts.quirks) as (keyof AmdQuirks)[]) {
        const v = opts.quirks[k];
        if (v !== undefined) quirks[k] = v;
      }
    }
    this.quirks = quirks;
    this.pgsizeBitmap = quirks.iommupt ? AMD_IOMMU_PGSIZES & ((1n << 52n) - 1n) : AMD_IOMMU_PGSIZES;
    this.name = opts.name ?? `amd-iommu ${this.profile}`;
    this.hw = new AmdIommuHw(sim, { iotlbEntries: opts.iotlbEntries, iotlbPolicy: opts.iotlbPolicy });
    const evMapWalks = sim.meter.register('amd.pt.mapWalks', AMD_PT_EVENTS['amd.pt.mapWalks']);
    const evUnmapWalks = sim.meter.register('amd.pt.unmapWalks', AMD_PT_EVENTS['amd.pt.unmapWalks']);
    this.resv = opts.resvRegions ?? [X86_MSI];
    const vaBits = opts.vaBits ?? 64;
    if (!(Number.isInteger(vaBits) && vaBits >= 21 && vaBits <= 64)) throw new RangeError(`vaBits must be 21..64, got ${vaBits}`);
    this.maxPage = 2 ** (vaBits - 12) - 1;
    this.ptCfg = {
      name: this.name,
      apiEra: p.apiEra,
      singlePageOps: quirks.singlePageOps,
      splitsChunks: false,
      fmt: this.fmt,
      policy: ptPolicyOf(quirks),
      topLevel: 2, // mode 3: a 39-bit IOVA space to start with
      // before v4.17 every ->unmap flushed the whole domain and waited, and there were no iotlb ops
      flushOnUnmap: quirks.flushOnUnmap ? 'domain' : 'none',
      syncFlushesAll: quirks.syncFlushesAll,
      oddOrders: 'einval', // 512 GiB, and sizes above 2^51
      rangeErrno: -ERRNO.ERANGE,
      // growing fails only when the new top table cannot be had (mode 6 already spans the 64-bit
      // space): alloc_pte() returns NULL and the map -ENOMEM; iommupt's increase_top() returns the
      // allocation's -ENOMEM
      growErrno: -ERRNO.ENOMEM,
      // io-pgtable (before iommupt) walked from the top for every page mapped and every leaf unmapped
      walkEvents: quirks.iommupt ? null : { map: evMapWalks, unmap: evUnmapWalks },
    };
    this.ops = iommuPtDomainOps<AmdDomain>(sim, this.ptCfg, {
      flushRange: (d, start, last) => this.flushRange(d, start, last - start + 1),
      flushAll: (d) => this.flushDomain(d, true),
      changeTop: (d) => this.updateDomain(d),
    });
  }

  // ---- command helpers (one IOMMU; commands only when the domain has devices on it) ----------

  private submit(): void {
    this.hw.cmdRing.advance();
    this.hw.doorbell();
  }

  /** iommu_completion_wait(): queue COMPLETION_WAIT with a store to cmd_sem, run it, check the store. */
  completionWait(): void {
    const ring = this.hw.cmdRing;
    const val = this.quirks.semaphoreOne ? 1 : ++this.semVal;
    const sem = this.hw.stores.get(CMD_SEM_ADDR);
    if (sem !== undefined) sem[0] = 0; // 2018: cmd_sem = 0 before the wait
    buildCompletionWait(ring.words, ring.slot(), CMD_SEM_ADDR, val, 0, true);
    this.submit();
    const got = this.hw.stores.get(CMD_SEM_ADDR);
    if (got === undefined || got[0] !== val) throw new Error('BUG: Completion-Wait loop timed out');
  }

  private invPages(d: AmdDomain, page: number, s: boolean, pde: boolean): void {
    const ring = this.hw.cmdRing;
    buildInvIommuPages(ring.words, ring.slot(), d.id, page, s, pde);
    this.submit();
  }

  private invDte(dev: number): void {
    const ring = this.hw.cmdRing;
    buildInvDte(ring.words, ring.slot(), dev);
    this.submit();
  }

  /** domain_flush_tlb_pde (+ domain_flush_complete when `wait`): the whole domain. */
  private flushDomain(d: AmdDomain, wait: boolean): void {
    if (d.devCount === 0) return;
    this.sim.meter.charge(EV.iotlbFlushes, 1);
    this.invPages(d, INV_ALL_PAGES, true, true);
    if (wait) this.completionWait();
  }

  /** domain_flush_pages + complete over [start, start+npages): the era's address rule, PDE=1. */
  private flushRange(d: AmdDomain, start: number, npages: number): void {
    if (d.devCount === 0) return;
    this.sim.meter.charge(EV.iotlbFlushes, 1);
    const inv = this.quirks.invPageOrAll ? invAddress2018(start, npages, this.inv) : buildInvAddress(start, npages, this.inv);
    this.invPages(d, inv.page, inv.s, true);
    this.completionWait();
  }

  /** INVALIDATE_IOMMU_ALL (needs IASup); flushes every cache of this IOMMU and waits. */
  invalidateAll(): void {
    const ring = this.hw.cmdRing;
    buildInvAll(ring.words, ring.slot());
    this.submit();
    this.completionWait();
  }

  // ---- DTEs -------------------------------------------------------------------------------

  private setDte(dev: number, d: AmdDomain): void {
    this.hw.devtab.write(dev, { v: true, tv: true, mode: d.pt.top + 1, rootPfn: d.pt.root, ir: true, iw: true, domainId: d.id });
  }

  /** update_domain() after the table grew: new root and mode in every attached DTE, then flushes. */
  private updateDomain(d: AmdDomain): void {
    if (d.devCount === 0) return;
    for (const [dev, dd] of this.devs)
      if (dd === d) {
        this.setDte(dev, d);
        this.invDte(dev);
      }
    if (this.quirks.growFlush2018)
      this.flushDomain(d, false); // 2018: PDE flush, no wait
    else this.completionWait(); // mainline: DTE flush + wait
  }

  // ---- IommuDriver ----------------------------------------------------------------------------

  /** iommu_domain_alloc(UNMANAGED): a protection domain at mode 3 (top level 2). */
  domainAlloc(): IommuDomain {
    const id = this.sim.nextDomainId();
    if (id > 0xffff) throw new IommuError('ENOSPC', 'iommu_domain_alloc', 'no free 16-bit domain id');
    return ptIommuInit(this.sim, this.ops, this.ptCfg, id, this.maxPage, this.pgsizeBitmap, { devCount: 0 });
  }

  /**
   * iommu_domain_free(): frees every table of the domain and drops its IOTLB entries. Throws
   * IommuError EINVAL for a domain of another IOMMU or one already freed (a second free would hand
   * the same table frames out twice), EBUSY while devices are attached (nothing is freed then).
   * Afterwards the domain is dead: its paging type is cleared, so iommuMap throws EINVAL, unmaps
   * return 0 and iommuIovaToPhys -1, and this driver's calls taking it throw EINVAL. Its DomainID
   * is never handed out again (DomainIDs come from the sim's counter).
   */
  domainFree(dom: IommuDomain): void {
    const d = this.own(dom, 'iommu_domain_free');
    if (d.devCount > 0) throw new IommuError('EBUSY', 'iommu_domain_free', `domain ${d.id} still has ${d.devCount} device(s)`);
    this.hw.iotlb.invalidateDomain(d.id);
    ptIommuDeinit(d); // the core API refuses it from now on
  }

  probeDevice(): number {
    while (this.devs.has(this.nextDev)) this.nextDev++;
    if (this.nextDev > DEV_ID_MAX) throw new IommuError('ENOSPC', 'iommu_probe_device', 'no free 16-bit device id');
    const id = this.nextDev++;
    this.devs.set(id, null);
    return id;
  }

  /**
   * iommu_attach_device(): writes the DTE, flushes it and the domain (PDE=1, the kdump-safety flush)
   * and waits. Throws IommuError ENODEV (bad id), EINVAL (another IOMMU's or a freed domain),
   * EBUSY (attached to another domain).
   */
  attachDevice(dom: IommuDomain, dev: number): void {
    if (!(Number.isInteger(dev) && dev >= 0 && dev <= DEV_ID_MAX))
      throw new IommuError('ENODEV', 'iommu_attach_device', `bad device id ${dev}`);
    const d = this.own(dom, 'iommu_attach_device');
    const cur = this.devs.get(dev);
    if (cur === d) return;
    if (cur !== undefined && cur !== null)
      throw new IommuError('EBUSY', 'iommu_attach_device', `device 0x${dev.toString(16)} is attached to domain ${cur.id}`);
    this.devs.set(dev, d);
    d.devCount++;
    this.setDte(dev, d);
    this.invDte(dev);
    this.flushDomain(d, true);
  }

  /**
   * Detach: DTE back to V|TV with no permissions (DMA blocked) and INVALIDATE_DEVTAB_ENTRY; before
   * v5.0 (do_detach + iommu_completion_wait) it then only waits, since 9825bd94e3a2 it flushes the
   * domain (PDE=1) first.
   * A device not attached to `dom` is left alone. Throws IommuError EINVAL for another IOMMU's or a
   * freed domain.
   */
  detachDevice(dom: IommuDomain, dev: number): void {
    const d = this.own(dom, 'iommu_detach_device');
    if (this.devs.get(dev) !== d) return;
    this.hw.devtab.write(dev, { v: true, tv: true, mode: 0, rootPfn: 0, ir: false, iw: false, domainId: 0 });
    this.invDte(dev);
    if (this.quirks.detachFlush) this.flushDomain(d, true);
    else this.completionWait();
    this.devs.set(dev, null);
    d.devCount--;
  }

  deviceDomain(dev: number): IommuDomain | null {
    return this.devs.get(dev) ?? null;
  }
  /** IOMMU_CAP_CACHE_COHERENCY (FC on every leaf) and IOMMU_CAP_INTR_REMAP. */
  capable(cap: number): boolean {
    return cap === 0 || cap === 1;
  }
  resvRegions(_dev: number): readonly ResvRegion[] {
    return this.resv;
  }

  /**
   * A device reads or writes npages from IOVA page `iova` through the emulated IOMMU: DTE, IOTLB,
   * then the page walk. Stops at the first fault (an IO_PAGE_FAULT in the event log) and returns false.
   */
  dma(dev: number, iova: number, npages: number, dir: 'read' | 'write'): boolean {
    if (!(Number.isInteger(dev) && dev >= 0 && dev <= DEV_ID_MAX)) throw new RangeError(`bad device id ${dev}`);
    const hw = this.hw,
      mem = this.sim.mem,
      meter = this.sim.meter,
      write = dir === 'write';
    for (let i = 0; i < npages; i++) {
      const va = iova + i;
      const pfn = hw.translate(dev, va, write);
      if (pfn < 0) {
        hw.events.drain(this.eventList);
        return false;
      }
      mem.dmaAccess(pfn, write, hw.devtab.cDom[dev]!, va, hw.via);
      meter.charge(EV.dmaPages, 1);
    }
    return true;
  }

  /** Events the driver has drained from the log, oldest first. */
  eventLog(): readonly AmdEvent[] {
    this.hw.events.drain(this.eventList);
    return this.eventList;
  }

  /** Commands the hardware executed, by the spec's names. */
  commands(): Record<CmdName, number> {
    return this.hw.commands();
  }

  /**
   * The raw 64-bit entry that translates IOVA page `iova` and its 0-based level, or null when
   * nothing does. Throws IommuError EINVAL for another IOMMU's or a freed domain.
   */
  readPte(dom: IommuDomain, iova: number): { pte: bigint; level: number } | null {
    const e = this.own(dom, 'readPte').pt.entryOf(iova);
    return e === null ? null : { pte: pteBigInt(e.words, e.w), level: e.level };
  }

  /** DTE mode (levels) of a domain's table: top level + 1. Throws IommuError EINVAL like readPte. */
  mode(dom: IommuDomain): number {
    return this.own(dom, 'mode').pt.top + 1;
  }

  /** The domain as ours and live: EINVAL for another IOMMU's domain or one already freed. */
  private own(dom: IommuDomain, call: string): AmdDomain {
    return driverDomain<AmdDomain>(this.ops, dom, call);
  }
}

/** Creates an AMD IOMMU (one unit) with its driver on a sim. */
export function createAmdIommu(sim: Sim, opts: AmdIommuOptions = {}): AmdIommu {
  return new AmdIommu(sim, opts);
}
