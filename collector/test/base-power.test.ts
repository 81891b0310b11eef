import { describe, expect, it } from 'vitest';
import { basePowerOf, parseBasePowerRule } from '../src/base-power.js';

describe('base power rules', () => {
  it('matches node names by glob, first rule wins, 0 when none matches', () => {
    const of = basePowerOf(['gcn1?=900', 'gcn*=600', 'tcn*=250'].map(parseBasePowerRule));
    expect([of('gcn12'), of('gcn7'), of('tcn3'), of('login1')]).toEqual([900, 600, 250, 0]);
    expect(basePowerOf([parseBasePowerRule('450')])('anything')).toBe(450);
  });
  it('says what is wrong with a rule', () => {
    expect(() => parseBasePowerRule('gcn*=lots')).toThrow('base power "gcn*=lots": expected PATTERN=WATTS (e.g. gcn*=600) or WATTS');
  });
});
