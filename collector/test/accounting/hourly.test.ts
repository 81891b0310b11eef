import { describe, expect, it } from 'vitest';
import { intervalToHourRecords, splitByHour } from '../../src/accounting/hourly.js';

const at = (hm: string): number => Date.parse(`2024-05-14T${hm}:00Z`);
const H = 3_600_000;

describe('hourly', () => {
  describe('#splitByHour', () => {
    it('splits a job from 10:30 to 12:15 in proportion to time: 30, 60 and 15 of 105 minutes', () => {
      // 1050 J over 105 min: 10:00 bucket 1050 x 30/105 = 300 J, 11:00 1050 x 60/105 = 600 J, 12:00 1050 x 15/105 = 150 J.
      expect(splitByHour(1050, at('10:30'), at('12:15'))).toEqual([
        { hourTs: at('10:00'), amount: 300, overlapMs: 30 * 60_000 },
        { hourTs: at('11:00'), amount: 600, overlapMs: H },
        { hourTs: at('12:00'), amount: 150, overlapMs: 15 * 60_000 },
      ]);
    });

    it('keeps an interval inside one hour in that hour', () => {
      expect(splitByHour(42, at('10:05'), at('10:50'))).toEqual([{ hourTs: at('10:00'), amount: 42, overlapMs: 45 * 60_000 }]);
    });

    it('adds no empty bucket when the interval ends on the hour', () => {
      expect(splitByHour(10, at('10:00'), at('12:00'))).toEqual([
        { hourTs: at('10:00'), amount: 5, overlapMs: H },
        { hourTs: at('11:00'), amount: 5, overlapMs: H },
      ]);
    });

    it('puts the energy of an empty interval in its hour, and nothing when there is none', () => {
      expect(splitByHour(5, at('10:20'), at('10:20'))).toEqual([{ hourTs: at('10:00'), amount: 5, overlapMs: 0 }]);
      expect(splitByHour(0, at('10:20'), at('10:20'))).toEqual([]);
    });

    it('keeps the total, to floating-point precision, for an awkward split', () => {
      const total = 1e9 / 7;
      const parts = splitByHour(total, at('10:17') + 123, at('10:17') + 26 * H + 456);
      expect(parts).toHaveLength(27);
      expect(parts.reduce((s, p) => s + p.amount, 0)).toBeCloseTo(total, 4);
    });

    it('refuses an interval that ends before it starts', () => {
      expect(() => splitByHour(1, at('11:00'), at('10:00'))).toThrow(
        new Error('splitByHour: toTs 2024-05-14T10:00:00.000Z is before fromTs 2024-05-14T11:00:00.000Z'),
      );
    });
  });

  describe('#intervalToHourRecords', () => {
    it('gives per-hour energy and GPU-seconds (GPUs x seconds in the hour) for a 4-GPU job from 10:30 to 12:15', () => {
      // 6.3e8 J over 105 min: 1.8e8, 3.6e8, 9e7 J; 4 GPUs x 1800 s, 3600 s, 900 s.
      expect(intervalToHourRecords({ fromTs: at('10:30'), toTs: at('12:15'), itEnergyJ: 6.3e8, gpus: 4, gpuModel: 'NVIDIA H100 80GB HBM3' })).toEqual([
        { hourTs: at('10:00'), itEnergyJ: 1.8e8, gpuSeconds: 7200, gpuModel: 'NVIDIA H100 80GB HBM3' },
        { hourTs: at('11:00'), itEnergyJ: 3.6e8, gpuSeconds: 14_400, gpuModel: 'NVIDIA H100 80GB HBM3' },
        { hourTs: at('12:00'), itEnergyJ: 9e7, gpuSeconds: 3600, gpuModel: 'NVIDIA H100 80GB HBM3' },
      ]);
    });
  });
});
