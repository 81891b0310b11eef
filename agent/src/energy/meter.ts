/**
 * The meter turns device readings into monotonic cumulative energy counters per device,
 * per job and for idle, in integer millijoules since the agent started (one epoch).
 *
 * Is: counter differences when the device has a hardware counter, else the trapezoid of
 * power on the monotonic clock; per-interval attribution to the job that held the device
 * at the start of the interval. Is not: a store of history (only running totals).
 */
import type { CpuInfo, DeviceCounter, DeviceKind, EnergySplit, JobAllocation, JobCounter } from '@stroom/protocol';
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

  constructor(options: MeterOptions) {
    this.#maxGapMs = (options.maxGapIntervals ?? 3) * options.intervalMs;
    this.#totalCores = options.cpus.reduce((sum, c) => sum + c.cores, 0);
    this.#retainEndedMs = options.retainEndedMs ?? 15 * 60_000;
    this.#onCounterReset = options.onCounterReset;
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
    const gpuOwner = new Map<string, string>();
    for (const job of this.#owners) for (const uuid of job.gpus) gpuOwner.set(uuid, job.id);
    let cpuDeltaMj = 0;
    for (const gpu of readings.gpus) {
      const deltaMj = this.#advance(gpu.uuid, 'gpu', tick.monoMs, gpu.powerW, gpu.energyCounterMj);
      if (deltaMj === 0) continue;
      const owner = gpuOwner.get(gpu.uuid);
      if (owner === undefined) this.#idle.gpuEnergyMj += deltaMj;
      else this.#job(owner).counter.gpuEnergyMj += deltaMj;
    }
    for (const cpu of readings.cpus) {
      cpuDeltaMj += this.#advance(cpu.id, cpu.kind, tick.monoMs, cpu.powerW, cpu.energyCounterMj);
    }
    if (cpuDeltaMj > 0) this.#splitCpu(cpuDeltaMj);
    this.#setJobMap(tick.monoMs, jobs);
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
    } else if (powerW !== undefined && d.lastPowerW !== undefined && dtMs !== undefined && dtMs > 0 && dtMs <= this.#maxGapMs) {
      d.exactMj += trapezoidMj(d.lastPowerW, powerW, dtMs);
    }
    if (powerW !== undefined) d.lastPowerW = powerW;
    else delete d.lastPowerW;
    d.lastMonoMs = monoMs;
    return Math.floor(d.exactMj) - before;
  }

  /** CPU and DRAM energy split by the cores each job holds; unallocated cores' share is idle. */
  #splitCpu(deltaMj: number): void {
    const owners = this.#owners.filter((j) => j.cpuCores > 0);
    const allocated = owners.reduce((sum, j) => sum + j.cpuCores, 0);
    const rest = Math.max(0, this.#totalCores - allocated);
    const { shares, restMj } = splitInteger(deltaMj, owners.map((j) => j.cpuCores), rest);
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
