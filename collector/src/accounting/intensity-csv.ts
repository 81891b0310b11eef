/**
 * Hourly factor series (grid intensity, price, PUE) from CSV, with their provenance.
 *
 * Format (collector/data/README.md has a full example):
 * - `# key: value` lines are metadata (`source`, `licence`, `retrieved`, `unit`, `valid-from`, ...);
 *   other `#` lines, `##` lines and blank lines are prose and are skipped;
 * - then the header `timestamp,value`;
 * - then rows: an ISO 8601 UTC time on a whole hour (`2023-01-01T10:00:00Z`) or epoch ms, and a
 *   non-negative number. Rows are strictly increasing in time; a value holds until the next row.
 *
 * Parsing is pure (text in); `readHourlySeriesCsv` is the only function here that touches a file.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FactorQuality, HourlyFactor, Validity } from './factors.js';
import { FACTOR_QUALITIES } from './factors.js';
import { MS_PER_HOUR, type SeriesPoint, isoTs } from './time-series.js';

/** A parsed series: its points (value in `meta.unit`), its `# key: value` metadata (keys lower-cased) and the name used in messages. */
export interface HourlySeriesCsv {
  readonly name: string;
  readonly points: readonly SeriesPoint[];
  readonly meta: Readonly<Record<string, string>>;
}

const META = /^#\s*([a-z][a-z0-9_-]*)\s*:(.*)$/i;
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Epoch ms of an ISO 8601 UTC time or an epoch-ms integer; throws a message (without location) otherwise. */
function parseTimestamp(text: string): number {
  if (/^\d+$/.test(text)) {
    const ms = Number(text);
    // 8.64e15 ms is the last instant a Date holds; past it a time cannot be printed or compared to a calendar.
    if (!Number.isSafeInteger(ms) || ms > 8.64e15) throw new Error(`timestamp ${text} is too large for epoch ms`);
    return ms;
  }
  return parseIsoUtc(text, ' or epoch ms');
}

/** Epoch ms of an ISO 8601 UTC time; throws a message (without location) otherwise. */
function parseIsoUtc(text: string, alternatives = ''): number {
  const m = ISO.exec(text);
  if (m === null) throw new Error(`timestamp "${text}" is not an ISO 8601 UTC time (2023-01-01T10:00:00Z)${alternatives}`);
  const offset = m[8] as string;
  // Only UTC: exports in local time (CET/CEST) repeat or skip an hour at daylight-saving changes,
  // and a series must be unambiguous.
  if (offset !== 'Z' && !/^\+00:?00$/.test(offset)) throw new Error(`timestamp "${text}" is not UTC (offset ${offset}); write it in UTC with Z`);
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '').padEnd(3, '0'));
  const ts = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(ts);
  // Date.UTC rolls 2023-02-30 over into March; a calendar typo must not pass silently.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h || mi > 59 || s > 59) {
    throw new Error(`timestamp "${text}" is not a valid date and time`);
  }
  return ts;
}

/**
 * Parses a series from CSV text (see the module comment for the format). Throws an Error naming
 * `name`, the line and the fault for a bad header, a row that does not parse, a negative value, a
 * time off the hour, a row not after the previous one, or a repeated metadata key.
 */
export function parseHourlySeriesCsv(text: string, name = 'csv'): HourlySeriesCsv {
  const meta: Record<string, string> = {};
  const metaLine: Record<string, number> = {};
  const points: SeriesPoint[] = [];
  let header = false;
  let prevLine = 0;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    const fail = (what: string): never => {
      throw new Error(`${name} line ${n}: ${what}`);
    };
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = line.startsWith('##') ? null : META.exec(line);
      if (m !== null) {
        const key = (m[1] as string).toLowerCase();
        if (metaLine[key] !== undefined) fail(`metadata "${key}" is given twice (first on line ${metaLine[key]})`);
        meta[key] = (m[2] as string).trim();
        metaLine[key] = n;
      }
      return;
    }
    const cells = line.split(',').map((c) => c.trim());
    if (!header) {
      if (cells.length !== 2 || cells[0]?.toLowerCase() !== 'timestamp' || cells[1]?.toLowerCase() !== 'value') {
        fail(`expected the header "timestamp,value", got "${line}"`);
      }
      header = true;
      return;
    }
    if (cells.length !== 2) fail(`expected 2 fields (timestamp,value), got ${cells.length}`);
    const [tsText, valueText] = cells as [string, string];
    let ts: number;
    try {
      ts = parseTimestamp(tsText);
    } catch (e) {
      return fail((e as Error).message);
    }
    if (ts % MS_PER_HOUR !== 0) fail(`timestamp "${tsText}" is not at the start of a UTC hour`);
    if (!NUMBER.test(valueText)) fail(`value "${valueText}" is not a number`);
    const value = Number(valueText);
    if (!Number.isFinite(value)) fail(`value "${valueText}" is too large to be a number`);
    if (value < 0) fail(`value ${value} is negative`);
    const prev = points[points.length - 1];
    if (prev !== undefined && ts <= prev.fromTs) {
      fail(`timestamp ${isoTs(ts)} is not after line ${prevLine}'s ${isoTs(prev.fromTs)} (rows must be sorted by time, one per hour at most)`);
    }
    points.push({ fromTs: ts, value });
    prevLine = n;
  });
  if (!header) throw new Error(`${name}: the header "timestamp,value" is missing`);
  return { name, points, meta };
}

/** Reads and parses a series CSV file (UTF-8); messages name the file by its base name. */
export async function readHourlySeriesCsv(path: string): Promise<HourlySeriesCsv> {
  return parseHourlySeriesCsv(await readFile(path, 'utf8'), basename(path));
}

/** Options for turning a parsed series into a factor. */
export interface SeriesFactorOptions {
  /** Unit the factor expects, e.g. "gCO2e/kWh"; a different `# unit:` in the file is an error. */
  readonly unit: string;
  /** Quality when the file has no `# quality:` line; default "published". */
  readonly quality?: FactorQuality;
}

/**
 * An hourly factor from a parsed series. Source comes from `# source:` (required); validity from
 * `# valid-from:` / `# valid-to:` when given, else from the first row to one hour after the last.
 */
export function seriesFactorFromCsv(csv: HourlySeriesCsv, opts: SeriesFactorOptions): HourlyFactor {
  const { name, meta, points } = csv;
  const source = meta['source'] ?? '';
  if (source === '') throw new Error(`${name}: metadata "# source:" is missing or empty (say where the data comes from)`);
  const first = points[0];
  const last = points[points.length - 1];
  if (first === undefined || last === undefined) throw new Error(`${name}: no data rows`);
  const unit = meta['unit'] ?? '';
  if (unit !== '' && unit !== opts.unit) throw new Error(`${name}: unit "${unit}" is not the factor's unit "${opts.unit}"`);
  const quality = (meta['quality'] || opts.quality) ?? 'published';
  if (!FACTOR_QUALITIES.includes(quality as FactorQuality)) {
    throw new Error(`${name}: quality "${quality}" is not one of ${FACTOR_QUALITIES.join(', ')}`);
  }
  const bound = (key: 'valid-from' | 'valid-to', fallback: number): number => {
    const text = meta[key] ?? '';
    if (text === '') return fallback;
    try {
      // ISO only: a bare "2023" would otherwise read as 2023 ms after the epoch.
      return parseIsoUtc(text);
    } catch (e) {
      throw new Error(`${name}: metadata "${key}": ${(e as Error).message}`);
    }
  };
  const validity: Validity = { fromTs: bound('valid-from', first.fromTs), toTs: bound('valid-to', last.fromTs + MS_PER_HOUR) };
  const note = [meta['note'], meta['licence'] && `licence: ${meta['licence']}`, meta['retrieved'] && `retrieved: ${meta['retrieved']}`]
    .filter((s): s is string => typeof s === 'string' && s !== '')
    .join('; ');
  return {
    value: points,
    source,
    validity,
    quality: quality as FactorQuality,
    ...(note === '' ? {} : { note }),
  };
}
