/**
 * Pure bookkeeping of the cluster power series, kept as uPlot columns
 * [tsUnixS[], powerW[]]: start from the `history` message, append each `cluster` message,
 * keep a sliding window.
 */
import { formatPower } from '../format.js';

export type PowerColumns = [ts: number[], powerW: (number | null)[]];

/** How much history the chart keeps, seconds. */
export const WINDOW_S = 3600;

export function emptyColumns(): PowerColumns {
  return [[], []];
}

/** Drop points older than `windowS` before the newest one. Mutates and returns `cols`. */
export function trimWindow(cols: PowerColumns, windowS = WINDOW_S): PowerColumns {
  const [ts, w] = cols;
  const last = ts[ts.length - 1];
  if (last === undefined) return cols;
  const cutoff = last - windowS;
  let drop = 0;
  while (drop < ts.length && (ts[drop] as number) < cutoff) drop++;
  if (drop > 0) {
    ts.splice(0, drop);
    w.splice(0, drop);
  }
  return cols;
}

/**
 * Append one reading. A reading at the newest timestamp replaces it; an older one is
 * ignored (columns must stay ascending for uPlot). Mutates and returns `cols`.
 */
export function appendPoint(cols: PowerColumns, tsS: number, powerW: number | null, windowS = WINDOW_S): PowerColumns {
  if (!Number.isFinite(tsS)) return cols;
  const [ts, w] = cols;
  const last = ts[ts.length - 1];
  if (last !== undefined && tsS < last) return cols;
  if (last !== undefined && tsS === last) {
    w[w.length - 1] = powerW;
    return cols;
  }
  ts.push(tsS);
  w.push(powerW);
  return trimWindow(cols, windowS);
}

/**
 * Columns after a `history` message: the history (copied, sorted check skipped: the wire
 * says ascending) followed by any live points newer than its end, windowed.
 */
export function mergeHistory(history: PowerColumns, current: PowerColumns, windowS = WINDOW_S): PowerColumns {
  const n = Math.min(history[0].length, history[1].length);
  const out: PowerColumns = [history[0].slice(0, n), history[1].slice(0, n)];
  const end = out[0][out[0].length - 1] ?? -Infinity;
  for (let i = 0; i < current[0].length; i++) {
    const t = current[0][i] as number;
    if (t > end) {
      out[0].push(t);
      out[1].push(current[1][i] ?? null);
    }
  }
  return trimWindow(out, windowS);
}

/** "now 1.23 MW, lowest 1.01 MW, highest 1.31 MW over the last 60 min". */
export function describeSeries(cols: PowerColumns): string {
  const w = cols[1];
  let min = Infinity;
  let max = -Infinity;
  let last: number | null = null;
  for (const x of w) {
    if (x === null) continue;
    if (x < min) min = x;
    if (x > max) max = x;
    last = x;
  }
  const ts = cols[0];
  if (last === null || ts.length === 0) return 'Cluster power chart: no data yet.';
  const spanMin = Math.max(1, Math.round(((ts[ts.length - 1] as number) - (ts[0] as number)) / 60));
  return `Cluster power chart: now ${formatPower(last)}, lowest ${formatPower(min)}, highest ${formatPower(max)} over the last ${spanMin} min.`;
}
