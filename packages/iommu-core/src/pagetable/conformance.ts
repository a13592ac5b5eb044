// A format's self-test, after kunit_generic_pt.h (test_table_radix, test_table_ptr,
// test_entry_possible_sizes, test_entry_oa, test_attr_from_entry): any PtFormat can be checked
// with it. Returns a list of failures (empty when the format is consistent), so test suites in any
// package can assert it.

import { PT_ENTRY_EMPTY, PT_ENTRY_OA, PT_ENTRY_TABLE, PtState, clearEntries, type PtFormat } from './format.js';
import { PtGeometry } from './geometry.js';

const READ = 1,
  WRITE = 2;

/** Checks a format's codec level by level; maxPfnBits bounds the output addresses tried. */
export function ptFormatSelfTest(fmt: PtFormat, maxPfnBits = 40): string[] {
  const bad: string[] = [];
  const words = new Int32Array(1024);
  const st = new PtState();
  const maxPfn = 2 ** maxPfnBits - 1;
  // test_table_radix: the levels' index bits join without gap or overlap (the engine's own check)
  try {
    new PtGeometry(fmt);
  } catch (e) {
    bad.push((e as Error).message);
  }
  for (let level = 0; level <= fmt.maxLevel; level++) {
    const item = fmt.itemOrder(level),
      span = item + fmt.numItemsLg2(level);
    // test_table_ptr: tables can be installed at every level above 0
    if (level > 0) {
      for (const tp of [2 ** 36, 2 ** 36 + 12345, 1]) {
        fmt.installTable(words, 6, level, tp);
        const t = fmt.load(words, 6, level, st);
        if (t !== PT_ENTRY_TABLE || st.pfn !== tp) bad.push(`level ${level}: table pointer ${tp} read back as type ${t} pfn ${st.pfn}`);
        clearEntries(words, 6, 1);
        if (fmt.load(words, 6, level, st) !== PT_ENTRY_EMPTY) bad.push(`level ${level}: cleared table entry not empty`);
      }
    }
    // test_entry_possible_sizes
    const orders = fmt.leafOrders(level);
    for (const o of orders) {
      if (o < item || o >= span) bad.push(`level ${level}: order ${o} outside [item, table span)`);
    }
    // test_entry_oa + test_attr_from_entry
    for (const o of orders) {
      const rep = 2 ** (o - item);
      const lp = 2 ** (o - 12);
      const align = (p: number): number => p - (p % lp);
      for (const oa of [0, align(0x74a71445deadb % (maxPfn + 1)), align(maxPfn)]) {
        for (const prot of [READ, WRITE, READ | WRITE]) {
          words.fill(0);
          const n = fmt.installLeaves(words, 0, level, oa, o, prot, 1);
          if (n !== rep) bad.push(`level ${level} order ${o}: wrote ${n} entries, expected ${rep}`);
          for (let r = 0; r < rep; r++) {
            const t = fmt.load(words, 2 * r, level, st);
            if (t !== PT_ENTRY_OA || st.pfn !== oa || st.order !== o) {
              bad.push(`level ${level} order ${o} oa ${oa} replica ${r}: type ${t} pfn ${st.pfn} order ${st.order}`);
              break;
            }
            if ((fmt.leafProt(words, 2 * r) & (READ | WRITE)) !== prot) bad.push(`level ${level} order ${o}: prot ${prot} not kept`);
          }
          if ((words[2 * rep]! | words[2 * rep + 1]!) !== 0) bad.push(`level ${level} order ${o}: wrote past its replicas`);
        }
      }
    }
  }
  // the linear 4K codec (format.ts leaf4k): the same words as installLeaves, +4096 per frame
  if (fmt.leaf4k !== undefined && fmt.itemOrder(0) === 12) {
    const e = new Int32Array(2),
      f = new Int32Array(2);
    for (const oa of [0, 0xffffe, 0xfffff, 0x74a71445dea % (maxPfn + 1), maxPfn - 1]) {
      for (const prot of [READ, WRITE, READ | WRITE]) {
        words.fill(0);
        fmt.installLeaves(words, 0, 0, oa, 12, prot, 2);
        fmt.leaf4k(oa, prot, e);
        fmt.leaf4k(oa + 1, prot, f);
        if (e[0] !== words[0] || e[1] !== words[1]) bad.push(`leaf4k(${oa}) differs from installLeaves`);
        if (f[0] !== words[2] || f[1] !== words[3]) bad.push(`leaf4k(${oa + 1}) differs from installLeaves`);
        const carry = (oa + 1) % 0x100000 === 0;
        if (!carry && (f[0] !== ((e[0]! + 4096) | 0) || f[1] !== e[1])) bad.push(`leaf4k(${oa + 1}) is not leaf4k(${oa}) + 4096`);
      }
    }
  }
  return bad;
}
