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
 * The peer (target `prometheus`): what users would otherwise run, a real Prometheus (Debian's
 * 2.42 at /usr/bin/prometheus; `deploy/local/prometheus.sh start` installs it) scraping
 * dcgm-exporter on every node. The benchmark starts its own Prometheus (config, TSDB in a temp
 * dir, a free loopback port; 1 s scrape interval, every node a target, no rules, no remote write)
 * and BENCH_PROCS exporter processes (bench/lib/dcgm-exporter.ts) that serve dcgm-exporter's text
 * for every simulated 8-GPU node, with values changing every second. Once every target is up
 * and BENCH_WARMUP has passed, the same window is measured: Prometheus's CPU and RSS from /proc,
 * and the samples it appended from its own `prometheus_tsdb_head_samples_appended_total` (read
 * from its /metrics at the window's start and end, so no self-scrape adds to the count). GPU
 * samples/s = (appended - 5 per scrape for Prometheus's own up/scrape_* series) / 6, one GPU
 * sample being the issue's 6 series. The exporters' CPU is printed apart: it is the agents' side.
 *
 * Knobs (environment):
 *   BENCH_NODES=1000      simulated nodes (connections)
 *   BENCH_GPUS=8          GPUs per node
 *   BENCH_CORES=64        logical CPUs per node (per-core utilisation list in each batch)
 *   BENCH_SECONDS=30      measured window per server, after BENCH_WARMUP=5 s of load
 *   BENCH_PROCS=2         load generator processes
 *   BENCH_WINDOW=64       unacked batches per connection before ticks are held back (agent link window)
 *   BENCH_TARGETS=baseline,collector,prometheus   which servers to run, in that order
 *                         (prometheus only by default when BENCH_PROMETHEUS exists)
 *   BENCH_PROMETHEUS=/usr/bin/prometheus   the Prometheus binary of the peer
 *   BENCH_RAMP=0          1: afterwards, raise the collector's node count by BENCH_RAMP_FACTOR=1.5
 *                         per step (BENCH_RAMP_SECONDS=15 measured after BENCH_RAMP_WARMUP=10 s each,
 *                         from BENCH_RAMP_START=BENCH_NODES x factor, up to BENCH_RAMP_MAX=16000
 *                         nodes; the fd limit must allow that many sockets) until p99 ack latency
 *                         > 1 s, acks fall behind, or the generator cannot keep up
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { CLK_TCK, DCGM_SERIES_PER_GPU, LogHistogram, cpuTicks, nodeName, nodeToken, rssBytes } from './lib/ingest-common.js';
import type { ExporterConfig, FromExporter, FromLoad, LoadConfig, LoadReport, ToExporter, ToLoad } from './lib/ingest-common.js';
import { knob } from './lib/knob.js';
import { compile, freePort, health, IpcChild, killAll, machineTicks, runDir, sleep, track, waitHealthy } from './lib/procs.js';

const NODES = Math.max(1, Math.floor(knob('BENCH_NODES', 1000)));
const GPUS = Math.max(1, Math.floor(knob('BENCH_GPUS', 8)));
const CORES = Math.floor(knob('BENCH_CORES', 64));
const SECONDS = Math.max(1, knob('BENCH_SECONDS', 30));
const WARMUP = knob('BENCH_WARMUP', 5);
const PROCS = Math.max(1, Math.floor(knob('BENCH_PROCS', 2)));
const WINDOW = Math.max(1, Math.floor(knob('BENCH_WINDOW', 64)));
const PROMETHEUS = process.env['BENCH_PROMETHEUS'] ?? '/usr/bin/prometheus';
const HAVE_PROMETHEUS = existsSync(PROMETHEUS);
const TARGETS = (process.env['BENCH_TARGETS'] ?? (HAVE_PROMETHEUS ? 'baseline,collector,prometheus' : 'baseline,collector')).split(',').map((s) => s.trim()).filter((s) => s !== '');
const RAMP = knob('BENCH_RAMP', 0) > 0;
const RAMP_FACTOR = Math.max(1.1, knob('BENCH_RAMP_FACTOR', 1.5));
const RAMP_SECONDS = Math.max(1, knob('BENCH_RAMP_SECONDS', 15));
const RAMP_START = Math.max(1, Math.floor(knob('BENCH_RAMP_START', Math.ceil(NODES * RAMP_FACTOR))));
const RAMP_MAX = Math.max(NODES, Math.floor(knob('BENCH_RAMP_MAX', 16000)));
const RAMP_WARMUP = knob('BENCH_RAMP_WARMUP', 10);
/** How long after the window its batches may still be acked and counted. */
const DRAIN_MS = 5000;
for (const t of TARGETS) if (t !== 'baseline' && t !== 'collector' && t !== 'prometheus') throw new Error(`BENCH_TARGETS: unknown target "${t}" (baseline, collector, prometheus)`);
const PROM_HINT = 'deploy/local/prometheus.sh start installs Debian\'s prometheus 2.42 (or set BENCH_PROMETHEUS to a prometheus binary)';
if (TARGETS.includes('prometheus') && !HAVE_PROMETHEUS) throw new Error(`BENCH_TARGETS includes prometheus, but ${PROMETHEUS} does not exist: ${PROM_HINT}`);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIB = fileURLToPath(new URL('./lib/', import.meta.url));
const CLI = join(ROOT, 'cli/dist/src/main.js');
const NCPU = cpus().length;
const MAX_TOKENS = RAMP ? Math.max(NODES, RAMP_MAX) : NODES;

const dir = runDir('stroom-bench-ingest-');

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

class Generator extends IpcChild<FromLoad, ToLoad> {
  constructor(script: string, config: LoadConfig) {
    super(process.execPath, [script, JSON.stringify(config)]);
  }
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
  return busyNote(r.machineCores, r.serverCpuPct + genTotal(r), 'server + generator');
}

function busyNote(machineCores: number, oursPct: number, whose: string): string | undefined {
  if (!(machineCores > 0.9 * NCPU)) return undefined;
  const ours = oursPct / 100;
  return `machine saturated: ${machineCores.toFixed(2)} of ${NCPU} cores busy (${whose} ${ours.toFixed(2)}, other processes ${Math.max(0, machineCores - ours).toFixed(2)}); the server may have been short of CPU`;
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

// ---- The peer: a real Prometheus scraping dcgm-exporter on every node ----

/** Series Prometheus 2.42 appends per scrape for itself: up and scrape_{duration_seconds,samples_scraped,samples_post_metric_relabeling,series_added}. */
const PROM_OWN_SERIES_PER_SCRAPE = 5;

type Exporter = IpcChild<FromExporter, ToExporter>;

interface Peer {
  readonly prom: ChildProcess;
  readonly port: number;
  readonly exporters: Exporter[];
  readonly bodyBytes: number;
  readonly base: string;
}

interface PromResult {
  readonly nodes: number;
  /** Measured window, s. */
  readonly seconds: number;
  /** Targets with up == 1 at the window's end. */
  readonly targetsUp: number;
  /** prometheus_tsdb_head_samples_appended_total per second over the window. */
  readonly appendedPerS: number;
  /** Scrapes the exporters answered per second over the window. */
  readonly scrapesPerS: number;
  /** Requests the exporters had no node for (a wrong __metrics_path__). */
  readonly notFound: number;
  readonly bodyBytes: number;
  /** 0.99 quantile over the targets of their last scrape_duration_seconds, s. */
  readonly scrapeP99S: number;
  /** Mean time between two scrapes of a target over the window, s (1 s when Prometheus keeps up). */
  readonly intervalMeanS: number;
  /** Prometheus's own p99 of that interval, s; its summary spans the process's life, start-up included. */
  readonly intervalP99S: number;
  readonly promCpuPct: number;
  readonly exporterCpuPct: number[];
  readonly machineCores: number;
  readonly rssMiB: number[];
  readonly exporterRssMiB: number;
}

/** Prometheus's own /metrics text (read directly, so no self-scrape job adds to what is measured). */
async function promSelfMetrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`Prometheus /metrics: HTTP ${res.status}`);
  return res.text();
}

/** Sum of the samples of `name` in exposition text whose label part contains `match` (its metrics carry no timestamps, so the value is the last field). */
function metricSum(text: string, name: string, match = ''): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (!line.slice(name.length, line.lastIndexOf(' ')).includes(match)) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isNaN(v)) continue;
    sum += v;
    found = true;
  }
  if (!found) throw new Error(`Prometheus's /metrics has no ${name}${match !== '' ? ` with ${match}` : ''}`);
  return sum;
}

/** A PromQL instant query that yields one number (0 when it yields nothing). */
async function promQuery(port: number, query: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status?: string; error?: string; data?: { result?: Array<{ value?: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`Prometheus query ${query}: ${body.error ?? `HTTP ${res.status}`}`);
  const v = body.data?.result?.[0]?.value?.[1];
  return v === undefined ? 0 : Number(v);
}

async function exporterStats(exporters: Exporter[]): Promise<{ scrapes: number; notFound: number; at: number }> {
  const all = await Promise.all(
    exporters.map((e) => {
      const p = e.next('stats', 10_000);
      e.tell({ type: 'stats' });
      return p;
    }),
  );
  return { scrapes: all.reduce((n, s) => n + s.scrapes, 0), notFound: all.reduce((n, s) => n + s.notFound, 0), at: performance.now() };
}

async function startPeer(exporterScript: string, nodes: number): Promise<Peer> {
  const procs = Math.min(PROCS, nodes);
  const exporters: Exporter[] = [];
  for (let i = 0; i < procs; i++) {
    const config: ExporterConfig = { totalNodes: nodes, procs, procIndex: i, gpus: GPUS };
    exporters.push(new IpcChild<FromExporter, ToExporter>(process.execPath, [exporterScript, JSON.stringify(config)]));
  }
  const ready = await Promise.all(exporters.map((e) => e.next('ready', 120_000)));
  // Every node its own target, as with a dcgm-exporter per node: its own instance label, its own path on its process's port.
  const groups = Array.from({ length: nodes }, (_, g) => ({
    targets: [`127.0.0.1:${ready[g % procs]?.port ?? 0}`],
    labels: { __metrics_path__: `/metrics/${nodeName(g)}`, instance: nodeName(g) },
  }));
  const base = join(dir, `prometheus-${starts++}`);
  mkdirSync(join(base, 'data'), { recursive: true });
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1m' },
    scrape_configs: [{ job_name: 'dcgm-exporter', static_configs: groups }],
  };
  // JSON is YAML, so no YAML writer is needed.
  writeFileSync(join(base, 'prometheus.yml'), JSON.stringify(config));
  const port = await freePort();
  const prom = track(
    spawn(PROMETHEUS, [`--config.file=${join(base, 'prometheus.yml')}`, `--storage.tsdb.path=${join(base, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let partial = '';
  prom.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    // Its shutdown notice is logged at warn; anything else at warn or error goes through.
    for (const line of lines) if (line !== '' && !line.includes('Received SIGTERM')) process.stderr.write(`prometheus: ${line}\n`);
  });
  const peer: Peer = { prom, port, exporters, bodyBytes: ready[0]?.bodyBytes ?? 0, base };
  try {
    const readyUntil = Date.now() + 60_000;
    for (;;) {
      if (prom.exitCode !== null || prom.signalCode !== null) throw new Error(`prometheus exited (${prom.exitCode ?? prom.signalCode}) before it was ready`);
      const ok = await fetch(`http://127.0.0.1:${port}/-/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > readyUntil) throw new Error(`prometheus not ready on port ${port} after 60 s`);
      await sleep(200);
    }
    // The scrape loops start at offsets spread over the interval; all targets report up within a few seconds.
    const upWaitS = 60 + nodes / 100;
    const upUntil = Date.now() + upWaitS * 1000;
    let up = 0;
    while ((up = await promQuery(port, 'count(up == 1)')) < nodes) {
      if (prom.exitCode !== null || prom.signalCode !== null) throw new Error(`prometheus exited (${prom.exitCode ?? prom.signalCode}) while its targets came up`);
      if (Date.now() > upUntil) throw new Error(`only ${up} of ${nodes} Prometheus targets up after ${upWaitS} s`);
      await sleep(500);
    }
    return peer;
  } catch (err) {
    await stopPeer(peer);
    throw err;
  }
}

async function stopPeer(peer: Peer): Promise<void> {
  const exited = (p: ChildProcess): Promise<void> => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r())));
  if (peer.prom.exitCode === null && peer.prom.signalCode === null) {
    peer.prom.kill('SIGTERM');
    const timer = setTimeout(() => peer.prom.kill('SIGKILL'), 10_000);
    await exited(peer.prom);
    clearTimeout(timer);
  }
  for (const e of peer.exporters) e.tell({ type: 'stop' });
  await Promise.race([Promise.all(peer.exporters.map((e) => exited(e.proc))), sleep(3000)]);
  for (const e of peer.exporters) if (e.proc.exitCode === null && e.proc.signalCode === null) e.proc.kill('SIGKILL');
  rmSync(peer.base, { recursive: true, force: true });
}

async function runPrometheus(exporterScript: string, nodes: number, seconds: number, warmup: number): Promise<PromResult> {
  const peer = await startPeer(exporterScript, nodes);
  try {
    const { prom, port, exporters } = peer;
    await sleep(warmup * 1000);
    const x0 = await exporterStats(exporters);
    const text0 = await promSelfMetrics(port);
    const a0 = metricSum(text0, 'prometheus_tsdb_head_samples_appended_total');
    const at0 = performance.now();
    const p0 = cpuTicks(prom.pid ?? 0);
    const e0 = exporters.map((e) => cpuTicks(e.proc.pid ?? 0));
    const m0 = machineTicks();
    const w0 = performance.now();
    const rss: number[] = [];
    const end = w0 + seconds * 1000;
    while (performance.now() < end) {
      await sleep(Math.min(1000, end - performance.now()));
      rss.push(rssBytes(prom.pid ?? 0) / 1048576);
      if (prom.exitCode !== null || prom.signalCode !== null) throw new Error(`prometheus exited during the load (${prom.exitCode ?? prom.signalCode})`);
    }
    const wallS = (performance.now() - w0) / 1000;
    const p1 = cpuTicks(prom.pid ?? 0);
    const e1 = exporters.map((e) => cpuTicks(e.proc.pid ?? 0));
    const m1 = machineTicks();
    const text1 = await promSelfMetrics(port);
    const a1 = metricSum(text1, 'prometheus_tsdb_head_samples_appended_total');
    const at1 = performance.now();
    const x1 = await exporterStats(exporters);
    return {
      nodes,
      seconds: wallS,
      targetsUp: await promQuery(port, 'count(up == 1)'),
      appendedPerS: (a1 - a0) / ((at1 - at0) / 1000),
      scrapesPerS: (x1.scrapes - x0.scrapes) / ((x1.at - x0.at) / 1000),
      notFound: x1.notFound,
      bodyBytes: peer.bodyBytes,
      scrapeP99S: await promQuery(port, 'quantile(0.99, scrape_duration_seconds)'),
      intervalMeanS:
        (metricSum(text1, 'prometheus_target_interval_length_seconds_sum') - metricSum(text0, 'prometheus_target_interval_length_seconds_sum')) /
        Math.max(1, metricSum(text1, 'prometheus_target_interval_length_seconds_count') - metricSum(text0, 'prometheus_target_interval_length_seconds_count')),
      intervalP99S: metricSum(text1, 'prometheus_target_interval_length_seconds', 'quantile="0.99"'),
      promCpuPct: (100 * (p1 - p0)) / CLK_TCK / wallS,
      exporterCpuPct: e1.map((t, i) => (100 * (t - (e0[i] ?? 0))) / CLK_TCK / wallS),
      machineCores: m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * NCPU : Number.NaN,
      rssMiB: rss,
      exporterRssMiB: exporters.reduce((n, e) => n + rssBytes(e.proc.pid ?? 0), 0) / 1048576,
    };
  } finally {
    await stopPeer(peer);
  }
}

/** GPU samples Prometheus appended per second: its samples less its own per-scrape series, over the issue's 6 series per GPU. */
const promSamplesPerS = (p: PromResult): number => Math.max(0, p.appendedPerS - PROM_OWN_SERIES_PER_SCRAPE * p.scrapesPerS) / DCGM_SERIES_PER_GPU;
/** Prometheus's CPU in µs per GPU sample. */
const promUsPerSample = (p: PromResult): number => (p.promCpuPct / 100) * 1e6 / Math.max(1e-9, promSamplesPerS(p));
const exporterTotal = (p: PromResult): number => p.exporterCpuPct.reduce((a, b) => a + b, 0);

function promBehind(p: PromResult): string | undefined {
  const why: string[] = [];
  if (p.targetsUp < p.nodes) why.push(`${p.nodes - p.targetsUp} of ${p.nodes} targets not up at the window's end`);
  if (p.notFound > 0) why.push(`${p.notFound} scrapes of a path the exporters do not serve`);
  if (promSamplesPerS(p) < 0.99 * p.nodes * GPUS) why.push(`appended ${promSamplesPerS(p).toFixed(0)} of ${p.nodes * GPUS} GPU samples/s offered`);
  if (p.intervalMeanS > 1.1) why.push(`mean time between two scrapes of a target ${ms(p.intervalMeanS * 1000)} (> 1.1 s)`);
  return why.length > 0 ? why.join('; ') : undefined;
}

function promRow(p: PromResult): string {
  const rssMax = Math.max(...p.rssMiB, 0);
  return [
    `  ${'prometheus'.padEnd(10)}`,
    `${promSamplesPerS(p).toFixed(0).padStart(8)} samples/s`,
    `stored ${((100 * promSamplesPerS(p)) / Math.max(1, p.nodes * GPUS)).toFixed(1).padStart(5)} %`,
    `scrape p99 ${ms(p.scrapeP99S * 1000)}, interval mean ${ms(p.intervalMeanS * 1000)} (p99 since start ${ms(p.intervalP99S * 1000)}), up ${p.targetsUp}/${p.nodes}`,
    `CPU ${p.promCpuPct.toFixed(1).padStart(5)} % of a core (${promUsPerSample(p).toFixed(2)} µs/sample)`,
    `RSS max ${rssMax.toFixed(0)} MiB (first ${(p.rssMiB[0] ?? 0).toFixed(0)}, last ${(p.rssMiB[p.rssMiB.length - 1] ?? 0).toFixed(0)})`,
    `exporter CPU ${exporterTotal(p).toFixed(0)} % (${p.exporterCpuPct.map((c) => c.toFixed(0)).join('+')}), RSS ${p.exporterRssMiB.toFixed(0)} MiB`,
  ].join(' | ');
}

const secret = randomBytes(8).toString('hex');
// Plain .mjs files: no tsx loader in the processes measured.
const compiled = await compile(ROOT, dir, { 'ingest-load': join(LIB, 'ingest-load.ts'), 'parse-only-server': join(LIB, 'parse-only-server.ts'), 'dcgm-exporter': join(LIB, 'dcgm-exporter.ts') });
const helpers = { load: compiled['ingest-load'] as string, baseline: compiled['parse-only-server'] as string, exporter: compiled['dcgm-exporter'] as string };
const results = new Map<string, Result>();

console.log(`${NODES} nodes x ${GPUS} GPUs at 1 Hz (${NODES * GPUS} GPU samples/s offered), ${CORES} logical CPUs per node, ${PROCS} generator processes, ${NCPU} cores on this machine; ${SECONDS} s measured per server after ${WARMUP} s of load`);
if (!HAVE_PROMETHEUS && process.env['BENCH_TARGETS'] === undefined) console.log(`prometheus peer skipped: ${PROMETHEUS} not found; ${PROM_HINT}`);
let promResult: PromResult | undefined;
for (const target of TARGETS) {
  if (target === 'prometheus') {
    const p = await runPrometheus(helpers.exporter, NODES, SECONDS, WARMUP);
    promResult = p;
    console.log(promRow(p));
    console.log(`    appended ${p.appendedPerS.toFixed(0)} samples/s in all: ${p.scrapesPerS.toFixed(0)} scrapes/s x (${GPUS} GPUs x ${DCGM_SERIES_PER_GPU} DCGM series + ${PROM_OWN_SERIES_PER_SCRAPE} of Prometheus's own); ${p.bodyBytes} B of exposition text per node and scrape`);
    const lag = promBehind(p);
    if (lag !== undefined) console.log(`    did not keep up: ${lag}`);
    const busy = busyNote(p.machineCores, p.promCpuPct + exporterTotal(p), 'prometheus + exporters');
    if (busy !== undefined) console.log(`    note: ${busy}`);
    continue;
  }
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
if (c !== undefined && promResult !== undefined) {
  const p = promResult;
  const cpuRatio = usPerSample(c) / Math.max(1e-9, promUsPerSample(p));
  const rssRatio = Math.max(...c.rssMiB, 0) / Math.max(1e-9, ...p.rssMiB);
  console.log(`ratio collector / prometheus: CPU per GPU sample ${cpuRatio.toFixed(2)}x (CPU ${(c.serverCpuPct / Math.max(1e-9, p.promCpuPct)).toFixed(2)}x), RSS max ${rssRatio.toFixed(2)}x, throughput ${(samplesPerS(c) / Math.max(1e-9, promSamplesPerS(p))).toFixed(2)}x`);
  // A side that fell behind spent its CPU on a different amount of work (or on timeouts): say so next to the verdict.
  const lagging = [behind(c) !== undefined ? 'the collector' : '', promBehind(p) !== undefined ? 'Prometheus' : ''].filter((x) => x !== '');
  const caveat = lagging.length > 0 ? `; NOT CONCLUSIVE: ${lagging.join(' and ')} did not keep up in this run` : '';
  console.log(`goal (issue 4), at this scale (${NODES * GPUS} GPUs): collector CPU <= 0.5x Prometheus's: ${cpuRatio.toFixed(2)}x, ${cpuRatio <= 0.5 ? 'met' : 'NOT met'}; RSS <= 0.25x: ${rssRatio.toFixed(2)}x, ${rssRatio <= 0.25 ? 'met' : 'NOT met'} (both RSS after ${SECONDS} s, not steady state: Prometheus's head grows for its first minutes)${caveat}`);
  console.log(`  the issue's reference for Prometheus 2.42 on this kind of machine: 10k GPUs 12 % of a core, 254 MB; 100k GPUs 76 %, 2.1 GB`);
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
