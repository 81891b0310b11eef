/**
 * The embedded store's report roll-ups, kept at commit time so that a year's report reads a
 * few rows per group and hour instead of every job-hour:
 * - `group_hours`: job energy, GPU-seconds and utilisation per (account | user | partition,
 *   GPU model of the node when the energy was booked, UTC hour);
 * - `hour_idle`: energy no job was charged with, all nodes, per UTC hour;
 * - `node_days`: the hours a node has books in, one 24-bit mask per node and UTC day.
 * A commit's figures are summed in memory per key and written once per key at the end of its
 * transaction (`flush`), so ingest pays a few upserts per commit, not per batch. A job whose
 * account, user or partition changes (a job first seen only in counters, then on a job map)
 * has its energy moved from the old groups to the new ones.
 */
import type Database from 'better-sqlite3';
import { sortHours } from './report-slices.js';
import type { GpuUse, ReportSlice, SplitMj } from './store.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** A node_days mask with every hour measured. */
const WHOLE_DAY = 0xffffff;
/** Float residue below this (seconds) counts as zero after a move took a job's seconds out. */
const ZERO_S = 1e-6;

/** Report groups that have a roll-up; by job and by node read the job-hours themselves. */
export const ROLLUP_KINDS = ['account', 'user', 'partition'] as const;
export type RollupKind = (typeof ROLLUP_KINDS)[number];
/** A job's groups: '' where not known (a partition Slurm did not give, a job seen only in counters). */
export type JobGroups = Readonly<Record<RollupKind, string>>;
export const NO_GROUPS: JobGroups = { account: '', user: '', partition: '' };

export const ROLLUP_SCHEMA = `
CREATE TABLE IF NOT EXISTS group_hours (
  kind TEXT NOT NULL, grp TEXT NOT NULL, hour_ts INTEGER NOT NULL, gpu_model TEXT NOT NULL,
  gpu_mj INTEGER NOT NULL DEFAULT 0, cpu_mj INTEGER NOT NULL DEFAULT 0, other_mj INTEGER NOT NULL DEFAULT 0,
  gpu_s REAL NOT NULL DEFAULT 0, util_s REAL NOT NULL DEFAULT 0, util_known_s REAL NOT NULL DEFAULT 0, idle_gpu_s REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, grp, gpu_model, hour_ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hour_idle (
  hour_ts INTEGER PRIMARY KEY, idle_gpu_mj INTEGER NOT NULL, idle_cpu_mj INTEGER NOT NULL, idle_other_mj INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS node_days (
  node TEXT NOT NULL, day_ts INTEGER NOT NULL, hours INTEGER NOT NULL, PRIMARY KEY (node, day_ts)
) WITHOUT ROWID;
`;

type SliceRow = [string, string, number, number, number, number, number, number, number, string, string, string];

/** A job's books in one hour on one node (a `job_hours` row). */
export interface JobHourRow {
  node: string; hour_ts: number; gpu_mj: number; cpu_mj: number; other_mj: number;
  gpu_s: number; util_s: number; util_known_s: number; idle_gpu_s: number;
}

interface Sum {
  readonly kind: RollupKind; readonly grp: string; readonly hourTs: number; readonly gpuModel: string;
  gpuMj: number; cpuMj: number; otherMj: number; gpuS: number; utilS: number; utilKnownS: number; idleS: number;
  /** Took a subtraction (a move): the stored row may now be empty. */
  moved: boolean;
}

export class ReportRollups {
  readonly #db: Database.Database;
  readonly #stmt;
  readonly #groups = new Map<string, Sum>();
  readonly #idle = new Map<number, SplitMj>();
  /** Node → UTC day → hours to mark, this commit. */
  readonly #marks = new Map<string, Map<number, number>>();
  /** The hour each node was last marked in, committed: a node's batches mostly land in the same hour. */
  readonly #marked = new Map<string, number>();
  #markedNow = new Map<string, number>();

  constructor(db: Database.Database) {
    this.#db = db;
    this.#stmt = {
      group: db.prepare(`INSERT INTO group_hours (kind, grp, hour_ts, gpu_model, gpu_mj, cpu_mj, other_mj, gpu_s, util_s, util_known_s, idle_gpu_s)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, grp, gpu_model, hour_ts) DO UPDATE SET
        gpu_mj = gpu_mj + excluded.gpu_mj, cpu_mj = cpu_mj + excluded.cpu_mj, other_mj = other_mj + excluded.other_mj,
        gpu_s = gpu_s + excluded.gpu_s, util_s = util_s + excluded.util_s, util_known_s = util_known_s + excluded.util_known_s,
        idle_gpu_s = idle_gpu_s + excluded.idle_gpu_s`),
      // Floats summed in one order and taken out in another can leave -1e-17 where 0 is meant.
      tidy: db.prepare(`UPDATE group_hours SET ${['gpu_s', 'util_s', 'util_known_s', 'idle_gpu_s'].map((c) => `${c} = CASE WHEN abs(${c}) < ${ZERO_S} THEN 0 ELSE ${c} END`).join(', ')}
        WHERE kind = ? AND grp = ? AND hour_ts = ? AND gpu_model = ?`),
      dropEmpty: db.prepare(`DELETE FROM group_hours WHERE kind = ? AND grp = ? AND hour_ts = ? AND gpu_model = ?
        AND gpu_mj = 0 AND cpu_mj = 0 AND other_mj = 0 AND gpu_s = 0 AND util_s = 0 AND util_known_s = 0 AND idle_gpu_s = 0`),
      idle: db.prepare(`INSERT INTO hour_idle (hour_ts, idle_gpu_mj, idle_cpu_mj, idle_other_mj) VALUES (?, ?, ?, ?)
        ON CONFLICT (hour_ts) DO UPDATE SET idle_gpu_mj = idle_gpu_mj + excluded.idle_gpu_mj,
        idle_cpu_mj = idle_cpu_mj + excluded.idle_cpu_mj, idle_other_mj = idle_other_mj + excluded.idle_other_mj`),
      mark: db.prepare('INSERT INTO node_days (node, day_ts, hours) VALUES (?, ?, ?) ON CONFLICT (node, day_ts) DO UPDATE SET hours = hours | excluded.hours'),
      // One row per group and model, in key order (no sort); the hours come as text lists,
      // which costs a tenth of reading them as rows.
      slices: db.prepare<{ kind: RollupKind; from: number; to: number }, SliceRow>(`SELECT grp, gpu_model,
        sum(gpu_mj), sum(cpu_mj), sum(other_mj), sum(gpu_s), sum(util_s), sum(util_known_s), sum(idle_gpu_s),
        group_concat((hour_ts - @from) / ${HOUR_MS}), group_concat(gpu_mj + cpu_mj + other_mj), group_concat(gpu_s)
        FROM group_hours WHERE kind = @kind AND hour_ts >= @from AND hour_ts < @to GROUP BY grp, gpu_model ORDER BY grp, gpu_model`).raw(),
      hourIdle: db.prepare<[number, number], [number, number, number, number]>(
        'SELECT hour_ts, idle_gpu_mj, idle_cpu_mj, idle_other_mj FROM hour_idle WHERE hour_ts >= ? AND hour_ts < ? ORDER BY hour_ts').raw(),
      nodeDays: db.prepare<[number, number], [string, number, number]>(
        'SELECT node, day_ts, hours FROM node_days WHERE day_ts >= ? AND day_ts < ? ORDER BY node, day_ts').raw(),
    };
  }

  /** Add a job's books in one hour on a node of `gpuModel` to its groups (`sign` -1 takes them out). */
  addJob(groups: JobGroups, hourTs: number, gpuModel: string, mj: SplitMj, gpuS: number, use: GpuUse, sign = 1): void {
    for (const kind of ROLLUP_KINDS) this.#add(kind, groups[kind], hourTs, gpuModel, mj, gpuS, use, sign);
  }

  #add(kind: RollupKind, grp: string, hourTs: number, gpuModel: string, mj: SplitMj, gpuS: number, use: GpuUse, sign: number): void {
    const key = `${kind}\u0000${grp}\u0000${hourTs}\u0000${gpuModel}`;
    let s = this.#groups.get(key);
    if (s === undefined) {
      s = { kind, grp, hourTs, gpuModel, gpuMj: 0, cpuMj: 0, otherMj: 0, gpuS: 0, utilS: 0, utilKnownS: 0, idleS: 0, moved: false };
      this.#groups.set(key, s);
    }
    s.gpuMj += sign * mj.gpuMj;
    s.cpuMj += sign * mj.cpuMj;
    s.otherMj += sign * mj.otherMj;
    s.gpuS += sign * gpuS;
    s.utilS += sign * use.utilS;
    s.utilKnownS += sign * use.utilKnownS;
    s.idleS += sign * use.idleS;
    if (sign < 0) s.moved = true;
  }

  /**
   * A job's groups changed: move all its books (`rows`, its job-hours so far, this commit's
   * included) from the groups that changed to the new ones. `modelAt` gives a node's GPU model
   * in an hour, as when the books were added, so what is taken out is what was put in.
   */
  moveJob(rows: readonly JobHourRow[], from: JobGroups, to: JobGroups, modelAt: (node: string, hourTs: number) => string): void {
    for (const kind of ROLLUP_KINDS) {
      if (from[kind] === to[kind]) continue;
      for (const r of rows) {
        const mj = { gpuMj: r.gpu_mj, cpuMj: r.cpu_mj, otherMj: r.other_mj };
        const use = { utilS: r.util_s, utilKnownS: r.util_known_s, idleS: r.idle_gpu_s };
        const model = modelAt(r.node, r.hour_ts);
        this.#add(kind, from[kind], r.hour_ts, model, mj, r.gpu_s, use, -1);
        this.#add(kind, to[kind], r.hour_ts, model, mj, r.gpu_s, use, 1);
      }
    }
  }

  /** A node's batch landed in `hourTs` with this energy no job was charged with. */
  addNode(node: string, hourTs: number, idleMj: SplitMj): void {
    const e = this.#idle.get(hourTs);
    if (e === undefined) this.#idle.set(hourTs, { gpuMj: idleMj.gpuMj, cpuMj: idleMj.cpuMj, otherMj: idleMj.otherMj });
    else {
      e.gpuMj += idleMj.gpuMj;
      e.cpuMj += idleMj.cpuMj;
      e.otherMj += idleMj.otherMj;
    }
    if (this.#marked.get(node) === hourTs || this.#markedNow.get(node) === hourTs) return;
    const dayTs = Math.floor(hourTs / DAY_MS) * DAY_MS;
    let days = this.#marks.get(node);
    if (days === undefined) this.#marks.set(node, (days = new Map()));
    days.set(dayTs, (days.get(dayTs) ?? 0) | (1 << ((hourTs - dayTs) / HOUR_MS)));
    this.#markedNow.set(node, hourTs);
  }

  /** Write what was added since the last flush; inside the caller's transaction. */
  flush(): void {
    const s = this.#stmt;
    this.#flushGroups(Infinity);
    for (const [hourTs, e] of this.#idle) s.idle.run(hourTs, e.gpuMj, e.cpuMj, e.otherMj);
    this.#idle.clear();
    for (const [node, days] of this.#marks) for (const [dayTs, mask] of days) s.mark.run(node, dayTs, mask);
    this.#marks.clear();
  }

  /** Write the group sums of hours before `beforeTs`. */
  #flushGroups(beforeTs: number): void {
    const s = this.#stmt;
    for (const [key, g] of this.#groups) {
      if (g.hourTs >= beforeTs) continue;
      s.group.run(g.kind, g.grp, g.hourTs, g.gpuModel, g.gpuMj, g.cpuMj, g.otherMj, g.gpuS, g.utilS, g.utilKnownS, g.idleS);
      if (g.moved) {
        s.tidy.run(g.kind, g.grp, g.hourTs, g.gpuModel);
        s.dropEmpty.run(g.kind, g.grp, g.hourTs, g.gpuModel);
      }
      this.#groups.delete(key);
    }
  }

  /** The transaction committed: remember which hours are marked. */
  committed(): void {
    for (const [node, hourTs] of this.#markedNow) this.#marked.set(node, hourTs);
    this.#markedNow.clear();
  }

  /** The transaction failed: forget what it would have written. */
  discard(): void {
    this.#groups.clear();
    this.#idle.clear();
    this.#marks.clear();
    this.#markedNow.clear();
  }

  /**
   * Build the roll-ups from the books (`job_hours`, `jobs`, `node_hours`), for a data directory
   * from before they existed, through the same sums as commits. Jobs go in order of start, so
   * once the jobs starting before an hour are done that hour's sums are final and are written
   * once; memory holds only the hours still open (and is written out whole past ~500k keys).
   * Energy of a job without a jobs row is left out, as reports always did (commits write a
   * placeholder row).
   */
  rebuild(modelAt: (node: string, hourTs: number) => string): void {
    const PAGE_JOBS = 5_000;
    const MAX_KEYS = 500_000;
    this.discard();
    this.#db.exec('DELETE FROM group_hours; DELETE FROM hour_idle; DELETE FROM node_days;');
    const jobs = this.#db.prepare<[], [string, string, string, string, number]>(
      "SELECT id, account, user, coalesce(partition, ''), start_ts FROM jobs ORDER BY start_ts").raw().all();
    const hoursOf = this.#db.prepare<[string], [string, number, number, number, number, number, number, number, number]>(
      'SELECT node, hour_ts, gpu_mj, cpu_mj, other_mj, gpu_s, util_s, util_known_s, idle_gpu_s FROM job_hours WHERE job_id = ?').raw();
    for (let i = 0; i < jobs.length; i++) {
      const [id, account, user, partition] = jobs[i] as [string, string, string, string, number];
      const groups = { account, user, partition };
      for (const [node, hourTs, gpuMj, cpuMj, otherMj, gpuS, utilS, utilKnownS, idleS] of hoursOf.all(id)) {
        this.addJob(groups, hourTs, modelAt(node, hourTs), { gpuMj, cpuMj, otherMj }, gpuS, { utilS, utilKnownS, idleS });
      }
      const next = jobs[i + 1];
      if (next === undefined || (i + 1) % PAGE_JOBS === 0) {
        this.#flushGroups(next === undefined || this.#groups.size > MAX_KEYS ? Infinity : Math.floor(next[4] / HOUR_MS) * HOUR_MS);
      }
    }
    // node_hours is read whole before anything is written: a statement being iterated keeps
    // the connection busy. Its sums are small (one per hour; a mask per node and day).
    const nodeRows = this.#db.prepare<[], [string, number, number, number, number]>(
      'SELECT node, hour_ts, idle_gpu_mj, idle_cpu_mj, idle_other_mj FROM node_hours').raw();
    for (const [node, hourTs, gpuMj, cpuMj, otherMj] of nodeRows.iterate()) this.addNode(node, hourTs, { gpuMj, cpuMj, otherMj });
    this.flush();
    this.committed();
  }

  /** Slices of one kind in [fromTs, toTs), ordered by group and GPU model. */
  slices(kind: RollupKind, fromTs: number, toTs: number): ReportSlice[] {
    return this.#stmt.slices.all({ kind, from: fromTs, to: toTs }).map(([group, gpuModel, gpuMj, cpuMj, otherMj, gpuSeconds, utilSeconds, utilKnownSeconds, idleGpuSeconds, hours, energies, seconds]) => {
      const slice = {
        group, gpuModel, energyMj: { gpuMj, cpuMj, otherMj }, gpuSeconds, utilSeconds, utilKnownSeconds, idleGpuSeconds,
        hourTs: hours.split(',').map((k) => fromTs + Number(k) * HOUR_MS),
        hourEnergyMj: energies.split(',').map(Number),
        hourGpuSeconds: seconds.split(',').map(Number),
      };
      // group_concat follows the key-order scan; SQL does not promise it, so check.
      sortHours(slice);
      return slice;
    });
  }

  /** Unallocated energy per hour in [fromTs, toTs), in hour order. */
  unallocated(fromTs: number, toTs: number): Array<{ hourTs: number; energyMj: SplitMj }> {
    return this.#stmt.hourIdle.all(fromTs, toTs).map(([hourTs, gpuMj, cpuMj, otherMj]) => ({ hourTs, energyMj: { gpuMj, cpuMj, otherMj } }));
  }

  /** Each node's measured hours in [fromTs, toTs) as runs of consecutive hours; nodes without any are absent. */
  measured(fromTs: number, toTs: number): Map<string, Array<{ fromTs: number; toTs: number }>> {
    const out = new Map<string, Array<{ fromTs: number; toTs: number }>>();
    let node = '';
    let list: Array<{ fromTs: number; toTs: number }> = [];
    for (const [name, dayTs, mask] of this.#stmt.nodeDays.iterate(Math.floor(fromTs / DAY_MS) * DAY_MS, toTs)) {
      if (name !== node) {
        node = name;
        list = [];
      }
      // Most days are whole: one step instead of 24.
      const whole = mask === WHOLE_DAY && dayTs >= fromTs && dayTs + DAY_MS <= toTs;
      for (let b = 0; b < 24; b += whole ? 24 : 1) {
        if ((mask & (1 << b)) === 0) continue;
        const ts = dayTs + b * HOUR_MS;
        if (ts < fromTs || ts >= toTs) continue;
        const end = whole ? ts + DAY_MS : ts + HOUR_MS;
        const last = list[list.length - 1];
        if (last !== undefined && last.toTs === ts) last.toTs = end;
        else {
          list.push({ fromTs: ts, toTs: end });
          if (list.length === 1) out.set(node, list);
        }
      }
    }
    return out;
  }
}
