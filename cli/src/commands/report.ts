/**
 * `stroom report`: an energy report over a period, grouped by account, user, job, node or
 * partition, from the collector's `GET /api/v1/reports/energy`. The report comes as JSON,
 * checked against the protocol schema, and is formatted here with the collector's own
 * formatters, so a PDF prints with this machine's Chromium and the rows are the API's rows.
 */
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { REPORT_FORMATS, REPORT_GROUP_BY } from '@stroom/protocol/wire';
import type { EnergyReport, ReportFormat, ReportGroupBy } from '@stroom/protocol';
import { intBetween } from '../options.js';
import { apiUrl, checkedAnswer, collectorBase, DEFAULT_COLLECTOR_URL, errorText, getFromCollector, readToken } from '../collector-client.js';

interface ReportCliOptions {
  from: string;
  to: string;
  by: ReportGroupBy;
  format: ReportFormat;
  output?: string;
  collector: string;
  token?: string;
  tokenFile?: string;
  timeoutMs: number;
  progress: boolean;
}

/** The `report` subcommand. */
export function reportCommand(): Command {
  return new Command('report')
    .description('energy report over a period (IT and facility kWh, CO2e, embodied carbon, cost, GPU-hours, utilisation) with its method, factors, data coverage and, given facility meter data, the EU EED KPIs')
    .requiredOption('--from <time>', 'start, included: a date (2025-01-01, UTC midnight), a UTC date-time on the hour (2025-01-01T00:00:00Z) or ms since the epoch')
    .requiredOption('--to <time>', 'end, excluded (same forms as --from)')
    .addOption(new Option('--by <group>', 'one row per').choices(REPORT_GROUP_BY).default('account'))
    .addOption(new Option('--format <format>', 'file format: csv (metadata as # lines), json, html (printable, with charts) or pdf (the html printed by Chromium)').choices(REPORT_FORMATS).default('csv'))
    .option('-o, --output <file>', 'write the report to this file instead of stdout')
    .addOption(new Option('--collector <url>', 'collector URL').env('STROOM_COLLECTOR_URL').default(DEFAULT_COLLECTOR_URL))
    .addOption(new Option('--token <token>', 'bearer token (an operator\'s) for the collector API, where it asks for one (prefer --token-file)').env('STROOM_TOKEN'))
    .option('--token-file <file>', 'file holding the bearer token')
    .option('--timeout-ms <ms>', 'give up on the collector after this long', intBetween(100, 3_600_000), 600_000)
    .option('--no-progress', 'no progress bar (it is shown only when stderr is a terminal)')
    .action(async (o: ReportCliOptions) => {
      const { parseReportPeriod, renderReport } = await import('@stroom/collector');
      const period = parseReportPeriod(o.from, o.to, ['--from', '--to']);
      if (o.format === 'pdf' && o.output === undefined && process.stdout.isTTY === true) throw new Error('--format pdf: give -o FILE (a PDF is not for the terminal)');
      const token = o.tokenFile === undefined ? o.token : readToken(o.tokenFile);
      const report = await fetchReport({ collectorUrl: o.collector, ...period, by: o.by, token, timeoutMs: o.timeoutMs, progress: o.progress && process.stderr.isTTY === true });
      const bytes = await renderReport(report, o.format);
      if (o.output === undefined) process.stdout.write(bytes);
      else {
        writeFileSync(o.output, bytes);
        process.stderr.write(`stroom report: ${report.rows.length} rows by ${report.by}, ${o.format}, ${bytes.length} bytes written to ${o.output}\n`);
      }
    });
}



/** What `fetchReport` needs. */
export interface FetchReportOptions {
  readonly collectorUrl: string;
  readonly fromTs: number;
  readonly toTs: number;
  readonly by: ReportGroupBy;
  readonly token: string | undefined;
  readonly timeoutMs: number;
  /** Draw a progress bar of the download on stderr. */
  readonly progress: boolean;
}

/** Fetch the report as JSON and check it against the schema; every failure says what to check. */
export async function fetchReport(o: FetchReportOptions): Promise<EnergyReport> {
  const base = collectorBase(o.collectorUrl);
  const url = apiUrl(base, 'api/v1/reports/energy');
  url.search = new URLSearchParams({ from: String(o.fromTs), to: String(o.toTs), by: o.by, format: 'json' }).toString();
  if (o.progress) process.stderr.write(`stroom report: the collector at ${base.origin} is building the report by ${o.by}...\n`);
  const res = await getFromCollector(url, base, { token: o.token, timeoutMs: o.timeoutMs });
  const text = await readBody(res, o.progress);
  if (res.status === 401 || res.status === 403) throw new Error(`the collector at ${base.origin} refused the report (HTTP ${res.status}): reports need an operator's token (--token-file or STROOM_TOKEN)`);
  if (!res.ok) throw new Error(`the collector at ${base.origin} answered HTTP ${res.status}: ${errorText(text)}`);
  // zod loads here, for a report, not for every `stroom` command.
  const { EnergyReportSchema } = await import('@stroom/protocol');
  return checkedAnswer(text, base, EnergyReportSchema, 'a report');
}

/** The body as text, with a progress bar of the bytes received when asked (and the size is known). */
async function readBody(res: Response, progress: boolean): Promise<string> {
  const total = Number(res.headers.get('content-length') ?? NaN);
  if (!progress || res.body === null || !Number.isFinite(total) || total <= 0) return res.text();
  const bar = new SingleBar({ format: 'stroom report |{bar}| {percentage}% {value}/{total} KiB', stream: process.stderr, hideCursor: true, clearOnComplete: false });
  bar.start(Math.ceil(total / 1024), 0);
  const chunks: Uint8Array[] = [];
  let received = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      chunks.push(chunk);
      received += chunk.length;
      bar.update(Math.floor(received / 1024));
    }
    bar.update(Math.ceil(total / 1024));
  } finally {
    bar.stop();
  }
  return Buffer.concat(chunks).toString('utf8');
}

