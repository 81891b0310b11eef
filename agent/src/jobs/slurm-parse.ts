/**
 * Pure parsers for what Slurm's clients print: `squeue -o` output in a given format,
 * `scontrol -d show job` (multi-line or `-o` one line per job), GRES `IDX` lists, and Slurm's
 * number and host ranges. No I/O here: `slurm-jobs.ts` runs the commands.
 *
 * Is: tolerant of the detail-line syntax of Slurm 18.08 to 25.x (`GRES_IDX=gpu(IDX:0,2-3)`,
 * `GRES=gpu(IDX:5)`, `GRES=gpu:h100:2(IDX:0-1),gg:g0(CNT:1)`). Is not: a parser of `--json`
 * output, which is not there on every site's build (and `scontrol --json` not before 23.02).
 */
import type { GpuInfo } from '@stroom/protocol';

/** What Slurm prints for "no value"; read as absent. */
const ABSENT = new Set(['', '(null)', 'N/A', 'n/a', 'None', 'Unknown', '-']);

/** The value, or undefined when Slurm printed one of its "no value" words. */
export function slurmValue(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  return ABSENT.has(t) ? undefined : t;
}

/**
 * Most numbers one range list or host list expands to. Far above any node's CPUs or GPUs and
 * any job's node count; a garbled `0-99999999999` must not hang the agent or exhaust its memory.
 */
export const MAX_RANGE_VALUES = 1 << 17;

/**
 * Expands a Slurm number range list such as `0-1`, `0,2-3,5` or `7` into its numbers, in order.
 * A trailing open range (`115-`, as Slurm prints when it cuts a long CPU list) is dropped and
 * `truncated` is set, as it is for a part that is not a range and for numbers past
 * `MAX_RANGE_VALUES`.
 */
export function parseRangeList(s: string): { values: number[]; truncated: boolean } {
  const values: number[] = [];
  let truncated = false;
  for (const raw of s.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d*))?$/.exec(part);
    if (m === null) {
      truncated = true;
      continue;
    }
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : m[2] === '' ? undefined : Number(m[2]);
    if (hi === undefined || !Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || values.length + (hi - lo + 1) > MAX_RANGE_VALUES) {
      truncated = true;
      continue;
    }
    for (let i = lo; i <= hi; i++) values.push(i);
  }
  return { values, truncated };
}

/** Splits on `sep` outside brackets and parentheses (`a[1,3],b` → `a[1,3]`, `b`). */
function splitTopLevel(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') depth = Math.max(0, depth - 1);
    else if (c === sep && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out.filter((p) => p !== '');
}

/**
 * Expands a Slurm host list such as `node-[63-65]`, `omni[1,10-12]`, `gcn[001-003]` (zero
 * padding kept) or `a,b` into host names, in order; at most `MAX_RANGE_VALUES` names (a garbled
 * `n[0-99999999999]` or `n[1-9][1-9]…` stops there instead of hanging).
 */
export function expandHostList(s: string): string[] {
  const out: string[] = [];
  for (const item of splitTopLevel(s.trim(), ',')) {
    for (const host of expandHost(item, MAX_RANGE_VALUES - out.length)) out.push(host);
    if (out.length >= MAX_RANGE_VALUES) break;
  }
  return out;
}

/** Names of one host-list item, bracket group by bracket group (no recursion: a line may hold thousands of groups). */
function expandHost(item: string, budget: number): string[] {
  let names = [''];
  let pos = 0;
  for (;;) {
    const open = item.indexOf('[', pos);
    const close = open < 0 ? -1 : item.indexOf(']', open);
    if (open < 0 || close < 0) return names.map((n) => n + item.slice(pos));
    const prefix = item.slice(pos, open);
    const numbers: string[] = [];
    for (const part of item.slice(open + 1, close).split(',')) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
      if (m === null || m[1] === undefined) continue;
      const width = m[1].length;
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi)) continue;
      for (let i = lo; i <= hi && numbers.length < budget; i++) numbers.push(String(i).padStart(width, '0'));
    }
    const next: string[] = [];
    for (const n of names) {
      for (const x of numbers) {
        if (next.length >= budget) break;
        next.push(`${n}${prefix}${x}`);
      }
    }
    names = next;
    pos = close + 1;
  }
}

/**
 * GPU indices (Slurm's GRES `IDX`) in a GRES detail value such as `gpu:2(IDX:0-1)`,
 * `gpu(IDX:0,2-3,5)`, `gpu:h100:2(IDX:0-1)` or `gg:g0(CNT:1),gpu:1(IDX:3)`. Only the `gpu`
 * GRES counts; `IDX:N/A` and `CNT:` entries give none.
 */
export function parseGresIdx(s: string): number[] {
  const out: number[] = [];
  for (const entry of splitTopLevel(s.trim(), ',')) {
    const name = /^([^:(]+)/.exec(entry)?.[1];
    if (name !== 'gpu') continue;
    const idx = /\(IDX:([^)]*)\)/.exec(entry)?.[1];
    if (idx === undefined || slurmValue(idx) === undefined) continue;
    out.push(...parseRangeList(idx).values);
  }
  return out;
}

/**
 * Reads a Slurm timestamp (`2019-01-31T10:35:53`, printed in the client's local time zone
 * when SLURM_TIME_FORMAT is `standard`) as ms since the Unix epoch; undefined for `Unknown`,
 * `None`, `N/A` and anything unreadable. Local time is right because the agent runs the client
 * in its own time zone.
 */
export function parseSlurmTime(s: string | undefined): number | undefined {
  const v = slurmValue(s);
  if (v === undefined) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(v);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ts = new Date(y, mo - 1, d, h, mi, se).getTime();
  return Number.isFinite(ts) ? ts : undefined;
}

// ---------------------------------------------------------------------------------------------
// squeue

/** One field specifier of a `squeue -o` format, e.g. `%.6i` → `i`. */
interface FormatPart {
  readonly spec: string;
  /** Literal text after this field, up to the next specifier ('' for the last). */
  readonly sep: string;
}

function parseFormat(format: string): { lead: string; parts: FormatPart[] } {
  const re = /%[.]?\d*([A-Za-z])/g;
  const specs: { spec: string; start: number; end: number }[] = [];
  for (let m = re.exec(format); m !== null; m = re.exec(format)) specs.push({ spec: m[1] ?? '', start: m.index, end: m.index + m[0].length });
  const lead = specs.length > 0 ? format.slice(0, specs[0]?.start) : format;
  const parts = specs.map((s, i) => ({ spec: s.spec, sep: format.slice(s.end, specs[i + 1]?.start ?? format.length) }));
  return { lead, parts };
}

/**
 * Splits `squeue -h -o <format>` output into one record per line, keyed by the format's
 * specifier letters (`%.6i|%E;%R` → keys `i`, `E`, `R`). Each field runs to the next
 * occurrence of the literal separator the format puts after it, and the last field takes the
 * rest of the line, so put a free-text field (`%j`, `%R`) last. Lines that lack a separator
 * are skipped.
 */
export function parseSqueue(text: string, format: string): Record<string, string>[] {
  const { lead, parts } = parseFormat(format);
  const out: Record<string, string>[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let pos = line.startsWith(lead) ? lead.length : 0;
    const rec: Record<string, string> = {};
    let ok = true;
    for (const [i, p] of parts.entries()) {
      const last = i === parts.length - 1;
      let end: number;
      if (last) {
        end = p.sep === '' || !line.endsWith(p.sep) ? line.length : line.length - p.sep.length;
      } else if (p.sep === '') {
        ok = false; // two specifiers with nothing between them cannot be split
        break;
      } else {
        end = line.indexOf(p.sep, pos);
        if (end < 0) {
          ok = false;
          break;
        }
      }
      rec[p.spec] = line.slice(pos, end).trim();
      pos = end + p.sep.length;
    }
    if (ok) out.push(rec);
  }
  return out;
}

/**
 * The `squeue -o` format the Slurm job source runs: raw job id (`%A`, unique also for array
 * tasks), display id (`%i`, `1234_5` for array tasks), state, uid, user, account, partition,
 * start time, CPUs (all nodes), node count, node list, and the job name last because it may
 * hold the separator.
 */
export const SQUEUE_FORMAT = '%A|%i|%T|%U|%u|%a|%P|%S|%C|%D|%N|%j';

/** One job as `squeue -o SQUEUE_FORMAT` lists it. */
export interface SqueueJob {
  /** Slurm's own job id (`SLURM_JOB_ID`); unique per array task. */
  readonly id: string;
  /** The id users see: `1234_5` for an array task, else the same as `id`. */
  readonly displayId: string;
  readonly state: string;
  readonly uid?: number;
  readonly user: string;
  /** Empty when Slurm has no account for the job (no accounting storage). */
  readonly account: string;
  readonly partition?: string;
  /** Start, ms since the Unix epoch. */
  readonly startTs?: number;
  /** CPUs of the whole job, over all its nodes. */
  readonly cpus?: number;
  readonly nodeCount?: number;
  readonly nodes: readonly string[];
  readonly name?: string;
}

function intOrUndef(s: string | undefined): number | undefined {
  const v = slurmValue(s);
  // 400 digits read as Infinity: a uid or CPU count no job has.
  return v !== undefined && /^\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : undefined;
}

/** Parses `squeue -h -o SQUEUE_FORMAT` output into jobs; lines without a job id are skipped. */
export function parseSqueueJobs(text: string): SqueueJob[] {
  const out: SqueueJob[] = [];
  for (const r of parseSqueue(text, SQUEUE_FORMAT)) {
    const id = slurmValue(r['A']);
    if (id === undefined) continue;
    const job: SqueueJob = {
      id,
      displayId: slurmValue(r['i']) ?? id,
      state: r['T'] ?? '',
      user: slurmValue(r['u']) ?? '',
      account: slurmValue(r['a']) ?? '',
      nodes: expandHostList(slurmValue(r['N']) ?? ''),
    };
    const extra: { -readonly [K in keyof SqueueJob]?: SqueueJob[K] } = {};
    const uid = intOrUndef(r['U']);
    if (uid !== undefined) extra.uid = uid;
    const partition = slurmValue(r['P']);
    if (partition !== undefined) extra.partition = partition;
    const startTs = parseSlurmTime(r['S']);
    if (startTs !== undefined) extra.startTs = startTs;
    const cpus = intOrUndef(r['C']);
    if (cpus !== undefined) extra.cpus = cpus;
    const nodeCount = intOrUndef(r['D']);
    if (nodeCount !== undefined) extra.nodeCount = nodeCount;
    const name = slurmValue(r['j']);
    if (name !== undefined) extra.name = name;
    out.push({ ...job, ...extra });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// scontrol -d show job

/** One per-node detail line of `scontrol -d show job` (`Nodes=... CPU_IDs=... GRES=...`). */
export interface ScontrolNodeDetail {
  readonly nodes: readonly string[];
  /** CPU ids Slurm allocated on each of these nodes (cores or threads, as the site counts). */
  readonly cpuIds: readonly number[];
  /** True when Slurm cut the CPU list (`...,115-`): `cpuIds` is then incomplete. */
  readonly cpuIdsTruncated: boolean;
  /** GPU GRES indices (`IDX`) on each of these nodes. */
  readonly gpuIdx: readonly number[];
}

/** One job as `scontrol -d show job` prints it. */
export interface ScontrolJob {
  readonly id: string;
  readonly arrayJobId?: string;
  readonly arrayTaskId?: string;
  readonly name?: string;
  readonly user: string;
  readonly uid?: number;
  /** Empty when Slurm has none. */
  readonly account: string;
  readonly state: string;
  readonly partition?: string;
  /** Start, ms since the Unix epoch. */
  readonly startTs?: number;
  readonly nodes: readonly string[];
  readonly numCpus?: number;
  readonly numNodes?: number;
  /** Per-node allocation; absent for a pending job. */
  readonly details: readonly ScontrolNodeDetail[];
}

/** Keys that belong to a per-node detail started by `Nodes=`. */
const DETAIL_KEYS = new Set(['Nodes', 'CPU_IDs', 'Mem', 'GRES', 'GRES_IDX']);

/**
 * `key=value` pairs of one line; a value runs to the next ` Key=` (values such as job names may
 * hold spaces). Slurm's keys all start with a capital, so ` lr=0.1` inside a name stays a value.
 */
function pairsOf(line: string): [string, string][] {
  const re = /(?:^|\s)([A-Z][A-Za-z0-9_:/]*)=/g;
  const keys: { key: string; start: number; valueStart: number }[] = [];
  for (let m = re.exec(line); m !== null; m = re.exec(line)) keys.push({ key: m[1] ?? '', start: m.index, valueStart: m.index + m[0].length });
  return keys.map((k, i) => [k.key, line.slice(k.valueStart, keys[i + 1]?.start ?? line.length).trim()]);
}

/** Splits scontrol output into jobs: each starts with a line beginning `JobId=`. */
function jobBlocks(text: string): string[][] {
  const blocks: string[][] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('JobId=')) blocks.push([line]);
    else if (blocks.length > 0 && line.trim() !== '') blocks[blocks.length - 1]?.push(line);
  }
  return blocks;
}

function userOf(v: string | undefined): { user: string; uid?: number } {
  const m = /^(.*?)\((\d+)\)$/.exec(v ?? '');
  if (m === null) return { user: slurmValue(v) ?? '' };
  return { user: m[1] ?? '', uid: Number(m[2]) };
}

/**
 * Parses `scontrol -d show job [id]` or `scontrol -d -o show job [id]` output into jobs, with
 * one detail per `Nodes=` line (three for a job on three nodes, none for a pending one).
 */
export function parseScontrolJobs(text: string): ScontrolJob[] {
  const out: ScontrolJob[] = [];
  for (const block of jobBlocks(text)) {
    const job = new Map<string, string>();
    const details: ScontrolNodeDetail[] = [];
    let cur: Map<string, string> | undefined;
    const flush = (): void => {
      if (cur === undefined) return;
      const cpu = parseRangeList(slurmValue(cur.get('CPU_IDs')) ?? '');
      // Slurm 18-19 printed `GRES_IDX=gpu(IDX:...)`, later releases `GRES=gpu:...(IDX:...)`.
      const gres = `${cur.get('GRES') ?? ''},${cur.get('GRES_IDX') ?? ''}`;
      details.push({ nodes: expandHostList(cur.get('Nodes') ?? ''), cpuIds: cpu.values, cpuIdsTruncated: cpu.truncated, gpuIdx: parseGresIdx(gres) });
      cur = undefined;
    };
    for (const line of block) {
      for (const [k, v] of pairsOf(line)) {
        if (k === 'Nodes') {
          flush();
          cur = new Map([[k, v]]);
        } else if (cur !== undefined && DETAIL_KEYS.has(k)) {
          cur.set(k, v);
        } else {
          flush();
          if (!job.has(k)) job.set(k, v);
        }
      }
      flush();
    }
    const id = slurmValue(job.get('JobId'));
    if (id === undefined) continue;
    const { user, uid } = userOf(job.get('UserId'));
    const extra: { -readonly [K in keyof ScontrolJob]?: ScontrolJob[K] } = {};
    const arrayJobId = slurmValue(job.get('ArrayJobId'));
    if (arrayJobId !== undefined) extra.arrayJobId = arrayJobId;
    const arrayTaskId = slurmValue(job.get('ArrayTaskId'));
    if (arrayTaskId !== undefined) extra.arrayTaskId = arrayTaskId;
    const name = slurmValue(job.get('JobName'));
    if (name !== undefined) extra.name = name;
    if (uid !== undefined) extra.uid = uid;
    const partition = slurmValue(job.get('Partition'));
    if (partition !== undefined) extra.partition = partition;
    const startTs = parseSlurmTime(job.get('StartTime'));
    if (startTs !== undefined) extra.startTs = startTs;
    const numCpus = intOrUndef(job.get('NumCPUs'));
    if (numCpus !== undefined) extra.numCpus = numCpus;
    // A pending job may print a range (`NumNodes=2-2`): its minimum is what it will get at least.
    const numNodes = intOrUndef(/^\d+/.exec(job.get('NumNodes') ?? '')?.[0]);
    if (numNodes !== undefined) extra.numNodes = numNodes;
    out.push({
      id,
      user,
      account: slurmValue(job.get('Account')) ?? '',
      state: job.get('JobState') ?? '',
      nodes: expandHostList(slurmValue(job.get('NodeList')) ?? ''),
      details,
      ...extra,
    });
  }
  return out;
}

/** What one job holds on one node, from its scontrol detail line. */
export interface NodeAllocation {
  /** GPU GRES indices (`IDX`) on the node. */
  readonly gpuIdx: readonly number[];
  /** CPUs on the node; for a cut CPU list, the job's CPUs divided evenly over its nodes. */
  readonly cpus: number;
}

/** The allocation of `job` on `node`, or undefined when the job has no detail for that node. */
export function allocationOn(job: ScontrolJob, node: string): NodeAllocation | undefined {
  const d = job.details.find((x) => x.nodes.includes(node));
  if (d === undefined) return undefined;
  let cpus = d.cpuIds.length;
  if (d.cpuIdsTruncated && job.numCpus !== undefined) {
    // The cut list undercounts; an even split is the best the job record tells.
    cpus = Math.max(cpus, Math.round(job.numCpus / Math.max(1, job.numNodes ?? job.nodes.length)));
  }
  return { gpuIdx: d.gpuIdx, cpus };
}

// ---------------------------------------------------------------------------------------------
// GRES IDX → GPU UUID

/**
 * How Slurm's GPU `IDX` numbers the node's GPUs. `minor` (default): the Nth GPU in order of
 * /dev/nvidiaN minor number, which is what Slurm does when gres.conf lists `File=/dev/nvidia[..]`
 * and what AutoDetect=nvml produces (devices sorted by file). `index`: the Nth GPU in
 * nvidia-smi index (PCI bus) order, for sites whose gres.conf lists the files in that order.
 * The two differ on boards whose minor numbers do not follow PCI order.
 */
export type GresIdxOrder = 'minor' | 'index';

/**
 * The node's GPUs in Slurm `IDX` order. With `minor` it falls back to index order when any GPU
 * lacks a minor number.
 */
export function gpusInIdxOrder(gpus: readonly GpuInfo[], order: GresIdxOrder = 'minor'): GpuInfo[] {
  const byMinor = order === 'minor' && gpus.every((g) => g.minor !== undefined);
  return [...gpus].sort((a, b) => (byMinor ? (a.minor ?? 0) - (b.minor ?? 0) : a.index - b.index));
}
