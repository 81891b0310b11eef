/**
 * The live picture of the cluster kept in memory: each node's inventory, latest gauges,
 * power derived from counter deltas, and job map. Fed after each commit; read by the live
 * push and the cluster API. Is not: the books (those are in the Store).
 */
import type { GpuInfo, Hello, JobAllocation, LiveNode, Sample } from '@stroom/protocol';
import type { BatchEffect } from '../store/store.js';

interface NodeState {
  name: string;
  epoch: string;
  intervalMs: number;
  gpus: GpuInfo[];
  lastSeenTs: number;
  /** Receive time (collector clock), for liveness independent of the node's clock. */
  lastHeardMs: number;
  lastSample: Sample | undefined;
  /** Mean power over the last batch interval from counter differences, W. */
  powerW: number | undefined;
  /** The modelled (base power) part of `powerW`, W. */
  otherW: number;
  jobPowerW: Map<string, number>;
  jobs: readonly JobAllocation[];
}

/** A running job's live figures summed over its nodes. */
export interface LiveJobFigures {
  readonly allocation: JobAllocation;
  readonly nodes: string[];
  readonly gpus: number;
  readonly powerW: number;
}

/** One node's inventory, latest sample and power, as the metrics exporter reads them. */
export interface NodeLatest {
  readonly name: string;
  readonly up: boolean;
  readonly gpus: readonly GpuInfo[];
  readonly sample: Sample | undefined;
  /** Mean power over the last batch interval from counters (gauges when there is none yet), W. */
  readonly powerW: number | undefined;
}

/** In-memory live state of every node. */
export class ClusterState {
  readonly #nodes = new Map<string, NodeState>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** A node said hello: (re)record its inventory. */
  hello(h: Hello): void {
    const prev = this.#nodes.get(h.node);
    this.#nodes.set(h.node, {
      name: h.node,
      epoch: h.epoch,
      intervalMs: h.intervalMs,
      gpus: [...h.inventory.gpus].sort((a, b) => a.index - b.index),
      lastSeenTs: prev?.lastSeenTs ?? h.ts,
      lastHeardMs: this.#now(),
      lastSample: prev?.lastSample,
      powerW: prev?.powerW,
      otherW: prev?.otherW ?? 0,
      jobPowerW: prev?.jobPowerW ?? new Map(),
      jobs: prev?.jobs ?? [],
    });
  }

  /** A batch was committed: take its latest sample, power and job map. */
  counted(effect: BatchEffect, samples: readonly Sample[], previousTs: number): void {
    const n = this.#nodes.get(effect.node);
    if (n === undefined) return;
    n.lastHeardMs = this.#now();
    if (effect.ts >= n.lastSeenTs) {
      n.lastSeenTs = effect.ts;
      n.lastSample = samples[samples.length - 1] ?? n.lastSample;
      n.jobs = effect.jobs;
      const dtMs = effect.ts - previousTs;
      // Power from counters is the true mean over the interval; gauges are instants.
      if (previousTs > 0 && dtMs > 0) {
        // Including the modelled base power, as the energy totals do, so power and energy agree.
        n.powerW = (effect.nodeMj.gpuMj + effect.nodeMj.cpuMj + effect.nodeMj.otherMj) / dtMs;
        n.otherW = effect.nodeMj.otherMj / dtMs;
        n.jobPowerW = new Map([...effect.jobsMj].map(([id, mj]) => [id, (mj.gpuMj + mj.cpuMj + mj.otherMj) / dtMs]));
      }
    }
  }

  /** True when the node reported within 3 of its intervals (and at least 5 s). */
  isUp(n: NodeState): boolean {
    return this.#now() - n.lastHeardMs <= Math.max(5000, 3 * n.intervalMs);
  }

  get nodeCount(): number {
    return this.#nodes.size;
  }

  get gpuCount(): number {
    let count = 0;
    for (const n of this.#nodes.values()) count += n.gpus.length;
    return count;
  }

  /** Live facts of one node, or undefined when it has not said hello since the collector started. */
  nodeLive(name: string): { up: boolean; lastSeenTs: number; powerW: number | undefined; jobs: string[] } | undefined {
    const n = this.#nodes.get(name);
    if (n === undefined) return undefined;
    const up = this.isUp(n);
    return { up, lastSeenTs: n.lastSeenTs, powerW: up ? (n.powerW ?? this.#gaugePowerW(n)) : undefined, jobs: n.jobs.map((j) => j.id) };
  }

  /** The modelled part of the cluster's power now, W. */
  modelledPowerW(): number {
    let sum = 0;
    for (const n of this.#nodes.values()) if (this.isUp(n)) sum += n.otherW;
    return sum;
  }

  /** Cluster power now: sum over nodes that are up, W. */
  powerW(): number {
    let sum = 0;
    for (const n of this.#nodes.values()) if (this.isUp(n)) sum += n.powerW ?? this.#gaugePowerW(n);
    return sum;
  }

  /** Running jobs (on the map of a node that is up), summed across nodes. */
  runningJobs(): LiveJobFigures[] {
    const jobs = new Map<string, { allocation: JobAllocation; nodes: string[]; gpus: number; powerW: number }>();
    for (const n of this.#nodes.values()) {
      if (!this.isUp(n)) continue;
      for (const a of n.jobs) {
        let j = jobs.get(a.id);
        if (j === undefined) {
          j = { allocation: a, nodes: [], gpus: 0, powerW: 0 };
          jobs.set(a.id, j);
        }
        j.nodes.push(n.name);
        j.gpus += a.gpus.length;
        j.powerW += n.jobPowerW.get(a.id) ?? 0;
      }
    }
    return [...jobs.values()];
  }

  /** Every node's GPUs as columns for the live grid, nodes in name order. */
  grid(): LiveNode[] {
    const names = [...this.#nodes.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    return names.map((name) => {
      const n = this.#nodes.get(name) as NodeState;
      const byUuid = new Map((n.lastSample?.gpus ?? []).map((g) => [g.uuid, g]));
      const owner = new Map<string, string>();
      for (const j of n.jobs) for (const uuid of j.gpus) owner.set(uuid, j.id);
      const up = this.isUp(n);
      return {
        name,
        up,
        lastSeenTs: n.lastSeenTs,
        powerW: up ? (n.powerW ?? this.#gaugePowerW(n)) : 0,
        gpuUuids: n.gpus.map((g) => g.uuid),
        gpuPowerW: n.gpus.map((g) => byUuid.get(g.uuid)?.powerW ?? null),
        gpuPowerLimitW: n.gpus.map((g) => g.powerLimitW ?? null),
        gpuTempC: n.gpus.map((g) => byUuid.get(g.uuid)?.tempC ?? null),
        gpuUtilRatio: n.gpus.map((g) => byUuid.get(g.uuid)?.utilRatio ?? null),
        gpuJob: n.gpus.map((g) => owner.get(g.uuid) ?? null),
      };
    });
  }

  /** Every node's inventory and latest sample, nodes in name order. */
  latest(): NodeLatest[] {
    const names = [...this.#nodes.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    return names.map((name) => {
      const n = this.#nodes.get(name) as NodeState;
      return { name, up: this.isUp(n), gpus: n.gpus, sample: n.lastSample, powerW: n.powerW ?? (n.lastSample === undefined ? undefined : this.#gaugePowerW(n)) };
    });
  }

  #gaugePowerW(n: NodeState): number {
    const s = n.lastSample;
    if (s === undefined) return 0;
    let sum = 0;
    for (const g of s.gpus) sum += g.powerW ?? 0;
    for (const c of s.cpus) sum += c.powerW ?? 0;
    return sum;
  }
}
