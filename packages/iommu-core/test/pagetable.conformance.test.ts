// ptFormatSelfTest (the kunit-style codec checks a format author runs) against codecs broken on
// purpose, one defect each: every defect must be named, and a sound codec must give no message.
// The broken codecs wrap the reference format and change one function.
import { describe, expect, it } from 'vitest';
import { SZ_1G, SZ_2M, SZ_4K } from '../src/index.js';
import { PT_ENTRY_OA, PT_ENTRY_TABLE, createRefFormat, type PtFormat } from '../src/internals.js';
import { ptFormatSelfTest } from '../src/testing.js';

const SZ_64K = 1n << 16n;
const BM = SZ_4K | SZ_64K | SZ_2M | SZ_1G;
const ref = (): PtFormat => createRefFormat(BM);
/** The pfn with its lowest bit flipped (arithmetic: pfns pass 2^31, where `^` would truncate). */
const flip1 = (p: number): number => (p % 2 === 0 ? p + 1 : p - 1);
const with_ = (over: Partial<PtFormat>): PtFormat => ({ ...ref(), ...over });

describe('ptFormatSelfTest accepts sound codecs', () => {
  it('test_self_test_ref: the reference format at 40 and at 20 output bits', () => {
    expect(ptFormatSelfTest(ref())).toEqual([]);
    expect(ptFormatSelfTest(ref(), 20)).toEqual([]);
  });

  it('test_self_test_masking_codec: a codec that drops the pfn bits below its leaf size (as hardware does) passes: every oa tried is aligned', () => {
    const base = ref();
    const f = with_({
      installLeaves(words, w, level, pfn, order, prot, n) {
        const lp = 2 ** (order - 12);
        return base.installLeaves(words, w, level, pfn - (pfn % lp), order, prot, n);
      },
    });
    expect(ptFormatSelfTest(f)).toEqual([]);
  });
});

describe('ptFormatSelfTest names each defect', () => {
  it('test_self_test_geometry: a level that does not start where the one below stops', () => {
    const f = with_({ itemOrder: (l) => (l === 0 ? 12 : 13 + 9 * l) });
    expect(ptFormatSelfTest(f)[0]).toBe('format ref: level 1 items cover 2^22 bytes, not the 2^21 of a level-0 table');
  });

  it('test_self_test_table_pointer: a table pointer that loses its high bits, a cleared entry that still reads as a table', () => {
    const base = ref();
    const lossy = with_({ installTable: (words, w, level, tp) => base.installTable(words, w, level, tp % 2 ** 20) });
    expect(ptFormatSelfTest(lossy)).toEqual([
      'level 1: table pointer 68719476736 read back as type 1 pfn 0',
      'level 1: table pointer 68719489081 read back as type 1 pfn 12345',
      'level 2: table pointer 68719476736 read back as type 1 pfn 0',
      'level 2: table pointer 68719489081 read back as type 1 pfn 12345',
      'level 3: table pointer 68719476736 read back as type 1 pfn 0',
      'level 3: table pointer 68719489081 read back as type 1 pfn 12345',
    ]);
    const sticky = with_({
      load(words, w, level, st) {
        const t = base.load(words, w, level, st);
        return t === 0 && level === 2 ? 1 : t; // an empty level-2 entry reads as a table
      },
    });
    expect(ptFormatSelfTest(sticky)).toEqual([
      'level 2: cleared table entry not empty',
      'level 2: cleared table entry not empty',
      'level 2: cleared table entry not empty',
    ]);
  });

  it('test_self_test_leaf_orders: an order outside its level', () => {
    const base = ref();
    // 2^30 is a whole level-1 table: one past the orders a level-1 entry may hold
    const f = with_({ leafOrders: (l) => (l === 1 ? [...base.leafOrders(1), 30] : base.leafOrders(l)) });
    const bad = ptFormatSelfTest(f);
    expect(bad[0]).toBe('format ref: leaf order 30 at level 1 outside [21, 30)');
    expect(bad).toContain('level 1: order 30 outside [item, table span)');
  });

  it('test_self_test_replica_count: installLeaves reporting one entry for a 16-replica 64K leaf', () => {
    const base = ref();
    const f = with_({
      installLeaves(words, w, level, pfn, order, prot, n) {
        const k = base.installLeaves(words, w, level, pfn, order, prot, n);
        return order === 16 ? n : k;
      },
    });
    // the replicas are still written, so the count is the only defect: 3 oas x 3 prots
    expect(ptFormatSelfTest(f)).toEqual(Array(9).fill('level 0 order 16: wrote 1 entries, expected 16'));
  });

  it('test_self_test_oa_and_order: a load that forgets the replica order of a 64K leaf', () => {
    const base = ref();
    const f = with_({
      load(words, w, level, st) {
        const t = base.load(words, w, level, st);
        if (t === PT_ENTRY_OA && st.order === 16) st.order = 12;
        return t;
      },
    });
    const bad = ptFormatSelfTest(f);
    expect(bad.length).toBe(9); // one per oa and prot: the first replica fails, the rest are not read
    expect(bad[0]).toBe('level 0 order 16 oa 0 replica 0: type 2 pfn 0 order 12');
    expect(bad[3]).toMatch(/^level 0 order 16 oa \d+ replica 0: type 2 pfn \d+ order 12$/);
    expect(bad[8]).toBe(`level 0 order 16 oa ${2 ** 40 - 16} replica 0: type 2 pfn ${2 ** 40 - 16} order 12`);
  });

  it('test_self_test_prot: leafProt that always answers read', () => {
    const f = with_({ leafProt: () => 1 });
    const bad = ptFormatSelfTest(f);
    expect(new Set(bad)).toEqual(
      new Set(
        ['level 0 order 12', 'level 0 order 16', 'level 1 order 21', 'level 2 order 30'].flatMap((p) => [
          `${p}: prot 2 not kept`,
          `${p}: prot 3 not kept`,
        ]),
      ),
    );
    expect(bad.filter((m) => m === 'level 0 order 16: prot 2 not kept').length).toBe(3 * 16); // each replica of each oa
  });

  it('test_self_test_past_replicas: a 4K install that also writes the next entry', () => {
    const base = ref();
    const f = with_({
      installLeaves(words, w, level, pfn, order, prot, n) {
        const k = base.installLeaves(words, w, level, pfn, order, prot, n);
        if (order === 12) base.installLeaves(words, w + 2 * k, level, pfn + k, order, prot, 1);
        return k;
      },
    });
    expect(ptFormatSelfTest(f).filter((m) => !m.startsWith('leaf4k'))).toEqual(Array(9).fill('level 0 order 12: wrote past its replicas'));
  });

  it('test_self_test_leaf4k: a 4K codec that disagrees with installLeaves, and one that is not linear', () => {
    const base = ref();
    const wrongProt = with_({ leaf4k: (pfn, prot, out) => base.leaf4k!(pfn, prot | 4, out) });
    const bad = ptFormatSelfTest(wrongProt);
    expect(bad.length).toBe(5 * 3 * 2); // 5 oas x 3 prots, both frames
    expect(bad.slice(0, 2)).toEqual(['leaf4k(0) differs from installLeaves', 'leaf4k(1) differs from installLeaves']);
    // pfn with its low bit flipped everywhere: install, load and leaf4k agree with each other, but frame oa + 1 is not
    // frame oa's words + 4096, which the engine's fused 4K runs rely on
    const flip = with_({
      installLeaves(words, w, level, pfn, order, prot, n) {
        if (order !== 12) return base.installLeaves(words, w, level, pfn, order, prot, n);
        for (let k = 0; k < n; k++) base.installLeaves(words, w + 2 * k, level, flip1(pfn + k), 12, prot, 1);
        return n;
      },
      load(words, w, level, st) {
        const t = base.load(words, w, level, st);
        if (t === PT_ENTRY_OA && st.order === 12) st.pfn = flip1(st.pfn);
        return t;
      },
      leaf4k: (pfn, prot, out) => base.leaf4k!(flip1(pfn), prot, out),
    });
    const expected = [0, 0xffffe, 0x74a71445dea % 2 ** 40, 2 ** 40 - 2].flatMap((oa) =>
      Array(3).fill(`leaf4k(${oa + 1}) is not leaf4k(${oa}) + 4096`),
    );
    // the low bit of the pfn copied into bit 30 of the high word: the low word steps by 4096, the high one does not
    const PARITY = 1 << 30;
    const parity = with_({
      installLeaves(words, w, level, pfn, order, prot, n) {
        const k = base.installLeaves(words, w, level, pfn, order, prot, n);
        if (order === 12) for (let j = 0; j < n; j++) words[w + 2 * j + 1]! |= (pfn + j) % 2 === 1 ? PARITY : 0;
        return k;
      },
      load: (words, w, level, st) => base.load(Int32Array.of(words[w]!, words[w + 1]! & ~PARITY), 0, level, st),
      leaf4k(pfn, prot, out) {
        base.leaf4k!(pfn, prot, out);
        if (pfn % 2 === 1) out[1]! |= PARITY;
      },
    });
    expect(ptFormatSelfTest(parity)).toEqual(expected);
    // every oa tried but 0xfffff, whose next frame carries into the high word (not compared)
    expect(ptFormatSelfTest(flip)).toEqual(expected);
  });

  it('test_self_test_one_field_at_a_time: a wrong type alone, a wrong pfn alone, an order below the level, a wrong high word alone', () => {
    const base = ref();
    const load = (fix: (t: number, level: number, st: { pfn: number; order: number }) => number): PtFormat =>
      with_({
        load(words, w, level, st) {
          return fix(base.load(words, w, level, st), level, st);
        },
      });
    // a level-2 table pointer read back as a leaf, its pfn right
    expect(ptFormatSelfTest(load((t, level) => (t === PT_ENTRY_TABLE && level === 2 ? PT_ENTRY_OA : t)))).toEqual([
      'level 2: table pointer 68719476736 read back as type 2 pfn 68719476736',
      'level 2: table pointer 68719489081 read back as type 2 pfn 68719489081',
      'level 2: table pointer 1 read back as type 2 pfn 1',
    ]);
    // a 2 MiB leaf read back as a table, pfn and order right
    const asTable = ptFormatSelfTest(load((t, _l, st) => (t === PT_ENTRY_OA && st.order === 21 ? PT_ENTRY_TABLE : t)));
    expect(asTable.length).toBe(9);
    expect(asTable[0]).toBe('level 1 order 21 oa 0 replica 0: type 1 pfn 0 order 21');
    // a 1 GiB leaf one frame off, type and order right
    const off = ptFormatSelfTest(
      load((t, _l, st) => {
        if (t === PT_ENTRY_OA && st.order === 30) st.pfn += 1;
        return t;
      }),
    );
    expect(off.length).toBe(9);
    expect(off[0]).toBe('level 2 order 30 oa 0 replica 0: type 2 pfn 1 order 30');
    // an order smaller than the level's items
    const low = ptFormatSelfTest(with_({ leafOrders: (l) => (l === 1 ? [20, ...base.leafOrders(1)] : base.leafOrders(l)) }));
    expect(low).toContain('level 1: order 20 outside [item, table span)');
    // the 4K codec's high word alone wrong
    const hi = ptFormatSelfTest(
      with_({
        leaf4k(pfn, prot, out) {
          base.leaf4k!(pfn, prot, out);
          out[1] = out[1]! | (1 << 29);
        },
      }),
    );
    expect(hi.slice(0, 2)).toEqual(['leaf4k(0) differs from installLeaves', 'leaf4k(1) differs from installLeaves']);
  });

  it('test_self_test_largest_pfn: a codec that cannot hold the largest output address is caught at it', () => {
    const base = ref();
    const top = 2 ** 40 - 1;
    const f = with_({
      installLeaves: (words, w, level, pfn, order, prot, n) => base.installLeaves(words, w, level, pfn === top ? 0 : pfn, order, prot, n),
    });
    expect(ptFormatSelfTest(f).filter((m) => !m.startsWith('leaf4k'))).toEqual(
      Array(3).fill(`level 0 order 12 oa ${top} replica 0: type 2 pfn 0 order 12`),
    );
  });

  it('test_self_test_no_linear_codec: a format without leaf4k, or with 16 KiB level-0 items, skips the 4K codec checks', () => {
    const noLin = { ...ref() };
    delete (noLin as { leaf4k?: unknown }).leaf4k;
    expect(ptFormatSelfTest(noLin)).toEqual([]);
    const base = ref();
    const wrong = with_({ leaf4k: (pfn, prot, out) => base.leaf4k!(pfn + 5, prot, out) }); // would fail if checked
    const g16: PtFormat = { ...wrong, itemOrder: (l) => 14 + 9 * l, leafOrders: (l) => (l === 0 ? [14] : []) };
    expect(ptFormatSelfTest(g16).filter((m) => m.startsWith('leaf4k'))).toEqual([]);
  });
});
