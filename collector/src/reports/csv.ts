/**
 * CSV of a report: a block of `# ` comment lines with all the metadata, then one header line
 * and one line per row. One file, because a report that travels by mail or sits in an archive
 * must not lose its method and factors to a separate sidecar; `#` lines are skipped by
 * pandas (`comment='#'`), R (`comment.char='#'`) and csvkit, and a spreadsheet shows them
 * as text rows above the table. Numbers are written at full precision with a dot, times in
 * ISO 8601 UTC, an unknown mean utilisation as an empty cell. RFC 4180 quoting.
 */
import type { EnergyReport, ReportFigures, ReportRow } from '@stroom/protocol';
import { isoTs } from '../accounting/time-series.js';

const FIGURES: ReadonlyArray<keyof ReportFigures> = [
  'itEnergyKwh', 'itOtherModelledKwh', 'facilityEnergyKwh', 'co2eLocationKg', 'co2eMarketKg', 'embodiedCo2eKg', 'costEur', 'gpuHours', 'idleGpuHours', 'meanGpuUtil',
];

/** One CSV field, quoted when it holds a comma, quote or line break. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = typeof value === 'number' ? String(value) : value;
  // A leading = + - @ makes spreadsheets evaluate a cell as a formula; a quote and a leading ' keep it text.
  const guarded = typeof value === 'string' && /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(guarded) || guarded !== text ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}

function comment(lines: string[], text: string): void {
  for (const line of text.split(/\r?\n/)) lines.push(`# ${line}`);
}

function figureText(f: ReportFigures): string {
  return FIGURES.map((k) => `${k}=${f[k] === null ? 'n/a' : String(f[k])}`).join(' ');
}

/** The whole report as CSV text (with a trailing newline). */
export function reportCsv(r: EnergyReport): string {
  const lines: string[] = [];
  comment(lines, `stroom energy report (schema ${r.kind} v${r.version})`);
  comment(lines, `title: ${r.title}`);
  comment(lines, `period: ${isoTs(r.period.fromTs)} to ${isoTs(r.period.toTs)} (UTC hours starting in [from, to))`);
  comment(lines, `grouped by: ${r.by}`);
  comment(lines, `generated: ${isoTs(r.generatedTs)}`);
  comment(lines, `method: ${r.method.summary}`);
  for (const c of r.method.columns) comment(lines, `column ${c.name}${c.unit === '' ? '' : ` [${c.unit}]`}: ${c.description}`);
  for (const f of r.factors) {
    const value = typeof f.value === 'number' ? String(f.value) : `${f.value.min}..${f.value.max}`;
    const validity = `${f.validity.fromTs === null ? 'unbounded' : isoTs(f.validity.fromTs)} to ${f.validity.toTs === null ? 'unbounded' : isoTs(f.validity.toTs)}`;
    comment(lines, `factor ${f.name} = ${value} ${f.unit}; quality ${f.quality}; valid ${validity}; applied ${isoTs(f.appliedFromTs)} to ${isoTs(f.appliedToTs)}${f.outsideValidity ? ' (partly OUTSIDE its validity)' : ''}; source: ${f.source}${f.derivation === undefined ? '' : `; derivation: ${f.derivation}`}${f.note === undefined ? '' : `; note: ${f.note}`}`);
  }
  const c = r.coverage;
  comment(lines, `coverage: ${c.measuredNodeHours} of ${c.expectedNodeHours} node-hours measured (${c.share === null ? 'n/a' : `${(c.share * 100).toFixed(3)} %`}) on ${c.nodes} nodes; ${c.gaps.length} gap(s)`);
  comment(lines, `coverage method: ${c.method}`);
  for (const g of c.gaps) comment(lines, `gap ${g.node} ${isoTs(g.fromTs)} to ${isoTs(g.toTs)} (${g.hours} h)`);
  comment(lines, `total jobs: ${figureText(r.totals.jobs)}`);
  comment(lines, `total unallocated: ${figureText(r.totals.unallocated)}`);
  comment(lines, `total cluster: ${figureText(r.totals.cluster)}`);
  if (r.eed !== null) {
    comment(lines, `EED: ${r.eed.regulation}`);
    for (const k of r.eed.kpis) {
      comment(lines, `EED ${k.name} (${k.title}) = ${k.value === null ? 'n/a' : String(k.value)} ${k.unit}; ${k.formula}; ${k.numerator.name} ${k.numerator.value} ${k.numerator.unit}; ${k.denominator.name} ${k.denominator.value} ${k.denominator.unit}`);
    }
    comment(lines, `EED ICT energy: measured ${r.eed.ictMeasuredKwh} kWh + modelled ${r.eed.ictModelledKwh} kWh`);
    for (const p of r.eed.periods) comment(lines, `EED meter period ${isoTs(p.fromTs)} to ${isoTs(p.toTs)}: total ${p.totalFacilityKwh} kWh, renewable ${p.renewableKwh} kWh, reused ${p.reusedKwh} kWh, water ${p.waterM3} m3; source: ${p.source}`);
    for (const p of r.eed.excluded) comment(lines, `EED meter period ${isoTs(p.fromTs)} to ${isoTs(p.toTs)} left out: only partly inside the report period`);
    for (const n of r.eed.notes) comment(lines, `EED note: ${n}`);
  }
  for (const w of r.warnings) comment(lines, `warning: ${w}`);
  lines.push(['group', ...FIGURES].join(','));
  for (const row of r.rows) lines.push(rowLine(row));
  return `${lines.join('\n')}\n`;
}

function rowLine(row: ReportRow): string {
  return [csvField(row.group), ...FIGURES.map((k) => csvField(row[k]))].join(',');
}
