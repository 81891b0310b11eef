import { afterEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { BatchSchema } from '@stroom/protocol';
import type { JobAllocation } from '@stroom/protocol';
import { Agent } from '../src/agent.js';
import type { DeviceReadings, DeviceSource, JobSource, Tick } from '../src/source.js';
import { MemorySpool } from '../src/spool/memory-spool.js';

const log = pino({ level: 'silent' });

/** A scripted clock: each tick advances it by `stepMs`. */
function steppedClock(stepMs: number): { nowMs: () => number; monoMs: () => number; advance: () => void } {
  let mono = 0;
  return { nowMs: () => 1_764_496_800_000 + mono, monoMs: () => mono, advance: () => { mono += stepMs; } };
}

const job: JobAllocation = { id: '7', user: 'u', account: 'a', startTs: 1_764_496_800_000, gpus: ['GPU-a'], cpuCores: 4 };

describe('Agent', () => {
  it('builds valid batches with cumulative counters, gauges and the job map', async () => {
    const clock = steppedClock(1000);
    const devices: DeviceSource = {
      name: 'scripted',
      probe: async () => ({ gpus: [{ uuid: 'GPU-a', index: 0, name: 'H100' }], cpus: [{ id: 'package-0', cores: 8 }] }),
      // The reading omits temperature: absent must stay absent on the wire.
      read: async (): Promise<DeviceReadings> => ({ gpus: [{ uuid: 'GPU-a', powerW: 400, utilRatio: 0.9 }], cpus: [{ id: 'package-0', kind: 'cpu', powerW: 100 }] }),
    };
    const jobs: JobSource = { name: 'scripted', read: async () => [job] };
    const spool = new MemorySpool();
    const agent = new Agent({ node: 'n1', intervalMs: 1000, devices, jobs, spool, log, clock, epoch: 'e1' });
    const hello = await agent.probe();
    expect(hello).toMatchObject({ type: 'hello', node: 'n1', epoch: 'e1', intervalMs: 1000, inventory: { gpus: [{ uuid: 'GPU-a' }] } });
    const batches = [];
    for (let i = 0; i < 3; i++) {
      batches.push(await agent.tick());
      clock.advance();
    }
    const last = batches[2];
    expect(BatchSchema.parse(last)).toEqual(last);
    expect(last).toEqual({
      v: 1, type: 'batch', node: 'n1', epoch: 'e1', seq: 3, ts: 1_764_496_802_000,
      samples: [{ ts: 1_764_496_802_000, gpus: [{ uuid: 'GPU-a', powerW: 400, utilRatio: 0.9 }], cpus: [{ id: 'package-0', powerW: 100 }] }],
      counters: {
        devices: [{ id: 'GPU-a', kind: 'gpu', energyMj: 800_000 }, { id: 'package-0', kind: 'cpu', energyMj: 200_000 }],
        jobs: [{ id: '7', gpuEnergyMj: 800_000, cpuEnergyMj: 100_000 }],
        idle: { gpuEnergyMj: 0, cpuEnergyMj: 100_000 },
      },
      jobs: [job],
      gaps: 0,
      sources: [{ name: 'scripted', lastReadMs: expect.any(Number), errors: 0, timeouts: 0 }],
    });
    expect(spool.stats.batches).toBe(3);
  });

  it('keeps ticking while a source fails, and warns once', async () => {
    const clock = steppedClock(1000);
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push((JSON.parse(line) as { msg: string }).msg) });
    let calls = 0;
    const devices: DeviceSource = {
      name: 'flaky',
      probe: async () => ({ gpus: [], cpus: [] }),
      read: async (_tick: Tick) => {
        calls += 1;
        if (calls >= 2) throw new Error('nvidia-smi exited with 255');
        return { gpus: [{ uuid: 'GPU-a', powerW: 100 }], cpus: [] };
      },
    };
    const agent = new Agent({ node: 'n1', intervalMs: 1000, devices, jobs: { name: 'none', read: async () => [] }, spool: new MemorySpool(), log: logger, clock });
    await agent.probe();
    for (let i = 0; i < 5; i++) {
      await agent.tick();
      clock.advance();
    }
    expect(warnings).toEqual(['source flaky failed: nvidia-smi exited with 255']);
    expect(agent.sources.stats.get('flaky')).toMatchObject({ reads: 5, errors: 4, timeouts: 0 });
  });

  it('gives up on a hung source at the deadline without stalling the tick, and disables a missing one', async () => {
    const clock = steppedClock(100);
    const hung: DeviceSource = { name: 'hung', probe: async () => ({ gpus: [], cpus: [] }), read: () => new Promise(() => undefined) };
    const missing: DeviceSource = { name: 'rapl', probe: async () => { throw new Error('no /sys/class/powercap'); }, read: async () => ({ gpus: [], cpus: [] }) };
    const good: DeviceSource = { name: 'good', probe: async () => ({ gpus: [], cpus: [] }), read: async () => ({ gpus: [{ uuid: 'GPU-a', powerW: 100 }], cpus: [] }) };
    const agent = new Agent({ node: 'n1', intervalMs: 100, readDeadlineMs: 30, devices: [hung, missing, good], jobs: { name: 'none', read: async () => [] }, spool: new MemorySpool(), log, clock });
    const hello = await agent.probe();
    expect(hello.sources).toEqual([{ name: 'hung', state: 'ok' }, { name: 'rapl', state: 'disabled', reason: 'no /sys/class/powercap' }, { name: 'good', state: 'ok' }]);
    let batch;
    for (let i = 0; i < 3; i++) {
      batch = await agent.tick();
      clock.advance();
    }
    expect(batch?.samples[0]?.gpus).toEqual([{ uuid: 'GPU-a', powerW: 100 }]);
    expect(agent.sources.stats.get('hung')).toMatchObject({ reads: 1, timeouts: 3 });
  });

  describe('tick schedule', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('samples on whole multiples of the interval on the wall clock, and skips instants missed in a stall', async () => {
      vi.useFakeTimers({ now: 1_764_496_800_337 });
      let stallMs = 0;
      const devices: DeviceSource = {
        name: 'scripted',
        probe: async () => ({ gpus: [{ uuid: 'GPU-a', index: 0, name: 'H100' }], cpus: [] }),
        read: async (): Promise<DeviceReadings> => {
          // A read that blocks the process, as an overloaded node does.
          if (stallMs > 0) vi.setSystemTime(Date.now() + stallMs);
          stallMs = 0;
          return { gpus: [{ uuid: 'GPU-a', powerW: 400 }], cpus: [] };
        },
      };
      const clock = { nowMs: () => Date.now(), monoMs: () => Date.now() - 1_764_496_800_000 };
      const spool = new MemorySpool();
      const jobs: JobSource = { name: 'none', read: async () => [] };
      const agent = new Agent({ node: 'n1', intervalMs: 1000, devices, jobs, spool, log, clock, epoch: 'e1' });
      await agent.probe();
      agent.start();
      await vi.advanceTimersByTimeAsync(3_500);
      stallMs = 1_700;
      await vi.advanceTimersByTimeAsync(3_000);
      await agent.stop();
      const ts: number[] = [];
      for (let b = spool.next(0); b !== undefined; b = spool.next(b.seq)) ts.push((JSON.parse(b.frame) as { ts: number }).ts);
      const t0 = 1_764_496_800_000;
      // First tick at start, then on the second; the stalled read at +4 s ends at +5.7 s, so +5 s
      // is skipped. (A stepped wall clock: test/faults/clock-step.test.ts.)
      expect(ts.slice(0, 6)).toEqual([t0 + 337, t0 + 1000, t0 + 2000, t0 + 3000, t0 + 4000, t0 + 6000]);
      expect(ts.slice(1).every((t) => t % 1000 === 0)).toBe(true);
    });
  });
});
