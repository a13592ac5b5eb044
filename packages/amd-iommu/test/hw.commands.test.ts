// Command encodings bit-exact (spec §5.2-5.4) and the ring's mechanics.
import { describe, expect, it } from 'vitest';
import {
  CmdRing,
  buildCompletionWait,
  buildInvAddress,
  buildInvAll,
  buildInvDte,
  buildInvIommuPages,
  buildInvIotlbPages,
  cmdBigInt,
  decodeInvAddress,
  invAddress2018,
  INV_ALL_PAGES,
  type InvAddress,
  type InvRange,
} from '../src/internals.js';

const w = new Int32Array(4);

describe('command encodings', () => {
  it('test_cmd_completion_wait', () => {
    buildCompletionWait(w, 0, 0x1000_0008, 1, 0, true);
    // store bit 0, address 51:3, opcode 1 in 63:60, data in 127:64
    expect(cmdBigInt(w, 0)).toBe(0x0000_0000_0000_0001_1000_0000_1000_0009n);
    buildCompletionWait(w, 0, 0x12_3456_7000, 0x89abcdef, 0x1234, true, true);
    expect(cmdBigInt(w, 0)).toBe(0x0000_1234_89ab_cdef_1000_0012_3456_7003n);
  });

  it('test_cmd_inv_devtab_entry', () => {
    buildInvDte(w, 0, 0x0100);
    expect(cmdBigInt(w, 0)).toBe(0x2000_0000_0000_0100n);
  });

  it('test_cmd_inv_iommu_pages', () => {
    buildInvIommuPages(w, 0, 5, INV_ALL_PAGES, true, true);
    // DomainID 47:32, opcode 3, S bit 64, PDE bit 65, address 0x7FFF_FFFF_FFFF_F000
    expect(cmdBigInt(w, 0)).toBe(0x7fff_ffff_ffff_f003_3000_0005_0000_0000n);
    buildInvIommuPages(w, 0, 1, 0x1, false, true);
    expect(cmdBigInt(w, 0)).toBe(0x0000_0000_0000_1002_3000_0001_0000_0000n);
    buildInvIommuPages(w, 0, 0xffff, 0x12_3456_7890, true, false);
    expect(cmdBigInt(w, 0)).toBe(0x0001_2345_6789_0001_3000_ffff_0000_0000n);
  });

  it('test_cmd_inv_iotlb_pages_and_all', () => {
    buildInvIotlbPages(w, 0, 0x0100, 32, 0x2, false);
    expect(cmdBigInt(w, 0)).toBe(0x0000_0000_0000_2000_4000_0100_2000_0100n);
    buildInvAll(w, 0);
    expect(cmdBigInt(w, 0)).toBe(0x8000_0000_0000_0000n);
  });

  it('test_inv_address_2018', () => {
    expect(invAddress2018(0x10, 1)).toEqual({ page: 0x10, s: false });
    const out: InvAddress = { page: -1, s: false };
    expect(invAddress2018(0x10, 2, out)).toBe(out); // the caller's out object, written
    expect(out).toEqual({ page: 2 ** 51 - 1, s: true }); // more than one page: the whole domain
  });

  it('test_build_inv_address', () => {
    const cases: [number, number, number, boolean, number, number][] = [
      // start page, pages -> address page, S, decoded first page, decoded pages (spec §5.4 examples)
      [0x1, 1, 0x1, false, 0x1, 1],
      [0x2, 2, 0x2, true, 0x2, 2],
      [0x3, 2, 0x3, true, 0x0, 8], // 0x3000 + 8K -> 32 KiB at 0
      [0x200, 512, 0x2ff, true, 0x200, 512], // one 2 MiB page
      [0x100000, 100, 0x10003f, true, 0x100000, 128], // 0x63 differs up to bit 6,
      [2 ** 32 - 1, 2, 2 ** 32 - 1, true, 0, 2 ** 33], // pages differ in the high word (bit 32): 32 TiB at 0
      // differ at byte bit 51: Linux still sets the bits below (not the all-pages address), and the
      // hardware reads 51 trailing ones as everything
      [0, 2 ** 39 + 1, 2 ** 39 - 1, true, 0, Infinity],
    ];
    const inv: InvAddress = { page: -1, s: false },
      dec: InvRange = { page: -1, npages: -1 };
    for (const [s, n, page, S, d0, dn] of cases) {
      expect(buildInvAddress(s, n, inv)).toBe(inv);
      expect([inv.page, inv.s]).toEqual([page, S]);
      expect(decodeInvAddress(inv.page, inv.s, dec)).toBe(dec);
      expect([dec.page, dec.npages]).toEqual([d0, dn]);
      expect(buildInvAddress(s, n)).toEqual({ page, s: S }); // no out object: a new one
    }
    expect(buildInvAddress(2 ** 40 - 1, 2)).toEqual({ page: INV_ALL_PAGES, s: true }); // crosses bit 52: everything
    expect(decodeInvAddress(INV_ALL_PAGES, true).npages).toBe(Infinity);
  });
});

describe('command ring', () => {
  it('test_ring_wraps', () => {
    const r = new CmdRing(4);
    expect(r.bytes).toBe(64);
    for (let i = 0; i < 5; i++) {
      buildInvDte(r.words, r.slot(), i);
      r.advance();
      r.head = r.tail;
    }
    expect(r.tail).toBe(16); // 5 entries of 16 bytes in a 64-byte ring
    expect(r.recent(1)).toBe(0x2000_0000_0000_0004n);
    expect(r.recent(2)).toBe(0x2000_0000_0000_0003n);
    expect(r.free()).toBe(48);
    expect(() => new CmdRing(3)).toThrow(RangeError);
  });
});
