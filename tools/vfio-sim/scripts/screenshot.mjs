// Opens an HTML report in headless Debian chromium (playwright-core) and saves a full-page PNG.
// usage: node scripts/screenshot.mjs report.html out.png
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [html, png] = process.argv.slice(2);
if (!html || !png) {
  console.error('usage: node scripts/screenshot.mjs report.html out.png');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'vfio-sim-chromium-'));
// a fresh --user-data-dir: playwright takes it as launchPersistentContext's first argument
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
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
  const page = await browser.newPage();
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(pathToFileURL(resolve(html)).href);
  await page.screenshot({ path: png, fullPage: true });
  if (errors.length > 0) {
    console.error(errors.join('\n'));
    process.exitCode = 1;
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
