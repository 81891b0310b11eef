/**
 * Fault: the agent's spool disk fills up while the spool has to grow. The disk spool lives on a
 * 1 MiB tmpfs; the collector is made unreachable (a TCP proxy refusing connections), so batches
 * stay on disk, and the test then fills the tmpfs with a file, frees it again, and lets the
 * agent reach the collector. (While the collector acks promptly, the spool deletes each segment
 * once it is acked and a full disk hardly touches it.)
 *
 * Scale: the disk stays full for 4 s, 40 batches at the 100 ms interval (40 s at the default 1 s).
 *
 * Checked: the agent keeps counting. A batch the disk refuses is dropped and counted (it never
 * reaches the collector), and because every batch carries cumulative counters the next batch that
 * gets through carries its energy: per-job energy still equals the simulated truth within 0.1 %,
 * and the collector counted exactly the batches that were not dropped. No hand is needed: once
 * space returns the spool writes again. Operators see it: a warning in the agent's log (and a
 * note when writes succeed again) and `stroom_agent_spool_dropped_total` on the agent's `/metrics`.
 *
 * Mounting a tmpfs needs root (CI runs as root); without it the test is skipped with the reason,
 * except with CI=true, where it fails.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskSpool, runAgent, SimulatedNode } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { AgentTelemetry } from '@stroom/agent/telemetry';
import { tempDir } from '../helpers.js';
import { capturedLog, collectorFor, health, jobChecks, LiveWatch, metric, simTruthJ, sleep, tokenOf, waitFor } from './harness.js';
import { TcpProxy } from './tcp-proxy.js';

const NODE = 'gcn5';
const FULL_MS = 4000;
const CI = process.env['CI'] === 'true';

/** Mount a 1 MiB tmpfs at `dir`; the reason it cannot be done, or undefined when mounted. */
function mountTiny(dir: string): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a 1 MiB tmpfs for the spool needs root (CI runs as root)';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `cannot mount a 1 MiB tmpfs for the spool: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** Write zeros to `file` until the filesystem refuses (ENOSPC). */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

describe('spool disk full', () => {
  const data = tempDir('fault-disk-full');
  const tiny = join(data.dir, 'tiny');
  mkdirSync(tiny);
  const unmountable = mountTiny(tiny);
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
    if (unmountable === undefined) execFileSync('umount', [tiny]);
    data.remove();
  });

  it('can mount a tiny filesystem for the spool', (ctx) => {
    if (unmountable === undefined) return;
    if (CI) throw new Error(`${unmountable} (CI=true: the disk-full fault test must not be skipped)`);
    ctx.skip(unmountable);
  });

  it.skipIf(unmountable !== undefined && !CI)('keeps counting, drops and counts what the disk refuses, and recovers', { timeout: 60_000 }, async () => {
    const { log, said } = capturedLog();
    const collector = await collectorFor([NODE], join(data.dir, 'books'), log);
    cleanup.push(() => collector.close());
    const watch = new LiveWatch(collector.url);
    cleanup.push(() => watch.close());
    const telemetry = await AgentTelemetry.start({ node: NODE, log, listen: { host: '127.0.0.1', port: 0 } });
    cleanup.push(() => telemetry.close());
    const metricsUrl = telemetry.url as string;

    const proxy = await TcpProxy.start(Number(new URL(collector.url).port));
    cleanup.push(() => proxy.close());
    const sim = new SimulatedNode({ node: NODE, nodeOrdinal: 5, gpus: 4, seed: 3, timeScale: 1 });
    const spool = new DiskSpool({ dir: join(tiny, 'spool'), log });
    let made = 0;
    const agent: RunningAgent = await runAgent({ node: NODE, devices: sim, jobs: sim.jobs, intervalMs: 100, log, spool, telemetry, collectorUrl: proxy.url, token: tokenOf(NODE), link: { backoff: { baseMs: 100, capMs: 500 } }, onBatch: () => { made += 1; } });
    cleanup.push(() => agent.stop(1000));
    await waitFor('batches counted', async () => (await health(collector.url)).counted >= 10);

    proxy.cut();
    await waitFor('batches held on disk', () => spool.stats.batches >= 10);
    const filler = join(tiny, 'filler');
    fill(filler);
    await sleep(FULL_MS);
    const dropped = spool.stats.dropped;
    expect(dropped).toBeGreaterThan(0);
    expect(await metric(metricsUrl, 'stroom_agent_spool_dropped_total')).toBeGreaterThanOrEqual(dropped);
    expect(said('spool: cannot write to disk')).toHaveLength(1);

    rmSync(filler);
    await waitFor('spool writing again', () => said('spool: writing to disk again', 30).length === 1);
    proxy.heal();
    await waitFor('spool drained', () => spool.stats.batches === 0 && watch.latest(NODE) === undefined);
    await sleep(500);
    expect(await agent.stop(10_000)).toBe(true);

    const h = await health(collector.url);
    // Everything not dropped arrived once; the dropped batches cost resolution, not energy.
    expect(h.counted).toBe(made - spool.stats.dropped);
    // (A batch or two whose ack the cut lost came again: acked as duplicates, not counted.)
    expect(h.glitches).toBe(0);
    const checks = await jobChecks(collector.url, simTruthJ([sim]));
    expect(checks.length).toBeGreaterThanOrEqual(3);
    for (const c of checks) expect(c.rel, `job ${c.id}: API ${c.apiJ} J, truth ${c.truthJ} J`).toBeLessThan(0.001);
    for (const b of collector.store.nodeBalance(0, Number.MAX_SAFE_INTEGER)) expect(b.jobsMj + b.idleMj).toBe(b.deviceMj);
  });
});
