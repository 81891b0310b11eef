/** Wiring of the collector: store, committer, live state, HTTP API and both WebSocket endpoints. */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AGENT_WS_PATH, LIVE_WS_PATH } from '@stroom/protocol';
import type { Logger } from 'pino';
import { DEFAULT_FACTORS, validateFactors } from './accounting/factors.js';
import type { FootprintFactors } from './accounting/factors.js';
import { handleHttp } from './api/http.js';
import { FacilityMeter } from './reports/facility-meter.js';
import type { AgentTokens } from './auth/agent-tokens.js';
import { Gate } from './auth/gate.js';
import type { AuthOptions, ConnectionLimits } from './auth/gate.js';
import type { TlsFiles } from './tls.js';
import { AgentServer } from './ingest/agent-server.js';
import { Committer } from './ingest/committer.js';
import { ClusterState } from './live/cluster-state.js';
import { LiveServer } from './live/live-server.js';
import { ClusterPicture } from './live/picture.js';
import { EmbeddedStore } from './store/embedded-store.js';
import { InfluxStore } from './store/influx-store.js';
import type { Store } from './store/store.js';
import { CollectorTelemetry } from './telemetry.js';

/** Options of a collector. */
export interface CollectorOptions {
  /** Host to bind; loopback unless an operator says otherwise. */
  readonly host: string;
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
  /** Data directory of the embedded store, or `:memory:`. */
  readonly dataDir: string;
  /** Node tokens of the JSON file; agent tokens in `auth.db` (`stroom token create --node`) count too. */
  readonly tokens: AgentTokens;
  readonly log: Logger;
  /** User, operator and node tokens in `auth.db`, a trusted proxy, public `/metrics` (see auth/). */
  readonly auth?: AuthOptions;
  /** Serve https and wss with this certificate (`--tls-cert`, `--tls-key`; see `loadTls`). */
  readonly tls?: TlsFiles;
  /** Connection caps and the per-agent-connection frame rate. */
  readonly limits?: ConnectionLimits & { readonly agentFramesPerS?: number; readonly agentFrameBurst?: number };
  /** IANA time zone that "today" is counted in (default Europe/Amsterdam). */
  readonly timeZone?: string;
  /** Folder of the built dashboard; found next to the package when not given. */
  readonly dashboardDir?: string;
  /** Live push period in ms (default 1000). */
  readonly livePeriodMs?: number;
  /** When in each live period to push, ms after its start on the wall clock (default half the period). */
  readonly livePhaseMs?: number;
  /** The site's grid-connection cap, W: the overview shows cluster power against it (default: not configured). */
  readonly gridCapW?: number;
  /**
   * InfluxDB 1.x instead of the embedded SQLite store: books mirrored in memory and written
   * through in batches, raw GPU samples at full rate, series retention by InfluxDB.
   */
  readonly influx?: { readonly url: string; readonly database: string; readonly seriesRetention?: string };
  /** Footprint factors (default: `DEFAULT_FACTORS`, each with its source). */
  readonly factors?: FootprintFactors;
  /**
   * How long raw series (10 s energy and GPU gauge buckets) are kept, days (default 7); older
   * ones are rolled up into 1-minute buckets. The books are kept for good.
   */
  readonly seriesRetentionDays?: number;
  /** How long the 1-minute roll-ups are kept, days (default 400: a year of charts and more). */
  readonly rollupRetentionDays?: number;
  /** Modelled base power per node in W (fans, NICs, disks), by node name (default 0). */
  readonly basePowerW?: (node: string) => number;
  /** OTLP/HTTP endpoint to push metrics to as well as serving `/metrics`. */
  readonly otlpUrl?: string;
  /** OTLP push interval, ms (default 15 s). */
  readonly otlpIntervalMs?: number;
  /** Most running jobs exported as `stroom.job.*` on `/metrics` and OTLP, highest power first (default 1000; 0: none). */
  readonly jobMetricsLimit?: number;
  /**
   * CSV of facility meter periods (total facility energy, renewable, reused energy, water) for
   * the EED KPIs in reports; periods posted to `POST /api/v1/facility/meter` are kept in
   * `facility-meter.json` in the data directory either way.
   */
  readonly facilityMeterFile?: string;
}

/** A running collector. */
export interface Collector {
  /** `http://host:port` it listens on. */
  readonly url: string;
  readonly store: Store;
  readonly committer: Committer;
  readonly agents: AgentServer;
  readonly live: LiveServer;
  close(): Promise<void>;
}

/** The dashboard build output, looked up from both `src/` (tests) and `dist/src/` (installed). */
export function defaultDashboardDir(): string | undefined {
  for (const rel of ['../../dashboard/dist/www', '../../../dashboard/dist/www']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}/index.html`)) return dir;
  }
  return undefined;
}

/** Start a collector and resolve once it listens. */
export async function startCollector(o: CollectorOptions): Promise<Collector> {
  const factors = validateFactors(o.factors ?? DEFAULT_FACTORS);
  // Before the store, so a bad meter file fails without leaving the database open.
  const meterPersist = o.dataDir === ':memory:' ? undefined : join(o.dataDir, 'facility-meter.json');
  const facilityMeter = o.facilityMeterFile === undefined ? new FacilityMeter([], meterPersist) : FacilityMeter.fromCsvFile(o.facilityMeterFile, meterPersist);
  // Before the store, so a bad --otlp URL fails without leaving the database open.
  const telemetry = new CollectorTelemetry({
    log: o.log,
    ...(o.otlpUrl === undefined ? {} : { otlpUrl: o.otlpUrl }),
    ...(o.otlpIntervalMs === undefined ? {} : { otlpIntervalMs: o.otlpIntervalMs }),
    ...(o.jobMetricsLimit === undefined ? {} : { jobMetricsLimit: o.jobMetricsLimit }),
  });
  const influx = o.influx === undefined ? undefined : await InfluxStore.open({ url: o.influx.url, database: o.influx.database, log: o.log, retention: { series: o.influx.seriesRetention ?? '30d' } });
  const store: Store = influx ?? new EmbeddedStore(o.dataDir, { log: o.log });
  const cluster = new ClusterState();
  const picture = new ClusterPicture(cluster, store, o.timeZone ?? 'Europe/Amsterdam', { factors, ...(o.gridCapW === undefined ? {} : { gridCapW: o.gridCapW }) });
  const committer = new Committer({
    store: telemetry.timeCommits(store),
    log: o.log,
    onCommit: (effects) => {
      for (const { effect, batch, previousTs } of effects) {
        cluster.counted(effect, batch.samples, previousTs, batch.sources);
      }
      telemetry.committed(effects.map((e) => e.batch));
    },
  });
  const gate = new Gate({ dataDir: o.dataDir, fileTokens: o.tokens, store, log: o.log, ...(o.auth === undefined ? {} : { auth: o.auth }), ...(o.limits === undefined ? {} : { limits: o.limits }) });
  const agents = new AgentServer({ tokens: gate.nodeTokens, committer, ...(o.limits?.agentFramesPerS === undefined ? {} : { framesPerS: o.limits.agentFramesPerS }), ...(o.limits?.agentFrameBurst === undefined ? {} : { frameBurst: o.limits.agentFrameBurst }), cluster, log: o.log, ...(o.basePowerW === undefined ? {} : { basePowerW: o.basePowerW }) });
  const live = new LiveServer({ source: picture, log: o.log, mayWatch: (p, topic) => gate.mayWatch(p, topic), ...(o.livePeriodMs === undefined ? {} : { periodMs: o.livePeriodMs }), ...(o.livePhaseMs === undefined ? {} : { phaseMs: o.livePhaseMs }) });
  telemetry.observe({ cluster, store, summary: () => picture.summary(), committer, agents, live });
  const retentionMs = (o.seriesRetentionDays ?? 7) * 86_400_000;
  const rollupRetentionMs = (o.rollupRetentionDays ?? 400) * 86_400_000;
  const prune = setInterval(() => {
    try {
      store.pruneSeries(Date.now() - retentionMs);
      store.pruneRollups(Date.now() - rollupRetentionMs);
    } catch (err) {
      o.log.error({ err }, 'pruning old series failed');
    }
  }, 3_600_000);
  prune.unref();
  const dashboardDir = o.dashboardDir ?? defaultDashboardDir();
  if (dashboardDir === undefined) o.log.warn('dashboard build not found (run `npm run build`); serving the API only');
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void handleHttp({ store, picture, cluster, factors, facilityMeter, tokens: gate.nodeTokens, access: gate.access, dashboardDir, metrics: (req, res) => telemetry.handle(req, res), health: () => ({ nodes: cluster.nodeCount, ...committer.stats, ...agents.stats, agentsConnected: agents.connected, dashboardsConnected: live.clients }) }, req, res);
  };
  const server: Server = o.tls === undefined ? createServer(onRequest) : createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, onRequest);
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://collector').pathname;
    if (path === AGENT_WS_PATH) {
      if (gate.admitAgent(req, socket, agents.connected)) agents.upgrade(req, socket, head);
    } else if (path === LIVE_WS_PATH) {
      const principal = gate.admitLive(req, socket, live.clients);
      if (principal !== undefined) live.upgrade(req, socket, head, principal);
    }
    else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${o.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
  o.log.info({ url }, 'collector listening');
  return {
    url,
    store,
    committer,
    agents,
    live,
    async close() {
      clearInterval(prune);
      agents.close();
      live.close();
      picture.close();
      committer.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      gate.close();
      // After the last commit, so a final OTLP push carries the final counters.
      await telemetry.close();
      if (influx !== undefined) {
        try {
          await influx.flush();
        } catch (err) {
          o.log.error({ err }, 'last InfluxDB write failed');
        }
      }
      store.close();
    },
  };
}
