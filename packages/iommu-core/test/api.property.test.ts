// Random map/unmap/iova_to_phys sequences against an obviously-correct model (plain arrays and a
// Map of leaves, BigInt page-size choice). FC_RUNS=20000 (pnpm test:deep) runs more; seed is fixed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createReferenceDriver,
  createSim,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmap,
  SZ_1G,
  SZ_2M,
  SZ_4K,
  type RefDomain,
} from '../src/index.js';

const WINDOW = 8192; // IOVA pages exercised (32 MiB)
const RUNS = Number(process.env.FC_RUNS ?? 1500);

function bmOrders(bm: bigint): number[] {
  const orders: number[] = [];
  for (let o = 12; o < 40; o++) if ((bm >> BigInt(o)) & 1n) orders.push(o);
  return orders;
}

function refOrder(orders: number[], iova: number, pfn: number, n: number): [number, number] {
  // largest size allowed by size and by the alignment of iova|pfn, cut at the next larger boundary
  const al = (x: number): number => (x === 0 ? 64 : Math.log2(x & -x));
  const lim = 12 + Math.min(Math.floor(Math.log2(n)), al(iova), al(pfn));
  const cand = orders.filter((o) => o <= lim);
  const o = cand[cand.length - 1]!;
  const next = orders.find((x) => x > o);
  let size = n;
  if (next !== undefined) {
    const m = 2 ** (next - 12);
    if (iova % m === pfn % m) {
      const off = m - (iova % m);
      if (off + m <= size) size = off;
    }
  }
  return [o, Math.floor(size / 2 ** (o - 12))];
}

class Model {
  owner = new Int32Array(WINDOW).fill(-1); // page -> leaf start
  leaves = new Map<number, { pfn: number; pages: number }>();
  readonly orders: number[];
  constructor(bm: bigint) {
    this.orders = bmOrders(bm);
  }
  map(iova: number, pfn: number, n: number): string {
    for (let p = iova; p < iova + n; p++) if (this.owner[p] !== -1) return 'EBUSY';
    let done = 0;
    while (done < n) {
      const [o, c] = refOrder(this.orders, iova + done, pfn + done, n - done);
      const lp = 2 ** (o - 12);
      for (let k = 0; k < c; k++) {
        const s = iova + done + k * lp;
        this.leaves.set(s, { pfn: pfn + done + k * lp, pages: lp });
        this.owner.fill(s, s, s + lp);
      }
      done += c * lp;
    }
    return 'ok';
  }
  private removeRange(start: number, len: number): number {
    let c = start,
      removed = 0;
    while (c < start + len && c < WINDOW) {
      const s = this.owner[c]!;
      if (s === -1) break;
      const l = this.leaves.get(s)!;
      this.leaves.delete(s);
      this.owner.fill(-1, s, s + l.pages);
      removed += l.pages;
      c = s + l.pages;
    }
    return removed;
  }
  unmap(iova: number, n: number): number {
    let un = 0;
    while (un < n) {
      const cur = iova + un;
      const [o, c] = refOrder(this.orders, cur, cur, n - un);
      const got = this.removeRange(cur, c * 2 ** (o - 12));
      if (got === 0) break;
      un += got;
    }
    return un;
  }
  phys(iova: number): number {
    const s = this.owner[iova]!;
    return s === -1 ? -1 : this.leaves.get(s)!.pfn + (iova - s);
  }
}

type Op = { k: 'map'; iova: number; pfn: number; n: number } | { k: 'unmap'; iova: number; n: number } | { k: 'phys'; iova: number };
const aligned = (maxPages: number) =>
  fc.tuple(fc.integer({ min: 0, max: 9 }), fc.nat()).map(([a, r]) => (r % Math.floor(maxPages / 2 ** a)) * 2 ** a);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('map' as const), iova: aligned(WINDOW - 1024), pfn: aligned(1 << 20), n: fc.integer({ min: 1, max: 1024 }) }),
  fc.record({ k: fc.constant('unmap' as const), iova: aligned(WINDOW - 1024), n: fc.integer({ min: 1, max: 1024 }) }),
  fc.record({ k: fc.constant('phys' as const), iova: fc.integer({ min: 0, max: WINDOW - 1 }) }),
);

describe.each([
  ['vtd', SZ_4K | SZ_2M | SZ_1G],
  ['fine', ((1n << 39n) - 1n) & ~0xfffn],
])('test_random_map bitmap=%s', (_name, bm) => {
  it(`matches the model over ${RUNS} sequences`, () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), (ops) => {
        const sim = createSim({ memory: 64n << 20n, seed: 1 });
        const dom = createReferenceDriver(sim, { pgsizeBitmap: bm }).domainAlloc() as RefDomain;
        const m = new Model(bm);
        for (const op of ops) {
          if (op.k === 'map') {
            let got = 'ok';
            try {
              iommuMap(dom, op.iova, op.pfn, op.n, 3);
            } catch (e) {
              got = (e as { code: string }).code;
            }
            expect(got).toBe(m.map(op.iova, op.pfn, op.n));
          } else if (op.k === 'unmap') {
            expect(iommuUnmap(dom, op.iova, op.n)).toBe(m.unmap(op.iova, op.n));
          } else {
            expect(iommuIovaToPhys(dom, op.iova)).toBe(m.phys(op.iova));
          }
        }
        // one expect per sequence: vitest's expect is too slow to call per page
        const diff: number[] = [];
        for (let p = 0; p < WINDOW; p += 3) if (iommuIovaToPhys(dom, p) !== m.phys(p)) diff.push(p);
        expect(diff).toEqual([]);
        expect(dom.pt.countLeaves()).toBe(m.leaves.size);
        // tear down: everything unmaps and the tree holds only tables again
        const bad: number[] = [];
        for (const s of [...m.leaves.keys()]) if (iommuUnmap(dom, s, 1) !== m.unmap(s, 1)) bad.push(s);
        expect(bad).toEqual([]);
        expect(dom.pt.countLeaves()).toBe(0);
        expect(sim.mem.reach4k.allZero() && sim.mem.reach2m.allZero()).toBe(true);
      }),
      { seed: 20261125, numRuns: RUNS },
    );
  }, 120_000);
});
