import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EMBODIED,
  DEFAULT_FACTORS,
  DEFAULT_GRID_INTENSITY_LOCATION,
  type EmbodiedFactor,
  type FootprintFactors,
  embodiedGPerGpuHour,
  resolveEmbodied,
  validateFactors,
} from '../../src/accounting/factors.js';

const T0 = Date.UTC(2024, 0, 1);
const H = 3_600_000;
const meta = { source: 'test', validity: { fromTs: null, toTs: null }, quality: 'site' as const };
const embodied = (kg: number, years: number, utilisation?: number): EmbodiedFactor => ({
  ...meta, manufacturingKgCo2e: kg, serviceLifeYears: years, match: ['H100'], ...(utilisation === undefined ? {} : { utilisation }),
});
const valid: FootprintFactors = {
  pue: { ...meta, value: 1.2 },
  gridIntensityLocation: { ...meta, value: 267.6 },
  gridIntensityMarket: { ...meta, value: 0 },
  priceEurPerKwh: { ...meta, value: 0.25 },
  embodied: { 'H100 SXM': embodied(438, 5) },
};

describe('factors', () => {
  describe('defaults', () => {
    it('pass validation', () => {
      expect(validateFactors(DEFAULT_FACTORS)).toBe(DEFAULT_FACTORS);
    });

    it('use the Netherlands 2023 average, 267.6 gCO2e/kWh, from "Ember, via Our World in Data", valid for 2023', () => {
      expect(DEFAULT_GRID_INTENSITY_LOCATION).toMatchObject({
        value: 267.6,
        source: 'Ember, via Our World in Data',
        quality: 'published',
        validity: { fromTs: Date.UTC(2023, 0, 1), toTs: Date.UTC(2024, 0, 1) },
      });
    });

    it('label every placeholder as such', () => {
      expect(
        Object.fromEntries(
          [...Object.entries(DEFAULT_FACTORS).filter(([k]) => k !== 'embodied'), ...Object.entries(DEFAULT_EMBODIED)].map(([k, f]) => [
            k,
            [(f as { value?: unknown }).value ?? (f as EmbodiedFactor).manufacturingKgCo2e, (f as EmbodiedFactor).quality],
          ]),
        ),
      ).toEqual({
        pue: [1.58, 'indicative'],
        gridIntensityLocation: [267.6, 'published'],
        gridIntensityMarket: [0, 'unconfigured'],
        priceEurPerKwh: [0.15, 'indicative'],
        'H100 SXM': [150, 'estimate'],
        H200: [150, 'estimate'],
        A100: [150, 'estimate'],
      });
    });
  });

  describe('#embodiedGPerGpuHour', () => {
    it.each([
      // 438 kg over 5 years: 438 000 g / (5 x 8760 h) = 438 000 / 43 800 = 10 g per GPU-hour.
      ['438 kg over 5 years', embodied(438, 5), 10],
      // 87.6 kg over 1 year: 87 600 g / 8760 h = 10 g per GPU-hour.
      ['87.6 kg over 1 year', embodied(87.6, 1), 10],
      // The defaults: 150 000 g / (6 x 8760 h) = 150 000 / 52 560 = 2.853 881 278... g per GPU-hour.
      ['150 kg over 6 years (defaults)', embodied(150, 6), 2.853881278538813],
      // BLOOM's own rate with 85 % usage: 150 000 / (52 560 x 0.85 = 44 676) = 3.357 507 386... g.
      ['150 kg over 6 years at 85 % utilisation', embodied(150, 6, 0.85), 3.3575073865162504],
    ])('%s', (_name, f, gPerHour) => {
      expect(embodiedGPerGpuHour(f)).toBeCloseTo(gPerHour, 12);
    });
  });

  describe('#resolveEmbodied', () => {
    it.each([
      ['NVIDIA H100 80GB HBM3', 'H100 SXM'],
      ['NVIDIA H100 SXM5 80GB', 'H100 SXM'],
      ['NVIDIA H200', 'H200'],
      ['NVIDIA A100-SXM4-80GB', 'A100'],
      ['NVIDIA A100 80GB PCIe', 'A100'],
      ['A100', 'A100'],
      ['NVIDIA H100 PCIe', undefined], // a different product: no default
      ['NVIDIA A10G', undefined],
    ])('maps the nvidia-smi name %s to %s', (name, key) => {
      expect(resolveEmbodied(DEFAULT_EMBODIED, name)?.key).toBe(key);
    });
  });

  describe('#validateFactors', () => {
    const series = (...points: [number, number][]) => points.map(([fromTs, value]) => ({ fromTs, value }));
    it.each<[string, Partial<FootprintFactors>, string]>([
      ['a missing source', { pue: { ...meta, source: ' ', value: 1.2 } }, 'pue: source is missing (every factor must say where it comes from)'],
      ['a negative intensity', { gridIntensityLocation: { ...meta, value: -5 } }, 'gridIntensityLocation: value -5 is negative'],
      ['a PUE below 1', { pue: { ...meta, value: 0.9 } }, 'pue: value 0.9 is below 1 (PUE = facility energy / IT energy)'],
      ['a price that is not a number', { priceEurPerKwh: { ...meta, value: Number.NaN } }, 'priceEurPerKwh: value NaN is not a finite number'],
      ['an empty series', { gridIntensityMarket: { ...meta, value: [] } }, 'gridIntensityMarket.value: series is empty'],
      [
        'an unsorted series',
        { gridIntensityLocation: { ...meta, value: series([T0 + H, 300], [T0, 250]) } },
        "gridIntensityLocation.value[1]: fromTs 2024-01-01T00:00:00.000Z is not after gridIntensityLocation.value[0]'s 2024-01-01T01:00:00.000Z (points must be sorted by time, with no two at the same time)",
      ],
      [
        'an overlapping series (two points at one time)',
        { pue: { ...meta, value: series([T0, 1.2], [T0 + H, 1.3], [T0 + H, 1.25]) } },
        "pue.value[2]: fromTs 2024-01-01T01:00:00.000Z is not after pue.value[1]'s 2024-01-01T01:00:00.000Z (points must be sorted by time, with no two at the same time)",
      ],
      ['a negative series value', { priceEurPerKwh: { ...meta, value: series([T0, 0.2], [T0 + H, -0.1]) } }, 'priceEurPerKwh.value[1]: value -0.1 is negative'],
      ['a PUE series point below 1', { pue: { ...meta, value: series([T0, 0.95]) } }, 'pue.value[0]: value 0.95 is below 1 (PUE = facility energy / IT energy)'],
      ['a series time that is not whole ms', { pue: { ...meta, value: series([T0 + 0.5, 1.2]) } }, 'pue.value[0]: fromTs 1704067200000.5 is not a whole number of ms since the epoch'],
      [
        'a validity period that ends before it starts',
        { pue: { ...meta, value: 1.2, validity: { fromTs: T0, toTs: Date.UTC(2023, 0, 1) } } },
        'pue: validity.toTs 2023-01-01T00:00:00.000Z is not after validity.fromTs 2024-01-01T00:00:00.000Z',
      ],
      [
        'an unknown quality',
        { gridIntensityMarket: { ...meta, value: 0, quality: 'green' as never } },
        'gridIntensityMarket: quality "green" is not one of published, site, estimate, indicative, unconfigured',
      ],
      ['an embodied factor without source', { embodied: { 'H100 SXM': { ...embodied(150, 6), source: '' } } }, 'embodied.H100 SXM: source is missing (every factor must say where it comes from)'],
      ['negative manufacturing carbon', { embodied: { 'H100 SXM': embodied(-1, 6) } }, 'embodied.H100 SXM: manufacturingKgCo2e -1 is negative'],
      ['a zero service life', { embodied: { A100: embodied(150, 0) } }, 'embodied.A100: serviceLifeYears must be above 0'],
      ['a utilisation above 1', { embodied: { A100: embodied(150, 6, 1.5) } }, 'embodied.A100: utilisation 1.5 is not in (0, 1]'],
      ['an empty match', { embodied: { A100: { ...embodied(150, 6), match: [''] } } }, 'embodied.A100: match must be a list of non-empty GPU model name parts'],
    ])('rejects %s', (_what, change, message) => {
      expect(() => validateFactors({ ...valid, ...change })).toThrow(new Error(message));
    });

    it('accepts a valid series and open validity', () => {
      const f = { ...valid, pue: { ...meta, value: series([T0, 1.3], [T0 + H, 1.1]) } };
      expect(validateFactors(f)).toBe(f);
    });
  });
});
