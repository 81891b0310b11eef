/**
 * The collector's `/metrics` against a REAL Prometheus: the one `deploy/local/prometheus.sh
 * start` runs (Debian's 2.42 on 127.0.0.1:9090, 1 s scrapes, file-based targets). A collector
 * with two simulated 4-GPU agents runs in-process on a free port; the test points Prometheus
 * at it with `prometheus.sh targets 127.0.0.1:PORT run=<id>`, then reads the values back
 * through Prometheus's HTTP API (`/api/v1/query`) and compares them with the collector's own API.
 *
 * Starts no Prometheus itself. Without one it is skipped, except in CI (CI=true), where it
 * fails: CI must start Prometheus first.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterSummary, JobSummary, NodeSummary } from '@stroom/protocol';
import { runAgent, SimulatedNode } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { AgentTokens, startCollector } from '@stroom/collector';
import type { Collector } from '@stroom/collector';
import { getJson, testLog } from './helpers.js';

const LISTEN = process.env['PROM_LOCAL_LISTEN'] ?? '127.0.0.1:9090';
const PROM = `http://${LISTEN}`;
const SCRIPT = fileURLToPath(new URL('../deploy/local/prometheus.sh', import.meta.url));
const HOW_TO_START = 'start a local Prometheus with `sudo deploy/local/prometheus.sh start`';
const CI = process.env['CI'] === 'true';
const NODES = ['gcn1', 'gcn2'];
/** Agent interval; a node counts as up for max(5 s, 3 intervals) after its last batch. */
const INTERVAL_MS = 250;

async function detect(): Promise<{ ok: true } | { ok: false; why: string }> {
  try {
    const res = await fetch(`${PROM}/-/ready`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? { ok: true } : { ok: false, why: `${PROM}/-/ready answered ${res.status}` };
  } catch (err) {
    return { ok: false, why: `no Prometheus on ${LISTEN} (${(err as Error).message})` };
  }
}

const found = await detect();
if (!found.ok && !CI) console.warn(`skipping the Prometheus integration test: ${found.why}; ${HOW_TO_START}`);

interface Series {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** An instant query through Prometheus's HTTP API. */
async function query(q: string): Promise<Series[]> {
  const res = await fetch(`${PROM}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: Series[] } };
  if (body.status !== 'success') throw new Error(`query ${q}: ${body.error ?? res.status}`);
  return body.data.result;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** `prometheus.sh targets ...`: the script owns the targets file and its format. */
function targets(...args: string[]): void {
  execFileSync(SCRIPT, ['targets', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
}

describe.skipIf(!found.ok && !CI)('Prometheus scraping the collector', () => {
  const log = testLog();
  const run = randomUUID().slice(0, 8);
  const sel = `run="${run}"`;
  const sims = new Map<string, SimulatedNode>();
  const agents: RunningAgent[] = [];
  let collector: Collector | undefined;

  beforeAll(async () => {
    if (!found.ok) return;
    const tokens = new AgentTokens(NODES.map((n) => [n, `token-for-${n}-0123456789`] as const));
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens, log, dashboardDir: '/nonexistent' });
    for (const [i, node] of NODES.entries()) {
      const sim = new SimulatedNode({ node, nodeOrdinal: i + 1, gpus: 4, seed: 42, timeScale: 2 });
      sims.set(node, sim);
      agents.push(await runAgent({ node, devices: sim, jobs: sim.jobs, intervalMs: INTERVAL_MS, log, collectorUrl: collector.url, token: `token-for-${node}-0123456789` }));
    }
    targets(new URL(collector.url).host, `run=${run}`);
    // The 2.42 scrape manager applies new targets on a 5 s tick; then one scrape a second.
    await until('up == 1 for the collector', 30_000, async () => ((await query(`up{${sel}}`))[0]?.value[1] === '1' ? true : undefined));
    await until('8 GPU hw_power series', 15_000, async () => ((await query(`count(hw_power{${sel},hw_type="gpu"})`))[0]?.value[1] === '8' ? true : undefined));
  }, 60_000);

  afterAll(async () => {
    if (!found.ok) return;
    try {
      targets();
    } catch {
      // leave the file; the next run overwrites it
    }
    await Promise.all(agents.map((a) => a.stop(1000)));
    await collector?.close();
  });

  it('finds a running Prometheus (CI must start one)', () => {
    expect(found.ok, `Prometheus is required in CI but ${found.ok ? '' : found.why}; ${HOW_TO_START} in .ci/run`).toBe(true);
  });

  it.skipIf(!found.ok)('has one hw_power series per GPU of the API, keyed by its UUID, with the node as host_name', async () => {
    const url = collector?.url ?? '';
    const cluster = (await getJson<ClusterSummary>(`${url}/api/v1/cluster`)).body;
    const nodes = (await getJson<{ nodes: NodeSummary[] }>(`${url}/api/v1/nodes`)).body.nodes;
    const power = await query(`hw_power{${sel},hw_type="gpu"}`);
    expect(power).toHaveLength(cluster.gpus);
    const fromProm = power.map((s) => `${s.metric['host_name']} ${s.metric['hw_id']}`).sort();
    const fromApi = nodes.flatMap((n) => n.gpus.map((g) => `${n.name} ${g.uuid}`)).sort();
    expect(fromProm).toStrictEqual(fromApi);
    for (const s of power) {
      expect(s.metric).toMatchObject({ __name__: 'hw_power', job: 'stroom', hw_type: 'gpu', hw_vendor: 'nvidia', hw_model: 'NVIDIA H100 80GB HBM3' });
      expect(Number(s.value[1])).toBeGreaterThan(0);
    }
    // Two CPU packages per node, and host totals per node.
    expect(await query(`count(hw_power{${sel},hw_type="cpu"})`)).toMatchObject([{ value: [expect.any(Number), '4'] }]);
    expect((await query(`hw_host_power{${sel}}`)).map((s) => s.metric['host_name']).sort()).toStrictEqual(NODES);
  });

  it.skipIf(!found.ok)('stores no job label on any hw_* series, and per-job figures only on stroom_job_*', async () => {
    const hw = await query(`{__name__=~"hw_.+",${sel}}`);
    expect(hw.length).toBeGreaterThan(40);
    for (const s of hw) expect(Object.keys(s.metric).filter((k) => k.includes('job') && k !== 'job'), s.metric['__name__']).toStrictEqual([]);
    const jobs = await until('a stroom_job_power series', 15_000, async () => {
      const r = await query(`stroom_job_power{${sel}}`);
      return r.length > 0 ? r : undefined;
    });
    const known = (await getJson<{ jobs: JobSummary[] }>(`${collector?.url ?? ''}/api/v1/jobs?limit=1000`)).body.jobs;
    for (const s of jobs) {
      const job = known.find((j) => j.id === s.metric['stroom_job_id']);
      expect(job, `job ${s.metric['stroom_job_id']} of Prometheus is not in the API`).toBeDefined();
      expect(s.metric).toMatchObject({ stroom_job_user: job?.user, stroom_job_account: job?.account });
    }
  });

  it.skipIf(!found.ok)("reads back the collector's cluster power and energy once the agents stopped", async () => {
    const drained = await Promise.all(agents.map((a) => a.stop(5000)));
    expect(drained).toStrictEqual([true, true]);
    // The API caches cluster energy for a second.
    await sleep(1100);
    const askedS = Date.now() / 1000;
    const api = (await getJson<ClusterSummary>(`${collector?.url ?? ''}/api/v1/cluster`)).body;
    expect(api.powerW).toBeGreaterThan(0);
    // A scrape taken after that, while the nodes still count as up (5 s after their last batch).
    await until('a scrape after the agents stopped', 3000, async () => {
      const t = await query(`timestamp(stroom_cluster_power{${sel}})`);
      return Number(t[0]?.value[1] ?? 0) > askedS ? true : undefined;
    });
    const [power, hostPower, hostEnergy, gpuEnergy] = await Promise.all([
      query(`stroom_cluster_power{${sel}}`),
      query(`sum(hw_host_power{${sel}})`),
      query(`sum(hw_host_energy_total{${sel}})`),
      query(`sum(hw_energy_total{${sel}})`),
    ]);
    const promW = Number(power[0]?.value[1]);
    expect(Math.abs(promW - api.powerW), `Prometheus ${promW} W, API ${api.powerW} W`).toBeLessThanOrEqual(0.01 * api.powerW);
    // The per-host series add up to the cluster figure.
    expect(Number(hostPower[0]?.value[1])).toBeCloseTo(promW, 3);
    const truthJ = [...sims.values()].flatMap((s) => Object.values(s.truth().devicesMj)).reduce((a, c) => a + c, 0) / 1000;
    const promJ = Number(hostEnergy[0]?.value[1]);
    expect(Math.abs(promJ - api.energyJ) / api.energyJ, `Prometheus ${promJ} J, API ${api.energyJ} J`).toBeLessThan(0.001);
    expect(Math.abs(promJ - truthJ) / truthJ, `Prometheus ${promJ} J, simulated truth ${truthJ} J`).toBeLessThan(0.001);
    expect(Number(gpuEnergy[0]?.value[1])).toBeCloseTo(promJ, 3);
    console.info(`read back through Prometheus: cluster power ${promW} W (API ${api.powerW} W), host energy ${promJ} J (API ${api.energyJ} J, simulated truth ${truthJ} J)`);
  });
});
