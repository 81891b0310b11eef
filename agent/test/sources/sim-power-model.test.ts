import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/sources/random.js';
import {
  H100_SXM,
  IDLE_MEM_BYTES,
  cpuPackagePowerW,
  cpuUtilRatio,
  dramPowerW,
  drawCpuParams,
  drawGpuParams,
  drawInferenceProfile,
  drawTrainingProfile,
  gpuInstant,
  gpuPowerW,
  stepTempC,
  targetTempC,
  type GpuActivity,
  type GpuInstant,
  type GpuParams,
  type TrainingProfile,
} from '../../src/sources/sim-power-model.js';

/** 2025-11-30T10:00:00Z in s: the model runs on absolute time. */
const T0_S = 1_764_496_800;
const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

function draw(seed: number): { gpu: GpuParams; training: TrainingProfile } {
  const rand = mulberry32(seed);
  return { gpu: drawGpuParams(rand), training: drawTrainingProfile(rand) };
}

function busy(profile: TrainingProfile | ReturnType<typeof drawInferenceProfile>): GpuActivity {
  return { state: 'busy', profile, sinceS: T0_S, memUsedBytes: 40 * 2 ** 30 };
}

/** Model samples every `stepS` over [T0_S, T0_S + spanS). */
function sample(gpu: GpuParams, activity: GpuActivity, spanS: number, stepS: number): GpuInstant[] {
  const out: GpuInstant[] = [];
  for (let k = 0; k * stepS < spanS; k++) out.push(gpuInstant(gpu, activity, T0_S + k * stepS));
  return out;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('sim-power-model', () => {
  describe('H100_SXM', () => {
    it('describes an H100 SXM5 80 GB', () => {
      expect(H100_SXM).toEqual({ name: 'NVIDIA H100 80GB HBM3', powerLimitW: 700, memTotalBytes: 85_899_345_920, idleSmClockMHz: 345, loadSmClockMHz: 1980 });
    });
  });

  describe('idle', () => {
    it('stays within 60–90 W with idle clocks, no utilisation and ~0.5 GiB used', () => {
      for (const seed of SEEDS) {
        const { gpu } = draw(seed);
        const samples = sample(gpu, { state: 'idle' }, 600, 0.1);
        const powers = samples.map((s) => s.powerW);
        expect(Math.min(...powers)).toBeGreaterThanOrEqual(60);
        expect(Math.max(...powers)).toBeLessThanOrEqual(90);
        expect(samples[0]).toEqual({ phase: 'idle', powerW: expect.any(Number), utilRatio: 0, smClockMHz: 345, memUsedBytes: IDLE_MEM_BYTES });
      }
    });

    it('draws 5–15 W more while a job holds the GPU without using it', () => {
      for (const seed of SEEDS) {
        const { gpu } = draw(seed);
        for (let t = T0_S; t < T0_S + 60; t += 1.7) {
          const extra = gpuPowerW(gpu, { state: 'allocated-idle' }, t) - gpuPowerW(gpu, { state: 'idle' }, t);
          expect(extra).toBeGreaterThanOrEqual(5);
          expect(extra).toBeLessThanOrEqual(15);
        }
      }
    });
  });

  describe('training', () => {
    it('averages 0.75–0.92 of the limit over an hour and never exceeds it', () => {
      for (const seed of SEEDS) {
        const { gpu, training } = draw(seed);
        const powers = sample(gpu, busy(training), 3600, 0.1).map((s) => s.powerW);
        expect(mean(powers) / gpu.spec.powerLimitW).toBeGreaterThanOrEqual(0.75);
        expect(mean(powers) / gpu.spec.powerLimitW).toBeLessThanOrEqual(0.92);
        expect(Math.max(...powers)).toBeLessThanOrEqual(gpu.spec.powerLimitW);
        // Spikes reach the limit's neighbourhood.
        expect(Math.max(...powers)).toBeGreaterThanOrEqual(0.95 * gpu.spec.powerLimitW);
      }
    });

    it('dips once per step cycle to 35–50 % of the limit, with low utilisation', () => {
      const { gpu, training } = draw(7);
      const samples = sample(gpu, busy(training), 120, 0.01);
      let dips = 0;
      for (let i = 1; i < samples.length; i++) if (samples[i]?.phase === 'dip' && samples[i - 1]?.phase !== 'dip') dips++;
      // The cycle starts in its dip's ramp, so count cycles from 120 s / period, ±1.
      expect(Math.abs(dips - 120 / training.dipPeriodS)).toBeLessThanOrEqual(1.5);
      const inDip = samples.filter((s) => s.phase === 'dip' && s.powerW > 0);
      const noiseW = gpu.loadNoiseRatio * 700;
      // Mid-dip samples (not on a ramp) sit at the dip level ± noise.
      const levels = inDip.map((s) => s.powerW / 700).sort((a, b) => a - b);
      expect(levels[Math.floor(levels.length / 2)]).toBeGreaterThanOrEqual(0.35 - noiseW / 700);
      expect(levels[Math.floor(levels.length / 2)]).toBeLessThanOrEqual(0.5 + noiseW / 700);
      const utils = inDip.map((s) => s.utilRatio).sort((a, b) => a - b);
      expect(utils[Math.floor(utils.length / 2)]).toBeLessThan(0.3);
      const computing = samples.filter((s) => s.phase === 'busy');
      // Ramps are 50 ms of each cycle: a low percentile still sees the plateau.
      const busyUtils = computing.map((s) => s.utilRatio).sort((a, b) => a - b);
      expect(busyUtils[Math.floor(busyUtils.length * 0.05)]).toBeGreaterThanOrEqual(0.95);
      expect(computing[0]).toEqual({ phase: 'busy', powerW: expect.any(Number), utilRatio: expect.any(Number), smClockMHz: 1980, memUsedBytes: expect.any(Number) });
    });

    it('writes a checkpoint at 150–200 W once per checkpoint period', () => {
      const { gpu, training } = draw(3);
      const spanS = 2 * training.checkpointPeriodS + 30;
      const samples = sample(gpu, busy(training), spanS, 0.1);
      let starts = 0;
      for (let i = 1; i < samples.length; i++) if (samples[i]?.phase === 'checkpoint' && samples[i - 1]?.phase !== 'checkpoint') starts++;
      expect(starts).toBe(2);
      const cp = samples.filter((s) => s.phase === 'checkpoint').map((s) => s.powerW);
      expect(mean(cp)).toBeGreaterThanOrEqual(145);
      expect(mean(cp)).toBeLessThanOrEqual(205);
      // Two checkpoints' worth of samples, ± a ramp and a sample at each edge.
      expect(Math.abs(cp.length * 0.1 - 2 * training.checkpointDurationS)).toBeLessThanOrEqual(0.5);
    });

    it('puts each job footprint on the GPU, within the framebuffer', () => {
      const { gpu, training } = draw(5);
      const used = gpuInstant(gpu, { ...busy(training), memUsedBytes: 78 * 2 ** 30 } as GpuActivity, T0_S + 1).memUsedBytes;
      expect(used).toBeGreaterThan(0.96 * 78 * 2 ** 30);
      expect(used).toBeLessThanOrEqual(78 * 2 ** 30);
    });
  });

  describe('inference', () => {
    it('bursts between 30 % and 70 % of the limit (± noise)', () => {
      const rand = mulberry32(11);
      const gpu = drawGpuParams(rand);
      const powers = sample(gpu, busy(drawInferenceProfile(rand)), 300, 0.05).map((s) => s.powerW / 700);
      expect(Math.min(...powers)).toBeGreaterThanOrEqual(0.3 - gpu.loadNoiseRatio);
      expect(Math.max(...powers)).toBeLessThanOrEqual(0.7 + gpu.loadNoiseRatio);
      expect(Math.max(...powers) - Math.min(...powers)).toBeGreaterThan(0.2);
    });
  });

  describe('temperature', () => {
    it('follows a first-order lag: 63 % of a power step after one tau', () => {
      const { gpu } = draw(2);
      const idleW = gpuPowerW(gpu, { state: 'idle' }, T0_S);
      const t0 = targetTempC(gpu, idleW);
      const tEnd = targetTempC(gpu, 600);
      let temp = t0;
      const dtS = 0.02;
      for (let t = 0; t < gpu.tauS - dtS / 2; t += dtS) temp = stepTempC(temp, tEnd, dtS, gpu.tauS);
      expect((temp - t0) / (tEnd - t0)).toBeCloseTo(1 - Math.exp(-1), 3);
      expect(tEnd).toBeCloseTo(28 + 600 * gpu.tempPerWC, 9);
      expect(gpu.tauS).toBeGreaterThanOrEqual(20);
      expect(gpu.tauS).toBeLessThanOrEqual(40);
    });

    it('lags the real load: a second after a job starts, the GPU is still near idle temperature', () => {
      const { gpu, training } = draw(4);
      const start = targetTempC(gpu, gpuPowerW(gpu, { state: 'idle' }, T0_S));
      let temp = start;
      for (let t = T0_S; t < T0_S + 1; t += 0.02) temp = stepTempC(temp, targetTempC(gpu, gpuPowerW(gpu, busy(training), t)), 0.02, gpu.tauS);
      expect(temp - start).toBeLessThan(2);
      expect(targetTempC(gpu, 0.85 * 700) - start).toBeGreaterThan(30);
    });
  });

  describe('determinism', () => {
    it('gives the same parameters and values for the same seed, and others for another', () => {
      const a = draw(42);
      const b = draw(42);
      expect(a).toEqual(b);
      expect(sample(a.gpu, busy(a.training), 30, 0.37)).toEqual(sample(b.gpu, busy(b.training), 30, 0.37));
      expect(draw(43)).not.toEqual(a);
    });
  });

  describe('CPU packages', () => {
    it('run 100 W idle to ~350 W busy, with DRAM 15–40 W', () => {
      for (const seed of SEEDS) {
        const cpu = drawCpuParams(mulberry32(seed));
        for (let t = T0_S; t < T0_S + 30; t += 0.9) {
          expect(cpuPackagePowerW(cpu, 0, t)).toBeGreaterThanOrEqual(90);
          expect(cpuPackagePowerW(cpu, 0, t)).toBeLessThanOrEqual(110);
          expect(cpuPackagePowerW(cpu, 1, t)).toBeGreaterThanOrEqual(325);
          expect(cpuPackagePowerW(cpu, 1, t)).toBeLessThanOrEqual(355);
          expect(dramPowerW(cpu, 0, t)).toBeGreaterThanOrEqual(14);
          expect(dramPowerW(cpu, 1, t)).toBeLessThanOrEqual(41);
        }
      }
    });

    it('counts only cores in use by jobs', () => {
      expect(cpuUtilRatio([], 96, T0_S)).toBe(0);
      const u = cpuUtilRatio([{ cores: 48, busyRatio: 1, key: 1 }], 96, T0_S);
      expect(u).toBeGreaterThanOrEqual(0.42);
      expect(u).toBeLessThanOrEqual(0.5);
    });
  });
});
