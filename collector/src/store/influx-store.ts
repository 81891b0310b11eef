/**
 * The InfluxDB store: the collector's books in InfluxDB 1.x (the `influx` package, InfluxQL),
 * for sites that already run InfluxDB and want raw series at full rate next to job totals.
 *
 * Design. `Store` is synchronous (the SQLite store is), InfluxDB is HTTP. So this store keeps an
 * in-memory mirror of the books — ledger states, jobs, job-on-node rows, job and node hours,
 * nodes, and the newest hour of 10 s job series — loaded from InfluxDB once in `open()`
 * (plain queries: the server's `max-row-limit` must be 0, its default). `commit()` applies the
 * effects to the mirror synchronously (the same rules, statement for statement, as
 * EmbeddedStore) and only marks the touched rows dirty; every read is answered from the mirror.
 * A background writer sends the dirty rows and the series points to InfluxDB in batches
 * (`batchSize` points per HTTP write, at most `concurrency` in flight, every `flushIntervalMs`
 * or sooner when a batch is full): never one request per reading, never blocking the event loop.
 *
 * Book rows are written as whole snapshots keyed by measurement + tags + a fixed time, and
 * InfluxDB overwrites a point with the same key: a row that changed ten times between two
 * writes is written once (coalescing), a retried write is harmless, and the newest mirror state
 * is what a retry sends. Writes run one flush at a time so an older snapshot can never land
 * after a newer one; within a flush every key occurs once, so its chunks may run in parallel.
 *
 * Durability — read this before choosing this store. The durable point is InfluxDB's 204 to
 * the write, not `commit()`. The committer acks a batch to its agent after `commit()` returns,
 * so a `kill -9` of the collector loses the book rows committed but not yet written (up to
 * `flushIntervalMs` plus one write, default about 1 s of batches), and the agents will not
 * resend those batches. What saves the energy is that the ledger state goes with them: each
 * HTTP write carries all of a node's book rows of that flush (ledger state, node hours, job on
 * node, job hours — never split over two requests), so after a crash a node's books and its
 * ledger are in step at an older seq, and its next batch's counter deltas (cumulative
 * counters) cover the lost interval, as after any lost batch: per-job energy comes out whole,
 * landing in the next batch's hour and bucket. Job states are re-derived from the job-on-node rows at `open()`. Not
 * covered: influxd itself dying between the shards of one write, and a node whose rows for one
 * flush exceed what one request can carry. `await flush()` makes everything committed before it
 * durable. An InfluxDB outage keeps the books in memory and retries; the books stay correct
 * while the collector lives. SQLite (EmbeddedStore: a transaction per commit, before the ack)
 * stays the default; this store is opt-in.
 *
 * Series. Job and node energy series and raw GPU samples go to InfluxDB as one point per batch
 * (a delta at the batch's own time), so no write needs the sum before it; InfluxDB's
 * `GROUP BY time(10s)` makes the 10 s buckets. The mirror keeps a job's 10 s buckets only for
 * the newest `seriesWindowMs` of data (default 1 h, reckoned from the newest bucket, not the
 * clock): `jobSeries` answers within that window, `queryJobSeries` (async) over the whole
 * retention. A job series bucket in the mirror costs ~200 B, so the window costs about
 * 200 B x running job-node pairs x window / 10 s: 1000 nodes with 2 jobs each, 1 h: ~140 MB.
 *
 * Layout. Retention policy `books` (infinite, the database default) holds the books, keyed
 * rows at time 0 unless said otherwise:
 *   ledger    tags node, epoch   fields last_seq, last_ts, counters (JSON), counters_parts
 *   job       tags job           fields user, account, name, partition, start_ts, end_ts (-1: none), state
 *   job_node  tags job, node     fields gpus, running, end_ts (-1: none), gpu_mj, cpu_mj, other_mj, gpu_s,
 *                                util_s, util_known_s, idle_gpu_s, gpu_uuids (comma-separated)
 *   job_hour  tags job, node     fields gpu_mj, cpu_mj, other_mj, gpu_s, util_s, util_known_s,
 *                                idle_gpu_s                                     time: UTC hour start
 *   node_hour tags node          fields device_gpu_mj, device_cpu_mj, other_mj, idle_gpu_mj,
 *                                idle_cpu_mj, idle_other_mj, jobs_mj                time: UTC hour start
 *   node      tags node          fields hello (JSON), hello_parts, ts
 * Retention policy `series` (the configured duration) holds what may expire:
 *   job_series  tags job, node   field energy_mj (one batch's job energy there)  time: batch ts
 *   node_series tags node        field energy_mj (one batch's node energy)       time: batch ts
 *   gpu         tags node, gpu   fields power_w, temp_c, mem_temp_c, util_ratio, mem_used_bytes,
 *                                sm_clock_mhz (raw samples, `writeSamples`)     time: sample ts
 * Energies are mJ, times ms since the epoch, all numbers InfluxDB floats (exact below 2^53).
 * Raw series (`gpu`, `node_series`) carry no job ids: their cardinality is nodes x GPUs. Job ids
 * are tags only on the job measurements, so the books RP holds about 2 + 2 x nodes-per-job
 * series per job, forever: a million jobs on 4 nodes each is ~10 million series. Raise
 * `max-values-per-tag` (default 100,000 would refuse the 100,001st job id) and use
 * `index-version = "tsi1"` before that scale. The books in the mirror cost about 1.3 KB per job
 * (on one node for one hour).
 */
import { InfluxDB, escape } from 'influx';
import type { IPoint } from 'influx';
import type { Hello, JobState, Sample } from '@stroom/protocol';
import type { Logger } from 'pino';
import type { BatchEffect, GpuBucket, JobHour, JobQuery, JobRecord, LedgerState, NodeBalance, SeriesPoint, SplitMj, Store } from './store.js';
import type { EnergyReportData, NodeCoverage, ReportGroupBy, ReportHour } from './store.js';
import { compareCodePoints, sliceReportHours } from './report-slices.js';

const HOUR_MS = 3_600_000;
/** Width of a job series bucket, ms (the same as EmbeddedStore's SERIES_BUCKET_MS). */
const SERIES_BUCKET_MS = 10_000;
/** Retention policy of the books: infinite, and the database's default. */
export const BOOKS_RP = 'books';
/** Retention policy of the raw and 10 s series: the configured duration. */
export const SERIES_RP = 'series';
/** Time of keyed book rows that have no time of their own (InfluxDB keys a point by its time). */
const KEY_TIME = '0';
/** Longest timer Node keeps (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
/** InfluxDB 1.x refuses string fields over 64 KB; JSON fields are split below that (chars). */
const FIELD_PART_CHARS = 16_000;
const SEP = '\u001f';
/** Latest bucket edge InfluxDB can hold, ms (int64 ns ends in 2262). */
const MAX_INFLUX_MS = 9_223_372_030_000;

/** Options of `InfluxStore.open`. */
export interface InfluxStoreOptions {
  /** InfluxDB 1.x HTTP API, e.g. `http://127.0.0.1:8086` (user:password@ for basic auth). */
  readonly url: string;
  /** Database name; created when missing. */
  readonly database: string;
  /** Where the load summary, refused points and failed writes are logged (pino). */
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Duration of the `series` retention policy as InfluxQL (`30d`, `168h`, `INF`); default `30d`. */
  readonly retention?: { readonly series: string };
  /** Longest wait between a commit and its write, ms (default 1000). */
  readonly flushIntervalMs?: number;
  /** Points per HTTP write (default 5000). */
  readonly batchSize?: number;
  /** HTTP writes in flight within one flush (default 2). */
  readonly concurrency?: number;
  /** Newest job series kept in the mirror for `jobSeries`, ms of data time (default 1 h; Infinity: all). */
  readonly seriesWindowMs?: number;
  /** Series points (`gpu`, `job_series`, `node_series`) held while InfluxDB is unreachable; more are dropped (default 1,000,000). */
  readonly maxQueuedRawPoints?: number;
}

/** What the writer did, for self-metrics and tests. */
export interface InfluxStoreStats {
  /** Points InfluxDB accepted. */
  pointsWritten: number;
  /** HTTP writes that succeeded. */
  writes: number;
  /** HTTP writes that failed and will be retried. */
  writeErrors: number;
  /** Points given up on: refused by InfluxDB (e.g. beyond the retention) or over the raw queue limit. */
  droppedPoints: number;
}

function addUse(to: { utilS: number; utilKnownS: number; idleS: number }, use: { readonly utilS: number; readonly utilKnownS: number; readonly idleS: number }): void {
  to.utilS += use.utilS;
  to.utilKnownS += use.utilKnownS;
  to.idleS += use.idleS;
}

interface LedgerRow { readonly node: string; readonly epoch: string; lastSeq: number; lastTs: number; counters: string }
interface JobNodeRow {
  readonly job: string; readonly node: string; gpus: number; running: boolean; endTs: number | null;
  /** Ended by the epilog's end notice (not by leaving the job map): only a new run brings it back. */
  endNotice: boolean;
  gpuMj: number; cpuMj: number; otherMj: number; gpuS: number;
  utilS: number; utilKnownS: number; idleS: number; gpuUuids: string;
}
interface JobHourRow {
  readonly job: string; readonly node: string; readonly hourTs: number; gpuMj: number; cpuMj: number; otherMj: number; gpuS: number;
  utilS: number; utilKnownS: number; idleS: number;
}
interface SeriesRow { readonly job: JobRow; readonly node: string; readonly bucketTs: number; energyMj: number }
interface JobRow {
  readonly id: string; user: string; account: string; name: string | null; partition: string | null;
  startTs: number; endTs: number | null; state: JobState;
  readonly nodes: Map<string, JobNodeRow>;
  /** By `node SEP hourTs`. */
  readonly hours: Map<string, JobHourRow>;
  /** By `node SEP bucketTs`, within the series window. */
  readonly series: Map<string, SeriesRow>;
}
interface NodeHourRow {
  readonly node: string; readonly hourTs: number;
  deviceGpuMj: number; deviceCpuMj: number; otherMj: number; idleGpuMj: number; idleCpuMj: number; idleOtherMj: number; jobsMj: number;
}
interface NodeRow { readonly name: string; hello: string; ts: number }

/** One book measurement's dirty rows and how a row becomes a point. */
interface Kind<T> {
  readonly dirty: Set<T>;
  point(row: T): IPoint;
}
/** One HTTP write: its points, and where they came from (to mark them dirty again on failure). */
interface Chunk { readonly rp: string; readonly points: IPoint[]; readonly rows: Map<Kind<unknown>, unknown[]>; readonly raw: IPoint[] }
interface CycleResult { readonly failed: number; readonly error?: Error }


/** Jobs listed newest start first, then by id: EmbeddedStore's `ORDER BY start_ts DESC, id`. */
function jobOrder(a: { startTs: number; id: string }, b: { startTs: number; id: string }): number {
  return a.startTs !== b.startTs ? b.startTs - a.startTs : compareCodePoints(a.id, b.id);
}

const DURATION = /^(INF|inf|(\d+(ns|u|µ|ms|s|m|h|d|w))+)$/;

/** Split a long string into fields `name`, `name_1`, ... and `name_parts` (InfluxDB's 64 KB field limit). */
function partFields(name: string, value: string, fields: Record<string, unknown>): void {
  const parts = Math.max(1, Math.ceil(value.length / FIELD_PART_CHARS));
  fields[`${name}_parts`] = parts;
  for (let i = 0; i < parts; i++) fields[i === 0 ? name : `${name}_${i}`] = value.slice(i * FIELD_PART_CHARS, (i + 1) * FIELD_PART_CHARS);
}

function joinParts(name: string, row: Record<string, unknown>): string {
  const parts = Number(row[`${name}_parts`] ?? 1);
  let out = String(row[name] ?? '');
  for (let i = 1; i < parts; i++) out += String(row[`${name}_${i}`] ?? '');
  return out;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));
/** -1 stands for "no end yet": InfluxDB keeps the union of a key's fields, so null cannot be written. */
const tsOrNull = (v: unknown): number | null => (v === null || v === undefined || num(v) < 0 ? null : num(v));
const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** InfluxDB 1.x Store: an in-memory mirror of the books, written through in batches. */
export class InfluxStore implements Store {
  readonly #influx: InfluxDB;
  readonly #database: string;
  readonly #log: InfluxStoreOptions['log'];
  readonly #flushIntervalMs: number;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #maxRaw: number;

  readonly #ledger = new Map<string, LedgerRow>();
  readonly #jobs = new Map<string, JobRow>();
  /** Jobs in listing order, kept sorted on insert so `jobs()` never sorts everything. */
  readonly #sorted: JobRow[] = [];
  /** Jobs running on each node (job_node.running), so a batch finds the jobs that left its map. */
  readonly #runningOn = new Map<string, Set<string>>();
  readonly #nodeHours = new Map<string, Map<number, NodeHourRow>>();
  /** Device + other energy of all nodes per UTC hour, mJ: `clusterEnergyMj` is read every live tick. */
  readonly #clusterHours = new Map<number, number>();
  readonly #nodes = new Map<string, NodeRow>();
  readonly #seriesWindowMs: number;
  /** Mirrored job series rows by bucket start, for the window's eviction and for pruning. */
  readonly #seriesByBucket = new Map<number, SeriesRow[]>();
  /** Newest job series bucket seen, ms. */
  #newestBucket = -Infinity;
  /** Buckets before this are not (or no longer) in the mirror, ms. */
  #seriesCutoff = -Infinity;

  readonly #kinds;
  #raw: IPoint[] = [];
  #deletes: string[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  /** A background write is queued behind the one running (or about to start). */
  #queued = false;
  #timer: NodeJS.Timeout | undefined;
  #backoffMs = 0;
  #closed = false;
  #lastDropWarn = 0;
  #loading = false;
  /** What the writer did so far. */
  readonly stats: InfluxStoreStats = { pointsWritten: 0, writes: 0, writeErrors: 0, droppedPoints: 0 };

  private constructor(influx: InfluxDB, o: InfluxStoreOptions) {
    this.#influx = influx;
    this.#database = o.database;
    this.#log = o.log;
    this.#flushIntervalMs = o.flushIntervalMs ?? 1000;
    this.#batchSize = o.batchSize ?? 5000;
    this.#concurrency = Math.max(1, o.concurrency ?? 2);
    this.#maxRaw = o.maxQueuedRawPoints ?? 1_000_000;
    // Whole buckets, so the window's edge is a bucket edge both here and when loading.
    this.#seriesWindowMs = Math.ceil((o.seriesWindowMs ?? HOUR_MS) / SERIES_BUCKET_MS) * SERIES_BUCKET_MS;
    const kind = <T>(point: (row: T) => IPoint): Kind<T> => ({ dirty: new Set<T>(), point });
    this.#kinds = {
      ledger: kind<LedgerRow>((r) => {
        const fields: Record<string, unknown> = { last_seq: r.lastSeq, last_ts: r.lastTs };
        partFields('counters', r.counters, fields);
        return { measurement: 'ledger', tags: { node: r.node, epoch: r.epoch }, fields, timestamp: KEY_TIME };
      }),
      job: kind<JobRow>((r) => {
        const fields: Record<string, unknown> = { user: r.user, account: r.account, start_ts: r.startTs, end_ts: r.endTs ?? -1, state: r.state };
        // name and partition only ever go from null to a value (coalesce), so leaving the field
        // out while null is safe under InfluxDB's field union.
        if (r.name !== null) fields.name = r.name;
        if (r.partition !== null) fields.partition = r.partition;
        return { measurement: 'job', tags: { job: r.id }, fields, timestamp: KEY_TIME };
      }),
      jobNode: kind<JobNodeRow>((r) => ({
        measurement: 'job_node',
        tags: { job: r.job, node: r.node },
        fields: {
          gpus: r.gpus, running: r.running, end_ts: r.endTs ?? -1, end_notice: r.endNotice, gpu_mj: r.gpuMj, cpu_mj: r.cpuMj, other_mj: r.otherMj, gpu_s: r.gpuS,
          util_s: r.utilS, util_known_s: r.utilKnownS, idle_gpu_s: r.idleS, gpu_uuids: r.gpuUuids,
        },
        timestamp: KEY_TIME,
      })),
      jobHour: kind<JobHourRow>((r) => ({
        measurement: 'job_hour',
        tags: { job: r.job, node: r.node },
        fields: { gpu_mj: r.gpuMj, cpu_mj: r.cpuMj, other_mj: r.otherMj, gpu_s: r.gpuS, util_s: r.utilS, util_known_s: r.utilKnownS, idle_gpu_s: r.idleS },
        timestamp: r.hourTs,
      })),
      nodeHour: kind<NodeHourRow>((r) => ({
        measurement: 'node_hour',
        tags: { node: r.node },
        fields: {
          device_gpu_mj: r.deviceGpuMj, device_cpu_mj: r.deviceCpuMj, other_mj: r.otherMj,
          idle_gpu_mj: r.idleGpuMj, idle_cpu_mj: r.idleCpuMj, idle_other_mj: r.idleOtherMj, jobs_mj: r.jobsMj,
        },
        timestamp: r.hourTs,
      })),
      node: kind<NodeRow>((r) => {
        const fields: Record<string, unknown> = { ts: r.ts };
        partFields('hello', r.hello, fields);
        return { measurement: 'node', tags: { node: r.name }, fields, timestamp: KEY_TIME };
      }),
    };
  }

  /**
   * Connect, create the database and its retention policies (`books` infinite and default,
   * `series` with the configured duration; an existing policy is altered to match), and load
   * the mirror from InfluxDB. Rejects when InfluxDB is unreachable.
   */
  static async open(options: InfluxStoreOptions): Promise<InfluxStore> {
    const seriesDuration = options.retention?.series ?? '30d';
    if (!DURATION.test(seriesDuration)) throw new Error(`retention.series must be an InfluxQL duration such as 30d or INF, not ${JSON.stringify(seriesDuration)}`);
    const url = new URL(options.url);
    const https = url.protocol === 'https:';
    const influx = new InfluxDB({
      host: url.hostname,
      port: url.port === '' ? (https ? 443 : 8086) : Number(url.port),
      protocol: https ? 'https' : 'http',
      ...(url.pathname !== '/' ? { path: url.pathname } : {}),
      ...(url.username !== '' ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : {}),
      database: options.database,
    });
    const db = options.database;
    await influx.createDatabase(db);
    const existing = new Set((await influx.showRetentionPolicies(db)).map((p) => p.name));
    for (const [name, duration, isDefault] of [[BOOKS_RP, 'INF', true], [SERIES_RP, seriesDuration, false]] as const) {
      const rp = { database: db, duration, replication: 1, isDefault };
      if (existing.has(name)) await influx.alterRetentionPolicy(name, rp);
      else await influx.createRetentionPolicy(name, rp);
    }
    const store = new InfluxStore(influx, options);
    await store.#load();
    return store;
  }

  /** The InfluxDB database this store writes to. */
  get database(): string {
    return this.#database;
  }

  /** The job series buckets of the newest seriesWindowMs of data, summed by InfluxDB. */
  async #loadSeriesWindow(): Promise<Array<Record<string, unknown> & { time: Date }>> {
    const opts = { database: this.#database, precision: 'ms' as const };
    const last = await this.#influx.query<Record<string, unknown>>(`SELECT last("energy_mj") FROM "${SERIES_RP}"."job_series"`, opts);
    if (last.length === 0) return [];
    const newest = Math.floor(last[0]!.time.getTime() / SERIES_BUCKET_MS) * SERIES_BUCKET_MS;
    const from = Math.max(0, newest - this.#seriesWindowMs);
    this.#newestBucket = newest;
    this.#seriesCutoff = newest - this.#seriesWindowMs;
    return await this.#influx.query<Record<string, unknown>>(
      `SELECT sum("energy_mj") AS "energy_mj" FROM "${SERIES_RP}"."job_series" WHERE time >= ${from}ms AND time < ${newest + SERIES_BUCKET_MS}ms GROUP BY time(10s), "job", "node" fill(none)`, opts);
  }

  async #select(rp: string, measurement: string): Promise<Array<Record<string, unknown> & { time: Date }>> {
    return await this.#influx.query<Record<string, unknown>>(`SELECT * FROM "${rp}"."${measurement}"`, { database: this.#database, precision: 'ms' });
  }

  /** Fill the mirror from InfluxDB. */
  async #load(): Promise<void> {
    const t0 = Date.now();
    this.#loading = true;
    const [ledger, jobs, jobNodes, jobHours, nodeHours, nodes, series] = await Promise.all([
      this.#select(BOOKS_RP, 'ledger'), this.#select(BOOKS_RP, 'job'), this.#select(BOOKS_RP, 'job_node'),
      this.#select(BOOKS_RP, 'job_hour'), this.#select(BOOKS_RP, 'node_hour'), this.#select(BOOKS_RP, 'node'),
      this.#loadSeriesWindow(),
    ]);
    for (const r of ledger) {
      const row: LedgerRow = { node: String(r.node), epoch: String(r.epoch), lastSeq: num(r.last_seq), lastTs: num(r.last_ts), counters: joinParts('counters', r) };
      this.#ledger.set(row.node + SEP + row.epoch, row);
    }
    for (const r of jobs) {
      this.#insertJob({
        id: String(r.job), user: String(r.user ?? ''), account: String(r.account ?? ''), name: strOrNull(r.name), partition: strOrNull(r.partition),
        startTs: num(r.start_ts), endTs: tsOrNull(r.end_ts), state: r.state === 'running' ? 'running' : 'completed',
        nodes: new Map(), hours: new Map(), series: new Map(),
      });
    }
    const jobOf = (id: string): JobRow => {
      // Rows of a job whose own row never landed (a crash between writes): keep them visible.
      let job = this.#jobs.get(id);
      if (job === undefined) {
        job = { id, user: '', account: '', name: null, partition: null, startTs: 0, endTs: null, state: 'completed', nodes: new Map(), hours: new Map(), series: new Map() };
        this.#insertJob(job);
      }
      return job;
    };
    for (const r of jobNodes) {
      const row: JobNodeRow = {
        job: String(r.job), node: String(r.node), gpus: num(r.gpus), running: r.running === true, endTs: tsOrNull(r.end_ts), endNotice: r.end_notice === true,
        gpuMj: num(r.gpu_mj), cpuMj: num(r.cpu_mj), otherMj: num(r.other_mj), gpuS: num(r.gpu_s),
        utilS: num(r.util_s), utilKnownS: num(r.util_known_s), idleS: num(r.idle_gpu_s), gpuUuids: typeof r.gpu_uuids === 'string' ? r.gpu_uuids : '',
      };
      jobOf(row.job).nodes.set(row.node, row);
      if (row.running) this.#markRunning(row.node, row.job);
    }
    for (const r of jobHours) {
      const row: JobHourRow = {
        job: String(r.job), node: String(r.node), hourTs: r.time.getTime(), gpuMj: num(r.gpu_mj), cpuMj: num(r.cpu_mj), otherMj: num(r.other_mj), gpuS: num(r.gpu_s),
        utilS: num(r.util_s), utilKnownS: num(r.util_known_s), idleS: num(r.idle_gpu_s),
      };
      jobOf(row.job).hours.set(row.node + SEP + row.hourTs, row);
    }
    for (const r of nodeHours) {
      const row: NodeHourRow = {
        node: String(r.node), hourTs: r.time.getTime(),
        deviceGpuMj: num(r.device_gpu_mj), deviceCpuMj: num(r.device_cpu_mj), otherMj: num(r.other_mj),
        idleGpuMj: num(r.idle_gpu_mj), idleCpuMj: num(r.idle_cpu_mj), idleOtherMj: num(r.idle_other_mj), jobsMj: num(r.jobs_mj),
      };
      let hours = this.#nodeHours.get(row.node);
      if (hours === undefined) this.#nodeHours.set(row.node, (hours = new Map()));
      hours.set(row.hourTs, row);
      this.#clusterHours.set(row.hourTs, (this.#clusterHours.get(row.hourTs) ?? 0) + row.deviceGpuMj + row.deviceCpuMj + row.otherMj);
    }
    for (const r of nodes) this.#nodes.set(String(r.node), { name: String(r.node), hello: joinParts('hello', r), ts: num(r.ts) });
    for (const r of series) this.#addSeries(jobOf(String(r.job)), String(r.node), r.time.getTime(), num(r.energy_mj));
    // A crash between two writes can leave a job's own row behind its job-on-node rows: the
    // state follows them, as commit() would have made it.
    for (const job of this.#jobs.values()) {
      const running = this.#anyRunning(job);
      if (running && job.state !== 'running') {
        job.state = 'running';
        job.endTs = null;
        this.#kinds.job.dirty.add(job);
      } else if (!running && job.state === 'running') {
        this.#completeJob(job);
      }
    }
    this.#sorted.sort(jobOrder);
    this.#loading = false;
    this.#schedule();
    this.#log.info({ database: this.#database, jobs: this.#jobs.size, nodes: this.#nodes.size, ledgers: this.#ledger.size, series: series.length, ms: Date.now() - t0 }, 'InfluxStore loaded its books');
  }

  // ---- the mirror ------------------------------------------------------------------------

  #insertJob(job: JobRow): void {
    this.#jobs.set(job.id, job);
    // While loading, append and sort once at the end: a splice per job would be quadratic.
    if (this.#loading) this.#sorted.push(job);
    else this.#sorted.splice(this.#sortedIndex(job), 0, job);
  }

  /** First position whose job sorts at or after `key` in listing order. */
  #sortedIndex(key: { startTs: number; id: string }): number {
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (jobOrder(this.#sorted[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #setStart(job: JobRow, startTs: number): void {
    const at = this.#sortedIndex(job);
    if (this.#sorted[at] === job) this.#sorted.splice(at, 1);
    job.startTs = startTs;
    this.#sorted.splice(this.#sortedIndex(job), 0, job);
  }

  #markRunning(node: string, job: string): void {
    let set = this.#runningOn.get(node);
    if (set === undefined) this.#runningOn.set(node, (set = new Set()));
    set.add(job);
  }

  #closedCheck(): void {
    if (this.#closed) throw new Error('InfluxStore is closed');
  }

  loadLedger(node: string, epoch: string): LedgerState | undefined {
    const row = this.#ledger.get(node + SEP + epoch);
    if (row === undefined) return undefined;
    return { node, epoch, lastSeq: row.lastSeq, lastTs: row.lastTs, counters: JSON.parse(row.counters) as Record<string, number> };
  }

  commit(effects: readonly BatchEffect[]): void {
    this.#closedCheck();
    // Nothing below throws on valid effects, so the mirror takes a commit whole, like the
    // SQLite transaction; the write to InfluxDB follows (see the durability note above).
    for (const e of effects) {
      this.#apply(e);
      this.writeSamples(e.node, e.samples);
    }
    this.#evictSeries();
    this.#schedule();
  }

  /** The rules of EmbeddedStore's #apply, in its order, on the mirror. */
  #apply(e: BatchEffect): void {
    const k = this.#kinds;
    const lkey = e.node + SEP + e.ledger.epoch;
    const counters = JSON.stringify(e.ledger.counters);
    let ledger = this.#ledger.get(lkey);
    if (ledger === undefined) {
      ledger = { node: e.node, epoch: e.ledger.epoch, lastSeq: e.ledger.lastSeq, lastTs: e.ledger.lastTs, counters };
      this.#ledger.set(lkey, ledger);
    } else {
      ledger.lastSeq = e.ledger.lastSeq;
      ledger.lastTs = e.ledger.lastTs;
      ledger.counters = counters;
    }
    k.ledger.dirty.add(ledger);

    const onMap = new Set<string>();
    for (const a of e.jobs) {
      onMap.add(a.id);
      let job = this.#jobs.get(a.id);
      if (job === undefined) {
        job = { id: a.id, user: a.user, account: a.account, name: a.name ?? null, partition: a.partition ?? null, startTs: a.startTs, endTs: null, state: 'running', nodes: new Map(), hours: new Map(), series: new Map() };
        this.#insertJob(job);
        k.job.dirty.add(job);
      } else {
        const name = a.name ?? job.name;
        const partition = a.partition ?? job.partition;
        if (job.user !== a.user || job.account !== a.account || job.name !== name || job.partition !== partition || a.startTs < job.startTs) {
          job.user = a.user;
          job.account = a.account;
          job.name = name;
          job.partition = partition;
          if (a.startTs < job.startTs) this.#setStart(job, a.startTs);
          k.job.dirty.add(job);
        }
      }
      const jn = job.nodes.get(e.node);
      if (jn === undefined) {
        const row: JobNodeRow = { job: a.id, node: e.node, gpus: a.gpus.length, running: true, endTs: null, endNotice: false, gpuMj: 0, cpuMj: 0, otherMj: 0, gpuS: 0, utilS: 0, utilKnownS: 0, idleS: 0, gpuUuids: a.gpus.join(',') };
        job.nodes.set(e.node, row);
        this.#markRunning(e.node, a.id);
        k.jobNode.dirty.add(row);
      } else if (jn.running || jn.endTs === null || (jn.endNotice ? jn.endTs < a.startTs : jn.endTs < e.ts)) {
        // A job that left a node comes back with a batch newer than its end there; after the
        // epilog's end notice only as a new run (a requeue starts again). As EmbeddedStore.
        // A running job's GPUs do not shrink: a map that shows fewer (Slurm's detail of a job
        // about to end) is a reading, not a new allocation. As EmbeddedStore.
        const keep = jn.running && a.gpus.length < jn.gpus;
        const uuids = keep ? jn.gpuUuids : a.gpus.join(',');
        const gpus = keep ? jn.gpus : a.gpus.length;
        if (!jn.running || jn.endTs !== null || jn.gpus !== gpus || jn.gpuUuids !== uuids) {
          jn.gpus = gpus;
          jn.gpuUuids = uuids;
          jn.running = true;
          jn.endTs = null;
          jn.endNotice = false;
          this.#markRunning(e.node, a.id);
          k.jobNode.dirty.add(jn);
        }
      }
      if (job.state !== 'running' && this.#anyRunning(job)) {
        job.state = 'running';
        job.endTs = null;
        k.job.dirty.add(job);
      }
    }

    const hourTs = Math.floor(e.ts / HOUR_MS) * HOUR_MS;
    // A batch's energy goes to the bucket its interval ends in (as in EmbeddedStore).
    const bucketTs = Math.floor(e.ts / SERIES_BUCKET_MS) * SERIES_BUCKET_MS;
    let jobsMj = 0;
    const ids = new Set([...e.jobsMj.keys(), ...e.gpuSeconds.keys()]);
    for (const id of ids) {
      const mj = e.jobsMj.get(id) ?? { gpuMj: 0, cpuMj: 0, otherMj: 0 };
      const gpuS = e.gpuSeconds.get(id) ?? 0;
      const use = e.gpuUse.get(id);
      const jobMj = mj.gpuMj + mj.cpuMj + mj.otherMj;
      jobsMj += jobMj;
      let job = this.#jobs.get(id);
      if (job === undefined) {
        // Energy for a job this collector never saw on a map (its map was lost): keep the
        // energy, and make the job visible rather than dropping it.
        job = { id, user: '', account: '', name: null, partition: null, startTs: e.ts, endTs: e.ts, state: 'completed', nodes: new Map(), hours: new Map(), series: new Map() };
        this.#insertJob(job);
        k.job.dirty.add(job);
      }
      let jn = job.nodes.get(e.node);
      if (jn === undefined) {
        jn = { job: id, node: e.node, gpus: 0, running: false, endTs: e.ts, endNotice: false, gpuMj: 0, cpuMj: 0, otherMj: 0, gpuS: 0, utilS: 0, utilKnownS: 0, idleS: 0, gpuUuids: '' };
        job.nodes.set(e.node, jn);
      }
      jn.gpuMj += mj.gpuMj;
      jn.cpuMj += mj.cpuMj;
      jn.otherMj += mj.otherMj;
      jn.gpuS += gpuS;
      if (use !== undefined) addUse(jn, use);
      k.jobNode.dirty.add(jn);
      const hkey = e.node + SEP + hourTs;
      let hour = job.hours.get(hkey);
      if (hour === undefined) job.hours.set(hkey, (hour = { job: id, node: e.node, hourTs, gpuMj: 0, cpuMj: 0, otherMj: 0, gpuS: 0, utilS: 0, utilKnownS: 0, idleS: 0 }));
      hour.gpuMj += mj.gpuMj;
      hour.cpuMj += mj.cpuMj;
      hour.otherMj += mj.otherMj;
      hour.gpuS += gpuS;
      if (use !== undefined) addUse(hour, use);
      k.jobHour.dirty.add(hour);
      if (jobMj > 0) {
        this.#queueRaw({ measurement: 'job_series', tags: { job: id, node: e.node }, fields: { energy_mj: jobMj }, timestamp: e.ts });
        this.#addSeries(job, e.node, bucketTs, jobMj);
      }
    }

    const running = this.#runningOn.get(e.node);
    if (running !== undefined) {
      for (const id of [...running]) {
        if (onMap.has(id)) continue;
        const job = this.#jobs.get(id)!;
        this.#endOnNode(job, job.nodes.get(e.node)!, e.ts);
      }
    }

    let nh = this.#nodeHours.get(e.node);
    if (nh === undefined) this.#nodeHours.set(e.node, (nh = new Map()));
    let hour = nh.get(hourTs);
    if (hour === undefined) {
      nh.set(hourTs, (hour = { node: e.node, hourTs, deviceGpuMj: 0, deviceCpuMj: 0, otherMj: 0, idleGpuMj: 0, idleCpuMj: 0, idleOtherMj: 0, jobsMj: 0 }));
    }
    hour.deviceGpuMj += e.nodeMj.gpuMj;
    hour.deviceCpuMj += e.nodeMj.cpuMj;
    hour.otherMj += e.nodeMj.otherMj;
    hour.idleGpuMj += e.idleMj.gpuMj;
    hour.idleCpuMj += e.idleMj.cpuMj;
    hour.idleOtherMj += e.idleMj.otherMj;
    hour.jobsMj += jobsMj;
    k.nodeHour.dirty.add(hour);
    const nodeMj = e.nodeMj.gpuMj + e.nodeMj.cpuMj + e.nodeMj.otherMj;
    this.#clusterHours.set(hourTs, (this.#clusterHours.get(hourTs) ?? 0) + nodeMj);
    // Node series are not read through Store, so they have no mirror at all.
    if (nodeMj > 0) this.#queueRaw({ measurement: 'node_series', tags: { node: e.node }, fields: { energy_mj: nodeMj }, timestamp: e.ts });
  }

  #anyRunning(job: JobRow): boolean {
    for (const jn of job.nodes.values()) if (jn.running) return true;
    return false;
  }

  /** The job left `node` at `endTs` (by the end notice, or the map); the job ends when no node runs it any more. */
  #endOnNode(job: JobRow, jn: JobNodeRow, endTs: number, notice = false): void {
    jn.running = false;
    jn.endTs = endTs;
    jn.endNotice = notice;
    this.#runningOn.get(jn.node)?.delete(job.id);
    this.#kinds.jobNode.dirty.add(jn);
    if (!this.#anyRunning(job)) this.#completeJob(job);
  }

  /** No node runs the job any more: it ended at the latest end over its nodes. */
  #completeJob(job: JobRow): void {
    let end: number | null = null;
    for (const r of job.nodes.values()) if (r.endTs !== null && (end === null || r.endTs > end)) end = r.endTs;
    job.state = 'completed';
    job.endTs = end;
    this.#kinds.job.dirty.add(job);
  }

  /** Add a batch's job energy to its bucket in the mirror, when the bucket is within the window. */
  #addSeries(job: JobRow, node: string, bucketTs: number, mj: number): void {
    if (bucketTs > this.#newestBucket) this.#newestBucket = bucketTs;
    if (bucketTs < this.#newestBucket - this.#seriesWindowMs) return;
    const key = node + SEP + bucketTs;
    let row = job.series.get(key);
    if (row === undefined) {
      job.series.set(key, (row = { job, node, bucketTs, energyMj: 0 }));
      let rows = this.#seriesByBucket.get(bucketTs);
      if (rows === undefined) this.#seriesByBucket.set(bucketTs, (rows = []));
      rows.push(row);
    }
    row.energyMj += mj;
  }

  /** Drop mirrored buckets that fell out of the window (at most once per new bucket). */
  #evictSeries(): void {
    const cutoff = this.#newestBucket - this.#seriesWindowMs;
    if (!(cutoff > this.#seriesCutoff)) return;
    this.#seriesCutoff = cutoff;
    this.#dropBuckets(cutoff);
  }

  /** Remove mirrored job series buckets that start before `beforeTs`; returns how many. */
  #dropBuckets(beforeTs: number): number {
    let removed = 0;
    for (const [bucketTs, rows] of this.#seriesByBucket) {
      if (bucketTs >= beforeTs) continue;
      for (const r of rows) r.job.series.delete(r.node + SEP + bucketTs);
      removed += rows.length;
      this.#seriesByBucket.delete(bucketTs);
    }
    return removed;
  }

  endJob(id: string, node: string, endTs: number): boolean {
    this.#closedCheck();
    const job = this.#jobs.get(id);
    const jn = job?.nodes.get(node);
    if (job === undefined || jn === undefined) return false;
    // Already ended by the node's own job map: the notice is a repeat, not an error.
    if (!jn.running) return true;
    this.#endOnNode(job, jn, endTs, true);
    this.#schedule();
    return true;
  }

  #record(job: JobRow): JobRecord {
    const nodes = [...job.nodes.keys()].sort(compareCodePoints);
    let gpus = 0;
    let gpuMj = 0;
    let cpuMj = 0;
    let otherMj = 0;
    let gpuSeconds = 0;
    const gpuUse = { utilS: 0, utilKnownS: 0, idleS: 0 };
    for (const r of job.nodes.values()) {
      gpus += r.gpus;
      gpuMj += r.gpuMj;
      cpuMj += r.cpuMj;
      otherMj += r.otherMj;
      gpuSeconds += r.gpuS;
      addUse(gpuUse, r);
    }
    return {
      id: job.id, user: job.user, account: job.account, name: job.name, partition: job.partition, state: job.state,
      startTs: job.startTs, endTs: job.endTs, nodes, gpus, energyMj: { gpuMj, cpuMj, otherMj }, gpuSeconds, gpuUse,
    };
  }

  job(id: string): JobRecord | undefined {
    const job = this.#jobs.get(id);
    return job === undefined ? undefined : this.#record(job);
  }

  /** From the mirror: buckets within the newest `seriesWindowMs` of data (see `queryJobSeries`). */
  jobSeries(id: string, fromTs: number, toTs: number): SeriesPoint[] {
    const job = this.#jobs.get(id);
    if (job === undefined) return [];
    const out: SeriesPoint[] = [];
    for (const s of job.series.values()) if (s.bucketTs >= fromTs && s.bucketTs < toTs) out.push({ node: s.node, bucketTs: s.bucketTs, energyMj: s.energyMj });
    return out.sort((a, b) => a.bucketTs - b.bucketTs || compareCodePoints(a.node, b.node));
  }

  /**
   * A job's energy per node in 10 s buckets starting in [fromTs, toTs), mJ, from InfluxDB over
   * the whole series retention (what `jobSeries` gives within the mirror's window). Writes
   * what is pending first, so it includes everything committed; rejects when InfluxDB does.
   */
  async queryJobSeries(id: string, fromTs: number, toTs: number): Promise<SeriesPoint[]> {
    await this.flush();
    // Bucket b starts in [fromTs, toTs) exactly when its batches' times are in [edge(fromTs), edge(toTs)).
    const edge = (ms: number): number => Math.min(MAX_INFLUX_MS, Math.ceil(Math.max(ms, 0) / SERIES_BUCKET_MS) * SERIES_BUCKET_MS);
    const from = edge(fromTs);
    const to = edge(toTs);
    if (!(from < to)) return [];
    const rows = await this.#influx.query<{ node: string; energy_mj: number }>(
      `SELECT sum("energy_mj") AS "energy_mj" FROM "${SERIES_RP}"."job_series" WHERE "job" = ${escape.stringLit(id)} AND time >= ${from}ms AND time < ${to}ms GROUP BY time(10s), "node" fill(none)`,
      { database: this.#database, precision: 'ms' });
    return rows
      .map((r) => ({ node: r.node, bucketTs: r.time.getTime(), energyMj: r.energy_mj }))
      .sort((a, b) => a.bucketTs - b.bucketTs || compareCodePoints(a.node, b.node));
  }

  /**
   * Drop series older than `beforeTs` from the mirror at once, and from InfluxDB with a DELETE
   * queued behind the writes already under way (the `series` RP expires them anyway). Returns
   * the job series buckets removed from the mirror; node and raw series are not counted.
   */
  pruneSeries(beforeTs: number): number {
    this.#closedCheck();
    const removed = this.#dropBuckets(beforeTs);
    // Energy series points sit at their batch time; EmbeddedStore drops the 10 s buckets that
    // start before beforeTs, i.e. every batch time before the next bucket edge.
    const bucketEdge = Math.ceil(beforeTs / SERIES_BUCKET_MS) * SERIES_BUCKET_MS;
    this.#raw = this.#raw.filter((p) => Number(p.timestamp) >= (p.measurement === 'gpu' ? beforeTs : bucketEdge));
    // InfluxDB times are int64 ns (up to year 2262): clamp "everything" to a time it can parse.
    const t = (ms: number): string => `${Math.trunc(Math.min(ms, MAX_INFLUX_MS))}ms`;
    this.#deletes.push(
      `DELETE FROM "job_series" WHERE time < ${t(bucketEdge)}`,
      `DELETE FROM "node_series" WHERE time < ${t(bucketEdge)}`,
      `DELETE FROM "gpu" WHERE time < ${t(beforeTs)}`,
    );
    this.#schedule();
    return removed;
  }

  /**
   * InfluxDB keeps the raw series at full rate for the `series` retention policy and rolls
   * them up at query time (`GROUP BY time(...)`): there are no stored roll-ups to prune.
   */
  pruneRollups(_beforeTs: number): number {
    this.#closedCheck();
    return 0;
  }

  /**
   * A node's per-GPU gauges in 10 s buckets from the raw `gpu` points (sums and counts, so
   * they merge like the SQLite store's). Writes what is pending first.
   */
  async gpuSeries(node: string, fromTs: number, toTs: number): Promise<GpuBucket[]> {
    await this.flush();
    const from = Math.max(0, Math.ceil(fromTs / SERIES_BUCKET_MS) * SERIES_BUCKET_MS);
    const to = Math.min(MAX_INFLUX_MS, Math.ceil(toTs / SERIES_BUCKET_MS) * SERIES_BUCKET_MS);
    if (!(from < to)) return [];
    const rows = await this.#influx.query<{ gpu: string; ps: number | null; pn: number | null; us: number | null; un: number | null; t: number | null }>(
      `SELECT sum("power_w") AS "ps", count("power_w") AS "pn", sum("util_ratio") AS "us", count("util_ratio") AS "un", max("temp_c") AS "t"
       FROM "${SERIES_RP}"."gpu" WHERE "node" = ${escape.stringLit(node)} AND time >= ${from}ms AND time < ${to}ms GROUP BY time(10s), "gpu" fill(none)`,
      { database: this.#database, precision: 'ms' });
    const buckets = new Map<number, GpuBucket>();
    for (const r of rows) {
      const ts = r.time.getTime();
      let b = buckets.get(ts);
      if (b === undefined) buckets.set(ts, (b = { node, bucketTs: ts, bucketMs: SERIES_BUCKET_MS, uuids: [], powerSumW: [], powerN: [], utilSum: [], utilN: [], tempMaxC: [] }));
      b.uuids.push(r.gpu);
      b.powerSumW.push(r.ps ?? 0);
      b.powerN.push(r.pn ?? 0);
      b.utilSum.push(r.us ?? 0);
      b.utilN.push(r.un ?? 0);
      b.tempMaxC.push(r.t ?? null);
    }
    return [...buckets.values()].sort((a, b) => a.bucketTs - b.bucketTs);
  }

  jobGpus(id: string): Map<string, string[]> {
    const job = this.#jobs.get(id);
    if (job === undefined) return new Map();
    return new Map([...job.nodes.values()].sort((a, b) => compareCodePoints(a.node, b.node)).map((r) => [r.node, r.gpuUuids === '' ? [] : r.gpuUuids.split(',')]));
  }

  putNode(hello: Hello): void {
    this.#closedCheck();
    let row = this.#nodes.get(hello.node);
    if (row === undefined) this.#nodes.set(hello.node, (row = { name: hello.node, hello: '', ts: 0 }));
    row.hello = JSON.stringify(hello);
    row.ts = hello.ts;
    this.#kinds.node.dirty.add(row);
    this.#schedule();
  }

  nodes(): Map<string, Hello> {
    const names = [...this.#nodes.keys()].sort(compareCodePoints);
    return new Map(names.map((n) => [n, JSON.parse(this.#nodes.get(n)!.hello) as Hello]));
  }

  jobHours(id: string): JobHour[] {
    const job = this.#jobs.get(id);
    if (job === undefined) return [];
    return [...job.hours.values()]
      .sort((a, b) => a.hourTs - b.hourTs || compareCodePoints(a.node, b.node))
      .map((h) => ({
        node: h.node, hourTs: h.hourTs, energyMj: { gpuMj: h.gpuMj, cpuMj: h.cpuMj, otherMj: h.otherMj }, gpuSeconds: h.gpuS,
        gpuUse: { utilS: h.utilS, utilKnownS: h.utilKnownS, idleS: h.idleS },
      }));
  }

  jobs(query: JobQuery): JobRecord[] {
    const limitQ = query.limit ?? 100;
    // SQLite reads a negative LIMIT as "no limit".
    const limit = limitQ < 0 ? Infinity : limitQ;
    const out: JobRecord[] = [];
    if (limit === 0) return out;
    let i = 0;
    // Listing order is start_ts DESC, so both `after` and `toTs` are a starting position.
    if (query.after !== undefined) {
      const a = query.after;
      i = this.#sortedIndex(a);
      if (i < this.#sorted.length && this.#sorted[i]!.startTs === a.startTs && this.#sorted[i]!.id === a.id) i++;
    }
    if (query.toTs !== undefined) i = Math.max(i, this.#sortedIndex({ startTs: query.toTs, id: '' }));
    for (; i < this.#sorted.length && out.length < limit; i++) {
      const j = this.#sorted[i]!;
      if (query.toTs !== undefined && !(j.startTs < query.toTs)) continue;
      if (query.state !== undefined && j.state !== query.state) continue;
      if (query.user !== undefined && j.user !== query.user) continue;
      if (query.account !== undefined && j.account !== query.account) continue;
      if (query.fromTs !== undefined && j.endTs !== null && j.endTs < query.fromTs) continue;
      out.push(this.#record(j));
    }
    return out;
  }

  jobEnergy(ids: readonly string[]): Map<string, SplitMj> {
    const out = new Map<string, SplitMj>();
    for (const id of [...new Set(ids)].sort(compareCodePoints)) {
      const job = this.#jobs.get(id);
      if (job === undefined || job.nodes.size === 0) continue;
      const e = { gpuMj: 0, cpuMj: 0, otherMj: 0 };
      for (const r of job.nodes.values()) {
        e.gpuMj += r.gpuMj;
        e.cpuMj += r.cpuMj;
        e.otherMj += r.otherMj;
      }
      out.set(id, e);
    }
    return out;
  }

  clusterEnergyMj(fromTs: number, toTs: number): number {
    let mj = 0;
    for (const [hourTs, v] of this.#clusterHours) if (hourTs >= fromTs && hourTs < toTs) mj += v;
    return mj;
  }

  nodeBalance(fromTs: number, toTs: number): NodeBalance[] {
    const out: NodeBalance[] = [];
    for (const node of [...this.#nodeHours.keys()].sort(compareCodePoints)) {
      let any = false;
      let deviceMj = 0;
      let otherMj = 0;
      let jobsMj = 0;
      let idleMj = 0;
      for (const h of this.#nodeHours.get(node)!.values()) {
        if (h.hourTs < fromTs || h.hourTs >= toTs) continue;
        any = true;
        deviceMj += h.deviceGpuMj + h.deviceCpuMj + h.otherMj;
        otherMj += h.otherMj;
        jobsMj += h.jobsMj;
        idleMj += h.idleGpuMj + h.idleCpuMj + h.idleOtherMj;
      }
      if (any) out.push({ node, deviceMj, otherMj, jobsMj, idleMj });
    }
    return out;
  }
  /** From the mirror, with EmbeddedStore's grouping and order (group, GPU model in byte order). */
  energyReport(by: ReportGroupBy, fromTs: number, toTs: number): EnergyReportData {
    const models = new Map<string, string>();
    for (const [name, row] of this.#nodes) models.set(name, (JSON.parse(row.hello) as Hello).inventory.gpus[0]?.name ?? 'unknown');
    const sums = new Map<string, { -readonly [K in keyof ReportHour]: ReportHour[K] } & { energyMj: SplitMj }>();
    for (const job of this.#jobs.values()) {
      for (const h of job.hours.values()) {
        if (h.hourTs < fromTs || h.hourTs >= toTs) continue;
        const group = by === 'account' ? job.account : by === 'user' ? job.user : by === 'partition' ? (job.partition ?? '') : by === 'job' ? job.id : h.node;
        const gpuModel = models.get(h.node) ?? 'unknown';
        const key = `${group}\u0000${h.hourTs}\u0000${gpuModel}`;
        let r = sums.get(key);
        if (r === undefined) {
          r = { group, hourTs: h.hourTs, gpuModel, energyMj: { gpuMj: 0, cpuMj: 0, otherMj: 0 }, gpuSeconds: 0, utilSeconds: 0, utilKnownSeconds: 0, idleGpuSeconds: 0 };
          sums.set(key, r);
        }
        r.energyMj.gpuMj += h.gpuMj;
        r.energyMj.cpuMj += h.cpuMj;
        r.energyMj.otherMj += h.otherMj;
        r.gpuSeconds += h.gpuS;
        r.utilSeconds += h.utilS;
        r.utilKnownSeconds += h.utilKnownS;
        r.idleGpuSeconds += h.idleS;
      }
    }
    const slices = sliceReportHours(sums.values());
    const idle = new Map<number, SplitMj>();
    const firstSeen = new Map<string, number>();
    const runs = new Map<string, Array<{ fromTs: number; toTs: number }>>();
    for (const [node, byHour] of this.#nodeHours) {
      const inPeriod: number[] = [];
      let first = Infinity;
      for (const h of byHour.values()) {
        first = Math.min(first, h.hourTs);
        if (h.hourTs < fromTs || h.hourTs >= toTs) continue;
        inPeriod.push(h.hourTs);
        const e = idle.get(h.hourTs) ?? { gpuMj: 0, cpuMj: 0, otherMj: 0 };
        e.gpuMj += h.idleGpuMj;
        e.cpuMj += h.idleCpuMj;
        e.otherMj += h.idleOtherMj;
        idle.set(h.hourTs, e);
      }
      if (first !== Infinity) firstSeen.set(node, first);
      const list: Array<{ fromTs: number; toTs: number }> = [];
      for (const hourTs of inPeriod.sort((a, b) => a - b)) {
        const last = list[list.length - 1];
        if (last !== undefined && last.toTs === hourTs) last.toTs = hourTs + HOUR_MS;
        else list.push({ fromTs: hourTs, toTs: hourTs + HOUR_MS });
      }
      if (list.length > 0) runs.set(node, list);
    }
    for (const [name, row] of this.#nodes) {
      const helloHour = Math.floor(row.ts / HOUR_MS) * HOUR_MS;
      firstSeen.set(name, Math.min(firstSeen.get(name) ?? helloHour, helloHour));
    }
    const unallocated = [...idle].sort((a, b) => a[0] - b[0]).map(([hourTs, energyMj]) => ({ hourTs, energyMj }));
    const nodes: NodeCoverage[] = [...firstSeen.keys()].sort().map((node) => ({ node, firstSeenTs: firstSeen.get(node) ?? null, measured: runs.get(node) ?? [] }));
    return { slices, unallocated, nodes };
  }


  // ---- raw series ------------------------------------------------------------------------

  /**
   * Queue one batch's raw GPU samples as `gpu` points (tags node and GPU UUID only, never job
   * ids; fields as the agent sent them, W, °C, ratio 0..1, bytes, MHz) at full rate into the
   * `series` RP. `commit()` calls it with each effect's samples. Returns the points queued.
   */
  writeSamples(node: string, samples: readonly Sample[]): number {
    this.#closedCheck();
    let n = 0;
    for (const s of samples) {
      for (const g of s.gpus) {
        const fields: Record<string, number> = {};
        let any = false;
        for (const [key, v] of [['power_w', g.powerW], ['temp_c', g.tempC], ['mem_temp_c', g.memTempC], ['util_ratio', g.utilRatio], ['mem_used_bytes', g.memUsedBytes], ['sm_clock_mhz', g.smClockMHz]] as const) {
          if (v !== undefined && Number.isFinite(v)) {
            fields[key] = v;
            any = true;
          }
        }
        if (!any) continue;
        if (this.#queueRaw({ measurement: 'gpu', tags: { node, gpu: g.uuid }, fields, timestamp: s.ts })) n++;
      }
    }
    this.#schedule();
    return n;
  }

  #queueRaw(p: IPoint): boolean {
    if (this.#raw.length >= this.#maxRaw) {
      this.stats.droppedPoints++;
      const now = Date.now();
      if (now - this.#lastDropWarn > 10_000) {
        this.#lastDropWarn = now;
        this.#log.warn({ queued: this.#raw.length, dropped: this.stats.droppedPoints }, 'InfluxStore raw series queue full: dropping raw points (InfluxDB slow or down?)');
      }
      return false;
    }
    this.#raw.push(p);
    return true;
  }

  // ---- the writer ------------------------------------------------------------------------

  /** Points waiting to be written (dirty book rows + raw points). */
  get pending(): number {
    let n = this.#raw.length;
    for (const k of Object.values(this.#kinds)) n += k.dirty.size;
    return n;
  }

  /** Start a write soon: at once when a full write's worth waits, else after flushIntervalMs. */
  #schedule(): void {
    if (this.#closed) return;
    if (!this.#queued && this.#backoffMs === 0 && this.pending >= this.#batchSize * this.#concurrency) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      void this.#background();
      return;
    }
    if (this.#timer !== undefined || this.#queued) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#background();
    }, Math.min(MAX_TIMER_MS, this.#backoffMs > 0 ? this.#backoffMs : this.#flushIntervalMs));
    // The timer must not keep a process alive; close() starts the last write itself.
    this.#timer.unref();
  }

  async #background(): Promise<void> {
    this.#queued = true;
    const r = await this.#cycle();
    if (r.failed > 0) {
      this.#backoffMs = Math.min(30_000, Math.max(1000, this.#backoffMs * 2));
      this.#log.error({ err: r.error, failedWrites: r.failed, retryInMs: this.#backoffMs, pending: this.pending }, 'InfluxStore write failed; books kept in memory, retrying');
    } else {
      this.#backoffMs = 0;
    }
    if (this.pending > 0 || this.#deletes.length > 0) this.#schedule();
  }

  /** One write of everything dirty now, after the write before it (one flush at a time). */
  #cycle(): Promise<CycleResult> {
    // #writeOnce does not throw on InfluxDB errors; anything else is reported like one.
    const run = this.#chain.then(() => this.#writeOnce()).catch((err: unknown): CycleResult => ({ failed: 1, error: err instanceof Error ? err : new Error(String(err)) }));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #writeOnce(): Promise<CycleResult> {
    this.#queued = false;
    let failed = 0;
    let error: Error | undefined;
    // Deletes first: a bucket re-created by a late batch after the prune must survive it.
    const deletes = this.#deletes;
    this.#deletes = [];
    for (let i = 0; i < deletes.length; i++) {
      try {
        await this.#influx.query(deletes[i]!, { database: this.#database, method: 'POST' });
      } catch (err) {
        this.#deletes.unshift(...deletes.slice(i));
        return { failed: 1, error: err as Error };
      }
    }
    const chunks = this.#takeChunks();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        try {
          await this.#influx.writePoints(chunk.points, { database: this.#database, retentionPolicy: chunk.rp, precision: 'ms' });
          this.stats.writes++;
          this.stats.pointsWritten += chunk.points.length;
        } catch (err) {
          const e = err as Error & { res?: { statusCode?: number } };
          // A partial write stored the other points; its refused ones (beyond the retention,
          // field type conflict) would be refused again, so they are dropped, not retried.
          if (e.res?.statusCode === 400 && /partial write|unable to parse/.test(e.message)) {
            const dropped = Number(/dropped=(\d+)/.exec(e.message)?.[1] ?? chunk.points.length);
            this.stats.writes++;
            this.stats.droppedPoints += dropped;
            this.stats.pointsWritten += chunk.points.length - dropped;
            this.#log.warn({ err: e.message, dropped }, 'InfluxDB refused points');
            continue;
          }
          this.stats.writeErrors++;
          failed++;
          error = e;
          this.#requeue(chunk);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, chunks.length) }, worker));
    return error === undefined ? { failed } : { failed, error };
  }

  /**
   * Everything dirty, as HTTP writes of about batchSize points; clears it. A node's ledger
   * state and energy rows always share one write (see the durability note above), so a write
   * can exceed batchSize by one node's rows.
   */
  #takeChunks(): Chunk[] {
    const chunks: Chunk[] = [];
    let open: Chunk | undefined;
    const chunkFor = (rp: string, adding: number): Chunk => {
      if (open === undefined || open.rp !== rp || (open.points.length > 0 && open.points.length + adding > this.#batchSize)) {
        open = { rp, points: [], rows: new Map(), raw: [] };
        chunks.push(open);
      }
      return open;
    };
    const put = (c: Chunk, kind: Kind<unknown>, row: unknown): void => {
      let rows = c.rows.get(kind);
      if (rows === undefined) c.rows.set(kind, (rows = []));
      rows.push(row);
      c.points.push(kind.point(row));
    };
    const { ledger, jobNode, jobHour, nodeHour, job, node } = this.#kinds;
    // Books per node: every dirty row that carries a node's energy or its ledger state.
    const byNode = new Map<string, Array<[Kind<unknown>, unknown]>>();
    for (const kind of [ledger, nodeHour, jobNode, jobHour] as Array<Kind<{ readonly node: string }>>) {
      for (const row of kind.dirty) {
        let group = byNode.get(row.node);
        if (group === undefined) byNode.set(row.node, (group = []));
        group.push([kind as Kind<unknown>, row]);
      }
      kind.dirty.clear();
    }
    for (const group of byNode.values()) {
      const c = chunkFor(BOOKS_RP, group.length);
      for (const [kind, row] of group) put(c, kind, row);
    }
    // Rows without energy: job states and Hellos.
    for (const kind of [job, node] as Array<Kind<unknown>>) {
      for (const row of kind.dirty) put(chunkFor(BOOKS_RP, 1), kind, row);
      kind.dirty.clear();
    }
    const raw = this.#raw;
    this.#raw = [];
    for (let i = 0; i < raw.length;) {
      const c = chunkFor(SERIES_RP, 1);
      const take = raw.slice(i, i + (this.#batchSize - c.points.length));
      c.points.push(...take);
      c.raw.push(...take);
      i += take.length;
    }
    return chunks;
  }

  /** A failed write's rows are dirty again (their newest state goes next time); raw points go back in line. */
  #requeue(chunk: Chunk): void {
    for (const [kind, rows] of chunk.rows) for (const row of rows) kind.dirty.add(row);
    for (const p of chunk.raw) this.#queueRaw(p);
  }

  /**
   * Write everything committed before this call to InfluxDB; resolves once InfluxDB has it
   * (the durable point), rejects when a write failed (the rows stay queued and are retried).
   */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const r = await this.#cycle();
    if (r.failed === 0) this.#backoffMs = 0;
    if (this.pending > 0 || this.#deletes.length > 0) this.#schedule();
    if (r.failed > 0) throw new Error(`InfluxStore flush: ${r.failed} write(s) failed: ${r.error?.message ?? 'unknown error'}`);
  }

  /** Drop a database (for tests and tools); the store does not call it. */
  static async dropDatabase(url: string, database: string): Promise<void> {
    const u = new URL(url);
    const influx = new InfluxDB({ host: u.hostname, port: u.port === '' ? 8086 : Number(u.port), protocol: u.protocol === 'https:' ? 'https' : 'http' });
    await influx.dropDatabase(database);
  }

  /**
   * Stop taking changes and start the last write (its pending HTTP request keeps the process
   * alive until it lands). `await flush()` first to know that it did.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.pending === 0 && this.#deletes.length === 0) return;
    void this.#cycle().then((r) => {
      if (r.failed > 0) this.#log.error({ err: r.error, pending: this.pending }, 'InfluxStore: last write at close failed; unwritten books are lost');
    });
  }
}
