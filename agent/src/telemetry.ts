/**
 * The agent's OpenTelemetry metrics; the only agent module that imports the SDK or an
 * exporter, and loaded only when `--metrics-listen` or `--otlp` asks for it (the SDK costs a
 * few MB the agent does not otherwise carry). One MeterProvider with a Prometheus reader,
 * served as `/metrics` on its own small HTTP server at `--metrics-listen` (the exporter's
 * server, which binds every interface by default, is never started), and optionally a
 * periodic OTLP/HTTP push.
 *
 * This node's `hw.*` series (from the inventory and the latest batch) come from a
 * MetricProducer built afresh at each collection: SDK 2.12 never forgets an attribute set
 * an asynchronous instrument once observed, so a GPU that stopped reporting would otherwise
 * keep its last value forever. The agent's own figures (`stroom.agent.*`) have fixed
 * attribute sets and go through the OTel API.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ValueType } from '@opentelemetry/api';
import type { Histogram } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter as PrometheusReader } from '@opentelemetry/exporter-prometheus';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import * as sdk from '@opentelemetry/sdk-metrics';
import type { MeterProvider, MetricReader, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { Batch, Hello, MetricName, MetricPoint } from '@stroom/protocol';
import {
  ATTR_HOST_NAME,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_STROOM_LINK_STATE,
  ATTR_STROOM_SOURCE_NAME,
  METRICS,
  METRIC_STROOM_AGENT_BATCHES,
  METRIC_STROOM_AGENT_GAPS,
  METRIC_STROOM_AGENT_LINK_STATE,
  METRIC_STROOM_AGENT_SOURCE_DURATION,
  METRIC_STROOM_AGENT_SOURCE_ERRORS,
  METRIC_STROOM_AGENT_SOURCE_TIMEOUTS,
  METRIC_STROOM_AGENT_SPOOL_BATCHES,
  METRIC_STROOM_AGENT_SPOOL_DROPPED,
  METRIC_STROOM_AGENT_SPOOL_SIZE,
  hwPoints,
} from '@stroom/protocol/wire';
import type { Logger } from 'pino';
import { DEFAULT_OTLP_INTERVAL_MS, LoggingExporter, SnapshotProducer, otlpMetricsUrl } from '@stroom/otel';

export { DEFAULT_OTLP_INTERVAL_MS, otlpMetricsUrl };
import { AGENT_VERSION } from './constants.js';
import type { LinkState } from './link/ws-link.js';
import type { SourceStats } from './source-set.js';
import type { SpoolStats } from './spool/spool.js';



const SCOPE = { name: 'stroom-agent', version: AGENT_VERSION };
/** Default `--metrics-listen` address: loopback, the Prometheus exporter's usual port. */
export const DEFAULT_METRICS_LISTEN = { host: '127.0.0.1', port: 9464 } as const;
/** Bucket bounds of the source-read histogram, s (reads are ~1 ms to a deadline of ~0.8 interval). */
const SOURCE_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const LINK_STATES: readonly LinkState[] = ['connecting', 'open', 'waiting', 'closed'];

/** Options of the agent's telemetry. */
export interface AgentTelemetryOptions {
  readonly node: string;
  readonly log: Logger;
  /** Serve `/metrics` here (`127.0.0.1:9464`, say); port 0 picks a free one. None: no server. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** OTLP/HTTP endpoint to push to; `/v1/metrics` is added when the URL has no path. */
  readonly otlpUrl?: string;
  /** OTLP push interval, ms (default 15 s). */
  readonly otlpIntervalMs?: number;
  /** More push exporters, each behind its own periodic reader (tests: InMemoryMetricExporter). */
  readonly exporters?: readonly PushMetricExporter[];
}

/** What the telemetry reads from a running agent at each collection. */
export interface AgentSources {
  readonly hello: Hello;
  readonly sources: { readonly stats: ReadonlyMap<string, SourceStats> };
  readonly spool: { readonly stats: SpoolStats };
  /** The collector link, when there is one. */
  readonly link: () => { readonly state: LinkState } | undefined;
}

/** Metrics of one agent, for `/metrics` and OTLP. */
export class AgentTelemetry {
  readonly #o: AgentTelemetryOptions;
  readonly #prometheus: PrometheusExporter;
  readonly #provider: MeterProvider;
  readonly #sourceDuration: Histogram;
  #server: Server | undefined;
  #url: string | undefined;
  #sources: AgentSources | undefined;
  #last: Batch | undefined;
  #hostPowerW: number | undefined;
  #batches = 0;
  readonly #seen = new Map<string, { reads: number; timeouts: number }>();

  /** Build the telemetry and, with `listen`, serve `/metrics`; rejects when the address is taken. */
  static async start(options: AgentTelemetryOptions): Promise<AgentTelemetry> {
    const t = new AgentTelemetry(options);
    if (options.listen !== undefined) await t.#listen(options.listen);
    return t;
  }

  private constructor(options: AgentTelemetryOptions) {
    this.#o = options;
    const producer = new SnapshotProducer(() => this.#snapshot(), SCOPE);
    // withoutTargetInfo: target_info would publish the resource (host name, and with the
    // default detectors the machine id and command line) to anyone who can scrape.
    this.#prometheus = new PrometheusReader({ preventServerStart: true, withoutTargetInfo: true, metricProducers: [producer] });
    const readers: MetricReader[] = [this.#prometheus];
    if (options.otlpUrl !== undefined) {
      const url = otlpMetricsUrl(options.otlpUrl);
      const exporter = new LoggingExporter(new OTLPMetricExporter({ url }), options.log, url);
      readers.push(new sdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: options.otlpIntervalMs ?? DEFAULT_OTLP_INTERVAL_MS, metricProducers: [producer] }));
    }
    for (const exporter of options.exporters ?? []) {
      readers.push(new sdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, metricProducers: [producer] }));
    }
    this.#provider = new sdk.MeterProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'stroom-agent', [ATTR_SERVICE_VERSION]: AGENT_VERSION, [ATTR_HOST_NAME]: options.node }),
      readers,
    });
    const meter = this.#provider.getMeter(SCOPE.name, SCOPE.version);
    const hist = METRICS[METRIC_STROOM_AGENT_SOURCE_DURATION];
    this.#sourceDuration = meter.createHistogram(METRIC_STROOM_AGENT_SOURCE_DURATION, { unit: hist.unit, description: hist.description, advice: { explicitBucketBoundaries: SOURCE_BUCKETS_S } });
    const observe = (name: MetricName, read: (s: AgentSources) => ReadonlyArray<readonly [number, Record<string, string>]>): void => {
      const m = METRICS[name];
      const opts = { unit: m.unit, description: m.description, valueType: ValueType.DOUBLE };
      const instrument = m.instrument === 'counter' ? meter.createObservableCounter(name, opts) : m.instrument === 'updowncounter' ? meter.createObservableUpDownCounter(name, opts) : meter.createObservableGauge(name, opts);
      instrument.addCallback((result) => {
        const s = this.#sources;
        if (s === undefined) return;
        for (const [v, attrs] of read(s)) result.observe(v, attrs);
      });
    };
    const perSource = (pick: (st: SourceStats) => number) => (s: AgentSources) => [...s.sources.stats].map(([name, st]) => [pick(st), { [ATTR_STROOM_SOURCE_NAME]: name }] as const);
    observe(METRIC_STROOM_AGENT_SOURCE_ERRORS, perSource((st) => st.errors));
    observe(METRIC_STROOM_AGENT_SOURCE_TIMEOUTS, perSource((st) => st.timeouts));
    observe(METRIC_STROOM_AGENT_SPOOL_SIZE, (s) => [[s.spool.stats.bytes, {}]]);
    observe(METRIC_STROOM_AGENT_SPOOL_BATCHES, (s) => [[s.spool.stats.batches, {}]]);
    observe(METRIC_STROOM_AGENT_SPOOL_DROPPED, (s) => [[s.spool.stats.dropped, {}]]);
    observe(METRIC_STROOM_AGENT_BATCHES, () => [[this.#batches, {}]]);
    observe(METRIC_STROOM_AGENT_GAPS, () => (this.#last === undefined ? [] : [[this.#last.gaps, {}]]));
    observe(METRIC_STROOM_AGENT_LINK_STATE, (s) => {
      const link = s.link();
      return link === undefined ? [] : LINK_STATES.map((state) => [state === link.state ? 1 : 0, { [ATTR_STROOM_LINK_STATE]: state }] as const);
    });
  }

  /** `http://host:port/metrics` when serving, else undefined. */
  get url(): string | undefined {
    return this.#url;
  }

  /** Start reading from a running agent (its Hello, sources, spool, link). */
  observe(sources: AgentSources): void {
    this.#sources = sources;
  }

  /** Take a batch the agent made: its sample and counters, and the source reads of its tick. */
  batch(b: Batch): void {
    const prev = this.#last;
    if (prev !== undefined && prev.epoch === b.epoch && b.ts > prev.ts) {
      // Mean power over the interval from counter differences, as the collector computes it.
      const sum = (x: Batch): number => x.counters.devices.reduce((a, d) => a + d.energyMj, 0);
      this.#hostPowerW = (sum(b) - sum(prev)) / (b.ts - prev.ts);
    } else {
      this.#hostPowerW = undefined;
    }
    this.#last = b;
    this.#batches += 1;
    for (const [name, st] of this.#sources?.sources.stats ?? []) {
      const seen = this.#seen.get(name) ?? { reads: 0, timeouts: 0 };
      // A read that hit the deadline is counted in timeouts; its duration is not known yet.
      if (st.reads > seen.reads && st.timeouts === seen.timeouts) this.#sourceDuration.record(st.lastDurationMs / 1000, { [ATTR_STROOM_SOURCE_NAME]: name });
      this.#seen.set(name, { reads: st.reads, timeouts: st.timeouts });
    }
  }

  /** Serve `GET /metrics` (Prometheus text format). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#prometheus.getMetricsRequestHandler(req, res);
    // The exporter answers `text/plain`; name the format version so Prometheus need not guess.
    res.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
  }

  /** Push to every periodic exporter now (OTLP, tests). */
  async flush(): Promise<void> {
    await this.#provider.forceFlush();
  }

  /** Stop serving and push a last time. */
  async close(): Promise<void> {
    const server = this.#server;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    try {
      await this.#provider.shutdown();
    } catch (err) {
      this.#o.log.warn({ err }, 'telemetry shutdown failed');
    }
  }

  async #listen(listen: { readonly host: string; readonly port: number }): Promise<void> {
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://agent').pathname;
      if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) return this.handle(req, res);
      res.writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(path === '/metrics' ? 'use GET\n' : 'not found; metrics are at /metrics\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`--metrics-listen ${listen.host}:${listen.port}: ${err.message}`)));
      server.listen(listen.port, listen.host, () => resolve());
    });
    server.on('error', (err) => this.#o.log.warn({ err }, 'metrics server error'));
    this.#server = server;
    const a = server.address() as AddressInfo;
    this.#url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`;
    this.#o.log.info({ url: this.#url }, 'serving metrics');
  }

  #snapshot(): MetricPoint[] {
    const s = this.#sources;
    const b = this.#last;
    if (s === undefined) return [];
    const sample = b?.samples[b.samples.length - 1];
    return hwPoints({
      node: s.hello.node,
      gpus: s.hello.inventory.gpus,
      cpus: s.hello.inventory.cpus,
      ...(sample === undefined ? {} : { sample }),
      ...(b === undefined ? {} : { devices: b.counters.devices }),
      ...(this.#hostPowerW === undefined ? {} : { hostPowerW: this.#hostPowerW }),
    });
  }
}
