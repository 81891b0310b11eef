/**
 * Fault: the collector is down for ~10 minutes' worth of batches while the agents spool to
 * disk, then comes back on the same data directory and port.
 *
 * Scale: 10 min of outage at the default 1 s interval is 600 batches per agent. Here the agents
 * report every 20 ms and the collector is down 12 s: the same 600 batches per agent, spooled to
 * disk and sent again through the collector's per-connection frame rate (200/s), in 1/50 of the
 * time.
 *
 * Checked: every batch arrives once and in order (the collector counts exactly the batches the
 * agents made: one out of order would be dropped as a duplicate and the count fall short), per-job
 * energy equals the simulated truth within 0.1 %, jobs + idle = node energy, no hand is needed
 * (the agents reconnect by themselves), and operators see the outage: a warning in each agent's
 * log, the spool backlog and the link state on the agent's `/metrics`.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskSpool, runAgent, SimulatedNode } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { AgentTelemetry } from '@stroom/agent/telemetry';
import type { Collector } from '@stroom/collector';
import { tempDir } from '../helpers.js';
import { capturedLog, collectorFor, health, jobChecks, metric, simTruthJ, sleep, tokenOf, waitFor } from './harness.js';

const NODES = ['gcn1', 'gcn2'];
const INTERVAL_MS = 20;
const OUTAGE_BATCHES = 600;

describe('collector down for 600 batches while agents spool to disk', () => {
  const data = tempDir('fault-outage');
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
    data.remove();
  });

  it('delivers every batch once, in order, with per-job energy whole', { timeout: 60_000 }, async () => {
    const { log, said } = capturedLog();
    const books = join(data.dir, 'books');
    let collector: Collector | undefined = await collectorFor(NODES, books, log);
    cleanup.push(() => collector?.close());
    const port = Number(new URL(collector.url).port);
    const sims = NODES.map((node, i) => new SimulatedNode({ node, nodeOrdinal: i + 1, gpus: 4, seed: 11, timeScale: 2 }));
    const made = new Map<string, number>(NODES.map((n) => [n, 0]));
    const agents: RunningAgent[] = [];
    const metricsUrls: string[] = [];
    for (const [i, sim] of sims.entries()) {
      const node = NODES[i] as string;
      const telemetry = await AgentTelemetry.start({ node, log, listen: { host: '127.0.0.1', port: 0 } });
      cleanup.push(() => telemetry.close());
      metricsUrls.push(telemetry.url as string);
      const spool = new DiskSpool({ dir: join(data.dir, `spool-${node}`), log });
      agents.push(await runAgent({
        node, devices: sim, jobs: sim.jobs, intervalMs: INTERVAL_MS, log, spool, telemetry,
        collectorUrl: collector.url, token: tokenOf(node),
        onBatch: () => made.set(node, (made.get(node) ?? 0) + 1),
        // Reconnect attempts at most 1 s apart, as 30 s is at the 1 s interval: about 50 tries either way.
        link: { backoff: { baseMs: 50, capMs: 1000 } },
      }));
    }
    await waitFor('first batches counted', async () => (await health(collector?.url as string)).counted >= 50);

    await collector.close();
    const before = { ...collector.committer.stats };
    collector = undefined;
    const madeAtOutage = [...made.values()];
    await waitFor(`${OUTAGE_BATCHES} batches made by each agent while the collector is down`, () => [...made.values()].every((n, i) => n - (madeAtOutage[i] ?? 0) >= OUTAGE_BATCHES), 60_000);
    // What an operator's Prometheus shows during the outage: the backlog and the link not open.
    for (const url of metricsUrls) {
      expect(await metric(url, 'stroom_agent_spool_batches')).toBeGreaterThanOrEqual(OUTAGE_BATCHES);
      expect(await metric(url, 'stroom_agent_link_state', { stroom_link_state: 'open' })).toBe(0);
    }
    expect(said(/ECONNREFUSED|collector closed the link/).length).toBeGreaterThanOrEqual(NODES.length);

    collector = await collectorFor(NODES, books, log, port);
    const url = collector.url;
    // No hand: the agents find the collector again and empty their spools.
    await waitFor('spools drained', () => agents.every((a) => a.link?.lastAckedSeq !== undefined && a.link.lastAckedSeq >= (madeAtOutage[agents.indexOf(a)] ?? 0) + OUTAGE_BATCHES), 30_000);
    await sleep(300);
    const drained = await Promise.all(agents.map((a) => a.stop(10_000)));
    expect(drained).toEqual(NODES.map(() => true));
    for (const url of metricsUrls) expect(await metric(url, 'stroom_agent_spool_batches')).toBe(0);

    const after = await health(url);
    expect(after.counted).toBe(collector.committer.stats.counted);
    const total = [...made.values()].reduce((a, b) => a + b, 0);
    // Every batch counted once: the two collector runs together counted exactly what was made.
    expect(before.counted + after.counted).toBe(total);
    expect(before.glitches + after.glitches).toBe(0);

    const checks = await jobChecks(url, simTruthJ(sims));
    expect(checks.length).toBeGreaterThanOrEqual(4);
    for (const c of checks) expect(c.rel, `job ${c.id}: API ${c.apiJ} J, truth ${c.truthJ} J`).toBeLessThan(0.001);
    for (const b of collector.store.nodeBalance(0, Number.MAX_SAFE_INTEGER)) expect(b.jobsMj + b.idleMj).toBe(b.deviceMj);
  });
});
