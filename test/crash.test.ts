/**
 * Crash safety: the collector is killed with SIGKILL mid-stream and started again on the same
 * data directory. Agents keep what was not acked and resend it; the collector drops what it
 * had already counted. Per-job energy must match the simulated truth within 0.1 %, with
 * nothing counted twice.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobSummary } from '@stroom/protocol';
import { runAgent, SimulatedNode } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { getJson, tempDir, testLog } from './helpers.js';

const CLI = fileURLToPath(new URL('../cli/dist/src/main.js', import.meta.url));
const NODES = ['gcn1', 'gcn2', 'gcn3'];
const token = (node: string): string => `crash-test-token-${node}-0123456789`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startCollector(port: number, dataDir: string, tokensFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'collector', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--tokens', tokensFile, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`collector did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('collector killed with SIGKILL mid-stream', () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`);
  const data = tempDir('crash');
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    data.remove();
  });

  it('loses nothing and counts nothing twice', { timeout: 60_000 }, async () => {
    const log = testLog();
    const port = await freePort();
    const tokensFile = join(data.dir, 'tokens.json');
    writeFileSync(tokensFile, JSON.stringify(Object.fromEntries(NODES.map((n) => [n, token(n)]))));
    const dataDir = join(data.dir, 'books');
    let collector = await startCollector(port, dataDir, tokensFile);
    children.push(collector);
    const sims = NODES.map((node, i) => new SimulatedNode({ node, nodeOrdinal: i + 1, gpus: 4, seed: 7, timeScale: 0.5 }));
    const agents: RunningAgent[] = [];
    for (const [i, sim] of sims.entries()) {
      const node = NODES[i] as string;
      agents.push(await runAgent({ node, devices: sim, jobs: sim.jobs, intervalMs: 100, log, collectorUrl: `http://127.0.0.1:${port}`, token: token(node) }));
    }
    await new Promise((r) => setTimeout(r, 2500));
    collector.kill('SIGKILL');
    await new Promise<void>((resolve) => collector.once('exit', () => resolve()));
    // Down for a while: the agents spool, and their reconnects fail.
    await new Promise((r) => setTimeout(r, 1500));
    collector = await startCollector(port, dataDir, tokensFile);
    children.push(collector);
    await new Promise((r) => setTimeout(r, 2500));
    const drained = await Promise.all(agents.map((a) => a.stop(10_000)));
    expect(drained).toEqual(NODES.map(() => true));

    const { body } = await getJson<{ jobs: JobSummary[] }>(`http://127.0.0.1:${port}/api/v1/jobs?limit=1000`);
    const api = new Map(body.jobs.map((j) => [j.id, j]));
    let checked = 0;
    for (const sim of sims) {
      for (const [id, mj] of Object.entries(sim.truth().jobsMj)) {
        const wantJ = (mj.gpuMj + mj.cpuMj) / 1000;
        if (wantJ < 1) continue;
        const got = api.get(id)?.energyJ.total ?? 0;
        expect(Math.abs(got - wantJ) / wantJ, `job ${id}: API ${got} J, truth ${wantJ} J`).toBeLessThan(0.001);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });
});
