/**
 * The Store contract: every behaviour of the `Store` interface, run against each store
 * (`describeStore('EmbeddedStore', ...)`, `describeStore('InfluxStore', ...)`), with whole-object
 * expectations so a store cannot pass by matching only the fields a test happens to look at.
 * Energies are mJ, times ms since the epoch (UTC).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Hello, JobAllocation, Sample } from '@stroom/protocol';
import type { BatchEffect, EnergyReportData, GpuBucket, GpuUse, JobRecord, SplitMj, Store } from '../../src/store/store.js';

const NO_USE: GpuUse = { utilS: 0, utilKnownS: 0, idleS: 0 };

/** 2026-11-30 10:00:00 UTC, on an hour boundary. */
export const T0 = Date.UTC(2026, 10, 30, 10, 0);
const HOUR = 3_600_000;
const MAX = Number.MAX_SAFE_INTEGER;
const Z: SplitMj = { gpuMj: 0, cpuMj: 0, otherMj: 0 };

/** A job allocation as an agent reports it (user u.devries, account surf-llm unless given). */
export function alloc(id: string, gpus: string[], more: Partial<JobAllocation> = {}): JobAllocation {
  return { id, user: 'u.devries', account: 'surf-llm', startTs: T0, gpus, cpuCores: 8, ...more };
}

type Mj = number | Partial<SplitMj>;
const split = (m: Mj | undefined): SplitMj => (typeof m === 'number' ? { gpuMj: m, cpuMj: 0, otherMj: 0 } : { ...Z, ...m });
const add = (a: SplitMj, b: SplitMj): SplitMj => ({ gpuMj: a.gpuMj + b.gpuMj, cpuMj: a.cpuMj + b.cpuMj, otherMj: a.otherMj + b.otherMj });
const total = (m: SplitMj): number => m.gpuMj + m.cpuMj + m.otherMj;

/** What one batch changes; node energy is jobs + idle, as the ledger makes it. */
export interface EffectSpec {
  readonly node: string;
  /** Batch time, ms. */
  readonly ts: number;
  readonly seq?: number;
  readonly epoch?: string;
  readonly jobs?: JobAllocation[];
  readonly jobsMj?: Record<string, Mj>;
  readonly gpuSeconds?: Record<string, number>;
  readonly gpuUse?: Record<string, GpuUse>;
  readonly samples?: Sample[];
  readonly idleMj?: Mj;
  readonly counters?: Record<string, number>;
}

/** A BatchEffect from a spec. */
export function effect(s: EffectSpec): BatchEffect {
  const jobsMj = new Map(Object.entries(s.jobsMj ?? {}).map(([id, m]) => [id, split(m)] as const));
  const idleMj = split(s.idleMj ?? 0);
  const nodeMj = [...jobsMj.values()].reduce(add, idleMj);
  const seq = s.seq ?? 1;
  return {
    node: s.node,
    ts: s.ts,
    ledger: { node: s.node, epoch: s.epoch ?? 'e1', lastSeq: seq, lastTs: s.ts, counters: s.counters ?? { 'i:gpu': seq } },
    nodeMj,
    idleMj,
    jobsMj,
    gpuSeconds: new Map(Object.entries(s.gpuSeconds ?? {})),
    gpuUse: new Map(Object.entries(s.gpuUse ?? {})),
    samples: s.samples ?? [],
    jobs: s.jobs ?? [],
  };
}

/** A node's Hello with `gpus` H100s. */
export function hello(node: string, ts: number, gpus = 2): Hello {
  return {
    v: 1,
    type: 'hello',
    node,
    epoch: 'e1',
    agentVersion: '0.1.0',
    ts,
    intervalMs: 1000,
    inventory: {
      gpus: Array.from({ length: gpus }, (_, i) => ({ uuid: `GPU-${node}-${i}`, index: i, name: 'NVIDIA H100 80GB HBM3', powerLimitW: 700, hasEnergyCounter: true })),
      cpus: [{ id: '0', model: 'AMD EPYC 9334', cores: 32 }],
    },
    sources: [{ name: 'nvml', state: 'ok' }, { name: 'rapl', state: 'disabled', reason: 'no /sys/class/powercap' }],
  };
}

/** A report's job books as [group, hours after T0, job mJ, GPU-seconds] per group, hour and GPU model, in that order. */
export function hourRows(data: EnergyReportData): Array<[string, number, number, number]> {
  return data.slices
    .flatMap((s) => s.hourTs.map((ts, k) => ({ s, ts, k })))
    .sort((a, b) => (a.s.group < b.s.group ? -1 : a.s.group > b.s.group ? 1 : a.ts - b.ts || (a.s.gpuModel < b.s.gpuModel ? -1 : a.s.gpuModel > b.s.gpuModel ? 1 : 0)))
    .map(({ s, ts, k }) => [s.group, (ts - T0) / HOUR, s.hourEnergyMj[k] as number, s.hourGpuSeconds[k] as number]);
}

/** Every job's listing row, detail, hours and series: what a reopened store must give back. */
export function booksSnapshot(store: Store): unknown {
  const jobs = store.jobs({ limit: -1 });
  return {
    jobs,
    detail: jobs.map((j) => ({ job: store.job(j.id), hours: store.jobHours(j.id), series: store.jobSeries(j.id, 0, MAX) })),
    energy: [...store.jobEnergy(jobs.map((j) => j.id))],
    nodes: [...store.nodes()],
    balance: store.nodeBalance(0, MAX),
    cluster: store.clusterEnergyMj(0, MAX),
    report: store.energyReport('job', 0, MAX),
    byAccount: store.energyReport('account', 0, MAX),
    byUser: store.energyReport('user', 0, MAX).slices,
    byPartition: store.energyReport('partition', 0, MAX).slices,
  };
}

/**
 * Run the contract against a store. `make` gives a fresh, empty store per test; `cleanup`
 * gets it after each test (close it, and check or drop what it wrote).
 */
export function describeStore(
  name: string,
  make: () => Promise<Store> | Store,
  cleanup?: (store: Store) => Promise<void> | void,
  /** The store keeps 1-minute roll-ups of what raw-series retention drops (SQLite); InfluxDB rolls up at query time. */
  options: { readonly rollsUpSeries?: boolean } = {},
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await make();
    });
    afterEach(async () => {
      if (cleanup !== undefined) await cleanup(store);
      else store.close();
    });

    describe('ledger', () => {
      it('keeps the ledger state it is given, per node and epoch, and the latest one wins', () => {
        store.commit([effect({ node: 'n1', ts: T0 + 3000, seq: 3, counters: { 'i:gpu': 3, 'd:GPU-0': 123_456, 'j:42': 99 } })]);
        expect(store.loadLedger('n1', 'e1')).toEqual({ node: 'n1', epoch: 'e1', lastSeq: 3, lastTs: T0 + 3000, counters: { 'i:gpu': 3, 'd:GPU-0': 123_456, 'j:42': 99 } });
        expect(store.loadLedger('n1', 'e2')).toBeUndefined();
        expect(store.loadLedger('n2', 'e1')).toBeUndefined();

        store.commit([effect({ node: 'n1', ts: T0 + 4000, seq: 4, counters: { 'i:gpu': 4 } }), effect({ node: 'n1', epoch: 'e2', ts: T0 + 4500, seq: 1, counters: { 'i:cpu': 7 } })]);
        expect(store.loadLedger('n1', 'e1')).toEqual({ node: 'n1', epoch: 'e1', lastSeq: 4, lastTs: T0 + 4000, counters: { 'i:gpu': 4 } });
        expect(store.loadLedger('n1', 'e2')).toEqual({ node: 'n1', epoch: 'e2', lastSeq: 1, lastTs: T0 + 4500, counters: { 'i:cpu': 7 } });
      });

      it('keeps a copy: changing the committed or the loaded state later changes nothing', () => {
        const e = effect({ node: 'n1', ts: T0 + 1000, seq: 1, counters: { 'i:gpu': 1 } });
        store.commit([e]);
        // The committer keeps mutating its live ledger objects after a commit.
        e.ledger.counters['i:gpu'] = 999;
        e.ledger.lastSeq = 999;
        const loaded = store.loadLedger('n1', 'e1')!;
        loaded.counters['i:gpu'] = 555;
        expect(store.loadLedger('n1', 'e1')).toEqual({ node: 'n1', epoch: 'e1', lastSeq: 1, lastTs: T0 + 1000, counters: { 'i:gpu': 1 } });
      });
    });

    describe('energy books', () => {
      it('sums energy (GPU, CPU, modelled other) and GPU-seconds per job, node and UTC hour', () => {
        const jobs = [alloc('1', ['GPU-0', 'GPU-1']), alloc('2', ['GPU-2'], { user: 'a.jansen', account: 'surf-vision' })];
        store.commit([
          effect({
            node: 'n1', ts: T0 + 1000, jobs, jobsMj: { 1: { gpuMj: 1000, cpuMj: 200, otherMj: 50 }, 2: { gpuMj: 500, cpuMj: 100, otherMj: 25 } }, gpuSeconds: { 1: 2, 2: 1 },
            gpuUse: { 1: { utilS: 1.5, utilKnownS: 2, idleS: 0 }, 2: { utilS: 0.02, utilKnownS: 1, idleS: 1 } }, idleMj: { gpuMj: 100, cpuMj: 10, otherMj: 5 },
          }),
          effect({ node: 'n1', ts: T0 + HOUR - 1, seq: 2, jobs, jobsMj: { 1: { gpuMj: 3000, cpuMj: 600, otherMj: 150 } }, gpuSeconds: { 1: 1.5, 2: 0.5 }, idleMj: { gpuMj: 50 } }),
        ]);
        store.commit([effect({ node: 'n1', ts: T0 + HOUR, seq: 3, jobs, jobsMj: { 1: { gpuMj: 7, cpuMj: 3, otherMj: 1 } }, gpuSeconds: { 1: 0.25 }, gpuUse: { 1: { utilS: 0.125, utilKnownS: 0.25, idleS: 0.25 } } })]);

        expect(store.job('1')).toEqual({
          id: '1', user: 'u.devries', account: 'surf-llm', name: null, partition: null, state: 'running',
          startTs: T0, endTs: null, nodes: ['n1'], gpus: 2, energyMj: { gpuMj: 4007, cpuMj: 803, otherMj: 201 },
          gpuSeconds: 3.75, gpuUse: { utilS: 1.625, utilKnownS: 2.25, idleS: 0.25 },
        } satisfies JobRecord);
        expect(store.job('2')).toEqual({
          id: '2', user: 'a.jansen', account: 'surf-vision', name: null, partition: null, state: 'running',
          startTs: T0, endTs: null, nodes: ['n1'], gpus: 1, energyMj: { gpuMj: 500, cpuMj: 100, otherMj: 25 },
          gpuSeconds: 1.5, gpuUse: { utilS: 0.02, utilKnownS: 1, idleS: 1 },
        } satisfies JobRecord);
        expect(store.jobHours('1')).toEqual([
          { node: 'n1', hourTs: T0, energyMj: { gpuMj: 4000, cpuMj: 800, otherMj: 200 }, gpuSeconds: 3.5, gpuUse: { utilS: 1.5, utilKnownS: 2, idleS: 0 } },
          { node: 'n1', hourTs: T0 + HOUR, energyMj: { gpuMj: 7, cpuMj: 3, otherMj: 1 }, gpuSeconds: 0.25, gpuUse: { utilS: 0.125, utilKnownS: 0.25, idleS: 0.25 } },
        ]);
        // GPU-seconds without energy still count (a job that held GPUs but drew nothing measurable).
        expect(store.jobHours('2')).toEqual([{ node: 'n1', hourTs: T0, energyMj: { gpuMj: 500, cpuMj: 100, otherMj: 25 }, gpuSeconds: 1.5, gpuUse: { utilS: 0.02, utilKnownS: 1, idleS: 1 } }]);
        expect(store.jobHours('nope')).toEqual([]);

        const hour10 = 1000 + 200 + 50 + 500 + 100 + 25 + 100 + 10 + 5 + 3000 + 600 + 150 + 50;
        expect(store.nodeBalance(T0, T0 + HOUR)).toEqual([{ node: 'n1', deviceMj: hour10, otherMj: 50 + 25 + 5 + 150, jobsMj: 1250 + 625 + 3750, idleMj: 115 + 50 }]);
        expect(store.nodeBalance(0, MAX)).toEqual([{ node: 'n1', deviceMj: hour10 + 11, otherMj: 231, jobsMj: 5625 + 11, idleMj: 165 }]);
        expect(store.nodeBalance(T0 + 2 * HOUR, MAX)).toEqual([]);
        expect(store.clusterEnergyMj(T0, T0 + HOUR)).toBe(hour10);
        expect(store.clusterEnergyMj(T0 + HOUR, T0 + 2 * HOUR)).toBe(11);
        expect(store.clusterEnergyMj(0, MAX)).toBe(hour10 + 11);
      });

      it('balances jobs + idle against device energy (incl. modelled other) for every node and period', () => {
        let seed = 7;
        const rnd = (n: number): number => {
          seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
          return seed % n;
        };
        const nodes = ['gcn1', 'gcn2', 'gcn3'];
        const effects: BatchEffect[] = [];
        for (let s = 1; s <= 60; s++) {
          for (const node of nodes) {
            const ids = [`${node}-a`, `${node}-b`].filter(() => rnd(3) > 0);
            effects.push(effect({
              node, ts: T0 + s * 137_000, seq: s,
              jobs: ids.map((id) => alloc(id, [`GPU-${id}`])),
              jobsMj: Object.fromEntries(ids.map((id) => [id, { gpuMj: rnd(400_000), cpuMj: rnd(50_000), otherMj: rnd(20_000) }])),
              gpuSeconds: Object.fromEntries(ids.map((id) => [id, 1])),
              idleMj: { gpuMj: rnd(60_000), cpuMj: rnd(9000), otherMj: rnd(3000) },
            }));
          }
          if (s % 7 === 0) {
            store.commit(effects);
            effects.length = 0;
          }
        }
        store.commit(effects);
        for (const [from, to] of [[0, MAX], [T0, T0 + HOUR], [T0 + HOUR, T0 + 3 * HOUR]] as const) {
          const balance = store.nodeBalance(from, to);
          expect(balance.map((b) => b.node)).toEqual(nodes);
          for (const b of balance) expect(b.jobsMj + b.idleMj).toBe(b.deviceMj);
          expect(store.clusterEnergyMj(from, to)).toBe(balance.reduce((a, b) => a + b.deviceMj, 0));
        }
        // And the jobs' own totals add up to the nodes' job energy.
        const jobsTotal = store.jobs({ limit: -1 }).reduce((a, j) => a + total(j.energyMj), 0);
        expect(jobsTotal).toBe(store.nodeBalance(0, MAX).reduce((a, b) => a + b.jobsMj, 0));
      });

      it('gives the energy of many jobs in one call, leaving out unknown ids', () => {
        store.commit([
          effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('1', ['g0'])], jobsMj: { 1: { gpuMj: 700, cpuMj: 70, otherMj: 7 } }, idleMj: 300 }),
          effect({ node: 'n2', ts: T0 + 1000, jobs: [alloc('1', ['g1']), alloc('2', ['g2'])], jobsMj: { 1: 100, 2: 5 } }),
        ]);
        expect(store.jobEnergy(['1', 'nope', '2', '1'])).toEqual(new Map([
          ['1', { gpuMj: 800, cpuMj: 70, otherMj: 7 }],
          ['2', { gpuMj: 5, cpuMj: 0, otherMj: 0 }],
        ]));
        expect(store.jobEnergy([])).toEqual(new Map());
        expect(store.jobEnergy(['nope'])).toEqual(new Map());
      });

      it('sums the cluster by period on UTC hour buckets', () => {
        store.commit([
          effect({ node: 'n1', ts: T0 - 1, idleMj: 1 }),
          effect({ node: 'n1', ts: T0, seq: 2, idleMj: 20 }),
          effect({ node: 'n2', ts: T0 + HOUR - 1, idleMj: 300 }),
          effect({ node: 'n2', ts: T0 + HOUR, seq: 2, idleMj: 4000 }),
        ]);
        expect(store.clusterEnergyMj(T0 - HOUR, T0)).toBe(1);
        expect(store.clusterEnergyMj(T0, T0 + HOUR)).toBe(320);
        expect(store.clusterEnergyMj(T0 + HOUR, T0 + 2 * HOUR)).toBe(4000);
        expect(store.clusterEnergyMj(0, MAX)).toBe(4321);
        // Bounds apply to the hour buckets: [from, to) holds the hours that start in it.
        expect(store.clusterEnergyMj(T0 + 1, T0 + HOUR)).toBe(0);
        expect(store.clusterEnergyMj(T0 - 1, T0 + 1)).toBe(320);
        expect(store.clusterEnergyMj(T0 + 2 * HOUR, MAX)).toBe(0);
        expect(store.nodeBalance(T0, T0 + HOUR)).toEqual([
          { node: 'n1', deviceMj: 20, otherMj: 0, jobsMj: 0, idleMj: 20 },
          { node: 'n2', deviceMj: 300, otherMj: 0, jobsMj: 0, idleMj: 300 },
        ]);
      });
    });

    describe('job lifecycle', () => {
      it('follows a job from start to end and sums a job across nodes', () => {
        const job = (node: string): JobAllocation => alloc('42', [`GPU-${node}-0`, `GPU-${node}-1`]);
        store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [job('n1')] }), effect({ node: 'n2', ts: T0 + 1000, jobs: [job('n2')] })]);
        store.commit([
          effect({ node: 'n1', ts: T0 + 2000, seq: 2, jobs: [job('n1')], jobsMj: { 42: 1000 }, idleMj: 10 }),
          effect({ node: 'n2', ts: T0 + 2000, seq: 2, jobs: [job('n2')], jobsMj: { 42: 2000 } }),
        ]);
        const running: JobRecord = {
          id: '42', user: 'u.devries', account: 'surf-llm', name: null, partition: null, state: 'running',
          startTs: T0, endTs: null, nodes: ['n1', 'n2'], gpus: 4, energyMj: { gpuMj: 3000, cpuMj: 0, otherMj: 0 }, gpuSeconds: 0, gpuUse: NO_USE,
        };
        expect(store.job('42')).toEqual(running);
        // Ends on n1 first: still running on n2.
        store.commit([effect({ node: 'n1', ts: T0 + 3000, seq: 3, jobsMj: { 42: 500 } })]);
        expect(store.job('42')).toEqual({ ...running, energyMj: { gpuMj: 3500, cpuMj: 0, otherMj: 0 } });
        store.commit([effect({ node: 'n2', ts: T0 + 4000, seq: 3, jobsMj: { 42: 100 } })]);
        expect(store.job('42')).toEqual({ ...running, state: 'completed', endTs: T0 + 4000, energyMj: { gpuMj: 3600, cpuMj: 0, otherMj: 0 } });
        expect(store.jobs({ state: 'completed' })).toEqual([store.job('42')]);
        expect(store.jobs({ state: 'running' })).toEqual([]);
        expect(store.jobs({ user: 'someone-else' })).toEqual([]);
        expect(store.job('nope')).toBeUndefined();
      });

      it('applies the batches of one commit in order', () => {
        store.commit([
          effect({ node: 'n1', ts: T0 + 1000, seq: 1, jobs: [alloc('5', ['g0'])], jobsMj: { 5: 10 } }),
          effect({ node: 'n1', ts: T0 + 2000, seq: 2, jobs: [alloc('5', ['g0', 'g1'])], jobsMj: { 5: 20 } }),
          effect({ node: 'n1', ts: T0 + 3000, seq: 3, jobs: [], idleMj: 5 }),
        ]);
        expect(store.job('5')).toEqual({
          id: '5', user: 'u.devries', account: 'surf-llm', name: null, partition: null, state: 'completed',
          startTs: T0, endTs: T0 + 3000, nodes: ['n1'], gpus: 2, energyMj: { gpuMj: 30, cpuMj: 0, otherMj: 0 }, gpuSeconds: 0, gpuUse: NO_USE,
        } satisfies JobRecord);
        expect(store.loadLedger('n1', 'e1')).toEqual({ node: 'n1', epoch: 'e1', lastSeq: 3, lastTs: T0 + 3000, counters: { 'i:gpu': 3 } });
      });

      it('takes the earliest start over nodes, and keeps a name and partition once known', () => {
        store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('7', ['g0'])] })]);
        store.commit([effect({ node: 'n2', ts: T0 + 1000, jobs: [alloc('7', ['g1', 'g2'], { startTs: T0 - 60_000, name: 'train-llama', partition: 'gpu_h100' })] })]);
        store.commit([effect({ node: 'n1', ts: T0 + 2000, seq: 2, jobs: [alloc('7', ['g0'])] })]);
        expect(store.job('7')).toEqual({
          id: '7', user: 'u.devries', account: 'surf-llm', name: 'train-llama', partition: 'gpu_h100', state: 'running',
          startTs: T0 - 60_000, endTs: null, nodes: ['n1', 'n2'], gpus: 3, energyMj: Z, gpuSeconds: 0, gpuUse: NO_USE,
        } satisfies JobRecord);
      });

      it('ends a job by the epilog notice per node: idempotent, and false where it never ran', () => {
        store.commit([
          effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('42', ['g0'])], jobsMj: { 42: 10 } }),
          effect({ node: 'n2', ts: T0 + 1000, jobs: [alloc('42', ['g1'])], jobsMj: { 42: 20 } }),
        ]);
        const running: JobRecord = {
          id: '42', user: 'u.devries', account: 'surf-llm', name: null, partition: null, state: 'running',
          startTs: T0, endTs: null, nodes: ['n1', 'n2'], gpus: 2, energyMj: { gpuMj: 30, cpuMj: 0, otherMj: 0 }, gpuSeconds: 0, gpuUse: NO_USE,
        };
        expect(store.endJob('42', 'n1', T0 + 5000)).toBe(true);
        expect(store.job('42')).toEqual(running);
        expect(store.endJob('42', 'n1', T0 + 5000)).toBe(true);
        expect(store.endJob('42', 'n3', T0 + 5000)).toBe(false);
        expect(store.endJob('nope', 'n1', T0 + 5000)).toBe(false);
        expect(store.job('42')).toEqual(running);
        expect(store.endJob('42', 'n2', T0 + 6000)).toBe(true);
        const ended: JobRecord = { ...running, state: 'completed', endTs: T0 + 6000 };
        expect(store.job('42')).toEqual(ended);
        // A repeat after the job ended everywhere is still no error, and changes nothing.
        expect(store.endJob('42', 'n2', T0 + 9000)).toBe(true);
        expect(store.endJob('42', 'n1', T0 + 9000)).toBe(true);
        expect(store.job('42')).toEqual(ended);
        // The node's next batch without the job changes nothing either.
        store.commit([effect({ node: 'n1', ts: T0 + 7000, seq: 2, idleMj: 3 })]);
        expect(store.job('42')).toEqual(ended);
      });

      it('ends a job at the latest end over its nodes', () => {
        store.commit([
          effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('9', ['g0'])] }),
          effect({ node: 'n2', ts: T0 + 1000, jobs: [alloc('9', ['g1'])] }),
        ]);
        // The node that ends last in time is not the last notice, nor the last node.
        expect(store.endJob('9', 'n1', T0 + 8000)).toBe(true);
        expect(store.endJob('9', 'n2', T0 + 5000)).toBe(true);
        expect(store.job('9')).toMatchObject({ state: 'completed', endTs: T0 + 8000 });
      });

      it('does not revive a job with a batch older than its end notice, but counts its energy', () => {
        store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('42', ['g0'])], jobsMj: { 42: 100 } })]);
        expect(store.endJob('42', 'n1', T0 + 10_000)).toBe(true);
        // A batch sent before the notice arrives after it (agent reconnect, resend).
        store.commit([effect({ node: 'n1', ts: T0 + 5000, seq: 2, jobs: [alloc('42', ['g0'])], jobsMj: { 42: 50 } })]);
        const ended: JobRecord = {
          id: '42', user: 'u.devries', account: 'surf-llm', name: null, partition: null, state: 'completed',
          startTs: T0, endTs: T0 + 10_000, nodes: ['n1'], gpus: 1, energyMj: { gpuMj: 150, cpuMj: 0, otherMj: 0 }, gpuSeconds: 0, gpuUse: NO_USE,
        };
        expect(store.job('42')).toEqual(ended);
        expect(store.jobs({ state: 'running' })).toEqual([]);
        store.commit([effect({ node: 'n1', ts: T0 + 11_000, seq: 3, idleMj: 1 })]);
        expect(store.job('42')).toEqual(ended);
      });

      it('keeps a job ended by the epilog\'s notice ended while the agent\'s map still lists it, until it runs again (requeue)', () => {
        store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('43', ['g0'])], jobsMj: { 43: 100 } })]);
        expect(store.endJob('43', 'n1', T0 + 6000)).toBe(true);
        // The agent's Slurm view is older than the end (the job is COMPLETING while the epilog
        // runs): newer batches still list it, with the GPUs Slurm has already taken back.
        store.commit([effect({ node: 'n1', ts: T0 + 7000, seq: 2, jobs: [alloc('43', [])], jobsMj: { 43: 5 } })]);
        store.commit([effect({ node: 'n1', ts: T0 + 8000, seq: 3, jobs: [alloc('43', [])] })]);
        expect(store.job('43')).toMatchObject({ state: 'completed', endTs: T0 + 6000, gpus: 1, energyMj: { gpuMj: 105, cpuMj: 0, otherMj: 0 } });
        expect(store.jobs({ state: 'running' })).toEqual([]);
        // Requeued: Slurm starts it again, later than the end.
        store.commit([effect({ node: 'n1', ts: T0 + 60_000, seq: 4, jobs: [alloc('43', ['g1'], { startTs: T0 + 50_000 })] })]);
        expect(store.job('43')).toMatchObject({ state: 'running', endTs: null, startTs: T0, gpus: 1 });
        expect(store.jobGpus('43')).toEqual(new Map([['n1', ['g1']]]));
        // Its next end by the map (the job left it) is not a notice: a map listing it later brings it back.
        store.commit([effect({ node: 'n1', ts: T0 + 61_000, seq: 5 })]);
        expect(store.job('43')).toMatchObject({ state: 'completed', endTs: T0 + 61_000 });
        store.commit([effect({ node: 'n1', ts: T0 + 62_000, seq: 6, jobs: [alloc('43', ['g1'], { startTs: T0 + 50_000 })] })]);
        expect(store.job('43')).toMatchObject({ state: 'running', endTs: null });
      });

      it('runs a job again when it is back on a node map after it left there (requeue)', () => {
        store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('42', ['g0'])] })]);
        store.commit([effect({ node: 'n1', ts: T0 + 2000, seq: 2 })]);
        expect(store.job('42')).toMatchObject({ state: 'completed', endTs: T0 + 2000 });
        store.commit([effect({ node: 'n1', ts: T0 + 3000, seq: 3, jobs: [alloc('42', ['g0', 'g1'])] })]);
        expect(store.job('42')).toEqual({
          id: '42', user: 'u.devries', account: 'surf-llm', name: null, partition: null, state: 'running',
          startTs: T0, endTs: null, nodes: ['n1'], gpus: 2, energyMj: Z, gpuSeconds: 0, gpuUse: NO_USE,
        } satisfies JobRecord);
      });

      it('keeps energy for a job it never saw on a map, as a completed placeholder, until a map names it', () => {
        store.commit([effect({ node: 'n1', ts: T0 + 1000, jobsMj: { 77: { gpuMj: 900, cpuMj: 90, otherMj: 9 } }, gpuSeconds: { 77: 1 } })]);
        const placeholder: JobRecord = {
          id: '77', user: '', account: '', name: null, partition: null, state: 'completed',
          startTs: T0 + 1000, endTs: T0 + 1000, nodes: ['n1'], gpus: 0, energyMj: { gpuMj: 900, cpuMj: 90, otherMj: 9 }, gpuSeconds: 1, gpuUse: NO_USE,
        };
        expect(store.job('77')).toEqual(placeholder);
        expect(store.jobs({})).toEqual([placeholder]);
        expect(store.jobHours('77')).toEqual([{ node: 'n1', hourTs: T0, energyMj: { gpuMj: 900, cpuMj: 90, otherMj: 9 }, gpuSeconds: 1, gpuUse: NO_USE }]);
        // A placeholder is not running anywhere: the notice is a repeat, not a 404.
        expect(store.endJob('77', 'n1', T0 + 1500)).toBe(true);
        expect(store.job('77')).toEqual(placeholder);

        store.commit([effect({ node: 'n1', ts: T0 + 2000, seq: 2, jobs: [alloc('77', ['g0'], { startTs: T0 - 60_000, name: 'late-map', partition: 'gpu' })], jobsMj: { 77: 100 } })]);
        expect(store.job('77')).toEqual({
          id: '77', user: 'u.devries', account: 'surf-llm', name: 'late-map', partition: 'gpu', state: 'running',
          startTs: T0 - 60_000, endTs: null, nodes: ['n1'], gpus: 1, energyMj: { gpuMj: 1000, cpuMj: 90, otherMj: 9 }, gpuSeconds: 1, gpuUse: NO_USE,
        } satisfies JobRecord);
      });
    });

    describe('job listing', () => {
      /** a: T0-3h..T0-2h (u1, A) · b, c: from T0-1h, running (u2 A, u1 B) · d: T0..T0+30m (u1, A). */
      function fourJobs(): void {
        store.commit([
          effect({ node: 'na', ts: T0 + 1000, jobs: [alloc('a', ['g'], { startTs: T0 - 3 * HOUR, user: 'u1', account: 'A' })] }),
          effect({ node: 'nb', ts: T0 + 1000, jobs: [alloc('b', ['g'], { startTs: T0 - HOUR, user: 'u2', account: 'A' })] }),
          effect({ node: 'nc', ts: T0 + 1000, jobs: [alloc('c', ['g'], { startTs: T0 - HOUR, user: 'u1', account: 'B' })] }),
          effect({ node: 'nd', ts: T0 + 1000, jobs: [alloc('d', ['g'], { startTs: T0, user: 'u1', account: 'A' })] }),
        ]);
        expect(store.endJob('a', 'na', T0 - 2 * HOUR)).toBe(true);
        expect(store.endJob('d', 'nd', T0 + HOUR / 2)).toBe(true);
      }
      const ids = (jobs: JobRecord[]): string[] => jobs.map((j) => j.id);

      it('lists newest start first, then by id, as whole records', () => {
        fourJobs();
        expect(ids(store.jobs({}))).toEqual(['d', 'b', 'c', 'a']);
        expect(store.jobs({})).toEqual(['d', 'b', 'c', 'a'].map((id) => store.job(id)));
        expect(store.job('a')).toEqual({
          id: 'a', user: 'u1', account: 'A', name: null, partition: null, state: 'completed',
          startTs: T0 - 3 * HOUR, endTs: T0 - 2 * HOUR, nodes: ['na'], gpus: 1, energyMj: Z, gpuSeconds: 0, gpuUse: NO_USE,
        } satisfies JobRecord);
      });

      it('filters by state, user and account', () => {
        fourJobs();
        expect(ids(store.jobs({ state: 'running' }))).toEqual(['b', 'c']);
        expect(ids(store.jobs({ state: 'completed' }))).toEqual(['d', 'a']);
        expect(ids(store.jobs({ user: 'u1' }))).toEqual(['d', 'c', 'a']);
        expect(ids(store.jobs({ account: 'A' }))).toEqual(['d', 'b', 'a']);
        expect(ids(store.jobs({ user: 'u1', account: 'A', state: 'completed' }))).toEqual(['d', 'a']);
        expect(ids(store.jobs({ user: 'nobody' }))).toEqual([]);
      });

      it('filters by time: jobs that ran at some time in [fromTs, toTs)', () => {
        fourJobs();
        expect(ids(store.jobs({ fromTs: T0 - 2.5 * HOUR, toTs: T0 - 1.5 * HOUR }))).toEqual(['a']);
        expect(ids(store.jobs({ fromTs: T0 - HOUR, toTs: T0 }))).toEqual(['b', 'c']);
        expect(ids(store.jobs({ toTs: T0 }))).toEqual(['b', 'c', 'a']);
        expect(ids(store.jobs({ toTs: T0 + 1 }))).toEqual(['d', 'b', 'c', 'a']);
        expect(ids(store.jobs({ fromTs: T0 + HOUR / 2 }))).toEqual(['d', 'b', 'c']);
        expect(ids(store.jobs({ fromTs: T0 + HOUR / 2 + 1 }))).toEqual(['b', 'c']);
        expect(ids(store.jobs({ fromTs: T0 + 10 * HOUR, toTs: T0 + 11 * HOUR }))).toEqual(['b', 'c']);
        expect(ids(store.jobs({ fromTs: T0 - 10 * HOUR, toTs: T0 - 3 * HOUR }))).toEqual([]);
      });

      it('limits and pages with a keyset cursor (start, id)', () => {
        fourJobs();
        expect(ids(store.jobs({ limit: 2 }))).toEqual(['d', 'b']);
        expect(store.jobs({ limit: 0 })).toEqual([]);
        const page2 = store.jobs({ limit: 2, after: { startTs: T0 - HOUR, id: 'b' } });
        expect(ids(page2)).toEqual(['c', 'a']);
        expect(store.jobs({ limit: 2, after: { startTs: T0 - 3 * HOUR, id: 'a' } })).toEqual([]);
        expect(ids(store.jobs({ user: 'u1', limit: 1, after: { startTs: T0, id: 'd' } }))).toEqual(['c']);
        // The cursor need not be a listed job: it is a position in the order.
        expect(ids(store.jobs({ after: { startTs: T0 - HOUR, id: 'bb' } }))).toEqual(['c', 'a']);
        expect(ids(store.jobs({ after: { startTs: T0 - HOUR / 2, id: '' } }))).toEqual(['b', 'c', 'a']);
        // Walking all pages yields every job once, in order.
        const seen: string[] = [];
        let after: { startTs: number; id: string } | undefined;
        for (;;) {
          const page = store.jobs(after === undefined ? { limit: 1 } : { limit: 1, after });
          if (page.length === 0) break;
          seen.push(page[0]!.id);
          after = { startTs: page[0]!.startTs, id: page[0]!.id };
        }
        expect(seen).toEqual(['d', 'b', 'c', 'a']);
      });

      it('lists 100 jobs unless asked for another limit', () => {
        const jobs = Array.from({ length: 105 }, (_, i) => alloc(`j${String(i).padStart(3, '0')}`, ['g'], { startTs: T0 - i * 1000 }));
        store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs })]);
        const listed = store.jobs({});
        expect(listed).toHaveLength(100);
        expect(listed[0]!.id).toBe('j000');
        expect(listed[99]!.id).toBe('j099');
        expect(store.jobs({ limit: 200 })).toHaveLength(105);
        expect(store.jobs({ limit: -1 })).toHaveLength(105);
      });

      it('orders equal starts by id in byte order, not by number or locale', () => {
        store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: ['10', '9', 'B', 'a', '100_2', '100_10'].map((id) => alloc(id, ['g'])) })]);
        expect(ids(store.jobs({}))).toEqual(['10', '100_10', '100_2', '9', 'B', 'a']);
      });
    });

    describe('series', () => {
      function seriesData(): void {
        const jobs = [alloc('s', ['g0'])];
        store.commit([
          effect({ node: 'n1', ts: T0 + 1000, jobs, jobsMj: { s: { gpuMj: 100, cpuMj: 10, otherMj: 1 } } }),
          effect({ node: 'n2', ts: T0 + 5000, jobs, jobsMj: { s: 50 } }),
          effect({ node: 'n1', ts: T0 + 9999, seq: 2, jobs, jobsMj: { s: 200 } }),
          effect({ node: 'n1', ts: T0 + 10_000, seq: 3, jobs, jobsMj: { s: 300 } }),
          // No energy: no point.
          effect({ node: 'n2', ts: T0 + 15_000, seq: 2, jobs, jobsMj: { s: 0 }, idleMj: 40 }),
          effect({ node: 'n1', ts: T0 + 25_000, seq: 4, jobs, jobsMj: { s: 7 } }),
        ]);
      }

      it('keeps a job\'s energy per node in 10 s buckets, within [fromTs, toTs)', () => {
        seriesData();
        expect(store.jobSeries('s', 0, MAX)).toEqual([
          { node: 'n1', bucketTs: T0, energyMj: 311 },
          { node: 'n2', bucketTs: T0, energyMj: 50 },
          { node: 'n1', bucketTs: T0 + 10_000, energyMj: 300 },
          { node: 'n1', bucketTs: T0 + 20_000, energyMj: 7 },
        ]);
        expect(store.jobSeries('s', T0 + 10_000, T0 + 20_000)).toEqual([{ node: 'n1', bucketTs: T0 + 10_000, energyMj: 300 }]);
        expect(store.jobSeries('s', T0, T0 + 10_000)).toEqual([{ node: 'n1', bucketTs: T0, energyMj: 311 }, { node: 'n2', bucketTs: T0, energyMj: 50 }]);
        expect(store.jobSeries('s', T0 + 1, T0 + 10_000)).toEqual([]);
        expect(store.jobSeries('nope', 0, MAX)).toEqual([]);
      });

      it('answers the same series by query over everything it keeps', async () => {
        seriesData();
        expect(await store.queryJobSeries('s', 0, MAX)).toEqual(store.jobSeries('s', 0, MAX));
        expect(await store.queryJobSeries('s', T0 + 10_000, T0 + 20_000)).toEqual([{ node: 'n1', bucketTs: T0 + 10_000, energyMj: 300 }]);
        expect(await store.queryJobSeries('nope', 0, MAX)).toEqual([]);
      });

      // Each store prunes its raw series its own way; the other's variant is not a skipped test.
      const pruneTitle = options.rollsUpSeries === true
        ? 'rolls raw series older than the retention up into whole minutes, then drops the roll-ups at theirs'
        : 'prunes series before a time and keeps the books';
      it(pruneTitle, () => (options.rollsUpSeries === true ? rollsUp() : prunes()));

      function rollsUp(): void {
        seriesData();
        const before = { job: store.job('s'), hours: store.jobHours('s'), balance: store.nodeBalance(0, MAX), cluster: store.clusterEnergyMj(0, MAX) };
        // Only whole minutes roll up: a retention edge inside the first minute moves nothing.
        expect(store.pruneSeries(T0 + 59_000)).toBe(0);
        // n1's job buckets T0, +10 s, +20 s and n2's T0; node buckets n1 x3, n2 x2.
        expect(store.pruneSeries(T0 + 61_000)).toBe(4 + 5);
        expect(store.jobSeries('s', 0, MAX)).toEqual([
          { node: 'n1', bucketTs: T0, energyMj: 311 + 300 + 7, bucketMs: 60_000 },
          { node: 'n2', bucketTs: T0, energyMj: 50, bucketMs: 60_000 },
        ]);
        expect({ job: store.job('s'), hours: store.jobHours('s'), balance: store.nodeBalance(0, MAX), cluster: store.clusterEnergyMj(0, MAX) }).toEqual(before);
        // A late batch for a rolled-up minute lands raw, and rolls into the same minute later.
        store.commit([effect({ node: 'n1', ts: T0 + 2000, seq: 5, jobs: [alloc('s', ['g0'])], jobsMj: { s: 5 } })]);
        expect(store.jobSeries('s', T0, T0 + 60_000)).toEqual([
          { node: 'n1', bucketTs: T0, energyMj: 618, bucketMs: 60_000 },
          { node: 'n1', bucketTs: T0, energyMj: 5 },
          { node: 'n2', bucketTs: T0, energyMj: 50, bucketMs: 60_000 },
        ]);
        store.pruneSeries(T0 + 61_000);
        expect(store.jobSeries('s', 0, MAX)).toEqual([
          { node: 'n1', bucketTs: T0, energyMj: 623, bucketMs: 60_000 },
          { node: 'n2', bucketTs: T0, energyMj: 50, bucketMs: 60_000 },
        ]);
        // job n1, job n2, node n1, node n2.
        expect(store.pruneRollups(T0 + 60_000)).toBe(4);
        expect(store.jobSeries('s', 0, MAX)).toEqual([]);
        expect(store.job('s')!.energyMj).toEqual({ gpuMj: 662, cpuMj: 10, otherMj: 1 });
      }

      it('keeps each GPU\'s power, utilisation and temperature per 10 s bucket, merging late samples', async () => {
        const gauges = (ts: number, gpus: Sample['gpus']): Sample => ({ ts, gpus, cpus: [] });
        store.commit([
          effect({ node: 'n1', ts: T0 + 1000, samples: [gauges(T0 + 1000, [{ uuid: 'g0', powerW: 100, utilRatio: 0.5, tempC: 50 }, { uuid: 'g1', powerW: 200 }])] }),
          effect({ node: 'n1', ts: T0 + 2000, seq: 2, samples: [gauges(T0 + 2000, [{ uuid: 'g0', powerW: 300, utilRatio: 1, tempC: 60 }])] }),
          effect({ node: 'n2', ts: T0 + 2000, samples: [gauges(T0 + 2000, [{ uuid: 'h0', powerW: 10 }])] }),
          effect({ node: 'n1', ts: T0 + 11_000, seq: 3, samples: [gauges(T0 + 11_000, [{ uuid: 'g0', powerW: 50 }])] }),
        ]);
        // A sample replayed late, for a bucket the node has moved past.
        store.commit([effect({ node: 'n1', ts: T0 + 3000, seq: 4, samples: [gauges(T0 + 3000, [{ uuid: 'g1', powerW: 220, tempC: 70 }])] })]);
        const bucket = (bucketTs: number, b: Omit<GpuBucket, 'node' | 'bucketTs' | 'bucketMs'>): GpuBucket => ({ node: 'n1', bucketTs, bucketMs: 10_000, ...b });
        expect(await store.gpuSeries('n1', T0, T0 + 20_000)).toEqual([
          bucket(T0, { uuids: ['g0', 'g1'], powerSumW: [400, 420], powerN: [2, 2], utilSum: [1.5, 0], utilN: [2, 0], tempMaxC: [60, 70] }),
          bucket(T0 + 10_000, { uuids: ['g0'], powerSumW: [50], powerN: [1], utilSum: [0], utilN: [0], tempMaxC: [null] }),
        ]);
        expect(await store.gpuSeries('n1', T0 + 10_000, T0 + 20_000)).toHaveLength(1);
        expect(await store.gpuSeries('n1', T0 + 20_000, T0 + 30_000)).toEqual([]);
        expect(await store.gpuSeries('nope', 0, MAX)).toEqual([]);
      });

      it('remembers which GPUs a job was given on each node, never fewer while it runs', () => {
        store.commit([
          effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('j', ['g1', 'g0'])] }),
          effect({ node: 'n2', ts: T0 + 1000, jobs: [alloc('j', ['h3'])] }),
        ]);
        expect(store.jobGpus('j')).toEqual(new Map([['n1', ['g1', 'g0']], ['n2', ['h3']]]));
        // A running job's GPUs do not shrink with a map that shows fewer (Slurm's detail of a job
        // about to end); another set of the same size replaces them.
        store.commit([effect({ node: 'n1', ts: T0 + 2000, seq: 2, jobs: [alloc('j', ['g0'])] })]);
        expect(store.jobGpus('j').get('n1')).toEqual(['g1', 'g0']);
        expect(store.job('j')?.gpus).toBe(3);
        store.commit([effect({ node: 'n1', ts: T0 + 3000, seq: 3, jobs: [alloc('j', ['g2', 'g3'])] })]);
        expect(store.jobGpus('j').get('n1')).toEqual(['g2', 'g3']);
        expect(store.jobGpus('nope')).toEqual(new Map());
      });

      function prunes(): void {
        seriesData();
        const before = { job: store.job('s'), hours: store.jobHours('s'), balance: store.nodeBalance(0, MAX), cluster: store.clusterEnergyMj(0, MAX) };
        expect(store.pruneSeries(T0 + 10_000)).toBeGreaterThan(0);
        expect(store.jobSeries('s', 0, MAX)).toEqual([
          { node: 'n1', bucketTs: T0 + 10_000, energyMj: 300 },
          { node: 'n1', bucketTs: T0 + 20_000, energyMj: 7 },
        ]);
        expect({ job: store.job('s'), hours: store.jobHours('s'), balance: store.nodeBalance(0, MAX), cluster: store.clusterEnergyMj(0, MAX) }).toEqual(before);
        expect(store.pruneSeries(T0 + 10_000)).toBe(0);
        // New energy after a prune lands as before, also in a pruned bucket's place.
        store.commit([effect({ node: 'n1', ts: T0 + 2000, seq: 5, jobs: [alloc('s', ['g0'])], jobsMj: { s: 5 } })]);
        expect(store.jobSeries('s', 0, T0 + 10_000)).toEqual([{ node: 'n1', bucketTs: T0, energyMj: 5 }]);
        expect(store.pruneSeries(MAX)).toBeGreaterThan(0);
        expect(store.jobSeries('s', 0, MAX)).toEqual([]);
        expect(store.job('s')!.energyMj).toEqual({ gpuMj: 662, cpuMj: 10, otherMj: 1 });
      }
    });

    describe('energy report', () => {
      /**
       * Three nodes: n1 and n2 (H100) report every hour of [T0, T0+3h); n3 (no Hello stored)
       * reports T0 and T0+2h only. Jobs: 1 (surf-llm, u.devries, gpu) on n1 and n2 over two
       * hours; 2 (surf-vision, a.jansen, no partition) on n3; 3 (surf-llm, a.jansen) on n1.
       */
      function books(): void {
        store.putNode(hello('n1', T0 - HOUR));
        store.putNode(hello('n2', T0 + 5000));
        const j1 = alloc('1', ['g0'], { partition: 'gpu' });
        const j2 = alloc('2', ['g0'], { user: 'a.jansen', account: 'surf-vision' });
        const j3 = alloc('3', ['g1'], { user: 'a.jansen', partition: 'gpu' });
        store.commit([
          effect({ node: 'n1', ts: T0 + 1000, jobs: [j1, j3], jobsMj: { 1: { gpuMj: 1000, cpuMj: 100, otherMj: 10 }, 3: 50 }, gpuSeconds: { 1: 1, 3: 1 },
            gpuUse: { 1: { utilS: 0.5, utilKnownS: 1, idleS: 0 }, 3: { utilS: 0.01, utilKnownS: 1, idleS: 1 } }, idleMj: { gpuMj: 7, cpuMj: 3, otherMj: 1 } }),
          effect({ node: 'n2', ts: T0 + 2000, jobs: [j1], jobsMj: { 1: 2000 }, gpuSeconds: { 1: 2 }, idleMj: 5 }),
          effect({ node: 'n3', ts: T0 + 3000, jobs: [j2], jobsMj: { 2: 300 }, gpuSeconds: { 2: 3 } }),
          effect({ node: 'n1', ts: T0 + HOUR + 1000, seq: 2, jobs: [j1], jobsMj: { 1: 4000 }, gpuSeconds: { 1: 4 }, gpuUse: { 1: { utilS: 3, utilKnownS: 4, idleS: 0 } } }),
          effect({ node: 'n2', ts: T0 + HOUR + 2000, seq: 2, jobs: [j1], idleMj: 11 }),
          effect({ node: 'n1', ts: T0 + 2 * HOUR + 1000, seq: 3, idleMj: 13 }),
          effect({ node: 'n2', ts: T0 + 2 * HOUR + 2000, seq: 3, idleMj: 17 }),
          effect({ node: 'n3', ts: T0 + 2 * HOUR + 3000, seq: 2, jobs: [j2], jobsMj: { 2: 600 }, gpuSeconds: { 2: 6 } }),
        ]);
      }
      const z = { utilSeconds: 0, utilKnownSeconds: 0, idleGpuSeconds: 0 };
      const H100 = 'NVIDIA H100 80GB HBM3';

      it('sums job energy, GPU time and utilisation by account, UTC hour and GPU model, with unallocated energy per hour', () => {
        books();
        expect(store.energyReport('account', T0, T0 + 3 * HOUR)).toEqual({
          slices: [
            {
              group: 'surf-llm', gpuModel: H100, energyMj: { gpuMj: 7050, cpuMj: 100, otherMj: 10 }, gpuSeconds: 8, utilSeconds: 3.51, utilKnownSeconds: 6, idleGpuSeconds: 1,
              hourTs: [T0, T0 + HOUR], hourEnergyMj: [3160, 4000], hourGpuSeconds: [4, 4],
            },
            {
              group: 'surf-vision', gpuModel: 'unknown', energyMj: { gpuMj: 900, cpuMj: 0, otherMj: 0 }, gpuSeconds: 9, ...z,
              hourTs: [T0, T0 + 2 * HOUR], hourEnergyMj: [300, 600], hourGpuSeconds: [3, 6],
            },
          ],
          unallocated: [
            { hourTs: T0, energyMj: { gpuMj: 12, cpuMj: 3, otherMj: 1 } },
            { hourTs: T0 + HOUR, energyMj: { gpuMj: 11, cpuMj: 0, otherMj: 0 } },
            { hourTs: T0 + 2 * HOUR, energyMj: { gpuMj: 30, cpuMj: 0, otherMj: 0 } },
          ],
          nodes: [
            { node: 'n1', firstSeenTs: T0 - HOUR, measured: [{ fromTs: T0, toTs: T0 + 3 * HOUR }] },
            { node: 'n2', firstSeenTs: T0, measured: [{ fromTs: T0, toTs: T0 + 3 * HOUR }] },
            { node: 'n3', firstSeenTs: T0, measured: [{ fromTs: T0, toTs: T0 + HOUR }, { fromTs: T0 + 2 * HOUR, toTs: T0 + 3 * HOUR }] },
          ],
        });
      });

      it('groups by user, job, node and partition (an unknown partition is \'\'), and keeps to the hours of the period', () => {
        books();
        const brief = (by: Parameters<Store['energyReport']>[0], fromTs = T0, toTs = T0 + 3 * HOUR) => hourRows(store.energyReport(by, fromTs, toTs));
        expect(brief('user')).toEqual([['a.jansen', 0, 50, 1], ['a.jansen', 0, 300, 3], ['a.jansen', 2, 600, 6], ['u.devries', 0, 3110, 3], ['u.devries', 1, 4000, 4]]);
        expect(brief('job')).toEqual([['1', 0, 3110, 3], ['1', 1, 4000, 4], ['2', 0, 300, 3], ['2', 2, 600, 6], ['3', 0, 50, 1]]);
        expect(brief('node')).toEqual([['n1', 0, 1160, 2], ['n1', 1, 4000, 4], ['n2', 0, 2000, 2], ['n3', 0, 300, 3], ['n3', 2, 600, 6]]);
        expect(brief('partition')).toEqual([['', 0, 300, 3], ['', 2, 600, 6], ['gpu', 0, 3160, 4], ['gpu', 1, 4000, 4]]);
        // Hours are counted when they start inside [fromTs, toTs).
        expect(brief('job', T0 + HOUR, T0 + 2 * HOUR)).toEqual([['1', 1, 4000, 4]]);
        const later = store.energyReport('job', T0 + HOUR, T0 + 2 * HOUR);
        expect(later.unallocated).toEqual([{ hourTs: T0 + HOUR, energyMj: { gpuMj: 11, cpuMj: 0, otherMj: 0 } }]);
        expect(later.nodes).toEqual([
          { node: 'n1', firstSeenTs: T0 - HOUR, measured: [{ fromTs: T0 + HOUR, toTs: T0 + 2 * HOUR }] },
          { node: 'n2', firstSeenTs: T0, measured: [{ fromTs: T0 + HOUR, toTs: T0 + 2 * HOUR }] },
          { node: 'n3', firstSeenTs: T0, measured: [] },
        ]);
      });

      it('moves a job\'s energy to its account, user and partition when a map names them after its energy came', () => {
        store.putNode(hello('n1', T0 - HOUR));
        const brief = (by: Parameters<Store['energyReport']>[0]) => hourRows(store.energyReport(by, T0, T0 + 3 * HOUR));
        // Job 77 is seen only in counters for two hours; job 5 is on the map all along.
        store.commit([effect({ node: 'n1', ts: T0 + 1000, jobs: [alloc('5', ['g1'], { account: 'surf-vision', user: 'a.jansen' })], jobsMj: { 77: 900, 5: 10 }, gpuSeconds: { 77: 1, 5: 1 } })]);
        store.commit([effect({ node: 'n1', ts: T0 + HOUR + 1000, seq: 2, jobs: [alloc('5', ['g1'], { account: 'surf-vision', user: 'a.jansen' })], jobsMj: { 77: 400 }, gpuSeconds: { 77: 1 } })]);
        expect(brief('account')).toEqual([['', 0, 900, 1], ['', 1, 400, 1], ['surf-vision', 0, 10, 1]]);
        // The map names 77 in the same commit as more of its energy.
        store.commit([
          effect({ node: 'n1', ts: T0 + HOUR + 2000, seq: 3, jobsMj: { 77: 50 }, gpuSeconds: { 77: 1 } }),
          effect({ node: 'n1', ts: T0 + 2 * HOUR + 1000, seq: 4, jobs: [alloc('77', ['g0'], { partition: 'gpu' }), alloc('5', ['g1'], { account: 'surf-vision', user: 'a.jansen' })], jobsMj: { 77: 7 }, gpuSeconds: { 77: 1 } }),
        ]);
        expect(brief('account')).toEqual([['surf-llm', 0, 900, 1], ['surf-llm', 1, 450, 2], ['surf-llm', 2, 7, 1], ['surf-vision', 0, 10, 1]]);
        expect(brief('user')).toEqual([['a.jansen', 0, 10, 1], ['u.devries', 0, 900, 1], ['u.devries', 1, 450, 2], ['u.devries', 2, 7, 1]]);
        expect(brief('partition')).toEqual([['', 0, 10, 1], ['gpu', 0, 900, 1], ['gpu', 1, 450, 2], ['gpu', 2, 7, 1]]);
        // Slurm moves job 5 to another account (scontrol update): all of its hours follow.
        store.commit([effect({ node: 'n1', ts: T0 + 2 * HOUR + 2000, seq: 5, jobs: [alloc('77', ['g0'], { partition: 'gpu' }), alloc('5', ['g1'], { account: 'surf-llm', user: 'a.jansen' })], jobsMj: { 5: 3 }, gpuSeconds: { 5: 1 } })]);
        expect(brief('account')).toEqual([['surf-llm', 0, 910, 2], ['surf-llm', 1, 450, 2], ['surf-llm', 2, 10, 2]]);
        expect(brief('user')).toEqual([['a.jansen', 0, 10, 1], ['a.jansen', 2, 3, 1], ['u.devries', 0, 900, 1], ['u.devries', 1, 450, 2], ['u.devries', 2, 7, 1]]);
        expect(store.energyReport('account', T0, T0 + 3 * HOUR).slices.every((h) => h.gpuModel === 'NVIDIA H100 80GB HBM3')).toBe(true);
      });

      it('lists measured hours as runs across whole days, cut to the period', () => {
        // n1 has books every hour of three UTC days but hour 30; the period starts and ends mid-day.
        const day0 = Date.UTC(2026, 10, 28);
        store.commit(Array.from({ length: 72 }, (_, h) => h).filter((h) => h !== 30).map((h) => effect({ node: 'n1', ts: day0 + h * HOUR + 1000, seq: h + 1, idleMj: 1 })));
        expect(store.energyReport('account', day0 + 5 * HOUR, day0 + 70 * HOUR).nodes).toEqual([
          { node: 'n1', firstSeenTs: day0, measured: [{ fromTs: day0 + 5 * HOUR, toTs: day0 + 30 * HOUR }, { fromTs: day0 + 31 * HOUR, toTs: day0 + 70 * HOUR }] },
        ]);
        expect(store.energyReport('account', day0, day0 + 72 * HOUR).nodes[0]!.measured).toEqual([
          { fromTs: day0, toTs: day0 + 30 * HOUR }, { fromTs: day0 + 31 * HOUR, toTs: day0 + 72 * HOUR },
        ]);
      });

      it('answers an empty store with nothing, and lists a node known only by its Hello', () => {
        expect(store.energyReport('account', T0, T0 + HOUR)).toEqual({ slices: [], unallocated: [], nodes: [] });
        store.putNode(hello('gcn9', T0 + 90 * 60_000));
        expect(store.energyReport('node', T0, T0 + 3 * HOUR)).toEqual({ slices: [], unallocated: [], nodes: [{ node: 'gcn9', firstSeenTs: T0 + HOUR, measured: [] }] });
      });
    });

    describe('nodes', () => {
      it('remembers each node\'s latest Hello, by name', () => {
        expect(store.nodes()).toEqual(new Map());
        store.putNode(hello('gcn2', T0));
        store.putNode(hello('gcn1', T0));
        store.putNode(hello('gcn1', T0 + 60_000, 4));
        const nodes = store.nodes();
        expect([...nodes.keys()]).toEqual(['gcn1', 'gcn2']);
        expect(nodes).toEqual(new Map([['gcn1', hello('gcn1', T0 + 60_000, 4)], ['gcn2', hello('gcn2', T0)]]));
        // Callers get copies.
        nodes.get('gcn1')!.inventory.gpus.length = 0;
        expect(store.nodes().get('gcn1')).toEqual(hello('gcn1', T0 + 60_000, 4));
      });
    });
  });
}
