// The engine's kunit cases (@x/iommu-core/testing ptEngineCases) on the engine alone: the reference
// format at each page-size set and every conflict/hole policy the engine knows, on bare pt-iommu
// domains, plus the reference driver's own domains. @x/amd-iommu runs the same cases on amdv1.
import { describe, expect, it } from 'vitest';
import { createReferenceDriver, createSim, ERRNO, iommuMap, SZ_1G, SZ_2M, SZ_4K } from '../src/index.js';
import { RW } from './harness.js';
import { REF_POLICY, createRefFormat, type PtFormat, type PtPolicy } from '../src/internals.js';
import { ptEngineCases, ptTestDomain, ptTestDomainFree, type PtEngineTarget } from '../src/testing.js';

const FINE = ((1n << 39n) - 1n) & ~0xfffn; // every size 4 KiB .. 256 GiB
const BITMAPS: [string, bigint][] = [
  ['4K|2M|1G', SZ_4K | SZ_2M | SZ_1G],
  ['4K..256G', FINE],
];

/**
 * Every combination of the policy's four rules; the errno pairs the drivers use (VT-d and io-pgtable
 * EBUSY, AMD 2018 EBUSY/ENOMEM, iommupt EADDRINUSE) take turns, so each pair meets each rule.
 */
function everyPolicy(): [string, PtPolicy][] {
  const out: [string, PtPolicy][] = [];
  const errnos: [number, number][] = [
    [-ERRNO.EBUSY, -ERRNO.EBUSY],
    [-ERRNO.EBUSY, -ERRNO.ENOMEM],
    [-ERRNO.EADDRINUSE, -ERRNO.EADDRINUSE],
  ];
  for (const replaceEmptyTables of [true, false]) {
    for (const holes of ['stop', 'count'] as const) {
      for (const startInLeaf of ['whole', 'zero'] as const) {
        for (const freeTables of [true, false]) {
          const [overmap, leafAbove] = errnos[out.length % errnos.length]!;
          const p: PtPolicy = { overmap, leafAbove, replaceEmptyTables, holes, startInLeaf, freeTables };
          out.push([JSON.stringify(p), p]);
        }
      }
    }
  }
  return out;
}

// 16 policies x 2 page-size sets: test_map_table_to_oa at a 16 MiB window keeps them quick
function bare(format: PtFormat, policy: PtPolicy, bm: bigint): PtEngineTarget {
  return {
    format,
    policy,
    windowOrder: 24,
    domain() {
      const sim = createSim({ memory: 1n << 30n, seed: 1 });
      const dom = ptTestDomain(sim, format, policy, bm);
      return { sim, dom, maxPage: dom.geometry.apertureEnd, free: () => ptTestDomainFree(dom) };
    },
  };
}

for (const [bmName, bm] of BITMAPS) {
  const format = createRefFormat(bm);
  describe.each(everyPolicy())(`engine, reference format ${bmName}, policy %s`, (_name, policy) => {
    for (const c of ptEngineCases(bare(format, policy, bm))) it(c.name, () => c.run());
  });

  describe(`engine, reference driver ${bmName}`, () => {
    for (const replaceEmptyTables of [true, false]) {
      const policy: PtPolicy = replaceEmptyTables ? REF_POLICY : { ...REF_POLICY, replaceEmptyTables: false };
      const target: PtEngineTarget = {
        format,
        policy,
        domain() {
          const sim = createSim({ memory: 1n << 30n, seed: 1 });
          const drv = createReferenceDriver(sim, { pgsizeBitmap: bm, replaceEmptyTables });
          const dom = drv.domainAlloc() as ReturnType<PtEngineTarget['domain']>['dom'];
          return { sim, dom, maxPage: dom.geometry.apertureEnd, free: () => drv.domainFree(dom) };
        },
      };
      for (const c of ptEngineCases(target)) it(`${c.name} replaceEmptyTables=${replaceEmptyTables}`, () => c.run());
    }
  });
}

// PtFormat.leaf4k is optional: without it the engine maps a 4 KiB run leaf by leaf through
// installLeaves (mapLeaves' generic loop) instead of the fused run (mapRun4k), and must build the
// same table with the same counts.
describe('engine, reference format without its linear 4K codec', () => {
  const bm = SZ_4K | SZ_2M | SZ_1G;
  const { leaf4k: _fused, ...generic } = createRefFormat(bm);
  for (const c of ptEngineCases(bare(generic, REF_POLICY, bm))) it(c.name, () => c.run());

  it('test_no_leaf4k_same_table: runs over a table edge, over a reach chunk and into a present leaf give the table and counts of the fused run', () => {
    const run = (format: PtFormat) => {
      const sim = createSim({ memory: 1n << 30n, seed: 1 });
      const dom = ptTestDomain(sim, format, REF_POLICY, bm);
      const codes: string[] = [];
      const calls: [number, number, number][] = [
        [500, 70_000, 300], // iova 500..799 crosses the level-0 table at 512; frames cross nothing
        [1, (1 << 16) - 10, 40], // frames over a reach chunk's edge
        [2000, 9000, 20], // then a run that meets it (2010 is mapped below first)
        [5000, 123, 1],
      ];
      iommuMap(dom, 2010, 7, 1, RW);
      for (const [iova, pfn, n] of calls) {
        try {
          iommuMap(dom, iova, pfn, n, RW);
          codes.push('ok');
        } catch (e) {
          codes.push((e as { code: string }).code);
        }
      }
      const leaves: number[][] = [];
      dom.pt.forEachLeaf((iova, pfn, order) => leaves.push([iova, pfn, order]));
      leaves.sort((a, b) => a[0]! - b[0]!);
      const reach = [69_999, 70_000, 70_299, 70_300, (1 << 16) - 10, 1 << 16, 9000, 9009, 9010, 7].map((p) => sim.mem.reach4k.get(p));
      return { codes, leaves, reach, writes: sim.counters.pteWrites, tables: dom.pt.tables };
    };
    const fused = run(createRefFormat(bm));
    const slow = run(generic);
    expect(slow).toEqual(fused);
    // and what both must be, worked out from the calls: the third stops at 2010, after 10 leaves,
    // with the reference policy's overmap errno, and iommu_map unmaps those 10 before it returns
    expect(REF_POLICY.overmap).toBe(-ERRNO.EBUSY);
    expect(fused.codes).toEqual(['ok', 'ok', 'EBUSY', 'ok']);
    expect(fused.leaves.length).toBe(1 + 300 + 40 + 1);
    expect(fused.reach).toEqual([0, 1, 1, 0, 1, 1, 0, 0, 0, 1]);
    // the root, one table at each of the two levels below it, and level-0 tables for iova pages
    // 0-511, 512-1023, 1536-2047 and 4608-5119: six table entries written, plus one per leaf
    expect(fused.tables).toBe(7);
    expect(fused.writes).toBe(6 + 1 + 300 + 40 + 10 + 1);
  });
});
