import { describe, expect, it } from 'vitest';
import { DEFAULT_FACTORS, type EmbodiedFactor, type FootprintFactors, validateFactors } from '../../src/accounting/factors.js';
import { FOOTPRINT_METHOD, footprint, type HourEnergy } from '../../src/accounting/footprint.js';
import { intervalToHourRecords } from '../../src/accounting/hourly.js';

const H = 3_600_000;
const at = (iso: string): number => Date.parse(iso);
const open = { fromTs: null, toTs: null };
const meta = { source: 'test', validity: open, quality: 'site' as const };

/** Numbers to 12 significant digits, so whole objects compare with hand-worked decimals despite binary floating point. */
function approx<T>(v: T): T {
  if (typeof v === 'number') return Number(v.toPrecision(12)) as T;
  if (Array.isArray(v)) return v.map(approx) as T;
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, approx(x)])) as T;
  return v;
}

// 438 kgCO2e over 5 years: 438 000 g / (5 x 8760 h) = 10 gCO2e per GPU-hour.
const H100: EmbodiedFactor = { ...meta, manufacturingKgCo2e: 438, serviceLifeYears: 5, match: ['H100 80GB HBM3'] };
// 131.4 kgCO2e over 3 years: 131 400 g / (3 x 8760 h) = 5 gCO2e per GPU-hour.
const A100: EmbodiedFactor = { ...meta, manufacturingKgCo2e: 131.4, serviceLifeYears: 3, match: ['A100'] };

const factors = (over: Partial<FootprintFactors> = {}): FootprintFactors =>
  validateFactors({
    pue: { ...meta, value: 1.2 },
    gridIntensityLocation: { ...meta, value: 267.6 },
    gridIntensityMarket: { ...meta, value: 10 },
    priceEurPerKwh: { ...meta, value: 0.25 },
    embodied: { 'H100 SXM': H100, A100 },
    ...over,
  });

const use = (name: string, unit: string, value: number | { min: number; max: number }, fromTs: number, toTs: number, extra = {}) => ({
  name, unit, value, source: 'test', quality: 'site', validity: open, appliedFromTs: fromTs, appliedToTs: toTs, outsideValidity: false, ...extra,
});
const H100_DERIVATION = { derivation: '438 kgCO2e x 1000 / (5 y x 8760 h/y x utilisation 1)' };

describe('footprint', () => {
  it('1000 kWh of IT energy in one hour at PUE 1.2, 267.6 g/kWh, 10 g/kWh market, 0.25 EUR/kWh, 8 H100 GPU-hours', () => {
    const T = at('2024-01-01T00:00:00Z');
    // IT: 3.6e9 J / 3.6e6 J/kWh = 1000 kWh.   Facility: 1000 kWh x 1.2 = 1200 kWh = 4.32e9 J.
    // Location: 1200 kWh x 267.6 g/kWh = 321 120 g.   Market: 1200 x 10 = 12 000 g.
    // Cost: 1200 kWh x 0.25 EUR/kWh = 300 EUR.   Embodied: 28 800 GPU-s = 8 GPU-h x 10 g = 80 g.
    const fp = footprint([{ hourTs: T, itEnergyJ: 3.6e9, gpuSeconds: 28_800, gpuModel: 'NVIDIA H100 80GB HBM3' }], factors());
    expect(approx(fp)).toEqual({
      itEnergyJ: 3.6e9,
      facilityEnergyJ: 4.32e9,
      co2eG: { location: 321_120, market: 12_000 },
      embodiedCo2eG: 80,
      costEur: 300,
      gpuHours: 8,
      factors: [
        use('pue', '1', 1.2, T, T + H),
        use('gridIntensityLocation', 'gCO2e/kWh', 267.6, T, T + H),
        use('gridIntensityMarket', 'gCO2e/kWh', 10, T, T + H),
        use('priceEurPerKwh', 'EUR/kWh', 0.25, T, T + H),
        use('embodied.H100 SXM', 'gCO2e/GPU-h', 10, T, T + H, H100_DERIVATION),
      ],
      method: FOOTPRINT_METHOD,
      warnings: [],
    });
  });

  it('splits a 4-GPU job from 10:30 to 12:15 by hour and applies each hour its own intensity and price', () => {
    const d = (hm: string): number => at(`2024-05-14T${hm}:00Z`);
    // 6.3e8 J (175 kWh) over 105 min -> 10:00 50 kWh (30 min), 11:00 100 kWh (60 min), 12:00 25 kWh (15 min).
    const records = intervalToHourRecords({ fromTs: d('10:30'), toTs: d('12:15'), itEnergyJ: 6.3e8, gpus: 4, gpuModel: 'NVIDIA H100 80GB HBM3' });
    const f = factors({
      // Grid intensity per hour: 300, 250, 200 g/kWh (the 00:00 point is superseded before the job).
      gridIntensityLocation: { ...meta, value: [[0, 999], [10, 300], [11, 250], [12, 200]].map(([h, value]) => ({ fromTs: d('00:00') + (h as number) * H, value: value as number })) },
      gridIntensityMarket: { ...meta, value: 20 },
      // Price: 0.10 from 10:00; 0.30 from 11:30, which the step rule applies from the 12:00 hour.
      priceEurPerKwh: { ...meta, value: [{ fromTs: d('10:00'), value: 0.1 }, { fromTs: d('11:00'), value: 0.2 }, { fromTs: d('11:30'), value: 0.3 }] },
    });
    // Facility at PUE 1.2: 60 + 120 + 30 = 210 kWh = 7.56e8 J.
    // Location: 60 x 300 + 120 x 250 + 30 x 200 = 18 000 + 30 000 + 6 000 = 54 000 g.
    // Market: 210 kWh x 20 g/kWh = 4 200 g.
    // Cost: 60 x 0.10 + 120 x 0.20 + 30 x 0.30 = 6 + 24 + 9 = 39 EUR.
    // Embodied: 4 GPUs x 105 min = 7 GPU-h x 10 g = 70 g.
    expect(approx(footprint(records, f))).toEqual({
      itEnergyJ: 6.3e8,
      facilityEnergyJ: 7.56e8,
      co2eG: { location: 54_000, market: 4200 },
      embodiedCo2eG: 70,
      costEur: 39,
      gpuHours: 7,
      factors: [
        use('pue', '1', 1.2, d('10:00'), d('13:00')),
        use('gridIntensityLocation', 'gCO2e/kWh', { min: 200, max: 300 }, d('10:00'), d('13:00')),
        use('gridIntensityMarket', 'gCO2e/kWh', 20, d('10:00'), d('13:00')),
        use('priceEurPerKwh', 'EUR/kWh', { min: 0.1, max: 0.3 }, d('10:00'), d('13:00')),
        use('embodied.H100 SXM', 'gCO2e/GPU-h', 10, d('10:00'), d('13:00'), H100_DERIVATION),
      ],
      method: FOOTPRINT_METHOD,
      warnings: [],
    });
  });

  it('applies a PUE series hour by hour', () => {
    const T = at('2024-02-01T00:00:00Z');
    // 1 kWh in each of two hours at PUE 1.5 then 1.1: facility 1.5 + 1.1 = 2.6 kWh = 9.36e6 J; x 267.6 = 695.76 g.
    const f = factors({ pue: { ...meta, value: [{ fromTs: T, value: 1.5 }, { fromTs: T + H, value: 1.1 }] } });
    const r = (hourTs: number): HourEnergy => ({ hourTs, itEnergyJ: 3.6e6, gpuSeconds: 0, gpuModel: '' });
    const fp = approx(footprint([r(T), r(T + H)], f));
    expect([fp.facilityEnergyJ, fp.co2eG.location, fp.factors[0]?.value]).toEqual([9.36e6, 695.76, { min: 1.1, max: 1.5 }]);
  });

  it('adds embodied carbon per GPU model and warns about GPU-seconds of a model without a factor', () => {
    const T = at('2024-03-01T12:00:00Z');
    const fp = footprint(
      [
        { hourTs: T, itEnergyJ: 0, gpuSeconds: 3600, gpuModel: 'NVIDIA H100 80GB HBM3' }, // 1 GPU-h x 10 g = 10 g
        { hourTs: T, itEnergyJ: 0, gpuSeconds: 7200, gpuModel: 'NVIDIA A100-SXM4-80GB' }, // 2 GPU-h x 5 g = 10 g
        { hourTs: T + H, itEnergyJ: 0, gpuSeconds: 1800, gpuModel: 'NVIDIA A10G' }, // no factor: not counted
      ],
      factors(),
    );
    expect(approx([fp.embodiedCo2eG, fp.gpuHours, fp.warnings, fp.factors.map((u) => [u.name, u.value])])).toEqual([
      20,
      3.5,
      ['no embodied factor matches GPU model "NVIDIA A10G": 1800 GPU-seconds are not in embodiedCo2eG'],
      [['pue', 1.2], ['gridIntensityLocation', 267.6], ['gridIntensityMarket', 10], ['priceEurPerKwh', 0.25], ['embodied.H100 SXM', 10], ['embodied.A100', 5]],
    ]);
  });

  it('uses the defaults: NL 2023 intensity, PUE 1.58, 0.15 EUR/kWh, and flags 2023 factors applied to 2025', () => {
    const T = at('2025-06-01T08:00:00Z');
    // 1000 kWh IT x 1.58 = 1580 kWh; x 267.6 = 422 808 g; market 0; x 0.15 EUR = 237 EUR.
    // Embodied: 4 GPU-h x 150 000 g / (6 x 8760 h) = 4 x 2.853 881 278 = 11.415 525 114 g.
    const fp = footprint([{ hourTs: T, itEnergyJ: 3.6e9, gpuSeconds: 14_400, gpuModel: 'NVIDIA H100 80GB HBM3' }], DEFAULT_FACTORS);
    expect(approx([fp.facilityEnergyJ, fp.co2eG, fp.costEur, fp.embodiedCo2eG])).toEqual([
      5.688e9, { location: 422_808, market: 0 }, 237, 11.4155251142,
    ]);
    expect(fp.factors.map((u) => [u.name, u.quality, u.outsideValidity, u.source.slice(0, 28)])).toEqual([
      ['pue', 'indicative', true, 'Uptime Institute Global Data'],
      ['gridIntensityLocation', 'published', true, 'Ember, via Our World in Data'],
      ['gridIntensityMarket', 'unconfigured', false, "Operator's electricity suppl"],
      ['priceEurPerKwh', 'indicative', false, 'Indicative placeholder chose'],
      ['embodied.H100 SXM', 'estimate', false, 'stroom estimate by analogy w'],
    ]);
  });

  it('flags a factor applied partly outside its validity, and reports the hours it was applied to', () => {
    const f = factors({ gridIntensityLocation: { ...meta, value: 267.6, validity: { fromTs: at('2023-01-01T00:00:00Z'), toTs: at('2024-01-01T00:00:00Z') } } });
    const r = (iso: string): HourEnergy => ({ hourTs: at(iso), itEnergyJ: 1, gpuSeconds: 0, gpuModel: '' });
    const inside = footprint([r('2023-12-31T23:00:00Z')], f).factors[1];
    const across = footprint([r('2023-12-31T23:00:00Z'), r('2024-01-01T00:00:00Z')], f).factors[1];
    expect([inside?.outsideValidity, across?.outsideValidity, across?.appliedFromTs, across?.appliedToTs]).toEqual([
      false, true, at('2023-12-31T23:00:00Z'), at('2024-01-01T01:00:00Z'),
    ]);
  });

  it('gives zeros and no factors for a job without records', () => {
    expect(footprint([], factors())).toEqual({
      itEnergyJ: 0, facilityEnergyJ: 0, co2eG: { location: 0, market: 0 }, embodiedCo2eG: 0, costEur: 0, gpuHours: 0,
      factors: [], method: FOOTPRINT_METHOD, warnings: [],
    });
  });

  it.each<[string, HourEnergy, string]>([
    ['an hour that does not start on the hour', { hourTs: at('2024-01-01T10:30:00Z'), itEnergyJ: 1, gpuSeconds: 0, gpuModel: '' }, 'records[0].hourTs 2024-01-01T10:30:00.000Z is not the start of a UTC hour'],
    ['negative energy', { hourTs: at('2024-01-01T10:00:00Z'), itEnergyJ: -1, gpuSeconds: 0, gpuModel: '' }, 'records[0].itEnergyJ -1 is negative'],
    ['NaN GPU-seconds', { hourTs: at('2024-01-01T10:00:00Z'), itEnergyJ: 1, gpuSeconds: Number.NaN, gpuModel: 'x' }, 'records[0].gpuSeconds NaN is not a finite number'],
  ])('rejects a record with %s', (_what, record, message) => {
    expect(() => footprint([record], factors())).toThrow(new Error(message));
  });

  it('refuses an hour before a series starts, naming the factor and the hour', () => {
    const f = factors({ priceEurPerKwh: { ...meta, value: [{ fromTs: at('2024-01-01T00:00:00Z'), value: 0.2 }] } });
    expect(() => footprint([{ hourTs: at('2023-12-31T23:00:00Z'), itEnergyJ: 1, gpuSeconds: 0, gpuModel: '' }], f)).toThrow(
      new RangeError('priceEurPerKwh: no value for hour 2023-12-31T23:00:00.000Z (the series starts at 2024-01-01T00:00:00.000Z)'),
    );
  });
});
