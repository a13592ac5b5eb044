// Host memory: backing profiles, determinism, contiguity, ENOMEM with nothing leaked, pin counts.
import { describe, expect, it } from 'vitest';
import { backingPfn, createSim, IommuError } from '../src/index.js';
import { FRAME_FREE, FRAME_USER } from '../src/internals.js';

function contiguousPairs(pfnAt: (i: number) => number, n: number): number {
  let c = 0;
  for (let i = 1; i < n; i++) if (pfnAt(i) === pfnAt(i - 1) + 1) c++;
  return c;
}

describe('PhysMem', () => {
  it('test_backing_thp: 2 MiB runs, 2 MiB aligned, user frames', () => {
    const sim = createSim({ memory: 4n << 30n, seed: 7 });
    const b = sim.mem.allocBacking(4096, 'thp');
    expect(b.runOrder).toBe(9);
    expect(b.pfns.length).toBe(8);
    for (const p of b.pfns) expect(p % 512).toBe(0);
    expect(sim.mem.frameState(backingPfn(b, 4095))).toBe(FRAME_USER);
    expect(sim.mem.frames.framesInUse).toBe(4096);
  });

  it('test_backing_hugetlb_1g: naturally aligned 1 GiB runs; a length that is not a multiple is EINVAL', () => {
    const sim = createSim({ memory: 4n << 30n });
    const b = sim.mem.allocBacking(2 * 262144, 'hugetlb-1g');
    expect([...b.pfns].map((p) => p % 262144)).toEqual([0, 0]);
    expect(() => sim.mem.allocBacking(512, 'hugetlb-1g')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('test_backing_4k_scattered: neighbours are almost never contiguous, all distinct', () => {
    const sim = createSim({ memory: 4n << 30n, seed: 3 });
    const b = sim.mem.allocBacking(20000, '4k');
    expect(b.runOrder).toBe(0);
    expect(new Set(b.pfns).size).toBe(20000);
    expect(contiguousPairs((i) => b.pfns[i]!, 20000)).toBeLessThan(200);
  });

  it('test_backing_fragmented: p=0.25 leaves about a quarter of 2 MiB regions scattered', () => {
    const sim = createSim({ memory: 8n << 30n, seed: 5 });
    const b = sim.mem.allocBacking(512 * 400, 'fragmented:0.25');
    let huge = 0;
    for (let r = 0; r < 400; r++) if (contiguousPairs((i) => b.pfns[r * 512 + i]!, 512) === 511 && b.pfns[r * 512]! % 512 === 0) huge++;
    expect(huge).toBeGreaterThan(260);
    expect(huge).toBeLessThan(340);
  });

  it('test_backing_deterministic: the same seed gives the same frames; another seed does not', () => {
    const a = createSim({ memory: 4n << 30n, seed: 11 }).mem.allocBacking(3000, 'fragmented');
    const b = createSim({ memory: 4n << 30n, seed: 11 }).mem.allocBacking(3000, 'fragmented');
    const c = createSim({ memory: 4n << 30n, seed: 12 }).mem.allocBacking(3000, 'fragmented');
    expect(Buffer.from(a.pfns.buffer).equals(Buffer.from(b.pfns.buffer))).toBe(true);
    expect(Buffer.from(a.pfns.buffer).equals(Buffer.from(c.pfns.buffer))).toBe(false);
  });

  it('test_backing_enomem: a guest bigger than the host fails with nothing allocated', () => {
    const sim = createSim({ memory: 64n << 20n });
    expect(() => sim.mem.allocBacking(20000, '4k')).toThrow(IommuError);
    expect(sim.mem.frames.framesInUse).toBe(0);
    const part = sim.mem.allocBacking(8192, 'thp');
    expect(() => sim.mem.allocBacking(16384, 'thp')).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(sim.mem.frames.framesInUse).toBe(8192);
    sim.mem.freeBacking(part);
    expect(sim.mem.frames.framesInUse).toBe(0);
    expect(sim.mem.frameState(part.pfns[0]!)).toBe(FRAME_FREE);
  });

  it('test_backing_bad_name: an unknown profile names the valid ones (mmap EINVAL; createSim RangeError)', () => {
    const sim = createSim({ memory: 64n << 20n });
    const help =
      '(one of 4k, thp, hugetlb-2m, hugetlb-1g, fragmented, fragmented:<p>; p in [0,1] is the share of 2 MiB regions left as scattered 4 KiB pages)';
    const e = (() => {
      try {
        // @ts-expect-error -- 'huge' is not a BackingProfile
        sim.mem.allocBacking(1, 'huge');
      } catch (x) {
        return x;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(IommuError);
    expect(e).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'mmap', message: `EINVAL: unknown backing 'huge' ${help}, mmap` });
    // the type admits any number after 'fragmented:'; the range [0, 1] is checked at run time
    expect(() => createSim({ backing: 'fragmented:2' })).toThrow(new RangeError(`unknown backing 'fragmented:2' ${help}`));
    expect(() => createSim({ backing: 'fragmented:2' })).not.toThrow(IommuError);
    expect(createSim({ memory: 64n << 20n, backing: 'fragmented:0.25' }).backing).toBe('fragmented:0.25');
  });

  it('test_pin_counts: pins and unpins are per page and counted', () => {
    const sim = createSim({ memory: 64n << 20n });
    const p = sim.mem.allocFrames(4);
    sim.mem.pin(p, 4);
    sim.mem.pin(p + 1, 1);
    expect([0, 1, 2, 3].map((i) => sim.mem.pinCount(p + i))).toEqual([1, 2, 1, 1]);
    sim.mem.unpin(p, 4);
    expect(sim.mem.pinCount(p + 1)).toBe(1);
    expect(sim.mem.pinnedPages).toBe(1);
    expect([sim.counters.pins, sim.counters.unpins]).toEqual([5, 4]);
    sim.faults.arm('pin', 1);
    expect(sim.mem.pin(p, 1)).toBe(false);
    expect(sim.mem.pinCount(p)).toBe(0);
  });

  it('test_alloc_frames_aligned: contiguous kernel frames honour alignment, large runs included', () => {
    const sim = createSim({ memory: 4n << 30n, seed: 2 });
    expect(sim.mem.allocFrames(3, { align: 4 }) % 4).toBe(0);
    const big = sim.mem.allocFrames(262144, { align: 262144 });
    expect(big % 262144).toBe(0);
    expect(sim.mem.frames.framesInUse).toBe(262147);
    expect(() => sim.mem.allocFrames(5, { align: 3 })).toThrow(/power of two/);
  });

  it('test_memory_validation: memory must be a positive multiple of 2 MiB', () => {
    expect(() => createSim({ memory: 3n << 20n })).toThrow(/multiple of 2 MiB/);
    expect(() => createSim({ memory: 0n })).toThrow(/multiple of 2 MiB/);
  });
});
