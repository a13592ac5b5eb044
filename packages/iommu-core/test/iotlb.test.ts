// The modeled IOTLB on its own: hits at the page inside a cached leaf, per-domain tags, the
// replacement policies (lru, fifo, wipe), range invalidation at the leaf's edges, and the reach its
// entries hold on their frames (what the safety checker reports as 'via iotlb').
import { describe, expect, it } from 'vitest';
import { createSim, type IotlbPolicy } from '../src/index.js';
import { Iotlb } from '../src/internals.js';

function setup(capacity: number, policy: IotlbPolicy = 'lru') {
  const sim = createSim({ memory: 1n << 30n, seed: 1 });
  return { sim, tlb: new Iotlb(capacity, policy, sim.mem, sim.meter) };
}

describe('Iotlb', () => {
  it('test_iotlb_capacity: an integer >= 1', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    for (const c of [0, 1.5, -1, Number.NaN])
      expect(() => new Iotlb(c, 'lru', sim.mem, sim.meter)).toThrow(new RangeError(`IOTLB capacity must be an integer >= 1, got ${c}`));
    expect(new Iotlb(1, 'lru', sim.mem, sim.meter).capacity).toBe(1);
  });

  it('test_iotlb_hit_inside_leaf: the page offset inside a 2 MiB entry, per domain, next to a 4 KiB entry', () => {
    const { sim, tlb } = setup(8);
    tlb.fill(1, 512, 2048, 21, 3);
    tlb.fill(1, 5, 77, 12, 1);
    const h0 = sim.counters.iotlbHits,
      m0 = sim.counters.iotlbMisses;
    expect([tlb.lookup(1, 700), tlb.hitPfn, tlb.hitProt]).toEqual([true, 2048 + 188, 3]);
    expect([tlb.lookup(1, 5), tlb.hitPfn, tlb.hitProt]).toEqual([true, 77, 1]);
    expect([tlb.lookup(1, 1024), tlb.lookup(1, 4), tlb.lookup(2, 700), tlb.lookup(3, 5)]).toEqual([false, false, false, false]);
    expect([sim.counters.iotlbHits - h0, sim.counters.iotlbMisses - m0]).toEqual([2, 4]);
    expect([tlb.used, tlb.entriesOf(1), tlb.entriesOf(2)]).toEqual([2, 2, 0]);
  });

  it('test_iotlb_reach: an entry holds its frames until dropped; findReach names it', () => {
    const { sim, tlb } = setup(8);
    tlb.fill(4, 512, 2048, 21, 3);
    expect(sim.mem.reach2m.get(4)).toBe(1);
    expect(tlb.findReach(2048 + 5)).toEqual({ domain: 4, iova: 517, via: 'iotlb' });
    expect([tlb.findReach(2047), tlb.findReach(2048 + 512)]).toEqual([null, null]);
    expect(tlb.invalidateDomain(4)).toBe(1);
    expect([sim.mem.reach2m.get(4), tlb.findReach(2048 + 5), tlb.used]).toEqual([0, null, 0]);
  });

  it('test_iotlb_invalidate_range_edges: an entry goes when its leaf overlaps [start, last], not when it only touches', () => {
    const { tlb } = setup(8);
    tlb.fill(1, 10, 100, 12, 3);
    tlb.fill(1, 512, 2048, 21, 3);
    tlb.fill(2, 10, 200, 12, 3);
    expect(tlb.invalidateRange(1, 11, 511)).toBe(0);
    expect(tlb.invalidateRange(1, 1024, 2000)).toBe(0);
    expect(tlb.invalidateRange(1, 1023, 2000)).toBe(1);
    expect(tlb.invalidateRange(1, 0, 10)).toBe(1);
    expect([tlb.entriesOf(1), tlb.entriesOf(2), tlb.invalidateRange(5, 0, 100)]).toEqual([0, 1, 0]);
    expect(tlb.flushAll()).toBe(1);
    expect(tlb.used).toBe(0);
  });

  for (const [policy, gone] of [
    ['lru', 'b'],
    ['fifo', 'a'],
  ] as const) {
    it(`test_iotlb_${policy}: full, a third fill evicts ${gone} (a was looked up after b was filled)`, () => {
      const { tlb } = setup(2, policy);
      tlb.fill(1, 0, 100, 12, 3); // a
      tlb.fill(1, 1, 101, 12, 3); // b
      expect(tlb.lookup(1, 0)).toBe(true);
      tlb.fill(1, 2, 102, 12, 3); // c
      expect([tlb.lookup(1, 0), tlb.lookup(1, 1), tlb.lookup(1, 2)]).toEqual([gone !== 'a', gone !== 'b', true]);
      expect([tlb.evictions, tlb.wipes, tlb.used]).toEqual([1, 0, 2]);
    });
  }

  it('test_iotlb_wipe: full, a fill flushes everything first (QEMU)', () => {
    const { sim, tlb } = setup(2, 'wipe');
    tlb.fill(1, 0, 100, 12, 3);
    tlb.fill(2, 1, 101, 12, 3);
    tlb.fill(1, 2, 102, 12, 3);
    expect([tlb.lookup(1, 0), tlb.lookup(2, 1), tlb.lookup(1, 2)]).toEqual([false, false, true]);
    expect([tlb.evictions, tlb.wipes, tlb.used]).toEqual([0, 1, 1]);
    expect([sim.mem.reach4k.get(100), sim.mem.reach4k.get(101), sim.mem.reach4k.get(102)]).toEqual([0, 0, 1]);
  });
});
