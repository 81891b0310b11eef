import { describe, expect, it } from 'vitest';
import { hwPoints } from '../src/hw-metrics.js';
import type { NodeSnapshot } from '../src/hw-metrics.js';
import { METRICS, isMetricName } from '../src/semconv.js';

const UUID = 'GPU-5a1e0000-0000-4000-8000-00000000000a';
const GPU = { 'host.name': 'gcn7', 'hw.id': UUID, 'hw.name': 'gpu0', 'hw.model': 'NVIDIA H100 80GB HBM3', 'hw.vendor': 'nvidia' };

const NODE: NodeSnapshot = {
  node: 'gcn7',
  gpus: [{ uuid: UUID, index: 0, name: 'NVIDIA H100 80GB HBM3', memTotalBytes: 85_899_345_920, powerLimitW: 700 }],
  cpus: [{ id: 'package-0', model: 'Intel Xeon Platinum 8480+', cores: 56 }],
  sample: {
    ts: 1_700_000_000_000,
    gpus: [{ uuid: UUID, powerW: 512.25, tempC: 61, memTempC: 70, utilRatio: 0.93, memUsedBytes: 42_949_672_960 }],
    cpus: [{ id: 'package-0', powerW: 210.5 }],
  },
  devices: [
    { id: UUID, kind: 'gpu', energyMj: 1_234_567 },
    { id: 'package-0', kind: 'cpu', energyMj: 500_001 },
    { id: 'dram-0', kind: 'dram', energyMj: 60_000 },
  ],
  hostPowerW: 735.5,
};

describe('hwPoints', () => {
  it('maps one node to hw.* points with OTel names, SI values and attributes', () => {
    expect(hwPoints(NODE)).toStrictEqual([
      { name: 'hw.power', value: 512.25, attributes: { ...GPU, 'hw.type': 'gpu' } },
      { name: 'hw.gpu.utilization', value: 0.93, attributes: { ...GPU, 'hw.gpu.task': 'general' } },
      { name: 'hw.gpu.memory.usage', value: 42_949_672_960, attributes: GPU },
      { name: 'hw.gpu.memory.limit', value: 85_899_345_920, attributes: GPU },
      { name: 'hw.gpu.memory.utilization', value: 0.5, attributes: GPU },
      { name: 'hw.temperature', value: 61, attributes: { 'host.name': 'gcn7', 'hw.id': `${UUID}/gpu`, 'hw.parent': UUID, 'hw.sensor_location': 'gpu' } },
      { name: 'hw.temperature', value: 70, attributes: { 'host.name': 'gcn7', 'hw.id': `${UUID}/memory`, 'hw.parent': UUID, 'hw.sensor_location': 'memory' } },
      { name: 'hw.power', value: 210.5, attributes: { 'host.name': 'gcn7', 'hw.id': 'package-0', 'hw.name': 'package-0', 'hw.type': 'cpu', 'hw.model': 'Intel Xeon Platinum 8480+' } },
      // Integer mJ on the wire, J in OTel.
      { name: 'hw.energy', value: 1234.567, attributes: { ...GPU, 'hw.type': 'gpu' } },
      { name: 'hw.energy', value: 500.001, attributes: { 'host.name': 'gcn7', 'hw.id': 'package-0', 'hw.name': 'package-0', 'hw.type': 'cpu', 'hw.model': 'Intel Xeon Platinum 8480+' } },
      { name: 'hw.energy', value: 60, attributes: { 'host.name': 'gcn7', 'hw.id': 'dram-0', 'hw.name': 'dram-0', 'hw.type': 'memory' } },
      { name: 'hw.host.energy', value: 1794.568, attributes: { 'host.name': 'gcn7', 'hw.id': 'gcn7' } },
      { name: 'hw.host.power', value: 735.5, attributes: { 'host.name': 'gcn7', 'hw.id': 'gcn7' } },
    ]);
  });

  it('leaves out what was not reported (absent is never 0) and sums gauges when there is no counter power', () => {
    const points = hwPoints({ node: 'n', gpus: [], sample: { ts: 1, gpus: [{ uuid: 'GPU-x', powerW: 100 }], cpus: [{ id: 'package-0', powerW: 50 }] } });
    expect(points.map((p) => [p.name, p.value])).toStrictEqual([['hw.power', 100], ['hw.power', 50], ['hw.host.power', 150]]);
    expect(points[0]?.attributes).toStrictEqual({ 'host.name': 'n', 'hw.id': 'GPU-x', 'hw.vendor': 'nvidia', 'hw.type': 'gpu' });
  });

  it('gives a node without a sample its counters only', () => {
    const { sample: _dropped, hostPowerW: _alsoDropped, ...down } = NODE;
    expect(hwPoints(down).map((p) => p.name)).toStrictEqual(['hw.energy', 'hw.energy', 'hw.energy', 'hw.host.energy']);
  });

  it('names only catalogue metrics, and never a job', () => {
    for (const p of hwPoints(NODE)) {
      expect(isMetricName(p.name)).toBe(true);
      expect(p.name.startsWith('hw.')).toBe(true);
      expect(Object.keys(p.attributes).filter((k) => k.startsWith('stroom.'))).toStrictEqual([]);
    }
  });
});

describe('METRICS', () => {
  it('uses one prefix for our own names, UCUM units, and no unit or _total in a name', () => {
    for (const [name, info] of Object.entries(METRICS)) {
      expect(name.startsWith('hw.') || name.startsWith('stroom.'), name).toBe(true);
      expect(/(_total|_seconds|_watts|_joules|_bytes)$/.test(name), name).toBe(false);
      expect(['W', 'J', 'Cel', '1', 'By', 's'].includes(info.unit) || /^\{[a-z]+\}$/.test(info.unit), `${name}: ${info.unit}`).toBe(true);
    }
  });
});
