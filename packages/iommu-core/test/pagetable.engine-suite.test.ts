// The engine's kunit cases (@x/iommu-core/testing ptEngineCases) on the engine alone: the reference
// format at each page-size set and every conflict/hole policy the engine knows, on bare pt-iommu
// domains, plus the reference driver's own domains. @x/amd-iommu runs the same cases on amdv1.
import { describe, it } from 'vitest';
import { createReferenceDriver, createSim, ERRNO, SZ_1G, SZ_2M, SZ_4K } from '../src/index.js';
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
