import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateFactors, DEFAULT_FACTORS } from '../../src/accounting/factors.js';
import { parseHourlySeriesCsv, readHourlySeriesCsv, seriesFactorFromCsv } from '../../src/accounting/intensity-csv.js';

const dataFile = (name: string): string => fileURLToPath(new URL(`../../data/${name}`, import.meta.url));
const t = (iso: string): number => Date.parse(iso);

const GOOD = [
  '\uFEFF## Example series; this prose line is skipped.',
  '# source: Example grid operator, hourly intensity export, https://example.org/data',
  '# licence: CC BY 4.0',
  '# retrieved: 2024-05-01',
  '# unit: gCO2e/kWh',
  '# A comment without a key: it is prose, not metadata',
  '',
  'timestamp,value',
  '2023-01-01T00:00:00Z,312.5',
  '2023-01-01T01:00+00:00,298',
  '1672538400000, 301.25 ',
  '2023-01-01T03Z,1e2',
  '',
].join('\r\n');

describe('intensity-csv', () => {
  describe('#parseHourlySeriesCsv', () => {
    it('reads metadata and rows in ISO 8601 UTC or epoch ms, skipping prose, blank lines, a BOM and CRLF', () => {
      expect(parseHourlySeriesCsv(GOOD, 'nl.csv')).toEqual({
        name: 'nl.csv',
        meta: {
          source: 'Example grid operator, hourly intensity export, https://example.org/data',
          licence: 'CC BY 4.0',
          retrieved: '2024-05-01',
          unit: 'gCO2e/kWh',
        },
        points: [
          { fromTs: t('2023-01-01T00:00:00Z'), value: 312.5 },
          { fromTs: t('2023-01-01T01:00:00Z'), value: 298 },
          { fromTs: t('2023-01-01T02:00:00Z'), value: 301.25 },
          { fromTs: t('2023-01-01T03:00:00Z'), value: 100 },
        ],
      });
    });

    const head = '# source: s\ntimestamp,value\n2023-01-01T01:00:00Z,1\n';
    it.each([
      ['a wrong header', 'time,intensity\n', 'x.csv line 1: expected the header "timestamp,value", got "time,intensity"'],
      ['no header at all', '# source: s\n\n', 'x.csv: the header "timestamp,value" is missing'],
      ['a row with 3 fields', `${head}2023-01-01T02:00:00Z,1,2\n`, 'x.csv line 4: expected 2 fields (timestamp,value), got 3'],
      ['a value that is not a number', `${head}2023-01-01T02:00:00Z,abc\n`, 'x.csv line 4: value "abc" is not a number'],
      ['an empty value', `${head}2023-01-01T02:00:00Z,\n`, 'x.csv line 4: value "" is not a number'],
      ['a negative value', `${head}2023-01-01T02:00:00Z,-1\n`, 'x.csv line 4: value -1 is negative'],
      [
        'a local (CET) time',
        `${head}2023-01-01T03:00:00+01:00,1\n`,
        'x.csv line 4: timestamp "2023-01-01T03:00:00+01:00" is not UTC (offset +01:00); write it in UTC with Z',
      ],
      [
        'a time without offset',
        `${head}2023-01-01 02:00,1\n`,
        'x.csv line 4: timestamp "2023-01-01 02:00" is not an ISO 8601 UTC time (2023-01-01T10:00:00Z) or epoch ms',
      ],
      ['an impossible date', `${head}2023-02-30T00:00:00Z,1\n`, 'x.csv line 4: timestamp "2023-02-30T00:00:00Z" is not a valid date and time'],
      ['a time off the hour', `${head}2023-01-01T02:30:00Z,1\n`, 'x.csv line 4: timestamp "2023-01-01T02:30:00Z" is not at the start of a UTC hour'],
      ['epoch ms off the hour', `${head}1672534800001,1\n`, 'x.csv line 4: timestamp "1672534800001" is not at the start of a UTC hour'],
      [
        'rows out of order',
        `${head}2023-01-01T00:00:00Z,1\n`,
        "x.csv line 4: timestamp 2023-01-01T00:00:00.000Z is not after line 3's 2023-01-01T01:00:00.000Z (rows must be sorted by time, one per hour at most)",
      ],
      [
        'a repeated hour',
        `${head}\n2023-01-01T01:00:00Z,2\n`,
        "x.csv line 5: timestamp 2023-01-01T01:00:00.000Z is not after line 3's 2023-01-01T01:00:00.000Z (rows must be sorted by time, one per hour at most)",
      ],
      ['a repeated metadata key', '# source: a\n# Source: b\n', 'x.csv line 2: metadata "source" is given twice (first on line 1)'],
    ])('rejects %s, naming the line', (_what, text, message) => {
      expect(() => parseHourlySeriesCsv(text, 'x.csv')).toThrow(new Error(message));
    });
  });

  describe('#seriesFactorFromCsv', () => {
    it('makes a valid factor whose source, note and validity come from the file', () => {
      const f = seriesFactorFromCsv(parseHourlySeriesCsv(GOOD, 'nl.csv'), { unit: 'gCO2e/kWh' });
      expect(f).toEqual({
        value: parseHourlySeriesCsv(GOOD).points,
        source: 'Example grid operator, hourly intensity export, https://example.org/data',
        // Validity defaults to the first row up to one hour after the last.
        validity: { fromTs: t('2023-01-01T00:00:00Z'), toTs: t('2023-01-01T04:00:00Z') },
        quality: 'published',
        note: 'licence: CC BY 4.0; retrieved: 2024-05-01',
      });
      expect(() => validateFactors({ ...DEFAULT_FACTORS, gridIntensityLocation: f })).not.toThrow();
    });

    it('takes validity and quality from metadata when given', () => {
      const text = '# source: s\n# valid-from: 2023-01-01T00:00:00Z\n# valid-to: 2024-01-01T00:00Z\n# quality: estimate\ntimestamp,value\n1672531200000,1.3\n';
      expect(seriesFactorFromCsv(parseHourlySeriesCsv(text), { unit: '1' })).toEqual({
        value: [{ fromTs: t('2023-01-01T00:00:00Z'), value: 1.3 }],
        source: 's',
        validity: { fromTs: t('2023-01-01T00:00:00Z'), toTs: t('2024-01-01T00:00:00Z') },
        quality: 'estimate',
      });
    });

    it.each([
      ['no source', 'timestamp,value\n1672531200000,1\n', 'x.csv: metadata "# source:" is missing or empty (say where the data comes from)'],
      ['no rows', '# source: s\ntimestamp,value\n', 'x.csv: no data rows'],
      ['another unit', '# source: s\n# unit: kgCO2/MWh\ntimestamp,value\n1672531200000,1\n', 'x.csv: unit "kgCO2/MWh" is not the factor\'s unit "gCO2e/kWh"'],
      ['an unknown quality', '# source: s\n# quality: good\ntimestamp,value\n1672531200000,1\n', 'x.csv: quality "good" is not one of published, site, estimate, indicative, unconfigured'],
      [
        'a bad valid-from',
        '# source: s\n# valid-from: 2023\ntimestamp,value\n1672531200000,1\n',
        'x.csv: metadata "valid-from": timestamp "2023" is not an ISO 8601 UTC time (2023-01-01T10:00:00Z)',
      ],
    ])('refuses a file with %s', (_what, text, message) => {
      expect(() => seriesFactorFromCsv(parseHourlySeriesCsv(text, 'x.csv'), { unit: 'gCO2e/kWh' })).toThrow(new Error(message));
    });
  });

  describe('#readHourlySeriesCsv', () => {
    it('reads a file and names it in messages', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'stroom-csv-'));
      writeFileSync(join(dir, 'price-nl.csv'), '# source: s\ntimestamp,value\n1672531200000,0.2\n1672534800000,x\n');
      await expect(readHourlySeriesCsv(join(dir, 'price-nl.csv'))).rejects.toThrow(new Error('price-nl.csv line 4: value "x" is not a number'));
    });

    it('parses the shipped template, which cannot become a factor until its source is filled in', async () => {
      const csv = await readHourlySeriesCsv(dataFile('grid-intensity-template.csv'));
      expect(csv).toEqual({
        name: 'grid-intensity-template.csv',
        points: [],
        meta: { source: '', licence: '', retrieved: '', unit: 'gCO2e/kWh', zone: '', note: '' },
      });
      expect(() => seriesFactorFromCsv(csv, { unit: 'gCO2e/kWh' })).toThrow(
        new Error('grid-intensity-template.csv: metadata "# source:" is missing or empty (say where the data comes from)'),
      );
    });
  });
});
