/**
 * Pure number formatting for the live page. Every function returns text with its unit;
 * a missing or non-finite value is shown as an em dash, never as 0. Output does not depend
 * on the browser's locale, so tests and screenshots agree everywhere.
 */
import { J_PER_KWH } from '@stroom/protocol';

/** Shown for a value the source did not report. */
export const MISSING = '—';

/** A value and its unit, for places that style the unit apart from the number. */
export interface Parts {
  value: string;
  unit: string;
}

function isNum(x: number | null | undefined): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Group thousands with a thin space (SI style), e.g. 12345.6 -> "12 345.6". */
export function groupThousands(text: string): string {
  const neg = text.startsWith('-');
  const body = neg ? text.slice(1) : text;
  const dot = body.indexOf('.');
  const int = dot === -1 ? body : body.slice(0, dot);
  const frac = dot === -1 ? '' : body.slice(dot);
  if (int.length <= 4) return text; // 4-digit numbers read fine ungrouped
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
  return (neg ? '-' : '') + grouped + frac;
}

/**
 * About three significant digits, never in exponent notation: 0.0123 -> "0.0123",
 * 1.234 -> "1.23", 12.34 -> "12.3", 123.4 -> "123", 12345 -> "12 345".
 */
export function sig3(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  const decimals = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(a)));
  let text = x.toFixed(decimals);
  // toFixed can round 99.96 up to "100.0"; drop the surplus digit.
  if (decimals > 0 && Math.abs(Number(text)) >= 10 ** (3 - decimals) && a < 1000) text = x.toFixed(decimals - 1);
  if (/^-0(\.0*)?$/.test(text)) text = text.slice(1);
  return groupThousands(text);
}

/** Power: W below 1 kW, kW below 1 MW, MW above. */
export function powerParts(w: number | null | undefined): Parts {
  if (!isNum(w)) return { value: MISSING, unit: 'W' };
  const a = Math.abs(w);
  if (a < 999.5) return { value: String(Math.round(w) || 0), unit: 'W' }; // whole watts
  if (a < 999_500) return { value: sig3(w / 1e3), unit: 'kW' };
  if (a < 999_500_000) return { value: sig3(w / 1e6), unit: 'MW' };
  return { value: sig3(w / 1e9), unit: 'GW' };
}

/** Power as "412 W", "12.3 kW", "1.25 MW". */
export function formatPower(w: number | null | undefined): string {
  return join(powerParts(w));
}

/** Power in a fixed unit, for axis ticks where all labels must share one unit. */
export function powerInUnit(w: number, unit: 'W' | 'kW' | 'MW'): string {
  const div = unit === 'W' ? 1 : unit === 'kW' ? 1e3 : 1e6;
  return sig3(w / div);
}

/** Axis tick text in a fixed unit, trailing zeros dropped: 2.50 MW -> "2.5 MW", 20.0 kW -> "20 kW". */
export function powerTick(w: number, unit: 'W' | 'kW' | 'MW'): string {
  const text = powerInUnit(w, unit);
  return `${text.includes('.') ? text.replace(/\.?0+$/, '') : text} ${unit}`;
}

/** The unit that reads best for the largest value on an axis. */
export function powerUnitFor(maxAbsW: number): 'W' | 'kW' | 'MW' {
  if (!(maxAbsW >= 1000)) return 'W';
  return maxAbsW >= 1e6 ? 'MW' : 'kW';
}

/** Energy from joules: Wh below 1 kWh, kWh below 1 MWh, MWh, then GWh. */
export function energyParts(j: number | null | undefined): Parts {
  if (!isNum(j)) return { value: MISSING, unit: 'kWh' };
  const kwh = j / J_PER_KWH;
  const a = Math.abs(kwh);
  if (a < 0.9995) return { value: sig3(kwh * 1e3), unit: 'Wh' };
  if (a < 999.5) return { value: sig3(kwh), unit: 'kWh' };
  if (a < 999_500) return { value: sig3(kwh / 1e3), unit: 'MWh' };
  return { value: sig3(kwh / 1e6), unit: 'GWh' };
}

/** Energy from joules as "850 Wh", "12.3 kWh", "4.56 MWh". */
export function formatEnergy(j: number | null | undefined): string {
  return join(energyParts(j));
}

/** Energy from joules always in kWh (tables, where a column shares one unit). */
export function formatKwh(j: number | null | undefined): string {
  if (!isNum(j)) return MISSING;
  const kwh = j / J_PER_KWH;
  const a = Math.abs(kwh);
  // Three decimals below 1 kWh: a short job's watt-hours still show, in the column's unit.
  const text = a >= 100 ? kwh.toFixed(0) : a >= 10 ? kwh.toFixed(1) : a >= 1 ? kwh.toFixed(2) : kwh.toFixed(3);
  return groupThousands(text === '-0.000' ? '0.000' : text);
}

/**
 * A duration from milliseconds, two units at most: "42 s", "5 min 07 s", "3 h 05 min",
 * "2 d 04 h". Negative durations (clock skew) show as 0 s.
 */
export function formatDuration(ms: number | null | undefined): string {
  if (!isNum(ms)) return MISSING;
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ${pad2(s % 60)} s`;
  const h = Math.floor(min / 60);
  if (h < 24) return `${h} h ${pad2(min % 60)} min`;
  return `${Math.floor(h / 24)} d ${pad2(h % 24)} h`;
}

/** "just now", "12 s ago", "3 min ago", "2 h ago": how old a reading is. */
export function formatAge(ms: number | null | undefined): string {
  if (!isNum(ms)) return MISSING;
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** A 0..1 ratio as a whole percent: 0.874 -> "87 %". */
export function formatPercent(ratio: number | null | undefined): string {
  if (!isNum(ratio)) return MISSING;
  return `${Math.round(ratio * 100)} %`;
}

/** Degrees Celsius, whole degrees: "63 °C". */
export function formatTemp(c: number | null | undefined): string {
  if (!isNum(c)) return MISSING;
  return `${Math.round(c)} °C`;
}

/** A count with grouped thousands: 8000 -> "8000", 12345 -> "12 345". */
export function formatCount(n: number | null | undefined): string {
  if (!isNum(n)) return MISSING;
  return groupThousands(String(Math.round(n)));
}

/** Local wall-clock time "HH:MM:SS" of a ms timestamp, in the given (or local) offset. */
export function formatClock(tsMs: number, tzOffsetMin = new Date(tsMs).getTimezoneOffset()): string {
  const d = new Date(tsMs - tzOffsetMin * 60_000);
  return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

/** Local "HH:MM" of a ms timestamp (axis ticks). */
export function formatHm(tsMs: number, tzOffsetMin = new Date(tsMs).getTimezoneOffset()): string {
  return formatClock(tsMs, tzOffsetMin).slice(0, 5);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function join(p: Parts): string {
  return p.value === MISSING ? MISSING : `${p.value} ${p.unit}`;
}
