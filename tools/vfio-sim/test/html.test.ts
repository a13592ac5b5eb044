// --html: the report opens in headless Debian chromium with no console errors, every plot draws
// marks, both axes are titled with units, time and memory ticks carry their unit, every bar is
// labelled with its value, and a screenshot is kept under test-artifacts/. The sweep runs in this
// process (inProcess): the report code it draws with is the source under test, which Stryker
// mutates, not the built CLI.

import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { CHROMIUM } from './global-setup.js';
import { PKG, inProcess } from './helpers.js';
import { SWEEP_FIGURES } from './made-result.js';

describe('html report', () => {
  it('test_html_renders_in_chromium', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-html-'));
    const html = join(dir, 'report.html');
    const r = await inProcess(['sweep', '--guest', '4G', '--driver', 'reference', '--tlb-sync-max', '1,16,512,4096', '--html', html]);
    expect(r.code).toBe(0);
    const profile = join(dir, 'chromium-profile');
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    });
    try {
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      const requests: string[] = [];
      page.on('request', (q) => {
        if (!q.url().startsWith('file:')) requests.push(q.url());
      });
      await page.goto(pathToFileURL(html).href);
      const plots = await page.$$eval('svg', (svgs) =>
        svgs.map((s) => {
          const box = s.getBoundingClientRect();
          // data marks (class m: bars, lines, points; not the legend) with a real size (the browser's own layout, not our numbers)
          type Box = { getBBox(): { width: number; height: number } };
          const marks = [...s.querySelectorAll('.m')].filter((m) => {
            const b = (m as unknown as Box).getBBox();
            return b.width > 0 && b.height >= 1;
          });
          const bars = [...s.querySelectorAll('rect.m')].filter((m) => Number(m.getAttribute('height')) > 0).length;
          const values = [...s.querySelectorAll('text.v')];
          // where a (possibly rotated) label lands on the page: drawn, and within its plot
          const inside = (t: (typeof values)[number]): boolean => {
            const r = t.getBoundingClientRect();
            return (
              r.width > 0 &&
              r.left >= box.left - 0.5 &&
              r.right <= box.right + 0.5 &&
              r.top >= box.top - 0.5 &&
              r.bottom <= box.bottom + 0.5
            );
          };
          return {
            w: box.width,
            h: box.height,
            marks: marks.length,
            title: s.querySelector('text.t')?.textContent ?? '',
            x: s.querySelector('text.ax')?.textContent ?? '',
            y: s.querySelector('text.ay')?.textContent ?? '',
            ticks: [...s.querySelectorAll('text.tick')].map((t) => t.textContent ?? ''),
            bars,
            values: values.length,
            valuesInside: values.every(inside),
          };
        }),
      );
      expect(errors).toEqual([]);
      expect(requests).toEqual([]); // self-contained
      expect(plots.map((p) => p.title)).toEqual(SWEEP_FIGURES);
      for (const p of plots) {
        expect(p.w).toBeGreaterThan(100);
        expect(p.h).toBeGreaterThan(100);
        expect(p.marks).toBeGreaterThan(0);
      }
      // both axes titled, with the unit (count, bytes, time) or what the swept value counts
      expect(plots.map((p) => [p.x, p.y])).toEqual([
        ['regions per vfio_unmap_unpin call (log2 bins, labelled by the first value of each)', 'vfio_unmap_unpin calls (count)'],
        ['--tlb-sync-max (regions per IOTLB sync)', 'count (log scale)'],
        ['--tlb-sync-max (regions per IOTLB sync)', 'modeled time'],
        ['--tlb-sync-max (regions per IOTLB sync, log scale)', 'IOTLB syncs (count, log scale)'],
        ['--tlb-sync-max (regions per IOTLB sync, log scale)', 'memory (bytes, log scale)'],
        ['--tlb-sync-max (regions per IOTLB sync, log scale)', 'modeled time (log scale)'],
        ['--tlb-sync-max (regions per IOTLB sync, log scale)', 'modeled time'],
      ]);
      // tick labels of time and memory axes carry their unit
      for (const i of [2, 5, 6]) for (const t of plots[i]!.ticks) expect(t).toMatch(/^(0|\d+(\.\d+)? (ns|us|ms|s))$/);
      for (const t of plots[4]!.ticks) expect(t).toMatch(/^\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)$/);
      // every drawn bar has its value written on or above it, inside the plot
      for (const p of plots.slice(0, 3)) {
        expect(p.values).toBe(p.bars);
        expect(p.valuesInside).toBe(true);
      }
      expect(await page.$$eval('table', (t) => t.length)).toBe(2);
      const art = join(PKG, 'test-artifacts');
      mkdirSync(art, { recursive: true });
      const png = join(art, 'html-report.png');
      await page.screenshot({ path: png, fullPage: true });
      expect(statSync(png).size).toBeGreaterThan(20_000);
    } finally {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
