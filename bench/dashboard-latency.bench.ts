/**
 * Dashboard latency and the cost of watching, with 1,000 simulated 8-GPU nodes.
 *
 * 1. Sample-to-paint (after the baseline window, before the clients connect): a real headless Chromium (Debian's, playwright-core) opens the overview
 *    with `?paintlog`; after each `cluster` message is applied, the page waits for the next
 *    animation frame and records, for every grid row in the message, paint time minus the
 *    row's `lastSeenTs` (the agent's sample time; same machine, same clock). p50 and p99.
 * 2. The cost of watching: the collector process's CPU (utime + stime from /proc) over the same
 *    length of window without any dashboard (baseline: ingest alone) and with BENCH_CLIENTS=100
 *    plain WebSocket clients subscribed to `cluster`; the difference is what /ws/live costs, as
 *    % of one core, and the ratio of the two windows.
 *
 * The load is bench/lib/ingest-load.ts (the collector-ingest generator: one connection per
 * node, realistic batches once a second, sent within BENCH_SPREAD_MS after each whole second) in separate
 * processes; the collector is the built CLI (`npx tsc -b` first, which `npm run bench` does).
 *
 * Agents sample on the wall clock's whole seconds (agent/src/agent.ts) and the collector pushes
 * 300 ms after them (collector/src/live/live-server.ts), so the generator's nodes send within
 * BENCH_SPREAD_MS=100 after each whole second (1000: spread over the whole second, the worst case).
 *
 * Knobs: BENCH_NODES=1000, BENCH_GPUS=8, BENCH_CLIENTS=100, BENCH_SECONDS=20 (each window),
 * BENCH_WARMUP=8, BENCH_PROCS=2, BENCH_SCREENSHOT=FILE (a full-page PNG of the overview at scale),
 * BENCH_COLLECTOR_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" (profile the collector),
 * CHROMIUM=/usr/bin/chromium.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { CLK_TCK, cpuTicks, nodeName, nodeToken } from './lib/ingest-common.js';
import type { FromLoad, LoadConfig, ToLoad } from './lib/ingest-common.js';
import { knob } from './lib/knob.js';
import { compile, freePort, runDir, sleep, track } from './lib/procs.js';

const NODES = Math.max(1, Math.floor(knob('BENCH_NODES', 1000)));
const GPUS = Math.max(1, Math.floor(knob('BENCH_GPUS', 8)));
const CLIENTS = Math.floor(knob('BENCH_CLIENTS', 100));
const SECONDS = Math.max(2, knob('BENCH_SECONDS', 20));
const WARMUP = knob('BENCH_WARMUP', 8);
const PROCS = Math.max(1, Math.floor(knob('BENCH_PROCS', 2)));
/** Nodes send within this many ms after each whole second (agents sample on whole seconds; the spread is their read and send time). */
const SPREAD_MS = knob('BENCH_SPREAD_MS', 100);
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIB = fileURLToPath(new URL('./lib/', import.meta.url));
const CLI = join(ROOT, 'cli/dist/src/main.js');
const dir = runDir('stroom-bench-dash-');


function nextMessage<T extends FromLoad['type']>(p: ChildProcess, type: T, timeoutMs: number): Promise<Extract<FromLoad, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`load generator: no "${type}" after ${timeoutMs} ms`)), timeoutMs);
    const on = (m: FromLoad): void => {
      if (m.type !== type) return;
      clearTimeout(timer);
      p.off('message', on);
      resolve(m as Extract<FromLoad, { type: T }>);
    };
    p.on('message', on);
  });
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Collector CPU over one window, in % of one core. */
async function cpuWindow(pid: number, seconds: number): Promise<number> {
  const t0 = cpuTicks(pid);
  const w0 = performance.now();
  await sleep(seconds * 1000);
  const ticks = cpuTicks(pid) - t0;
  const wallS = (performance.now() - w0) / 1000;
  return (ticks / CLK_TCK / wallS) * 100;
}

async function main(): Promise<void> {
  const secret = randomBytes(8).toString('hex');
  const tokens: Record<string, string> = {};
  for (let g = 0; g < NODES; g++) tokens[nodeName(g)] = nodeToken(secret, g);
  const tokensFile = join(dir, 'tokens.json');
  writeFileSync(tokensFile, JSON.stringify(tokens));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // BENCH_COLLECTOR_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the collector.
  const nodeFlags = (process.env['BENCH_COLLECTOR_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
  const collector = track(spawn(process.execPath, [...nodeFlags, CLI, 'collector', '--listen', `127.0.0.1:${port}`, '--data', join(dir, 'data'), '--tokens', tokensFile, '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'inherit'] }));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not yet
    }
    if (i > 300) throw new Error('collector not ready after 30 s');
    await sleep(100);
  }
  const pid = collector.pid as number;

  // A plain .mjs: no tsx loader in the load processes.
  const load = (await compile(ROOT, dir, { 'ingest-load': join(LIB, 'ingest-load.ts') }))['ingest-load'] as string;
  const gens: ChildProcess[] = [];
  for (let i = 0; i < PROCS; i++) {
    const cfg: LoadConfig = { url: `ws://127.0.0.1:${port}/ws/agent`, totalNodes: NODES, procs: PROCS, procIndex: i, gpus: GPUS, cores: 64, window: 64, secret, connectConcurrency: 32, spreadMs: SPREAD_MS };
    gens.push(track(spawn(process.execPath, [load, JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })));
  }
  const ready = await Promise.all(gens.map((g) => nextMessage(g, 'ready', 120_000)));
  const connected = ready.reduce((n, r) => n + r.connected, 0);
  if (connected < NODES) throw new Error(`only ${connected} of ${NODES} nodes connected: ${ready.find((r) => r.firstError)?.firstError ?? ''}`);
  // Whole seconds, as agents tick on the wall clock's whole seconds.
  const start: ToLoad = { type: 'start', t0: Math.ceil((Date.now() + 500) / 1000) * 1000 };
  for (const g of gens) g.send(start);
  console.log(`${NODES} nodes x ${GPUS} GPUs connected; warming up ${WARMUP} s`);
  await sleep(WARMUP * 1000);

  // The cost of watching: the same window length without and with the dashboards.
  const baselinePct = await cpuWindow(pid, SECONDS);
  // Sample-to-paint in a real browser, the only dashboard open (on 2 shared cores, 100 more would starve it).
  let paints: number[] = [];
  let sinceBuild: number[] = [];
  if (!(await import('node:fs')).existsSync(CHROMIUM)) {
    console.log(`sample-to-paint: skipped, ${CHROMIUM} not found (run deploy/local/chromium.sh start)`);
  } else {
    const profile = mkdtempSync(join(tmpdir(), 'stroom-chromium-'));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1920, height: 1080 },
    });
    try {
      const page = await browser.newPage();
      page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') console.error(`page ${m.type()}: ${m.text()}`);
      });
      await page.goto(`${url}/?paintlog`, { timeout: 120_000 });
      await page.waitForFunction(() => ((window as unknown as { stroomPaint?: number[] }).stroomPaint ?? []).length > 0, undefined, { timeout: 120_000 });
      await sleep(3000);
      await page.evaluate(() => {
        const w = window as unknown as { stroomPaint: number[]; stroomPaintSinceBuild: number[] };
        w.stroomPaint.length = 0;
        w.stroomPaintSinceBuild.length = 0;
      });
      await sleep(SECONDS * 1000);
      paints = await page.evaluate(() => [...(window as unknown as { stroomPaint: number[] }).stroomPaint]);
      sinceBuild = await page.evaluate(() => [...(window as unknown as { stroomPaintSinceBuild: number[] }).stroomPaintSinceBuild]);
      const shot = process.env['BENCH_SCREENSHOT'];
      if (shot !== undefined && shot !== '') {
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`screenshot: ${shot}`);
      }
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }
  const clients: WebSocket[] = [];
  let received = 0;
  let bytes = 0;
  for (let i = 0; i < CLIENTS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/live`);
    ws.on('open', () => ws.send(JSON.stringify({ v: 1, type: 'subscribe', topics: ['cluster'] })));
    ws.on('error', (err) => console.error(`dashboard client ${i}: ${err.message}`));
    ws.on('message', (d: Buffer) => {
      received += 1;
      bytes += d.length;
    });
    clients.push(ws);
  }
  await sleep(3000); // past the snapshots
  const r0 = received;
  const b0 = bytes;
  const watchedPct = await cpuWindow(pid, SECONDS);
  const perClientPerS = (received - r0) / CLIENTS / SECONDS;
  const kbPerMsg = (bytes - b0) / Math.max(1, received - r0) / 1024;

  for (const ws of clients) ws.terminate();
  for (const g of gens) g.send({ type: 'stop' } satisfies ToLoad);

  const sorted = paints.sort((a, b) => a - b);
  const costPct = watchedPct - baselinePct;
  console.log(`\nsample -> paint in headless Chromium, ${NODES} nodes x ${GPUS} GPUs, ${sorted.length} row paints over ${SECONDS} s:`);
  console.log(`  p50 ${quantile(sorted, 0.5).toFixed(0)} ms, p99 ${quantile(sorted, 0.99).toFixed(0)} ms, max ${quantile(sorted, 1).toFixed(0)} ms (goal p99 <= 1000 ms)`);
  const built = sinceBuild.sort((a, b) => a - b);
  console.log(`  of which message built -> painted (encode, send, parse, validate, draw; ${built.length} messages): p50 ${quantile(built, 0.5).toFixed(0)} ms, p99 ${quantile(built, 0.99).toFixed(0)} ms`);
  console.log(`  the rest is the wait for the push, ${SPREAD_MS < 1000 ? 'which the collector makes half a second after the whole second agents sample on' : 'up to a whole second for samples spread over the second'}, and the commit`);
  console.log(`collector CPU, ${SECONDS} s windows:`);
  console.log(`  baseline, ingest only:                 ${baselinePct.toFixed(1)} % of a core`);
  console.log(`  with ${CLIENTS} dashboards on 'cluster':      ${watchedPct.toFixed(1)} % of a core (${perClientPerS.toFixed(2)} messages/s per client, ${kbPerMsg.toFixed(0)} KiB each)`);
  console.log(`  /ws/live cost (difference):            ${costPct.toFixed(1)} % of a core (goal <= 10 %); ratio with/without ${(watchedPct / baselinePct).toFixed(2)}x`);
  collector.kill('SIGINT');
  await new Promise((r) => collector.once('exit', r));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
