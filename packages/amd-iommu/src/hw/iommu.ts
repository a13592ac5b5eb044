// Models one AMD IOMMU unit as hardware: device table + DTE cache, the command ring and its
// execution, an IOTLB tagged by DomainID, the page walker and the event log. Devices' DMA enters
// through translate(); the driver talks to it only through memory (DTEs, page tables) and commands.

import { IOMMU_FAULT_READ, IOMMU_FAULT_WRITE, type IotlbPolicy, type Sim } from '@x/iommu-core';
import { EV, Iotlb, deepFreeze } from '@x/iommu-core/internals';
import { CmdRing } from './cmd-ring.js';
import {
  CMD_COMPLETION_WAIT,
  CMD_COMPLETE_PPR_REQUEST,
  CMD_INV_DEVTAB_ENTRY,
  CMD_INV_INTERRUPT_TABLE,
  CMD_INV_IOMMU_ALL,
  CMD_INV_IOMMU_PAGES,
  CMD_INV_IOTLB_PAGES,
  CMD_NAMES,
  CMD_PREFETCH_IOMMU_PAGES,
  CW_S,
  INV_S,
  cmdInvPage,
  cmdOpcode,
  decodeInvAddress,
  type CmdName,
  type InvRange,
} from './commands.js';
import { DeviceTable } from './dte.js';
import { EVENT_FLAG_RW, EventLog } from './event-log.js';
import { PERMISSION_FAULT_FLAGS, WalkResult, walk } from './walk.js';

/** Modeled event costs of the AMD hardware/driver (registered on the sim's meter). */
export const AMD_COSTS = deepFreeze({
  'amd.cmd.submit': { ns: 100, source: 'assumption: copy 16 bytes into the ring + one uncached MMIO write of the tail register' },
  'amd.cmd.COMPLETION_WAIT': { ns: 0, source: 'count only: the wait is charged as the core event completionWaits' },
  'amd.cmd.INVALIDATE_DEVTAB_ENTRY': { ns: 300, source: 'assumption (UNVERIFIED, spec §10): same as one IOTLB invalidation' },
  'amd.cmd.INVALIDATE_IOMMU_PAGES': { ns: 0, source: 'count only: charged as the core event invalidations' },
  'amd.cmd.INVALIDATE_IOTLB_PAGES': { ns: 0, source: 'count only: ATS device IOTLBs are not modeled' },
  'amd.cmd.INVALIDATE_INTERRUPT_TABLE': { ns: 0, source: 'count only: interrupt remapping is not modeled' },
  'amd.cmd.PREFETCH_IOMMU_PAGES': { ns: 0, source: 'count only' },
  'amd.cmd.COMPLETE_PPR_REQUEST': { ns: 0, source: 'count only' },
  'amd.cmd.INVALIDATE_IOMMU_ALL': { ns: 0, source: 'count only: charged as the core event invalidations' },
  'amd.inv.pages': { ns: 0, source: 'count only: pages covered by page-selective INVALIDATE_IOMMU_PAGES' },
  'amd.inv.domainWide': { ns: 0, source: 'count only: INVALIDATE_IOMMU_PAGES covering the whole domain' },
  'amd.iotlb.dropped': { ns: 0, source: 'count only: IOTLB entries removed by invalidations' },
  'amd.iotlb.evictions': { ns: 0, source: 'count only: IOTLB entries evicted (or wiped) to make room' },
  'amd.walks': { ns: 0, source: 'count only: page walks; each entry read is charged as walkLevels' },
  'amd.dte.fetch': { ns: 90, source: 'assumption: one DRAM read of a 32-byte DTE, as walkLevels' },
  'amd.event.IO_PAGE_FAULT': { ns: 0, source: 'count only: IO_PAGE_FAULT events logged' },
  'amd.event.ILLEGAL_COMMAND_ERROR': { ns: 0, source: 'count only' },
} as const);

/** Options of AmdIommuHw; a property set to `undefined` is the same as one left out (the default). */
export interface AmdHwOptions {
  /** IOTLB entries. Default 1024 (QEMU's AMDVI_IOTLB_MAX_SIZE). */
  iotlbEntries?: number | undefined;
  /** Replacement when full: 'lru' (default), 'fifo', or 'wipe' (QEMU: clear everything). */
  iotlbPolicy?: IotlbPolicy | undefined;
  /** Command ring entries. Default 512 (Linux). */
  cmdEntries?: number | undefined;
}

export class AmdIommuHw {
  readonly devtab = new DeviceTable();
  readonly cmdRing: CmdRing;
  readonly iotlb: Iotlb;
  readonly events = new EventLog();
  /** Executed commands by opcode (index = opcode). */
  readonly cmdCount = new Float64Array(16);
  /** COMPLETION_WAIT stores: byte address -> last 64-bit value written, as [lo, hi] words. */
  readonly stores = new Map<number, Int32Array>();
  private readonly r = new WalkResult();
  /** The range of the invalidation being executed (one command at a time). */
  private readonly inv: InvRange = { page: 0, npages: 0 };
  private readonly ev: Record<keyof typeof AMD_COSTS, number>;
  private readonly evCmd: number[];

  constructor(
    readonly sim: Sim,
    opts: AmdHwOptions = {},
  ) {
    this.cmdRing = new CmdRing(opts.cmdEntries);
    this.iotlb = new Iotlb(opts.iotlbEntries ?? 1024, opts.iotlbPolicy ?? 'lru', sim.mem, sim.meter);
    sim.checker.reachers.push(this.iotlb);
    const ev = {} as Record<string, number>;
    for (const k of Object.keys(AMD_COSTS) as (keyof typeof AMD_COSTS)[]) ev[k] = sim.meter.register(k, AMD_COSTS[k]);
    this.ev = ev as Record<keyof typeof AMD_COSTS, number>;
    this.evCmd = CMD_NAMES.map((n) => (n === '' ? -1 : ev[`amd.cmd.${n}`]!));
  }

  // ---- command processing -----------------------------------------------------------------

  /** Tail register write: runs every command from head to tail, in order (QEMU-like, synchronous). */
  doorbell(): void {
    const ring = this.cmdRing;
    while (ring.head !== ring.tail) {
      this.execute(ring.words, ring.head >>> 2);
      ring.head = (ring.head + 16) % ring.bytes;
    }
  }

  private execute(words: Int32Array, c: number): void {
    const op = cmdOpcode(words, c);
    const meter = this.sim.meter;
    meter.charge(this.ev['amd.cmd.submit'], 1);
    if (op >= 1 && op <= 8) {
      this.cmdCount[op]!++;
      meter.charge(this.evCmd[op]!, 1);
    }
    switch (op) {
      case CMD_COMPLETION_WAIT: {
        // every earlier command has already completed (synchronous execution)
        meter.charge(EV.completionWaits, 1);
        if ((words[c]! & CW_S) !== 0) {
          const addr = (words[c + 1]! & 0xfffff) * 4294967296 + ((words[c]! & ~7) >>> 0);
          let cell = this.stores.get(addr);
          if (cell === undefined) {
            cell = new Int32Array(2);
            this.stores.set(addr, cell);
          }
          cell[0] = words[c + 2]!;
          cell[1] = words[c + 3]!;
        }
        break;
      }
      case CMD_INV_DEVTAB_ENTRY:
        this.devtab.invalidate(words[c]! & 0xffff);
        break;
      case CMD_INV_IOMMU_PAGES: {
        meter.charge(EV.invalidations, 1);
        const dom = words[c + 1]! & 0xffff;
        const inv = decodeInvAddress(cmdInvPage(words, c), (words[c + 2]! & INV_S) !== 0, this.inv);
        // PDE (also drop cached directory entries) has nothing to act on: no walk cache is modeled
        let n: number;
        if (inv.npages === Infinity) {
          n = this.iotlb.invalidateDomain(dom);
          meter.charge(this.ev['amd.inv.domainWide'], 1);
        } else {
          n = this.iotlb.invalidateRange(dom, inv.page, inv.page + inv.npages - 1);
          meter.charge(this.ev['amd.inv.pages'], inv.npages);
        }
        if (n > 0) meter.charge(this.ev['amd.iotlb.dropped'], n);
        break;
      }
      case CMD_INV_IOMMU_ALL: {
        meter.charge(EV.invalidations, 1);
        const n = this.iotlb.flushAll();
        if (n > 0) meter.charge(this.ev['amd.iotlb.dropped'], n);
        this.devtab.invalidateAll();
        break;
      }
      case CMD_INV_IOTLB_PAGES:
      case CMD_INV_INTERRUPT_TABLE:
      case CMD_PREFETCH_IOMMU_PAGES:
      case CMD_COMPLETE_PPR_REQUEST:
        break; // no ATS device IOTLBs, interrupt remapping or PPR in the model
      default:
        this.events.illegalCommand(c * 4);
        meter.charge(this.ev['amd.event.ILLEGAL_COMMAND_ERROR'], 1);
    }
  }

  /** Commands executed so far, by name. */
  commands(): Record<CmdName, number> {
    const o = {} as Record<CmdName, number>;
    for (let op = 1; op <= 8; op++) o[CMD_NAMES[op] as CmdName] = this.cmdCount[op]!;
    return o;
  }

  // ---- translation ------------------------------------------------------------------------

  /**
   * A device access to IOVA page `iova`: DTE (cache), IOTLB, then the walk. Returns the frame, or
   * -1 after logging an IO_PAGE_FAULT. `via` tells the caller where the translation came from.
   */
  translate(dev: number, iova: number, write: boolean): number {
    const dt = this.devtab,
      meter = this.sim.meter;
    if (dt.load(dev)) meter.charge(this.ev['amd.dte.fetch'], 1);
    const flags = dt.cFlags[dev]!;
    if ((flags & 4) === 0 || (flags & 8) === 0) {
      this.via = 'pte';
      return iova;
    } // V=0 or TV=0: untranslated
    const dom = dt.cDom[dev]!,
      mode = dt.cMode[dev]!;
    const need = write ? 2 : 1;
    if (mode === 0) {
      // no translation: the DTE's IR/IW alone decide (Linux's blocked DTE grants neither)
      if ((flags & need) === 0) {
        this.fault(dev, dom, iova, write, PERMISSION_FAULT_FLAGS);
        return -1;
      }
      this.via = 'pte';
      return iova;
    }
    const tlb = this.iotlb;
    if (tlb.lookup(dom, iova)) {
      if ((tlb.hitProt & need) === 0) {
        this.fault(dev, dom, iova, write, PERMISSION_FAULT_FLAGS);
        return -1;
      }
      this.via = 'iotlb';
      return tlb.hitPfn;
    }
    const r = this.r;
    meter.charge(this.ev['amd.walks'], 1);
    const ok = walk(this.sim.mem, mode, dt.cRoot[dev]!, iova, flags & 3, r);
    meter.charge(EV.walkLevels, r.levels);
    if (!ok) {
      this.fault(dev, dom, iova, write, r.faultFlags);
      return -1;
    }
    if (r.prot !== 0) {
      const before = tlb.evictions + tlb.wipes;
      const used = tlb.used;
      tlb.fill(dom, r.leafIova, r.leafPfn, r.order, r.prot);
      if (tlb.evictions + tlb.wipes !== before) meter.charge(this.ev['amd.iotlb.evictions'], tlb.policy === 'wipe' ? used : 1);
    }
    if ((r.prot & need) === 0) {
      this.fault(dev, dom, iova, write, PERMISSION_FAULT_FLAGS);
      return -1;
    }
    this.via = 'pte';
    return r.pfn;
  }

  /** Where the last successful translate() found its answer. */
  via: 'pte' | 'iotlb' = 'pte';

  private fault(dev: number, dom: number, iova: number, write: boolean, flags: number): void {
    this.events.ioPageFault(dev, dom, iova, flags | (write ? EVENT_FLAG_RW : 0));
    this.sim.meter.charge(this.ev['amd.event.IO_PAGE_FAULT'], 1);
    this.sim.meter.charge(EV.faults, 1);
    // the kernel's trace_io_page_fault comes from the event-log handler; the model emits it as the entry is logged
    const obs = this.sim.observers;
    if (obs.on) obs.ioPageFault(dev, dom, iova, write ? IOMMU_FAULT_WRITE : IOMMU_FAULT_READ);
  }
}
