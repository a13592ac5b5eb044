// Seeded fault injection: fail the n-th occurrence of an injection point. Every point counts how
// often it was reached, so a harness can enumerate "fail occurrence k" for k = 1..reached.
//   unmapFast:           iommu_unmap_fast refuses: nothing is unmapped, it returns 0;
//   unmapFastUnderreport: iommu_unmap_fast unmaps (and the driver queues the invalidation) but
//                        returns 0, i.e. the driver under-reports; reached once per fast unmap that
//                        got past 'unmapFast'.

export const FAULT_POINTS = Object.freeze(['tableAlloc', 'pin', 'map', 'unmapFast', 'sync', 'unmapFastUnderreport'] as const);
export type FaultPoint = (typeof FAULT_POINTS)[number];
export const FP_TABLE_ALLOC = 0,
  FP_PIN = 1,
  FP_MAP = 2,
  FP_UNMAP_FAST = 3,
  FP_SYNC = 4,
  FP_UNMAP_FAST_UNDERREPORT = 5;

export class FaultInjector {
  /** True while any point is armed; hot paths test this before calling hit(). */
  armed = false;
  /** Times each point was reached since the last reset. */
  readonly reached = new Float64Array(FAULT_POINTS.length);
  private readonly failAt = new Float64Array(FAULT_POINTS.length);
  /** Points that fired, in order. */
  readonly fired: FaultPoint[] = [];

  /** Fail the nth (1-based) future occurrence of `point`, counted from now. */
  arm(point: FaultPoint, nth = 1): void {
    const p = FAULT_POINTS.indexOf(point);
    if (p < 0) throw new RangeError(`unknown fault point '${point}'`);
    if (!(Number.isInteger(nth) && nth >= 1)) throw new RangeError(`nth must be an integer >= 1, got ${nth}`);
    this.failAt[p] = this.reached[p]! + nth;
    this.armed = true;
  }
  disarm(): void {
    this.failAt.fill(0);
    this.armed = false;
  }
  resetCounts(): void {
    this.reached.fill(0);
    this.fired.length = 0;
  }

  /** Records one occurrence of point p that cannot fail: for a second point on a hot path, `if (!armed)`. */
  pass(p: number): void {
    this.reached[p]!++;
  }

  /** Records one occurrence of point p; true when this occurrence must fail. */
  hit(p: number): boolean {
    const n = ++this.reached[p]!;
    if (this.armed && this.failAt[p] === n) {
      this.failAt[p] = 0;
      this.armed = this.failAt.some((x) => x !== 0);
      this.fired.push(FAULT_POINTS[p]!);
      return true;
    }
    return false;
  }
}
