import { describe, expect, it } from 'vitest';
import { factorLines, formatCo2e, formatEur, headroom, periodTexts, problemLines } from '../src/overview-model.js';

describe('headroom', () => {
  it('says "not configured" without a cap', () => {
    expect(headroom(40_000, null)).toMatchObject({ state: 'unconfigured', ratio: null, alert: null, sub: 'grid cap not configured (--grid-cap-kw)' });
  });
  it('is ok below 90 %, warns from 90 % and alerts over the cap, with units', () => {
    expect(headroom(44_000, 50_000)).toMatchObject({ state: 'ok', value: '88', unit: '% of cap', sub: '6.00 kW left of 50.0 kW', alert: null });
    const warn = headroom(45_000, 50_000);
    expect(warn.state).toBe('warn');
    expect(warn.alert).toBe('Cluster power 45.0 kW is at 90 % of the grid-connection cap (50.0 kW); the warning band starts at 90 %.');
    const over = headroom(52_000, 50_000);
    expect(over).toMatchObject({ state: 'over', sub: '2.00 kW over 50.0 kW' });
    expect(over.alert).toBe('Cluster power 52.0 kW is over the grid-connection cap of 50.0 kW (104 %).');
  });
});

describe('footprint texts', () => {
  it('prints CO2e and euros with units, and a dash when a factor had no value', () => {
    expect(formatCo2e(512)).toBe('512 g CO2e');
    expect(formatCo2e(12_345)).toBe('12.3 kg CO2e');
    expect(formatCo2e(4.2e6)).toBe('4.20 t CO2e');
    expect(formatEur(0.0123)).toBe('EUR 0.0123');
    expect(formatEur(12.5)).toBe('EUR 12.50');
    expect(periodTexts({ fromTs: 0, energyJ: 3.6e6, footprint: null, note: 'no value' })).toEqual({ energy: '1.00 kWh', co2e: '—', co2eMarket: '—', cost: '—' });
  });
  it('labels factors with their units and sources', () => {
    expect(factorLines([
      { name: 'pue', unit: '1', value: 1.58, source: 'Uptime', quality: 'indicative' },
      { name: 'gridIntensityLocation', unit: 'gCO2e/kWh', value: 267.6, source: 'Ember', quality: 'published' },
      { name: 'priceEurPerKwh', unit: 'EUR/kWh', value: 0.15, source: 'placeholder', quality: 'indicative' },
    ]).map((f) => `${f.label}: ${f.value}`)).toEqual(['PUE: 1.58', 'Carbon intensity, location-based: 268 g CO2e/kWh', 'Electricity price: EUR 0.150/kWh']);
  });
  it('describes problem nodes', () => {
    expect(problemLines([{ node: 'n1', agentUp: false, lastSeenTs: 0, sources: [{ name: 'nvml', state: 'disabled', reason: 'no driver' }] }])).toEqual([
      { node: 'n1', severity: 'down', text: 'agent not reporting; nvml disabled: no driver' },
    ]);
  });
});
