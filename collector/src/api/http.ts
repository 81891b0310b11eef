/**
 * The HTTP API (`/healthz`, `/metrics`, `/api/v1/...`) and the dashboard's static files, on plain
 * `node:http`: the routes are few and fastify's current line pulls in Node-22-only code.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { ApiError, Hello, JobDetail, JobState, JobSummary, NodeSummary } from '@stroom/protocol';
import { JobStateSchema, mjToJ } from '@stroom/protocol';
import { NODE_HEADER } from '@stroom/protocol';
import type { NodeTokenCheck } from '../auth/agent-tokens.js';
import { endpointAccess, jobsUserFilter, maySeeAccount, maySeeJob, whoami } from '../auth/access.js';
import type { AuthResult } from '../auth/authenticator.js';
import { OPEN_PRINCIPAL } from '../auth/principal.js';
import type { Principal } from '../auth/principal.js';
import { footprint } from '../accounting/footprint.js';
import type { HourEnergy } from '../accounting/footprint.js';
import type { FootprintFactors } from '../accounting/factors.js';
import type { ClusterState } from '../live/cluster-state.js';
import { SERIES_BUCKET_MS } from '../store/embedded-store.js';
import { gpuSeriesColumns, parseStepMs, seriesColumns } from './series.js';
import type { GpuColumn, GpuMetric } from './series.js';
import type { ClusterPicture } from '../live/picture.js';
import type { JobRecord, Store } from '../store/store.js';
import { FacilityMeterPeriodSchema, ReportFormatSchema, ReportGroupBySchema } from '@stroom/protocol';
import type { FacilityMeter } from '../reports/facility-meter.js';
import { REPORT_MEDIA, energyReportFromStore, parseReportPeriod, renderReport } from '../reports/index.js';

/** What the API reads from. */
export interface ApiDeps {
  readonly store: Store;
  readonly picture: ClusterPicture;
  readonly cluster: ClusterState;
  /** Footprint factors (validated), with their sources. */
  readonly factors: FootprintFactors;
  /** Node tokens: the Slurm epilog's end notice is authorised by its node's token. */
  readonly tokens: NodeTokenCheck;
  /** Who is asking, and whether `/metrics` is public; without it everyone is an operator. */
  readonly access?: { readonly authenticate: (req: IncomingMessage) => AuthResult; readonly publicMetrics?: boolean };
  /** Folder with the built dashboard (index.html, app.js), if any. */
  readonly dashboardDir: string | undefined;
  /** Extra health facts (commit stats, connections). */
  readonly health: () => Record<string, unknown>;
  /** Facility meter periods for the EED KPIs in reports (`--facility-meter`, `POST /api/v1/facility/meter`). */
  readonly facilityMeter?: FacilityMeter;
  /** Serves `GET /metrics` in the Prometheus text format, when telemetry is on. */
  readonly metrics?: (req: IncomingMessage, res: ServerResponse) => void;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The API shape of a job; energy in J. `other` is modelled base power (fans, NICs, disks), not measured. */
export function jobSummary(job: JobRecord): JobSummary {
  const gpu = mjToJ(job.energyMj.gpuMj);
  const cpu = mjToJ(job.energyMj.cpuMj);
  const otherMj = job.energyMj.otherMj;
  const other = mjToJ(otherMj);
  // Sum in integer mJ so total is exactly gpu + cpu + other as printed.
  const total = mjToJ(job.energyMj.gpuMj + job.energyMj.cpuMj + otherMj);
  return {
    id: job.id,
    user: job.user,
    account: job.account,
    state: job.state,
    startTs: job.startTs,
    endTs: job.endTs,
    nodes: job.nodes,
    gpus: job.gpus,
    energyJ: { total, gpu, cpu, other },
    gpuHours: job.gpuSeconds / 3600,
    // Rounding of summed floats can put a mean a hair outside 0..1.
    meanGpuUtilRatio: job.gpuUse.utilKnownS > 0 ? Math.min(1, Math.max(0, job.gpuUse.utilS / job.gpuUse.utilKnownS)) : null,
    idleGpuHours: job.gpuUse.idleS / 3600,
  };
}

function intParam(url: URL, key: string, min: number, max: number, fallback: number): number {
  const raw = url.searchParams.get(key);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `query parameter ${key}: expected an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

type JobsQuery = { state?: JobState; user?: string; account?: string; fromTs?: number; toTs?: number; limit: number; after?: { startTs: number; id: string } };

/** An opaque cursor for the next page: the last job's start and id. */
function encodeCursor(job: { startTs: number; id: string }): string {
  return Buffer.from(JSON.stringify([job.startTs, job.id])).toString('base64url');
}

function decodeCursor(text: string): { startTs: number; id: string } {
  try {
    const [startTs, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof startTs === 'number' && typeof id === 'string') return { startTs, id };
  } catch {
    // fall through
  }
  throw new HttpError(400, 'query parameter cursor: not a cursor this API gave out');
}

function timeParam(url: URL, key: string): number | undefined {
  const raw = url.searchParams.get(key);
  if (raw === null) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(n)) throw new HttpError(400, `query parameter ${key}: expected ms since the Unix epoch or an ISO 8601 time, got "${raw}"`);
  return n;
}

function jobsQuery(url: URL): JobsQuery {
  const out: JobsQuery = { limit: intParam(url, 'limit', 1, 10_000, 100) };
  const fromTs = timeParam(url, 'from');
  if (fromTs !== undefined) out.fromTs = fromTs;
  const toTs = timeParam(url, 'to');
  if (toTs !== undefined) out.toTs = toTs;
  const cursor = url.searchParams.get('cursor');
  if (cursor !== null) out.after = decodeCursor(cursor);
  const state = url.searchParams.get('state');
  if (state !== null) {
    const parsed = JobStateSchema.safeParse(state);
    if (!parsed.success) throw new HttpError(400, `query parameter state: expected one of ${JobStateSchema.options.join(', ')}, got "${state}"`);
    out.state = parsed.data;
  }
  const user = url.searchParams.get('user');
  if (user !== null) out.user = user;
  const account = url.searchParams.get('account');
  if (account !== null) out.account = account;
  return out;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

async function serveStatic(dir: string, pathname: string, res: ServerResponse): Promise<boolean> {
  const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname.slice(1));
  const file = normalize(join(dir, rel));
  if (!file.startsWith(normalize(dir) + sep)) return false;
  try {
    const s = await stat(file);
    if (!s.isFile()) return false;
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': s.size, 'cache-control': 'no-cache' });
    createReadStream(file).pipe(res);
    return true;
  } catch {
    return false;
  }
}

/** The job with its footprint, from its energy per hour and the GPU model of each node. */
function jobDetail(deps: ApiDeps, job: JobRecord): JobDetail {
  const nodes = deps.store.nodes();
  const records: HourEnergy[] = deps.store.jobHours(job.id).map((h) => ({
    hourTs: h.hourTs,
    itEnergyJ: mjToJ(h.energyMj.gpuMj + h.energyMj.cpuMj + h.energyMj.otherMj),
    gpuSeconds: h.gpuSeconds,
    gpuModel: nodes.get(h.node)?.inventory.gpus[0]?.name ?? 'unknown',
  }));
  const f = footprint(records, deps.factors);
  return {
    ...jobSummary(job),
    facilityEnergyJ: f.facilityEnergyJ,
    co2eG: { ...f.co2eG },
    embodiedCo2eG: f.embodiedCo2eG,
    costEur: f.costEur,
    gpuHours: f.gpuHours,
    otherEnergyModelled: true,
    factors: f.factors.map((u) => ({ ...u, value: typeof u.value === 'number' ? u.value : { ...u.value }, validity: { ...u.validity } })),
    method: f.method,
    warnings: [...f.warnings],
  };
}

/**
 * Energy per account over [fromTs, toTs), from each overlapping job's energy by the hour
 * (hours are the resolution: an hour is counted when it starts inside the period). Fine for
 * an API call; reports over a year of jobs get their own aggregate (issue 6).
 */
function accountTotals(deps: ApiDeps, fromTs: number, toTs: number): Array<{ account: string; jobs: number; gpuHours: number; energyJ: { total: number; gpu: number; cpu: number; other: number } }> {
  const byAccount = new Map<string, { jobs: number; gpuS: number; gpuMj: number; cpuMj: number; otherMj: number }>();
  let after: { startTs: number; id: string } | undefined;
  for (;;) {
    const page = deps.store.jobs({ fromTs, toTs, limit: 5000, ...(after === undefined ? {} : { after }) });
    for (const job of page) {
      const a = byAccount.get(job.account) ?? { jobs: 0, gpuS: 0, gpuMj: 0, cpuMj: 0, otherMj: 0 };
      let counted = false;
      for (const h of deps.store.jobHours(job.id)) {
        if (h.hourTs < fromTs || h.hourTs >= toTs) continue;
        counted = true;
        a.gpuS += h.gpuSeconds;
        a.gpuMj += h.energyMj.gpuMj;
        a.cpuMj += h.energyMj.cpuMj;
        a.otherMj += h.energyMj.otherMj;
      }
      if (counted) {
        a.jobs += 1;
        byAccount.set(job.account, a);
      }
    }
    const last = page[page.length - 1];
    if (page.length < 5000 || last === undefined) break;
    after = { startTs: last.startTs, id: last.id };
  }
  return [...byAccount].map(([account, a]) => ({
    account,
    jobs: a.jobs,
    gpuHours: a.gpuS / 3600,
    energyJ: { total: mjToJ(a.gpuMj + a.cpuMj + a.otherMj), gpu: mjToJ(a.gpuMj), cpu: mjToJ(a.cpuMj), other: mjToJ(a.otherMj) },
  })).sort((x, y) => y.energyJ.total - x.energyJ.total || x.account.localeCompare(y.account));
}

/** A node's inventory from its last Hello, with what the live state knows now. */
function nodeSummary(deps: ApiDeps, hello: Hello): NodeSummary {
  const live = deps.cluster.nodeLive(hello.node);
  const out: NodeSummary = {
    name: hello.node,
    up: live?.up ?? false,
    lastSeenTs: live?.lastSeenTs ?? null,
    epoch: hello.epoch,
    agentVersion: hello.agentVersion,
    gpus: hello.inventory.gpus,
    cpus: hello.inventory.cpus,
    sources: hello.sources,
    powerW: live?.powerW ?? null,
    jobs: live?.jobs ?? [],
  };
  return hello.inventory.host === undefined ? out : { ...out, host: hello.inventory.host };
}

/** Read a small JSON body; anything else is a 400 that says why. */
async function jsonBody(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, `request body over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'body: expected a JSON object');
  return parsed as Record<string, unknown>;
}

/** `POST /api/v1/jobs/{id}/end` from a node's Slurm epilog. */
async function endJob(deps: ApiDeps, id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await jsonBody(req, 4096);
  const headerNode = req.headers[NODE_HEADER];
  const node = typeof body['node'] === 'string' ? body['node'] : typeof headerNode === 'string' ? headerNode : undefined;
  if (node === undefined || node === '') throw new HttpError(400, `body.node (or the ${NODE_HEADER} header): the node the job ended on is required`);
  const auth = req.headers.authorization ?? '';
  if (!auth.startsWith('Bearer ') || !deps.tokens.check(node, auth.slice(7))) throw new HttpError(401, `a valid bearer token of node ${node} is required`);
  const endTs = body['endTs'] ?? Date.now();
  if (typeof endTs !== 'number' || !Number.isInteger(endTs) || endTs < 0 || endTs > Date.now() + 300_000) {
    throw new HttpError(400, 'body.endTs: expected ms since the Unix epoch, not in the future');
  }
  if (!deps.store.endJob(id, node, endTs)) throw new HttpError(404, `job ${id} is not known on node ${node}`);
  send(res, 200, { id, node, endTs, state: deps.store.job(id)?.state ?? 'completed' });
}

/** The principal of a request to `path`, or a 401/403 that says why (see auth/access.ts). */
function authorize(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, path: string): Principal {
  if (deps.access === undefined) return OPEN_PRINCIPAL;
  const need = endpointAccess(path, deps.access.publicMetrics === undefined ? {} : { publicMetrics: deps.access.publicMetrics });
  if (need === 'public') return OPEN_PRINCIPAL;
  const auth = deps.access.authenticate(req);
  if (!auth.ok) {
    res.setHeader('www-authenticate', 'Bearer realm="stroom"');
    throw new HttpError(auth.status, auth.error);
  }
  if (need === 'operator' && auth.principal.role !== 'operator') throw new HttpError(403, `${path}: operators only`);
  return auth.principal;
}

function gpuMetric(url: URL): GpuMetric {
  const metric = url.searchParams.get('metric') ?? 'power';
  if (metric !== 'power' && metric !== 'util' && metric !== 'temp') throw new HttpError(400, `query parameter metric: expected power, util or temp, got "${metric}"`);
  return metric;
}

/** `GET /api/v1/reports/energy?from=&to=&by=&format=`: the report in the format asked for. */
async function energyReport(deps: ApiDeps, url: URL, res: ServerResponse): Promise<void> {
  const q = (key: string): string | null => url.searchParams.get(key);
  const from = q('from');
  const to = q('to');
  if (from === null || to === null) throw new HttpError(400, 'query parameters from and to are required (e.g. from=2025-01-01&to=2026-01-01, UTC)');
  let period: { fromTs: number; toTs: number };
  try {
    period = parseReportPeriod(from, to, ['query parameter from', 'query parameter to']);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
  const by = ReportGroupBySchema.safeParse(q('by') ?? 'account');
  if (!by.success) throw new HttpError(400, `query parameter by: expected one of ${ReportGroupBySchema.options.join(', ')}, got "${q('by') ?? ''}"`);
  const format = ReportFormatSchema.safeParse(q('format') ?? 'json');
  if (!format.success) throw new HttpError(400, `query parameter format: expected one of ${ReportFormatSchema.options.join(', ')}, got "${q('format') ?? ''}"`);
  const report = energyReportFromStore({ store: deps.store, factors: deps.factors, by: by.data, ...period, meter: deps.facilityMeter });
  const body = await renderReport(report, format.data);
  const media = REPORT_MEDIA[format.data];
  const day = (ts: number): string => new Date(ts).toISOString().slice(0, 13).replace('T', '_');
  res.writeHead(200, {
    'content-type': media.type,
    'content-length': body.length,
    'cache-control': 'no-store',
    'content-disposition': `inline; filename="stroom-energy-by-${by.data}-${day(period.fromTs)}-${day(period.toTs)}.${media.ext}"`,
  });
  res.end(body);
}

/** `POST /api/v1/facility/meter`: `{ periods: [...] }` or one period; operators only. */
async function postFacilityMeter(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (deps.facilityMeter === undefined) throw new HttpError(404, 'this collector keeps no facility meter data');
  const body = await jsonBody(req, 1_048_576);
  const list = Array.isArray(body['periods']) ? body['periods'] : [body];
  const parsed = FacilityMeterPeriodSchema.array().min(1).safeParse(list);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpError(400, `periods.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'} (each period: fromTs, toTs in ms on whole UTC hours, totalFacilityKwh, renewableKwh, reusedKwh, waterM3 in m3, source)`);
  }
  let result: { added: number; replaced: number };
  try {
    result = deps.facilityMeter.add(parsed.data);
  } catch (err) {
    throw new HttpError(/overlaps/.test((err as Error).message) ? 409 : 400, (err as Error).message);
  }
  send(res, 200, { ...result, periods: deps.facilityMeter.periods() });
}

/** Handle one HTTP request. */
export async function handleHttp(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://collector');
  const path = url.pathname;
  try {
    const end = /^\/api\/v1\/jobs\/([^/]+)\/end$/.exec(path);
    if (end !== null) {
      if (req.method !== 'POST') throw new HttpError(405, `use POST on ${path}`);
      return await endJob(deps, decodeURIComponent(end[1] ?? ''), req, res);
    }
    if (path === '/api/v1/facility/meter' && req.method === 'POST') {
      authorize(deps, req, res, path);
      return await postFacilityMeter(deps, req, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `method ${req.method ?? ''} not allowed on ${path}`);
    const who = authorize(deps, req, res, path);
    if (path === '/healthz') return send(res, 200, { status: 'ok', ...deps.health() });
    if (path === '/api/v1/me') return send(res, 200, whoami(who));
    if (path === '/metrics' && deps.metrics !== undefined) return deps.metrics(req, res);
    if (path === '/api/v1/cluster') return send(res, 200, deps.picture.summary());
    if (path === '/api/v1/jobs') {
      const asked = jobsQuery(url);
      const user = jobsUserFilter(who, asked.user);
      // Someone else's jobs: none, as if there were none.
      if (user === null) return send(res, 200, { jobs: [], nextCursor: null });
      const q = user === undefined ? asked : { ...asked, user };
      const jobs = deps.store.jobs(q);
      const last = jobs[jobs.length - 1];
      return send(res, 200, { jobs: jobs.map(jobSummary), nextCursor: jobs.length === q.limit && last !== undefined ? encodeCursor(last) : null });
    }
    const job = /^\/api\/v1\/jobs\/([^/]+)$/.exec(path);
    if (job !== null) {
      const id = decodeURIComponent(job[1] ?? '');
      const found = deps.store.job(id);
      // Another user's job answers as an unknown one, so ids do not leak.
      if (found === undefined || !maySeeJob(who, found)) throw new HttpError(404, `job ${id} not found`);
      return send(res, 200, jobDetail(deps, found));
    }
    const series = /^\/api\/v1\/jobs\/([^/]+)\/series$/.exec(path);
    if (series !== null) {
      const id = decodeURIComponent(series[1] ?? '');
      const found = deps.store.job(id);
      if (found === undefined || !maySeeJob(who, found)) throw new HttpError(404, `job ${id} not found`);
      let stepMs: number;
      try {
        stepMs = parseStepMs(url.searchParams.get('step') ?? '10s', SERIES_BUCKET_MS);
      } catch (err) {
        throw new HttpError(400, `query parameter ${(err as Error).message}`);
      }
      const fromTs = timeParam(url, 'from') ?? found.startTs;
      const toTs = timeParam(url, 'to') ?? (found.endTs ?? Date.now()) + 1;
      if ((toTs - fromTs) / stepMs > 100_000) throw new HttpError(400, `query parameter step: ${stepMs / 1000}s over this period gives more than 100 000 points; use a coarser step`);
      // Buckets start on the step grid, before the job's own start.
      const gridFrom = Math.floor(fromTs / stepMs) * stepMs;
      const by = url.searchParams.get('by') ?? 'node';
      if (by === 'gpu') {
        const columns: GpuColumn[] = [];
        const inventory = deps.store.nodes();
        for (const [node, uuids] of deps.store.jobGpus(id)) {
          const index = new Map((inventory.get(node)?.inventory.gpus ?? []).map((g) => [g.uuid, g.index]));
          for (const uuid of uuids) columns.push({ node, uuid, label: `${node}/${index.get(uuid) ?? uuid}` });
        }
        const buckets = (await Promise.all([...new Set(columns.map((c) => c.node))].map((node) => deps.store.gpuSeries(node, gridFrom, toTs)))).flat();
        return send(res, 200, gpuSeriesColumns(buckets, columns, gpuMetric(url), gridFrom, toTs, stepMs));
      }
      if (by !== 'node') throw new HttpError(400, `query parameter by: expected node or gpu, got "${by}"`);
      return send(res, 200, seriesColumns(await deps.store.queryJobSeries(id, gridFrom, toTs), gridFrom, toTs, stepMs));
    }
    const nodeSeries = /^\/api\/v1\/nodes\/([^/]+)\/series$/.exec(path);
    if (nodeSeries !== null) {
      const name = decodeURIComponent(nodeSeries[1] ?? '');
      const hello = deps.store.nodes().get(name);
      if (hello === undefined) throw new HttpError(404, `node ${name} not found`);
      let stepMs: number;
      try {
        stepMs = parseStepMs(url.searchParams.get('step') ?? '10s', SERIES_BUCKET_MS);
      } catch (err) {
        throw new HttpError(400, `query parameter ${(err as Error).message}`);
      }
      const toTs = timeParam(url, 'to') ?? Date.now() + 1;
      const fromTs = timeParam(url, 'from') ?? toTs - 3_600_000;
      if ((toTs - fromTs) / stepMs > 100_000) throw new HttpError(400, `query parameter step: ${stepMs / 1000}s over this period gives more than 100 000 points; use a coarser step`);
      const gridFrom = Math.floor(fromTs / stepMs) * stepMs;
      const columns = hello.inventory.gpus.map((g) => ({ node: name, uuid: g.uuid, label: `${name}/${g.index}` }));
      return send(res, 200, gpuSeriesColumns(await deps.store.gpuSeries(name, gridFrom, toTs), columns, gpuMetric(url), gridFrom, toTs, stepMs));
    }
    if (path === '/api/v1/accounts') {
      const toTs = timeParam(url, 'to') ?? Date.now() + 1;
      const fromTs = timeParam(url, 'from') ?? 0;
      return send(res, 200, { fromTs, toTs, accounts: accountTotals(deps, fromTs, toTs).filter((a) => maySeeAccount(who, a.account)) });
    }
    if (path === '/api/v1/reports/energy') return await energyReport(deps, url, res);
    if (path === '/api/v1/facility/meter') return send(res, 200, { periods: deps.facilityMeter?.periods() ?? [] });
    if (path === '/api/v1/nodes') return send(res, 200, { nodes: [...deps.store.nodes().values()].map((h) => nodeSummary(deps, h)) });
    const node = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path);
    if (node !== null) {
      const name = decodeURIComponent(node[1] ?? '');
      const hello = deps.store.nodes().get(name);
      if (hello === undefined) throw new HttpError(404, `node ${name} not found`);
      return send(res, 200, nodeSummary(deps, hello));
    }
    if (path.startsWith('/api/')) throw new HttpError(404, `no such endpoint: ${path}`);
    if (deps.dashboardDir !== undefined && (await serveStatic(deps.dashboardDir, path, res))) return;
    throw new HttpError(404, `not found: ${path}`);
  } catch (err) {
    const status = err instanceof HttpError ? err.status : 500;
    const body: ApiError = { error: err instanceof Error ? err.message : String(err) };
    send(res, status, body);
  }
}
