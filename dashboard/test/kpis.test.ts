import { describe, expect, it } from 'vitest';
import type { ClusterSummary } from '@stroom/protocol';
import { kpiTexts, pageTitle, statusText } from '../src/kpis.js';

const summary: ClusterSummary = {
  ts: Date.UTC(2024, 0, 1, 12, 0, 0),
  nodes: 1000,
  gpus: 8000,
  powerW: 3_456_000,
  energyJ: 3.6e12 * 1.5,
  energyTodayJ: 3.6e6 * 41_234,
  jobsRunning: 321,
};

describe('big numbers', () => {
  it('formats the cluster summary with units', () => {
    const k = kpiTexts(summary, { nodes: 1000, nodesUp: 998, gpus: 8000, allocated: 6100, allocatedIdle: 85, meanRatio: 0.6 }, 57);
    expect(k.power).toMatchObject({ value: '3.46', unit: 'MW' });
    expect(k.energyToday).toEqual({ value: '41.2', unit: 'MWh', sub: '1.50 GWh since records began' });
    expect(k.nodes).toEqual({ value: '998', unit: '/ 1000 up', sub: '2 down' });
    expect(k.gpus).toEqual({ value: '8000', unit: 'GPUs', sub: '6100 allocated · 85 idle' });
    expect(k.jobs).toEqual({ value: '321', unit: 'jobs', sub: 'running now · 57 users' });
  });

  it('works from the REST summary alone', () => {
    const k = kpiTexts({ ...summary, jobsRunning: 1 }, null);
    expect(k.nodes).toEqual({ value: '—', unit: '/ 1000 up', sub: '1000 known' });
    expect(k.gpus.sub).toBe('—');
    expect(k.jobs).toEqual({ value: '1', unit: 'job', sub: 'running now' });
  });

  it('says all up when no node is down', () => {
    const k = kpiTexts(summary, { nodes: 1000, nodesUp: 1000, gpus: 8000, allocated: 0, allocatedIdle: 0, meanRatio: null }, 1);
    expect(k.nodes.sub).toBe('all up');
    expect(k.jobs.sub).toBe('running now · 1 user');
  });
});

describe('status and title', () => {
  it('names the state and the age of the data', () => {
    expect(statusText('live', 1000, 1500)).toEqual({ label: 'Live', detail: 'last update just now' });
    expect(statusText('stale', 1000, 13_000)).toEqual({ label: 'Stale', detail: 'last update 12 s ago' });
    expect(statusText('reconnecting', null, 0)).toEqual({ label: 'Reconnecting…', detail: 'no data yet' });
    expect(statusText('connecting', null, 0).label).toBe('Connecting…');
    expect(statusText('closed', null, 0).label).toBe('Disconnected');
  });
  it('puts power in the tab title and flags stale data', () => {
    expect(pageTitle(null, 'connecting')).toBe('stroom');
    expect(pageTitle(12_300, 'live')).toBe('12.3 kW · stroom');
    expect(pageTitle(12_300, 'stale')).toBe('(stale) 12.3 kW · stroom');
  });
});

describe('kpiTexts with modelled base power', () => {
  it('labels the modelled part of power and energy', () => {
    const c = { ts: Date.UTC(2026, 10, 30, 12, 0), nodes: 2, gpus: 8, powerW: 6000, energyJ: 3.6e6, energyTodayJ: 3.6e6, jobsRunning: 1, modelledPowerW: 1200 };
    const k = kpiTexts(c, null);
    expect(k.power.sub).toMatch(/incl\. 1\.2\d* kW modelled$/);
    expect(k.energyToday.sub).toBe('1.00 kWh since records began · incl. modelled base power');
  });
});
