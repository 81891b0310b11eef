/**
 * Report rows, totals, factors, coverage and EED section from hand-worked numbers: constant
 * factors except a location intensity that changes at the second hour, so a sum that ignored
 * the hour would be caught. 1 kWh = 3.6e9 mJ.
 */
import { describe, expect, it } from 'vitest';
import { EnergyReportSchema } from '@stroom/protocol';
import type { FootprintFactors } from '../../src/accounting/factors.js';
import { buildEnergyReport } from '../../src/reports/build.js';
import { sliceReportHours } from '../../src/store/report-slices.js';
import type { EnergyReportData } from '../../src/store/store.js';

const H = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);
const KWH = 3.6e9;
const meta = { source: 'test', validity: { fromTs: T0, toTs: T0 + 24 * H }, quality: 'site' as const };
export const FACTORS: FootprintFactors = {
  pue: { ...meta, value: 1.5 },
  gridIntensityLocation: { ...meta, value: [{ fromTs: T0, value: 100 }, { fromTs: T0 + H, value: 300 }] },
  gridIntensityMarket: { ...meta, value: 40 },
  priceEurPerKwh: { ...meta, value: 0.25 },
  embodied: { A100: { ...meta, manufacturingKgCo2e: 150, serviceLifeYears: 6, match: ['A100'] } },
};
const A100 = 'NVIDIA A100-SXM4-40GB';
const G_PER_GPU_H = 150_000 / (6 * 8760);

export const DATA: EnergyReportData = {
  slices: sliceReportHours([
    { group: 'acc-a', hourTs: T0, gpuModel: A100, energyMj: { gpuMj: KWH, cpuMj: 0, otherMj: 0 }, gpuSeconds: 7200, utilSeconds: 3600, utilKnownSeconds: 7200, idleGpuSeconds: 1800 },
    { group: 'acc-a', hourTs: T0 + H, gpuModel: A100, energyMj: { gpuMj: 1.7 * KWH, cpuMj: 0.2 * KWH, otherMj: 0.1 * KWH }, gpuSeconds: 3600, utilSeconds: 3240, utilKnownSeconds: 3600, idleGpuSeconds: 0 },
    { group: 'acc-b', hourTs: T0, gpuModel: 'unknown', energyMj: { gpuMj: 0.5 * KWH, cpuMj: 0, otherMj: 0 }, gpuSeconds: 3600, utilSeconds: 0, utilKnownSeconds: 0, idleGpuSeconds: 0 },
  ]),
  unallocated: [{ hourTs: T0, energyMj: { gpuMj: KWH, cpuMj: 0, otherMj: 0 } }, { hourTs: T0 + H, energyMj: { gpuMj: 0, cpuMj: 0, otherMj: 0 } }],
  nodes: [
    { node: 'n1', firstSeenTs: T0 - H, measured: [{ fromTs: T0, toTs: T0 + 2 * H }] },
    { node: 'n2', firstSeenTs: T0 + H, measured: [] },
  ],
};

describe('buildEnergyReport', () => {
  const report = buildEnergyReport({
    by: 'account', fromTs: T0, toTs: T0 + 3 * H, generatedTs: T0 + 10 * H, data: DATA, factors: FACTORS,
    meter: {
      periods: [
        { fromTs: T0, toTs: T0 + 2 * H, totalFacilityKwh: 10, renewableKwh: 4, reusedKwh: 1, waterM3: 0.5, source: 'meter M1' },
        { fromTs: T0 + 2 * H, toTs: T0 + 4 * H, totalFacilityKwh: 99, renewableKwh: 0, reusedKwh: 0, waterM3: 9, source: 'meter M1' },
      ],
      ictOf: (fromTs, toTs) => {
        expect([fromTs, toTs]).toEqual([T0, T0 + 2 * H]);
        return { measuredKwh: 3.5, modelledKwh: 0.5 };
      },
    },
  });

  it('is a valid report by the protocol schema', () => {
    expect(EnergyReportSchema.parse(report)).toEqual(report);
  });

  it('applies each hour\'s factors per group and sums: hand-worked rows, largest IT energy first', () => {
    expect(report.rows.map((r) => r.group)).toEqual(['acc-a', 'acc-b']);
    const [a, b] = report.rows;
    // acc-a: 1 kWh at 100 g/kWh in hour 0, 2 kWh at 300 g/kWh in hour 1; PUE 1.5.
    expect(a?.itEnergyKwh).toBeCloseTo(3, 12);
    expect(a?.itOtherModelledKwh).toBeCloseTo(0.1, 12);
    expect(a?.facilityEnergyKwh).toBeCloseTo(4.5, 12);
    expect(a?.co2eLocationKg).toBeCloseTo((1.5 * 100 + 3 * 300) / 1000, 12);
    expect(a?.co2eMarketKg).toBeCloseTo((4.5 * 40) / 1000, 12);
    expect(a?.costEur).toBeCloseTo(4.5 * 0.25, 12);
    expect(a?.gpuHours).toBe(3);
    expect(a?.idleGpuHours).toBe(0.5);
    expect(a?.embodiedCo2eKg).toBeCloseTo((3 * G_PER_GPU_H) / 1000, 12);
    expect(a?.meanGpuUtil).toBeCloseTo(6840 / 10800, 12);
    expect(b).toMatchObject({ group: 'acc-b', gpuHours: 1, embodiedCo2eKg: 0, meanGpuUtil: null, idleGpuHours: 0 });
    expect(b?.facilityEnergyKwh).toBeCloseTo(0.75, 12);
    expect(b?.co2eLocationKg).toBeCloseTo(0.075, 12);
    expect(b?.costEur).toBeCloseTo(0.1875, 12);
  });

  it('reports unallocated energy with its footprint, and cluster = jobs + unallocated', () => {
    const { jobs, unallocated, cluster } = report.totals;
    expect(unallocated.itEnergyKwh).toBeCloseTo(1, 12);
    expect(unallocated.co2eLocationKg).toBeCloseTo(0.15, 12);
    expect(unallocated).toMatchObject({ gpuHours: 0, embodiedCo2eKg: 0, meanGpuUtil: null });
    expect(jobs.itEnergyKwh).toBeCloseTo(3.5, 12);
    expect(jobs.meanGpuUtil).toBeCloseTo(6840 / 10800, 12);
    expect(cluster.itEnergyKwh).toBeCloseTo(4.5, 12);
    expect(cluster.facilityEnergyKwh).toBeCloseTo(6.75, 12);
    expect(cluster.co2eLocationKg).toBeCloseTo(1.05 + 0.075 + 0.15, 12);
    expect(cluster.costEur).toBeCloseTo(1.6875, 12);
    expect(cluster.gpuHours).toBe(4);
  });

  it('lists every factor once, with the range of values and hours it was applied to', () => {
    expect(report.factors.map((f) => f.name)).toEqual(['embodied.A100', 'gridIntensityLocation', 'gridIntensityMarket', 'priceEurPerKwh', 'pue']);
    expect(report.factors.find((f) => f.name === 'gridIntensityLocation')).toMatchObject({ value: { min: 100, max: 300 }, appliedFromTs: T0, appliedToTs: T0 + 2 * H, outsideValidity: false, source: 'test' });
    expect(report.factors.find((f) => f.name === 'embodied.A100')?.value).toBeCloseTo(G_PER_GPU_H, 12);
  });

  it('counts coverage from each node\'s first sighting and lists the gaps', () => {
    expect(report.coverage).toMatchObject({
      nodes: 2, expectedNodeHours: 5, measuredNodeHours: 2, share: 0.4,
      gaps: [{ node: 'n1', fromTs: T0 + 2 * H, toTs: T0 + 3 * H, hours: 1 }, { node: 'n2', fromTs: T0 + H, toTs: T0 + 3 * H, hours: 2 }],
    });
  });

  it('computes the EED KPIs over the meter periods inside the period, with their inputs', () => {
    expect(report.eed?.periods.map((p) => p.fromTs)).toEqual([T0]);
    expect(report.eed?.excluded.map((p) => p.fromTs)).toEqual([T0 + 2 * H]);
    expect(report.eed?.kpis.map((k) => [k.name, k.value, k.numerator.value, k.denominator.value])).toEqual([
      ['PUE', 2.5, 10, 4], ['REF', 0.4, 4, 10], ['ERF', 0.1, 1, 10], ['WUE', 125, 500, 4],
    ]);
  });

  it('warns about gaps and GPU models without an embodied factor', () => {
    expect(report.warnings).toEqual([
      'account acc-b: no embodied factor matches GPU model "unknown": 3600 GPU-seconds are not in embodiedCo2eG',
      'data coverage is 40.00 % of node-hours: 2 gap(s) listed under coverage',
    ]);
  });

  it('has no EED section without meter data, and an empty store gives an empty report', () => {
    const empty = buildEnergyReport({ by: 'user', fromTs: T0, toTs: T0 + H, generatedTs: T0, data: { slices: [], unallocated: [], nodes: [] }, factors: FACTORS });
    expect(empty).toMatchObject({ rows: [], eed: null, factors: [], coverage: { nodes: 0, expectedNodeHours: 0, share: null, gaps: [] } });
    expect(empty.totals.cluster).toEqual({ itEnergyKwh: 0, itOtherModelledKwh: 0, facilityEnergyKwh: 0, co2eLocationKg: 0, co2eMarketKg: 0, embodiedCo2eKg: 0, costEur: 0, gpuHours: 0, idleGpuHours: 0, meanGpuUtil: null });
  });
});
