// The engine and the reference format: codec self-test, page-size choice vs brute force, leaf counts.
import { describe, expect, it } from 'vitest';
import { IotlbGather, SZ_1G, SZ_2M, SZ_4K, iommuMap, iommuUnmap } from '../src/index.js';
import { PageTable, REF_POLICY, createRefFormat, pgsizeCount, Prng, bitmapOrders } from '../src/internals.js';
import { ptFormatSelfTest } from '../src/testing.js';
import { expectClean, leaves, makeHarness, RW } from './harness.js';

const FINE = ((1n << 39n) - 1n) & ~0xfffn;

/** The 6.x iommu_pgsize written the slow, obvious way with BigInt (spec iommu-core 1.2). */
function refPgsize(bm: bigint, iova: bigint, paddr: bigint, size: bigint): [number, number] {
  const fls = (x: bigint): bigint => BigInt(x.toString(2).length - 1);
  const ffs = (x: bigint): bigint => {
    let i = 0n;
    while (((x >> i) & 1n) === 0n) i++;
    return i;
  };
  const genmask = (h: bigint): bigint => (1n << (h + 1n)) - 1n;
  const am = iova | paddr;
  let sizes = bm & genmask(fls(size));
  if (am !== 0n) sizes &= genmask(ffs(am));
  if (sizes === 0n) return [-1, 0];
  const idx = fls(sizes);
  const bigger = bm & ~genmask(idx);
  if (bigger !== 0n) {
    const next = 1n << ffs(bigger);
    if (((iova ^ paddr) & (next - 1n)) === 0n) {
      const off = next - (am & (next - 1n));
      if (off + next <= size) size = off;
    }
  }
  return [Number(idx), Number(size >> idx)];
}

describe('reference format and engine', () => {
  it('test_fmt_self_test: VT-d-like and fine-grained reference formats pass the codec self-test', () => {
    expect(ptFormatSelfTest(createRefFormat(SZ_4K | SZ_2M | SZ_1G))).toEqual([]);
    expect(ptFormatSelfTest(createRefFormat(FINE))).toEqual([]);
    expect(createRefFormat(FINE).leafOrders(1)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29]);
  });

  it('test_best_pgsize: pgsizeCount equals the BigInt reference on seeded random inputs', () => {
    const rng = new Prng(99);
    for (const bm of [SZ_4K | SZ_2M | SZ_1G, FINE, SZ_2M | SZ_1G, SZ_4K]) {
      const orders = bitmapOrders(bm);
      for (let i = 0; i < 3000; i++) {
        const sh = rng.int(30);
        const iova = ((rng.u32() % 2 ** 20) * 2 ** sh) % 2 ** 40;
        const pfn = rng.int(3) === 0 ? iova : (rng.u32() % 2 ** 20) * 2 ** rng.int(20);
        const np = 1 + rng.int(rng.int(2) ? 600 : 2 ** 20);
        const [o, c] = refPgsize(bm, BigInt(iova) << 12n, BigInt(pfn) << 12n, BigInt(np) << 12n);
        const out = { count: -1 };
        const got = pgsizeCount(orders, iova, pfn, np, out);
        expect([got, out.count]).toEqual([o, o < 0 ? 0 : c]);
      }
    }
  });

  it('test_map_table_to_oa: fill 1G with 4K, unmap half at once and the rest page by page, then one 1G leaf replaces the tables', () => {
    const h = makeHarness({}, 8n << 30n);
    const base = 0x40000;
    for (let i = 0; i < 512; i++) iommuMap(h.dom, base + i * 512, 1 + base + i * 512, 512, RW); // pfn misaligned: 4K leaves
    expect(leaves(h.dom).length).toBe(262144);
    expect(iommuUnmap(h.dom, base, 131072)).toBe(131072);
    for (let i = 131072; i < 262144; i += 512) expect(iommuUnmap(h.dom, base + i, 512)).toBe(512);
    expect(leaves(h.dom).length).toBe(0);
    iommuMap(h.dom, base, base, 262144, RW);
    expect(leaves(h.dom)).toEqual([[base, base, 30]]);
    expect(h.dom.pt.tables).toBe(2); // root + the level-2 table
    expect(iommuUnmap(h.dom, base, 262144)).toBe(262144);
    expectClean(h);
  });

  it('test_keep_position: 256 x 4K in one call writes 256 PTEs with one descent', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 1, RW);
    const c0 = h.sim.counters;
    iommuMap(h.dom, 1, 7, 256, RW);
    const c = h.sim.counters;
    expect([c.pteWrites - c0.pteWrites, c.tableAllocs - c0.tableAllocs, c.mapCalls - c0.mapCalls]).toEqual([256, 0, 1]);
    expect(iommuUnmap(h.dom, 1, 256)).toBe(256);
  });

  it('test_single_4k_map_descends_through_present_tables', () => {
    // one-page maps into level-0 tables the walk did not end in: through present tables (no
    // table allocated, one PTE), to the walk where a table is missing, the policy's errno on a
    // present entry and on a 2 MiB leaf above
    const h = makeHarness({}, 8n << 30n);
    const T = 512; // pages per level-0 table
    iommuMap(h.dom, 0, 100, 1, RW);
    iommuMap(h.dom, T, 200, 1, RW); // the walk now ends in the second table
    const c0 = h.sim.counters;
    iommuMap(h.dom, 5, 105, 1, RW); // back in the first one
    iommuMap(h.dom, 2 * T + 7, 307, 1, RW); // no table there yet: allocated by the walk
    iommuMap(h.dom, T + 9, 209, 1, RW);
    iommuMap(h.dom, 6, 106, 1, RW);
    const c1 = h.sim.counters;
    // four leaves and the entry that links the one new table
    expect([c1.pteWrites - c0.pteWrites, c1.tableAllocs - c0.tableAllocs]).toEqual([5, 1]);
    expect(leaves(h.dom)).toEqual([
      [0, 100, 12],
      [5, 105, 12],
      [6, 106, 12],
      [T, 200, 12],
      [T + 9, 209, 12],
      [2 * T + 7, 307, 12],
    ]);
    expect(h.dom.mapped).toBe(1);
    iommuMap(h.dom, 3 * T, 3 * T, T, RW); // a 2 MiB leaf
    expect(leaves(h.dom).at(-1)).toEqual([3 * T, 3 * T, 21]);
    iommuMap(h.dom, T + 1, 201, 1, RW); // the walk ends in the second table again
    for (const [iova, pfn] of [
      [5, 999], // a present 4 KiB entry
      [3 * T + 4, 999], // under the 2 MiB leaf
    ]) {
      expect(() => iommuMap(h.dom, iova!, pfn!, 1, RW)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
      expect(h.dom.mapped).toBe(0);
    }
    expect(leaves(h.dom).length).toBe(8);
    expect(h.sim.counters.pteWrites - c1.pteWrites).toBe(2);
    for (const iova of [0, 5, 6, T, T + 1, T + 9, 2 * T + 7]) expect(iommuUnmap(h.dom, iova, 1)).toBe(1);
    expect(iommuUnmap(h.dom, 3 * T, T)).toBe(T);
    expectClean(h);
  });

  it('test_replicated_leaves: a 64K page on a fine-grained bitmap is 16 identical entries, unmappable from any page', () => {
    const h = makeHarness({ pgsizeBitmap: FINE });
    iommuMap(h.dom, 0x100, 0x300, 16, RW);
    expect(leaves(h.dom)).toEqual([[0x100, 0x300, 16]]);
    expect(h.sim.counters.pteWrites).toBe(3 + 16);
    expect(iommuUnmap(h.dom, 0x100, 1)).toBe(16); // fgsp: the whole 64K comes back
    expectClean(h);
  });

  it('test_4k_runs_cross_chunk_and_carry: a 4K run over a reach-chunk edge and the 2^20-frame codec carry', () => {
    const h = makeHarness({}, 8n << 30n);
    // frames 0xfff00.. cross the 2^20 carry of the PTE's low word and a 2^16 reach chunk at 0x100000
    const pfn = 0x100000 - 256;
    iommuMap(h.dom, 0x40000, pfn, 512, RW);
    expect(leaves(h.dom)[0]).toEqual([0x40000, pfn, 12]);
    expect(leaves(h.dom)[511]).toEqual([0x40000 + 511, pfn + 511, 12]);
    expect(h.dom.pt.countLeaves()).toBe(512);
    for (const f of [pfn, 0xfffff, 0x100000, pfn + 511]) expect(h.sim.mem.reach4k.get(f)).toBe(1);
    expect(h.sim.mem.reach4k.get(pfn + 512)).toBe(0);
    expect(h.sim.counters.pteWrites).toBe(512 + 3); // 512 leaves + 3 tables below the root
    // unmap from the middle of the run across the carry: one call, exact count back
    expect(iommuUnmap(h.dom, 0x40000 + 200, 312)).toBe(312);
    expect(h.sim.counters.pteClears).toBe(312);
    expect(h.sim.mem.reach4k.get(0xfffff)).toBe(0);
    expect(h.sim.mem.reach4k.get(pfn + 199)).toBe(1);
    expect(iommuUnmap(h.dom, 0x40000, 200)).toBe(200);
    expectClean(h);
  });

  it('test_reach_count_spills: one frame mapped at 300 IOVAs keeps an exact reach count past a byte', () => {
    const h = makeHarness();
    const f = 0x1234;
    for (let i = 0; i < 300; i++) iommuMap(h.dom, 0x10000 + 2 * i, f, 1, RW);
    expect(h.sim.mem.reach4k.get(f)).toBe(300);
    expect([...h.sim.mem.reach4k.spill]).toEqual([[f, 300]]); // past 127: the byte says 'spilled'
    expect(h.sim.mem.isReachable(f)).toBe(true);
    for (let i = 0; i < 299; i++) expect(iommuUnmap(h.dom, 0x10000 + 2 * i, 1)).toBe(1);
    expect(h.sim.mem.reach4k.get(f)).toBe(1);
    expect(h.sim.mem.reach4k.spill.size).toBe(0);
    expect(iommuUnmap(h.dom, 0x10000 + 598, 1)).toBe(1);
    expect(h.sim.mem.isReachable(f)).toBe(false);
    expectClean(h);
  });

  it('test_unmap_steps: one step per leaf removed and per hole stepped over', () => {
    // a page-walking driver (AMD io-pgtable before iommupt) looks each of these up from the top
    const h = makeHarness();
    const pt = h.dom.pt;
    const p4k = h.sim.mem.allocFrames(16, { align: 16 }) + 1; // misaligned: 4 KiB leaves only
    iommuMap(h.dom, 0x100, p4k, 8, RW);
    expect(iommuUnmap(h.dom, 0x100, 8)).toBe(8);
    expect(pt.unmapSteps).toBe(8);
    iommuMap(h.dom, 0x100, p4k, 1, RW);
    expect(iommuUnmap(h.dom, 0x100, 1)).toBe(1); // the single-page fast path
    expect(pt.unmapSteps).toBe(1);
    const p2m = h.sim.mem.allocFrames(512, { align: 512 });
    iommuMap(h.dom, 0x200, p2m, 512, RW);
    expect(iommuUnmap(h.dom, 0x200, 512)).toBe(512);
    expect(pt.unmapSteps).toBe(1); // one 2 MiB leaf
    iommuMap(h.dom, 0x200, p2m, 512, RW);
    expect(iommuUnmap(h.dom, 0x203, 1)).toBe(512); // inside the leaf: removed whole
    expect(pt.unmapSteps).toBe(1);
    // one engine call over a 2 MiB leaf and three 4 KiB leaves: 1 + 3 (the core would split this
    // range into two driver calls, and unmapSteps is the last call's)
    iommuMap(h.dom, 0x200, p2m, 512, RW);
    iommuMap(h.dom, 0x400, p4k, 3, RW);
    const g = new IotlbGather();
    expect(pt.unmap(0x200, 515, g)).toBe(515);
    expect(pt.unmapSteps).toBe(4);
    pt.putPages(g);
    // the reference policy stops at a hole: nothing found, no step
    expect(iommuUnmap(h.dom, 0x200, 4)).toBe(0);
    expect(pt.unmapSteps).toBe(0);
    expectClean(h);
  });

  it('test_unmap_steps_count_holes: under holes=count each empty slot is one step at its level', () => {
    const h = makeHarness();
    const pt = new PageTable(createRefFormat(SZ_4K | SZ_2M | SZ_1G), h.sim.mem, h.sim.meter, { ...REF_POLICY, holes: 'count' }, 3, 99);
    const tables0 = h.sim.mem.tables.inUse;
    const p = h.sim.mem.allocFrames(16, { align: 16 }) + 1;
    const g = new IotlbGather();
    expect(pt.map(0, p, 12, 1, RW, g)).toBe(0);
    expect(pt.map(3, p + 3, 12, 1, RW, g)).toBe(0);
    const clears = h.sim.counters.pteClears;
    // leaf 0, holes at 1 and 2 (level-0 slots), leaf 3
    expect(pt.unmap(0, 4, g)).toBe(4);
    expect(pt.unmapSteps).toBe(4);
    expect(h.sim.counters.pteClears - clears).toBe(4); // the holes' empty PTEs are written too
    // leaf 0, 511 level-0 holes, then IOVA 512..1023 is one empty level-1 slot: one step of 512 pages
    expect(pt.map(0, p, 12, 1, RW, g)).toBe(0);
    expect(pt.unmap(0, 1024, g)).toBe(1024);
    expect(pt.unmapSteps).toBe(1 + 511 + 1);
    // nothing mapped at all under a level-2 slot: one step of 2^18 pages
    expect(pt.unmap(1 << 18, 1 << 18, g)).toBe(1 << 18);
    expect(pt.unmapSteps).toBe(1);
    pt.putPages(g);
    pt.destroy();
    expect(h.sim.mem.tables.inUse).toBe(tables0 - 1); // the root counted in tables0 is gone too
    expectClean(h);
  });
});
