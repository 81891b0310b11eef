import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Batch, GpuInfo, JobAllocation, Sample } from '@stroom/protocol';
import { METRICS, PROTOCOL_VERSION, isMetricName } from '@stroom/protocol';
import type * as SdkMetrics from '@opentelemetry/sdk-metrics';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AgentTokens } from '../src/auth/agent-tokens.js';
import { startCollector } from '../src/collector.js';
import type { LiveJobFigures, NodeLatest } from '../src/live/cluster-state.js';
import { CollectorTelemetry, otlpMetricsUrl } from '../src/telemetry.js';
import type { CollectorSources } from '../src/telemetry.js';

// After ../src/telemetry.js has put the SDK's CommonJS build in place (see there).
const sdk = createRequire(import.meta.url)('@opentelemetry/sdk-metrics') as typeof SdkMetrics;
const log = pino({ level: 'silent' });

const gpu = (node: number, i: number): GpuInfo => ({ uuid: `GPU-${node}-${i}`, index: i, name: 'NVIDIA H100 80GB HBM3', memTotalBytes: 80e9, powerLimitW: 700 });
const sample = (gpus: readonly GpuInfo[], powerW: number): Sample => ({ ts: 1000, gpus: gpus.map((g) => ({ uuid: g.uuid, powerW, tempC: 50, utilRatio: 0.5, memUsedBytes: 1e9 })), cpus: [{ id: 'package-0', powerW: 200 }] });
const job = (id: string, powerW: number, gpus: string[]): LiveJobFigures => ({
  allocation: { id, user: `user-${id}`, account: `acct-${id}`, startTs: 0, gpus, cpuCores: 1 } satisfies JobAllocation,
  nodes: ['gcn1'],
  gpus: gpus.length,
  powerW,
});
const batch = (node: string, ts: number, gpus: readonly GpuInfo[], mj: number): Batch => ({
  v: PROTOCOL_VERSION, type: 'batch', node, epoch: 'e1', seq: ts, ts, samples: [],
  counters: { devices: [...gpus.map((g) => ({ id: g.uuid, kind: 'gpu' as const, energyMj: mj })), { id: 'package-0', kind: 'cpu', energyMj: mj }], jobs: [], idle: { gpuEnergyMj: 0, cpuEnergyMj: 0 } },
  jobs: [], gaps: 0,
});

/** A cluster of two 4-GPU nodes with three running jobs of 900, 300 and 1500 W. */
function fakeSources(): { sources: CollectorSources; nodes: NodeLatest[]; jobs: LiveJobFigures[] } {
  const g1 = [0, 1, 2, 3].map((i) => gpu(1, i));
  const g2 = [0, 1, 2, 3].map((i) => gpu(2, i));
  const nodes: NodeLatest[] = [
    { name: 'gcn1', up: true, gpus: g1, sample: sample(g1, 400), powerW: 1800 },
    { name: 'gcn2', up: true, gpus: g2, sample: sample(g2, 100), powerW: 600 },
  ];
  const jobs = [job('1001', 900, ['GPU-1-0']), job('1002', 300, ['GPU-1-1']), job('1003', 1500, ['GPU-2-0', 'GPU-2-1'])];
  const sources: CollectorSources = {
    cluster: { latest: () => nodes, runningJobs: () => jobs, powerW: () => nodes.filter((n) => n.up).reduce((a, n) => a + (n.powerW ?? 0), 0), gpuCount: 8 },
    store: { jobEnergy: (ids) => new Map(ids.map((id) => [id, { gpuMj: Number(id) * 1000, cpuMj: 500, otherMj: 99_000 }])) },
    summary: () => ({ ts: 0, nodes: 2, gpus: 8, powerW: 2400, energyJ: 12_345, energyTodayJ: 100, jobsRunning: 3 }),
    committer: { stats: { counted: 10, duplicates: 1, resets: 2, glitches: 3, commits: 4, failures: 0 } },
    agents: { stats: { refusedHandshakes: 5, rejectedFrames: 6, rejectedValues: 7, connections: 2, delayedFrames: 0 }, connected: 2 },
    live: { clients: 1, skipped: 8 },
  };
  return { sources, nodes, jobs };
}

/** Every data point of the last export, by metric name. */
function byName(exported: ResourceMetrics[]): Map<string, MetricData> {
  const last = exported[exported.length - 1];
  const out = new Map<string, MetricData>();
  for (const scope of last?.scopeMetrics ?? []) for (const m of scope.metrics) out.set(m.descriptor.name, m);
  return out;
}

const points = (m: MetricData | undefined): Array<{ attributes: Record<string, unknown>; value: unknown }> => (m?.dataPoints ?? []).map((p) => ({ attributes: { ...p.attributes }, value: p.value }));

describe('CollectorTelemetry', () => {
  const open: CollectorTelemetry[] = [];
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
  });

  function setup(jobMetricsLimit?: number): { telemetry: CollectorTelemetry; exporter: SdkMetrics.InMemoryMetricExporter; fake: ReturnType<typeof fakeSources> } {
    const exporter = new sdk.InMemoryMetricExporter(sdk.AggregationTemporality.CUMULATIVE);
    const telemetry = new CollectorTelemetry({ log, exporters: [exporter], ...(jobMetricsLimit === undefined ? {} : { jobMetricsLimit }) });
    open.push(telemetry);
    const fake = fakeSources();
    telemetry.observe(fake.sources);
    telemetry.committed([batch('gcn1', 1000, fake.nodes[0]?.gpus ?? [], 5_000_000), batch('gcn2', 1000, fake.nodes[1]?.gpus ?? [], 7_000)]);
    return { telemetry, exporter, fake };
  }

  describe('#names', () => {
    it('records only names of the catalogue, each with its unit and instrument kind', async () => {
      const { telemetry, exporter } = setup();
      await telemetry.flush();
      const metrics = byName(exporter.getMetrics());
      expect(metrics.size).toBeGreaterThan(20);
      for (const [name, m] of metrics) {
        expect(isMetricName(name), `${name} is not in protocol/src/semconv.ts`).toBe(true);
        if (!isMetricName(name)) continue;
        const info = METRICS[name];
        expect(m.descriptor.unit, name).toBe(info.unit);
        const kind = m.dataPointType === sdk.DataPointType.SUM ? (m.isMonotonic ? 'counter' : 'updowncounter') : m.dataPointType === sdk.DataPointType.GAUGE ? 'gauge' : 'histogram';
        // The SDK reports observable gauges as GAUGE and up-down counters as non-monotonic sums.
        expect(kind, name).toBe(info.instrument);
      }
      for (const name of ['hw.power', 'hw.energy', 'hw.temperature', 'hw.gpu.utilization', 'hw.gpu.memory.usage', 'hw.host.power', 'hw.host.energy', 'stroom.cluster.power', 'stroom.job.power', 'stroom.job.energy']) {
        expect(metrics.has(name), name).toBe(true);
      }
    });

    it('exports the collector figures it reads', async () => {
      const { telemetry, exporter } = setup();
      await telemetry.flush();
      const metrics = byName(exporter.getMetrics());
      const value = (name: string): unknown => points(metrics.get(name))[0]?.value;
      expect([value('stroom.collector.batches'), value('stroom.collector.batches.duplicate'), value('stroom.collector.counter.resets'), value('stroom.collector.counter.glitches'), value('stroom.collector.commits'), value('stroom.collector.commit.failures')]).toStrictEqual([10, 1, 2, 3, 4, 0]);
      expect([value('stroom.collector.handshakes.refused'), value('stroom.collector.frames.rejected'), value('stroom.collector.values.rejected'), value('stroom.collector.agents.connected'), value('stroom.collector.live.clients'), value('stroom.collector.live.skipped')]).toStrictEqual([5, 6, 7, 2, 1, 8]);
      expect([value('stroom.cluster.power'), value('stroom.cluster.energy'), value('stroom.cluster.gpus'), value('stroom.cluster.jobs.running')]).toStrictEqual([2400, 12_345, 8, 3]);
      expect(points(metrics.get('stroom.cluster.nodes'))).toStrictEqual([{ attributes: { 'stroom.node.state': 'up' }, value: 2 }, { attributes: { 'stroom.node.state': 'down' }, value: 0 }]);
    });
  });

  describe('#hw', () => {
    it('has one hw.power series per GPU and CPU package, with the GPU UUID as hw.id and the node as host.name', async () => {
      const { telemetry, exporter } = setup();
      await telemetry.flush();
      const power = points(byName(exporter.getMetrics()).get('hw.power'));
      expect(power.filter((p) => p.attributes['hw.type'] === 'gpu').map((p) => [p.attributes['host.name'], p.attributes['hw.id'], p.value])).toStrictEqual([
        ['gcn1', 'GPU-1-0', 400], ['gcn1', 'GPU-1-1', 400], ['gcn1', 'GPU-1-2', 400], ['gcn1', 'GPU-1-3', 400],
        ['gcn2', 'GPU-2-0', 100], ['gcn2', 'GPU-2-1', 100], ['gcn2', 'GPU-2-2', 100], ['gcn2', 'GPU-2-3', 100],
      ]);
      expect(power.filter((p) => p.attributes['hw.type'] === 'cpu')).toHaveLength(2);
      const energy = points(byName(exporter.getMetrics()).get('hw.energy'));
      // 5 000 000 mJ on the wire is 5000 J.
      expect(energy.find((p) => p.attributes['hw.id'] === 'GPU-1-0')?.value).toBe(5000);
      expect(points(byName(exporter.getMetrics()).get('hw.host.power')).map((p) => p.value)).toStrictEqual([1800, 600]);
    });

    it('never puts a job id, user or account on an hw.* series', async () => {
      const { telemetry, exporter, fake } = setup();
      await telemetry.flush();
      const jobValues = new Set(fake.jobs.flatMap((j) => [j.allocation.id, j.allocation.user, j.allocation.account]));
      for (const [name, m] of byName(exporter.getMetrics())) {
        if (!name.startsWith('hw.')) continue;
        for (const p of points(m)) {
          for (const [k, v] of Object.entries(p.attributes)) {
            expect(k.startsWith('stroom.'), `${name} has ${k}`).toBe(false);
            expect(jobValues.has(String(v)), `${name} has ${k}=${String(v)}`).toBe(false);
          }
        }
      }
    });

    it('drops the gauges of a node that went down and keeps its counters; a vanished GPU is gone at the next collection', async () => {
      const { telemetry, exporter, fake } = setup();
      await telemetry.flush();
      const gcn2 = fake.nodes[1] as NodeLatest;
      fake.nodes[1] = { ...gcn2, up: false };
      const gcn1 = fake.nodes[0] as NodeLatest;
      fake.nodes[0] = { ...gcn1, sample: { ...(gcn1.sample as Sample), gpus: (gcn1.sample as Sample).gpus.slice(1) } };
      exporter.reset();
      await telemetry.flush();
      const metrics = byName(exporter.getMetrics());
      expect(points(metrics.get('hw.power')).map((p) => p.attributes['hw.id'])).toStrictEqual(['GPU-1-1', 'GPU-1-2', 'GPU-1-3', 'package-0']);
      expect(points(metrics.get('hw.host.power')).map((p) => p.attributes['host.name'])).toStrictEqual(['gcn1']);
      expect(points(metrics.get('hw.host.energy')).map((p) => p.attributes['host.name'])).toStrictEqual(['gcn1', 'gcn2']);
    });
  });

  describe('#jobs', () => {
    it('exports the highest-power jobs up to the cap, with id, user and account, and counts the rest', async () => {
      const { telemetry, exporter } = setup(2);
      await telemetry.flush();
      const metrics = byName(exporter.getMetrics());
      expect(points(metrics.get('stroom.job.power'))).toStrictEqual([
        { attributes: { 'stroom.job.id': '1003', 'stroom.job.user': 'user-1003', 'stroom.job.account': 'acct-1003' }, value: 1500 },
        { attributes: { 'stroom.job.id': '1001', 'stroom.job.user': 'user-1001', 'stroom.job.account': 'acct-1001' }, value: 900 },
      ]);
      // Measured GPU + CPU energy, without the modelled base power: 1003 * 1000 + 500 mJ.
      expect(points(metrics.get('stroom.job.energy')).map((p) => p.value)).toStrictEqual([1003.5, 1001.5]);
      expect(points(metrics.get('stroom.collector.jobs.omitted'))[0]?.value).toBe(1);
    });

    it('forgets a job that ended, and exports none with a cap of 0', async () => {
      const { telemetry, exporter, fake } = setup();
      await telemetry.flush();
      expect(points(byName(exporter.getMetrics()).get('stroom.job.power'))).toHaveLength(3);
      fake.jobs.splice(0, 2);
      exporter.reset();
      await telemetry.flush();
      expect(points(byName(exporter.getMetrics()).get('stroom.job.power')).map((p) => p.attributes['stroom.job.id'])).toStrictEqual(['1003']);

      const none = setup(0);
      await none.telemetry.flush();
      const metrics = byName(none.exporter.getMetrics());
      expect(metrics.has('stroom.job.power')).toBe(false);
      expect(points(metrics.get('stroom.collector.jobs.omitted'))[0]?.value).toBe(3);
    });
  });

  describe('#timeCommits', () => {
    it('records each store commit in stroom.collector.commit.duration and passes every other call through', async () => {
      const { telemetry, exporter } = setup();
      let committed = 0;
      class FakeStore {
        readonly #secret = 42;
        commit(): void {
          committed += 1;
        }
        secret(): number {
          return this.#secret;
        }
      }
      const timed = telemetry.timeCommits(new FakeStore() as unknown as Parameters<CollectorTelemetry['timeCommits']>[0]);
      timed.commit([]);
      timed.commit([]);
      expect((timed as unknown as FakeStore).secret()).toBe(42);
      expect(committed).toBe(2);
      await telemetry.flush();
      const h = byName(exporter.getMetrics()).get('stroom.collector.commit.duration');
      expect(h?.dataPointType).toBe(sdk.DataPointType.HISTOGRAM);
      expect((h?.dataPoints[0]?.value as { count: number }).count).toBe(2);
    });
  });

  describe('#otlp', () => {
    it('adds /v1/metrics to a bare endpoint and refuses what is not http(s)', () => {
      expect(otlpMetricsUrl('http://127.0.0.1:4318')).toBe('http://127.0.0.1:4318/v1/metrics');
      expect(otlpMetricsUrl('https://otel.example/custom/path')).toBe('https://otel.example/custom/path');
      expect(() => otlpMetricsUrl('grpc://otel:4317')).toThrow('--otlp grpc://otel:4317: expected an http:// or https:// URL');
    });
  });
});

describe('GET /metrics on the collector', () => {
  it('serves the Prometheus text format without target_info, and only to GET', async () => {
    const tokens = new AgentTokens([['gcn1', 'token-for-gcn1-0123456789']]);
    const collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens, log, dashboardDir: '/nonexistent' });
    try {
      const res = await fetch(`${collector.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await res.text();
      expect(text).not.toContain('target_info');
      expect(text).toContain('# TYPE stroom_collector_batches_total counter');
      expect(text).toContain('stroom_cluster_nodes{stroom_node_state="up",otel_scope_name="stroom-collector",otel_scope_version="0.1.0"} 0');
      expect((await fetch(`${collector.url}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await collector.close();
    }
  });
});

describe('--otlp on the collector', () => {
  it('pushes its metrics by OTLP/HTTP, a last time when it closes', async () => {
    const bodies: Array<{ path: string; body: string }> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const port = (receiver.address() as AddressInfo).port;
      const tokens = new AgentTokens([['gcn1', 'token-for-gcn1-0123456789']]);
      const collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens, log, dashboardDir: '/nonexistent', otlpUrl: `http://127.0.0.1:${port}`, otlpIntervalMs: 3_600_000 });
      await collector.close();
      expect(bodies.map((b) => b.path)).toStrictEqual(['/v1/metrics']);
      expect(bodies[0]?.body).toContain('"stroom.cluster.power"');
      expect(bodies[0]?.body).toContain('"stroom-collector"');
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });
});

describe('docs/metrics.md', () => {
  it('lists every catalogue metric with its Prometheus name and unit', () => {
    const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
    for (const [name, info] of Object.entries(METRICS)) {
      const base = name.replace(/\./g, '_');
      const prom = info.instrument === 'counter' ? `${base}_total` : info.instrument === 'histogram' ? `${base}_bucket` : base;
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
      expect(row, `no row for ${name}`).toBeDefined();
      expect(row, name).toContain(`\`${prom}\``);
      expect(row?.split('|')[4]?.trim(), name).toBe(info.unit);
    }
  });
});
