// Mainline's range invalidation at power-of-two edges: the sync turns the gathered [first, last]
// into one INVALIDATE_IOMMU_PAGES of the smallest naturally aligned power-of-two block holding it.
// The cases put the last page where it alone enlarges the block (a block of b pages, plus one), so
// a sync that drops a page would invalidate half the block and leave a stale entry the device uses.
import { describe, expect, it } from 'vitest';
import { createIotlbGather, iommuMap, iommuTlbSync, iommuUnmapFast } from '@x/iommu-core';
import type { AmdIommu } from '../src/index.js';
import { CMD_INV_IOMMU_PAGES, INV_S, cmdOpcode, decodeInvAddress } from '../src/internals.js';
import { DEV, RW, setup } from './helpers.js';

/** [first page, pages], relative to a 4096-page aligned base. */
const RANGES: [number, number][] = [
  [0, 2],
  [0, 3],
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

/** The smallest naturally aligned power-of-two block of pages holding [first, last]: [start, pages]. */
function block(first: number, last: number): [number, number] {
  let size = 1;
  while (Math.floor(first / size) !== Math.floor(last / size)) size *= 2;
  return [first - (first % size), size];
}

/** INVALIDATE_IOMMU_PAGES queued since ring byte offset `from`: [domain, first page, pages]. */
function invalidations(amd: AmdIommu, from: number): [number, number, number][] {
  const ring = amd.hw.cmdRing,
    w = ring.words,
    out: [number, number, number][] = [];
  for (let off = from; off !== ring.tail; off = (off + 16) % ring.bytes) {
    const c = off >>> 2;
    if (cmdOpcode(w, c) !== CMD_INV_IOMMU_PAGES) continue;
    // address bits 63:12 span words 2 (31:12) and 3 (63:32); S is bit 0 of word 2
    const page = (w[c + 3]! >>> 0) * 0x100000 + (w[c + 2]! >>> 12);
    const r = decodeInvAddress(page, (w[c + 2]! & INV_S) !== 0);
    out.push([w[c + 1]! & 0xffff, r.page, r.npages]);
  }
  return out;
}

describe('mainline sync ranges at power-of-two edges', () => {
  it.each(RANGES)('test_sync_block [%i, +%i]', (first, n) => {
    const f = setup({ profile: 'mainline', iotlbEntries: 2048 }, true, 1n << 30n);
    const base = 4096,
      lo = base + first - 1,
      hi = base + first + n;
    // one 4 KiB leaf per page (every other frame), a guard page on either side, all cached
    const pfn0 = f.sim.mem.allocFrames(2 * (n + 2));
    for (let p = lo; p <= hi; p++) iommuMap(f.dom, p, pfn0 + 2 * (p - lo), 1, RW);
    expect(f.amd.dma(DEV, lo, n + 2, 'read')).toBe(true);
    const g = createIotlbGather();
    expect(iommuUnmapFast(f.dom, base + first, n, g)).toBe(n);
    const tail = f.amd.hw.cmdRing.tail;
    iommuTlbSync(f.dom, g);
    const [bStart, bPages] = block(base + first, base + first + n - 1);
    expect(bPages).toBeGreaterThanOrEqual(n);
    expect(invalidations(f.amd, tail)).toEqual([[f.dom.id, bStart, bPages]]);
    // no stale entry: every page of the range faults, the last included
    const stale: number[] = [];
    for (let p = base + first; p < base + first + n; p++) if (f.amd.dma(DEV, p, 1, 'read')) stale.push(p);
    expect(stale).toEqual([]);
    // the guard pages still translate: from the IOTLB when outside the block, by a walk inside it
    for (const p of [lo, hi]) {
      const h0 = f.sim.counters.iotlbHits!;
      expect(f.amd.dma(DEV, p, 1, 'read')).toBe(true);
      expect(f.sim.counters.iotlbHits! - h0, `page ${p}`).toBe(p >= bStart && p < bStart + bPages ? 0 : 1);
    }
  });
});
