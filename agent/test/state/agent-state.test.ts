import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Agent } from '../../src/agent.js';
import type { DeviceSource } from '../../src/source.js';
import { MemorySpool } from '../../src/spool/memory-spool.js';
import { FileStateStore } from '../../src/state/agent-state.js';

const root = mkdtempSync(join(tmpdir(), 'stroom-state-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const log = pino({ level: 'silent' });

/** A GPU whose hardware counter is whatever `counter.mj` says. */
function gpu(counter: { mj: number }): DeviceSource {
  return {
    name: 'scripted',
    probe: async () => ({ gpus: [{ uuid: 'GPU-a', index: 0, name: 'H100' }], cpus: [] }),
    read: async () => ({ gpus: [{ uuid: 'GPU-a', energyCounterMj: counter.mj }], cpus: [] }),
  };
}

function agentWith(file: string, counter: { mj: number }, boot: string, mono: { ms: number }): Agent {
  return new Agent({
    node: 'n1', intervalMs: 1000, devices: gpu(counter), jobs: { name: 'none', read: async () => [] }, spool: new MemorySpool(), log,
    state: new FileStateStore(file, () => undefined), bootId: boot, stateEveryBatches: 1,
    clock: { nowMs: () => 1_764_496_800_000 + mono.ms, monoMs: () => mono.ms },
  });
}

describe('agent state', () => {
  it('continues epoch, seq and counters after a restart on the same boot, counting the downtime by the hardware counter', async () => {
    const file = join(root, 'a', 'state.json');
    const counter = { mj: 1_000_000 };
    const mono = { ms: 0 };
    const first = agentWith(file, counter, 'boot-1', mono);
    await first.probe();
    await first.tick();
    counter.mj += 700_000;
    mono.ms += 1000;
    const b1 = await first.tick();
    expect(b1?.counters.devices).toEqual([{ id: 'GPU-a', kind: 'gpu', energyMj: 700_000 }]);
    // Down for a minute: the GPU kept drawing and its counter kept counting.
    counter.mj += 42_000_000;
    mono.ms += 60_000;
    const second = agentWith(file, counter, 'boot-1', mono);
    const hello = await second.probe();
    expect(hello.epoch).toBe(first.epoch);
    const b2 = await second.tick();
    expect(b2?.seq).toBe(3);
    expect(b2?.counters.devices).toEqual([{ id: 'GPU-a', kind: 'gpu', energyMj: 42_700_000 }]);
  });

  it('starts a new epoch from zero after a reboot', async () => {
    const file = join(root, 'b', 'state.json');
    const counter = { mj: 5_000 };
    const mono = { ms: 0 };
    const first = agentWith(file, counter, 'boot-1', mono);
    await first.probe();
    await first.tick();
    const rebooted = agentWith(file, counter, 'boot-2', mono);
    const hello = await rebooted.probe();
    expect(hello.epoch).not.toBe(first.epoch);
    const b = await rebooted.tick();
    expect(b?.seq).toBe(1);
    expect(b?.counters.devices).toEqual([{ id: 'GPU-a', kind: 'gpu', energyMj: 0 }]);
  });

  it('continues from the intact half when the newest state file is torn', () => {
    const file = join(root, 'c', 'state.json');
    const store = new FileStateStore(file, () => undefined);
    const meter = { devices: [], jobs: [], idle: { gpuEnergyMj: 0, cpuEnergyMj: 0 }, owners: [], gaps: 0, resets: 0 };
    store.save({ v: 1, node: 'n1', bootId: 'b', epoch: 'e', seq: 7, meter });
    store.save({ v: 1, node: 'n1', bootId: 'b', epoch: 'e', seq: 8, meter });
    writeFileSync(`${file}.b`, '{"v":1,"epo');
    const warnings: string[] = [];
    const reread = new FileStateStore(file, (m) => warnings.push(m));
    expect(reread.load()?.seq).toBe(7);
    expect(warnings[0]).toMatch(/^agent state unreadable: .*state\.json\.b \(.*\); continuing from seq 7$/);
  });

  it('starts a new epoch, with a warning, when no state file is intact', () => {
    const file = join(root, 'd', 'state.json');
    const warnings: string[] = [];
    const store = new FileStateStore(file, (m) => warnings.push(m));
    writeFileSync(`${file}.a`, '{"v":1,"epo');
    expect(store.load()).toBeUndefined();
    expect(warnings[0]).toMatch(/^agent state unreadable: .*state\.json\.a \(.*\); starting a new epoch$/);
  });
});
