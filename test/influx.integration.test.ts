/**
 * The collector with InfluxDB as its store (`--influx`), against a real influxd: per-job
 * energy equals what the simulated sources integrated, raw GPU samples land in InfluxDB with
 * no job id, and a collector restarted on the same database has the same books.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { InfluxDB } from 'influx';
import type { JobSummary } from '@stroom/protocol';
import { runAgent, SimulatedNode } from '@stroom/agent';
import { AgentTokens, startCollector } from '@stroom/collector';
import { getJson, tempDir, testLog } from './helpers.js';

const URL_ = process.env['INFLUX_URL'] ?? 'http://127.0.0.1:8086';
const HOW = 'start one with `deploy/local/influxdb.sh start` (or set INFLUX_URL)';
const up = await fetch(`${URL_}/ping`).then((r) => r.status === 204, () => false);
const NODES = ['gcn1', 'gcn2'];
const token = (n: string): string => `influx-test-token-${n}-0123456789`;

if (!up && process.env['CI'] === 'true') {
  describe('collector on InfluxDB', () => {
    it('needs influxd in CI', () => {
      throw new Error(`no influxd answers ${URL_}/ping with 204; CI must ${HOW}`);
    });
  });
} else if (!up) {
  console.warn(`collector-on-InfluxDB test skipped: no influxd at ${URL_}; ${HOW}`);
  describe.skip(`collector on InfluxDB (skipped: no influxd at ${URL_}; ${HOW})`, () => {
    it('counts jobs into InfluxDB', () => undefined);
  });
} else {
  describe('collector on InfluxDB', () => {
    const database = `stroom_it_${process.pid}_${Date.now()}`;
    const u = new URL(URL_);
    const influx = new InfluxDB({ host: u.hostname, port: Number(u.port || 8086), database });
    const data = tempDir('influx-it');
    afterAll(async () => {
      await influx.dropDatabase(database);
      data.remove();
    });

    it('keeps per-job energy equal to the truth, raw samples without job ids, and the books across a restart', { timeout: 60_000 }, async () => {
      const log = testLog();
      const tokens = new AgentTokens(NODES.map((n) => [n, token(n)] as const));
      const options = { host: '127.0.0.1', port: 0, dataDir: data.dir, tokens, log, influx: { url: URL_, database } };
      const collector = await startCollector(options);
      const sims = NODES.map((node, i) => new SimulatedNode({ node, nodeOrdinal: i + 1, gpus: 4, seed: 11, timeScale: 0.5 }));
      const agents = await Promise.all(sims.map((sim, i) => runAgent({ node: NODES[i] as string, devices: sim, jobs: sim.jobs, intervalMs: 100, log, collectorUrl: collector.url, token: token(NODES[i] as string) })));
      await new Promise((r) => setTimeout(r, 4000));
      expect(await Promise.all(agents.map((a) => a.stop(5000)))).toEqual([true, true]);
      const before = (await getJson<{ jobs: JobSummary[] }>(`${collector.url}/api/v1/jobs?limit=1000`)).body.jobs;
      let checked = 0;
      for (const sim of sims) {
        for (const [id, mj] of Object.entries(sim.truth().jobsMj)) {
          const want = (mj.gpuMj + mj.cpuMj) / 1000;
          if (want < 1) continue;
          const got = before.find((j) => j.id === id)?.energyJ.total ?? 0;
          expect(Math.abs(got - want) / want, `job ${id}`).toBeLessThan(0.001);
          checked += 1;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(4);
      await collector.close();

      const rows = await influx.query<{ n: number }>('SELECT count(power_w) AS n FROM "series"."gpu"');
      expect(rows[0]?.n ?? 0).toBeGreaterThan(100);
      const tagKeys = await influx.query<{ tagKey: string }>('SHOW TAG KEYS FROM "series"."gpu"');
      expect(tagKeys.map((t) => t.tagKey).sort()).toEqual(['gpu', 'node']);

      const again = await startCollector({ ...options, port: 0 });
      const after = (await getJson<{ jobs: JobSummary[] }>(`${again.url}/api/v1/jobs?limit=1000`)).body.jobs;
      expect(after.map((j) => [j.id, j.state, j.energyJ.total])).toEqual(before.map((j) => [j.id, j.state, j.energyJ.total]));
      await again.close();
    });
  });
}
