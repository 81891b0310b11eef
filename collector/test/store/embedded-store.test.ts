import { describe, expect, it } from 'vitest';
import type { JobAllocation } from '@stroom/protocol';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import type { BatchEffect } from '../../src/store/store.js';

const T0 = Date.UTC(2026, 10, 30, 10, 0);
const alloc = (id: string, gpus: string[], startTs = T0): JobAllocation => ({ id, user: 'u.devries', account: 'surf-llm', startTs, gpus, cpuCores: 8 });

function effect(node: string, seq: number, jobs: JobAllocation[], jobsMj: Record<string, number>, idleMj: number): BatchEffect {
  const charged = Object.values(jobsMj).reduce((a, b) => a + b, 0) + idleMj;
  return {
    node,
    ts: T0 + seq * 1000,
    ledger: { node, epoch: 'e1', lastSeq: seq, lastTs: T0 + seq * 1000, counters: { 'i:gpu': seq } },
    nodeMj: { gpuMj: charged, cpuMj: 0, otherMj: 0 },
    idleMj: { gpuMj: idleMj, cpuMj: 0, otherMj: 0 },
    jobsMj: new Map(Object.entries(jobsMj).map(([id, mj]) => [id, { gpuMj: mj, cpuMj: 0, otherMj: 0 }])),
    gpuSeconds: new Map(),
    jobs,
  };
}

describe('EmbeddedStore', () => {
  it('keeps the ledger state it is given', () => {
    const store = new EmbeddedStore(':memory:');
    store.commit([effect('n1', 3, [], {}, 5)]);
    expect(store.loadLedger('n1', 'e1')).toEqual({ node: 'n1', epoch: 'e1', lastSeq: 3, lastTs: T0 + 3000, counters: { 'i:gpu': 3 } });
    expect(store.loadLedger('n1', 'e2')).toBeUndefined();
  });

  it('follows a job from start to end and sums a job across nodes', () => {
    const store = new EmbeddedStore(':memory:');
    const job = (node: string): JobAllocation => alloc('42', [`GPU-${node}-0`, `GPU-${node}-1`]);
    store.commit([effect('n1', 1, [job('n1')], {}, 0), effect('n2', 1, [job('n2')], {}, 0)]);
    store.commit([effect('n1', 2, [job('n1')], { '42': 1000 }, 10), effect('n2', 2, [job('n2')], { '42': 2000 }, 0)]);
    expect(store.job('42')).toEqual({
      id: '42', user: 'u.devries', account: 'surf-llm', name: null, partition: null, state: 'running',
      startTs: T0, endTs: null, nodes: ['n1', 'n2'], gpus: 4, energyMj: { gpuMj: 3000, cpuMj: 0, otherMj: 0 },
    });
    // Ends on n1 first: still running on n2.
    store.commit([effect('n1', 3, [], { '42': 500 }, 0)]);
    expect(store.job('42')?.state).toBe('running');
    store.commit([effect('n2', 3, [], { '42': 100 }, 0)]);
    expect(store.job('42')).toMatchObject({ state: 'completed', endTs: T0 + 3000, energyMj: { gpuMj: 3600, cpuMj: 0, otherMj: 0 } });
    expect(store.jobs({ state: 'completed' }).map((j) => j.id)).toEqual(['42']);
    expect(store.jobs({ state: 'running' })).toEqual([]);
    expect(store.jobs({ user: 'someone-else' })).toEqual([]);
  });

  it('keeps energy for a job it never saw on a map, visible as a completed job', () => {
    const store = new EmbeddedStore(':memory:');
    store.commit([effect('n1', 1, [], { '77': 900 }, 0)]);
    expect(store.job('77')).toMatchObject({ id: '77', state: 'completed', energyMj: { gpuMj: 900, cpuMj: 0, otherMj: 0 } });
  });

  it('balances jobs + idle against devices per node, and sums the cluster by period', () => {
    const store = new EmbeddedStore(':memory:');
    store.commit([effect('n1', 1, [alloc('1', ['g'])], { '1': 700 }, 300), effect('n2', 1, [], {}, 250)]);
    expect(store.nodeBalance(0, Number.MAX_SAFE_INTEGER)).toEqual([
      { node: 'n1', deviceMj: 1000, otherMj: 0, jobsMj: 700, idleMj: 300 },
      { node: 'n2', deviceMj: 250, otherMj: 0, jobsMj: 0, idleMj: 250 },
    ]);
    expect(store.clusterEnergyMj(T0, T0 + 3_600_000)).toBe(1250);
    expect(store.clusterEnergyMj(T0 + 3_600_000, T0 + 7_200_000)).toBe(0);
    expect(store.jobEnergy(['1', 'nope'])).toEqual(new Map([['1', { gpuMj: 700, cpuMj: 0, otherMj: 0 }]]));
  });
});
