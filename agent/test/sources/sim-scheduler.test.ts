import { describe, expect, it } from 'vitest';
import { SIM_PARTITION, SIM_USERS, SimScheduler, type SimJob } from '../../src/sources/sim-scheduler.js';

const T0 = 1_764_496_800_000;
const GPUS = ['GPU-a', 'GPU-b', 'GPU-c', 'GPU-d'];

function scheduler(overrides: { nodeOrdinal?: number; seed?: number; timeScale?: number } = {}): SimScheduler {
  return new SimScheduler({ nodeOrdinal: 3, gpuUuids: GPUS, totalCores: 96, seed: 7, timeScale: 1, ...overrides });
}

/** The job map at every tick of `spanMs`, ticking every `stepMs`. */
function run(s: SimScheduler, spanMs: number, stepMs = 100): (readonly SimJob[])[] {
  const maps: (readonly SimJob[])[] = [];
  for (let t = 0; t <= spanMs; t += stepMs) maps.push(s.advance(T0 + t));
  return maps;
}

describe('SimScheduler', () => {
  describe('over 10 simulated minutes', () => {
    const s = scheduler();
    const maps = run(s, 600_000);
    const ever = s.ever;

    it('starts and ends many jobs of 1, 2 and all GPUs', () => {
      expect(ever.length).toBeGreaterThan(50);
      expect(new Set(ever.map((j) => j.allocation.gpus.length))).toEqual(new Set([1, 2, 4]));
      expect(maps.at(-1)?.length).toBeLessThan(ever.length);
    });

    it('has moments with two or more jobs on the node, and moments with free GPUs', () => {
      expect(maps.some((m) => m.length >= 2)).toBe(true);
      expect(maps.some((m) => m.flatMap((j) => j.allocation.gpus).length < GPUS.length)).toBe(true);
      expect(maps.some((m) => m.length === 0)).toBe(true);
    });

    it('has jobs that hold a GPU without using it', () => {
      const holdingIdle = ever.filter((j) => j.usedGpus.length < j.allocation.gpus.length);
      expect(holdingIdle.length).toBeGreaterThan(0);
      for (const j of holdingIdle) expect(j.allocation.gpus).toEqual(expect.arrayContaining([...j.usedGpus]));
    });

    it('never gives one GPU to two jobs at once', () => {
      for (const m of maps) {
        const gpus = m.flatMap((j) => j.allocation.gpus);
        expect(new Set(gpus).size).toBe(gpus.length);
      }
    });

    it('gives every job a unique numeric id above 1000 under its node ordinal', () => {
      const ids = ever.map((j) => j.allocation.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) {
        expect(id).toMatch(/^\d+$/);
        expect(Math.floor(Number(id) / 100_000)).toBe(3);
        expect(Number(id) % 100_000).toBeGreaterThan(1000);
      }
    });

    it('describes each job as Slurm would, cores in proportion to GPUs', () => {
      const accounts = new Map(SIM_USERS.map((u) => [u.user, u.account]));
      for (const j of ever) {
        expect(j.allocation).toEqual({
          id: expect.any(String),
          user: expect.any(String),
          account: accounts.get(j.allocation.user),
          name: expect.any(String),
          partition: SIM_PARTITION,
          startTs: expect.any(Number),
          gpus: expect.any(Array),
          cpuCores: 24 * j.allocation.gpus.length,
        });
      }
    });

    it('runs each job for 1–4 time units, between the ticks it starts and ends at', () => {
      for (const j of ever) {
        const ticks = maps.map((m, i) => (m.includes(j) ? i : -1)).filter((i) => i >= 0);
        const first = ticks[0] ?? -1;
        const last = ticks.at(-1) ?? -1;
        expect(T0 + first * 100).toBe(j.allocation.startTs);
        // Present on a contiguous run of ticks.
        expect(last - first + 1).toBe(ticks.length);
        const ran = j.endTs - j.allocation.startTs;
        expect(ran).toBeGreaterThanOrEqual(1000);
        expect(ran).toBeLessThanOrEqual(4000);
        if (last < maps.length - 1) expect(T0 + (last + 1) * 100).toBeGreaterThanOrEqual(j.endTs);
      }
    });
  });

  describe('#advance', () => {
    it('changes the job map only at ticks, and not for a tick that repeats or goes back', () => {
      const s = scheduler();
      const a = s.advance(T0);
      expect(s.running).toBe(a);
      expect(s.advance(T0)).toBe(a);
      const later = s.advance(T0 + 60_000);
      expect(s.advance(T0 + 30_000)).toBe(later);
      expect(s.running).toBe(later);
    });

    it('never mutates a job map it handed out', () => {
      const s = scheduler();
      const first = s.advance(T0);
      const copy = [...first];
      run(s, 30_000);
      expect(first).toEqual(copy);
    });
  });

  it('scales job lengths with timeScale', () => {
    const s = scheduler({ timeScale: 60 });
    run(s, 3_600_000, 1000);
    for (const j of s.ever) {
      expect(j.endTs - j.allocation.startTs).toBeGreaterThanOrEqual(60_000);
      expect(j.endTs - j.allocation.startTs).toBeLessThanOrEqual(240_000);
    }
    expect(s.ever.length).toBeGreaterThan(10);
  });

  it('is deterministic for a seed and tick sequence, and differs across seeds and nodes', () => {
    const ids = (s: SimScheduler): string[] => s.ever.map((j) => `${j.allocation.id}@${j.allocation.startTs}:${j.allocation.gpus.join(',')}`);
    const a = scheduler();
    const b = scheduler();
    run(a, 60_000);
    run(b, 60_000);
    expect(ids(a)).toEqual(ids(b));
    const c = scheduler({ seed: 8 });
    run(c, 60_000);
    expect(ids(c)).not.toEqual(ids(a));
    const other = scheduler({ nodeOrdinal: 4 });
    run(other, 60_000);
    const overlap = new Set(other.ever.map((j) => j.allocation.id).filter((id) => a.ever.some((j) => j.allocation.id === id)));
    expect(overlap.size).toBe(0);
  });
});
