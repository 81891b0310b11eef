import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterSummary, JobDetail, JobSummary, NodeSummary } from '@stroom/protocol';
import { JobDetailSchema, NodeSummarySchema } from '@stroom/protocol';
import { runAgent, SimulatedNode } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { AgentTokens, startCollector } from '@stroom/collector';
import type { Collector } from '@stroom/collector';
import { getJson, tempDir, testLog } from './helpers.js';

const NODES = ['gcn1', 'gcn2'];
const RUN_MS = 6000;

describe('collector and two simulated agents over loopback', () => {
  const data = tempDir('e2e');
  const log = testLog();
  let collector: Collector;
  const sims = new Map<string, SimulatedNode>();
  const agents: RunningAgent[] = [];

  beforeAll(async () => {
    const tokens = new AgentTokens(NODES.map((n) => [n, `token-for-${n}-0123456789`] as const));
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: data.dir, tokens, log });
    for (const [i, node] of NODES.entries()) {
      // Jobs last 0.4-1.6 s so several start and end within the run.
      const sim = new SimulatedNode({ node, nodeOrdinal: i + 1, gpus: 4, seed: 42, timeScale: 0.4 });
      sims.set(node, sim);
      agents.push(await runAgent({ node, devices: sim, jobs: sim.jobs, intervalMs: 100, log, collectorUrl: collector.url, token: `token-for-${node}-0123456789` }));
    }
    await new Promise((r) => setTimeout(r, RUN_MS));
    const drained = await Promise.all(agents.map((a) => a.stop(5000)));
    expect(drained).toEqual([true, true]);
  });

  afterAll(async () => {
    await collector?.close();
    data.remove();
  });

  it('has per-job energy in the API equal to what the simulated sources integrated, within 0.1 %', async () => {
    const truth = new Map<string, { gpuMj: number; cpuMj: number }>();
    for (const sim of sims.values()) {
      for (const [id, mj] of Object.entries(sim.truth().jobsMj)) truth.set(id, mj);
    }
    expect(truth.size).toBeGreaterThanOrEqual(4);
    const { body } = await getJson<{ jobs: JobSummary[] }>(`${collector.url}/api/v1/jobs?limit=1000`);
    const api = new Map(body.jobs.map((j) => [j.id, j]));
    for (const [id, mj] of truth) {
      const job = api.get(id);
      expect(job, `job ${id} missing from the API`).toBeDefined();
      if (job === undefined) continue;
      const wantJ = (mj.gpuMj + mj.cpuMj) / 1000;
      if (wantJ === 0) continue;
      expect(Math.abs(job.energyJ.total - wantJ) / wantJ, `job ${id}: API ${job.energyJ.total} J, truth ${wantJ} J`).toBeLessThan(0.001);
      expect(Math.abs(job.energyJ.gpu - mj.gpuMj / 1000)).toBeLessThanOrEqual(Math.max(0.001 * mj.gpuMj / 1000, 0.01));
      expect(job.energyJ.total).toBeCloseTo(job.energyJ.gpu + job.energyJ.cpu + job.energyJ.other, 6);
    }
  });

  it('keeps jobs + idle equal to node energy for every node, and node energy equal to the truth', () => {
    const balance = collector.store.nodeBalance(0, Number.MAX_SAFE_INTEGER);
    expect(balance.map((b) => b.node)).toEqual(NODES);
    for (const b of balance) {
      expect(b.jobsMj + b.idleMj).toBe(b.deviceMj);
      const sim = sims.get(b.node);
      const truthMj = Object.values(sim?.truth().devicesMj ?? {}).reduce((a, c) => a + c, 0);
      expect(Math.abs(b.deviceMj - truthMj) / truthMj).toBeLessThan(0.001);
    }
  });

  it('shows jobs with their owner, nodes, GPUs and end time', async () => {
    const sim = sims.get('gcn1');
    const first = sim?.jobsEver()[0];
    expect(first).toBeDefined();
    if (first === undefined) return;
    const { status, body } = await getJson<JobSummary>(`${collector.url}/api/v1/jobs/${first.id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: first.id, user: first.user, account: first.account, startTs: first.startTs, nodes: ['gcn1'], gpus: first.gpus.length });
    expect(['running', 'completed']).toContain(body.state);
    const missing = await getJson<{ error: string }>(`${collector.url}/api/v1/jobs/does-not-exist`);
    expect(missing).toEqual({ status: 404, body: { error: 'job does-not-exist not found' } });
  });

  it('reports the cluster', async () => {
    const { status, body } = await getJson<ClusterSummary>(`${collector.url}/api/v1/cluster`);
    expect(status).toBe(200);
    expect(body.nodes).toBe(2);
    expect(body.gpus).toBe(8);
    const truthJ = [...sims.values()].flatMap((s) => Object.values(s.truth().devicesMj)).reduce((a, c) => a + c, 0) / 1000;
    expect(Math.abs(body.energyJ - truthJ) / truthJ).toBeLessThan(0.001);
  });

  it('gives a job its footprint with every factor and its source', async () => {
    const first = sims.get('gcn1')?.jobsEver()[0];
    const { body } = await getJson<JobDetail>(`${collector.url}/api/v1/jobs/${first?.id ?? ''}`);
    expect(JobDetailSchema.parse(body)).toEqual(body);
    // Default factors: PUE 1.58 (indicative), 267.6 g/kWh location-based (Ember via OWID).
    expect(body.facilityEnergyJ).toBeCloseTo(body.energyJ.total * 1.58, 3);
    expect(body.co2eG.location).toBeCloseTo((body.facilityEnergyJ / 3.6e6) * 267.6, 6);
    expect(body.gpuHours).toBeGreaterThan(0);
    expect(body.embodiedCo2eG).toBeGreaterThan(0);
    expect(body.factors.map((f) => f.name)).toEqual(expect.arrayContaining(['pue', 'gridIntensityLocation', 'gridIntensityMarket', 'priceEurPerKwh']));
    expect(body.factors.find((f) => f.name === 'gridIntensityLocation')?.source).toBe('Ember, via Our World in Data');
    expect(body.method.length).toBeGreaterThan(20);
  });

  it('lists jobs page by page with a cursor, each job once', async () => {
    const all = (await getJson<{ jobs: JobSummary[] }>(`${collector.url}/api/v1/jobs?limit=1000`)).body.jobs.map((j) => j.id);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { jobs: JobSummary[]; nextCursor: string | null } = (await getJson<{ jobs: JobSummary[]; nextCursor: string | null }>(`${collector.url}/api/v1/jobs?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`)).body;
      paged.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(paged).toEqual(all);
    const bad = await getJson<{ error: string }>(`${collector.url}/api/v1/jobs?cursor=nonsense`);
    expect(bad).toEqual({ status: 400, body: { error: 'query parameter cursor: not a cursor this API gave out' } });
  });

  it('lists nodes with their inventory', async () => {
    const { body } = await getJson<{ nodes: NodeSummary[] }>(`${collector.url}/api/v1/nodes`);
    expect(body.nodes.map((n) => NodeSummarySchema.parse(n).name)).toEqual(NODES);
    expect(body.nodes.map((n) => n.gpus.length)).toEqual([4, 4]);
    const one = await getJson<NodeSummary>(`${collector.url}/api/v1/nodes/gcn2`);
    expect(one.body.gpus[0]?.name).toBe('NVIDIA H100 80GB HBM3');
    expect((await getJson(`${collector.url}/api/v1/nodes/nope`)).status).toBe(404);
  });

  it("gives a job's power series as uPlot columns whose area is its energy", async () => {
    const first = sims.get('gcn1')?.jobsEver()[0];
    const job = (await getJson<JobSummary>(`${collector.url}/api/v1/jobs/${first?.id ?? ''}`)).body;
    const { status, body } = await getJson<{ step: number; series: string[]; columns: Array<Array<number | null>> }>(`${collector.url}/api/v1/jobs/${job.id}/series?step=10s`);
    expect(status).toBe(200);
    expect(body.step).toBe(10);
    expect(body.series).toEqual(['total', 'gcn1']);
    const ts = body.columns[0] as number[];
    expect(ts.every((t, i) => i === 0 || t - (ts[i - 1] ?? 0) === 10)).toBe(true);
    const areaJ = (body.columns[1] ?? []).reduce<number>((sum, w) => sum + (w ?? 0) * body.step, 0);
    expect(areaJ).toBeCloseTo(job.energyJ.total, 3);
    expect((await getJson(`${collector.url}/api/v1/jobs/${job.id}/series?step=3s`)).status).toBe(400);

    // Per GPU: one column per GPU the job held, named node/index, power within its limit.
    const gpus = (await getJson<{ series: string[]; columns: Array<Array<number | null>> }>(`${collector.url}/api/v1/jobs/${job.id}/series?step=10s&by=gpu`)).body;
    expect(gpus.series).toHaveLength(job.gpus);
    expect(gpus.series.every((s) => /^gcn1\/[0-3]$/.test(s))).toBe(true);
    const watts = gpus.columns.slice(1).flat().filter((w): w is number => w !== null);
    expect(watts.length).toBeGreaterThan(0);
    expect(watts.every((w) => w > 0 && w <= 700)).toBe(true);
    const util = (await getJson<{ columns: Array<Array<number | null>> }>(`${collector.url}/api/v1/jobs/${job.id}/series?by=gpu&metric=util`)).body;
    expect(util.columns.slice(1).flat().every((u) => u === null || (u >= 0 && u <= 1))).toBe(true);
    expect((await getJson(`${collector.url}/api/v1/jobs/${job.id}/series?by=rack`)).status).toBe(400);
    // A node's GPUs, all of them.
    const node = (await getJson<{ series: string[] }>(`${collector.url}/api/v1/nodes/gcn1/series?metric=temp`)).body;
    expect(node.series).toEqual(['gcn1/0', 'gcn1/1', 'gcn1/2', 'gcn1/3']);
  });

  it("reports each job's GPU-hours, mean utilisation and allocated-but-idle GPU-hours", async () => {
    const jobs = (await getJson<{ jobs: JobSummary[] }>(`${collector.url}/api/v1/jobs?limit=1000`)).body.jobs;
    const held = jobs.filter((j) => j.gpuHours > 0);
    expect(held.length).toBeGreaterThan(0);
    for (const j of held) {
      expect(j.idleGpuHours).toBeLessThanOrEqual(j.gpuHours + 1e-9);
      expect(j.meanGpuUtilRatio === null || (j.meanGpuUtilRatio >= 0 && j.meanGpuUtilRatio <= 1)).toBe(true);
    }
    // The simulated jobs train (high utilisation), so some mean is well above idle.
    expect(held.some((j) => (j.meanGpuUtilRatio ?? 0) > 0.3)).toBe(true);
  });

  it('sums energy per account, equal to the sum of its jobs', async () => {
    const jobs = (await getJson<{ jobs: JobSummary[] }>(`${collector.url}/api/v1/jobs?limit=1000`)).body.jobs;
    const { body } = await getJson<{ accounts: Array<{ account: string; jobs: number; energyJ: { total: number } }> }>(`${collector.url}/api/v1/accounts`);
    const want = new Map<string, number>();
    for (const j of jobs) want.set(j.account, (want.get(j.account) ?? 0) + j.energyJ.total);
    expect(body.accounts.map((a) => a.account).sort()).toEqual([...want.keys()].sort());
    for (const a of body.accounts) expect(a.energyJ.total).toBeCloseTo(want.get(a.account) ?? 0, 3);
  });
});
