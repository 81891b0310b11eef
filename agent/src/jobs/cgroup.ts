/**
 * CPU time of Slurm jobs from their cgroups, and each job's share of the node's CPU time.
 *
 * Where Slurm puts a job's cgroup (with `ProctrackType=proctrack/cgroup` or
 * `TaskPlugin=task/cgroup`):
 * - cgroup v1: `<root>/cpuacct/slurm/uid_<uid>/job_<id>/cpuacct.usage`, in ns;
 * - cgroup v2: `<root>/system.slice/slurmstepd.scope/job_<id>/cpu.stat`, line `usage_usec`.
 *
 * Is: cheap (one small file per job per read). Is not: per-step or per-task accounting, and
 * nothing on nodes without Slurm's cgroup plugins (then no job has a share, and the meter splits
 * CPU energy by allocated cores).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Default cgroup mount point; injectable for tests (node_exporter's `--path.sysfs` habit). */
export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

// Some distributions mount cpu and cpuacct together under a combined name.
const V1_CONTROLLERS = ['cpuacct', 'cpu,cpuacct', 'cpuacct,cpu'];

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `cpuacct.usage` (ns) as whole µs; BigInt because busy jobs pass 2^53 ns within days. */
function nsTextToUs(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  return Number(BigInt(t) / 1000n);
}

/** `usage_usec` of a cgroup v2 `cpu.stat`. */
export function parseCpuStatUsageUs(text: string): number | undefined {
  const m = /^usage_usec\s+(\d+)\s*$/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}

/**
 * Cumulative CPU time of Slurm job `jobId` in µs from its cgroup under `root`, or undefined when
 * the job has no readable cgroup. `uid` narrows the cgroup v1 path; without it the `uid_*`
 * directories are searched.
 */
export async function readJobCpuUsageUs(root: string, jobId: string, uid?: number): Promise<number | undefined> {
  const v2 = await readText(join(root, 'system.slice', 'slurmstepd.scope', `job_${jobId}`, 'cpu.stat'));
  if (v2 !== undefined) return parseCpuStatUsageUs(v2);
  for (const ctl of V1_CONTROLLERS) {
    const base = join(root, ctl, 'slurm');
    const uids = uid !== undefined ? [`uid_${uid}`] : ((await readdir(base).catch(() => [])) as string[]).filter((n) => n.startsWith('uid_'));
    for (const u of uids) {
      const text = await readText(join(base, u, `job_${jobId}`, 'cpuacct.usage'));
      if (text !== undefined) return nsTextToUs(text);
    }
  }
  return undefined;
}

/** A job to sample: its Slurm id and, when known, its uid. */
export interface CgroupJobRef {
  readonly id: string;
  readonly uid?: number;
}

/**
 * Each job's share of the node's CPU time between two samples: its CPU-time delta divided by
 * the CPU time the node had (`logicalCpus` × interval), 0..1. A share is given only when every
 * job has a readable cgroup at both samples, because the meter splits by shares only when all
 * jobs have one and by allocated cores otherwise; mixing the two would not add up.
 */
export class CgroupCpuShares {
  readonly #root: string;
  readonly #logicalCpus: number;
  #prev = new Map<string, { monoMs: number; usageUs: number }>();

  /** `root`: cgroup mount point; `logicalCpus`: CPUs the node schedules on. */
  constructor(root: string, logicalCpus: number) {
    this.#root = root;
    this.#logicalCpus = Math.max(1, logicalCpus);
  }

  /** Samples every job at `monoMs`; the shares since the last sample, or undefined (see class). */
  async sample(monoMs: number, jobs: readonly CgroupJobRef[]): Promise<Map<string, number> | undefined> {
    const usage = await Promise.all(jobs.map((j) => readJobCpuUsageUs(this.#root, j.id, j.uid)));
    const next = new Map<string, { monoMs: number; usageUs: number }>();
    const shares = new Map<string, number>();
    let complete = jobs.length > 0;
    jobs.forEach((j, i) => {
      const u = usage[i];
      if (u === undefined) {
        complete = false;
        return;
      }
      next.set(j.id, { monoMs, usageUs: u });
      const p = this.#prev.get(j.id);
      const spanUs = p === undefined ? 0 : (monoMs - p.monoMs) * 1000 * this.#logicalCpus;
      // A usage that went down is a new cgroup (job requeued): no share for this interval.
      if (p === undefined || spanUs <= 0 || u < p.usageUs) {
        complete = false;
        return;
      }
      shares.set(j.id, Math.min(1, Math.max(0, (u - p.usageUs) / spanUs)));
    });
    this.#prev = next;
    return complete ? shares : undefined;
  }
}
