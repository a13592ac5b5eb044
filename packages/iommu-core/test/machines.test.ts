// Machine profiles: how a machine's cost table is resolved from its base, that every machine
// resolves to valid costs, and how createSim checks the machine and the user's cost overrides.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MACHINE,
  createReferenceDriver,
  HW_EVENTS,
  MACHINES,
  MACHINE_NAMES,
  MAX_EVENT_NS,
  costError,
  createSim,
  iommuMap,
  isMachineName,
  machineCosts,
  machineError,
  machineProfile,
} from '../src/index.js';
import { CORE_COSTS } from '../src/internals.js';
import { RW } from './harness.js';

const ALL = 'lizhe-2025, broadwell-2021, vtd-2015, amdvi-2015, xeon-e5-2018, williamson-2025, i7-12700';

describe('machine profiles', () => {
  it('test_machine_list: the default first, every other one names a machine listed before it', () => {
    expect(MACHINE_NAMES.join(', ')).toBe(ALL);
    expect(DEFAULT_MACHINE).toBe('lizhe-2025');
    expect(MACHINES[0]!.name).toBe(DEFAULT_MACHINE);
    expect(MACHINES[0]!.base).toBe(null);
    for (const [i, m] of MACHINES.entries()) {
      if (i === 0) continue;
      // a base listed earlier: the chain ends at the default and cannot loop
      expect(MACHINE_NAMES.indexOf(m.base!), m.name).toBeGreaterThanOrEqual(0);
      expect(MACHINE_NAMES.indexOf(m.base!), m.name).toBeLessThan(i);
      expect(m.cpuScale > 0 && Number.isFinite(m.cpuScale), m.name).toBe(true);
      expect(m.scaleSource.length, m.name).toBeGreaterThan(10);
    }
    expect(new Set(MACHINE_NAMES).size).toBe(MACHINES.length);
  });

  it('test_machine_provenance: each host is described and each measurement cites its commit or mail; the default scales nothing', () => {
    const cites = /\b[0-9a-f]{12}\b|cover letter/;
    for (const m of MACHINES) {
      expect(m.host.length, m.name).toBeGreaterThan(20);
      expect(m.measured, m.name).toMatch(cites);
    }
    expect([MACHINES[0]!.cpuScale, MACHINES[0]!.scaleSource]).toEqual([1, '']);
  });

  it("test_every_machine_resolves: the default's events, each a valid cost with a source", () => {
    const events = Object.keys(machineCosts(DEFAULT_MACHINE)).sort();
    for (const name of MACHINE_NAMES) {
      expect(isMachineName(name)).toBe(true);
      expect(machineProfile(name).name).toBe(name);
      const t = machineCosts(name);
      expect(Object.keys(t).sort(), name).toEqual(events);
      for (const [ev, e] of Object.entries(t)) {
        expect(costError(ev, e.ns), `${name} ${ev}`).toBe(null);
        expect(e.ns, `${name} ${ev}: a shipped machine times every event it lists`).toBeGreaterThan(0);
        expect(e.source.length, `${name} ${ev}`).toBeGreaterThan(10);
      }
      expect(Object.isFrozen(t)).toBe(true);
      expect(machineCosts(name)).toBe(t); // resolved once
    }
  });

  it('test_every_timed_core_event_is_in_the_default_machine', () => {
    const dflt = machineCosts(DEFAULT_MACHINE);
    const timed: string[] = [],
      counted: string[] = [];
    for (const [ev, e] of Object.entries(CORE_COSTS)) {
      if (e.source.startsWith('count only')) {
        counted.push(ev);
        expect(e.ns, ev).toBe(0);
        expect(dflt[ev], ev).toBeUndefined(); // a count-only event costs nothing on any machine
      } else {
        timed.push(ev);
        expect(dflt[ev], ev).toEqual(e);
        expect(e.ns, ev).toBeGreaterThan(0);
      }
    }
    expect(counted).toEqual(['iotlbSyncs', 'iotlbFlushes', 'pins', 'unpins', 'iotlbMisses', 'dmaPages', 'faults']);
    expect(timed.length).toBe(Object.keys(CORE_COSTS).length - 7);
    // a sim on the default machine charges exactly these
    const t = createSim().costTable();
    for (const ev of Object.keys(CORE_COSTS)) expect(t[ev]!.ns, ev).toBe(CORE_COSTS[ev as keyof typeof CORE_COSTS].ns);
  });

  it('test_machine_costs_inherit: CPU-side costs x cpuScale, hardware ones unscaled, own costs win', () => {
    // broadwell-2021: base lizhe-2025, cpuScale 2.45 (values below worked out by hand from the table)
    const bw = machineCosts('broadwell-2021');
    expect(machineProfile('broadwell-2021').cpuScale).toBe(2.45);
    expect(bw.mapCalls!.ns).toBeCloseTo(55 * 2.45, 9); // 134.75
    expect(bw.mapCalls!.ns).toBeCloseTo(134.75, 9);
    expect(bw['vfio.gupWalks']!.ns).toBeCloseTo(109.515, 9); // 44.7 x 2.45
    expect(bw.pteWrites!.ns).toBeCloseTo(3.21, 9); // 1.31 x 2.45 = 3.2095, kept to 3 decimals
    expect(bw.mapCalls!.source.startsWith('lizhe-2025 x 2.45 (')).toBe(true);
    expect(bw.mapCalls!.source).toContain(machineCosts('lizhe-2025').mapCalls!.source);
    // the IOMMU's and memory's latencies do not follow the CPU
    const hw = 'invalidations completionWaits walkLevels iotlbHits amd.cmd.submit amd.dte.fetch amd.cmd.INVALIDATE_DEVTAB_ENTRY';
    expect(HW_EVENTS).toEqual(new Set(hw.split(' ')));
    for (const ev of HW_EVENTS) {
      expect(bw[ev]!.ns, ev).toBe(machineCosts('lizhe-2025')[ev]!.ns);
      expect(bw[ev]!.source.startsWith('as lizhe-2025: '), ev).toBe(true);
    }
    expect([bw.invalidations!.ns, bw.completionWaits!.ns]).toEqual([300, 250]);
    // its own figures win over the scaled ones (34.7 x 2.45 would be 85.015)
    expect(bw['vfio.gupCalls']).toEqual(machineProfile('broadwell-2021').costs['vfio.gupCalls']);
    expect(bw['vfio.gupCalls']!.ns).toBe(85);
    expect(bw.pageZeroes!.ns).toBe(818);
  });

  it("test_machine_costs_two_levels: vtd-2015 takes broadwell-2021's scaled costs at cpuScale 1", () => {
    const vtd = machineCosts('vtd-2015'),
      bw = machineCosts('broadwell-2021');
    expect(machineProfile('vtd-2015').base).toBe('broadwell-2021');
    expect(vtd.mapCalls!.ns).toBeCloseTo(134.75, 9);
    expect(vtd.mapCalls!.source).toBe(`as broadwell-2021: ${bw.mapCalls!.source}`);
    expect(vtd['vfio.gupCalls']!.ns).toBe(85); // broadwell-2021's own, passed on
    expect(vtd.pageFaults!.ns).toBe(210); // its own
    expect(bw.pageFaults!.ns).toBeCloseTo(85.7 * 2.45, 9); // 209.965: the base's, scaled
    expect(machineCosts('amdvi-2015').iovaToPhys!.ns).toBe(14.4);
    expect(machineCosts('xeon-e5-2018')['vfio.pfnLookups']!.ns).toBe(95);
    // a machine with no own costs and cpuScale 1 is its base, figure for figure
    const i7 = machineCosts('i7-12700'),
      lz = machineCosts('lizhe-2025');
    for (const ev of Object.keys(lz)) expect(i7[ev]!.ns, ev).toBe(lz[ev]!.ns);
  });

  it("test_sim_machine: createSim({ machine }) charges that machine's costs", () => {
    expect(createSim().machine).toBe('lizhe-2025');
    const sim = createSim({ machine: 'broadwell-2021' });
    expect(sim.machine).toBe('broadwell-2021');
    expect(sim.meter.machine).toBe('broadwell-2021');
    const t = sim.costTable();
    expect(t.mapCalls.ns).toBeCloseTo(134.75, 9);
    expect(t.pageZeroes.ns).toBe(818);
    expect(t.pins.ns).toBe(0); // count-only on every machine
    // the clock charges that machine's costs: a 4-level table (root at domainAlloc, then three
    // tables down to level 0, each linked by one PTE) and 300 4 KiB leaves (the pfn is misaligned)
    const drv = createReferenceDriver(sim);
    const dom = drv.domainAlloc();
    iommuMap(dom, 0, 1, 300, RW);
    const c = sim.counters;
    expect([c.mapCalls, c.pteWrites, c.tableAllocs]).toEqual([1, 303, 4]);
    expect(sim.clock.now).toBeCloseTo(t.mapCalls.ns + 303 * t.pteWrites.ns + 4 * t.tableAllocs.ns, 6);
    expect(sim.clock.now).toBeCloseTo(134.75 + 303 * 3.21 + 4 * 367.5, 6); // 55, 1.31 and 150 x 2.45
  });

  it('test_unknown_machine: RangeError naming the machines, nothing built', () => {
    const msg = `unknown machine 'nope' (machines: ${ALL})`;
    expect(isMachineName('nope')).toBe(false);
    expect(isMachineName(undefined)).toBe(false);
    expect(machineError('nope')).toBe(msg);
    expect(() => createSim({ machine: 'nope' })).toThrow(new RangeError(msg));
    // refused before host memory is set up: a bad memory size is not even looked at
    expect(() => createSim({ machine: 'nope', memory: 3n })).toThrow(new RangeError(msg));
    expect(() => createSim({ memory: 3n })).toThrow(RangeError);
    expect(() => machineProfile('nope')).toThrow(new RangeError(msg));
    expect(() => machineCosts('nope')).toThrow(new RangeError(msg));
  });
});

describe('cost overrides', () => {
  const MAX = String(MAX_EVENT_NS);

  it.each([
    [-1, '-1'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [1e300, '1e+300'],
    [2e9, '2000000000'],
    ['5', '"5"'],
  ] as const)('test_bad_cost_override %s', (ns, shown) => {
    const msg = `cost of 'completionWaits' must be a number of nanoseconds in [0, ${MAX}], got ${shown}`;
    expect(costError('completionWaits', ns)).toBe(msg);
    expect(() => createSim({ cost: { completionWaits: ns as number } })).toThrow(new RangeError(msg));
    // a driver's event (registered later) is checked as early, at createSim
    expect(() => createSim({ cost: { 'amd.cmd.submit': ns as number } })).toThrow(
      new RangeError(msg.replace('completionWaits', 'amd.cmd.submit')),
    );
    // refused before host memory is set up
    expect(() => createSim({ cost: { completionWaits: ns as number }, memory: 3n })).toThrow(new RangeError(msg));
    // the bad value is reported even next to good ones, and before an unknown name
    expect(() => createSim({ cost: { mapCalls: 1, completionWaits: ns as number, bogus: 1 } })).toThrow(new RangeError(msg));
  });

  it('test_cost_bounds_are_inclusive', () => {
    expect(MAX_EVENT_NS).toBe(1e9);
    expect(costError('mapCalls', 0)).toBe(null);
    expect(costError('mapCalls', 1e9)).toBe(null);
    expect(costError('mapCalls', 0.001)).toBe(null);
    expect(costError('mapCalls', 1e9 + 1)).toBe(`cost of 'mapCalls' must be a number of nanoseconds in [0, ${MAX}], got 1000000001`);
    expect(costError('mapCalls', -0.001)).toBe(`cost of 'mapCalls' must be a number of nanoseconds in [0, ${MAX}], got -0.001`);
    expect(costError('x.y', null)).toBe(`cost of 'x.y' must be a number of nanoseconds in [0, ${MAX}], got null`);
    expect(createSim({ cost: { mapCalls: 0, unmapCalls: 1e9 } }).costTable().unmapCalls.ns).toBe(1e9);
  });

  it('test_override_wins_and_says_so', () => {
    const sim = createSim({ machine: 'broadwell-2021', cost: { mapCalls: 7, 'x.event': 4 } });
    const t = sim.costTable();
    expect(t.mapCalls).toEqual({ ns: 7, source: `override (${machineCosts('broadwell-2021').mapCalls!.source})` });
    // not overridden: the machine's
    expect(t.unmapCalls).toEqual(machineCosts('broadwell-2021').unmapCalls);
    // a package's event: override > machine > the package's own entry
    const m = sim.meter;
    const x = m.register('x.event', { ns: 3, source: 'the package' });
    expect(m.table()['x.event']).toEqual({ ns: 4, source: 'override (the package)' });
    m.register('vfio.gupWalks', { ns: 0, source: 'the package' });
    expect(m.table()['vfio.gupWalks']).toEqual(machineCosts('broadwell-2021')['vfio.gupWalks']);
    m.register('y.event', { ns: 2.5, source: 'the package' });
    expect(m.table()['y.event']).toEqual({ ns: 2.5, source: 'the package' });
    // the clock advances by count x the cost in force
    const t0 = sim.clock.now;
    m.charge(x, 3);
    expect(sim.clock.now - t0).toBe(12);
    expect(sim.counters['x.event']).toBe(3);
  });

  it('test_unknown_core_event_override', () => {
    expect(() => createSim({ cost: { bogus: 1 } })).toThrow(
      new RangeError(`unknown cost event 'bogus' (core events: ${Object.keys(CORE_COSTS).join(', ')})`),
    );
  });
});

describe('README cost tables', () => {
  it('test_readme_cost_table_is_the_default_machines', async () => {
    const { readFileSync } = await import('node:fs');
    const md = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const sec = md.slice(md.indexOf('## Cost table and machines'), md.indexOf('\n## ', md.indexOf('## Cost table and machines') + 5));
    const rows = sec
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| event') && !l.startsWith('| machine'))
      .map((l) => l.split(' | ').map((c) => c.replace(/^\| /, '').trim()));
    const t = createSim().costTable();
    const events = rows.filter((r) => !r[0]!.startsWith('`'));
    expect(events.map((r) => r[0])).toEqual(Object.keys(CORE_COSTS));
    for (const [ev, ns] of events) expect(Number(ns), ev).toBe(t[ev!]!.ns);
    const machines = rows.filter((r) => r[0]!.startsWith('`'));
    expect(machines.map((r) => [r[0], r[1], Number(r[2])])).toEqual(
      MACHINES.map((m) => [`\`${m.name}\``, m.base === null ? '—' : `\`${m.base}\``, m.cpuScale]),
    );
  });
});
