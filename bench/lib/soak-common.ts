/**
 * Shared by the soak benchmark (bench/soak.bench.ts) and its dashboard client process
 * (soak-dashboards.ts): the IPC messages between them, the least-squares slope the RSS
 * verdict rests on, and the open-files and port-range checks a 10,000-connection run needs.
 */
import { readFileSync } from 'node:fs';

/** What the dashboard client process is told (JSON in argv[2]). */
export interface DashConfig {
  /** `ws://host:port/ws/live`. */
  readonly url: string;
  /** Dashboard connections this process keeps open, each subscribed to `cluster`. */
  readonly clients: number;
  /** Wait before redialling a dropped connection, as the dashboard does, ms. */
  readonly reconnectMs: number;
  /** Validate one received message against the protocol's schema at most this often, ms (0: never). */
  readonly validateEveryMs: number;
}

/** Benchmark -> dashboard process: answer with the counters since the last report, then reset them. */
export type ToDash = { readonly type: 'report' } | { readonly type: 'stop' };

/** Counters of the dashboard process over one interval (since the previous report). */
export interface DashReport {
  readonly wallMs: number;
  /** Connections open now. */
  readonly open: number;
  /** `cluster` messages received, all clients together. */
  readonly messages: number;
  /** Fewest and most `cluster` messages one client received in the interval. */
  readonly perClientMin: number;
  readonly perClientMax: number;
  /** Bytes of every message received (cluster, history, error). */
  readonly bytes: number;
  /** Full snapshots received (each subscription starts with one; later ones mean the client was skipped). */
  readonly fulls: number;
  /** Ticks missed: the sum of (seq - previous seq - 1) over delta messages. */
  readonly missedTicks: number;
  /** `error` messages received from the collector, and the first one's text. */
  readonly errors: number;
  readonly firstError?: string;
  /** Messages checked against LiveMessageSchema, and how many failed (with the first reason). */
  readonly validated: number;
  readonly invalid: number;
  readonly firstInvalid?: string;
  /** Sockets that closed while open (the collector dropped them), and redials that succeeded. */
  readonly closes: number;
  readonly firstClose?: string;
  readonly reconnects: number;
  /** Histogram counts (LogHistogram) of receipt time minus the message's `ts`, ms. */
  readonly lag: number[];
}

/** Dashboard process -> benchmark. */
export type FromDash =
  | { readonly type: 'ready'; readonly connected: number; readonly failed: number; readonly firstError?: string }
  | ({ readonly type: 'report' } & DashReport);

/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/** Soft and hard "Max open files" of this process (what children inherit). */
export function openFilesLimit(): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const num = (s: string | undefined): number => (s === undefined || s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: num(m?.[1]), hard: num(m?.[2]) };
}

/** How many local ports loopback clients can draw from (net.ipv4.ip_local_port_range). */
export function ephemeralPorts(): number {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return lo !== undefined && hi !== undefined ? hi - lo + 1 : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * argv for spawning `node args...` with at least `files` open files allowed: as is when the
 * soft limit already allows it, else through `sh -c 'ulimit -n N'` (a process may raise its
 * soft limit up to the hard one; exec keeps the pid, so /proc readings still find it). Throws,
 * naming what to raise, when even the hard limit is too low.
 */
export function withOpenFiles(files: number, what: string, node: string, args: readonly string[]): { cmd: string; args: string[] } {
  const { soft, hard } = openFilesLimit();
  if (files <= soft) return { cmd: node, args: [...args] };
  if (files > hard) {
    throw new Error(
      `${what} needs about ${files} open files, but the hard limit here is ${hard} ("Max open files" in /proc/self/limits): ` +
        `raise it (as root: \`ulimit -Hn ${files}\` in the shell that runs the bench, LimitNOFILE=${files} in a systemd unit, ` +
        `or "nofile" in /etc/security/limits.conf; in a container, --ulimit nofile=${files}:${files}) or lower BENCH_SOAK_NODES`,
    );
  }
  return { cmd: '/bin/sh', args: ['-c', 'ulimit -n "$1" && shift && exec "$@"', 'sh', String(files), node, ...args] };
}
