// Edges of the in-memory structures the mutation run of issue 15 found unchecked: the device
// table's last DeviceID and its decoded permission bits, the command ring's size check and free
// space, the amdv1 codec's dirty tracking of a replicated leaf in a table that does not start at
// word 0, next to other leaves, the invalidation-size decode at its top, and the event log.
import { describe, expect, it } from 'vitest';
import { PT_ENTRY_OA, PtState } from '@x/iommu-core/internals';
import { EVENT_NAMES } from '../src/index.js';
import {
  AMDV1_D,
  CmdRing,
  DeviceTable,
  EventLog,
  amdv1IsDirty,
  amdv1MakeClean,
  amdv1MakeDirty,
  buildInvAll,
  cmdBigInt,
  createAmdv1Format,
  decodeInvAddress,
} from '../src/internals.js';
import { setup } from './helpers.js';

describe('device table', () => {
  it('test_dte_last_device_id', () => {
    const t = new DeviceTable();
    // Linux's init: every DTE valid with translation on and no permissions, the last one included
    expect(t.read(0xffff)).toEqual({ v: true, tv: true, mode: 0, rootPfn: 0, ir: false, iw: false, domainId: 0 });
    const f = { v: true, tv: true, mode: 4, rootPfn: 0x1_2345_6789, ir: true, iw: false, domainId: 0xfffe };
    t.write(0xffff, f);
    expect(t.read(0xffff)).toEqual(f);
    expect(t.read(0xfffe).mode).toBe(0);
    expect(t.load(0xffff)).toBe(true);
    expect([t.load(0xffff), t.fetches]).toEqual([false, 1]); // cached until INVALIDATE_DEVTAB_ENTRY
    t.invalidate(0xffff);
    expect([t.load(0xffff), t.fetches]).toEqual([true, 2]);
    expect([t.cMode[0xffff], t.cRoot[0xffff], t.cDom[0xffff], t.cFlags[0xffff]]).toEqual([4, 0x1_2345_6789, 0xfffe, 1 | 4 | 8]);
  });

  it('test_dte_permission_bits_decode', () => {
    const t = new DeviceTable();
    for (const [ir, iw] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      t.write(7, { v: true, tv: true, mode: 3, rootPfn: 5, ir, iw, domainId: 1 });
      expect([t.read(7).ir, t.read(7).iw]).toEqual([ir, iw]);
      // bits 61 (IR) and 62 (IW) of the DTE's first quadword
      expect(t.raw(7)[0]).toBe(1n | 2n | (3n << 9n) | (5n << 12n) | (ir ? 1n << 61n : 0n) | (iw ? 1n << 62n : 0n));
    }
  });

  it('test_dte_raw_quadwords', () => {
    const t = new DeviceTable();
    t.write(0x0102, { v: true, tv: true, mode: 6, rootPfn: 0xabcde_12345, ir: true, iw: true, domainId: 0x1234 });
    expect(t.raw(0x0102)).toEqual([
      1n | 2n | (6n << 9n) | (0xabcde_12345n << 12n) | (1n << 61n) | (1n << 62n),
      0x1234n, // DomainID in bits 79:64
      0n,
      0n,
    ]);
    expect(t.raw(0x0101)).toEqual([3n, 0n, 0n, 0n]);
    // the upper halves come from memory too (bits the model never sets, written here directly)
    const w = 0x0102 * 8;
    t.words[w + 3] = 0x11;
    t.words[w + 5] = 0x22;
    t.words[w + 7] = 0x33;
    expect(t.raw(0x0102).slice(1)).toEqual([(0x11n << 32n) | 0x1234n, 0x22n << 32n, 0x33n << 32n]);
  });
});

describe('command ring', () => {
  it.each([1, 3, 0, 6])('test_ring_size_rejected %i', (n) => {
    expect(() => new CmdRing(n)).toThrow(new RangeError(`ring entries must be a power of two >= 2, got ${n}`));
  });

  it('test_ring_free_bytes', () => {
    const r = new CmdRing(2); // the smallest ring: 32 bytes
    expect([r.bytes, r.free()]).toEqual([32, 16]);
    const q = new CmdRing(4);
    expect(q.free()).toBe(48); // (head - next tail) mod 64: one slot always kept empty
    q.advance();
    q.advance();
    q.head = 16;
    expect(q.free()).toBe(32);
    q.advance();
    expect([q.tail, q.free()]).toEqual([48, 16]);
  });
});

describe('amdv1 codec', () => {
  const fmt = createAmdv1Format();

  it('test_fmt_name_and_levels_outside', () => {
    expect(fmt.name).toBe('amdv1');
    expect([fmt.leafOrders(6), fmt.leafOrders(-1), fmt.leafOrders(5)]).toEqual([[], [], []]);
  });

  it('test_level0_entry_is_a_leaf_whatever_its_next_level', () => {
    // a level-0 entry cannot point at a table: NextLevel 1..6 there still decodes as a 4 KiB leaf
    const words = new Int32Array(2),
      st = new PtState();
    words[0] = 1 | (1 << 9) | (0x345 << 12);
    words[1] = 0;
    expect(fmt.load(words, 0, 0, st)).toBe(PT_ENTRY_OA);
    expect([st.pfn, st.order]).toEqual([0x345, 12]);
  });

  it('test_dirty_replicated_leaf_off_base', () => {
    // a table at word 1024 of its arena page: a 4 KiB leaf, a 64 KiB leaf (16 replicas) at entries
    // 16..31, a 4 KiB leaf at entry 32
    const words = new Int32Array(2048),
      base = 1024;
    fmt.installLeaves(words, base + 2 * 15, 0, 0x100, 12, 3, 1);
    expect(fmt.installLeaves(words, base + 2 * 16, 0, 0x200, 16, 3, 1)).toBe(16);
    fmt.installLeaves(words, base + 2 * 32, 0, 0x300, 12, 3, 1);
    const at = (i: number): number => base + 2 * i;
    amdv1MakeDirty(words, at(15));
    amdv1MakeDirty(words, at(32));
    // the neighbours' D bits are not the 64 KiB leaf's
    for (const i of [16, 23, 31]) expect(amdv1IsDirty(words, at(i), base, 0)).toBe(false);
    amdv1MakeDirty(words, at(27)); // hardware sets D in one replica
    for (const i of [16, 20, 31]) expect(amdv1IsDirty(words, at(i), base, 0)).toBe(true);
    for (let i = 16; i < 32; i++) amdv1MakeDirty(words, at(i));
    amdv1MakeClean(words, at(20), base, 0);
    const d = (i: number): boolean => (words[at(i)]! & AMDV1_D) !== 0;
    expect(Array.from({ length: 18 }, (_, k) => d(15 + k))).toEqual([true, ...new Array<boolean>(16).fill(false), true]);
    // cleaning changed nothing but D: every replica is still the 64 KiB leaf's entry
    const head = [words[at(16)], words[at(16) + 1]];
    for (let i = 17; i < 32; i++) expect([words[at(i)], words[at(i) + 1]]).toEqual(head);
    expect([words[at(15)]! & ~AMDV1_D, words[at(32)]! & ~AMDV1_D]).toEqual([(0x100 << 12) | 1, (0x300 << 12) | 1]);
  });
});

describe('command encoding and invalidation decode', () => {
  it('test_inv_all_clears_its_slot', () => {
    // a reused ring slot: every word of the command is written, none of the neighbours'
    const words = new Int32Array(12).fill(-1);
    buildInvAll(words, 4);
    expect(cmdBigInt(words, 4)).toBe(8n << 60n); // opcode 8 in bits 63:60, nothing else
    expect([words[3], words[8]]).toEqual([-1, -1]);
  });

  it.each([
    // [page, S, first page, pages]: S=1 sizes come from the trailing ones of (address | 0xfff)
    [5, false, 5, 1],
    [5, true, 4, 4], // one trailing one: a block of 4 pages
    [0b1011, true, 8, 8],
    [2 ** 38 - 1, true, 0, 2 ** 39], // z = 50: the largest block
    [2 ** 39 - 1, true, 0, Infinity], // z = 51: everything
    [2 ** 40 - 1, true, 0, Infinity],
  ])('test_decode_inv_address %i S=%s', (page, s, first, n) => {
    expect(decodeInvAddress(page, s)).toEqual({ page: first, npages: n });
  });
});

describe('event log', () => {
  it('test_event_names_match_the_spec', () => {
    // AMD IOMMU spec, event codes 1..9
    expect(Object.entries(EVENT_NAMES)).toEqual([
      ['1', 'ILLEGAL_DEV_TABLE_ENTRY'],
      ['2', 'IO_PAGE_FAULT'],
      ['3', 'DEV_TAB_HARDWARE_ERROR'],
      ['4', 'PAGE_TAB_HARDWARE_ERROR'],
      ['5', 'ILLEGAL_COMMAND_ERROR'],
      ['6', 'COMMAND_HARDWARE_ERROR'],
      ['7', 'IOTLB_INV_TIMEOUT'],
      ['8', 'INVALID_DEVICE_REQUEST'],
      ['9', 'INVALID_PPR_REQUEST'],
    ]);
  });

  it('test_event_log_put_result_and_high_page_bits', () => {
    const log = new EventLog(4); // 3 usable entries: one slot separates a full ring from an empty one
    const page = 0x1_2345_6789;
    expect([log.ioPageFault(0x102, 7, page, 0), log.ioPageFault(0x103, 7, 1, 0), log.illegalCommand(0x40)]).toEqual([true, true, true]);
    expect(log.ioPageFault(0x104, 7, 2, 0)).toBe(false);
    expect([log.overflow, log.dropped]).toEqual([true, 1]);
    const out: { type: string; deviceId: number; iova: number }[] = [];
    expect(log.drain(out as never)).toBe(3);
    expect(out.map((e) => [e.type, e.deviceId, e.iova])).toEqual([
      ['IO_PAGE_FAULT', 0x102, page],
      ['IO_PAGE_FAULT', 0x103, 1],
      ['ILLEGAL_COMMAND_ERROR', 0, 0],
    ]);
  });

  it('test_event_log_unknown_code_names_it', () => {
    const log = new EventLog(4);
    log.words[1] = 1 << 28; // ILLEGAL_DEV_TABLE_ENTRY, which this hardware never writes
    log.tail = 16;
    expect(() => log.drain([])).toThrow(
      'BUG: event code 1 (ILLEGAL_DEV_TABLE_ENTRY) in the log; this hardware writes only IO_PAGE_FAULT and ILLEGAL_COMMAND_ERROR',
    );
  });

  it('test_event_log_reserved_code_says_reserved', () => {
    const log = new EventLog(4);
    log.words[1] = 15 << 28; // no event has code 15
    log.tail = 16;
    expect(() => log.drain([])).toThrow(
      'BUG: event code 15 (reserved) in the log; this hardware writes only IO_PAGE_FAULT and ILLEGAL_COMMAND_ERROR',
    );
  });

  it('test_event_log_starts_without_overflow', () => {
    expect([new EventLog(4).overflow, new EventLog(4).dropped]).toEqual([false, 0]);
    const f = setup({ profile: 'mainline' });
    expect([f.amd.hw.events.overflow, f.amd.hw.events.dropped]).toEqual([false, 0]);
  });
});
