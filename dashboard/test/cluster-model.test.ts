import { describe, expect, it } from 'vitest';
import { ClusterModel } from '../src/cluster-model.js';
import { cluster, node } from './fixtures.js';

describe('ClusterModel', () => {
  it('takes a full snapshot, then merges deltas by node name, keeping inventory columns a delta leaves out', () => {
    const m = new ClusterModel();
    expect(m.apply(cluster({ seq: 5, full: true, grid: [node('n10', 2), node('n2', 2)] }))).toBe('ok');
    expect(m.rows.map((r) => r.name)).toEqual(['n2', 'n10']);
    const { gpuUuids: _u, gpuPowerLimitW: _l, ...lean } = node('n10', 2, { powerW: 99 });
    expect(m.apply(cluster({ seq: 6, full: false, grid: [lean] }))).toBe('ok');
    expect(m.rows[1]).toMatchObject({ name: 'n10', powerW: 99, gpuUuids: ['GPU-n10-0', 'GPU-n10-1'], gpuPowerLimitW: [700, 700] });
    expect(m.apply(cluster({ seq: 7, full: false, grid: [node('n1', 2)] }))).toBe('ok');
    expect(m.rows.map((r) => r.name)).toEqual(['n1', 'n2', 'n10']);
  });

  it('asks for a resync when a delta skips a seq or lacks columns it cannot fill, and applies nothing of it', () => {
    const m = new ClusterModel();
    expect(m.apply(cluster({ seq: 1, full: false, grid: [] }))).toBe('resync');
    m.apply(cluster({ seq: 1, full: true, grid: [node('n1', 1)] }));
    expect(m.apply(cluster({ seq: 3, full: false, grid: [node('n1', 1, { powerW: 1 })] }))).toBe('resync');
    const { gpuUuids: _u, ...noUuids } = node('n9', 1);
    expect(m.apply(cluster({ seq: 2, full: false, grid: [node('n1', 1, { powerW: 5 }), noUuids] }))).toBe('resync');
    expect(m.rows[0]?.powerW).toBe(2000);
    expect(m.seq).toBe(1);
  });
});
