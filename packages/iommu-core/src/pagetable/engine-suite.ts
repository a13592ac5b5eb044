// The engine's own kunit cases (after kunit_iommu_pt.h: test_map_simple, test_map_table_to_oa,
// test_unmap_split, test_random_map, test_pgsize_boundary, test_mixed), generic over the format and
// the conflict/hole policy, plus the policy's own rules and the format's codec self-test. Every expected value comes from the format's
// leaf sizes or the policy's fields, never from the engine. No test framework: each case throws an
// Error on its first failure, so any runner can register them (vitest: it(c.name, c.run)).

import { errnoName, isIommuError } from '../errno.js';
import { iommuIovaToPhys, iommuMap, iommuUnmap } from '../api.js';
import { domainSetPgsizeBitmap } from '../ops.js';
import type { PtIommuDomain } from '../pt-iommu/iommu.js';
import type { Sim } from '../sim.js';
import { Prng } from '../sim/prng.js';
import { ptFormatSelfTest } from './conformance.js';
import type { PtFormat } from './format.js';
import type { PtPolicy } from './policy.js';

/** What the suite runs on: a format, the policy its driver uses, and a factory of fresh domains. */
export interface PtEngineTarget {
  readonly format: PtFormat;
  readonly policy: PtPolicy;
  /**
   * A fresh sim and paging domain whose page table uses `format` and `policy`; `maxPage` is the last
   * IOVA page it may map; `free` frees the domain (its driver's domainFree).
   */
  domain(): { sim: Sim; dom: PtIommuDomain; maxPage: number; free(): void };
  /** log2 bytes of test_map_table_to_oa's window (default 30: 2^18 4 KiB leaves at the smallest size). */
  readonly windowOrder?: number;
  /** Largest leaf order test_unmap_split pairs (default 40: 1 TiB; larger sizes are test_map_simple's). */
  readonly splitMaxOrder?: number;
  /** Maps test_random_map makes (default 1000, kunit's count). */
  readonly randomMaps?: number;
}

/** One case: run() throws on the first failure. */
export interface PtEngineCase {
  readonly name: string;
  run(): void;
}

const RW = 3;
/** kunit's test output address, as a 4 KiB frame number below 2^40. */
const TEST_OA_PFN = Number((0x74a71445deadbeefn & ((1n << 52n) - 1n)) >> 12n);

function fail(what: string, got: unknown, want: unknown): never {
  throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
function eq(got: unknown, want: unknown, what: string): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) fail(what, got, want);
}
const alignDown = (x: number, a: number): number => x - (x % a);
const pages = (order: number): number => 2 ** (order - 12);

/** The errno code a map throws, or 'ok'. */
function mapCode(dom: PtIommuDomain, iova: number, pfn: number, n: number): string {
  try {
    iommuMap(dom, iova, pfn, n, RW);
    return 'ok';
  } catch (e) {
    if (!isIommuError(e)) throw e;
    return e.code;
  }
}

/** Leaf orders in iova order. */
function leafOrders(dom: PtIommuDomain): number[] {
  const out: [number, number][] = [];
  dom.pt.forEachLeaf((iova, _pfn, order) => out.push([iova, order]));
  return out.sort((a, b) => a[0] - b[0]).map((x) => x[1]);
}
const leafCount = (dom: PtIommuDomain): number => leafOrders(dom).length;

/** The 0-based level whose leaves have `order` in the format, -1 when none has. */
function levelOf(fmt: PtFormat, order: number): number {
  for (let l = 0; l <= fmt.maxLevel; l++) if (fmt.leafOrders(l).includes(order)) return l;
  return -1;
}

/** Orders the format holds at some level and the domain offers. */
function sizesOf(fmt: PtFormat, dom: PtIommuDomain): number[] {
  const out: number[] = [];
  for (let o = 12; o < 64; o++) if (((dom.pgsizeBitmap >> BigInt(o)) & 1n) !== 0n && levelOf(fmt, o) >= 0) out.push(o);
  return out;
}

function bitmap(orders: readonly number[]): bigint {
  let b = 0n;
  for (const o of orders) b |= 1n << BigInt(o);
  return b;
}

/** The engine cases for one target. */
export function ptEngineCases(t: PtEngineTarget): PtEngineCase[] {
  const { format: fmt, policy } = t;
  const fresh = (): ReturnType<PtEngineTarget['domain']> => {
    const d = t.domain();
    // the factory must hand out what it claims: the suite's expectations come from these two
    if (d.dom.pt.fmt.maxLevel !== fmt.maxLevel) fail("the domain's format maxLevel", d.dom.pt.fmt.maxLevel, fmt.maxLevel);
    eq(d.dom.pt.policy, policy, "the domain's policy");
    return d;
  };
  const overmap = errnoName(policy.overmap),
    leafAbove = errnoName(policy.leafAbove);

  const cases: PtEngineCase[] = [
    {
      name: 'test_format_self_test',
      run() {
        eq(ptFormatSelfTest(fmt), [], "the codec self-test's failures");
      },
    },
    {
      name: 'test_map_simple',
      run() {
        const { dom, maxPage } = fresh();
        let va = 0;
        const placed: [number, number][] = [];
        for (const o of sizesOf(fmt, dom)) {
          const lp = pages(o);
          va = alignDown(va + 256 + lp - 1, lp);
          if (va + lp - 1 > maxPage) break;
          const pa = alignDown(TEST_OA_PFN, lp);
          iommuMap(dom, va, pa, lp, RW);
          eq(dom.pt.entryOf(va)?.level, levelOf(fmt, o), `level of the 2^${o} leaf`);
          for (const off of [0, 1, lp - 1, lp / 2]) {
            const o2 = Math.min(off, lp - 1);
            eq(iommuIovaToPhys(dom, va + o2), pa + o2, `iova_to_phys(2^${o} leaf + ${o2})`);
          }
          placed.push([va, lp]);
          va += lp;
        }
        if (placed.length === 0) fail('sizes placed', 0, '>= 1');
        eq(leafCount(dom), placed.length, 'leaves after the maps');
        for (const [v, lp] of placed) eq(iommuUnmap(dom, v, lp), lp, `unmap(${v}, ${lp})`);
        eq(leafCount(dom), 0, 'leaves after the unmaps');
      },
    },
    {
      name: 'test_map_table_to_oa',
      run() {
        let { dom, maxPage } = fresh();
        const all = sizesOf(fmt, dom);
        let max = Math.min(t.windowOrder ?? 30, all[all.length - 1]!);
        while (pages(max) - 1 > maxPage) max--;
        const win = pages(max),
          base = 2 * win - 1 <= maxPage ? win : 0;
        const pa = alignDown(TEST_OA_PFN, win);
        const saved = dom.pgsizeBitmap;
        for (const o of all.filter((x) => x <= max)) {
          const lp = pages(o);
          // the smaller size's emptied tables would refuse this one (test_policy_conflicts checks that)
          if (!policy.replaceEmptyTables && o !== all[0]) dom = fresh().dom;
          domainSetPgsizeBitmap(dom, 1n << BigInt(o)); // one size at a time, as the kunit maps
          iommuMap(dom, base, pa, win, RW);
          eq(leafCount(dom), win / lp, `leaves of a 2^${max} window in 2^${o} pages`);
          for (const off of [0, lp - 1, win - 1, win / 2])
            eq(iommuIovaToPhys(dom, base + off), pa + off, `iova_to_phys(+${off}) at 2^${o}`);
          if (o === max) eq(iommuUnmap(dom, base, win), win, 'unmap of the window');
          else {
            eq(iommuUnmap(dom, base, win / 2), win / 2, 'unmap of the first half');
            if (lp >= 512) for (let v = base + win / 2; v < base + win; v += lp) eq(iommuUnmap(dom, v, lp), lp, `unmap(${v}, ${lp})`);
            else eq(iommuUnmap(dom, base + win / 2, win / 2), win / 2, 'unmap of the second half');
          }
          eq(leafCount(dom), 0, `leaves after 2^${o}`);
        }
        domainSetPgsizeBitmap(dom, saved);
      },
    },
    {
      name: 'test_unmap_split',
      run() {
        let { dom, maxPage } = fresh();
        // Without replacement the pairs run one domain each, one leaf up from 0: a table that grew
        // its top keeps the old root at index 0, which refuses a leaf there (test_policy_conflicts).
        const replace = policy.replaceEmptyTables,
          room = replace ? 2 : 3;
        // up to 1 TiB: larger sizes are test_map_simple's
        const top = t.splitMaxOrder ?? 40;
        const sizes = sizesOf(fmt, dom).filter((o) => o <= top && room * pages(o) - 1 <= maxPage);
        for (let a = 0; a < sizes.length; a++) {
          for (let b = a + 1; b < sizes.length; b++) {
            if (!replace && (a > 0 || b > 1)) dom = fresh().dom;
            const small = pages(sizes[a]!),
              next = pages(sizes[b]!),
              at = replace ? 0 : next;
            iommuMap(dom, at, 0, next, RW);
            eq(iommuUnmap(dom, at, small), next, `unmap(${at}, 2^${sizes[a]}) of a 2^${sizes[b]} leaf`);
            iommuMap(dom, at, 0, next, RW);
            iommuMap(dom, at + next, next, next, RW);
            eq(iommuUnmap(dom, at, small), next, `unmap(${at}, 2^${sizes[a]}) beside a neighbour`);
            eq(iommuUnmap(dom, at + next, next), next, 'unmap of the neighbour');
            eq(leafCount(dom), 0, 'leaves after the pair');
          }
        }
      },
    },
    {
      name: 'test_random_map',
      run() {
        const { sim, dom, free } = fresh();
        const rng = new Prng(7);
        const lo = 0x10000,
          span = 2 ** 18;
        const live: [number, number][] = [];
        // a policy that does not replace emptied tables refuses a larger page over one an unmap left
        // behind (it frees only tables whose whole span it cleared): such a retry fails with overmap,
        // leaves nothing mapped, and the range is dropped
        const keepsEmpty = !policy.replaceEmptyTables;
        let retried = 0;
        const maps = t.randomMaps ?? 1000;
        for (let i = 0; i < maps; i++) {
          let s = lo + Math.floor(rng.next() * span),
            e = lo + Math.floor(rng.next() * span);
          if (s > e) [s, e] = [e, s];
          if (s === e) e++;
          const n = e - s;
          const first = mapCode(dom, s, s, n);
          if (first !== 'ok') {
            if (first !== overmap && first !== leafAbove) fail(`map(${s}, ${n}) over live ranges`, first, [overmap, leafAbove]);
            for (let k = live.length - 1; k >= 0; k--) {
              const [ls, ln] = live[k]!;
              if (ls < e && s < ls + ln) {
                eq(iommuIovaToPhys(dom, ls), ls, `iova_to_phys(${ls})`);
                eq(iommuIovaToPhys(dom, ls + ln - 1), ls + ln - 1, `iova_to_phys(${ls + ln - 1})`);
                eq(iommuUnmap(dom, ls, ln), ln, `unmap(${ls}, ${ln})`);
                live.splice(k, 1);
              }
            }
            retried++;
            const again = mapCode(dom, s, s, n);
            if (again !== 'ok') {
              if (!keepsEmpty) fail(`retried map(${s}, ${n}) once the overlap is gone`, again, 'ok');
              if (again !== overmap) fail(`retried map(${s}, ${n}) over emptied tables`, again, overmap);
              eq([iommuIovaToPhys(dom, s), iommuIovaToPhys(dom, e - 1)], [-1, -1], `map(${s}, ${n}) unwound`);
              continue;
            }
          }
          eq(iommuIovaToPhys(dom, s), s, `iova_to_phys(${s})`);
          eq(iommuIovaToPhys(dom, e - 1), e - 1, `iova_to_phys(${e - 1})`);
          live.push([s, n]);
        }
        if (retried === 0) fail('maps that met a live range', 0, '> 0');
        for (const [s, n] of live) eq(iommuUnmap(dom, s, n), n, `unmap(${s}, ${n})`);
        eq(leafCount(dom), 0, 'leaves after the teardown');
        free();
        eq(sim.mem.usage().tables, 0, 'table pages after the domain is freed');
      },
    },
    {
      name: 'test_pgsize_boundary',
      run() {
        const { dom } = fresh();
        // VA 0xfef80000 + 128 KiB -> PA 0x208b95d000: the PA is only 4 KiB aligned, so 32 x 4 KiB
        iommuMap(dom, 0xfef80, 0x208b95d, 32, RW);
        eq(leafOrders(dom), new Array(32).fill(12), 'leaf sizes');
        eq(iommuIovaToPhys(dom, 0xfef9f), 0x208b95d + 31, 'iova_to_phys(0xfef9f)');
        eq(iommuUnmap(dom, 0xfef80, 32), 32, 'unmap');
      },
    },
    {
      name: 'test_mixed',
      run() {
        const { dom } = fresh();
        // with exactly 4K, 2M and 1G offered, a range from 3 pages below a 2 MiB boundary below 1 GiB
        // to 5 pages past the 2 MiB above it is 3 x 4K, 2M, 1G, 2M, 5 x 4K
        domainSetPgsizeBitmap(dom, bitmap([12, 21, 30]));
        const start = 2 ** 18 - 512 - 3,
          n = 3 + 512 + 2 ** 18 + 512 + 5;
        const pa = start + 2 ** 18; // congruent modulo 1 GiB: every size can be used
        iommuMap(dom, start, pa, n, RW);
        eq(leafOrders(dom), [12, 12, 12, 21, 30, 21, 12, 12, 12, 12, 12], 'leaf sizes');
        for (const off of [0, 2, 3, 514, 515, 2 ** 18 + 514, 2 ** 18 + 515, n - 6, n - 5, n - 1]) {
          eq(iommuIovaToPhys(dom, start + off), pa + off, `iova_to_phys(start + ${off})`);
        }
        eq(iommuUnmap(dom, start, n), n, 'unmap of the range');
        eq(leafCount(dom), 0, 'leaves after the unmap');
      },
    },
    {
      name: 'test_policy_conflicts',
      run() {
        const { dom } = fresh();
        const only = (orders: number[]): void => domainSetPgsizeBitmap(dom, bitmap(orders));
        // a present leaf at the target level
        only([12]);
        iommuMap(dom, 512, 512, 1, RW);
        eq(mapCode(dom, 512, 600, 1), overmap, 'map over a present 4 KiB leaf');
        // a 2 MiB leaf where a 4 KiB map must descend
        only([12, 21]);
        iommuMap(dom, 1024, 1024, 512, RW);
        eq(mapCode(dom, 1024 + 5, 7, 1), leafAbove, 'map of 4 KiB inside a 2 MiB leaf');
        // an unmap starting inside the 2 MiB leaf
        if (policy.startInLeaf === 'whole') {
          eq(iommuUnmap(dom, 1024 + 5, 1), 512, 'unmap starting inside a 2 MiB leaf');
          eq(iommuIovaToPhys(dom, 1024), -1, 'the leaf after it');
        } else {
          eq(iommuUnmap(dom, 1024 + 5, 1), 0, 'unmap starting inside a 2 MiB leaf');
          eq(iommuIovaToPhys(dom, 1024 + 7), 1024 + 7, 'the leaf after it');
          eq(iommuUnmap(dom, 1024, 512), 512, 'unmap of the whole leaf');
        }
        // an unmap meeting a hole: 4 KiB pages 2048..2051 and 2053..2055, 2052 empty
        only([12]);
        iommuMap(dom, 2048, 2048, 4, RW);
        iommuMap(dom, 2053, 2053, 3, RW);
        if (policy.holes === 'stop') {
          eq(iommuUnmap(dom, 2048, 8), 4, 'unmap over a hole');
          eq(iommuIovaToPhys(dom, 2053), 2053, 'the page past the hole');
          eq(iommuUnmap(dom, 2053, 3), 3, 'unmap past the hole');
        } else {
          eq(iommuUnmap(dom, 2048, 8), 8, 'unmap over a hole');
          eq(iommuIovaToPhys(dom, 2053), -1, 'the page past the hole');
        }
        // a 2 MiB map where 512 4 KiB pages were mapped and unmapped
        iommuMap(dom, 4096, 4096, 512, RW);
        eq(iommuUnmap(dom, 4096, 512), 512, 'unmap of 512 4 KiB pages');
        only([12, 21]);
        const want = policy.freeTables || policy.replaceEmptyTables ? 'ok' : overmap;
        eq(mapCode(dom, 4096, 4096, 512), want, '2 MiB map over an emptied table');
        if (want === 'ok') eq(leafOrders(dom), [12, 21], 'leaves: the first 4 KiB page and the 2 MiB one');
      },
    },
  ];
  return cases;
}
