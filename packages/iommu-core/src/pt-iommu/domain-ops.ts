// Models IOMMU_PT_DOMAIN_OPS (drivers/iommu/generic_pt/iommu_pt.h): map_pages, unmap_pages and
// iova_to_phys on the page-table engine for any format, plus the iotlb ops every driver wrote the
// same way around them: ranges unmapped without a gather wait in the domain's pending gather and
// join the next sync, a sync flushes the gathered range through the driver and then frees the
// tables it covered (the gather owns them), a map that replaced tables flushes its range first.
// What differs per driver and era is data (PtIommuConfig) and three driver hooks (PtIommuDriverOps).

import { ERRNO } from '../errno.js';
import { iommuIotlbGatherAddRange, type IotlbGather } from '../gather.js';
import { domainIsDead, IOMMU_READ, IOMMU_WRITE, type IommuDomain, type IommuOps } from '../ops.js';
import { POW2_TABLE, pgsizeCount, type PgsizeCountOut } from '../pgsize.js';
import type { Sim } from '../sim.js';
import type { PtIommuConfig, PtIommuDomain, PtIommuDriverOps } from './iommu.js';

/** A freed domain: its tables went back to the arena (maybe to another domain); never touch them through it. */
const dead = domainIsDead;

/**
 * The IommuOps of a driver whose domains are PtIommuDomains: the page-table ops from cfg, the
 * flushes from drv. Without flushOnUnmap 'none' the driver has no iotlb ops (its ->unmap flushed).
 * The object is frozen: nobody replaces an op at run time (subscribe with sim.observe() instead).
 * Its iotlb_sync and flush_iotlb_all emit the iotlbSync* and flushIotlbAll* probe points.
 */
export function iommuPtDomainOps<D extends PtIommuDomain>(sim: Sim, cfg: PtIommuConfig, drv: PtIommuDriverOps<D>): IommuOps {
  const meter = sim.meter,
    obs = sim.observers,
    walks = cfg.walkEvents,
    split = cfg.oddOrders === 'split';
  // the sizes the table holds, as a list (for splitting) and per order (the hot-path test)
  const leafOrders: number[] = [];
  for (let l = 0; l <= cfg.fmt.maxLevel; l++) leafOrders.push(...cfg.fmt.leafOrders(l));
  leafOrders.sort((a, b) => a - b);
  const holdsOrder = new Uint8Array(64);
  for (const o of leafOrders) holdsOrder[o] = 1;

  /** VT-d before v5.15 (__domain_mapping): a size the table lacks, as runs of the sizes it has. */
  const mapSplit = (d: D, iova: number, pfn: number, npages: number, prot: number): number => {
    const run: PgsizeCountOut = { count: 0 };
    let done = 0;
    while (done < npages) {
      const o = pgsizeCount(leafOrders, iova + done, pfn + done, npages - done, run);
      const r = d.pt.map(iova + done, pfn + done, o, run.count, prot, d.mapGather);
      done += d.pt.mapped;
      if (r !== 0) {
        d.mapped = done;
        return r;
      }
    }
    d.mapped = done;
    return 0;
  };

  /** Flushes g's range (when it has one), then frees the tables g and the pending gather hold. */
  const syncGather = (d: D, g: IotlbGather): void => {
    if (!g.empty) drv.flushRange(d, g.start, g.end);
    d.pt.putPages(d.pending);
    d.pt.putPages(g);
    g.reset();
  };

  const ops: IommuOps = {
    name: cfg.name,
    apiEra: cfg.apiEra,
    singlePageOps: cfg.singlePageOps,
    splitsChunks: cfg.splitsChunks,
    mapPages(dom, iova, pfn, order, count, prot) {
      const d = dom as D;
      dom.mapped = 0;
      if (dead(dom)) return -ERRNO.EINVAL; // iommu_map checks first
      if ((prot & (IOMMU_READ | IOMMU_WRITE)) === 0) return -ERRNO.EINVAL;
      const holds = holdsOrder[order] === 1;
      if (!holds && !split) return -ERRNO.EINVAL; // AMD: 512 GiB, > 2^51
      const lp = POW2_TABLE[order - 12]!;
      const last = iova + count * lp - 1;
      if (last > dom.geometry.apertureEnd) return cfg.rangeErrno;
      if (cfg.growErrno !== null) {
        let grew = false,
          failed = false;
        const lvl = holds ? d.pt.geo.levelOf[order]! : 0;
        while (last >= d.pt.span || d.pt.top < lvl) {
          if (!d.pt.grow()) {
            failed = true;
            break;
          }
          grew = true;
        }
        // the levels added before one that failed stay, as each increase_address_space() published
        // its own (iommupt's increase_top adds all or none: amd-iommu's README lists the
        // difference), so the driver points its DTEs at them either way
        if (grew && drv.changeTop !== undefined) drv.changeTop(d);
        if (failed) return cfg.growErrno;
      }
      let r: number;
      if (holds) {
        r = d.pt.map(iova, pfn, order, count, prot, d.mapGather);
        dom.mapped = d.pt.mapped;
      } else r = mapSplit(d, iova, pfn, count * lp, prot);
      // io-pgtable (before iommupt) walked from the top again for every page it mapped
      if (walks !== null && dom.mapped > 0) meter.charge(walks.map, Math.ceil(dom.mapped / lp));
      if (d.mapGather.freelist.length !== 0) {
        // tables unlinked under a new large leaf are flushed before they are freed; an earlier
        // unmap's tables still wait for that unmap's sync
        drv.flushRange(d, iova, iova + count * lp - 1);
        d.pt.putPages(d.mapGather);
      }
      return r;
    },
    unmapPages(dom, iova, order, count, gather) {
      if (dead(dom)) return 0;
      const d = dom as D,
        lp = POW2_TABLE[order - 12]!;
      if (cfg.flushOnUnmap !== 'none') {
        // before the deferred-flush API the core called ->unmap once per page-size step; each call
        // flushed (its range, or the whole domain) and waited
        let got = 0;
        const total = count * lp;
        while (got < total) {
          const n = d.pt.unmap(iova + got, lp, d.pending);
          if (walks !== null) meter.charge(walks.unmap, d.pt.unmapSteps);
          if (n === 0) break;
          if (cfg.flushOnUnmap === 'range') drv.flushRange(d, iova + got, iova + got + n - 1);
          else drv.flushAll(d);
          d.pt.putPages(d.pending);
          got += n;
        }
        return got;
      }
      const fl = gather ?? d.pending;
      const got = d.pt.unmap(iova, count * lp, fl);
      // io-pgtable looked every leaf (and hole) up from the top; iommupt keeps its place
      if (walks !== null) meter.charge(walks.unmap, d.pt.unmapSteps);
      if (got > 0 && !cfg.syncFlushesAll) iommuIotlbGatherAddRange(fl, iova, got);
      return got;
    },
    iovaToPhys: (dom, iova) => (dead(dom) ? -1 : (dom as D).pt.lookup(iova, null)),
  };
  if (cfg.flushOnUnmap !== 'none') return Object.freeze(ops);
  const flushIotlbAll = (dom: IommuDomain): void => {
    if (obs.on) obs.flushIotlbAllBegin(dom);
    if (!dead(dom)) {
      // a freed domain's IOTLB entries went with it
      const d = dom as D;
      drv.flushAll(d);
      d.pending.reset();
      d.pt.putPages(d.pending);
    }
    if (obs.on) obs.flushIotlbAllEnd(dom);
  };
  ops.flushIotlbAll = flushIotlbAll;
  if (cfg.syncFlushesAll) {
    // v4.17 .. v5.14 AMD: range_add is a no-op; sync is flush_iotlb_all
    ops.iotlbRangeAdd = () => {};
    ops.iotlbSync = (dom, g) => {
      if (obs.on) obsSyncBegin(dom, g);
      flushIotlbAll(dom);
      if (g !== null) {
        if (!dead(dom)) (dom as D).pt.putPages(g);
        g.reset();
      }
      if (obs.on) obs.iotlbSyncEnd(dom);
    };
  } else {
    ops.iotlbRangeAdd = (dom, iova, npages) => {
      if (!dead(dom)) iommuIotlbGatherAddRange((dom as D).pending, iova, npages);
    };
    ops.iotlbSync = (dom, g) => {
      if (obs.on) obsSyncBegin(dom, g);
      if (!dead(dom)) {
        // a freed domain: nothing cached, nothing to free
        const d = dom as D;
        if (g !== null) {
          // a gather and the domain's own pending range may both hold work: flush their union
          const p = d.pending;
          if (!p.empty) {
            iommuIotlbGatherAddRange(g, p.start, p.end - p.start + 1);
            p.reset();
          }
          syncGather(d, g);
        } else syncGather(d, d.pending);
      }
      if (obs.on) obs.iotlbSyncEnd(dom);
    };
  }
  /** iotlbSyncBegin with the range the sync gathered: g's and the pending range's union (start > last: none). */
  const obsSyncBegin = (dom: IommuDomain, g: IotlbGather | null): void => {
    const p = dead(dom) ? null : (dom as D).pending;
    let start = Infinity,
      last = -1;
    if (g !== null && !g.empty) {
      start = g.start;
      last = g.end;
    }
    if (p !== null && !p.empty) {
      start = Math.min(start, p.start);
      last = Math.max(last, p.end);
    }
    obs.iotlbSyncBegin(dom, start, last);
  };
  return Object.freeze(ops);
}
