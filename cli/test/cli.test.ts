import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BatchSchema, HelloSchema } from '@stroom/protocol';
import type { ClusterSummary } from '@stroom/protocol';

// The CLI is tested as users run it: the built JavaScript, in a child process.
const MAIN = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` (npm test does it first)`);

function stroom(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('stroom CLI', () => {
  it('has --help on every subcommand', { timeout: 60_000 }, () => {
    const top = stroom('--help');
    expect(top.status).toBe(0);
    for (const sub of ['demo', 'agent', 'collector']) {
      expect(top.stdout).toContain(sub);
      const help = stroom(sub, '--help');
      expect(help.status).toBe(0);
      expect(help.stdout).toContain(`Usage: stroom ${sub} [options]`);
    }
    expect(stroom('job', '--help').stdout).toContain('Usage: stroom job [options] <id>');
  });

  it('`agent --print --once` prints the inventory, then one measured batch, as JSON lines, with no collector', { timeout: 60_000 }, () => {
    const r = stroom('agent', '--gpu', 'simulated', '--print', '--once', '--interval-ms', '100', '--node', 'gcn7', '--log-level', 'silent');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const hello = HelloSchema.parse(JSON.parse(lines[0] ?? ''));
    expect(hello.inventory.gpus.map((g) => g.name)).toEqual(Array(4).fill('NVIDIA H100 80GB HBM3'));
    expect(hello.inventory.gpus.every((g) => /^GPU-[0-9a-f-]{36}$/.test(g.uuid))).toBe(true);
    const batch = BatchSchema.parse(JSON.parse(lines[1] ?? ''));
    expect(batch).toMatchObject({ node: 'gcn7', seq: 1 });
    expect(batch.samples).toHaveLength(2);
    expect(batch.samples[1]?.host?.memTotalBytes).toBeGreaterThan(0);
    expect(batch.counters.devices.filter((d) => d.kind === 'gpu')).toHaveLength(4);
    expect(batch.counters.devices.every((d) => d.energyMj > 0)).toBe(true);
  });

  it('`agent --once` on a node without GPUs still runs, says which sources are off and why', { timeout: 60_000 }, () => {
    const r = stroom('agent', '--once', '--interval-ms', '100', '--nvml-lib', '/nonexistent/libnvidia-ml.so.1', '--nvidia-smi', '/nonexistent/nvidia-smi', '--sysfs-root', '/nonexistent', '--jobs', 'none', '--log-level', 'silent');
    expect(r.status).toBe(0);
    const hello = HelloSchema.parse(JSON.parse(r.stdout.split('\n')[0] ?? ''));
    expect(hello.sources?.map((s) => [s.name, s.state])).toEqual([['gpu', 'disabled'], ['rapl', 'disabled'], ['host', 'ok']]);
    expect(hello.sources?.[0]?.reason).toMatch(/^no GPU source answered \(nvml: cannot load \/nonexistent\/libnvidia-ml\.so\.1.*; nvidia-smi: /);
  });

  it('says what is wrong with bad options', { timeout: 60_000 }, () => {
    expect(stroom('agent', '--gpu', 'cuda')).toMatchObject({ status: 1, stderr: expect.stringContaining("option '--gpu <source>' argument 'cuda' is invalid. Allowed choices are auto, nvml, nvidia-smi, simulated, none.") });
    expect(stroom('demo', '--listen', 'localhost')).toMatchObject({ status: 1, stderr: expect.stringContaining('expected HOST:PORT such as 127.0.0.1:8080, got "localhost"') });
    expect(stroom('collector', '--data', '/tmp/x', '--tokens', '/does/not/exist.json')).toMatchObject({ status: 1, stderr: expect.stringContaining('agent tokens file /does/not/exist.json: ENOENT') });
  });

  it('`demo` serves the dashboard and live numbers, and stops cleanly on Ctrl-C', { timeout: 90_000 }, async () => {
    const data = mkdtempSync(join(tmpdir(), 'stroom-demo-'));
    const child = spawn(process.execPath, [MAIN, 'demo', '--nodes', '3', '--gpus', '4', '--listen', '127.0.0.1:0', '--data', data, '--interval-ms', '200', '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!/dashboard: (http:\/\/\S+)\//.test(stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const base = /dashboard: (http:\/\/\S+)\//.exec(stdout)?.[1];
      expect(base, `demo printed no URL; stderr: ${stderr}`).toBeDefined();
      let cluster: ClusterSummary | undefined;
      while (Date.now() < deadline) {
        cluster = (await (await fetch(`${base}/api/v1/cluster`)).json()) as ClusterSummary;
        if (cluster.energyJ > 0 && cluster.powerW > 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(cluster).toMatchObject({ nodes: 3, gpus: 12 });
      expect(cluster?.energyJ).toBeGreaterThan(0);
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>');
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stderr).toContain('stopped cleanly');
    } finally {
      child.kill('SIGKILL');
      rmSync(data, { recursive: true, force: true });
    }
  });
});
