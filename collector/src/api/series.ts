/**
 * uPlot-ready columns from stored energy buckets: `[tsUnixS[], totalW[], perNodeW[]...]`,
 * aligned to the step, ascending, `null` where no data arrived. Power is energy over the
 * step, so the chart's area is the job's energy exactly.
 */
import { SERIES_BUCKET_MS } from '../store/embedded-store.js';
import type { GpuBucket, SeriesPoint } from '../store/store.js';

/** Columns for `uPlot.setData`, with the names of the series after the time column. */
export interface SeriesColumns {
  /** Step in seconds. */
  readonly step: number;
  readonly series: string[];
  readonly columns: Array<Array<number | null>>;
}

/** Parse a step like `10s`, `1m`, `1h` or plain seconds; it must be a multiple of `bucketMs`. */
export function parseStepMs(text: string, bucketMs: number): number {
  const m = /^(\d+)(s|m|h)?$/.exec(text);
  if (m === null) throw new Error(`step "${text}": expected seconds or a number with s, m or h, e.g. 10s`);
  const ms = Number(m[1]) * (m[2] === 'h' ? 3_600_000 : m[2] === 'm' ? 60_000 : 1000);
  if (ms < bucketMs || ms % bucketMs !== 0) throw new Error(`step "${text}": must be a multiple of ${bucketMs / 1000}s`);
  return ms;
}

/** Aggregate buckets into steps over [fromTs, toTs). */
export function seriesColumns(points: readonly SeriesPoint[], fromTs: number, toTs: number, stepMs: number): SeriesColumns {
  const start = Math.floor(fromTs / stepMs) * stepMs;
  const n = Math.max(0, Math.ceil((toTs - start) / stepMs));
  const nodes = [...new Set(points.map((p) => p.node))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const index = new Map(nodes.map((node, i) => [node, i]));
  const ts: number[] = [];
  for (let i = 0; i < n; i++) ts.push((start + i * stepMs) / 1000);
  const total: Array<number | null> = new Array<number | null>(n).fill(null);
  const perNode = nodes.map(() => new Array<number | null>(n).fill(null));
  for (const p of points) {
    const column = perNode[index.get(p.node) ?? 0] as Array<number | null>;
    // A rolled-up bucket wider than the step is spread evenly over the steps it covers: its
    // mean power, and the chart's area still equals its energy.
    const bucketMs = p.bucketMs ?? SERIES_BUCKET_MS;
    const end = p.bucketTs + Math.max(bucketMs, 1);
    for (let t = p.bucketTs; t < end; ) {
      const i = Math.floor((t - start) / stepMs);
      const stepEnd = start + (i + 1) * stepMs;
      const overlapMs = Math.min(end, stepEnd) - t;
      t = stepEnd;
      if (i < 0 || i >= n) continue;
      const w = (p.energyMj * (overlapMs / Math.max(bucketMs, 1))) / stepMs; // mJ / ms = W
      total[i] = (total[i] ?? 0) + w;
      column[i] = (column[i] ?? 0) + w;
    }
  }
  return { step: stepMs / 1000, series: ['total', ...nodes], columns: [ts, total, ...perNode] };
}

/** Which per-GPU gauge a GPU series shows. */
export type GpuMetric = 'power' | 'util' | 'temp';

/** One GPU column: where it is and what to call it. */
export interface GpuColumn {
  readonly node: string;
  readonly uuid: string;
  /** Column name, e.g. `gcn12/3` (node / GPU index). */
  readonly label: string;
}

/**
 * uPlot-ready per-GPU columns from stored gauge buckets: mean power (W) or utilisation (0..1)
 * per step, weighted by the samples behind each bucket, or the highest temperature (°C).
 * `[tsUnixS[], gpu...]`, `null` where the GPU reported nothing in that step.
 */
export function gpuSeriesColumns(buckets: readonly GpuBucket[], gpus: readonly GpuColumn[], metric: GpuMetric, fromTs: number, toTs: number, stepMs: number): SeriesColumns {
  const start = Math.floor(fromTs / stepMs) * stepMs;
  const n = Math.max(0, Math.ceil((toTs - start) / stepMs));
  const ts: number[] = [];
  for (let i = 0; i < n; i++) ts.push((start + i * stepMs) / 1000);
  const sums = gpus.map(() => new Array<number>(n).fill(0));
  const counts = gpus.map(() => new Array<number>(n).fill(0));
  const maxima = gpus.map(() => new Array<number | null>(n).fill(null));
  const column = new Map(gpus.map((g, k) => [`${g.node}\u0000${g.uuid}`, k]));
  for (const b of buckets) {
    const end = b.bucketTs + b.bucketMs;
    b.uuids.forEach((uuid, j) => {
      const k = column.get(`${b.node}\u0000${uuid}`);
      if (k === undefined) return;
      for (let t = b.bucketTs; t < end; ) {
        const i = Math.floor((t - start) / stepMs);
        const stepEnd = start + (i + 1) * stepMs;
        const share = (Math.min(end, stepEnd) - t) / b.bucketMs;
        t = stepEnd;
        if (i < 0 || i >= n) continue;
        if (metric === 'temp') {
          const c = b.tempMaxC[j] ?? null;
          if (c !== null) (maxima[k] as Array<number | null>)[i] = Math.max((maxima[k] as Array<number | null>)[i] ?? -Infinity, c);
          continue;
        }
        const sum = metric === 'power' ? (b.powerSumW[j] ?? 0) : (b.utilSum[j] ?? 0);
        const count = metric === 'power' ? (b.powerN[j] ?? 0) : (b.utilN[j] ?? 0);
        (sums[k] as number[])[i] = ((sums[k] as number[])[i] ?? 0) + sum * share;
        (counts[k] as number[])[i] = ((counts[k] as number[])[i] ?? 0) + count * share;
      }
    });
  }
  const columns = gpus.map((_, k) => {
    if (metric === 'temp') return maxima[k] as Array<number | null>;
    const s = sums[k] as number[];
    return (counts[k] as number[]).map((c, i) => (c > 0 ? (s[i] ?? 0) / c : null));
  });
  return { step: stepMs / 1000, series: gpus.map((g) => g.label), columns: [ts, ...columns] };
}
