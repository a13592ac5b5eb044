// The unmap walk's own paths (pagetable/unmap.ts) on PageTable and the reference format, 4 levels of
// 512 entries: a level-0 table spans 512 pages, a level-1 table 2^18 (1 GiB), a level-2 table 2^27.
// iommupt's rules (REF_POLICY: stop at a hole, remove a leaf that starts before the range whole,
// free the tables whose whole span was cleared) and the 2018 AMD driver's (holes: 'count': an
// empty slot is stepped over and its whole item counted, a level-0 one as a PTE write too). Runs of
// 4 KiB leaves are cleared in one pass only while the frames go up by one with the same high word;
// the free walk unlinks, children first, only tables whose whole span lies in what the unmap
// cleared, and starts at the lowest loaded table that holds that range. Expected values are worked
// out here from the geometry and the reference format's layout (lo word: bit 0 present, pfn[19:0]
// in bits 12..31; hi word: pfn[39:20]).
import { describe, expect, it } from 'vitest';
import { IotlbGather, IOMMU_READ, IOMMU_WRITE, SZ_1G, SZ_2M, SZ_4K, createSim } from '../src/index.js';
import {
  EV,
  PageTable,
  PT_ENTRY_OA,
  type PtState,
  REF_POLICY,
  TABLE_WORDS,
  createRefFormat,
  type PtFormat,
  type PtPolicy,
} from '../src/internals.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const BM = SZ_4K | SZ_2M | SZ_1G;
const L0 = 512, // pages a level-0 table spans
  L1 = 512 * 512, // a level-1 table
  L2 = 512 * 512 * 512; // a level-2 table
const COUNT: Partial<PtPolicy> = { holes: 'count' }; // AMD io-pgtable before iommupt

/** A page table at `top` on 8 GiB of RAM (2^21 frames: frames above 2^20 have a nonzero high word). */
function setup(top: number, policy: Partial<PtPolicy> = {}, fmt: PtFormat = createRefFormat(BM)) {
  const sim = createSim({ memory: 8n << 30n, seed: 1 });
  const pt = new PageTable(fmt, sim.mem, sim.meter, { ...REF_POLICY, ...policy }, top, 7);
  const clears0 = sim.meter.count[EV.pteClears]!;
  return {
    sim,
    pt,
    g: new IotlbGather(),
    /** pteClears since setup. */
    clears: () => sim.meter.count[EV.pteClears]! - clears0,
    reach: (pfn: number) => sim.mem.reach4k.get(pfn),
    /** pfn of the table entry i of table `table` points to (the reference format's pfn field). */
    child: (table: number, i: number): number => {
      const words = sim.mem.tables.words(table),
        w = sim.mem.tables.wordOffset(table) + 2 * i;
      return (words[w + 1]! >>> 0) * 0x100000 + (words[w]! >>> 12);
    },
  };
}
type Setup = ReturnType<typeof setup>;

/** Maps one 4 KiB page per [iova, pfn] pair, each its own call (no run between them). */
function mapPages(h: Setup, pages: [number, number][]): void {
  for (const [iova, pfn] of pages) expect(h.pt.map(iova, pfn, 12, 1, RW, h.g), `map ${iova}`).toBe(0);
}

describe('unmap walk under iommupt (stop at a hole)', () => {
  it('test_unmap_stops_at_a_hole_inside_a_lower_table: the level-0 table reached from the root after a 2M leaf', () => {
    // the walk starts at the root (its first entry is a leaf), descends into slot 1 from the root's
    // own loop, meets the hole at page 522 there: the whole unmap ends, slot 2's table is untouched
    const h = setup(1);
    expect(h.pt.map(0, 0x40000, 21, 1, RW, h.g)).toBe(0);
    expect(h.pt.map(L0, 0x1000, 12, 10, RW, h.g)).toBe(0);
    expect(h.pt.map(2 * L0, 0x2000, 12, L0, RW, h.g)).toBe(0);
    expect(h.pt.unmap(0, 3 * L0, h.g)).toBe(L0 + 10);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([11, 11]); // the 2M leaf, then a run of 10
    expect([h.pt.lookup(0, null), h.pt.lookup(L0 + 9, null), h.pt.lookup(2 * L0, null), h.pt.lookup(3 * L0 - 1, null)]).toEqual([
      -1,
      -1,
      0x2000,
      0x2000 + 511,
    ]);
    expect([h.sim.mem.reach2m.get(0x40000 / 512), h.reach(0x1009), h.reach(0x2000)]).toEqual([0, 0, 1]);
    // the cleared span [0, 522) covers no table: root, slots 1 and 2 stay
    expect([h.pt.tables, h.g.freelist.length]).toEqual([3, 0]);
  });

  it('test_unmap_descends_from_a_level_after_a_large_leaf: 2M leaf, a full level-0 table, 2M leaf, one call', () => {
    // the walk starts at the root (slot 0 is a leaf), descends into slot 1 from the root's own loop
    // and goes on at slot 2 when that table is done
    const h = setup(1);
    expect(h.pt.map(0, 0x40000, 21, 1, RW, h.g)).toBe(0);
    expect(h.pt.map(L0, 0x1000, 12, L0, RW, h.g)).toBe(0);
    expect(h.pt.map(2 * L0, 0x40200, 21, 1, RW, h.g)).toBe(0);
    const a = h.child(h.pt.root, 1);
    expect(h.pt.unmap(0, 3 * L0, h.g)).toBe(3 * L0);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([1 + L0 + 1, 1 + L0 + 1]);
    expect(h.pt.mappedPages()).toBe(0);
    expect([h.reach(0x1000), h.reach(0x1000 + 511), h.sim.mem.reach2m.allZero()]).toEqual([0, 0, true]);
    // the level-0 table lies wholly in [0, 1536): unlinked, the root alone is left
    expect([...h.g.freelist]).toEqual([a]);
    expect(h.pt.tables).toBe(1);
  });
});

describe('unmap of 4 KiB runs', () => {
  it('test_unmap_4k_run_breaks_on_a_different_high_word: frame 5, then 0x100006 whose low word continues it', () => {
    // iova 0 -> 0x100000 (hi word 1) stays; iova 1 -> 5, iova 2 -> 0x100006: the low word of entry 2
    // is entry 1's + 4096, but its high word is 1, not 0: not frame 6, so no run
    const h = setup(1);
    mapPages(h, [
      [0, 0x100000],
      [1, 5],
      [2, 0x100006],
    ]);
    expect(h.pt.unmap(1, 2, h.g)).toBe(2);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([2, 2]);
    expect([0, 1, 2].map((i) => h.pt.lookup(i, null))).toEqual([0x100000, -1, -1]);
    // each frame lost exactly its own leaf; frames 0 and 6 were never mapped
    expect([0x100000, 5, 0x100006, 6, 0].map(h.reach)).toEqual([1, 0, 0, 0, 0]);
  });

  it('test_unmap_4k_run_is_ascending_consecutive_frames: entries around and against the run stay out of it', () => {
    const h = setup(1);
    // iova 0 -> 6 (outside the range), 1 -> 5, 2 -> 100
    mapPages(h, [
      [0, 6],
      [1, 5],
      [2, 100],
    ]);
    expect(h.pt.unmap(1, 2, h.g)).toBe(2);
    expect([0, 1, 2].map((i) => h.pt.lookup(i, null))).toEqual([6, -1, -1]);
    expect([6, 5, 100].map(h.reach)).toEqual([1, 0, 0]);
    // frames going down (iova 16 -> 9, 17 -> 8) are two leaves, not 9 and 10
    mapPages(h, [
      [16, 9],
      [17, 8],
    ]);
    expect(h.pt.unmap(16, 2, h.g)).toBe(2);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([2, 4]);
    expect([9, 8, 10].map(h.reach)).toEqual([0, 0, 0]);
    expect(h.pt.mappedPages()).toBe(1);
  });

  it('test_unmap_4k_run_stays_inside_its_table: the next arena page holds the frames that would continue it', () => {
    // level-0 tables for pages 0-511 and 1024-1535, allocated one after the other: the second's
    // entries continue the first's frames in the arena's words, but page 512's slot is empty
    const h = setup(1);
    expect(h.pt.map(0, 0x1000, 12, L0, RW, h.g)).toBe(0);
    expect(h.pt.map(2 * L0, 0x1000 + L0, 12, L0, RW, h.g)).toBe(0);
    const a = h.child(h.pt.root, 0),
      c = h.child(h.pt.root, 2),
      ar = h.sim.mem.tables;
    expect([c - a, ar.words(a) === ar.words(c), ar.wordOffset(c) - ar.wordOffset(a)]).toEqual([1, true, TABLE_WORDS]);
    expect(h.pt.unmap(5, 600, h.g)).toBe(L0 - 5); // pages 5-511, then the hole at 512 stops it
    expect([h.pt.unmapSteps, h.clears()]).toEqual([L0 - 5, L0 - 5]);
    expect([4, 5, 2 * L0, 2 * L0 + 9].map((i) => h.pt.lookup(i, null))).toEqual([0x1004, -1, 0x1000 + L0, 0x1000 + L0 + 9]);
    expect([0x1000 + L0, 0x1000 + L0 + 9].map(h.reach)).toEqual([1, 1]);
  });

  it('test_unmap_4k_without_a_linear_codec: each leaf as the format decodes it', () => {
    // a format with no leaf4k whose 4 KiB leaves store pfn ^ 1: frame 3 at iova 0 and frame 2 at
    // iova 1 encode like a linear run of 2 and 3, but they are frames 3 and 2
    const ref = createRefFormat(BM);
    const swapped: PtFormat = {
      name: 'swapped',
      maxLevel: ref.maxLevel,
      itemOrder: ref.itemOrder,
      numItemsLg2: ref.numItemsLg2,
      leafOrders: ref.leafOrders,
      load(words: Int32Array, w: number, level: number, st: PtState) {
        const type = ref.load(words, w, level, st);
        if (type === PT_ENTRY_OA && st.order === 12) st.pfn ^= 1;
        return type;
      },
      installLeaves(words: Int32Array, w: number, level: number, pfn: number, order: number, prot: number, n: number) {
        if (order !== 12) return ref.installLeaves(words, w, level, pfn, order, prot, n);
        for (let k = 0; k < n; k++) ref.installLeaves(words, w + 2 * k, level, (pfn + k) ^ 1, 12, prot, 1);
        return n;
      },
      installTable: ref.installTable,
      leafProt: ref.leafProt,
    };
    const h = setup(1, {}, swapped);
    expect(h.pt.lin).toBe(null);
    mapPages(h, [
      [0, 3],
      [1, 2],
    ]);
    expect([h.pt.lookup(0, null), h.pt.lookup(1, null)]).toEqual([3, 2]);
    expect(h.pt.unmap(0, 2, h.g)).toBe(2);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([2, 2]);
    expect([2, 3, 4].map(h.reach)).toEqual([0, 0, 0]);
  });

  it('test_unmap_one_4k_clears_both_words: the single-page path next to a leaf with a high word', () => {
    const h = setup(1);
    mapPages(h, [
      [0, 0x100001],
      [1, 0x100005],
    ]);
    expect(h.pt.unmap(1, 1, h.g)).toBe(1);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([1, 1]);
    expect([h.pt.lookup(0, null), h.pt.lookup(1, null)]).toEqual([0x100001, -1]);
    expect([h.reach(0x100001), h.reach(0x100005)]).toEqual([1, 0]);
    expect(h.pt.unmap(0, 1, h.g)).toBe(1);
    // no word of either entry is left: the level-0 table is all zeros
    expect(h.pt.tableEmpty(h.child(h.pt.root, 0))).toBe(true);
    expect(h.reach(0x100001)).toBe(0);
  });
});

describe("unmap under AMD's holes: 'count'", () => {
  it('test_count_holes_at_level_0_are_pte_writes_above_are_not: leaf 0, 511 level-0 holes, one level-1 hole', () => {
    const h = setup(1, COUNT);
    expect(h.pt.map(0, 0x3001, 12, 1, RW, h.g)).toBe(0);
    const a = h.child(h.pt.root, 0);
    expect(h.pt.unmap(0, 2 * L0, h.g)).toBe(2 * L0); // the level-1 hole counts its whole 512 pages
    expect(h.pt.unmapSteps).toBe(1 + 511 + 1);
    expect(h.clears()).toBe(1 + 511); // the leaf and the level-0 holes; not the empty root slot
    // the cleared span [0, 1024) holds one table, emptied: unlinked once, slot 1 has none
    expect([...h.g.freelist]).toEqual([a]);
    expect(h.pt.tables).toBe(1);
  });

  it('test_count_hole_from_inside_an_item_steps_to_its_end: from 507 pages before the 1G edge, over an empty slot, into a full table', () => {
    // slot 511 of the first GiB's level-1 table is empty: it counts as all its 512 pages, and the
    // walk goes on at the 1G edge, the first page of the next GiB's level-0 table, not 5 pages into it
    const h = setup(2, COUNT);
    expect(h.pt.map(0, 0x3000, 12, 1, RW, h.g)).toBe(0); // the first GiB's level-1 table
    expect(h.pt.map(L1, 0x1000, 12, L0, RW, h.g)).toBe(0);
    const b = h.child(h.child(h.pt.root, 1), 0);
    expect(h.pt.unmap(L1 - L0 + 5, 2 * L0 - 5, h.g)).toBe(2 * L0);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([1 + L0, L0]); // the level-1 slot is no PTE write
    expect([h.pt.lookup(L1, null), h.pt.lookup(L1 + 9, null), h.reach(0x1000), h.reach(0x1009)]).toEqual([-1, -1, 0, 0]);
    expect(h.pt.mappedPages()).toBe(1); // page 0
    // [L1 - 507, L1 + 512) covers the second GiB's level-0 table only
    expect([...h.g.freelist]).toEqual([b]);
    expect(h.pt.tables).toBe(4);
  });

  it('test_count_unmap_over_an_emptied_table_frees_it: holes alone make a cleared span', () => {
    const h = setup(1, COUNT);
    expect(h.pt.map(0, 0x3000, 12, 1, RW, h.g)).toBe(0);
    expect(h.pt.unmap(0, 1, h.g)).toBe(1); // the table stays, empty
    const a = h.child(h.pt.root, 0);
    expect([h.pt.tables, h.pt.tableEmpty(a)]).toEqual([2, true]);
    expect(h.pt.unmap(0, L0, h.g)).toBe(L0);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([L0, 1 + L0]);
    expect([...h.g.freelist]).toEqual([a]);
    expect(h.pt.tables).toBe(1);
  });

  it('test_count_span_starts_at_the_leaf_before_the_range: a 2M leaf from page 3, then holes to the 1G edge', () => {
    // the leaf at pages 0-511 is removed whole: the cleared span is [0, 2^18), the level-1
    // table's whole span, though the range asked for starts at 3; the holes after it do not move that
    const h = setup(2, COUNT);
    expect(h.pt.map(0, 0x40000, 21, 1, RW, h.g)).toBe(0);
    const l1 = h.child(h.pt.root, 0);
    expect(h.pt.tables).toBe(2);
    expect(h.pt.unmap(3, L1 - 3, h.g)).toBe(L1);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([512, 1]);
    expect(h.sim.mem.reach2m.get(0x40000 / 512)).toBe(0);
    expect([...h.g.freelist]).toEqual([l1]);
    expect(h.pt.tables).toBe(1);
  });

  it('test_count_table_partly_in_the_range_stays: an emptied table whose span starts before the range', () => {
    const h = setup(1, COUNT);
    expect(h.pt.map(0, 0x3000, 12, 1, RW, h.g)).toBe(0);
    expect(h.pt.unmap(0, 1, h.g)).toBe(1);
    expect(h.pt.map(L0, 0x1000, 12, L0, RW, h.g)).toBe(0);
    const a = h.child(h.pt.root, 0),
      b = h.child(h.pt.root, 1);
    expect(h.pt.unmap(256, 768, h.g)).toBe(768); // 256 holes, then 512 leaves
    expect([h.pt.unmapSteps, h.clears()]).toEqual([768, 1 + 768]);
    expect([...h.g.freelist]).toEqual([b]);
    expect([h.pt.tables, h.child(h.pt.root, 0)]).toEqual([2, a]);
  });
});

describe('the free walk after an unmap', () => {
  it('test_free_walk_frees_every_table_the_run_cleared: two level-0 tables, the walk resumed between them', () => {
    const h = setup(1);
    expect(h.pt.map(0, 0x1000, 12, 2 * L0, RW, h.g)).toBe(0);
    const a = h.child(h.pt.root, 0),
      b = h.child(h.pt.root, 1);
    expect(h.pt.tables).toBe(3);
    expect(h.pt.unmap(0, 2 * L0, h.g)).toBe(2 * L0);
    expect([...h.g.freelist]).toEqual([a, b]);
    expect([h.pt.tables, h.pt.deferredTables]).toEqual([1, 2]);
    h.pt.putPages(h.g);
    expect(h.sim.mem.tables.inUse).toBe(1);
  });

  it('test_free_walk_keeps_a_partly_covered_table: emptied by the unmap, but its span goes past the hole', () => {
    // pages 512-1023 and 1024-1279 mapped: the unmap clears both and stops at the hole at 1280
    const h = setup(1);
    expect(h.pt.map(L0, 0x1000, 12, L0 + 256, RW, h.g)).toBe(0);
    const b = h.child(h.pt.root, 1),
      c = h.child(h.pt.root, 2);
    expect(h.pt.unmap(L0, 2 * L0, h.g)).toBe(L0 + 256);
    expect(h.pt.tableEmpty(c)).toBe(true);
    expect([...h.g.freelist]).toEqual([b]);
    expect([h.pt.tables, h.child(h.pt.root, 2)]).toEqual([2, c]);
  });

  it('test_free_walk_starts_above_the_last_loaded_table: a range over the 1G edge, children of two level-1 tables', () => {
    // the unmap ends in the second GiB's tables; the first page's level-1 table is not the one
    // loaded, so the walk starts at the root and descends into both
    const h = setup(2);
    expect(h.pt.map(L1 - L0, 0x1000, 12, 2 * L0, RW, h.g)).toBe(0);
    const l1a = h.child(h.pt.root, 0),
      l1b = h.child(h.pt.root, 1),
      a = h.child(l1a, 511),
      b = h.child(l1b, 0);
    expect(h.pt.tables).toBe(5);
    expect(h.pt.unmap(L1 - L0, 2 * L0, h.g)).toBe(2 * L0);
    expect([...h.g.freelist]).toEqual([a, b]);
    // the level-1 tables span far more than the range: they stay
    expect([h.pt.tables, h.child(h.pt.root, 0), h.child(h.pt.root, 1)]).toEqual([3, l1a, l1b]);
  });

  it('test_free_walk_ignores_a_loaded_level_1_table_of_another_gib: a lookup there left it loaded', () => {
    const h = setup(2);
    expect(h.pt.map(L1 + 5 * L0, 0x2000, 12, 1, RW, h.g)).toBe(0); // the second GiB's level-1 table
    expect(h.pt.map(0, 0x1000, 12, L0, RW, h.g)).toBe(0);
    const a = h.child(h.child(h.pt.root, 0), 0);
    // finds the empty slot 0 of the second GiB's level-1 table: that table is now the loaded one,
    // while the level-0 state still holds table a
    expect(h.pt.lookup(L1, null)).toBe(-1);
    expect(h.pt.unmap(0, L0, h.g)).toBe(L0);
    expect([...h.g.freelist]).toEqual([a]);
    expect(h.pt.tables).toBe(4);
    expect(h.pt.lookup(L1 + 5 * L0, null)).toBe(0x2000);
  });

  it('test_free_walk_starts_at_the_root_when_the_range_leaves_the_loaded_table: a 2M leaf, then the next GiB from its cached level-0 table', () => {
    // the unmap removes the 2M leaf in the first GiB's level-1 table (the loaded one), then goes on
    // in the level-0 table of the next GiB, which the level-0 state still held from its map: the
    // level-1 state keeps the first GiB's table although the cleared span reaches into the next GiB
    const h = setup(2);
    expect(h.pt.map(L1, 0x1000, 12, L0, RW, h.g)).toBe(0);
    expect(h.pt.map(L1 - L0, 0x40000, 21, 1, RW, h.g)).toBe(0);
    const l1a = h.child(h.pt.root, 0),
      l1b = h.child(h.pt.root, 1),
      b = h.child(l1b, 0);
    expect(h.pt.unmap(L1 - L0, 2 * L0, h.g)).toBe(2 * L0);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([1 + L0, 1 + L0]);
    expect([...h.g.freelist]).toEqual([b]);
    expect([h.pt.tables, h.child(h.pt.root, 0), h.child(h.pt.root, 1)]).toEqual([3, l1a, l1b]);
  });

  it('test_free_walk_frees_a_whole_cleared_level_1_table: 512 x 2M unmapped in one call', () => {
    const h = setup(2);
    expect(h.pt.map(L1, 0x40000, 21, 512, RW, h.g)).toBe(0);
    const l1 = h.child(h.pt.root, 1);
    expect(h.pt.unmap(L1, L1, h.g)).toBe(L1);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([512, 512]);
    expect([...h.g.freelist]).toEqual([l1]);
    expect(h.pt.tables).toBe(1);
  });

  it('test_unmap_of_the_whole_span: 1G of 4 KiB pages under a level-1 root, every level-0 table freed', () => {
    const h = setup(1);
    expect(h.pt.map(0, 0x40000, 12, L1, RW, h.g)).toBe(0);
    expect(h.pt.tables).toBe(1 + 512);
    const first = h.child(h.pt.root, 0),
      last = h.child(h.pt.root, 511);
    expect(h.pt.unmap(0, L1, h.g)).toBe(L1);
    expect([h.pt.unmapSteps, h.clears()]).toEqual([L1, L1]);
    // children of the root, in IOVA order; the root stays
    expect([h.g.freelist.length, h.g.freelist[0], h.g.freelist[511]]).toEqual([512, first, last]);
    expect(h.pt.tables).toBe(1);
    expect(h.sim.mem.reach4k.allZero()).toBe(true);
  });

  it('test_free_walk_reads_no_entry_past_its_table: a range ending at the last entry of a level-2 table', () => {
    // a top-level-3 table: the first map allocates the level-2 table x and right after it, in the
    // next arena page, the level-1 table y whose entry 0 points to a level-0 table. The unmap then
    // clears the last level-0 table of x's GiB 510 and all of GiB 511 (2M leaves): the free walk runs
    // on x up to its entry 511, and must not take y's entry 0 for an entry 512 of x
    const h = setup(3);
    expect(h.pt.map(0, 0x3000, 12, 1, RW, h.g)).toBe(0);
    const x = h.child(h.pt.root, 0),
      y = h.child(x, 0),
      ar = h.sim.mem.tables;
    expect([y - x, ar.words(x) === ar.words(y), ar.wordOffset(y) - ar.wordOffset(x)]).toEqual([1, true, TABLE_WORDS]);
    const first = L2 - L1 - L0;
    expect(h.pt.map(first, 0x1000, 12, L0, RW, h.g)).toBe(0);
    expect(h.pt.map(L2 - L1, 0x40000, 21, 512, RW, h.g)).toBe(0);
    const l1a = h.child(x, 510),
      a = h.child(l1a, 511),
      l1b = h.child(x, 511);
    expect(h.pt.tables).toBe(7);
    expect(h.pt.unmap(first, L1 + L0, h.g)).toBe(L1 + L0);
    expect([...h.g.freelist]).toEqual([a, l1b]);
    expect(h.pt.tables).toBe(5);
    // nothing translates in the next level-2 span, and a map there builds its own tables
    expect(h.pt.lookup(L2 + 5, null)).toBe(-1);
    expect(h.pt.map(L2 + 5, 0x5000, 12, 2, RW, h.g)).toBe(0);
    expect([h.pt.lookup(L2 + 5, null), h.pt.lookup(L2 + 6, null), h.pt.lookup(0, null)]).toEqual([0x5000, 0x5001, 0x3000]);
    expect(h.pt.tables).toBe(8);
  });
});
