// Typed trace events on the modeled clock. Off by default; callers guard with `if (tr.on)` so a
// disabled tracer costs one branch and no allocation.

import type { SimClock } from './sim/clock.js';

/** One event, close to the Chrome trace-event format: B/E slices, i instants, C counters. */
export interface TraceEvent {
  readonly ph: 'B' | 'E' | 'i' | 'C';
  readonly name: string;
  /** Modeled nanoseconds. */
  readonly ts: number;
  /** Track, e.g. 'vfio', 'iommu', 'amd-iommu'. */
  readonly track: string;
  /** Absent or undefined when the event has none. */
  readonly args?: Readonly<Record<string, number | string | boolean>> | undefined;
}

export class Tracer {
  on: boolean;
  readonly events: TraceEvent[] = [];
  constructor(private readonly clock: SimClock, on = false) { this.on = on; }
  begin(track: string, name: string, args?: Record<string, number | string | boolean>): void {
    this.events.push({ ph: 'B', name, ts: this.clock.now, track, args });
  }
  end(track: string, name: string, args?: Record<string, number | string | boolean>): void {
    this.events.push({ ph: 'E', name, ts: this.clock.now, track, args });
  }
  instant(track: string, name: string, args?: Record<string, number | string | boolean>): void {
    this.events.push({ ph: 'i', name, ts: this.clock.now, track, args });
  }
  counter(track: string, name: string, args: Record<string, number>): void {
    this.events.push({ ph: 'C', name, ts: this.clock.now, track, args });
  }
  clear(): void { this.events.length = 0; }
}
