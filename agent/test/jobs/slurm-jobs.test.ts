import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { GpuInfo, JobAllocation } from '@stroom/protocol';
import type { Logger } from 'pino';
import { writeJobRecord } from '../../src/jobs/job-records.js';
import { SlurmJobSource, writeGpuMap, type SlurmJobSourceOptions } from '../../src/jobs/slurm-jobs.js';
import { SQUEUE_FORMAT } from '../../src/jobs/slurm-parse.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/slurm/', import.meta.url));
const local = (y: number, mo: number, d: number, h: number, mi: number, s: number): number => new Date(y, mo - 1, d, h, mi, s).getTime();

const UUID = ['GPU-00000000-0000-4000-8000-000000000000', 'GPU-11111111-1111-4111-8111-111111111111', 'GPU-22222222-2222-4222-8222-222222222222', 'GPU-33333333-3333-4333-8333-333333333333'] as const;
const INVENTORY: GpuInfo[] = UUID.map((uuid, i) => ({ uuid, index: i, minor: i, name: 'NVIDIA H100 80GB HBM3' }));
const START_9 = local(2026, 11, 30, 11, 36, 55);

const dirs: string[] = [];
const sources: SlurmJobSource[] = [];
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A scratch dir with fake `squeue` and `scontrol` scripts: squeue prints `squeue.out`, scontrol
 * prints `job-<id>.txt` or fails as Slurm does for an unknown id. Each logs its arguments.
 */
function fakeSlurm(opts: { squeueSleepS?: number } = {}): { dir: string; runDir: string; squeue: string; scontrol: string; args: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'stroom-slurm-jobs-'));
  dirs.push(dir);
  const squeue = join(dir, 'squeue');
  const scontrol = join(dir, 'scontrol');
  writeFileSync(squeue, `#!/bin/sh\necho "squeue $*" >> "${dir}/args"\n${opts.squeueSleepS !== undefined ? `sleep ${opts.squeueSleepS}\n` : ''}cat "${dir}/squeue.out"\n`);
  writeFileSync(
    scontrol,
    `#!/bin/sh\necho "scontrol $*" >> "${dir}/args"\nfor a; do id=$a; done\nif [ -f "${dir}/job-$id.txt" ]; then cat "${dir}/job-$id.txt"; else echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; fi\n`,
  );
  chmodSync(squeue, 0o755);
  chmodSync(scontrol, 0o755);
  writeFileSync(join(dir, 'squeue.out'), '');
  const runDir = join(dir, 'run');
  mkdirSync(runDir);
  return { dir, runDir, squeue, scontrol, args: () => (existsSync(join(dir, 'args')) ? readFileSync(join(dir, 'args'), 'utf8').trim().split('\n') : []) };
}

/** The Slurm 22.05 capture: jobs 9 (GPU IDX 0-1) and 11 (array task 10_0, IDX 2) running on `vm`. */
function withCapturedJobs(dir: string): void {
  copyFileSync(join(FIXTURES, 'slurm-22.05.8__squeue-stroom-format__running.txt'), join(dir, 'squeue.out'));
  copyFileSync(join(FIXTURES, 'slurm-22.05.8__scontrol-d-o-show-job__one.txt'), join(dir, 'job-9.txt'));
  const all = readFileSync(join(FIXTURES, 'slurm-22.05.8__scontrol-d-show-job__all.txt'), 'utf8');
  writeFileSync(join(dir, 'job-11.txt'), all.slice(all.indexOf('JobId=11 ')));
}

function stubLog(): Logger & { warn: ReturnType<typeof vi.fn>; info: ReturnType<typeof vi.fn> } {
  return { warn: vi.fn(), info: vi.fn(), debug: vi.fn(), error: vi.fn() } as never;
}

function source(f: ReturnType<typeof fakeSlurm>, over: Partial<SlurmJobSourceOptions> = {}): SlurmJobSource {
  const s = new SlurmJobSource({
    runDir: f.runDir,
    nodeName: 'vm',
    gpuInventory: () => INVENTORY,
    squeuePath: f.squeue,
    scontrolPath: f.scontrol,
    reconcileMs: 3_600_000,
    cgroupRoot: join(f.dir, 'no-cgroup'),
    logicalCpus: 2,
    log: stubLog(),
    ...over,
  });
  sources.push(s);
  return s;
}

const tick = (monoMs: number) => ({ ts: 1_800_000_000_000 + monoMs, monoMs });

const JOB_9: JobAllocation = { id: '9', user: 'root', account: '', name: 'train llm', partition: 'debug', startTs: START_9, gpus: [UUID[0], UUID[1]], cpuCores: 1 };
const JOB_11: JobAllocation = { id: '11', user: 'root', account: '', name: 'sweep', partition: 'debug', startTs: START_9, gpus: [UUID[2]], cpuCores: 1 };

describe('SlurmJobSource', () => {
  describe('#read', () => {
    it('maps prolog records before any reconcile, grouped by job, cores unknown (0)', async () => {
      const f = fakeSlurm();
      await writeJobRecord(f.runDir, { gpu: UUID[1], jobId: '42', uid: 1001, user: 'alice', account: 'proj', startTs: 1000, partition: 'gpu' });
      await writeJobRecord(f.runDir, { gpu: UUID[0], jobId: '42', uid: 1001, user: 'alice', account: 'proj', startTs: 1000, partition: 'gpu' });
      await writeJobRecord(f.runDir, { gpu: UUID[3], jobId: '7', user: 'bob', account: '', startTs: 900 });
      const s = source(f, { squeuePath: join(f.dir, 'missing-squeue') });
      expect(await s.read(tick(0))).toEqual([
        { id: '7', user: 'bob', account: '', startTs: 900, gpus: [UUID[3]], cpuCores: 0 },
        { id: '42', user: 'alice', account: 'proj', partition: 'gpu', startTs: 1000, gpus: [UUID[0], UUID[1]], cpuCores: 0 },
      ]);
    });

    it('gives an empty map when there are no records and Slurm does not answer', async () => {
      const f = fakeSlurm();
      const log = stubLog();
      const s = source(f, { squeuePath: join(f.dir, 'missing-squeue'), log });
      expect(await s.read(tick(0))).toEqual([]);
      await s.reconcileNow();
      await s.reconcileNow();
      expect(await s.read(tick(1000))).toEqual([]);
      // One warning for a persisting failure, not one per reconcile.
      expect(log.warn).toHaveBeenCalledTimes(1);
      expect(String(log.warn.mock.calls[0]?.[1])).toMatch(/slurm reconcile failed, using prolog records only/);
    });

    it('never waits for Slurm: a hung squeue costs nothing on the hot path', async () => {
      const f = fakeSlurm({ squeueSleepS: 5 });
      await writeJobRecord(f.runDir, { gpu: UUID[0], jobId: '42', user: 'alice', account: 'proj', startTs: 1000 });
      const s = source(f, { commandTimeoutMs: 300 });
      const t0 = Date.now();
      expect(await s.read(tick(0))).toEqual([{ id: '42', user: 'alice', account: 'proj', startTs: 1000, gpus: [UUID[0]], cpuCores: 0 }]);
      // squeue sleeps 5 s; the read must not wait for it.
      expect(Date.now() - t0).toBeLessThan(2000);
      const t1 = Date.now();
      await s.reconcileNow();
      // The command limit ended the hung squeue.
      expect(Date.now() - t1).toBeLessThan(3000);
    });
  });

  describe('#reconcileNow', () => {
    it('runs squeue for this node and scontrol per job, and maps jobs the prolog missed by GRES IDX', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      const s = source(f);
      await s.reconcileNow();
      expect(await s.read(tick(0))).toEqual([JOB_9, JOB_11]);
      expect(f.args().sort()).toEqual(['scontrol -d -o show job 11', 'scontrol -d -o show job 9', `squeue -h -w vm -t RUNNING -o ${SQUEUE_FORMAT}`]);
    });

    it('fills in what the prolog did not know, from Slurm', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      await writeJobRecord(f.runDir, { gpu: UUID[0], jobId: '9', uid: 0, user: 'root', account: '', startTs: START_9 + 40, partition: 'debug' });
      await writeJobRecord(f.runDir, { gpu: UUID[1], jobId: '9', uid: 0, user: 'root', account: '', startTs: START_9 + 40, partition: 'debug' });
      // Without an answer from Slurm (its first reconcile starts in the background at the first
      // read, so a working one could win the race on a busy machine): the prolog's view.
      const prologOnly = source(f, { squeuePath: '/bin/false' });
      expect(await prologOnly.read(tick(0))).toEqual([{ id: '9', user: 'root', account: '', partition: 'debug', startTs: START_9 + 40, gpus: [UUID[0], UUID[1]], cpuCores: 0 }]);
      const s = source(f);
      await s.reconcileNow();
      expect(await s.read(tick(1000))).toEqual([JOB_9, JOB_11]);
    });

    it('drops and deletes records of jobs Slurm no longer runs (missed epilog), but keeps fresh ones', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      const now = 1_900_000_000_000;
      await writeJobRecord(f.runDir, { gpu: UUID[3], jobId: '3', user: 'root', account: '', startTs: now - 3_600_000 });
      const s = source(f, { now: () => now });
      await s.reconcileNow();
      // A prolog that ran after squeue started: its job is not in this reconcile yet.
      await writeJobRecord(f.runDir, { gpu: UUID[3], jobId: '12', user: 'carol', account: 'x', startTs: now + 5 });
      expect(await s.read(tick(0))).toEqual([JOB_9, JOB_11, { id: '12', user: 'carol', account: 'x', startTs: now + 5, gpus: [UUID[3]], cpuCores: 0 }]);
      await writeJobRecord(f.runDir, { gpu: UUID[3], jobId: '3', user: 'root', account: '', startTs: now - 3_600_000 });
      expect(await s.read(tick(1000))).toEqual([JOB_9, JOB_11]);
      await vi.waitFor(() => expect(existsSync(join(f.runDir, 'jobs', UUID[3]))).toBe(false));
    });

    it('keeps a GPU with the job its live record names when Slurm reports another, and warns once', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      writeFileSync(join(f.dir, 'squeue.out'), `${readFileSync(join(f.dir, 'squeue.out'), 'utf8')}50|50|RUNNING|7|dave|lab|debug|2026-11-30T11:30:00|1|1|vm|other\n`);
      await writeJobRecord(f.runDir, { gpu: UUID[1], jobId: '50', user: 'dave', account: 'lab', startTs: 5 });
      const log = stubLog();
      const s = source(f, { log });
      await s.reconcileNow();
      const jobs = await s.read(tick(0));
      await s.read(tick(1000));
      expect(jobs).toEqual([
        { ...JOB_9, gpus: [UUID[0]] },
        JOB_11,
        // scontrol did not answer for 50: its CPUs come from squeue, its GPU from the record.
        { id: '50', user: 'dave', account: 'lab', name: 'other', partition: 'debug', startTs: local(2026, 11, 30, 11, 30, 0), gpus: [UUID[1]], cpuCores: 1 },
      ]);
      const warnings = log.warn.mock.calls.map((c) => String(c[1]));
      expect(warnings.filter((w) => w.includes(`GPU ${UUID[1]} is recorded for job 50 but Slurm reports job 9`))).toHaveLength(1);
    });

    it('numbers GPUs by minor number by default, by nvidia-smi index when asked', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      // Minor numbers out of PCI order: IDX 0 is minor 0, which is nvidia-smi index 3.
      const swapped: GpuInfo[] = INVENTORY.map((g) => ({ ...g, minor: 3 - g.index }));
      const byMinor = source(f, { gpuInventory: () => swapped });
      await byMinor.reconcileNow();
      expect((await byMinor.read(tick(0))).map((j) => [j.id, j.gpus])).toEqual([
        ['9', [UUID[2], UUID[3]]],
        ['11', [UUID[1]]],
      ]);
      const byIndex = source(f, { gpuInventory: () => swapped, gresIdxOrder: 'index' });
      await byIndex.reconcileNow();
      expect((await byIndex.read(tick(0))).map((j) => [j.id, j.gpus])).toEqual([
        ['9', [UUID[0], UUID[1]]],
        ['11', [UUID[2]]],
      ]);
    });

    it('warns when Slurm names a GPU index the inventory lacks', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      const log = stubLog();
      const s = source(f, { gpuInventory: () => INVENTORY.slice(0, 2), log });
      await s.reconcileNow();
      expect((await s.read(tick(0))).map((j) => [j.id, j.gpus])).toEqual([
        ['9', [UUID[0], UUID[1]]],
        ['11', []],
      ]);
      expect(String(log.warn.mock.calls[0]?.[1])).toMatch(/job 11 holds GPU IDX 2, but the inventory has 2 GPUs/);
    });

    it('forgets reconcile-only jobs once the last reconcile is older than staleAfterMs', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      let now = 1_900_000_000_000;
      const s = source(f, { now: () => now, staleAfterMs: 60_000 });
      await s.reconcileNow();
      writeFileSync(join(f.dir, 'squeue.out'), 'squeue: error: Unable to contact slurm controller (connect failure)');
      rmSync(f.squeue);
      await s.reconcileNow();
      now += 59_000;
      expect((await s.read(tick(0))).map((j) => j.id)).toEqual(['9', '11']);
      now += 2_000;
      expect(await s.read(tick(1000))).toEqual([]);
    });

    it('sees a job end: gone from squeue, gone from the map', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      const s = source(f);
      await s.reconcileNow();
      expect((await s.read(tick(0))).map((j) => j.id)).toEqual(['9', '11']);
      writeFileSync(join(f.dir, 'squeue.out'), readFileSync(join(f.dir, 'squeue.out'), 'utf8').split('\n').slice(1).join('\n'));
      await s.reconcileNow();
      expect((await s.read(tick(1000))).map((j) => j.id)).toEqual(['11']);
    });

    it('keeps the GPUs of a job still in squeue whose scontrol detail no longer answers (it is ending)', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      const s = source(f);
      await s.reconcileNow();
      expect(await s.read(tick(0))).toEqual([JOB_9, JOB_11]);
      // Job 9 is still RUNNING in squeue, but scontrol has let go of it.
      rmSync(join(f.dir, 'job-9.txt'));
      await s.reconcileNow();
      expect(await s.read(tick(1000))).toEqual([JOB_9, JOB_11]);
    });

    it('drops a job at once when the epilog removes its records, without waiting for the next reconcile', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      await writeJobRecord(f.runDir, { gpu: UUID[0], jobId: '9', uid: 0, user: 'root', account: '', startTs: START_9 });
      await writeJobRecord(f.runDir, { gpu: UUID[1], jobId: '9', uid: 0, user: 'root', account: '', startTs: START_9 });
      // A clock that does not move: reads and reconciles within one ms are still ordered.
      const frozen = Date.now();
      const s = source(f, { now: () => frozen });
      await s.reconcileNow();
      expect((await s.read(tick(0))).map((j) => j.id)).toEqual(['9', '11']);
      rmSync(join(f.runDir, 'jobs'), { recursive: true });
      expect((await s.read(tick(1000))).map((j) => j.id)).toEqual(['11']);
      // A reconcile that starts later and still sees the job running brings it back (requeue, or
      // records removed by hand).
      await s.reconcileNow();
      expect((await s.read(tick(2000))).map((j) => j.id)).toEqual(['9', '11']);
    });

    it('reconciles in the background from the first read, every reconcileMs', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      const s = source(f, { reconcileMs: 100 });
      expect(await s.read(tick(0))).toEqual([]);
      await vi.waitFor(async () => expect((await s.read(tick(0))).map((j) => j.id)).toEqual(['9', '11']));
      await vi.waitFor(() => expect(f.args().filter((a) => a.startsWith('squeue')).length).toBeGreaterThanOrEqual(3));
      await s.stop();
      const calls = f.args().length;
      await new Promise((r) => setTimeout(r, 300));
      expect(f.args().length).toBe(calls);
    });
  });

  describe('CPU shares', () => {
    it('adds cpuShareRatio from the jobs cgroups once every job has two samples', async () => {
      const f = fakeSlurm();
      withCapturedJobs(f.dir);
      const cg = join(f.dir, 'cgroup');
      const usage = (job: string, us: number): void => {
        const d = join(cg, 'cpuacct', 'slurm', 'uid_0', `job_${job}`);
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, 'cpuacct.usage'), `${us * 1000}\n`);
      };
      usage('9', 1_000_000);
      usage('11', 0);
      const s = source(f, { cgroupRoot: cg });
      await s.reconcileNow();
      expect((await s.read(tick(0))).map((j) => j.cpuShareRatio)).toEqual([undefined, undefined]);
      // 1 s on 2 logical CPUs: job 9 used 1.5 s (0.75), job 11 used 0.2 s (0.1).
      usage('9', 2_500_000);
      usage('11', 200_000);
      expect(await s.read(tick(1000))).toEqual([
        { ...JOB_9, cpuShareRatio: 0.75 },
        { ...JOB_11, cpuShareRatio: 0.1 },
      ]);
    });
  });

  describe('writeGpuMap', () => {
    it('is exported beside the source for the agent to call at start', async () => {
      const f = fakeSlurm();
      await writeGpuMap(f.runDir, INVENTORY);
      expect(readFileSync(join(f.runDir, 'gpus'), 'utf8').split('\n').slice(1, 3)).toEqual([`0 0 ${UUID[0]}`, `1 1 ${UUID[1]}`]);
      expect(dirname(join(f.runDir, 'gpus'))).toBe(f.runDir);
    });
  });
});
