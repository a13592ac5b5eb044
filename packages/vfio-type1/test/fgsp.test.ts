// vfio_test_domain_fgsp(): a domain that maps 8 KiB as one leaf (AMD) has fine-grained superpages, and
// the 4.x unmap loop then takes one page per chunk, one iova_to_phys each, letting the over-unmap
// cover the leaf: one region per IOMMU leaf. Otherwise (VT-d-like sizes, mainline) it scans for the
// physically contiguous run: one region per run, one lookup per page plus the one that ends it.
import { afterEach, describe, expect, it } from 'vitest';
import { SZ_1G, SZ_2M, SZ_4K } from '@x/iommu-core';
import type { Profile } from '../src/index.js';
import { G1, K4, M2, RW, expectCleanClose, makeEnv, type Env } from './helpers.js';

let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

/** Every power of two from 4 KiB to 256 GiB, as AMD advertises (512 GiB left out). */
const AMD_LIKE = ~0xfffn & ((1n << 39n) - 1n);

/** Maps 6 MiB + 4 KiB of one 1 GiB page at IOVA 1 GiB (leaves 4M + 2M + 4K), unmaps it; the counts. */
function runOf(profile: Profile, pgsizeBitmap: bigint) {
  // the driver reports exactly the sizes it keeps as leaves (AMD), also in a VT-d era
  e = makeEnv({ profile, drv: { pgsizeBitmap, realPgsizeBitmap: true }, memory: 4n << 30n });
  const va = e.proc.mmap(G1, { backing: 'hugetlb-1g' });
  const size = 3n * M2 + K4; // 6 MiB + 4 KiB
  e.c.mapDma({ vaddr: va, iova: G1, size, flags: RW });
  const s0 = e.c.stats(),
    c0 = e.sim.counters;
  expect(e.c.unmapDma({ iova: G1, size })).toEqual({ size });
  const s1 = e.c.stats(),
    c1 = e.sim.counters;
  return {
    fgsp: e.c.iommu!.domains[0]!.fgsp,
    regions: s1.unmapChunks - s0.unmapChunks,
    lookups: c1.iovaToPhys! - c0.iovaToPhys!,
    unpinned: s1.unpins - s0.unpins,
    // every region lies inside the one 1 GiB folio: one folio per region, whatever its length
    folios: c1['vfio.unpinFolios']! - c0['vfio.unpinFolios']!,
  };
}

describe('fine-grained superpages (vfio_test_domain_fgsp)', () => {
  it.each<Profile>(['v4.16', 'v4.17'])('test_fgsp_amd_like_one_region_per_leaf profile=%s', (profile) => {
    // 4M + 2M + 4K leaves: three chunks of one page each, each unmap removing a whole leaf
    expect(runOf(profile, AMD_LIKE)).toEqual({ fgsp: true, regions: 3, lookups: 3, unpinned: 1537, folios: 3 });
  });

  it.each<Profile>(['v4.16', 'v4.17'])('test_no_fgsp_vtd_like_one_region_per_run profile=%s', (profile) => {
    // 8 KiB is two 4 KiB leaves: the loop scans all 1537 pages of the run (the last lookup ends the dma)
    expect(runOf(profile, SZ_4K | SZ_2M | SZ_1G)).toEqual({ fgsp: false, regions: 1, lookups: 1537, unpinned: 1537, folios: 1 });
  });

  it('test_no_fgsp_vtd_4x_reports_8k_but_keeps_4k_entries', () => {
    // VT-d before v5.15 reported every power of two: the probe's 8 KiB map became two 4 KiB entries,
    // its 4 KiB unmap removed one, so no fgsp: one region per run, as with the real sizes
    e = makeEnv({ profile: 'v4.16', memory: 4n << 30n });
    expect(e.c.iommu!.domains[0]!.fgsp).toBe(false);
    expect(e.c.iommu!.domains[0]!.dom.pgsizeBitmap & 0x2000n).toBe(0x2000n);
  });

  it('test_v3_19_no_chunking_one_page_per_call', () => {
    // before dma-unmap-chunking (v4.0) the loop unmapped PAGE_SIZE per call and let each call's
    // over-unmap take the whole leaf: 2M + 2M + 2M + 4K leaves, four calls, one lookup each
    expect(runOf('v3.19', SZ_4K | SZ_2M | SZ_1G)).toEqual({ fgsp: false, regions: 4, lookups: 4, unpinned: 1537, folios: 4 });
  });

  it('test_v3_19_thp_tail_folio_orders', () => {
    // a THP VMA of 2 MiB + 4 KiB: one PMD-mapped folio, then a 4 KiB page. The 4K unmap of page 0
    // takes the 2 MiB leaf, whose unpin touches one folio (order 9 from page 0's block alone), then
    // the tail page's own: two regions, two folios
    e = makeEnv({ profile: 'v3.19', memory: 2n << 30n });
    const size = M2 + K4;
    const va = e.proc.mmap(size, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size, flags: RW });
    const s0 = e.c.stats(),
      c0 = e.sim.counters;
    expect(e.c.unmapDma({ iova: 0n, size })).toEqual({ size });
    const s1 = e.c.stats(),
      c1 = e.sim.counters;
    expect([s1.unmapChunks - s0.unmapChunks, s1.unpins - s0.unpins, c1['vfio.unpinFolios']! - c0['vfio.unpinFolios']!]).toEqual([
      2, 513, 2,
    ]);
  });

  it('test_mainline_has_no_probe', () => {
    // the fgsp probe is gone from mainline: the contiguous run is one chunk even on AMD-like sizes
    expect(runOf('mainline', AMD_LIKE)).toEqual({ fgsp: false, regions: 1, lookups: 1537, unpinned: 1537, folios: 1 });
  });
});
