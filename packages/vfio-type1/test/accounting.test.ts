// locked_vm accounting: RLIMIT_MEMLOCK, CAP_IPC_LOCK, THP vs 4K backings, MMIO never charged.
import { afterEach, describe, expect, it } from 'vitest';
import { K4, M2, RW, domOf, expectCleanClose, expectFailNoTrace, leaves, makeEnv, type Env } from './helpers.js';

const MAP = 'VFIO_IOMMU_MAP_DMA';
let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

describe.each(['v4.16', 'v4.17', 'mainline'] as const)('accounting profile=%s', (profile) => {
  it.each(['thp', '4k', 'hugetlb-2m', 'fragmented'] as const)('test_locked_vm_map_unmap_close backing=%s', (backing) => {
    e = makeEnv({ profile, memlockLimit: 64n << 20n });
    const va = e.proc.mmap(16n * M2, { backing });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 8n * M2, flags: RW });
    expect(e.proc.lockedVm).toBe(4096);
    expect(e.sim.mem.pinnedPages).toBe(4096);
    e.c.mapDma({ vaddr: va + 8n * M2, iova: 0x10000000n, size: 8n * M2, flags: RW });
    expect(e.proc.lockedVm).toBe(8192);
    expect(e.c.mappings().map((m) => m.lockedPages)).toEqual([4096, 4096]);
    expect(e.c.unmapDma({ iova: 0n, size: 8n * M2 })).toEqual({ size: 8n * M2 });
    expect(e.proc.lockedVm).toBe(4096);
    expect(e.c.stats().pins).toBe(8192);
    expect(e.c.stats().unpins).toBe(4096);
    e.c.close(); // close releases the rest
    expect(e.proc.lockedVm).toBe(0);
    expect(e.sim.mem.pinnedPages).toBe(0);
    expect(e.sim.violations).toEqual([]);
  });

  it('test_rlimit_enomem_nothing_pinned', () => {
    e = makeEnv({ profile, memlockLimit: 4n * M2 }); // 2048 pages
    const va = e.proc.mmap(8n * M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 3n * M2, flags: RW });
    expect(e.proc.lockedVm).toBe(1536);
    // 1536 + 1024 > 2048: the first chunk fits, the second exceeds: both undone
    expectFailNoTrace(e, () => e.c.mapDma({ vaddr: va + 3n * M2, iova: 0x40000000n, size: 2n * M2, flags: RW }), 'ENOMEM', -12, MAP);
    expect(e.proc.lockedVm).toBe(1536);
    expect(e.sim.mem.pinnedPages).toBe(1536);
    // exactly up to the limit is fine
    e.c.mapDma({ vaddr: va + 3n * M2, iova: 0x40000000n, size: M2, flags: RW });
    expect(e.proc.lockedVm).toBe(2048);
    expectFailNoTrace(e, () => e.c.mapDma({ vaddr: va + 4n * M2, iova: 0x80000000n, size: K4, flags: RW }), 'ENOMEM', -12, MAP);
  });

  it('test_cap_ipc_lock_bypasses_limit_but_charges', () => {
    e = makeEnv({ profile, memlockLimit: 0n, capIpcLock: true });
    const va = e.proc.mmap(4n * M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
    expect(e.proc.lockedVm).toBe(2048); // charged even though the limit is not checked
    expect(e.c.unmapDma({ iova: 0n, size: 4n * M2 })).toEqual({ size: 4n * M2 });
    expect(e.proc.lockedVm).toBe(0);
  });

  it('test_mmio_not_pinned_not_charged', () => {
    e = makeEnv({ profile, memlockLimit: 0n }); // a zero limit: any RAM page would fail
    const bar = e.proc.mmap(2n * M2, { backing: 'mmio' });
    e.c.mapDma({ vaddr: bar, iova: 0x20000000n, size: 2n * M2, flags: RW });
    expect(e.proc.lockedVm).toBe(0);
    expect(e.sim.mem.pinnedPages).toBe(0);
    expect(e.c.stats().mapChunks).toBe(1); // one contiguous reserved chunk
    expect(e.drv.dma(e.group.devices[0]!, 0x20000, 1024, 'write')).toBe(true);
    const acct0 = e.sim.counters['vfio.lockAcct']!;
    expect(e.c.unmapDma({ iova: 0x20000000n, size: 2n * M2 })).toEqual({ size: 2n * M2 });
    expect(e.c.stats().unpins).toBe(0);
    // vfio_lock_acct() with nothing unlocked returns at once: no mm locking, no event
    expect(e.sim.counters['vfio.lockAcct']! - acct0).toBe(0);
  });

  it('test_mixed_ram_and_mmio_chunks', () => {
    e = makeEnv({ profile });
    const ram = e.proc.mmap(M2, { backing: 'hugetlb-2m' });
    e.proc.mmap(M2, { backing: 'mmio' });
    e.c.mapDma({ vaddr: ram, iova: 0n, size: M2, flags: RW });
    expect(e.proc.lockedVm).toBe(512);
    expect(e.c.check()).toEqual([]);
  });
});

describe('accounting_disable_hugepages', () => {
  it('test_disable_hugepages_one_page_chunks', () => {
    e = makeEnv({ profile: 'v4.17', disableHugepages: true });
    const va = e.proc.mmap(M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    expect(e.c.stats().mapChunks).toBe(512);
    const l = leaves(domOf(e));
    expect(l.length).toBe(512);
    expect(l.every(([, , order]) => order === 12)).toBe(true);
    // unmap still coalesces by physical contiguity: one region, one sync
    const s0 = e.sim.counters.iotlbSyncs;
    expect(e.c.unmapDma({ iova: 0n, size: M2 })).toEqual({ size: M2 });
    expect(e.c.stats().unmapChunks).toBe(1);
    expect(e.sim.counters.iotlbSyncs - s0).toBe(1);
  });

  it('test_thp_coalesces_into_2m_leaves', () => {
    e = makeEnv({ profile: 'mainline' });
    const va = e.proc.mmap(4n * M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
    // THP blocks are scattered: 4 chunks, one 2 MiB leaf each
    expect(e.c.stats().mapChunks).toBe(4);
    expect(leaves(domOf(e)).map(([iova, , order]) => [iova, order])).toEqual([
      [0, 21],
      [512, 21],
      [1024, 21],
      [1536, 21],
    ]);
  });
});
