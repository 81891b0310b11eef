/**
 * Step time series for footprint factors (PUE, grid intensity, price). A point's value holds
 * from its `fromTs` until the next point's; everything is UTC, so daylight-saving changes in the
 * site's zone never create or drop an hour here.
 */

/** One step of a series: `value` (in the factor's unit) holds from `fromTs` (ms since the epoch, UTC) until the next point. */
export interface SeriesPoint {
  readonly fromTs: number;
  readonly value: number;
}

/** Milliseconds in one hour; footprint buckets are whole UTC hours. */
export const MS_PER_HOUR = 3_600_000;

/** Start (ms since the epoch) of the UTC hour that contains `ts` (ms). */
export function hourStartMs(ts: number): number {
  return Math.floor(ts / MS_PER_HOUR) * MS_PER_HOUR;
}

/** ISO 8601 UTC text of a timestamp in ms, for error messages and reports. */
export function isoTs(ts: number): string {
  return Number.isFinite(ts) && Math.abs(ts) <= 8.64e15 ? new Date(ts).toISOString() : String(ts);
}

/**
 * Throws unless every point has a finite integer `fromTs` strictly after the previous one. Two
 * points at one time would make the value there ambiguous, which is what "overlapping" means for
 * a step series. `checkValue` validates each value (its unit's rules) with the point's label.
 */
export function validateSeries(
  key: string,
  points: readonly SeriesPoint[],
  checkValue: (label: string, value: number) => void,
): void {
  if (points.length === 0) throw new Error(`${key}: series is empty`);
  points.forEach((p, i) => {
    const label = `${key}[${i}]`;
    if (!Number.isSafeInteger(p.fromTs)) throw new Error(`${label}: fromTs ${p.fromTs} is not a whole number of ms since the epoch`);
    checkValue(label, p.value);
    const prev = points[i - 1];
    if (prev !== undefined && p.fromTs <= prev.fromTs) {
      throw new Error(
        `${label}: fromTs ${isoTs(p.fromTs)} is not after ${key}[${i - 1}]'s ${isoTs(prev.fromTs)} ` +
          '(points must be sorted by time, with no two at the same time)',
      );
    }
  });
}

/** Value (the series' unit) in force at `ts` (ms): the last point with `fromTs <= ts`; undefined before the first point. */
export function valueAt(points: readonly SeriesPoint[], ts: number): number | undefined {
  // Binary search: job footprints look up every hour of a job in series of a year or more.
  let lo = 0;
  let hi = points.length - 1;
  let found: SeriesPoint | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = points[mid] as SeriesPoint;
    if (p.fromTs <= ts) {
      found = p;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found?.value;
}

/**
 * Value (the series' unit) for the UTC hour containing `ts` (ms): the one in force at the hour's
 * start. A point placed mid-hour therefore takes effect from the next hour, so one hour never
 * mixes two values and a report can name the value each hour used.
 */
export function valueForHour(points: readonly SeriesPoint[], ts: number): number | undefined {
  return valueAt(points, hourStartMs(ts));
}
