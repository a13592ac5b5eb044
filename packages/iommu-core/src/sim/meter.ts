// Counters and modeled cost in one place: every layer charges named events, each charge bumps a
// counter and advances the shared clock by count * cost. Indexed typed arrays keep charging cheap.

import type { SimClock } from './clock.js';
import { CORE_COSTS, type CostEntry, type CoreEvent } from './cost.js';
import { DEFAULT_MACHINE, costError, machineCosts } from './machines.js';

const CORE_NAMES = Object.keys(CORE_COSTS) as CoreEvent[];

/** Core event ids, fixed so hot paths use constants. */
export const EV = Object.freeze(Object.fromEntries(CORE_NAMES.map((n, i) => [n, i]))) as { readonly [K in CoreEvent]: number };

export class Meter {
  readonly names: string[] = [];
  readonly sources: string[] = [];
  count = new Float64Array(64);
  timeNs = new Float64Array(64);
  costNs = new Float64Array(64);
  private readonly index = new Map<string, number>();
  private readonly machineTable: Readonly<Record<string, CostEntry>>;

  /**
   * Costs come from the machine's table (machines.ts), then the registering package's entry; a user
   * override wins over both. RangeError for an unknown machine, an unknown core event or a cost that
   * is not a number of nanoseconds in [0, 1e9].
   */
  constructor(
    private readonly clock: SimClock,
    private readonly overrides: Readonly<Record<string, number>> = {},
    readonly machine: string = DEFAULT_MACHINE,
  ) {
    this.machineTable = machineCosts(machine);
    for (const [k, v] of Object.entries(overrides)) {
      const bad = costError(k, v);
      if (bad !== null) throw new RangeError(bad);
    }
    for (const n of CORE_NAMES) this.register(n, CORE_COSTS[n]);
    for (const k of Object.keys(overrides)) {
      if (!this.index.has(k) && !k.includes('.')) {
        // driver events are registered later; core names must exist now
        throw new RangeError(`unknown cost event '${k}' (core events: ${CORE_NAMES.join(', ')})`);
      }
    }
  }

  /** Registers (or finds) an event: a user override wins over the machine's cost, which wins over `entry`. */
  register(name: string, entry: CostEntry): number {
    const old = this.index.get(name);
    if (old !== undefined) return old;
    const id = this.names.length;
    if (id >= this.count.length) this.grow();
    const m = this.machineTable[name];
    const o = this.overrides[name];
    this.names.push(name);
    this.sources.push(o !== undefined ? `override (${m?.source ?? entry.source})` : m !== undefined ? m.source : entry.source);
    this.costNs[id] = o !== undefined ? o : m !== undefined ? m.ns : entry.ns;
    this.index.set(name, id);
    return id;
  }

  /** Event id by name, or -1. */
  id(name: string): number {
    return this.index.get(name) ?? -1;
  }

  /** Counts n occurrences of ev and advances the clock by their cost. */
  charge(ev: number, n: number): void {
    this.count[ev]! += n;
    const t = this.costNs[ev]! * n;
    this.timeNs[ev]! += t;
    this.clock.now += t;
  }

  /** Snapshot as a flat object: { pteWrites: 123, ... } using the event names. */
  snapshot(): Record<string, number> {
    const o: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) o[this.names[i]!] = this.count[i]!;
    return o;
  }

  /** Modeled time per event name (ns). */
  timeSnapshot(): Record<string, number> {
    const o: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) o[this.names[i]!] = this.timeNs[i]!;
    return o;
  }

  /** The cost table in force: name -> { ns, source }. */
  table(): Record<string, CostEntry> {
    const o: Record<string, CostEntry> = {};
    for (let i = 0; i < this.names.length; i++) o[this.names[i]!] = { ns: this.costNs[i]!, source: this.sources[i]! };
    return o;
  }

  private grow(): void {
    const n = this.count.length * 2;
    const c = new Float64Array(n);
    c.set(this.count);
    this.count = c;
    const t = new Float64Array(n);
    t.set(this.timeNs);
    this.timeNs = t;
    const k = new Float64Array(n);
    k.set(this.costNs);
    this.costNs = k;
  }
}
