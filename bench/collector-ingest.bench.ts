/**
 * Collector ingest: sustained GPU samples/s, collector CPU and RSS, and send -> ack latency
 * (p50/p99) under many agents, against a baseline in the same run: a ws server that only
 * JSON.parses each frame and acks it (bench/lib/parse-only-server.ts).
 *
 * The load comes from BENCH_PROCS separate processes (bench/lib/ingest-load.ts), one WebSocket
 * connection per simulated node with its own token, Hello then one realistic Batch per second
 * (8 GPUs, CPU packages, DRAM, host gauges, job map, cumulative counters per device, per job
 * and idle), spread evenly across each second. The real collector is the built CLI
 * (`npx tsc -b` first): `node cli/dist/src/main.js collector --listen ... --data <tmp>
 * --tokens <file>`; its ack means the batch is counted and committed to SQLite.
 *
 * Figures: throughput = batches sent in the measured window and acked (within 5 s after it)
 * x GPUs per batch / window, so a backlog from the warm-up cannot inflate it; CPU from
 * /proc/<pid>/stat (utime + stime, all threads) over the same window; RSS sampled once a
 * second; latency from the generator's send to its receipt of the ack, per window batch. Generator
 * CPU and send lag are printed too: on a small machine the generator shares the cores with the
 * server, and the output says when the machine or the generator was the limit.
 *
 * Knobs (environment):
 *   BENCH_NODES=1000      simulated nodes (connections)
 *   BENCH_GPUS=8          GPUs per node
 *   BENCH_CORES=64        logical CPUs per node (per-core utilisation list in each batch)
 *   BENCH_SECONDS=30      measured window per server, after BENCH_WARMUP=5 s of load
 *   BENCH_PROCS=2         load generator processes
 *   BENCH_WINDOW=64       unacked batches per connection before ticks are held back (agent link window)
 *   BENCH_TARGETS=baseline,collector   which servers to run, in that order
 *   BENCH_RAMP=0          1: afterwards, raise the collector's node count by BENCH_RAMP_FACTOR=1.5
 *                         per step (BENCH_RAMP_SECONDS=15 measured after BENCH_RAMP_WARMUP=10 s each,
 *                         from BENCH_RAMP_START=BENCH_NODES x factor, up to BENCH_RAMP_MAX=16000
 *                         nodes; the fd limit must allow that many sockets) until p99 ack latency
 *                         > 1 s, acks fall behind, or the generator cannot keep up
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { build } from 'esbuild';
import { CLK_TCK, LogHistogram, cpuTicks, nodeName, nodeToken, rssBytes } from './lib/ingest-common.js';
import type { FromLoad, LoadConfig, LoadReport, ToLoad } from './lib/ingest-common.js';

function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${raw}: expected a non-negative number`);
  return n;
}

const NODES = Math.max(1, Math.floor(knob('BENCH_NODES', 1000)));
const GPUS = Math.max(1, Math.floor(knob('BENCH_GPUS', 8)));
const CORES = Math.floor(knob('BENCH_CORES', 64));
const SECONDS = Math.max(1, knob('BENCH_SECONDS', 30));
const WARMUP = knob('BENCH_WARMUP', 5);
const PROCS = Math.max(1, Math.floor(knob('BENCH_PROCS', 2)));
const WINDOW = Math.max(1, Math.floor(knob('BENCH_WINDOW', 64)));
const TARGETS = (process.env['BENCH_TARGETS'] ?? 'baseline,collector').split(',').map((s) => s.trim()).filter((s) => s !== '');
const RAMP = knob('BENCH_RAMP', 0) > 0;
const RAMP_FACTOR = Math.max(1.1, knob('BENCH_RAMP_FACTOR', 1.5));
const RAMP_SECONDS = Math.max(1, knob('BENCH_RAMP_SECONDS', 15));
const RAMP_START = Math.max(1, Math.floor(knob('BENCH_RAMP_START', Math.ceil(NODES * RAMP_FACTOR))));
const RAMP_MAX = Math.max(NODES, Math.floor(knob('BENCH_RAMP_MAX', 16000)));
const RAMP_WARMUP = knob('BENCH_RAMP_WARMUP', 10);
/** How long after the window its batches may still be acked and counted. */
const DRAIN_MS = 5000;
for (const t of TARGETS) if (t !== 'baseline' && t !== 'collector') throw new Error(`BENCH_TARGETS: unknown target "${t}" (baseline, collector)`);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIB = fileURLToPath(new URL('./lib/', import.meta.url));
const CLI = join(ROOT, 'cli/dist/src/main.js');
const NCPU = cpus().length;
const MAX_TOKENS = RAMP ? Math.max(NODES, RAMP_MAX) : NODES;

const dir = mkdtempSync(join(tmpdir(), 'stroom-bench-ingest-'));
const live = new Set<ChildProcess>();

/** Kill every process this benchmark started; safe to call more than once. */
function killAll(): void {
  for (const p of live) {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
  live.clear();
}
process.on('exit', () => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

function track(p: ChildProcess): ChildProcess {
  live.add(p);
  p.on('exit', () => live.delete(p));
  return p;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Build the generator and the baseline server into plain .mjs files (no tsx loader in the processes measured). */
async function compileHelpers(): Promise<{ load: string; baseline: string }> {
  const wsUrl = pathToFileURL(join(createRequire(join(ROOT, 'package.json')).resolve('ws/package.json'), '../wrapper.mjs')).href;
  await build({
    entryPoints: { 'ingest-load': join(LIB, 'ingest-load.ts'), 'parse-only-server': join(LIB, 'parse-only-server.ts') },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['ws'],
    logLevel: 'error',
  });
  const out = { load: join(dir, 'ingest-load.mjs'), baseline: join(dir, 'parse-only-server.mjs') };
  for (const f of Object.values(out)) writeFileSync(f, readFileSync(f, 'utf8').replace(/from\s*["']ws["']/g, `from ${JSON.stringify(wsUrl)}`));
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(port: number, p: ChildProcess, what: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`${what} exited (${p.exitCode ?? p.signalCode}) before it was ready`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${what} not ready on port ${port} after 30 s`);
}

async function health(port: number): Promise<Record<string, unknown>> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) });
    return (await res.json()) as Record<string, unknown>;
  } catch (err) {
    return { error: (err as Error).message };
  }
}

interface Server {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly port: number;
  readonly dataDir?: string;
}

let tokensFile: string | undefined;
function tokens(secret: string): string {
  if (tokensFile !== undefined) return tokensFile;
  const all: Record<string, string> = {};
  for (let g = 0; g < MAX_TOKENS; g++) all[nodeName(g)] = nodeToken(secret, g);
  tokensFile = join(dir, 'tokens.json');
  writeFileSync(tokensFile, JSON.stringify(all));
  return tokensFile;
}

let starts = 0;
async function startServer(target: string, helpers: { baseline: string }, secret: string): Promise<Server> {
  const port = await freePort();
  if (target === 'baseline') {
    const proc = track(spawn(process.execPath, [helpers.baseline, String(port)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
    await waitHealthy(port, proc, 'baseline server');
    return { name: 'baseline', proc, port };
  }
  const dataDir = join(dir, `data-${starts++}`);
  mkdirSync(dataDir);
  // BENCH_COLLECTOR_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the collector.
  const nodeFlags = (process.env['BENCH_COLLECTOR_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
  const proc = track(spawn(process.execPath, [...nodeFlags, CLI, 'collector', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--tokens', tokens(secret), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  // Warnings and errors go through; the start-up banner would only clutter the table.
  let partial = '';
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line !== '' && !line.startsWith('stroom collector on ')) process.stderr.write(`collector: ${line}\n`);
  });
  await waitHealthy(port, proc, 'collector');
  return { name: 'collector', proc, port, dataDir };
}

async function stopServer(s: Server): Promise<void> {
  if (s.proc.exitCode === null && s.proc.signalCode === null) {
    const gone = new Promise<void>((r) => s.proc.once('exit', () => r()));
    // SIGINT first so a profiled collector writes its profile; SIGKILL if it lingers.
    s.proc.kill('SIGINT');
    const timer = setTimeout(() => s.proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
  if (s.dataDir !== undefined) rmSync(s.dataDir, { recursive: true, force: true });
}

/** A generator process and a way to await its next message of a type. */
class Generator {
  readonly proc: ChildProcess;
  readonly #waiting = new Map<string, Array<(m: FromLoad) => void>>();
  readonly #early = new Map<string, FromLoad[]>();

  constructor(script: string, config: LoadConfig) {
    this.proc = track(spawn(process.execPath, [script, JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    this.proc.on('message', (m: FromLoad) => {
      const w = this.#waiting.get(m.type)?.shift();
      if (w !== undefined) w(m);
      else this.#early.set(m.type, [...(this.#early.get(m.type) ?? []), m]);
    });
  }

  next<T extends FromLoad['type']>(type: T, timeoutMs: number): Promise<Extract<FromLoad, { type: T }>> {
    const early = this.#early.get(type)?.shift();
    if (early !== undefined) return Promise.resolve(early as Extract<FromLoad, { type: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load generator ${this.proc.pid}: no "${type}" after ${timeoutMs} ms`)), timeoutMs);
      const onExit = (): void => reject(new Error(`load generator ${this.proc.pid} exited while waiting for "${type}"`));
      this.proc.once('exit', onExit);
      const list = this.#waiting.get(type) ?? [];
      list.push((m) => {
        clearTimeout(timer);
        this.proc.off('exit', onExit);
        resolve(m as Extract<FromLoad, { type: T }>);
      });
      this.#waiting.set(type, list);
    });
  }

  tell(msg: ToLoad): void {
    if (this.proc.connected) this.proc.send(msg);
  }
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

interface Result {
  readonly server: string;
  readonly nodes: number;
  readonly seconds: number;
  readonly connected: number;
  readonly connectFailed: number;
  readonly firstConnectError?: string;
  readonly batchBytes: number;
  readonly helloBytes: number;
  readonly sent: number;
  readonly acked: number;
  readonly ackedAny: number;
  readonly heldBack: number;
  readonly closes: number;
  readonly firstClose?: string;
  readonly outstanding: number;
  readonly latency: LogHistogram;
  readonly lateness: LogHistogram;
  readonly serverCpuPct: number;
  readonly genCpuPct: number[];
  readonly machineCores: number;
  readonly rssMiB: number[];
  readonly health: Record<string, unknown>;
}

async function runLoad(server: Server, script: string, nodes: number, seconds: number, warmup: number, secret: string): Promise<Result> {
  const gens: Generator[] = [];
  try {
    const procs = Math.min(PROCS, nodes);
    for (let i = 0; i < procs; i++) {
      gens.push(new Generator(script, {
        url: `ws://127.0.0.1:${server.port}/ws/agent`,
        totalNodes: nodes,
        procs,
        procIndex: i,
        gpus: GPUS,
        cores: CORES,
        window: WINDOW,
        secret,
        connectConcurrency: 64,
      }));
    }
    const ready = await Promise.all(gens.map((g) => g.next('ready', 180_000)));
    const connected = ready.reduce((n, r) => n + r.connected, 0);
    const connectFailed = ready.reduce((n, r) => n + r.failed, 0);
    const firstConnectError = ready.find((r) => r.firstError !== undefined)?.firstError;
    if (connected === 0) throw new Error(`${server.name}: no connection opened (${firstConnectError ?? 'no error given'})`);
    const t0 = Date.now() + 300;
    for (const g of gens) g.tell({ type: 'start', t0 });
    await sleep(300 + warmup * 1000);

    for (const g of gens) g.tell({ type: 'mark' });
    const s0 = cpuTicks(server.proc.pid ?? 0);
    const g0 = gens.map((g) => cpuTicks(g.proc.pid ?? 0));
    const m0 = machineTicks();
    const w0 = performance.now();
    const rss: number[] = [];
    const end = w0 + seconds * 1000;
    while (performance.now() < end) {
      await sleep(Math.min(1000, end - performance.now()));
      rss.push(rssBytes(server.proc.pid ?? 0) / 1048576);
      if (server.proc.exitCode !== null || server.proc.signalCode !== null) throw new Error(`${server.name} exited during the load (${server.proc.exitCode ?? server.proc.signalCode})`);
    }
    const reportsP = Promise.all(gens.map((g) => g.next('report', DRAIN_MS + 30_000)));
    for (const g of gens) g.tell({ type: 'report', drainMs: DRAIN_MS });
    const wallS = (performance.now() - w0) / 1000;
    const s1 = cpuTicks(server.proc.pid ?? 0);
    const g1 = gens.map((g) => cpuTicks(g.proc.pid ?? 0));
    const m1 = machineTicks();
    const reports: LoadReport[] = await reportsP;

    const latency = new LogHistogram();
    const lateness = new LogHistogram();
    for (const r of reports) {
      latency.merge(r.latency);
      lateness.merge(r.lateness);
    }
    const sum = (f: (r: LoadReport) => number): number => reports.reduce((n, r) => n + f(r), 0);
    const firstClose = reports.find((r) => r.firstClose !== undefined)?.firstClose;
    const h = await health(server.port);
    return {
      server: server.name,
      nodes,
      seconds: wallS,
      connected,
      connectFailed,
      ...(firstConnectError !== undefined ? { firstConnectError } : {}),
      batchBytes: ready[0]?.batchBytes ?? 0,
      helloBytes: ready[0]?.helloBytes ?? 0,
      sent: sum((r) => r.sent),
      acked: sum((r) => r.acked),
      ackedAny: sum((r) => r.ackedAny),
      heldBack: sum((r) => r.heldBack),
      closes: sum((r) => r.closes),
      ...(firstClose !== undefined ? { firstClose } : {}),
      outstanding: sum((r) => r.outstanding),
      latency,
      lateness,
      serverCpuPct: (100 * (s1 - s0)) / CLK_TCK / wallS,
      genCpuPct: g1.map((t, i) => (100 * (t - (g0[i] ?? 0))) / CLK_TCK / wallS),
      machineCores: m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * NCPU : Number.NaN,
      rssMiB: rss,
      health: h,
    };
  } finally {
    for (const g of gens) g.tell({ type: 'stop' });
    await Promise.race([Promise.all(gens.map((g) => (g.proc.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => g.proc.once('exit', () => r()))))), sleep(3000)]);
    for (const g of gens) if (g.proc.exitCode === null && g.proc.signalCode === null) g.proc.kill('SIGKILL');
  }
}

const samplesPerS = (r: Result): number => (r.acked * GPUS) / r.seconds;
/** Server CPU in µs per accepted GPU sample. */
const usPerSample = (r: Result): number => (r.serverCpuPct / 100) * 1e6 / Math.max(1e-9, samplesPerS(r));
const genTotal = (r: Result): number => r.genCpuPct.reduce((a, b) => a + b, 0);
const ms = (v: number): string => (Number.isNaN(v) ? '-' : v < 10 ? `${v.toFixed(2)} ms` : v < 1000 ? `${v.toFixed(0)} ms` : `${(v / 1000).toFixed(2)} s`);

/** Why a run did not keep up, or undefined when it did. */
function behind(r: Result): string | undefined {
  const why: string[] = [];
  if (r.connectFailed > 0) why.push(`${r.connectFailed} connections failed (${r.firstConnectError ?? ''})`);
  if (r.closes > 0) why.push(`${r.closes} sockets closed (${r.firstClose ?? ''})`);
  if (r.heldBack > 0) why.push(`${r.heldBack} ticks held back by the ${WINDOW}-batch window`);
  if (r.acked < 0.99 * r.sent) why.push(`acks fell behind: ${r.acked} of the window's ${r.sent} batches acked within ${DRAIN_MS / 1000} s after it (server acked ${(r.ackedAny / r.seconds).toFixed(0)} batches/s in the window)`);
  if (r.latency.quantile(0.99) > 1000) why.push(`p99 ack latency ${ms(r.latency.quantile(0.99))} > 1 s`);
  return why.length > 0 ? why.join('; ') : undefined;
}

/** Whether the generator, not the server, limited the run (then the ramp stops). */
function generatorLimited(r: Result): string | undefined {
  const why: string[] = [];
  const hot = r.genCpuPct.filter((c) => c > 85);
  if (hot.length > 0) why.push(`${hot.length} generator process(es) above 85 % of a core`);
  if (r.lateness.quantile(0.99) > 200) why.push(`generator sent p99 ${ms(r.lateness.quantile(0.99))} late`);
  return why.length > 0 ? why.join('; ') : undefined;
}

/** A note when the whole machine was busy (the server and the generator share its cores, and so may others). */
function machineNote(r: Result): string | undefined {
  if (!(r.machineCores > 0.9 * NCPU)) return undefined;
  const ours = (r.serverCpuPct + genTotal(r)) / 100;
  return `machine saturated: ${r.machineCores.toFixed(2)} of ${NCPU} cores busy (server + generator ${ours.toFixed(2)}, other processes ${Math.max(0, r.machineCores - ours).toFixed(2)}); the server may have been short of CPU`;
}

function row(r: Result): string {
  const rssMax = Math.max(...r.rssMiB, 0);
  const rssLast = r.rssMiB[r.rssMiB.length - 1] ?? 0;
  return [
    `  ${r.server.padEnd(10)}`,
    `${samplesPerS(r).toFixed(0).padStart(8)} samples/s`,
    `acked ${((100 * r.acked) / Math.max(1, r.sent)).toFixed(1).padStart(5)} %`,
    `ack p50 ${ms(r.latency.quantile(0.5)).padStart(8)} p99 ${ms(r.latency.quantile(0.99)).padStart(8)} max ${ms(r.latency.max).padStart(8)}`,
    `CPU ${r.serverCpuPct.toFixed(1).padStart(5)} % of a core (${usPerSample(r).toFixed(2)} µs/sample)`,
    `RSS max ${rssMax.toFixed(0)} MiB (last ${rssLast.toFixed(0)})`,
    `generator CPU ${genTotal(r).toFixed(0)} % (${r.genCpuPct.map((c) => c.toFixed(0)).join('+')}), send lag p99 ${ms(r.lateness.quantile(0.99))}`,
  ].join(' | ');
}

const secret = randomBytes(8).toString('hex');
const helpers = await compileHelpers();
const results = new Map<string, Result>();

console.log(`${NODES} nodes x ${GPUS} GPUs at 1 Hz (${NODES * GPUS} GPU samples/s offered), ${CORES} logical CPUs per node, ${PROCS} generator processes, ${NCPU} cores on this machine; ${SECONDS} s measured per server after ${WARMUP} s of load`);
for (const target of TARGETS) {
  const server = await startServer(target, helpers, secret);
  try {
    const r = await runLoad(server, helpers.load, NODES, SECONDS, WARMUP, secret);
    results.set(target, r);
    if (results.size === 1) console.log(`frames: Hello ${r.helloBytes} B, Batch ${r.batchBytes} B (${((r.batchBytes * NODES) / 1e6).toFixed(1)} MB/s in total)`);
    console.log(row(r));
    const lag = behind(r);
    if (lag !== undefined) console.log(`    did not keep up: ${lag}`);
    const gen = generatorLimited(r);
    if (gen !== undefined) console.log(`    note: ${gen}; the figures are a lower bound for the server`);
    const busy = machineNote(r);
    if (busy !== undefined) console.log(`    note: ${busy}`);
    if (target === 'collector') console.log(`    collector health after the window: ${JSON.stringify(r.health)}`);
  } finally {
    await stopServer(server);
  }
}

const c = results.get('collector');
const b = results.get('baseline');
if (c !== undefined && b !== undefined) {
  console.log(`ratio collector / baseline: throughput ${(samplesPerS(c) / Math.max(1e-9, samplesPerS(b))).toFixed(2)}x, CPU per sample ${(usPerSample(c) / Math.max(1e-9, usPerSample(b))).toFixed(2)}x, RSS max ${(Math.max(...c.rssMiB) / Math.max(1e-9, ...b.rssMiB)).toFixed(2)}x, p99 ack latency ${(c.latency.quantile(0.99) / b.latency.quantile(0.99)).toFixed(1)}x`);
}
if (c !== undefined) {
  const at100k = (usPerSample(c) * 100_000) / 1e4;
  console.log(`linear projection of the collector's CPU per sample to 100k GPUs at 1 Hz: ${at100k.toFixed(0)} % of a core (goal <= 38 %; a projection, not a measurement: BENCH_NODES=12500 or BENCH_RAMP=1 measures it)`);
}

if (RAMP) {
  console.log(`ramp (collector, ${RAMP_SECONDS} s per step, x${RAMP_FACTOR} nodes, up to ${RAMP_MAX}): stops at p99 ack > 1 s, acks behind, or a generator limit`);
  let best: Result | undefined = c !== undefined && behind(c) === undefined ? c : undefined;
  for (let n = RAMP_START; ; n = Math.min(RAMP_MAX, Math.ceil(n * RAMP_FACTOR))) {
    const server = await startServer('collector', helpers, secret);
    let r: Result;
    try {
      r = await runLoad(server, helpers.load, n, RAMP_SECONDS, RAMP_WARMUP, secret);
    } finally {
      await stopServer(server);
    }
    console.log(row(r).replace(/^ {2}collector {2}/, `  ${String(n).padStart(6)} nodes`));
    const lag = behind(r);
    const gen = generatorLimited(r);
    const busy = machineNote(r);
    if (busy !== undefined) console.log(`    note: ${busy}`);
    if (lag !== undefined) {
      console.log(`    did not keep up: ${lag}${gen !== undefined ? ` (but ${gen})` : ''}`);
      break;
    }
    best = r;
    if (gen !== undefined) {
      console.log(`    stopping: ${gen}; the collector kept up, so its limit is above this`);
      break;
    }
    if (n >= RAMP_MAX) break;
  }
  if (best !== undefined) console.log(`highest rate kept up: ${best.nodes} nodes = ${samplesPerS(best).toFixed(0)} GPU samples/s, collector ${best.serverCpuPct.toFixed(1)} % of a core, RSS max ${Math.max(...best.rssMiB).toFixed(0)} MiB, p99 ack ${ms(best.latency.quantile(0.99))}`);
  else console.log('no ramp step kept up');
}
killAll();
