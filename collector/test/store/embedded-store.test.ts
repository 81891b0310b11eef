import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { T0, alloc, booksSnapshot, describeStore, effect } from './store.contract.js';

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
    expect(raw.pragma('user_version', { simple: true })).toBe(3);
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
    expect(raw.pragma('user_version', { simple: true })).toBe(3);
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
});
