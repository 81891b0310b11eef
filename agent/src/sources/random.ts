/**
 * Small seeded randomness for the simulated node: a sequential PRNG (mulberry32) for drawing
 * parameters, and stateless hashes for noise that must be a pure function of time, so the
 * same instant gives the same value however finely or often it is evaluated.
 */

/** A generator of uniform floats in [0, 1). */
export type Rand = () => number;

/** A mulberry32 PRNG seeded with a 32-bit integer; returns uniform floats in [0, 1). */
export function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A 32-bit hash of a list of numbers (murmur3-style mixing). Each value is split into two
 * 32-bit words so integers beyond 2^32 (e.g. 250 ms slots since the epoch) still hash well.
 */
export function hash32(...values: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = mix(h, v >>> 0);
    h = mix(h, Math.floor(v / 4294967296) >>> 0);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mix(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** A uniform float in [0, 1) that is a pure function of the given numbers. */
export function hashUnit(...values: readonly number[]): number {
  return hash32(...values) / 4294967296;
}

/** A 32-bit hash of a string (FNV-1a), for mixing names such as a node's into seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Smooth noise in [-1, 1] at time `tS` (seconds): uniform values at knots every `knotS`
 * seconds, linearly interpolated, so power stays continuous and sub-step integration converges.
 */
export function valueNoise(key: number, tS: number, knotS: number): number {
  const x = tS / knotS;
  const i = Math.floor(x);
  const f = x - i;
  const a = hashUnit(key, i) * 2 - 1;
  const b = hashUnit(key, i + 1) * 2 - 1;
  return a + (b - a) * f;
}

/** A uniform float in [lo, hi) drawn from `rand`. */
export function uniform(rand: Rand, lo: number, hi: number): number {
  return lo + (hi - lo) * rand();
}

/** One element of a non-empty list, drawn from `rand`. */
export function pick<T>(rand: Rand, items: readonly T[]): T {
  const item = items[Math.floor(rand() * items.length)];
  if (item === undefined) throw new RangeError('pick from an empty list');
  return item;
}
