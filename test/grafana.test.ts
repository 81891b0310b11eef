/**
 * deploy/grafana/stroom.json against what the exporters really emit: a collector with two
 * simulated agents (one of them also serving its own /metrics) runs in-process, both are
 * scraped, and every metric named in a panel's query (or in a template variable) must be in
 * those scrapes. With a Prometheus on PROM_LOCAL_LISTEN (CI starts one), every query is also
 * run through it, so a PromQL syntax error fails here rather than on an operator's screen.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, SimulatedNode } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { AgentTelemetry } from '@stroom/agent/telemetry';
import { AgentTokens, startCollector } from '@stroom/collector';
import type { Collector } from '@stroom/collector';
import { testLog } from './helpers.js';

const DASHBOARD = new URL('../deploy/grafana/stroom.json', import.meta.url);
const PROM = `http://${process.env['PROM_LOCAL_LISTEN'] ?? '127.0.0.1:9090'}`;

interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly datasource?: { readonly type: string; readonly uid: string };
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { x: number; y: number; w: number; h: number };
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: ReadonlyArray<{ name: string; type: string; query?: unknown; definition?: string }> };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const allPanels = (ps: readonly Panel[]): Panel[] => ps.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const queryPanels = allPanels(dashboard.panels).filter((p) => p.type !== 'row' && p.type !== 'text');

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'Inf', 'NaN', 'inf', 'nan']);

/** Metric names a PromQL expression selects: identifiers that are not functions, keywords, labels or numbers. */
function metricNames(expr: string): string[] {
  const e = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of e.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const at = m.index ?? 0;
    if (/[0-9.$]/.test(e[at - 1] ?? '')) continue; // 3.6e6, $__range
    if (e.slice(at + m[0].length).trimStart().startsWith('(')) continue; // a function
    if (KEYWORDS.has(m[0])) continue;
    names.push(m[0]);
  }
  return names;
}

/** Sample names of a Prometheus text exposition (`hw_power`, `..._bucket`, `..._total`). */
function sampleNames(text: string): Set<string> {
  return new Set(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0] ?? ''));
}

/** The dashboard's Grafana variables replaced by values Prometheus accepts. */
function substitute(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval/g, '1m').replace(/\$__range/g, '1h').replace(/\$\{?node\}?/g, '.*');
}

describe('metricNames', () => {
  it('finds the metrics of a query and nothing else', () => {
    expect(metricNames('sum by (host_name) (rate(hw_energy_total{hw_type="gpu",host_name=~"$node"}[$__rate_interval])) / 3.6e6')).toStrictEqual(['hw_energy_total']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(stroom_collector_commit_duration_bucket[5m]))) and on() up')).toStrictEqual(['stroom_collector_commit_duration_bucket', 'up']);
    expect(metricNames('topk(20, stroom_job_power)')).toStrictEqual(['stroom_job_power']);
  });
});

describe('deploy/grafana/stroom.json', () => {
  const log = testLog();
  const agents: RunningAgent[] = [];
  let collector: Collector | undefined;
  let telemetry: AgentTelemetry | undefined;
  const emitted = new Set<string>();

  beforeAll(async () => {
    const nodes = ['gcn1', 'gcn2'];
    const tokens = new AgentTokens(nodes.map((n) => [n, `token-for-${n}-0123456789`] as const));
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens, log, dashboardDir: '/nonexistent' });
    telemetry = await AgentTelemetry.start({ node: 'gcn1', log, listen: { host: '127.0.0.1', port: 0 } });
    for (const [i, node] of nodes.entries()) {
      const sim = new SimulatedNode({ node, nodeOrdinal: i + 1, gpus: 4, seed: 42, timeScale: 2 });
      agents.push(await runAgent({ node, devices: sim, jobs: sim.jobs, intervalMs: 100, log, collectorUrl: collector.url, token: `token-for-${node}-0123456789`, ...(i === 0 ? { telemetry } : {}) }));
    }
    // Until jobs run and every node has reported (a live dashboard shows this state).
    const end = Date.now() + 20_000;
    for (;;) {
      emitted.clear();
      for (const url of [`${collector.url}/metrics`, telemetry.url ?? '']) for (const n of sampleNames(await (await fetch(url)).text())) emitted.add(n);
      if (emitted.has('stroom_job_power') && emitted.has('hw_temperature') && emitted.has('stroom_collector_commit_duration_bucket')) break;
      if (Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 40_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop(1000)));
    await telemetry?.close();
    await collector?.close();
  });

  it('is a dashboard with a Prometheus datasource variable, unique panel ids and a query on every panel', () => {
    expect(dashboard).toMatchObject({ uid: 'stroom-energy', schemaVersion: 39 });
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const ids = allPanels(dashboard.panels).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(queryPanels.length).toBeGreaterThan(20);
    for (const p of queryPanels) {
      expect(p.targets?.length ?? 0, `panel "${p.title}" has no query`).toBeGreaterThan(0);
      expect(p.datasource, p.title).toStrictEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
  });

  it("names in every panel's query only metrics the collector and agent really emit", () => {
    expect(emitted.has('hw_power')).toBe(true);
    for (const p of queryPanels) {
      for (const t of p.targets ?? []) {
        const names = metricNames(t.expr);
        expect(names.length, `panel "${p.title}" ${t.refId}: no metric in ${t.expr}`).toBeGreaterThan(0);
        for (const n of names) expect(emitted.has(n), `panel "${p.title}" ${t.refId} queries ${n}, which no scrape emitted`).toBe(true);
      }
    }
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
      const m = /label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(v.definition ?? '');
      expect(m?.[1] !== undefined && emitted.has(m[1]), `variable ${v.name}: ${v.definition ?? ''}`).toBe(true);
    }
  });

  it('has queries a real Prometheus accepts (when one runs)', async () => {
    let ready = false;
    try {
      ready = (await fetch(`${PROM}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok;
    } catch {
      ready = false;
    }
    if (!ready && process.env['CI'] === 'true') throw new Error(`no Prometheus at ${PROM}; .ci/run starts one with deploy/local/prometheus.sh start`);
    if (!ready) {
      console.warn(`not checking the dashboard's PromQL: no Prometheus at ${PROM} (start one with \`sudo deploy/local/prometheus.sh start\`)`);
      return;
    }
    for (const p of queryPanels) {
      for (const t of p.targets ?? []) {
        const res = await fetch(`${PROM}/api/v1/query?query=${encodeURIComponent(substitute(t.expr))}`);
        const body = (await res.json()) as { status: string; error?: string };
        expect(body.status, `panel "${p.title}" ${t.refId}: ${body.error ?? ''}`).toBe('success');
      }
    }
  });
});
