// The engine cases (ptEngineCases) must fail on an engine that is wrong: each target here wraps a
// sound bare pt-iommu domain and breaks one thing (an off-by-one translation, an unmap that over- or
// under-reports, a wrong errno, a free that leaks, a factory that hands out another format or
// policy), and the cases that can see the defect must fail with a message naming the check.
import { describe, expect, it } from 'vitest';
import { SZ_1G, SZ_2M, SZ_4K, createSim, type IommuOps } from '../src/index.js';
import { REF_POLICY, createRefFormat, type PtFormat, type PtPolicy } from '../src/internals.js';
import { ptEngineCases, ptTestDomain, ptTestDomainFree, type PtEngineTarget } from '../src/testing.js';

const BM = SZ_4K | SZ_2M | SZ_1G;
const CASES = [
  'test_format_self_test',
  'test_map_simple',
  'test_map_table_to_oa',
  'test_unmap_split',
  'test_random_map',
  'test_pgsize_boundary',
  'test_mixed',
  'test_policy_conflicts',
];

interface Lie {
  ops?: (real: IommuOps) => Partial<IommuOps>;
  leakOnFree?: boolean;
  claimFormat?: PtFormat;
  claimPolicy?: PtPolicy;
}

function target(lie: Lie): PtEngineTarget {
  const format = createRefFormat(BM);
  return {
    format: lie.claimFormat ?? format,
    policy: lie.claimPolicy ?? REF_POLICY,
    windowOrder: 24,
    randomMaps: 200,
    domain() {
      const sim = createSim({ memory: 1n << 30n, seed: 1 });
      const real = ptTestDomain(sim, format, REF_POLICY, BM);
      const dom = lie.ops === undefined ? real : { ...real, ops: { ...real.ops, ...lie.ops(real.ops) } as IommuOps };
      return { sim, dom, maxPage: real.geometry.apertureEnd, free: () => (lie.leakOnFree ? undefined : ptTestDomainFree(real)) };
    },
  };
}

/** Each case's outcome: 'ok' or its error message. */
function outcomes(t: PtEngineTarget): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of ptEngineCases(t)) {
    try {
      c.run();
      out[c.name] = 'ok';
    } catch (e) {
      out[c.name] = (e as Error).message;
    }
  }
  return out;
}

/** The failing cases, each with the check its message names (the text before ': got'). */
function failures(t: PtEngineTarget): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, msg] of Object.entries(outcomes(t))) if (msg !== 'ok') out[name] = msg.split(': got')[0]!;
  return out;
}

describe('the engine cases fail on a broken engine', () => {
  it('test_detects_nothing_on_a_sound_engine: the same wrapping with nothing broken passes every case', () => {
    expect(outcomes(target({ ops: () => ({}) }))).toEqual(Object.fromEntries(CASES.map((c) => [c, 'ok'])));
  });

  it('test_detects_translation_off_by_one: the last page of each 2 MiB block translated one frame too far', () => {
    const t = target({
      ops: (o) => ({
        iovaToPhys: (d, iova) => {
          const p = o.iovaToPhys(d, iova);
          return p >= 0 && iova >= 512 && iova % 512 === 511 ? p + 1 : p;
        },
      }),
    });
    expect(failures(t)).toEqual({
      test_map_simple: 'iova_to_phys(2^21 leaf + 511)',
      test_map_table_to_oa: 'iova_to_phys(+4095) at 2^12',
      test_random_map: 'iova_to_phys(155647)',
      test_mixed: 'iova_to_phys(start + 2)',
    });
    const m = /^iova_to_phys\(2\^21 leaf \+ 511\): got (\d+), want (\d+)$/.exec(outcomes(t).test_map_simple ?? '');
    expect(m !== null && Number(m[1]) - Number(m[2])).toBe(1);
  });

  for (const [name, d] of [
    ['over', 1],
    ['under', -1],
  ] as const) {
    it(`test_detects_unmap_${name}_report: ops.unmapPages reporting one page ${name === 'over' ? 'more' : 'less'} than it removed`, () => {
      const t = target({
        ops: (o) => ({
          unmapPages: (dom, iova, order, count, g) => {
            const n = o.unmapPages(dom, iova, order, count, g);
            return n > 1 ? n + d : n;
          },
        }),
      });
      expect(failures(t)).toEqual({
        test_map_simple: 'unmap(1024, 512)',
        test_map_table_to_oa: 'unmap of the first half',
        test_unmap_split: 'unmap(0, 2^12) of a 2^21 leaf',
        test_random_map: 'unmap(167527, 37724)',
        test_pgsize_boundary: 'unmap',
        test_mixed: 'unmap of the range',
        test_policy_conflicts: 'unmap starting inside a 2 MiB leaf',
      });
      expect(outcomes(t).test_map_simple).toBe(`unmap(1024, 512): got ${512 + d}, want 512`);
    });
  }

  it('test_detects_wrong_overmap_errno: ENOMEM where the policy says EBUSY', () => {
    const t = target({
      ops: (o) => ({
        mapPages: (dom, iova, pfn, order, count, prot) => {
          const r = o.mapPages(dom, iova, pfn, order, count, prot);
          return r === -16 ? -12 : r;
        },
      }),
    });
    expect(outcomes(t)).toMatchObject({
      test_random_map: expect.stringMatching(/^map\(\d+, \d+\) over live ranges: got "ENOMEM", want \["EBUSY","EBUSY"\]$/),
      test_policy_conflicts: 'map over a present 4 KiB leaf: got "ENOMEM", want "EBUSY"',
    });
    expect(Object.keys(failures(t))).toEqual(['test_random_map', 'test_policy_conflicts']);
  });

  it('test_detects_a_leaking_free: the factory free that keeps the tables', () => {
    expect(failures(target({ leakOnFree: true }))).toEqual({ test_random_map: 'table pages after the domain is freed' });
  });

  it('test_detects_a_factory_that_lies: another format depth or another policy than the target claims', () => {
    const shallow = { ...createRefFormat(BM), maxLevel: 2 };
    const f = outcomes(target({ claimFormat: shallow }));
    expect(f.test_map_simple).toBe("the domain's format maxLevel: got 3, want 2");
    const p = outcomes(target({ claimPolicy: { ...REF_POLICY, holes: 'count' } }));
    for (const c of CASES.slice(1)) expect(p[c]).toMatch(/^the domain's policy: got \{.*"holes":"stop".*\}, want \{.*"holes":"count".*\}$/);
  });
});
