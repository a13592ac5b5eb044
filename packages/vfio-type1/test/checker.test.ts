// The container checker: accounting invariants after each call, the deep pin walk, teardown checks.
import { afterEach, describe, expect, it } from 'vitest';
import type { IommuDomain } from '@x/iommu-core';
import { VfioDma, domainLeaves } from '../src/internals.js';
import { K4, M2, RW, expectCleanClose, makeEnv, type Env } from './helpers.js';

let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

describe('checker', () => {
  it('test_check_clean_state', () => {
    e = makeEnv({ profile: 'v4.17' });
    const va = e.proc.mmap(4n * M2, { backing: 'fragmented' });
    const bar = e.proc.mmap(M2, { backing: 'mmio' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
    e.c.mapDma({ vaddr: bar, iova: 0x40000000n, size: M2, flags: RW });
    expect(e.c.check()).toEqual([]);
  });

  it('test_locked_vm_mismatch_reported', () => {
    e = makeEnv({ profile: 'mainline' });
    const va = e.proc.mmap(M2, { backing: 'thp' });
    e.proc.lockedVm += 3; // someone else's charge the container does not know
    e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    expect(e.sim.violations).toEqual([
      expect.objectContaining({
        kind: 'locked-vm-mismatch',
        pfn: -1,
        call: 'VFIO_IOMMU_MAP_DMA',
        detail: `pid ${e.proc.pid} locked_vm 515 pages, its containers charged 512`,
      }),
    ]);
    e.proc.lockedVm -= 3;
    e.sim.violations.length = 0;
  });

  it('test_foreign_unpin_reported_by_deep_check', () => {
    e = makeEnv({ profile: 'mainline' });
    const va = e.proc.mmap(8n * K4, { backing: '4k' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 8n * K4, flags: RW });
    const pfn = e.proc.pfnOf(Number(va >> 12n) + 5);
    e.sim.mem.unpin(pfn, 1); // a pin dropped behind VFIO's back
    expect(e.sim.violations.map((v) => v.kind)).toEqual(['unpin-while-reachable']);
    expect(e.c.check().map((v) => [v.kind, v.pfn])).toEqual([['dma-page-not-pinned', pfn]]);
    e.sim.mem.pin(pfn, 1);
    e.sim.violations.length = 0;
  });

  it('test_deep_check_names_the_page_inside_a_run', () => {
    // page 5 of a THP run: the report names that frame and that page of the dma
    e = makeEnv({ profile: 'mainline' });
    const va = e.proc.mmap(M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0x40000000n, size: M2, flags: RW });
    const first = e.proc.pfnOf(Number(va >> 12n));
    const pfn = e.proc.pfnOf(Number(va >> 12n) + 5);
    expect(pfn).toBe(first + 5); // one huge page: one run
    e.sim.mem.unpin(pfn, 1);
    e.sim.violations.length = 0; // the core's unpin-while-reachable, checked above
    expect(e.c.check().map((v) => [v.kind, v.pfn, v.detail])).toEqual([
      ['dma-page-not-pinned', pfn, 'page 5 of dma at iova page 0x40000 is not pinned'],
    ]);
    e.sim.mem.pin(pfn, 1);
    e.sim.violations.length = 0;
  });

  it('test_deep_check_charge_and_pin_totals', () => {
    e = makeEnv({ profile: 'mainline' });
    const va = e.proc.mmap(M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    const iommu = e.c.iommu!,
      dma = iommu.dmas.list[0]!;
    dma.lockedPages += 2; // the dma claims more than the container charged
    expect(e.c.check().map((v) => [v.kind, v.pfn, v.iova, v.detail])).toEqual([
      ['dma-charge-mismatch', -1, -1, 'dmas charged 514 pages, container 512'],
    ]);
    dma.lockedPages -= 2;
    iommu.pinnedPages += 3; // and pins the dmas do not cover (its charge follows, so only the deep walk sees it)
    iommu.lockedPages += 3;
    e.proc.lockedVm += 3;
    expect(e.c.check().map((v) => [v.kind, v.pfn, v.iova, v.detail])).toEqual([
      ['dma-charge-mismatch', -1, -1, 'dmas charged 512 pages, container 515'],
      ['pin-outside-dma', -1, -1, 'container pins 515 pages, its dmas cover 512'],
    ]);
    iommu.pinnedPages -= 3;
    iommu.lockedPages -= 3;
    e.proc.lockedVm -= 3;
    e.sim.violations.length = 0;
  });

  it('test_pins_not_charged_reported_after_the_call', () => {
    // the container pins pages it did not charge: reported after the next call, with no page (-1)
    e = makeEnv({ profile: 'mainline' });
    const va = e.proc.mmap(2n * M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    const iommu = e.c.iommu!;
    iommu.pinnedPages += 4;
    e.c.mapDma({ vaddr: va + M2, iova: M2, size: M2, flags: RW });
    expect(e.sim.violations.map((v) => [v.kind, v.pfn, v.call, v.detail])).toEqual([
      ['pinned-not-charged', -1, 'VFIO_IOMMU_MAP_DMA', 'container pins 1028 RAM pages but charged 1024 to locked_vm'],
    ]);
    iommu.pinnedPages -= 4;
    e.sim.violations.length = 0;
  });

  it('test_deep_check_dma_without_vma', () => {
    // a dma whose vaddr no VMA holds any more (the model's munmap refuses pinned VMAs, so the dma is
    // moved by hand): the walk reports it once per dma and goes on to the next
    e = makeEnv({ profile: 'mainline' });
    const va = e.proc.mmap(4n * K4, { backing: '4k' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * K4, flags: RW });
    const dma = e.c.iommu!.dmas.list[0]!;
    const vaddr = dma.vaddr;
    dma.vaddr = 0x7000;
    expect(e.c.check().map((v) => [v.kind, v.pfn, v.detail])).toEqual([
      ['dma-vaddr-unbacked', -1, 'dma iova page 0x0: vaddr page 0x7000 has no VMA'],
      ['pin-outside-dma', -1, 'container pins 4 pages, its dmas cover 0'],
    ]);
    dma.vaddr = vaddr;
    expect(e.c.check()).toEqual([]);
    e.sim.violations.length = 0;
  });

  it('test_release_leaves_pins_charge_and_dma', () => {
    // pins and a charge the container counted beyond its dmas survive the release: both reported
    e = makeEnv({ profile: 'mainline' });
    const va = e.proc.mmap(M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    const iommu = e.c.iommu!;
    iommu.pinnedPages += 2;
    iommu.lockedPages += 3;
    e.proc.lockedVm += 3;
    // and a dma linked after the unmap of all of them, as the last domain is freed
    const drv = e.drv;
    const free = drv.domainFree.bind(drv);
    drv.domainFree = (dom) => {
      iommu.dmas.link(new VfioDma(0x800, 0x900, RW, e.proc, false));
      free(dom);
    };
    e.sim.violations.length = 0;
    e.c.close();
    expect(e.sim.violations.filter((v) => v.kind.startsWith('teardown')).map((v) => [v.kind, v.pfn, v.detail])).toEqual([
      ['teardown-leaves-pins', -1, '2 pages still pinned after release'],
      ['teardown-leaves-charge', -1, '3 pages still charged after release'],
      ['teardown-leaves-dma', -1, '1 dma(s) left after release'],
    ]);
    e.proc.lockedVm -= 3;
    e.sim.violations.length = 0;
  });

  it('test_domain_leaves_without_model_hooks', () => {
    // a driver whose domains have no model hooks: the teardown check cannot count, and says so (-1)
    expect(domainLeaves({ model: null } as unknown as IommuDomain)).toBe(-1);
    const counted = { model: { mappedPages: () => 7 } } as unknown as IommuDomain;
    expect(domainLeaves(counted)).toBe(7);
  });

  it('test_two_containers_one_process', () => {
    e = makeEnv({ profile: 'v4.17', memlockLimit: 4n * M2 });
    const g2 = e.host.addGroup(e.drv, { devices: 1 });
    const c2 = e.host.openContainer(e.proc, { profile: 'v4.17' });
    c2.addGroup(g2);
    c2.setIommu(3);
    const va = e.proc.mmap(6n * M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 2n * M2, flags: RW });
    c2.mapDma({ vaddr: va + 2n * M2, iova: 0n, size: M2, flags: RW });
    expect(e.proc.lockedVm).toBe(1536);
    // the limit is per process: the second container sees the first one's charge
    expect(() => c2.mapDma({ vaddr: va + 3n * M2, iova: M2, size: 2n * M2, flags: RW })).toThrow(
      expect.objectContaining({ code: 'ENOMEM' }),
    );
    c2.close();
    expect(e.proc.lockedVm).toBe(1024);
    expect(e.sim.violations).toEqual([]);
  });
});
