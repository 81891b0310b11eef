/** Energy reports: building them from the store, their formats, and the EED KPIs. */
import type { EnergyReport, ReportFormat } from '@stroom/protocol';
import { reportCsv } from './csv.js';
import { reportHtml } from './html.js';
import { htmlToPdf } from './pdf.js';

export { REPORT_COLUMNS, REPORT_METHOD, buildEnergyReport } from './build.js';
export type { ReportInput } from './build.js';
export { energyReportFromStore } from './from-store.js';
export { COVERAGE_METHOD, reportCoverage } from './coverage.js';
export { EED_REGULATION, L_PER_M3, eedKpis, eedReport } from './eed.js';
export type { EedInputs, IctEnergy } from './eed.js';
export { FacilityMeter, METER_CSV_HEADER, checkMeterPeriod, parseFacilityMeterCsv } from './facility-meter.js';
export { parseReportPeriod, parseReportTime } from './period.js';
export { csvField, reportCsv } from './csv.js';
export { barChart, chartBars, escapeHtml, reportHtml } from './html.js';
export { chromiumMissing, chromiumPath, htmlToPdf } from './pdf.js';

/** Content type and file extension of each format. */
export const REPORT_MEDIA: Readonly<Record<ReportFormat, { readonly type: string; readonly ext: string }>> = {
  csv: { type: 'text/csv; charset=utf-8; header=present', ext: 'csv' },
  json: { type: 'application/json; charset=utf-8', ext: 'json' },
  html: { type: 'text/html; charset=utf-8', ext: 'html' },
  pdf: { type: 'application/pdf', ext: 'pdf' },
};

/** A report in one format, as the bytes of a file. */
export async function renderReport(report: EnergyReport, format: ReportFormat): Promise<Buffer> {
  if (format === 'csv') return Buffer.from(reportCsv(report));
  if (format === 'json') return Buffer.from(`${JSON.stringify(report, null, 2)}\n`);
  const html = reportHtml(report);
  if (format === 'html') return Buffer.from(html);
  return htmlToPdf(html);
}
