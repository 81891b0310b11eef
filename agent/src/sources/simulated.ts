/**
 * A simulated GPU node for the demo and end-to-end tests: H100 GPUs, Xeon packages with DRAM
 * domains, and a job stream, behind the same source interfaces as the real readers, so the
 * meter, spool and link under test are the production ones.
 *
 * Is: a hardware counter and a ground truth. Between ticks the node integrates its continuous
 * power model in sub-steps of at most `SIM_SUBSTEP_MS` (trapezoid) and exposes the floor of
 * that integral as NVML/RAPL-like counters; `truth()` charges the same floats to jobs with the
 * meter's rules, so tests can compare the meter against exact numbers. Is not: a source of
 * counter wrap or resets, and not tied to the monotonic clock (simulated time is `tick.ts`).
 *
 * Per agent tick the job facet is read first, then the device facet with the same tick. The
 * device read integrates (previous tick, this tick] with the job map of the previous tick, then
 * takes the job map of this tick for the next interval.
 */
import type { JobAllocation } from '@stroom/protocol';
import type { CpuReading, DeviceReadings, DeviceSource, GpuReading, Inventory, JobSource, Tick } from '../source.js';
import { hash32, hashString, mulberry32 } from './random.js';
import {
  H100_SXM,
  XEON_8480,
  cpuPackagePowerW,
  cpuUtilRatio,
  dramPowerW,
  drawCpuParams,
  drawGpuParams,
  gpuInstant,
  stepTempC,
  targetTempC,
  type CoreLoad,
  type CpuParams,
  type GpuActivity,
  type GpuParams,
} from './sim-power-model.js';
import { SimScheduler, type SimJob } from './sim-scheduler.js';

/** Options of a simulated node. */
export interface SimulatedNodeOptions {
  /** Node name, e.g. `gcn12`; mixed into the seed so nodes differ. */
  readonly node: string;
  /** Ordinal of the node in the cluster; makes job ids unique across nodes. */
  readonly nodeOrdinal: number;
  /** GPUs on the node (default 4). */
  readonly gpus?: number;
  /** CPU packages (sockets) on the node (default 2). */
  readonly cpuPackages?: number;
  /** Cores per package (default 48). */
  readonly coresPerPackage?: number;
  /** Seed of every random draw (default 1). */
  readonly seed?: number;
  /** Seconds per job-time unit: jobs last 1–4 units (default 1; the demo uses ~60). */
  readonly timeScale?: number;
  /** Whether GPUs expose a hardware energy counter (default true); without it the meter integrates power. */
  readonly hasEnergyCounter?: boolean;
}

/** Defaults of `SimulatedNodeOptions`. */
export const SIM_DEFAULTS = {
  gpus: 4,
  cpuPackages: 2,
  coresPerPackage: 48,
  seed: 1,
  timeScale: 1,
  hasEnergyCounter: true,
} as const;

/** Longest integration sub-step in ms. */
export const SIM_SUBSTEP_MS = 20;

/** Exact energy of the node since its first tick, in mJ (floats). */
export interface SimTruth {
  /** Per device id (GPU UUID, `package-N`, `dram-N`). */
  readonly devicesMj: Record<string, number>;
  /** Per job id: GPU energy of the GPUs it held, and its core share of CPU + DRAM energy. */
  readonly jobsMj: Record<string, { gpuMj: number; cpuMj: number }>;
  /** Energy no job held: unallocated GPUs and unallocated cores' share. */
  readonly idleMj: { gpuMj: number; cpuMj: number };
}

interface SimGpu {
  readonly uuid: string;
  readonly index: number;
  readonly params: GpuParams;
  tempC: number;
  exactMj: number;
}

interface SimCpu {
  readonly index: number;
  readonly params: CpuParams;
  packageMj: number;
  dramMj: number;
}

/** `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, stable for a seed, node and index. */
function gpuUuid(base: number, index: number): string {
  const hex = [0, 1, 2, 3].map((w) => hash32(base, index, w).toString(16).padStart(8, '0')).join('');
  return `GPU-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** One simulated node: a `DeviceSource` itself, with its `JobSource` as `jobs`. */
export class SimulatedNode implements DeviceSource {
  /** Source id in config and logs. */
  readonly name = 'simulated';
  /** The node's job map source; read it before the device source on each tick. */
  readonly jobs: JobSource;
  readonly #hasEnergyCounter: boolean;
  readonly #totalCores: number;
  readonly #coresPerPackage: number;
  readonly #gpus: SimGpu[];
  readonly #cpus: SimCpu[];
  readonly #scheduler: SimScheduler;
  /** Time up to which energy has been integrated, ms since the Unix epoch. */
  #lastTs: number | undefined;
  /** Job map returned at `#lastTs`: it owns, and drives the load of, the next interval. */
  #owners: readonly SimJob[] = [];
  readonly #devicesMj: Record<string, number> = {};
  readonly #jobsMj: Record<string, { gpuMj: number; cpuMj: number }> = {};
  readonly #idleMj = { gpuMj: 0, cpuMj: 0 };

  constructor(options: SimulatedNodeOptions) {
    const gpuCount = options.gpus ?? SIM_DEFAULTS.gpus;
    const packages = options.cpuPackages ?? SIM_DEFAULTS.cpuPackages;
    this.#coresPerPackage = options.coresPerPackage ?? SIM_DEFAULTS.coresPerPackage;
    this.#totalCores = packages * this.#coresPerPackage;
    this.#hasEnergyCounter = options.hasEnergyCounter ?? SIM_DEFAULTS.hasEnergyCounter;
    const seed = options.seed ?? SIM_DEFAULTS.seed;
    const base = hash32(seed, hashString(options.node), options.nodeOrdinal);
    const gpuRand = mulberry32(hash32(base, 1));
    const cpuRand = mulberry32(hash32(base, 2));
    this.#gpus = Array.from({ length: gpuCount }, (_, index) => ({
      uuid: gpuUuid(base, index),
      index,
      params: drawGpuParams(gpuRand, H100_SXM),
      tempC: 0,
      exactMj: 0,
    }));
    this.#cpus = Array.from({ length: packages }, (_, index) => ({ index, params: drawCpuParams(cpuRand), packageMj: 0, dramMj: 0 }));
    for (const g of this.#gpus) this.#devicesMj[g.uuid] = 0;
    for (const c of this.#cpus) {
      this.#devicesMj[`package-${c.index}`] = 0;
      this.#devicesMj[`dram-${c.index}`] = 0;
    }
    this.#scheduler = new SimScheduler({
      nodeOrdinal: options.nodeOrdinal,
      gpuUuids: this.#gpus.map((g) => g.uuid),
      totalCores: this.#totalCores,
      seed: hash32(base, 3),
      timeScale: options.timeScale ?? SIM_DEFAULTS.timeScale,
    });
    this.jobs = { name: this.name, read: (tick) => Promise.resolve(this.readJobs(tick)) };
  }

  /** The node's GPUs and CPU packages. */
  probe(): Promise<Inventory> {
    return Promise.resolve({
      gpus: this.#gpus.map((g) => ({
        uuid: g.uuid,
        index: g.index,
        name: g.params.spec.name,
        memTotalBytes: g.params.spec.memTotalBytes,
        powerLimitW: g.params.spec.powerLimitW,
        hasEnergyCounter: this.#hasEnergyCounter,
      })),
      cpus: this.#cpus.map((c) => ({ id: `package-${c.index}`, model: XEON_8480.model, cores: this.#coresPerPackage })),
    });
  }

  /** The job map at `tick.ts`; advances the scheduler, never the energy integral. */
  readJobs(tick: Tick): readonly JobAllocation[] {
    return this.#scheduler.advance(tick.ts).map((j) => j.allocation);
  }

  /** Device readings at `tick.ts`, after integrating energy up to it. */
  read(tick: Tick): Promise<DeviceReadings> {
    return Promise.resolve(this.readDevices(tick));
  }

  /** Synchronous form of `read`, for tests and benchmarks. */
  readDevices(tick: Tick): DeviceReadings {
    const ts = tick.ts;
    if (this.#lastTs === undefined) {
      // Start in thermal equilibrium with an idle node.
      for (const g of this.#gpus) g.tempC = targetTempC(g.params, gpuInstant(g.params, { state: 'idle' }, ts / 1000).powerW);
      this.#lastTs = ts;
    } else if (ts > this.#lastTs) {
      this.#integrate(this.#lastTs, ts, this.#owners);
      this.#lastTs = ts;
    }
    // A tick that went back in time integrates nothing and leaves the clock where it was.
    this.#owners = this.#scheduler.advance(ts);
    return this.#readings(ts, this.#owners);
  }

  /** Exact energy since the first tick, in mJ, charged with the meter's rules. */
  truth(): SimTruth {
    const jobsMj: Record<string, { gpuMj: number; cpuMj: number }> = {};
    for (const [id, e] of Object.entries(this.#jobsMj)) jobsMj[id] = { ...e };
    return { devicesMj: { ...this.#devicesMj }, jobsMj, idleMj: { ...this.#idleMj } };
  }

  /** Every job that ever started on the node, in start order. */
  jobsEver(): JobAllocation[] {
    return this.#scheduler.ever.map((j) => j.allocation);
  }

  #activities(owners: readonly SimJob[]): Map<string, { activity: GpuActivity; jobId: string }> {
    const m = new Map<string, { activity: GpuActivity; jobId: string }>();
    for (const job of owners) {
      const used = new Set(job.usedGpus);
      for (const uuid of job.allocation.gpus) {
        const activity: GpuActivity = used.has(uuid)
          ? { state: 'busy', profile: job.profile, sinceS: job.allocation.startTs / 1000, memUsedBytes: job.memUsedBytes }
          : { state: 'allocated-idle' };
        m.set(uuid, { activity, jobId: job.allocation.id });
      }
    }
    return m;
  }

  #coreLoads(owners: readonly SimJob[]): CoreLoad[] {
    return owners.map((j) => ({ cores: j.allocation.cpuCores, busyRatio: j.cpuBusyRatio, key: j.key }));
  }

  #integrate(t0: number, t1: number, owners: readonly SimJob[]): void {
    const steps = Math.ceil((t1 - t0) / SIM_SUBSTEP_MS);
    const hMs = (t1 - t0) / steps;
    const times = Array.from({ length: steps + 1 }, (_, k) => (k === steps ? t1 : t0 + k * hMs) / 1000);
    const activities = this.#activities(owners);
    for (const g of this.#gpus) {
      const owned = activities.get(g.uuid);
      const activity: GpuActivity = owned?.activity ?? { state: 'idle' };
      let p0 = gpuInstant(g.params, activity, times[0]).powerW;
      let e = 0;
      for (let k = 1; k <= steps; k++) {
        const p1 = gpuInstant(g.params, activity, times[k]).powerW;
        e += ((p0 + p1) / 2) * hMs;
        g.tempC = stepTempC(g.tempC, targetTempC(g.params, (p0 + p1) / 2), hMs / 1000, g.params.tauS);
        p0 = p1;
      }
      g.exactMj += e;
      this.#devicesMj[g.uuid] = g.exactMj;
      if (owned === undefined) this.#idleMj.gpuMj += e;
      else this.#job(owned.jobId).gpuMj += e;
    }
    const loads = this.#coreLoads(owners);
    const utils = times.map((t) => cpuUtilRatio(loads, this.#totalCores, t));
    let cpuMj = 0;
    for (const c of this.#cpus) {
      let pkg = 0;
      let dram = 0;
      for (let k = 1; k <= steps; k++) {
        const ta = times[k - 1];
        const tb = times[k];
        const ua = utils[k - 1];
        const ub = utils[k];
        pkg += ((cpuPackagePowerW(c.params, ua, ta) + cpuPackagePowerW(c.params, ub, tb)) / 2) * hMs;
        dram += ((dramPowerW(c.params, ua, ta) + dramPowerW(c.params, ub, tb)) / 2) * hMs;
      }
      c.packageMj += pkg;
      c.dramMj += dram;
      this.#devicesMj[`package-${c.index}`] = c.packageMj;
      this.#devicesMj[`dram-${c.index}`] = c.dramMj;
      cpuMj += pkg + dram;
    }
    let allocated = 0;
    for (const job of owners) {
      this.#job(job.allocation.id).cpuMj += (cpuMj * job.allocation.cpuCores) / this.#totalCores;
      allocated += job.allocation.cpuCores;
    }
    this.#idleMj.cpuMj += (cpuMj * Math.max(0, this.#totalCores - allocated)) / this.#totalCores;
  }

  #job(id: string): { gpuMj: number; cpuMj: number } {
    let e = this.#jobsMj[id];
    if (e === undefined) {
      e = { gpuMj: 0, cpuMj: 0 };
      this.#jobsMj[id] = e;
    }
    return e;
  }

  #readings(ts: number, owners: readonly SimJob[]): DeviceReadings {
    const tS = ts / 1000;
    const activities = this.#activities(owners);
    const gpus: GpuReading[] = this.#gpus.map((g) => {
      const now = gpuInstant(g.params, activities.get(g.uuid)?.activity ?? { state: 'idle' }, tS);
      const reading: GpuReading = {
        uuid: g.uuid,
        // NVML reports mW, whole °C and whole percent.
        powerW: Math.round(now.powerW * 1000) / 1000,
        tempC: Math.round(g.tempC),
        memTempC: Math.round(g.tempC + g.params.memTempOffsetC),
        utilRatio: Math.round(now.utilRatio * 100) / 100,
        memUsedBytes: now.memUsedBytes,
        smClockMHz: now.smClockMHz,
      };
      return this.#hasEnergyCounter ? { ...reading, energyCounterMj: Math.floor(g.exactMj) } : reading;
    });
    const util = cpuUtilRatio(this.#coreLoads(owners), this.#totalCores, tS);
    const cpus: CpuReading[] = this.#cpus.flatMap((c): CpuReading[] => [
      {
        id: `package-${c.index}`,
        kind: 'cpu',
        powerW: Math.round(cpuPackagePowerW(c.params, util, tS) * 1000) / 1000,
        energyCounterMj: Math.floor(c.packageMj),
        utilRatio: Math.round(util * 1000) / 1000,
      },
      { id: `dram-${c.index}`, kind: 'dram', powerW: Math.round(dramPowerW(c.params, util, tS) * 1000) / 1000, energyCounterMj: Math.floor(c.dramMj) },
    ]);
    return { gpus, cpus };
  }
}
