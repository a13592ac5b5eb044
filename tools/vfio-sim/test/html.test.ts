// --html: the report opens in headless Debian chromium with no console errors, every plot draws
// marks, and a screenshot is kept under test-artifacts/.

import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { CHROMIUM } from './global-setup.js';
import { PKG, cli } from './helpers.js';

describe('html report', () => {
  it('test_html_renders_in_chromium', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sim-html-'));
    const html = join(dir, 'report.html');
    const r = await cli(['sweep', '--guest', '4G', '--driver', 'reference', '--tlb-sync-max', '1,16,512,4096', '--html', html]);
    expect(r.code).toBe(0);
    const profile = join(dir, 'chromium-profile');
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    try {
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(String(e)));
      const requests: string[] = [];
      page.on('request', (q) => { if (!q.url().startsWith('file:')) requests.push(q.url()); });
      await page.goto(pathToFileURL(html).href);
      const plots = await page.$$eval('svg', (svgs) => svgs.map((s) => {
        const box = s.getBoundingClientRect();
        // data marks (class m: bars, lines, points; not the legend) with a real size (the browser's own layout, not our numbers)
        type Box = { getBBox(): { width: number; height: number } };
        const marks = [...s.querySelectorAll('.m')].filter((m) => {
          const b = (m as unknown as Box).getBBox();
          return b.width > 0 && b.height >= 1;
        });
        return { w: box.width, h: box.height, marks: marks.length, title: s.querySelector('text.t')?.textContent ?? '' };
      }));
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);   // self-contained
      expect(plots.map((p) => p.title)).toEqual([
        'Regions per vfio_unmap_unpin call (histogram)', 'IOTLB syncs, invalidations, completion waits', 'Modeled time per phase',
        'IOTLB syncs vs --tlb-sync-max', 'Memory unmapped but still pinned vs --tlb-sync-max',
        'Time pages stay pinned after unmap vs --tlb-sync-max', 'Modeled shutdown time vs --tlb-sync-max',
      ]);
      for (const p of plots) {
        expect(p.w).toBeGreaterThan(100);
        expect(p.h).toBeGreaterThan(100);
        expect(p.marks).toBeGreaterThan(0);
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
