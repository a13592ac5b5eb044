// One simulated machine: host RAM, the modeled clock, the cost table and counters, the tracer,
// the fault injector, the safety checker and the seeded PRNG every component draws from.

import { PhysMem } from './physmem.js';
import { parseBacking } from './mem/backing.js';
import { SafetyChecker, type Violation } from './sim/checker.js';
import { SimClock } from './sim/clock.js';
import { FaultInjector } from './sim/faults.js';
import { Meter } from './sim/meter.js';
import { Prng } from './sim/prng.js';
import { Tracer } from './trace.js';

export interface SimOptions {
  /** Host RAM in bytes (multiple of 2 MiB). Default 64 GiB. */
  memory?: bigint;
  /** Default backing profile for process memory: '4k' | 'thp' | 'hugetlb-2m' | 'hugetlb-1g' | 'fragmented[:p]'. Default 'thp'. */
  backing?: string;
  /** PRNG seed. Default 1. */
  seed?: number;
  /** Cost overrides: event name -> ns (see costTable()). */
  cost?: Record<string, number>;
  /** Record trace events. Default false. */
  trace?: boolean;
}

export class Sim {
  readonly clock = new SimClock();
  readonly meter: Meter;
  readonly rng: Prng;
  readonly faults = new FaultInjector();
  readonly checker = new SafetyChecker();
  readonly trace: Tracer;
  readonly mem: PhysMem;
  readonly backing: string;
  readonly seed: number;
  private domainIds = 0;

  constructor(opts: SimOptions = {}) {
    this.seed = opts.seed ?? 1;
    if (!Number.isInteger(this.seed)) throw new RangeError(`seed must be an integer, got ${this.seed}`);
    this.rng = new Prng(this.seed);
    this.meter = new Meter(this.clock, opts.cost ?? {});
    this.trace = new Tracer(this.clock, opts.trace ?? false);
    this.backing = opts.backing ?? 'thp';
    parseBacking(this.backing);
    this.mem = new PhysMem(opts.memory ?? 64n << 30n, this.meter, this.rng.fork(), this.faults, this.checker);
  }

  /** Counters as a flat object: { pteWrites, tableAllocs, iotlbSyncs, ... } (a snapshot). */
  get counters(): Record<string, number> { return this.meter.snapshot(); }
  /** Safety checker findings; empty when all is well. */
  get violations(): Violation[] { return this.checker.violations; }
  /** The cost table in force: event -> { ns, source }. */
  costTable(): Record<string, { ns: number; source: string }> { return this.meter.table(); }
  /** Next domain id (1-based, like AMD's domain ids where 0 is never used). */
  nextDomainId(): number { return ++this.domainIds; }
}

/** Creates a simulated machine. */
export function createSim(opts: SimOptions = {}): Sim { return new Sim(opts); }
