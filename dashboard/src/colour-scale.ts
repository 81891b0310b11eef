/**
 * Pure colour scale for "power as a share of the power limit". Viridis, sampled at nine
 * evenly spaced stops and interpolated linearly: perceptually ordered, readable by the common
 * forms of colour blindness, and its luminance rises monotonically, so it still reads when
 * printed in greyscale. Unknown values get a neutral grey that is not on the scale, and the
 * grid draws an extra mark on it so it is not mistaken for a mid value in greyscale.
 */

export type Rgb = readonly [r: number, g: number, b: number];

/** Viridis (matplotlib) at 0, 1/8, ..., 1. */
export const VIRIDIS_STOPS: readonly string[] = [
  '#440154',
  '#472d7b',
  '#3b528b',
  '#2c728e',
  '#21918c',
  '#28ae80',
  '#5ec962',
  '#addc30',
  '#fde725',
];

/** Colour of a GPU whose power or limit is not known. */
export const UNKNOWN_COLOUR = '#9a9a9a';

export function hexToRgb(hex: string): Rgb {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (m === null) throw new Error(`not a #rrggbb colour: ${hex}`);
  return [parseInt(m[1] ?? '0', 16), parseInt(m[2] ?? '0', 16), parseInt(m[3] ?? '0', 16)];
}

export function rgbToHex([r, g, b]: Rgb): string {
  const h = (x: number): string => Math.round(Math.min(255, Math.max(0, x))).toString(16).padStart(2, '0');
  return `#${h(r)}${h(g)}${h(b)}`;
}

const STOPS_RGB: readonly Rgb[] = VIRIDIS_STOPS.map(hexToRgb);

/** Share of the power limit in use, or null when either side is unknown or the limit is not positive. */
export function powerRatio(powerW: number | null | undefined, limitW: number | null | undefined): number | null {
  if (typeof powerW !== 'number' || typeof limitW !== 'number') return null;
  if (!Number.isFinite(powerW) || !Number.isFinite(limitW) || limitW <= 0) return null;
  return Math.max(0, powerW / limitW);
}

/** Colour of a ratio 0..1 (clamped; above the limit shows as the top of the scale). */
export function ratioRgb(ratio: number): Rgb {
  const t = Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 0;
  const pos = t * (STOPS_RGB.length - 1);
  const i = Math.min(STOPS_RGB.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = STOPS_RGB[i] as Rgb;
  const b = STOPS_RGB[i + 1] as Rgb;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** CSS colour of a ratio, or UNKNOWN_COLOUR for null. */
export function ratioColour(ratio: number | null): string {
  return ratio === null ? UNKNOWN_COLOUR : rgbToHex(ratioRgb(ratio));
}

/**
 * A lookup table of `steps` colours covering 0..1, so drawing thousands of cells does not
 * interpolate per cell. Index with `lutIndex`.
 */
export function colourLut(steps = 64): string[] {
  const out: string[] = [];
  for (let i = 0; i < steps; i++) out.push(rgbToHex(ratioRgb(i / (steps - 1))));
  return out;
}

/** Index of a ratio in a LUT of `steps` entries. */
export function lutIndex(ratio: number, steps: number): number {
  const t = Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 0;
  return Math.round(t * (steps - 1));
}

/** WCAG relative luminance 0..1 of an sRGB colour. */
export function relativeLuminance([r, g, b]: Rgb): number {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** CSS linear-gradient stops for a legend bar, left (0) to right (1). */
export function legendGradient(): string {
  const n = VIRIDIS_STOPS.length - 1;
  return `linear-gradient(to right, ${VIRIDIS_STOPS.map((c, i) => `${c} ${((i / n) * 100).toFixed(1)}%`).join(', ')})`;
}
