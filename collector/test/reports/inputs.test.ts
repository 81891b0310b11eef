/** Report periods, coverage and facility meter CSV: what is accepted, and the errors that name what was wrong. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reportCoverage } from '../../src/reports/coverage.js';
import { FacilityMeter, parseFacilityMeterCsv } from '../../src/reports/facility-meter.js';
import { parseReportPeriod, parseReportTime } from '../../src/reports/period.js';

const H = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);

describe('report periods', () => {
  it('reads dates as UTC midnight, date-times with Z or an offset, and epoch ms', () => {
    expect(parseReportTime('2025-01-01', 'from')).toBe(T0);
    expect(parseReportTime('2025-01-01T01:00:00Z', 'from')).toBe(T0 + H);
    expect(parseReportTime('2025-01-01T02:00+01:00', 'from')).toBe(T0 + H);
    expect(parseReportTime(String(T0), 'from')).toBe(T0);
    expect(parseReportPeriod('2025-01-01', '2026-01-01')).toEqual({ fromTs: T0, toTs: Date.UTC(2026, 0, 1) });
  });

  it('refuses local times, times inside an hour, impossible dates and a period that runs backwards', () => {
    expect(() => parseReportTime('2025-01-01T00:00:00', '--from')).toThrow('--from: expected a date (2025-01-01), a date-time with Z or an offset');
    expect(() => parseReportTime('2025-01-01T00:30:00Z', '--from')).toThrow('--from: 2025-01-01T00:30:00.000Z is not the start of a UTC hour');
    expect(() => parseReportTime('2025-02-30', '--to')).toThrow('--to: "2025-02-30" is not a valid date and time');
    expect(() => parseReportPeriod('2025-02-01', '2025-01-01', ['--from', '--to'])).toThrow('--to: 2025-01-01T00:00:00.000Z is not after --from 2025-02-01T00:00:00.000Z');
  });
});

describe('reportCoverage', () => {
  it('expects node-hours only until the hour the report is made in, and counts runs clipped to the period', () => {
    const c = reportCoverage([{ node: 'a', firstSeenTs: T0 - 5 * H, measured: [{ fromTs: T0 - H, toTs: T0 + 2 * H }, { fromTs: T0 + 3 * H, toTs: T0 + 4 * H }] }], T0, T0 + 100 * H, T0 + 3 * H + 10);
    expect(c).toMatchObject({ nodes: 1, expectedNodeHours: 4, measuredNodeHours: 3, share: 0.75, gaps: [{ node: 'a', fromTs: T0 + 2 * H, toTs: T0 + 3 * H, hours: 1 }] });
  });

  it('expects nothing of a node first seen after the period', () => {
    expect(reportCoverage([{ node: 'a', firstSeenTs: T0 + 9 * H, measured: [] }], T0, T0 + 5 * H, T0 + 50 * H)).toMatchObject({ expectedNodeHours: 0, share: null, gaps: [] });
  });
});

const CSV = `## facility meters of the test site
# source: main incomer meter M1, water invoice W-2025
from,to,total_facility_kwh,renewable_kwh,reused_kwh,water_m3
2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,812345.5,600000,120000,350.25
2025-02-01T00:00:00Z,2025-03-01T00:00:00Z,700000,700000,0,300
`;

describe('facility meter CSV', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('reads periods with their source', () => {
    expect(parseFacilityMeterCsv(CSV, 'site.csv')).toEqual([
      { fromTs: T0, toTs: Date.UTC(2025, 1, 1), totalFacilityKwh: 812345.5, renewableKwh: 600000, reusedKwh: 120000, waterM3: 350.25, source: 'main incomer meter M1, water invoice W-2025 (site.csv)' },
      { fromTs: Date.UTC(2025, 1, 1), toTs: Date.UTC(2025, 2, 1), totalFacilityKwh: 700000, renewableKwh: 700000, reusedKwh: 0, waterM3: 300, source: 'main incomer meter M1, water invoice W-2025 (site.csv)' },
    ]);
  });

  it.each([
    [CSV.replace('# source: main incomer meter M1, water invoice W-2025\n', ''), 'site.csv: metadata "# source:" is missing or empty'],
    [CSV.replace('reused_kwh', 'reuse_kwh'), 'site.csv line 3: expected the header "from,to,total_facility_kwh,renewable_kwh,reused_kwh,water_m3"'],
    [CSV.replace('350.25', '-1'), 'site.csv line 4: water_m3 "-1" is not a non-negative number'],
    [CSV.replace('600000,120000', '900000,120000'), 'site.csv line 4: renewable_kwh 900000 is more than total_facility_kwh 812345.5'],
    [CSV.replace('2025-02-01T00:00:00Z,2025-03-01', '2025-01-15T00:00:00Z,2025-03-01'), 'site.csv: period 2025-01-15T00:00:00.000Z..2025-03-01T00:00:00.000Z overlaps 2025-01-01T00:00:00.000Z..2025-02-01T00:00:00.000Z'],
    [CSV.replace('2025-01-01T00:00:00Z,', '2025-01-01T00:15:00Z,'), 'site.csv line 4: from: 2025-01-01T00:15:00.000Z is not the start of a UTC hour'],
  ])('refuses a bad file, naming the line and the fault (%#)', (text, message) => {
    expect(() => parseFacilityMeterCsv(text, 'site.csv')).toThrow(message);
  });

  it('keeps posted periods across a restart, replaces a corrected one, refuses an overlap', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stroom-meter-'));
    dirs.push(dir);
    const file = join(dir, 'facility-meter.json');
    const fromFile = parseFacilityMeterCsv(CSV, 'site.csv');
    const m = new FacilityMeter(fromFile, file);
    const march = { fromTs: Date.UTC(2025, 2, 1), toTs: Date.UTC(2025, 3, 1), totalFacilityKwh: 5, renewableKwh: 1, reusedKwh: 0, waterM3: 1, source: 'api' };
    expect(m.add([march])).toEqual({ added: 1, replaced: 0 });
    expect(m.add([{ ...march, totalFacilityKwh: 6 }])).toEqual({ added: 0, replaced: 1 });
    expect(() => m.add([{ ...march, fromTs: Date.UTC(2025, 1, 15) }])).toThrow(/overlaps/);
    const again = new FacilityMeter(fromFile, file);
    expect(again.periods().map((p) => p.totalFacilityKwh)).toEqual([812345.5, 700000, 6]);
  });
});
