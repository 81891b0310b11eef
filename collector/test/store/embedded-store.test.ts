import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { sliceReportHours } from '../../src/store/report-slices.js';
import type { JobAllocation } from '@stroom/protocol';
import type { Logger } from 'pino';
import { T0, alloc, booksSnapshot, describeStore, effect, hello } from './store.contract.js';
import type { EffectSpec } from './store.contract.js';

describeStore('EmbeddedStore', () => new EmbeddedStore(':memory:'), undefined, { rollsUpSeries: true });

// What only SQLite has: a file, WAL, a schema version and its migration, row counts on prune.
describe('EmbeddedStore (SQLite only)', () => {
  const dirs: string[] = [];
  const tmp = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'stroom-store-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps its books in stroom.db in WAL mode, and finds them again after a reopen', () => {
    const dir = tmp();
    const store = new EmbeddedStore(dir);
    store.commit([effect({ node: 'n1', ts: T0 + 1000, seq: 1, jobs: [alloc('1', ['g0'])], jobsMj: { 1: { gpuMj: 700, cpuMj: 70, otherMj: 7 } }, idleMj: 30, gpuSeconds: { 1: 1 } })]);
    expect(store.endJob('1', 'n1', T0 + 2000)).toBe(true);
    const books = booksSnapshot(store);
    store.close();

    const raw = new Database(join(dir, 'stroom.db'), { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('user_version', { simple: true })).toBe(5);
    raw.close();

    const again = new EmbeddedStore(dir);
    expect(booksSnapshot(again)).toEqual(books);
    expect(again.loadLedger('n1', 'e1')).toEqual({ node: 'n1', epoch: 'e1', lastSeq: 1, lastTs: T0 + 1000, counters: { 'i:gpu': 1 } });
    again.close();
  });

  it('migrates a version 1 data directory (no modelled other energy, no job hours) in place', () => {
    const dir = join(tmp(), 'data');
    mkdirSync(dir);
    const v1 = new Database(join(dir, 'stroom.db'));
    v1.exec(`
      CREATE TABLE jobs (id TEXT PRIMARY KEY, user TEXT NOT NULL, account TEXT NOT NULL, name TEXT, partition TEXT,
        start_ts INTEGER NOT NULL, end_ts INTEGER, state TEXT NOT NULL);
      CREATE TABLE job_nodes (job_id TEXT NOT NULL, node TEXT NOT NULL, gpus INTEGER NOT NULL DEFAULT 0,
        running INTEGER NOT NULL, end_ts INTEGER, gpu_mj INTEGER NOT NULL DEFAULT 0, cpu_mj INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, node)) WITHOUT ROWID;
      CREATE TABLE node_hours (node TEXT NOT NULL, hour_ts INTEGER NOT NULL,
        device_gpu_mj INTEGER NOT NULL DEFAULT 0, device_cpu_mj INTEGER NOT NULL DEFAULT 0,
        idle_gpu_mj INTEGER NOT NULL DEFAULT 0, idle_cpu_mj INTEGER NOT NULL DEFAULT 0,
        jobs_mj INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (node, hour_ts)) WITHOUT ROWID;
    `);
    v1.prepare("INSERT INTO jobs VALUES ('old', 'u1', 'A', NULL, NULL, ?, NULL, 'running')").run(T0 - 60_000);
    v1.prepare("INSERT INTO job_nodes VALUES ('old', 'n1', 2, 1, NULL, 5000, 500)").run();
    v1.prepare('INSERT INTO node_hours VALUES (?, ?, 6000, 600, 1000, 100, 5500)').run('n1', T0);
    v1.pragma('user_version = 1');
    v1.close();

    const store = new EmbeddedStore(dir);
    expect(store.job('old')).toEqual({
      id: 'old', user: 'u1', account: 'A', name: null, partition: null, state: 'running',
      startTs: T0 - 60_000, endTs: null, nodes: ['n1'], gpus: 2, energyMj: { gpuMj: 5000, cpuMj: 500, otherMj: 0 },
      gpuSeconds: 0, gpuUse: { utilS: 0, utilKnownS: 0, idleS: 0 },
    });
    expect(store.nodeBalance(0, Number.MAX_SAFE_INTEGER)).toEqual([{ node: 'n1', deviceMj: 6600, otherMj: 0, jobsMj: 5500, idleMj: 1100 }]);
    // The old job is still on n1's map: new energy with modelled other energy lands on it.
    store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('old', ['g0', 'g1'], { user: 'u1', account: 'A', startTs: T0 - 60_000 })], jobsMj: { old: { gpuMj: 10, cpuMj: 1, otherMj: 3 } } })]);
    expect(store.job('old')?.energyMj).toEqual({ gpuMj: 5010, cpuMj: 501, otherMj: 3 });
    expect(store.jobHours('old')).toEqual([{ node: 'n1', hourTs: T0, energyMj: { gpuMj: 10, cpuMj: 1, otherMj: 3 }, gpuSeconds: 0, gpuUse: { utilS: 0, utilKnownS: 0, idleS: 0 } }]);
    store.close();
    const raw = new Database(join(dir, 'stroom.db'), { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(5);
    raw.close();
  });

  it('writes each node\'s open GPU bucket at close, so a clean stop keeps the whole chart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stroom-gpu-'));
    const store = new EmbeddedStore(dir);
    store.commit([effect({ node: 'n1', ts: T0 + 1000, samples: [{ ts: T0 + 1000, cpus: [], gpus: [{ uuid: 'g0', powerW: 123 }] }] })]);
    store.close();
    const again = new EmbeddedStore(dir);
    expect((await again.gpuSeries('n1', 0, Number.MAX_SAFE_INTEGER)).map((b) => b.powerSumW)).toEqual([[123]]);
    again.close();
  });

  /**
   * Random books through the commit path: jobs seen in counters before their map, jobs whose
   * account, user or partition changes, nodes of two GPU models, hours without data, late
   * batches. The report roll-ups kept at commit time must equal both the books summed directly
   * (SQL over job_hours and node_hours) and the roll-ups a version 3 directory gets on upgrade.
   */
  it('keeps report roll-ups at commit time that equal the books summed directly and a rebuild', () => {
    const dir = tmp();
    let store = new EmbeddedStore(dir);
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const HOUR = 3_600_000;
    const nodes = ['n1', 'n2', 'n3', 'n4'];
    for (const n of nodes.slice(0, 3)) {
      const h = hello(n, T0 - HOUR);
      if (n === 'n2') h.inventory.gpus.forEach((g) => { g.name = 'NVIDIA H200'; });
      store.putNode(h);
    }
    const maps = new Map<string, JobAllocation[]>(nodes.map((n) => [n, []]));
    const seq = new Map<string, number>();
    for (let step = 0; step < 400; step++) {
      const effects = [];
      for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) {
        const node = pick(nodes);
        const r = rnd();
        const map = maps.get(node) as JobAllocation[];
        if (r < 0.15) map.push(alloc(`j${step}-${k}`, ['g0'], { account: pick(['A', 'B', 'C']), user: pick(['u1', 'u2']), ...(rnd() < 0.5 ? { partition: pick(['gpu', 'big']) } : {}) }));
        else if (r < 0.25 && map.length > 0) map.splice(Math.floor(rnd() * map.length), 1);
        else if (r < 0.3 && map.length > 0) map[0] = { ...(map[0] as JobAllocation), account: pick(['A', 'B', 'C']), user: pick(['u1', 'u2']) };
        // Energy for jobs on the map, and sometimes for a job no map named yet.
        const ids = [...map.map((j) => j.id), ...(rnd() < 0.2 ? [`j${step + 3}-0`] : [])];
        const jobsMj: Record<string, number> = {};
        const gpuSeconds: Record<string, number> = {};
        const gpuUse: EffectSpec['gpuUse'] = {};
        for (const id of ids) {
          jobsMj[id] = Math.floor(rnd() * 1000);
          gpuSeconds[id] = Math.floor(rnd() * 8) / 4;
          gpuUse[id] = { utilS: Math.floor(rnd() * 8) / 8, utilKnownS: 1, idleS: rnd() < 0.2 ? 1 : 0 };
        }
        // Mostly forward in time (skipping some hours), sometimes a late batch.
        const hour = rnd() < 0.1 ? Math.floor(rnd() * 30) : Math.floor(step / 8); // < 50: all inside the period
        const n = (seq.get(node) ?? 0) + 1;
        seq.set(node, n);
        effects.push(effect({ node, ts: T0 + hour * 2 * HOUR + Math.floor(rnd() * HOUR), seq: n, jobs: [...map], jobsMj, gpuSeconds, gpuUse, idleMj: Math.floor(rnd() * 50) }));
      }
      store.commit(effects);
      // Half way, a restart: the job groups come from the jobs table again, not from memory.
      if (step === 200) {
        store.close();
        store = new EmbeddedStore(dir);
      }
    }
    const MAX = Number.MAX_SAFE_INTEGER;
    const kinds = ['account', 'user', 'partition'] as const;
    const reports = kinds.map((by) => store.energyReport(by, T0, T0 + 120 * HOUR));
    store.close();

    const raw = new Database(join(dir, 'stroom.db'));
    kinds.forEach((by, i) => {
      const group = by === 'partition' ? "coalesce(j.partition, '')" : `j.${by}`;
      const direct = raw.prepare(`
        WITH model (node, gpu_model) AS (SELECT name, json_extract(hello, '$.inventory.gpus[0].name') FROM nodes)
        SELECT ${group} AS grp, h.hour_ts, coalesce(m.gpu_model, 'unknown') AS gpu_model, sum(h.gpu_mj) AS gpu_mj, sum(h.cpu_mj) AS cpu_mj,
          sum(h.other_mj) AS other_mj, sum(h.gpu_s) AS gpu_s, sum(h.util_s) AS util_s, sum(h.util_known_s) AS util_known_s, sum(h.idle_gpu_s) AS idle_gpu_s
        FROM job_hours h JOIN jobs j ON j.id = h.job_id LEFT JOIN model m ON m.node = h.node
        GROUP BY grp, h.hour_ts, gpu_model ORDER BY grp, h.hour_ts, gpu_model`).all() as Array<Record<string, number | string>>;
      expect(reports[i]!.slices).toEqual(sliceReportHours(direct.map((r) => ({
        group: String(r.grp), hourTs: Number(r.hour_ts), gpuModel: String(r.gpu_model), energyMj: { gpuMj: Number(r.gpu_mj), cpuMj: Number(r.cpu_mj), otherMj: Number(r.other_mj) },
        gpuSeconds: Number(r.gpu_s), utilSeconds: Number(r.util_s), utilKnownSeconds: Number(r.util_known_s), idleGpuSeconds: Number(r.idle_gpu_s),
      }))));
    });
    const idle = raw.prepare('SELECT hour_ts, sum(idle_gpu_mj) AS g, sum(idle_cpu_mj) AS c, sum(idle_other_mj) AS o FROM node_hours GROUP BY hour_ts ORDER BY hour_ts').all() as Array<Record<string, number>>;
    expect(reports[0]!.unallocated).toEqual(idle.map((r) => ({ hourTs: r.hour_ts, energyMj: { gpuMj: r.g, cpuMj: r.c, otherMj: r.o } })));
    const measured = new Map<string, number[]>();
    for (const r of raw.prepare('SELECT node, hour_ts FROM node_hours ORDER BY node, hour_ts').all() as Array<{ node: string; hour_ts: number }>) {
      measured.set(r.node, [...(measured.get(r.node) ?? []), r.hour_ts]);
    }
    expect(reports[0]!.nodes.map((n) => [n.node, n.measured.flatMap((run) => Array.from({ length: (run.toTs - run.fromTs) / HOUR }, (_, k) => run.fromTs + k * HOUR))]))
      .toEqual([...measured]);
    expect(new Set(reports[0]!.slices.map((h) => h.gpuModel))).toEqual(new Set(['NVIDIA H100 80GB HBM3', 'NVIDIA H200', 'unknown']));
    // A version 3 directory: the roll-ups are built from the books on open.
    raw.exec('DELETE FROM group_hours; DELETE FROM hour_idle; DELETE FROM node_days;');
    raw.pragma('user_version = 3');
    raw.close();
    const said: string[] = [];
    const log = { info: (_: object, msg: string) => said.push(msg) } as unknown as Pick<Logger, 'info'>;
    const again = new EmbeddedStore(dir, { log });
    expect(said).toEqual(['building report roll-ups from the books (once, on upgrade; about 3 min for a year of 1M jobs)', 'report roll-ups built']);
    expect(kinds.map((by) => again.energyReport(by, T0, T0 + 120 * HOUR))).toEqual(reports);
    expect(again.energyReport('account', 0, MAX).slices).toEqual(reports[0]!.slices);
    again.close();
  });

  it('reports energy under the GPU model a node had in that hour, and moves it from there when a job\'s account changes', () => {
    const dir = tmp();
    const store = new EmbeddedStore(dir);
    const HOUR = 3_600_000;
    store.putNode(hello('n1', T0 - HOUR));
    const job = (account: string) => alloc('7', ['g0'], { account, startTs: T0 });
    store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [job('A')], jobsMj: { 7: 100 }, gpuSeconds: { 7: 1 } })]);
    // The node's GPUs are swapped for H200s in the next hour (a new Hello), the job runs on.
    const h200 = hello('n1', T0 + HOUR + 5000);
    h200.inventory.gpus.forEach((g) => { g.name = 'NVIDIA H200'; });
    store.putNode(h200);
    store.commit([effect({ node: 'n1', ts: T0 + HOUR + 6000, seq: 2, jobs: [job('A')], jobsMj: { 7: 200 }, gpuSeconds: { 7: 2 } })]);
    const slices = (): unknown => store.energyReport('account', T0, T0 + 2 * HOUR).slices.map((x) => [x.group, x.gpuModel, x.hourEnergyMj, x.hourGpuSeconds]);
    expect(slices()).toEqual([['A', 'NVIDIA H100 80GB HBM3', [100], [1]], ['A', 'NVIDIA H200', [200], [2]]]);
    // Slurm moves the job to account B: both hours move, each under its own model, nothing left behind.
    store.commit([effect({ node: 'n1', ts: T0 + HOUR + 7000, seq: 3, jobs: [job('B')], jobsMj: { 7: 1 }, gpuSeconds: { 7: 1 } })]);
    expect(slices()).toEqual([['B', 'NVIDIA H100 80GB HBM3', [100], [1]], ['B', 'NVIDIA H200', [201], [3]]]);
    store.close();
    // A rebuild from the books gives the same, from the node's model history.
    const raw = new Database(join(dir, 'stroom.db'));
    raw.exec('DELETE FROM group_hours; DELETE FROM hour_idle; DELETE FROM node_days;');
    raw.pragma('user_version = 3');
    raw.close();
    const again = new EmbeddedStore(dir);
    expect(again.energyReport('account', T0, T0 + 2 * HOUR).slices.map((x) => [x.group, x.gpuModel, x.hourEnergyMj, x.hourGpuSeconds]))
      .toEqual([['B', 'NVIDIA H100 80GB HBM3', [100], [1]], ['B', 'NVIDIA H200', [201], [3]]]);
    again.close();
  });
});
