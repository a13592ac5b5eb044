// Typed trace events on the modeled clock. Off by default; callers guard with `if (tr.on)` so a
// disabled tracer costs one branch and no allocation. Events finer than an ioctl are emitted only
// at the detail that asks for them (`if (tr.on && tr.detail >= TRACE_IOMMU)`), and a sink can take
// each event as it happens (a writer streaming to a file) instead of the tracer keeping them all.

import type { SimClock } from './sim/clock.js';

/** One event, close to the Chrome trace-event format: B/E slices, i instants, C counters. */
export interface TraceEvent {
  readonly ph: 'B' | 'E' | 'i' | 'C';
  readonly name: string;
  /** Modeled nanoseconds. */
  readonly ts: number;
  /** Track, e.g. 'vfio', 'iommu', 'amd-iommu'. */
  readonly track: string;
  /** Absent or undefined when the event has none. IOVAs are byte addresses as 0x hex strings (traceIova). */
  readonly args?: Readonly<Record<string, number | string | boolean>> | undefined;
}

/** Detail levels, coarse to fine: the ioctls and phases; plus the driver's map/unmap/sync and VFIO's pins; everything (counters, ...). */
export const TRACE_IOCTL = 1,
  TRACE_IOMMU = 2,
  TRACE_ALL = 3;

/** Takes each event as it is emitted (a streaming writer); the tracer then keeps nothing. */
export type TraceSink = (e: TraceEvent) => void;

/** An IOVA page number as the trace shows IOVAs: the byte address in 0x hex (exact for any 52-bit page number). */
export function traceIova(page: number): string {
  return page === 0 ? '0x0' : `0x${page.toString(16)}000`;
}

export class Tracer {
  on: boolean;
  /** TRACE_IOCTL .. TRACE_ALL: the finest events emitters add (default TRACE_ALL). Read only while `on`. */
  detail: number;
  /** Events so far, when no sink is set. */
  readonly events: TraceEvent[] = [];
  /** When set, every event goes here and `events` stays empty. */
  sink: TraceSink | null;
  constructor(
    private readonly clock: SimClock,
    on = false,
  ) {
    this.on = on;
    this.detail = TRACE_ALL;
    this.sink = null;
  }
  begin(track: string, name: string, args?: Record<string, number | string | boolean>): void {
    this.emit({ ph: 'B', name, ts: this.clock.now, track, args });
  }
  end(track: string, name: string, args?: Record<string, number | string | boolean>): void {
    this.emit({ ph: 'E', name, ts: this.clock.now, track, args });
  }
  instant(track: string, name: string, args?: Record<string, number | string | boolean>): void {
    this.emit({ ph: 'i', name, ts: this.clock.now, track, args });
  }
  counter(track: string, name: string, args: Record<string, number>): void {
    this.emit({ ph: 'C', name, ts: this.clock.now, track, args });
  }
  clear(): void {
    this.events.length = 0;
  }
  private emit(e: TraceEvent): void {
    if (this.sink !== null) this.sink(e);
    else this.events.push(e);
  }
}
