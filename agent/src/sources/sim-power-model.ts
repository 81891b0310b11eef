/**
 * The simulated node's physics: power, utilisation, clocks and temperature of an H100 SXM
 * GPU and of Xeon packages, as pure functions of time (seconds since the Unix epoch) and of
 * parameters drawn once from a seeded PRNG. The same parameters and instant always give the
 * same values, so tests can check them and the node can integrate them as finely as it likes.
 *
 * Phase changes ramp over `RAMP_S` instead of jumping: real boards slew over tens of ms, and a
 * continuous curve makes the node's 20 ms trapezoid converge to the exact integral.
 */
import { hashUnit, uniform, valueNoise, type Rand } from './random.js';

/** Static description of a GPU model (what the inventory reports). */
export interface GpuSpec {
  /** Marketing name as NVML reports it. */
  readonly name: string;
  /** Enforced board power limit in W. */
  readonly powerLimitW: number;
  /** Total framebuffer memory in bytes. */
  readonly memTotalBytes: number;
  /** SM clock in MHz when nothing runs. */
  readonly idleSmClockMHz: number;
  /** SM clock in MHz under load. */
  readonly loadSmClockMHz: number;
}

/** NVIDIA H100 80GB HBM3 (SXM5): 700 W limit, 80 GiB, 345/1980 MHz SM clock. */
export const H100_SXM: GpuSpec = {
  name: 'NVIDIA H100 80GB HBM3',
  powerLimitW: 700,
  memTotalBytes: 85_899_345_920,
  idleSmClockMHz: 345,
  loadSmClockMHz: 1980,
};

/** Static description of a CPU package model. */
export interface CpuSpec {
  /** Model name as /proc/cpuinfo reports it. */
  readonly model: string;
  /** Physical cores per package. */
  readonly cores: number;
}

/** Intel Xeon Platinum 8480+ (Sapphire Rapids): 48 cores per package. */
export const XEON_8480: CpuSpec = { model: 'Intel Xeon Platinum 8480+', cores: 48 };

/** Memory in bytes a GPU shows with no job on it (driver and persistence daemon). */
export const IDLE_MEM_BYTES = 512 * 1024 * 1024;

/** Duration in s of the linear ramp between two load phases. */
export const RAMP_S = 0.05;

const GIB = 1024 * 1024 * 1024;

/** Per-GPU constants drawn once from the node's PRNG. */
export interface GpuParams {
  /** 32-bit key that makes this GPU's noise its own. */
  readonly key: number;
  readonly spec: GpuSpec;
  /** Base idle board power in W (the idle curve is this ± `idleNoiseW`). */
  readonly idleW: number;
  /** Amplitude in W of idle power noise. */
  readonly idleNoiseW: number;
  /** Extra power in W while a job holds the GPU without using it. */
  readonly allocatedExtraW: number;
  /** Amplitude of power noise under load, as a fraction of the power limit. */
  readonly loadNoiseRatio: number;
  /** Inlet temperature in °C: the steady temperature at 0 W. */
  readonly ambientC: number;
  /** Steady-state temperature rise in °C per W of board power. */
  readonly tempPerWC: number;
  /** Thermal time constant in s of the first-order lag. */
  readonly tauS: number;
  /** How many °C the HBM runs above the GPU core. */
  readonly memTempOffsetC: number;
  /** Fraction (0.97..1) of a job's memory footprint that lands on this GPU. */
  readonly memShare: number;
}

/** Draws one GPU's constants: idle 63–85 W (± 2 W), +5–15 W allocated, tau 20–40 s. */
export function drawGpuParams(rand: Rand, spec: GpuSpec = H100_SXM): GpuParams {
  return {
    key: Math.floor(rand() * 4294967296),
    spec,
    idleW: uniform(rand, 63, 85),
    idleNoiseW: 2,
    allocatedExtraW: uniform(rand, 5, 15),
    loadNoiseRatio: 0.01,
    ambientC: 28,
    tempPerWC: uniform(rand, 0.06, 0.07),
    tauS: uniform(rand, 20, 40),
    memTempOffsetC: uniform(rand, 3, 6),
    memShare: uniform(rand, 0.97, 1),
  };
}

/**
 * A training job's load: a data-loading dip at the end of each step cycle, a checkpoint at the
 * end of each checkpoint period, and on some cycles a short spike to the limit as compute resumes.
 * All GPUs of one job share a profile, so their dips line up as in data-parallel training.
 */
export interface TrainingProfile {
  readonly kind: 'training';
  /** 32-bit key that decides which cycles spike. */
  readonly key: number;
  /** Power while computing, as a fraction of the power limit. */
  readonly busyRatio: number;
  /** Step-cycle length in s (busy part then dip). */
  readonly dipPeriodS: number;
  /** Fraction 0..1 of each cycle spent in the dip. */
  readonly dipFraction: number;
  /** Power during a dip, as a fraction of the power limit. */
  readonly dipRatio: number;
  /** Time in s between checkpoints. */
  readonly checkpointPeriodS: number;
  /** Length in s of one checkpoint. */
  readonly checkpointDurationS: number;
  /** Board power in W while writing a checkpoint. */
  readonly checkpointW: number;
  /** Probability 0..1 that a cycle starts with a spike. */
  readonly spikeChance: number;
  /** Length in s of a spike. */
  readonly spikeDurationS: number;
}

/** An inference server's load: bursts whose level changes every slot, between two fractions of the limit. */
export interface InferenceProfile {
  readonly kind: 'inference';
  readonly key: number;
  /** Length in s of one burst slot. */
  readonly slotS: number;
  /** Lowest power as a fraction of the power limit. */
  readonly minRatio: number;
  /** Highest power as a fraction of the power limit. */
  readonly maxRatio: number;
}

/** What a busy GPU runs. */
export type LoadProfile = TrainingProfile | InferenceProfile;

/**
 * Draws a training profile. The cycle mean is drawn first (0.80–0.86 of the limit) and the busy
 * level derived from it, so any draw keeps the long-run mean within 0.75–0.92 of the limit.
 */
export function drawTrainingProfile(rand: Rand): TrainingProfile {
  const key = Math.floor(rand() * 4294967296);
  const cycleMean = uniform(rand, 0.8, 0.86);
  const dipFraction = uniform(rand, 0.1, 0.2);
  const dipRatio = uniform(rand, 0.35, 0.5);
  const busyRatio = Math.min(0.92, Math.max(0.82, (cycleMean - dipFraction * dipRatio) / (1 - dipFraction)));
  return {
    kind: 'training',
    key,
    busyRatio,
    dipPeriodS: uniform(rand, 2, 8),
    dipFraction,
    dipRatio,
    checkpointPeriodS: uniform(rand, 300, 600),
    checkpointDurationS: uniform(rand, 5, 20),
    checkpointW: uniform(rand, 150, 200),
    spikeChance: uniform(rand, 0.05, 0.2),
    spikeDurationS: uniform(rand, 0.2, 0.5),
  };
}

/** Draws an inference profile: slots of 0.3–1 s between 30 % and 70 % of the limit. */
export function drawInferenceProfile(rand: Rand): InferenceProfile {
  return { kind: 'inference', key: Math.floor(rand() * 4294967296), slotS: uniform(rand, 0.3, 1), minRatio: 0.3, maxRatio: 0.7 };
}

/** What a GPU is doing: no job, held by a job that does not use it, or running a job's load. */
export type GpuActivity =
  | { readonly state: 'idle' }
  | { readonly state: 'allocated-idle' }
  | {
      readonly state: 'busy';
      readonly profile: LoadProfile;
      /** Job start in s since the Unix epoch; the profile's phases count from it. */
      readonly sinceS: number;
      /** The job's memory footprint per GPU in bytes. */
      readonly memUsedBytes: number;
    };

/** Named phase of a GPU at one instant, for tests and logs. */
export type GpuPhase = 'idle' | 'allocated-idle' | 'busy' | 'dip' | 'checkpoint' | 'spike' | 'inference';

/** Everything the model says about one GPU at one instant (temperature excepted: it has memory). */
export interface GpuInstant {
  readonly phase: GpuPhase;
  /** Board power in W, never above the power limit. */
  readonly powerW: number;
  /** SM busy fraction, 0..1. */
  readonly utilRatio: number;
  /** SM clock in MHz. */
  readonly smClockMHz: number;
  /** Framebuffer memory in use, bytes. */
  readonly memUsedBytes: number;
}

/** 0 before `atS`, 1 after `atS + RAMP_S`, linear between. */
function rampUp(x: number, atS: number): number {
  return Math.min(1, Math.max(0, (x - atS) / RAMP_S));
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/** Positive remainder of `a / b`. */
function mod(a: number, b: number): number {
  return a - Math.floor(a / b) * b;
}

interface Load {
  phase: GpuPhase;
  /** Fraction of the power limit, before noise. */
  ratio: number;
  /** 0..1, how far the instant is into a checkpoint (blends towards the checkpoint power). */
  checkpointWeight: number;
  utilRatio: number;
  /** 0..1, how much of the instant is spent at the limit; clocks throttle with it. */
  spikeWeight: number;
}

function trainingLoad(p: TrainingProfile, relS: number): Load {
  const cycle = Math.floor(relS / p.dipPeriodS);
  const x = relS - cycle * p.dipPeriodS;
  const busyEnd = (1 - p.dipFraction) * p.dipPeriodS;
  // Ramp up from the previous cycle's dip at x = 0, down into this cycle's dip at busyEnd.
  const busyWeight = rampUp(x, 0) - rampUp(x, busyEnd);
  const spikes = hashUnit(p.key, cycle) < p.spikeChance;
  const spikeRatio = 0.96 + 0.04 * hashUnit(p.key, cycle, 1);
  const spikeWeight = spikes ? Math.min(busyWeight, 1 - rampUp(x, p.spikeDurationS)) : 0;
  const computeRatio = p.dipRatio + (p.busyRatio - p.dipRatio) * busyWeight + (spikeRatio - p.busyRatio) * spikeWeight;
  // Checkpoints sit at the end of each period and ramp back down just after it.
  let checkpointWeight = 0;
  if (relS >= p.checkpointPeriodS - p.checkpointDurationS) {
    const y = mod(relS, p.checkpointPeriodS);
    checkpointWeight = relS >= p.checkpointPeriodS && y < RAMP_S ? 1 - y / RAMP_S : rampUp(y, p.checkpointPeriodS - p.checkpointDurationS);
  }
  const utilCompute = 0.2 + (0.97 - 0.2) * busyWeight + 0.03 * spikeWeight;
  let phase: GpuPhase = busyWeight >= 0.5 ? 'busy' : 'dip';
  if (spikeWeight >= 0.5) phase = 'spike';
  if (checkpointWeight >= 0.5) phase = 'checkpoint';
  return {
    phase,
    ratio: computeRatio,
    checkpointWeight,
    utilRatio: utilCompute * (1 - checkpointWeight) + 0.03 * checkpointWeight,
    spikeWeight: spikeWeight * (1 - checkpointWeight),
  };
}

function inferenceLoad(p: InferenceProfile, relS: number): Load {
  // Squared uniforms keep most slots near the low end with the odd heavy burst.
  const level = (slot: number): number => hashUnit(p.key, slot) ** 2;
  const x = relS / p.slotS;
  const slot = Math.floor(x);
  const f = x - slot;
  const a = level(slot);
  const u = a + (level(slot + 1) - a) * f;
  return { phase: 'inference', ratio: p.minRatio + (p.maxRatio - p.minRatio) * u, checkpointWeight: 0, utilRatio: 0.3 + 0.6 * u, spikeWeight: 0 };
}

/** The GPU's power, utilisation, clock and memory at `tS` (seconds since the Unix epoch). */
export function gpuInstant(params: GpuParams, activity: GpuActivity, tS: number): GpuInstant {
  const { spec } = params;
  const idleW = params.idleW + params.idleNoiseW * valueNoise(params.key, tS, 0.5);
  if (activity.state === 'idle') {
    return { phase: 'idle', powerW: idleW, utilRatio: 0, smClockMHz: spec.idleSmClockMHz, memUsedBytes: IDLE_MEM_BYTES };
  }
  if (activity.state === 'allocated-idle') {
    return { phase: 'allocated-idle', powerW: idleW + params.allocatedExtraW, utilRatio: 0, smClockMHz: spec.idleSmClockMHz, memUsedBytes: IDLE_MEM_BYTES };
  }
  const relS = Math.max(0, tS - activity.sinceS);
  const load = activity.profile.kind === 'training' ? trainingLoad(activity.profile, relS) : inferenceLoad(activity.profile, relS);
  const noiseW = params.loadNoiseRatio * spec.powerLimitW * valueNoise(params.key ^ 0x5bd1e995, tS, 0.2);
  const computeW = load.ratio * spec.powerLimitW + noiseW;
  const checkpointW = activity.profile.kind === 'training' ? activity.profile.checkpointW + noiseW / 2 : 0;
  const powerW = Math.min(spec.powerLimitW, Math.max(idleW, computeW * (1 - load.checkpointWeight) + checkpointW * load.checkpointWeight));
  return {
    phase: load.phase,
    powerW,
    utilRatio: clamp01(load.utilRatio + 0.02 * valueNoise(params.key ^ 0x27d4eb2f, tS, 0.3)),
    // At the limit the power brake trims clocks a little.
    smClockMHz: Math.round(spec.loadSmClockMHz - 150 * load.spikeWeight),
    memUsedBytes: Math.min(spec.memTotalBytes, Math.round(activity.memUsedBytes * params.memShare)),
  };
}

/** The GPU's board power in W at `tS` (seconds since the Unix epoch). */
export function gpuPowerW(params: GpuParams, activity: GpuActivity, tS: number): number {
  return gpuInstant(params, activity, tS).powerW;
}

/** Steady-state GPU temperature in °C for a constant board power in W. */
export function targetTempC(params: GpuParams, powerW: number): number {
  return params.ambientC + powerW * params.tempPerWC;
}

/**
 * Temperature in °C after `dtS` seconds of first-order lag towards `targetC`; exact for a
 * constant target, so the result does not depend on how the interval is cut up.
 */
export function stepTempC(tempC: number, targetC: number, dtS: number, tauS: number): number {
  return targetC + (tempC - targetC) * Math.exp(-Math.max(0, dtS) / tauS);
}

/** A random job memory footprint per GPU in bytes, 20–78 GiB. */
export function drawJobMemBytes(rand: Rand): number {
  return Math.round(uniform(rand, 20, 78) * GIB);
}

/** Per-package constants drawn once from the node's PRNG. */
export interface CpuParams {
  readonly key: number;
  /** Package power in W with no job on the node. */
  readonly idleW: number;
  /** Package power in W with every core busy. */
  readonly busyW: number;
  /** Amplitude in W of package power noise. */
  readonly noiseW: number;
  /** DRAM power in W at rest. */
  readonly dramIdleW: number;
  /** DRAM power in W with every core busy. */
  readonly dramBusyW: number;
}

/** Draws one package's constants: 95–105 W idle, 330–350 W busy, DRAM 15–18 W to 34–40 W. */
export function drawCpuParams(rand: Rand): CpuParams {
  return {
    key: Math.floor(rand() * 4294967296),
    idleW: uniform(rand, 95, 105),
    busyW: uniform(rand, 330, 350),
    noiseW: 3,
    dramIdleW: uniform(rand, 15, 18),
    dramBusyW: uniform(rand, 34, 40),
  };
}

/** One job's claim on the node's cores, as the CPU model needs it. */
export interface CoreLoad {
  /** Cores allocated to the job on this node. */
  readonly cores: number;
  /** Mean busy fraction 0..1 of those cores. */
  readonly busyRatio: number;
  /** 32-bit key of the job's own fluctuation. */
  readonly key: number;
}

/** Busy fraction 0..1 of the node's cores at `tS`: allocated cores times each job's (fluctuating) busy ratio. */
export function cpuUtilRatio(loads: readonly CoreLoad[], totalCores: number, tS: number): number {
  if (totalCores <= 0) return 0;
  let busy = 0;
  for (const l of loads) busy += l.cores * clamp01(l.busyRatio * (0.92 + 0.08 * valueNoise(l.key, tS, 1)));
  return clamp01(busy / totalCores);
}

/** Package power in W at `tS` for a core busy fraction 0..1. */
export function cpuPackagePowerW(params: CpuParams, utilRatio: number, tS: number): number {
  return params.idleW + (params.busyW - params.idleW) * utilRatio + params.noiseW * valueNoise(params.key, tS, 0.5);
}

/** DRAM domain power in W at `tS` for the package's core busy fraction 0..1. */
export function dramPowerW(params: CpuParams, utilRatio: number, tS: number): number {
  return params.dramIdleW + (params.dramBusyW - params.dramIdleW) * utilRatio + 0.5 * valueNoise(params.key ^ 0x68e31da4, tS, 0.5);
}
