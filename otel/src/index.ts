/**
 * OpenTelemetry plumbing shared by the agent and the collector: the snapshot producer that
 * builds series afresh at every collection, and an OTLP exporter wrapper that logs a run of
 * failures once. Each process's own `telemetry.ts` decides what to measure.
 */
import { ValueType } from '@opentelemetry/api';
import type { HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import * as sdk from '@opentelemetry/sdk-metrics';
import type { AggregationTemporality, CollectionResult, InstrumentType, MetricData, MetricProducer, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { MetricName, MetricPoint } from '@stroom/protocol';
import { METRICS } from '@stroom/protocol/wire';
import type { Logger } from 'pino';

/** Default OTLP push period, ms. */
export const DEFAULT_OTLP_INTERVAL_MS = 15_000;

/** `http://h:p` to `http://h:p/v1/metrics`; a URL with a path is taken as it is. */
export function otlpMetricsUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--otlp ${url}: expected an http:// or https:// URL`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/metrics';
  return u.toString();
}

/**
 * Builds metric data from a fresh snapshot at every collection, so a series that is no longer
 * in the snapshot is no longer exported. Counter start times are kept per series (and reset
 * when a counter goes down), as OTLP consumers expect of cumulative sums.
 */
export class SnapshotProducer implements MetricProducer {
  readonly #read: () => MetricPoint[];
  readonly #scope: { readonly name: string; readonly version: string };
  readonly #starts = new Map<string, { start: HrTime; last: number }>();

  /** `scope` names the instrumentation scope (`stroom-agent`, `stroom-collector`) and its version. */
  constructor(read: () => MetricPoint[], scope: { readonly name: string; readonly version: string }) {
    this.#read = read;
    this.#scope = scope;
  }

  async collect(): Promise<CollectionResult> {
    const now = hrNow();
    const byName = new Map<MetricName, MetricPoint[]>();
    for (const p of this.#read()) {
      const list = byName.get(p.name);
      if (list === undefined) byName.set(p.name, [p]);
      else list.push(p);
    }
    const seen = new Set<string>();
    const metrics: MetricData[] = [];
    for (const [name, points] of byName) {
      const info = METRICS[name];
      const descriptor = { name, unit: info.unit, description: info.description, valueType: ValueType.DOUBLE };
      if (info.instrument === 'gauge') {
        metrics.push({ descriptor, aggregationTemporality: sdk.AggregationTemporality.CUMULATIVE, dataPointType: sdk.DataPointType.GAUGE, dataPoints: points.map((p) => ({ startTime: now, endTime: now, attributes: p.attributes, value: p.value })) });
        continue;
      }
      if (info.instrument === 'histogram') continue;
      const dataPoints = points.map((p) => {
        const key = `${name}\u0000${seriesKey(p.attributes)}`;
        seen.add(key);
        let s = this.#starts.get(key);
        if (s === undefined || p.value < s.last) s = { start: now, last: p.value };
        s.last = p.value;
        this.#starts.set(key, s);
        return { startTime: s.start, endTime: now, attributes: p.attributes, value: p.value };
      });
      metrics.push({ descriptor, aggregationTemporality: sdk.AggregationTemporality.CUMULATIVE, dataPointType: sdk.DataPointType.SUM, isMonotonic: info.instrument === 'counter', dataPoints });
    }
    for (const key of this.#starts.keys()) if (!seen.has(key)) this.#starts.delete(key);
    const resourceMetrics = { resource: resourceFromAttributes({}), scopeMetrics: [{ scope: this.#scope, metrics }] } satisfies ResourceMetrics;
    return { resourceMetrics, errors: [] };
  }
}

function seriesKey(attributes: Readonly<Record<string, string>>): string {
  return Object.keys(attributes).sort().map((k) => `${k}=${attributes[k] ?? ''}`).join('\u0001');
}

function hrNow(): HrTime {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

/** A push exporter that logs the first failure of a run of failures (the SDK's own errors go to a silent diag). */
export class LoggingExporter implements PushMetricExporter {
  readonly #inner: PushMetricExporter;
  readonly #log: Logger;
  readonly #url: string;
  #failing = false;

  constructor(inner: PushMetricExporter, log: Logger, url: string) {
    this.#inner = inner;
    this.#log = log;
    this.#url = url;
  }

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.#inner.export(metrics, (result) => {
      if (result.code !== ExportResultCode.SUCCESS && !this.#failing) {
        this.#failing = true;
        this.#log.warn({ url: this.#url, err: result.error?.message }, 'OTLP metrics push failed (logged once until it works again)');
      } else if (result.code === ExportResultCode.SUCCESS && this.#failing) {
        this.#failing = false;
        this.#log.info({ url: this.#url }, 'OTLP metrics push works again');
      }
      done(result);
    });
  }

  async forceFlush(): Promise<void> {
    await this.#inner.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.#inner.shutdown();
  }

  selectAggregationTemporality(kind: InstrumentType): AggregationTemporality {
    return this.#inner.selectAggregationTemporality?.(kind) ?? sdk.AggregationTemporality.CUMULATIVE;
  }
}
