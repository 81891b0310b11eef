/**
 * The collector's OpenTelemetry metrics; the only collector module that imports the SDK or an
 * exporter. One MeterProvider with a Prometheus reader, served as `/metrics` by the
 * collector's own HTTP server (the exporter's server is never started), and optionally a
 * periodic OTLP/HTTP push.
 *
 * Two kinds of series:
 * - the collector's own figures (`stroom.collector.*`, `stroom.cluster.*`), recorded through
 *   the OTel API: observable instruments over the stats objects, and a histogram of commit
 *   durations;
 * - snapshot series whose attribute sets come and go: per-GPU and per-host `hw.*` of every
 *   node (from the live ClusterState and the latest committed counters) and the capped
 *   `stroom.job.*`. These come from a MetricProducer that builds them afresh at each
 *   collection. Why not observable instruments: SDK 2.12 never forgets an attribute set an
 *   asynchronous instrument once observed (cumulative temporality), so a GPU of a node that
 *   went down, or a job that ended, would be exported with its last value forever, and the job
 *   cap would not bound anything.
 *
 * Is: a view of state the collector already keeps. Is not: a second set of books.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ValueType } from '@opentelemetry/api';
import type { Histogram } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter as PrometheusReader } from '@opentelemetry/exporter-prometheus';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import * as sdk from '@opentelemetry/sdk-metrics';
import type { MeterProvider, MetricReader, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { Batch, ClusterSummary, MetricName, MetricPoint } from '@stroom/protocol';
import {
  ATTR_HOST_NAME,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_STROOM_JOB_ACCOUNT,
  ATTR_STROOM_JOB_ID,
  ATTR_STROOM_JOB_USER,
  ATTR_STROOM_NODE_STATE,
  METRICS,
  METRIC_STROOM_CLUSTER_ENERGY,
  METRIC_STROOM_CLUSTER_GPUS,
  METRIC_STROOM_CLUSTER_JOBS_RUNNING,
  METRIC_STROOM_CLUSTER_NODES,
  METRIC_STROOM_CLUSTER_POWER,
  METRIC_STROOM_COLLECTOR_AGENTS_CONNECTED,
  METRIC_STROOM_COLLECTOR_BATCHES,
  METRIC_STROOM_COLLECTOR_BATCHES_DUPLICATE,
  METRIC_STROOM_COLLECTOR_COMMITS,
  METRIC_STROOM_COLLECTOR_COMMIT_DURATION,
  METRIC_STROOM_COLLECTOR_COMMIT_FAILURES,
  METRIC_STROOM_COLLECTOR_COUNTER_GLITCHES,
  METRIC_STROOM_COLLECTOR_COUNTER_RESETS,
  METRIC_STROOM_COLLECTOR_FRAMES_REJECTED,
  METRIC_STROOM_COLLECTOR_HANDSHAKES_REFUSED,
  METRIC_STROOM_COLLECTOR_JOBS_OMITTED,
  METRIC_STROOM_COLLECTOR_LIVE_CLIENTS,
  METRIC_STROOM_COLLECTOR_LIVE_SKIPPED,
  METRIC_STROOM_COLLECTOR_VALUES_REJECTED,
  METRIC_STROOM_JOB_ENERGY,
  METRIC_STROOM_JOB_POWER,
  hwPoints,
  mjToJ,
} from '@stroom/protocol';
import type { Logger } from 'pino';
import { DEFAULT_OTLP_INTERVAL_MS, LoggingExporter, SnapshotProducer, otlpMetricsUrl } from '@stroom/otel';

export { DEFAULT_OTLP_INTERVAL_MS, otlpMetricsUrl };
import type { AgentServerStats } from './ingest/agent-server.js';
import type { CommitterStats } from './ingest/committer.js';
import type { ClusterState } from './live/cluster-state.js';
import type { Store } from './store/store.js';



/** Collector version reported as `service.version`; kept in step with package.json. */
const COLLECTOR_VERSION = '0.1.0';
const SCOPE = { name: 'stroom-collector', version: COLLECTOR_VERSION };

/** Default cap on the jobs exported as `stroom.job.*` (the highest-power running jobs). */
export const DEFAULT_JOB_METRICS_LIMIT = 1000;
/** Bucket bounds of the commit-duration histogram, s. */
const COMMIT_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Options of the collector's telemetry. */
export interface CollectorTelemetryOptions {
  readonly log: Logger;
  /** OTLP/HTTP endpoint to push to as well; `/v1/metrics` is added when the URL has no path. */
  readonly otlpUrl?: string;
  /** OTLP push interval, ms (default 15 s). */
  readonly otlpIntervalMs?: number;
  /** Most running jobs exported as `stroom.job.*`, highest power first; 0 exports none (default 1000). */
  readonly jobMetricsLimit?: number;
  /** More push exporters, each behind its own periodic reader (tests: InMemoryMetricExporter). */
  readonly exporters?: readonly PushMetricExporter[];
}

/** What the telemetry reads at each collection. */
export interface CollectorSources {
  readonly cluster: Pick<ClusterState, 'latest' | 'runningJobs' | 'powerW' | 'gpuCount'>;
  readonly store: Pick<Store, 'jobEnergy'>;
  readonly summary: () => ClusterSummary;
  readonly committer: { readonly stats: CommitterStats };
  readonly agents: { readonly stats: AgentServerStats; readonly connected: number };
  readonly live: { readonly clients: number; readonly skipped: number };
}

/** Latest committed device counters of one node. */
interface NodeCounters {
  readonly ts: number;
  readonly epoch: string;
  readonly devices: Batch['counters']['devices'];
}

/** Metrics of the collector, for `/metrics` and OTLP. */
export class CollectorTelemetry {
  readonly #o: CollectorTelemetryOptions;
  readonly #prometheus: PrometheusExporter;
  readonly #provider: MeterProvider;
  readonly #producer: SnapshotProducer;
  readonly #counters = new Map<string, NodeCounters>();
  readonly #commitDuration: Histogram;
  #sources: CollectorSources | undefined;

  constructor(options: CollectorTelemetryOptions) {
    this.#o = options;
    this.#producer = new SnapshotProducer(() => this.#snapshot(), SCOPE);
    // withoutTargetInfo: target_info would publish the resource (host name, and with the
    // default detectors the machine id and command line) to anyone who can scrape.
    this.#prometheus = new PrometheusReader({ preventServerStart: true, withoutTargetInfo: true, metricProducers: [this.#producer] });
    const readers: MetricReader[] = [this.#prometheus];
    if (options.otlpUrl !== undefined) {
      const exporter = new LoggingExporter(new OTLPMetricExporter({ url: otlpMetricsUrl(options.otlpUrl) }), options.log, otlpMetricsUrl(options.otlpUrl));
      readers.push(new sdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: options.otlpIntervalMs ?? DEFAULT_OTLP_INTERVAL_MS, metricProducers: [this.#producer] }));
    }
    for (const exporter of options.exporters ?? []) {
      readers.push(new sdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, metricProducers: [this.#producer] }));
    }
    this.#provider = new sdk.MeterProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'stroom-collector', [ATTR_SERVICE_VERSION]: COLLECTOR_VERSION, [ATTR_HOST_NAME]: hostname() }),
      readers,
    });
    const meter = this.#provider.getMeter(SCOPE.name, SCOPE.version);
    const info = METRICS[METRIC_STROOM_COLLECTOR_COMMIT_DURATION];
    this.#commitDuration = meter.createHistogram(METRIC_STROOM_COLLECTOR_COMMIT_DURATION, { unit: info.unit, description: info.description, advice: { explicitBucketBoundaries: COMMIT_BUCKETS_S } });
    const observe = (name: MetricName, read: (s: CollectorSources) => number | ReadonlyArray<readonly [number, Record<string, string>]>): void => {
      const m = METRICS[name];
      const opts = { unit: m.unit, description: m.description, valueType: ValueType.DOUBLE };
      const instrument = m.instrument === 'counter' ? meter.createObservableCounter(name, opts) : m.instrument === 'updowncounter' ? meter.createObservableUpDownCounter(name, opts) : meter.createObservableGauge(name, opts);
      instrument.addCallback((result) => {
        const s = this.#sources;
        if (s === undefined) return;
        const value = read(s);
        if (typeof value === 'number') result.observe(value);
        else for (const [v, attrs] of value) result.observe(v, attrs);
      });
    };
    observe(METRIC_STROOM_COLLECTOR_BATCHES, (s) => s.committer.stats.counted);
    observe(METRIC_STROOM_COLLECTOR_BATCHES_DUPLICATE, (s) => s.committer.stats.duplicates);
    observe(METRIC_STROOM_COLLECTOR_COUNTER_RESETS, (s) => s.committer.stats.resets);
    observe(METRIC_STROOM_COLLECTOR_COUNTER_GLITCHES, (s) => s.committer.stats.glitches);
    observe(METRIC_STROOM_COLLECTOR_COMMITS, (s) => s.committer.stats.commits);
    observe(METRIC_STROOM_COLLECTOR_COMMIT_FAILURES, (s) => s.committer.stats.failures);
    observe(METRIC_STROOM_COLLECTOR_VALUES_REJECTED, (s) => s.agents.stats.rejectedValues);
    observe(METRIC_STROOM_COLLECTOR_FRAMES_REJECTED, (s) => s.agents.stats.rejectedFrames);
    observe(METRIC_STROOM_COLLECTOR_HANDSHAKES_REFUSED, (s) => s.agents.stats.refusedHandshakes);
    observe(METRIC_STROOM_COLLECTOR_AGENTS_CONNECTED, (s) => s.agents.connected);
    observe(METRIC_STROOM_COLLECTOR_LIVE_CLIENTS, (s) => s.live.clients);
    observe(METRIC_STROOM_COLLECTOR_LIVE_SKIPPED, (s) => s.live.skipped);
    observe(METRIC_STROOM_CLUSTER_POWER, (s) => s.cluster.powerW());
    observe(METRIC_STROOM_CLUSTER_ENERGY, (s) => s.summary().energyJ);
    observe(METRIC_STROOM_CLUSTER_GPUS, (s) => s.cluster.gpuCount);
    observe(METRIC_STROOM_CLUSTER_JOBS_RUNNING, (s) => s.cluster.runningJobs().length);
    observe(METRIC_STROOM_CLUSTER_NODES, (s) => {
      const nodes = s.cluster.latest();
      const up = nodes.filter((n) => n.up).length;
      return [[up, { [ATTR_STROOM_NODE_STATE]: 'up' }], [nodes.length - up, { [ATTR_STROOM_NODE_STATE]: 'down' }]];
    });
  }

  /** Start reading from the collector's parts (made after the telemetry, which times their commits). */
  observe(sources: CollectorSources): void {
    this.#sources = sources;
  }

  /** Take the device counters of committed batches (the newest per node wins). */
  committed(batches: Iterable<Batch>): void {
    for (const b of batches) {
      const prev = this.#counters.get(b.node);
      // Same epoch: committed in seq order, so newer even if the node's clock stepped back.
      if (prev !== undefined && b.epoch !== prev.epoch && b.ts < prev.ts) continue;
      this.#counters.set(b.node, { ts: b.ts, epoch: b.epoch, devices: b.counters.devices });
    }
  }

  /** The store, with the duration of every commit recorded as `stroom.collector.commit.duration`. */
  timeCommits<S extends Store>(store: S): S {
    const histogram = this.#commitDuration;
    return new Proxy(store, {
      get(target, key) {
        if (key === 'commit') {
          return (effects: Parameters<Store['commit']>[0]) => {
            const t0 = performance.now();
            try {
              target.commit(effects);
            } finally {
              histogram.record((performance.now() - t0) / 1000);
            }
          };
        }
        const value: unknown = Reflect.get(target, key, target);
        // Bound to the real store: its #private fields are not reachable through the proxy.
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
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

  async close(): Promise<void> {
    try {
      await this.#provider.shutdown();
    } catch (err) {
      this.#o.log.warn({ err }, 'telemetry shutdown failed');
    }
  }

  #snapshot(): MetricPoint[] {
    const s = this.#sources;
    if (s === undefined) return [];
    const points: MetricPoint[] = [];
    for (const n of s.cluster.latest()) {
      const counters = this.#counters.get(n.name);
      // A node that is down keeps its energy counters but has no current gauges.
      points.push(...hwPoints({
        node: n.name,
        gpus: n.gpus,
        ...(n.up && n.sample !== undefined ? { sample: n.sample } : {}),
        ...(counters === undefined ? {} : { devices: counters.devices }),
        ...(n.up && n.powerW !== undefined ? { hostPowerW: n.powerW } : {}),
      }));
    }
    const limit = this.#o.jobMetricsLimit ?? DEFAULT_JOB_METRICS_LIMIT;
    const running = s.cluster.runningJobs();
    const kept = limit <= 0 ? [] : [...running].sort((a, b) => b.powerW - a.powerW || a.allocation.id.localeCompare(b.allocation.id)).slice(0, limit);
    let energy: ReturnType<Store['jobEnergy']> = new Map();
    try {
      if (kept.length > 0) energy = s.store.jobEnergy(kept.map((j) => j.allocation.id));
    } catch (err) {
      // The rest of the scrape is still good; job energy is missing from this one.
      this.#o.log.warn({ err }, 'metrics: reading job energy failed');
    }
    for (const j of kept) {
      const attributes = { [ATTR_STROOM_JOB_ID]: j.allocation.id, [ATTR_STROOM_JOB_USER]: j.allocation.user, [ATTR_STROOM_JOB_ACCOUNT]: j.allocation.account };
      points.push({ name: METRIC_STROOM_JOB_POWER, value: j.powerW, attributes });
      const e = energy.get(j.allocation.id);
      if (e !== undefined) points.push({ name: METRIC_STROOM_JOB_ENERGY, value: mjToJ(e.gpuMj + e.cpuMj), attributes });
    }
    points.push({ name: METRIC_STROOM_COLLECTOR_JOBS_OMITTED, value: running.length - kept.length, attributes: {} });
    return points;
  }
}
