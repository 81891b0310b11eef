/**
 * InfluxStore against a real influxd (Debian's 1.6.7 in CI): the Store contract (each test's
 * books then read back from InfluxDB by a second store), and what only this store has — reopen,
 * retention policies, raw series without job ids, the series window and its async query,
 * coalesced and node-grouped writes, retries while InfluxDB refuses writes, and a collector
 * that dies with writes unsent or half sent losing no energy.
 * Each test gets its own database, dropped afterwards. Start influxd with
 * `deploy/local/influxdb.sh start`; without one the suite is skipped, except under CI=true.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { InfluxDB } from 'influx';
import type { IPoint, IWriteOptions } from 'influx';
import { pino } from 'pino';
import type { Batch } from '@stroom/protocol';
import { applyBatch, emptyLedger } from '../../src/ledger/ledger.js';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import type { InfluxStoreOptions } from '../../src/store/influx-store.js';
import type { BatchEffect, LedgerState, Store } from '../../src/store/store.js';
import { T0, alloc, booksSnapshot, describeStore, effect, hello } from './store.contract.js';

const URL_ = process.env.INFLUX_URL ?? 'http://127.0.0.1:8086';
const HOW = 'start one with `deploy/local/influxdb.sh start` (or set INFLUX_URL)';
const log = pino({ level: 'silent' });

async function reachable(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2000) })).status === 204;
  } catch {
    return false;
  }
}

const up = await reachable(URL_);
let seq = 0;
const created = new Set<string>();
/** A database name no other run or test uses. */
function freshDb(): string {
  const name = `stroom_test_${process.pid}_${Date.now().toString(36)}_${seq++}`;
  created.add(name);
  return name;
}
const options = (database: string, more: Partial<InfluxStoreOptions> = {}): InfluxStoreOptions => ({
  url: URL_, database, log, retention: { series: 'INF' }, flushIntervalMs: 50, ...more,
});
async function drop(database: string): Promise<void> {
  await InfluxStore.dropDatabase(URL_, database);
  created.delete(database);
}
/**
 * Run `fn` while every InfluxDB write goes through `hook` first: it may record the write, or
 * refuse it (throw) as if the collector had died before that request reached InfluxDB.
 */
async function withWrites<T>(hook: (points: IPoint[], rp: string) => void, fn: () => Promise<T>): Promise<T> {
  const write = InfluxDB.prototype.writePoints;
  InfluxDB.prototype.writePoints = function (this: InfluxDB, points: IPoint[], o?: IWriteOptions) {
    try {
      hook(points, o?.retentionPolicy ?? '');
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return write.call(this, points, o);
  };
  try {
    return await fn();
  } finally {
    InfluxDB.prototype.writePoints = write;
  }
}

/**
 * One node's batch with cumulative counters: 1000 mJ/s on its GPU, 800 of it job 7's and 200
 * idle while the job runs (seqs up to 10); without the job all of it is idle.
 */
function agentBatch(node: string, seq: number, jobs = true): Batch {
  return {
    v: 1, type: 'batch', node, epoch: 'e1', seq, ts: T0 + seq * 1000, samples: [],
    counters: {
      devices: [{ id: `GPU-${node}`, kind: 'gpu', energyMj: seq * 1000 }],
      jobs: jobs ? [{ id: '7', gpuEnergyMj: seq * 800, cpuEnergyMj: 0 }] : [],
      idle: { gpuEnergyMj: jobs ? seq * 200 : seq * 1000 - 8000, cpuEnergyMj: 0 },
    },
    jobs: jobs ? [alloc('7', [`GPU-${node}`])] : [],
    gaps: 0,
  };
}

/** The committer's part: offer batches to the ledger (state from the store), commit the effects. */
function ingest(store: Store, batches: Batch[], ledgers: Map<string, LedgerState>): void {
  const effects: BatchEffect[] = [];
  for (const b of batches) {
    const state = ledgers.get(b.node) ?? store.loadLedger(b.node, b.epoch) ?? emptyLedger(b.node, b.epoch);
    const r = applyBatch(state, b);
    if (r.kind === 'duplicate') continue;
    ledgers.set(b.node, r.effect.ledger);
    effects.push(r.effect);
  }
  store.commit(effects);
}

/** Poll until `check` passes (for writes that land in the background). */
async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

if (!up && process.env.CI === 'true') {
  describe('InfluxStore', () => {
    it('needs influxd in CI', () => {
      throw new Error(`no influxd answers ${URL_}/ping with 204; CI must ${HOW}`);
    });
  });
} else if (!up) {
  console.warn(`InfluxStore tests skipped: no influxd at ${URL_}; ${HOW}`);
  describe.skip(`InfluxStore (skipped: no influxd at ${URL_}; ${HOW})`, () => {
    it('runs the Store contract against influxd', () => undefined);
  });
} else {
  afterAll(async () => {
    for (const db of [...created]) await drop(db);
  });

  // Every contract test ends by writing everything to InfluxDB and reading it back through a
  // second store: the books InfluxDB holds must be the books the mirror answered with.
  describeStore('InfluxStore', () => InfluxStore.open(options(freshDb())), async (store: Store) => {
    const s = store as InfluxStore;
    await s.flush();
    const again = await InfluxStore.open(options(s.database));
    expect(booksSnapshot(again)).toEqual(booksSnapshot(s));
    again.close();
    s.close();
    await drop(s.database);
  });

  describe('InfluxStore (InfluxDB only)', () => {
    it('gives back the same books, ledger and nodes after a reopen, and carries on from them', async () => {
      const db = freshDb();
      const a = await InfluxStore.open(options(db));
      const jobs = [alloc('1', ['g0', 'g1'], { name: 'train', partition: 'gpu' }), alloc('2', ['g2'])];
      a.commit([
        effect({ node: 'n1', ts: T0 + 1000, seq: 1, jobs, jobsMj: { 1: { gpuMj: 1000, cpuMj: 100, otherMj: 10 }, 2: 50 }, gpuSeconds: { 1: 2, 2: 1 }, idleMj: 7, counters: { 'd:GPU-0': 123, 'j:1': 9 } }),
        effect({ node: 'n2', ts: T0 + 1000, seq: 1, jobs: [alloc('1', ['h0'])], jobsMj: { 1: 400 }, gpuSeconds: { 1: 1 } }),
      ]);
      a.commit([effect({ node: 'n1', ts: T0 + 2000, seq: 2, jobs: [jobs[0]!], jobsMj: { 1: 500, 3: 9 } })]);
      expect(a.endJob('1', 'n2', T0 + 1500)).toBe(true);
      a.putNode(hello('n1', T0));
      await a.flush();
      expect(a.pending).toBe(0);

      const b = await InfluxStore.open(options(db));
      expect(booksSnapshot(b)).toEqual(booksSnapshot(a));
      expect(b.loadLedger('n1', 'e1')).toEqual({ node: 'n1', epoch: 'e1', lastSeq: 2, lastTs: T0 + 2000, counters: { 'i:gpu': 2 } });
      expect(b.loadLedger('n2', 'e1')).toEqual({ node: 'n2', epoch: 'e1', lastSeq: 1, lastTs: T0 + 1000, counters: { 'i:gpu': 1 } });
      expect(b.job('2')).toMatchObject({ state: 'completed', endTs: T0 + 2000 });
      expect(b.job('3')).toMatchObject({ state: 'completed', user: '', startTs: T0 + 2000 });
      a.close();

      // The reopened store runs on: job 1 ends on n1, and that lands as well.
      b.commit([effect({ node: 'n1', ts: T0 + 3000, seq: 3, jobsMj: { 1: 1 } })]);
      expect(b.job('1')).toMatchObject({ state: 'completed', endTs: T0 + 3000, energyMj: { gpuMj: 1901, cpuMj: 100, otherMj: 10 } });
      await b.flush();
      const c = await InfluxStore.open(options(db));
      expect(booksSnapshot(c)).toEqual(booksSnapshot(b));
      b.close();
      c.close();
    });

    it('creates the books (infinite, default) and series retention policies, and follows a changed duration', async () => {
      const db = freshDb();
      (await InfluxStore.open(options(db, { retention: { series: '30d' } }))).close();
      const influx = new InfluxDB({ host: new URL(URL_).hostname, port: Number(new URL(URL_).port || 8086) });
      const rps = async (): Promise<unknown[]> =>
        (await influx.showRetentionPolicies(db)).filter((p) => p.name !== 'autogen').map((p) => ({ name: p.name, duration: p.duration, default: p.default }));
      expect(await rps()).toEqual([
        { name: 'books', duration: '0s', default: true },
        { name: 'series', duration: '720h0m0s', default: false },
      ]);
      (await InfluxStore.open(options(db, { retention: { series: '7d' } }))).close();
      expect(await rps()).toEqual([
        { name: 'books', duration: '0s', default: true },
        { name: 'series', duration: '168h0m0s', default: false },
      ]);
      await expect(InfluxStore.open(options(db, { retention: { series: '30 days; DROP DATABASE x' } }))).rejects.toThrow(/InfluxQL duration/);
    });

    it('writes raw series without job ids, and node energy that sums to the 10 s buckets', async () => {
      const db = freshDb();
      const store = await InfluxStore.open(options(db));
      const jobs = [alloc('99', ['GPU-a'])];
      store.commit([
        effect({ node: 'n1', ts: T0 + 1000, jobs, jobsMj: { 99: 100 }, idleMj: 20 }),
        effect({ node: 'n1', ts: T0 + 9000, seq: 2, jobs, jobsMj: { 99: 200 } }),
        effect({ node: 'n1', ts: T0 + 12_000, seq: 3, jobs, jobsMj: { 99: 300 }, idleMj: 1 }),
      ]);
      const queued = store.writeSamples('n1', [
        { ts: T0 + 1000, gpus: [{ uuid: 'GPU-a', powerW: 412.5, tempC: 61, utilRatio: 0.97 }, { uuid: 'GPU-b', powerW: 80 }, { uuid: 'GPU-c' }], cpus: [] },
        { ts: T0 + 2000, gpus: [{ uuid: 'GPU-a', powerW: 415, smClockMHz: 1980 }], cpus: [] },
      ]);
      expect(queued).toBe(3);
      await store.flush();

      const influx = new InfluxDB({ host: new URL(URL_).hostname, port: Number(new URL(URL_).port || 8086), database: db });
      const tagKeys = async (m: string): Promise<string[]> => (await influx.query<{ tagKey: string }>(`SHOW TAG KEYS FROM "${m}"`)).map((r) => r.tagKey).sort();
      expect(await tagKeys('gpu')).toEqual(['gpu', 'node']);
      expect(await tagKeys('node_series')).toEqual(['node']);
      const gpu = await influx.query<Record<string, unknown>>('SELECT * FROM "series"."gpu" ORDER BY time', { precision: 'ms' });
      expect(gpu.map(({ time, ...r }) => ({ ts: time.getTime(), ...r }))).toEqual([
        { ts: T0 + 1000, node: 'n1', gpu: 'GPU-a', power_w: 412.5, temp_c: 61, util_ratio: 0.97, sm_clock_mhz: null },
        { ts: T0 + 1000, node: 'n1', gpu: 'GPU-b', power_w: 80, temp_c: null, util_ratio: null, sm_clock_mhz: null },
        { ts: T0 + 2000, node: 'n1', gpu: 'GPU-a', power_w: 415, temp_c: null, util_ratio: null, sm_clock_mhz: 1980 },
      ]);
      const buckets = await influx.query<{ sum: number }>(
        `SELECT sum(energy_mj) FROM "series"."node_series" WHERE time >= ${T0}ms AND time < ${T0 + 30_000}ms GROUP BY time(10s) fill(none)`, { precision: 'ms' });
      expect(buckets.map((r) => [r.time.getTime(), r.sum])).toEqual([[T0, 320], [T0 + 10_000, 301]]);
      store.close();
    });

    it('coalesces a row changed many times between writes into one point', async () => {
      const store = await InfluxStore.open(options(freshDb(), { flushIntervalMs: 60_000 }));
      const jobs = [alloc('1', ['g0'])];
      const effects = Array.from({ length: 50 }, (_, i) => effect({ node: 'n1', ts: T0 + 100 * (i + 1), seq: i + 1, jobs, jobsMj: { 1: 10 }, idleMj: 1 }));
      for (const e of effects) store.commit([e]);
      await store.flush();
      // One point each for ledger, job, job_node, job_hour and node_hour; the series are one point per batch.
      expect(store.stats).toEqual({ pointsWritten: 5 + 50 + 50, writes: 2, writeErrors: 0, droppedPoints: 0 });
      store.close();
    });

    it('keeps the books and retries while InfluxDB refuses writes; flush() reports it', async () => {
      const db = freshDb();
      const store = await InfluxStore.open(options(db, { flushIntervalMs: 60_000 }));
      store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('1', ['g0'])], jobsMj: { 1: 10 } })]);
      await store.flush();
      await InfluxStore.dropDatabase(URL_, db);
      store.commit([effect({ node: 'n1', ts: T0 + 2000, seq: 2, jobs: [alloc('1', ['g0'])], jobsMj: { 1: 5 } })]);
      store.putNode(hello('n1', T0));
      await expect(store.flush()).rejects.toThrow(/write\(s\) failed/);
      expect(store.stats.writeErrors).toBeGreaterThan(0);
      expect(store.pending).toBeGreaterThan(0);
      expect(store.job('1')?.energyMj.gpuMj).toBe(15);
      // InfluxDB is back (an operator recreated the database): what the mirror holds lands.
      (await InfluxStore.open(options(db))).close();
      await store.flush();
      const again = await InfluxStore.open(options(db));
      // Only rows touched since the outage were resent: the job row itself was not.
      expect(again.job('1')?.energyMj.gpuMj).toBe(15);
      expect(again.nodes()).toEqual(store.nodes());
      expect(again.loadLedger('n1', 'e1')).toEqual(store.loadLedger('n1', 'e1'));
      again.close();
      store.close();
    });

    it('writes what is pending when closed', async () => {
      const db = freshDb();
      const store = await InfluxStore.open(options(db, { flushIntervalMs: 60_000 }));
      store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('1', ['g0'])], jobsMj: { 1: 10 } })]);
      const books = booksSnapshot(store);
      store.close();
      expect(() => store.commit([])).toThrow(/closed/);
      await eventually(async () => {
        const again = await InfluxStore.open(options(db));
        expect(booksSnapshot(again)).toEqual(books);
        again.close();
      });
    });

    it('splits a Hello larger than an InfluxDB string field (64 KB) and joins it again', async () => {
      const db = freshDb();
      const store = await InfluxStore.open(options(db));
      const big = hello('fat', T0, 1024);
      expect(JSON.stringify(big).length).toBeGreaterThan(100_000);
      store.putNode(big);
      await store.flush();
      const again = await InfluxStore.open(options(db));
      expect(again.nodes()).toEqual(new Map([['fat', big]]));
      again.close();
      store.close();
    });

    it('keeps the newest seriesWindowMs of job series in the mirror; queryJobSeries has all, bucketed as EmbeddedStore does', async () => {
      const db = freshDb();
      const store = await InfluxStore.open(options(db, { seriesWindowMs: 60_000 }));
      const sqlite = new EmbeddedStore(':memory:');
      const jobs = [alloc('w', ['g0'])];
      const effects: BatchEffect[] = [];
      // n1 reports every 3 s, n2 every 4 s, for 5 minutes; energies vary, some are 0.
      for (let t = 1000; t <= 300_000; t += 1000) {
        if (t % 3000 === 0) effects.push(effect({ node: 'n1', ts: T0 + t, seq: t / 3000, jobs, jobsMj: { w: (t / 1000) % 7 }, idleMj: 1 }));
        if (t % 4000 === 0) effects.push(effect({ node: 'n2', ts: T0 + t, seq: t / 4000, jobs, jobsMj: { w: { gpuMj: t / 1000, cpuMj: 2, otherMj: 1 } } }));
        if (effects.length >= 10) {
          store.commit(effects);
          sqlite.commit(effects);
          effects.length = 0;
        }
      }
      store.commit(effects);
      sqlite.commit(effects);
      const all = sqlite.jobSeries('w', 0, Number.MAX_SAFE_INTEGER);
      const newest = Math.max(...all.map((p) => p.bucketTs));
      expect(newest).toBe(T0 + 300_000);
      expect(store.jobSeries('w', 0, Number.MAX_SAFE_INTEGER)).toEqual(all.filter((p) => p.bucketTs >= newest - 60_000));
      for (const [from, to] of [[0, Number.MAX_SAFE_INTEGER], [T0 + 12_345, T0 + 123_456], [T0 + 10_000, T0 + 20_000], [T0 + 5, T0 + 6], [T0 + 290_000, T0 + 400_000]] as const) {
        expect(await store.queryJobSeries('w', from, to)).toEqual(sqlite.jobSeries('w', from, to));
      }
      expect(await store.queryJobSeries('nope', 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
      // A reopened store holds the same window.
      const again = await InfluxStore.open(options(db, { seriesWindowMs: 60_000 }));
      expect(again.jobSeries('w', 0, Number.MAX_SAFE_INTEGER)).toEqual(store.jobSeries('w', 0, Number.MAX_SAFE_INTEGER));
      again.close();
      // And pruning drops the 10 s buckets that start before the edge, also at an edge that is
      // not a bucket's (SQLite would roll them up into minutes; InfluxDB has no roll-ups).
      store.pruneSeries(T0 + 100_001);
      expect(await store.queryJobSeries('w', 0, Number.MAX_SAFE_INTEGER)).toEqual(all.filter((p) => p.bucketTs >= T0 + 110_000));
      sqlite.close();
      store.close();
    });

    it('writes each node\'s ledger state and energy rows in one request, whatever the batch size', async () => {
      const requests: Array<Set<string>> = [];
      await withWrites((points, rp) => {
        if (rp === 'books') requests.push(new Set(points.filter((p) => p.measurement !== 'job' && p.measurement !== 'node').map((p) => p.tags!.node!)));
      }, async () => {
        const store = await InfluxStore.open(options(freshDb(), { batchSize: 3, flushIntervalMs: 60_000 }));
        const ledgers = new Map<string, LedgerState>();
        for (let seq = 1; seq <= 3; seq++) ingest(store, ['n1', 'n2', 'n3', 'n4'].map((n) => agentBatch(n, seq)), ledgers);
        await store.flush();
        store.close();
      });
      const where = new Map<string, number>();
      requests.forEach((nodes, i) => {
        for (const n of nodes) {
          expect(where.get(n)).toBeUndefined();
          where.set(n, i);
        }
      });
      expect([...where.keys()].sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    });

    it('loses no energy when the collector dies with writes unsent or half sent: the ledger resumes from what landed', async () => {
      const db = freshDb();
      const nodes = ['n1', 'n2', 'n3', 'n4'];
      // Before the crash: seqs 1-4 written, 5-6 committed (and acked) with half their writes lost.
      let crashing = false;
      let books = 0;
      await withWrites((_points, rp) => {
        if (crashing && rp === 'books' && ++books % 2 === 0) throw new Error('collector died before this request');
      }, async () => {
        const store = await InfluxStore.open(options(db, { batchSize: 1, flushIntervalMs: 60_000 }));
        const ledgers = new Map<string, LedgerState>();
        for (let seq = 1; seq <= 4; seq++) ingest(store, nodes.map((n) => agentBatch(n, seq)), ledgers);
        await store.flush();
        crashing = true;
        for (let seq = 5; seq <= 6; seq++) ingest(store, nodes.map((n) => agentBatch(n, seq)), ledgers);
        await expect(store.flush()).rejects.toThrow(/collector died/);
        // kill -9: no close(), nothing more leaves this store.
      });
      // After the restart: the agents send from seq 7 on (1-6 were acked).
      const store = await InfluxStore.open(options(db));
      const seqs = nodes.map((n) => store.loadLedger(n, 'e1')!.lastSeq);
      expect(seqs.some((q) => q === 4) && seqs.some((q) => q === 6)).toBe(true);
      const ledgers = new Map<string, LedgerState>();
      for (let seq = 7; seq <= 10; seq++) ingest(store, nodes.map((n) => agentBatch(n, seq)), ledgers);
      ingest(store, nodes.map((n) => agentBatch(n, 11, false)), ledgers);
      // The truth: 10 s of 800 mJ/s for job 7 on each of 4 nodes (the 11th second is idle).
      expect(store.job('7')).toEqual({
        id: '7', user: 'u.devries', account: 'surf-llm', name: null, partition: null, state: 'completed',
        startTs: T0, endTs: T0 + 11_000, nodes, gpus: 4, energyMj: { gpuMj: 4 * 10 * 800, cpuMj: 0, otherMj: 0 },
        // And its GPU time: 1 GPU on each of 4 nodes for the same 10 s.
        gpuSeconds: 40, gpuUse: { utilS: 0, utilKnownS: 0, idleS: 0 },
      });
      expect(store.jobHours('7').reduce((a, h) => a + h.gpuSeconds, 0)).toBe(4 * 10);
      expect(store.nodeBalance(0, Number.MAX_SAFE_INTEGER)).toEqual(nodes.map((node) => ({ node, deviceMj: 11_000, otherMj: 0, jobsMj: 8000, idleMj: 3000 })));
      await store.flush();
      store.close();
    });

    it('re-derives a job\'s state at open when its own row did not land but its node rows did', async () => {
      const db = freshDb();
      let ended = false;
      await withWrites((points) => {
        if (ended && points.some((p) => p.measurement === 'job')) throw new Error('collector died before this request');
      }, async () => {
        // batchSize 1: the job's row goes in a request of its own.
        const store = await InfluxStore.open(options(db, { flushIntervalMs: 60_000, batchSize: 1 }));
        store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('5', ['g0'])], jobsMj: { 5: 10 } })]);
        await store.flush();
        store.commit([effect({ node: 'n1', ts: T0 + 2000, seq: 2, jobsMj: { 5: 5 } })]);
        ended = true;
        await expect(store.flush()).rejects.toThrow(/collector died/);
      });
      const store = await InfluxStore.open(options(db));
      expect(store.job('5')).toEqual({
        id: '5', user: 'u.devries', account: 'surf-llm', name: null, partition: null, state: 'completed',
        startTs: T0, endTs: T0 + 2000, nodes: ['n1'], gpus: 1, energyMj: { gpuMj: 15, cpuMj: 0, otherMj: 0 },
        gpuSeconds: 0, gpuUse: { utilS: 0, utilKnownS: 0, idleS: 0 },
      });
      // ... and writes the repaired row.
      await store.flush();
      const again = await InfluxStore.open(options(db));
      expect(again.job('5')).toEqual(store.job('5'));
      again.close();
      store.close();
    });

    it('answers a large mirror quickly: 20,000 jobs listed, paged and summed in milliseconds', async () => {
      const db = freshDb();
      const store = await InfluxStore.open(options(db, { flushIntervalMs: 60_000 }));
      for (let n = 0; n < 200; n++) {
        const jobs = Array.from({ length: 100 }, (_, i) => alloc(`${n}-${i}`, ['g'], { startTs: T0 - (n * 100 + i) * 1000 }));
        store.commit([effect({ node: `n${n}`, ts: T0 + 1000, jobs, jobsMj: Object.fromEntries(jobs.map((j) => [j.id, 1])) })]);
      }
      const t0 = performance.now();
      const page = store.jobs({ limit: 50, after: { startTs: T0 - 10_000_000, id: '' }, state: 'running' });
      const energy = store.jobEnergy(page.map((j) => j.id));
      const ms = performance.now() - t0;
      expect(page).toHaveLength(50);
      expect(energy.size).toBe(50);
      expect(ms).toBeLessThan(50);
      // Nothing here needs writing: drop the database first, so close() has nowhere to write.
      await drop(db);
      store.close();
    });
  });
}
