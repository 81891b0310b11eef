/**
 * `stroom report` as an operator runs it: the built CLI in a child process, against a real
 * collector (in-process, loopback) fed by a real simulated agent. The rows the CLI writes are the
 * API's rows; CSV goes to stdout, PDF to a file (when Chromium is there); bad input is named.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnergyReportSchema } from '@stroom/protocol';
import type { EnergyReport } from '@stroom/protocol';
import { runAgent, SimulatedNode } from '@stroom/agent';
import { AgentTokens, startCollector } from '@stroom/collector';
import type { Collector } from '@stroom/collector';

const MAIN = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` (npm test does it first)`);
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
const HOW = 'install Debian chromium: deploy/local/chromium.sh';
if (!existsSync(CHROMIUM) && process.env['CI'] === 'true') throw new Error(`no Chromium at ${CHROMIUM} under CI=true: ${HOW}`);

const { STROOM_COLLECTOR_URL: _url, STROOM_TOKEN: _token, ...ENV } = process.env;
const H = 3_600_000;

function stroom(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000, env: ENV }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('stroom report', () => {
  const data = mkdtempSync(join(tmpdir(), 'stroom-cli-report-'));
  const log = pino({ level: process.env['STROOM_TEST_LOG'] ?? 'silent' }, pino.destination(2));
  const token = 'token-for-gcn1-0123456789';
  let collector: Collector;
  let fromTs: number;
  let toTs: number;

  beforeAll(async () => {
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: data, tokens: new AgentTokens([['gcn1', token]]), log });
    const sim = new SimulatedNode({ node: 'gcn1', nodeOrdinal: 1, gpus: 4, seed: 7, timeScale: 0.4 });
    const agent = await runAgent({ node: 'gcn1', devices: sim, jobs: sim.jobs, intervalMs: 100, log, collectorUrl: collector.url, token });
    await new Promise((r) => setTimeout(r, 3000));
    expect(await agent.stop(5000)).toBe(true);
    // Two whole hours around now: the run may cross an hour boundary.
    fromTs = Math.floor(Date.now() / H) * H - H;
    toTs = fromTs + 2 * H;
  }, 30_000);

  afterAll(async () => {
    await collector?.close();
    rmSync(data, { recursive: true, force: true });
  });

  const apiReport = async (by: string): Promise<EnergyReport> =>
    EnergyReportSchema.parse(await (await fetch(`${collector.url}/api/v1/reports/energy?from=${fromTs}&to=${toTs}&by=${by}`)).json());

  it('writes JSON with the same rows, totals, factors and coverage as the API', async () => {
    const out = join(data, 'report.json');
    const r = await stroom('report', '--collector', collector.url, '--from', String(fromTs), '--to', String(toTs), '--by', 'job', '--format', 'json', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^stroom report: \d+ rows by job, json, \d+ bytes written to /);
    const cli = EnergyReportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    const api = await apiReport('job');
    expect(cli.rows.length).toBeGreaterThan(0);
    expect(cli.rows.some((row) => row.itEnergyKwh > 0 && row.gpuHours > 0)).toBe(true);
    const { generatedTs: _a, ...cliRest } = cli;
    const { generatedTs: _b, ...apiRest } = api;
    // Coverage counts node-hours up to the hour each report was made in, which an hour boundary between the two calls changes.
    expect({ ...cliRest, coverage: null }).toEqual({ ...apiRest, coverage: null });
    expect(cli.coverage.nodes).toBe(1);
  }, 60_000);

  it('prints CSV on stdout by default: # metadata, then the header and a line per account', async () => {
    const r = await stroom('report', '--collector', collector.url, '--from', new Date(fromTs).toISOString(), '--to', new Date(toTs).toISOString());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('# stroom energy report (schema stroom-energy-report v1)');
    expect(lines).toContain('# grouped by: account');
    const header = lines.findIndex((l) => !l.startsWith('#'));
    expect(lines[header]).toBe('group,itEnergyKwh,itOtherModelledKwh,facilityEnergyKwh,co2eLocationKg,co2eMarketKg,embodiedCo2eKg,costEur,gpuHours,idleGpuHours,meanGpuUtil');
    const api = await apiReport('account');
    expect(lines.slice(header + 1).map((l) => l.split(',')[0])).toEqual(api.rows.map((row) => row.group));
  }, 60_000);

  it.skipIf(!existsSync(CHROMIUM))(`writes a PDF printed by Chromium (skipped without it: ${HOW})`, async () => {
    const out = join(data, 'report.pdf');
    const r = await stroom('report', '--collector', collector.url, '--from', String(fromTs), '--to', String(toTs), '--by', 'node', '--format', 'pdf', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    const pdf = readFileSync(out);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g)?.length ?? 0).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('names what is wrong: a time inside an hour, an unknown grouping, an unreachable collector', async () => {
    expect(await stroom('report', '--collector', collector.url, '--from', '2025-01-01T00:30:00Z', '--to', '2025-01-02')).toMatchObject({ code: 1, stderr: 'stroom: --from: 2025-01-01T00:30:00.000Z is not the start of a UTC hour (reports are kept by the UTC hour)\n' });
    expect(await stroom('report', '--from', '2025-01-01', '--to', '2025-01-02', '--by', 'team')).toMatchObject({ code: 1, stderr: expect.stringContaining("option '--by <group>' argument 'team' is invalid. Allowed choices are account, user, job, node, partition.") });
    const srv = createServer();
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    const port = (srv.address() as { port: number }).port;
    await new Promise((res) => srv.close(res));
    const down = await stroom('report', '--collector', `http://127.0.0.1:${port}`, '--from', '2025-01-01', '--to', '2025-01-02');
    expect(down).toMatchObject({ code: 1, stderr: `stroom: cannot reach the collector at http://127.0.0.1:${port} (ECONNREFUSED): check that it runs there, and the URL (--collector or STROOM_COLLECTOR_URL)\n` });
  }, 90_000);
});
