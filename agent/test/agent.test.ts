import { describe, expect, it } from 'vitest';
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
});
