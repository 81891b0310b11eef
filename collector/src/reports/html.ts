/**
 * The printable HTML report: one self-contained page (inline CSS and SVG, no scripts, no
 * external assets), laid out for A4 when printed. Bar charts are drawn as inline SVG here so
 * the page prints the same in any browser and in headless Chromium for the PDF.
 */
import type { EnergyReport, ReportFigures, ReportRow } from '@stroom/protocol';
import { isoTs } from '../accounting/time-series.js';

/** Most groups drawn per chart; the rest are summed into one "others" bar. */
export const CHART_BARS = 20;

/** Text made safe for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A number for people: about four significant digits, grouped thousands, never exponent notation. */
export function fmt(x: number | null, digits = 4): string {
  if (x === null) return 'n/a';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  const decimals = Math.min(6, Math.max(0, digits - 1 - Math.floor(Math.log10(abs))));
  return x.toLocaleString('en-GB', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

const label = (group: string): string => (group === '' ? '(not known)' : group);

/** A horizontal bar chart of one figure per group, as an SVG element. */
export function barChart(title: string, unit: string, bars: ReadonlyArray<{ label: string; value: number }>): string {
  const rowH = 18;
  const labelW = 190;
  const barW = 380;
  const width = labelW + barW + 90;
  const height = 28 + bars.length * rowH;
  const max = Math.max(0, ...bars.map((b) => b.value));
  const parts = bars.map((b, i) => {
    const y = 24 + i * rowH;
    const w = max > 0 ? (Math.max(0, b.value) / max) * barW : 0;
    const name = b.label.length > 28 ? `${b.label.slice(0, 27)}…` : b.label;
    return `<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${escapeHtml(name)}</text>` +
      `<rect x="${labelW}" y="${y + 2}" width="${w.toFixed(2)}" height="${rowH - 5}" fill="#2f6f9f"/>` +
      `<text x="${(labelW + w + 4).toFixed(2)}" y="${y + 12}">${escapeHtml(fmt(b.value))}</text>`;
  });
  return `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">` +
    `<text x="0" y="13" font-weight="bold">${escapeHtml(title)} (${escapeHtml(unit)})</text>${parts.join('')}</svg>`;
}

/** The bars of one figure: the largest CHART_BARS groups, then the rest as "others". */
export function chartBars(rows: readonly ReportRow[], key: keyof ReportFigures): Array<{ label: string; value: number }> {
  const sorted = [...rows].sort((a, b) => (b[key] ?? 0) - (a[key] ?? 0));
  const bars = sorted.slice(0, CHART_BARS).map((r) => ({ label: label(r.group), value: r[key] ?? 0 }));
  const rest = sorted.slice(CHART_BARS);
  if (rest.length > 0) bars.push({ label: `${rest.length} others`, value: rest.reduce((s, r) => s + (r[key] ?? 0), 0) });
  return bars;
}

const COLUMNS: ReadonlyArray<[keyof ReportFigures, string]> = [
  ['itEnergyKwh', 'IT kWh'], ['itOtherModelledKwh', 'of which modelled kWh'], ['facilityEnergyKwh', 'facility kWh'],
  ['co2eLocationKg', 'CO2e location kg'], ['co2eMarketKg', 'CO2e market kg'], ['embodiedCo2eKg', 'embodied CO2e kg'],
  ['costEur', 'cost EUR'], ['gpuHours', 'GPU-hours'], ['idleGpuHours', 'idle GPU-hours'], ['meanGpuUtil', 'mean GPU util.'],
];

function cells(f: ReportFigures): string {
  return COLUMNS.map(([k]) => `<td class="n">${k === 'meanGpuUtil' ? (f.meanGpuUtil === null ? 'n/a' : `${(f.meanGpuUtil * 100).toFixed(1)} %`) : fmt(f[k])}</td>`).join('');
}

const validity = (v: { fromTs: number | null; toTs: number | null }): string =>
  `${v.fromTs === null ? 'unbounded' : isoTs(v.fromTs).slice(0, 10)} to ${v.toTs === null ? 'unbounded' : isoTs(v.toTs).slice(0, 10)}`;

const CSS = `
@page { size: A4; margin: 14mm 12mm; }
body { font: 10pt/1.35 system-ui, sans-serif; color: #111; margin: 0 auto; max-width: 190mm; }
h1 { font-size: 15pt; margin: 0 0 2mm; } h2 { font-size: 12pt; margin: 6mm 0 2mm; break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; font-size: 8pt; }
th, td { border-bottom: 1px solid #ccc; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eef2f5; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr { break-inside: avoid; } thead { display: table-header-group; }
tfoot td { font-weight: bold; border-top: 1.5px solid #333; }
.meta td:first-child { width: 32mm; color: #444; } .warn { color: #8a3b00; } .small { font-size: 8pt; color: #333; }
.chart { display: block; max-width: 100%; height: auto; margin: 2mm 0; break-inside: avoid; }
`;

/** The whole report as one HTML document. */
export function reportHtml(r: EnergyReport): string {
  const e = escapeHtml;
  const c = r.coverage;
  const rows = r.rows.map((row) => `<tr><td>${e(label(row.group))}</td>${cells(row)}</tr>`).join('\n');
  const factors = r.factors.map((f) => {
    const value = typeof f.value === 'number' ? fmt(f.value, 6) : `${fmt(f.value.min, 6)} – ${fmt(f.value.max, 6)}`;
    return `<tr><td>${e(f.name)}</td><td class="n">${e(value)} ${e(f.unit)}</td><td>${e(f.quality)}</td><td>${e(validity(f.validity))}${f.outsideValidity ? ' <b class="warn">applied outside</b>' : ''}</td>` +
      `<td>${e(f.source)}${f.derivation === undefined ? '' : `<br><span class="small">${e(f.derivation)}</span>`}${f.note === undefined ? '' : `<br><span class="small">${e(f.note)}</span>`}</td></tr>`;
  }).join('\n');
  const gapsShown = c.gaps.slice(0, 500);
  const gaps = gapsShown.map((g) => `<tr><td>${e(g.node)}</td><td>${e(isoTs(g.fromTs))}</td><td>${e(isoTs(g.toTs))}</td><td class="n">${g.hours}</td></tr>`).join('\n');
  const eed = r.eed === null
    ? '<p>No facility meter data covers this period: PUE, REF, ERF and WUE need the facility\'s total energy, renewable energy, reused energy and water input (<code>--facility-meter</code> or <code>POST /api/v1/facility/meter</code>).</p>'
    : `<p class="small">${e(r.eed.regulation)}</p>
<table><thead><tr><th>KPI</th><th class="n">value</th><th>formula</th><th>numerator</th><th>denominator</th></tr></thead><tbody>
${r.eed.kpis.map((k) => `<tr><td><b>${k.name}</b> ${e(k.title)}</td><td class="n">${k.value === null ? 'n/a' : e(fmt(k.value, 4))} ${k.unit === '1' ? '' : e(k.unit)}</td><td>${e(k.formula)}</td><td>${e(k.numerator.name)}: ${e(fmt(k.numerator.value, 7))} ${e(k.numerator.unit)}</td><td>${e(k.denominator.name)}: ${e(fmt(k.denominator.value, 7))} ${e(k.denominator.unit)}</td></tr>`).join('\n')}
</tbody></table>
<p class="small">ICT energy = measured ${e(fmt(r.eed.ictMeasuredKwh, 7))} kWh + modelled ${e(fmt(r.eed.ictModelledKwh, 7))} kWh.</p>
<table><thead><tr><th>meter period</th><th class="n">total kWh</th><th class="n">renewable kWh</th><th class="n">reused kWh</th><th class="n">water m3</th><th>source</th></tr></thead><tbody>
${r.eed.periods.map((p) => `<tr><td>${e(isoTs(p.fromTs))} – ${e(isoTs(p.toTs))}</td><td class="n">${e(fmt(p.totalFacilityKwh, 7))}</td><td class="n">${e(fmt(p.renewableKwh, 7))}</td><td class="n">${e(fmt(p.reusedKwh, 7))}</td><td class="n">${e(fmt(p.waterM3, 7))}</td><td>${e(p.source)}</td></tr>`).join('\n')}
${r.eed.excluded.map((p) => `<tr class="warn"><td>${e(isoTs(p.fromTs))} – ${e(isoTs(p.toTs))}</td><td colspan="5">left out: only partly inside the report period</td></tr>`).join('\n')}
</tbody></table>
<ul class="small">${r.eed.notes.map((n) => `<li>${e(n)}</li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(r.title)}</title><style>${CSS}</style></head>
<body>
<h1>${e(r.title)}</h1>
<table class="meta"><tbody>
<tr><td>period</td><td>${e(isoTs(r.period.fromTs))} to ${e(isoTs(r.period.toTs))} (UTC hours starting in [from, to))</td></tr>
<tr><td>grouped by</td><td>${e(r.by)} (${r.rows.length} groups)</td></tr>
<tr><td>generated</td><td>${e(isoTs(r.generatedTs))}</td></tr>
<tr><td>data coverage</td><td>${c.share === null ? 'n/a' : `${(c.share * 100).toFixed(2)} %`} of node-hours measured (${c.measuredNodeHours} of ${c.expectedNodeHours} on ${c.nodes} nodes), ${c.gaps.length} gap(s)</td></tr>
</tbody></table>
${r.warnings.length === 0 ? '' : `<ul class="warn">${r.warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul>`}
<h2>Charts</h2>
${barChart(`IT energy by ${r.by}`, 'kWh', chartBars(r.rows, 'itEnergyKwh'))}
${barChart(`CO2e, location-based, by ${r.by}`, 'kg', chartBars(r.rows, 'co2eLocationKg'))}
<h2>Figures by ${e(r.by)}</h2>
<table><thead><tr><th>${e(r.by)}</th>${COLUMNS.map(([, t]) => `<th class="n">${e(t)}</th>`).join('')}</tr></thead>
<tbody>
${rows}
</tbody>
<tfoot>
<tr><td>all jobs</td>${cells(r.totals.jobs)}</tr>
<tr><td>unallocated (no job)</td>${cells(r.totals.unallocated)}</tr>
<tr><td>cluster</td>${cells(r.totals.cluster)}</tr>
</tfoot></table>
<h2>EU Energy Efficiency Directive KPIs</h2>
${eed}
<h2>Method</h2>
<p>${e(r.method.summary)}</p>
<table><thead><tr><th>column</th><th>unit</th><th>how it is computed</th></tr></thead><tbody>
${r.method.columns.map((col) => `<tr><td>${e(col.name)}</td><td>${e(col.unit)}</td><td>${e(col.description)}</td></tr>`).join('\n')}
</tbody></table>
<h2>Factors</h2>
<table><thead><tr><th>factor</th><th class="n">value applied</th><th>quality</th><th>validity</th><th>source</th></tr></thead><tbody>
${factors}
</tbody></table>
<h2>Data coverage</h2>
<p class="small">${e(c.method)}</p>
${c.gaps.length === 0 ? '<p>No gaps.</p>' : `<table><thead><tr><th>node</th><th>no data from</th><th>to</th><th class="n">hours</th></tr></thead><tbody>
${gaps}
</tbody></table>${c.gaps.length > gapsShown.length ? `<p class="small">… and ${c.gaps.length - gapsShown.length} more gaps (all are in the CSV and JSON formats).</p>` : ''}`}
</body></html>
`;
}
