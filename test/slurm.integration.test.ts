/**
 * The Slurm job source and the stroom prolog/epilog against a REAL single-node Slurm: the one
 * `deploy/local/slurm.sh start` runs (4 fake GRES GPUs; Prolog/Epilog are wrappers around
 * deploy/slurm/{prolog,epilog}.sh with STROOM_RUN_DIR=/tmp/stroom-slurm-test/run).
 *
 * Starts nothing itself. Without a running Slurm it is skipped, except in CI (CI=true), where it
 * fails: CI must start Slurm first.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuInfo, JobAllocation } from '@stroom/protocol';
import { JobDetailSchema } from '@stroom/protocol';
import { runAgent, SimulatedNode } from '@stroom/agent';
import type { RunningAgent } from '@stroom/agent';
import { AgentTokens, startCollector } from '@stroom/collector';
import type { Collector } from '@stroom/collector';
import { SlurmJobSource, writeGpuMap } from '../agent/src/jobs/slurm-jobs.js';
import { tempDir, testLog } from './helpers.js';

/** Must match SLURM_LOCAL_STROOM_RUN_DIR of deploy/local/slurm.sh (its default). */
const RUN_DIR = process.env['STROOM_SLURM_TEST_RUN_DIR'] ?? '/tmp/stroom-slurm-test/run';
const HOW_TO_START = 'start a local Slurm with `sudo deploy/local/slurm.sh start`';
const CI = process.env['CI'] === 'true';
const RECONCILE_MS = 500;

/** A Slurm client call, bounded: Slurm clients retry for minutes when the controller is gone. */
function slurm(cmd: string, args: readonly string[], limitS = 10): string {
  return execFileSync('timeout', [String(limitS), cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLURM_TIME_FORMAT: 'standard' } });
}

function detect(): { ok: true; node: string } | { ok: false; why: string } {
  try {
    const ping = slurm('scontrol', ['ping'], 5);
    if (!/is UP/.test(ping)) return { ok: false, why: `slurmctld is not up (${ping.trim()})` };
    const node = slurm('sinfo', ['-h', '-N', '-o', '%N'], 5).trim().split('\n')[0] ?? '';
    if (node === '') return { ok: false, why: 'sinfo lists no node' };
    return { ok: true, node };
  } catch (err) {
    return { ok: false, why: `no usable Slurm (${(err as Error).message.split('\n')[0]})` };
  }
}

const found = detect();
if (!found.ok && !CI) console.warn(`skipping the Slurm integration test: ${found.why}; ${HOW_TO_START}`);

/** A fake 4-GPU inventory; Slurm's fake GPUs are /dev-style nodes with minors 0-3. */
const UUIDS = ['GPU-5a1e0000-0000-4000-8000-00000000000a', 'GPU-5a1e0001-0000-4000-8000-00000000000b', 'GPU-5a1e0002-0000-4000-8000-00000000000c', 'GPU-5a1e0003-0000-4000-8000-00000000000d'];
const INVENTORY: GpuInfo[] = UUIDS.map((uuid, i) => ({ uuid, index: i, minor: i, name: 'NVIDIA H100 80GB HBM3 (fake)' }));

/** GPU IDX of a job as `scontrol -d show job` prints it; written here independently of the agent's parser. */
function idxOf(jobId: string): number[] | undefined {
  const text = slurm('scontrol', ['-d', 'show', 'job', jobId]);
  if (!/JobState=RUNNING/.test(text)) return undefined;
  const m = /GRES=\S*?gpu[^(\s]*\(IDX:([0-9,-]+)\)/.exec(text);
  if (m?.[1] === undefined) return undefined;
  return m[1].split(',').flatMap((p) => {
    const [a, b] = p.split('-').map(Number) as [number, number | undefined];
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

/** Whether the job still holds its node (epilog not finished): pending, running or completing. */
function active(jobId: string): boolean {
  try {
    return slurm('squeue', ['-h', '-j', jobId, '-t', 'PENDING,CONFIGURING,RUNNING,COMPLETING,SUSPENDED', '-o', '%T']).trim() !== '';
  } catch {
    return false; // squeue exits 1 for an id slurmctld has already forgotten
  }
}

const tick = () => ({ ts: Date.now(), monoMs: performance.now() });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, f: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Record files in the prolog's run dir that name `jobId`, as GPU UUID → line. */
function recordsOf(jobId: string): Map<string, string> {
  const dir = join(RUN_DIR, 'jobs');
  const out = new Map<string, string>();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names.filter((x) => !x.startsWith('.'))) {
    try {
      const line = readFileSync(join(dir, n), 'utf8');
      if (line.split(' ')[0] === jobId) out.set(n, line);
    } catch {
      // removed by the epilog in between
    }
  }
  return out;
}

describe.skipIf(!found.ok && !CI)('Slurm job source against a real single-node Slurm', () => {
  const log = testLog();
  const empty = tempDir('slurm-it');
  const submitted: string[] = [];
  const sources: SlurmJobSource[] = [];
  let node = '';

  /** sbatch, output thrown away and run from /tmp so nothing lands in the working tree. */
  function submit(args: readonly string[]): string {
    const id = slurm('sbatch', ['--parsable', '-o', '/dev/null', '-e', '/dev/null', '--chdir=/tmp', ...args]).trim().split(';')[0] ?? '';
    expect(id).toMatch(/^\d+$/);
    submitted.push(id);
    return id;
  }

  beforeAll(async () => {
    if (!found.ok) return;
    node = found.node;
    // The agent writes this at start; the prolog resolves Slurm's GPU indices with it.
    mkdirSync(RUN_DIR, { recursive: true });
    await writeGpuMap(RUN_DIR, INVENTORY);
  });

  afterAll(async () => {
    for (const s of sources) await s.stop();
    if (submitted.length > 0) {
      try {
        slurm('scancel', submitted);
      } catch {
        // already gone
      }
    }
    empty.remove();
  });

  it('finds a running Slurm (CI must start one)', () => {
    expect(found.ok, `Slurm is required in CI but ${found.ok ? '' : found.why}; ${HOW_TO_START} in .ci/run`).toBe(true);
  });

  it.skipIf(!found.ok)('maps a job to exactly the GPUs Slurm gave it, via reconcile and via the prolog records, and sees it end', async () => {
    // `fromSlurm` has an empty run dir, so only the reconcile can find the job (agent started
    // mid-job); `fromRecords` reads what the real prolog wrote.
    const fromSlurm = new SlurmJobSource({ runDir: empty.dir, nodeName: node, gpuInventory: () => INVENTORY, reconcileMs: RECONCILE_MS, cgroupRoot: empty.dir, log });
    const fromRecords = new SlurmJobSource({ runDir: RUN_DIR, nodeName: node, gpuInventory: () => INVENTORY, reconcileMs: RECONCILE_MS, log });
    sources.push(fromSlurm, fromRecords);
    await fromSlurm.read(tick());
    await fromRecords.read(tick());

    // With 2+ CPUs, a one-GPU job first takes IDX 0, so ours gets IDX 1-2, not the trivial 0-1.
    const cpus = Number(slurm('sinfo', ['-h', '-N', '-n', node, '-o', '%c']).trim());
    if (cpus >= 2) {
      const blocker = submit(['--gres=gpu:1', '-J', 'stroom-it-blocker', '--wrap', 'sleep 30']);
      await until(`job ${blocker} to run`, 15_000, () => idxOf(blocker));
    }
    const id = submit(['--gres=gpu:2', '-J', 'stroom-it', '--wrap', 'sleep 8']);

    const idx = await until(`job ${id} to run with GPU IDX`, 15_000, () => idxOf(id));
    const runningAt = Date.now();
    expect(idx).toHaveLength(2);
    if (cpus >= 2) expect(idx).toEqual([1, 2]);
    const expected = idx.map((i) => UUIDS[i]).sort();

    const job = await until<JobAllocation>(`job ${id} in the reconciled map`, 15_000, async () => (await fromSlurm.read(tick())).find((j) => j.id === id));
    // Within one reconcile period of the job running (plus the squeue/scontrol round trips).
    expect(Date.now() - runningAt).toBeLessThan(RECONCILE_MS + 2500);
    expect(job).toMatchObject({ id, user: userInfo().username, partition: 'debug', name: 'stroom-it', gpus: expected, cpuCores: 1 });
    expect(job.startTs).toBeGreaterThan(Date.now() - 60_000);

    // The real prolog wrote one record per allocated GPU, with the UUIDs from the map file. The
    // job is RUNNING (Reason=Prolog) while the prolog still runs, so the records may lag a little.
    const records = await until(`the prolog's records of job ${id} in ${RUN_DIR}/jobs (was Slurm started by deploy/local/slurm.sh?)`, 10_000, () => {
      const r = recordsOf(id);
      return r.size >= expected.length ? r : undefined;
    });
    expect([...records.keys()].sort()).toEqual(expected);
    for (const line of records.values()) {
      expect(line).toMatch(new RegExp(`^${id} ${userInfo().uid} ${userInfo().username} \\S+ \\d{13} debug\\n$`));
    }
    const viaRecords = (await fromRecords.read(tick())).find((j) => j.id === id);
    expect(viaRecords?.gpus).toEqual(expected);

    // The end: gone from Slurm, from both maps, and the epilog removed the records.
    await until(`job ${id} to leave the queue`, 30_000, () => (active(id) ? undefined : true));
    await until(`job ${id} to leave the reconciled map`, 5_000, async () => ((await fromSlurm.read(tick())).some((j) => j.id === id) ? undefined : true));
    await until(`the epilog to remove job ${id}'s records`, 10_000, () => (recordsOf(id).size === 0 ? true : undefined));
    expect((await fromRecords.read(tick())).some((j) => j.id === id)).toBe(false);
  }, 60_000);
});

/**
 * The job summary: the epilog tells the collector the job ended, then (on the batch host) runs
 * `stroom job <id> --summary-line` and appends that line to the job's output file, as the job's
 * user, and sets it as the job's AdminComment while the job is still completing. The collector
 * is this test's; Slurm's epilog finds it through the hooks' settings that deploy/local/slurm.sh
 * wrote (SLURM_LOCAL_STROOM_COLLECTOR_URL, SLURM_LOCAL_STROOM_TOKEN_FILE).
 */
const HOOKS_ENV = join(process.env['SLURM_LOCAL_DIR'] ?? '/tmp/slurm-local', 'hooks', 'stroom.env');
const SUMMARY_URL = 'http://127.0.0.1:18480';
const SUMMARY_TOKEN_FILE = '/tmp/stroom-slurm-test/agent.token';
const HOW_TO_START_SUMMARY = `start the local Slurm with the epilog pointed at the test's collector: \`sudo SLURM_LOCAL_STROOM_COLLECTOR_URL=${SUMMARY_URL} SLURM_LOCAL_STROOM_TOKEN_FILE=${SUMMARY_TOKEN_FILE} deploy/local/slurm.sh start\``;
const CLI_MAIN = fileURLToPath(new URL('../cli/dist/src/main.js', import.meta.url));

/** STROOM_COLLECTOR_URL and STROOM_TOKEN_FILE of the local node's hooks, when both are set. */
function hookSettings(): { url: URL; tokenFile: string } | { why: string } {
  let text: string;
  try {
    text = readFileSync(HOOKS_ENV, 'utf8');
  } catch {
    return { why: `${HOOKS_ENV} is missing` };
  }
  const get = (k: string) => new RegExp(`^${k}=(.+)$`, 'm').exec(text)?.[1]?.trim();
  const url = get('STROOM_COLLECTOR_URL');
  const tokenFile = get('STROOM_TOKEN_FILE');
  if (url === undefined || tokenFile === undefined) return { why: `${HOOKS_ENV} sets no STROOM_COLLECTOR_URL or STROOM_TOKEN_FILE, so the epilog calls no collector` };
  const parsed = new URL(url);
  if (parsed.hostname !== '127.0.0.1' || parsed.port === '') return { why: `the epilog's collector ${url} is not a 127.0.0.1:PORT this test can listen on` };
  return { url: parsed, tokenFile };
}

const hooks = found.ok ? hookSettings() : { why: 'no Slurm' };
const summaryReady = found.ok && 'url' in hooks;
if (found.ok && !summaryReady && !CI) console.warn(`skipping the Slurm job-summary test: ${'why' in hooks ? hooks.why : ''}; ${HOW_TO_START_SUMMARY}`);

/** Whether Slurm keeps accounting (sacct answers); the local Slurm has none. */
function accounting(): { ok: true } | { ok: false; why: string } {
  try {
    slurm('sacct', ['-n', '-X', '-o', 'JobID', '-S', 'now-1minutes'], 5);
    return { ok: true };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { ok: false, why: (e.stderr ?? e.message).trim().split('\n')[0] ?? 'sacct failed' };
  }
}

describe.skipIf(!summaryReady && !CI)('job summary from the epilog, against a real single-node Slurm', () => {
  const log = testLog();
  const out = tempDir('slurm-summary');
  const runDir = tempDir('slurm-summary-run');
  const token = randomBytes(24).toString('hex');
  let collector: Collector | undefined;
  let agent: RunningAgent | undefined;
  let jobSource: SlurmJobSource | undefined;
  let jobId = '';
  let summaryLine = '';
  const sacct = summaryReady ? accounting() : { ok: false as const, why: 'no Slurm' };

  beforeAll(async () => {
    if (!found.ok || !('url' in hooks)) return;
    if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: the epilog runs the built CLI; run \`npx tsc -b\``);
    try {
      mkdirSync(dirname(hooks.tokenFile), { recursive: true });
      writeFileSync(hooks.tokenFile, token + '\n', { mode: 0o600 });
    } catch (err) {
      throw new Error(`cannot write the epilog's token file ${hooks.tokenFile} (${(err as NodeJS.ErrnoException).code ?? ''}): the test gives its collector and the epilog a fresh token there; make it writable for this user (sudo chown $USER ${dirname(hooks.tokenFile)})`);
    }
    collector = await startCollector({ host: '127.0.0.1', port: Number(hooks.url.port), dataDir: join(out.dir, 'data'), tokens: new AgentTokens([[found.node, token]]), log });
    // Simulated GPUs for power; the job map comes from the real Slurm (reconcile only: this
    // run dir has no prolog records, and the GPU map of the test above stays untouched).
    const sim = new SimulatedNode({ node: found.node, nodeOrdinal: 1, gpus: 4, seed: 11, timeScale: 60 });
    const inventory = (await sim.probe()).gpus;
    jobSource = new SlurmJobSource({ runDir: runDir.dir, nodeName: found.node, gpuInventory: () => inventory, reconcileMs: RECONCILE_MS, cgroupRoot: runDir.dir, log });
    agent = await runAgent({ node: found.node, devices: sim, jobs: jobSource, intervalMs: 200, log, collectorUrl: collector.url, token });
  });

  afterAll(async () => {
    await agent?.stop(2000);
    await jobSource?.stop();
    await collector?.close();
    if (jobId !== '' && active(jobId)) slurm('scancel', [jobId]);
    out.remove();
    runDir.remove();
  });

  it('finds the epilog pointed at a collector (CI must start Slurm so)', () => {
    expect(summaryReady, `the job-summary test needs ${found.ok ? ('why' in hooks ? hooks.why : '') : 'a running Slurm'}; ${HOW_TO_START_SUMMARY} in .ci/run`).toBe(true);
  });

  it.skipIf(!summaryReady)("puts a one-line summary in the job's output file, written as the job's user", async () => {
    // As root, the job runs as nobody, so the summary must be written as that user to keep the file theirs.
    const asRoot = process.getuid?.() === 0;
    const owner = asRoot ? { uid: 65534, gid: 65534 } : { uid: userInfo().uid, gid: userInfo().gid };
    if (asRoot) chmodSync(out.dir, 0o777);
    const id = slurm('sbatch', ['--parsable', '--gres=gpu:1', '-J', 'stroom-summary', '-o', join(out.dir, 'job-%j.out'), '--chdir=/tmp', ...(asRoot ? [`--uid=${owner.uid}`, `--gid=${owner.gid}`] : []), '--wrap', 'echo started; sleep 4']).trim().split(';')[0] ?? '';
    expect(id).toMatch(/^\d+$/);
    jobId = id;
    await until(`job ${id} to run`, 15_000, () => (idxOf(id) === undefined ? undefined : true));
    await until(`job ${id} in the collector (the agent's reconcile found it)`, 15_000, async () => ((await fetch(`${collector?.url ?? ''}/api/v1/jobs/${id}`)).status === 200 ? true : undefined));
    await until(`job ${id} to end, epilog included`, 30_000, () => (active(id) ? undefined : true));

    const file = join(out.dir, `job-${id}.out`);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines[0]).toBe('started');
    const summary = lines[1] ?? '';
    expect(summary).toMatch(new RegExp(`^stroom: job ${id} completed; \\d+ s; (\\d+) GPUs?; \\S+ kWh \\(GPU \\S+ kWh, CPU \\S+ kWh, other \\S+ kWh modelled\\); .* kg CO2e location-based, .* EUR; .* GPU-h, mean GPU util .*, idle .* GPU-h$`));
    expect(lines.slice(2)).toEqual(['']);
    expect(statSync(file)).toMatchObject({ uid: owner.uid, gid: owner.gid });

    // The figures are the collector's for this job, ended by the epilog's notice.
    const api = JobDetailSchema.parse(await (await fetch(`${collector?.url ?? ''}/api/v1/jobs/${id}`)).json());
    expect(api).toMatchObject({ id, state: 'completed', nodes: [found.ok ? found.node : ''] });
    expect(Number(/; (\d+) GPUs?; /.exec(summary)?.[1])).toBe(api.gpus);
    expect(api.gpus, `the collector counts ${api.gpus} GPUs for job ${id}, which held 1 (GPU-hours ${api.gpuHours})`).toBe(1);
    const printedKwh = Number(/; (\S+) kWh \(GPU/.exec(summary)?.[1]);
    expect(printedKwh).toBeGreaterThan(0);
    // A batch that covered the job's last moments may arrive after the epilog asked.
    expect(printedKwh).toBeLessThanOrEqual((api.energyJ.total / 3.6e6) * 1.0005);

    summaryLine = summary;
  }, 90_000);

  it.skipIf(!summaryReady)('sets the same line as the job\'s AdminComment for operators, where Slurm permits', async (ctx) => {
    expect(summaryLine, 'the test above made no summary').not.toBe('');
    const shown = slurm('scontrol', ['show', 'job', jobId]);
    const admin = /^\s*AdminComment=(.*)$/m.exec(shown)?.[1];
    if (admin === undefined) {
      // slurmctld refuses updates of a finished job, and a job in its epilog is finished; the
      // epilog then hands the line to the accounting database (sacctmgr), if there is one.
      const logFile = /^SlurmctldLogFile\s*=\s*(\S+)/m.exec(slurm('scontrol', ['show', 'config']))?.[1] ?? '';
      const refused = readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes(`_slurm_rpc_update_job: JobId=${jobId} `));
      expect(refused, `no AdminComment on job ${jobId}, and slurmctld (${logFile}) logged no refused update: did the epilog try?`).toBeDefined();
      if (!sacct.ok) {
        console.warn(`skipping the AdminComment check: this Slurm cannot hold the AdminComment after the job's end: slurmctld refused the epilog's update ("${refused?.replace(/^\[[^\]]*\] /, '') ?? ''}"), and there is no accounting database for sacctmgr (${sacct.why})`);
        ctx.skip(`this Slurm cannot hold an AdminComment after the job's end (slurmctld refused the update; no accounting database: ${sacct.why})`);
      }
    } else {
      expect(admin).toBe(summaryLine);
    }
    if (sacct.ok) {
      // Through the accounting database, set a little after the job's end (see epilog.sh).
      await until(`job ${jobId}'s AdminComment in sacct`, 40_000, () => (slurm('sacct', ['-n', '-X', '-j', jobId, '-o', 'AdminComment%500']).trim() === summaryLine ? true : undefined));
    }
  }, 60_000);
});
