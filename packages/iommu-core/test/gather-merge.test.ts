// iommu_iotlb_gather_add_page / add_range / is_disjoint against gathers that already hold a range:
// touching ranges merge on either side, a gap of one page is disjoint, a page-size change syncs
// first, and add_range only ever widens. The kernel's end is an inclusive byte address, never 0 for
// a gathered range; here it is a page number, so a gather holding only page 0 must still count.
import { describe, expect, it } from 'vitest';
import {
  createIotlbGather,
  iommuIotlbGatherAddPage,
  iommuIotlbGatherAddRange,
  iommuIotlbGatherIsDisjoint,
  type IotlbGather,
} from '../src/index.js';

/** A gather holding [start, start + npages) of one page size, and the syncs it asked for. */
function held(start: number, npages: number): { g: IotlbGather; syncs: [number, number, number][]; sync: (x: IotlbGather) => void } {
  const g = createIotlbGather();
  const syncs: [number, number, number][] = [];
  const sync = (x: IotlbGather): void => {
    syncs.push([x.start, x.end, x.pgsize]);
    x.reset();
  };
  iommuIotlbGatherAddPage(g, start, npages, sync);
  expect(syncs).toEqual([]);
  expect([g.start, g.end, g.pgsize]).toEqual([start, start + npages - 1, npages]);
  return { g, syncs, sync };
}

describe('iommu_iotlb_gather_is_disjoint on a held range', () => {
  it('test_touching_and_gap_on_both_sides', () => {
    const { g } = held(8, 4); // pages 8..11
    // [iova, npages] -> disjoint: one page of gap on either side is disjoint, touching is not
    const cases: [number, number, boolean][] = [
      [4, 4, false],
      [3, 4, true],
      [7, 1, false],
      [6, 1, true], // below: last 7 touches 8, last 6 leaves 7
      [12, 4, false],
      [13, 4, true],
      [12, 1, false],
      [13, 1, true], // above: 12 touches 11, 13 leaves 12
      [9, 1, false],
      [0, 32, false],
      [10, 4, false], // inside, covering, overlapping
    ];
    for (const [iova, n, want] of cases) expect(iommuIotlbGatherIsDisjoint(g, iova, n), `[${iova}, +${n}]`).toBe(want);
  });

  it('test_empty_gather_is_never_disjoint', () => {
    const g = createIotlbGather();
    expect(iommuIotlbGatherIsDisjoint(g, 0, 1)).toBe(false);
    expect(iommuIotlbGatherIsDisjoint(g, 2 ** 40, 512)).toBe(false);
  });

  it('test_gather_of_page_zero_is_not_empty', () => {
    const { g } = held(0, 1); // end is page 0: still a gathered range
    expect(iommuIotlbGatherIsDisjoint(g, 1, 1)).toBe(false);
    expect(iommuIotlbGatherIsDisjoint(g, 2, 1)).toBe(true);
    expect(iommuIotlbGatherIsDisjoint(g, 5, 3)).toBe(true);
  });
});

describe('iommu_iotlb_gather_add_page on a held range', () => {
  it('test_touching_below_merges', () => {
    const { g, syncs, sync } = held(8, 4);
    iommuIotlbGatherAddPage(g, 4, 4, sync);
    expect(syncs).toEqual([]);
    expect([g.start, g.end, g.pgsize]).toEqual([4, 11, 4]);
  });

  it('test_touching_above_merges', () => {
    const { g, syncs, sync } = held(8, 4);
    iommuIotlbGatherAddPage(g, 12, 4, sync);
    expect(syncs).toEqual([]);
    expect([g.start, g.end, g.pgsize]).toEqual([8, 15, 4]);
  });

  it('test_gap_below_syncs_first', () => {
    const { g, syncs, sync } = held(8, 4);
    iommuIotlbGatherAddPage(g, 3, 4, sync); // 3..6: page 7 between
    expect(syncs).toEqual([[8, 11, 4]]);
    expect([g.start, g.end, g.pgsize]).toEqual([3, 6, 4]);
  });

  it('test_gap_above_syncs_first', () => {
    const { g, syncs, sync } = held(8, 4);
    iommuIotlbGatherAddPage(g, 13, 4, sync); // 13..16: page 12 between
    expect(syncs).toEqual([[8, 11, 4]]);
    expect([g.start, g.end, g.pgsize]).toEqual([13, 16, 4]);
  });

  it('test_pgsize_change_syncs_even_when_touching', () => {
    const { g, syncs, sync } = held(0, 512); // one 2 MiB page
    iommuIotlbGatherAddPage(g, 512, 1, sync); // touching 4 KiB page
    expect(syncs).toEqual([[0, 511, 512]]);
    expect([g.start, g.end, g.pgsize]).toEqual([512, 512, 1]);
    iommuIotlbGatherAddPage(g, 513, 1, sync); // same size, touching: merged
    expect(syncs).toEqual([[0, 511, 512]]);
    expect([g.start, g.end, g.pgsize]).toEqual([512, 513, 1]);
  });

  it('test_page_zero_then_disjoint_syncs', () => {
    const { g, syncs, sync } = held(0, 1);
    iommuIotlbGatherAddPage(g, 5, 1, sync);
    expect(syncs).toEqual([[0, 0, 1]]);
    expect([g.start, g.end, g.pgsize]).toEqual([5, 5, 1]);
  });
});

describe('iommu_iotlb_gather_add_range on a held range', () => {
  it('test_widens_only', () => {
    const { g } = held(8, 4);
    iommuIotlbGatherAddRange(g, 9, 2); // inside: unchanged
    expect([g.start, g.end]).toEqual([8, 11]);
    iommuIotlbGatherAddRange(g, 20, 4); // far above: the gap is covered too
    expect([g.start, g.end]).toEqual([8, 23]);
    iommuIotlbGatherAddRange(g, 2, 1); // below: start moves, end stays
    expect([g.start, g.end]).toEqual([2, 23]);
    iommuIotlbGatherAddRange(g, 2, 22); // exactly the range: unchanged
    expect([g.start, g.end, g.pgsize]).toEqual([2, 23, 4]); // add_range leaves the page size alone
  });
});
