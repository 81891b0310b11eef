/**
 * InfluxDB write path: InfluxStore (commit into the mirror, then flush to InfluxDB) against a
 * baseline of raw `influx` writePoints of the same points in batches of 5,000, in the same run,
 * on the same influxd (start it with `deploy/local/influxdb.sh start`; INFLUX_URL, default
 * http://127.0.0.1:8086). Goal: the store keeps >= 70 % of the baseline's points/s.
 *
 * Load: BENCH_NODES nodes x 8 GPUs, each with two 4-GPU jobs, one batch per node per simulated
 * second for BENCH_SECONDS seconds; per second the effects are committed in groups of 250 (the
 * committer's group commits), each node's raw GPU samples queued (`writeSamples`), and then
 * `flush()` started — the store's 1 s write interval without the waiting; the next second is
 * committed while that write is in flight, as in the collector. Per batch the store
 * writes ledger, node_hour, 2 job_node, 2 job_hour, 2 job_series, 1 node_series and 8 gpu
 * points (17). The store's time includes the mirror and building the points.
 *
 * Equivalence: the store's writePoints calls are recorded (a reference push, no copy), and the
 * baseline writes exactly those points, re-batched by 5,000 per retention policy, into a fresh
 * database. Baseline time counts only writePoints: the points are prebuilt. Both are run with
 * one write in flight (the baseline as specified) and with two (the store's default), BENCH_ROUNDS
 * rounds in alternating order; the best round of each is reported.
 */
import { InfluxDB } from 'influx';
import type { IPoint, IWriteOptions } from 'influx';
import pino from 'pino';
import type { JobAllocation, Sample } from '../protocol/src/index.js';
import { InfluxStore } from '../collector/src/store/influx-store.js';
import type { BatchEffect } from '../collector/src/store/store.js';

const URL_ = process.env.INFLUX_URL ?? 'http://127.0.0.1:8086';
const NODES = Number(process.env.BENCH_NODES ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const GPUS = 8;
const BATCH = 5000;
const GROUP = 250;
/** Recent, so a 30d retention would keep it too. */
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
const log = pino({ level: 'silent' });

try {
  if ((await fetch(`${URL_}/ping`, { signal: AbortSignal.timeout(2000) })).status !== 204) throw new Error('no 204');
} catch {
  console.log(`SKIPPED: no influxd at ${URL_}; start one with \`deploy/local/influxdb.sh start\` (or set INFLUX_URL)`);
  process.exit(0);
}

const url = new URL(URL_);
const admin = new InfluxDB({ host: url.hostname, port: Number(url.port || 8086) });
const version = (await admin.ping(2000))[0]?.version ?? '?';

function uuid(n: number, g: number): string {
  return `GPU-${String(n).padStart(8, '0')}-0000-0000-0000-${String(g).padStart(12, '0')}`;
}
const allocations: JobAllocation[][] = Array.from({ length: NODES }, (_, n) => [0, 1].map((j) => ({
  id: `${1_000_000 + n * 2 + j}`, user: `u${n % 97}`, account: `acc${n % 13}`, name: 'train', partition: 'gpu',
  startTs: T0 - 600_000, gpus: [0, 1, 2, 3].map((g) => uuid(n, j * 4 + g)), cpuCores: 32,
})));

/** The effects of second `s` for every node, as the ledger would make them. */
function effectsAt(s: number): BatchEffect[] {
  const ts = T0 + s * 1000;
  return allocations.map((jobs, n) => {
    const node = `gcn${n}`;
    const a = { gpuMj: 2_800_000 + (n % 7) * 1000, cpuMj: 150_000, otherMj: 40_000 };
    const b = { gpuMj: 2_700_000 + (s % 5) * 1000, cpuMj: 140_000, otherMj: 40_000 };
    const idle = { gpuMj: 0, cpuMj: 20_000, otherMj: 0 };
    const counters: Record<string, number> = { 'i:gpu': 0, 'i:cpu': s * 20_000 };
    for (let g = 0; g < GPUS; g++) counters[`d:${uuid(n, g)}`] = s * 700_000;
    for (const j of jobs) counters[`j:${j.id}`] = s * 2_900_000;
    return {
      node, ts,
      ledger: { node, epoch: 'boot-1', lastSeq: s + 1, lastTs: ts, counters },
      nodeMj: { gpuMj: a.gpuMj + b.gpuMj, cpuMj: a.cpuMj + b.cpuMj + idle.cpuMj, otherMj: a.otherMj + b.otherMj },
      idleMj: idle,
      jobsMj: new Map([[jobs[0]!.id, a], [jobs[1]!.id, b]]),
      gpuSeconds: new Map([[jobs[0]!.id, 4], [jobs[1]!.id, 4]]),
      gpuUse: new Map([[jobs[0]!.id, { utilS: 3.6, utilKnownS: 4, idleS: 0 }], [jobs[1]!.id, { utilS: 3.2, utilKnownS: 4, idleS: 0 }]]),
      // The raw samples go in through writeSamples below, timed on their own.
      samples: [],
      jobs,
    };
  });
}
function samplesAt(s: number, n: number): Sample[] {
  return [{ ts: T0 + s * 1000, gpus: Array.from({ length: GPUS }, (_, g) => ({ uuid: uuid(n, g), powerW: 690 + g, tempC: 61, memTempC: 70, utilRatio: 0.98, memUsedBytes: 7.5e10, smClockMHz: 1980 })), cpus: [] }];
}

// Record what the store writes, for the baseline. A reference push per call: no copies.
const recorded: Array<{ points: IPoint[]; rp: string }> = [];
let recording = false;
const write = InfluxDB.prototype.writePoints;
InfluxDB.prototype.writePoints = function (this: InfluxDB, points: IPoint[], options?: IWriteOptions) {
  if (recording) recorded.push({ points, rp: options?.retentionPolicy ?? '' });
  return write.call(this, points, options);
};

let seq = 0;
const dbs: string[] = [];
const freshDb = (): string => {
  const name = `stroom_bench_${process.pid}_${seq++}`;
  dbs.push(name);
  return name;
};

interface Run { points: number; ms: number; effects: number }

async function storeRun(concurrency: number, record: boolean): Promise<Run> {
  const store = await InfluxStore.open({ url: URL_, database: freshDb(), log, retention: { series: '30d' }, concurrency, batchSize: BATCH, flushIntervalMs: 60_000 });
  // Effects are built before the clock starts, like the baseline's points: only the store's work is timed.
  const perSecond = Array.from({ length: SECONDS }, (_, s) => effectsAt(s));
  const samples = Array.from({ length: SECONDS }, (_, s) => Array.from({ length: NODES }, (_, n) => samplesAt(s, n)));
  recording = record;
  const t0 = performance.now();
  // As in the collector, the next second's commits run while the last second's write is in
  // flight; each flush still takes exactly one second of changes (it starts before the next
  // commit), so nothing is coalesced that a 1 s write interval would not coalesce.
  let writing: Promise<void> = Promise.resolve();
  for (let s = 0; s < SECONDS; s++) {
    const effects = perSecond[s]!;
    for (let i = 0; i < effects.length; i += GROUP) store.commit(effects.slice(i, i + GROUP));
    for (let n = 0; n < NODES; n++) store.writeSamples(`gcn${n}`, samples[s]![n]!);
    await writing;
    writing = store.flush();
  }
  await writing;
  const ms = performance.now() - t0;
  recording = false;
  const { pointsWritten, writeErrors, droppedPoints } = store.stats;
  if (writeErrors > 0 || droppedPoints > 0) throw new Error(`store run had ${writeErrors} write errors, ${droppedPoints} dropped points`);
  store.close();
  return { points: pointsWritten, ms, effects: SECONDS * NODES };
}

async function baselineRun(inFlight: number): Promise<Run> {
  const database = freshDb();
  (await InfluxStore.open({ url: URL_, database, log, retention: { series: '30d' } })).close();
  const influx = new InfluxDB({ host: url.hostname, port: Number(url.port || 8086), database });
  // The same points, in the same order, re-batched by 5,000 per retention policy.
  const batches: Array<{ points: IPoint[]; rp: string }> = [];
  for (const rp of new Set(recorded.map((r) => r.rp))) {
    const all = recorded.filter((r) => r.rp === rp).flatMap((r) => r.points);
    for (let i = 0; i < all.length; i += BATCH) batches.push({ points: all.slice(i, i + BATCH), rp });
  }
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const b = batches[next++]!;
      await write.call(influx, b.points, { retentionPolicy: b.rp, precision: 'ms' });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const ms = performance.now() - t0;
  return { points: batches.reduce((a, b) => a + b.points.length, 0), ms, effects: SECONDS * NODES };
}

const rate = (r: Run): number => (r.points / r.ms) * 1000;
const best = (runs: Run[]): Run => runs.reduce((a, b) => (rate(b) > rate(a) ? b : a));
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

try {
  // Warm-up (JIT, influxd's first shards) and the recording of the store's points.
  await storeRun(1, true);
  const store1: Run[] = [];
  const store2: Run[] = [];
  const base1: Run[] = [];
  const base2: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      base1.push(await baselineRun(1)); store1.push(await storeRun(1, false));
      base2.push(await baselineRun(2)); store2.push(await storeRun(2, false));
    } else {
      store1.push(await storeRun(1, false)); base1.push(await baselineRun(1));
      store2.push(await storeRun(2, false)); base2.push(await baselineRun(2));
    }
    for (const db of dbs.splice(0)) await admin.dropDatabase(db);
  }
  const [b1, s1, b2, s2] = [best(base1), best(store1), best(base2), best(store2)];
  console.log(`InfluxDB write path: ${NODES} nodes x ${GPUS} GPUs x ${SECONDS} s at 1 Hz = ${fmt(s1.effects)} batches, ${fmt(s1.points)} points (${(s1.points / s1.effects).toFixed(1)} per batch); influxd ${version}; best of ${ROUNDS}`);
  console.log(`  baseline writePoints, batches of ${BATCH}, 1 in flight:  ${fmt(rate(b1))} points/s (${(b1.ms / 1000).toFixed(2)} s)`);
  console.log(`  InfluxStore commit + flush, 1 in flight:             ${fmt(rate(s1))} points/s (${(s1.ms / 1000).toFixed(2)} s, ${fmt((s1.effects / s1.ms) * 1000)} batches/s)`);
  console.log(`  ratio InfluxStore / baseline:                        ${((rate(s1) / rate(b1)) * 100).toFixed(0)} % (goal >= 70 %)`);
  console.log(`  baseline, 2 in flight:                               ${fmt(rate(b2))} points/s`);
  console.log(`  InfluxStore, 2 in flight (its default):              ${fmt(rate(s2))} points/s (${fmt((s2.effects / s2.ms) * 1000)} batches/s)`);
  console.log(`  ratio at 2 in flight:                                ${((rate(s2) / rate(b2)) * 100).toFixed(0)} %`);
} finally {
  for (const db of dbs) await admin.dropDatabase(db).catch(() => undefined);
}
