/**
 * The node's job map from Slurm: the prolog's per-GPU records, checked against Slurm itself.
 *
 * Each `read` lists `<runDir>/jobs` (a few small files, no Slurm RPC on the hot path). In the
 * background, once at the first read and then every `reconcileMs`, the source asks Slurm which
 * jobs run on this node (`squeue -w <node> -t RUNNING`) and what each holds here
 * (`scontrol -d -o show job <id>`: CPU ids and GRES `IDX`). That reconcile
 * - adds jobs the prolog did not record (agent started mid-job, prolog not installed, CPU-only
 *   jobs, which have no GPU record);
 * - drops, and deletes when it may, records of jobs that no longer run (a missed epilog);
 * - supplies user, account, partition, name, start time and CPU count.
 * A GPU recorded by the prolog stays with the recorded job; reconcile assigns only GPUs without a
 * live record. A job whose records the epilog removed leaves the map at once, even though the
 * last reconcile still lists it. When Slurm does not answer, the last reconcile is used for `staleAfterMs`, and
 * after that the records alone.
 *
 * Is not: a reader of MIG GRES (Slurm's IDX then counts MIG devices; see deploy/slurm/README.md).
 */
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { GpuInfo, JobAllocation } from '@stroom/protocol';
import type { Logger } from 'pino';
import type { JobSource, Tick } from '../source.js';
import { CgroupCpuShares, DEFAULT_CGROUP_ROOT } from './cgroup.js';
import { readJobRecords, removeJobRecord, type JobRecord } from './job-records.js';
import { allocationOn, gpusInIdxOrder, parseScontrolJobs, parseSqueueJobs, SQUEUE_FORMAT, type GresIdxOrder, type SqueueJob } from './slurm-parse.js';

export { writeGpuMap } from './job-records.js';

/** Default run dir shared with the prolog (tmpfiles.d creates it). */
export const DEFAULT_RUN_DIR = '/run/stroom';
/** Default reconcile period in ms. */
export const DEFAULT_RECONCILE_MS = 30_000;
/** Records younger than this (by their start time) survive a reconcile that missed their job. */
const RECORD_GRACE_MS = 10_000;
/** Parallel `scontrol show job` calls per reconcile; keeps the controller load small. */
const SCONTROL_PARALLEL = 4;

/** Options of the Slurm job source. */
export interface SlurmJobSourceOptions {
  /** Directory shared with the prolog (default `/run/stroom`). */
  readonly runDir?: string;
  /** This node's Slurm NodeName (as `squeue -w` and `scontrol` know it, not always the hostname). */
  readonly nodeName: string;
  /** The node's GPUs, from the device source's probe; read at each reconcile. */
  readonly gpuInventory: () => readonly GpuInfo[];
  readonly squeuePath?: string;
  readonly scontrolPath?: string;
  /** Period of the Slurm reconcile in ms (default 30000). */
  readonly reconcileMs?: number;
  /** Time limit of each Slurm client call in ms (default 10000); Slurm clients retry for minutes. */
  readonly commandTimeoutMs?: number;
  /** How long a reconcile may stand in for a failed one, ms (default max(5 × reconcileMs, 60000)). */
  readonly staleAfterMs?: number;
  /** How Slurm's GPU IDX numbers the GPUs (default `minor`; see `GresIdxOrder`). */
  readonly gresIdxOrder?: GresIdxOrder;
  /** cgroup mount point (default `/sys/fs/cgroup`). */
  readonly cgroupRoot?: string;
  /** Logical CPUs of the node, the denominator of CPU shares (default `os.availableParallelism()`). */
  readonly logicalCpus?: number;
  readonly log: Logger;
  /** Wall clock in ms since the Unix epoch (default `Date.now`). */
  readonly now?: () => number;
}

/** One running job as the last reconcile saw it on this node. */
interface ReconciledJob {
  readonly id: string;
  readonly uid?: number;
  readonly user: string;
  readonly account: string;
  readonly partition?: string;
  readonly name?: string;
  readonly startTs?: number;
  /** GPU UUIDs on this node; undefined when scontrol did not answer for the job. */
  readonly gpus?: readonly string[];
  readonly cpuCores: number;
}

interface Snapshot {
  /** Wall time the squeue call started: records written after it may be missing from it. */
  readonly startedAt: number;
  /** `#events` when the squeue call started: orders it against record reads within one ms. */
  readonly startedEvent: number;
  readonly finishedAt: number;
  readonly jobs: ReadonlyMap<string, ReconciledJob>;
}

interface Builder {
  id: string;
  uid?: number;
  user: string;
  account: string;
  partition?: string;
  name?: string;
  startTs: number;
  gpus: string[];
  cpuCores: number;
}

/** Runs a Slurm client with a time limit; its stdout, or an error carrying its stderr. */
function run(file: string, args: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      // `standard` pins the time format to ISO local time whatever the site exports.
      { timeout: timeoutMs, killSignal: 'SIGKILL', signal, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SLURM_TIME_FORMAT: 'standard' } },
      (err, stdout, stderr) => {
        if (err !== null) {
          const why = String(stderr).trim() || err.message;
          reject(new Error(`${file} ${args.join(' ')}: ${err.killed ? `no answer within ${timeoutMs} ms` : why}`));
        } else {
          resolve(String(stdout));
        }
      },
    );
  });
}

const byJobId = (a: { id: string }, b: { id: string }): number => {
  const na = Number(a.id);
  const nb = Number(b.id);
  if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

/** The job map from Slurm prolog records, reconciled with `squeue`/`scontrol`. */
export class SlurmJobSource implements JobSource {
  readonly name = 'slurm';
  readonly #o: SlurmJobSourceOptions;
  readonly #runDir: string;
  readonly #reconcileMs: number;
  readonly #staleAfterMs: number;
  readonly #now: () => number;
  readonly #shares: CgroupCpuShares;
  #snapshot: Snapshot | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #started = false;
  #stopped = false;
  /** Last warning per topic, so a persisting problem is logged once, not every period. */
  readonly #warned = new Map<string, string>();
  readonly #dropped = new Set<string>();
  /** Kills Slurm clients still running at stop. */
  readonly #abort = new AbortController();
  /** Jobs that had records at the last successful read. */
  #recorded = new Set<string>();
  /** When each job's records vanished (epilog ran), wall ms and event: a reconcile started before that is stale for it. */
  readonly #recordsGoneAt = new Map<string, { at: number; event: number }>();
  /** Counts reconcile starts and record reads, so their order is known when the clock cannot tell (same ms). */
  #events = 0;

  constructor(options: SlurmJobSourceOptions) {
    this.#o = options;
    this.#runDir = options.runDir ?? DEFAULT_RUN_DIR;
    this.#reconcileMs = options.reconcileMs ?? DEFAULT_RECONCILE_MS;
    this.#staleAfterMs = options.staleAfterMs ?? Math.max(5 * this.#reconcileMs, 60_000);
    this.#now = options.now ?? Date.now;
    this.#shares = new CgroupCpuShares(options.cgroupRoot ?? DEFAULT_CGROUP_ROOT, options.logicalCpus ?? availableParallelism());
  }

  /** The jobs holding this node's GPUs or CPUs at `tick`. Never waits for Slurm; never throws. */
  async read(tick: Tick): Promise<readonly JobAllocation[]> {
    this.#start();
    let records: JobRecord[] = [];
    try {
      const r = await readJobRecords(this.#runDir);
      records = r.records;
      this.#track(records);
      this.#warnOnce('records-bad', r.bad.length > 0 ? `ignoring malformed job records in ${this.#runDir}/jobs: ${r.bad.join(', ')}` : undefined);
      this.#warnOnce('records', undefined);
    } catch (err) {
      this.#warnOnce('records', `cannot read job records in ${this.#runDir}/jobs: ${(err as Error).message}`);
    }
    const jobs = this.#merge(records);
    const shares = await this.#shares.sample(tick.monoMs, jobs.map((j) => ({ id: j.id, ...(j.uid !== undefined ? { uid: j.uid } : {}) }))).catch(() => undefined);
    return jobs.map((b) => {
      const share = shares?.get(b.id);
      const a: JobAllocation = { id: b.id, user: b.user, account: b.account, startTs: b.startTs, gpus: b.gpus, cpuCores: b.cpuCores };
      if (b.name !== undefined) a.name = b.name;
      if (b.partition !== undefined) a.partition = b.partition;
      if (share !== undefined) a.cpuShareRatio = share;
      return a;
    });
  }

  /** Runs one reconcile now (joins one in flight); resolves when it is done. Never rejects. */
  reconcileNow(): Promise<void> {
    this.#inFlight ??= this.#reconcile()
      .catch((err: unknown) => this.#warnOnce('reconcile', `slurm reconcile failed: ${(err as Error).message}`))
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }

  /** Stops the reconcile timer and kills Slurm clients still running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    await this.#inFlight;
  }

  #start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    // A reconcile the caller already ran (or is running) counts as the first one.
    if (this.#inFlight !== undefined) void this.#inFlight.then(() => this.#schedule());
    else if (this.#snapshot !== undefined) this.#schedule();
    else void this.#loop();
  }

  async #loop(): Promise<void> {
    await this.reconcileNow();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    // Chained timeouts, not setInterval: a slow controller never gets overlapping calls.
    this.#timer = setTimeout(() => void this.#loop(), this.#reconcileMs);
    this.#timer.unref();
  }

  #warnOnce(topic: string, message: string | undefined): void {
    const prev = this.#warned.get(topic);
    if (message === undefined) {
      if (prev !== undefined) {
        this.#warned.delete(topic);
        this.#o.log.info({ source: this.name }, `slurm: ${topic} ok again`);
      }
      return;
    }
    if (prev === message) return;
    this.#warned.set(topic, message);
    this.#o.log.warn({ source: this.name }, message);
  }

  async #reconcile(): Promise<void> {
    const o = this.#o;
    const timeoutMs = o.commandTimeoutMs ?? 10_000;
    const startedAt = this.#now();
    const startedEvent = ++this.#events;
    let queued: SqueueJob[];
    try {
      const text = await run(o.squeuePath ?? 'squeue', ['-h', '-w', o.nodeName, '-t', 'RUNNING', '-o', SQUEUE_FORMAT], timeoutMs, this.#abort.signal);
      queued = parseSqueueJobs(text).filter((j) => j.state === '' || j.state === 'RUNNING');
      this.#warnOnce('squeue', undefined);
    } catch (err) {
      if (this.#stopped) return; // killed by stop(): not a Slurm problem
      this.#warnOnce('squeue', `slurm reconcile failed, using prolog records only: ${(err as Error).message}`);
      return;
    }
    const order = gpusInIdxOrder(o.gpuInventory(), o.gresIdxOrder ?? 'minor');
    const jobs = new Map<string, ReconciledJob>();
    const queue = [...queued];
    const worker = async (): Promise<void> => {
      for (let q = queue.shift(); q !== undefined; q = queue.shift()) {
        let job = await this.#detail(q, order, timeoutMs);
        // A job about to end is still RUNNING in squeue while scontrol has already dropped its
        // GRES detail: it keeps the GPUs it was last seen with rather than drop to none.
        const before = this.#snapshot?.jobs.get(job.id);
        if (job.gpus === undefined && before?.gpus !== undefined) job = { ...job, gpus: before.gpus, cpuCores: before.cpuCores };
        jobs.set(job.id, job);
      }
    };
    await Promise.all(Array.from({ length: SCONTROL_PARALLEL }, worker));
    this.#snapshot = { startedAt, startedEvent, finishedAt: this.#now(), jobs };
    this.#warnOnce('reconcile', undefined);
  }

  /** One squeue job completed with its allocation on this node from `scontrol -d -o show job`. */
  async #detail(q: SqueueJob, order: readonly GpuInfo[], timeoutMs: number): Promise<ReconciledJob> {
    const node = this.#o.nodeName;
    const base: ReconciledJob = {
      id: q.id,
      user: q.user,
      account: q.account,
      // Until scontrol answers, assume the job's CPUs are spread evenly over its nodes.
      cpuCores: q.cpus === undefined ? 0 : Math.round(q.cpus / Math.max(1, q.nodeCount ?? q.nodes.length)),
      ...(q.uid !== undefined ? { uid: q.uid } : {}),
      ...(q.partition !== undefined ? { partition: q.partition } : {}),
      ...(q.name !== undefined ? { name: q.name } : {}),
      ...(q.startTs !== undefined ? { startTs: q.startTs } : {}),
    };
    let text: string;
    try {
      text = await run(this.#o.scontrolPath ?? 'scontrol', ['-d', '-o', 'show', 'job', q.id], timeoutMs, this.#abort.signal);
      this.#warnOnce('scontrol', undefined);
    } catch (err) {
      // The job may have just ended; otherwise its records keep its GPUs until the next try.
      this.#warnOnce('scontrol', `slurm: cannot read job ${q.id}: ${(err as Error).message}`);
      return base;
    }
    const job = parseScontrolJobs(text).find((j) => j.id === q.id);
    if (job === undefined) return base;
    // squeue -w already placed the job here; a lone detail line is ours even if the NodeName
    // option is spelled differently from Slurm's.
    const alloc = allocationOn(job, node) ?? (job.details.length === 1 && job.details[0] !== undefined ? allocationOn(job, job.details[0].nodes[0] ?? '') : undefined);
    if (alloc === undefined) return base;
    const gpus: string[] = [];
    for (const idx of alloc.gpuIdx) {
      const uuid = order[idx]?.uuid;
      if (uuid === undefined) {
        this.#warnOnce(`idx-${idx}`, `slurm: job ${q.id} holds GPU IDX ${idx}, but the inventory has ${order.length} GPUs; gres.conf and the device source disagree`);
      } else {
        gpus.push(uuid);
      }
    }
    return {
      ...base,
      account: job.account !== '' ? job.account : base.account,
      gpus,
      cpuCores: alloc.cpus,
      ...(job.uid !== undefined ? { uid: job.uid } : {}),
      ...(job.startTs !== undefined ? { startTs: job.startTs } : {}),
    };
  }

  /** Records and the last reconcile merged into one job map (see the file header). */
  #merge(records: readonly JobRecord[]): Builder[] {
    const now = this.#now();
    const snap = this.#snapshot !== undefined && now - this.#snapshot.finishedAt <= this.#staleAfterMs ? this.#snapshot : undefined;
    const jobs = new Map<string, Builder>();
    const owner = new Map<string, string>();
    for (const r of records) {
      if (snap !== undefined && !snap.jobs.has(r.jobId) && r.startTs < snap.startedAt - RECORD_GRACE_MS) {
        this.#dropStale(r);
        continue;
      }
      let b = jobs.get(r.jobId);
      if (b === undefined) {
        b = { id: r.jobId, user: r.user, account: r.account, startTs: r.startTs, gpus: [], cpuCores: 0 };
        if (r.uid !== undefined) b.uid = r.uid;
        if (r.partition !== undefined) b.partition = r.partition;
        jobs.set(r.jobId, b);
      }
      b.gpus.push(r.gpu);
      owner.set(r.gpu, r.jobId);
    }
    for (const s of snap?.jobs.values() ?? []) {
      // The epilog removed its records after this reconcile started: the job has ended, and
      // the reconcile must not bring it back for the rest of its period.
      const gone = this.#recordsGoneAt.get(s.id);
      if (gone !== undefined && snap !== undefined && gone.event > snap.startedEvent) continue;
      let b = jobs.get(s.id);
      if (b === undefined) {
        b = { id: s.id, user: s.user, account: s.account, startTs: s.startTs ?? now, gpus: [], cpuCores: s.cpuCores };
        jobs.set(s.id, b);
      }
      // Slurm's own view of the job wins over what the prolog saw.
      if (s.user !== '') b.user = s.user;
      if (s.account !== '') b.account = s.account;
      if (s.uid !== undefined) b.uid = s.uid;
      if (s.partition !== undefined) b.partition = s.partition;
      if (s.name !== undefined) b.name = s.name;
      if (s.startTs !== undefined) b.startTs = s.startTs;
      b.cpuCores = s.cpuCores;
      for (const g of s.gpus ?? []) {
        const held = owner.get(g);
        if (held === undefined) {
          owner.set(g, s.id);
          b.gpus.push(g);
        } else if (held !== s.id) {
          this.#warnOnce(`owner-${g}`, `slurm: GPU ${g} is recorded for job ${held} but Slurm reports job ${s.id}; keeping the record (check gresIdxOrder)`);
        }
      }
    }
    const out = [...jobs.values()].sort(byJobId);
    for (const b of out) b.gpus.sort();
    return out;
  }

  /** Notes which jobs have records now, and when the records of others vanished. */
  #track(records: readonly JobRecord[]): void {
    const now = this.#now();
    const current = new Set(records.map((r) => r.jobId));
    const event = ++this.#events;
    for (const id of this.#recorded) if (!current.has(id)) this.#recordsGoneAt.set(id, { at: now, event });
    // A requeued job keeps its id and gets new records.
    for (const id of current) this.#recordsGoneAt.delete(id);
    for (const [id, gone] of this.#recordsGoneAt) if (now - gone.at > this.#staleAfterMs) this.#recordsGoneAt.delete(id);
    this.#recorded = current;
  }

  /** Forgets a record whose job no longer runs, and deletes it if the agent may. */
  #dropStale(r: JobRecord): void {
    // Keyed by job too: job ids never repeat, so a key logs and unlinks at most once.
    const key = `${r.gpu} ${r.jobId}`;
    if (this.#dropped.has(key)) return;
    this.#dropped.add(key);
    this.#o.log.info({ source: this.name, job: r.jobId, gpu: r.gpu }, 'slurm: job no longer runs (missed epilog?); dropping its record');
    // The run dir may be root-only; then the record is just ignored until the next epilog or boot.
    void removeJobRecord(this.#runDir, r.gpu, r.jobId).catch(() => false);
  }
}
