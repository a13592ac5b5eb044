// PtGeometry: the per-level numbers the engine derives from a format, and the RangeError for a
// geometry the arena cannot hold. The formats here are the reference codec with their levels given
// as arrays, so a read of a level that does not exist (-1, maxLevel + 1) is undefined, never a
// plausible number that happens to pass (the reference format's 12 + 9 * level would).
import { describe, expect, it } from 'vitest';
import { SZ_4K, SZ_2M, SZ_1G } from '../src/index.js';
import { P9, PtGeometry, createRefFormat, type PtFormat } from '../src/internals.js';

interface Shape {
  /** itemOrder per level; maxLevel is its length - 1 unless given */
  orders: number[];
  /** numItemsLg2 per level; 9 everywhere unless given */
  lgs?: number[];
  /** leafOrders per level; none unless given */
  leaves?: number[][];
  maxLevel?: number;
  leaf4k?: boolean;
}

function fmtOf(s: Shape): PtFormat {
  const base = createRefFormat(SZ_4K);
  const lgs = s.lgs ?? s.orders.map(() => 9);
  const f: PtFormat = {
    ...base,
    name: 't',
    maxLevel: s.maxLevel ?? s.orders.length - 1,
    itemOrder: (l) => s.orders[l] as number,
    numItemsLg2: (l) => lgs[l] as number,
    leafOrders: (l) => s.leaves?.[l] ?? [],
  };
  if (s.leaf4k === false) delete (f as { leaf4k?: unknown }).leaf4k;
  return f;
}

const REF4 = [12, 21, 30, 39];

describe('PtGeometry numbers', () => {
  it('test_geometry_ref: pages per item and per table, reciprocals, leaf levels and replicas of the 4-level 9-bit tree', () => {
    const g = new PtGeometry(fmtOf({ orders: REF4, leaves: [[12, 16], [21], [30]] }));
    expect(g.maxLevel).toBe(3);
    expect([...g.itemPages]).toEqual([1, 512, 262144, 134217728]);
    expect([...g.items]).toEqual([512, 512, 512, 512]);
    expect([...g.tablePages]).toEqual([512, 262144, 134217728, 68719476736]);
    expect([...g.perItem]).toEqual([1, 1 / 512, 1 / 262144, 1 / 134217728]);
    expect([...g.perTable]).toEqual([1 / 512, 1 / 262144, 1 / 134217728, 1 / 68719476736]);
    const levelOf = new Array(64).fill(-1);
    levelOf[12] = 0;
    levelOf[16] = 0;
    levelOf[21] = 1;
    levelOf[30] = 2;
    expect([...g.levelOf]).toEqual(levelOf);
    const replicas = new Array(64).fill(0);
    replicas[12] = 1;
    replicas[16] = 16; // a 64 KiB leaf fills 16 level-0 entries
    replicas[21] = 1;
    replicas[30] = 1;
    expect([...g.replicas]).toEqual(replicas);
    expect(g.linear4k).toBe(true);
  });

  it('test_geometry_small_top: a 7-bit top over 4 KiB items and 9-bit levels', () => {
    const g = new PtGeometry(fmtOf({ orders: [12, 21], lgs: [9, 7], leaves: [[12], [21, 27]] }));
    expect([...g.items]).toEqual([512, 128]);
    expect([...g.tablePages]).toEqual([512, 65536]);
    expect([...g.perTable]).toEqual([1 / 512, 1 / 65536]);
    expect([g.levelOf[27], g.replicas[27]]).toEqual([1, 64]);
  });

  it('test_geometry_linear4k: only with a 4K codec and 4 KiB level-0 items', () => {
    expect(new PtGeometry(fmtOf({ orders: REF4, leaf4k: false })).linear4k).toBe(false);
    const g16 = new PtGeometry(fmtOf({ orders: [14, 23, 32], leaves: [[14], [23]] }));
    expect(g16.linear4k).toBe(false);
    expect([...g16.itemPages]).toEqual([4, 2048, 1048576]);
    expect([g16.levelOf[14], g16.replicas[14]]).toEqual([0, 1]);
  });

  it('test_geometry_bounds_accepted: maxLevel 0 and 7, 1 and 9 index bits, a table reaching bit 64', () => {
    expect(new PtGeometry(fmtOf({ orders: [12] })).tablePages[0]).toBe(512);
    const eight = [12, 13, 14, 15, 16, 17, 18, 19];
    const g7 = new PtGeometry(fmtOf({ orders: eight, lgs: eight.map(() => 1), leaves: [[12]] }));
    expect([...g7.items]).toEqual(eight.map(() => 2));
    expect(g7.tablePages[7]).toBe(256);
    expect(new PtGeometry(fmtOf({ orders: [55] })).tablePages[0]).toBe(2 ** 52);
    expect(new PtGeometry(fmtOf({ orders: [12, 21], lgs: [9, 1] })).items[1]).toBe(2);
  });
});

describe('PtGeometry rejects', () => {
  const rejects = (s: Shape, msg: string) => expect(() => new PtGeometry(fmtOf(s))).toThrow(new RangeError(msg));

  it('test_geometry_max_level: integers 0..7 only', () => {
    for (const m of [-1, 8, 1.5, Number.NaN]) rejects({ orders: REF4, maxLevel: m }, `format t: maxLevel ${m} outside 0..7`);
  });

  it('test_geometry_level_shape: items below 4 KiB, 0 or 10 index bits, non-integers, a table past bit 64', () => {
    const want = (io: number, lg: number) => `format t: level 0 has item order ${io} and ${lg} index bits (want items >= 4 KiB, 1..9 bits)`;
    rejects({ orders: [11] }, want(11, 9));
    rejects({ orders: [12.5] }, want(12.5, 9));
    rejects({ orders: [12], lgs: [0] }, want(12, 0));
    rejects({ orders: [12], lgs: [10] }, want(12, 10));
    rejects({ orders: [12], lgs: [8.5] }, want(12, 8.5));
    rejects({ orders: [56] }, want(56, 9));
    rejects(
      { orders: [12, 21, 30, 39], maxLevel: 4 },
      'format t: level 4 has item order undefined and undefined index bits (want items >= 4 KiB, 1..9 bits)',
    );
  });

  it('test_table_radix: a level starts where the level below stops', () => {
    rejects({ orders: [12, 22] }, 'format t: level 1 items cover 2^22 bytes, not the 2^21 of a level-0 table');
    rejects({ orders: [12, 21, 29], lgs: [9, 9, 9] }, 'format t: level 2 items cover 2^29 bytes, not the 2^30 of a level-1 table');
  });

  it('test_entry_possible_sizes: a leaf order inside its level, once', () => {
    rejects({ orders: REF4, leaves: [[21]] }, 'format t: leaf order 21 at level 0 outside [12, 21)');
    rejects({ orders: REF4, leaves: [[11]] }, 'format t: leaf order 11 at level 0 outside [12, 21)');
    rejects({ orders: REF4, leaves: [[], [20]] }, 'format t: leaf order 20 at level 1 outside [21, 30)');
    rejects({ orders: REF4, leaves: [[12, 12]] }, 'format t: leaf order 12 at two levels');
    expect(new PtGeometry(fmtOf({ orders: REF4, leaves: [[20]] })).replicas[20]).toBe(256);
  });
});

// the bitmaps the reference driver is built with, through the real format (not the array one)
describe('PtGeometry of createRefFormat', () => {
  it('test_geometry_ref_bitmap: 4K|2M|1G sits at levels 0, 1, 2', () => {
    const g = new PtGeometry(createRefFormat(SZ_4K | SZ_2M | SZ_1G));
    expect([g.levelOf[12], g.levelOf[21], g.levelOf[30], g.levelOf[39]]).toEqual([0, 1, 2, -1]);
    expect(g.linear4k).toBe(true);
  });

  it('test_p9_pages_per_item: 2^(9L) pages for levels 0 to 7, frozen, equal to the reference geometry where it has levels', () => {
    expect(P9).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((l) => 2 ** (9 * l)));
    expect(Object.isFrozen(P9)).toBe(true);
    const g = new PtGeometry(createRefFormat(SZ_4K | SZ_2M | SZ_1G));
    expect(Array.from(g.itemPages).slice(0, 4)).toEqual(P9.slice(0, 4));
  });
});
