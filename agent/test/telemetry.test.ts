import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Batch } from '@stroom/protocol';
import { METRICS, isMetricName } from '@stroom/protocol';
import type * as SdkMetrics from '@opentelemetry/sdk-metrics';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { runAgent } from '../src/run.js';
import type { RunningAgent } from '../src/run.js';
import { SimulatedNode } from '../src/sources/simulated.js';
import { AgentTelemetry, otlpMetricsUrl } from '../src/telemetry.js';

// After ../src/telemetry.js has put the SDK's CommonJS build in place (see there).
const sdk = createRequire(import.meta.url)('@opentelemetry/sdk-metrics') as typeof SdkMetrics;
const log = pino({ level: 'silent' });

/** Metric names of a Prometheus text exposition, one per family (`# TYPE` lines). */
function families(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

/** The Prometheus name the exporter gives a catalogue metric (0.223: `.` → `_`, counters get `_total`, no unit suffix). */
function promName(name: string): string {
  const base = name.replace(/\./g, '_');
  return METRICS[name as keyof typeof METRICS].instrument === 'counter' ? `${base}_total` : base;
}

function byName(exported: ResourceMetrics[]): Map<string, MetricData> {
  const last = exported[exported.length - 1];
  const out = new Map<string, MetricData>();
  for (const scope of last?.scopeMetrics ?? []) for (const m of scope.metrics) out.set(m.descriptor.name, m);
  return out;
}

const points = (m: MetricData | undefined): Array<{ attributes: Record<string, unknown>; value: unknown }> => (m?.dataPoints ?? []).map((p) => ({ attributes: { ...p.attributes }, value: p.value }));

describe('AgentTelemetry', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /** A 4-GPU simulated node ticking every 50 ms for `ms`, then stopped; returns its last batch. */
  async function run(telemetry: AgentTelemetry, ms: number, collectorUrl?: string): Promise<{ running: RunningAgent; last: () => Batch | undefined }> {
    const sim = new SimulatedNode({ node: 'gcn9', nodeOrdinal: 9, gpus: 4, seed: 7, timeScale: 0.2 });
    let last: Batch | undefined;
    const running = await runAgent({
      node: 'gcn9', devices: sim, jobs: sim.jobs, intervalMs: 50, log, telemetry, onBatch: (b) => { last = b; },
      ...(collectorUrl === undefined ? {} : { collectorUrl, token: 'token-for-gcn9-0123456789' }),
    });
    cleanup.push(() => running.stop(100));
    await new Promise((r) => setTimeout(r, ms));
    return { running, last: () => last };
  }

  describe('#names', () => {
    it('records only catalogue names, each with its unit and kind, and hw.* without any job', async () => {
      const exporter = new sdk.InMemoryMetricExporter(sdk.AggregationTemporality.CUMULATIVE);
      const telemetry = await AgentTelemetry.start({ node: 'gcn9', log, exporters: [exporter] });
      cleanup.push(() => telemetry.close());
      const { running } = await run(telemetry, 600);
      await running.stop(100);
      await telemetry.flush();
      const metrics = byName(exporter.getMetrics());
      for (const [name, m] of metrics) {
        expect(isMetricName(name), `${name} is not in protocol/src/semconv.ts`).toBe(true);
        if (!isMetricName(name)) continue;
        expect(m.descriptor.unit, name).toBe(METRICS[name].unit);
        const kind = m.dataPointType === sdk.DataPointType.SUM ? (m.isMonotonic ? 'counter' : 'updowncounter') : m.dataPointType === sdk.DataPointType.GAUGE ? 'gauge' : 'histogram';
        expect(kind, name).toBe(METRICS[name].instrument);
        if (name.startsWith('hw.')) for (const p of points(m)) expect(Object.keys(p.attributes).filter((k) => k.startsWith('stroom.')), name).toStrictEqual([]);
      }
      expect([...metrics.keys()].sort()).toStrictEqual([
        'hw.energy', 'hw.gpu.memory.limit', 'hw.gpu.memory.usage', 'hw.gpu.memory.utilization', 'hw.gpu.utilization', 'hw.host.energy', 'hw.host.power', 'hw.power', 'hw.temperature',
        'stroom.agent.batches', 'stroom.agent.gaps', 'stroom.agent.source.duration', 'stroom.agent.source.errors', 'stroom.agent.source.timeouts',
        'stroom.agent.spool.batches', 'stroom.agent.spool.dropped', 'stroom.agent.spool.size',
      ]);
    });
  });

  describe('#values', () => {
    it("exports the last batch's counters in J and one hw.power per GPU and CPU package", async () => {
      const exporter = new sdk.InMemoryMetricExporter(sdk.AggregationTemporality.CUMULATIVE);
      const telemetry = await AgentTelemetry.start({ node: 'gcn9', log, exporters: [exporter] });
      cleanup.push(() => telemetry.close());
      const { running, last } = await run(telemetry, 500);
      await running.stop(100);
      await telemetry.flush();
      const batch = last();
      expect(batch).toBeDefined();
      const metrics = byName(exporter.getMetrics());
      const energy = new Map(points(metrics.get('hw.energy')).map((p) => [p.attributes['hw.id'], p.value]));
      expect(energy).toStrictEqual(new Map(batch?.counters.devices.map((d) => [d.id, d.energyMj / 1000])));
      const hostJ = points(metrics.get('hw.host.energy'))[0]?.value as number;
      expect(hostJ).toBeCloseTo((batch?.counters.devices.reduce((a, d) => a + d.energyMj, 0) ?? 0) / 1000, 9);
      const power = points(metrics.get('hw.power'));
      expect(power.map((p) => [p.attributes['hw.type'], p.attributes['hw.name']])).toStrictEqual([['gpu', 'gpu0'], ['gpu', 'gpu1'], ['gpu', 'gpu2'], ['gpu', 'gpu3'], ['cpu', 'package-0'], ['cpu', 'package-1']]);
      expect(power.every((p) => p.attributes['host.name'] === 'gcn9')).toBe(true);
      const duration = points(metrics.get('stroom.agent.source.duration'));
      expect(duration.map((p) => p.attributes)).toStrictEqual([{ 'stroom.source.name': 'simulated' }]);
      expect((duration[0]?.value as { count: number }).count).toBeGreaterThan(3);
      expect(points(metrics.get('stroom.agent.source.errors'))).toStrictEqual([{ attributes: { 'stroom.source.name': 'simulated' }, value: 0 }]);
      expect(points(metrics.get('stroom.agent.batches'))[0]?.value).toBe(batch?.seq);
    });

    it('reports the link state as 1 for the current state and 0 for the others', async () => {
      const exporter = new sdk.InMemoryMetricExporter(sdk.AggregationTemporality.CUMULATIVE);
      const telemetry = await AgentTelemetry.start({ node: 'gcn9', log, exporters: [exporter] });
      cleanup.push(() => telemetry.close());
      // Nothing listens on port 9 of loopback: the link keeps retrying.
      await run(telemetry, 300, 'http://127.0.0.1:9');
      await telemetry.flush();
      const state = points(byName(exporter.getMetrics()).get('stroom.agent.link.state'));
      expect(state.map((p) => p.attributes['stroom.link.state'])).toStrictEqual(['connecting', 'open', 'waiting', 'closed']);
      expect(state.map((p) => p.value).reduce((a: number, v) => a + (v as number), 0)).toBe(1);
      expect(state.find((p) => p.attributes['stroom.link.state'] === 'open')?.value).toBe(0);
    });
  });

  describe('#listen', () => {
    it('serves /metrics in the Prometheus text format, without target_info, with the documented names', async () => {
      const telemetry = await AgentTelemetry.start({ node: 'gcn9', log, listen: { host: '127.0.0.1', port: 0 } });
      cleanup.push(() => telemetry.close());
      await run(telemetry, 300);
      const url = telemetry.url ?? '';
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const res = await fetch(url);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await res.text();
      expect(text).not.toContain('target_info');
      const found = families(text);
      for (const name of found.keys()) {
        expect(Object.keys(METRICS).map(promName), `${name} is not a documented Prometheus name`).toContain(name);
      }
      expect(found.get('hw_power')).toBe('gauge');
      expect(found.get('hw_energy_total')).toBe('counter');
      expect(found.get('hw_gpu_memory_usage')).toBe('gauge');
      expect(found.get('stroom_agent_source_duration')).toBe('histogram');
      expect(text).toMatch(/^stroom_agent_source_duration_bucket\{stroom_source_name="simulated",otel_scope_name="stroom-agent",otel_scope_version="0.1.0",le="0.001"\} \d+$/m);
      expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
      expect((await fetch(url, { method: 'POST' })).status).toBe(405);
    });

    it('refuses an address in use, naming the flag', async () => {
      const first = await AgentTelemetry.start({ node: 'a', log, listen: { host: '127.0.0.1', port: 0 } });
      cleanup.push(() => first.close());
      const port = Number(new URL(first.url ?? '').port);
      await expect(AgentTelemetry.start({ node: 'b', log, listen: { host: '127.0.0.1', port } })).rejects.toThrow(`--metrics-listen 127.0.0.1:${port}: listen EADDRINUSE`);
    });
  });

  describe('#otlp', () => {
    it('pushes OTLP/HTTP to <url>/v1/metrics', async () => {
      const bodies: Array<{ path: string; type: string; body: string }> = [];
      const receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
        req.on('end', () => {
          bodies.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '', body });
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      cleanup.push(() => new Promise((r) => receiver.close(r)));
      const port = (receiver.address() as AddressInfo).port;
      const telemetry = await AgentTelemetry.start({ node: 'gcn9', log, otlpUrl: `http://127.0.0.1:${port}`, otlpIntervalMs: 3_600_000 });
      cleanup.push(() => telemetry.close());
      await run(telemetry, 300);
      await telemetry.flush();
      expect(bodies.length).toBeGreaterThanOrEqual(1);
      expect(bodies[0]?.path).toBe('/v1/metrics');
      expect(bodies[0]?.body).toContain('"hw.power"');
      expect(bodies[0]?.body).toContain('"stroom-agent"');
      expect(otlpMetricsUrl(`http://127.0.0.1:${port}/`)).toBe(`http://127.0.0.1:${port}/v1/metrics`);
    });
  });
});
