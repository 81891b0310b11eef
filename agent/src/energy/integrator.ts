/**
 * Pure energy arithmetic for the meter: trapezoid integration of power and differences of
 * hardware counters. Energies are millijoules; W x ms = mJ.
 */

/** Energy in mJ (float) of a linear power ramp from `p0W` to `p1W` over `dtMs` (trapezoid rule). */
export function trapezoidMj(p0W: number, p1W: number, dtMs: number): number {
  return ((p0W + p1W) / 2) * dtMs;
}

/** Outcome of differencing a cumulative hardware counter. */
export type CounterStep = { kind: 'delta'; deltaMj: number } | { kind: 'reset' };

/**
 * Difference of a cumulative counter between two reads. A value that went down means the
 * device restarted its counter (GPU reset, driver reload): the caller starts a new baseline
 * instead of producing negative or huge energy. Wrap-around (RAPL) is the source's job,
 * because only the source knows the counter's range.
 */
export function counterStep(previousMj: number, currentMj: number): CounterStep {
  if (currentMj < previousMj) return { kind: 'reset' };
  return { kind: 'delta', deltaMj: currentMj - previousMj };
}

/**
 * Split `totalMj` (an integer) into integer shares proportional to `weights`, with the
 * remainder going to `restWeight`; shares sum exactly to `totalMj` (largest remainder method),
 * so jobs + idle always equals the device total.
 */
export function splitInteger(totalMj: number, weights: readonly number[], restWeight: number): { shares: number[]; restMj: number } {
  const sum = weights.reduce((a, b) => a + b, 0) + restWeight;
  if (sum <= 0 || totalMj === 0) return { shares: weights.map(() => 0), restMj: totalMj };
  const exact = [...weights, restWeight].map((w) => (totalMj * w) / sum);
  const floors = exact.map(Math.floor);
  let left = totalMj - floors.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    floors[i] = (floors[i] ?? 0) + 1;
    left -= 1;
  }
  const restMj = floors.pop() ?? 0;
  return { shares: floors, restMj };
}
