/**
 * Footprint factors: what turns measured IT joules into facility energy, CO2e, euros and embodied
 * carbon. Each factor carries a source, a validity period and a quality label, so every figure
 * stroom reports can be traced back to where its numbers came from. collector/data/README.md
 * explains each default.
 */
import { type SeriesPoint, isoTs, validateSeries } from './time-series.js';

/**
 * How much a factor can be trusted. `published`: a published statistic used as is; `site`:
 * measured or contracted by the operator; `estimate`: derived by stated reasoning;
 * `indicative`: a placeholder of the right order of magnitude; `unconfigured`: a placeholder that
 * the operator must replace.
 */
export type FactorQuality = 'published' | 'site' | 'estimate' | 'indicative' | 'unconfigured';

/** Every quality label, for validation and documentation. */
export const FACTOR_QUALITIES: readonly FactorQuality[] = ['published', 'site', 'estimate', 'indicative', 'unconfigured'];

/** Period a factor describes, [fromTs, toTs) in ms since the epoch (UTC); null is unbounded. */
export interface Validity {
  readonly fromTs: number | null;
  readonly toTs: number | null;
}

/** Provenance that every factor carries. */
export interface FactorMeta {
  /** Who published the value, or who must supply it; never empty. */
  readonly source: string;
  readonly validity: Validity;
  readonly quality: FactorQuality;
  /** What the value means and its caveats, in one or two sentences. */
  readonly note?: string;
}

/** A factor applied per UTC hour: a constant, or a step series (see time-series.ts), in the factor's unit. */
export interface HourlyFactor extends FactorMeta {
  readonly value: number | readonly SeriesPoint[];
}

/** Embodied (manufacturing) carbon of one GPU model, amortised over its service life (the SCI "M" term). */
export interface EmbodiedFactor extends FactorMeta {
  /** Cradle-to-gate emissions of one GPU, in kgCO2e. */
  readonly manufacturingKgCo2e: number;
  /** Years the GPU is expected to stay in service. */
  readonly serviceLifeYears: number;
  /**
   * Expected share (0..1] of its service life the GPU is allocated to jobs; default 1. Below 1,
   * jobs also carry the embodied carbon of idle time (as the BLOOM estimate did with 0.85).
   */
  readonly utilisation?: number;
  /** Case-insensitive substrings of the GPU model name (as nvidia-smi prints it) that select this factor. */
  readonly match: readonly string[];
}

/** All factors a footprint uses. */
export interface FootprintFactors {
  /** Power usage effectiveness, facility energy / IT energy (unit 1, at least 1). */
  readonly pue: HourlyFactor;
  /** Location-based grid carbon intensity, gCO2e/kWh. */
  readonly gridIntensityLocation: HourlyFactor;
  /** Market-based carbon intensity from the supplier contract, gCO2e/kWh. */
  readonly gridIntensityMarket: HourlyFactor;
  /** Electricity price, EUR/kWh. */
  readonly priceEurPerKwh: HourlyFactor;
  /** Embodied carbon per GPU model, keyed by a short model name such as "H100 SXM". */
  readonly embodied: Readonly<Record<string, EmbodiedFactor>>;
}

/** Name of an hourly factor in `FootprintFactors`. */
export type HourlyFactorName = 'pue' | 'gridIntensityLocation' | 'gridIntensityMarket' | 'priceEurPerKwh';

/** Unit of each hourly factor, as reports print it. */
export const HOURLY_FACTOR_UNITS: Readonly<Record<HourlyFactorName, string>> = {
  pue: '1',
  gridIntensityLocation: 'gCO2e/kWh',
  gridIntensityMarket: 'gCO2e/kWh',
  priceEurPerKwh: 'EUR/kWh',
};

/** Unit of an amortised embodied factor. */
export const EMBODIED_UNIT = 'gCO2e/GPU-h';

// Local conversions: protocol/src/units.ts holds the shared ones but has no mass or calendar units
// yet, and this module may not change it. A 365-day year, as in common practice (BLOOM estimate);
// leap days would change the result by 0.07 %.
/** Hours in a (365-day) year, for amortising embodied carbon. */
export const HOURS_PER_YEAR = 8760;
/** Grams in a kilogram. */
export const G_PER_KG = 1000;
/** Seconds in an hour. */
export const S_PER_HOUR = 3600;

/** Embodied carbon of one GPU-hour, in gCO2e: kgCO2e × 1000 / (service life years × 8760 h × utilisation). */
export function embodiedGPerGpuHour(f: EmbodiedFactor): number {
  return (f.manufacturingKgCo2e * G_PER_KG) / (f.serviceLifeYears * HOURS_PER_YEAR * (f.utilisation ?? 1));
}

/** The embodied factor (and its key) for a GPU model name: an exact key, else the first whose `match` occurs in the name. */
export function resolveEmbodied(
  embodied: Readonly<Record<string, EmbodiedFactor>>,
  gpuModel: string,
): { key: string; factor: EmbodiedFactor } | undefined {
  const exact = Object.hasOwn(embodied, gpuModel) ? embodied[gpuModel] : undefined;
  if (exact !== undefined) return { key: gpuModel, factor: exact };
  const name = gpuModel.toLowerCase();
  for (const [key, factor] of Object.entries(embodied)) {
    if (factor.match.some((m) => name.includes(m.toLowerCase()))) return { key, factor };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Defaults. Each says where it comes from; see collector/data/README.md for the reasoning.

const YEAR_2023: Validity = Object.freeze({ fromTs: Date.UTC(2023, 0, 1), toTs: Date.UTC(2024, 0, 1) });
const UNBOUNDED: Validity = Object.freeze({ fromTs: null, toTs: null });

/** Default PUE: 1.58, the 2023 industry average, until the site configures its own. */
export const DEFAULT_PUE: HourlyFactor = Object.freeze({
  value: 1.58,
  source: 'Uptime Institute Global Data Center Survey 2023: industry-average annual PUE 1.58',
  validity: YEAR_2023,
  quality: 'indicative',
  note: "An industry average over many data centres, not this site's; configure the site's measured PUE (constant or series).",
});

/** Default location-based intensity: the Netherlands' 2023 average, 267.6 gCO2e/kWh (Ember, via Our World in Data). */
export const DEFAULT_GRID_INTENSITY_LOCATION: HourlyFactor = Object.freeze({
  value: 267.6,
  source: 'Ember, via Our World in Data',
  validity: YEAR_2023,
  quality: 'published',
  note:
    'The Netherlands, 2023 annual average carbon intensity of electricity generation, gCO2e/kWh. ' +
    'An annual average does not follow the hourly mix; load an hourly series for hour-resolved figures.',
});

/** Default market-based intensity: 0 gCO2e/kWh, a placeholder until the supplier contract's figure is configured. */
export const DEFAULT_GRID_INTENSITY_MARKET: HourlyFactor = Object.freeze({
  value: 0,
  source:
    "Operator's electricity supplier contract (SURF buys green electricity); must be configured with the " +
    "supplier's disclosed gCO2e/kWh",
  validity: UNBOUNDED,
  quality: 'unconfigured',
  note:
    '0 assumes guarantees of origin cover all consumption; until configured, market-based figures are a placeholder, ' +
    'not a claim.',
});

/** Default price: 0.15 EUR/kWh, an indicative placeholder, not a published Dutch or contract price. */
export const DEFAULT_PRICE_EUR_PER_KWH: HourlyFactor = Object.freeze({
  value: 0.15,
  source:
    'Indicative placeholder chosen by stroom, within the range of Eurostat non-household electricity prices ' +
    '(EU, second half of 2023: EUR 0.089-0.276/kWh; dataset nrg_pc_205); configure the contract price',
  validity: UNBOUNDED,
  quality: 'indicative',
  note: 'Not a price anyone pays: replace it with the contract price (constant) or an hourly price series.',
});

const BLOOM =
  "Luccioni, Viguier & Ligozat, 'Estimating the Carbon Footprint of BLOOM, a 176B Parameter Language Model', " +
  'JMLR 24(253), 2023 (arXiv:2211.02001)';

/** Default embodied factors for H100 SXM, H200 and A100: 150 kgCO2e each over 6 years (estimates; see the data README). */
export const DEFAULT_EMBODIED: Readonly<Record<string, EmbodiedFactor>> = Object.freeze({
  'H100 SXM': Object.freeze({
    manufacturingKgCo2e: 150,
    serviceLifeYears: 6,
    match: Object.freeze(['H100 80GB HBM3', 'H100 SXM']),
    source: `stroom estimate by analogy with the A100 figure (150 kgCO2e per GPU) of ${BLOOM}`,
    validity: UNBOUNDED,
    quality: 'estimate',
    note:
      'No per-GPU life-cycle assessment of the H100 was found. GH100 (814 mm2) and GA100 (826 mm2) dies are the same ' +
      'size class on the same kind of SXM module with 5 active HBM stacks; the newer 4N process likely makes this low. ' +
      'Service life: the 6-year replacement period that estimate assumed.',
  }),
  H200: Object.freeze({
    manufacturingKgCo2e: 150,
    serviceLifeYears: 6,
    match: Object.freeze(['H200']),
    source: `stroom estimate by analogy with the A100 figure (150 kgCO2e per GPU) of ${BLOOM}`,
    validity: UNBOUNDED,
    quality: 'estimate',
    note:
      'Same GH100 die and SXM module as the H100; its 141 GB of HBM3e (6 stacks, against 80 GB) is not modelled, ' +
      'so this is likely low. Service life: the 6-year replacement period that estimate assumed.',
  }),
  A100: Object.freeze({
    manufacturingKgCo2e: 150,
    serviceLifeYears: 6,
    match: Object.freeze(['A100']),
    source: `${BLOOM}: 150 kgCO2e per A100 GPU, replaced after 6 years`,
    validity: UNBOUNDED,
    quality: 'estimate',
    note:
      'An estimate, not a manufacturer LCA; published figures for one A100 range from about 26 kg (die and packaging ' +
      'only) to 318 kg (with 1/8 of its server). The host server is not included here.',
  }),
});

/** The defaults together: NL 2023 intensity, placeholder PUE, market factor and price, embodied estimates. */
export const DEFAULT_FACTORS: FootprintFactors = Object.freeze({
  pue: DEFAULT_PUE,
  gridIntensityLocation: DEFAULT_GRID_INTENSITY_LOCATION,
  gridIntensityMarket: DEFAULT_GRID_INTENSITY_MARKET,
  priceEurPerKwh: DEFAULT_PRICE_EUR_PER_KWH,
  embodied: DEFAULT_EMBODIED,
});

// ---------------------------------------------------------------------------------------------
// Validation: a factor that cannot be traced or is impossible fails loudly, naming its key.

function checkNumber(label: string, value: unknown, what = 'value'): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${label}: ${what} ${String(value)} is not a finite number`);
  if (value < 0) throw new Error(`${label}: ${what} ${value} is negative`);
  return value;
}

function checkMeta(key: string, m: FactorMeta): void {
  if (typeof m.source !== 'string' || m.source.trim() === '') {
    throw new Error(`${key}: source is missing (every factor must say where it comes from)`);
  }
  if (!FACTOR_QUALITIES.includes(m.quality)) {
    throw new Error(`${key}: quality "${String(m.quality)}" is not one of ${FACTOR_QUALITIES.join(', ')}`);
  }
  const v = m.validity as Validity | undefined;
  if (v === undefined || v === null) throw new Error(`${key}: validity is missing (use null bounds for "unbounded")`);
  for (const bound of ['fromTs', 'toTs'] as const) {
    const ts = v[bound];
    if (ts !== null && !Number.isSafeInteger(ts)) throw new Error(`${key}: validity.${bound} ${String(ts)} is not a whole number of ms or null`);
  }
  if (v.fromTs !== null && v.toTs !== null && v.toTs <= v.fromTs) {
    throw new Error(`${key}: validity.toTs ${isoTs(v.toTs)} is not after validity.fromTs ${isoTs(v.fromTs)}`);
  }
}

function checkHourly(key: HourlyFactorName, f: HourlyFactor): void {
  checkMeta(key, f);
  const check = (label: string, value: number): void => {
    checkNumber(label, value);
    // Facility energy includes the IT energy, so a PUE below 1 is a configuration error.
    if (key === 'pue' && value < 1) throw new Error(`${label}: value ${value} is below 1 (PUE = facility energy / IT energy)`);
  };
  if (typeof f.value === 'number') check(key, f.value);
  else if (Array.isArray(f.value)) validateSeries(`${key}.value`, f.value, check);
  else throw new Error(`${key}: value must be a number or a series of { fromTs, value } points`);
}

function checkEmbodied(key: string, f: EmbodiedFactor): void {
  checkMeta(key, f);
  checkNumber(key, f.manufacturingKgCo2e, 'manufacturingKgCo2e');
  if (checkNumber(key, f.serviceLifeYears, 'serviceLifeYears') === 0) throw new Error(`${key}: serviceLifeYears must be above 0`);
  if (f.utilisation !== undefined) {
    const u = checkNumber(key, f.utilisation, 'utilisation');
    if (u === 0 || u > 1) throw new Error(`${key}: utilisation ${u} is not in (0, 1]`);
  }
  if (!Array.isArray(f.match) || f.match.some((m) => typeof m !== 'string' || m.trim() === '')) {
    throw new Error(`${key}: match must be a list of non-empty GPU model name parts`);
  }
}

/** Throws an Error naming the key and the fault of the first invalid factor; returns `f` unchanged when all are valid. */
export function validateFactors(f: FootprintFactors): FootprintFactors {
  for (const key of Object.keys(HOURLY_FACTOR_UNITS) as HourlyFactorName[]) {
    const factor = f[key] as HourlyFactor | undefined;
    if (factor === undefined) throw new Error(`${key}: factor is missing`);
    checkHourly(key, factor);
  }
  for (const [model, factor] of Object.entries(f.embodied)) checkEmbodied(`embodied.${model}`, factor);
  return f;
}
