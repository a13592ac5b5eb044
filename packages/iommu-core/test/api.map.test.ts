// iommu_map / iommu_iova_to_phys / iommu_pgsize: sizes, alignment, the kernel's worked examples.
import { describe, expect, it } from 'vitest';
import { IommuError, SZ_1G, SZ_2M, SZ_4K, iommuIovaToPhys, iommuMap, iommuPgsize, iommuPgsizeCount, iommuUnmap } from '../src/index.js';
import { PtLookup } from '../src/internals.js';
import { expectClean, leaves, makeHarness, RW } from './harness.js';

const FINE = ((1n << 39n) - 1n) & ~0xfffn; // every power of two 4K..256G (AMD-like)

describe('iommu_map on the reference driver', () => {
  it('test_map_simple: one page of every VT-d size maps, translates per 4K and unmaps whole', () => {
    const h = makeHarness();
    const sizes = [12, 21, 30];
    let iova = 0x40000; // 1 GiB-aligned start (pages)
    for (const o of sizes) {
      const np = 2 ** (o - 12);
      iommuMap(h.dom, iova, iova, np, RW);
      for (const off of new Set([0, np >> 1, np - 1])) expect(iommuIovaToPhys(h.dom, iova + off)).toBe(iova + off);
      iova += 0x40000;
    }
    expect(leaves(h.dom).map((l) => l[2])).toEqual([12, 21, 30]);
    iova = 0x40000;
    for (const o of sizes) {
      expect(iommuUnmap(h.dom, iova, 2 ** (o - 12))).toBe(2 ** (o - 12));
      iova += 0x40000;
    }
    expectClean(h);
  });

  it('test_map_simple on a fine-grained bitmap: every power of two 4K..256M becomes one (replicated) leaf', () => {
    const h = makeHarness({ pgsizeBitmap: FINE }, 64n << 30n);
    for (let o = 12; o <= 28; o++) {
      const np = 2 ** (o - 12);
      const iova = 2 ** 20 * (o - 11); // 4 GiB apart, aligned to everything used
      iommuMap(h.dom, iova, iova, np, RW);
      expect(iommuIovaToPhys(h.dom, iova + np - 1)).toBe(iova + np - 1);
      const leaf = new PtLookup();
      h.dom.pt.lookup(iova + np - 1, leaf);
      expect(leaf.order).toBe(o);
    }
    expect(leaves(h.dom).length).toBe(17);
    for (let o = 12; o <= 28; o++) expect(iommuUnmap(h.dom, 2 ** 20 * (o - 11), 1)).toBe(2 ** (o - 12));
    expectClean(h);
  });

  it('test_pgsize_worked_examples: 4K then 2M, and 0x1ff x 4K + 2M + 4K (spec iommu-core 1.2)', () => {
    const h = makeHarness();
    expect(iommuPgsizeCount(h.dom, 0x1ff, 0x1ff, 0x201)).toEqual({ order: 12, count: 1 });
    expect(iommuPgsizeCount(h.dom, 0x200, 0x200, 0x200)).toEqual({ order: 21, count: 1 });
    expect(iommuPgsizeCount(h.dom, 1, 1, 0x400)).toEqual({ order: 12, count: 0x1ff });
    iommuMap(h.dom, 1, 1, 0x400, RW);
    expect(leaves(h.dom).map((l) => l[2])).toEqual([...Array(0x1ff).fill(12), 21, 12]);
    expect(iommuPgsize(h.dom, 0, 1, 512)).toBe(12); // pfn misaligned: 4K only
  });

  it('test_mixed: 0x3fe400000..0x4c0600000 maps as 14 x 2M + 3 x 1G + 3 x 2M', () => {
    const h = makeHarness({ pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G }, 32n << 30n);
    const s = 0x3fe400,
      e = 0x4c0600;
    iommuMap(h.dom, s, s, e - s, RW);
    const ls = leaves(h.dom);
    expect(ls.length).toBe(20);
    expect(ls.map((l) => l[2])).toEqual([...Array(14).fill(21), 30, 30, 30, 21, 21, 21]);
    for (let p = s; p < e; p += 0x1357) expect(iommuIovaToPhys(h.dom, p)).toBe(p);
  });

  it('test_pgsize_boundary: 128K at 0xfef80000 to pa 0x208b95d000 needs 32 x 4K', () => {
    const h = makeHarness({ pgsizeBitmap: FINE });
    iommuMap(h.dom, 0xfef80, 0x208b95d, 32, RW);
    expect(leaves(h.dom).length).toBe(32);
    expect(iommuIovaToPhys(h.dom, 0xfef9f)).toBe(0x208b95d + 31);
  });

  it('test_map_misaligned: EINVAL when iova, pfn or size is not a multiple of min_pagesz', () => {
    const h = makeHarness({ pgsizeBitmap: SZ_2M | SZ_1G });
    for (const [iova, pfn, n] of [
      [1, 0, 512],
      [0, 1, 512],
      [0, 0, 511],
    ]) {
      const err = (() => {
        try {
          iommuMap(h.dom, iova!, pfn!, n!, RW);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(IommuError);
      expect(err).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'iommu_map' });
    }
    expect(h.sim.counters.mapCalls).toBe(0);
    iommuMap(h.dom, 512, 512, 512, RW);
    expect(leaves(h.dom)).toEqual([[512, 512, 21]]);
  });

  it('test_map_zero_size: returns without a driver call', () => {
    const h = makeHarness();
    iommuMap(h.dom, 5, 5, 0, RW);
    expect(h.sim.counters.mapCalls).toBe(0);
  });

  it('test_map_no_prot: a map with neither read nor write is refused with EINVAL by the driver', () => {
    const h = makeHarness();
    expect(() => iommuMap(h.dom, 0, 0, 1, 0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expectClean(h);
  });

  it('test_map_beyond_aperture: EFAULT past the 48-bit address width, nothing left behind', () => {
    const h = makeHarness();
    expect(() => iommuMap(h.dom, 2 ** 36 - 1, 0, 2, RW)).toThrow(expect.objectContaining({ code: 'EFAULT', errno: -14 }));
    expectClean(h);
  });

  it('test_table_counts: a known layout allocates exactly the tables it needs', () => {
    const h = makeHarness();
    const before = h.sim.counters.tableAllocs;
    iommuMap(h.dom, 0, 0, 1, RW); // L2 + L1 + L0
    iommuMap(h.dom, 1, 1, 511, RW); // same L0
    iommuMap(h.dom, 512, 512, 512, RW); // 2M leaf in the same L1
    iommuMap(h.dom, 0x40000, 0x40000, 1, RW); // new L1 + L0 under the same L2
    expect(h.sim.counters.tableAllocs - before).toBe(5);
    expect(h.dom.pt.tables).toBe(6);
    expect(h.sim.counters.pteWrites).toBe(3 + 511 + 1 + 2 + 1 + 1); // 3 PDEs+1, 511 leaves, 1 leaf, 2 PDEs+1
  });
});
