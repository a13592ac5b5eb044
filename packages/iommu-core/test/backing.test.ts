// allocBacking's mmap errors, word for word, and its run layout per profile; a whole-run profile that
// runs out of 2 MiB blocks part way gives back exactly what it took.
import { describe, expect, it } from 'vitest';
import { createSim } from '../src/index.js';
import { FRAME_FREE, FRAME_USER } from '../src/internals.js';
import { expectSysErr } from './harness.js';

const B = 512;

describe('allocBacking', () => {
  it('test_backing_bad_page_count: EINVAL from mmap, naming the count; nothing allocated', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    for (const n of [0, -1, 1.5, Number.NaN, -512])
      for (const p of ['4k', 'thp', 'hugetlb-2m', 'fragmented'] as const)
        expectSysErr(() => sim.mem.allocBacking(n, p), 'EINVAL', 'mmap', `bad page count ${n}`);
    expect(sim.mem.frames.framesInUse).toBe(0);
  });

  it('test_backing_hugetlb_length: a hugetlbfs length that is not whole huge pages is EINVAL, either size', () => {
    const sim = createSim({ memory: 2n << 30n, seed: 1 });
    const msg = (k: string): string => `hugetlbfs length must be a multiple of the huge page size (${k})`;
    expectSysErr(() => sim.mem.allocBacking(B + 1, 'hugetlb-2m'), 'EINVAL', 'mmap', msg('hugetlb-2m'));
    expectSysErr(() => sim.mem.allocBacking(1, 'hugetlb-2m'), 'EINVAL', 'mmap', msg('hugetlb-2m'));
    expectSysErr(() => sim.mem.allocBacking(B, 'hugetlb-1g'), 'EINVAL', 'mmap', msg('hugetlb-1g'));
    // thp and fragmented take any length (a tail that is not a whole 2 MiB is 4 KiB pages)
    expect([sim.mem.allocBacking(B + 1, 'thp').npages, sim.mem.allocBacking(B + 1, 'fragmented').npages]).toEqual([B + 1, B + 1]);
  });

  it('test_backing_enomem_message: more pages than the host has free is ENOMEM, with both counts', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    const free = sim.mem.frames.freeFrames;
    expect(free).toBe(16384);
    expectSysErr(() => sim.mem.allocBacking(free + 1, '4k'), 'ENOMEM', 'mmap', `needs ${free + 1} frames, host has ${free} free`);
  });

  it('test_backing_run_layout: hugetlb and whole-2 MiB thp are one pfn per huge page; a thp tail is per page', () => {
    const sim = createSim({ memory: 4n << 30n, seed: 1 });
    const h2 = sim.mem.allocBacking(3 * B, 'hugetlb-2m');
    expect([h2.runOrder, h2.pfns.length, h2.pmdMapped]).toEqual([9, 3, null]);
    expect([...h2.pfns].map((p) => p % B)).toEqual([0, 0, 0]);
    const t = sim.mem.allocBacking(2 * B, 'thp');
    expect([t.runOrder, t.pfns.length]).toEqual([9, 2]);
    const g = sim.mem.allocBacking(1 << 18, 'hugetlb-1g');
    expect([g.runOrder, g.pfns.length, g.pfns[0]! % (1 << 18)]).toEqual([18, 1, 0]);
    const tail = sim.mem.allocBacking(B + 3, 'thp');
    expect([tail.runOrder, tail.pfns.length, [...tail.pmdMapped!]]).toEqual([0, B + 3, [1, 0]]);
    expect(sim.mem.frames.framesInUse).toBe(3 * B + 2 * B + (1 << 18) + B + 3);
  });

  it('test_backing_enomem_part_way: thp runs out of whole blocks after some; those go back, nothing else moves', () => {
    // 64 MiB host: 32 blocks. A 4k VMA spread over the host leaves free frames but few whole blocks.
    const sim = createSim({ memory: 64n << 20n, seed: 3, hostAge: 1 });
    const small = sim.mem.allocBacking(600, '4k');
    const used = new Set(small.pfns);
    const before = sim.mem.frames.framesInUse;
    expect(before).toBe(600);
    const free = sim.mem.frames.freeFrames;
    const want = Math.floor(free / B) * B; // fits in frames, not in the blocks left whole
    expectSysErr(() => sim.mem.allocBacking(want, 'thp'), 'ENOMEM', 'alloc_pages', 'no free 2 MiB block left in host memory');
    expect([sim.mem.frames.framesInUse, sim.mem.frames.freeFrames]).toEqual([before, free]);
    // the 4k VMA's frames are still its own, every other frame is free
    let user = 0,
      freeSeen = 0;
    for (let f = 0; f < sim.mem.nFrames; f++) {
      const st = sim.mem.frameState(f);
      if (st === FRAME_USER) {
        user++;
        expect(used.has(f)).toBe(true);
      } else if (st === FRAME_FREE) freeSeen++;
    }
    expect([user, freeSeen]).toEqual([600, sim.mem.nFrames - 600]);
    sim.mem.freeBacking(small);
    expect(sim.mem.frames.framesInUse).toBe(0);
  });
});
