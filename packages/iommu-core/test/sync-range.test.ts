// The gather-era sync invalidates exactly what was gathered: after iommu_unmap_fast into a gather
// and iommu_iotlb_sync, no page of the range still translates through a cached IOTLB entry, the
// pages around it still do, and the driver flushed exactly [first, last] of the gather.
import { describe, expect, it } from 'vitest';
import { createIotlbGather, iommuMap, iommuTlbSync, iommuUnmapFast, traceIova } from '../src/index.js';
import { RW, makeHarness } from './harness.js';

const DEV = 1;

/** Ranges [first page, pages]: around power-of-two edges, the last page one past a block. */
const RANGES: [number, number][] = [
  [0, 1],
  [0, 2],
  [0, 3],
  [1, 1],
  [1, 2],
  [3, 2],
  [7, 2],
  [7, 10],
  ...[2, 4, 8, 16, 64, 256].flatMap(
    (b) =>
      [
        [0, b + 1],
        [b - 1, 2],
        [b, b + 1],
        [1, b],
      ] as [number, number][],
  ),
];

describe('gather sync ranges (reference driver, gather era)', () => {
  it.each(RANGES)('test_sync_invalidates_exactly [%i, +%i]', (first, n) => {
    // one 4 KiB leaf per page (every other frame: no two pages make a larger page), plus a guard page
    // on either side; the device reads all of them so each has its own IOTLB entry
    const h = makeHarness({ release: 'mainline', iotlbEntries: 2048, flushOnUnmap: false }, 1n << 30n);
    h.drv.attachDevice(h.dom, DEV);
    const base = 4096,
      lo = base + first - 1,
      hi = base + first + n;
    const pfn0 = h.sim.mem.allocFrames(2 * (n + 2));
    for (let p = lo; p <= hi; p++) iommuMap(h.dom, p, pfn0 + 2 * (p - lo), 1, RW);
    expect(h.drv.dma(DEV, lo, n + 2, 'read')).toBe(true);
    const g = createIotlbGather();
    expect(iommuUnmapFast(h.dom, base + first, n, g)).toBe(n);
    expect([g.start, g.end]).toEqual([base + first, base + first + n - 1]);
    h.sim.trace.on = true;
    iommuTlbSync(h.dom, g);
    h.sim.trace.on = false;
    expect(h.sim.trace.events.filter((x) => x.name === 'flush').map((x) => x.args)).toEqual([
      { domain: h.dom.id, start: traceIova(base + first), last: traceIova(base + first + n - 1) },
    ]);
    // no stale entry: every page of the range faults, the first and the last included
    const stale: number[] = [];
    for (let p = base + first; p < base + first + n; p++) if (h.drv.dma(DEV, p, 1, 'read')) stale.push(p);
    expect(stale).toEqual([]);
    // the guard pages were not unmapped and still translate, from the IOTLB (the sync spared them)
    const hits = h.sim.counters.iotlbHits!;
    expect([h.drv.dma(DEV, lo, 1, 'read'), h.drv.dma(DEV, hi, 1, 'read')]).toEqual([true, true]);
    expect(h.sim.counters.iotlbHits! - hits).toBe(2);
  });
});
