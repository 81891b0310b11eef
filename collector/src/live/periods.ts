/**
 * The cluster's energy, CO2e and cost today and this month, for the operator overview. The
 * books keep cluster energy per UTC hour, so a period is a list of hours, each priced by the
 * factors of its own hour (as a job's footprint is). Hours that ended more than two hours ago
 * are cached: late batches land within seconds, and the month would otherwise cost up to
 * 744 queries a second.
 */
import type { LiveFactor, LivePeriod } from '@stroom/protocol';
import { mjToJ } from '@stroom/protocol';
import { footprint } from '../accounting/footprint.js';
import type { HourEnergy } from '../accounting/footprint.js';
import { HOURLY_FACTOR_UNITS } from '../accounting/factors.js';
import type { FootprintFactors, HourlyFactorName } from '../accounting/factors.js';
import { MS_PER_HOUR, hourStartMs, valueForHour } from '../accounting/time-series.js';
import type { Store } from '../store/store.js';
import { startOfDayMs } from '../time/day.js';

const SETTLED_MS = 2 * MS_PER_HOUR;
const DAY_MS = 86_400_000;

const dayOfMonth = new Map<string, Intl.DateTimeFormat>();

/** The instant of local midnight on the first day of the month in `timeZone` at `ts`. */
export function startOfMonthMs(ts: number, timeZone: string): number {
  let f = dayOfMonth.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric' });
    dayOfMonth.set(timeZone, f);
  }
  const day = Number(f.format(new Date(ts)));
  // Noon of the first day is never near a DST switch; its midnight is the month's start.
  const today = startOfDayMs(ts, timeZone);
  return startOfDayMs(today - (day - 1) * DAY_MS + 12 * MS_PER_HOUR, timeZone);
}

/** Cluster footprint over periods, from the store's hourly cluster energy. */
export class PeriodFootprints {
  readonly #store: Store;
  readonly #factors: FootprintFactors;
  readonly #timeZone: string;
  /** Settled hours' energy, mJ, by hour start. */
  readonly #settled = new Map<number, number>();

  constructor(store: Store, factors: FootprintFactors, timeZone: string) {
    this.#store = store;
    this.#factors = factors;
    this.#timeZone = timeZone;
  }

  /** Today (since local midnight) and this month (since local midnight on the 1st) at `ts`. */
  periods(ts: number): { today: LivePeriod; month: LivePeriod } {
    const dayFrom = startOfDayMs(ts, this.#timeZone);
    const monthFrom = startOfMonthMs(ts, this.#timeZone);
    const hours = this.#hours(monthFrom, ts);
    return { today: this.#period(dayFrom, hours.filter((h) => h.hourTs >= hourStartMs(dayFrom))), month: this.#period(monthFrom, hours) };
  }

  /** PUE, carbon intensities and price in force in the hour of `ts`. */
  factorsNow(ts: number): LiveFactor[] {
    const out: LiveFactor[] = [];
    for (const name of ['pue', 'gridIntensityLocation', 'gridIntensityMarket', 'priceEurPerKwh'] as const satisfies readonly HourlyFactorName[]) {
      const f = this.#factors[name];
      const value = typeof f.value === 'number' ? f.value : valueForHour(f.value, ts);
      if (value === undefined) continue;
      out.push({ name, unit: HOURLY_FACTOR_UNITS[name], value, source: f.source, quality: f.quality });
    }
    return out;
  }

  #hours(fromTs: number, toTs: number): HourEnergy[] {
    const out: HourEnergy[] = [];
    for (let h = hourStartMs(fromTs); h <= toTs; h += MS_PER_HOUR) {
      let mj = this.#settled.get(h);
      if (mj === undefined) {
        mj = this.#store.clusterEnergyMj(h, h + MS_PER_HOUR);
        if (h + MS_PER_HOUR < toTs - SETTLED_MS) this.#settled.set(h, mj);
      }
      if (mj > 0) out.push({ hourTs: h, itEnergyJ: mjToJ(mj), gpuSeconds: 0, gpuModel: '' });
    }
    // Keep the cache to about two months.
    for (const h of this.#settled.keys()) if (h < fromTs - 40 * DAY_MS) this.#settled.delete(h);
    return out;
  }

  #period(fromTs: number, hours: HourEnergy[]): LivePeriod {
    let energyJ = 0;
    for (const h of hours) energyJ += h.itEnergyJ;
    try {
      const f = footprint(hours, this.#factors);
      return { fromTs, energyJ, footprint: { facilityEnergyJ: f.facilityEnergyJ, co2eG: { ...f.co2eG }, costEur: f.costEur } };
    } catch (err) {
      return { fromTs, energyJ, footprint: null, note: (err as Error).message };
    }
  }
}
