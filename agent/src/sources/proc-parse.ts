/**
 * Pure parsers for the /proc files the host source reads each tick: `/proc/stat` (CPU time),
 * `/proc/meminfo` (memory) and `/proc/loadavg`. No I/O; malformed input gives undefined fields,
 * never an exception, so one odd kernel line cannot cost the whole tick.
 */
import { mibToBytes } from '@stroom/protocol/wire';

/** Cumulative CPU time of one `cpu` line of /proc/stat, in USER_HZ ticks (usually 1/100 s). */
export interface CpuTimes {
  /** All time except guest and guest_nice, which the kernel already counts inside user and nice. */
  readonly totalTicks: number;
  /** Idle plus iowait: time with nothing to run (iowait is idle time waiting on disk). */
  readonly idleTicks: number;
}

/** Parsed /proc/stat CPU lines. */
export interface ProcStat {
  /** The aggregate `cpu` line, summed over all CPUs by the kernel. */
  readonly all?: CpuTimes;
  /** Per logical CPU, keyed by CPU number (offline CPUs have no line, so keys may have gaps). */
  readonly cpus: ReadonlyMap<number, CpuTimes>;
}

/** Parsed /proc/meminfo, in bytes. */
export interface MemInfo {
  readonly memTotalBytes?: number;
  /** MemAvailable: what can be allocated without swapping (kernel estimate, Linux ≥ 3.14). */
  readonly memAvailableBytes?: number;
  /** Used memory in bytes: MemTotal − MemAvailable (MemFree + Buffers + Cached on kernels without MemAvailable). */
  readonly memUsedBytes?: number;
}

/** Parsed /proc/loadavg: run-queue averages (runnable + uninterruptible tasks). */
export interface LoadAvg {
  /** 1-minute load average. */
  readonly load1: number;
  /** 5-minute load average. */
  readonly load5: number;
  /** 15-minute load average. */
  readonly load15: number;
}

/**
 * Parse the `cpu` and `cpuN` lines of /proc/stat. Fields are user nice system idle iowait irq
 * softirq steal guest guest_nice; older kernels print fewer, which count as 0.
 */
export function parseProcStat(text: string): ProcStat {
  let all: CpuTimes | undefined;
  const cpus = new Map<number, CpuTimes>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const [label, ...fields] = line.trim().split(/\s+/);
    if (label === undefined || fields.length < 4 || !fields.every((f) => /^\d+$/.test(f))) continue;
    const n = fields.map(Number);
    const at = (i: number): number => n[i] ?? 0;
    // guest (8) and guest_nice (9) are already inside user (0) and nice (1): leave them out.
    const totalTicks = at(0) + at(1) + at(2) + at(3) + at(4) + at(5) + at(6) + at(7);
    const times: CpuTimes = { totalTicks, idleTicks: at(3) + at(4) };
    if (label === 'cpu') all = times;
    else if (/^cpu\d+$/.test(label)) cpus.set(Number(label.slice(3)), times);
  }
  return all === undefined ? { cpus } : { all, cpus };
}

/**
 * Busy fraction (0..1) between two readings of the same CPU: busy = total − idle − iowait.
 * Undefined when no time passed or the counters went backwards (CPU hot-unplugged and back).
 */
export function cpuBusyRatio(prev: CpuTimes, cur: CpuTimes): number | undefined {
  const total = cur.totalTicks - prev.totalTicks;
  const idle = cur.idleTicks - prev.idleTicks;
  if (total <= 0 || idle < 0) return undefined;
  return Math.min(1, Math.max(0, (total - idle) / total));
}

/**
 * Busy fraction (0..1) per CPU present in both readings, in CPU number order. Offline CPUs have
 * no line and are skipped, so with CPUs offline an index is a position, not a CPU number.
 */
export function coreBusyRatios(prev: ProcStat, cur: ProcStat): number[] {
  const out: number[] = [];
  for (const n of [...cur.cpus.keys()].sort((a, b) => a - b)) {
    const p = prev.cpus.get(n);
    const c = cur.cpus.get(n);
    if (p === undefined || c === undefined) continue;
    const r = cpuBusyRatio(p, c);
    if (r !== undefined) out.push(r);
  }
  return out;
}

/** Parse /proc/meminfo; values there are in kB, which the kernel means as KiB (1024 bytes). */
export function parseMeminfo(text: string): MemInfo {
  const kib = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) kib.set(m[1], Number(m[2]));
  }
  // KiB / 1024 = MiB exactly (a power of two), so units.ts's one conversion stays the only one.
  const bytes = (k: number | undefined): number | undefined => (k === undefined ? undefined : mibToBytes(k / 1024));
  const total = kib.get('MemTotal');
  let available = kib.get('MemAvailable');
  if (available === undefined) {
    // Kernels before 3.14 have no MemAvailable; free + buffers + cache is what `free` used then.
    const free = kib.get('MemFree');
    const buffers = kib.get('Buffers');
    const cached = kib.get('Cached');
    if (free !== undefined && buffers !== undefined && cached !== undefined) available = free + buffers + cached;
  }
  const out: { memTotalBytes?: number; memAvailableBytes?: number; memUsedBytes?: number } = {};
  const totalB = bytes(total);
  const availB = bytes(kib.get('MemAvailable'));
  if (totalB !== undefined) out.memTotalBytes = totalB;
  if (availB !== undefined) out.memAvailableBytes = availB;
  if (total !== undefined && available !== undefined) out.memUsedBytes = bytes(Math.max(0, total - available)) ?? 0;
  return out;
}

/** Parse /proc/loadavg (`0.52 0.58 0.59 2/1234 5678`); undefined when malformed. */
export function parseLoadavg(text: string): LoadAvg | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)(?:\s|$)/.exec(text);
  if (m === null) return undefined;
  return { load1: Number(m[1]), load5: Number(m[2]), load15: Number(m[3]) };
}
