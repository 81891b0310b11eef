/**
 * The ledger turns cumulative counters into energy deltas. Per node and epoch it remembers
 * the last seq and every counter's last value: a batch at or below the last seq is a
 * duplicate (acked, not counted); a missing seq only widens the next delta; a counter that
 * went down starts a new baseline. Pure: the store persists the state it returns.
 */
import type { Batch } from '@stroom/protocol';
import type { BatchEffect, LedgerState, SplitMj } from '../store/store.js';

/** Result of offering one batch to the ledger. */
export type LedgerOutcome =
  | { kind: 'duplicate' }
  | { kind: 'counted'; effect: BatchEffect; resets: string[] };

/** Fresh state for an epoch never seen: every counter starts at 0 when its epoch begins. */
export function emptyLedger(node: string, epoch: string): LedgerState {
  return { node, epoch, lastSeq: 0, lastTs: 0, counters: {} };
}

/** Apply one batch to a copy of `state`; `state` is not modified. */
export function applyBatch(state: LedgerState, batch: Batch): LedgerOutcome {
  if (batch.seq <= state.lastSeq) return { kind: 'duplicate' };
  const counters = { ...state.counters };
  const resets: string[] = [];
  const step = (key: string, value: number): number => {
    const previous = counters[key] ?? 0;
    counters[key] = value;
    if (value >= previous) return value - previous;
    resets.push(key);
    return 0;
  };
  const nodeMj: SplitMj = { gpuMj: 0, cpuMj: 0 };
  for (const d of batch.counters.devices) {
    const delta = step(`d:${d.id}`, d.energyMj);
    if (d.kind === 'gpu') nodeMj.gpuMj += delta;
    else nodeMj.cpuMj += delta;
  }
  const jobsMj = new Map<string, SplitMj>();
  for (const j of batch.counters.jobs) {
    const mj = { gpuMj: step(`j:${j.id}:gpu`, j.gpuEnergyMj), cpuMj: step(`j:${j.id}:cpu`, j.cpuEnergyMj) };
    if (mj.gpuMj > 0 || mj.cpuMj > 0) jobsMj.set(j.id, mj);
  }
  const idleMj: SplitMj = {
    gpuMj: step('i:gpu', batch.counters.idle.gpuEnergyMj),
    cpuMj: step('i:cpu', batch.counters.idle.cpuEnergyMj),
  };
  // Ended jobs drop out of the agent's counters after a while; forget them here too so the
  // state stays the size of what is running.
  const present = new Set<string>([
    ...batch.counters.devices.map((d) => `d:${d.id}`),
    ...batch.counters.jobs.flatMap((j) => [`j:${j.id}:gpu`, `j:${j.id}:cpu`]),
    'i:gpu',
    'i:cpu',
  ]);
  for (const key of Object.keys(counters)) if (!present.has(key)) delete counters[key];
  const ledger: LedgerState = { node: state.node, epoch: state.epoch, lastSeq: batch.seq, lastTs: batch.ts, counters };
  return { kind: 'counted', resets, effect: { node: batch.node, ts: batch.ts, ledger, nodeMj, idleMj, jobsMj, jobs: batch.jobs } };
}
