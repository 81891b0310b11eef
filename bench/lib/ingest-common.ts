/**
 * Shared by the collector-ingest benchmark, its load generator processes, its baseline server
 * and the dcgm-exporter processes of its Prometheus peer: the load configuration, the IPC
 * messages between the benchmark and its helper processes, node names and tokens, a mergeable
 * latency histogram and /proc readers.
 */
import { readFileSync } from 'node:fs';

/** What one load generator process is told (JSON in argv[2]). */
export interface LoadConfig {
  /** `ws://host:port/ws/agent`. */
  readonly url: string;
  /** Nodes in the whole load; this process simulates those with `g % procs === procIndex`. */
  readonly totalNodes: number;
  readonly procs: number;
  readonly procIndex: number;
  /** GPUs per node. */
  readonly gpus: number;
  /** Logical CPUs per node (length of the host's per-core utilisation list). */
  readonly cores: number;
  /** Most unacked batches per connection (the agent's link window); further ticks are held back. */
  readonly window: number;
  /** Per-run secret the node tokens are derived from. */
  readonly secret: string;
  /** Handshakes in flight at once per process. */
  readonly connectConcurrency: number;
  /**
   * Nodes send spread evenly over this many ms after each whole second of t0 (default 1000: the
   * whole second, the heaviest steady load). Real agents sample on the wall clock's whole
   * seconds and send at once, so a small spread (their read times) is what a dashboard sees.
   */
  readonly spreadMs?: number;
}

/** Benchmark -> generator. */
export type ToLoad =
  | { readonly type: 'start'; readonly t0: number }
  | { readonly type: 'mark' }
  /** End the measured window; answer once its batches are acked, or after drainMs. */
  | { readonly type: 'report'; readonly drainMs: number }
  | { readonly type: 'stop' };

/** Counters of one generator process since the last `mark`. */
export interface LoadReport {
  /** Batches sent in the window. */
  sent: number;
  /** Of those, how many were acked (in the window or in the drain after it). */
  acked: number;
  /** Acks received during the window, whenever their batch was sent. */
  ackedAny: number;
  /** Ticks not sent because the connection had `window` batches unacked. */
  heldBack: number;
  /** Sockets that closed while the load ran (the collector refused a frame, or dropped us). */
  closes: number;
  firstClose?: string;
  /** Batches sent (in the window or before) and not yet acked when the report was made. */
  outstanding: number;
  /** Open connections now. */
  open: number;
  /** Histogram counts (LogHistogram) of send -> ack latency of the window's batches, ms. */
  latency: number[];
  /** Histogram counts of how late each batch was sent after its due time, ms (generator lag). */
  lateness: number[];
}

/** Generator -> benchmark. */
export type FromLoad =
  | { readonly type: 'ready'; readonly connected: number; readonly failed: number; readonly firstError?: string; readonly helloBytes: number; readonly batchBytes: number }
  | ({ readonly type: 'report' } & LoadReport);

/** Node name of global node index `g`. */
export function nodeName(g: number): string {
  return `gcn${String(g).padStart(5, '0')}`;
}

/** Token of node `g` (at least 16 characters, as the collector requires). */
export function nodeToken(secret: string, g: number): string {
  return `bench-${secret}-${g.toString(36)}`;
}

/** Log-spaced histogram of ms values from 0.01 ms to ~100 s, 2 % wide buckets; mergeable. */
export class LogHistogram {
  static readonly MIN_MS = 0.01;
  static readonly GROWTH = 1.02;
  static readonly BUCKETS = Math.ceil(Math.log(1e7) / Math.log(LogHistogram.GROWTH)) + 1;
  counts: number[] = new Array<number>(LogHistogram.BUCKETS).fill(0);
  n = 0;
  max = 0;

  add(ms: number): void {
    const i = ms <= LogHistogram.MIN_MS ? 0 : Math.min(LogHistogram.BUCKETS - 1, Math.ceil(Math.log(ms / LogHistogram.MIN_MS) / Math.log(LogHistogram.GROWTH)));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.n += 1;
    if (ms > this.max) this.max = ms;
  }

  merge(counts: readonly number[]): void {
    for (let i = 0; i < counts.length && i < this.counts.length; i++) {
      const c = counts[i] ?? 0;
      this.counts[i] = (this.counts[i] ?? 0) + c;
      this.n += c;
      if (c > 0) this.max = Math.max(this.max, LogHistogram.MIN_MS * LogHistogram.GROWTH ** i);
    }
  }

  /** Upper edge of the bucket holding quantile `q` (0..1), ms; NaN when empty. */
  quantile(q: number): number {
    if (this.n === 0) return Number.NaN;
    const want = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= want) return LogHistogram.MIN_MS * LogHistogram.GROWTH ** i;
    }
    return this.max;
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
export const CLK_TCK = 100;

function statFields(pid: number): string[] {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return [];
  }
}

/** utime + stime of the process (all its threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  const f = statFields(pid);
  return Number(f[11] ?? 0) + Number(f[12] ?? 0);
}

/** Resident set size in bytes; 0 when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Series dcgm-exporter serves per GPU in the Prometheus peer; one GPU sample = this many samples, as the issue counts. */
export const DCGM_SERIES_PER_GPU = 6;

/** What one dcgm-exporter process of the Prometheus peer is told (JSON in argv[2]). */
export interface ExporterConfig {
  /** Nodes in the whole load; this process serves those with `g % procs === procIndex`. */
  readonly totalNodes: number;
  readonly procs: number;
  readonly procIndex: number;
  /** GPUs per node. */
  readonly gpus: number;
}

/** Benchmark -> exporter. */
export type ToExporter = { readonly type: 'stats' } | { readonly type: 'stop' };

/** Exporter -> benchmark. */
export type FromExporter =
  | { readonly type: 'ready'; readonly port: number; readonly nodes: number; readonly bodyBytes: number }
  /** Counters since start: scrapes answered, body bytes sent, requests for no node. */
  | { readonly type: 'stats'; readonly scrapes: number; readonly bytes: number; readonly notFound: number };
