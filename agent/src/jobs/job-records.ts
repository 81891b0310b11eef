/**
 * The files the Slurm prolog and the agent share under the run dir (default `/run/stroom`):
 *
 * - `jobs/<GPU-UUID>`: written by `deploy/slurm/prolog.sh` when a job gets that GPU, removed
 *   by `epilog.sh`. One line, six fields separated by single spaces:
 *
 *       jobid uid user account start_ts_ms partition
 *
 *   e.g. `4242 1001 u.devries surf-llm 1764496800123 gpu_h100`. Fields never hold whitespace
 *   (the prolog replaces it, and any control character, with `_`); an unknown field is `-`.
 *   `jobid` is Slurm's own id (`SLURM_JOB_ID`, unique per array task), `start_ts_ms` the
 *   prolog's wall clock in ms since the Unix epoch. Readers ignore extra trailing fields, so
 *   a later version may append some. Names starting with `.` are the prolog's temporary files.
 * - `gpus`: written by the agent at start (`writeGpuMap`) so the prolog can turn Slurm's GPU
 *   indices into UUIDs without calling nvidia-smi. One GPU per line, `index minor uuid`
 *   (`minor` is `-` when unknown); lines starting with `#` are comments.
 *
 * Both kinds of file are replaced atomically (write a temporary file, then rename), so a
 * reader sees the old or the new content, never half of one.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GpuInfo } from '@stroom/protocol';

/** Sub-directory of the run dir holding one record per allocated GPU. */
export const JOBS_DIR = 'jobs';
/** File in the run dir mapping GPU index and minor number to UUID, for the prolog. */
export const GPU_MAP_FILE = 'gpus';

/** One prolog record: the job holding one GPU. */
export interface JobRecord {
  /** GPU UUID (the file name). */
  readonly gpu: string;
  /** Slurm job id (`SLURM_JOB_ID`). */
  readonly jobId: string;
  readonly uid?: number;
  /** Empty when the prolog did not know it. */
  readonly user: string;
  /** Empty when the prolog did not know it. */
  readonly account: string;
  /** When the prolog ran, ms since the Unix epoch. */
  readonly startTs: number;
  readonly partition?: string;
}

/** A field as the record format allows it: no whitespace or control characters, `-` when empty. */
export function recordField(v: string | number | undefined): string {
  const s = v === undefined ? '' : String(v);
  const clean = s.replace(/[\s\u0000-\u001f\u007f]/g, '_');
  return clean === '' ? '-' : clean;
}

/** The one-line text of a record, newline included. */
export function formatJobRecord(r: Omit<JobRecord, 'gpu'>): string {
  return `${[r.jobId, r.uid, r.user, r.account, r.startTs, r.partition].map(recordField).join(' ')}\n`;
}

const dash = (s: string | undefined): string | undefined => (s === undefined || s === '-' ? undefined : s);

/** Parses a record's text; undefined when it is not a record (no job id or start time). */
export function parseJobRecord(gpu: string, text: string): JobRecord | undefined {
  const f = (text.split('\n')[0] ?? '').trim().split(/\s+/);
  const jobId = dash(f[0]);
  const startTs = Number(f[4]);
  if (jobId === undefined || !/^[0-9A-Za-z_.]+$/.test(jobId) || !Number.isSafeInteger(startTs) || startTs < 0) return undefined;
  const uid = dash(f[1]);
  const partition = dash(f[5]);
  return {
    gpu,
    jobId,
    user: dash(f[2]) ?? '',
    account: dash(f[3]) ?? '',
    startTs,
    ...(uid !== undefined && /^\d+$/.test(uid) ? { uid: Number(uid) } : {}),
    ...(partition !== undefined ? { partition } : {}),
  };
}

/** Writes `text` to `path` atomically: a temporary file beside it, then a rename. */
async function writeAtomic(path: string, dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `.${name}.tmp.${process.pid}`);
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

/**
 * Reads every record under `<runDir>/jobs`. A missing directory means no jobs; a file that is
 * not a record is listed in `bad` (by name) and otherwise ignored.
 */
export async function readJobRecords(runDir: string): Promise<{ records: JobRecord[]; bad: string[] }> {
  const dir = join(runDir, JOBS_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], bad: [] };
    throw err;
  }
  const records: JobRecord[] = [];
  const bad: string[] = [];
  await Promise.all(
    names
      .filter((n) => !n.startsWith('.'))
      .sort()
      .map(async (name) => {
        let text: string;
        try {
          text = await readFile(join(dir, name), 'utf8');
        } catch (err) {
          // The epilog may remove a record between readdir and read: that job just ended.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw err;
        }
        const r = parseJobRecord(name, text);
        if (r === undefined) bad.push(name);
        else records.push(r);
      }),
  );
  records.sort((a, b) => (a.gpu < b.gpu ? -1 : a.gpu > b.gpu ? 1 : 0));
  return { records, bad: bad.sort() };
}

/** Writes the record of one GPU, as the prolog does (used by tests and tools). */
export async function writeJobRecord(runDir: string, record: JobRecord): Promise<void> {
  const dir = join(runDir, JOBS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await writeAtomic(join(dir, record.gpu), dir, record.gpu, formatJobRecord(record));
}

/**
 * Removes the record of one GPU if it still names `jobId` (a prolog may have just given the GPU
 * to a new job); a record already gone is fine. Resolves to whether a record was removed.
 */
export async function removeJobRecord(runDir: string, gpu: string, jobId?: string): Promise<boolean> {
  const path = join(runDir, JOBS_DIR, gpu);
  if (jobId !== undefined) {
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined || parseJobRecord(gpu, text)?.jobId !== jobId) return false;
  }
  await rm(path, { force: true });
  return true;
}

/** The text of the GPU map file for `gpus`. */
export function formatGpuMap(gpus: readonly GpuInfo[]): string {
  const lines = [...gpus].sort((a, b) => a.index - b.index).map((g) => `${g.index} ${g.minor ?? '-'} ${recordField(g.uuid)}`);
  return `# index minor uuid (written by stroom-agent at start; read by the Slurm prolog)\n${lines.join('\n')}\n`;
}

/** One line of the GPU map file. */
export interface GpuMapEntry {
  readonly index: number;
  readonly minor?: number;
  readonly uuid: string;
}

/** Parses the GPU map file; malformed lines are skipped. */
export function parseGpuMap(text: string): GpuMapEntry[] {
  const out: GpuMapEntry[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const [index, minor, uuid] = t.split(/\s+/);
    if (index === undefined || !/^\d+$/.test(index) || uuid === undefined || uuid === '') continue;
    out.push({ index: Number(index), uuid, ...(minor !== undefined && /^\d+$/.test(minor) ? { minor: Number(minor) } : {}) });
  }
  return out;
}

/**
 * Writes `<runDir>/gpus` for the prolog, atomically. The agent calls it at start, after its
 * device probe, so jobs starting later resolve GPU indices without running nvidia-smi.
 */
export async function writeGpuMap(runDir: string, gpus: readonly GpuInfo[]): Promise<void> {
  await mkdir(runDir, { recursive: true, mode: 0o755 });
  await writeAtomic(join(runDir, GPU_MAP_FILE), runDir, GPU_MAP_FILE, formatGpuMap(gpus));
}
