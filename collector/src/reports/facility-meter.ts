/**
 * Facility meter data for the EED KPIs: per period, total facility energy (kWh), renewable
 * energy (kWh), reused energy (kWh) and water input (m3), from a CSV file (`--facility-meter`)
 * and/or `POST /api/v1/facility/meter`. Periods are on whole UTC hours and never overlap.
 *
 * CSV format (collector/src/reports/README.md has an example):
 *   `# source: ...` (required) and other `# key: value` lines; `##` lines and blank lines skipped;
 *   header `from,to,total_facility_kwh,renewable_kwh,reused_kwh,water_m3`;
 *   rows of ISO 8601 UTC times and non-negative numbers.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { FacilityMeterPeriodSchema } from '@stroom/protocol';
import type { FacilityMeterPeriod } from '@stroom/protocol';
import { isoTs } from '../accounting/time-series.js';
import { parseReportTime } from './period.js';

/** The CSV header, in this order. */
export const METER_CSV_HEADER = ['from', 'to', 'total_facility_kwh', 'renewable_kwh', 'reused_kwh', 'water_m3'] as const;

const NUMBER = /^[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const META = /^#\s*([a-z][a-z0-9_-]*)\s*:(.*)$/i;

/** Throws naming `label` when a period is not on whole hours, runs backwards, or breaks the RE/total rules. */
export function checkMeterPeriod(p: FacilityMeterPeriod, label: string): FacilityMeterPeriod {
  parseReportTime(String(p.fromTs), `${label}.fromTs`);
  parseReportTime(String(p.toTs), `${label}.toTs`);
  if (p.toTs <= p.fromTs) throw new Error(`${label}: to ${isoTs(p.toTs)} is not after from ${isoTs(p.fromTs)}`);
  if (p.renewableKwh > p.totalFacilityKwh) throw new Error(`${label}: renewable_kwh ${p.renewableKwh} is more than total_facility_kwh ${p.totalFacilityKwh}`);
  return p;
}

/** Parses meter CSV text; errors name `name`, the line and the fault. */
export function parseFacilityMeterCsv(text: string, name = 'csv'): FacilityMeterPeriod[] {
  const meta: Record<string, string> = {};
  const rows: Array<{ line: number; cells: string[] }> = [];
  let header = false;
  text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    const n = i + 1;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = line.startsWith('##') ? null : META.exec(line);
      if (m !== null) meta[(m[1] as string).toLowerCase()] = (m[2] as string).trim();
      return;
    }
    const cells = line.split(',').map((c) => c.trim());
    if (!header) {
      if (cells.join(',').toLowerCase() !== METER_CSV_HEADER.join(',')) throw new Error(`${name} line ${n}: expected the header "${METER_CSV_HEADER.join(',')}", got "${line}"`);
      header = true;
      return;
    }
    rows.push({ line: n, cells });
  });
  if (!header) throw new Error(`${name}: the header "${METER_CSV_HEADER.join(',')}" is missing`);
  const source = meta['source'] ?? '';
  if (source === '') throw new Error(`${name}: metadata "# source:" is missing or empty (say which meters or invoices the figures come from)`);
  const periods = rows.map(({ line, cells }) => {
    const label = `${name} line ${line}`;
    if (cells.length !== METER_CSV_HEADER.length) throw new Error(`${label}: expected ${METER_CSV_HEADER.length} fields, got ${cells.length}`);
    const [from, to, ...nums] = cells as [string, string, string, string, string, string];
    const values = nums.map((v, k) => {
      if (!NUMBER.test(v)) throw new Error(`${label}: ${METER_CSV_HEADER[k + 2]} "${v}" is not a non-negative number`);
      return Number(v);
    });
    const [totalFacilityKwh, renewableKwh, reusedKwh, waterM3] = values as [number, number, number, number];
    const period: FacilityMeterPeriod = {
      fromTs: parseReportTime(from, `${label}: from`),
      toTs: parseReportTime(to, `${label}: to`),
      totalFacilityKwh, renewableKwh, reusedKwh, waterM3,
      source: `${source} (${basename(name)})`,
    };
    return checkMeterPeriod(period, label);
  });
  checkNoOverlap(periods, name);
  return periods;
}

function checkNoOverlap(periods: readonly FacilityMeterPeriod[], name: string): void {
  const sorted = [...periods].sort((a, b) => a.fromTs - b.fromTs);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1] as FacilityMeterPeriod;
    const b = sorted[i] as FacilityMeterPeriod;
    if (b.fromTs < a.toTs) throw new Error(`${name}: period ${isoTs(b.fromTs)}..${isoTs(b.toTs)} overlaps ${isoTs(a.fromTs)}..${isoTs(a.toTs)}`);
  }
}

/**
 * The meter periods the collector knows: those of the CSV file (read at start) and those
 * posted to the API (kept in `persistFile`, when given, so they survive a restart). A posted
 * period identical in time to an earlier posted one replaces it (a corrected reading); any
 * other overlap is refused.
 */
export class FacilityMeter {
  readonly #fromFile: FacilityMeterPeriod[];
  #posted: FacilityMeterPeriod[] = [];
  readonly #persistFile: string | undefined;

  constructor(fromFile: readonly FacilityMeterPeriod[] = [], persistFile?: string) {
    this.#fromFile = [...fromFile];
    this.#persistFile = persistFile;
    if (persistFile !== undefined && existsSync(persistFile)) {
      const parsed = FacilityMeterPeriodSchema.array().safeParse(JSON.parse(readFileSync(persistFile, 'utf8')));
      if (!parsed.success) throw new Error(`${persistFile}: not a list of facility meter periods (${parsed.error.issues[0]?.message ?? 'invalid'})`);
      this.#posted = parsed.data;
    }
    checkNoOverlap(this.periods(), 'facility meter periods');
  }

  /** Reads the CSV file; errors name the file. */
  static fromCsvFile(path: string, persistFile?: string): FacilityMeter {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`--facility-meter ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return new FacilityMeter(parseFacilityMeterCsv(text, basename(path)), persistFile);
  }

  /** Every period, by start. */
  periods(): FacilityMeterPeriod[] {
    return [...this.#fromFile, ...this.#posted].sort((a, b) => a.fromTs - b.fromTs);
  }

  /** Adds posted periods (all or none); returns how many replaced an earlier posted reading. */
  add(periods: readonly FacilityMeterPeriod[]): { added: number; replaced: number } {
    periods.forEach((p, i) => checkMeterPeriod(p, `periods[${i}]`));
    const same = (a: FacilityMeterPeriod, b: FacilityMeterPeriod): boolean => a.fromTs === b.fromTs && a.toTs === b.toTs;
    const kept = this.#posted.filter((old) => !periods.some((p) => same(p, old)));
    const replaced = this.#posted.length - kept.length;
    const next = [...kept, ...periods];
    checkNoOverlap([...this.#fromFile, ...next], 'facility meter periods');
    if (this.#persistFile !== undefined) {
      // Write then rename, so a crash never leaves half a file.
      mkdirSync(dirname(this.#persistFile), { recursive: true });
      writeFileSync(`${this.#persistFile}.tmp`, JSON.stringify(next, null, 1));
      renameSync(`${this.#persistFile}.tmp`, this.#persistFile);
    }
    this.#posted = next;
    return { added: periods.length - replaced, replaced };
  }
}
