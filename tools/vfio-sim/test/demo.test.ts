// vfio-sim demo review-bug / try-harder-leak: the documented call sequences and violation reports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../src/commands/demo.js';
import { PKG, cli } from './helpers.js';

const kinds = (r: ReturnType<typeof runDemo>) => r.violations.map((v) => [v.kind, v.pfn, v.iova, v.via, v.call]);
const PFN0 = 0x19e00; // first frame of the 2 MiB hugetlb buffer (seed 1)

describe('demo', () => {
  it('test_demo_try_harder_leak_landed', () => {
    const r = runDemo('try-harder-leak');
    expect(r.variant).toBe('landed');
    expect(r.calls).toContain('MAP_DMA { vaddr 0x7f0080000000, iova 0x0, size 0x200000, R|W } = -16 (EBUSY)');
    expect(kinds(r)).toEqual([
      ['unpin-while-reachable', PFN0, 0, 'pte', 'VFIO_IOMMU_MAP_DMA'],
      ['teardown-leaves-mapping', -1, -1, '', 'close'],
    ]);
  });

  it.each(['rfc-v2', 'landed'] as const)('test_demo_try_harder_leak_off_by_one variant=%s', (v) => {
    expect(kinds(runDemo('try-harder-leak', v))[0]).toEqual(['unpin-while-reachable', PFN0, 0, 'pte', 'VFIO_IOMMU_MAP_DMA']);
  });

  it('test_demo_try_harder_leak_suggested_clean', () => {
    expect(runDemo('try-harder-leak', 'suggested').violations).toEqual([]);
  });

  it('test_demo_review_bug_rfc_v2', () => {
    const r = runDemo('review-bug');
    expect(r.variant).toBe('rfc-v2');
    expect(r.calls).toContain('  map_try_harder mapped 100 pages one by one; IOTLB syncs in the call: 0; pinned pages now: 0');
    expect(r.calls).toContain('device 0x100 writes IOVA page 50 = true (IO_PAGE_FAULTs: 0)');
    const k = kinds(r);
    expect(k.length).toBe(102);
    expect(k.slice(0, 100)).toEqual(
      Array.from({ length: 100 }, (_, i) => ['unpin-while-reachable', PFN0 + i, i, 'iotlb', 'VFIO_IOMMU_MAP_DMA']),
    );
    expect(k[100]).toEqual(['dma-to-free-frame', PFN0 + 50, 50, 'iotlb', '']);
    expect(r.violations[101]).toMatchObject({
      kind: 'teardown-leaves-mapping',
      call: 'close',
      detail: 'domain free: domain 1 still maps 1 page(s)',
    });
  });

  it('test_demo_review_bug_suggested_same_run', () => {
    // the same under-reported last unmap (page 0 here): suggested warns and syncs anyway, v4.17's
    // sync flushes the whole domain, and the device faults instead of writing freed memory
    const r = runDemo('review-bug', 'suggested');
    expect(r.calls).toContain(
      "fault: the unwind's last iommu_unmap_fast clears its page but returns 0 [faults.arm('unmapFastUnderreport', 100)]",
    );
    expect(r.calls).toContain('  map_try_harder mapped 100 pages one by one; IOTLB syncs in the call: 1; pinned pages now: 0');
    expect(r.calls).toContain('device 0x100 writes IOVA page 50 = false (IO_PAGE_FAULTs: 1)');
    expect(r.violations).toEqual([]);
  });

  it('test_demo_cli', async () => {
    const ok = await cli(['demo', 'review-bug']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('violations: 102');
    expect(ok.stdout).toContain('dma-to-free-frame pfn 0x19e32 iova page 0x32 domain 1 via iotlb');
    const bad = await cli(['demo', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("vfio-sim: demo: 'nope' is not one of review-bug, try-harder-leak\n");
  });

  it.each(['try-harder-leak', 'review-bug'])('test_demo_readme_output name=%s', async (name) => {
    // the README shows the real output of `vfio-sim demo <name>`
    const md = readFileSync(join(PKG, 'README.md'), 'utf8');
    const start = md.indexOf(`$ vfio-sim demo ${name}\n`);
    expect(start).toBeGreaterThan(0);
    const block = md.slice(md.indexOf('\n', start) + 1, md.indexOf('```', start));
    const ran = await cli(['demo', name]);
    expect(ran.stdout).toBe(block);
  });
});
