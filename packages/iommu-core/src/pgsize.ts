// Models iommu_pgsize() (drivers/iommu/iommu.c, map_pages form, v5.15+): the largest supported
// page size that the alignment of iova|paddr and the remaining size allow, and how many of them to
// emit before a larger size becomes usable. Pages and orders, no BigInt, no shared state: the
// count comes back in the caller's out object.

/** Trailing zero bits of a non-negative integer < 2^53; 64 for 0 (aligned to everything). */
export function ctz(x: number): number {
  if (x === 0) return 64;
  if (x <= 0x7fffffff) return 31 - Math.clz32(x & -x); // int32 fast path
  const lo = x % 4294967296;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  const hi = Math.floor(x / 4294967296);
  return 32 + 31 - Math.clz32(hi & -hi);
}

/** floor(log2(x)) for x >= 1. */
export function fls(x: number): number {
  return x < 4294967296 ? 31 - Math.clz32(x) : 32 + 31 - Math.clz32(Math.floor(x / 4294967296));
}

/**
 * 2^k for k < 64 as a typed table: the package's hot paths index it because `2 ** k` with a
 * variable k calls Math.pow. Written once here, never again; not exported from the package
 * (POW2 below is its frozen public twin).
 */
export const POW2_TABLE = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);

/** POW2[k] = 2^k for k < 64 (frozen). */
export const POW2: readonly number[] = Object.freeze(Array.from({ length: 64 }, (_, k) => 2 ** k));

/** Where pgsizeCount reports the run length. */
export interface PgsizeCountOut {
  count: number;
}

/**
 * iommu_pgsize()'s size choice: the index in the ascending supported orders of the largest one
 * that the alignment of iova and pfn and the npages left allow, or -1 when none does (the kernel
 * BUG()s). Pair with pgsizeRunCount; the core's loops call the two (no out object, no shared state).
 */
export function pgsizeIndex(orders: readonly number[], iova: number, pfn: number, npages: number): number {
  if (npages === 1 && orders[0] === 12) return 0; // the single-page call
  const maxOrder = 12 + Math.min(fls(npages), Math.min(ctz(iova), ctz(pfn)));
  let k = -1;
  for (let i = 0; i < orders.length; i++) {
    if (orders[i]! <= maxOrder) k = i;
    else break;
  }
  return k;
}

/**
 * iommu_pgsize()'s count for the size orders[k] (k from pgsizeIndex, >= 0): how many pages of it to
 * emit before the next larger supported size becomes usable, or all npages allow.
 */
export function pgsizeRunCount(orders: readonly number[], k: number, iova: number, pfn: number, npages: number): number {
  if (npages === 1) return 1;
  let size = npages;
  const next = orders[k + 1];
  if (next !== undefined) {
    const m = POW2_TABLE[next - 12]!;
    // a larger size needs iova and pfn to share their offset inside it
    if (iova % m === pfn % m) {
      const offset = m - (iova % m);
      if (offset + m <= size) size = offset;
    }
  }
  return Math.floor(size / POW2_TABLE[orders[k]! - 12]!);
}

/**
 * Chooses the page order for the next run at iova -> pfn with npages left, from the ascending
 * supported orders, and writes the run length (in pages of that order; 0 when none fits) to
 * out.count when an out object is given. Returns the order, or -1 when no supported size fits.
 */
export function pgsizeCount(orders: readonly number[], iova: number, pfn: number, npages: number, out?: PgsizeCountOut): number {
  const k = pgsizeIndex(orders, iova, pfn, npages);
  if (out !== undefined) out.count = k < 0 ? 0 : pgsizeRunCount(orders, k, iova, pfn, npages);
  return k < 0 ? -1 : orders[k]!;
}
