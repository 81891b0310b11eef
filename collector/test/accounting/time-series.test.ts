import { describe, expect, it } from 'vitest';
import { hourStartMs, valueAt, valueForHour, type SeriesPoint } from '../../src/accounting/time-series.js';

const t = (iso: string): number => Date.parse(iso);

describe('time-series', () => {
  describe('#hourStartMs', () => {
    it.each([
      ['2024-05-14T10:00:00.000Z', '2024-05-14T10:00:00.000Z'],
      ['2024-05-14T10:59:59.999Z', '2024-05-14T10:00:00.000Z'],
      ['2024-05-14T11:00:00.000Z', '2024-05-14T11:00:00.000Z'],
      ['1969-12-31T23:30:00.000Z', '1969-12-31T23:00:00.000Z'],
    ])('%s is in the hour starting %s', (ts, hour) => {
      expect(hourStartMs(t(ts))).toBe(t(hour));
    });
  });

  describe('#valueAt (step semantics)', () => {
    const series: SeriesPoint[] = [
      { fromTs: t('2024-01-01T00:00:00Z'), value: 100 },
      { fromTs: t('2024-01-01T06:00:00Z'), value: 200 },
      { fromTs: t('2024-01-02T00:00:00Z'), value: 50 },
    ];
    it.each([
      ['2023-12-31T23:59:59.999Z', undefined], // before the first point: no value
      ['2024-01-01T00:00:00Z', 100], // a point takes effect at its own time
      ['2024-01-01T05:59:59.999Z', 100], // and holds until the next
      ['2024-01-01T06:00:00Z', 200],
      ['2024-01-01T23:00:00Z', 200],
      ['2024-01-02T00:00:00Z', 50],
      ['2030-01-01T00:00:00Z', 50], // the last point holds for ever
    ])('at %s the value is %s', (ts, value) => {
      expect(valueAt(series, t(ts))).toBe(value);
    });
    it('has no value in an empty series', () => {
      expect(valueAt([], 0)).toBeUndefined();
    });
  });

  describe('#valueForHour', () => {
    it('uses the value in force at the start of the hour, so a mid-hour point starts with the next hour', () => {
      const series: SeriesPoint[] = [
        { fromTs: t('2024-05-14T10:00:00Z'), value: 0.1 },
        { fromTs: t('2024-05-14T11:30:00Z'), value: 0.3 },
      ];
      expect([10, 11, 12].map((h) => valueForHour(series, Date.UTC(2024, 4, 14, h, 45)))).toEqual([0.1, 0.1, 0.3]);
    });

    it('has one value per UTC hour across the spring daylight-saving change (Amsterdam skips 02:00 local at 01:00Z)', () => {
      // 2024-03-31: local 02:00 CET does not exist in Europe/Amsterdam; in UTC nothing is skipped.
      const series: SeriesPoint[] = [0, 1, 2, 3].map((h) => ({ fromTs: Date.UTC(2024, 2, 31, h), value: 10 + h }));
      expect(['00:30', '01:00', '01:59:59.999', '02:00', '03:15'].map((hm) => valueForHour(series, t(`2024-03-31T${hm}Z`)))).toEqual([
        10, 11, 11, 12, 13,
      ]);
    });

    it('keeps both hours apart across the autumn change (local 02:00-03:00 happens twice, 00:00Z and 01:00Z)', () => {
      const series: SeriesPoint[] = [
        { fromTs: t('2024-10-27T00:00:00Z'), value: 1 }, // 02:00 CEST
        { fromTs: t('2024-10-27T01:00:00Z'), value: 2 }, // 02:00 CET, the repeated local hour
      ];
      expect([valueForHour(series, t('2024-10-27T00:30:00Z')), valueForHour(series, t('2024-10-27T01:30:00Z'))]).toEqual([1, 2]);
    });
  });
});
