/**
 * Footprint of a job from its per-hour IT energy: facility energy, location- and market-based
 * CO2e, cost, and embodied carbon (the SCI "M" term, kept apart). Pure: joules and factors in,
 * figures and the factors that made them out. No rounding: reports round when they print.
 */
import { jToKwh } from '@stroom/protocol';
import {
  EMBODIED_UNIT,
  type EmbodiedFactor,
  type FactorMeta,
  type FactorQuality,
  type FootprintFactors,
  HOURLY_FACTOR_UNITS,
  type HourlyFactor,
  type HourlyFactorName,
  HOURS_PER_YEAR,
  S_PER_HOUR,
  type Validity,
  embodiedGPerGpuHour,
  resolveEmbodied,
} from './factors.js';
import { MS_PER_HOUR, isoTs, valueForHour } from './time-series.js';

/** IT energy of a job in one UTC hour: `hourTs` (ms, start of the hour), energy in J, GPU-seconds allocated, GPU model name. */
export interface HourEnergy {
  readonly hourTs: number;
  readonly itEnergyJ: number;
  readonly gpuSeconds: number;
  readonly gpuModel: string;
}

/** One factor as a footprint used it: enough for a report to cite the number and where it came from. */
export interface FactorUse {
  /** `pue`, `gridIntensityLocation`, `gridIntensityMarket`, `priceEurPerKwh` or `embodied.<model>`. */
  readonly name: string;
  readonly unit: string;
  /** The value applied, or the range of values when a series gave different ones in different hours. */
  readonly value: number | { readonly min: number; readonly max: number };
  readonly source: string;
  readonly quality: FactorQuality;
  readonly validity: Validity;
  readonly note?: string;
  /** How an embodied per-GPU-hour value was derived from its inputs. */
  readonly derivation?: string;
  /** First and last-plus-one hour the factor was applied to, [fromTs, toTs) in ms. */
  readonly appliedFromTs: number;
  readonly appliedToTs: number;
  /** True when some hour it was applied to lies outside its validity (e.g. a 2023 average used for 2025). */
  readonly outsideValidity: boolean;
}

/** A job's footprint: energies in J, CO2e in g, cost in EUR, with the factors and method that produced them. */
export interface Footprint {
  readonly itEnergyJ: number;
  readonly facilityEnergyJ: number;
  readonly co2eG: { readonly location: number; readonly market: number };
  /** Embodied carbon of the GPU-hours used, in gCO2e; not included in `co2eG`. */
  readonly embodiedCo2eG: number;
  readonly costEur: number;
  /** GPU-hours allocated (all models, including any without an embodied factor). */
  readonly gpuHours: number;
  readonly factors: readonly FactorUse[];
  readonly method: string;
  /** Things the figures leave out, e.g. GPU-seconds of a model without an embodied factor. */
  readonly warnings: readonly string[];
}

/** The formulas, as a report states them. */
export const FOOTPRINT_METHOD =
  'Per UTC hour h of the job: facility energy E_fac(h) = E_IT(h) x PUE(h); ' +
  'location-based CO2e = E_fac(h) [kWh] x grid intensity(h) [gCO2e/kWh]; ' +
  'market-based CO2e = E_fac(h) [kWh] x supplier factor(h) [gCO2e/kWh]; ' +
  'cost = E_fac(h) [kWh] x price(h) [EUR/kWh]; each summed over the hours. ' +
  "A series factor's value for hour h is the one in force at the start of h (step function). " +
  `Embodied carbon (SCI M term, reported apart) = GPU-hours x manufacturing kgCO2e x 1000 / (service life years x ${HOURS_PER_YEAR} h x utilisation), per GPU model. ` +
  '1 kWh = 3.6e6 J. No rounding is applied.';

/** Running record of one factor's use across the hours. */
interface Tracker {
  readonly name: string;
  readonly unit: string;
  readonly meta: FactorMeta;
  readonly derivation?: string;
  min: number;
  max: number;
  fromTs: number;
  toTs: number;
  outside: boolean;
}

function track(trackers: Map<string, Tracker>, name: string, unit: string, meta: FactorMeta, value: number, hourTs: number, derivation?: string): void {
  const inside = (meta.validity.fromTs === null || hourTs >= meta.validity.fromTs) && (meta.validity.toTs === null || hourTs < meta.validity.toTs);
  const t = trackers.get(name);
  if (t === undefined) {
    trackers.set(name, {
      name, unit, meta, ...(derivation === undefined ? {} : { derivation }),
      min: value, max: value, fromTs: hourTs, toTs: hourTs + MS_PER_HOUR, outside: !inside,
    });
    return;
  }
  t.min = Math.min(t.min, value);
  t.max = Math.max(t.max, value);
  t.fromTs = Math.min(t.fromTs, hourTs);
  t.toTs = Math.max(t.toTs, hourTs + MS_PER_HOUR);
  t.outside ||= !inside;
}

function hourlyValue(name: HourlyFactorName, f: HourlyFactor, hourTs: number): number {
  if (typeof f.value === 'number') return f.value;
  const v = valueForHour(f.value, hourTs);
  if (v === undefined) {
    const first = f.value[0];
    throw new RangeError(`${name}: no value for hour ${isoTs(hourTs)} (the series starts at ${first === undefined ? 'no point' : isoTs(first.fromTs)})`);
  }
  return v;
}

function checkRecord(r: HourEnergy, i: number): void {
  const label = `records[${i}]`;
  if (!Number.isSafeInteger(r.hourTs) || r.hourTs % MS_PER_HOUR !== 0) {
    throw new Error(`${label}.hourTs ${isoTs(r.hourTs)} is not the start of a UTC hour`);
  }
  for (const key of ['itEnergyJ', 'gpuSeconds'] as const) {
    const v = r[key];
    if (!Number.isFinite(v)) throw new Error(`${label}.${key} ${v} is not a finite number`);
    if (v < 0) throw new Error(`${label}.${key} ${v} is negative`);
  }
}

function derivationOf(f: EmbodiedFactor): string {
  const u = f.utilisation ?? 1;
  return `${f.manufacturingKgCo2e} kgCO2e x 1000 / (${f.serviceLifeYears} y x ${HOURS_PER_YEAR} h/y x utilisation ${u})`;
}

/**
 * Footprint of per-hour IT energy records (see `FOOTPRINT_METHOD`). Factors should have passed
 * `validateFactors`; records are checked here and a bad one throws naming its index. A series
 * with no value for some hour throws a RangeError naming the factor and hour.
 */
export function footprint(records: readonly HourEnergy[], factors: FootprintFactors): Footprint {
  const trackers = new Map<string, Tracker>();
  const embodiedByModel = new Map<string, { key: string; factor: EmbodiedFactor; gPerHour: number } | null>();
  const unmatchedGpuSeconds = new Map<string, number>();
  let itEnergyJ = 0;
  let facilityEnergyJ = 0;
  let location = 0;
  let market = 0;
  let costEur = 0;
  let embodiedCo2eG = 0;
  let gpuSeconds = 0;

  records.forEach((r, i) => {
    checkRecord(r, i);
    const hourly = (name: HourlyFactorName): number => {
      const f = factors[name];
      const v = hourlyValue(name, f, r.hourTs);
      track(trackers, name, HOURLY_FACTOR_UNITS[name], f, v, r.hourTs);
      return v;
    };
    const facilityJ = r.itEnergyJ * hourly('pue');
    const facilityKwh = jToKwh(facilityJ);
    itEnergyJ += r.itEnergyJ;
    facilityEnergyJ += facilityJ;
    location += facilityKwh * hourly('gridIntensityLocation');
    market += facilityKwh * hourly('gridIntensityMarket');
    costEur += facilityKwh * hourly('priceEurPerKwh');

    if (r.gpuSeconds === 0) return;
    gpuSeconds += r.gpuSeconds;
    let e = embodiedByModel.get(r.gpuModel);
    if (e === undefined) {
      const found = resolveEmbodied(factors.embodied, r.gpuModel);
      e = found === undefined ? null : { ...found, gPerHour: embodiedGPerGpuHour(found.factor) };
      embodiedByModel.set(r.gpuModel, e);
    }
    if (e === null) {
      unmatchedGpuSeconds.set(r.gpuModel, (unmatchedGpuSeconds.get(r.gpuModel) ?? 0) + r.gpuSeconds);
      return;
    }
    embodiedCo2eG += (r.gpuSeconds / S_PER_HOUR) * e.gPerHour;
    track(trackers, `embodied.${e.key}`, EMBODIED_UNIT, e.factor, e.gPerHour, r.hourTs, derivationOf(e.factor));
  });

  const factorUses: FactorUse[] = [...trackers.values()].map((t) => ({
    name: t.name,
    unit: t.unit,
    value: t.min === t.max ? t.min : { min: t.min, max: t.max },
    source: t.meta.source,
    quality: t.meta.quality,
    validity: t.meta.validity,
    ...(t.meta.note === undefined ? {} : { note: t.meta.note }),
    ...(t.derivation === undefined ? {} : { derivation: t.derivation }),
    appliedFromTs: t.fromTs,
    appliedToTs: t.toTs,
    outsideValidity: t.outside,
  }));
  const warnings = [...unmatchedGpuSeconds].map(
    ([model, s]) => `no embodied factor matches GPU model "${model}": ${s} GPU-seconds are not in embodiedCo2eG`,
  );
  return {
    itEnergyJ,
    facilityEnergyJ,
    co2eG: { location, market },
    embodiedCo2eG,
    costEur,
    gpuHours: gpuSeconds / S_PER_HOUR,
    factors: factorUses,
    method: FOOTPRINT_METHOD,
    warnings,
  };
}
