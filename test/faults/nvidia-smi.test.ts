/**
 * Fault: nvidia-smi hangs, exits, or prints garbage. Three agents run the real nvidia-smi
 * source (`--gpu nvidia-smi`) against the fake binary (agent/test/bin/fake-nvidia-smi) replaying
 * a power trace, one fault mode each. A small wrapper (written at test time) reads the fault mode
 * from a file at every start, so the test can end the fault and later children run clean, and
 * copies every streamed line to a log, so the test knows exactly which readings the fake gave.
 *
 * Scale: the agents report every 100 ms and the child samples at 10 Hz. Hang and exit repeat in
 * every child for 15 s (each child prints 3 samples, then hangs or exits), then stop; garbage (a
 * junk line every third sample, rows split across writes) runs throughout.
 *
 * Energy for the missing seconds: nvidia-smi gives power, not energy, so the source integrates
 * its rows. A step between two rows of at most 3 intervals (300 ms) is integrated from the two
 * readings around it (a restart after an exit usually is); a longer one (a hang the watchdog
 * kills after 3 silent intervals) is a gap, counted and not integrated. The truth is therefore
 * the trapezoid over the rows the fake printed, with that rule, which the test works out from
 * the copied lines; the trace is 0 W at both ends of the run, so where the agent's first and last
 * ticks fall does not matter. The test also reports how much energy the gaps left out against
 * the trace's exact integral, and requires hangs to leave gaps and garbage none.
 *
 * Operators see it: a warning per fault kind in the agent's log, the source's errors on the
 * agent's `/metrics` and in every batch, and `nvidia-smi` failing on the node in the live
 * cluster picture, which clears once the fault stops. No hand is needed: the source restarts
 * its child itself.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runAgent } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { AgentTelemetry } from '@stroom/agent/telemetry';
import { NvidiaSmiSource } from '../../agent/src/sources/nvidia-smi.js';
import { tempDir } from '../helpers.js';
import { capturedLog, collectorFor, jobChecks, LiveWatch, metric, sleep, staticJobs, tokenOf } from './harness.js';

const FAKE = fileURLToPath(new URL('../../agent/test/bin/fake-nvidia-smi', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../agent/test/fixtures/nvidia-smi/', import.meta.url));
const GPU = 'GPU-19d6d965-2acc-f646-00f8-4c76979aabb4';
const MODES = ['hang', 'exit', 'garbage'] as const;
/** The trace: 0 W for 10 s (the agents start in it), 300 W for 10 s, 0 W again. */
const ZERO_S = 10;
const PERIOD_S = 20;
const BUSY_W = 300;
const FAULT_UNTIL_S = 15;
/** Well into the last 0 W stretch: on a loaded machine the fake's rows can lag real time by seconds. */
const STOP_AT_S = 24;
const MAX_GAP_MS = 300;

/** The wrapper: the fake, with the mode from `$FAULT_DIR/mode` and streamed output copied to `$FAULT_DIR/rows.log`. */
const WRAPPER = `#!/usr/bin/env node
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
const dir = process.env.FAULT_DIR;
if (existsSync(dir + '/mode')) process.env.FAKE_NVIDIA_SMI_MODE = readFileSync(dir + '/mode', 'utf8').trim();
if (process.argv.includes('-lms')) {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => { appendFileSync(dir + '/rows.log', chunk); return write(chunk, ...rest); };
}
await import(${JSON.stringify(pathToFileURL(FAKE).href)});
`;

/** Exact trace energy in J between two epoch-ms instants. */
function exactJ(startMs: number, fromMs: number, toMs: number): number {
  const zeroS = (x: number): number => {
    const k = Math.floor(x / PERIOD_S);
    return k * ZERO_S + Math.min(x - k * PERIOD_S, ZERO_S);
  };
  const a = (fromMs - startMs) / 1000;
  const b = (toMs - startMs) / 1000;
  return BUSY_W * (b - a) - BUSY_W * (zeroS(b) - zeroS(a));
}

/** The rows the fake printed (timestamp ms, power W), junk and torn lines left out. */
function printedRows(log: string, fields: readonly string[]): Array<{ tsMs: number; powerW: number }> {
  const rows: Array<{ tsMs: number; powerW: number }> = [];
  const power = ['power.draw.average', 'power.draw', 'power.draw.instant'].map((f) => fields.indexOf(f)).filter((i) => i >= 0);
  for (const line of log.split('\n')) {
    const cols = line.split(', ');
    const ts = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})$/.exec(cols[0] ?? '');
    if (cols.length !== fields.length || ts === null || cols[fields.indexOf('uuid')] !== GPU) continue;
    // The source's preference: the first power field with a number in it.
    const w = power.map((i) => cols[i] ?? '').find((v) => /^\d+(\.\d+)?$/.test(v));
    if (w === undefined) continue;
    const [y, mo, d, h, mi, s, ms] = ts.slice(1).map(Number) as [number, number, number, number, number, number, number];
    rows.push({ tsMs: Date.UTC(y, mo - 1, d, h, mi, s, ms), powerW: Number(w) });
  }
  return rows;
}

describe('nvidia-smi hanging, exiting, printing garbage', () => {
  const data = tempDir('fault-nvidia-smi');
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
    data.remove();
  });

  it('recovers by itself, counts what it could not read as gaps, and shows each fault', { timeout: 60_000 }, async () => {
    const nodes = MODES.map((m) => `smi-${m}`);
    const { log: collectorLog } = capturedLog();
    const collector = await collectorFor(nodes, join(data.dir, 'books'), collectorLog);
    cleanup.push(() => collector.close());
    const watch = new LiveWatch(collector.url);
    cleanup.push(() => watch.close());

    const startMs = Date.now();
    const runs = await Promise.all(MODES.map(async (mode, i) => {
      const node = nodes[i] as string;
      const dir = join(data.dir, node);
      mkdirSync(dir);
      copyFileSync(join(FIXTURES, 'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__help-query-gpu.txt'), join(dir, 'help-query-gpu.txt'));
      copyFileSync(join(FIXTURES, 'linux-x86_64__nvidia-geforce-rtx-3080__595.58.03__load.xml'), join(dir, 'q-x.xml'));
      copyFileSync(join(FIXTURES, 'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.csv'), join(dir, 'query-gpu.csv'));
      writeFileSync(join(dir, 'trace.json'), JSON.stringify({ startMs, gpus: [{ baseW: BUSY_W, dipW: 0, periodS: PERIOD_S, dipS: ZERO_S }] }));
      writeFileSync(join(dir, 'mode'), mode);
      const wrapper = join(dir, 'nvidia-smi');
      writeFileSync(wrapper, WRAPPER);
      chmodSync(wrapper, 0o755);
      const captured = capturedLog();
      const source = new NvidiaSmiSource({
        nvidiaSmiPath: wrapper, intervalMs: 100, log: captured.log,
        // Instantaneous power only, so the child samples at 10 Hz; timestamps in UTC are epoch ms.
        env: { FAULT_DIR: dir, FAKE_NVIDIA_SMI_DIR: dir, FAKE_NVIDIA_SMI_TRACE: join(dir, 'trace.json'), FAKE_NVIDIA_SMI_DROP_FIELDS: 'power.draw.average', TZ: 'UTC' },
      });
      const telemetry = await AgentTelemetry.start({ node, log: captured.log, listen: { host: '127.0.0.1', port: 0 } });
      cleanup.push(() => telemetry.close());
      const job = { id: `job-${node}`, user: 'bo', account: 'proj-3', gpus: [GPU], cpuCores: 0, startTs: startMs };
      const agent: RunningAgent = await runAgent({ node, devices: source, jobs: staticJobs(job), intervalMs: 100, log: captured.log, telemetry, collectorUrl: collector.url, token: tokenOf(node) });
      cleanup.push(() => agent.stop(1000));
      return { mode, node, dir, source, agent, telemetry, job, said: captured.said };
    }));
    // A precondition, not a measurement: the first readings must fall in the first 0 W stretch.
    expect(Date.now() - startMs, 'starting 3 agents took longer than the 0 W stretch the trace begins with').toBeLessThan(ZERO_S * 1000);

    await sleep(startMs + FAULT_UNTIL_S * 1000 - Date.now());
    for (const r of runs) if (r.mode !== 'garbage') writeFileSync(join(r.dir, 'mode'), '');
    await sleep(startMs + STOP_AT_S * 1000 - Date.now());

    for (const r of runs) {
      const shown = watch.shown(r.node);
      expect(shown.some((t) => t.startsWith('nvidia-smi failing')), `${r.node}: nvidia-smi failing shown live`).toBe(true);
      if (r.mode !== 'garbage') expect(watch.latest(r.node), `${r.node}: problem cleared after the fault stopped`).toBeUndefined();
      const st = r.source.stats;
      const errors = await metric(r.telemetry.url as string, 'stroom_agent_source_errors_total', { stroom_source_name: 'nvidia-smi' });
      expect(errors, `${r.node}: source errors on /metrics`).toBeGreaterThan(0);
      if (r.mode === 'hang') {
        expect(st.watchdogKills).toBeGreaterThan(0);
        expect(r.said('printed nothing for')).toHaveLength(1);
      } else if (r.mode === 'exit') {
        expect(st.childExits).toBeGreaterThan(0);
        expect(r.said('streaming child ended (exit code 15)')).toHaveLength(1);
      } else {
        expect(st.garbageLines).toBeGreaterThan(0);
        expect(r.said('not a GPU row')).toHaveLength(1);
      }
    }
    expect(await Promise.all(runs.map((r) => r.agent.stop(10_000)))).toEqual(runs.map(() => true));

    for (const r of runs) {
      const rows = printedRows(readFileSync(join(r.dir, 'rows.log'), 'utf8'), r.source.childArgs[0]?.replace('--query-gpu=', '').split(',') ?? []);
      let truthJ = 0;
      let gapJ = 0;
      let gaps = 0;
      for (let k = 1; k < rows.length; k++) {
        const a = rows[k - 1] as { tsMs: number; powerW: number };
        const b = rows[k] as { tsMs: number; powerW: number };
        const dtMs = b.tsMs - a.tsMs;
        if (dtMs >= 0 && dtMs <= MAX_GAP_MS) truthJ += ((a.powerW + b.powerW) / 2) * (dtMs / 1000);
        else {
          gaps += 1;
          if (dtMs > 0) gapJ += exactJ(startMs, a.tsMs, b.tsMs);
        }
      }
      const [check] = await jobChecks(collector.url, new Map([[r.job.id, truthJ]]));
      expect(check?.rel, `${r.node}: API ${check?.apiJ} J, rows' integral ${truthJ} J`).toBeLessThan(0.001);
      const exact = exactJ(startMs, startMs, startMs + STOP_AT_S * 1000);
      console.info(`${r.node}: ${rows.length} rows, ${gaps} gaps leaving out ${gapJ.toFixed(0)} J; API ${check?.apiJ.toFixed(0)} J against ${exact.toFixed(0)} J in the trace`);
      if (r.mode === 'hang') expect(gapJ).toBeGreaterThan(0);
      if (r.mode === 'garbage') expect(gaps).toBe(0);
    }
  });
});
