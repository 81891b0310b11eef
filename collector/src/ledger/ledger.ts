/**
 * The ledger turns cumulative counters into energy deltas. Per node and epoch it remembers
 * the last seq and every counter's last value: a batch at or below the last seq is a
 * duplicate (acked, not counted); a missing seq only widens the next delta; a counter that
 * went down starts a new baseline. Pure: the store persists the state it returns.
 */
import type { Batch } from '@stroom/protocol';
import { IDLE_GPU_UTIL_RATIO } from '@stroom/protocol/wire';
import type { BatchEffect, GpuUse, LedgerState, SplitMj } from '../store/store.js';

/** Result of offering one batch to the ledger. */
export type LedgerOutcome =
  | { kind: 'duplicate' }
  | { kind: 'counted'; effect: BatchEffect; resets: string[]; glitches: string[] };

/** Largest plausible energy of a device over an interval, mJ; undefined when unknown. */
export type EnergyLimit = (deviceId: string, dtMs: number) => number | undefined;

/** Fresh state for an epoch never seen: every counter starts at 0 when its epoch begins. */
export function emptyLedger(node: string, epoch: string): LedgerState {
  return { node, epoch, lastSeq: 0, lastTs: 0, counters: {} };
}

/** The modelled part of a node: power the meters do not see (fans, NICs, disks, switches). */
export interface NodeModel {
  /** Base power of the node in W, shared by the jobs by their share of the node's GPUs. */
  readonly basePowerW: number;
  /** GPUs of the node (what the shares are of). */
  readonly gpus: number;
  /** Longest interval the base power is charged over, ms (longer is a gap: not modelled). */
  readonly maxGapMs: number;
}

/** Apply one batch to a copy of `state`; `state` is not modified. */
export function applyBatch(state: LedgerState, batch: Batch, limit?: EnergyLimit, model?: NodeModel): LedgerOutcome {
  if (batch.seq <= state.lastSeq) return { kind: 'duplicate' };
  // The new state holds exactly the counters this batch carries (ended jobs drop out of the
  // agent's counters after a while; they drop out here too, so the state stays the size of what
  // is running), built fresh rather than copied and pruned: this runs for every batch.
  const previousCounters = state.counters;
  const counters: Record<string, number> = {};
  const resets: string[] = [];
  const step = (key: string, value: number): number => {
    const previous = counters[key] ?? previousCounters[key] ?? 0;
    counters[key] = value;
    if (value >= previous) return value - previous;
    resets.push(key);
    return 0;
  };
  const nodeMj: SplitMj = { gpuMj: 0, cpuMj: 0, otherMj: 0 };
  const glitches: string[] = [];
  const dtMs = state.lastTs > 0 ? batch.ts - state.lastTs : 0;
  // When each device's counter last rose ("t:" keys): a device the agent could not read for a
  // while (a GPU off the bus) brings the energy of that whole stretch in one interval, which is
  // physics over the stretch, not over the interval.
  const rose = new Map<string, number>();
  batch.counters.devices.forEach((d, i) => {
    const delta = step(`d:${d.id}`, d.energyMj);
    const sinceTs = state.counters[`t:${d.id}`] ?? state.lastTs;
    rose.set(d.id, delta > 0 ? batch.ts : sinceTs);
    const spanMs = dtMs > 0 ? batch.ts - Math.min(sinceTs, state.lastTs) : 0;
    const max = spanMs > 0 ? limit?.(d.id, spanMs) : undefined;
    if (max !== undefined && delta > max) {
      glitches.push(`counters.devices[${i}].energyMj: rose ${delta / 1000} J in ${spanMs / 1000} s (${Math.round(delta / spanMs)} W), above twice the device's limit; new baseline, nothing counted for this interval`);
    }
    if (d.kind === 'gpu') nodeMj.gpuMj += delta;
    else nodeMj.cpuMj += delta;
  });
  const jobsMj = new Map<string, SplitMj>();
  for (const j of batch.counters.jobs) {
    const mj = { gpuMj: step(`j:${j.id}:gpu`, j.gpuEnergyMj), cpuMj: step(`j:${j.id}:cpu`, j.cpuEnergyMj), otherMj: 0 };
    if (mj.gpuMj > 0 || mj.cpuMj > 0) jobsMj.set(j.id, mj);
  }
  const idleMj: SplitMj = {
    gpuMj: step('i:gpu', batch.counters.idle.gpuEnergyMj),
    cpuMj: step('i:cpu', batch.counters.idle.cpuEnergyMj),
    otherMj: 0,
  };
  // GPU-seconds and modelled base power of the interval, by the job map the interval began
  // with (the previous batch's), as the agent charges measured energy.
  const gpuSeconds = new Map<string, number>();
  let gpuUse = new Map<string, GpuUse>();
  const previousMap: Array<readonly [string, number]> = [];
  for (const k in previousCounters) if (k.startsWith('m:')) previousMap.push([k.slice(2), previousCounters[k] ?? 0]);
  const dtOk = dtMs > 0 && dtMs <= (model?.maxGapMs ?? Infinity);
  if (dtOk) {
    for (const [id, gpus] of previousMap) if (gpus > 0) gpuSeconds.set(id, (gpus * dtMs) / 1000);
    gpuUse = gpuUseOf(batch, new Set(previousMap.filter(([, gpus]) => gpus > 0).map(([id]) => id)), dtMs);
    if (model !== undefined && model.basePowerW > 0) {
      const otherMj = Math.round(model.basePowerW * dtMs);
      nodeMj.otherMj = otherMj;
      let charged = 0;
      for (const [id, gpus] of previousMap) {
        if (gpus === 0 || model.gpus === 0) continue;
        const share = Math.floor((otherMj * Math.min(gpus, model.gpus)) / model.gpus);
        charged += share;
        const mj = jobsMj.get(id) ?? { gpuMj: 0, cpuMj: 0, otherMj: 0 };
        mj.otherMj += share;
        jobsMj.set(id, mj);
      }
      idleMj.otherMj = Math.max(0, otherMj - charged);
    }
  }
  // The job map this interval ends with owns the next one: remember its GPU counts ("m:" keys).
  for (const j of batch.jobs) counters[`m:${j.id}`] = j.gpus.length;
  for (const [id, ts] of rose) counters[`t:${id}`] = ts;
  const ledger: LedgerState = { node: state.node, epoch: state.epoch, lastSeq: batch.seq, lastTs: batch.ts, counters };
  if (glitches.length > 0) {
    // The agent's job and idle counters carry the same glitch: drop the whole interval so
    // jobs + idle = node still holds, and continue from the new values.
    const none = { gpuMj: 0, cpuMj: 0, otherMj: 0 };
    return { kind: 'counted', resets, glitches, effect: { node: batch.node, ts: batch.ts, ledger, nodeMj: none, idleMj: none, jobsMj: new Map(), gpuSeconds, gpuUse, samples: batch.samples, jobs: batch.jobs } };
  }
  return { kind: 'counted', resets, glitches, effect: { node: batch.node, ts: batch.ts, ledger, nodeMj, idleMj, jobsMj, gpuSeconds, gpuUse, samples: batch.samples, jobs: batch.jobs } };
}

/**
 * How busy each job's GPUs were over the interval, from the utilisation the batch's samples
 * carry. Only jobs that held GPUs when the interval began count (as for GPU-seconds), and
 * their GPUs are read off the map the interval ends with: a job that ended within the interval
 * has no GPUs there, so its last interval counts as not reported rather than guessed.
 */
function gpuUseOf(batch: Batch, holders: ReadonlySet<string>, dtMs: number): Map<string, GpuUse> {
  const out = new Map<string, GpuUse>();
  if (holders.size === 0) return out;
  const sum = new Map<string, { util: number; n: number }>();
  for (const sample of batch.samples) {
    for (const g of sample.gpus) {
      if (g.utilRatio === undefined) continue;
      const s = sum.get(g.uuid) ?? { util: 0, n: 0 };
      s.util += g.utilRatio;
      s.n += 1;
      sum.set(g.uuid, s);
    }
  }
  const seconds = dtMs / 1000;
  for (const job of batch.jobs) {
    if (!holders.has(job.id)) continue;
    const use: GpuUse = { utilS: 0, utilKnownS: 0, idleS: 0 };
    for (const uuid of job.gpus) {
      const s = sum.get(uuid);
      if (s === undefined || s.n === 0) continue;
      const util = s.util / s.n;
      use.utilS += util * seconds;
      use.utilKnownS += seconds;
      if (util < IDLE_GPU_UTIL_RATIO) use.idleS += seconds;
    }
    if (use.utilKnownS > 0) out.set(job.id, use);
  }
  return out;
}
