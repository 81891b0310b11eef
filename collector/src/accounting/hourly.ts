/**
 * Splitting interval totals into UTC hour buckets, for callers that know only how much energy a
 * job used between two times. Shares are proportional to the time spent in each hour: without
 * finer data, constant power over the interval is the only assumption that adds nothing.
 */
import type { HourEnergy } from './footprint.js';
import { MS_PER_HOUR, hourStartMs, isoTs } from './time-series.js';

/** Part of an amount that falls in one UTC hour: `amount` in the caller's unit, `overlapMs` of the interval inside that hour. */
export interface HourShare {
  readonly hourTs: number;
  readonly amount: number;
  readonly overlapMs: number;
}

/**
 * Splits `amount` (any unit, e.g. J) over [fromTs, toTs) (ms) into UTC hours in proportion to
 * time, at full precision. An empty interval puts a non-zero amount in the hour of `fromTs`.
 */
export function splitByHour(amount: number, fromTs: number, toTs: number): HourShare[] {
  if (!Number.isFinite(amount)) throw new Error(`splitByHour: amount ${amount} is not a finite number`);
  if (!Number.isFinite(fromTs) || !Number.isFinite(toTs)) throw new Error(`splitByHour: interval [${fromTs}, ${toTs}) is not finite`);
  if (toTs < fromTs) throw new Error(`splitByHour: toTs ${isoTs(toTs)} is before fromTs ${isoTs(fromTs)}`);
  const durationMs = toTs - fromTs;
  if (durationMs === 0) return amount === 0 ? [] : [{ hourTs: hourStartMs(fromTs), amount, overlapMs: 0 }];
  const out: HourShare[] = [];
  for (let h = hourStartMs(fromTs); h < toTs; h += MS_PER_HOUR) {
    const overlapMs = Math.min(toTs, h + MS_PER_HOUR) - Math.max(fromTs, h);
    // Multiply before dividing: whole-number inputs then split exactly when the shares are whole.
    out.push({ hourTs: h, amount: (amount * overlapMs) / durationMs, overlapMs });
  }
  return out;
}

/** A job's use over one interval: IT energy in J, the number of GPUs it held, and their model name. */
export interface IntervalUse {
  readonly fromTs: number;
  readonly toTs: number;
  readonly itEnergyJ: number;
  readonly gpus: number;
  readonly gpuModel: string;
}

/** Per-hour footprint records for one interval: energy split in proportion to time, GPU-seconds = GPUs × seconds in each hour. */
export function intervalToHourRecords(use: IntervalUse): HourEnergy[] {
  if (!Number.isFinite(use.gpus) || use.gpus < 0) throw new Error(`intervalToHourRecords: gpus ${use.gpus} is not a non-negative number`);
  return splitByHour(use.itEnergyJ, use.fromTs, use.toTs).map((s) => ({
    hourTs: s.hourTs,
    itEnergyJ: s.amount,
    gpuSeconds: (use.gpus * s.overlapMs) / 1000,
    gpuModel: use.gpuModel,
  }));
}
