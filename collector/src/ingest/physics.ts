/**
 * Values outside physics are refused field by field, with a reason, and the rest of the batch
 * is kept: a GPU reporting negative power, power above twice its limit, a temperature no
 * silicon survives, or a timestamp from the future should not cost the node its other
 * readings, and must never reach the books.
 */
import type { Batch, GpuInfo, Sample } from '@stroom/protocol';

/** One refused value: the field's path in the batch and why. */
export interface Rejection {
  readonly field: string;
  readonly reason: string;
}

/** Largest clock lead of an agent over the collector that is accepted, ms. */
export const MAX_FUTURE_MS = 5 * 60_000;
/** Power above this multiple of a GPU's limit is refused. */
export const MAX_POWER_OVER_LIMIT = 2;
const MIN_TEMP_C = -50;
const MAX_TEMP_C = 150;

/** Check every gauge of `batch`; returns the batch without the refused values, and why each went. */
export function checkPhysics(batch: Batch, gpus: ReadonlyMap<string, GpuInfo>, nowMs: number): { batch: Batch; rejections: Rejection[] } {
  const rejections: Rejection[] = [];
  const samples: Sample[] = [];
  batch.samples.forEach((sample, si) => {
    if (sample.ts > nowMs + MAX_FUTURE_MS) {
      rejections.push({ field: `samples[${si}].ts`, reason: `${new Date(sample.ts).toISOString()} is more than 5 min ahead of the collector's clock` });
      return;
    }
    const gpusOut = sample.gpus.map((g, gi) => {
      const at = `samples[${si}].gpus[${gi}]`;
      const before = rejections.length;
      // Work on a copy, but hand back the original when nothing was refused: this runs for
      // every GPU of every batch, and almost every reading is fine.
      const out = { ...g };
      const limit = gpus.get(g.uuid)?.powerLimitW;
      if (out.powerW !== undefined && out.powerW < 0) {
        rejections.push({ field: `${at}.powerW`, reason: `negative power ${out.powerW} W` });
        delete out.powerW;
      } else if (out.powerW !== undefined && limit !== undefined && out.powerW > MAX_POWER_OVER_LIMIT * limit) {
        rejections.push({ field: `${at}.powerW`, reason: `${out.powerW} W is above ${MAX_POWER_OVER_LIMIT}x the GPU's ${limit} W limit` });
        delete out.powerW;
      }
      for (const key of ['tempC', 'memTempC'] as const) {
        const t = out[key];
        if (t !== undefined && (t < MIN_TEMP_C || t > MAX_TEMP_C)) {
          rejections.push({ field: `${at}.${key}`, reason: `${t} °C is outside ${MIN_TEMP_C}..${MAX_TEMP_C} °C` });
          delete out[key];
        }
      }
      const total = gpus.get(g.uuid)?.memTotalBytes;
      if (out.memUsedBytes !== undefined && total !== undefined && out.memUsedBytes > total * 1.01) {
        rejections.push({ field: `${at}.memUsedBytes`, reason: `${out.memUsedBytes} B used is more than the GPU's ${total} B` });
        delete out.memUsedBytes;
      }
      return rejections.length === before ? g : out;
    });
    const cpusOut = sample.cpus.map((c, ci) => {
      if (c.powerW === undefined || c.powerW >= 0) return c;
      rejections.push({ field: `samples[${si}].cpus[${ci}].powerW`, reason: `negative power ${c.powerW} W` });
      const { powerW: _dropped, ...rest } = c;
      return rest;
    });
    samples.push(sample.gpus.every((g, i) => gpusOut[i] === g) && sample.cpus.every((c, i) => cpusOut[i] === c) ? sample : { ...sample, gpus: gpusOut, cpus: cpusOut });
  });
  let ts = batch.ts;
  if (ts > nowMs + MAX_FUTURE_MS) {
    rejections.push({ field: 'ts', reason: `${new Date(ts).toISOString()} is more than 5 min ahead of the collector's clock; the receive time is used for the books` });
    ts = nowMs;
  }
  return { batch: rejections.length === 0 ? batch : { ...batch, ts, samples }, rejections };
}
