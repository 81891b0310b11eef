/**
 * Fault: an agent cut off from the network, then healed, through a TCP proxy between the agents
 * and the collector; first a hard cut (connections reset, new ones refused), then a half-open
 * partition (connections stay open, nothing moves) that only the agent's silence timeout notices.
 *
 * Scale: each fault lasts 6 s, 60 batches at the 100 ms interval here, long enough for the
 * collector to call the node down (no word for max(5 s, 3 intervals)). The agent's silence
 * timeout is 75 s by default against the collector's 30 s pings at a 1 s interval; here acks
 * arrive every 100 ms and the timeout is 1 s.
 *
 * Checked: per-job energy equals the simulated truth within 0.1 %; batches delivered twice
 * (those whose acks were lost in the partition, then resent) are counted by the collector as
 * duplicates and not in energy; no hand is needed; operators see each fault: the node "agent not
 * reporting" in the live cluster picture, a warning in the agent's log, the link state and spool
 * backlog on the agent's `/metrics`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { runAgent, SimulatedNode } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { AgentTelemetry } from '@stroom/agent/telemetry';
import { tempDir } from '../helpers.js';
import { capturedLog, collectorFor, health, jobChecks, LiveWatch, metric, simTruthJ, sleep, tokenOf, waitFor } from './harness.js';
import { TcpProxy } from './tcp-proxy.js';

const NODE = 'gcn7';
const INTERVAL_MS = 100;
const FAULT_MS = 6000;

describe('agent cut off from the network, then healed', () => {
  const data = tempDir('fault-network');
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
    data.remove();
  });

  it('loses no energy through a hard cut and a half-open partition, counts resent batches once', { timeout: 60_000 }, async () => {
    const { log, said } = capturedLog();
    const collector = await collectorFor([NODE], data.dir, log);
    cleanup.push(() => collector.close());
    const proxy = await TcpProxy.start(Number(new URL(collector.url).port));
    cleanup.push(() => proxy.close());
    const watch = new LiveWatch(collector.url);
    cleanup.push(() => watch.close());
    const telemetry = await AgentTelemetry.start({ node: NODE, log, listen: { host: '127.0.0.1', port: 0 } });
    cleanup.push(() => telemetry.close());
    const metricsUrl = telemetry.url as string;

    const sim = new SimulatedNode({ node: NODE, nodeOrdinal: 7, gpus: 4, seed: 5, timeScale: 2 });
    let made = 0;
    const agent: RunningAgent = await runAgent({
      node: NODE, devices: sim, jobs: sim.jobs, intervalMs: INTERVAL_MS, log, telemetry,
      collectorUrl: proxy.url, token: tokenOf(NODE),
      onBatch: () => { made += 1; },
      link: { silenceTimeoutMs: 1000, backoff: { baseMs: 100, capMs: 1000 } },
    });
    cleanup.push(() => agent.stop(1000));
    const up = (): boolean => watch.latest(NODE) === undefined && watch.seen.length > 0;
    await waitFor('node up in the live picture', async () => up() && (await health(collector.url)).counted >= 10);

    // 1. Hard cut.
    proxy.cut();
    const downAfterCut = watch.seen.length;
    await sleep(FAULT_MS);
    expect(watch.seen.slice(downAfterCut).some((m) => m.problems.some((p) => p.node === NODE && !p.agentUp)), 'node shown down during the cut').toBe(true);
    expect(await metric(metricsUrl, 'stroom_agent_link_state', { stroom_link_state: 'open' })).toBe(0);
    expect(await metric(metricsUrl, 'stroom_agent_spool_batches')).toBeGreaterThan(0);
    expect(proxy.refused).toBeGreaterThan(0);
    expect(said(/socket hang up|ECONNRESET|closed the link/).length).toBeGreaterThan(0);
    proxy.heal();
    await waitFor('node up again after the cut', () => up() && agent.link?.state === 'open');
    await waitFor('backlog sent after the cut', async () => (await metric(metricsUrl, 'stroom_agent_spool_batches')) === 0);

    // 2. Half-open: the sockets stay open and silent; only the agent's silence timeout notices.
    proxy.stall();
    const downAfterStall = watch.seen.length;
    await sleep(FAULT_MS);
    expect(watch.seen.slice(downAfterStall).some((m) => m.problems.some((p) => p.node === NODE && !p.agentUp)), 'node shown down during the partition').toBe(true);
    expect(said('no word from the collector for 1000 ms; reconnecting')).toHaveLength(1);
    expect(await metric(metricsUrl, 'stroom_agent_link_state', { stroom_link_state: 'open' })).toBe(0);
    proxy.heal();
    await waitFor('node up again after the partition', () => up() && agent.link?.state === 'open');

    await sleep(500);
    expect(await agent.stop(10_000)).toBe(true);
    const h = await health(collector.url);
    // Batches held in the partition reached the collector when it healed, and were sent again on
    // the new connection: counted once, the rest acked as duplicates.
    expect(h.counted).toBe(made);
    expect(h.duplicates).toBeGreaterThan(0);
    expect(h.glitches).toBe(0);

    const checks = await jobChecks(collector.url, simTruthJ([sim]));
    expect(checks.length).toBeGreaterThanOrEqual(3);
    for (const c of checks) expect(c.rel, `job ${c.id}: API ${c.apiJ} J, truth ${c.truthJ} J`).toBeLessThan(0.001);
    for (const b of collector.store.nodeBalance(0, Number.MAX_SAFE_INTEGER)) expect(b.jobsMj + b.idleMj).toBe(b.deviceMj);
  });
});
