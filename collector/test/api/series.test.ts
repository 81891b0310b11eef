import { describe, expect, it } from 'vitest';
import { parseStepMs, seriesColumns } from '../../src/api/series.js';

describe('seriesColumns', () => {
  it('turns energy buckets into power per step, per node and in total, null where nothing came', () => {
    const t0 = 1_764_496_800_000;
    const points = [
      { node: 'gcn2', bucketTs: t0, energyMj: 7_000_000 },
      { node: 'gcn1', bucketTs: t0, energyMj: 3_000_000 },
      { node: 'gcn1', bucketTs: t0 + 10_000, energyMj: 4_000_000 },
      { node: 'gcn1', bucketTs: t0 + 30_000, energyMj: 5_000_000 },
    ];
    // 10 s steps: 10 000 J over 10 s is 1000 W.
    expect(seriesColumns(points, t0, t0 + 40_000, 10_000)).toEqual({
      step: 10,
      series: ['total', 'gcn1', 'gcn2'],
      columns: [
        [t0 / 1000, t0 / 1000 + 10, t0 / 1000 + 20, t0 / 1000 + 30],
        [1000, 400, null, 500],
        [300, 400, null, 500],
        [700, null, null, null],
      ],
    });
    // 20 s steps average the buckets inside them.
    expect(seriesColumns(points, t0, t0 + 40_000, 20_000).columns[1]).toEqual([700, 250]);
  });
  it('parses steps and refuses ones finer than the stored buckets', () => {
    expect([parseStepMs('10s', 10_000), parseStepMs('1m', 10_000), parseStepMs('3600', 10_000), parseStepMs('1h', 10_000)]).toEqual([10_000, 60_000, 3_600_000, 3_600_000]);
    expect(() => parseStepMs('5s', 10_000)).toThrow('step "5s": must be a multiple of 10s');
    expect(() => parseStepMs('soon', 10_000)).toThrow('step "soon": expected seconds or a number with s, m or h, e.g. 10s');
  });
});
