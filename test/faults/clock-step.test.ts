/**
 * Fault: the node's wall clock jumps back one hour (a bad NTP server, `date -s`) while the
 * agent runs. The agent's clock is injected: wall time steps back 3600 s, the monotonic clock
 * does not, and neither does the simulated hardware, which runs on the monotonic clock as a
 * GPU's energy counter does.
 *
 * Scale: the step is the real one hour; the run is 2 s before it and 4 s after, at a 100 ms
 * interval (20 and 40 batches).
 *
 * Checked: every batch is counted exactly once (seq, not ts, orders them: the collector counts
 * as many batches as the agent made and drops none as duplicates), per-job energy equals the
 * truth within 0.1 %, jobs + idle = node energy; operators see the step: a warning in the
 * agent's log, a "clock" problem on the node in the live cluster picture, and the live picture
 * and `/metrics` keep following the node instead of freezing at the timestamp it had reached.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { NodeSummary } from '@stroom/protocol';
import { runAgent, SimulatedNode, systemClock } from '@stroom/agent';
import type { Clock, DeviceSource, JobSource, RunningAgent, Tick } from '@stroom/agent';
import { getJson, tempDir } from '../helpers.js';
import { capturedLog, collectorFor, health, jobChecks, LiveWatch, metric, simTruthJ, sleep, tokenOf, waitFor } from './harness.js';

const NODE = 'gcn3';
const HOUR_MS = 3_600_000;

describe("the node's wall clock jumps back one hour", () => {
  const data = tempDir('fault-clock');
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
    data.remove();
  });

  it('counts every batch once by seq, keeps energy whole, and shows the step', { timeout: 60_000 }, async () => {
    const { log, said } = capturedLog();
    const collector = await collectorFor([NODE], data.dir, log);
    cleanup.push(() => collector.close());
    const watch = new LiveWatch(collector.url);
    cleanup.push(() => watch.close());

    let offsetMs = 0;
    const clock: Clock = { nowMs: () => Date.now() + offsetMs, monoMs: () => systemClock.monoMs() };
    // The hardware's own time: the monotonic clock, whatever the wall clock says.
    const wall0 = Date.now();
    const mono0 = systemClock.monoMs();
    const hw = (t: Tick): Tick => ({ ts: Math.round(wall0 + t.monoMs - mono0), monoMs: t.monoMs });
    const sim = new SimulatedNode({ node: NODE, nodeOrdinal: 3, gpus: 4, seed: 9, timeScale: 1 });
    const devices: DeviceSource = { name: 'simulated', probe: () => sim.probe(), read: (t) => sim.read(hw(t)) };
    const jobs: JobSource = { name: 'simulated', read: (t) => sim.jobs.read(hw(t)) };
    let made = 0;
    const agent: RunningAgent = await runAgent({ node: NODE, devices, jobs, intervalMs: 100, log, clock, collectorUrl: collector.url, token: tokenOf(NODE), onBatch: () => { made += 1; } });
    cleanup.push(() => agent.stop(1000));
    await waitFor('batches counted', async () => (await health(collector.url)).counted >= 20);
    const energyBefore = await metric(`${collector.url}/metrics`, 'hw_energy_total', { hw_type: 'gpu' });

    offsetMs = -HOUR_MS;
    await waitFor('the clock problem in the live picture', () => watch.latest(NODE)?.sources.some((s) => s.name === 'clock') === true);
    await sleep(4000);

    // Still followed after the step: its latest batch is an hour behind, and power is known.
    const { body: node } = await getJson<NodeSummary>(`${collector.url}/api/v1/nodes/${NODE}`);
    expect(node.up).toBe(true);
    expect(node.lastSeenTs ?? 0).toBeLessThan(Date.now() - HOUR_MS + 60_000);
    expect(node.powerW).not.toBeNull();
    const energyAfter = await metric(`${collector.url}/metrics`, 'hw_energy_total', { hw_type: 'gpu' });
    expect(energyAfter ?? 0).toBeGreaterThan(energyBefore ?? Infinity);
    expect(watch.latest(NODE)?.sources.find((s) => s.name === 'clock')?.reason).toMatch(/clock stepped back 3600 s/);
    expect(said('wall clock stepped back by 3600 s')).toHaveLength(1);

    expect(await agent.stop(10_000)).toBe(true);
    const h = await health(collector.url);
    expect(h.counted).toBe(made);
    expect(h.duplicates).toBe(0);
    expect(h.glitches).toBe(0);
    const checks = await jobChecks(collector.url, simTruthJ([sim]));
    expect(checks.length).toBeGreaterThanOrEqual(3);
    for (const c of checks) expect(c.rel, `job ${c.id}: API ${c.apiJ} J, truth ${c.truthJ} J`).toBeLessThan(0.001);
    for (const b of collector.store.nodeBalance(0, Number.MAX_SAFE_INTEGER)) expect(b.jobsMj + b.idleMj).toBe(b.deviceMj);
  });
});
