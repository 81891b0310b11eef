/**
 * The whole agent (source set, meter, batches) against a fake nvidia-smi playing a known
 * bursty trace: 600 W with a 0.3 s dip to 150 W every 2 s, instantaneous power only. At 1 Hz
 * sampling such a load aliases by ~11 %; the agent must report GPU energy within 0.5 % of the
 * exact integral.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { Batch } from '@stroom/protocol';
import { Agent } from '../src/agent.js';
import type { DeviceSource, Tick } from '../src/source.js';
import { NvidiaSmiSource } from '../src/sources/nvidia-smi.js';
import { MemorySpool } from '../src/spool/memory-spool.js';
import { fixture } from './fixture.js';

const FAKE = fileURLToPath(new URL('./bin/fake-nvidia-smi', import.meta.url));
const GPU = 'GPU-19d6d965-2acc-f646-00f8-4c76979aabb4';
const trace = { baseW: 600, dipW: 150, periodS: 2, dipS: 0.3 };
const dir = mkdtempSync(join(tmpdir(), 'stroom-accuracy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Exact energy in mJ of the trace between two instants (ms since the trace start). */
function exactMj(fromMs: number, toMs: number): number {
  const dips = (x: number): number => {
    const k = Math.floor(x / trace.periodS);
    return k * trace.dipS + Math.min(x - k * trace.periodS, trace.dipS);
  };
  const a = fromMs / 1000;
  const b = toMs / 1000;
  return 1000 * (trace.baseW * (b - a) - (trace.baseW - trace.dipW) * (dips(b) - dips(a)));
}

describe('agent energy accuracy on a bursty load', () => {
  it('reports GPU energy within 0.5 % of the exact integral', { timeout: 30_000 }, async () => {
    const startMs = Date.now();
    copyFileSync(fixture('nvidia-smi/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__help-query-gpu.txt'), join(dir, 'help-query-gpu.txt'));
    copyFileSync(fixture('nvidia-smi/linux-x86_64__nvidia-geforce-rtx-3080__595.58.03__load.xml'), join(dir, 'q-x.xml'));
    copyFileSync(fixture('nvidia-smi/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.csv'), join(dir, 'query-gpu.csv'));
    writeFileSync(join(dir, 'trace.json'), JSON.stringify({ startMs, gpus: [trace] }));
    const log = pino({ level: 'silent' });
    const smi = new NvidiaSmiSource({
      nvidiaSmiPath: FAKE, intervalMs: 1000, log,
      // nvidia-smi prints local time; in UTC its timestamps are the trace's epoch ms.
      env: { FAKE_NVIDIA_SMI_DIR: dir, FAKE_NVIDIA_SMI_TRACE: join(dir, 'trace.json'), FAKE_NVIDIA_SMI_DROP_FIELDS: 'power.draw.average', TZ: 'UTC' },
    });
    // Note, at every agent read, the timestamp of the last row the source integrated: the
    // counter the meter differences covers exactly the rows between two reads.
    const rowTs: number[] = [];
    const observed: DeviceSource = {
      name: smi.name,
      probe: () => smi.probe(),
      read: async (t: Tick) => {
        const r = await smi.read(t);
        rowTs.push(smi.stats.gpus[GPU]?.lastTsMs ?? Number.NaN);
        return r;
      },
      stop: () => smi.stop(),
    };
    const batches: Batch[] = [];
    const agent = new Agent({ node: 'n1', intervalMs: 1000, devices: observed, jobs: { name: 'none', read: async () => [] }, spool: new MemorySpool(), log, onBatch: (b) => batches.push(b) });
    try {
      await agent.probe();
      // Start in the middle of a 600 W stretch, away from a power step.
      const phaseMs = (Date.now() - startMs) % 2000;
      await new Promise((r) => setTimeout(r, (1150 - phaseMs + 4000) % 2000 + 2000));
      for (let i = 0; i < 9; i++) {
        await agent.tick();
        await new Promise((r) => setTimeout(r, 1000));
      }
      await agent.tick();
    } finally {
      await smi.stop();
    }
    const energyMj = batches[batches.length - 1]?.counters.devices.find((d) => d.id === GPU)?.energyMj ?? 0;
    const first = rowTs[0] ?? Number.NaN;
    const last = rowTs[rowTs.length - 1] ?? Number.NaN;
    const exact = exactMj(first - startMs, last - startMs);
    expect(last - first).toBeGreaterThan(8000);
    expect(batches[batches.length - 1]?.gaps).toBe(0);
    expect(Math.abs(energyMj - exact) / exact).toBeLessThan(0.005);
  });
});
