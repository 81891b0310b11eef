/** EED KPIs against hand-worked numbers, and the parts of each (formula, inputs) a report shows. */
import { describe, expect, it } from 'vitest';
import { eedKpis, eedReport } from '../../src/reports/eed.js';

const H = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);

describe('eedKpis', () => {
  it.each([
    // total facility kWh, ICT kWh, renewable kWh, reused kWh, water L -> PUE, REF, ERF, WUE (L/kWh)
    [1_200_000, 1_000_000, 600_000, 120_000, 1_800_000, 1.2, 0.5, 0.1, 1.8],
    [1_580, 1_000, 1_580, 0, 0, 1.58, 1, 0, 0],
    [500, 400, 125, 50, 200, 1.25, 0.25, 0.1, 0.5],
  ])('total %d kWh, ICT %d kWh, renewable %d, reused %d, water %d L', (total, ict, ren, reuse, water, pue, ref, erf, wue) => {
    const k = eedKpis({ totalFacilityKwh: total, ictKwh: ict, renewableKwh: ren, reusedKwh: reuse, waterL: water });
    expect(k.map((x) => x.name)).toEqual(['PUE', 'REF', 'ERF', 'WUE']);
    expect(k.map((x) => x.value)).toEqual([pue, ref, erf, wue]);
    expect(k.map((x) => x.unit)).toEqual(['1', '1', '1', 'L/kWh']);
    expect(k[0]).toMatchObject({ numerator: { value: total, unit: 'kWh' }, denominator: { value: ict, unit: 'kWh' } });
    expect(k[3]).toMatchObject({ numerator: { value: water, unit: 'L' }, denominator: { value: ict, unit: 'kWh' } });
  });

  it('gives null where the denominator is 0', () => {
    expect(eedKpis({ totalFacilityKwh: 0, ictKwh: 0, renewableKwh: 0, reusedKwh: 0, waterL: 0 }).map((k) => k.value)).toEqual([null, null, null, null]);
  });
});

describe('eedReport', () => {
  const p = (fromH: number, toH: number, total: number, waterM3: number) => ({ fromTs: T0 + fromH * H, toTs: T0 + toH * H, totalFacilityKwh: total, renewableKwh: total / 2, reusedKwh: 0, waterM3, source: 's' });
  const ict = (fromTs: number, toTs: number) => ({ measuredKwh: (toTs - fromTs) / H * 90, modelledKwh: (toTs - fromTs) / H * 10 });

  it('sums the periods inside the report, converts m3 to L, and leaves out those only partly inside', () => {
    const r = eedReport([p(0, 10, 1500, 2), p(10, 20, 1500, 1), p(20, 30, 9999, 9)], T0, T0 + 25 * H, ict);
    expect(r?.periods).toHaveLength(2);
    expect(r?.excluded).toHaveLength(1);
    expect([r?.ictMeasuredKwh, r?.ictModelledKwh]).toEqual([1800, 200]);
    // PUE 3000 / 2000; REF 1500 / 3000; WUE 3000 L / 2000 kWh.
    expect(r?.kpis.map((k) => k.value)).toEqual([1.5, 0.5, 0, 1.5]);
  });

  it('is null when no period overlaps, and has no KPI when none lies wholly inside', () => {
    expect(eedReport([p(0, 10, 1, 1)], T0 + 10 * H, T0 + 20 * H, ict)).toBeNull();
    const r = eedReport([p(0, 10, 1, 1)], T0 + 5 * H, T0 + 20 * H, ict);
    expect(r?.kpis).toEqual([]);
    expect(r?.notes.at(-1)).toBe('No meter period lies wholly inside the report period: no KPI is computed.');
  });
});
