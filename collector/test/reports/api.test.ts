/**
 * `GET /api/v1/reports/energy` and `/api/v1/facility/meter` on a collector started in-process on
 * 127.0.0.1:0, with books committed through its store: hand-worked figures, every format, and the
 * errors that name the bad parameter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { EnergyReportSchema } from '@stroom/protocol';
import { DEFAULT_EMBODIED } from '../../src/accounting/factors.js';
import type { FootprintFactors } from '../../src/accounting/factors.js';
import { AgentTokens } from '../../src/auth/agent-tokens.js';
import { startCollector } from '../../src/collector.js';
import type { Collector } from '../../src/collector.js';
import { alloc, effect, hello } from '../store/store.contract.js';

const H = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);
const KWH_MJ = 3.6e9;
const meta = { source: 'api test', validity: { fromTs: null, toTs: null }, quality: 'site' as const };
const factors: FootprintFactors = {
  pue: { ...meta, value: 1.5 }, gridIntensityLocation: { ...meta, value: 200 }, gridIntensityMarket: { ...meta, value: 0 },
  priceEurPerKwh: { ...meta, value: 0.1 }, embodied: DEFAULT_EMBODIED,
};

let collector: Collector;
let dir: string;
const url = (q: string): string => `${collector.url}/api/v1/reports/energy?${q}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stroom-report-api-'));
  collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: dir, tokens: new AgentTokens([['gcn1', 'token-for-gcn1-0123456789']]), log: pino({ level: 'silent' }), factors });
  collector.store.putNode(hello('gcn1', T0));
  collector.store.commit([
    effect({ node: 'gcn1', ts: T0 + 1000, jobs: [alloc('1', ['g0'], { account: 'surf-llm', startTs: T0 })], jobsMj: { 1: KWH_MJ }, gpuSeconds: { 1: 3600 }, idleMj: KWH_MJ / 2 }),
  ]);
});

afterAll(async () => {
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('reports API', () => {
  it('takes facility meter periods, and refuses one that overlaps', async () => {
    const period = { fromTs: T0, toTs: T0 + H, totalFacilityKwh: 3, renewableKwh: 1.5, reusedKwh: 0.75, waterM3: 0.006, source: 'meter M1' };
    const post = (body: unknown) => fetch(`${collector.url}/api/v1/facility/meter`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ok = await post({ periods: [period] });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ added: 1, replaced: 0, periods: [period] });
    const clash = await post({ ...period, fromTs: T0 - H });
    expect(clash.status).toBe(409);
    expect(((await clash.json()) as { error: string }).error).toMatch(/overlaps/);
    const bad = await post({ ...period, waterM3: -1 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^periods\.0\.waterM3: /);
  });

  it('answers JSON with hand-worked rows, totals, factors, coverage and EED KPIs', async () => {
    const res = await fetch(url('from=2025-01-01&to=2025-01-01T01:00:00Z&by=account'));
    expect(res.status).toBe(200);
    const r = EnergyReportSchema.parse(await res.json());
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]).toMatchObject({ group: 'surf-llm', itEnergyKwh: 1, facilityEnergyKwh: 1.5, co2eLocationKg: 0.3, co2eMarketKg: 0, gpuHours: 1 });
    expect(r.rows[0]?.costEur).toBeCloseTo(0.15, 12);
    expect(r.rows[0]?.embodiedCo2eKg).toBeCloseTo(150 / (6 * 8760), 12);
    expect(r.totals.unallocated.itEnergyKwh).toBe(0.5);
    expect(r.totals.cluster.facilityEnergyKwh).toBe(2.25);
    expect(r.coverage).toMatchObject({ nodes: 1, expectedNodeHours: 1, measuredNodeHours: 1, share: 1, gaps: [] });
    expect(r.factors.map((f) => f.name)).toEqual(['embodied.H100 SXM', 'gridIntensityLocation', 'gridIntensityMarket', 'priceEurPerKwh', 'pue']);
    // ICT = 1 kWh of jobs + 0.5 kWh idle; water 0.006 m3 = 6 L.
    expect(r.eed?.kpis.map((k) => [k.name, k.value])).toEqual([['PUE', 2], ['REF', 0.5], ['ERF', 0.25], ['WUE', 4]]);
  });

  it('answers CSV with the metadata as # lines above the header, and printable HTML with charts', async () => {
    const csv = await fetch(url('from=2025-01-01&to=2025-01-02&by=job&format=csv'));
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
    expect(csv.headers.get('content-disposition')).toBe('inline; filename="stroom-energy-by-job-2025-01-01_00-2025-01-02_00.csv"');
    const lines = (await csv.text()).trimEnd().split('\n');
    expect(lines[0]).toBe('# stroom energy report (schema stroom-energy-report v1)');
    const header = lines.findIndex((l) => !l.startsWith('#'));
    expect(lines.slice(header)).toEqual([
      'group,itEnergyKwh,itOtherModelledKwh,facilityEnergyKwh,co2eLocationKg,co2eMarketKg,embodiedCo2eKg,costEur,gpuHours,idleGpuHours,meanGpuUtil',
      `1,1,0,1.5,0.3,0,${0.150_000 / (6 * 8760) * 1000},${1.5 * 0.1},1,0,`,
    ]);
    expect(lines).toContain('# EED PUE (power usage effectiveness) = 2 1; PUE = E_DC / E_ICT; total data centre energy consumption 3 kWh; ICT equipment energy consumption 1.5 kWh');
    const html = await (await fetch(url('from=2025-01-01&to=2025-01-02&format=html'))).text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg class="chart"');
    expect(html).toContain('<td>surf-llm</td>');
  });

  it.each([
    ['to=2025-01-02', 400, 'query parameters from and to are required'],
    ['from=2025-01-01T00:30:00Z&to=2025-01-02', 400, 'query parameter from: 2025-01-01T00:30:00.000Z is not the start of a UTC hour'],
    ['from=2025-01-02&to=2025-01-01', 400, 'query parameter to: 2025-01-01T00:00:00.000Z is not after query parameter from'],
    ['from=2025-01-01&to=2025-01-02&by=team', 400, 'query parameter by: expected one of account, user, job, node, partition, got "team"'],
    ['from=2025-01-01&to=2025-01-02&format=xlsx', 400, 'query parameter format: expected one of csv, json, html, pdf, got "xlsx"'],
  ])('refuses %s with %d naming what is wrong', async (q, status, message) => {
    const res = await fetch(url(q));
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toContain(message);
  });
});
