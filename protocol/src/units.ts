/**
 * The only place units are converted. Wire and code use W, mJ (integer counters), J, By,
 * Cel, ms timestamps and fractions 0..1; everything else is converted here.
 */

/** Joules in one kilowatt-hour. */
export const J_PER_KWH = 3.6e6;

/** Mebibytes (nvidia-smi's MiB) to bytes. */
export function mibToBytes(mib: number): number {
  return mib * 1_048_576;
}

/** Percent (0..100) to a fraction (0..1). */
export function percentToRatio(pct: number): number {
  return pct / 100;
}

/** Millijoules to joules. */
export function mjToJ(mj: number): number {
  return mj / 1000;
}

/** Joules to millijoules, rounded to a whole millijoule (counters are integers). */
export function jToMj(j: number): number {
  return Math.round(j * 1000);
}

/** Microjoules (RAPL energy_uj) to millijoules, rounded down so a counter never runs ahead. */
export function ujToMj(uj: number): number {
  return Math.floor(uj / 1000);
}

/** Joules to kilowatt-hours. */
export function jToKwh(j: number): number {
  return j / J_PER_KWH;
}

/** Energy in millijoules from a constant power in watts held for a time in milliseconds. */
export function wattMsToMj(powerW: number, durationMs: number): number {
  return powerW * durationMs;
}
