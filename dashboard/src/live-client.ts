/**
 * The page's WebSocket to the collector's live feed. Subscribes on every (re)connect,
 * validates every frame with the protocol codec, and reconnects with jittered exponential
 * backoff. No DOM: the socket factory, clock and randomness can be replaced, so the
 * behaviour is tested in Node.
 */
import { LIVE_WS_PATH, PROTOCOL_VERSION, decodeLiveMessage, encode } from '@stroom/protocol';
import type { LiveMessage, Subscribe, Topic } from '@stroom/protocol';

/** The part of the browser WebSocket the client uses. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface LiveClientOptions {
  /** ws:// or wss:// URL of the live feed (see `liveUrl`). */
  url: string;
  /** Topics to subscribe to on every connect. */
  topics?: Topic[];
  /** Every valid message, `error` messages included. */
  onMessage: (msg: LiveMessage) => void;
  onState?: (state: ConnectionState) => void;
  /** A frame that failed validation, or an `error` message from the collector. */
  onProtocolError?: (error: string) => void;
  /** Opens a socket; defaults to the browser's WebSocket. */
  connect?: (url: string) => SocketLike;
  /** WebSocket subprotocols asked for on each connect (the token travels as one; see auth-token.ts). */
  protocols?: () => string[];
  /** 0 <= x < 1; defaults to Math.random. */
  random?: () => number;
  now?: () => number;
  /** First reconnect delay before jitter, ms. */
  backoffBaseMs?: number;
  /** Longest reconnect delay, ms. */
  backoffCapMs?: number;
  /**
   * Reconnect when an open socket has carried no message for this long, ms; catches
   * half-open connections (a laptop that slept, a proxy that dropped the flow). 0 disables.
   */
  idleTimeoutMs?: number;
}

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 10_000;
export const IDLE_TIMEOUT_MS = 30_000;

/**
 * Delay before reconnect number `attempt` (0-based): "equal jitter" exponential backoff,
 * uniformly in [d/2, d) with d = min(cap, base * 2^attempt). The jitter spreads the
 * reconnects of many open pages after a collector restart.
 */
export function backoffDelayMs(
  attempt: number,
  random: () => number = Math.random,
  baseMs = BACKOFF_BASE_MS,
  capMs = BACKOFF_CAP_MS,
): number {
  const d = Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(d / 2 + (r * d) / 2);
}

/** The live feed URL for a page URL: same host, ws(s) for http(s), path relative to the page. */
export function liveUrl(pageHref: string): string {
  const url = new URL(LIVE_WS_PATH.replace(/^\//, ''), pageHref);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  return url.toString();
}

/** The subscribe frame sent on each connect. */
export function subscribeFrame(topics: Topic[]): string {
  const msg: Subscribe = { v: PROTOCOL_VERSION, type: 'subscribe', topics };
  return encode(msg);
}

function browserSocket(url: string, protocols: string[] | undefined): SocketLike {
  // The DOM's handler properties take MessageEvent/CloseEvent; ours take the subset we read.
  return new WebSocket(url, protocols) as unknown as SocketLike;
}

export class LiveClient {
  private readonly opts: LiveClientOptions;
  private readonly topics: Topic[];
  private readonly random: () => number;
  private readonly now: () => number;
  private sock: SocketLike | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private running = false;
  private _state: ConnectionState = 'idle';
  /** When the current socket opened (ms), or null while not open. */
  openedAt: number | null = null;
  /** When the last valid message arrived (ms), or null. */
  lastMessageAt: number | null = null;

  constructor(opts: LiveClientOptions) {
    this.opts = opts;
    this.topics = opts.topics ?? ['cluster'];
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Number of failed connects since the last good message. */
  get failures(): number {
    return this.attempt;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.open();
  }

  stop(): void {
    this.running = false;
    this.clearTimers();
    this.drop();
    this.setState('closed');
  }

  /** Ask for every topic again on the open socket: the collector answers with full snapshots (resync). */
  resubscribe(): void {
    if (this.sock === null || this._state !== 'open') return;
    try {
      this.sock.send(subscribeFrame(this.topics));
    } catch {
      // the close event follows and the reconnect subscribes anyway
    }
  }

  /** Skip the remaining backoff (e.g. when the browser reports it is online again). */
  reconnectNow(): void {
    if (!this.running || this._state === 'open' || this._state === 'connecting') return;
    this.clearTimers();
    this.drop();
    this.open();
  }

  private setState(s: ConnectionState): void {
    if (s === this._state) return;
    this._state = s;
    this.opts.onState?.(s);
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.retryTimer = null;
    this.idleTimer = null;
  }

  /** Detach from the current socket and close it; its late events are ignored. */
  private drop(): void {
    const s = this.sock;
    this.sock = null;
    this.openedAt = null;
    if (s === null) return;
    s.onopen = s.onmessage = s.onclose = s.onerror = null;
    try {
      s.close(1000, 'client closing');
    } catch {
      // already closed
    }
  }

  private open(): void {
    if (!this.running) return;
    this.setState(this.attempt === 0 && this.lastMessageAt === null ? 'connecting' : 'reconnecting');
    let s: SocketLike;
    try {
      s = this.opts.connect === undefined ? browserSocket(this.opts.url, this.opts.protocols?.()) : this.opts.connect(this.opts.url);
    } catch (err) {
      this.opts.onProtocolError?.(`cannot open ${this.opts.url}: ${(err as Error).message}`);
      this.scheduleReconnect();
      return;
    }
    this.sock = s;
    s.onopen = () => {
      if (this.sock !== s) return;
      this.openedAt = this.now();
      this.setState('open');
      try {
        s.send(subscribeFrame(this.topics));
      } catch {
        // the close event follows
      }
      this.armIdle();
    };
    s.onmessage = (ev) => {
      if (this.sock !== s) return;
      this.armIdle();
      if (typeof ev.data !== 'string') {
        this.opts.onProtocolError?.('binary frame ignored');
        return;
      }
      const d = decodeLiveMessage(ev.data);
      if (!d.ok) {
        this.opts.onProtocolError?.(d.error);
        return;
      }
      // A connection counts as good once it delivered a valid message: only then does
      // the backoff start over, so a collector that accepts and drops at once is not hammered.
      this.attempt = 0;
      this.lastMessageAt = this.now();
      if (d.value.type === 'error') this.opts.onProtocolError?.(d.value.message);
      this.opts.onMessage(d.value);
    };
    s.onclose = () => {
      if (this.sock !== s) return;
      this.sock = null;
      this.openedAt = null;
      this.scheduleReconnect();
    };
    s.onerror = () => {
      // a close event always follows an error
    };
  }

  private armIdle(): void {
    const ms = this.opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (ms <= 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (!this.running || this.sock === null) return;
      this.drop();
      this.scheduleReconnect();
    }, ms);
  }

  private scheduleReconnect(): void {
    this.clearTimers();
    if (!this.running) {
      this.setState('closed');
      return;
    }
    this.setState('reconnecting');
    const delay = backoffDelayMs(this.attempt, this.random, this.opts.backoffBaseMs, this.opts.backoffCapMs);
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }
}

/** What the header shows. */
export type LiveView = 'connecting' | 'live' | 'stale' | 'reconnecting' | 'closed';

/** A cluster picture older than this is marked stale, ms. */
export const STALE_AFTER_MS = 3000;

/**
 * The header state from the socket state and the arrival time of the last `cluster`
 * message: live while cluster messages keep coming, stale when they stop for more than
 * `staleAfterMs` (socket open or not yet), reconnecting while the socket is down.
 */
export function liveView(p: {
  state: ConnectionState;
  openedAtMs: number | null;
  lastClusterAtMs: number | null;
  nowMs: number;
  staleAfterMs?: number;
}): LiveView {
  const stale = p.staleAfterMs ?? STALE_AFTER_MS;
  switch (p.state) {
    case 'idle':
    case 'connecting':
      return 'connecting';
    case 'closed':
      return 'closed';
    case 'reconnecting':
      return 'reconnecting';
    case 'open': {
      if (p.lastClusterAtMs !== null && p.nowMs - p.lastClusterAtMs <= stale) return 'live';
      if (p.lastClusterAtMs === null && p.openedAtMs !== null && p.nowMs - p.openedAtMs <= stale) return 'connecting';
      return 'stale';
    }
  }
}
