// The io-pgtable code's per-page walks before iommupt (789a5913b29c, v6.19): one walk from the top
// per page mapped and one lookup per leaf or hole unmapped, none with iommupt; their modeled time
// is count x the cost table's ns. And the AMD profile names with entry switches.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MACHINE,
  ENTRY_IDS,
  createIotlbGather,
  createSim,
  iommuMap,
  iommuTlbSync,
  iommuUnmap,
  iommuUnmapFast,
  machineCosts,
} from '@x/iommu-core';
import { AMD_TIMELINE, amdProfile, createAmdIommu, type AmdQuirks } from '../src/index.js';
import { AMD_PT_EVENTS } from '../src/driver.js';
import { DEV, RW, expectClean, setup, type Fixture } from './helpers.js';

const MAP = 'amd.pt.mapWalks',
  UNMAP = 'amd.pt.unmapWalks';

/** Counts and modeled ns of the two walk events charged while fn runs. */
function walks(f: Fixture, fn: () => void): { map: number; unmap: number; mapNs: number; unmapNs: number } {
  const c0 = f.sim.counters,
    t0 = f.sim.meter.timeSnapshot();
  fn();
  const c1 = f.sim.counters,
    t1 = f.sim.meter.timeSnapshot();
  return { map: c1[MAP]! - c0[MAP]!, unmap: c1[UNMAP]! - c0[UNMAP]!, mapNs: t1[MAP]! - t0[MAP]!, unmapNs: t1[UNMAP]! - t0[UNMAP]! };
}

describe('io-pgtable walks per page (before iommupt)', () => {
  it.each([
    // [profile, walks per 256 x 4K map, per 256 x 4K unmap]
    ['v4.16', 256, 256], // one ->map / ->unmap call per page, each walking once
    ['v6.0', 256, 256],
    ['v6.1', 256, 256], // map_pages: one call for the run, still one walk per page inside it
    ['v6.18', 256, 256],
    ['v6.19', 0, 0], // iommupt keeps its place in the table
    ['mainline', 0, 0],
  ] as const)('test_walks_256_4k %s', (profile, mapW, unmapW) => {
    const f = setup({ profile });
    // an odd pfn: nothing larger than 4 KiB fits, 256 leaves
    const pfn = f.sim.mem.allocFrames(512, { align: 512 }) + 1;
    const m = walks(f, () => iommuMap(f.dom, 0x1000, pfn, 256, RW));
    expect(f.dom.pt.countLeaves()).toBe(256);
    const u = walks(f, () => expect(iommuUnmap(f.dom, 0x1000, 256)).toBe(256));
    expect([m.map, m.unmap, u.map, u.unmap]).toEqual([mapW, 0, 0, unmapW]);
    const t = f.sim.costTable();
    expect(m.mapNs).toBeCloseTo(mapW * t[MAP]!.ns, 6);
    expect(u.unmapNs).toBeCloseTo(unmapW * t[UNMAP]!.ns, 6);
    expectClean(f);
  });

  it.each([
    ['v6.18', 1],
    ['v6.19', 0],
  ] as const)('test_walks_one_2m_leaf %s', (profile, w) => {
    const f = setup({ profile });
    const pfn = f.sim.mem.allocFrames(512, { align: 512 });
    const m = walks(f, () => iommuMap(f.dom, 0x200, pfn, 512, RW));
    expect(f.dom.pt.countLeaves()).toBe(1);
    const u = walks(f, () => expect(iommuUnmap(f.dom, 0x200, 512)).toBe(512));
    expect([m.map, u.unmap]).toEqual([w, w]);
    expectClean(f);
  });

  it('test_walks_one_per_replicated_leaf', () => {
    // a 64 KiB page is 16 NextLevel-7 entries written in one walk, and removed after one lookup
    const f = setup({ profile: 'v6.18' });
    const pfn = f.sim.mem.allocFrames(16, { align: 16 });
    const m = walks(f, () => iommuMap(f.dom, 0x1000, pfn, 16, RW));
    const u = walks(f, () => expect(iommuUnmap(f.dom, 0x1000, 16)).toBe(16));
    expect([m.map, u.unmap]).toEqual([1, 1]);
    expectClean(f);
  });

  it('test_unmap_walks_count_holes', () => {
    // io-pgtable steps over an absent PTE as over a leaf: 4 pages mapped, 8 unmapped, 8 lookups
    const f = setup({ profile: 'v6.18' });
    const pfn = f.sim.mem.allocFrames(16, { align: 16 }) + 1;
    iommuMap(f.dom, 0x1000, pfn, 4, RW);
    const u = walks(f, () => expect(iommuUnmap(f.dom, 0x1000, 8)).toBe(8));
    expect(u.unmap).toBe(8);
    expect(u.unmapNs).toBeCloseTo(8 * f.sim.costTable()[UNMAP]!.ns, 6);
    expectClean(f);
  });

  it('test_walk_costs_come_from_the_machine', () => {
    // the package's own entries are count-only; the machine table prices them
    expect(AMD_PT_EVENTS[MAP].ns).toBe(0);
    expect(AMD_PT_EVENTS[UNMAP].ns).toBe(0);
    const f = setup({ profile: 'v6.18' });
    const t = f.sim.costTable(),
      dflt = machineCosts(DEFAULT_MACHINE);
    expect([t[MAP], t[UNMAP]]).toEqual([dflt[MAP], dflt[UNMAP]]);
    expect(t[MAP]!.ns).toBeGreaterThan(0);
    const bw = createSim({ memory: 1n << 30n, machine: 'broadwell-2021' });
    createAmdIommu(bw, { profile: 'v6.18' });
    expect(bw.costTable()[UNMAP]).toEqual(machineCosts('broadwell-2021')[UNMAP]);
    // a user override wins
    const g = createSim({ memory: 1n << 30n, cost: { [MAP]: 10 } });
    createAmdIommu(g, { profile: 'v6.18' });
    expect(g.costTable()[MAP]).toEqual({ ns: 10, source: `override (${t[MAP]!.source})` });
  });
});

describe('AMD profiles with entry switches', () => {
  it('test_amd_entry_ids_are_known_to_the_core', () => {
    for (const e of AMD_TIMELINE) expect(ENTRY_IDS, e.id).toContain(e.id);
  });

  const only = (a: AmdQuirks, b: AmdQuirks): string[] => (Object.keys(a) as (keyof AmdQuirks)[]).filter((k) => a[k] !== b[k]).sort();

  it('test_switch_moves_only_its_quirks', () => {
    expect(amdProfile('v5.14').quirks.syncFlushesAll).toBe(true);
    expect(amdProfile('v5.14+amd-sync-range').quirks.syncFlushesAll).toBe(false);
    expect(only(amdProfile('v5.14+amd-sync-range').quirks, amdProfile('v5.14').quirks)).toEqual(['syncFlushesAll']);
    expect(amdProfile('v5.15~amd-sync-range').quirks).toEqual(amdProfile('v5.14').quirks);
    expect(amdProfile('v6.18+amd-iommupt').quirks).toEqual(amdProfile('v6.19').quirks);
    expect(amdProfile('v6.19~amd-iommupt').quirks).toEqual(amdProfile('v6.18').quirks);
    expect(amdProfile('v4.16+amd-fast-flush').quirks).toEqual(amdProfile('v4.17').quirks);
    const p = amdProfile('v5.14+amd-sync-range');
    expect([p.name, p.release, p.apiEra]).toEqual(['v5.14+amd-sync-range', 'v5.14', 'gather']);
    // a core switch reaches the AMD profile too: no gather API before v5.4 unless switched on
    expect(amdProfile('v5.3+iotlb-gather').apiEra).toBe('gather');
    expect(amdProfile('v5.4~iotlb-gather').apiEra).toBe('2018');
  });

  it('test_bad_switch', () => {
    const msg = "unknown timeline entry 'amd-nope' in profile 'v5.14+amd-nope' (see `vfio-sim timeline` for the entry ids)";
    expect(() => amdProfile('v5.14+amd-nope')).toThrow(new RangeError(msg));
    expect(() => createAmdIommu(setup().sim, { profile: 'v5.14+amd-nope' as never })).toThrow(new RangeError(msg));
  });

  it('test_sync_range_switch_keeps_other_iotlb_entries', () => {
    // v5.14 syncs an unmap by flushing the whole domain; with fc65d0acaf23 switched on only the
    // gathered range goes, so the device still hits the IOTLB for the page left mapped
    const hitsAfterUnmap = (profile: string): number[] => {
      const f = setup({ profile: profile as never });
      const pfn = f.sim.mem.allocFrames(16, { align: 16 }) + 1;
      iommuMap(f.dom, 0x1000, pfn, 1, RW);
      iommuMap(f.dom, 0x2000, pfn + 2, 1, RW);
      expect(f.amd.dma(DEV, 0x1000, 1, 'read') && f.amd.dma(DEV, 0x2000, 1, 'read')).toBe(true);
      const g = createIotlbGather();
      expect(iommuUnmapFast(f.dom, 0x1000, 1, g)).toBe(1);
      iommuTlbSync(f.dom, g);
      const c0 = f.sim.counters;
      expect(f.amd.dma(DEV, 0x2000, 1, 'read')).toBe(true);
      const c1 = f.sim.counters;
      iommuUnmap(f.dom, 0x2000, 1);
      expectClean(f);
      return [c1.iotlbHits - c0.iotlbHits, c1.iotlbMisses - c0.iotlbMisses];
    };
    expect(hitsAfterUnmap('v5.14')).toEqual([0, 1]);
    expect(hitsAfterUnmap('v5.14+amd-sync-range')).toEqual([1, 0]);
    expect(hitsAfterUnmap('v5.15')).toEqual([1, 0]);
  });
});
