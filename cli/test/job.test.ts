/**
 * `stroom job` as a user runs it: the built CLI in a child process, against a real collector
 * (in-process, loopback) fed by a real agent over its WebSocket link. Every figure the screen
 * prints is read back and compared with the collector's own `GET /api/v1/jobs/{id}`.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobDetailSchema } from '@stroom/protocol';
import type { JobDetail, JobSummary } from '@stroom/protocol';
import { runAgent, SimulatedNode } from '@stroom/agent';
import { AgentTokens, basePowerOf, parseBasePowerRule, startCollector } from '@stroom/collector';
import type { Collector } from '@stroom/collector';

const MAIN = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` (npm test does it first)`);

const { STROOM_COLLECTOR_URL: _url, STROOM_TOKEN: _token, NO_COLOR: _noColor, ...ENV } = process.env;
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

/** Run the CLI without blocking this process: the collector under test lives in it. */
function stroom(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000, env: ENV }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** The value and unit printed after a label on the human screen, e.g. `GPU  0.01234 kWh`. */
function field(screen: string, label: string): { value: number; unit: string; rest: string } {
  const line = screen.split('\n').find((l) => new RegExp(`^  ${label.replace(/[()]/g, '\\$&')}\\s{2,}`).test(l));
  expect(line, `no line "${label}" in:\n${screen}`).toBeDefined();
  const m = /\s{2,}(-?\d+(?:\.\d+)?) (\S+)(.*)$/.exec(line ?? '');
  expect(m, `line "${line}" has no number with a unit`).not.toBeNull();
  return { value: Number(m?.[1]), unit: m?.[2] ?? '', rest: m?.[3] ?? '' };
}

/** `printed` is `exact` shown to four significant digits (or more). */
function expectShown(printed: number, exact: number, what: string): void {
  const tolerance = exact === 0 ? 0 : Math.abs(exact) * 5e-4 + 1e-12;
  expect(Math.abs(printed - exact), `${what}: printed ${printed}, API ${exact}`).toBeLessThanOrEqual(tolerance);
}

describe('stroom job', { timeout: 60_000 }, () => {
  const data = mkdtempSync(join(tmpdir(), 'stroom-cli-job-'));
  const log = pino({ level: process.env['STROOM_TEST_LOG'] ?? 'silent' }, pino.destination(2));
  const token = 'token-for-gcn1-0123456789';
  let collector: Collector;
  let api: JobDetail;
  let running: JobSummary | undefined;

  beforeAll(async () => {
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: data, tokens: new AgentTokens([['gcn1', token]]), log, basePowerW: basePowerOf([parseBasePowerRule('gcn*=300')]) });
    // Jobs of 0.4-1.6 s, so several complete within the run.
    const sim = new SimulatedNode({ node: 'gcn1', nodeOrdinal: 1, gpus: 4, seed: 7, timeScale: 0.4 });
    const agent = await runAgent({ node: 'gcn1', devices: sim, jobs: sim.jobs, intervalMs: 100, log, collectorUrl: collector.url, token });
    await new Promise((r) => setTimeout(r, 4000));
    expect(await agent.stop(5000)).toBe(true);
    const list = (await (await fetch(`${collector.url}/api/v1/jobs?state=completed&limit=100`)).json()) as { jobs: JobSummary[] };
    // The job with the most GPUs: its figures are the least likely to be all zero.
    const pick = [...list.jobs].sort((a, b) => b.gpus - a.gpus || b.energyJ.total - a.energyJ.total)[0];
    expect(pick, 'the simulated node completed no job').toBeDefined();
    // The agent stopped mid-job: the jobs it had on are still running as far as the collector knows.
    running = ((await (await fetch(`${collector.url}/api/v1/jobs?state=running&limit=1`)).json()) as { jobs: JobSummary[] }).jobs[0];
    api = JobDetailSchema.parse(await (await fetch(`${collector.url}/api/v1/jobs/${pick?.id ?? ''}`)).json());
  }, 30_000);

  afterAll(async () => {
    await collector?.close();
    rmSync(data, { recursive: true, force: true });
  });

  it('--json prints exactly what the collector answers', async () => {
    const raw = (await (await fetch(`${collector.url}/api/v1/jobs/${api.id}`)).json()) as unknown;
    const r = await stroom('job', api.id, '--collector', collector.url, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(raw);
  });

  it('shows every figure of the job, with its unit, matching the API', async () => {
    const r = await stroom('job', api.id, '--collector', collector.url);
    expect(r.code).toBe(0);
    const screen = r.stdout;
    expect(screen.startsWith(`job ${api.id}  completed  ${api.user} / ${api.account}\n`)).toBe(true);
    // Not a terminal: no escape sequences.
    expect(screen).not.toMatch(/\x1b\[/);
    const kwh = (j: number) => j / 3.6e6;
    for (const [label, exactJ] of [['IT total', api.energyJ.total], ['GPU', api.energyJ.gpu], ['CPU', api.energyJ.cpu], ['other', api.energyJ.other], ['facility (x PUE)', api.facilityEnergyJ]] as const) {
      const f = field(screen, label);
      expect(f.unit, label).toBe('kWh');
      expectShown(f.value, kwh(exactJ), label);
    }
    expect(api.energyJ.other).toBeGreaterThan(0);
    expect(field(screen, 'other').rest).toContain('modelled base power');
    for (const [label, exactG] of [['CO2e, location-based', api.co2eG.location], ['CO2e, market-based', api.co2eG.market], ['embodied carbon', api.embodiedCo2eG]] as const) {
      const f = field(screen, label);
      expect(f.unit, label).toBe('kg');
      expect(f.rest, label).toBe(' CO2e');
      expectShown(f.value, exactG / 1000, label);
    }
    const cost = field(screen, 'cost');
    expect(cost.unit).toBe('EUR');
    expect(Math.abs(cost.value - api.costEur)).toBeLessThanOrEqual(Math.max(0.005, api.costEur * 5e-4));
    const gpuH = field(screen, 'GPU-hours');
    expect(gpuH.unit).toBe('GPU-h');
    expectShown(gpuH.value, api.gpuHours, 'GPU-hours');
    expect(field(screen, 'GPUs')).toMatchObject({ value: api.gpus, unit: api.gpus === 1 ? 'GPU' : 'GPUs' });
    expect(screen).toContain(`\n  nodes                 1 node: gcn1\n`);
    const runS = ((api.endTs ?? 0) - api.startTs) / 1000;
    const run = field(screen, 'run time');
    expect(run.unit).toBe('s');
    expect(Math.abs(run.value - runS)).toBeLessThanOrEqual(0.5);
    // The simulated GPUs report utilisation, so the mean is a number here.
    expect(api.meanGpuUtilRatio).not.toBeNull();
    const u = field(screen, 'mean GPU utilisation');
    expect(u.unit).toBe('%');
    expect(Math.abs(u.value - (api.meanGpuUtilRatio ?? NaN) * 100)).toBeLessThanOrEqual(0.05);
    const idle = field(screen, 'idle GPU-hours');
    expect(idle.unit).toBe('GPU-h');
    expectShown(idle.value, api.idleGpuHours, 'idle GPU-hours');
    expect(idle.rest).toContain('(allocated, utilisation < 5 %)');
    // Every factor the footprint used, by name, with its source.
    for (const f of api.factors) expect(screen).toMatch(new RegExp(`^ {2}${f.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+\\S+ .*${f.quality}; `, 'm'));
    expect(screen).toContain(`method: ${api.method}`);
  });

  it('shows a running job with its figures so far and no end', async () => {
    expect(running, 'no job was running when the agent stopped').toBeDefined();
    const r = await stroom('job', running?.id ?? '', '--collector', collector.url);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}state\s+running \(figures so far\)$/m);
    expect(r.stdout).toMatch(/^ {2}end\s+-$/m);
    expectShown(field(r.stdout, 'IT total').value, (running?.energyJ.total ?? NaN) / 3.6e6, 'IT total');
  });

  it.skipIf(!hasScript)('uses bold on a terminal, and no colour with NO_COLOR', async () => {
    // `script` runs the CLI on a pseudo-terminal.
    const onTty = (env: Record<string, string>) => new Promise<string>((resolve) => {
      execFile('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} job ${api.id} --collector ${collector.url}`, '/dev/null'], { encoding: 'utf8', timeout: 30_000, env: { ...ENV, ...env } }, (_err, stdout) => resolve(stdout));
    });
    expect(await onTty({})).toContain(`\x1b[1mjob ${api.id}\x1b[22m`);
    const plain = await onTty({ NO_COLOR: '1' });
    expect(plain).toContain(`job ${api.id}  completed`);
    expect(plain).not.toMatch(/\x1b\[/);
  });

  it('--summary-line prints one plain line with the job, its energy, CO2e and cost', async () => {
    const r = await stroom('job', api.id, '--collector', collector.url, '--summary-line');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    const line = lines[0] ?? '';
    expect(line).toMatch(new RegExp(`^stroom: job ${api.id} completed; \\d+ s; ${api.gpus} GPUs?; \\S+ kWh \\(GPU \\S+ kWh, CPU \\S+ kWh, other \\S+ kWh modelled\\); \\S+ kg CO2e location-based, \\S+ kg CO2e market-based; embodied \\S+ kg CO2e; \\S+ EUR; \\S+ GPU-h, mean GPU util .+, idle .+$`));
    expect(line).toMatch(/^[\x20-\x7e]+$/);
    expectShown(Number(/; (\S+) kWh \(GPU/.exec(line)?.[1]), api.energyJ.total / 3.6e6, 'summary kWh');
  });

  it('says when the job is unknown, naming the collector', async () => {
    const r = await stroom('job', 'no-such-job', '--collector', collector.url);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`stroom: job no-such-job is not known to the collector at ${collector.url}: no agent has reported it (yet), or the id is wrong (use Slurm's job id, as squeue %A prints it)\n`);
  });

  it('says when the collector cannot be reached, with the URL and what to check', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await stroom('job', '42', '--collector', url);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`stroom: cannot reach the collector at ${url} (ECONNREFUSED): check that it runs there (systemctl status stroom-collector), and the URL (--collector or STROOM_COLLECTOR_URL)\n`);
    const bad = await stroom('job', '42', '--collector', 'not a url');
    expect(bad.stderr).toBe('stroom: --collector: expected a URL such as http://127.0.0.1:8080, got "not a url"\n');
  });
  // Last: the first user token ends the collector's open mode for the rest of the file.
  it('reads with a token once the API asks for one: the owner sees the job, anyone else is told it is unknown', async () => {
    const token = async (...args: string[]) => {
      const r = await stroom('token', 'create', '--data', data, ...args);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const owner = await token('--user', api.user);
    const other = await token('--user', `not-${api.user}`);
    const closed = await stroom('job', api.id, '--collector', collector.url);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(new RegExp(`^stroom: the collector at ${collector.url} refused the request \\(HTTP 401: .+\\): give your user or operator token with --token-file or STROOM_TOKEN\n$`));
    const tokenFile = join(data, 'owner.token');
    writeFileSync(tokenFile, owner + '\n', { mode: 0o600 });
    const mine = await stroom('job', api.id, '--collector', collector.url, '--token-file', tokenFile, '--json');
    expect(mine.code, mine.stderr).toBe(0);
    expect(JSON.parse(mine.stdout)).toMatchObject({ id: api.id, user: api.user });
    const theirs = await stroom('job', api.id, '--collector', collector.url, '--token', other);
    expect(theirs).toMatchObject({ code: 1, stderr: `stroom: job ${api.id} is not known to the collector at ${collector.url}: no agent has reported it (yet), or the id is wrong (use Slurm's job id, as squeue %A prints it), or it is not one of your jobs\n` });
  });
});
