/**
 * The peer's agent side in the collector-ingest benchmark: what NVIDIA dcgm-exporter serves on
 * an 8-GPU node, for many simulated nodes at once, for a real Prometheus to scrape.
 *
 * One HTTP server on 127.0.0.1 per process, one path per node (`/metrics/gcn00001`), rather than
 * one port per node: Prometheus keeps one keep-alive connection per target either way, so the
 * scrape traffic is the same, and one listening socket per process keeps the fd count and the
 * start-up at a fraction (12,500 nodes would otherwise be 12,500 servers). The benchmark starts
 * BENCH_PROCS of these, each serving its share of the nodes (g % procs === procIndex), like the
 * load generators, so the exporter side is not the limit on a machine with spare cores.
 *
 * The text follows dcgm-exporter 3.3+/4.x with its default counters CSV (etc/default-counters.csv
 * in github.com/NVIDIA/dcgm-exporter), cut down to the six series the issue counts:
 * DCGM_FI_DEV_SM_CLOCK, DCGM_FI_DEV_GPU_TEMP, DCGM_FI_DEV_POWER_USAGE, DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION,
 * DCGM_FI_DEV_GPU_UTIL, DCGM_FI_DEV_FB_USED, in that file's order, each with its HELP and TYPE
 * lines and the labels gpu, UUID, pci_bus_id, device, modelName, Hostname, DCGM_FI_DRIVER_VERSION;
 * doubles printed as Go's %f (`612.345000`), as dcgm-exporter does. No gzip: dcgm-exporter
 * writes plain text, and Prometheus then spends no time inflating.
 *
 * Values change every second (dcgm-exporter with a 1 s collect interval): the body of a node is
 * rendered at most once per wall-clock second and reused for any further scrape in that second.
 * The energy counter integrates the power it reports, in mJ.
 *
 * Usage: node dcgm-exporter.mjs '<ExporterConfig JSON>'; answers `ready` (with its port) and
 * `stats` over IPC (see ToExporter / FromExporter in ingest-common.ts); exits when its parent
 * goes away.
 */
import { createServer } from 'node:http';
import { DCGM_SERIES_PER_GPU, nodeName } from './ingest-common.js';
import type { ExporterConfig, FromExporter, ToExporter } from './ingest-common.js';
import { mulberry32 } from '../../agent/src/sources/random.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as ExporterConfig;
for (const k of ['totalNodes', 'procs', 'procIndex', 'gpus'] as const) {
  if (!Number.isInteger(cfg[k]) || cfg[k] < 0) throw new Error(`dcgm-exporter: config ${k}=${String(cfg[k])}: expected a non-negative integer`);
}

function send(msg: FromExporter): void {
  process.send?.(msg);
}

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

const MODEL = 'NVIDIA H100 80GB HBM3';
const DRIVER = '550.127.08';
/** The six series, in default-counters.csv order, with that file's HELP text and type. */
const SERIES = [
  ['DCGM_FI_DEV_SM_CLOCK', 'gauge', 'SM clock frequency (in MHz).'],
  ['DCGM_FI_DEV_GPU_TEMP', 'gauge', 'GPU temperature (in C).'],
  ['DCGM_FI_DEV_POWER_USAGE', 'gauge', 'Power draw (in W).'],
  ['DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'counter', 'Total energy consumption since boot (in mJ).'],
  ['DCGM_FI_DEV_GPU_UTIL', 'gauge', 'GPU utilization (in %).'],
  ['DCGM_FI_DEV_FB_USED', 'gauge', 'Framebuffer memory used (in MiB).'],
] as const;
if (SERIES.length !== DCGM_SERIES_PER_GPU) throw new Error(`dcgm-exporter: ${SERIES.length} series, but ingest-common says ${DCGM_SERIES_PER_GPU}`);

/** One simulated node: its GPUs' label sets and state, and the body rendered for the current second. */
class ExporterNode {
  readonly name: string;
  readonly rand: () => number;
  /** Per series, per GPU: `NAME{labels} `. */
  readonly #heads: string[][];
  readonly #baseW: number[] = [];
  readonly #busy: boolean[] = [];
  readonly #energyMj: number[] = [];
  /** Framebuffer a job holds, MiB: steady while it runs, as a training job's is. */
  readonly #fbMiB: number[] = [];
  #second = -1;
  #body = '';

  constructor(g: number) {
    this.name = nodeName(g);
    this.rand = mulberry32(0xdc6e + g * 7919);
    const labels: string[] = [];
    for (let i = 0; i < cfg.gpus; i++) {
      const uuid = `GPU-${hex(this.rand, 8)}-${hex(this.rand, 4)}-${hex(this.rand, 4)}-${hex(this.rand, 4)}-${hex(this.rand, 12)}`;
      const bus = `00000000:${(0x18 + i * 0x10).toString(16).toUpperCase().padStart(2, '0')}:00.0`;
      labels.push(`{gpu="${i}",UUID="${uuid}",pci_bus_id="${bus}",device="nvidia${i}",modelName="${MODEL}",Hostname="${this.name}",DCGM_FI_DRIVER_VERSION="${DRIVER}"} `);
      this.#baseW.push(480 + this.rand() * 200);
      this.#busy.push(this.rand() < 0.9);
      // Counters since boot: days of uptime at a few hundred W.
      this.#energyMj.push(Math.floor(this.rand() * 2e11));
      this.#fbMiB.push(57_000 + Math.floor(this.rand() * 20_000));
    }
    this.#heads = SERIES.map(([name]) => labels.map((l) => name + l));
  }

  /** The exposition text for wall-clock second `second` (rendered once per second). */
  body(second: number): string {
    if (second === this.#second) return this.#body;
    const elapsedS = this.#second < 0 ? 1 : Math.max(1, second - this.#second);
    this.#second = second;
    const r = this.rand;
    const clock: number[] = [];
    const temp: number[] = [];
    const power: string[] = [];
    const util: number[] = [];
    const fb: number[] = [];
    for (let i = 0; i < cfg.gpus; i++) {
      // A job ends or starts now and then; busy GPUs train with short dips.
      if (r() < 0.002) {
        this.#busy[i] = !this.#busy[i];
        this.#fbMiB[i] = 57_000 + Math.floor(r() * 20_000);
      }
      let powerW: number;
      if (this.#busy[i] === true) {
        const dip = r() < 0.08 ? 250 + r() * 150 : 0;
        powerW = Math.max(90, (this.#baseW[i] ?? 600) + (r() - 0.5) * 60 - dip);
        util.push(dip > 0 ? 40 + Math.floor(r() * 30) : 95 + Math.floor(r() * 6));
        clock.push(1980 - (dip > 0 ? 0 : Math.floor(r() * 4) * 15));
        fb.push((this.#fbMiB[i] ?? 0) + (r() < 0.05 ? Math.floor(r() * 512) : 0));
      } else {
        powerW = 68 + r() * 8;
        util.push(0);
        clock.push(345);
        fb.push(0);
      }
      temp.push(Math.floor(31 + powerW / 25));
      // NVML reports mW; dcgm-exporter prints W with Go's %f.
      powerW = Math.round(powerW * 1000) / 1000;
      power.push(powerW.toFixed(6));
      this.#energyMj[i] = (this.#energyMj[i] ?? 0) + Math.round(powerW * 1000 * elapsedS);
    }
    const values: ReadonlyArray<ReadonlyArray<number | string>> = [clock, temp, power, this.#energyMj, util, fb];
    let text = '';
    for (let s = 0; s < SERIES.length; s++) {
      const [name, type, help] = SERIES[s] ?? SERIES[0];
      text += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
      const heads = this.#heads[s] ?? [];
      const vals = values[s] ?? [];
      for (let i = 0; i < cfg.gpus; i++) text += `${heads[i] ?? ''}${vals[i] ?? 0}\n`;
    }
    this.#body = text;
    return text;
  }
}

const nodes = new Map<string, ExporterNode>();
for (let g = cfg.procIndex; g < cfg.totalNodes; g += cfg.procs) {
  const n = new ExporterNode(g);
  nodes.set(`/metrics/${n.name}`, n);
}

let scrapes = 0;
let bytes = 0;
let notFound = 0;

const server = createServer((req, res) => {
  const n = req.method === 'GET' ? nodes.get(req.url ?? '') : undefined;
  if (n === undefined) {
    notFound += 1;
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no node at ${req.method ?? '?'} ${req.url ?? ''}\n`);
    return;
  }
  const body = n.body(Math.floor(Date.now() / 1000));
  scrapes += 1;
  bytes += body.length;
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
// Prometheus holds one keep-alive connection per target; don't let Node's 5 s default close them between 1 s scrapes.
server.keepAliveTimeout = 65_000;

process.on('message', (msg: ToExporter) => {
  if (msg.type === 'stats') send({ type: 'stats', scrapes, bytes, notFound });
  else if (msg.type === 'stop') server.close(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const first = nodes.values().next().value;
  send({ type: 'ready', port, nodes: nodes.size, bodyBytes: first !== undefined ? Buffer.byteLength(first.body(Math.floor(Date.now() / 1000) - 1)) : 0 });
});
