// The iommupt IOMMU-API kunit cases (kunit_iommu_pt.h; spec §9.4 11-17) on the AMD driver, for each
// amdv1 kunit config. Own wording and inputs after the spec's summaries. The AMD-only cases
// (test_max_va, test_increase_level: the dynamic top) are here; the engine's cases (test_map_simple,
// test_map_table_to_oa, test_unmap_split, test_random_map, test_pgsize_boundary, test_mixed and the
// policy's conflict rules) come from @x/iommu-core/testing and run at every mode the config reaches,
// under each page-table policy an AMD profile uses.
import { describe, expect, it } from 'vitest';
import { createSim, type IommuError, iommuIovaToPhys, iommuMap } from '@x/iommu-core';
import type { PtPolicy } from '@x/iommu-core/internals';
import { ptEngineCases, ptTestDomain, ptTestDomainFree, type PtEngineTarget } from '@x/iommu-core/testing';
import { AMD_IOMMU_PGSIZES, AMD_PROFILE_NAMES, amdProfile, createAmdIommu, type AmdDomain, type AmdProfileName } from '../src/index.js';
import { createAmdv1Format, ptPolicyOf } from '../src/internals.js';
import { amdv1Cfgs } from '../src/testing.js';
import { RW, setup } from './helpers.js';

// Under Stryker (vitest.stryker.config.ts) the instrumented engine maps the 8 GiB window in over a
// minute, and every mutant of the driver reruns each case: the mutation run caps the window and
// runs the engine cases on the driver only (PT_MATRIX=small: the engine alone at each mode and under
// every policy combination checks @x/iommu-core's engine, whose mutants are that package's run);
// CI and test:deep run all of it.
const WINDOW_MAX = Number(process.env.PT_WINDOW_MAX ?? 64);
const SMALL = process.env.PT_MATRIX === 'small';
/** The engine cases' own sizes under PT_MATRIX=small: splits up to 2 MiB leaves, 100 random maps. */
const CASE_SIZES = SMALL ? { splitMaxOrder: 21, randomMaps: 100 } : {};

describe.each(amdv1Cfgs)('amdv1 iommu_pt cfg=%o', (cfg) => {
  const mk = () => setup({ profile: 'mainline', vaBits: cfg.vaBits }, false);
  const maxPage = 2 ** (cfg.vaBits - 12) - 1;

  it('test_max_va', () => {
    const f = mk();
    expect(f.dom.geometry.apertureEnd).toBe(maxPage);
    expect(f.amd.mode(f.dom)).toBe(cfg.startLevel + 1);
    iommuMap(f.dom, maxPage, 1, 1, RW); // the last page maps
    expect(iommuIovaToPhys(f.dom, maxPage)).toBe(1);
    if (cfg.vaBits < 64) {
      const e = (() => {
        try {
          iommuMap(f.dom, maxPage + 1, 1, 1, RW);
        } catch (x) {
          return x as IommuError;
        }
        return null;
      })();
      expect([e?.code, e?.errno]).toEqual(['ERANGE', -34]);
    } else expect(f.amd.mode(f.dom)).toBe(6);
  });

  it('test_increase_level', () => {
    const f = mk();
    let mode = f.amd.mode(f.dom);
    for (;;) {
      const next = f.dom.pt.span; // first page past the current top
      if (next > maxPage) break;
      iommuMap(f.dom, next, 7, 1, RW);
      expect(f.amd.mode(f.dom)).toBe(mode + 1);
      mode++;
    }
    expect(mode).toBe(cfg.vaBits === 64 ? 6 : 3);
  });

  it('test_unmap_split_sizes', () => {
    // the engine suite's test_unmap_split pairs every size up to 1 TiB the VA holds twice
    const f = mk();
    const sizes = f.dom.orders.filter((o) => o <= 40 && 2 * 2 ** (o - 12) - 1 <= maxPage);
    expect((sizes.length * (sizes.length - 1)) / 2).toBe(cfg.vaBits === 64 ? 378 : 190); // C(28,2) 4K..1T w/o 512G; C(20,2) 4K..2G
  });
});

/** The distinct page-table policies of the AMD profiles, each with the first profile that has it. */
function amdPolicies(): [AmdProfileName, PtPolicy][] {
  const seen = new Map<string, [AmdProfileName, PtPolicy]>();
  for (const name of AMD_PROFILE_NAMES) {
    const p = ptPolicyOf(amdProfile(name).quirks);
    const key = JSON.stringify(p);
    if (!seen.has(key)) seen.set(key, [name, p]);
  }
  return [...seen.values()];
}

describe('amd page-table policies', () => {
  it('test_amd_policies: the 2018 driver, io-pgtable and iommupt rules', () => {
    // map errors as the README states them (before v5.0 EBUSY and ENOMEM for a larger leaf above,
    // v5.0 .. v6.18 EBUSY with emptied tables replaced, iommupt EADDRINUSE); io-pgtable before iommupt
    // counts holes, removes a whole leaf an unmap starts in and keeps emptied tables (docs/spec.md timeline: amd-iommupt)
    expect(amdPolicies()).toEqual([
      ['v3.19', { overmap: -16, leafAbove: -12, replaceEmptyTables: false, holes: 'count', startInLeaf: 'whole', freeTables: false }],
      ['v5.0', { overmap: -16, leafAbove: -16, replaceEmptyTables: true, holes: 'count', startInLeaf: 'whole', freeTables: false }],
      ['v6.19', { overmap: -98, leafAbove: -98, replaceEmptyTables: true, holes: 'stop', startInLeaf: 'zero', freeTables: true }],
    ]);
  });
});

describe.each(amdv1Cfgs)('engine cases on amdv1 cfg=%o', (cfg) => {
  const policies = amdPolicies();
  const format = createAmdv1Format();
  const vaPages = 2 ** (cfg.vaBits - 12);
  for (const [k, [profile, policy]] of policies.entries()) {
    // the driver itself, from its start at mode 3 (its top grows as the cases map higher); the
    // kunit's window (8 GiB; 1 GiB in a 32-bit VA) for iommupt, 128 MiB for the older policies
    const driver: PtEngineTarget = {
      format,
      policy,
      windowOrder: Math.min(WINDOW_MAX, k < policies.length - 1 ? 27 : cfg.vaBits === 32 ? 30 : 33),
      ...CASE_SIZES,
      domain() {
        const sim = createSim({ memory: 1n << 30n, seed: 1 });
        const amd = createAmdIommu(sim, { profile, vaBits: cfg.vaBits });
        const dom = amd.domainAlloc() as AmdDomain;
        return { sim, dom, maxPage: dom.geometry.apertureEnd, free: () => amd.domainFree(dom) };
      },
    };
    describe(`${profile} driver`, () => {
      for (const c of ptEngineCases(driver)) it(c.name, () => c.run(), 60_000);
    });
    // the engine alone with the amdv1 codec and its root at each mode the VA reaches (fixed top, 16 MiB window)
    for (let mode = cfg.startLevel + 1; mode <= 6; mode++) {
      const top = mode - 1,
        span = 2 ** (format.itemOrder(top) + format.numItemsLg2(top) - 12);
      if (mode > cfg.startLevel + 1 && span / 512 >= vaPages) break;
      if (SMALL) break;
      const engine: PtEngineTarget = {
        format,
        policy,
        windowOrder: 24,
        ...CASE_SIZES,
        domain() {
          const sim = createSim({ memory: 1n << 30n, seed: 1 });
          const dom = ptTestDomain(sim, format, policy, AMD_IOMMU_PGSIZES, { topLevel: top, apertureEnd: Math.min(span, vaPages) - 1 });
          return { sim, dom, maxPage: dom.geometry.apertureEnd, free: () => ptTestDomainFree(dom) };
        },
      };
      describe(`${profile} policy, engine at mode ${mode}`, () => {
        for (const c of ptEngineCases(engine)) it(c.name, () => c.run(), 60_000);
      });
    }
  }
});

/**
 * Every combination of the policy's four rules (errno pairs taking turns), as @x/iommu-core's own
 * engine test runs them on its reference format: here on amdv1, its root at mode 3, a 2 MiB window.
 */
function everyPolicy(): PtPolicy[] {
  const out: PtPolicy[] = [];
  const errnos: [number, number][] = [
    [-16, -16],
    [-16, -12],
    [-98, -98],
  ];
  for (const replaceEmptyTables of [true, false]) {
    for (const holes of ['stop', 'count'] as const) {
      for (const startInLeaf of ['whole', 'zero'] as const) {
        for (const freeTables of [true, false]) {
          const [overmap, leafAbove] = errnos[out.length % errnos.length]!;
          out.push({ overmap, leafAbove, replaceEmptyTables, holes, startInLeaf, freeTables });
        }
      }
    }
  }
  return out;
}

const policies = SMALL ? [] : everyPolicy();

describe.each(policies.map((p) => [JSON.stringify(p), p] as const))('engine cases on amdv1 mode 3, policy %s', (_name, policy) => {
  const format = createAmdv1Format();
  const target: PtEngineTarget = {
    format,
    policy,
    windowOrder: 21,
    ...CASE_SIZES,
    domain() {
      const sim = createSim({ memory: 1n << 30n, seed: 1 });
      const dom = ptTestDomain(sim, format, policy, AMD_IOMMU_PGSIZES, { topLevel: 2 });
      return { sim, dom, maxPage: dom.geometry.apertureEnd, free: () => ptTestDomainFree(dom) };
    },
  };
  for (const c of ptEngineCases(target)) it(c.name, () => c.run());
});
