// PageTable on its own (no driver, no core API): its bounds, growing the top, the raw entry view,
// the checker's reach search, the map brackets that free what a failed map allocated, and the
// tables a destroy or an unmap frees. Expected values are worked out here from the reference
// format's layout (bit 0 present, pfn[19:0] in bits 12..31 of the low word) and the radix geometry.
import { describe, expect, it } from 'vitest';
import { IOMMU_READ, IOMMU_WRITE, IotlbGather, SZ_1G, SZ_2M, SZ_4K, createSim, iommuMap } from '../src/index.js';
import { EV, PageTable, REF_POLICY, createRefFormat } from '../src/internals.js';
import { ptTestDomain, ptTestDomainFree } from '../src/testing.js';
import { ptLeaves, refPageTable } from './harness.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const BM = SZ_4K | SZ_2M | SZ_1G;

/** The pfn the reference format stores in an entry's two words. */
const entryPfn = (words: Int32Array, w: number): number => (words[w + 1]! >>> 0) * 0x100000 + (words[w]! >>> 12);

describe('PageTable bounds', () => {
  it('test_top_level_bounds: 0..maxLevel, integers only', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const fmt = createRefFormat(BM);
    for (const top of [-1, 4, 1.5, Number.NaN]) {
      expect(() => new PageTable(fmt, sim.mem, sim.meter, REF_POLICY, top, 1)).toThrow(new RangeError(`top level ${top} outside 0..3`));
    }
    expect(sim.mem.tables.inUse).toBe(0);
    for (const top of [0, 3]) expect(new PageTable(fmt, sim.mem, sim.meter, REF_POLICY, top, 1).top).toBe(top);
    expect(new PageTable(fmt, sim.mem, sim.meter, REF_POLICY, 0, 1).span).toBe(512);
  });

  it('test_root_enomem: a root that cannot be allocated is ENOMEM from iommu_domain_alloc', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    sim.faults.arm('tableAlloc', 1);
    expect(() => new PageTable(createRefFormat(BM), sim.mem, sim.meter, REF_POLICY, 2, 1)).toThrow(
      expect.objectContaining({
        code: 'ENOMEM',
        syscall: 'iommu_domain_alloc',
        message: 'ENOMEM: page-table root allocation failed, iommu_domain_alloc',
      }),
    );
    expect(sim.mem.tables.inUse).toBe(0);
  });

  it('test_map_bad_order_and_span: RangeError for an order the format has no leaf of and a range outside the span', () => {
    const { pt, g } = refPageTable(1); // span 512 * 512 pages
    for (const o of [5, 13, 31, 60, 70, -1])
      expect(() => pt.map(0, 0, o, 1, RW, g)).toThrow(new RangeError(`format ref holds no leaf of order ${o}`));
    const span = 512 * 512;
    expect(pt.span).toBe(span);
    const outside = (iova: number, n: number) => new RangeError(`iova page ${iova} + ${n} outside the top level's span of ${span} pages`);
    expect(() => pt.map(span, 100, 12, 1, RW, g)).toThrow(outside(span, 1));
    expect(() => pt.map(span - 1, 100, 12, 2, RW, g)).toThrow(outside(span - 1, 2));
    expect(() => pt.map(span - 512, 1024, 21, 2, RW, g)).toThrow(outside(span - 512, 1024));
    expect(() => pt.map(-1, 100, 12, 1, RW, g)).toThrow(outside(-1, 1));
    expect(pt.tables).toBe(1);
    // the last page and the last 2 MiB fit
    expect(pt.map(span - 1, 100, 12, 1, RW, g)).toBe(0);
    expect(pt.map(span - 1024, 2048, 21, 1, RW, g)).toBe(0);
    expect([pt.lookup(span - 1, null), pt.lookup(span - 1024 + 3, null)]).toEqual([100, 2051]);
  });

  it('test_map_outside_the_span_with_tables_present: refused before any table is read, whatever the cached tables', () => {
    // page 0's tables sit right after the root: an index computed from a page outside the span
    // would land in them (a negative page: the entry before a table's first)
    for (const top of [1, 2, 3]) {
      const { pt, g } = refPageTable(top);
      const span = 512 ** (top + 1);
      expect(pt.map(0, 1000, 12, 4, RW, g)).toBe(0);
      expect(pt.map(span - 1, 1100, 12, 1, RW, g)).toBe(0);
      const tables = pt.tables;
      for (const [iova, n] of [
        [-1, 1],
        [-512, 1],
        [-(512 ** top), 1],
        [span, 1],
        [span + 1, 1],
        [span * 2, 1],
        [-1, 2],
      ] as const) {
        expect(() => pt.map(iova, 2000, 12, n, RW, g), `top ${top} map ${iova}`).toThrow(RangeError);
        expect(pt.lookup(iova, null), `top ${top} lookup ${iova}`).toBe(-1);
        expect(pt.entryOf(iova), `top ${top} entryOf ${iova}`).toBe(null);
      }
      expect(pt.tables).toBe(tables);
      expect(ptLeaves(pt)).toEqual([
        [0, 1000, 12],
        [1, 1001, 12],
        [2, 1002, 12],
        [3, 1003, 12],
        [span - 1, 1100, 12],
      ]);
    }
  });
});

describe('PageTable grow (increase_top)', () => {
  it('test_grow_keeps_mappings_and_stops_at_the_max_level', () => {
    const { sim, pt, g } = refPageTable(1);
    expect(pt.map(5, 300, 12, 1, RW, g)).toBe(0);
    const t0 = pt.tables,
      inUse = sim.mem.tables.inUse;
    expect(pt.grow()).toBe(true);
    expect([pt.top, pt.tables, sim.mem.tables.inUse, pt.span]).toEqual([2, t0 + 1, inUse + 1, 512 ** 3]);
    expect(pt.lookup(5, null)).toBe(300);
    // the old root is entry 0 of the new one
    const e = pt.entryOf(5)!;
    expect([e.level, entryPfn(e.words, e.w)]).toEqual([0, 300]);
    // IOVA past the old span maps now
    expect(pt.map(512 * 512 + 9, 400, 12, 1, RW, g)).toBe(0);
    expect(pt.lookup(512 * 512 + 9, null)).toBe(400);
    expect(pt.grow()).toBe(true);
    expect(pt.top).toBe(3);
    expect(pt.grow()).toBe(false);
    expect([pt.top, pt.lookup(5, null), pt.lookup(512 * 512 + 9, null)]).toEqual([3, 300, 400]);
  });

  it('test_grow_enomem_changes_nothing', () => {
    const { sim, pt, g } = refPageTable(1);
    expect(pt.map(5, 300, 12, 1, RW, g)).toBe(0);
    const before = [pt.top, pt.tables, pt.root, sim.mem.tables.inUse];
    sim.faults.arm('tableAlloc', 1);
    expect(pt.grow()).toBe(false);
    expect([pt.top, pt.tables, pt.root, sim.mem.tables.inUse]).toEqual(before);
    expect(pt.lookup(5, null)).toBe(300);
  });
});

describe('PageTable single 4 KiB maps (the cached and the descending path)', () => {
  it('test_single_page_maps_across_tables: present and missing tables at every level, in any order', () => {
    const { pt, g } = refPageTable(2); // root at level 2: 512 GiB of IOVA
    const L1 = 512 * 512; // pages per level-2 entry
    // each map lands where the walk left off, in another level-0 table under a present level-1
    // table, or under an empty root or level-1 entry
    const pages = [0, 512, 7, 2 * L1, L1 + 7, 513, 2 * L1 + 512 * 3 + 1, 1, 2 * L1 + 1, 3 * L1 - 1, 0x10000];
    for (const [k, iova] of pages.entries()) expect(pt.map(iova, 5000 + k, 12, 1, RW, g), `map ${iova}`).toBe(0);
    expect(pages.map((iova) => pt.lookup(iova, null))).toEqual(pages.map((_, k) => 5000 + k));
    // a page in a present table that was never mapped stays unmapped, and a second map is refused
    expect([pt.lookup(2, null), pt.lookup(2 * L1 + 2, null), pt.lookup(L1 + 8, null)]).toEqual([-1, -1, -1]);
    expect(pt.map(2 * L1, 9999, 12, 1, RW, g)).toBe(REF_POLICY.overmap);
    expect(pt.lookup(2 * L1, null)).toBe(5003);
    // tables: root, level-1 tables under root entries 0, 1, 2, and level-0 tables for pages
    // 0-511, 512-1023, 0x10000 (all under entry 0), L1 + 0-511, 2*L1 + 0-511, 2*L1 + 1536-2047, 3*L1 - 512..
    expect(pt.tables).toBe(1 + 3 + 7);
  });
});

describe('PageTable entries and reach', () => {
  it('test_entry_of: the word offset of the entry that translates an IOVA page', () => {
    const { sim, pt, g } = refPageTable(1);
    expect(pt.map(7, 1234, 12, 1, RW, g)).toBe(0);
    expect(pt.map(512, 4096, 21, 1, RW, g)).toBe(0);
    const e = pt.entryOf(7)!;
    expect(e.level).toBe(0);
    expect(entryPfn(e.words, e.w)).toBe(1234);
    expect(e.words[e.w]! & 1).toBe(1);
    // the entry before it, index 6, is empty, and index 7 is 14 words past the table's first
    expect([e.words[e.w - 2], e.words[e.w - 1]]).toEqual([0, 0]);
    expect(e.w % 1024).toBe(14);
    const big = pt.entryOf(512 + 3)!; // the 2 MiB leaf at index 1 of the root
    expect([big.level, entryPfn(big.words, big.w), big.w - sim.mem.tables.wordOffset(pt.root)]).toEqual([1, 4096, 2]);
    expect(pt.entryOf(8)).toBe(null);
    expect(pt.entryOf(512 * 511)).toBe(null);
  });

  it('test_find_reach: the first leaf (lowest IOVA) that reaches a frame, by its offset in the leaf', () => {
    const { pt, g } = refPageTable(1);
    expect(pt.map(1024, 4096, 21, 1, RW, g)).toBe(0); // IOVA pages 1024..1535 -> frames 4096..4607
    expect(pt.map(3, 4100, 12, 1, RW, g)).toBe(0); // and frame 4100 again at IOVA page 3
    expect(pt.map(9, 9000, 12, 1, RW, g)).toBe(0);
    expect(pt.findReach(4100)).toEqual({ domain: 7, iova: 3, via: 'pte' });
    expect(pt.findReach(4096)).toEqual({ domain: 7, iova: 1024, via: 'pte' });
    expect(pt.findReach(4607)).toEqual({ domain: 7, iova: 1535, via: 'pte' });
    expect(pt.findReach(4200)).toEqual({ domain: 7, iova: 1024 + 104, via: 'pte' });
    expect(pt.findReach(9000)).toEqual({ domain: 7, iova: 9, via: 'pte' });
    for (const pfn of [4095, 4608, 8999, 9001, 0]) expect(pt.findReach(pfn)).toBe(null);
  });

  it('test_table_empty: any nonzero word of the 1024 makes a table non-empty', () => {
    const { sim, pt, g } = refPageTable(1);
    expect(pt.tableEmpty(pt.root)).toBe(true);
    // root entry 511, level-0 entry 511, a frame above 2^20 (MMIO) so that both words are nonzero
    expect(pt.map(511 * 512 + 511, 0x100005, 12, 1, RW, g)).toBe(0);
    expect(pt.tableEmpty(pt.root)).toBe(false);
    const leaf = pt.entryOf(511 * 512 + 511)!;
    expect(leaf.w % 1024).toBe(1022);
    const tablePfn = entryPfn(sim.mem.tables.words(pt.root), sim.mem.tables.wordOffset(pt.root) + 1022);
    expect(pt.tableEmpty(tablePfn)).toBe(false);
    // only the high word set: still not empty
    leaf.words[leaf.w] = 0;
    expect(pt.tableEmpty(tablePfn)).toBe(false);
    leaf.words[leaf.w + 1] = 0;
    expect(pt.tableEmpty(tablePfn)).toBe(true);
  });
});

describe('PageTable map brackets (txBegin / txEnd)', () => {
  it('test_abort_frees_the_empty_tables_of_the_bracket', () => {
    const { sim, pt, g } = refPageTable(2);
    const base = sim.mem.tables.inUse;
    pt.txBegin();
    expect(pt.map(1 << 18, 50, 12, 1, RW, g)).toBe(0); // a level-1 and a level-0 table
    expect(pt.tables).toBe(3);
    expect(pt.unmap(1 << 18, 1, g)).toBe(1);
    pt.txEnd(true);
    expect([pt.tables, sim.mem.tables.inUse, pt.tableEmpty(pt.root)]).toEqual([1, base, true]);
  });

  it('test_abort_keeps_tables_that_still_hold_leaves', () => {
    const { sim, pt, g } = refPageTable(2);
    pt.txBegin();
    expect(pt.map(1 << 18, 50, 12, 1, RW, g)).toBe(0);
    expect(pt.map((1 << 18) + 1, 51, 12, 1, RW, g)).toBe(0);
    expect(pt.unmap((1 << 18) + 1, 1, g)).toBe(1);
    const inUse = sim.mem.tables.inUse;
    pt.txEnd(true);
    expect([pt.tables, sim.mem.tables.inUse, pt.lookup(1 << 18, null)]).toEqual([3, inUse, 50]);
  });

  it('test_commit_and_unbalanced_end: a committed bracket frees nothing, an end without a begin does nothing', () => {
    const { sim, pt, g } = refPageTable(2);
    pt.txEnd(true);
    pt.txEnd(false);
    pt.txBegin();
    expect(pt.map(1 << 18, 50, 12, 1, RW, g)).toBe(0);
    expect(pt.unmap(1 << 18, 1, g)).toBe(1);
    pt.txEnd(false);
    expect(pt.tables).toBe(3);
    // a later bracket's abort frees only what it allocated itself
    pt.txBegin();
    expect(pt.map(2 << 18, 60, 12, 1, RW, g)).toBe(0);
    expect(pt.unmap(2 << 18, 1, g)).toBe(1);
    expect(pt.tables).toBe(5);
    pt.txEnd(true);
    expect(pt.tables).toBe(3);
    expect(sim.mem.tables.inUse).toBe(3);
  });

  it('test_abort_skips_a_table_no_longer_linked: a table unlinked inside the bracket and replaced stays as the gather has it', () => {
    const { sim, pt, g } = refPageTable(2);
    expect(pt.map((1 << 18) + 512, 90, 12, 1, RW, g)).toBe(0); // before the bracket: the level-1 table and a level-0 beside
    pt.txBegin();
    expect(pt.map(1 << 18, 1000, 12, 512, RW, g)).toBe(0); // level-0 table A, recorded
    expect(pt.unmap(1 << 18, 512, g)).toBe(512); // A cleared whole: unlinked onto the gather
    expect(pt.map(1 << 18, 77, 12, 1, RW, g)).toBe(0); // table B where A hung
    const inUse = sim.mem.tables.inUse;
    pt.txEnd(true); // B holds a leaf; A is empty but hangs nowhere: neither is touched
    expect([pt.lookup(1 << 18, null), pt.lookup((1 << 18) + 512, null), sim.mem.tables.inUse]).toEqual([77, 90, inUse]);
    expect(g.freelist.length).toBe(1);
    pt.putPages(g);
    expect(sim.mem.tables.inUse).toBe(inUse - 1);
    expect(sim.violations).toEqual([]);
  });

  it('test_cached_tables_far_apart: a walk starts from the cached level-0 table only when it covers the page', () => {
    // page 512's level-0 table, then page 2^27 + 5's under the next root entry: their keys (the
    // table's first page / 512) are 1 and 262144; a key computed as page * 512 would make the first
    // 262144 too, and the second map would write into the first table
    const { pt, g } = refPageTable(3);
    expect(pt.map(512, 70, 12, 1, RW, g)).toBe(0);
    expect(pt.map(2 ** 27 + 5, 80, 12, 1, RW, g)).toBe(0);
    expect(pt.map(513, 71, 12, 1, RW, g)).toBe(0);
    expect(ptLeaves(pt)).toEqual([
      [512, 70, 12],
      [513, 71, 12],
      [2 ** 27 + 5, 80, 12],
    ]);
    expect(pt.tables).toBe(7); // the root and a level-2, level-1 and level-0 table under each of its entries 0 and 1
  });

  it('test_abort_then_map_again: the walk does not reuse a table the abort freed', () => {
    const { sim, pt, g } = refPageTable(2);
    pt.txBegin();
    expect(pt.map((1 << 18) + 5, 50, 12, 1, RW, g)).toBe(0); // a level-1 and a level-0 table
    expect(pt.unmap((1 << 18) + 5, 1, g)).toBe(1);
    pt.txEnd(true);
    expect([pt.tables, sim.mem.tables.inUse]).toEqual([1, 1]);
    expect(pt.map((1 << 18) + 6, 60, 12, 1, RW, g)).toBe(0); // the same tables' place: allocated and linked again
    expect(ptLeaves(pt)).toEqual([[(1 << 18) + 6, 60, 12]]);
    expect([pt.tables, sim.mem.tables.inUse]).toEqual([3, 3]);
  });

  it('test_nested_brackets: an inner abort frees what was allocated since its own begin', () => {
    const { pt, g } = refPageTable(2);
    pt.txBegin();
    expect(pt.map(1 << 18, 50, 12, 1, RW, g)).toBe(0);
    pt.txBegin();
    expect(pt.map(2 << 18, 60, 12, 1, RW, g)).toBe(0);
    expect(pt.unmap(2 << 18, 1, g)).toBe(1);
    expect(pt.unmap(1 << 18, 1, g)).toBe(1);
    pt.txEnd(true);
    expect(pt.tables).toBe(3); // the outer bracket's two tables stay
    pt.txEnd(true);
    expect(pt.tables).toBe(1);
  });
});

describe('PageTable frees', () => {
  it('test_destroy_frees_tables_waiting_on_a_gather', () => {
    const { sim, pt, g } = refPageTable(2);
    expect(pt.map(1 << 18, 50, 12, 512, RW, g)).toBe(0);
    expect(pt.unmap(1 << 18, 512, g)).toBe(512); // the whole level-0 table: unlinked onto g
    expect(pt.deferredTables).toBeGreaterThan(0);
    expect(g.freelist.length).toBe(pt.deferredTables);
    pt.destroy();
    expect([sim.mem.tables.inUse, g.freelist.length, pt.deferredTables]).toEqual([0, 0, 0]);
    expect(() => pt.destroy()).toThrow(new RangeError('BUG: page table of domain 7 destroyed twice'));
  });

  it('test_destroy_drops_every_leaf_reach_once: 4K, replicated 64K and 2M leaves left mapped', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const pt = new PageTable(createRefFormat(SZ_4K | (1n << 16n) | SZ_2M), sim.mem, sim.meter, REF_POLICY, 2, 7);
    const g = new IotlbGather();
    expect(pt.map(3, 3000, 12, 1, RW, g)).toBe(0);
    expect(pt.map(16, 4096, 16, 1, RW, g)).toBe(0); // one 64 KiB leaf: 16 replicas
    expect(pt.map(1024, 8192, 21, 1, RW, g)).toBe(0);
    expect([sim.mem.reach4k.get(3000), sim.mem.reach4k.get(4096 + 15), sim.mem.reach2m.get(8192 >>> 9)]).toEqual([1, 1, 1]);
    pt.destroy();
    expect([sim.mem.reach4k.allZero(), sim.mem.reach2m.allZero(), sim.mem.reach1g.allZero()]).toEqual([true, true, true]);
    expect([sim.mem.tables.inUse, sim.violations]).toEqual([0, []]);
  });

  it('test_unmap_of_a_hole_frees_no_table', () => {
    // a level-0 table emptied by two half unmaps stays (neither cleared a whole table), and an unmap
    // over nothing after it frees nothing either
    const { pt, g } = refPageTable(1);
    expect(pt.map(0, 1000, 12, 512, RW, g)).toBe(0);
    expect(pt.unmap(0, 256, g)).toBe(256);
    expect(pt.unmap(256, 256, g)).toBe(256);
    expect([pt.tables, pt.deferredTables]).toEqual([2, 0]);
    expect(pt.unmap(512, 512, g)).toBe(0);
    expect([pt.tables, pt.deferredTables]).toEqual([2, 0]);
    // nor does an unmap over the whole emptied table: it stops at the first hole, having cleared
    // nothing, and only a span the unmap itself cleared frees tables
    expect(pt.unmap(0, 512, g)).toBe(0);
    expect(pt.tables).toBe(2);
  });
});

describe('reference format codec', () => {
  it('test_ref_format_orders: leaves at levels 0..2 only, per the bitmap', () => {
    const f = createRefFormat(SZ_4K | SZ_2M | (1n << 38n) | (1n << 39n) | (1n << 47n));
    expect(f.name).toBe('ref');
    expect([0, 1, 2, 3, 4, -1].map((l) => f.leafOrders(l))).toEqual([[12], [21], [38], [], [], []]);
  });

  it('test_ref_install_leaves: each leaf its own frames, the 4K run carried across pfn bit 20', () => {
    const f = createRefFormat(BM);
    const words = new Int32Array(16);
    const pfnAt = (k: number): number => entryPfn(words, 2 * k);
    expect(f.installLeaves(words, 0, 1, 1024, 21, RW, 2)).toBe(2);
    expect([pfnAt(0), pfnAt(1), words[0]! & 1, (words[0]! >>> 1) & 0x1f]).toEqual([1024, 1536, 1, RW]);
    words.fill(0);
    expect(f.installLeaves(words, 4, 0, 0xffffe, 12, IOMMU_READ, 3)).toBe(3);
    expect([pfnAt(2), pfnAt(3), pfnAt(4), words[5], words[7], words[9]]).toEqual([0xffffe, 0xfffff, 0x100000, 0, 0, 1]);
  });
});

describe('ptTestDomain', () => {
  it('test_pt_test_domain_config: the mainline gather API, the whole top level as aperture, ERANGE past it', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const fmt = createRefFormat(BM);
    const dom = ptTestDomain(sim, fmt, REF_POLICY, BM);
    expect([dom.ops.name, dom.ops.apiEra, dom.ops.singlePageOps, dom.ops.splitsChunks]).toEqual(['pt-test', 'gather', false, false]);
    expect(dom.ops.mapPages(dom, dom.geometry.apertureEnd, 0, 12, 2, RW)).toBe(-34); // -ERANGE past the aperture
    expect(dom.geometry.apertureEnd).toBe(2 ** 36 - 1); // 4 levels of 9 bits over 4 KiB pages
    expect(ptTestDomain(sim, fmt, REF_POLICY, BM, { topLevel: 1 }).geometry.apertureEnd).toBe(2 ** 18 - 1);
    const small = ptTestDomain(sim, fmt, REF_POLICY, BM, { apertureEnd: 100 });
    expect(small.geometry.apertureEnd).toBe(100);
    expect(() => iommuMap(small, 100, 5, 2, RW)).toThrow(expect.objectContaining({ code: 'ERANGE', errno: -34 }));
    expect(small.ops.mapPages(small, 0, 5, 13, 1, RW)).toBe(-22); // an order the table lacks: EINVAL, not split
    // unmap_pages adds what it removed to the caller's gather
    iommuMap(small, 10, 50, 3, RW);
    const g = new IotlbGather();
    expect(small.ops.unmapPages(small, 10, 12, 3, g)).toBe(3);
    expect([g.start, g.end]).toEqual([10, 12]); // first and last page
    small.ops.iotlbSync!(small, g);
    ptTestDomainFree(small);
  });
});

// unmap() of one 4 KiB page right after lookup() of that page takes the leaf the lookup left in the
// level-0 walk state (VFIO's iova_to_phys then unmap, per page of a 4k guest). Everything that
// moves that state in between must make the unmap descend again: each case below moves it onto
// another level-0 table (page B's, 3 tables further) and then unmaps page A.
describe('PageTable unmap after lookup', () => {
  const A = 5,
    B = 3 * 512 + 7;
  function twoPages(top = 2) {
    const h = refPageTable(top);
    expect(h.pt.map(A, 300, 12, 1, RW, h.g)).toBe(0);
    expect(h.pt.map(B, 400, 12, 1, RW, h.g)).toBe(0);
    return h;
  }
  /** Page A gone (its frame unreached), page B and whatever else untouched. */
  function onlyAGone(h: ReturnType<typeof twoPages>, alsoMapped: [number, number][] = []) {
    expect(h.pt.lookup(A, null)).toBe(-1);
    expect(h.pt.lookup(B, null)).toBe(400);
    for (const [iova, pfn] of alsoMapped) expect(h.pt.lookup(iova, null)).toBe(pfn);
    expect([h.sim.mem.reach4k.get(300), h.sim.mem.reach4k.get(400)]).toEqual([0, 1]);
    expect(h.pt.mappedPages()).toBe(1 + alsoMapped.length);
  }

  it('test_unmap_the_page_just_looked_up: one clear, once', () => {
    const h = twoPages();
    expect(h.pt.lookup(A, null)).toBe(300);
    const clears = h.sim.meter.count[EV.pteClears]!;
    expect(h.pt.unmap(A, 1, h.g)).toBe(1);
    expect([h.pt.unmapSteps, h.sim.meter.count[EV.pteClears]! - clears]).toEqual([1, 1]);
    // the leaf is used once: a second unmap of A finds the hole (iommupt stops there: 0 pages)
    expect(h.pt.unmap(A, 1, h.g)).toBe(0);
    expect(h.sim.meter.count[EV.pteClears]! - clears).toBe(1);
    onlyAGone(h);
  });

  // each move returns the pages it left mapped besides B
  type Move = (h: ReturnType<typeof twoPages>) => [number, number][];
  const moves: [string, Move][] = [
    [
      'entryOf(B)',
      (h) => {
        expect(h.pt.entryOf(B)?.level).toBe(0);
        return [];
      },
    ],
    [
      'lookup(B)',
      (h) => {
        expect(h.pt.lookup(B, null)).toBe(400);
        return [];
      },
    ],
    [
      'lookup(B + 1), a hole',
      (h) => {
        expect(h.pt.lookup(B + 1, null)).toBe(-1);
        return [];
      },
    ],
    [
      'map(B + 1)',
      (h) => {
        expect(h.pt.map(B + 1, 401, 12, 1, RW, h.g)).toBe(0);
        return [[B + 1, 401]];
      },
    ],
    [
      'map(B + 2, 2 pages)',
      (h) => {
        expect(h.pt.map(B + 2, 402, 12, 2, RW, h.g)).toBe(0);
        return [
          [B + 2, 402],
          [B + 3, 403],
        ];
      },
    ],
    [
      'unmap(B + 1, 2 pages) of holes',
      (h) => {
        expect(h.pt.unmap(B + 1, 2, h.g)).toBe(0);
        return [];
      },
    ],
    [
      'map(B + 1) and unmap(B + 1)',
      (h) => {
        expect(h.pt.map(B + 1, 401, 12, 1, RW, h.g)).toBe(0);
        expect(h.pt.unmap(B + 1, 1, h.g)).toBe(1);
        return [];
      },
    ],
  ];
  for (const [name, move] of moves) {
    it(`test_unmap_descends_again_after_${name.replace(/\W+/g, '_')}`, () => {
      const h = twoPages();
      expect(h.pt.lookup(A, null)).toBe(300);
      const also = move(h);
      expect(h.pt.unmap(A, 1, h.g)).toBe(1);
      onlyAGone(h, also);
    });
  }

  it('test_lookup_of_another_page_is_not_the_one_unmapped', () => {
    // the state holds A's table and entry, the unmap asks for A + 1 in the same table
    const h = twoPages();
    expect(h.pt.map(A + 1, 301, 12, 1, RW, h.g)).toBe(0);
    expect(h.pt.lookup(A, null)).toBe(300);
    expect(h.pt.unmap(A + 1, 1, h.g)).toBe(1);
    expect([h.pt.lookup(A, null), h.pt.lookup(A + 1, null)]).toEqual([300, -1]);
    expect([h.sim.mem.reach4k.get(300), h.sim.mem.reach4k.get(301)]).toEqual([1, 0]);
  });

  it('test_lookup_inside_a_2m_leaf_then_unmap_one_page_removes_the_leaf', () => {
    // a leaf above level 0 is not kept: the unmap walks and removes the whole 2 MiB
    const h = twoPages();
    const C = 8 * 512;
    expect(h.pt.map(C, 1024, 21, 1, RW, h.g)).toBe(0);
    expect(h.pt.lookup(A, null)).toBe(300); // the level-0 state on A's entry
    expect(h.pt.lookup(C + 3, null)).toBe(1027);
    expect(h.pt.unmap(C + 3, 1, h.g)).toBe(512);
    expect(h.pt.lookup(C, null)).toBe(-1);
    expect([h.pt.lookup(A, null), h.sim.mem.reach4k.get(300), h.sim.mem.reach2m.get(2)]).toEqual([300, 1, 0]);
  });

  it('test_grow_keeps_the_looked_up_leaf', () => {
    for (const top of [0, 1]) {
      const h = refPageTable(top);
      expect(h.pt.map(A, 300, 12, 1, RW, h.g)).toBe(0);
      expect(h.pt.map(A + 1, 301, 12, 1, RW, h.g)).toBe(0);
      expect(h.pt.lookup(A, null)).toBe(300);
      expect(h.pt.grow()).toBe(true);
      expect(h.pt.unmap(A, 1, h.g)).toBe(1);
      expect([h.pt.lookup(A, null), h.pt.lookup(A + 1, null), h.sim.mem.reach4k.get(300)]).toEqual([-1, 301, 0]);
    }
  });
});
