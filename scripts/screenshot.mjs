// Screenshot a page in Debian's headless Chromium (playwright-core; never a downloaded browser).
// Usage: node scripts/screenshot.mjs URL OUT.png [widthPx] [waitMs] [colorScheme]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, out, width = '1440', waitMs = '4000', scheme = 'light'] = process.argv.slice(2);
if (url === undefined || out === undefined) {
  console.error('usage: node scripts/screenshot.mjs URL OUT.png [widthPx] [waitMs] [light|dark]');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'stroom-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: Number(width), height: 900 },
  colorScheme: scheme,
});
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error(`page console: ${m.text()}`); });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForTimeout(Number(waitMs));
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
