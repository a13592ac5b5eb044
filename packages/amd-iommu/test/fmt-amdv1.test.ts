// The amdv1 codec: bit-exact entries against the spec's tables and worked example (§2.2-2.6), the
// core's format self-test, and the kunit_generic_pt format cases that apply to a v1 table (§9.4 1-10).
import { describe, expect, it } from 'vitest';
import { PT_ENTRY_EMPTY, PT_ENTRY_OA, PT_ENTRY_TABLE, PtState, TABLE_PFN_BASE } from '@x/iommu-core/internals';
import { ptFormatSelfTest } from '@x/iommu-core/testing';
import { AMD_IOMMU_PGSIZES } from '../src/index.js';
import {
  amdv1IsDirty,
  amdv1MakeClean,
  amdv1MakeDirty,
  createAmdv1Format,
  largeLeafOrder,
  pteBigInt,
  pteStore,
  trailingOnes,
} from '../src/internals.js';
import { amdv1Cfgs } from '../src/testing.js';

const fmt = createAmdv1Format();
const RW = 3,
  R = 1;
const t = () => new Int32Array(1024);

describe('amdv1 encodings', () => {
  it('test_pte_4k_bits', () => {
    const w = t();
    expect(fmt.installLeaves(w, 0, 0, 0x12345, 12, RW, 1)).toBe(1);
    // PR | address 0x12345000 | FC 60 | IR 61 | IW 62
    expect(pteBigInt(w, 0)).toBe(0x7000_0000_1234_5001n);
    fmt.installLeaves(w, 2, 0, 0x12345, 12, R, 1);
    expect(pteBigInt(w, 2)).toBe(0x3000_0000_1234_5001n);
    fmt.installLeaves(w, 4, 0, 2 ** 40 - 1, 12, RW, 1); // address bits 51:12 all ones
    expect(pteBigInt(w, 4)).toBe(0x700f_ffff_ffff_f001n);
  });

  it('test_pte_64k_worked_example', () => {
    // spec §2.4: 64 KiB at PA 0x1234_0000 -> 16 entries of 0x1234_7000 | NL 7 | PR | FC | IR | IW
    const w = t();
    expect(fmt.installLeaves(w, 0, 0, 0x12340, 16, RW, 1)).toBe(16);
    for (let i = 0; i < 16; i++) expect(pteBigInt(w, 2 * i)).toBe(0x7000_0000_1234_7e01n);
    expect(pteBigInt(w, 32)).toBe(0n);
    expect(largeLeafOrder(0x12347)).toBe(16);
  });

  it('test_pte_large_levels', () => {
    const w = t();
    fmt.installLeaves(w, 0, 1, 0x40000, 21, RW, 1); // 2 MiB, NL 0 in a level-1 table
    expect(pteBigInt(w, 0)).toBe(0x7000_0000_4000_0001n);
    fmt.installLeaves(w, 2, 1, 0x80000, 22, RW, 1); // 4 MiB: ones in bits 20:12, bit 21 zero
    expect(pteBigInt(w, 2)).toBe(0x7000_0000_801f_fe01n);
    expect(pteBigInt(w, 4)).toBe(0x7000_0000_801f_fe01n);
    fmt.installLeaves(w, 8, 2, 0x40000, 30, RW, 1); // 1 GiB, NL 0 in a level-2 table
    expect(pteBigInt(w, 8)).toBe(0x7000_0000_4000_0001n);
  });

  it('test_pte_runs', () => {
    const w = t();
    expect(fmt.installLeaves(w, 0, 1, 0x40000, 21, RW, 3)).toBe(3); // three 2 MiB leaves: pfn steps by 512
    expect([pteBigInt(w, 0), pteBigInt(w, 2), pteBigInt(w, 4)]).toEqual([
      0x7000_0000_4000_0001n,
      0x7000_0000_4020_0001n,
      0x7000_0000_4040_0001n,
    ]);
    expect(fmt.installLeaves(w, 6, 0, 0x10, 13, RW, 2)).toBe(4); // two 8 KiB runs of 2 entries
    expect([pteBigInt(w, 6), pteBigInt(w, 8), pteBigInt(w, 10), pteBigInt(w, 12)]).toEqual([
      0x7000_0000_0001_0e01n,
      0x7000_0000_0001_0e01n,
      0x7000_0000_0001_2e01n,
      0x7000_0000_0001_2e01n,
    ]);
  });

  it('test_pde_bits', () => {
    const w = t();
    fmt.installTable(w, 0, 2, TABLE_PFN_BASE); // 2^36 -> address bit 48
    // PR | NextLevel 2 | address | IR | IW, no FC on directory entries
    expect(pteBigInt(w, 0)).toBe(0x6001_0000_0000_0401n);
    fmt.installTable(w, 2, 1, 0x12345);
    expect(pteBigInt(w, 2)).toBe(0x6000_0000_1234_5201n);
  });

  it('test_load_classifies', () => {
    const w = t(),
      st = new PtState();
    pteStore(w, 0, 0x6000_0000_1234_5201n);
    expect(fmt.load(w, 0, 1, st)).toBe(PT_ENTRY_TABLE);
    expect(st.pfn).toBe(0x12345);
    pteStore(w, 0, 0x7000_0000_1234_7e01n);
    expect(fmt.load(w, 0, 0, st)).toBe(PT_ENTRY_OA);
    expect([st.pfn, st.order]).toEqual([0x12340, 16]);
    pteStore(w, 0, 0x7000_0000_1234_7e00n); // PR clear
    expect(fmt.load(w, 0, 0, st)).toBe(PT_ENTRY_EMPTY);
  });

  it('test_pte_store_round_trip', () => {
    // the low word at w, the high word at w + 1, nothing else touched
    const w = new Int32Array(6);
    pteStore(w, 2, 0x7000_0000_1234_7e01n);
    expect([...w]).toEqual([0, 0, 0x1234_7e01, 0x7000_0000, 0, 0]);
    expect(pteBigInt(w, 2)).toBe(0x7000_0000_1234_7e01n);
  });

  it('test_pgsize_bitmap', () => {
    expect(AMD_IOMMU_PGSIZES).toBe(((1n << 64n) - 1n) & ~0xfffn & ~(1n << 39n));
    let bm = 0n;
    for (let l = 0; l <= fmt.maxLevel; l++) for (const o of fmt.leafOrders(l)) bm |= 1n << BigInt(o);
    // every size the table can hold is advertised; the advertised ones above 2^51 cannot be encoded
    expect(bm).toBe(AMD_IOMMU_PGSIZES & ((1n << 52n) - 1n));
  });
});

describe.each(amdv1Cfgs)('amdv1_fmt_test cfg=%o', (cfg) => {
  it('test_init', () => {
    expect(AMD_IOMMU_PGSIZES).not.toBe(0n);
    expect(cfg.startLevel).toBe(2);
  });

  it('test_bitops', () => {
    expect([
      trailingOnes(0),
      trailingOnes(1),
      trailingOnes(4),
      trailingOnes(0xfffff),
      trailingOnes(2 ** 40 - 1),
      trailingOnes(2 ** 52 - 1),
    ]).toEqual([0, 1, 0, 20, 40, 52]);
    let x = 12345;
    for (let i = 0; i < 200; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const v = x * 4096 + (x % 4096);
      let n = 0;
      for (let y = v; y % 2 === 1; y = Math.floor(y / 2)) n++;
      expect(trailingOnes(v)).toBe(n);
    }
  });

  it('test_table_ptr', () => {
    expect(ptFormatSelfTest(fmt, 40)).toEqual([]);
  });

  it('test_table_radix', () => {
    // each level's index bits start where the lower level's stop; the top (level 5) ends at bit 63
    for (let l = 0; l < 5; l++) expect(12 + 9 * (l + 1)).toBe(12 + 9 * l + 9);
    expect(12 + 9 * 5 + 7).toBe(64);
  });

  it('test_entry_possible_sizes', () => {
    for (let l = 0; l <= 4; l++) {
      const item = 12 + 9 * l;
      const os = fmt.leafOrders(l);
      for (const o of os) {
        expect(o).toBeGreaterThanOrEqual(item);
        expect(o).toBeLessThan(item + 9);
      }
      if (l === 3) {
        expect(os.reduce((b, o) => b | (1n << BigInt(o)), 0n)).toBe(0xff00_0000_0000n); // 1T..128T, no 512G
      } else expect(os[0]).toBe(item);
    }
    expect(fmt.leafOrders(4)).toEqual([48, 49, 50, 51]);
    expect(fmt.leafOrders(5)).toEqual([]);
  });

  it('test_entry_oa', () => {
    const w = t(),
      st = new PtState();
    const testOa = 0x74a71445deadbeefn & ((1n << 52n) - 1n);
    for (let l = 0; l <= 4; l++) {
      for (const o of fmt.leafOrders(l)) {
        const lp = 2 ** (o - 12),
          item = 2 ** (9 * l),
          rep = lp / item;
        for (const oaBytes of [testOa, 0n, (1n << 52n) - 1n]) {
          const pfn = Number(oaBytes >> 12n) - (Number(oaBytes >> 12n) % lp);
          w.fill(0);
          expect(fmt.installLeaves(w, 0, l, pfn, o, RW, 1)).toBe(rep);
          for (let i = 0; i < rep; i++) {
            expect(fmt.load(w, 2 * i, l, st)).toBe(PT_ENTRY_OA);
            expect(st.pfn).toBe(pfn);
            expect(st.order).toBe(o);
          }
          w.fill(0, 0, 2 * rep);
          expect(fmt.load(w, 0, l, st)).toBe(PT_ENTRY_EMPTY);
        }
      }
    }
  });

  it('test_attr_from_entry', () => {
    const w = t(),
      w2 = t(),
      st = new PtState();
    for (let l = 0; l <= 4; l++) {
      for (const o of fmt.leafOrders(l)) {
        for (const prot of [1, 2, 3]) {
          w.fill(0);
          w2.fill(0);
          fmt.installLeaves(w, 0, l, 0, o, prot, 1);
          fmt.load(w, 0, l, st);
          fmt.installLeaves(w2, 0, l, st.pfn, st.order, fmt.leafProt(w, 0), 1);
          expect(pteBigInt(w2, 0)).toBe(pteBigInt(w, 0));
        }
      }
    }
  });

  it('test_dirty', () => {
    const w = t();
    for (let l = 0; l <= 2; l++) {
      for (const o of fmt.leafOrders(l)) {
        const rep = 2 ** (o - 12 - 9 * l);
        w.fill(0);
        fmt.installLeaves(w, 0, l, 0, o, RW, 1);
        amdv1MakeClean(w, 0, 0, l);
        expect(amdv1IsDirty(w, 0, 0, l)).toBe(false);
        amdv1MakeDirty(w, 2 * (rep - 1)); // hardware marks one replica only
        expect(amdv1IsDirty(w, 0, 0, l)).toBe(true);
        amdv1MakeClean(w, 2 * (rep - 1), 0, l);
        expect(amdv1IsDirty(w, 0, 0, l)).toBe(false);
      }
    }
  });
});
