import { describe, expect, it } from 'vitest';
import type { Batch, GpuInfo } from '@stroom/protocol';
import { checkPhysics } from '../../src/ingest/physics.js';
import { applyBatch, emptyLedger } from '../../src/ledger/ledger.js';

const NOW = Date.UTC(2026, 10, 30, 12, 0);
const gpus = new Map<string, GpuInfo>([['GPU-a', { uuid: 'GPU-a', index: 0, name: 'H100', powerLimitW: 700, memTotalBytes: 85_520_809_984 }]]);

function batch(gauges: Record<string, number>, ts = NOW, sampleTs = NOW): Batch {
  return {
    v: 1, type: 'batch', node: 'n1', epoch: 'e1', seq: 2, ts,
    samples: [{ ts: sampleTs, gpus: [{ uuid: 'GPU-a', ...gauges }], cpus: [{ id: 'package-0', powerW: 200 }] }],
    counters: { devices: [], jobs: [], idle: { gpuEnergyMj: 0, cpuEnergyMj: 0 } }, jobs: [], gaps: 0,
  };
}

describe('checkPhysics', () => {
  const cases: Array<[string, Record<string, number>, Array<[string, string]>, Record<string, number>]> = [
    ['keeps plausible values', { powerW: 650, tempC: 70, utilRatio: 0.9 }, [], { powerW: 650, tempC: 70, utilRatio: 0.9 }],
    ['refuses negative power, keeps the rest', { powerW: -5, tempC: 70 }, [['samples[0].gpus[0].powerW', 'negative power -5 W']], { tempC: 70 }],
    ['refuses power above twice the limit', { powerW: 1500, tempC: 70 }, [['samples[0].gpus[0].powerW', "1500 W is above 2x the GPU's 700 W limit"]], { tempC: 70 }],
    ['refuses an impossible temperature', { powerW: 300, tempC: 900 }, [['samples[0].gpus[0].tempC', '900 °C is outside -50..150 °C']], { powerW: 300 }],
    ['refuses more memory used than the GPU has', { memUsedBytes: 2e11 }, [['samples[0].gpus[0].memUsedBytes', "200000000000 B used is more than the GPU's 85520809984 B"]], {}],
  ];
  for (const [what, gauges, rejected, kept] of cases) {
    it(what, () => {
      const out = checkPhysics(batch(gauges), gpus, NOW);
      expect(out.rejections.map((r) => [r.field, r.reason])).toEqual(rejected);
      expect(out.batch.samples[0]?.gpus[0]).toEqual({ uuid: 'GPU-a', ...kept });
      expect(out.batch.samples[0]?.cpus).toEqual([{ id: 'package-0', powerW: 200 }]);
    });
  }

  it('drops a sample from the future and books a future batch at receive time', () => {
    const ahead = NOW + 10 * 60_000;
    const out = checkPhysics(batch({ powerW: 300 }, ahead, ahead), gpus, NOW);
    expect(out.rejections).toEqual([
      { field: 'samples[0].ts', reason: "2026-11-30T12:10:00.000Z is more than 5 min ahead of the collector's clock" },
      { field: 'ts', reason: "2026-11-30T12:10:00.000Z is more than 5 min ahead of the collector's clock; the receive time is used for the books" },
    ]);
    expect(out.batch.samples).toEqual([]);
    expect(out.batch.ts).toBe(NOW);
  });
});

describe('ledger with a counter that jumps beyond physics', () => {
  it('drops that interval whole (jobs + idle = node still holds) and continues from the new values', () => {
    const mk = (seq: number, gpuMj: number, jobMj: number): Batch => ({
      ...batch({}, NOW + seq * 1000),
      seq,
      counters: { devices: [{ id: 'GPU-a', kind: 'gpu', energyMj: gpuMj }], jobs: [{ id: '7', gpuEnergyMj: jobMj, cpuEnergyMj: 0 }], idle: { gpuEnergyMj: gpuMj - jobMj, cpuEnergyMj: 0 } },
    });
    const limit = (_id: string, dtMs: number): number => 2 * 700 * dtMs;
    const first = applyBatch(emptyLedger('n1', 'e1'), mk(1, 600_000, 600_000), limit);
    if (first.kind !== 'counted') throw new Error('counted expected');
    // 1 s later the counter claims 9 MJ: 9 MW from one GPU.
    const glitch = applyBatch(first.effect.ledger, mk(2, 9_000_600_000, 9_000_600_000), limit);
    if (glitch.kind !== 'counted') throw new Error('counted expected');
    expect(glitch.glitches).toEqual(['counters.devices[0].energyMj: rose 9000000 J in 1 s (9000000 W), above twice the device\'s limit; new baseline, nothing counted for this interval']);
    expect(glitch.effect.nodeMj).toEqual({ gpuMj: 0, cpuMj: 0, otherMj: 0 });
    expect(glitch.effect.jobsMj.size).toBe(0);
    const after = applyBatch(glitch.effect.ledger, mk(3, 9_001_200_000, 9_001_200_000), limit);
    if (after.kind !== 'counted') throw new Error('counted expected');
    expect(after.effect.nodeMj.gpuMj).toBe(600_000);
    expect(after.effect.jobsMj.get('7')).toEqual({ gpuMj: 600_000, cpuMj: 0, otherMj: 0 });
  });
});
