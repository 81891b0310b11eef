/**
 * deploy/slurm/prolog.sh and epilog.sh, run directly with the environment slurmd gives them
 * (no Slurm needed). The same scripts run under a real slurmd in test/slurm.integration.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { formatGpuMap, readJobRecords } from '../../src/jobs/job-records.js';

const HOOKS = fileURLToPath(new URL('../../../deploy/slurm/', import.meta.url));
const UUID = ['GPU-00000000-0000-4000-8000-000000000000', 'GPU-11111111-1111-4111-8111-111111111111', 'GPU-22222222-2222-4222-8222-222222222222', 'GPU-33333333-3333-4333-8333-333333333333'] as const;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A scratch dir with `run/` and `bin/` (fake commands go first on PATH). */
function scratch(): { dir: string; run: string; bin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'stroom-hooks-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'run'));
  mkdirSync(join(dir, 'bin'));
  return { dir, run: join(dir, 'run'), bin: join(dir, 'bin') };
}

function fakeCommand(bin: string, name: string, script: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${script}\n`);
  chmodSync(join(bin, name), 0o755);
}

/** Runs a hook as slurmd would: a bare environment plus the job's variables. */
function hook(name: 'prolog' | 'epilog', env: Record<string, string>, bin?: string): { status: number | null; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync('/bin/bash', [join(HOOKS, `${name}.sh`)], {
    env: { PATH: `${bin !== undefined ? `${bin}:` : ''}/usr/sbin:/usr/bin:/sbin:/bin`, STROOM_HOOK_SYSLOG: '0', STROOM_ENV_FILE: '/nonexistent', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stderr: r.stderr, ms: Date.now() - t0 };
}

const JOB_ENV = { SLURM_JOB_ID: '77', SLURM_JOB_UID: '1001', SLURM_JOB_USER: 'u de vries', SLURM_JOB_ACCOUNT: 'proj', SLURM_JOB_PARTITION: 'gpu_h100', SLURMD_NODENAME: 'gcn7' };

describe('deploy/slurm hooks', () => {
  describe('prolog.sh', () => {
    it('writes one record per GPU, IDX resolved by minor number through the agent map', async () => {
      const s = scratch();
      // Minor numbers out of PCI order: IDX 0 is minor 0 = index 1.
      writeFileSync(join(s.run, 'gpus'), formatGpuMap([
        { uuid: UUID[0], index: 0, minor: 1, name: 'x' },
        { uuid: UUID[1], index: 1, minor: 0, name: 'x' },
        { uuid: UUID[2], index: 2, minor: 2, name: 'x' },
        { uuid: UUID[3], index: 3, minor: 3, name: 'x' },
      ]));
      const before = Date.now();
      const r = hook('prolog', { ...JOB_ENV, STROOM_RUN_DIR: s.run, SLURM_JOB_GPUS: '0,2', CUDA_VISIBLE_DEVICES: '0,2' });
      const after = Date.now();
      expect(r).toMatchObject({ status: 0, stderr: '' });
      expect(readdirSync(join(s.run, 'jobs')).sort()).toEqual([UUID[1], UUID[2]]);
      const { records, bad } = await readJobRecords(s.run);
      expect(bad).toEqual([]);
      const startTs = records[0]?.startTs ?? 0;
      expect(startTs).toBeGreaterThanOrEqual(before);
      expect(startTs).toBeLessThanOrEqual(after);
      expect(records).toEqual([UUID[1], UUID[2]].map((gpu) => ({ gpu, jobId: '77', uid: 1001, user: 'u_de_vries', account: 'proj', startTs, partition: 'gpu_h100' })));
      expect(readFileSync(join(s.run, 'jobs', UUID[1]), 'utf8')).toBe(`77 1001 u_de_vries proj ${startTs} gpu_h100\n`);
    });

    it('follows nvidia-smi index order when STROOM_GRES_IDX_ORDER=index, and reads ranges', () => {
      const s = scratch();
      writeFileSync(join(s.run, 'gpus'), `0 1 ${UUID[0]}\n1 0 ${UUID[1]}\n2 2 ${UUID[2]}\n`);
      expect(hook('prolog', { ...JOB_ENV, STROOM_RUN_DIR: s.run, SLURM_JOB_GPUS: '0-1', STROOM_GRES_IDX_ORDER: 'index' }).status).toBe(0);
      expect(readdirSync(join(s.run, 'jobs')).sort()).toEqual([UUID[0], UUID[1]]);
    });

    it('asks nvidia-smi once when the agent wrote no map, taking minor numbers where /proc has them', () => {
      const s = scratch();
      fakeCommand(s.bin, 'nvidia-smi', `echo "$*" >> ${s.dir}/smi.args\nprintf '0, ${UUID[0]}, 00000000:81:00.0\\n1, ${UUID[1]}, 00000000:C1:00.0\\n'`);
      const r = hook('prolog', { ...JOB_ENV, STROOM_RUN_DIR: s.run, CUDA_VISIBLE_DEVICES: '1' }, s.bin);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/no GPU map .* asking nvidia-smi/);
      expect(readFileSync(join(s.dir, 'smi.args'), 'utf8')).toBe('--query-gpu=index,uuid,pci.bus_id --format=csv,noheader\n');
      // No /proc/driver/nvidia here, so no minors: index order.
      expect(readdirSync(join(s.run, 'jobs'))).toEqual([UUID[1]]);
    });

    it('takes UUIDs as they are when the site hands them out', () => {
      const s = scratch();
      expect(hook('prolog', { ...JOB_ENV, STROOM_RUN_DIR: s.run, CUDA_VISIBLE_DEVICES: `${UUID[3]},MIG-4b1f0d6a-51f4-5a5b-9d2c-0f2c6c1d8e3a` }).status).toBe(0);
      expect(readdirSync(join(s.run, 'jobs')).sort()).toEqual([UUID[3], 'MIG-4b1f0d6a-51f4-5a5b-9d2c-0f2c6c1d8e3a']);
    });

    it('looks up a missing account and partition with a bounded scontrol, `-` when that fails too', () => {
      const s = scratch();
      writeFileSync(join(s.run, 'gpus'), formatGpuMap([{ uuid: UUID[0], index: 0, minor: 0, name: 'x' }]));
      fakeCommand(s.bin, 'scontrol', 'echo "JobId=77 JobName=x UserId=a(1001) Account=lab QOS=normal JobState=RUNNING Partition=gpu_a100 NodeList=gcn7"');
      const env = { SLURM_JOB_ID: '77', SLURM_JOB_UID: '1001', SLURM_JOB_USER: 'a', STROOM_RUN_DIR: s.run, SLURM_JOB_GPUS: '0' };
      expect(hook('prolog', env, s.bin).status).toBe(0);
      expect(readFileSync(join(s.run, 'jobs', UUID[0]), 'utf8')).toMatch(/^77 1001 a lab \d+ gpu_a100\n$/);
      fakeCommand(s.bin, 'scontrol', 'echo "slurm_load_jobs error: Unable to contact slurm controller" >&2; exit 1');
      expect(hook('prolog', env, s.bin).status).toBe(0);
      expect(readFileSync(join(s.run, 'jobs', UUID[0]), 'utf8')).toMatch(/^77 1001 a - \d+ -\n$/);
    });

    it('writes nothing for a CPU-only job', () => {
      const s = scratch();
      expect(hook('prolog', { ...JOB_ENV, STROOM_RUN_DIR: s.run })).toMatchObject({ status: 0, stderr: '' });
      expect(existsSync(join(s.run, 'jobs'))).toBe(false);
    });

    it.each([
      ['an unwritable run dir', { STROOM_RUN_DIR: '/proc/stroom-nope', SLURM_JOB_GPUS: '0' }],
      ['an IDX the map lacks', { SLURM_JOB_GPUS: '9' }],
      ['a path in the GPU list', { CUDA_VISIBLE_DEVICES: '../../etc/passwd' }],
      ['no job id', { SLURM_JOB_ID: '' }],
      ['a settings file that trips set -u', { STROOM_ENV_FILE: 'BROKEN_ENV' }],
    ])('still exits 0 with %s', (_what, extra) => {
      const s = scratch();
      writeFileSync(join(s.run, 'gpus'), formatGpuMap([{ uuid: UUID[0], index: 0, minor: 0, name: 'x' }]));
      writeFileSync(join(s.dir, 'broken.env'), 'STROOM_RUN_DIR=$NOT_SET_ANYWHERE/x\n');
      const env: Record<string, string> = { ...JOB_ENV, STROOM_RUN_DIR: s.run, ...extra };
      if (env['STROOM_ENV_FILE'] === 'BROKEN_ENV') env['STROOM_ENV_FILE'] = join(s.dir, 'broken.env');
      const r = hook('prolog', env);
      expect(r.status).toBe(0);
      expect(r.stderr).not.toBe('');
      expect(existsSync(join(s.run, 'jobs')) ? readdirSync(join(s.run, 'jobs')) : []).toEqual([]);
    });
  });

  describe('epilog.sh', () => {
    async function collector(): Promise<{ url: string; requests: { method: string; url: string; auth: string; type: string; body: string }[]; close: () => void }> {
      const requests: { method: string; url: string; auth: string; type: string; body: string }[] = [];
      const server = createServer((req: IncomingMessage, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          requests.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization ?? '', type: req.headers['content-type'] ?? '', body });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => server.close() };
    }

    function withRecords(run: string): void {
      mkdirSync(join(run, 'jobs'));
      writeFileSync(join(run, 'jobs', UUID[0]), '77 1001 a proj 1000 gpu\n');
      writeFileSync(join(run, 'jobs', UUID[1]), '77 1001 a proj 1000 gpu\n');
      writeFileSync(join(run, 'jobs', UUID[2]), '770 1001 a proj 1000 gpu\n');
    }

    it('removes only the job’s records and tells the collector, with the token, that it ended', async () => {
      const s = scratch();
      withRecords(s.run);
      const c = await collector();
      try {
        writeFileSync(join(s.dir, 'token'), 'tok-0123456789\n');
        const before = Date.now();
        // No job summary: the notice then goes out detached (with a summary the epilog waits for
        // it, which this synchronous spawn, sharing the fake collector's event loop, cannot answer;
        // that path runs against the real Slurm in test/slurm.integration.test.ts).
        const r = hook('epilog', { ...JOB_ENV, STROOM_RUN_DIR: s.run, STROOM_COLLECTOR_URL: `${c.url}/`, STROOM_TOKEN_FILE: join(s.dir, 'token'), STROOM_JOB_SUMMARY: '0' });
        expect(r).toMatchObject({ status: 0, stderr: '' });
        expect(readdirSync(join(s.run, 'jobs'))).toEqual([UUID[2]]);
        await expect.poll(() => c.requests.length, { timeout: 5000 }).toBe(1);
        const req = c.requests[0];
        expect(req).toMatchObject({ method: 'POST', url: '/api/v1/jobs/77/end', auth: 'Bearer tok-0123456789', type: 'application/json' });
        const body = JSON.parse(req?.body ?? '{}') as { endTs: number; node: string };
        expect(body.node).toBe('gcn7');
        expect(body.endTs).toBeGreaterThanOrEqual(before);
        expect(body.endTs).toBeLessThanOrEqual(Date.now());
      } finally {
        c.close();
      }
    });

    it('skips the collector when STROOM_COLLECTOR_URL is unset', () => {
      const s = scratch();
      withRecords(s.run);
      expect(hook('epilog', { ...JOB_ENV, STROOM_RUN_DIR: s.run })).toMatchObject({ status: 0, stderr: '' });
      expect(readdirSync(join(s.run, 'jobs'))).toEqual([UUID[2]]);
    });

    it('exits 0 at once when the collector does not answer', () => {
      const s = scratch();
      withRecords(s.run);
      // 192.0.2.0/24 is TEST-NET-1: nothing answers there.
      const r = hook('epilog', { ...JOB_ENV, STROOM_RUN_DIR: s.run, STROOM_COLLECTOR_URL: 'http://192.0.2.1:9', STROOM_TOKEN_FILE: join(s.dir, 'none') });
      expect(r.status).toBe(0);
      expect(r.ms).toBeLessThan(2000);
      expect(r.stderr).toMatch(/no token at/);
    });

    it('exits 0 without a jobs dir or job id', () => {
      const s = scratch();
      expect(hook('epilog', { ...JOB_ENV, STROOM_RUN_DIR: join(s.run, 'none') }).status).toBe(0);
      expect(hook('epilog', { STROOM_RUN_DIR: s.run }).status).toBe(0);
    });
  });
});
