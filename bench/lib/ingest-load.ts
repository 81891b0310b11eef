/**
 * One load generator process of the collector-ingest benchmark: simulates its share of the
 * nodes (global index g with g % procs === procIndex), one WebSocket connection each with the
 * node's own token, Hello first, then one Batch per second with seq 1, 2, ... Node g sends at
 * t0 + k s + g/totalNodes × spreadMs (default the whole second), so the load is spread evenly.
 *
 * The batches are what a real agent on an 8-GPU Slurm node sends: one sample (GPU gauges, two
 * CPU packages, host gauges with per-core utilisation), cumulative energy counters per device
 * (gpu, cpu, dram), per job and idle that always add up (jobs + idle = devices), the job map,
 * and source health. Jobs start and end over time. Frames are built as JSON text from pieces
 * prepared once per node and per job, so the generator stays cheap next to what it measures.
 *
 * Driven over IPC by bench/collector-ingest.bench.ts (see FromLoad / ToLoad); exits when the
 * parent goes away.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { LogHistogram, nodeName, nodeToken } from './ingest-common.js';
import type { FromLoad, LoadConfig, LoadReport, ToLoad } from './ingest-common.js';
import { mulberry32 } from '../../agent/src/sources/random.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as LoadConfig & {
  /** Optional (the soak sets it): redial a dropped connection after this many ms, as an agent does; reports then carry `reconnects`. */
  readonly reconnectMs?: number;
};
/** Dropped connections redialled successfully, since the start. */
let reconnects = 0;

function send(msg: FromLoad): void {
  process.send?.(msg);
}

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

const USERS = ['u.devries', 'j.jansen', 'p.bakker', 'm.visser', 's.smit', 'k.meijer', 'a.mulder', 'l.bos'];
const ACCOUNTS = ['surf-llm', 'uva-vision', 'tud-cfd', 'rug-astro', 'knmi-climate'];
const JOB_NAMES = ['train-llama', 'finetune', 'gromacs', 'lammps', 'resnet-sweep', 'cosmo-sim'];
const PARTITION = 'gpu_h100';
const GPU_SIZES = [8, 8, 8, 4, 4, 2, 1];

interface Job {
  readonly id: string;
  readonly gpus: number[];
  readonly cores: number;
  readonly endTick: number;
  /** The job-map entry, fixed while the job runs. */
  readonly mapJson: string;
  /** `{"id":"...","gpuEnergyMj":` */
  readonly counterHead: string;
  gpuMj: number;
  cpuMj: number;
}

/** One simulated node: its connection, its devices and jobs, and its counters. */
class SimNode {
  readonly g: number;
  readonly node: string;
  readonly offsetMs: number;
  readonly rand: () => number;
  readonly epoch: string;
  ws: WebSocket | undefined;
  open = false;
  seq = 0;
  lastAcked = 0;
  /** Seqs sent and not yet acked, with their send time (performance.now()) and whether they were sent in the measured window. */
  readonly pendingSeq: number[] = [];
  readonly pendingAt: number[] = [];
  readonly pendingWin: boolean[] = [];

  readonly #gpuHead: string[] = [];
  readonly #devGpuHead: string[] = [];
  readonly #gpuBaseW: number[] = [];
  readonly #gpuEnergyMj: number[] = [];
  readonly #gpuOwner: Array<Job | undefined> = [];
  readonly #pkgEnergyMj = [0, 0];
  readonly #dramEnergyMj = [0, 0];
  #jobs: Job[] = [];
  #jobCount = 0;
  #idleGpuMj = 0;
  #idleCpuMj = 0;
  #load1 = 20;
  readonly #batchHead: string;
  readonly #memTotal = 2 * 1024 ** 4;

  constructor(g: number) {
    this.g = g;
    this.node = nodeName(g);
    this.offsetMs = (g * (cfg.spreadMs ?? 1000)) / cfg.totalNodes;
    this.rand = mulberry32(0x5eed + g * 7919);
    this.epoch = `${hex(this.rand, 8)}-${hex(this.rand, 4)}-4${hex(this.rand, 3)}-a${hex(this.rand, 3)}-${hex(this.rand, 12)}:${Date.now()}`;
    for (let i = 0; i < cfg.gpus; i++) {
      const uuid = `GPU-${hex(this.rand, 8)}-${hex(this.rand, 4)}-${hex(this.rand, 4)}-${hex(this.rand, 4)}-${hex(this.rand, 12)}`;
      this.#gpuHead.push(`{"uuid":"${uuid}","powerW":`);
      this.#devGpuHead.push(`{"id":"${uuid}","kind":"gpu","energyMj":`);
      this.#gpuBaseW.push(480 + this.rand() * 200);
      this.#gpuEnergyMj.push(0);
      this.#gpuOwner.push(undefined);
    }
    this.#batchHead = `{"v":1,"type":"batch","node":${JSON.stringify(this.node)},"epoch":${JSON.stringify(this.epoch)},"seq":`;
    // Start mostly full, with jobs part-way through.
    this.#schedule(0, 0.9);
  }

  get uuids(): string[] {
    return this.#gpuHead.map((h) => h.slice(9, h.indexOf('"', 9)));
  }

  hello(): string {
    const gpus = this.uuids.map((uuid, index) => ({
      uuid,
      index,
      name: 'NVIDIA H100 80GB HBM3',
      minor: index,
      pciBusId: `00000000:${(0x18 + index * 0x10).toString(16).toUpperCase()}:00.0`,
      memTotalBytes: 85520809984,
      powerLimitW: 700,
      hasEnergyCounter: true,
    }));
    return JSON.stringify({
      v: 1,
      type: 'hello',
      node: this.node,
      epoch: this.epoch,
      agentVersion: '0.1.0',
      ts: Date.now(),
      intervalMs: 1000,
      inventory: {
        gpus,
        cpus: [0, 1].map((p) => ({ id: `package-${p}`, model: 'Intel(R) Xeon(R) Platinum 8480+', cores: Math.max(1, Math.floor(cfg.cores / 4)) })),
        host: { hostname: `${this.node}.local.snellius.surf.nl`, cpuModel: 'Intel(R) Xeon(R) Platinum 8480+', logicalCpus: Math.max(1, cfg.cores), memTotalBytes: this.#memTotal, os: 'Rocky Linux 9.4 (Blue Onyx)', kernel: '5.14.0-427.42.1.el9_4.x86_64' },
      },
      sources: [
        { name: 'nvml', state: 'ok' },
        { name: 'rapl', state: 'ok' },
        { name: 'host', state: 'ok' },
        { name: 'slurm', state: 'ok' },
      ],
    });
  }

  /** End jobs due at `tick` and start new ones on free GPUs with probability `p` each. */
  #schedule(tick: number, p: number): void {
    if (this.#jobs.some((j) => j.endTick <= tick)) {
      this.#jobs = this.#jobs.filter((j) => {
        if (j.endTick > tick) return true;
        for (const i of j.gpus) this.#gpuOwner[i] = undefined;
        return false;
      });
    }
    let free = this.#gpuOwner.reduce((n, o) => n + (o === undefined ? 1 : 0), 0);
    while (free > 0 && this.rand() < p) {
      let size = GPU_SIZES[Math.floor(this.rand() * GPU_SIZES.length)] ?? 1;
      while (size > free) size = Math.max(1, size >> 1);
      const gpus: number[] = [];
      for (let i = 0; i < cfg.gpus && gpus.length < size; i++) if (this.#gpuOwner[i] === undefined) gpus.push(i);
      this.#jobCount += 1;
      const id = String(1_000_000 + this.g * 10_000 + (this.#jobCount % 10_000));
      const cores = Math.max(1, Math.floor((cfg.cores * size) / Math.max(1, cfg.gpus)));
      const startTs = Date.now() - (tick === 0 ? Math.floor(this.rand() * 3_600_000) : 0);
      // Remaining run time: 2 min .. 2 h (initial jobs are part-way through theirs).
      const endTick = tick + 120 + Math.floor(this.rand() * 7080);
      const uuids = this.uuids;
      const mapJson = JSON.stringify({
        id,
        user: USERS[Math.floor(this.rand() * USERS.length)] ?? 'u',
        account: ACCOUNTS[Math.floor(this.rand() * ACCOUNTS.length)] ?? 'a',
        name: JOB_NAMES[Math.floor(this.rand() * JOB_NAMES.length)] ?? 'job',
        partition: PARTITION,
        startTs,
        gpus: gpus.map((i) => uuids[i] ?? ''),
        cpuCores: cores,
        cpuShareRatio: 0.5,
      }).replace(/"cpuShareRatio":0\.5}$/, '"cpuShareRatio":');
      const job: Job = { id, gpus, cores, endTick, mapJson, counterHead: `{"id":"${id}","gpuEnergyMj":`, gpuMj: 0, cpuMj: 0 };
      for (const i of gpus) this.#gpuOwner[i] = job;
      this.#jobs.push(job);
      free -= gpus.length;
    }
  }

  /**
   * Advance the node by one 1 s tick: gauges, device counters, the job/idle split. Returns the
   * batch frame when `frame` is true (a held-back tick only advances the counters, as the
   * agent's meter keeps integrating while its link is blocked).
   */
  tick(k: number, ts: number, frame: boolean): string | undefined {
    const r = this.rand;
    this.#schedule(k, 0.1);
    let gpus = '';
    let devices = '';
    let busyGpus = 0;
    for (let i = 0; i < cfg.gpus; i++) {
      const owner = this.#gpuOwner[i];
      let powerW: number;
      let util: number;
      let temp: number;
      let mem: number;
      let clock: number;
      if (owner !== undefined) {
        busyGpus += 1;
        // Training load: steady with short dips (data loading, checkpoints).
        const dip = r() < 0.08 ? 250 + r() * 150 : 0;
        powerW = Math.max(90, (this.#gpuBaseW[i] ?? 600) + (r() - 0.5) * 60 - dip);
        util = dip > 0 ? 40 + Math.floor(r() * 30) : 95 + Math.floor(r() * 6);
        temp = 58 + Math.floor(powerW / 60);
        mem = 60_000_000_000 + Math.floor(r() * 20_000_000) * 1000;
        clock = 1980 - (dip > 0 ? 0 : Math.floor(r() * 4) * 15);
      } else {
        powerW = 68 + r() * 8;
        util = 0;
        temp = 31 + Math.floor(r() * 3);
        mem = 0;
        clock = 345;
      }
      powerW = Math.round(powerW * 1000) / 1000;
      const deltaMj = Math.round(powerW * 1000);
      this.#gpuEnergyMj[i] = (this.#gpuEnergyMj[i] ?? 0) + deltaMj;
      if (owner !== undefined) owner.gpuMj += deltaMj;
      else this.#idleGpuMj += deltaMj;
      if (!frame) continue;
      gpus += `${i > 0 ? ',' : ''}${this.#gpuHead[i]}${powerW},"tempC":${temp},"memTempC":${temp + 6},"utilRatio":${util / 100},"memUsedBytes":${mem},"smClockMHz":${clock}}`;
      devices += `${this.#devGpuHead[i]}${this.#gpuEnergyMj[i]}},`;
    }
    // CPU packages and DRAM follow the share of busy GPUs; their energy is split by cores.
    const busy = busyGpus / Math.max(1, cfg.gpus);
    let cpuDeltaMj = 0;
    const pkgW: number[] = [];
    for (let p = 0; p < 2; p++) {
      const w = Math.round((110 + busy * 160 + r() * 30) * 1000) / 1000;
      const dw = Math.round((22 + busy * 18 + r() * 4) * 1000) / 1000;
      pkgW.push(w);
      const d = Math.round(w * 1000);
      const dd = Math.round(dw * 1000);
      this.#pkgEnergyMj[p] = (this.#pkgEnergyMj[p] ?? 0) + d;
      this.#dramEnergyMj[p] = (this.#dramEnergyMj[p] ?? 0) + dd;
      cpuDeltaMj += d + dd;
    }
    let shared = 0;
    let usedCores = 0;
    for (const j of this.#jobs) usedCores += j.cores;
    const totalCores = Math.max(1, cfg.cores, usedCores);
    for (const j of this.#jobs) {
      const mj = Math.floor((cpuDeltaMj * j.cores) / totalCores);
      j.cpuMj += mj;
      shared += mj;
    }
    this.#idleCpuMj += cpuDeltaMj - shared;
    if (!frame) return undefined;

    const cpuUtil = Math.min(1, 0.05 + busy * 0.55 + r() * 0.05);
    let cores = '';
    for (let c = 0; c < cfg.cores; c++) {
      const total = 99 + Math.floor(r() * 3);
      const b = Math.min(total, Math.floor(total * Math.min(1, cpuUtil + (r() - 0.5) * 0.4 + 0.2 * (c < cfg.cores * busy ? 1 : -1))));
      cores += `${c > 0 ? ',' : ''}${Math.max(0, b) / total}`;
    }
    this.#load1 = Math.max(0, this.#load1 * 0.95 + (cfg.cores * cpuUtil) * 0.05);
    const memUsed = Math.floor(this.#memTotal * (0.1 + busy * 0.5));
    let jobCounters = '';
    let jobMap = '';
    for (let n = 0; n < this.#jobs.length; n++) {
      const j = this.#jobs[n];
      if (j === undefined) continue;
      const sep = n > 0 ? ',' : '';
      jobCounters += `${sep}${j.counterHead}${j.gpuMj},"cpuEnergyMj":${j.cpuMj}}`;
      jobMap += `${sep}${j.mapJson}${Math.round((j.cores / totalCores) * cpuUtil * 1000) / 1000}}`;
    }
    this.seq += 1;
    return (
      `${this.#batchHead}${this.seq},"ts":${ts},"samples":[{"ts":${ts},"gpus":[${gpus}],` +
      `"cpus":[{"id":"package-0","powerW":${pkgW[0]},"utilRatio":${cpuUtil}},{"id":"package-1","powerW":${pkgW[1]},"utilRatio":${cpuUtil}}],` +
      `"host":{"cpuUtilRatio":${cpuUtil},"coreUtilRatio":[${cores}],"memUsedBytes":${memUsed},"memTotalBytes":${this.#memTotal},"load1":${Math.round(this.#load1 * 100) / 100}}}],` +
      `"counters":{"devices":[${devices}{"id":"package-0","kind":"cpu","energyMj":${this.#pkgEnergyMj[0]}},{"id":"package-1","kind":"cpu","energyMj":${this.#pkgEnergyMj[1]}},` +
      `{"id":"dram-0","kind":"dram","energyMj":${this.#dramEnergyMj[0]}},{"id":"dram-1","kind":"dram","energyMj":${this.#dramEnergyMj[1]}}],` +
      `"jobs":[${jobCounters}],"idle":{"gpuEnergyMj":${this.#idleGpuMj},"cpuEnergyMj":${this.#idleCpuMj}}},` +
      `"jobs":[${jobMap}],"gaps":0,` +
      `"sources":[{"name":"nvml","lastReadMs":${Math.round((2 + r() * 3) * 1000) / 1000},"errors":0,"timeouts":0},{"name":"rapl","lastReadMs":${Math.round((0.1 + r() * 0.2) * 1000) / 1000},"errors":0,"timeouts":0},` +
      `{"name":"host","lastReadMs":${Math.round((0.3 + r() * 0.4) * 1000) / 1000},"errors":0,"timeouts":0},{"name":"slurm","lastReadMs":${Math.round((0.05 + r() * 0.1) * 1000) / 1000},"errors":0,"timeouts":0}]}`
    );
  }
}

const nodes: SimNode[] = [];
for (let g = cfg.procIndex; g < cfg.totalNodes; g += cfg.procs) nodes.push(new SimNode(g));

const counters: Omit<LoadReport, 'latency' | 'lateness' | 'outstanding' | 'open'> = { sent: 0, acked: 0, ackedAny: 0, heldBack: 0, closes: 0 };
let latency = new LogHistogram();
let lateness = new LogHistogram();
let running = false;
/** Between `mark` and `report`: batches sent now are the measured ones. */
let measuring = false;
/** Measured batches not acked yet. */
let windowPending = 0;

function onAck(n: SimNode, data: WebSocket.RawData): void {
  const now = performance.now();
  let seq: number;
  try {
    const m = JSON.parse(String(data)) as { type?: string; seq?: number };
    if (m.type !== 'ack' || typeof m.seq !== 'number') return;
    seq = m.seq;
  } catch {
    return;
  }
  if (seq > n.lastAcked) n.lastAcked = seq;
  // Acks come in seq order; an ack also covers anything before it that was skipped.
  while (n.pendingSeq.length > 0 && (n.pendingSeq[0] ?? 0) <= seq) {
    const s = n.pendingSeq.shift() ?? 0;
    const at = n.pendingAt.shift() ?? now;
    const win = n.pendingWin.shift() ?? false;
    if (win) windowPending -= 1;
    if (s !== seq) continue;
    if (measuring) counters.ackedAny += 1;
    if (win) {
      counters.acked += 1;
      latency.add(Math.max(0.01, now - at));
    }
  }
}

function connect(n: SimNode): Promise<string | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(cfg.url, {
      headers: { authorization: `Bearer ${nodeToken(cfg.secret, n.g)}`, 'x-stroom-node': n.node },
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
    });
    n.ws = ws;
    let settled = false;
    const done = (err?: string): void => {
      if (settled) return;
      settled = true;
      resolve(err);
    };
    ws.on('open', () => {
      n.open = true;
      ws.send(n.hello());
      done();
    });
    ws.on('unexpected-response', (_req, res) => {
      done(`HTTP ${res.statusCode} ${String(res.headers['x-stroom-error'] ?? '')}`);
      ws.terminate();
    });
    ws.on('error', (err) => done(err.message));
    ws.on('message', (data) => onAck(n, data));
    ws.on('close', (code, reason) => {
      const was = n.open;
      n.open = false;
      if (was && running) {
        counters.closes += 1;
        counters.firstClose ??= `${n.node}: ${code} ${String(reason)}`;
        if (cfg.reconnectMs !== undefined) redial(n);
      }
      done(`closed ${code} ${String(reason)}`);
    });
  });
}

/** Dial again after cfg.reconnectMs until it opens (Hello again, same epoch; seq goes on). */
function redial(n: SimNode): void {
  setTimeout(() => {
    if (!running || n.open) return;
    void connect(n).then((err) => {
      if (err === undefined) reconnects += 1;
      else redial(n);
    });
  }, cfg.reconnectMs ?? 1000);
}

async function connectAll(): Promise<void> {
  let next = 0;
  let connected = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < nodes.length) {
      const n = nodes[next++];
      if (n === undefined) break;
      const err = await connect(n);
      if (err === undefined) connected += 1;
      else {
        failed += 1;
        firstError ??= `${n.node}: ${err}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, cfg.connectConcurrency) }, worker));
  const sample = nodes[0];
  const probe = sample !== undefined ? new SimNode(sample.g) : undefined;
  const batchBytes = probe !== undefined ? Buffer.byteLength(probe.tick(1, Date.now(), true) ?? '') : 0;
  const helloBytes = probe !== undefined ? Buffer.byteLength(probe.hello()) : 0;
  send({ type: 'ready', connected, failed, ...(firstError !== undefined ? { firstError } : {}), helloBytes, batchBytes });
}

let t0 = 0;
let round = 0;
let idx = 0;
let timer: NodeJS.Timeout | undefined;

/** Send every batch that is due, then sleep until the next one. */
function pump(): void {
  timer = undefined;
  if (!running || nodes.length === 0) return;
  const now = Date.now();
  for (;;) {
    const n = nodes[idx];
    if (n === undefined) return;
    const due = Math.floor(t0 + round * 1000 + n.offsetMs);
    if (due > now) {
      timer = setTimeout(pump, due - now);
      return;
    }
    if (measuring) lateness.add(Math.max(0.01, now - due));
    const ws = n.ws;
    if (n.open && ws !== undefined) {
      if (n.seq - n.lastAcked >= cfg.window) {
        n.tick(round + 1, due, false);
        if (measuring) counters.heldBack += 1;
      } else {
        const frame = n.tick(round + 1, due, true) ?? '';
        n.pendingSeq.push(n.seq);
        n.pendingAt.push(performance.now());
        n.pendingWin.push(measuring);
        ws.send(frame);
        if (measuring) {
          counters.sent += 1;
          windowPending += 1;
        }
      }
    }
    idx += 1;
    if (idx >= nodes.length) {
      idx = 0;
      round += 1;
    }
  }
}

function report(): LoadReport {
  let outstanding = 0;
  let open = 0;
  for (const n of nodes) {
    outstanding += n.pendingSeq.length;
    if (n.open) open += 1;
  }
  return { ...counters, outstanding, open, latency: latency.counts, lateness: lateness.counts };
}

process.on('message', (msg: ToLoad) => {
  switch (msg.type) {
    case 'start':
      t0 = msg.t0;
      running = true;
      pump();
      break;
    case 'mark':
      counters.sent = 0;
      counters.acked = 0;
      counters.ackedAny = 0;
      counters.heldBack = 0;
      latency = new LogHistogram();
      lateness = new LogHistogram();
      measuring = true;
      break;
    case 'report': {
      // End of the window: the load goes on, and the window's batches get up to drainMs for their acks.
      measuring = false;
      const until = performance.now() + msg.drainMs;
      const wait = (): void => {
        if (windowPending > 0 && performance.now() < until) setTimeout(wait, 20);
        else send({ type: 'report', ...report(), ...(cfg.reconnectMs !== undefined ? { reconnects } : {}) });
      };
      wait();
      break;
    }
    case 'stop':
      running = false;
      clearTimeout(timer);
      for (const n of nodes) n.ws?.terminate();
      setTimeout(() => process.exit(0), 50);
      break;
  }
});
process.on('disconnect', () => process.exit(0));

await connectAll();
