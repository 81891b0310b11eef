/**
 * mulberry32: a small, fast, seeded PRNG (uniform floats in [0, 1)), so load generators and
 * data sets repeat from run to run; unlike an LCG it has no lattice that would tie one drawn
 * quantity to the next.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
