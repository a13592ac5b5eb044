// sweep --tlb-sync-max: the batching trade-off, checked against the fast path's rule.

import { describe, expect, it } from 'vitest';
import { cliJson, fastSyncs } from './helpers.js';

describe('sweep', () => {
  it('test_sweep_tlb_sync_max', async () => {
    const values = [1, 8, 64, 512, 4096];
    const { res, ran } = await cliJson(['sweep', '--guest', '8G', '--driver', 'reference', '--tlb-sync-max', values.join(',')]);
    expect(ran.stderr).toBe('');
    expect(res.command).toBe('sweep');
    expect(res.sweep).toEqual({ option: 'vfio.tlbSyncMax', flag: '--tlb-sync-max', values });
    expect(res.cases.map((c) => c.label)).toEqual(values.map((v) => `tlb-sync-max=${v}`));
    const hist = res.cases[0]!.metrics.regionsPerCall.histogram;
    res.cases.forEach((c, i) => {
      const m = c.metrics,
        v = values[i]!;
      expect(c.scenario!.vfio.tlbSyncMax).toBe(v);
      expect(m.regionsPerCall.histogram).toEqual(hist); // the cap changes batching, not the regions
      expect(m.iotlbSyncs).toBe(fastSyncs(hist, v) + m.fallbacks);
      expect(m.peakQueuedRegions).toBe(Math.min(v, m.regionsPerCall.max));
      expect(m.violations).toBe(0);
      if (i > 0) {
        const p = res.cases[i - 1]!.metrics;
        expect(m.iotlbSyncs).toBeLessThanOrEqual(p.iotlbSyncs);
        expect(m.peakPinnedAfterUnmapBytes).toBeGreaterThanOrEqual(p.peakPinnedAfterUnmapBytes);
        expect(m.pinnedAfterUnmapMaxNs).toBeGreaterThanOrEqual(p.pinnedAfterUnmapMaxNs);
      }
    });
    // one region per sync is the slow path's flush count
    expect(res.cases[0]!.metrics.iotlbSyncs).toBe(res.cases[0]!.metrics.regions + res.cases[0]!.metrics.fallbacks);
  });

  it('test_compare_lists_make_cases', async () => {
    // the RAM sections alone (--firmware none): the SeaBIOS boot's small BIOS-area sections would add unaligned ends
    // on a fully fragmented host (--host-age 1), where 4 KiB pages land scattered
    const { res } = await cliJson([
      'compare',
      '--guest',
      '4G',
      '--driver',
      'reference',
      '--profile',
      'v4.17',
      '--backing',
      '4k,hugetlb-2m',
      '--dma',
      'none',
      '--firmware',
      'none',
      '--host-age',
      '1',
    ]);
    expect(res.cases.map((c) => c.label)).toEqual(['backing=4k', 'backing=hugetlb-2m']);
    const [small, huge] = res.cases.map((c) => c.metrics);
    // scattered 4 KiB backing: neighbours are almost never physically contiguous, so nearly every
    // page is its own region; 2 MiB pages: at most one region per huge page (plus the unaligned ends)
    expect(small!.regions).toBeLessThanOrEqual(small!.pins);
    expect(small!.regions).toBeGreaterThan(small!.pins * 0.99);
    expect(huge!.regions).toBeLessThanOrEqual(huge!.pins / 512 + 2);
    expect(small!.iotlbSyncs).toBeGreaterThan(huge!.iotlbSyncs);
  });
});
