/**
 * The live picture of the cluster kept in memory: each node's inventory, latest gauges,
 * power derived from counter deltas, and job map. Fed after each commit; read by the live
 * push and the cluster API. Is not: the books (those are in the Store).
 */
import type { Batch, GpuInfo, Hello, JobAllocation, LiveNode, LiveProblem, Sample } from '@stroom/protocol';
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
  /** Sources as the node's hello listed them (disabled ones with their reason). */
  helloSources: NonNullable<Hello['sources']>;
  /** Each source's errors + timeouts from the latest batch, and when (collector clock) they last grew. */
  sourceHealth: Map<string, { faults: number; grewMs: number | undefined }>;
  /** The node's clock stepped back: by how much, and the timestamp it has to pass again. */
  clockBack: { stepMs: number; seq: number; untilTs: number } | undefined;
  /** Bumped on every change the live grid shows, so the live feed sends only changed rows. */
  version: number;
}

/** Batch source health, as the batch carries it. */
export type SourceHealth = NonNullable<Batch['sources']>;

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

/** Shortest time a source whose faults grew is shown as failing, ms. */
const FAULT_HOLD_MS = 5000;

const NAME_ORDER = new Intl.Collator('en', { numeric: true });

/** `x` rounded to 1/`per`, or null when absent. */
function round(x: number | undefined, per: number): number | null {
  return x === undefined ? null : Math.round(x * per) / per;
}

/** In-memory live state of every node. */
export class ClusterState {
  readonly #nodes = new Map<string, NodeState>();
  readonly #now: () => number;
  #names: string[] | undefined;

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
      helloSources: h.sources ?? [],
      sourceHealth: new Map(),
      clockBack: prev?.clockBack,
      version: (prev?.version ?? 0) + 1,
    });
  }

  /** A batch was committed: take its latest sample, power and job map. */
  counted(effect: BatchEffect, samples: readonly Sample[], previousTs: number, sources?: SourceHealth): void {
    const n = this.#nodes.get(effect.node);
    if (n === undefined) return;
    n.lastHeardMs = this.#now();
    // Within the connection's epoch the committer hands batches over in seq order, so each is
    // the newest even when the node's clock stepped back; only another epoch's is judged by ts.
    if (effect.ledger.epoch === n.epoch || effect.ts >= n.lastSeenTs) {
      if (previousTs > 0 && effect.ts < previousTs && effect.ledger.epoch === n.epoch) {
        n.clockBack = { stepMs: previousTs - effect.ts, seq: effect.ledger.lastSeq, untilTs: Math.max(previousTs, n.clockBack?.untilTs ?? 0) };
      } else if (n.clockBack !== undefined && effect.ts >= n.clockBack.untilTs) n.clockBack = undefined;
      n.version += 1;
      n.lastSeenTs = effect.ts;
      for (const src of sources ?? []) {
        const faults = src.errors + src.timeouts;
        const before = n.sourceHealth.get(src.name);
        const grew = before !== undefined && faults > before.faults;
        n.sourceHealth.set(src.name, { faults, grewMs: grew ? this.#now() : before?.grewMs });
      }
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

  /** Power of one job on one node over the last interval (incl. modelled base power), W; null when unknown. */
  jobPowerW(node: string, jobId: string): number | null {
    const n = this.#nodes.get(node);
    if (n === undefined || !this.isUp(n)) return null;
    return n.jobPowerW.get(jobId) ?? null;
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

  /** Node names in display order (numeric-aware). */
  names(): readonly string[] {
    // Sorted once per new node, not per call: the live feed asks several times a tick, and a
    // numeric-aware compare of 1,000 names costs milliseconds.
    if (this.#names === undefined || this.#names.length !== this.#nodes.size) this.#names = [...this.#nodes.keys()].sort(NAME_ORDER.compare);
    return this.#names;
  }

  /** Every node's GPUs as columns for the live grid, nodes in name order. */
  grid(): LiveNode[] {
    return this.names().map((name) => this.#row(this.#nodes.get(name) as NodeState));
  }

  /** One node's grid row, or undefined when it never said hello. */
  gridRow(name: string): LiveNode | undefined {
    const n = this.#nodes.get(name);
    return n === undefined ? undefined : this.#row(n);
  }

  /**
   * A short signature of what a node's grid row shows: it changes when a batch was counted,
   * the node said hello, or it went up or down. The live feed compares signatures between
   * ticks to send only the rows that changed.
   */
  rowSignature(name: string): string | undefined {
    const n = this.#nodes.get(name);
    return n === undefined ? undefined : `${n.version}:${this.isUp(n) ? 1 : 0}`;
  }

  /** Latest CPU power (sum of packages, W) and host CPU utilisation of a node, null when unknown. */
  cpu(name: string): { powerW: number | null; utilRatio: number | null } {
    const s = this.#nodes.get(name)?.lastSample;
    if (s === undefined) return { powerW: null, utilRatio: null };
    let powerW: number | null = null;
    for (const c of s.cpus) if (c.powerW !== undefined) powerW = (powerW ?? 0) + c.powerW;
    return { powerW, utilRatio: s.host?.cpuUtilRatio ?? null };
  }

  /** Nodes whose agent is down or one of whose sources is disabled or failing, in name order. */
  problems(): LiveProblem[] {
    const out: LiveProblem[] = [];
    for (const name of this.names()) {
      const p = this.problem(name);
      if (p !== null) out.push(p);
    }
    return out;
  }

  /** What is wrong with one node, or null when its agent and every source report. */
  problem(name: string): LiveProblem | null {
    const n = this.#nodes.get(name);
    if (n === undefined) return null;
    const agentUp = this.isUp(n);
    const sources: LiveProblem['sources'] = [];
    for (const s of n.helloSources) {
      if (s.state === 'disabled') sources.push({ name: s.name, state: 'disabled', reason: s.reason ?? 'disabled at agent start' });
    }
    // Batches carry cumulative errors and timeouts per source (and the last read's duration, not
    // its time), so a source counts as failing while its faults keep growing, and for a few
    // intervals after: one fault between two live ticks would otherwise never be shown.
    const holdMs = Math.max(FAULT_HOLD_MS, 5 * n.intervalMs);
    for (const [src, h] of n.sourceHealth) {
      if (h.grewMs !== undefined && this.#now() - h.grewMs <= holdMs) sources.push({ name: src, state: 'failing', reason: `${h.faults} errors and timeouts so far, more in the last ${Math.round(holdMs / 1000)} s` });
    }
    if (n.clockBack !== undefined) {
      // Not a source, but the same kind of news for an operator; the books are unaffected.
      sources.push({ name: 'clock', state: 'failing', reason: `the node's clock stepped back ${Math.round(n.clockBack.stepMs / 1000)} s at seq ${n.clockBack.seq}; batches are ordered and counted by seq, but its timestamps repeat earlier ones until they pass ${new Date(n.clockBack.untilTs).toISOString()}` });
    }
    if (agentUp && sources.length === 0) return null;
    return { node: name, agentUp, lastSeenTs: n.lastSeenTs, sources };
  }

  #row(n: NodeState): LiveNode {
    const byUuid = new Map((n.lastSample?.gpus ?? []).map((g) => [g.uuid, g]));
    const owner = new Map<string, string>();
    for (const j of n.jobs) for (const uuid of j.gpus) owner.set(uuid, j.id);
    const up = this.isUp(n);
    return {
      name: n.name,
      up,
      lastSeenTs: n.lastSeenTs,
      // 0.1 W is far below what a node's power means; the long float would be a third of the row.
      powerW: up ? Math.round((n.powerW ?? this.#gaugePowerW(n)) * 10) / 10 : 0,
      gpuUuids: n.gpus.map((g) => g.uuid),
      // Rounded for display only (the books use counters): the wire carries what a person can read.
      gpuPowerW: n.gpus.map((g) => round(byUuid.get(g.uuid)?.powerW, 10)),
      gpuPowerLimitW: n.gpus.map((g) => g.powerLimitW ?? null),
      gpuTempC: n.gpus.map((g) => round(byUuid.get(g.uuid)?.tempC, 1)),
      gpuUtilRatio: n.gpus.map((g) => round(byUuid.get(g.uuid)?.utilRatio, 1000)),
      gpuJob: n.gpus.map((g) => owner.get(g.uuid) ?? null),
    };
  }

  /** Every node's inventory and latest sample, nodes in name order. */
  latest(): NodeLatest[] {
    return this.names().map((name) => {
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
