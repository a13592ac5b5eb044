// Populate-on-pin: a VMA mmapped with populate false has no page present yet; the first pin of a page
// faults it in and clears it (get_user_pages on a fresh anonymous VMA), one pageFaults per page the
// fault maps (4 KiB, 2 MiB or 1 GiB) and one pageZeroes per 4 KiB cleared. Pages stay present.
import { afterEach, describe, expect, it } from 'vitest';
import { G1, K4, M2, RW, expectCleanClose, expectFailNoTrace, makeEnv, type Env } from './helpers.js';

const MAP = 'VFIO_IOMMU_MAP_DMA';
let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

/** pageFaults and pageZeroes counted so far. */
const taken = (env: Env): [number, number] => [env.sim.counters.pageFaults, env.sim.counters.pageZeroes];

describe.each(['v4.16', 'mainline'] as const)('populate profile=%s', (profile) => {
  it('test_populate_off_thp_faults_once_per_2m', () => {
    e = makeEnv({ profile });
    const va = e.proc.mmap(4n * M2, { backing: 'thp', populate: false }); // 8 MiB
    expect(taken(e)).toEqual([0, 0]); // mmap touches nothing
    expect(e.proc.vmas[0]!.presentPages(0, 2048)).toBe(0);
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
    expect(taken(e)).toEqual([4, 2048]); // four 2 MiB faults, 4 x 512 pages cleared
    const cost = e.sim.costTable();
    expect(e.sim.meter.timeSnapshot().pageFaults).toBeCloseTo(4 * cost.pageFaults.ns, 6);
    expect(e.sim.meter.timeSnapshot().pageZeroes).toBeCloseTo(2048 * cost.pageZeroes.ns, 6);
    expect(e.proc.vmas[0]!.presentPages(0, 2048)).toBe(2048);
    // the pages stay present after the unpin: mapping them again faults nothing
    expect(e.c.unmapDma({ iova: 0n, size: 4n * M2 })).toEqual({ size: 4n * M2 });
    e.c.mapDma({ vaddr: va, iova: 0x40000000n, size: 4n * M2, flags: RW });
    expect(taken(e)).toEqual([4, 2048]);
  });

  it('test_populate_off_4k_one_fault_per_page', () => {
    e = makeEnv({ profile });
    const va = e.proc.mmap(2n * M2, { backing: '4k', populate: false }); // 1024 pages
    e.c.mapDma({ vaddr: va + 3n * K4, iova: 0n, size: 600n * K4, flags: RW });
    expect(taken(e)).toEqual([600, 600]);
    // an overlapping range of the VMA at another iova: only its 100 pages past the first map fault
    e.c.mapDma({ vaddr: va + 103n * K4, iova: 0x10000000n, size: 600n * K4, flags: RW });
    expect(taken(e)).toEqual([700, 700]);
    expect(e.proc.vmas[0]!.presentPages(0, 1024)).toBe(700);
  });

  it('test_populate_off_mixed_and_huge_backings', () => {
    e = makeEnv({ profile });
    const g = e.proc.mmap(G1, { backing: 'hugetlb-1g', populate: false }); // first: 1 GiB regions are still free
    // a THP VMA with a 4 KiB tail: one fault for the 2 MiB page, one per tail page
    const t = e.proc.mmap(M2 + 4n * K4, { backing: 'thp', populate: false });
    e.c.mapDma({ vaddr: t, iova: 0n, size: M2 + 4n * K4, flags: RW });
    expect(taken(e)).toEqual([5, 516]);
    // fragmented: 2 MiB regions are one fault each, scattered regions 512 faults each; 512 cleared per region
    const f = e.proc.mmap(8n * M2, { backing: 'fragmented', populate: false }); // 8 regions
    const huge = e.proc.vmas[2]!.backing!.pmdMapped!.reduce((a, b) => a + b, 0);
    expect(huge).toBe(6);
    e.c.mapDma({ vaddr: f, iova: 0x10000000n, size: 8n * M2, flags: RW });
    expect(taken(e)).toEqual([5 + huge + (8 - huge) * 512, 516 + 4096]);
    expect(taken(e)).toEqual([1035, 4612]);
    // a hugetlb 1 GiB page: one fault, 262144 pages cleared
    e.c.mapDma({ vaddr: g, iova: 0x40000000n, size: 2n * M2, flags: RW });
    expect(taken(e)).toEqual([1036, 4612 + 262144]);
  });

  it('test_populate_on_and_mmio_fault_nothing', () => {
    e = makeEnv({ profile, memlockLimit: 0n, capIpcLock: true });
    const a = e.proc.mmap(4n * M2, { backing: '4k' });
    const b = e.proc.mmap(4n * M2, { backing: 'thp', populate: true });
    const bar = e.proc.mmap(4n * M2, { backing: 'mmio', populate: false });
    expect(e.proc.unpopulatedVmas).toBe(0); // a BAR has no pages to clear
    e.c.mapDma({ vaddr: a, iova: 0n, size: 4n * M2, flags: RW });
    e.c.mapDma({ vaddr: b, iova: 0x10000000n, size: 4n * M2, flags: RW });
    e.c.mapDma({ vaddr: bar, iova: 0x20000000n, size: 4n * M2, flags: RW });
    expect(taken(e)).toEqual([0, 0]);
  });

  it('test_populate_off_disable_hugepages', () => {
    e = makeEnv({ profile, disableHugepages: true });
    const va = e.proc.mmap(4n * M2, { backing: 'thp', populate: false });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
    expect(e.c.stats().mapChunks).toBe(2048); // one page per pin, but a fault maps the 2 MiB page
    expect(taken(e)).toEqual([4, 2048]);
  });

  // Decision: faults taken by a MAP_DMA that then fails stay, as in Linux (the pin is undone with
  // put_page, which does not unmap the page). Pins, locked_vm, mappings: as before the call.
  it('test_populate_off_rlimit_enomem_faults_stay', () => {
    e = makeEnv({ profile, memlockLimit: 3n * M2 }); // 6 MiB: 1536 pages
    const va = e.proc.mmap(4n * M2, { backing: 'thp', populate: false });
    expectFailNoTrace(e, () => e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW }), 'ENOMEM', -12, MAP);
    // three 2 MiB runs pinned, then unpinned; GUP faulted the first page over the limit in too (the 4th)
    expect(taken(e)).toEqual([4, 2048]);
    expect(e.proc.vmas[0]!.presentPages(0, 2048)).toBe(2048);
    e.c.mapDma({ vaddr: va, iova: 0n, size: 3n * M2, flags: RW });
    expect(taken(e)).toEqual([4, 2048]);
    expect(e.proc.lockedVm).toBe(1536);

    // 4 KiB pages: 100 fit, the 101st is faulted in and refused
    const f = makeEnv({ profile, memlockLimit: 100n * K4 });
    const v4 = f.proc.mmap(M2, { backing: '4k', populate: false });
    expectFailNoTrace(f, () => f.c.mapDma({ vaddr: v4, iova: 0n, size: M2, flags: RW }), 'ENOMEM', -12, MAP);
    expect(taken(f)).toEqual([101, 101]);
    expect(f.proc.vmas[0]!.presentPages(0, 512)).toBe(101);
    expectCleanClose(f);
  });

  it('test_populate_off_rlimit_contiguous_4k_run', () => {
    // a young host gives the 4 KiB VMA neighbouring frames, so the pin over the limit is one long
    // run: GUP faults in the pages under the limit left by the first dma (150 - 50) and the one over
    e = makeEnv({ profile, memlockLimit: 150n * K4, hostAge: 0 });
    const a = e.proc.mmap(M2, { backing: '4k' });
    e.c.mapDma({ vaddr: a, iova: 0n, size: 50n * K4, flags: RW });
    const va = e.proc.mmap(M2, { backing: '4k', populate: false });
    const vp = Number(va >> 12n);
    expect(e.proc.pfnOf(vp + 511) - e.proc.pfnOf(vp)).toBe(511);
    const w0 = e.c.stats().warnings;
    expectFailNoTrace(e, () => e.c.mapDma({ vaddr: va, iova: 1n << 30n, size: M2, flags: RW }), 'ENOMEM', -12, MAP);
    expect(e.c.stats().warnings - w0).toBe(1); // pr_warn("RLIMIT_MEMLOCK (%ld) exceeded")
    expect(e.proc.vmas[1]!.presentPages(0, 512)).toBe(101);
    expect(e.proc.lockedVm).toBe(50);
  });

  it('test_populate_munmap_and_bad_option', () => {
    e = makeEnv({ profile });
    const va = e.proc.mmap(M2, { backing: 'thp', populate: false });
    expect(e.proc.unpopulatedVmas).toBe(1);
    e.proc.munmap(va);
    expect(e.proc.unpopulatedVmas).toBe(0);
    // a new VMA is fresh memory again: its first pin faults
    const vb = e.proc.mmap(M2, { backing: 'thp', populate: false });
    e.c.mapDma({ vaddr: vb, iova: 0n, size: M2, flags: RW });
    expect(taken(e)).toEqual([1, 512]);
    expect(() => e.proc.mmap(M2, { populate: 'no' as unknown as boolean })).toThrow(TypeError);
    expect(() => e.proc.mmap(M2, { populate: 'no' as unknown as boolean })).toThrow(
      'mmap populate: expected true, false or undefined, got string no',
    );
    expect(e.proc.vmas.length).toBe(1);
  });
});
