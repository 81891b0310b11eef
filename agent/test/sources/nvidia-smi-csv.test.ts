import { describe, expect, it } from 'vitest';
import { mibToBytes } from '@stroom/protocol';
import {
  ABSENT_VALUES,
  LineSplitter,
  parseNumeric,
  parseQueryGpuCsv,
  parseQueryGpuLine,
  parseTimestamp,
  type CsvGpuRow,
} from '../../src/sources/nvidia-smi-csv.js';
import { fixtureText } from '../fixture.js';

const MASKED = 'GPU-00000000-0000-0000-0000-000000000000';

describe('parseQueryGpuCsv', () => {
  describe('real captures (--format=csv, header and units, full field list)', () => {
    // One row per capture; every value is read off the capture by hand (see fixtures README).
    const cases: ReadonlyArray<{ file: string; columns: number; rows: CsvGpuRow[] }> = [
      {
        file: 'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.csv',
        columns: 212,
        rows: [
          {
            uuid: MASKED,
            localTsMs: Date.UTC(2026, 6, 14, 8, 12, 53, 353),
            powerW: 631.95,
            powerField: 'power.draw.average',
            tempC: 59,
            memTempC: 54,
            utilRatio: 1,
            memUsedBytes: 19818 * 1_048_576,
            smClockMHz: 1980,
          },
        ],
      },
      {
        // MIG on: utilization.gpu is [N/A] under load, power stays per physical GPU.
        file: 'linux-x86_64__nvidia-h200-mig__590.48.01__load.csv',
        columns: 212,
        rows: [
          {
            uuid: MASKED,
            localTsMs: Date.UTC(2026, 6, 3, 22, 22, 27, 218),
            powerW: 295.01,
            powerField: 'power.draw.average',
            tempC: 36,
            memTempC: 39,
            memUsedBytes: 16959 * 1_048_576,
            smClockMHz: 1980,
          },
        ],
      },
      {
        // temperature.memory is a bare N/A.
        file: 'linux-x86_64__nvidia-l40s__595.80__load.csv',
        columns: 202,
        rows: [
          {
            uuid: MASKED,
            localTsMs: Date.UTC(2026, 6, 3, 8, 33, 53, 415),
            powerW: 110.23,
            powerField: 'power.draw.average',
            tempC: 54,
            utilRatio: 0.09,
            memUsedBytes: 1235 * 1_048_576,
            smClockMHz: 2520,
          },
        ],
      },
      {
        // Idle: 0 % utilisation is a real 0, not a placeholder.
        file: 'linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05__idle.csv',
        columns: 202,
        rows: [
          {
            uuid: MASKED,
            localTsMs: Date.UTC(2026, 5, 26, 11, 59, 44, 226),
            powerW: 26.2,
            powerField: 'power.draw.average',
            tempC: 43,
            utilRatio: 0,
            memUsedBytes: 596 * 1_048_576,
            smClockMHz: 210,
          },
        ],
      },
      {
        // Turing: power.draw.average is [N/A], so power.draw (= instant here) is used.
        file: 'linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04__load.csv',
        columns: 241,
        rows: [
          {
            uuid: MASKED,
            localTsMs: Date.UTC(2026, 7, 12, 21, 54, 0, 311),
            powerW: 98.14,
            powerField: 'power.draw',
            tempC: 38,
            utilRatio: 0.08,
            memUsedBytes: 815 * 1_048_576,
            smClockMHz: 2070,
          },
        ],
      },
      {
        // Windows WDDM: [Function Not Found] in another column, average [N/A].
        file: 'windows-x86_64__nvidia-geforce-rtx-2080-super__610.62__load.csv',
        columns: 239,
        rows: [
          {
            uuid: MASKED,
            localTsMs: Date.UTC(2026, 5, 24, 10, 17, 56, 770),
            powerW: 97.99,
            powerField: 'power.draw',
            tempC: 44,
            utilRatio: 0.07,
            memUsedBytes: 1366 * 1_048_576,
            smClockMHz: 2040,
          },
        ],
      },
    ];

    it.each(cases)('$file', ({ file, columns, rows }) => {
      const parsed = parseQueryGpuCsv(fixtureText(`nvidia-smi/${file}`));
      expect(parsed.rows).toStrictEqual(rows);
      expect(parsed.columns.length).toBe(columns);
      expect(parsed.garbage).toStrictEqual([]);
    });
  });

  it('reads noheader,nounits rows by the requested field list, aliases included', () => {
    const fields = ['timestamp', 'gpu_uuid', 'power.draw.average', 'power.draw', 'power.draw.instant', 'clocks.sm'];
    const text = [
      '2026/07/14 08:12:53.353, GPU-aaaaaaaa-0000-0000-0000-000000000000, 631.95, 631.95, 625.68, 1980',
      // Same sample, other GPU: average not filled, falls back per row to power.draw.
      '2026/07/14 08:12:53.360, GPU-bbbbbbbb-0000-0000-0000-000000000000, [N/A], 98.14, 97.00, 2070',
      // Neither average nor draw: the instant value is the last fallback.
      '2026/07/14 08:12:53.367, GPU-cccccccc-0000-0000-0000-000000000000, [N/A], [Unknown Error], 97.50, [N/A]',
      '',
    ].join('\n');
    expect(parseQueryGpuCsv(text, fields)).toStrictEqual({
      columns: ['timestamp', 'uuid', 'power.draw.average', 'power.draw', 'power.draw.instant', 'clocks.current.sm'],
      rows: [
        { uuid: 'GPU-aaaaaaaa-0000-0000-0000-000000000000', localTsMs: Date.UTC(2026, 6, 14, 8, 12, 53, 353), powerW: 631.95, powerField: 'power.draw.average', smClockMHz: 1980 },
        { uuid: 'GPU-bbbbbbbb-0000-0000-0000-000000000000', localTsMs: Date.UTC(2026, 6, 14, 8, 12, 53, 360), powerW: 98.14, powerField: 'power.draw', smClockMHz: 2070 },
        { uuid: 'GPU-cccccccc-0000-0000-0000-000000000000', localTsMs: Date.UTC(2026, 6, 14, 8, 12, 53, 367), powerW: 97.5, powerField: 'power.draw.instant' },
      ],
      garbage: [],
    });
  });

  it('takes columns from a header even with nounits (units stay in the header) and a requested list', () => {
    const text = 'uuid, power.draw [W], memory.used [MiB], utilization.gpu [%]\nGPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6, 28.16, 0, 0';
    expect(parseQueryGpuCsv(text, ['power.draw', 'uuid']).rows).toStrictEqual([
      { uuid: 'GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6', powerW: 28.16, powerField: 'power.draw', memUsedBytes: 0, utilRatio: 0 },
    ]);
  });

  it('returns lines that are not rows as garbage, never as zeros', () => {
    const fields = ['uuid', 'power.draw'];
    const text = 'Unable to determine the device handle for GPU 00000000:01:00.0: Unknown Error\nGPU-aaaaaaaa-0000, 12.5\nGPU-aaaaaaaa-0000\n, 5\n';
    expect(parseQueryGpuCsv(text, fields)).toStrictEqual({
      columns: fields,
      rows: [{ uuid: 'GPU-aaaaaaaa-0000', powerW: 12.5, powerField: 'power.draw' }],
      garbage: ['Unable to determine the device handle for GPU 00000000:01:00.0: Unknown Error', 'GPU-aaaaaaaa-0000', ', 5'],
    });
  });
});

describe('parseNumeric', () => {
  it.each([...ABSENT_VALUES].map((v) => ({ v })))('$v is absent', ({ v }) => {
    expect(parseNumeric('power.draw', v)).toBeUndefined();
  });

  it.each([
    { field: 'power.draw', raw: '631.95 W', want: 631.95 },
    { field: 'power.draw', raw: '631.95', want: 631.95 },
    { field: 'memory.used', raw: '19818 MiB', want: 19818 },
    { field: 'utilization.gpu', raw: '100 %', want: 100 },
    { field: 'clocks.current.sm', raw: ' 1980 MHz ', want: 1980 },
    { field: 'temperature.gpu', raw: '59', want: 59 },
    // A unit that does not belong to the field, or any other text, is not a number.
    { field: 'power.draw', raw: '631.95 MHz', want: undefined },
    { field: 'power.draw', raw: 'Enabled', want: undefined },
    { field: 'power.draw', raw: '[GPU is lost]', want: undefined },
    { field: 'power.draw', raw: undefined, want: undefined },
  ])('$field $raw → $want', ({ field, raw, want }) => {
    expect(parseNumeric(field, raw)).toBe(want);
  });
});

describe('parseTimestamp', () => {
  it('reads the local wall clock as UTC, to the millisecond', () => {
    expect(parseTimestamp('2026/07/14 08:12:53.353')).toBe(Date.UTC(2026, 6, 14, 8, 12, 53, 353));
  });
  it.each(['', '2026-07-14 08:12:53.353', '2026/07/14 08:12:53', '[N/A]'])('%j is absent', (raw) => {
    expect(parseTimestamp(raw)).toBeUndefined();
  });
});

describe('parseQueryGpuLine', () => {
  it('converts MiB to bytes through the protocol helper', () => {
    expect(parseQueryGpuLine('GPU-a, 81559', ['uuid', 'memory.used'])).toStrictEqual({ uuid: 'GPU-a', memUsedBytes: mibToBytes(81559) });
  });
});

describe('LineSplitter', () => {
  it('joins lines split across chunks and drops CR', () => {
    const s = new LineSplitter();
    expect(s.push('GPU-a, 1')).toStrictEqual([]);
    expect(s.push('2.5\r\nGPU-b, 3')).toStrictEqual(['GPU-a, 12.5']);
    expect(s.push('\n\nGPU-c')).toStrictEqual(['GPU-b, 3', '']);
    s.reset();
    expect(s.push(', 4\n')).toStrictEqual([', 4']);
  });

  it('drops a partial line that grows past the limit', () => {
    const s = new LineSplitter(8);
    expect(s.push('0123456789')).toStrictEqual([]);
    expect(s.droppedChars).toBe(10);
    expect(s.push('ab\n')).toStrictEqual(['ab']);
  });
});
