import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CgroupCpuShares, parseCpuStatUsageUs, readJobCpuUsageUs } from '../../src/jobs/cgroup.js';

const roots: string[] = [];
/** A fake cgroup tree from a path → content map (node_exporter's buildFakeSysfs habit). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'stroom-cgroup-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

// As the kernel prints it (cgroup v2 cpu.stat, Linux 6.x).
const CPU_STAT = 'usage_usec 8123456\nuser_usec 7000000\nsystem_usec 1123456\ncore_sched.force_idle_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n';

describe('cgroup', () => {
  describe('#parseCpuStatUsageUs', () => {
    it.each([
      [CPU_STAT, 8123456],
      ['user_usec 1\n', undefined],
      ['', undefined],
    ])('%j → %j', (text, us) => {
      expect(parseCpuStatUsageUs(text)).toBe(us);
    });
  });

  describe('#readJobCpuUsageUs', () => {
    it('reads cgroup v2 usage_usec', async () => {
      const root = tree({ 'system.slice/slurmstepd.scope/job_42/cpu.stat': CPU_STAT });
      expect(await readJobCpuUsageUs(root, '42')).toBe(8123456);
    });

    it('reads cgroup v1 cpuacct.usage (ns) as whole µs, with and without the uid', async () => {
      const root = tree({ 'cpuacct/slurm/uid_1001/job_42/cpuacct.usage': '8123456789\n' });
      expect(await readJobCpuUsageUs(root, '42', 1001)).toBe(8123456);
      expect(await readJobCpuUsageUs(root, '42')).toBe(8123456);
      expect(await readJobCpuUsageUs(root, '42', 7)).toBeUndefined();
    });

    it('keeps precision past 2^53 ns (a busy 128-core node for a few days)', async () => {
      const root = tree({ 'cpu,cpuacct/slurm/uid_5/job_9/cpuacct.usage': '90071992547409930\n' });
      expect(await readJobCpuUsageUs(root, '9', 5)).toBe(90071992547409);
    });

    it('gives undefined for a job without a cgroup', async () => {
      expect(await readJobCpuUsageUs(tree({}), '42')).toBeUndefined();
    });
  });

  describe('CgroupCpuShares', () => {
    it('gives each job its CPU-time delta over logical CPUs × interval, from the second sample on', async () => {
      const files: Record<string, string> = {
        'system.slice/slurmstepd.scope/job_1/cpu.stat': 'usage_usec 1000000\n',
        'system.slice/slurmstepd.scope/job_2/cpu.stat': 'usage_usec 5000000\n',
      };
      const root = tree(files);
      const shares = new CgroupCpuShares(root, 4);
      const jobs = [{ id: '1' }, { id: '2', uid: 3 }];
      expect(await shares.sample(0, jobs)).toBeUndefined();
      // 2 s on 4 CPUs = 8 CPU-seconds available: job 1 used 2 s (0.25), job 2 used 6 s (0.75).
      writeFileSync(join(root, 'system.slice/slurmstepd.scope/job_1/cpu.stat'), 'usage_usec 3000000\n');
      writeFileSync(join(root, 'system.slice/slurmstepd.scope/job_2/cpu.stat'), 'usage_usec 11000000\n');
      expect(await shares.sample(2000, jobs)).toEqual(new Map([['1', 0.25], ['2', 0.75]]));
    });

    it('gives no shares when any job lacks a cgroup, or a counter went back', async () => {
      const root = tree({ 'system.slice/slurmstepd.scope/job_1/cpu.stat': 'usage_usec 1000000\n' });
      const shares = new CgroupCpuShares(root, 2);
      await shares.sample(0, [{ id: '1' }, { id: '2' }]);
      expect(await shares.sample(1000, [{ id: '1' }, { id: '2' }])).toBeUndefined();
      await shares.sample(2000, [{ id: '1' }]);
      writeFileSync(join(root, 'system.slice/slurmstepd.scope/job_1/cpu.stat'), 'usage_usec 10\n');
      expect(await shares.sample(3000, [{ id: '1' }])).toBeUndefined();
      writeFileSync(join(root, 'system.slice/slurmstepd.scope/job_1/cpu.stat'), 'usage_usec 4000010\n');
      // Capped at 1: 4 s of CPU in 1 s on 2 CPUs is more than the node had (clock skew between reads).
      expect(await shares.sample(4000, [{ id: '1' }])).toEqual(new Map([['1', 1]]));
    });

    it('gives no shares for an empty job list', async () => {
      expect(await new CgroupCpuShares(tree({}), 2).sample(0, [])).toBeUndefined();
    });
  });
});
