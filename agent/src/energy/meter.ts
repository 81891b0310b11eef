/**
 * The meter turns device readings into monotonic cumulative energy counters per device,
 * per job and for idle, in integer millijoules since the agent started (one epoch).
 *
 * Is: counter differences when the device has a hardware counter, else the trapezoid of
 * power on the monotonic clock; per-interval attribution to the job that held the device
 * at the start of the interval. Is not: a store of history (only running totals).
 */
import type { CpuInfo, DeviceCounter, DeviceKind, EnergySplit, GpuInfo, JobAllocation, JobCounter } from '@stroom/protocol';
import type { DeviceReadings, Tick } from '../source.js';
import { counterStep, splitInteger, trapezoidMj } from './integrator.js';

/** Options of the meter. */
export interface MeterOptions {
  /** Sampling interval in ms; gaps are measured against it. */
  readonly intervalMs: number;
  /** An interval longer than this many sampling intervals is a gap and is not integrated (default 3). */
  readonly maxGapIntervals?: number;
  /** CPU packages of the node; their cores are what CPU energy is split by. */
  readonly cpus: readonly CpuInfo[];
  /** GPUs of the node; needed only for MIG, where jobs hold slices of a physical GPU. */
  readonly gpus?: readonly GpuInfo[];
  /** How long an ended job's counter keeps being reported, in ms (default 15 min). */
  readonly retainEndedMs?: number;
  /** Called once per device whose hardware counter went backwards (a new baseline). */
  readonly onCounterReset?: (deviceId: string) => void;
}

interface DeviceState {
  readonly kind: DeviceKind;
  /** Cumulative energy in mJ as a float (trapezoid remainders kept). */
  exactMj: number;
  lastMonoMs?: number;
  lastPowerW?: number;
  lastCounterMj?: number;
}

interface JobState {
  counter: EnergySplit;
  /** Monotonic ms when the job left the node's job map; undefined while it runs. */
  endedMonoMs?: number;
}

/** Everything the meter needs to continue its counters after an agent restart (JSON-safe). */
export interface MeterState {
  readonly devices: Array<{ id: string; kind: DeviceKind; exactMj: number; lastMonoMs?: number; lastPowerW?: number; lastCounterMj?: number }>;
  readonly jobs: Array<{ id: string; counter: EnergySplit; endedMonoMs?: number }>;
  readonly idle: EnergySplit;
  readonly owners: JobAllocation[];
  readonly gaps: number;
  readonly resets: number;
}

/** Power-to-energy meter for one node and one epoch. */
export class Meter {
  readonly #maxGapMs: number;
  readonly #totalCores: number;
  readonly #retainEndedMs: number;
  readonly #onCounterReset: ((deviceId: string) => void) | undefined;
  readonly #devices = new Map<string, DeviceState>();
  readonly #jobs = new Map<string, JobState>();
  readonly #idle: EnergySplit = { gpuEnergyMj: 0, cpuEnergyMj: 0 };
  /** Job map in force since the previous tick: it owns the interval that ends now. */
  #owners: readonly JobAllocation[] = [];
  #gaps = 0;
  #resets = 0;
  /** MIG device UUID -> its physical GPU and the compute slices it holds. */
  readonly #migParent = new Map<string, { parent: string; slices: number }>();
  /** Physical GPU UUID -> total compute slices (MIG mode only). */
  readonly #gpuSlices = new Map<string, number>();

  constructor(options: MeterOptions) {
    this.#maxGapMs = (options.maxGapIntervals ?? 3) * options.intervalMs;
    this.#totalCores = options.cpus.reduce((sum, c) => sum + c.cores, 0);
    this.#retainEndedMs = options.retainEndedMs ?? 15 * 60_000;
    this.#onCounterReset = options.onCounterReset;
    for (const gpu of options.gpus ?? []) {
      const migs = gpu.migDevices ?? [];
      if (migs.length === 0) continue;
      // A GPU in MIG mode has 7 compute slices on A100/H100/H200; unassigned slices are idle.
      this.#gpuSlices.set(gpu.uuid, gpu.migSlices ?? Math.max(7, migs.reduce((n, m) => n + m.slices, 0)));
      for (const m of migs) this.#migParent.set(m.uuid, { parent: gpu.uuid, slices: m.slices });
    }
  }

  /** Sampling intervals that were longer than the gap limit and not integrated. */
  get gaps(): number {
    return this.#gaps;
  }

  /** Hardware counters that went backwards and started a new baseline. */
  get resets(): number {
    return this.#resets;
  }

  /** Account one tick: energy since the previous tick goes to the owners of the previous job map. */
  update(tick: Tick, readings: DeviceReadings, jobs: readonly JobAllocation[]): void {
    const gpuOwners = this.#gpuOwners();
    let cpuDeltaMj = 0;
    for (const gpu of readings.gpus) {
      const deltaMj = this.#advance(gpu.uuid, 'gpu', tick.monoMs, gpu.powerW, gpu.energyCounterMj);
      if (deltaMj === 0) continue;
      const owners = gpuOwners.get(gpu.uuid);
      if (owners === undefined) {
        this.#idle.gpuEnergyMj += deltaMj;
        continue;
      }
      // Power is per physical GPU; MIG slices share it by the compute slices they hold,
      // never each the whole GPU.
      const { shares, restMj } = splitInteger(deltaMj, owners.weights, owners.restWeight);
      owners.jobs.forEach((id, i) => {
        this.#job(id).counter.gpuEnergyMj += shares[i] ?? 0;
      });
      this.#idle.gpuEnergyMj += restMj;
    }
    for (const cpu of readings.cpus) {
      cpuDeltaMj += this.#advance(cpu.id, cpu.kind, tick.monoMs, cpu.powerW, cpu.energyCounterMj);
    }
    if (cpuDeltaMj > 0) this.#splitCpu(cpuDeltaMj);
    this.#setJobMap(tick.monoMs, jobs);
  }

  /** Who held each physical GPU over the interval now ending, with their weights. */
  #gpuOwners(): Map<string, { jobs: string[]; weights: number[]; restWeight: number }> {
    const owners = new Map<string, { jobs: string[]; weights: number[]; restWeight: number }>();
    for (const job of this.#owners) {
      for (const uuid of job.gpus) {
        const mig = this.#migParent.get(uuid);
        const gpu = mig?.parent ?? uuid;
        let o = owners.get(gpu);
        if (o === undefined) {
          o = { jobs: [], weights: [], restWeight: mig === undefined ? 0 : (this.#gpuSlices.get(gpu) ?? 7) };
          owners.set(gpu, o);
        }
        if (mig === undefined) {
          // A whole GPU has one owner; a second claim on it would count its energy twice.
          if (o.jobs.length === 0) {
            o.jobs.push(job.id);
            o.weights.push(1);
          }
          continue;
        }
        o.jobs.push(job.id);
        o.weights.push(mig.slices);
        o.restWeight = Math.max(0, o.restWeight - mig.slices);
      }
    }
    return owners;
  }

  /**
   * The meter's state, to persist. The monotonic clock (CLOCK_MONOTONIC) runs since boot, so
   * within one boot a restarted agent can continue from it; a new boot is a new epoch.
   */
  state(): MeterState {
    return {
      devices: [...this.#devices].map(([id, d]) => ({ id, ...d })),
      jobs: [...this.#jobs].map(([id, j]) => ({ id, counter: { ...j.counter }, ...(j.endedMonoMs === undefined ? {} : { endedMonoMs: j.endedMonoMs }) })),
      idle: { ...this.#idle },
      owners: [...this.#owners],
      gaps: this.#gaps,
      resets: this.#resets,
    };
  }

  /** Continue from a persisted state (same epoch). */
  restore(state: MeterState): void {
    this.#devices.clear();
    for (const { id, ...d } of state.devices) this.#devices.set(id, { ...d });
    this.#jobs.clear();
    for (const j of state.jobs) this.#jobs.set(j.id, j.endedMonoMs === undefined ? { counter: { ...j.counter } } : { counter: { ...j.counter }, endedMonoMs: j.endedMonoMs });
    this.#idle.gpuEnergyMj = state.idle.gpuEnergyMj;
    this.#idle.cpuEnergyMj = state.idle.cpuEnergyMj;
    this.#owners = state.owners;
    this.#gaps = state.gaps;
    this.#resets = state.resets;
  }

  /** Cumulative counters to put on the wire. */
  snapshot(): { devices: DeviceCounter[]; jobs: JobCounter[]; idle: EnergySplit } {
    const devices: DeviceCounter[] = [];
    for (const [id, d] of this.#devices) devices.push({ id, kind: d.kind, energyMj: Math.floor(d.exactMj) });
    const jobs: JobCounter[] = [];
    for (const [id, j] of this.#jobs) jobs.push({ id, ...j.counter });
    return { devices, jobs, idle: { ...this.#idle } };
  }

  /** Integer mJ gained by one device since its previous reading. */
  #advance(id: string, kind: DeviceKind, monoMs: number, powerW: number | undefined, counterMj: number | undefined): number {
    let d = this.#devices.get(id);
    if (d === undefined) {
      d = { kind, exactMj: 0 };
      this.#devices.set(id, d);
    }
    const before = Math.floor(d.exactMj);
    const dtMs = d.lastMonoMs === undefined ? undefined : monoMs - d.lastMonoMs;
    if (dtMs !== undefined && dtMs > this.#maxGapMs) this.#gaps += 1;
    if (counterMj !== undefined) {
      // A hardware counter is a measurement, not an estimate: take its difference even across
      // a gap, because no energy is guessed.
      if (d.lastCounterMj !== undefined) {
        const step = counterStep(d.lastCounterMj, counterMj);
        if (step.kind === 'delta') d.exactMj += step.deltaMj;
        else {
          this.#resets += 1;
          this.#onCounterReset?.(id);
        }
      }
      d.lastCounterMj = counterMj;
    } else if (d.lastCounterMj !== undefined) {
      // The counter missed one read: the next counter difference covers this interval, so
      // integrating power here would count it twice.
    } else if (powerW !== undefined && d.lastPowerW !== undefined && dtMs !== undefined && dtMs > 0 && dtMs <= this.#maxGapMs) {
      d.exactMj += trapezoidMj(d.lastPowerW, powerW, dtMs);
    }
    if (powerW !== undefined) d.lastPowerW = powerW;
    else delete d.lastPowerW;
    d.lastMonoMs = monoMs;
    return Math.floor(d.exactMj) - before;
  }

  /**
   * CPU and DRAM energy of the interval: split by each job's measured CPU-time share when every
   * job has one (from its cgroup), else by allocated cores; what is left is idle.
   */
  #splitCpu(deltaMj: number): void {
    const owners = this.#owners.filter((j) => j.cpuCores > 0 || j.cpuShareRatio !== undefined);
    const byShare = owners.length > 0 && owners.every((j) => j.cpuShareRatio !== undefined);
    let weights: number[];
    let rest: number;
    if (byShare) {
      weights = owners.map((j) => j.cpuShareRatio ?? 0);
      rest = Math.max(0, 1 - weights.reduce((a, b) => a + b, 0));
    } else {
      weights = owners.map((j) => j.cpuCores);
      rest = Math.max(0, this.#totalCores - weights.reduce((a, b) => a + b, 0));
    }
    const { shares, restMj } = splitInteger(deltaMj, weights, rest);
    owners.forEach((job, i) => {
      this.#job(job.id).counter.cpuEnergyMj += shares[i] ?? 0;
    });
    this.#idle.cpuEnergyMj += restMj;
  }

  #job(id: string): JobState {
    let j = this.#jobs.get(id);
    if (j === undefined) {
      j = { counter: { gpuEnergyMj: 0, cpuEnergyMj: 0 } };
      this.#jobs.set(id, j);
    }
    return j;
  }

  #setJobMap(monoMs: number, jobs: readonly JobAllocation[]): void {
    const running = new Set(jobs.map((j) => j.id));
    for (const id of running) {
      const j = this.#job(id);
      delete j.endedMonoMs;
    }
    for (const [id, j] of this.#jobs) {
      if (running.has(id)) continue;
      j.endedMonoMs ??= monoMs;
      // Keep reporting an ended job's final counter for a while so any batch that reaches the
      // collector still carries it; after that the collector has long since counted it.
      if (monoMs - j.endedMonoMs > this.#retainEndedMs) this.#jobs.delete(id);
    }
    this.#owners = jobs;
  }
}
