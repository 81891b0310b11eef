import { describe, expect, it } from 'vitest';
import type { Batch } from '@stroom/protocol';
import { applyBatch, emptyLedger } from '../../src/ledger/ledger.js';
import type { LedgerState } from '../../src/store/store.js';

function batch(seq: number, gpuMj: number, jobMj: number, idleMj: number): Batch {
  return {
    v: 1, type: 'batch', node: 'n1', epoch: 'e1', seq, ts: 1_000 * seq, samples: [],
    counters: {
      devices: [{ id: 'GPU-a', kind: 'gpu', energyMj: gpuMj }],
      jobs: [{ id: '7', gpuEnergyMj: jobMj, cpuEnergyMj: 0 }],
      idle: { gpuEnergyMj: idleMj, cpuEnergyMj: 0 },
    },
    jobs: [{ id: '7', user: 'u', account: 'a', startTs: 0, gpus: ['GPU-a'], cpuCores: 0 }],
    gaps: 0,
  };
}

/** Feed batches in the given order; return total node, job and idle energy counted. */
function feed(batches: Batch[]): { node: number; job: number; idle: number; duplicates: number; state: LedgerState } {
  let state = emptyLedger('n1', 'e1');
  const out = { node: 0, job: 0, idle: 0, duplicates: 0 };
  for (const b of batches) {
    const r = applyBatch(state, b);
    if (r.kind === 'duplicate') { out.duplicates += 1; continue; }
    state = r.effect.ledger;
    out.node += r.effect.nodeMj.gpuMj;
    out.job += r.effect.jobsMj.get('7')?.gpuMj ?? 0;
    out.idle += r.effect.idleMj.gpuMj;
  }
  return { ...out, state };
}

describe('ledger', () => {
  const b1 = batch(1, 1000, 600, 400);
  const b2 = batch(2, 2500, 1800, 700);
  const b3 = batch(3, 4000, 3000, 1000);

  it('counts counter differences from 0 at the start of an epoch', () => {
    expect(feed([b1, b2, b3])).toMatchObject({ node: 4000, job: 3000, idle: 1000, duplicates: 0 });
  });

  it('does not count a duplicated batch twice', () => {
    expect(feed([b1, b2, b2, b1, b3, b3])).toMatchObject({ node: 4000, job: 3000, idle: 1000, duplicates: 3 });
  });

  it('loses nothing when a batch is missing or comes late: the next delta covers it', () => {
    expect(feed([b1, b3])).toMatchObject({ node: 4000, job: 3000, idle: 1000 });
    expect(feed([b1, b3, b2])).toMatchObject({ node: 4000, job: 3000, idle: 1000, duplicates: 1 });
  });

  it('starts a new baseline when a counter goes backwards, never negative energy', () => {
    let state = emptyLedger('n1', 'e1');
    const first = applyBatch(state, b2);
    if (first.kind !== 'counted') throw new Error('counted expected');
    state = first.effect.ledger;
    const back = applyBatch(state, batch(3, 100, 50, 50));
    expect(back.kind).toBe('counted');
    if (back.kind !== 'counted') return;
    expect(back.resets).toEqual(['d:GPU-a', 'j:7:gpu', 'i:gpu']);
    expect(back.effect.nodeMj).toEqual({ gpuMj: 0, cpuMj: 0, otherMj: 0 });
    const after = applyBatch(back.effect.ledger, batch(4, 600, 350, 250));
    expect(after.kind === 'counted' && after.effect.nodeMj.gpuMj).toBe(500);
  });

  it('does not modify the state it was given', () => {
    const state = emptyLedger('n1', 'e1');
    applyBatch(state, b1);
    expect(state).toEqual(emptyLedger('n1', 'e1'));
  });

  it('charges modelled base power to the jobs of the interval by their share of the GPUs, the rest to idle', () => {
    const model = { basePowerW: 800, gpus: 4, maxGapMs: 3000 };
    const two = (seq: number, jobs: Batch['jobs']): Batch => ({ ...batch(seq, seq * 1000, seq * 600, seq * 400), jobs });
    const a = applyBatch(emptyLedger('n1', 'e1'), two(1, [{ id: '7', user: 'u', account: 'a', startTs: 0, gpus: ['g0'], cpuCores: 0 }]), undefined, model);
    if (a.kind !== 'counted') throw new Error('counted expected');
    // No interval before the first batch of an epoch: nothing modelled yet.
    expect(a.effect.nodeMj.otherMj).toBe(0);
    const b = applyBatch(a.effect.ledger, two(2, []), undefined, model);
    if (b.kind !== 'counted') throw new Error('counted expected');
    // 800 W for 1 s = 800 000 mJ; job 7 held 1 of 4 GPUs when the interval began.
    expect(b.effect.nodeMj.otherMj).toBe(800_000);
    expect(b.effect.jobsMj.get('7')).toEqual({ gpuMj: 600, cpuMj: 0, otherMj: 200_000 });
    expect(b.effect.idleMj.otherMj).toBe(600_000);
    expect(b.effect.gpuSeconds).toEqual(new Map([['7', 1]]));
    // A gap longer than maxGapMs is not modelled.
    const c = applyBatch(b.effect.ledger, { ...two(3, []), ts: 10_000 }, undefined, model);
    expect(c.kind === 'counted' && c.effect.nodeMj.otherMj).toBe(0);
  });

  it("measures each job's GPU utilisation and allocated-but-idle GPU-seconds over the interval", () => {
    const jobs: Batch['jobs'] = [
      { id: 'busy', user: 'u', account: 'a', startTs: 0, gpus: ['g0', 'g1'], cpuCores: 0 },
      { id: 'stuck', user: 'u', account: 'a', startTs: 0, gpus: ['g2'], cpuCores: 0 },
      { id: 'blind', user: 'u', account: 'a', startTs: 0, gpus: ['g3'], cpuCores: 0 },
    ];
    const gauges = (ts: number, util: [number, number, number]) => ({
      ts, cpus: [], gpus: [{ uuid: 'g0', utilRatio: util[0] }, { uuid: 'g1', utilRatio: util[1] }, { uuid: 'g2', utilRatio: util[2] }, { uuid: 'g3', powerW: 80 }],
    });
    const first = applyBatch(emptyLedger('n1', 'e1'), { ...batch(1, 1000, 600, 400), jobs, samples: [gauges(1000, [1, 1, 0])] });
    if (first.kind !== 'counted') throw new Error('counted expected');
    // Nothing before the first batch of an epoch.
    expect(first.effect.gpuUse).toEqual(new Map());
    // Two samples in a 2 s interval: each GPU's mean over them counts for the whole interval.
    const second = applyBatch(first.effect.ledger, { ...batch(2, 2000, 1200, 800), ts: 3000, jobs, samples: [gauges(2000, [0.9, 0.5, 0.04]), gauges(3000, [0.7, 0.5, 0.02])] });
    if (second.kind !== 'counted') throw new Error('counted expected');
    expect(second.effect.gpuSeconds).toEqual(new Map([['busy', 4], ['stuck', 2], ['blind', 2]]));
    const busy = second.effect.gpuUse.get('busy');
    expect(busy?.utilS).toBeCloseTo(0.8 * 2 + 0.5 * 2, 12);
    expect(busy).toMatchObject({ utilKnownS: 4, idleS: 0 });
    const stuck = second.effect.gpuUse.get('stuck');
    expect(stuck?.utilS).toBeCloseTo(0.03 * 2, 12);
    expect(stuck).toMatchObject({ utilKnownS: 2, idleS: 2 });
    // A GPU that reports no utilisation counts in neither the mean nor idle time.
    expect(second.effect.gpuUse.has('blind')).toBe(false);
  });
});
