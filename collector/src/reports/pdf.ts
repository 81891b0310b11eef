/**
 * PDF of a report: its HTML printed by Debian's headless Chromium through playwright-core
 * (never a browser playwright downloads), as scripts/screenshot.mjs launches it. The only
 * module here that starts a process; loaded only when a PDF is asked for.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Chromium is looked for: `$CHROMIUM`, else Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  return process.env['CHROMIUM'] ?? '/usr/bin/chromium';
}

/** The error a missing Chromium gives, naming how to install it. */
export function chromiumMissing(path: string): Error {
  return new Error(`PDF needs Chromium, and there is none at ${path}: install Debian's chromium (deploy/local/chromium.sh, or apt-get install chromium) or set CHROMIUM to its path; the html format prints the same page from any browser`);
}

/** Renders `html` to an A4 PDF (backgrounds printed); rejects with `chromiumMissing` when there is no Chromium. */
export async function htmlToPdf(html: string, executablePath = chromiumPath()): Promise<Buffer> {
  if (!existsSync(executablePath)) throw chromiumMissing(executablePath);
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'stroom-pdf-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // The page is self-contained; nothing may be fetched while printing.
    offline: true,
  });
  try {
    const page = await browser.newPage();
    await page.setContent(html, { waitUntil: 'load' });
    return await page.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true });
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
