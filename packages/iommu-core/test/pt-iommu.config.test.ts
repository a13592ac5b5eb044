// The pt-iommu layer (iommuPtDomainOps) under each of its era choices, on the reference format with
// driver hooks that log what they are asked to flush: the flush inside every ->unmap step (VT-d
// before v5.11, AMD before v4.17), a sync that is flush_iotlb_all (AMD v4.17 .. v5.14), a top that
// grows on demand (AMD's increase_top), io-pgtable's per-page walk events, sizes the table lacks
// (split or EINVAL), and a sync that joins the gather with the domain's pending range. The AMD
// package runs the same layer; these tests need no AMD code.
import { describe, expect, it } from 'vitest';
import {
  ERRNO,
  SZ_1G,
  SZ_2M,
  SZ_4K,
  createIotlbGather,
  createSim,
  iommuMap,
  iommuTlbRangeAdd,
  iommuTlbSync,
  iommuUnmap,
  iommuUnmapFast,
  type IommuDomain,
  type Sim,
} from '../src/index.js';
import {
  REF_POLICY,
  createRefFormat,
  iommuPtDomainOps,
  ptIommuDeinit,
  ptIommuInit,
  ptTestConfig,
  type PtIommuConfig,
  type PtIommuDomain,
} from '../src/internals.js';
import { RW } from './harness.js';

const BM = SZ_4K | SZ_2M | SZ_1G;

function make(over: Partial<PtIommuConfig> = {}, opts: { apertureEnd?: number; sim?: Sim } = {}) {
  const sim = opts.sim ?? createSim({ memory: 1n << 30n, seed: 1 });
  const log: (string | number)[][] = [];
  const cfg: PtIommuConfig = { ...ptTestConfig(createRefFormat(BM), REF_POLICY, 3), name: 'cfg-test', ...over };
  const ops = iommuPtDomainOps<PtIommuDomain>(sim, cfg, {
    flushRange: (d, start, last) => log.push(['range', d.id, start, last]),
    flushAll: (d) => log.push(['all', d.id]),
    changeTop: (d) => log.push(['top', d.id, d.pt.top]),
  });
  const dom = ptIommuInit(sim, ops, cfg, 9, opts.apertureEnd ?? 2 ** 36 - 1, BM, {});
  return { sim, dom, ops, log };
}

describe('flush inside every unmap step', () => {
  it("test_flush_on_unmap_range: one flush of each step's range; no iotlb ops", () => {
    const { dom, ops, log } = make({ flushOnUnmap: 'range', apiEra: '2018' });
    expect([ops.iotlbSync, ops.iotlbRangeAdd, ops.flushIotlbAll]).toEqual([undefined, undefined, undefined]);
    iommuMap(dom, 1, 100, 3, RW);
    expect(iommuUnmap(dom, 1, 3)).toBe(3);
    expect(log).toEqual([
      ['range', 9, 1, 1],
      ['range', 9, 2, 2],
      ['range', 9, 3, 3],
    ]);
  });

  it('test_flush_on_unmap_domain_and_hole: a whole-domain flush per step, ending at the first hole', () => {
    const { dom, log } = make({ flushOnUnmap: 'domain', apiEra: '2018' });
    iommuMap(dom, 1, 100, 1, RW);
    iommuMap(dom, 3, 102, 1, RW);
    expect(dom.ops.unmapPages(dom, 1, 12, 3, null)).toBe(1); // page 2 is a hole: the step unmaps 0 and stops
    expect(log).toEqual([['all', 9]]);
  });
});

describe('a sync that flushes everything (AMD v4.17 .. v5.14)', () => {
  it('test_sync_flushes_all: range add does nothing, the sync is one domain flush and frees the gathered tables', () => {
    const { sim, dom, log } = make({ syncFlushesAll: true, apiEra: '2018' });
    iommuMap(dom, 0, 0, 512, RW); // a whole level-0 table of 4 KiB leaves (misaligned pfn below keeps them 4 KiB)
    iommuUnmap(dom, 0, 512);
    iommuMap(dom, 0, 1, 512, RW);
    const tables = sim.mem.tables.inUse;
    const g = createIotlbGather();
    expect(iommuUnmapFast(dom, 0, 512, g)).toBe(512);
    iommuTlbRangeAdd(dom, 0, 512);
    expect(dom.pending.empty).toBe(true);
    expect(g.freelist.length).toBe(1); // the emptied level-0 table waits for the sync
    log.length = 0;
    iommuTlbSync(dom, g);
    expect(log).toEqual([['all', 9]]);
    expect([g.freelist.length, sim.mem.tables.inUse, g.empty]).toEqual([0, tables - 1, true]);
  });
});

describe('a top that grows on demand', () => {
  it('test_grow_top: a map past the span grows the root, tells the driver once, and ENOMEM-like growErrno when it cannot', () => {
    const { sim, dom, log } = make({ topLevel: 1, growErrno: -ERRNO.ENOMEM });
    expect(dom.pt.span).toBe(2 ** 18);
    iommuMap(dom, 2 ** 27, 5, 1, RW); // needs level 3: two grows, one changeTop
    iommuMap(dom, 5, 5, 1, RW); // inside the span now: no growth, no change_top
    expect(log).toEqual([['top', 9, 3]]);
    expect(dom.pt.top).toBe(3);
    const small = make({ topLevel: 0, growErrno: -ERRNO.ENOMEM }, { sim });
    sim.faults.arm('tableAlloc', 1);
    expect(small.dom.ops.mapPages(small.dom, 512, 5, 12, 1, RW)).toBe(-ERRNO.ENOMEM);
    expect([small.dom.pt.top, small.log]).toEqual([0, []]);
    // a 1 GiB leaf needs level 2 even inside the span: the old level-1 root, empty, hangs where the
    // leaf goes and is replaced, its range flushed before it is freed
    const mid = make({ topLevel: 1, growErrno: -ERRNO.ENOMEM }, { sim });
    iommuMap(mid.dom, 0, 0, 262144, RW);
    expect([mid.dom.pt.top, mid.log]).toEqual([
      2,
      [
        ['top', 9, 2],
        ['range', 9, 0, 262143],
      ],
    ]);
    expect(mid.dom.pt.tables).toBe(1);
  });

  it('test_grow_fails_part_way: the level added before the failed one stays, and the driver is told of it', () => {
    const { sim, dom, log } = make({ topLevel: 1, growErrno: -ERRNO.ENOMEM });
    sim.faults.arm('tableAlloc', 2); // the second of the two new top tables
    expect(dom.ops.mapPages(dom, 2 ** 27, 5, 12, 1, RW)).toBe(-ERRNO.ENOMEM);
    expect([dom.pt.top, dom.mapped, log]).toEqual([2, 0, [['top', 9, 2]]]);
    // a first level that cannot be had leaves the top as it was, and says nothing
    log.length = 0;
    sim.faults.arm('tableAlloc', 1);
    expect(dom.ops.mapPages(dom, 2 ** 27, 5, 12, 1, RW)).toBe(-ERRNO.ENOMEM);
    expect([dom.pt.top, log]).toEqual([2, []]);
    iommuMap(dom, 2 ** 27, 5, 1, RW);
    expect([dom.pt.top, log, dom.ops.iovaToPhys(dom, 2 ** 27)]).toEqual([3, [['top', 9, 3]], 5]);
  });

  it('test_grow_without_change_top: a driver with no change_top hook grows its table all the same', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const cfg: PtIommuConfig = { ...ptTestConfig(createRefFormat(BM), REF_POLICY, 1), growErrno: -ERRNO.ENOMEM };
    const ops = iommuPtDomainOps<PtIommuDomain>(sim, cfg, { flushRange() {}, flushAll() {} });
    const dom = ptIommuInit(sim, ops, cfg, 9, 2 ** 36 - 1, BM, {});
    iommuMap(dom, 2 ** 27, 5, 1, RW);
    expect([dom.pt.top, dom.ops.iovaToPhys(dom, 2 ** 27)]).toEqual([3, 5]);
  });

  it('test_fixed_top: without growErrno a map past the span is the table bounds refusal', () => {
    const { dom, log } = make({ topLevel: 1 }, { apertureEnd: 2 ** 36 - 1 });
    expect(() => iommuMap(dom, 2 ** 27, 5, 1, RW)).toThrow();
    expect([dom.pt.top, log]).toEqual([1, []]);
  });
});

describe('io-pgtable walk events', () => {
  it('test_walk_events: one map walk per page mapped, one unmap walk per leaf or hole', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const map = sim.meter.register('t.mapWalks', { ns: 0, source: 't' }),
      unmap = sim.meter.register('t.unmapWalks', { ns: 0, source: 't' });
    const { dom } = make({ walkEvents: { map, unmap } }, { sim });
    iommuMap(dom, 512, 512, 512, RW); // one 2 MiB leaf
    iommuMap(dom, 1, 7, 3, RW); // three 4 KiB leaves
    expect(sim.counters['t.mapWalks']).toBe(1 + 3);
    expect(iommuUnmap(dom, 1, 3)).toBe(3);
    expect(iommuUnmap(dom, 512, 512)).toBe(512);
    expect(sim.counters['t.unmapWalks']).toBe(3 + 1);
  });
});

describe('sizes the table lacks', () => {
  it('test_odd_orders: 8 KiB is EINVAL for an einval driver and runs of 4 KiB for a splitting one', () => {
    const refuse = make();
    expect(refuse.dom.ops.mapPages(refuse.dom, 2, 2, 13, 3, RW)).toBe(-ERRNO.EINVAL);
    const split = make({ oddOrders: 'split' });
    expect(split.dom.ops.mapPages(split.dom, 2, 2, 13, 3, RW)).toBe(0);
    expect(split.dom.mapped).toBe(6);
    expect(split.dom.pt.countLeaves()).toBe(6);
  });

  it('test_map_args: no read or write prot is EINVAL, past the aperture the range errno', () => {
    const { dom } = make({}, { apertureEnd: 1000 });
    expect(dom.ops.mapPages(dom, 0, 0, 12, 1, 4)).toBe(-ERRNO.EINVAL);
    expect(dom.ops.mapPages(dom, 1000, 0, 12, 2, RW)).toBe(-ERRNO.ERANGE);
    expect([dom.mapped, dom.pt.countLeaves()]).toEqual([0, 0]);
  });
});

describe('the sync joins the gather and the pending range', () => {
  it('test_sync_union: ranges unmapped without a gather wait in pending and join the next sync with a gather', () => {
    const { dom, log } = make();
    iommuMap(dom, 10, 10, 1, RW);
    iommuMap(dom, 90, 90, 1, RW);
    expect(iommuUnmapFast(dom, 10, 1)).toBe(1); // no gather: pending
    const g = createIotlbGather();
    expect(iommuUnmapFast(dom, 90, 1, g)).toBe(1);
    iommuTlbSync(dom, g);
    expect(log).toEqual([['range', 9, 10, 90]]);
    expect([dom.pending.empty, g.empty]).toEqual([true, true]);
    iommuTlbSync(dom); // nothing gathered: no flush
    expect(log.length).toBe(1);
  });
});

describe('more of each era choice', () => {
  it('test_flush_on_unmap_large_steps: two 2 MiB leaves in one call are two steps, two flushes, with walk events', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const unmap = sim.meter.register('t.unmapWalks', { ns: 0, source: 't' });
    const { dom, log } = make({ flushOnUnmap: 'range', apiEra: '2018', walkEvents: { map: unmap, unmap } }, { sim });
    iommuMap(dom, 512, 512, 1024, RW);
    const w0 = sim.counters['t.unmapWalks']!;
    log.length = 0;
    expect(dom.ops.unmapPages(dom, 512, 21, 2, null)).toBe(1024);
    expect(log).toEqual([
      ['range', 9, 512, 1023],
      ['range', 9, 1024, 1535],
    ]);
    expect(sim.counters['t.unmapWalks']! - w0).toBe(2);
  });

  it('test_sync_flushes_all_events_and_no_gather: the probe points of a flush-all sync, and a 2018 iommu_unmap (no gather)', () => {
    const { sim, dom, log } = make({ syncFlushesAll: true, apiEra: '2018' });
    const seen: unknown[][] = [];
    sim.observe({
      iotlbSyncBegin: (_d, start, last) => seen.push(['syncBegin', start, last]),
      iotlbSyncEnd: () => seen.push(['syncEnd']),
      flushIotlbAllBegin: () => seen.push(['allBegin']),
      flushIotlbAllEnd: () => seen.push(['allEnd']),
    });
    iommuMap(dom, 0, 1, 512, RW);
    const tables = sim.mem.tables.inUse;
    log.length = 0;
    expect(iommuUnmap(dom, 0, 512)).toBe(512); // the emptied level-0 table is freed by this sync
    expect(seen).toEqual([['syncBegin', Infinity, -1], ['allBegin'], ['allEnd'], ['syncEnd']]); // it gathers nothing
    expect([log, sim.mem.tables.inUse]).toEqual([[['all', 9]], tables - 1]);
  });

  it('test_split_runs: a size the table lacks, split into runs of 4 KiB, 2 MiB and 4 KiB; a conflict in the last run stops it', () => {
    const ok = make({ oddOrders: 'split' });
    expect(ok.dom.ops.mapPages(ok.dom, 510, 510, 13, 258, RW)).toBe(0); // 516 pages from 510
    const leaves: number[][] = [];
    ok.dom.pt.forEachLeaf((iova, pfn, order) => leaves.push([iova, pfn, order]));
    expect(leaves).toEqual([
      [510, 510, 12],
      [511, 511, 12],
      [512, 512, 21],
      [1024, 1024, 12],
      [1025, 1025, 12],
    ]);
    expect(ok.dom.mapped).toBe(516);
    const busy = make({ oddOrders: 'split' });
    iommuMap(busy.dom, 1025, 7, 1, RW);
    expect(busy.dom.ops.mapPages(busy.dom, 510, 510, 13, 258, RW)).toBe(-ERRNO.EBUSY);
    expect(busy.dom.mapped).toBe(515); // 2 + 512 + page 1024
  });

  it('test_aperture_large_leaf: a 2 MiB leaf whose end passes the aperture is the range errno', () => {
    const { dom } = make({}, { apertureEnd: 1000 });
    expect(dom.ops.mapPages(dom, 512, 512, 21, 1, RW)).toBe(-ERRNO.ERANGE);
    expect(dom.ops.mapPages(dom, 0, 0, 21, 1, RW)).toBe(0);
  });

  it('test_hole_adds_no_range: an unmap of nothing gathers nothing, so the sync flushes nothing', () => {
    const { sim, dom, log } = make();
    const seen: number[][] = [];
    sim.observe({ iotlbSyncBegin: (_d, start, last) => seen.push([start, last]) });
    const g = createIotlbGather();
    expect(iommuUnmapFast(dom, 40, 1, g)).toBe(0);
    iommuTlbSync(dom, g);
    expect([log, seen]).toEqual([[], [[Infinity, -1]]]);
  });

  it('test_range_add_pending: iommu_tlb_range_add puts the range in the pending gather, and the next sync flushes it', () => {
    const { dom, log } = make();
    iommuTlbRangeAdd(dom, 5, 3);
    expect([dom.pending.start, dom.pending.end]).toEqual([5, 7]);
    iommuTlbSync(dom);
    expect([log, dom.pending.empty]).toEqual([[['range', 9, 5, 7]], true]);
  });

  it('test_pending_above_the_gather: the sync covers the pending range when it lies past the gather', () => {
    const { dom, log } = make();
    iommuMap(dom, 10, 10, 1, RW);
    iommuMap(dom, 90, 90, 1, RW);
    expect(iommuUnmapFast(dom, 90, 1)).toBe(1); // pending
    const g = createIotlbGather();
    expect(iommuUnmapFast(dom, 10, 1, g)).toBe(1);
    iommuTlbSync(dom, g);
    expect(log).toEqual([['range', 9, 10, 90]]);
  });

  for (const syncFlushesAll of [false, true]) {
    it(`test_dead_domain${syncFlushesAll ? '_flush_all' : ''}: after deinit every op answers as for a freed domain and reaches no table`, () => {
      const { sim, dom, ops, log } = make({ syncFlushesAll });
      const began: number[][] = [];
      sim.observe({ iotlbSyncBegin: (_d, start, last) => began.push([start, last]) }); // a freed domain has no pending range to read
      iommuMap(dom, 3, 3, 2, RW);
      const held = createIotlbGather();
      expect(iommuUnmapFast(dom, 4, 1, held)).toBe(1); // a gathered range, never synced
      ptIommuDeinit(dom);
      const raw = dom as IommuDomain;
      log.length = 0;
      expect(ops.mapPages(raw, 5, 5, 12, 1, RW)).toBe(-ERRNO.EINVAL);
      expect(ops.unmapPages(raw, 3, 12, 1, null)).toBe(0);
      expect(ops.iovaToPhys(raw, 3)).toBe(-1);
      ops.iotlbRangeAdd!(raw, 3, 1);
      ops.iotlbSync!(raw, createIotlbGather());
      ops.iotlbSync!(raw, null);
      ops.iotlbSync!(raw, held); // its domain is gone: nothing cached to flush
      ops.flushIotlbAll!(raw);
      expect([log, dom.pending.empty]).toEqual([[], true]);
      expect(began.length).toBe(3); // the three syncs above, each reported
      expect(began[1]).toEqual([Infinity, -1]);
    });
  }
});

describe('init and deinit', () => {
  it('test_init_geometry_and_reachers: the aperture is forced, each table joins the checker and leaves it on deinit, in any order', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const a = make({}, { sim, apertureEnd: 2 ** 30 - 1 }).dom;
    const b = make({}, { sim }).dom;
    const c = make({}, { sim }).dom;
    expect(a.geometry).toEqual({ apertureStart: 0, apertureEnd: 2 ** 30 - 1, forceAperture: true });
    // positions, not toEqual on the tables themselves: a failing diff of page tables takes minutes
    const at = (): number[] => [sim.checker.reachers.length, ...[a.pt, b.pt, c.pt].map((p) => sim.checker.reachers.indexOf(p))];
    expect(at()).toEqual([3, 0, 1, 2]);
    ptIommuDeinit(b);
    expect(at()).toEqual([2, 0, -1, 1]);
    ptIommuDeinit(a); // the first reacher
    expect(at()).toEqual([1, -1, -1, 0]);
    ptIommuDeinit(c);
    expect(at()).toEqual([0, -1, -1, -1]);
  });

  it('test_bracket_outlives_domain: a map bracket still open when its domain is freed ends as a no-op', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const { dom } = make({}, { sim });
    const model = dom.model!;
    const V = 2 ** 27 + 1;
    model.mapBegin(dom);
    iommuMap(dom, V, 100, 1, RW); // new level-1 and level-0 tables, recorded in the open bracket
    ptIommuDeinit(dom);
    // another domain takes the freed table pages (the arena reuses them last-freed first) for the
    // same walk, and keeps them linked and empty after its unmap
    const other = make({}, { sim }).dom;
    iommuMap(other, V, 200, 1, RW);
    expect(iommuUnmap(other, V, 1)).toBe(1);
    const before = [other.pt.tables, sim.mem.tables.inUse];
    model.mapEnd(dom, true); // an abort would unlink and free the bracket's tables: they are the other domain's now
    model.mapBegin(dom);
    model.mapEnd(dom, true);
    expect([other.pt.tables, sim.mem.tables.inUse]).toEqual(before);
    const allocs = sim.counters.tableAllocs;
    iommuMap(other, V, 201, 1, RW); // its tables are still linked: no allocation
    expect([sim.counters.tableAllocs - allocs, other.ops.iovaToPhys(other, V), model.mappedPages(dom)]).toEqual([0, 201, 0]);
  });
});
