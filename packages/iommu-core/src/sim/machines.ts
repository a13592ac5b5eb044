// Named hardware cost tables: what each timed event costs on one host that published measurements
// of this path come from. The default machine carries a full table; every other machine inherits
// it, scales the CPU-side work by one factor and sets the events its own figures determine.
// vfio-sim validate (docs/validation.md) shows each machine's figures next to the model's.

import { MACHINE_TABLES } from './machine-tables.js';
import type { CostEntry, MachineProfile } from './machine-profile.js';

export type { MachineProfile };

/**
 * Events whose cost is the IOMMU's or the memory system's latency, not CPU work: a machine's
 * cpuScale leaves them alone (a slower CPU does not make an invalidation take longer).
 */
export const HW_EVENTS: ReadonlySet<string> = new Set([
  'invalidations',
  'completionWaits',
  'walkLevels',
  'iotlbHits',
  'amd.cmd.submit',
  'amd.dte.fetch',
  'amd.cmd.INVALIDATE_DEVTAB_ENTRY',
]);

/** The most one occurrence of an event may cost: one second. A larger override is a typo, not a machine. */
export const MAX_EVENT_NS = 1e9;

/** Machine of createSim() when none is given, and of vfio-sim's runs. */
export const DEFAULT_MACHINE = 'lizhe-2025';

const BY_NAME = new Map<string, MachineProfile>(MACHINE_TABLES.map((m) => [m.name, m]));

/** Every machine, the default first. */
export const MACHINES: readonly MachineProfile[] = MACHINE_TABLES;
/** Machine names, the default first. */
export const MACHINE_NAMES: readonly string[] = Object.freeze(MACHINE_TABLES.map((m) => m.name));

export function isMachineName(v: unknown): v is string {
  return typeof v === 'string' && BY_NAME.has(v);
}

/** The message for a name that is not a machine. */
export function machineError(v: unknown): string {
  return `unknown machine '${String(v)}' (machines: ${MACHINE_NAMES.join(', ')})`;
}

/** The profile of a machine; RangeError naming the machines for anything else. */
export function machineProfile(name: string): MachineProfile {
  const m = BY_NAME.get(name);
  if (m === undefined) throw new RangeError(machineError(name));
  return m;
}

const resolved = new Map<string, Readonly<Record<string, CostEntry>>>();

/**
 * A machine's full cost table: its own costs, then its base's (CPU-side ones times cpuScale), each
 * with a source that says where the number came from.
 */
export function machineCosts(name: string): Readonly<Record<string, CostEntry>> {
  const hit = resolved.get(name);
  if (hit !== undefined) return hit;
  const m = machineProfile(name);
  const out: Record<string, CostEntry> = {};
  if (m.base !== null) {
    const base = machineCosts(m.base);
    for (const [ev, e] of Object.entries(base)) {
      // no shipped table has a zero cost (a count-only event is absent from all), so none is special here
      const scaled = m.cpuScale !== 1 && !HW_EVENTS.has(ev);
      out[ev] = scaled
        ? { ns: round3(e.ns * m.cpuScale), source: `${m.base} x ${m.cpuScale} (${m.scaleSource}); there: ${e.source}` }
        : { ns: e.ns, source: `as ${m.base}: ${e.source}` };
    }
  }
  Object.assign(out, m.costs);
  const frozen = Object.freeze(out);
  resolved.set(name, frozen);
  return frozen;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Checks one cost a user gave (createSim({ cost }), --cost, a scenario or replay file): a finite
 * number of nanoseconds in [0, MAX_EVENT_NS]. Returns the message for a bad one, else null.
 */
export function costError(event: string, ns: unknown): string | null {
  if (typeof ns !== 'number' || !Number.isFinite(ns) || ns < 0 || ns > MAX_EVENT_NS) {
    return `cost of '${event}' must be a number of nanoseconds in [0, ${MAX_EVENT_NS}], got ${typeof ns === 'number' ? String(ns) : JSON.stringify(ns)}`;
  }
  return null;
}
