// ProgressPlan and ProgressMeter on their own: a MAP_DMA plans its pages, an UNMAP_DMA at most what
// is mapped; the meter reports every 1024 pins, unpins or lines, the pages of the ioctls done plus
// what the running one has pinned so far (never more than it planned).

import type { IommuObserver } from '@x/iommu-core';
import { describe, expect, it } from 'vitest';
import type { Machine } from '../src/engine/machine.js';
import { ProgressMeter, ProgressPlan } from '../src/engine/progress-meter.js';

function meter(): { m: ProgressMeter; obs: IommuObserver; updates: [number, number][] } {
  let obs: IommuObserver | null = null;
  const machine = {
    sim: {
      observe: (o: IommuObserver) => {
        obs = o;
        return () => {};
      },
    },
  } as unknown as Machine;
  const updates: [number, number][] = [];
  const m = new ProgressMeter(machine, { start: () => {}, update: (p, o) => updates.push([p, o]) });
  return { m, obs: obs!, updates };
}

describe('progress', () => {
  it('test_plan_maps_and_unmaps_what_is_mapped', () => {
    const p = new ProgressPlan();
    expect(p.unmap(1n << 30n)).toBe(0);
    expect(p.map(0x5000n)).toBe(5);
    expect(p.map(0x1fffn)).toBe(1); // whole pages only
    expect(p.unmap(0x2000n)).toBe(2);
    expect(p.unmap(1n << 40n)).toBe(4);
    expect(p.unmap(0x1000n)).toBe(0);
    expect(p.map(1n << 40n)).toBe(2 ** 28);
  });

  it('test_meter_reports_every_1024_events_capped_at_the_plan', () => {
    const { m, obs, updates } = meter();
    m.begin(3000);
    // 1023 pins of one page each: no report; the 1024th reports what the ioctl has pinned so far
    for (let i = 0; i < 1023; i++) obs.pin!(i, 1);
    expect(updates).toEqual([]);
    obs.pin!(0, 1);
    expect(updates).toEqual([[1024, 0]]);
    // a pin of 5000 pages: past the plan, the running ioctl counts at most its 3000
    for (let i = 0; i < 1023; i++) obs.unpin!(0, 0);
    obs.pin!(0, 5000);
    expect(updates.at(-1)).toEqual([3000, 0]);
    // the ioctl ends: its planned pages count as done, and the line
    m.end();
    expect([m.pages, m.ops]).toEqual([3000, 1]);
    m.begin(10);
    for (let i = 0; i < 1022; i++) m.done();
    // the end's line and 1022 more: 1023 since the last report; the next one reports (the live
    // ioctl has pinned nothing yet)
    expect(updates.length).toBe(2);
    m.done();
    expect(updates.at(-1)).toEqual([3000, 1024]);
    obs.pin!(0, 4);
    m.end();
    expect([m.pages, m.ops]).toEqual([3010, 1025]);
  });
});
