// The bit helpers under iommu_pgsize() (__ffs / __fls on page numbers up to 2^53, where int32
// bit tricks stop working) and POW2, checked against BigInt arithmetic done here.
import { describe, expect, it } from 'vitest';
import { POW2, ctz, fls } from '../src/internals.js';

const bigCtz = (x: number): number => {
  let b = BigInt(x),
    n = 0;
  while ((b & 1n) === 0n) {
    b >>= 1n;
    n++;
  }
  return n;
};
const bigFls = (x: number): number => BigInt(x).toString(2).length - 1;

// around every power of two from 2^0 to 2^52, odd multiples of high powers, and 2^53 - 1
const SAMPLES: number[] = [];
for (let k = 0; k <= 52; k++) for (const d of [-1, 0, 1]) if (2 ** k + d >= 1) SAMPLES.push(2 ** k + d);
for (const k of [31, 32, 33, 40, 47]) for (const m of [3, 5, 255]) SAMPLES.push(m * 2 ** k);
SAMPLES.push(2 ** 53 - 1, 0x7fffffff, 0x80000000, 0xffffffff);

describe('ctz and fls', () => {
  it('test_ctz_matches_bigint: below and above 2^31 and 2^32, and 64 for 0', () => {
    expect(SAMPLES.map(ctz)).toEqual(SAMPLES.map(bigCtz));
    expect(ctz(0)).toBe(64);
    expect([ctz(2 ** 32), ctz(3 * 2 ** 32), ctz(2 ** 52)]).toEqual([32, 32, 52]); // the high-word path
  });

  it('test_fls_matches_bigint: floor(log2) on both sides of 2^32', () => {
    expect(SAMPLES.map(fls)).toEqual(SAMPLES.map(bigFls));
    expect([fls(2 ** 32 - 1), fls(2 ** 32), fls(2 ** 53 - 1)]).toEqual([31, 32, 52]);
  });

  it('test_pow2_table: 64 entries, 2^k each, frozen', () => {
    expect(POW2.length).toBe(64);
    expect(POW2.every((v, k) => BigInt(v) === 1n << BigInt(k))).toBe(true);
    expect(Object.isFrozen(POW2)).toBe(true);
  });
});
