/**
 * uPlot-ready columns from stored energy buckets: `[tsUnixS[], totalW[], perNodeW[]...]`,
 * aligned to the step, ascending, `null` where no data arrived. Power is energy over the
 * step, so the chart's area is the job's energy exactly.
 */
import type { SeriesPoint } from '../store/store.js';

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
    const i = Math.floor((p.bucketTs - start) / stepMs);
    if (i < 0 || i >= n) continue;
    const w = p.energyMj / stepMs; // mJ / ms = W
    total[i] = (total[i] ?? 0) + w;
    const column = perNode[index.get(p.node) ?? 0] as Array<number | null>;
    column[i] = (column[i] ?? 0) + w;
  }
  return { step: stepMs / 1000, series: ['total', ...nodes], columns: [ts, total, ...perNode] };
}
