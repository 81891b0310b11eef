/**
 * Load and soak (issue 7, point 6): 10,000 agent connections and 100 dashboard clients on one
 * collector for 10 minutes. Memory must stay flat (the RSS slope over the second half, least
 * squares, MiB/min) and the p99 ack latency is reported.
 *
 * The collector is the built CLI (`npx tsc -b` first; `npm run bench` builds):
 * `node cli/dist/src/main.js collector ...`, SQLite store in a temp folder, so its ack means the
 * batch was counted and committed. The agents are the collector-ingest load generator
 * (bench/lib/ingest-load.ts): BENCH_SOAK_PROCS processes, one WebSocket per simulated node with
 * its own token, Hello then one realistic 8-GPU batch per second, spread evenly across each
 * second, redialling a dropped connection after 1 s. The dashboards are one more process
 * (bench/lib/soak-dashboards.ts): plain WebSocket clients on `/ws/live` subscribed to `cluster`,
 * the overview page's subscription (the collector starts in open mode, as the demo does: no
 * user tokens exist, so /ws/live needs none).
 *
 * Every BENCH_SOAK_REPORT_SECONDS and at the end it prints: GPU samples/s acked (acks received
 * in the interval, whenever their batch was sent, so a backlog being worked off shows as over
 * 100 % of the batches sent; the unacked count at each end tells backlog from loss), ack latency
 * p50/p99, collector CPU (% of one core, utime+stime from /proc), RSS, dashboard messages per
 * client per second and their lag (receipt minus the message's `ts`), full snapshots and missed
 * ticks (a slow client is skipped, then resynchronised), connections dropped and redialled;
 * at the end the RSS slope, first vs last minute, and the collector's /healthz.
 *
 * Not keeping up: before the soak, BENCH_SOAK_PROBE_SECONDS probes check that acks keep pace
 * (>= 99 % of batches acked, p99 <= 1 s, no tick held back by the agent's 64-batch window).
 * If they do not, the load is ramped down by stopping whole generator processes (each holds an
 * even share of the nodes spread across the second) and the soak runs at what was sustained;
 * the output says so on every line and in the summary. BENCH_SOAK_RAMP=0 soaks at the target
 * whatever happens.
 *
 * Baseline (same run, after the soak): the parse-only server of bench/lib (JSON.parse every
 * frame, ack at once, keep nothing) under the same agent processes for
 * BENCH_SOAK_BASELINE_SECONDS. Its ack latency is the floor this machine, kernel and generator
 * give, so collector p99 / baseline p99 is what the collector adds; its RSS slope over its
 * second half is how much slope a server that holds nothing shows (GC noise), the yardstick
 * for "flat". The collector's own first-minute vs last-minute RSS is printed as well.
 *
 * Knobs (environment):
 *   BENCH_SOAK_NODES=10000        agent connections (the target)
 *   BENCH_GPUS=8, BENCH_CORES=64  GPUs and logical CPUs per node
 *   BENCH_SOAK_DASHBOARDS=100     /ws/live clients subscribed to `cluster`
 *   BENCH_SOAK_SECONDS=600        soak length, measured after the probes
 *   BENCH_SOAK_REPORT_SECONDS=30  report interval
 *   BENCH_SOAK_PROCS=10           generator processes (the ramp-down step is one process)
 *   BENCH_SOAK_RAMP=1             0: no probes, no ramp-down
 *   BENCH_SOAK_PROBE_SECONDS=20, BENCH_SOAK_PROBE_MAX=12   probe length, most probes
 *   BENCH_SOAK_BASELINE_SECONDS=60   0 skips the baseline
 *   BENCH_WINDOW=64               unacked batches per connection before ticks are held back
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { CLK_TCK, LogHistogram, cpuTicks, nodeName, nodeToken, rssBytes } from './lib/ingest-common.js';
import type { FromLoad, LoadConfig, LoadReport, ToLoad } from './lib/ingest-common.js';
import { ephemeralPorts, slope, withOpenFiles } from './lib/soak-common.js';
import type { DashConfig, DashReport, FromDash, ToDash } from './lib/soak-common.js';
import { IpcChild, alive, compile, ended, freePort, health, killAll, machineTicks, runDir, sleep, waitHealthy } from './lib/procs.js';
import { knob } from './lib/knob.js';

const TARGET = Math.max(1, Math.floor(knob('BENCH_SOAK_NODES', 10_000)));
const GPUS = Math.max(1, Math.floor(knob('BENCH_GPUS', 8)));
const CORES = Math.floor(knob('BENCH_CORES', 64));
const DASHBOARDS = Math.floor(knob('BENCH_SOAK_DASHBOARDS', 100));
const SECONDS = Math.max(1, knob('BENCH_SOAK_SECONDS', 600));
const REPORT_S = Math.max(1, knob('BENCH_SOAK_REPORT_SECONDS', 30));
const PROCS = Math.max(1, Math.min(TARGET, Math.floor(knob('BENCH_SOAK_PROCS', 10))));
const RAMP = knob('BENCH_SOAK_RAMP', 1) > 0;
const PROBE_S = Math.max(1, knob('BENCH_SOAK_PROBE_SECONDS', 20));
const PROBE_MAX = Math.max(1, Math.floor(knob('BENCH_SOAK_PROBE_MAX', 12)));
const BASELINE_S = knob('BENCH_SOAK_BASELINE_SECONDS', 60);
const WINDOW = Math.max(1, Math.floor(knob('BENCH_WINDOW', 64)));
const WARMUP_S = 5;
const RECONNECT_MS = 1000;
const P99_LIMIT_MS = 1000;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIB = fileURLToPath(new URL('./lib/', import.meta.url));
const CLI = join(ROOT, 'cli/dist/src/main.js');
const NCPU = cpus().length;

const dir = runDir('stroom-bench-soak-');

// Loopback clients draw their local ports from one range, per destination port.
const ports = ephemeralPorts();
if (TARGET + DASHBOARDS + 500 > ports) {
  throw new Error(`${TARGET} agent + ${DASHBOARDS} dashboard connections need more local ports than net.ipv4.ip_local_port_range gives (${ports}): widen it (sysctl -w net.ipv4.ip_local_port_range="1024 65000") or lower BENCH_SOAK_NODES`);
}
// Fail now, naming the limit, rather than after minutes of connecting.
const collectorFiles = TARGET + DASHBOARDS + 1024;
withOpenFiles(collectorFiles, 'the collector', process.execPath, []);

type Gen = IpcChild<FromLoad, ToLoad> & { readonly index: number; readonly nodes: number; closes: number; reconnects: number; outstanding: number };
type Dash = IpcChild<FromDash, ToDash>;

interface Server {
  readonly name: 'collector' | 'baseline';
  readonly proc: IpcChild<{ type: 'none' }, never>;
  readonly port: number;
}

interface Interval {
  readonly label: string;
  /** Seconds since the phase started, at the interval's end. */
  readonly atS: number;
  readonly seconds: number;
  readonly nodes: number;
  readonly sent: number;
  readonly acked: number;
  readonly heldBack: number;
  readonly outstanding: number;
  /** Unacked batches at the end of the previous interval (0 for the first). */
  readonly outstandingBefore: number;
  readonly open: number;
  readonly closes: number;
  readonly firstClose?: string;
  readonly reconnects: number;
  readonly latency: LogHistogram;
  readonly lateness: LogHistogram;
  readonly serverCpuPct: number;
  readonly genCpuPct: number;
  readonly dashCpuPct: number;
  readonly machineCores: number;
  readonly rssMiB: number;
  readonly rssMaxMiB: number;
  readonly dash?: DashReport;
}

const secret = randomBytes(8).toString('hex');
const tokensFile = join(dir, 'tokens.json');
{
  const all: Record<string, string> = {};
  for (let g = 0; g < TARGET; g++) all[nodeName(g)] = nodeToken(secret, g);
  writeFileSync(tokensFile, JSON.stringify(all));
}

const scripts = await compile(ROOT, dir, {
  'ingest-load': join(LIB, 'ingest-load.ts'),
  'soak-dashboards': join(LIB, 'soak-dashboards.ts'),
  'parse-only-server': join(LIB, 'parse-only-server.ts'),
});
const script = (name: string): string => {
  const s = scripts[name];
  if (s === undefined) throw new Error(`helper ${name} was not compiled`);
  return s;
};

/** RSS of the server, once a second, with its time (performance.now(), ms). */
let rssSeries: Array<[number, number]> = [];
let rssTimer: NodeJS.Timeout | undefined;

async function startServer(name: 'collector' | 'baseline'): Promise<Server> {
  const port = await freePort();
  let args: string[];
  if (name === 'baseline') args = [script('parse-only-server'), String(port)];
  else {
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    args = [CLI, 'collector', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--tokens', tokensFile, '--log-level', 'warn',
      '--max-agents', String(Math.max(20_000, TARGET + 100)), '--max-dashboards', String(Math.max(1000, DASHBOARDS + 100))];
  }
  const spawnArgs = withOpenFiles(name === 'collector' ? collectorFiles : TARGET + 1024, `the ${name} server`, process.execPath, args);
  const proc = new IpcChild<{ type: 'none' }, never>(spawnArgs.cmd, spawnArgs.args, 'ignore', 'pipe');
  // Warnings and errors come through, prefixed; the start-up and stop banners would only clutter the report.
  let partial = '';
  proc.proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l !== '' && !l.startsWith('stroom collector on ') && !l.startsWith('SIGINT')) process.stderr.write(`${name}: ${l}\n`);
  });
  await waitHealthy(port, proc.proc, name);
  rssSeries = [];
  clearInterval(rssTimer);
  rssTimer = setInterval(() => {
    const b = rssBytes(proc.pid);
    if (b > 0) rssSeries.push([performance.now(), b / 1048576]);
  }, 1000);
  return { name, proc, port };
}

async function stopServer(s: Server): Promise<void> {
  clearInterval(rssTimer);
  if (alive(s.proc.proc)) {
    s.proc.proc.kill('SIGINT');
    await ended(s.proc.proc, 10_000);
  }
}

/** Nodes generator `i` of `procs` simulates (g % procs === i). */
function nodesOf(i: number, procs: number): number {
  return Math.floor((TARGET - 1 - i) / procs) + 1;
}

async function startGens(server: Server, indices: readonly number[]): Promise<{ gens: Gen[]; connected: number; failed: number; firstError?: string }> {
  const gens: Gen[] = [];
  for (const i of indices) {
    const cfg: LoadConfig & { reconnectMs: number } = {
      url: `ws://127.0.0.1:${server.port}/ws/agent`, totalNodes: TARGET, procs: PROCS, procIndex: i, gpus: GPUS, cores: CORES,
      window: WINDOW, secret, connectConcurrency: 64, reconnectMs: RECONNECT_MS,
    };
    const a = withOpenFiles(nodesOf(i, PROCS) + 256, 'a load generator', process.execPath, [script('ingest-load'), JSON.stringify(cfg)]);
    gens.push(Object.assign(new IpcChild<FromLoad, ToLoad>(a.cmd, a.args), { nodes: nodesOf(i, PROCS), closes: 0, reconnects: 0, outstanding: 0, index: i }));
  }
  const ready = await Promise.all(gens.map((g) => g.next('ready', 900_000)));
  const firstError = ready.find((r) => r.firstError !== undefined)?.firstError;
  return {
    gens,
    connected: ready.reduce((n, r) => n + r.connected, 0),
    failed: ready.reduce((n, r) => n + r.failed, 0),
    ...(firstError !== undefined ? { firstError } : {}),
  };
}

async function stopGens(gens: readonly Gen[]): Promise<void> {
  for (const g of gens) g.tell({ type: 'stop' });
  await Promise.all(gens.map((g) => ended(g.proc, 3000)));
}

function ticksOf(pids: readonly number[]): number {
  return pids.reduce((n, p) => n + cpuTicks(p), 0);
}

/**
 * Measure `seconds` of the running load: the generators' counters since their last mark (then
 * marked again at once, so intervals follow each other without a gap), the dashboards'
 * counters, CPU of each process and RSS.
 */
async function measure(label: string, phaseStart: number, server: Server, gens: readonly Gen[], dash: Dash | undefined, seconds: number): Promise<Interval> {
  const w0 = performance.now();
  const s0 = cpuTicks(server.proc.pid);
  const g0 = ticksOf(gens.map((g) => g.pid));
  const d0 = dash !== undefined ? cpuTicks(dash.pid) : 0;
  const m0 = machineTicks();
  const end = w0 + seconds * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(1000, end - performance.now()));
    if (!alive(server.proc.proc)) throw new Error(`${server.name} exited during the load (${server.proc.proc.exitCode ?? server.proc.proc.signalCode})`);
  }
  const reportsP = Promise.all(gens.map((g) => g.next('report', 60_000)));
  for (const g of gens) {
    // drainMs 0: the report comes at once, and acks still in flight count in the next interval.
    g.tell({ type: 'report', drainMs: 0 });
    g.tell({ type: 'mark' });
  }
  const dashP = dash?.next('report', 60_000);
  dash?.tell({ type: 'report' });
  const wallS = (performance.now() - w0) / 1000;
  const s1 = cpuTicks(server.proc.pid);
  const g1 = ticksOf(gens.map((g) => g.pid));
  const d1 = dash !== undefined ? cpuTicks(dash.pid) : 0;
  const m1 = machineTicks();
  const reports = await reportsP;
  const dashReport = await dashP;

  const latency = new LogHistogram();
  const lateness = new LogHistogram();
  let closes = 0;
  let reconnects = 0;
  const outstandingBefore = gens.reduce((n, g) => n + g.outstanding, 0);
  reports.forEach((r, i) => {
    const g = gens[i];
    latency.merge(r.latency);
    lateness.merge(r.lateness);
    if (g === undefined) return;
    // closes and reconnects are counted since the generator started.
    const rc = (r as LoadReport & { reconnects?: number }).reconnects ?? 0;
    closes += r.closes - g.closes;
    reconnects += rc - g.reconnects;
    g.closes = r.closes;
    g.reconnects = rc;
    g.outstanding = r.outstanding;
  });
  const sum = (f: (r: LoadReport) => number): number => reports.reduce((n, r) => n + f(r), 0);
  const inWindow = rssSeries.filter(([t]) => t >= w0);
  const firstClose = reports.find((r) => r.firstClose !== undefined)?.firstClose;
  return {
    label,
    atS: (performance.now() - phaseStart) / 1000,
    seconds: wallS,
    nodes: gens.reduce((n, g) => n + g.nodes, 0),
    sent: sum((r) => r.sent),
    acked: sum((r) => r.acked),
    heldBack: sum((r) => r.heldBack),
    outstanding: sum((r) => r.outstanding),
    outstandingBefore,
    open: sum((r) => r.open),
    closes,
    ...(closes > 0 && firstClose !== undefined ? { firstClose } : {}),
    reconnects,
    latency,
    lateness,
    serverCpuPct: (100 * (s1 - s0)) / CLK_TCK / wallS,
    genCpuPct: (100 * (g1 - g0)) / CLK_TCK / wallS,
    dashCpuPct: (100 * (d1 - d0)) / CLK_TCK / wallS,
    machineCores: m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * NCPU : Number.NaN,
    rssMiB: rssSeries[rssSeries.length - 1]?.[1] ?? 0,
    rssMaxMiB: Math.max(0, ...inWindow.map(([, r]) => r)),
    ...(dashReport !== undefined ? { dash: dashReport } : {}),
  };
}

const ms = (v: number): string => (Number.isNaN(v) ? '-' : v < 10 ? `${v.toFixed(2)} ms` : v < 1000 ? `${v.toFixed(0)} ms` : `${(v / 1000).toFixed(2)} s`);
const samplesPerS = (iv: { acked: number; seconds: number }): number => (iv.acked * GPUS) / iv.seconds;

/** Why an interval did not keep up, empty when it did. */
function behind(iv: Interval): string[] {
  const why: string[] = [];
  // Acks of an interval's last batches land in the next one, so a shortfall alone is not a
  // backlog; a backlog is more than a second's worth of batches piling up unacked.
  if (iv.acked < 0.99 * iv.sent && iv.outstanding - iv.outstandingBefore > iv.nodes) why.push(`acks behind (${iv.acked} of ${iv.sent} batches acked; unacked ${iv.outstandingBefore} -> ${iv.outstanding})`);
  if (iv.heldBack > 0) why.push(`${iv.heldBack} ticks held back by the ${WINDOW}-batch window`);
  if (iv.latency.quantile(0.99) > P99_LIMIT_MS) why.push(`p99 ack ${ms(iv.latency.quantile(0.99))} > 1 s`);
  return why;
}

function line(iv: Interval): string {
  const d = iv.dash;
  const dashPart = d === undefined ? '' : (() => {
    const lag = new LogHistogram();
    lag.merge(d.lag);
    const perS = (n: number): string => (n / (d.wallMs / 1000)).toFixed(2);
    return ` | dash ${perS(d.messages / Math.max(1, DASHBOARDS))} msg/s/client (min ${perS(d.perClientMin)}), lag p50 ${ms(lag.quantile(0.5))} p99 ${ms(lag.quantile(0.99))}, ${(d.bytes / 1e6 / (d.wallMs / 1000)).toFixed(1)} MB/s, full ${d.fulls}, missed ticks ${d.missedTicks}, open ${d.open}`;
  })();
  const drops = ` | drops: agents ${iv.closes} (redialled ${iv.reconnects}, open ${iv.open}/${iv.nodes})${d !== undefined ? `, dash ${d.closes} (redialled ${d.reconnects})` : ''}`;
  const why = behind(iv);
  return [
    `  ${iv.label.padEnd(8)} ${iv.atS.toFixed(0).padStart(5)} s`,
    `${String(iv.nodes).padStart(5)} nodes`,
    `${samplesPerS(iv).toFixed(0).padStart(6)} samples/s acked (${((100 * iv.acked) / Math.max(1, iv.sent)).toFixed(1)} %)`,
    `ack p50 ${ms(iv.latency.quantile(0.5))} p99 ${ms(iv.latency.quantile(0.99))}`,
    `CPU ${iv.serverCpuPct.toFixed(0)} %`,
    `RSS ${iv.rssMiB.toFixed(0)} MiB (max ${iv.rssMaxMiB.toFixed(0)})`,
  ].join(' | ') + dashPart + drops +
    (why.length > 0 ? `\n           BEHIND: ${why.join('; ')}` : '') +
    (iv.firstClose !== undefined ? `\n           first agent drop: ${iv.firstClose}` : '') +
    (d?.firstClose !== undefined ? `\n           first dashboard drop: ${d.firstClose}` : '') +
    (d?.firstError !== undefined ? `\n           collector error message: ${d.firstError}` : '') +
    (d?.firstInvalid !== undefined ? `\n           INVALID live message: ${d.firstInvalid}` : '');
}

function machineNote(ivs: readonly Interval[]): string {
  const n = Math.max(1, ivs.length);
  const avg = (f: (iv: Interval) => number): number => ivs.reduce((s, iv) => s + f(iv), 0) / n;
  const busy = avg((iv) => iv.machineCores);
  const ours = (avg((iv) => iv.serverCpuPct) + avg((iv) => iv.genCpuPct) + avg((iv) => iv.dashCpuPct)) / 100;
  return `machine: ${busy.toFixed(2)} of ${NCPU} cores busy on average (server ${(avg((iv) => iv.serverCpuPct) / 100).toFixed(2)}, generators ${(avg((iv) => iv.genCpuPct) / 100).toFixed(2)}, dashboards ${(avg((iv) => iv.dashCpuPct) / 100).toFixed(2)}, other processes ${Math.max(0, busy - ours).toFixed(2)})${busy > 0.9 * NCPU ? ': SATURATED, the server was short of CPU' : ''}`;
}

/** RSS points of [from, to] as [minutes since from, MiB]. */
function rssBetween(from: number, to: number): Array<[number, number]> {
  return rssSeries.filter(([t]) => t >= from && t <= to).map(([t, r]) => [(t - from) / 60_000, r]);
}

function meanOf(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

// ---- the soak ----

console.log(`target: ${TARGET} agent connections x ${GPUS} GPUs at 1 batch/s (${TARGET * GPUS} GPU samples/s offered) and ${DASHBOARDS} dashboards on /ws/live (cluster), ${SECONDS} s soak, report every ${REPORT_S} s; ${PROCS} generator processes, ${NCPU} cores on this machine`);
const collector = await startServer('collector');
let gens: Gen[] = [];
let dash: Dash | undefined;
const soakIvs: Interval[] = [];
let soakHealth: Record<string, unknown> = {};
let soakRss: Array<[number, number]> = [];
let connectedAtStart = 0;
let rampNote: string | undefined;
try {
  const c0 = performance.now();
  const started = await startGens(collector, Array.from({ length: PROCS }, (_, i) => i));
  gens = started.gens;
  connectedAtStart = started.connected;
  console.log(`agents: ${started.connected} of ${TARGET} connected in ${((performance.now() - c0) / 1000).toFixed(0)} s${started.failed > 0 ? `, ${started.failed} FAILED (first: ${started.firstError ?? '?'})` : ''}`);
  if (started.connected === 0) throw new Error('no agent connection opened');
  const t0 = Date.now() + 300;
  for (const g of gens) g.tell({ type: 'start', t0 });
  if (DASHBOARDS > 0) {
    const cfg: DashConfig = { url: `ws://127.0.0.1:${collector.port}/ws/live`, clients: DASHBOARDS, reconnectMs: RECONNECT_MS, validateEveryMs: 10_000 };
    const a = withOpenFiles(DASHBOARDS + 256, 'the dashboard process', process.execPath, [script('soak-dashboards'), JSON.stringify(cfg)]);
    dash = new IpcChild<FromDash, ToDash>(a.cmd, a.args);
    const r = await dash.next('ready', 120_000);
    console.log(`dashboards: ${r.connected} of ${DASHBOARDS} connected and subscribed${r.failed > 0 ? `, ${r.failed} FAILED (first: ${r.firstError ?? '?'}), redialling` : ''}`);
  }
  await sleep(300 + WARMUP_S * 1000);
  for (const g of gens) g.tell({ type: 'mark' });
  dash?.tell({ type: 'report' });
  await dash?.next('report', 60_000);

  if (RAMP) {
    const probeStart = performance.now();
    for (let probe = 1; ; probe++) {
      const iv = await measure('probe', probeStart, collector, gens, dash, PROBE_S);
      console.log(line(iv));
      const why = behind(iv);
      if (why.length === 0) break;
      if (probe >= PROBE_MAX) {
        rampNote = `the load did not settle within ${PROBE_MAX} probes (${why.join('; ')}); soaking at ${iv.nodes} nodes anyway`;
        console.log(`  ${rampNote}`);
        break;
      }
      // A backlog (from the start, or from a heavier step) that shrinks is being worked off, and
      // its old batches inflate p99: probe again before judging.
      if (iv.outstanding < 0.8 * iv.outstandingBefore) {
        console.log(`  draining a backlog (${iv.outstandingBefore} -> ${iv.outstanding} batches unacked): probing again`);
        continue;
      }
      if (gens.length === 1) {
        rampNote = `even one generator process (${iv.nodes} nodes) is not sustained (${why.join('; ')}); soaking at that; lower BENCH_SOAK_NODES or raise BENCH_SOAK_PROCS for finer steps`;
        console.log(`  ${rampNote}`);
        break;
      }
      const keep = Math.min(gens.length - 1, Math.max(1, Math.floor(gens.length * Math.min(1, iv.acked / Math.max(1, iv.sent)) * 0.9)));
      const stop = gens.slice(keep);
      gens = gens.slice(0, keep);
      await stopGens(stop);
      const now = gens.reduce((n, g) => n + g.nodes, 0);
      console.log(`  RAMPING DOWN: ${iv.nodes} nodes not sustained (${why.join('; ')}); stopped ${stop.length} generator process(es): ${now} nodes now`);
    }
  }

  const nodesNow = gens.reduce((n, g) => n + g.nodes, 0);
  if (nodesNow < TARGET) rampNote = `TARGET NOT MET: ${nodesNow} of ${TARGET} agent connections sustained on this machine${rampNote !== undefined ? `; ${rampNote}` : ''}`;
  console.log(`soak: ${nodesNow} nodes${nodesNow < TARGET ? ` (ramped down from ${TARGET})` : ''} and ${DASHBOARDS} dashboards for ${SECONDS} s`);
  const soakStart = performance.now();
  const n = Math.ceil(SECONDS / REPORT_S);
  for (let k = 1; k <= n; k++) {
    const len = Math.min(REPORT_S, SECONDS - (k - 1) * REPORT_S);
    const iv = await measure('soak', soakStart, collector, gens, dash, len);
    soakIvs.push(iv);
    console.log(line(iv));
  }
  soakRss = rssBetween(soakStart, soakStart + SECONDS * 1000 + 1000);
  soakHealth = await health(collector.port);
} finally {
  dash?.tell({ type: 'stop' });
  if (dash !== undefined) await ended(dash.proc, 3000);
  await stopGens(gens);
  await stopServer(collector);
}

// ---- summary ----

interface Totals { sent: number; acked: number; seconds: number; latency: LogHistogram; cpuPct: number }
function totals(ivs: readonly Interval[]): Totals {
  const latency = new LogHistogram();
  for (const iv of ivs) latency.merge(iv.latency.counts);
  const seconds = ivs.reduce((s, iv) => s + iv.seconds, 0);
  return {
    sent: ivs.reduce((s, iv) => s + iv.sent, 0),
    acked: ivs.reduce((s, iv) => s + iv.acked, 0),
    seconds,
    latency,
    cpuPct: ivs.reduce((s, iv) => s + iv.serverCpuPct * iv.seconds, 0) / Math.max(1e-9, seconds),
  };
}

function rssFigures(points: ReadonlyArray<[number, number]>): { secondHalf: number; whole: number; first: number; last: number; max: number; edgeS: number } {
  const endMin = points[points.length - 1]?.[0] ?? 0;
  const oneMin = Math.min(1, endMin / 2);
  return {
    secondHalf: slope(points.filter(([m]) => m >= endMin / 2)),
    whole: slope(points),
    first: meanOf(points.filter(([m]) => m <= oneMin).map(([, r]) => r)),
    last: meanOf(points.filter(([m]) => m >= endMin - oneMin).map(([, r]) => r)),
    max: Math.max(0, ...points.map(([, r]) => r)),
    /** Length of the "first" and "last" stretches, s (a minute, or half of a shorter run). */
    edgeS: oneMin * 60,
  };
}

const T = totals(soakIvs);
const nodesSoaked = soakIvs[0]?.nodes ?? 0;
const rss = rssFigures(soakRss);
const dashLag = new LogHistogram();
let dashMsgs = 0, dashBytes = 0, dashFulls = 0, dashMissed = 0, dashCloses = 0, dashRe = 0, dashErrors = 0, dashValidated = 0, dashInvalid = 0;
let dashMinPerS = Number.POSITIVE_INFINITY;
for (const iv of soakIvs) {
  const d = iv.dash;
  if (d === undefined) continue;
  dashLag.merge(d.lag);
  dashMsgs += d.messages;
  dashBytes += d.bytes;
  dashFulls += d.fulls;
  dashMissed += d.missedTicks;
  dashCloses += d.closes;
  dashRe += d.reconnects;
  dashErrors += d.errors;
  dashValidated += d.validated;
  dashInvalid += d.invalid;
  dashMinPerS = Math.min(dashMinPerS, d.perClientMin / (d.wallMs / 1000));
}
const agentCloses = soakIvs.reduce((s, iv) => s + iv.closes, 0);
const agentRe = soakIvs.reduce((s, iv) => s + iv.reconnects, 0);
const behindIvs = soakIvs.filter((iv) => behind(iv).length > 0).length;

console.log(`\nsummary (${T.seconds.toFixed(0)} s soak, ${nodesSoaked} agent connections of ${TARGET} targeted, ${DASHBOARDS} dashboards):`);
if (rampNote !== undefined) console.log(`  ${rampNote}`);
const unackedBefore = soakIvs[0]?.outstandingBefore ?? 0;
const unackedAfter = soakIvs[soakIvs.length - 1]?.outstanding ?? 0;
console.log(`  agents: ${samplesPerS(T).toFixed(0)} GPU samples/s acked (${T.acked} acks for ${T.sent} batches sent; unacked at the start ${unackedBefore}, at the end ${unackedAfter}, in flight or backlog), ack p50 ${ms(T.latency.quantile(0.5))} p99 ${ms(T.latency.quantile(0.99))} max ${ms(T.latency.max)}; intervals behind: ${behindIvs} of ${soakIvs.length}`);
console.log(`  collector: CPU ${T.cpuPct.toFixed(1)} % of a core (${((T.cpuPct / 100) * 1e6 / Math.max(1e-9, samplesPerS(T))).toFixed(1)} µs per GPU sample, dashboards included); RSS mean of the first ${rss.edgeS.toFixed(0)} s ${rss.first.toFixed(0)} MiB, of the last ${rss.edgeS.toFixed(0)} s ${rss.last.toFixed(0)} MiB, max ${rss.max.toFixed(0)} MiB`);
console.log(`  RSS slope over the second half: ${rss.secondHalf.toFixed(3)} MiB/min (${(rss.secondHalf * 60).toFixed(1)} MiB/h if it went on); over the whole soak ${rss.whole.toFixed(3)} MiB/min`);
if (DASHBOARDS > 0) {
  console.log(`  dashboards: ${(dashMsgs / DASHBOARDS / Math.max(1e-9, T.seconds)).toFixed(2)} cluster msg/s per client (slowest client in any interval ${Number.isFinite(dashMinPerS) ? dashMinPerS.toFixed(2) : '-'}), lag p50 ${ms(dashLag.quantile(0.5))} p99 ${ms(dashLag.quantile(0.99))} max ${ms(dashLag.max)}, ${(dashBytes / 1e6 / Math.max(1e-9, T.seconds)).toFixed(1)} MB/s received in all, ${dashFulls} full snapshots (a subscription's first, or a resync after being skipped), ${dashMissed} ticks missed, ${dashErrors} error messages, ${dashValidated - dashInvalid} of ${dashValidated} sampled messages valid against LiveMessageSchema`);
}
console.log(`  connections: agents ${connectedAtStart} connected at start, ${agentCloses} dropped during the soak, ${agentRe} redialled${DASHBOARDS > 0 ? `; dashboards ${dashCloses} dropped, ${dashRe} redialled` : ''}`);
console.log(`  ${machineNote(soakIvs)}`);
console.log(`  collector /healthz at the end: ${JSON.stringify(soakHealth)}`);

// ---- baseline ----

if (BASELINE_S > 0 && gens.length > 0) {
  const indices = gens.map((g) => g.index);
  const server = await startServer('baseline');
  let bgens: Gen[] = [];
  try {
    const started = await startGens(server, indices);
    bgens = started.gens;
    const t0 = Date.now() + 300;
    for (const g of bgens) g.tell({ type: 'start', t0 });
    await sleep(300 + WARMUP_S * 1000);
    for (const g of bgens) g.tell({ type: 'mark' });
    const bStart = performance.now();
    const iv = await measure('baseline', bStart, server, bgens, undefined, BASELINE_S);
    const b = rssFigures(rssBetween(bStart, bStart + BASELINE_S * 1000 + 1000));
    console.log(`\nbaseline: parse-only server (JSON.parse + ack, keeps nothing), same ${iv.nodes} agents, no dashboards, ${iv.seconds.toFixed(0)} s:`);
    console.log(line(iv));
    console.log(`  RSS slope over its second half: ${b.secondHalf.toFixed(3)} MiB/min (the noise a stateless server shows over ${(BASELINE_S / 2).toFixed(0)} s)`);
    console.log(`  ${machineNote([iv])}`);
    const bp99 = iv.latency.quantile(0.99);
    console.log(`ratio collector / baseline: p99 ack ${(T.latency.quantile(0.99) / bp99).toFixed(1)}x (${ms(T.latency.quantile(0.99))} / ${ms(bp99)}), p50 ack ${(T.latency.quantile(0.5) / iv.latency.quantile(0.5)).toFixed(1)}x, CPU ${(T.cpuPct / Math.max(1e-9, iv.serverCpuPct)).toFixed(2)}x, RSS max ${(rss.max / Math.max(1e-9, b.max)).toFixed(2)}x; RSS slope ${rss.secondHalf.toFixed(3)} vs ${b.secondHalf.toFixed(3)} MiB/min`);
  } finally {
    await stopGens(bgens);
    await stopServer(server);
  }
}
killAll();
