/**
 * The embedded store: SQLite (better-sqlite3) in WAL mode under the data directory. Is: the
 * books (ledger state, jobs, per-job and per-node-hour energy), durable across `kill -9`
 * because a batch is acked only after its transaction commits; and the series charts need:
 * 10 s buckets of job, node and per-GPU figures for a retention, then 1-minute roll-ups.
 * Is not: a store of every raw sample (InfluxDB keeps those at full rate).
 */
import Database from 'better-sqlite3';
import type { Hello } from '@stroom/protocol';
import type { Logger } from 'pino';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { addSample, decodeGpuBucket, emptyGpuBucket, encodeGpuBucket, mergeGpuBucket } from './gpu-buckets.js';
import type { GpuBucket } from './gpu-buckets.js';
import { NO_GROUPS, ROLLUP_SCHEMA, ReportRollups } from './report-rollups.js';
import type { JobGroups, RollupKind } from './report-rollups.js';
import type { BatchEffect, JobHour, JobQuery, JobRecord, LedgerState, NodeBalance, SeriesPoint, SplitMj, Store } from './store.js';
import type { EnergyReportData, NodeCoverage, ReportGroupBy, ReportSlice } from './store.js';
import { sliceReportHours } from './report-slices.js';

const HOUR_MS = 3_600_000;
const NO_USE = { utilS: 0, utilKnownS: 0, idleS: 0 } as const;
/** Resolution of the stored energy series, ms: charts ask for this or coarser steps. */
export const SERIES_BUCKET_MS = 10_000;
/** Schema version in `PRAGMA user_version`; `#migrate` brings older data directories up. */
const SCHEMA_VERSION = 5;
/** Width of the roll-up buckets the raw series become after their retention, ms. */
export const ROLLUP_BUCKET_MS = 60_000;

/** The series tables: raw 10 s buckets (`suffix` '') and their 1-minute roll-ups ('_1m') have one shape. */
const seriesTables = (suffix: string): string => `
CREATE TABLE IF NOT EXISTS job_series${suffix} (
  job_id TEXT NOT NULL, node TEXT NOT NULL, bucket_ts INTEGER NOT NULL, energy_mj INTEGER NOT NULL,
  PRIMARY KEY (job_id, node, bucket_ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS node_series${suffix} (
  node TEXT NOT NULL, bucket_ts INTEGER NOT NULL, energy_mj INTEGER NOT NULL,
  PRIMARY KEY (node, bucket_ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS node_series${suffix}_bucket ON node_series${suffix} (bucket_ts);
CREATE TABLE IF NOT EXISTS gpu_series${suffix} (
  node TEXT NOT NULL, bucket_ts INTEGER NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (node, bucket_ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gpu_series${suffix}_bucket ON gpu_series${suffix} (bucket_ts);
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ledger (
  node TEXT NOT NULL, epoch TEXT NOT NULL, last_seq INTEGER NOT NULL, last_ts INTEGER NOT NULL,
  counters TEXT NOT NULL, PRIMARY KEY (node, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, user TEXT NOT NULL, account TEXT NOT NULL, name TEXT, partition TEXT,
  start_ts INTEGER NOT NULL, end_ts INTEGER, state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, start_ts);
CREATE TABLE IF NOT EXISTS job_nodes (
  job_id TEXT NOT NULL, node TEXT NOT NULL, gpus INTEGER NOT NULL DEFAULT 0,
  running INTEGER NOT NULL, end_ts INTEGER,
  gpu_mj INTEGER NOT NULL DEFAULT 0, cpu_mj INTEGER NOT NULL DEFAULT 0,
  other_mj INTEGER NOT NULL DEFAULT 0, gpu_s REAL NOT NULL DEFAULT 0,
  util_s REAL NOT NULL DEFAULT 0, util_known_s REAL NOT NULL DEFAULT 0, idle_gpu_s REAL NOT NULL DEFAULT 0,
  gpu_uuids TEXT, end_notice INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, node)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_hours (
  job_id TEXT NOT NULL, node TEXT NOT NULL, hour_ts INTEGER NOT NULL,
  gpu_mj INTEGER NOT NULL DEFAULT 0, cpu_mj INTEGER NOT NULL DEFAULT 0, other_mj INTEGER NOT NULL DEFAULT 0,
  gpu_s REAL NOT NULL DEFAULT 0,
  util_s REAL NOT NULL DEFAULT 0, util_known_s REAL NOT NULL DEFAULT 0, idle_gpu_s REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, node, hour_ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS job_nodes_running ON job_nodes (node, running);
CREATE TABLE IF NOT EXISTS node_hours (
  node TEXT NOT NULL, hour_ts INTEGER NOT NULL,
  device_gpu_mj INTEGER NOT NULL DEFAULT 0, device_cpu_mj INTEGER NOT NULL DEFAULT 0,
  idle_gpu_mj INTEGER NOT NULL DEFAULT 0, idle_cpu_mj INTEGER NOT NULL DEFAULT 0,
  jobs_mj INTEGER NOT NULL DEFAULT 0,
  other_mj INTEGER NOT NULL DEFAULT 0, idle_other_mj INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (node, hour_ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS node_hours_hour ON node_hours (hour_ts);
CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, hello TEXT NOT NULL, ts INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS node_models (
  node TEXT NOT NULL, from_ts INTEGER NOT NULL, gpu_model TEXT NOT NULL, PRIMARY KEY (node, from_ts)
) WITHOUT ROWID;
${seriesTables('')}${seriesTables('_1m')}${ROLLUP_SCHEMA}`;

interface JobRow {
  id: string;
  user: string;
  account: string;
  name: string | null;
  partition: string | null;
  start_ts: number;
  end_ts: number | null;
  state: 'running' | 'completed';
  nodes: string | null;
  gpus: number | null;
  gpu_mj: number | null;
  cpu_mj: number | null;
  other_mj: number | null;
  gpu_s: number | null;
  util_s: number | null;
  util_known_s: number | null;
  idle_gpu_s: number | null;
}

/** One group-hour, as reports by job and node read them from job_hours. */
interface GroupHourRow {
  grp: string; hour_ts: number; gpu_model: string; gpu_mj: number; cpu_mj: number; other_mj: number;
  gpu_s: number; util_s: number; util_known_s: number; idle_gpu_s: number;
}

const JOB_SELECT = `
SELECT j.id, j.user, j.account, j.name, j.partition, j.start_ts, j.end_ts, j.state,
  (SELECT group_concat(node, char(31)) FROM (SELECT node FROM job_nodes WHERE job_id = j.id ORDER BY node)) AS nodes,
  (SELECT sum(gpus) FROM job_nodes WHERE job_id = j.id) AS gpus,
  (SELECT sum(gpu_mj) FROM job_nodes WHERE job_id = j.id) AS gpu_mj,
  (SELECT sum(cpu_mj) FROM job_nodes WHERE job_id = j.id) AS cpu_mj,
  (SELECT sum(other_mj) FROM job_nodes WHERE job_id = j.id) AS other_mj,
  (SELECT sum(gpu_s) FROM job_nodes WHERE job_id = j.id) AS gpu_s,
  (SELECT sum(util_s) FROM job_nodes WHERE job_id = j.id) AS util_s,
  (SELECT sum(util_known_s) FROM job_nodes WHERE job_id = j.id) AS util_known_s,
  (SELECT sum(idle_gpu_s) FROM job_nodes WHERE job_id = j.id) AS idle_gpu_s
FROM jobs j`;

/** The GPU model a node's energy is reported under: its first GPU's name. */
function gpuModelOf(hello: Hello): string {
  return hello.inventory.gpus[0]?.name ?? 'unknown';
}

function toJob(row: JobRow): JobRecord {
  return {
    id: row.id,
    user: row.user,
    account: row.account,
    name: row.name,
    partition: row.partition,
    state: row.state,
    startTs: row.start_ts,
    endTs: row.end_ts,
    nodes: row.nodes === null ? [] : row.nodes.split('\u001f'),
    gpus: row.gpus ?? 0,
    energyMj: { gpuMj: row.gpu_mj ?? 0, cpuMj: row.cpu_mj ?? 0, otherMj: row.other_mj ?? 0 },
    gpuSeconds: row.gpu_s ?? 0,
    gpuUse: { utilS: row.util_s ?? 0, utilKnownS: row.util_known_s ?? 0, idleS: row.idle_gpu_s ?? 0 },
  };
}

/** SQLite-backed Store. */
export class EmbeddedStore implements Store {
  readonly #db: Database.Database;
  readonly #stmt;
  /** Each node's last committed job map (signature): unchanged maps write no job rows. */
  readonly #nodeMaps = new Map<string, string>();
  /** Groups of jobs known to have a row (so energy needs no placeholder insert), as committed. */
  readonly #jobGroups = new Map<string, JobGroups>();
  /**
   * Each node's GPU model over time (first GPU of its Hellos; from the start of the hour of the
   * Hello that changed it), oldest first: report roll-ups keep energy under the model a node had
   * in that hour, and a move finds it there again.
   */
  readonly #models = new Map<string, Array<{ fromTs: number; model: string }>>();
  readonly #rollups: ReportRollups;
  /** Report statements by group kind, prepared on first use. */
  readonly #reportStmts = new Map<'job' | 'node', Database.Statement<[number, number], GroupHourRow>>();
  /** Each node's GPU gauge bucket being filled (see `#addGauges`). */
  readonly #openGpu = new Map<string, GpuBucket>();

  /**
   * Open (and create) `stroom.db` in `dataDir`; `:memory:` for a throwaway store. `log` hears
   * of a long upgrade (building report roll-ups from years of books takes minutes).
   */
  constructor(dataDir: string, o: { readonly log?: Pick<Logger, 'info'> } = {}) {
    let file = ':memory:';
    if (dataDir !== ':memory:') {
      mkdirSync(dataDir, { recursive: true });
      file = join(dataDir, 'stroom.db');
    }
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash (kill -9); only power loss can drop the
    // last transactions, and the agents resend whatever was not acked.
    this.#db.pragma('synchronous = NORMAL');
    const version = this.#migrate();
    this.#db.exec(SCHEMA);
    const db = this.#db;
    // A node from before model histories were kept has had its latest model all along.
    db.exec(`INSERT INTO node_models (node, from_ts, gpu_model)
      SELECT name, 0, coalesce(json_extract(hello, '$.inventory.gpus[0].name'), 'unknown') FROM nodes WHERE name NOT IN (SELECT node FROM node_models)`);
    for (const r of db.prepare<[], { node: string; from_ts: number; gpu_model: string }>('SELECT node, from_ts, gpu_model FROM node_models ORDER BY node, from_ts').all()) {
      const list = this.#models.get(r.node);
      if (list === undefined) this.#models.set(r.node, [{ fromTs: r.from_ts, model: r.gpu_model }]);
      else list.push({ fromTs: r.from_ts, model: r.gpu_model });
    }
    this.#rollups = new ReportRollups(db);
    // Version 3 had no report roll-ups: build them once from the books.
    if (version < 4) {
      const books = db.prepare('SELECT 1 FROM job_hours LIMIT 1').get() !== undefined;
      const t0 = performance.now();
      if (books) o.log?.info({ dataDir, fromVersion: version }, 'building report roll-ups from the books (once, on upgrade; about 3 min for a year of 1M jobs)');
      db.transaction(() => {
        this.#rollups.rebuild(this.#modelAt);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
      if (books) o.log?.info({ ms: Math.round(performance.now() - t0) }, 'report roll-ups built');
    } else if (version < SCHEMA_VERSION) {
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
    this.#stmt = {
      ledgerGet: db.prepare<[string, string], { last_seq: number; last_ts: number; counters: string }>(
        'SELECT last_seq, last_ts, counters FROM ledger WHERE node = ? AND epoch = ?'),
      ledgerPut: db.prepare('INSERT INTO ledger (node, epoch, last_seq, last_ts, counters) VALUES (?, ?, ?, ?, ?) ON CONFLICT (node, epoch) DO UPDATE SET last_seq = excluded.last_seq, last_ts = excluded.last_ts, counters = excluded.counters'),
      jobUpsert: db.prepare(`INSERT INTO jobs (id, user, account, name, partition, start_ts, end_ts, state) VALUES (?, ?, ?, ?, ?, ?, NULL, 'running')
        ON CONFLICT (id) DO UPDATE SET user = excluded.user, account = excluded.account,
        name = coalesce(excluded.name, jobs.name), partition = coalesce(excluded.partition, jobs.partition), start_ts = min(jobs.start_ts, excluded.start_ts)`),
      jobRevive: db.prepare(`UPDATE jobs SET state = 'running', end_ts = NULL WHERE id = ? AND state <> 'running'
        AND EXISTS (SELECT 1 FROM job_nodes WHERE job_id = jobs.id AND running = 1)`),
      jobPlaceholder: db.prepare(`INSERT INTO jobs (id, user, account, name, partition, start_ts, end_ts, state) VALUES (?, '', '', NULL, NULL, ?, ?, 'completed') ON CONFLICT (id) DO NOTHING`),
      // A job that left a node comes back with a batch newer than its end there; after the
      // epilog's end notice only as a new run (a requeue starts again), since a map listing it
      // then is the agent's Slurm view from before the end.
      jobNodeRunning: db.prepare<{ job: string; node: string; gpus: number; uuids: string; ts: number; startTs: number }>(`
        INSERT INTO job_nodes (job_id, node, gpus, gpu_uuids, running, end_ts) VALUES (@job, @node, @gpus, @uuids, 1, NULL)
        ON CONFLICT (job_id, node) DO UPDATE SET
          gpus = CASE WHEN job_nodes.running = 1 AND excluded.gpus < job_nodes.gpus THEN job_nodes.gpus ELSE excluded.gpus END,
          gpu_uuids = CASE WHEN job_nodes.running = 1 AND excluded.gpus < job_nodes.gpus THEN job_nodes.gpu_uuids ELSE excluded.gpu_uuids END,
          running = 1, end_ts = NULL, end_notice = 0
        WHERE job_nodes.running = 1 OR job_nodes.end_ts IS NULL
          OR (job_nodes.end_notice = 0 AND job_nodes.end_ts < @ts) OR (job_nodes.end_notice = 1 AND job_nodes.end_ts < @startTs)`),
      jobNodeEnergy: db.prepare(`INSERT INTO job_nodes (job_id, node, running, end_ts, gpu_mj, cpu_mj, other_mj, gpu_s, util_s, util_known_s, idle_gpu_s) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (job_id, node) DO UPDATE SET gpu_mj = gpu_mj + excluded.gpu_mj, cpu_mj = cpu_mj + excluded.cpu_mj,
        other_mj = other_mj + excluded.other_mj, gpu_s = gpu_s + excluded.gpu_s, util_s = util_s + excluded.util_s,
        util_known_s = util_known_s + excluded.util_known_s, idle_gpu_s = idle_gpu_s + excluded.idle_gpu_s`),
      jobHour: db.prepare(`INSERT INTO job_hours (job_id, node, hour_ts, gpu_mj, cpu_mj, other_mj, gpu_s, util_s, util_known_s, idle_gpu_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (job_id, node, hour_ts) DO UPDATE SET gpu_mj = gpu_mj + excluded.gpu_mj, cpu_mj = cpu_mj + excluded.cpu_mj,
        other_mj = other_mj + excluded.other_mj, gpu_s = gpu_s + excluded.gpu_s, util_s = util_s + excluded.util_s,
        util_known_s = util_known_s + excluded.util_known_s, idle_gpu_s = idle_gpu_s + excluded.idle_gpu_s`),
      jobHoursGet: db.prepare<[string], { node: string; hour_ts: number; gpu_mj: number; cpu_mj: number; other_mj: number; gpu_s: number; util_s: number; util_known_s: number; idle_gpu_s: number }>(
        'SELECT node, hour_ts, gpu_mj, cpu_mj, other_mj, gpu_s, util_s, util_known_s, idle_gpu_s FROM job_hours WHERE job_id = ? ORDER BY hour_ts, node'),
      runningOnNode: db.prepare<[string], { job_id: string }>('SELECT job_id FROM job_nodes WHERE node = ? AND running = 1'),
      jobNodeEnd: db.prepare('UPDATE job_nodes SET running = 0, end_ts = ? WHERE job_id = ? AND node = ? AND running = 1'),
      jobNodeEndNotice: db.prepare('UPDATE job_nodes SET running = 0, end_ts = ?, end_notice = 1 WHERE job_id = ? AND node = ? AND running = 1'),
      jobOnNode: db.prepare<[string, string], { running: number }>('SELECT running FROM job_nodes WHERE job_id = ? AND node = ?'),
      jobStillRunning: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM job_nodes WHERE job_id = ? AND running = 1'),
      jobEnd: db.prepare(`UPDATE jobs SET state = 'completed', end_ts = (SELECT max(end_ts) FROM job_nodes WHERE job_id = ?) WHERE id = ?`),
      nodeHour: db.prepare(`INSERT INTO node_hours (node, hour_ts, device_gpu_mj, device_cpu_mj, idle_gpu_mj, idle_cpu_mj, jobs_mj, other_mj, idle_other_mj) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (node, hour_ts) DO UPDATE SET device_gpu_mj = device_gpu_mj + excluded.device_gpu_mj, device_cpu_mj = device_cpu_mj + excluded.device_cpu_mj,
        idle_gpu_mj = idle_gpu_mj + excluded.idle_gpu_mj, idle_cpu_mj = idle_cpu_mj + excluded.idle_cpu_mj, jobs_mj = jobs_mj + excluded.jobs_mj,
        other_mj = other_mj + excluded.other_mj, idle_other_mj = idle_other_mj + excluded.idle_other_mj`),
      jobGet: db.prepare<[string], JobRow>(`${JOB_SELECT} WHERE j.id = ?`),
      jobGroups: db.prepare<[string], { user: string; account: string; partition: string }>("SELECT user, account, coalesce(partition, '') AS partition FROM jobs WHERE id = ?"),
      jobSeries: db.prepare(`INSERT INTO job_series (job_id, node, bucket_ts, energy_mj) VALUES (?, ?, ?, ?)
        ON CONFLICT (job_id, node, bucket_ts) DO UPDATE SET energy_mj = energy_mj + excluded.energy_mj`),
      nodeSeries: db.prepare(`INSERT INTO node_series (node, bucket_ts, energy_mj) VALUES (?, ?, ?)
        ON CONFLICT (node, bucket_ts) DO UPDATE SET energy_mj = energy_mj + excluded.energy_mj`),
      jobSeriesGet: db.prepare<[string, number, number, string, number, number], { node: string; bucket_ts: number; energy_mj: number; bucket_ms: number }>(
        `SELECT node, bucket_ts, energy_mj, ${ROLLUP_BUCKET_MS} AS bucket_ms FROM job_series_1m WHERE job_id = ? AND bucket_ts >= ? AND bucket_ts < ?
         UNION ALL SELECT node, bucket_ts, energy_mj, ${SERIES_BUCKET_MS} AS bucket_ms FROM job_series WHERE job_id = ? AND bucket_ts >= ? AND bucket_ts < ?
         ORDER BY bucket_ts, node, bucket_ms DESC`),
      rollJobSeries: db.prepare(`INSERT INTO job_series_1m (job_id, node, bucket_ts, energy_mj)
        SELECT job_id, node, (bucket_ts / ${ROLLUP_BUCKET_MS}) * ${ROLLUP_BUCKET_MS} AS m, sum(energy_mj) FROM job_series WHERE bucket_ts < ? GROUP BY job_id, node, m
        ON CONFLICT (job_id, node, bucket_ts) DO UPDATE SET energy_mj = energy_mj + excluded.energy_mj`),
      rollNodeSeries: db.prepare(`INSERT INTO node_series_1m (node, bucket_ts, energy_mj)
        SELECT node, (bucket_ts / ${ROLLUP_BUCKET_MS}) * ${ROLLUP_BUCKET_MS} AS m, sum(energy_mj) FROM node_series WHERE bucket_ts < ? GROUP BY node, m
        ON CONFLICT (node, bucket_ts) DO UPDATE SET energy_mj = energy_mj + excluded.energy_mj`),
      pruneJobSeries: db.prepare('DELETE FROM job_series WHERE bucket_ts < ?'),
      pruneNodeSeries: db.prepare('DELETE FROM node_series WHERE bucket_ts < ?'),
      pruneGpuSeries: db.prepare('DELETE FROM gpu_series WHERE bucket_ts < ?'),
      oldGpuSeries: db.prepare<[number], { node: string; bucket_ts: number; data: string }>('SELECT node, bucket_ts, data FROM gpu_series WHERE bucket_ts < ?'),
      pruneJobRollups: db.prepare('DELETE FROM job_series_1m WHERE bucket_ts < ?'),
      pruneNodeRollups: db.prepare('DELETE FROM node_series_1m WHERE bucket_ts < ?'),
      pruneGpuRollups: db.prepare('DELETE FROM gpu_series_1m WHERE bucket_ts < ?'),
      gpuBucketGet: db.prepare<[string, number], { data: string }>('SELECT data FROM gpu_series WHERE node = ? AND bucket_ts = ?'),
      gpuBucketPut: db.prepare('INSERT INTO gpu_series (node, bucket_ts, data) VALUES (?, ?, ?) ON CONFLICT (node, bucket_ts) DO UPDATE SET data = excluded.data'),
      gpuRollupGet: db.prepare<[string, number], { data: string }>('SELECT data FROM gpu_series_1m WHERE node = ? AND bucket_ts = ?'),
      gpuRollupPut: db.prepare('INSERT INTO gpu_series_1m (node, bucket_ts, data) VALUES (?, ?, ?) ON CONFLICT (node, bucket_ts) DO UPDATE SET data = excluded.data'),
      gpuSeriesGet: db.prepare<[string, number, number, string, number, number], { bucket_ts: number; data: string; bucket_ms: number }>(
        `SELECT bucket_ts, data, ${ROLLUP_BUCKET_MS} AS bucket_ms FROM gpu_series_1m WHERE node = ? AND bucket_ts >= ? AND bucket_ts < ?
         UNION ALL SELECT bucket_ts, data, ${SERIES_BUCKET_MS} AS bucket_ms FROM gpu_series WHERE node = ? AND bucket_ts >= ? AND bucket_ts < ?
         ORDER BY bucket_ts`),
      jobGpusGet: db.prepare<[string], { node: string; gpu_uuids: string | null }>('SELECT node, gpu_uuids FROM job_nodes WHERE job_id = ? ORDER BY node'),
      nodeModelPut: db.prepare('INSERT INTO node_models (node, from_ts, gpu_model) VALUES (?, ?, ?) ON CONFLICT (node, from_ts) DO UPDATE SET gpu_model = excluded.gpu_model'),
      nodePut: db.prepare('INSERT INTO nodes (name, hello, ts) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET hello = excluded.hello, ts = excluded.ts'),
      nodesAll: db.prepare<[], { name: string; hello: string }>('SELECT name, hello FROM nodes ORDER BY name'),
      clusterEnergy: db.prepare<[number, number], { mj: number | null }>(
        'SELECT sum(device_gpu_mj + device_cpu_mj + other_mj) AS mj FROM node_hours WHERE hour_ts >= ? AND hour_ts < ?'),
      balance: db.prepare<[number, number], { node: string; device_mj: number; other_mj: number; jobs_mj: number; idle_mj: number }>(
        `SELECT node, sum(device_gpu_mj + device_cpu_mj + other_mj) AS device_mj, sum(other_mj) AS other_mj, sum(jobs_mj) AS jobs_mj,
         sum(idle_gpu_mj + idle_cpu_mj + idle_other_mj) AS idle_mj
         FROM node_hours WHERE hour_ts >= ? AND hour_ts < ? GROUP BY node ORDER BY node`),
    };
  }

  /**
   * Bring the tables of a data directory from an earlier version up to this schema's columns;
   * returns the version it had (the caller builds what is new from the books, then sets the
   * version).
   */
  #migrate(): number {
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version >= SCHEMA_VERSION) return version;
    const hasTable = (t: string): boolean => this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
    const hasColumn = (t: string, c: string): boolean => (this.#db.pragma(`table_info(${t})`) as Array<{ name: string }>).some((r) => r.name === c);
    this.#db.transaction(() => {
      // Version 1 had no modelled base power and no per-hour job energy.
      for (const [table, column, type] of [
        ['job_nodes', 'other_mj', 'INTEGER NOT NULL DEFAULT 0'],
        ['job_nodes', 'gpu_s', 'REAL NOT NULL DEFAULT 0'],
        ['node_hours', 'other_mj', 'INTEGER NOT NULL DEFAULT 0'],
        ['node_hours', 'idle_other_mj', 'INTEGER NOT NULL DEFAULT 0'],
        // Version 2 had no GPU utilisation figures and no GPU list per job and node.
        ['job_nodes', 'util_s', 'REAL NOT NULL DEFAULT 0'],
        ['job_nodes', 'util_known_s', 'REAL NOT NULL DEFAULT 0'],
        ['job_nodes', 'idle_gpu_s', 'REAL NOT NULL DEFAULT 0'],
        ['job_nodes', 'gpu_uuids', 'TEXT'],
        ['job_hours', 'util_s', 'REAL NOT NULL DEFAULT 0'],
        ['job_hours', 'util_known_s', 'REAL NOT NULL DEFAULT 0'],
        ['job_hours', 'idle_gpu_s', 'REAL NOT NULL DEFAULT 0'],
        // Version 3 did not tell an end by the epilog's notice from one by the job map.
        ['job_nodes', 'end_notice', 'INTEGER NOT NULL DEFAULT 0'],
      ] as const) {
        if (hasTable(table) && !hasColumn(table, column)) this.#db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
      }
    })();
    return version;
  }

  /** The node's GPU model in the hour `hourTs`; 'unknown' before its first Hello. */
  readonly #modelAt = (node: string, hourTs: number): string => {
    let model = 'unknown';
    for (const m of this.#models.get(node) ?? []) {
      if (m.fromTs > hourTs) break;
      model = m.model;
    }
    return model;
  };

  loadLedger(node: string, epoch: string): LedgerState | undefined {
    const row = this.#stmt.ledgerGet.get(node, epoch);
    if (row === undefined) return undefined;
    return { node, epoch, lastSeq: row.last_seq, lastTs: row.last_ts, counters: JSON.parse(row.counters) as Record<string, number> };
  }

  commit(effects: readonly BatchEffect[]): void {
    const maps = new Map<string, string>();
    const jobs = new Map<string, JobGroups>();
    try {
      this.#db.transaction(() => {
        for (const e of effects) {
          this.#apply(e, maps, jobs);
          this.#addGauges(e);
        }
        this.#rollups.flush();
      })();
    } catch (err) {
      this.#rollups.discard();
      throw err;
    }
    // Only what committed goes into the caches; a failed transaction leaves them as they were.
    this.#rollups.committed();
    for (const [node, sig] of maps) this.#nodeMaps.set(node, sig);
    if (this.#jobGroups.size > 200_000) this.#jobGroups.clear();
    for (const [id, groups] of jobs) this.#jobGroups.set(id, groups);
  }

  /**
   * A job's groups: this commit's, else committed (cached, else its row, which the cache then
   * keeps once the commit lands); undefined without a row.
   */
  #groupsOf(id: string, pending: Map<string, JobGroups>): JobGroups | undefined {
    const known = pending.get(id) ?? this.#jobGroups.get(id);
    if (known !== undefined) return known;
    const row = this.#stmt.jobGroups.get(id);
    if (row !== undefined) pending.set(id, row);
    return row;
  }

  /**
   * Write one batch's effects. A node's job map usually is the same as in its previous batch:
   * the job rows are then left alone, which saves most of the statements per batch.
   */
  #apply(e: BatchEffect, maps: Map<string, string>, jobs: Map<string, JobGroups>): void {
    const s = this.#stmt;
    s.ledgerPut.run(e.node, e.ledger.epoch, e.ledger.lastSeq, e.ledger.lastTs, JSON.stringify(e.ledger.counters));
    const sig = e.jobs.map((j) => `${j.id}\u0001${j.gpus.join(',')}\u0001${j.user}\u0001${j.account}`).sort().join('\u0002');
    if (sig !== (maps.get(e.node) ?? this.#nodeMaps.get(e.node))) {
      maps.set(e.node, sig);
      const onMap = new Set<string>();
      for (const job of e.jobs) {
        onMap.add(job.id);
        const before = this.#groupsOf(job.id, jobs);
        s.jobUpsert.run(job.id, job.user, job.account, job.name ?? null, job.partition ?? null, job.startTs);
        const after: JobGroups = { account: job.account, user: job.user, partition: job.partition ?? before?.partition ?? '' };
        if (before !== undefined && (before.account !== after.account || before.user !== after.user || before.partition !== after.partition)) {
          this.#rollups.moveJob(s.jobHoursGet.all(job.id), before, after, this.#modelAt);
        }
        jobs.set(job.id, after);
        s.jobNodeRunning.run({ job: job.id, node: e.node, gpus: job.gpus.length, uuids: job.gpus.join(','), ts: e.ts, startTs: job.startTs });
        s.jobRevive.run(job.id);
      }
      for (const { job_id } of s.runningOnNode.all(e.node)) {
        if (onMap.has(job_id)) continue;
        s.jobNodeEnd.run(e.ts, job_id, e.node);
        if ((s.jobStillRunning.get(job_id)?.n ?? 0) === 0) s.jobEnd.run(job_id, job_id);
      }
    }
    const hourTs = Math.floor(e.ts / HOUR_MS) * HOUR_MS;
    const gpuModel = this.#modelAt(e.node, hourTs);
    // A batch's energy goes to the bucket its interval ends in: at 1 s batches and 10 s
    // buckets a chart is off by at most one interval at bucket edges.
    const bucketTs = Math.floor(e.ts / SERIES_BUCKET_MS) * SERIES_BUCKET_MS;
    let jobsMj = 0;
    const jobIds = new Set([...e.jobsMj.keys(), ...e.gpuSeconds.keys()]);
    for (const id of jobIds) {
      const mj = e.jobsMj.get(id) ?? { gpuMj: 0, cpuMj: 0, otherMj: 0 };
      const gpuS = e.gpuSeconds.get(id) ?? 0;
      const use = e.gpuUse.get(id) ?? NO_USE;
      jobsMj += mj.gpuMj + mj.cpuMj + mj.otherMj;
      // Energy for a job this collector never saw on a map (its map was lost): keep the
      // energy, and make the job visible rather than dropping it.
      let groups = this.#groupsOf(id, jobs);
      if (groups === undefined) {
        s.jobPlaceholder.run(id, e.ts, e.ts);
        jobs.set(id, (groups = NO_GROUPS));
      }
      s.jobNodeEnergy.run(id, e.node, e.ts, mj.gpuMj, mj.cpuMj, mj.otherMj, gpuS, use.utilS, use.utilKnownS, use.idleS);
      s.jobHour.run(id, e.node, hourTs, mj.gpuMj, mj.cpuMj, mj.otherMj, gpuS, use.utilS, use.utilKnownS, use.idleS);
      this.#rollups.addJob(groups, hourTs, gpuModel, mj, gpuS, use);
      const jobMj = mj.gpuMj + mj.cpuMj + mj.otherMj;
      if (jobMj > 0) s.jobSeries.run(id, e.node, bucketTs, jobMj);
    }
    s.nodeHour.run(e.node, hourTs, e.nodeMj.gpuMj, e.nodeMj.cpuMj, e.idleMj.gpuMj, e.idleMj.cpuMj, jobsMj, e.nodeMj.otherMj, e.idleMj.otherMj);
    this.#rollups.addNode(e.node, hourTs, e.idleMj);
    const nodeMj = e.nodeMj.gpuMj + e.nodeMj.cpuMj + e.nodeMj.otherMj;
    if (nodeMj > 0) s.nodeSeries.run(e.node, bucketTs, nodeMj);
  }

  /**
   * Gauges go into the node's open bucket in memory; a bucket is written once, when the
   * node's samples move past it. What a crash loses is the open bucket of each node's GPU
   * chart — never energy, which is in the books. A sample for an older bucket (a replay from
   * an agent's spool) is merged into its stored row.
   */
  #addGauges(e: BatchEffect): void {
    for (const sample of e.samples) {
      if (sample.gpus.length === 0) continue;
      const bucketTs = Math.floor(sample.ts / SERIES_BUCKET_MS) * SERIES_BUCKET_MS;
      let open = this.#openGpu.get(e.node);
      if (open === undefined || bucketTs > open.bucketTs) {
        if (open !== undefined) this.#writeGpuBucket(open);
        open = emptyGpuBucket(e.node, bucketTs, SERIES_BUCKET_MS);
        this.#openGpu.set(e.node, open);
      }
      if (bucketTs === open.bucketTs) {
        addSample(open, sample);
      } else {
        const late = emptyGpuBucket(e.node, bucketTs, SERIES_BUCKET_MS);
        addSample(late, sample);
        this.#writeGpuBucket(late);
      }
    }
  }

  /** Merge a bucket into its stored row. */
  #writeGpuBucket(b: GpuBucket): void {
    const stored = this.#stmt.gpuBucketGet.get(b.node, b.bucketTs);
    const into = stored === undefined ? b : decodeGpuBucket(b.node, b.bucketTs, b.bucketMs, stored.data);
    if (into !== b) mergeGpuBucket(into, b);
    this.#stmt.gpuBucketPut.run(b.node, b.bucketTs, encodeGpuBucket(into));
  }

  endJob(id: string, node: string, endTs: number): boolean {
    const s = this.#stmt;
    return this.#db.transaction(() => {
      // Already ended by the node's own job map: the notice is a repeat, not an error.
      if (s.jobNodeEndNotice.run(endTs, id, node).changes === 0) return s.jobOnNode.get(id, node) !== undefined;
      if ((s.jobStillRunning.get(id)?.n ?? 0) === 0) s.jobEnd.run(id, id);
      return true;
    })();
  }

  job(id: string): JobRecord | undefined {
    const row = this.#stmt.jobGet.get(id);
    return row === undefined ? undefined : toJob(row);
  }

  jobSeries(id: string, fromTs: number, toTs: number): SeriesPoint[] {
    return this.#stmt.jobSeriesGet.all(id, fromTs, toTs, id, fromTs, toTs).map((r) =>
      r.bucket_ms === SERIES_BUCKET_MS ? { node: r.node, bucketTs: r.bucket_ts, energyMj: r.energy_mj } : { node: r.node, bucketTs: r.bucket_ts, energyMj: r.energy_mj, bucketMs: r.bucket_ms });
  }

  async queryJobSeries(id: string, fromTs: number, toTs: number): Promise<SeriesPoint[]> {
    return this.jobSeries(id, fromTs, toTs);
  }

  pruneSeries(beforeTs: number): number {
    // Only whole minutes are rolled up, so a roll-up bucket is written once and never half.
    const edge = Math.floor(beforeTs / ROLLUP_BUCKET_MS) * ROLLUP_BUCKET_MS;
    const s = this.#stmt;
    return this.#db.transaction(() => {
      s.rollJobSeries.run(edge);
      s.rollNodeSeries.run(edge);
      const minutes = new Map<string, GpuBucket>();
      for (const r of s.oldGpuSeries.iterate(edge)) {
        const minuteTs = Math.floor(r.bucket_ts / ROLLUP_BUCKET_MS) * ROLLUP_BUCKET_MS;
        const key = `${r.node}\u0000${minuteTs}`;
        let m = minutes.get(key);
        if (m === undefined) minutes.set(key, (m = emptyGpuBucket(r.node, minuteTs, ROLLUP_BUCKET_MS)));
        mergeGpuBucket(m, decodeGpuBucket(r.node, r.bucket_ts, SERIES_BUCKET_MS, r.data));
      }
      for (const m of minutes.values()) {
        const stored = s.gpuRollupGet.get(m.node, m.bucketTs);
        if (stored !== undefined) mergeGpuBucket(m, decodeGpuBucket(m.node, m.bucketTs, ROLLUP_BUCKET_MS, stored.data));
        s.gpuRollupPut.run(m.node, m.bucketTs, encodeGpuBucket(m));
      }
      return s.pruneJobSeries.run(edge).changes + s.pruneNodeSeries.run(edge).changes + s.pruneGpuSeries.run(edge).changes;
    })();
  }

  pruneRollups(beforeTs: number): number {
    const s = this.#stmt;
    return this.#db.transaction(() => s.pruneJobRollups.run(beforeTs).changes + s.pruneNodeRollups.run(beforeTs).changes + s.pruneGpuRollups.run(beforeTs).changes)();
  }

  async gpuSeries(node: string, fromTs: number, toTs: number): Promise<GpuBucket[]> {
    const out = this.#stmt.gpuSeriesGet.all(node, fromTs, toTs, node, fromTs, toTs).map((r) => decodeGpuBucket(node, r.bucket_ts, r.bucket_ms, r.data));
    const open = this.#openGpu.get(node);
    if (open !== undefined && open.bucketTs >= fromTs && open.bucketTs < toTs) {
      // The open bucket may also have a stored part (a late sample was merged into its row).
      const stored = out.find((b) => b.bucketTs === open.bucketTs && b.bucketMs === SERIES_BUCKET_MS);
      if (stored === undefined) {
        const copy = emptyGpuBucket(node, open.bucketTs, SERIES_BUCKET_MS);
        mergeGpuBucket(copy, open);
        out.push(copy);
      } else {
        mergeGpuBucket(stored, open);
      }
    }
    return out;
  }

  jobGpus(id: string): Map<string, string[]> {
    return new Map(this.#stmt.jobGpusGet.all(id).map((r) => [r.node, r.gpu_uuids === null || r.gpu_uuids === '' ? [] : r.gpu_uuids.split(',')]));
  }

  putNode(hello: Hello): void {
    this.#stmt.nodePut.run(hello.node, JSON.stringify(hello), hello.ts);
    const model = gpuModelOf(hello);
    const list = this.#models.get(hello.node) ?? [];
    const latest = list[list.length - 1];
    if (latest?.model !== model) {
      const fromTs = Math.floor(hello.ts / HOUR_MS) * HOUR_MS;
      this.#stmt.nodeModelPut.run(hello.node, fromTs, model);
      const kept = list.filter((m) => m.fromTs !== fromTs);
      kept.push({ fromTs, model });
      this.#models.set(hello.node, kept.sort((a, b) => a.fromTs - b.fromTs));
    }
  }

  nodes(): Map<string, Hello> {
    return new Map(this.#stmt.nodesAll.all().map((r) => [r.name, JSON.parse(r.hello) as Hello]));
  }

  jobHours(id: string): JobHour[] {
    return this.#stmt.jobHoursGet.all(id).map((r) => ({
      node: r.node,
      hourTs: r.hour_ts,
      energyMj: { gpuMj: r.gpu_mj, cpuMj: r.cpu_mj, otherMj: r.other_mj },
      gpuSeconds: r.gpu_s,
      gpuUse: { utilS: r.util_s, utilKnownS: r.util_known_s, idleS: r.idle_gpu_s },
    }));
  }

  jobs(query: JobQuery): JobRecord[] {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (query.state !== undefined) { where.push('j.state = ?'); args.push(query.state); }
    if (query.user !== undefined) { where.push('j.user = ?'); args.push(query.user); }
    if (query.account !== undefined) { where.push('j.account = ?'); args.push(query.account); }
    if (query.toTs !== undefined) { where.push('j.start_ts < ?'); args.push(query.toTs); }
    if (query.fromTs !== undefined) { where.push('(j.end_ts IS NULL OR j.end_ts >= ?)'); args.push(query.fromTs); }
    if (query.after !== undefined) {
      where.push('(j.start_ts < ? OR (j.start_ts = ? AND j.id > ?))');
      args.push(query.after.startTs, query.after.startTs, query.after.id);
    }
    const sql = `${JOB_SELECT}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY j.start_ts DESC, j.id LIMIT ?`;
    args.push(query.limit ?? 100);
    return this.#db.prepare<Array<string | number>, JobRow>(sql).all(...args).map(toJob);
  }

  jobEnergy(ids: readonly string[]): Map<string, SplitMj> {
    const out = new Map<string, SplitMj>();
    if (ids.length === 0) return out;
    const rows = this.#db
      .prepare<string[], { job_id: string; gpu_mj: number; cpu_mj: number; other_mj: number }>(
        `SELECT job_id, sum(gpu_mj) AS gpu_mj, sum(cpu_mj) AS cpu_mj, sum(other_mj) AS other_mj FROM job_nodes WHERE job_id IN (SELECT value FROM json_each(?)) GROUP BY job_id`)
      .all(JSON.stringify(ids));
    for (const r of rows) out.set(r.job_id, { gpuMj: r.gpu_mj, cpuMj: r.cpu_mj, otherMj: r.other_mj });
    return out;
  }

  clusterEnergyMj(fromTs: number, toTs: number): number {
    return this.#stmt.clusterEnergy.get(fromTs, toTs)?.mj ?? 0;
  }

  nodeBalance(fromTs: number, toTs: number): NodeBalance[] {
    return this.#stmt.balance.all(fromTs, toTs).map((r) => ({ node: r.node, deviceMj: r.device_mj, otherMj: r.other_mj, jobsMj: r.jobs_mj, idleMj: r.idle_mj }));
  }

  energyReport(by: ReportGroupBy, fromTs: number, toTs: number): EnergyReportData {
    const slices = by === 'job' || by === 'node' ? this.#jobHourSlices(by, fromTs, toTs) : this.#rollups.slices(by satisfies RollupKind, fromTs, toTs);
    // Nodes with books, found by skipping through the primary key rather than reading every row.
    const firstSeen = new Map<string, number>();
    for (const r of this.#db.prepare<[], { node: string; first_ts: number }>(`
      WITH RECURSIVE n (node) AS (SELECT (SELECT min(node) FROM node_hours) UNION ALL SELECT (SELECT min(node) FROM node_hours WHERE node > n.node) FROM n WHERE n.node IS NOT NULL)
      SELECT node, (SELECT min(hour_ts) FROM node_hours WHERE node = n.node) AS first_ts FROM n WHERE node IS NOT NULL`).all()) firstSeen.set(r.node, r.first_ts);
    for (const r of this.#db.prepare<[], { name: string; ts: number }>('SELECT name, ts FROM nodes').all()) {
      const helloHour = Math.floor(r.ts / HOUR_MS) * HOUR_MS;
      firstSeen.set(r.name, Math.min(firstSeen.get(r.name) ?? helloHour, helloHour));
    }
    const runs = this.#rollups.measured(fromTs, toTs);
    const nodes: NodeCoverage[] = [...firstSeen.keys()].sort().map((node) => ({ node, firstSeenTs: firstSeen.get(node) ?? null, measured: runs.get(node) ?? [] }));
    return { slices, unallocated: this.#rollups.unallocated(fromTs, toTs), nodes };
  }

  /**
   * By job or node the groups are as many as the job-hours' own keys, so these read job_hours:
   * one GROUP BY, with each job's hours by primary key; the GPU model is the node's now.
   */
  #jobHourSlices(by: 'job' | 'node', fromTs: number, toTs: number): ReportSlice[] {
    let stmt = this.#reportStmts.get(by);
    if (stmt === undefined) {
      stmt = this.#db.prepare<[number, number], GroupHourRow>(`
        WITH model (node, gpu_model) AS MATERIALIZED (SELECT name, json_extract(hello, '$.inventory.gpus[0].name') FROM nodes)
        SELECT h.${by === 'job' ? 'job_id' : 'node'} AS grp, h.hour_ts, coalesce(m.gpu_model, 'unknown') AS gpu_model, sum(h.gpu_mj) AS gpu_mj, sum(h.cpu_mj) AS cpu_mj,
          sum(h.other_mj) AS other_mj, sum(h.gpu_s) AS gpu_s, sum(h.util_s) AS util_s, sum(h.util_known_s) AS util_known_s, sum(h.idle_gpu_s) AS idle_gpu_s
        FROM job_hours h LEFT JOIN model m ON m.node = h.node
        WHERE h.hour_ts >= ? AND h.hour_ts < ? GROUP BY grp, h.hour_ts, gpu_model`);
      this.#reportStmts.set(by, stmt);
    }
    return sliceReportHours(stmt.all(fromTs, toTs).map((r) => ({
      group: r.grp, hourTs: r.hour_ts, gpuModel: r.gpu_model, energyMj: { gpuMj: r.gpu_mj, cpuMj: r.cpu_mj, otherMj: r.other_mj },
      gpuSeconds: r.gpu_s, utilSeconds: r.util_s, utilKnownSeconds: r.util_known_s, idleGpuSeconds: r.idle_gpu_s,
    })));
  }

  close(): void {
    if (this.#db.open) {
      this.#db.transaction(() => {
        for (const b of this.#openGpu.values()) this.#writeGpuBucket(b);
      })();
      this.#openGpu.clear();
    }
    this.#db.close();
  }
}
