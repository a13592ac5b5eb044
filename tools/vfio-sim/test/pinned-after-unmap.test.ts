// PinnedAfterUnmap on its own, driven through its two probe points with a clock the test moves: the
// oldest unmapped pages are the first unpinned, only inside an UNMAP_DMA, MMIO ranges never wait,
// and the FIFO keeps its order when it wraps and grows. Expected waits are sums written out here.
// collectStats' plain-JSON copy of the container's stats is checked on a hand-made snapshot.

import type { IommuDomain, IommuObserver } from '@x/iommu-core';
import type { VfioStats } from '@x/vfio-type1';
import { describe, expect, it } from 'vitest';
import { PinnedAfterUnmap } from '../src/engine/instrument.js';
import type { Machine } from '../src/engine/machine.js';
import { collectStats } from '../src/engine/stats.js';

const DOM = {} as IommuDomain;

/** A PinnedAfterUnmap on a stand-in machine: its clock and the one observer it subscribes. */
function make(): { p: PinnedAfterUnmap; clock: { now: number }; observers: IommuObserver[]; removed: () => number } {
  const clock = { now: 0 };
  const observers: IommuObserver[] = [];
  let removed = 0;
  const m = {
    sim: {
      clock,
      observe: (o: IommuObserver) => {
        observers.push(o);
        return () => {
          removed++;
        };
      },
    },
  } as unknown as Machine;
  const p = new PinnedAfterUnmap(m);
  return { p, clock, observers, removed: () => removed };
}

describe('pinned after unmap', () => {
  it('test_oldest_pages_are_unpinned_first', () => {
    const { p, clock, observers } = make();
    expect(observers).toEqual([p]);
    p.inUnmap = true;
    clock.now = 100;
    p.unmapPagesEnd(DOM, 0, 0, 1, 4); // 4 pages wait from 100
    clock.now = 150;
    p.unmapPagesEnd(DOM, 4, 0, 1, 2); // 2 pages from 150
    expect(p.peakPages).toBe(6);
    clock.now = 400;
    p.unpin(0, 3); // 3 of the first 4: waited 300 each
    clock.now = 500;
    p.unpin(0, 3); // the last of the first run (400) and both of the second (350)
    expect(p.maxNs).toBe(400);
    expect(p.meanNs()).toBe((3 * 300 + 400 + 2 * 350) / 6);
    // nothing waits now: a further unpin changes nothing
    clock.now = 9000;
    p.unpin(0, 5);
    expect(p.meanNs()).toBe((3 * 300 + 400 + 2 * 350) / 6);
    expect(p.maxNs).toBe(400);
    // the peak is the most waiting at once, not the total
    p.unmapPagesEnd(DOM, 8, 0, 1, 5);
    expect(p.peakPages).toBe(6);
    p.unmapPagesEnd(DOM, 16, 0, 1, 2);
    expect(p.peakPages).toBe(7);
  });

  it('test_only_inside_an_unmap_ioctl', () => {
    const { p, clock } = make();
    expect(p.meanNs()).toBe(0);
    clock.now = 10;
    p.unmapPagesEnd(DOM, 0, 0, 1, 8); // a MAP_DMA's unwind, not an UNMAP_DMA: not logged
    p.inUnmap = true;
    p.unmapPagesEnd(DOM, 0, 0, 1, 0); // nothing unmapped: not logged (no wait starts at 10)
    expect(p.peakPages).toBe(0);
    clock.now = 20;
    p.unmapPagesEnd(DOM, 0, 0, 1, 2);
    p.inUnmap = false;
    clock.now = 50;
    p.unpin(0, 2); // an unpin outside UNMAP_DMA (a failed map's): consumes nothing
    p.inUnmap = true;
    clock.now = 70;
    p.unpin(0, 2);
    // the two pages waited from 20; an entry of no pages logged at 10 would have made the longest 60
    expect([p.meanNs(), p.maxNs, p.peakPages]).toEqual([50, 50, 2]);
  });

  it('test_mmio_ranges_never_wait', () => {
    const { p, clock } = make();
    p.inUnmap = true;
    p.mapMmio(100, 200);
    p.mapMmio(300, 310);
    for (const iova of [100, 150, 199, 300, 309]) p.unmapPagesEnd(DOM, iova, 0, 1, 1);
    expect(p.peakPages).toBe(0);
    p.unmapPagesEnd(DOM, 200, 0, 1, 1);
    p.unmapPagesEnd(DOM, 99, 0, 1, 1);
    p.unmapPagesEnd(DOM, 310, 0, 1, 1);
    expect(p.peakPages).toBe(3);
    // an unmap that covers only part of a BAR's range leaves it; one that covers it removes it
    p.unmapMmio(120, 200);
    p.unmapPagesEnd(DOM, 150, 0, 1, 1);
    expect(p.peakPages).toBe(3);
    p.unmapMmio(100, 199);
    p.unmapPagesEnd(DOM, 150, 0, 1, 1);
    expect(p.peakPages).toBe(3);
    p.unmapMmio(100, 200);
    p.unmapPagesEnd(DOM, 150, 0, 1, 1);
    expect(p.peakPages).toBe(4);
    // the other range is still MMIO
    p.unmapPagesEnd(DOM, 305, 0, 1, 1);
    expect(p.peakPages).toBe(4);
    p.unmapMmio(0, 1000);
    p.unmapPagesEnd(DOM, 305, 0, 1, 1);
    expect(p.peakPages).toBe(5);
    clock.now = 1;
    p.unpin(0, 5);
    expect(p.maxNs).toBe(1);
  });

  it('test_fifo_keeps_order_when_it_wraps_and_grows', () => {
    const { p, clock } = make();
    p.inUnmap = true;
    // 1000 runs of 1 page at t = 0..999, 600 of them unpinned at t = 1000, then 2500 more runs (the
    // array is compacted, then doubled twice), then everything unpinned at t = 10000
    for (let i = 0; i < 1000; i++) {
      clock.now = i;
      p.unmapPagesEnd(DOM, i, 0, 1, 1);
    }
    clock.now = 1000;
    p.unpin(0, 600);
    let sum = 0;
    for (let i = 0; i < 600; i++) sum += 1000 - i;
    expect(p.meanNs()).toBe(sum / 600);
    expect(p.maxNs).toBe(1000);
    for (let i = 0; i < 2500; i++) {
      clock.now = 1000 + i;
      p.unmapPagesEnd(DOM, i, 0, 1, 1);
    }
    expect(p.peakPages).toBe(400 + 2500);
    clock.now = 10_000;
    // one page at a time: each must come off in the order it went in
    const waits: number[] = [];
    let before = p.meanNs() * 600,
      n = 600;
    for (let k = 0; k < 2900; k++) {
      p.unpin(0, 1);
      n++;
      const total = p.meanNs() * n;
      waits.push(Math.round(total - before));
      before = total;
    }
    const want = [
      ...Array.from({ length: 400 }, (_, i) => 10_000 - (600 + i)),
      ...Array.from({ length: 2500 }, (_, i) => 10_000 - (1000 + i)),
    ];
    expect(waits).toEqual(want);
    expect(p.maxNs).toBe(10_000 - 600);
  });

  it('test_unsubscribe_is_the_observe_remover', () => {
    const { p, removed } = make();
    expect(removed()).toBe(0);
    p.unsubscribe();
    expect(removed()).toBe(1);
  });
});

describe('collectStats', () => {
  it('test_stats_read_and_copied_as_plain_json', () => {
    const s = {
      unmapUnpinCalls: 7,
      regionsPerUnmapUnpin: { 3: 2, 1: 4, 9: 1, 5: 0 },
      syncs: 11,
      fallbacks: 2,
      tryHarderEntries: 5,
      peakQueuedRegions: 12,
      peakQueuedBytes: 49152,
      big: 1n << 70n,
      list: [1n, { x: 2n }],
      bytes: new Uint16Array([1, 2]),
      byCall: new Map<number, bigint>([[4, 5n]]),
      nothing: null,
      label: 'x',
    } as unknown as VfioStats;
    const st = collectStats(s);
    expect(st.unmapCalls).toBe(7);
    // 4 calls of 1 region, 2 of 3, 1 of 9 (the empty row dropped)
    expect(st.regions).toBe(4 + 6 + 9);
    expect(st.regionsPerCall).toEqual({
      min: 1,
      median: 1,
      max: 9,
      mean: 19 / 7,
      histogram: [
        [1, 4],
        [3, 2],
        [9, 1],
      ],
    });
    expect([st.syncs, st.fallbacks, st.mapTryHarder, st.peakQueuedRegions, st.peakQueuedBytes]).toEqual([11, 2, 5, 12, 49152]);
    expect(st.raw).toEqual({
      unmapUnpinCalls: 7,
      regionsPerUnmapUnpin: { 1: 4, 3: 2, 5: 0, 9: 1 },
      syncs: 11,
      fallbacks: 2,
      tryHarderEntries: 5,
      peakQueuedRegions: 12,
      peakQueuedBytes: 49152,
      big: String(1n << 70n),
      list: ['1', { x: '2' }],
      bytes: [1, 2],
      byCall: { 4: '5' },
      nothing: null,
      label: 'x',
    });
    expect(JSON.parse(JSON.stringify(st.raw))).toEqual(st.raw);
  });
});
