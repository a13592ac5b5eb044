// What the HTML report shows, read back from a result made here (html.test.ts checks that chromium
// draws it): the regions-per-call histogram in log2 bins, the syncs / invalidations / waits and
// phase-time bars per case, the sweep's curves and axis titles, the cost table's top events, the
// violations list, and every text escaped.

import { describe, expect, it } from 'vitest';
import type { CaseResult, CommandResult, Metrics } from '../src/engine/result.js';
import { renderHtml } from '../src/report/html.js';
import { SWEEP_FIGURES, madeCase, metricsOf } from './made-result.js';
import { elements, type El } from './svg-elements.js';

/** The metrics of a made case: one MAP_DMA and UNMAP_DMA, one region in one call, one sync, two phases. */
function metrics(m: Partial<Metrics>): Metrics {
  return metricsOf({
    mapIoctls: 1,
    unmapIoctls: 1,
    unmapCalls: 1,
    regionsPerCall: { min: 1, median: 1, max: 1, mean: 1, histogram: [[1, 1]] },
    regions: 1,
    iotlbSyncs: 1,
    invalidations: 1,
    completionWaits: 1,
    modeledNs: 10_000,
    phaseNs: { boot: 4000, shutdown: 5000 },
    ...m,
  });
}
function caseOf(label: string, m: Partial<Metrics>, extra: Partial<CaseResult> = {}): CaseResult {
  return madeCase(label, metrics(m), extra);
}
/** The figures of a page: each SVG's elements, by the figure's title. */
function figures(html: string): Map<string, El[]> {
  const out = new Map<string, El[]>();
  for (const m of html.matchAll(/<svg [^>]*>([\s\S]*?)<\/svg>/g)) {
    const els = elements(m[0]);
    out.set(els.find((e) => e.attrs.class === 't')!.text, els);
  }
  return out;
}
const tips = (els: El[], tag = 'rect') => els.filter((e) => e.tag === tag && e.attrs.class === 'm').map((e) => e.text);
const axisTitles = (els: El[]) => [els.find((e) => e.attrs.class === 'a ax')!.text, els.find((e) => e.attrs.class === 'a ay')!.text];
/** The page of a sweep of `flag` over `values`, one case each. */
const sweepPage = (cases: CaseResult[], flag: string, values: readonly (number | string)[]): string =>
  renderHtml({ schema: 'vfio-sim/result@2', command: 'sweep', cases, sweep: { flag, values } } as unknown as CommandResult);
/** The category names under a bar chart's x axis. */
const categories = (els: El[]) => els.filter((e) => e.tag === 'text' && e.attrs.class === 'a' && e.attrs.y === '258').map((e) => e.text);
/** The row names of the cost table ("Where the modeled time went"), its head first. */
const costRows = (page: string) =>
  [...page.slice(page.indexOf('<h2>Where the modeled time went</h2>')).matchAll(/<tr><th>([^<]*)<\/th>/g)].map((m) => m[1]);

describe('html report data', () => {
  const a = caseOf(
    'v4.16 <old>',
    {
      regionsPerCall: {
        min: 1,
        median: 2,
        max: 600,
        mean: 0,
        histogram: [
          [1, 3],
          [2, 150],
          [3, 2],
          [600, 1],
        ],
      },
      iotlbSyncs: 156,
      invalidations: 2000,
      completionWaits: 1500,
      violations: 2,
    },
    {
      violationSamples: [{ kind: 'unpin-while-reachable', pfn: 5, iova: 7, domain: 1, via: 'dma', call: 'x', detail: 'd' } as never],
      counters: { pins: 3, mapCalls: 2 },
      timeNs: { pins: 300, mapCalls: 50, unpins: 0 },
    },
  );
  const b = caseOf(
    'mainline',
    { iotlbSyncs: 2, invalidations: 3, completionWaits: 4, phaseNs: { boot: 1000, churn: 500 } },
    { timeNs: { walks: 70 } },
  );
  const res = { schema: 'vfio-sim/result@2', command: 'compare', cases: [a, b], sweep: null } as unknown as CommandResult;
  const html = renderHtml(res, 'My <report>');
  const figs = figures(html);

  it('test_histogram_in_log2_bins', () => {
    const h = figs.get('Regions per vfio_unmap_unpin call (histogram)')!;
    // 600 regions at most: bins 1, 2-3, 4-7, ..., 512-1023; 150 calls in a bin: a log axis
    expect(categories(h)).toEqual(['1', '2', '4', '8', '16', '32', '64', '128', '256', '512']);
    const t = tips(h);
    expect(t.slice(0, 2)).toEqual(['v4.16 &lt;old&gt; 1: 3', 'mainline 1: 1']);
    expect(t.slice(2, 4)).toEqual(['v4.16 &lt;old&gt; 2: 152', 'mainline 2: 0']);
    expect(t.slice(18, 20)).toEqual(['v4.16 &lt;old&gt; 512: 1', 'mainline 512: 0']);
    expect(axisTitles(h)).toEqual([
      'regions per vfio_unmap_unpin call (log2 bins, labelled by the first value of each)',
      'vfio_unmap_unpin calls (count, log scale)',
    ]);
    // the histogram is the wide figure
    expect(html).toContain('viewBox="0 0 760 300"');
  });

  it('test_syncs_and_phase_bars_per_case', () => {
    const s = figs.get('IOTLB syncs, invalidations, completion waits')!;
    expect(tips(s)).toEqual([
      'IOTLB syncs v4.16 &lt;old&gt;: 156',
      'invalidation cmds v4.16 &lt;old&gt;: 2,000',
      'completion waits v4.16 &lt;old&gt;: 1,500',
      'IOTLB syncs mainline: 2',
      'invalidation cmds mainline: 3',
      'completion waits mainline: 4',
    ]);
    expect(axisTitles(s)).toEqual(['case', 'count (log scale)']);
    const p = figs.get('Modeled time per phase')!;
    // phases in scenario order; a case without one shows 0
    expect(tips(p)).toEqual([
      'boot v4.16 &lt;old&gt;: 4 us',
      'churn v4.16 &lt;old&gt;: 0',
      'shutdown v4.16 &lt;old&gt;: 5 us',
      'boot mainline: 1 us',
      'churn mainline: 500 ns',
      'shutdown mainline: 0',
    ]);
    expect(axisTitles(p)).toEqual(['case', 'modeled time']);
    // no sweep: no curves
    expect([...figs.keys()]).toEqual([
      'Regions per vfio_unmap_unpin call (histogram)',
      'IOTLB syncs, invalidations, completion waits',
      'Modeled time per phase',
    ]);
  });

  it('test_page_text_tables_and_violations', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<title>My &lt;report&gt;</title>');
    expect(html).toContain('<h1>My &lt;report&gt;</h1>');
    expect(html).toContain('<p class="muted">vfio-sim compare: modeled numbers');
    expect(html).toContain(
      '<li><b>v4.16 &lt;old&gt;</b>: guest 1 GiB (q35: 1 GiB below 4G + 0 B above, 2 DMA mappings), host 5 GiB thp, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, DMA random, boot + shutdown, seed 1</li>',
    );
    // the cost table: events by their largest time, zero-time events left out, labels that explain
    const costs = html.slice(html.indexOf('<h2>Where the modeled time went</h2>'));
    expect(costRows(html)).toEqual(['event (count / modeled time)', 'pins', 'walks', 'mapCalls (iommu_map calls)']);
    expect(costs).toContain('<tr><th>pins</th><td>3 / 300 ns</td><td>0 / 0 ns</td></tr>');
    // the whole table: a head row of the cases, then a row per event, cells and rows side by side
    expect(costs.slice(costs.indexOf('<table>'), costs.indexOf('</table>') + 8)).toBe(
      '<table><thead><tr><th>event (count / modeled time)</th><th>v4.16 &lt;old&gt;</th><th>mainline</th></tr></thead><tbody>' +
        '<tr><th>pins</th><td>3 / 300 ns</td><td>0 / 0 ns</td></tr>' +
        '<tr><th>walks</th><td>0 / 0 ns</td><td>0 / 70 ns</td></tr>' +
        '<tr><th>mapCalls (iommu_map calls)</th><td>2 / 50 ns</td><td>0 / 0 ns</td></tr></tbody></table>',
    );
    expect(html).toContain(
      '<h2>Safety violations</h2><ul><li><b>v4.16 &lt;old&gt;</b>: 2 violation(s), first: {&quot;kind&quot;:&quot;unpin-while-reachable&quot;,&quot;pfn&quot;:5,&quot;iova&quot;:7,&quot;domain&quot;:1,&quot;via&quot;:&quot;dma&quot;,&quot;call&quot;:&quot;x&quot;,&quot;detail&quot;:&quot;d&quot;}</li></ul>',
    );
    expect(html).not.toContain('No safety violations.');
    // the bottom line under the tables
    expect(html).toContain('<pre>bottom line: v4.16 &lt;old&gt; and mainline take the same modeled total time');
    // an event one case has and the other has not, named like an Object.prototype property (a
    // saved result's events are any names): the other case shows 0, not Object's function
    const proto = renderHtml({
      ...res,
      cases: [caseOf('a', {}, { counters: { toString: 2 }, timeNs: { toString: 50 } }), caseOf('b', {})],
    } as CommandResult);
    expect(proto).toContain('<tr><th>toString</th><td>2 / 50 ns</td><td>0 / 0 ns</td></tr>');
    const clean = renderHtml({ ...res, cases: [b] } as CommandResult);
    expect(clean).toContain('<p>No safety violations.</p>');
    expect(clean).toContain('<title>vfio-sim report</title>');
  });

  it('test_sweep_curves_and_axes', () => {
    const cases = [1, 16, 512].map((v, i) =>
      caseOf(`tlbSyncMax=${v}`, {
        iotlbSyncs: 1000 >> (i * 3),
        peakPinnedAfterUnmapBytes: 4096 << (i * 4),
        peakQueuedBytes: 40 << i,
        pinnedAfterUnmapMaxNs: 1000 * (i + 1),
        pinnedAfterUnmapMeanNs: 500 * (i + 1),
        phaseNs: { boot: 1, shutdown: 2000 * (i + 1) },
      }),
    );
    const swept = (flag: string, values: (number | string)[]) => figures(sweepPage(cases, flag, values));
    const f = swept('--tlb-sync-max', [1, 16, 512]);
    expect([...f.keys()]).toEqual(SWEEP_FIGURES);
    // bars by swept value; curves over it on a log axis (512 / 1 >= 16)
    expect(axisTitles(f.get('IOTLB syncs, invalidations, completion waits')!)[0]).toBe('--tlb-sync-max (regions per IOTLB sync)');
    expect(axisTitles(f.get('IOTLB syncs vs --tlb-sync-max')!)).toEqual([
      '--tlb-sync-max (regions per IOTLB sync, log scale)',
      'IOTLB syncs (count, log scale)',
    ]);
    expect(tips(f.get('IOTLB syncs vs --tlb-sync-max')!, 'circle')).toEqual([
      'IOTLB syncs @ 1: 1k',
      'IOTLB syncs @ 16: 125',
      'IOTLB syncs @ 512: 15',
    ]);
    expect(tips(f.get('Memory unmapped but still pinned vs --tlb-sync-max')!, 'circle')).toEqual([
      'peak unmapped+pinned @ 1: 4 KiB',
      'peak unmapped+pinned @ 16: 64 KiB',
      'peak unmapped+pinned @ 512: 1 MiB',
      'peak queued list (40 B/region) @ 1: 40 B',
      'peak queued list (40 B/region) @ 16: 80 B',
      'peak queued list (40 B/region) @ 512: 160 B',
    ]);
    expect(tips(f.get('Time pages stay pinned after unmap vs --tlb-sync-max')!, 'circle')).toEqual([
      'max @ 1: 1 us',
      'max @ 16: 2 us',
      'max @ 512: 3 us',
      'mean @ 1: 500 ns',
      'mean @ 16: 1 us',
      'mean @ 512: 1.5 us',
    ]);
    expect(tips(f.get('Modeled shutdown time vs --tlb-sync-max')!, 'circle')).toEqual([
      'shutdown @ 1: 2 us',
      'shutdown @ 16: 4 us',
      'shutdown @ 512: 6 us',
    ]);
    expect(axisTitles(f.get('Modeled shutdown time vs --tlb-sync-max')!)[1]).toBe('modeled time');
    // a narrow sweep keeps a linear axis; an unknown flag says "swept value"; a sweep of names has no curves
    expect(axisTitles(swept('--x', [2, 4, 8]).get('IOTLB syncs vs --x')!)[0]).toBe('--x (swept value)');
    // a saved result's flag named like an Object.prototype property is just an unknown flag
    expect(axisTitles(swept('toString', [2, 4, 8]).get('IOTLB syncs vs toString')!)[0]).toBe('toString (swept value)');
    expect(swept('--backing', ['4k', 'thp', 'hugetlb-1g']).size).toBe(3);
  });

  it('test_sweep_axis_titles_say_what_each_flag_counts', () => {
    const cases = [2, 4].map((v) => caseOf(`x=${v}`, { iotlbSyncs: v }));
    const title = (flag: string) => {
      const f = figures(sweepPage(cases, flag, [2, 4]));
      return axisTitles(f.get(`IOTLB syncs vs ${flag}`)!)[0];
    };
    expect(
      [
        '--tlb-sync-max',
        '--devices',
        '--groups',
        '--dma-bursts',
        '--dma-pages',
        '--churn-ops',
        '--churn-max-pages',
        '--churn-live',
        '--dma-entry-limit',
        '--iotlb-entries',
        '--host-age',
      ].map(title),
    ).toEqual([
      '--tlb-sync-max (regions per IOTLB sync)',
      '--devices (devices)',
      '--groups (groups)',
      '--dma-bursts (bursts)',
      '--dma-pages (4 KiB pages per burst)',
      '--churn-ops (map calls)',
      '--churn-max-pages (4 KiB pages)',
      '--churn-live (live mappings)',
      '--dma-entry-limit (mappings)',
      '--iotlb-entries (entries)',
      '--host-age (0 fresh .. 1 fragmented)',
    ]);
  });

  it('test_sweep_log_axis_from_a_ratio_of_16', () => {
    const xTitle = (values: number[]) => {
      const cases = values.map((v) => caseOf(`x=${v}`, { iotlbSyncs: 1 }));
      const f = figures(sweepPage(cases, '--devices', values));
      // every curve shares the x axis; the page's intro names the swept flag
      const titles = SWEEP_FIGURES.slice(3).map((t) => axisTitles(f.get(t.replace('--tlb-sync-max', '--devices'))!)[0]);
      expect(new Set(titles).size).toBe(1);
      return titles[0];
    };
    expect(xTitle([1, 16])).toBe('--devices (devices, log scale)');
    expect(xTitle([1, 15])).toBe('--devices (devices)');
    expect(xTitle([2, 32, 4])).toBe('--devices (devices, log scale)');
    // a zero has no place on a log axis
    expect(xTitle([0, 64])).toBe('--devices (devices)');
  });

  it('test_sweep_page_parts', () => {
    const cases = [1, 2].map((v) => caseOf(`tlbSyncMax=${v}`, { iotlbSyncs: 3 - v }));
    const page = sweepPage(cases, '--tlb-sync-max', [1, 2]);
    expect(page).toContain('<p class="muted">vfio-sim sweep over --tlb-sync-max: modeled numbers');
    // the sweep's answer in its own section, and no bottom line (a sweep has none)
    expect(page).toMatch(/<h2>Sweep<\/h2><pre>[^<]+<\/pre>/);
    expect(page).not.toContain('bottom line');
    // the per-case bars are labelled by the swept values
    const bars = figures(page).get('IOTLB syncs, invalidations, completion waits')!;
    expect(categories(bars)).toEqual(['1', '2']);
    expect(html).not.toContain('<h2>Sweep</h2>');
  });

  it('test_histogram_bins_past_1k_and_1m_and_its_log_axis_from_100', () => {
    const hist = (histogram: [number, number][]) => {
      const max = Math.max(...histogram.map(([r]) => r));
      const h = figures(
        renderHtml({ ...res, cases: [caseOf('c', { regionsPerCall: { min: 1, median: 1, max, mean: 1, histogram } })] } as CommandResult),
      ).get('Regions per vfio_unmap_unpin call (histogram)')!;
      return {
        cats: categories(h),
        y: axisTitles(h)[1],
        tips: tips(h),
      };
    };
    const big = hist([
      [1, 1],
      [1024, 2],
      [(1 << 20) + 5, 1],
    ]);
    expect(big.cats).toEqual([
      ...[1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map(String),
      ...[1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((k) => `${k}k`),
      '1M',
    ]);
    expect([big.tips[0], big.tips[10], big.tips[20]]).toEqual(['c 1: 1', 'c 1k: 2', 'c 1M: 1']);
    // a bin of 100 calls or more: a log axis; 99: linear
    expect(hist([[3, 100]]).y).toBe('vfio_unmap_unpin calls (count, log scale)');
    expect(hist([[3, 99]]).y).toBe('vfio_unmap_unpin calls (count)');
    expect(hist([[3, 99]]).cats).toEqual(['1', '2']);
  });

  it('test_cost_table_keeps_the_12_largest', () => {
    const names = Array.from({ length: 14 }, (_, i) => `ev${String(i).padStart(2, '0')}`);
    // ev00 costs most; ev13 costs nothing and is left out anyway
    const timeNs = Object.fromEntries(names.map((n, i) => [n, (13 - i) * 10]));
    const page = renderHtml({ ...res, cases: [caseOf('c', {}, { timeNs, counters: {} })] } as CommandResult);
    expect(costRows(page)).toEqual(['event (count / modeled time)', ...names.slice(0, 12)]);
    // the largest of the cases orders the rows: ev01 first when another case spends more on it
    const two = renderHtml({
      ...res,
      cases: [caseOf('a', {}, { timeNs: { ev00: 100, ev01: 10 } }), caseOf('b', {}, { timeNs: { ev01: 500 } })],
    } as CommandResult);
    expect(costRows(two)).toEqual(['event (count / modeled time)', 'ev01', 'ev00']);
  });

  it('test_page_layout_between_the_parts', () => {
    const c1 = caseOf(
      'a',
      { iotlbSyncs: 3, modeledNs: 100, phaseNs: { boot: 100 }, violations: 1 },
      { violationSamples: [{ kind: 'k1' } as never], timeNs: {} },
    );
    const c2 = caseOf(
      'b',
      { iotlbSyncs: 2, modeledNs: 50, phaseNs: { boot: 50 }, violations: 1 },
      { violationSamples: [{ kind: 'k2' } as never], timeNs: { pins: 50 } },
    );
    const page = renderHtml({ ...res, cases: [c1, c2] } as CommandResult);
    // the figures one per line right inside their box; the scenario and violation items side by side
    expect(page).toContain('<h2>Plots</h2><div class="figs"><svg ');
    expect(page.match(/<\/svg>\n<svg /g)?.length).toBe(2);
    expect(page).toContain('<ul><li><b>a</b>: ');
    expect(page).toMatch(/<\/li><li><b>b<\/b>: guest 1 GiB[^<]*<\/li><\/ul>\n<h2>Plots/);
    expect(page).toContain(
      '<h2>Safety violations</h2><ul><li><b>a</b>: 1 violation(s), first: {&quot;kind&quot;:&quot;k1&quot;}</li><li><b>b</b>: 1 violation(s), first: {&quot;kind&quot;:&quot;k2&quot;}</li></ul>',
    );
    // the numbers: a head of the cases after an empty corner, then each row's name and its cells
    const numbers = page.slice(page.indexOf('<h2>Numbers</h2>'), page.indexOf('<h2>Where'));
    const head =
      '<h2>Numbers</h2><table><thead><tr><th></th><th>a</th><th>b</th></tr></thead><tbody><tr><th>UNMAP_DMA ioctls</th><td>1</td><td>1</td></tr>';
    expect(numbers.slice(0, head.length)).toBe(head);
    expect(numbers).toContain('<tr><th>IOTLB syncs</th><td>3</td><td>2</td></tr>');
    // the bottom line's two lines in one block between the numbers and the costs
    const tail =
      '</tbody></table>\n<pre>bottom line: b is cheapest (modeled total 50 ns); next is a, 50 ns (100.0%) more.\n  most of the difference: pins -50 ns (-100%)</pre>\n';
    expect(numbers.slice(-tail.length)).toBe(tail);
    // a single case: neither a bottom line nor a sweep between the tables
    const one = renderHtml({ ...res, cases: [c1] } as CommandResult);
    expect(one).toContain('</tbody></table>\n\n<h2>Where the modeled time went</h2>');
  });

  it('test_axes_of_counts_and_times', () => {
    const ticks = (els: El[]) => els.filter((e) => e.attrs.class === 'a tick').map((e) => e.text);
    // the syncs bars on decades from 1 to 10k (2 .. 2000)
    expect(ticks(figs.get('IOTLB syncs, invalidations, completion waits')!)).toEqual(['1', '10', '100', '1k', '10k']);
    // the histogram counts calls: whole numbers (2 calls at most: 0, 1, 2, not halves)
    const h = figures(
      renderHtml({
        ...res,
        cases: [
          caseOf('c', {
            regionsPerCall: {
              min: 1,
              median: 1,
              max: 3,
              mean: 2,
              histogram: [
                [1, 2],
                [3, 1],
              ],
            },
          }),
        ],
      } as CommandResult),
    );
    expect(ticks(h.get('Regions per vfio_unmap_unpin call (histogram)')!)).toEqual(['0', '1', '2']);
    // a sweep's syncs and pinned-time curves on log axes
    const cases = [1, 16, 512].map((v, i) =>
      caseOf(`tlbSyncMax=${v}`, {
        iotlbSyncs: 1000 >> (i * 3),
        pinnedAfterUnmapMaxNs: 1000 * (i + 1),
        pinnedAfterUnmapMeanNs: 500 * (i + 1),
      }),
    );
    const f = figures(sweepPage(cases, '--tlb-sync-max', [1, 16, 512]));
    expect(ticks(f.get('IOTLB syncs vs --tlb-sync-max')!)).toEqual(['10', '100', '1k']);
    expect(ticks(f.get('Time pages stay pinned after unmap vs --tlb-sync-max')!)).toEqual(['100 ns', '1 us', '10 us']);
    // a sweep whose values are not all numbers has no curves
    const mixed = figures(sweepPage(cases.slice(0, 2), '--x', [1, 'two']));
    expect(mixed.size).toBe(3);
  });
});
