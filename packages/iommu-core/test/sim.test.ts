// Cost table, counters, clock, tracer, PRNG and fault injector.
import { describe, expect, it } from 'vitest';
import { createSim, iommuMap, TRACE_ALL, TRACE_IOCTL, TRACE_IOMMU, traceIova } from '../src/index.js';
import { CORE_COSTS, Prng } from '../src/internals.js';
import { makeHarness, RW } from './harness.js';

describe('sim', () => {
  it('test_cost_table: every core default has a source; overrides replace the ns', () => {
    const sim = createSim({ cost: { completionWaits: 5000 } });
    const t = sim.costTable();
    for (const k of Object.keys(CORE_COSTS)) expect(t[k]!.source.length).toBeGreaterThan(10);
    expect(t.completionWaits!.ns).toBe(5000);
    expect(() => createSim({ cost: { bogus: 1 } })).toThrow(/unknown cost event 'bogus'/);
  });

  it('test_seed_must_be_an_integer: a fractional or non-number seed is a RangeError naming it', () => {
    for (const seed of [1.5, Number.NaN, Infinity])
      expect(() => createSim({ seed })).toThrow(new RangeError(`seed must be an integer, got ${seed}`));
    expect(() => createSim({ seed: '7' as never })).toThrow(new RangeError('seed must be an integer, got 7'));
    expect(createSim({ seed: -3 }).seed).toBe(-3);
    expect(createSim().seed).toBe(1);
  });

  it('test_clock_is_sum_of_charges: modeled time equals count x cost over every event', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 300, RW);
    const c = h.sim.counters,
      t = h.sim.costTable();
    const sum = Object.keys(c).reduce((s, k) => s + c[k]! * t[k]!.ns, 0);
    expect(h.sim.clock.now).toBeCloseTo(sum, 6);
    expect(c.pteWrites).toBe(303);
  });

  it('test_trace_off_records_nothing; on records the driver flush', () => {
    const h = makeHarness();
    iommuMap(h.dom, 0, 0, 1, RW);
    expect(h.sim.trace.events.length).toBe(0);
    h.sim.trace.on = true;
    h.dom.ops.flushIotlbAll!(h.dom);
    h.sim.trace.begin('vfio', 'VFIO_IOMMU_UNMAP_DMA');
    h.sim.trace.end('vfio', 'VFIO_IOMMU_UNMAP_DMA');
    expect(h.sim.trace.events.map((e) => e.ph)).toEqual(['B', 'E']);
  });

  it('test_trace_sink_and_detail', () => {
    // a sink takes each event as it happens and the tracer keeps none; detail defaults to everything
    const h = makeHarness();
    const got: string[] = [];
    h.sim.trace.on = true;
    expect(h.sim.trace.detail).toBe(TRACE_ALL);
    h.sim.trace.sink = (e) => {
      got.push(`${e.ph} ${e.track} ${e.name} ${e.ts === h.sim.clock.now}`);
    };
    h.sim.trace.begin('vfio', 'VFIO_IOMMU_MAP_DMA', { iova: traceIova(0x100) });
    h.sim.trace.counter('memory', 'pinned pages', { pages: 3 });
    h.sim.trace.end('vfio', 'VFIO_IOMMU_MAP_DMA');
    expect(got).toEqual(['B vfio VFIO_IOMMU_MAP_DMA true', 'C memory pinned pages true', 'E vfio VFIO_IOMMU_MAP_DMA true']);
    expect(h.sim.trace.events).toEqual([]);
    // IOVAs in bytes, 0x hex, exact beyond 2^53 bytes
    expect([traceIova(0), traceIova(0x100), traceIova(2 ** 52 - 1)]).toEqual(['0x0', '0x100000', '0xfffffffffffff000']);
    expect([TRACE_IOCTL, TRACE_IOMMU, TRACE_ALL]).toEqual([1, 2, 3]);
  });

  it('test_meter_grows: events past the first 64 get ids, and growing keeps every count, time and cost', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    const m = sim.meter;
    const first = m.names.length;
    const ids: number[] = [];
    for (let i = 0; i < 100; i++) {
      ids.push(m.register(`test.e${i}`, { ns: i + 1, source: `s${i}` }));
      m.charge(ids[i]!, 2); // charged before and after the arrays double
    }
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => first + i));
    expect(m.register('test.e7', { ns: 999, source: 'again' })).toBe(first + 7); // found, not re-registered
    const snap = m.snapshot(),
      time = m.timeSnapshot(),
      table = m.table();
    for (const i of [0, 63 - first, 64 - first, 99]) {
      expect([snap[`test.e${i}`], time[`test.e${i}`], table[`test.e${i}`]]).toEqual([2, 2 * (i + 1), { ns: i + 1, source: `s${i}` }]);
    }
    expect([m.id('test.e99'), m.id('nope')]).toEqual([first + 99, -1]);
    // one key per registered event, no more (toEqual would not see an extra key holding undefined)
    for (const o of [snap, time, table]) expect(Object.keys(o)).toEqual(m.names);
    expect(sim.clock.now).toBe(2 * ((100 * 101) / 2));
  });

  it('test_prng_deterministic', () => {
    const a = new Prng(42),
      b = new Prng(42),
      c = new Prng(43);
    const xa = Array.from({ length: 5 }, () => a.u32());
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.u32())).not.toEqual(xa);
    for (let i = 0; i < 1000; i++) {
      const v = a.int(7);
      expect(v >= 0 && v < 7 && Number.isInteger(v)).toBe(true);
    }
  });

  // Known answers from an independent implementation (Python, unsigned 32-bit arithmetic) of the
  // documented algorithm: splitmix32 (constants 0x9e3779b9, 0x85ebca6b, 0xc2b2ae35) gives a, b, c, d;
  // sfc32 (t = a + b + d; d += 1; a = b ^ b >> 9; b = 9c; c = rotl(c, 21) + t) discards 12 outputs.
  it('test_prng_known_answers: the sfc32 stream of seeds 42, 0 and 2^32 - 1, next, int and fork', () => {
    const take = (p: Prng, n: number): number[] => Array.from({ length: n }, () => p.u32());
    expect(take(new Prng(42), 5)).toEqual([1028872839, 2516511472, 400437680, 853279530, 1920286840]);
    expect(take(new Prng(0), 3)).toEqual([4205396811, 3543653536, 1222415357]);
    expect(take(new Prng(2 ** 32 - 1), 3)).toEqual([1413747962, 91561161, 3282502067]);
    expect(take(new Prng(-1), 3)).toEqual([1413747962, 91561161, 3282502067]); // the seed as uint32
    expect(take(new Prng(Number.NaN), 3)).toEqual([4205396811, 3543653536, 1222415357]); // NaN as uint32 is 0
    const p = new Prng(7);
    expect(p.next()).toBe(0.19514828245155513);
    expect([p.int(1000), p.int(1000), p.int(1000)]).toEqual([361, 840, 843]);
    const q = new Prng(9);
    const child = q.fork(); // seeded with the parent's next u32, 3488395216
    expect([child.u32(), q.u32()]).toEqual([1407520328, 3534397455]);
    expect(take(new Prng(3488395216), 1)).toEqual([1407520328]);
  });

  it('test_fault_injector: nth occurrence, counts, validation', () => {
    const sim = createSim({ memory: 64n << 20n });
    sim.faults.arm('pin', 3);
    const p = sim.mem.allocFrames(1);
    expect([sim.mem.pin(p, 1), sim.mem.pin(p, 1), sim.mem.pin(p, 1), sim.mem.pin(p, 1)]).toEqual([true, true, false, true]);
    expect(sim.faults.reached[1]).toBe(4);
    expect(sim.faults.armed).toBe(false);
    expect(() => sim.faults.arm('pin', 0)).toThrow(/nth/);
    expect(() => sim.faults.arm('nope' as 'pin')).toThrow(/unknown fault point/);
  });
});
