import { describe, expect, it } from 'vitest';
import type { JobAllocation } from '@stroom/protocol';
import { Meter } from '../../src/energy/meter.js';
import { splitInteger, trapezoidMj } from '../../src/energy/integrator.js';

const cpus = [{ id: 'package-0', cores: 48 }, { id: 'package-1', cores: 48 }];
const job = (id: string, gpus: string[], cpuCores = 0): JobAllocation => ({ id, user: 'u', account: 'a', startTs: 0, gpus, cpuCores });
const tick = (monoMs: number) => ({ ts: 1_764_496_800_000 + monoMs, monoMs });

function sum(ns: number[]): number {
  return ns.reduce((a, b) => a + b, 0);
}

describe('integrator', () => {
  it('trapezoid is exact for a linear ramp', () => {
    // 100 W -> 300 W over 2 s is 400 J.
    expect(trapezoidMj(100, 300, 2000)).toBe(400_000);
  });
  it('splitInteger keeps every millijoule', () => {
    expect(splitInteger(10, [1, 1, 1], 0)).toEqual({ shares: [4, 3, 3], restMj: 0 });
    expect(splitInteger(1000, [16, 32], 48)).toEqual({ shares: [167, 333], restMj: 500 });
    expect(splitInteger(7, [], 96)).toEqual({ shares: [], restMj: 7 });
  });
});

describe('Meter', () => {
  describe('trapezoid on power', () => {
    it('matches the analytic integral of a ramp and of a sine', () => {
      const meter = new Meter({ intervalMs: 100, cpus: [] });
      // P(t) = 400 + 200 sin(2 pi t / 10 s): over 0..20 s (two whole periods) the integral is 8000 J.
      for (let ms = 0; ms <= 20_000; ms += 100) {
        const powerW = 400 + 200 * Math.sin((2 * Math.PI * ms) / 10_000);
        meter.update(tick(ms), { gpus: [{ uuid: 'GPU-a', powerW }], cpus: [] }, []);
      }
      const gpu = meter.snapshot().devices[0];
      expect(gpu?.energyMj).toBeGreaterThanOrEqual(8_000_000 - 1);
      expect(gpu?.energyMj).toBeLessThanOrEqual(8_000_000);
    });

    it('does not integrate across a gap longer than 3 intervals, and counts it', () => {
      const meter = new Meter({ intervalMs: 1000, cpus: [] });
      const read = (powerW: number) => ({ gpus: [{ uuid: 'GPU-a', powerW }], cpus: [] });
      meter.update(tick(0), read(500), []);
      meter.update(tick(1000), read(500), []); // +500 J
      meter.update(tick(3000), read(500), []); // 2 s: within 3 intervals, +1000 J
      meter.update(tick(10_000), read(500), []); // 7 s gap: not integrated
      meter.update(tick(11_000), read(700), []); // +600 J
      expect(meter.snapshot().devices).toEqual([{ id: 'GPU-a', kind: 'gpu', energyMj: 2_100_000 }]);
      expect(meter.gaps).toBe(1);
    });

    it('skips an interval where power was absent instead of guessing', () => {
      const meter = new Meter({ intervalMs: 1000, cpus: [] });
      meter.update(tick(0), { gpus: [{ uuid: 'GPU-a', powerW: 300 }], cpus: [] }, []);
      meter.update(tick(1000), { gpus: [{ uuid: 'GPU-a' }], cpus: [] }, []);
      meter.update(tick(2000), { gpus: [{ uuid: 'GPU-a', powerW: 300 }], cpus: [] }, []);
      meter.update(tick(3000), { gpus: [{ uuid: 'GPU-a', powerW: 300 }], cpus: [] }, []);
      expect(meter.snapshot().devices[0]?.energyMj).toBe(300_000);
    });
  });

  describe('hardware counter', () => {
    it('uses counter differences, not power, and starts a new baseline when it goes backwards', () => {
      const resets: string[] = [];
      const meter = new Meter({ intervalMs: 1000, cpus: [], onCounterReset: (id) => resets.push(id) });
      const read = (energyCounterMj: number) => ({ gpus: [{ uuid: 'GPU-a', powerW: 9999, energyCounterMj }], cpus: [] });
      meter.update(tick(0), read(5_000_000), []);
      meter.update(tick(1000), read(5_600_000), []); // +600 J
      meter.update(tick(2000), read(1_000), []); // GPU reset: new baseline, nothing counted
      meter.update(tick(3000), read(501_000), []); // +500 J
      meter.update(tick(60_000), read(1_501_000), []); // long gap but measured: +1000 J
      expect(meter.snapshot().devices).toEqual([{ id: 'GPU-a', kind: 'gpu', energyMj: 2_100_000 }]);
      expect(meter.resets).toBe(1);
      expect(meter.gaps).toBe(1);
      expect(resets).toEqual(['GPU-a']);
    });
  });

  describe('a counter read that fails once', () => {
    it('is covered by the next counter difference, never by power as well', () => {
      const meter = new Meter({ intervalMs: 1000, cpus: [] });
      meter.update(tick(0), { gpus: [{ uuid: 'GPU-a', powerW: 500, energyCounterMj: 0 }], cpus: [] }, []);
      meter.update(tick(1000), { gpus: [{ uuid: 'GPU-a', powerW: 500 }], cpus: [] }, []);
      meter.update(tick(2000), { gpus: [{ uuid: 'GPU-a', powerW: 500, energyCounterMj: 1_000_000 }], cpus: [] }, []);
      expect(meter.snapshot().devices).toEqual([{ id: 'GPU-a', kind: 'gpu', energyMj: 1_000_000 }]);
    });
  });

  describe('attribution', () => {
    it('charges each interval to the job that held the GPU when it began', () => {
      const meter = new Meter({ intervalMs: 1000, cpus: [] });
      const read = (a: number, b: number) => ({ gpus: [{ uuid: 'GPU-a', energyCounterMj: a }, { uuid: 'GPU-b', energyCounterMj: b }], cpus: [] });
      meter.update(tick(0), read(0, 0), [job('1', ['GPU-a'])]);
      meter.update(tick(1000), read(700_000, 80_000), [job('1', ['GPU-a']), job('2', ['GPU-b'])]);
      meter.update(tick(2000), read(1_400_000, 780_000), [job('2', ['GPU-b'])]);
      meter.update(tick(3000), read(1_480_000, 1_480_000), []);
      expect(meter.snapshot()).toEqual({
        devices: [
          { id: 'GPU-a', kind: 'gpu', energyMj: 1_480_000 },
          { id: 'GPU-b', kind: 'gpu', energyMj: 1_480_000 },
        ],
        jobs: [
          { id: '1', gpuEnergyMj: 1_400_000, cpuEnergyMj: 0 },
          { id: '2', gpuEnergyMj: 1_400_000, cpuEnergyMj: 0 },
        ],
        idle: { gpuEnergyMj: 160_000, cpuEnergyMj: 0 },
      });
    });

    it('splits CPU and DRAM energy by allocated cores, the rest to idle, every millijoule kept', () => {
      const meter = new Meter({ intervalMs: 1000, cpus });
      const read = (pkg: number, dram: number) => ({ gpus: [], cpus: [
        { id: 'package-0', kind: 'cpu' as const, energyCounterMj: pkg },
        { id: 'dram-0', kind: 'dram' as const, energyCounterMj: dram },
      ] });
      const jobs = [job('1', [], 16), job('2', [], 32)];
      meter.update(tick(0), read(0, 0), jobs);
      meter.update(tick(1000), read(300_001, 20_000), jobs);
      const snap = meter.snapshot();
      expect(snap.jobs).toEqual([
        { id: '1', gpuEnergyMj: 0, cpuEnergyMj: 53_334 },
        { id: '2', gpuEnergyMj: 0, cpuEnergyMj: 106_667 },
      ]);
      expect(snap.idle).toEqual({ gpuEnergyMj: 0, cpuEnergyMj: 160_000 });
    });

    it('keeps jobs + idle equal to the devices over a random run', () => {
      const meter = new Meter({ intervalMs: 100, cpus });
      let seed = 7;
      const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      let jobs: JobAllocation[] = [];
      for (let ms = 0; ms < 60_000; ms += 100) {
        if (rnd() < 0.05) jobs = rnd() < 0.5 ? [] : [job(String(Math.floor(rnd() * 5)), ['GPU-a'], 24), job('9', ['GPU-b'], 8)];
        meter.update(tick(ms), {
          gpus: [{ uuid: 'GPU-a', powerW: 100 + 600 * rnd() }, { uuid: 'GPU-b', powerW: 80 + 600 * rnd() }],
          cpus: [{ id: 'package-0', kind: 'cpu', powerW: 100 + 250 * rnd() }],
        }, jobs);
      }
      const snap = meter.snapshot();
      const devices = sum(snap.devices.map((d) => d.energyMj));
      const charged = sum(snap.jobs.map((j) => j.gpuEnergyMj + j.cpuEnergyMj)) + snap.idle.gpuEnergyMj + snap.idle.cpuEnergyMj;
      expect(charged).toBe(devices);
    });

    it('keeps reporting an ended job for the retention time, then forgets it', () => {
      const meter = new Meter({ intervalMs: 1000, cpus: [], retainEndedMs: 5000 });
      const read = { gpus: [{ uuid: 'GPU-a', powerW: 100 }], cpus: [] };
      meter.update(tick(0), read, [job('1', ['GPU-a'])]);
      meter.update(tick(1000), read, []);
      expect(meter.snapshot().jobs).toEqual([{ id: '1', gpuEnergyMj: 100_000, cpuEnergyMj: 0 }]);
      for (let ms = 2000; ms <= 7000; ms += 1000) meter.update(tick(ms), read, []);
      expect(meter.snapshot().jobs).toEqual([]);
    });
  });

  describe('MIG', () => {
    const gpus = [{ uuid: 'GPU-p', index: 0, name: 'H200', migSlices: 7, migDevices: [
      { uuid: 'MIG-a', index: 0, profile: '3g.71gb', slices: 3 },
      { uuid: 'MIG-b', index: 1, profile: '2g.35gb', slices: 2 },
      { uuid: 'MIG-c', index: 2, profile: '1g.18gb', slices: 1 },
    ] }];
    it('shares the physical GPU by slices; unassigned slices are idle; nothing counted twice', () => {
      const meter = new Meter({ intervalMs: 1000, cpus: [], gpus });
      const read = (mj: number) => ({ gpus: [{ uuid: 'GPU-p', energyCounterMj: mj }], cpus: [] });
      const jobs = [job('1', ['MIG-a']), job('2', ['MIG-b', 'MIG-c'])];
      meter.update(tick(0), read(0), jobs);
      meter.update(tick(1000), read(700_000), jobs);
      expect(meter.snapshot()).toEqual({
        devices: [{ id: 'GPU-p', kind: 'gpu', energyMj: 700_000 }],
        jobs: [{ id: '1', gpuEnergyMj: 300_000, cpuEnergyMj: 0 }, { id: '2', gpuEnergyMj: 300_000, cpuEnergyMj: 0 }],
        idle: { gpuEnergyMj: 100_000, cpuEnergyMj: 0 },
      });
    });
  });

  describe('CPU share from cgroups', () => {
    it('splits by measured CPU-time share when every job has one, the rest idle', () => {
      const meter = new Meter({ intervalMs: 1000, cpus });
      const read = (mj: number) => ({ gpus: [], cpus: [{ id: 'package-0', kind: 'cpu' as const, energyCounterMj: mj }] });
      const jobs = [{ ...job('1', [], 48), cpuShareRatio: 0.6 }, { ...job('2', [], 48), cpuShareRatio: 0.1 }];
      meter.update(tick(0), read(0), jobs);
      meter.update(tick(1000), read(100_000), jobs);
      expect(meter.snapshot().jobs).toEqual([{ id: '1', gpuEnergyMj: 0, cpuEnergyMj: 60_000 }, { id: '2', gpuEnergyMj: 0, cpuEnergyMj: 10_000 }]);
      expect(meter.snapshot().idle).toEqual({ gpuEnergyMj: 0, cpuEnergyMj: 30_000 });
    });
    it('falls back to allocated cores when a job has no share', () => {
      const meter = new Meter({ intervalMs: 1000, cpus });
      const read = (mj: number) => ({ gpus: [], cpus: [{ id: 'package-0', kind: 'cpu' as const, energyCounterMj: mj }] });
      const jobs = [{ ...job('1', [], 48), cpuShareRatio: 0.6 }, job('2', [], 24)];
      meter.update(tick(0), read(0), jobs);
      meter.update(tick(1000), read(96_000), jobs);
      expect(meter.snapshot().jobs).toEqual([{ id: '1', gpuEnergyMj: 0, cpuEnergyMj: 48_000 }, { id: '2', gpuEnergyMj: 0, cpuEnergyMj: 24_000 }]);
    });
  });
});
