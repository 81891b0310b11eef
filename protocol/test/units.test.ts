import { describe, expect, it } from 'vitest';
import { jToKwh, jToMj, mibToBytes, mjToJ, percentToRatio, ujToMj, wattMsToMj } from '../src/units.js';

describe('units', () => {
  it('converts by hand-worked numbers', () => {
    expect(mibToBytes(81559)).toBe(85_520_809_984);
    expect(percentToRatio(87)).toBe(0.87);
    expect(mjToJ(1500)).toBe(1.5);
    expect(jToMj(1.2345)).toBe(1235);
    expect(ujToMj(262_143_328_850)).toBe(262_143_328);
    expect(jToKwh(3.6e6)).toBe(1);
    // 700 W for one hour is 0.7 kWh = 2.52e9 mJ.
    expect(wattMsToMj(700, 3_600_000)).toBe(2_520_000_000);
  });
});
