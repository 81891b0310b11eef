import { describe, expect, it } from 'vitest';
import { isTimeZone, startOfDayMs } from '../src/time/day.js';

describe('startOfDayMs', () => {
  it('finds local midnight in Amsterdam in winter and summer, and on the DST days', () => {
    expect(startOfDayMs(Date.UTC(2026, 10, 30, 11, 10), 'Europe/Amsterdam')).toBe(Date.UTC(2026, 10, 29, 23, 0));
    expect(startOfDayMs(Date.UTC(2026, 6, 1, 0, 30), 'Europe/Amsterdam')).toBe(Date.UTC(2026, 5, 30, 22, 0));
    // 29 March 2026: clocks go 02:00 -> 03:00; midnight was still UTC+1.
    expect(startOfDayMs(Date.UTC(2026, 2, 29, 20, 0), 'Europe/Amsterdam')).toBe(Date.UTC(2026, 2, 28, 23, 0));
    // 25 October 2026: clocks go 03:00 -> 02:00; midnight was UTC+2.
    expect(startOfDayMs(Date.UTC(2026, 9, 25, 20, 0), 'Europe/Amsterdam')).toBe(Date.UTC(2026, 9, 24, 22, 0));
    expect(startOfDayMs(Date.UTC(2026, 10, 30, 11, 10, 5, 7), 'UTC')).toBe(Date.UTC(2026, 10, 30));
  });
  it('knows a real zone from a typo', () => {
    expect(isTimeZone('Europe/Amsterdam')).toBe(true);
    expect(isTimeZone('Europe/Amsterdm')).toBe(false);
  });
});
