// The core's events: each charge of one bumps a counter and advances the modeled clock by its cost.
// What an event costs depends on the machine (machine-tables.ts); the entries here are the default
// machine's, and the count-only events, which cost nothing anywhere.

import { MACHINE_TABLES } from './machine-tables.js';
import type { CostEntry } from './machine-profile.js';

export type { CostEntry };

const COUNT = (what: string): CostEntry => ({ ns: 0, source: `count only: ${what}` });
const dflt = MACHINE_TABLES[0]!.costs;
const TIMED = (ev: string): CostEntry => dflt[ev]!;

/** Core events with the default machine's costs. Drivers register their own (see Meter.register) with the same shape. */
export const CORE_COSTS = Object.freeze({
  mapCalls: TIMED('mapCalls'),
  unmapCalls: TIMED('unmapCalls'),
  pteWrites: TIMED('pteWrites'),
  pteClears: TIMED('pteClears'),
  tableAllocs: TIMED('tableAllocs'),
  tableFrees: TIMED('tableFrees'),
  iotlbSyncs: COUNT('the driver charges the commands it issues for the sync'),
  iotlbRangeAdds: TIMED('iotlbRangeAdds'),
  iotlbFlushes: COUNT('driver flush operations; invalidations and waits are charged separately'),
  invalidations: TIMED('invalidations'),
  completionWaits: TIMED('completionWaits'),
  pins: COUNT('pages pinned; the GUP work is charged by the caller (vfio.gup*)'),
  unpins: COUNT('pages unpinned; the work is charged by the caller (vfio.unpin*)'),
  iovaToPhys: TIMED('iovaToPhys'),
  iotlbHits: TIMED('iotlbHits'),
  iotlbMisses: COUNT('the walk is charged per level read (walkLevels)'),
  walkLevels: TIMED('walkLevels'),
  dmaPages: COUNT('pages a device touched'),
  faults: COUNT('IO page faults'),
  // populate-on-pin (an mmap without MAP_POPULATE): get_user_pages faults each page in and clears it
  pageFaults: TIMED('pageFaults'),
  pageZeroes: TIMED('pageZeroes'),
} as const satisfies Record<string, CostEntry>);

export type CoreEvent = keyof typeof CORE_COSTS;
