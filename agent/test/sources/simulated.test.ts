import { describe, expect, it } from 'vitest';
import { JobAllocationSchema, type JobAllocation } from '@stroom/protocol';
import type { DeviceReadings, Tick } from '../../src/source.js';
import { SimulatedNode, type SimulatedNodeOptions } from '../../src/sources/simulated.js';

const T0 = 1_764_496_800_000;
const tick = (ms: number): Tick => ({ ts: T0 + ms, monoMs: ms });
const UUID = /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function node(overrides: Partial<SimulatedNodeOptions> = {}): SimulatedNode {
  return new SimulatedNode({ node: 'gcn7', nodeOrdinal: 7, seed: 11, ...overrides });
}

interface Step {
  readonly ms: number;
  readonly jobs: readonly JobAllocation[];
  readonly readings: DeviceReadings;
  readonly devicesMj: Record<string, number>;
}

/** Drives the node as the agent does: job map first, then devices, at each tick. */
async function drive(n: SimulatedNode, times: readonly number[]): Promise<Step[]> {
  const steps: Step[] = [];
  for (const ms of times) {
    const jobs = await n.jobs.read(tick(ms));
    const readings = await n.read(tick(ms));
    steps.push({ ms, jobs, readings, devicesMj: n.truth().devicesMj });
  }
  return steps;
}

const every = (stepMs: number, spanMs: number): number[] => Array.from({ length: Math.floor(spanMs / stepMs) + 1 }, (_, i) => i * stepMs);
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

describe('SimulatedNode', () => {
  describe('#probe', () => {
    it('reports four H100s and two Xeon packages', async () => {
      const inv = await node().probe();
      const gpu = (index: number) => ({ uuid: expect.stringMatching(UUID), index, name: 'NVIDIA H100 80GB HBM3', memTotalBytes: 85_899_345_920, powerLimitW: 700, hasEnergyCounter: true });
      expect(inv).toEqual({
        gpus: [gpu(0), gpu(1), gpu(2), gpu(3)],
        cpus: [
          { id: 'package-0', model: 'Intel Xeon Platinum 8480+', cores: 48 },
          { id: 'package-1', model: 'Intel Xeon Platinum 8480+', cores: 48 },
        ],
      });
      expect(new Set(inv.gpus.map((g) => g.uuid)).size).toBe(4);
    });

    it('derives UUIDs from seed, node and index', async () => {
      const uuids = async (n: SimulatedNode) => (await n.probe()).gpus.map((g) => g.uuid);
      expect(await uuids(node())).toEqual(await uuids(node()));
      expect(await uuids(node({ node: 'gcn8', nodeOrdinal: 8 }))).not.toEqual(await uuids(node()));
      expect(await uuids(node({ seed: 12 }))).not.toEqual(await uuids(node()));
    });

    it('follows the size options', async () => {
      const inv = await node({ gpus: 8, cpuPackages: 1, coresPerPackage: 64, hasEnergyCounter: false }).probe();
      expect(inv.gpus.map((g) => [g.index, g.hasEnergyCounter])).toEqual(Array.from({ length: 8 }, (_, i) => [i, false]));
      expect(inv.cpus).toEqual([{ id: 'package-0', model: 'Intel Xeon Platinum 8480+', cores: 64 }]);
    });
  });

  describe('#read', () => {
    it('returns every gauge for GPUs, packages and DRAM', async () => {
      const n = node();
      const [first] = await drive(n, [0]);
      const inv = await n.probe();
      expect(first?.readings).toEqual({
        gpus: inv.gpus.map((g) => ({
          uuid: g.uuid,
          powerW: expect.any(Number),
          energyCounterMj: 0,
          tempC: expect.any(Number),
          memTempC: expect.any(Number),
          utilRatio: expect.any(Number),
          memUsedBytes: expect.any(Number),
          smClockMHz: expect.any(Number),
        })),
        cpus: [
          { id: 'package-0', kind: 'cpu', powerW: expect.any(Number), energyCounterMj: 0, utilRatio: expect.any(Number) },
          { id: 'dram-0', kind: 'dram', powerW: expect.any(Number), energyCounterMj: 0 },
          { id: 'package-1', kind: 'cpu', powerW: expect.any(Number), energyCounterMj: 0, utilRatio: expect.any(Number) },
          { id: 'dram-1', kind: 'dram', powerW: expect.any(Number), energyCounterMj: 0 },
        ],
      });
    });

    it('keeps gauges in physical ranges and the memory hotter than the core', async () => {
      const steps = await drive(node(), every(100, 60_000));
      for (const { readings } of steps) {
        for (const g of readings.gpus) {
          expect(g.powerW).toBeGreaterThanOrEqual(60);
          expect(g.powerW).toBeLessThanOrEqual(700);
          expect(g.tempC).toBeGreaterThanOrEqual(28);
          expect(g.tempC).toBeLessThanOrEqual(90);
          expect(g.memTempC).toBeGreaterThan((g.tempC ?? 0) + 1);
          expect(g.utilRatio).toBeGreaterThanOrEqual(0);
          expect(g.utilRatio).toBeLessThanOrEqual(1);
          expect(g.memUsedBytes).toBeLessThanOrEqual(85_899_345_920);
          expect([345, 1980].includes(g.smClockMHz ?? 0) || (g.smClockMHz ?? 0) >= 1830).toBe(true);
        }
        for (const c of readings.cpus) {
          if (c.kind === 'cpu') expect(c.powerW).toBeGreaterThanOrEqual(90);
          if (c.kind === 'cpu') expect(c.powerW).toBeLessThanOrEqual(355);
          if (c.kind === 'dram') expect(c.powerW).toBeGreaterThanOrEqual(14);
          if (c.kind === 'dram') expect(c.powerW).toBeLessThanOrEqual(41);
        }
      }
      // A busy GPU is seen at some tick: utilisation near 1 at the load clock.
      expect(steps.some((s) => s.readings.gpus.some((g) => (g.utilRatio ?? 0) >= 0.95 && g.smClockMHz === 1980))).toBe(true);
    });

    it('omits the GPU counter when hasEnergyCounter is false, and keeps RAPL counters', async () => {
      const steps = await drive(node({ hasEnergyCounter: false }), every(100, 1000));
      for (const { readings } of steps) {
        for (const g of readings.gpus) expect(Object.keys(g).sort()).toEqual(['memTempC', 'memUsedBytes', 'powerW', 'smClockMHz', 'tempC', 'utilRatio', 'uuid']);
        for (const c of readings.cpus) expect(c.energyCounterMj).toEqual(expect.any(Number));
      }
      expect(steps.at(-1)?.readings.cpus[0]?.energyCounterMj).toBeGreaterThan(0);
    });
  });

  describe('#jobs', () => {
    it('is a JobSource named simulated whose allocations pass the wire schema', async () => {
      const n = node();
      expect([n.name, n.jobs.name]).toEqual(['simulated', 'simulated']);
      const steps = await drive(n, every(100, 30_000));
      const uuids = new Set((await n.probe()).gpus.map((g) => g.uuid));
      for (const job of n.jobsEver()) {
        expect(JobAllocationSchema.parse(job)).toEqual(job);
        for (const u of job.gpus) expect(uuids.has(u)).toBe(true);
        expect(steps.some((s) => s.ms + T0 === job.startTs && s.jobs.includes(job))).toBe(true);
      }
      expect(n.jobsEver().length).toBeGreaterThan(3);
    });
  });

  describe('energy counters', () => {
    it('are integers that never decrease', async () => {
      const steps = await drive(node(), every(100, 60_000));
      for (let i = 1; i < steps.length; i++) {
        const before = steps[i - 1]!.readings;
        const now = steps[i]!.readings;
        now.gpus.forEach((g, k) => {
          expect(Number.isInteger(g.energyCounterMj)).toBe(true);
          expect(g.energyCounterMj).toBeGreaterThanOrEqual(before.gpus[k]?.energyCounterMj ?? Infinity);
        });
        now.cpus.forEach((c, k) => expect(c.energyCounterMj).toBeGreaterThanOrEqual(before.cpus[k]?.energyCounterMj ?? Infinity));
      }
    });

    it('are the floor of the fine integral, so their differences match it to 1 mJ', async () => {
      const steps = await drive(node(), every(100, 20_000));
      for (const s of steps) {
        for (const g of s.readings.gpus) expect(g.energyCounterMj).toBe(Math.floor(s.devicesMj[g.uuid] ?? NaN));
        for (const c of s.readings.cpus) expect(c.energyCounterMj).toBe(Math.floor(s.devicesMj[c.id] ?? NaN));
      }
      const a = steps[37]!;
      const b = steps[151]!;
      for (const g of b.readings.gpus) {
        const counterDiff = (g.energyCounterMj ?? 0) - (a.readings.gpus.find((x) => x.uuid === g.uuid)?.energyCounterMj ?? 0);
        expect(Math.abs(counterDiff - ((b.devicesMj[g.uuid] ?? 0) - (a.devicesMj[g.uuid] ?? 0)))).toBeLessThan(1);
      }
    });

    it('integrate the same energy whatever the tick grid', async () => {
      // Jobs that outlast the window keep the job map fixed, so only the grid differs.
      const opts = { timeScale: 10_000 };
      const fine = node(opts);
      await drive(fine, every(100, 10_000));
      const coarse = node(opts);
      await drive(coarse, [0, 10_000]);
      const ragged = node(opts);
      await drive(ragged, [0, 3, 1_000, 1_017, 4_444, 9_999, 10_000]);
      const f = fine.truth().devicesMj;
      for (const other of [coarse.truth().devicesMj, ragged.truth().devicesMj]) {
        for (const [id, mj] of Object.entries(f)) expect(Math.abs((other[id] ?? 0) - mj) / mj).toBeLessThan(1e-3);
      }
      // 10 s of a 4-GPU node is several kJ per GPU.
      expect(Math.min(...Object.values(f))).toBeGreaterThan(100_000);
    });

    it('count nothing for a tick that goes back in time', async () => {
      const n = node();
      await drive(n, every(100, 5_000));
      const before = n.truth();
      const [back] = await drive(n, [2_000]);
      expect(n.truth()).toEqual(before);
      for (const g of back?.readings.gpus ?? []) expect(g.energyCounterMj).toBe(Math.floor(before.devicesMj[g.uuid] ?? NaN));
      await drive(n, [5_100]);
      const after = n.truth();
      for (const [id, mj] of Object.entries(after.devicesMj)) {
        // One 100 ms interval: between 5 J (an idle GPU) and 75 J (a GPU at the limit, 350 W package).
        expect(mj - (before.devicesMj[id] ?? 0)).toBeGreaterThan(1_000);
        expect(mj - (before.devicesMj[id] ?? 0)).toBeLessThan(75_000);
      }
    });
  });

  describe('#truth', () => {
    it('charges each interval to the job map of its start, and jobs + idle equal the devices', async () => {
      const n = node();
      const steps = await drive(n, every(100, 120_000));
      const inv = await n.probe();
      const cpuIds = inv.cpus.flatMap((c) => [c.id, c.id.replace('package', 'dram')]);
      const expected: Record<string, { gpuMj: number; cpuMj: number }> = {};
      const idle = { gpuMj: 0, cpuMj: 0 };
      const job = (id: string) => (expected[id] ??= { gpuMj: 0, cpuMj: 0 });
      for (let i = 1; i < steps.length; i++) {
        const prev = steps[i - 1]!;
        const now = steps[i]!;
        const delta = (id: string) => (now.devicesMj[id] ?? 0) - (prev.devicesMj[id] ?? 0);
        for (const g of inv.gpus) {
          const owner = prev.jobs.find((j) => j.gpus.includes(g.uuid));
          if (owner === undefined) idle.gpuMj += delta(g.uuid);
          else job(owner.id).gpuMj += delta(g.uuid);
        }
        const cpuMj = sum(cpuIds.map(delta));
        for (const j of prev.jobs) job(j.id).cpuMj += (cpuMj * j.cpuCores) / 96;
        idle.cpuMj += (cpuMj * (96 - sum(prev.jobs.map((j) => j.cpuCores)))) / 96;
      }
      const truth = n.truth();
      expect(Object.keys(truth.jobsMj).sort()).toEqual(Object.keys(expected).sort());
      for (const [id, e] of Object.entries(expected)) {
        expect(truth.jobsMj[id]?.gpuMj).toBeCloseTo(e.gpuMj, 3);
        expect(truth.jobsMj[id]?.cpuMj).toBeCloseTo(e.cpuMj, 3);
      }
      expect(truth.idleMj.gpuMj).toBeCloseTo(idle.gpuMj, 3);
      expect(truth.idleMj.cpuMj).toBeCloseTo(idle.cpuMj, 3);

      const devices = sum(Object.values(truth.devicesMj));
      const charged = sum(Object.values(truth.jobsMj).map((e) => e.gpuMj + e.cpuMj)) + truth.idleMj.gpuMj + truth.idleMj.cpuMj;
      expect(Math.abs(charged - devices) / devices).toBeLessThan(1e-12);
      // Over two minutes of a busy node, jobs take most of the GPU energy.
      expect(truth.idleMj.gpuMj).toBeLessThan(sum(Object.values(truth.jobsMj).map((e) => e.gpuMj)));
    });

    it('lets a power-only meter come close: a trapezoid over 100 ms gauges is within 0.5 % of the truth', async () => {
      // Jobs of 10–40 s. With 1–4 s jobs the trapezoid runs ~1 % low: each job end is a step
      // the gauges see one tick late, which is what a real meter without counters suffers too.
      const n = node({ hasEnergyCounter: false, timeScale: 10 });
      const steps = await drive(n, every(100, 60_000));
      for (const uuid of Object.keys(n.truth().devicesMj).filter((id) => id.startsWith('GPU-'))) {
        let mj = 0;
        for (let i = 1; i < steps.length; i++) {
          const p0 = steps[i - 1]!.readings.gpus.find((g) => g.uuid === uuid)?.powerW ?? 0;
          const p1 = steps[i]!.readings.gpus.find((g) => g.uuid === uuid)?.powerW ?? 0;
          mj += ((p0 + p1) / 2) * 100;
        }
        const truthMj = n.truth().devicesMj[uuid] ?? 0;
        expect(Math.abs(mj - truthMj) / truthMj).toBeLessThan(0.005);
      }
    });

    it('is deterministic for the same options and ticks', async () => {
      const a = node();
      const b = node();
      await drive(a, every(100, 10_000));
      await drive(b, every(100, 10_000));
      expect(a.truth()).toEqual(b.truth());
      expect(a.jobsEver()).toEqual(b.jobsEver());
    });
  });
});
