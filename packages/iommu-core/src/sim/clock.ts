// Modeled time: a single monotonically increasing nanosecond counter shared by every layer.

export class SimClock {
  /** Modeled nanoseconds since the simulation began. */
  now = 0;
  advance(ns: number): void {
    this.now += ns;
  }
}
