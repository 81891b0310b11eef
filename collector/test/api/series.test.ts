import { describe, expect, it } from 'vitest';
import { gpuSeriesColumns, parseStepMs, seriesColumns } from '../../src/api/series.js';

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
  it('spreads a rolled-up minute evenly over finer steps, so the area is still its energy', () => {
    const t0 = 1_764_496_800_000;
    const points = [
      { node: 'gcn1', bucketTs: t0, energyMj: 60_000_000, bucketMs: 60_000 },
      { node: 'gcn1', bucketTs: t0 + 60_000, energyMj: 10_000_000 },
    ];
    // 60 000 J over a minute is 1000 W in each 10 s step; then one raw 10 s bucket.
    expect(seriesColumns(points, t0, t0 + 80_000, 10_000).columns[1]).toEqual([1000, 1000, 1000, 1000, 1000, 1000, 1000, null]);
    // 30 s steps: two per minute; the raw bucket is a third of its step.
    expect(seriesColumns(points, t0, t0 + 90_000, 30_000).columns[1]).toEqual([1000, 1000, 10_000_000 / 30_000]);
    // A range starting inside the minute shows only its part of it.
    expect(seriesColumns(points, t0 + 30_000, t0 + 60_000, 10_000).columns[1]).toEqual([1000, 1000, 1000]);
  });
  it('gives each GPU its own column: mean power or utilisation weighted by samples, or the highest temperature', () => {
    const t0 = 1_764_496_800_000;
    const bucket = { node: 'n1', bucketMs: 10_000, uuids: ['g0', 'g1', 'gX'], utilN: [2, 0, 1], tempMaxC: [60, null, 40] };
    const buckets = [
      { ...bucket, bucketTs: t0, powerSumW: [400, 200], powerN: [2, 1], utilSum: [1.5, 0, 1] },
      { ...bucket, bucketTs: t0 + 10_000, powerSumW: [100, 0], powerN: [1, 0], utilSum: [0.5, 0, 1], utilN: [1, 0, 1], tempMaxC: [70, null, 40] },
      // A rolled-up minute of 6 samples.
      { node: 'n1', bucketTs: t0 + 60_000, bucketMs: 60_000, uuids: ['g0'], powerSumW: [600], powerN: [6], utilSum: [3], utilN: [6], tempMaxC: [55] },
    ];
    const gpus = [{ node: 'n1', uuid: 'g0', label: 'n1/0' }, { node: 'n1', uuid: 'g1', label: 'n1/1' }];
    const power = gpuSeriesColumns(buckets, gpus, 'power', t0, t0 + 80_000, 10_000);
    expect(power.series).toEqual(['n1/0', 'n1/1']);
    expect(power.columns.slice(1)).toEqual([
      [200, 100, null, null, null, null, 100, 100],
      [200, null, null, null, null, null, null, null],
    ]);
    // 20 s steps weigh each bucket by its samples: (400 + 100) W over 3 samples.
    expect(gpuSeriesColumns(buckets, gpus, 'power', t0, t0 + 20_000, 20_000).columns[1]).toEqual([500 / 3]);
    expect(gpuSeriesColumns(buckets, gpus, 'util', t0, t0 + 20_000, 10_000).columns.slice(1)).toEqual([[0.75, 0.5], [null, null]]);
    expect(gpuSeriesColumns(buckets, gpus, 'temp', t0, t0 + 20_000, 20_000).columns.slice(1)).toEqual([[70], [null]]);
  });
  it('parses steps and refuses ones finer than the stored buckets', () => {
    expect([parseStepMs('10s', 10_000), parseStepMs('1m', 10_000), parseStepMs('3600', 10_000), parseStepMs('1h', 10_000)]).toEqual([10_000, 60_000, 3_600_000, 3_600_000]);
    expect(() => parseStepMs('5s', 10_000)).toThrow('step "5s": must be a multiple of 10s');
    expect(() => parseStepMs('soon', 10_000)).toThrow('step "soon": expected seconds or a number with s, m or h, e.g. 10s');
  });
});
