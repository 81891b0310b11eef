import { describe, expect, it } from 'vitest';
import {
  MISSING,
  energyParts,
  formatAge,
  formatClock,
  formatCount,
  formatDuration,
  formatEnergy,
  formatKwh,
  formatPercent,
  formatPower,
  formatTemp,
  groupThousands,
  formatHm,
  powerInUnit,
  powerTick,
  powerParts,
  powerUnitFor,
  sig3,
} from '../src/format.js';

const TS = '\u2009'; // thin space between thousands

describe('sig3', () => {
  it('keeps about three significant digits without exponents', () => {
    expect(sig3(0)).toBe('0');
    expect(sig3(0.0123)).toBe('0.0123');
    expect(sig3(1.234)).toBe('1.23');
    expect(sig3(12.34)).toBe('12.3');
    expect(sig3(123.4)).toBe('123');
    expect(sig3(12345)).toBe(`12${TS}345`);
    expect(sig3(-4.567)).toBe('-4.57');
  });
  it('does not grow a fourth digit when rounding up', () => {
    expect(sig3(9.996)).toBe('10.0');
    expect(sig3(99.96)).toBe('100');
    expect(sig3(0.9996)).toBe('1.00');
    expect(sig3(-0.0001)).toBe('-0.000100');
  });
  it('groups thousands only from five digits', () => {
    expect(groupThousands('1234')).toBe('1234');
    expect(groupThousands('1234567.5')).toBe(`1${TS}234${TS}567.5`);
    expect(groupThousands('-12345')).toBe(`-12${TS}345`);
  });
});

describe('power', () => {
  it('picks W, kW, MW by size', () => {
    expect(formatPower(0)).toBe('0 W');
    expect(formatPower(412.4)).toBe('412 W');
    expect(formatPower(77)).toBe('77 W');
    expect(formatPower(4.4)).toBe('4 W');
    expect(formatPower(-0.2)).toBe('0 W');
    expect(formatPower(999.4)).toBe('999 W');
    expect(formatPower(999.6)).toBe('1.00 kW');
    expect(formatPower(12_345)).toBe('12.3 kW');
    expect(formatPower(456_000)).toBe('456 kW');
    expect(formatPower(1_250_000)).toBe('1.25 MW');
    expect(formatPower(2.5e9)).toBe('2.50 GW');
  });
  it('shows a missing value as a dash, never 0', () => {
    expect(formatPower(null)).toBe(MISSING);
    expect(formatPower(undefined)).toBe(MISSING);
    expect(formatPower(Number.NaN)).toBe(MISSING);
    expect(powerParts(null)).toEqual({ value: MISSING, unit: 'W' });
  });
  it('formats axis ticks in one shared unit', () => {
    expect(powerUnitFor(800)).toBe('W');
    expect(powerUnitFor(45_000)).toBe('kW');
    expect(powerUnitFor(2e6)).toBe('MW');
    expect(powerInUnit(1_500_000, 'MW')).toBe('1.50');
    expect(powerInUnit(250_000, 'kW')).toBe('250');
    expect(powerTick(2_500_000, 'MW')).toBe('2.5 MW');
    expect(powerTick(3_000_000, 'MW')).toBe('3 MW');
    expect(powerTick(20_000, 'kW')).toBe('20 kW');
    expect(powerTick(0, 'kW')).toBe('0 kW');
    expect(powerTick(100, 'W')).toBe('100 W');
  });
});

describe('energy', () => {
  it('converts joules to Wh, kWh, MWh', () => {
    expect(formatEnergy(3.6e6)).toBe('1.00 kWh');
    expect(formatEnergy(1.8e6)).toBe('500 Wh');
    expect(formatEnergy(3.6e6 * 42.42)).toBe('42.4 kWh');
    expect(formatEnergy(3.6e9 * 4.567)).toBe('4.57 MWh');
    expect(formatEnergy(3.6e12 * 1.2)).toBe('1.20 GWh');
    expect(energyParts(null)).toEqual({ value: MISSING, unit: 'kWh' });
  });
  it('formats table energy in kWh always', () => {
    expect(formatKwh(0)).toBe('0.000');
    expect(formatKwh(3.6e6 * 0.0823)).toBe('0.082');
    expect(formatKwh(3.6e6 * 1.234)).toBe('1.23');
    expect(formatKwh(3.6e6 * 12.34)).toBe('12.3');
    expect(formatKwh(3.6e6 * 12345.6)).toBe(`12${TS}346`);
    expect(formatKwh(null)).toBe(MISSING);
  });
});

describe('durations and ages', () => {
  it('uses at most two units', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(42_900)).toBe('42 s');
    expect(formatDuration(307_000)).toBe('5 min 07 s');
    expect(formatDuration((3 * 3600 + 5 * 60 + 59) * 1000)).toBe('3 h 05 min');
    expect(formatDuration((2 * 86_400 + 4 * 3600) * 1000)).toBe('2 d 04 h');
    expect(formatDuration(-5000)).toBe('0 s');
    expect(formatDuration(null)).toBe(MISSING);
  });
  it('says how old a reading is', () => {
    expect(formatAge(500)).toBe('just now');
    expect(formatAge(12_000)).toBe('12 s ago');
    expect(formatAge(180_000)).toBe('3 min ago');
    expect(formatAge(7_200_000)).toBe('2 h ago');
    expect(formatAge(3 * 86_400_000)).toBe('3 d ago');
  });
});

describe('other units', () => {
  it('percent, temperature, counts, clock', () => {
    expect(formatPercent(0.874)).toBe('87 %');
    expect(formatPercent(null)).toBe(MISSING);
    expect(formatTemp(63.4)).toBe('63 °C');
    expect(formatTemp(undefined)).toBe(MISSING);
    expect(formatCount(8000)).toBe('8000');
    expect(formatCount(12345)).toBe(`12${TS}345`);
    // 2024-05-01T13:04:05Z shown at UTC and at UTC+2 (offset -120 min, as getTimezoneOffset says).
    const ts = Date.UTC(2024, 4, 1, 13, 4, 5);
    expect(formatClock(ts, 0)).toBe('13:04:05');
    expect(formatClock(ts, -120)).toBe('15:04:05');
    expect(formatHm(ts, 0)).toBe('13:04');
  });
});
