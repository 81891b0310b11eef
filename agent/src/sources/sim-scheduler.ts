/**
 * A tiny Slurm for one simulated node: jobs of 1, 2 or all GPUs arrive, wait in a FIFO queue
 * until their GPUs are free, run for a while and end. Some jobs leave a GPU they hold unused.
 *
 * Is: discrete. The job map changes only inside `advance(ts)`, at tick times, so the energy of
 * an interval between two ticks has exactly one owner per GPU, as the meter assumes. Is not:
 * a model of backfill, preemption or multi-node jobs.
 */
import type { JobAllocation } from '@stroom/protocol';
import { hash32, mulberry32, pick, uniform, type Rand } from './random.js';
import { drawInferenceProfile, drawJobMemBytes, drawTrainingProfile, type LoadProfile } from './sim-power-model.js';

/** Slurm partition every simulated job runs in. */
export const SIM_PARTITION = 'gpu_h100';

/** Users of the simulated cluster with the account each one charges. */
export const SIM_USERS: readonly { readonly user: string; readonly account: string }[] = [
  { user: 'u.devries', account: 'surf-llm' },
  { user: 'e.jansen', account: 'umcg-imaging' },
  { user: 's.bakker', account: 'tno-defence' },
  { user: 'm.visser', account: 'rug-astro' },
  { user: 'j.smit', account: 'surf-llm' },
  { user: 'a.meijer', account: 'umcg-imaging' },
  { user: 'l.mulder', account: 'rug-astro' },
  { user: 'k.dejong', account: 'tno-defence' },
];

const TRAINING_NAMES = ['llama3-8b-sft', 'nnunet-ct-seg', 'vit-pretrain', 'whisper-nl-ft', 'graphcast-era5', 'diffusion-mri'];
const INFERENCE_NAMES = ['vllm-serve', 'triton-bench', 'embed-corpus'];

/** Jobs waiting for GPUs at most; later arrivals are turned away, as a full partition would. */
const MAX_QUEUE = 3;

/** A job on the simulated node: its allocation plus what the power model needs. */
export interface SimJob {
  /** The job as the job map reports it; `startTs` is the tick it started at. */
  readonly allocation: JobAllocation;
  /** GPU UUIDs the job computes on; the rest of `allocation.gpus` is held but idle. */
  readonly usedGpus: readonly string[];
  readonly profile: LoadProfile;
  /** Memory footprint per used GPU, bytes. */
  readonly memUsedBytes: number;
  /** Mean busy fraction 0..1 of the job's CPU cores. */
  readonly cpuBusyRatio: number;
  /** 32-bit key of the job's own fluctuations. */
  readonly key: number;
  /** Planned end, ms since the Unix epoch; the job leaves at the first tick at or after it. */
  readonly endTs: number;
}

/** Options of the simulated scheduler. */
export interface SimSchedulerOptions {
  /** Ordinal of the node in the cluster; job ids are `nodeOrdinal * 100000 + n`, so unique across nodes. */
  readonly nodeOrdinal: number;
  /** UUIDs of the node's GPUs in index order. */
  readonly gpuUuids: readonly string[];
  /** CPU cores of the node; a job gets cores in proportion to its GPUs. */
  readonly totalCores: number;
  /** Seed of the job stream. */
  readonly seed: number;
  /** Seconds per time unit: job lengths are 1–4 units and arrivals ~0.3–1.5 units apart (default 1). */
  readonly timeScale?: number;
}

interface Pending {
  readonly gpuCount: number;
  readonly idleGpus: number;
  readonly durationMs: number;
  readonly profile: LoadProfile;
  readonly user: { readonly user: string; readonly account: string };
  readonly name: string;
  readonly memUsedBytes: number;
  readonly cpuBusyRatio: number;
  readonly key: number;
}

/** First job number on every node; ids stay above 1000 as real Slurm ids do. */
const FIRST_JOB_NUMBER = 1001;

/** The job stream of one simulated node; state changes only in `advance`. */
export class SimScheduler {
  readonly #rand: Rand;
  readonly #gpuUuids: readonly string[];
  readonly #totalCores: number;
  readonly #unitMs: number;
  readonly #idBase: number;
  #counter = 0;
  #lastTs: number | undefined;
  #nextArrivalTs: number | undefined;
  readonly #queue: Pending[] = [];
  #running: SimJob[] = [];
  readonly #ever: SimJob[] = [];

  constructor(options: SimSchedulerOptions) {
    this.#rand = mulberry32(hash32(options.seed, options.nodeOrdinal, 0x5c4ed));
    this.#gpuUuids = [...options.gpuUuids];
    this.#totalCores = options.totalCores;
    this.#unitMs = (options.timeScale ?? 1) * 1000;
    this.#idBase = options.nodeOrdinal * 100_000 + FIRST_JOB_NUMBER;
  }

  /** Jobs holding GPUs since the last `advance`. */
  get running(): readonly SimJob[] {
    return this.#running;
  }

  /** Every job that ever started on the node, in start order. */
  get ever(): readonly SimJob[] {
    return this.#ever;
  }

  /**
   * Moves the node to tick `ts` (ms since the Unix epoch): ends jobs due by then, queues
   * arrivals and starts queued jobs whose GPUs are free. Returns the job map at `ts`.
   * A `ts` at or before the previous one changes nothing.
   */
  advance(ts: number): readonly SimJob[] {
    if (this.#lastTs !== undefined && ts <= this.#lastTs) return this.#running;
    this.#lastTs = ts;
    // Replaced, never mutated: a job map handed out earlier stays as it was.
    this.#running = this.#running.filter((j) => j.endTs > ts);
    this.#arrive(ts);
    this.#startQueued(ts);
    return this.#running;
  }

  #arrive(ts: number): void {
    // After a long pause (or at the first tick) do not replay every missed arrival at once.
    if (this.#nextArrivalTs === undefined || ts - this.#nextArrivalTs > 10 * this.#unitMs) this.#nextArrivalTs = ts;
    while (this.#nextArrivalTs <= ts) {
      if (this.#queue.length < MAX_QUEUE && this.#gpuUuids.length > 0) this.#queue.push(this.#draw());
      // Now and then a longer lull, so whole-node idle stretches appear.
      const gapUnits = this.#rand() < 0.15 ? uniform(this.#rand, 2, 4) : uniform(this.#rand, 0.3, 1.5);
      this.#nextArrivalTs += gapUnits * this.#unitMs;
    }
  }

  #draw(): Pending {
    const rand = this.#rand;
    const all = this.#gpuUuids.length;
    const r = rand();
    const gpuCount = Math.min(all, r < 0.4 ? 1 : r < 0.7 ? 2 : all);
    const training = rand() < 0.7;
    // Some jobs ask for more GPUs than their code uses (a 4-GPU job running on 3, an idle
    // interactive session): the GPU is allocated but draws little power.
    let idleGpus = 0;
    if (gpuCount > 1 && rand() < 0.3) idleGpus = 1;
    else if (gpuCount === 1 && rand() < 0.08) idleGpus = 1;
    return {
      gpuCount,
      idleGpus,
      durationMs: uniform(rand, 1, 4) * this.#unitMs,
      profile: training ? drawTrainingProfile(rand) : drawInferenceProfile(rand),
      user: pick(rand, SIM_USERS),
      name: pick(rand, training ? TRAINING_NAMES : INFERENCE_NAMES),
      memUsedBytes: drawJobMemBytes(rand),
      cpuBusyRatio: uniform(rand, 0.4, 0.95),
      key: Math.floor(rand() * 4294967296),
    };
  }

  /** Strict FIFO, no backfill: a waiting full-node job keeps GPUs free until the node drains. */
  #startQueued(ts: number): void {
    for (;;) {
      const head = this.#queue[0];
      if (head === undefined) return;
      const held = new Set(this.#running.flatMap((j) => j.allocation.gpus));
      const free = this.#gpuUuids.filter((u) => !held.has(u));
      if (free.length < head.gpuCount) return;
      this.#queue.shift();
      const gpus = free.slice(0, head.gpuCount);
      const job: SimJob = {
        allocation: {
          id: String(this.#idBase + this.#counter++),
          user: head.user.user,
          account: head.user.account,
          name: head.name,
          partition: SIM_PARTITION,
          startTs: ts,
          gpus,
          cpuCores: Math.floor((this.#totalCores * head.gpuCount) / this.#gpuUuids.length),
        },
        usedGpus: gpus.slice(0, gpus.length - head.idleGpus),
        profile: head.profile,
        memUsedBytes: head.memUsedBytes,
        cpuBusyRatio: head.cpuBusyRatio,
        key: head.key,
        endTs: ts + head.durationMs,
      };
      this.#running = [...this.#running, job];
      this.#ever.push(job);
    }
  }
}
