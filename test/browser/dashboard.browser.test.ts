/**
 * The dashboard in a real headless Chromium (Debian's, driven by playwright-core) against a
 * real collector and simulated agents in this process: the numbers move, a job page shows the
 * API's energy, a user's token sees only their own jobs, and the GPU heatmap at 1,000 x 8 is
 * drawn without a DOM node per GPU (its redraw time is recorded, not asserted). Screenshots go
 * to test-artifacts/browser/ (ignored by git); the path is printed.
 *
 * Without chromium the suite is skipped with a message, except in CI (CI=true), where it fails.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { JobSummary, LiveMessage } from '@stroom/protocol';
import { runAgent, SimulatedNode } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { AgentTokens, TokenStore, startCollector } from '@stroom/collector';
import type { Collector } from '@stroom/collector';
import type { Page } from 'playwright-core';
import { formatEnergy } from '../../dashboard/src/format.js';
import { tempDir, testLog } from '../helpers.js';
import { ARTIFACTS, CHROMIUM, CHROMIUM_FOUND, HOW_TO_INSTALL, artifactPath, launch } from './chromium.js';

const CI = process.env['CI'] === 'true';
if (!CHROMIUM_FOUND && !CI) console.warn(`skipping the dashboard browser tests: ${CHROMIUM} not found; ${HOW_TO_INSTALL}`);

const NODES = ['gcn1', 'gcn2', 'gcn3', 'gcn4'];
const SIM_USERS = [
  ['u.devries', 'surf-llm'], ['e.jansen', 'umcg-imaging'], ['s.bakker', 'tno-defence'], ['m.visser', 'rug-astro'],
  ['j.smit', 'surf-llm'], ['a.meijer', 'umcg-imaging'], ['l.mulder', 'rug-astro'], ['k.dejong', 'tno-defence'],
] as const;

async function withToken(page: Page, token: string): Promise<void> {
  await page.addInitScript((t) => sessionStorage.setItem('stroom.token', t), token);
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent())?.trim() ?? '';
}

async function shot(page: Page, name: string): Promise<string> {
  const path = artifactPath(name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

describe.skipIf(!CHROMIUM_FOUND && !CI)('dashboard in headless Chromium', () => {
  const data = tempDir('browser');
  const log = testLog();
  let collector: Collector;
  const agents: RunningAgent[] = [];
  const tokens = new Map<string, string>();
  let operator = '';
  let browser: Awaited<ReturnType<typeof launch>> | undefined;
  const shots: string[] = [];

  beforeAll(async () => {
    expect(CHROMIUM_FOUND, `${CHROMIUM} is required in CI; ${HOW_TO_INSTALL} in .ci/run`).toBe(true);
    // Tokens first: once a person's token exists, the API and live feed ask for one.
    const store = TokenStore.open(data.dir);
    operator = store.create({ kind: 'operator', name: 'ops' }).token;
    for (const [user, account] of SIM_USERS) tokens.set(user, store.create({ kind: 'user', name: user, accounts: [account] }).token);
    store.close();
    const nodeTokens = new AgentTokens(NODES.map((n) => [n, `token-for-${n}-0123456789`] as const));
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: data.dir, tokens: nodeTokens, log, gridCapW: 12_000 });
    for (const [i, node] of NODES.entries()) {
      // Jobs of 2-8 s, so some end while the test runs.
      const sim = new SimulatedNode({ node, nodeOrdinal: i + 1, gpus: 4, seed: 7, timeScale: 2 });
      agents.push(await runAgent({ node, devices: sim, jobs: sim.jobs, intervalMs: 500, log, collectorUrl: collector.url, token: `token-for-${node}-0123456789` }));
    }
    await new Promise((r) => setTimeout(r, 9000));
    browser = await launch();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(agents.map((a) => a.stop(3000)));
    await collector?.close();
    data.remove();
    if (shots.length > 0) console.log(`dashboard screenshots in ${ARTIFACTS}:\n  ${shots.join('\n  ')}`);
  });

  const api = async <T>(path: string, token: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${collector.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as T };
  };

  it("shows the demo's numbers changing over time, with no DOM node per GPU", async () => {
    const page = await (browser as NonNullable<typeof browser>).context.newPage();
    await withToken(page, operator);
    await page.goto(`${collector.url}/`);
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 15_000 });
    const energy1 = await text(page, '#kpi-energy .kpi-number');
    const power1 = await text(page, '#kpi-power .kpi-number');
    const history1 = await page.locator('#power-chart').getAttribute('aria-label');
    await page.waitForTimeout(3500);
    const energy2 = await text(page, '#kpi-energy .kpi-number');
    const history2 = await page.locator('#power-chart').getAttribute('aria-label');
    expect(energy1).not.toBe('—');
    expect(power1).not.toBe('—');
    // Energy since midnight only grows while GPUs draw power.
    expect(energy2).not.toBe(energy1);
    expect(history2).not.toBe(history1);
    // One canvas for every GPU: the grid host holds the canvas, a tooltip and an announcer.
    expect(await page.locator('#gpu-grid *').count()).toBeLessThanOrEqual(6);
    expect(await page.locator('#gpu-grid canvas').count()).toBe(1);
    expect(await text(page, '#kpi-headroom .unit')).toBe('% of cap');
    expect((await text(page, '#factors')).length).toBeGreaterThan(20);
    shots.push(await shot(page, 'overview-4x4-light.png'));
    // Keyboard: the grid is reachable and reads single GPUs.
    await page.locator('#gpu-grid canvas').focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('#gpu-grid [aria-live]').textContent()).toMatch(/GPU 1\. Power .* W/);
    // Theme toggle: system -> light -> dark.
    await page.click('#theme-toggle');
    await page.click('#theme-toggle');
    expect(await page.evaluate(() => document.documentElement.dataset['theme'])).toBe('dark');
    shots.push(await shot(page, 'overview-4x4-dark.png'));
    await page.close();
  });

  it("shows a job page whose energy equals the API's", async () => {
    const { body } = await api<{ jobs: JobSummary[] }>('/api/v1/jobs?state=completed&limit=50', operator);
    const job = body.jobs.find((j) => j.energyJ.total > 0);
    expect(job, 'no completed job with energy yet').toBeDefined();
    if (job === undefined) return;
    const page = await (browser as NonNullable<typeof browser>).context.newPage();
    await withToken(page, operator);
    await page.goto(`${collector.url}/#/job/${encodeURIComponent(job.id)}`);
    await page.waitForSelector('#job-energy[data-energy-j]', { timeout: 15_000 });
    const shownJ = Number(await page.locator('#job-energy').getAttribute('data-energy-j'));
    const detail = await api<JobSummary>(`/api/v1/jobs/${encodeURIComponent(job.id)}`, operator);
    expect(shownJ).toBe(detail.body.energyJ.total);
    const [value, unit] = formatEnergy(detail.body.energyJ.total).split(' ');
    expect(await text(page, '#job-energy .kpi-number')).toBe(value);
    expect(await text(page, '#job-energy .unit')).toBe(unit);
    expect(await text(page, '#split-table')).toMatch(/modelled, not measured/);
    expect(await text(page, '#equivalent')).toMatch(/European Environment Agency/);
    await page.waitForFunction(() => document.querySelector('#job-node-chart canvas') !== null);
    shots.push(await shot(page, 'job-light.png'));
    await page.close();
  });

  it("keeps another user's job from a user's token: API, job page, job list and live feed", async () => {
    const { body } = await api<{ jobs: JobSummary[] }>('/api/v1/jobs?limit=500', operator);
    const mine = body.jobs[0];
    const theirs = body.jobs.find((j) => j.user !== mine?.user);
    expect(mine && theirs, 'need jobs of two users').toBeTruthy();
    if (mine === undefined || theirs === undefined) return;
    const token = tokens.get(mine.user) as string;
    expect((await api(`/api/v1/jobs/${theirs.id}`, token)).status).toBe(404);

    const page = await (browser as NonNullable<typeof browser>).context.newPage();
    await withToken(page, token);
    await page.goto(`${collector.url}/#/job/${encodeURIComponent(theirs.id)}`);
    await page.waitForSelector('#job-error:not([hidden])', { timeout: 15_000 });
    expect(await text(page, '#job-error')).toBe(`Job ${theirs.id} was not found, or it is not yours.`);
    expect(await page.locator('#job-energy').getAttribute('data-energy-j')).toBeNull();

    await page.goto(`${collector.url}/#/me`);
    await page.waitForSelector(`#myjobs-table tr[data-job="${mine.id}"]`, { timeout: 15_000 });
    const listed = await page.locator('#myjobs-table tr[data-job]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset['job']));
    const own = new Set(body.jobs.filter((j) => j.user === mine.user).map((j) => j.id));
    expect(listed.length).toBeGreaterThan(0);
    for (const id of listed) expect(own.has(id ?? ''), `job ${id ?? ''} is not ${mine.user}'s`).toBe(true);
    expect(await text(page, '#whoami')).toContain(`signed in as ${mine.user}`);
    shots.push(await shot(page, 'my-jobs-light.png'));
    await page.close();

    // The live feed refuses the other user's job topic and the cluster picture to this token.
    const ws = new WebSocket(`${collector.url.replace('http', 'ws')}/ws/live`, ['stroom.v1', `stroom.bearer.${token}`]);
    const errors: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => {
        ws.send(JSON.stringify({ v: 1, type: 'subscribe', topics: [`job/${theirs.id}`, 'cluster'] }));
      });
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as LiveMessage;
        if (m.type === 'error') errors.push(m.topic ?? '');
        if (m.type === 'job' || m.type === 'cluster') reject(new Error(`received ${m.type} it may not see`));
        if (errors.length === 2) resolve();
      });
      ws.once('error', reject);
    });
    ws.close();
    expect(errors.sort()).toEqual(['cluster', `job/${theirs.id}`].sort());
  });

  it('draws a 1,000-node x 8-GPU heatmap on one canvas (redraw time recorded, not asserted)', async () => {
    const page = await (browser as NonNullable<typeof browser>).context.newPage();
    await page.setViewportSize({ width: 1920, height: 1080 });
    await withToken(page, operator);
    await page.goto(`${collector.url}/`);
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 15_000 });
    const stats = await page.evaluate(() => {
      type Row = Record<string, unknown>;
      const grid = (window as unknown as { stroomDebug: { grid: { update(r: Row[]): void; redraw(): void; drawMs: number[] } } }).stroomDebug.grid;
      const rows: Row[] = [];
      let seed = 1;
      const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      for (let n = 0; n < 1000; n++) {
        const up = n % 97 !== 13;
        rows.push({
          name: `gcn${n + 1}`, up, lastSeenTs: Date.now(), powerW: 5000,
          gpuUuids: Array.from({ length: 8 }, (_, g) => `GPU-${n}-${g}`),
          gpuPowerW: Array.from({ length: 8 }, () => (rand() < 0.01 ? null : 80 + rand() * 620)),
          gpuPowerLimitW: Array.from({ length: 8 }, () => 700),
          gpuTempC: Array.from({ length: 8 }, () => 35 + rand() * 50),
          gpuUtilRatio: Array.from({ length: 8 }, () => rand()),
          gpuJob: Array.from({ length: 8 }, (_, g) => (g < 6 ? `job${n}` : null)),
        });
      }
      // A 1,000-node grid gets the full width, as the page gives a real one.
      (document.getElementById('panel-grid') as HTMLElement).dataset['size'] = 'large';
      // The live feed would overwrite the synthetic grid at its next message: stop listening.
      grid.update = ((orig) => function (this: unknown, r: Row[]) { if (r === rows) orig.call(this, r); })(grid.update.bind(grid));
      grid.update(rows);
      grid.drawMs.length = 0;
      for (let i = 0; i < 60; i++) grid.redraw();
      return { drawMs: [...grid.drawMs], domNodes: document.querySelectorAll('#gpu-grid *').length };
    });
    const sorted = [...stats.drawMs].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)] ?? NaN;
    const p95 = sorted[Math.floor(sorted.length * 0.95)] ?? NaN;
    const record = { cells: 8000, frames: sorted.length, p50Ms: p50, p95Ms: p95, maxMs: sorted[sorted.length - 1], chromium: CHROMIUM };
    writeFileSync(artifactPath('heatmap-1000x8-timing.json'), `${JSON.stringify(record, null, 2)}\n`);
    console.log(`heatmap 1000x8 redraw in headless Chromium: p50 ${p50.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms over ${sorted.length} frames`);
    expect(stats.drawMs.length).toBe(60);
    expect(stats.domNodes).toBeLessThanOrEqual(6);
    shots.push(await shot(page, 'overview-1000x8-synthetic-grid.png'));
    await page.close();
  });
});
