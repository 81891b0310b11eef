/**
 * `stroom job <id>`: one job's energy, carbon, cost and GPU use, from the collector's
 * `GET /api/v1/jobs/{id}`, for a user during or after the job. `--summary-line` prints the
 * one-liner the Slurm epilog appends to the job's output file and AdminComment.
 */
import { Command, Option } from 'commander';
// The light part of the protocol at start-up; the zod schemas load when a job is fetched, so
// other commands (the agent on every node) never carry them.
import { IDLE_GPU_UTIL_RATIO, jToKwh } from '@stroom/protocol/wire';
import type { FactorUse, JobDetail } from '@stroom/protocol';
import { intBetween } from '../options.js';
import { apiUrl, checkedAnswer, collectorBase, DEFAULT_COLLECTOR_URL, errorText, getFromCollector, readToken } from '../collector-client.js';

/** What the job view reads: the collector's JobDetail. */
export type JobView = JobDetail;

interface JobCliOptions {
  collector: string;
  token?: string;
  tokenFile?: string;
  json: boolean;
  summaryLine: boolean;
  timeoutMs: number;
}

/** The `job` subcommand. */
export function jobCommand(): Command {
  return new Command('job')
    .description("one job's energy (GPU, CPU, modelled other), CO2e, embodied carbon, cost and GPU use, during or after the job")
    .argument('<id>', "the job's id (Slurm's job id, as squeue %A prints it)")
    .addOption(new Option('--collector <url>', 'collector URL').env('STROOM_COLLECTOR_URL').default(DEFAULT_COLLECTOR_URL))
    .addOption(new Option('--token <token>', 'bearer token for the collector API, where it asks for one (prefer --token-file)').env('STROOM_TOKEN'))
    .option('--token-file <file>', 'file holding the bearer token')
    .option('--json', 'print the collector\'s answer as JSON (the JobDetail schema)', false)
    .option('--summary-line', 'print one line, for job output files and Slurm AdminComment', false)
    .option('--timeout-ms <ms>', 'give up on the collector after this long', intBetween(100, 600_000), 10_000)
    .action(async (id: string, o: JobCliOptions) => {
      const job = await fetchJob(o.collector, id, o.tokenFile === undefined ? o.token : readToken(o.tokenFile), o.timeoutMs);
      if (o.json) process.stdout.write(JSON.stringify(job, null, 2) + '\n');
      else if (o.summaryLine) process.stdout.write(summaryLine(job, Date.now()) + '\n');
      else process.stdout.write(jobScreen(job, Date.now(), colours(process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined)));
    });
}


/** Fetch and validate one job; every failure becomes an Error that says what to check. */
export async function fetchJob(collectorUrl: string, id: string, token: string | undefined, timeoutMs: number): Promise<JobView> {
  const base = collectorBase(collectorUrl);
  const res = await getFromCollector(apiUrl(base, `api/v1/jobs/${encodeURIComponent(id)}`), base, { token, timeoutMs, runsHint: ' (systemctl status stroom-collector)' });
  const text = await res.text();
  if (res.status === 404) {
    // With a user's token the collector answers other users' jobs as unknown, so ids do not leak.
    const notYours = token === undefined ? '' : ', or it is not one of your jobs';
    throw new Error(`job ${id} is not known to the collector at ${base.origin}: no agent has reported it (yet), or the id is wrong (use Slurm's job id, as squeue %A prints it)${notYours}`);
  }
  if (res.status === 401 || res.status === 403) throw new Error(`the collector at ${base.origin} refused the request (HTTP ${res.status}: ${errorText(text)}): give your user or operator token with --token-file or STROOM_TOKEN`);
  if (!res.ok) throw new Error(`the collector at ${base.origin} answered HTTP ${res.status} for job ${id}: ${errorText(text)}`);
  const { JobDetailSchema } = await import('@stroom/protocol');
  return checkedAnswer(text, base, JobDetailSchema, 'a job');
}

/** A number with about four significant digits, never in exponent notation. */
export function num(x: number): string {
  const abs = Math.abs(x);
  if (abs === 0) return '0';
  const decimals = abs >= 1000 ? 0 : Math.min(20, Math.max(0, 3 - Math.floor(Math.log10(abs))));
  return x.toFixed(decimals);
}

/** A duration as `1 h 02 min 03 s` (or `2 min 03 s`, `45 s`). */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${h} h ${pad(m)} min ${pad(sec)} s`;
  if (m > 0) return `${m} min ${pad(sec)} s`;
  return `${sec} s`;
}

/** Time in UTC, to the second. */
function utc(ts: number): string {
  return new Date(ts).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}

const kwh = (j: number) => `${num(jToKwh(j))} kWh`;
/** CO2e grams as kg (jobs are rarely under a gram, and kg is what people compare). */
const kg = (g: number) => `${num(g / 1000)} kg CO2e`;
/** Cents, unless the whole cost is under a cent (short jobs), then four significant digits. */
const eur = (x: number) => `${Math.abs(x) >= 0.01 || x === 0 ? x.toFixed(2) : num(x)} EUR`;
const gpuH = (h: number) => `${num(h)} GPU-h`;
const pct = (r: number) => `${(r * 100).toFixed(1)} %`;

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

function runMs(job: JobView, nowTs: number): number {
  return (job.endTs ?? nowTs) - job.startTs;
}

function utilText(job: JobView): string {
  return job.meanGpuUtilRatio === null ? 'n/a (the GPUs reported no utilisation)' : pct(job.meanGpuUtilRatio);
}

function idleText(job: JobView): string {
  return `${gpuH(job.idleGpuHours)}  (allocated, utilisation < ${IDLE_GPU_UTIL_RATIO * 100} %)`;
}

interface Colours {
  bold: (s: string) => string;
  dim: (s: string) => string;
}

/** ANSI bold/dim on a terminal; plain text into files and pipes. */
export function colours(on: boolean): Colours {
  return on ? { bold: (s) => `\x1b[1m${s}\x1b[22m`, dim: (s) => `\x1b[2m${s}\x1b[22m` } : { bold: (s) => s, dim: (s) => s };
}

function factorValue(f: FactorUse): string {
  const v = typeof f.value === 'number' ? num(f.value) : `${num(f.value.min)}-${num(f.value.max)}`;
  // PUE is a ratio: unit "1".
  return f.unit === '1' ? v : `${v} ${f.unit}`;
}

function validity(f: FactorUse): string {
  const d = (ts: number | null) => (ts === null ? '…' : new Date(ts).toISOString().slice(0, 10));
  return `valid ${d(f.validity.fromTs)} to ${d(f.validity.toTs)}${f.outsideValidity ? ', USED OUTSIDE ITS VALIDITY' : ''}`;
}

/** The human screen: label column, then value with its unit; sections for energy, footprint, factors. */
export function jobScreen(job: JobView, nowTs: number, c: Colours = colours(false)): string {
  const rows = (pairs: Array<[string, string]>, indent = '  '): string[] => {
    const width = Math.max(...pairs.map(([k]) => k.length));
    return pairs.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`);
  };
  const e = job.energyJ;
  const lines: string[] = [];
  lines.push(c.bold(`job ${job.id}`) + `  ${job.state}  ${job.user} / ${job.account}`);
  lines.push(...rows([
    ['state', job.state === 'running' ? 'running (figures so far)' : 'completed'],
    ['start', utc(job.startTs)],
    ['end', job.endTs === null ? '-' : utc(job.endTs)],
    ['run time', duration(runMs(job, nowTs))],
    ['nodes', `${plural(job.nodes.length, 'node')}${job.nodes.length > 0 ? `: ${job.nodes.join(', ')}` : ''}`],
    ['GPUs', plural(job.gpus, 'GPU')],
    ['GPU-hours', gpuH(job.gpuHours)],
    ['mean GPU utilisation', utilText(job)],
    ['idle GPU-hours', idleText(job)],
  ]));
  lines.push('', c.bold('energy'));
  lines.push(...rows([
    ['IT total', kwh(e.total)],
    ['GPU', kwh(e.gpu)],
    ['CPU', kwh(e.cpu)],
    ['other', `${kwh(e.other)}  (modelled base power: fans, NICs, disks; not measured)`],
    ['facility (x PUE)', kwh(job.facilityEnergyJ)],
  ]));
  lines.push('', c.bold('footprint'));
  lines.push(...rows([
    ['CO2e, location-based', kg(job.co2eG.location)],
    ['CO2e, market-based', kg(job.co2eG.market)],
    ['embodied carbon', kg(job.embodiedCo2eG)],
    ['cost', eur(job.costEur)],
  ]));
  if (job.factors.length > 0) {
    lines.push('', c.bold('factors used'));
    const fw = Math.max(...job.factors.map((f) => f.name.length));
    const vw = Math.max(...job.factors.map((f) => factorValue(f).length));
    for (const f of job.factors) {
      lines.push(`  ${f.name.padEnd(fw)}  ${factorValue(f).padEnd(vw)}  ${c.dim(`${f.quality}; ${f.source}; ${validity(f)}`)}`);
    }
  }
  lines.push('', c.dim(`method: ${job.method}`));
  for (const w of job.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}

/**
 * One line for the job's output file and AdminComment: plain ASCII, no quotes or newlines, so it
 * survives `scontrol update AdminComment=` and `sacct` columns.
 */
export function summaryLine(job: JobView, nowTs: number): string {
  const e = job.energyJ;
  const util = job.meanGpuUtilRatio === null ? 'n/a' : pct(job.meanGpuUtilRatio);
  const idle = gpuH(job.idleGpuHours);
  const parts = [
    `job ${job.id} ${job.state}`,
    duration(runMs(job, nowTs)),
    plural(job.gpus, 'GPU'),
    `${kwh(e.total)} (GPU ${kwh(e.gpu)}, CPU ${kwh(e.cpu)}, other ${kwh(e.other)} modelled)`,
    `${kg(job.co2eG.location)} location-based, ${kg(job.co2eG.market)} market-based`,
    `embodied ${kg(job.embodiedCo2eG)}`,
    eur(job.costEur),
    `${gpuH(job.gpuHours)}, mean GPU util ${util}, idle ${idle}`,
  ];
  return `stroom: ${parts.join('; ')}`.replace(/[^\x20-\x7e]/g, '?');
}
