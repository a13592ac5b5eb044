// Seeded random MAP/UNMAP sequences against an interval-list oracle of the kernel's rules: results,
// errno, sizes written back, locked_vm, and a clean checker walk after every step.
import { afterEach, describe, expect, it } from 'vitest';
import { Prng } from '@x/iommu-core/internals';
import type { Profile } from '../src/index.js';
import { RW, expectCleanClose, makeEnv, type Env } from './helpers.js';

let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

interface M {
  iova: number;
  size: number;
}
const SPACE = 2048; // pages of IOVA (8 MiB), identity-mapped to the VMA

/** The kernel's UNMAP result on the oracle: 'EINVAL' or pages removed. */
function oracleUnmap(ms: M[], lo: number, hi: number, v2: boolean): number | 'EINVAL' {
  const inside = (p: number) => ms.find((m) => m.iova <= p && p < m.iova + m.size);
  if (v2) {
    const a = inside(lo),
      z = inside(hi);
    if ((a && a.iova !== lo) || (z && z.iova + z.size - 1 !== hi)) return 'EINVAL';
  }
  const over = ms.filter((m) => m.iova + m.size - 1 >= lo && m.iova <= hi).sort((x, y) => x.iova - y.iova);
  let total = 0;
  for (const m of over) {
    if (!v2 && lo > m.iova) break;
    total += m.size;
    ms.splice(ms.indexOf(m), 1);
  }
  return total;
}

describe.each<[Profile, boolean]>([
  ['v4.16', false],
  ['v4.17', true],
  ['v4.17', false],
  ['mainline', true],
])('random profile=%s v2=%s', (profile, v2) => {
  it('test_random_map_unmap_vs_oracle', () => {
    e = makeEnv({ profile, v1: !v2, memory: 1n << 30n });
    const va = e.proc.mmap(BigInt(SPACE) << 12n, { backing: 'fragmented:0.5' });
    const rng = new Prng(profile.length * 31 + (v2 ? 1 : 0));
    const ms: M[] = [];
    let maps = 0,
      unmaps = 0;
    for (let step = 0; step < 300; step++) {
      const iova = rng.int(SPACE - 64),
        size = 1 + rng.int(rng.next() < 0.3 ? 64 : 8);
      const bytes = (p: number) => BigInt(p) << 12n;
      if (rng.next() < 0.55) {
        const hit = ms.some((m) => m.iova < iova + size && iova < m.iova + m.size);
        const call = () => e.c.mapDma({ vaddr: va + bytes(iova), iova: bytes(iova), size: bytes(size), flags: RW });
        if (hit) expect(call).toThrow(expect.objectContaining({ code: 'EEXIST', errno: -17 }));
        else {
          call();
          ms.push({ iova, size });
          maps++;
        }
      } else {
        const want = oracleUnmap(ms, iova, iova + size - 1, v2);
        const call = () => e.c.unmapDma({ iova: bytes(iova), size: bytes(size) });
        if (want === 'EINVAL') expect(call).toThrow(expect.objectContaining({ code: 'EINVAL', errno: -22 }));
        else {
          expect(call()).toEqual({ size: bytes(want) });
          unmaps++;
        }
      }
      expect(e.proc.lockedVm).toBe(ms.reduce((a, m) => a + m.size, 0));
      expect(e.c.mappings().map((m) => [Number(m.iova >> 12n), Number(m.size >> 12n)])).toEqual(
        [...ms].sort((x, y) => x.iova - y.iova).map((m) => [m.iova, m.size]),
      );
    }
    expect(e.c.check()).toEqual([]);
    expect(e.sim.violations).toEqual([]);
    expect([e.c.stats().mapCalls, e.c.stats().unmapCalls]).toEqual([maps, unmaps]);
    expect(Math.min(maps, unmaps)).toBeGreaterThan(20); // the sequence exercised both
  });
});
