// The shapes of the cost data: one event's cost and a machine's table of them. A module of its own
// because the tables (machine-tables.ts), their lookup (machines.ts) and the core's default costs
// (cost.ts) all need them, and cost.ts reads the tables.

/** What one occurrence of an event costs, and the figure that determines it. */
export interface CostEntry {
  readonly ns: number;
  readonly source: string;
}

/** A machine: a host that published figures come from, and what the model's events cost on it. */
export interface MachineProfile {
  readonly name: string;
  /** The hardware, as far as its source describes it. */
  readonly host: string;
  /** The published measurements taken on it (what determines its own costs). */
  readonly measured: string;
  /** The machine it inherits every other cost from, or null for the default (a full table). */
  readonly base: string | null;
  /** Factor on the CPU-side costs it inherits (1 = as fast as its base). */
  readonly cpuScale: number;
  /** Which figure determines cpuScale. */
  readonly scaleSource: string;
  /** The costs this host's figures determine (or that differ from its base). */
  readonly costs: Readonly<Record<string, CostEntry>>;
}
