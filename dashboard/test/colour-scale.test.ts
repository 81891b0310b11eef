import { describe, expect, it } from 'vitest';
import {
  UNKNOWN_COLOUR,
  VIRIDIS_STOPS,
  colourLut,
  hexToRgb,
  legendGradient,
  lutIndex,
  powerRatio,
  ratioColour,
  ratioRgb,
  relativeLuminance,
  rgbToHex,
} from '../src/colour-scale.js';

describe('colour scale', () => {
  it('hits the stops exactly and clamps outside 0..1', () => {
    expect(ratioColour(0)).toBe(VIRIDIS_STOPS[0]);
    expect(ratioColour(0.5)).toBe(VIRIDIS_STOPS[4]);
    expect(ratioColour(1)).toBe(VIRIDIS_STOPS[8]);
    expect(ratioColour(1.3)).toBe(VIRIDIS_STOPS[8]);
    expect(ratioColour(-0.2)).toBe(VIRIDIS_STOPS[0]);
    expect(ratioColour(Number.NaN)).toBe(VIRIDIS_STOPS[0]);
  });

  it('has about nine stops', () => {
    expect(VIRIDIS_STOPS.length).toBe(9);
  });

  it('gets brighter monotonically, so it reads in greyscale', () => {
    let prev = -1;
    for (let i = 0; i <= 1000; i++) {
      const y = relativeLuminance(ratioRgb(i / 1000));
      expect(y).toBeGreaterThanOrEqual(prev);
      prev = y;
    }
    // and with a usable spread from bottom to top (contrast ratio > 10:1)
    const lo = relativeLuminance(ratioRgb(0));
    const hi = relativeLuminance(ratioRgb(1));
    expect((hi + 0.05) / (lo + 0.05)).toBeGreaterThan(10);
  });

  it('marks unknown with a grey that is not on the scale', () => {
    expect(ratioColour(null)).toBe(UNKNOWN_COLOUR);
    const [r, g, b] = hexToRgb(UNKNOWN_COLOUR);
    expect(r).toBe(g);
    expect(g).toBe(b);
    for (let i = 0; i <= 100; i++) expect(rgbToHex(ratioRgb(i / 100))).not.toBe(UNKNOWN_COLOUR);
  });

  it('computes the power ratio, null when not computable', () => {
    expect(powerRatio(350, 700)).toBe(0.5);
    expect(powerRatio(null, 700)).toBeNull();
    expect(powerRatio(350, null)).toBeNull();
    expect(powerRatio(350, 0)).toBeNull();
    expect(powerRatio(-3, 700)).toBe(0);
    expect(powerRatio(800, 700)).toBeCloseTo(1.1428, 3);
  });

  it('builds a lookup table that agrees with the scale', () => {
    const lut = colourLut(17);
    expect(lut).toHaveLength(17);
    expect(lut[0]).toBe(VIRIDIS_STOPS[0]);
    expect(lut[16]).toBe(VIRIDIS_STOPS[8]);
    expect(lut[lutIndex(0.5, 17)]).toBe(VIRIDIS_STOPS[4]);
    expect(lutIndex(2, 17)).toBe(16);
    expect(lutIndex(-1, 17)).toBe(0);
  });

  it('converts colours both ways and writes a legend gradient', () => {
    expect(rgbToHex(hexToRgb('#21918c'))).toBe('#21918c');
    expect(() => hexToRgb('red')).toThrow();
    expect(relativeLuminance([255, 255, 255])).toBeCloseTo(1, 6);
    expect(relativeLuminance([0, 0, 0])).toBe(0);
    expect(legendGradient()).toMatch(/^linear-gradient\(to right, #440154 0\.0%, .* #fde725 100\.0%\)$/);
  });
});
