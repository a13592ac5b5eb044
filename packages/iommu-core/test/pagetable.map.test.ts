// The map walk's own paths (pagetable/map.ts) on the reference format, 4 levels of 512 entries:
// a level-0 table spans 512 pages, a level-1 table 2^18 (1 GiB). A map resumes from the walk
// states the last one left, so a range that starts in a loaded table and runs past it is mapped in
// several passes; a level function stops at its table's end; an allocation failure inside a level
// ends the whole map; a refused replace of a table under a large leaf unlinks nothing.
import { describe, expect, it } from 'vitest';
import { createIotlbGather, createSim, ERRNO, type IommuError, iommuIovaToPhys, iommuMap, SZ_1G, SZ_2M, SZ_4K } from '../src/index.js';
import { createRefFormat, REF_POLICY } from '../src/internals.js';
import { ptTestDomain } from '../src/testing.js';
import { expectClean, leaves, makeHarness, RW, thrown } from './harness.js';

const GIB = 1 << 18; // pages

/** iova -> pfn for every page in [from, to), -1 where nothing translates. */
function phys(dom: Parameters<typeof iommuIovaToPhys>[0], from: number, to: number): number[] {
  const out: number[] = [];
  for (let p = from; p < to; p++) out.push(iommuIovaToPhys(dom, p));
  return out;
}
const range = (from: number, to: number, off = 0): number[] => Array.from({ length: to - from }, (_, i) => from + i + off);

describe('map walk', () => {
  it('test_map_resumes_past_the_loaded_table: a run from inside the level-0 table the last map left, over its end', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 1, RW); // root, levels 2, 1 and 0: the walk states hold pages 0-511
    expect(h.dom.pt.tables).toBe(4);
    iommuMap(h.dom, 1, 1001, 1000, RW); // pages 1-511 in that table, 512-1000 in a new one
    expect(phys(h.dom, 0, 1002)).toEqual([0, ...range(1, 1001, 1000), -1]);
    expect(h.dom.pt.tables).toBe(5);
    expect(leaves(h.dom).length).toBe(1001);
  });

  it('test_map_call_maps_the_whole_run: one engine call maps all of a run that passes the loaded table (the core would re-drive a short one)', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 1, RW);
    const g = createIotlbGather();
    expect(h.dom.pt.map(1, 1001, 12, 1000, RW, g)).toBe(0);
    expect(h.dom.pt.mapped).toBe(1000);
    expect(phys(h.dom, 511, 513)).toEqual([1511, 1512]);
  });

  it('test_map_level_stops_at_its_table_end: a run from a loaded level-1 table over the 1 GiB edge', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 1, RW); // the level-1 table of the first GiB is loaded; page 0x3ff00's level-0 table is not
    iommuMap(h.dom, GIB - 0x100, 7, 0x200, RW);
    expect(phys(h.dom, GIB - 0x101, GIB + 0x101)).toEqual([-1, ...range(7, 7 + 0x200), -1]);
    // root, level 2, the first GiB's level 1 and level 0 for pages 0 and 0x3fe00; the second GiB's level 1 and 0
    expect(h.dom.pt.tables).toBe(7);
    expect(leaves(h.dom).length).toBe(1 + 0x200);
  });

  it('test_map_enomem_inside_a_level: the 3rd table allocation of a run over the 1 GiB edge fails, and nothing is mapped', () => {
    const h = makeHarness();
    const c0 = h.sim.counters;
    h.sim.faults.arm('tableAlloc', 3); // level 2, the first GiB's level 1, then its level 0 fails
    const e = thrown(() => iommuMap(h.dom, GIB - 0x100, 7, 0x200, RW)) as IommuError;
    expect([e.code, e.errno]).toEqual(['ENOMEM', -ERRNO.ENOMEM]);
    expect(h.sim.counters.tableAllocs - c0.tableAllocs).toBe(2);
    expect(h.sim.faults.fired).toEqual(['tableAlloc']);
    expect(phys(h.dom, GIB, GIB + 0x200)).toEqual(Array(0x200).fill(-1));
    expectClean(h);
    expect(h.dom.pt.tables).toBe(1);
  });

  it('test_level_functions_return_minus_errno: the engine returns -ENOMEM itself (the core also accepts a positive errno)', () => {
    const h = makeHarness();
    h.sim.faults.arm('tableAlloc', 1);
    const g = createIotlbGather();
    expect(h.dom.pt.map(0, 0, 12, 2, RW, g)).toBe(-ERRNO.ENOMEM);
    expect(h.dom.pt.map(0, 0, 12, 2, RW, g)).toBe(0); // the fault fired once
  });
});

describe('a large leaf over a present entry', () => {
  // a domain that keeps empty tables on unmap, so one can stand next to a 2 MiB leaf
  const bm = SZ_4K | SZ_2M | SZ_1G;
  const setup = () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const dom = ptTestDomain(sim, createRefFormat(bm), { ...REF_POLICY, freeTables: false }, bm);
    iommuMap(dom, 0, 0x200, 0x200, RW); // a 2 MiB leaf at level-1 slot 0, frame 0x200: its high word is 0
    iommuMap(dom, 0x200, 5, 1, RW); // slot 1: a level-0 table ...
    dom.pt.unmap(0x200, 1, createIotlbGather()); // ... left empty
    return { sim, dom };
  };

  it('test_refused_replace_unlinks_nothing: 2 x 2 MiB over a leaf and an empty table fails with the overmap errno, both stay', () => {
    const { dom } = setup();
    const tables = dom.pt.tables;
    expect(tables).toBe(4); // the root (level 3), levels 2 and 1, the empty level 0
    expect(REF_POLICY.overmap).toBe(-ERRNO.EBUSY);
    expect((thrown(() => iommuMap(dom, 0, 0x400, 0x400, RW)) as IommuError).code).toBe('EBUSY');
    expect(dom.pt.tables).toBe(tables);
    const got: number[][] = [];
    dom.pt.forEachLeaf((iova, pfn, order) => got.push([iova, pfn, order]));
    expect(got).toEqual([[0, 0x200, 21]]);
  });
});
