import { describe, expect, it } from 'vitest';
import { CAR_G_CO2_PER_KM, appendNamed, carEquivalent, energySplit, fromApiSeries, isPerGpu } from '../src/job-model.js';

describe('job page model', () => {
  it('turns CO2e into km of an average new European car, citing the source', () => {
    expect(CAR_G_CO2_PER_KM).toBe(106.6);
    expect(carEquivalent(10_660).text).toBe('≈ 100 km driven by an average new car registered in Europe in 2023');
    expect(carEquivalent(10_660).source).toMatch(/European Environment Agency/);
  });
  it('labels the modelled part of the split', () => {
    const s = energySplit({ total: 10, gpu: 6, cpu: 3, other: 1 });
    expect(s.map((x) => x.share)).toEqual([0.6, 0.3, 0.1]);
    expect(s[2]?.label).toMatch(/modelled, not measured/);
  });
  it('reads per-GPU series and appends live points, new names as new columns', () => {
    const body = { series: ['total', 'n1/0', 'n1/1'], columns: [[10, 20], [5, 6], [1, 2], [3, 4]] };
    expect(isPerGpu(body)).toBe(true);
    expect(isPerGpu({ series: ['total', 'n1'] })).toBe(false);
    const c = fromApiSeries(body, false);
    expect(c.names).toEqual(['n1/0', 'n1/1']);
    appendNamed(c, 25, new Map([['n1/1', 9], ['n2/0', 7]]));
    expect(c.names).toEqual(['n1/0', 'n1/1', 'n2/0']);
    expect(c.columns).toEqual([[10, 20, 25], [1, 2, null], [3, 4, 9], [null, null, 7]]);
    appendNamed(c, 25, new Map([['n1/0', 1]]));
    expect(c.columns[0]).toEqual([10, 20, 25]);
  });
});
