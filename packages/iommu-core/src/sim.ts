// One simulated machine: host RAM, the modeled clock, the cost table and counters, the tracer,
// the fault injector, the safety checker, the probe points' observers and the seeded PRNG every
// component draws from.

import { PhysMem } from './physmem.js';
import { backingError, isBackingProfile, type BackingProfile } from './mem/backing.js';
import { checkHostAge } from './mem/frames.js';
import { SafetyChecker, type Violation } from './sim/checker.js';
import { SimClock } from './sim/clock.js';
import type { CostEntry, CoreEvent } from './sim/cost.js';
import { FaultInjector } from './sim/faults.js';
import { Meter } from './sim/meter.js';
import { SimObservers, type IommuObserver } from './observe.js';
import { DEFAULT_MACHINE } from './sim/machines.js';
import { Prng } from './sim/prng.js';
import { Tracer } from './trace.js';

/** Options of createSim. Every property may be left out or set to undefined: both mean the default. */
export interface SimOptions {
  /** Host RAM in bytes (multiple of 2 MiB, at most 16 TiB). Default 64 GiB. */
  memory?: bigint | undefined;
  /** Default backing profile for process memory: '4k' | 'thp' | 'hugetlb-2m' | 'hugetlb-1g' | 'fragmented[:p]'. Default 'thp'. */
  backing?: BackingProfile | undefined;
  /** PRNG seed (an integer). Default 1. */
  seed?: number | undefined;
  /**
   * The hardware whose costs the clock charges: a machine profile name (MACHINE_NAMES; default
   * DEFAULT_MACHINE, 'lizhe-2025'). Each machine is a host published measurements come from.
   */
  machine?: string | undefined;
  /**
   * Cost overrides: event name -> ns (see costTable()), each a number in [0, 1e9]; core names, or
   * driver names containing a '.'. They win over the machine's costs.
   */
  cost?: Readonly<Record<string, number>> | undefined;
  /** Record trace events. Default false. */
  trace?: boolean | undefined;
  /**
   * Host age a, a number in [0, 1]: how the host's page allocator places process memory. 1 (default)
   * is a long-running, fully fragmented host: 2 MiB blocks and 1 GiB runs from random free memory,
   * 4 KiB pages scattered so VMA neighbours are almost never physically contiguous. 0 is a freshly
   * booted buddy allocator: each block, 1 GiB run and 4 KiB page is the next free one in address
   * order, so a '4k' VMA gets long physically contiguous runs. In between, each pick is the fresh
   * host's with probability 1 - a. At 1 the frames are exactly those of earlier versions for a seed.
   */
  hostAge?: number | undefined;
}

/**
 * sim.counters: one count per event. The core events (CoreEvent: pteWrites, iotlbSyncs, ...) are
 * always present, so they type as number; drivers' events ('amd.*', ...) are there once registered.
 */
export type SimCounters = Readonly<Record<CoreEvent, number>> & Readonly<Record<string, number>>;
/** sim.costTable(): event -> { ns, source }, core events always present (see SimCounters). */
export type SimCostTable = Readonly<Record<CoreEvent, CostEntry>> & Readonly<Record<string, CostEntry>>;

export class Sim {
  readonly clock = new SimClock();
  readonly meter: Meter;
  readonly rng: Prng;
  readonly faults = new FaultInjector();
  readonly checker = new SafetyChecker();
  readonly trace: Tracer;
  /** The subscribers of the core's probe points and their emitters (see observe()). */
  readonly observers = new SimObservers();
  readonly mem: PhysMem;
  readonly backing: BackingProfile;
  readonly seed: number;
  /** The machine profile in force (SimOptions.machine). */
  readonly machine: string;
  /** The host age in force (SimOptions.hostAge). */
  readonly hostAge: number;
  private domainIds = 0;

  constructor(opts: SimOptions = {}) {
    this.seed = opts.seed ?? 1;
    if (!Number.isInteger(this.seed)) throw new RangeError(`seed must be an integer, got ${this.seed}`);
    this.rng = new Prng(this.seed);
    this.machine = opts.machine ?? DEFAULT_MACHINE;
    this.meter = new Meter(this.clock, opts.cost ?? {}, this.machine);
    this.trace = new Tracer(this.clock, opts.trace ?? false);
    const backing = opts.backing ?? 'thp';
    // a bad option is the caller's bug: RangeError, like memory, seed and cost (allocBacking's EINVAL is the mmap's)
    if (!isBackingProfile(backing)) throw new RangeError(backingError(backing));
    this.backing = backing;
    // checked before PhysMem draws its fork, like backing above (FrameAllocator checks it again for direct users)
    this.hostAge = checkHostAge(opts.hostAge ?? 1);
    this.mem = new PhysMem(opts.memory ?? 64n << 30n, this.meter, this.rng.fork(), this.faults, this.checker, this.hostAge, this.observers);
  }

  /** Counters as a flat object: { pteWrites, tableAllocs, iotlbSyncs, ... } (a snapshot). */
  get counters(): SimCounters {
    return this.meter.snapshot() as SimCounters;
  }
  /** Safety checker findings; empty when all is well. */
  get violations(): Violation[] {
    return this.checker.violations;
  }
  /** The cost table in force: event -> { ns, source }. */
  costTable(): SimCostTable {
    return this.meter.table() as SimCostTable;
  }
  /**
   * Subscribes an observer to the core's probe points (kernel tracepoints map and unmap, and the
   * driver and GUP calls VFIO makes: see IommuObserver); returns the function that unsubscribes it.
   * TypeError when `observer` is not an object whose hooks are functions.
   */
  observe(observer: IommuObserver): () => void {
    return this.observers.subscribe(observer);
  }
  /** Next domain id (1-based, like AMD's domain ids where 0 is never used). */
  nextDomainId(): number {
    return ++this.domainIds;
  }
}

/**
 * Creates a simulated machine. RangeError for options that are a caller's bug: memory not a positive
 * multiple of 2 MiB (or above 16 TiB), a seed that is not an integer, an unknown machine, an unknown cost event or a
 * cost outside [0, 1e9] ns, an unknown backing profile, a hostAge that is not a number in [0, 1].
 */
export function createSim(opts: SimOptions = {}): Sim {
  return new Sim(opts);
}
