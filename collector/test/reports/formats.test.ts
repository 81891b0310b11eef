/**
 * Formatters on a hand-built report: CSV quoting and metadata lines, HTML escaping and charts,
 * and a real PDF printed by Debian's Chromium (skipped without it, except under CI=true).
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EnergyReport, ReportRow } from '@stroom/protocol';
import { barChart, chartBars, chromiumMissing, csvField, escapeHtml, htmlToPdf, renderReport, reportCsv, reportHtml } from '../../src/reports/index.js';
import { chromiumPath } from '../../src/reports/pdf.js';

const T0 = Date.UTC(2025, 0, 1);
const fig = { itEnergyKwh: 2, itOtherModelledKwh: 0.25, facilityEnergyKwh: 3, co2eLocationKg: 0.5, co2eMarketKg: 0, embodiedCo2eKg: 0.01, costEur: 0.45, gpuHours: 4, idleGpuHours: 1, meanGpuUtil: 0.5 };
const row = (group: string, kwh: number): ReportRow => ({ ...fig, group, itEnergyKwh: kwh });
const report: EnergyReport = {
  kind: 'stroom-energy-report', version: 1, title: 'Energy report by account', period: { fromTs: T0, toTs: T0 + 86_400_000 }, by: 'account', generatedTs: T0 + 90_000_000,
  rows: [row('proj, "big"', 2), row('<b>x</b>', 1), row('=cmd()', 0.5), row('', 0.25)],
  totals: { jobs: fig, unallocated: { ...fig, meanGpuUtil: null }, cluster: fig },
  method: { summary: 'Σ per hour.', columns: [{ name: 'itEnergyKwh', unit: 'kWh', description: 'IT energy.' }] },
  factors: [{ name: 'pue', unit: '1', value: 1.5, source: 'site meter', quality: 'site', validity: { fromTs: null, toTs: null }, appliedFromTs: T0, appliedToTs: T0 + 3_600_000, outsideValidity: false }],
  coverage: { nodes: 1, expectedNodeHours: 24, measuredNodeHours: 23, share: 23 / 24, gaps: [{ node: 'gcn1', fromTs: T0, toTs: T0 + 3_600_000, hours: 1 }], method: 'counted.' },
  eed: null,
  warnings: ['something to check'],
};

describe('CSV', () => {
  it('quotes what needs it and keeps spreadsheet formulas as text', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('=1+1')).toBe(`"'=1+1"`);
    expect(csvField(null)).toBe('');
    expect(csvField(0.1)).toBe('0.1');
  });

  it('writes the metadata as # lines, then the header and one line per row', () => {
    const lines = reportCsv(report).trimEnd().split('\n');
    const header = lines.findIndex((l) => !l.startsWith('# '));
    expect(lines.slice(0, header)).toEqual(expect.arrayContaining([
      '# period: 2025-01-01T00:00:00.000Z to 2025-01-02T00:00:00.000Z (UTC hours starting in [from, to))',
      '# generated: 2025-01-02T01:00:00.000Z',
      '# method: Σ per hour.',
      '# column itEnergyKwh [kWh]: IT energy.',
      '# factor pue = 1.5 1; quality site; valid unbounded to unbounded; applied 2025-01-01T00:00:00.000Z to 2025-01-01T01:00:00.000Z; source: site meter',
      '# coverage: 23 of 24 node-hours measured (95.833 %) on 1 nodes; 1 gap(s)',
      '# gap gcn1 2025-01-01T00:00:00.000Z to 2025-01-01T01:00:00.000Z (1 h)',
      '# total unallocated: itEnergyKwh=2 itOtherModelledKwh=0.25 facilityEnergyKwh=3 co2eLocationKg=0.5 co2eMarketKg=0 embodiedCo2eKg=0.01 costEur=0.45 gpuHours=4 idleGpuHours=1 meanGpuUtil=n/a',
      '# warning: something to check',
    ]));
    expect(lines.slice(header)).toEqual([
      'group,itEnergyKwh,itOtherModelledKwh,facilityEnergyKwh,co2eLocationKg,co2eMarketKg,embodiedCo2eKg,costEur,gpuHours,idleGpuHours,meanGpuUtil',
      '"proj, ""big""",2,0.25,3,0.5,0,0.01,0.45,4,1,0.5',
      '<b>x</b>,1,0.25,3,0.5,0,0.01,0.45,4,1,0.5',
      `"'=cmd()",0.5,0.25,3,0.5,0,0.01,0.45,4,1,0.5`,
      ',0.25,0.25,3,0.5,0,0.01,0.45,4,1,0.5',
    ]);
  });
});

describe('HTML', () => {
  it('escapes every text it prints and draws a bar per group', () => {
    const html = reportHtml(report);
    expect(html).not.toContain('<b>x</b>');
    expect(html).toContain(escapeHtml('<b>x</b>'));
    expect(html).toContain('(not known)');
    expect(html).toContain('No facility meter data covers this period');
    expect(html.match(/<svg class="chart"/g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|src="http|href="http/);
  });

  it('scales bars to the largest value and sums the groups past the limit as others', () => {
    const svg = barChart('IT', 'kWh', [{ label: 'a', value: 4 }, { label: 'b', value: 1 }]);
    expect(svg).toContain('<rect x="190" y="26" width="380.00"');
    expect(svg).toContain('<rect x="190" y="44" width="95.00"');
    const many = Array.from({ length: 25 }, (_, i) => row(`g${i}`, i + 1));
    const bars = chartBars(many, 'itEnergyKwh');
    expect(bars).toHaveLength(21);
    expect(bars[0]).toEqual({ label: 'g24', value: 25 });
    expect(bars[20]).toEqual({ label: '5 others', value: 1 + 2 + 3 + 4 + 5 });
  });
});

const CHROMIUM = chromiumPath();
const HOW = 'install Debian chromium: deploy/local/chromium.sh';
if (!existsSync(CHROMIUM) && process.env['CI'] === 'true') throw new Error(`no Chromium at ${CHROMIUM} under CI=true: ${HOW}`);

describe('PDF', () => {
  it.skipIf(!existsSync(CHROMIUM))(`prints the HTML to a real PDF with pages (skipped without Chromium: ${HOW})`, async () => {
    const pdf = await renderReport(report, 'pdf');
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const text = pdf.toString('latin1');
    const pages = text.match(/\/Type\s*\/Page[^s]/g) ?? [];
    expect(pages.length).toBeGreaterThanOrEqual(1);
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
  }, 60_000);

  it('says how to install Chromium when there is none', async () => {
    await expect(htmlToPdf('<p>x</p>', '/nonexistent/chromium')).rejects.toThrow(chromiumMissing('/nonexistent/chromium').message);
    expect(chromiumMissing('/x').message).toContain('deploy/local/chromium.sh');
  });
});
