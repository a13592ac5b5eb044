// Survivors of the mutation run on gather.ts and sim/faults.ts: a gather that unlinks tables from
// two unmaps keeps both sets until its sync frees them; a fresh gather is not a flush-queue one;
// disarm() cancels what was armed and resetCounts() forgets what was reached.
import { describe, expect, it } from 'vitest';
import { createIotlbGather, iommuMap, iommuTlbSync, iommuUnmapFast } from '../src/index.js';
import { FAULT_POINTS } from '../src/testing.js';
import { RW, makeHarness } from './harness.js';

describe('gather freelist', () => {
  it('test_two_unmaps_one_gather_free_every_table', () => {
    const h = makeHarness({ release: 'mainline' }, 1n << 30n);
    const pfn = h.sim.mem.allocFrames(2048);
    // 1024 4 KiB leaves (every other frame: no 2 MiB page), i.e. two full level-0 tables
    for (let i = 0; i < 1024; i++) iommuMap(h.dom, i, pfn + 2 * i, 1, RW);
    const t1 = h.sim.mem.tables.inUse;
    const g = createIotlbGather();
    // each unmap covers one level-0 table whole and unlinks it onto the gather: both wait for the sync
    expect(iommuUnmapFast(h.dom, 0, 512, g)).toBe(512);
    expect(h.dom.pt.deferredTables).toBe(1);
    expect(iommuUnmapFast(h.dom, 512, 512, g)).toBe(512);
    expect(h.dom.pt.deferredTables).toBe(2);
    expect(h.sim.mem.tables.inUse).toBe(t1);
    iommuTlbSync(h.dom, g);
    expect(h.dom.pt.deferredTables).toBe(0);
    expect(h.sim.mem.tables.inUse).toBe(t1 - 2);
  });

  it('test_fresh_gather_is_not_queued', () => {
    // iommu_iotlb_gather_init zeroes the gather: only a DMA flush queue sets queued
    const g = createIotlbGather();
    expect([g.start, g.end, g.pgsize, g.queued, g.empty]).toEqual([Infinity, 0, 0, false, true]);
    g.queued = true;
    g.reset();
    expect(g.queued).toBe(false);
  });
});

describe('FaultInjector disarm and resetCounts', () => {
  it('test_disarm_cancels_every_point', () => {
    const h = makeHarness({}, 1n << 30n);
    const f = h.sim.faults,
      MAP = FAULT_POINTS.indexOf('map');
    expect(f.armed).toBe(false); // a fresh sim has nothing armed
    f.arm('map', 1);
    f.arm('pin', 2);
    expect(f.armed).toBe(true);
    f.disarm();
    expect(f.armed).toBe(false);
    for (let i = 0; i < 3; i++) expect(f.hit(MAP)).toBe(false);
    expect(f.fired).toEqual([]);
    expect(f.reached[MAP]).toBe(3);
    // re-armed after a disarm: counted from now
    f.arm('map', 1);
    expect(f.hit(MAP)).toBe(true);
    expect(f.armed).toBe(false);
  });

  it('test_reset_counts_forgets_reached_and_fired', () => {
    const h = makeHarness({}, 1n << 30n);
    const f = h.sim.faults,
      MAP = FAULT_POINTS.indexOf('map'),
      PIN = FAULT_POINTS.indexOf('pin');
    f.arm('map', 2);
    f.hit(MAP);
    f.hit(MAP);
    f.pass(PIN);
    expect(f.fired).toEqual(['map']);
    expect([f.reached[MAP], f.reached[PIN]]).toEqual([2, 1]);
    f.resetCounts();
    expect([...f.reached]).toEqual(FAULT_POINTS.map(() => 0));
    expect(f.fired).toEqual([]);
  });
});
