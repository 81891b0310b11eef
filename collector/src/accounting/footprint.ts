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

/** Running sums of a footprint: J, g, EUR, GPU-seconds, and GPU-seconds per model without an embodied factor. */
export interface FootprintSums {
  itEnergyJ: number;
  facilityEnergyJ: number;
  locationG: number;
  marketG: number;
  embodiedCo2eG: number;
  costEur: number;
  gpuSeconds: number;
  readonly unmatchedGpuSeconds: Map<string, number>;
}

export function emptyFootprintSums(): FootprintSums {
  return { itEnergyJ: 0, facilityEnergyJ: 0, locationG: 0, marketG: 0, embodiedCo2eG: 0, costEur: 0, gpuSeconds: 0, unmatchedGpuSeconds: new Map() };
}

/** The four hourly factors' values in one hour. */
interface HourFactors {
  readonly pue: number;
  readonly location: number;
  readonly market: number;
  readonly price: number;
}

/**
 * Footprints of many records over one set of factors (a report's groups): each hour's factor
 * values are looked up, and tracked for the factor list, once per table rather than per record,
 * and the factor uses come out merged over everything added. A footprint of a year by 200
 * accounts is 1.7M records over 8,760 hours.
 */
export class FootprintTable {
  readonly #factors: FootprintFactors;
  readonly #trackers = new Map<string, Tracker>();
  readonly #hours = new Map<number, HourFactors>();
  readonly #embodied = new Map<string, { key: string; factor: EmbodiedFactor; gPerHour: number; hours: Set<number> } | null>();

  constructor(factors: FootprintFactors) {
    this.#factors = factors;
  }

  #hour(hourTs: number): HourFactors {
    let h = this.#hours.get(hourTs);
    if (h === undefined) {
      const value = (name: HourlyFactorName): number => {
        const f = this.#factors[name];
        const v = hourlyValue(name, f, hourTs);
        track(this.#trackers, name, HOURLY_FACTOR_UNITS[name], f, v, hourTs);
        return v;
      };
      h = { pue: value('pue'), location: value('gridIntensityLocation'), market: value('gridIntensityMarket'), price: value('priceEurPerKwh') };
      this.#hours.set(hourTs, h);
    }
    return h;
  }

  /** Add one record (`index` names it in an error) to `sums`. */
  add(sums: FootprintSums, r: HourEnergy, index: number): void {
    checkRecord(r, index);
    const h = this.#hour(r.hourTs);
    const facilityJ = r.itEnergyJ * h.pue;
    const facilityKwh = jToKwh(facilityJ);
    sums.itEnergyJ += r.itEnergyJ;
    sums.facilityEnergyJ += facilityJ;
    sums.locationG += facilityKwh * h.location;
    sums.marketG += facilityKwh * h.market;
    sums.costEur += facilityKwh * h.price;

    if (r.gpuSeconds === 0) return;
    sums.gpuSeconds += r.gpuSeconds;
    let e = this.#embodied.get(r.gpuModel);
    if (e === undefined) {
      const found = resolveEmbodied(this.#factors.embodied, r.gpuModel);
      e = found === undefined ? null : { ...found, gPerHour: embodiedGPerGpuHour(found.factor), hours: new Set() };
      this.#embodied.set(r.gpuModel, e);
    }
    if (e === null) {
      sums.unmatchedGpuSeconds.set(r.gpuModel, (sums.unmatchedGpuSeconds.get(r.gpuModel) ?? 0) + r.gpuSeconds);
      return;
    }
    sums.embodiedCo2eG += (r.gpuSeconds / S_PER_HOUR) * e.gPerHour;
    if (!e.hours.has(r.hourTs)) {
      e.hours.add(r.hourTs);
      track(this.#trackers, `embodied.${e.key}`, EMBODIED_UNIT, e.factor, e.gPerHour, r.hourTs, derivationOf(e.factor));
    }
  }

  /** Every factor applied so far, in the order first applied. */
  factorUses(): FactorUse[] {
    return [...this.#trackers.values()].map((t) => ({
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
  }
}

/** What a footprint leaves out: GPU-seconds of models without an embodied factor. */
export function unmatchedWarnings(sums: FootprintSums): string[] {
  return [...sums.unmatchedGpuSeconds].map(
    ([model, s]) => `no embodied factor matches GPU model "${model}": ${s} GPU-seconds are not in embodiedCo2eG`,
  );
}

/**
 * Footprint of per-hour IT energy records (see `FOOTPRINT_METHOD`). Factors should have passed
 * `validateFactors`; records are checked here and a bad one throws naming its index. A series
 * with no value for some hour throws a RangeError naming the factor and hour.
 */
export function footprint(records: readonly HourEnergy[], factors: FootprintFactors): Footprint {
  const table = new FootprintTable(factors);
  const sums = emptyFootprintSums();
  records.forEach((r, i) => table.add(sums, r, i));
  return {
    itEnergyJ: sums.itEnergyJ,
    facilityEnergyJ: sums.facilityEnergyJ,
    co2eG: { location: sums.locationG, market: sums.marketG },
    embodiedCo2eG: sums.embodiedCo2eG,
    costEur: sums.costEur,
    gpuHours: sums.gpuSeconds / S_PER_HOUR,
    factors: table.factorUses(),
    method: FOOTPRINT_METHOD,
    warnings: unmatchedWarnings(sums),
  };
}
