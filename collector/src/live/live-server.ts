/**
 * `/ws/live`: dashboards subscribe to topics (`cluster`, `node/<name>`, `job/<id>`) and receive
 * each at most once a second. Per tick, each topic with subscribers builds its message once and
 * the same text goes to every subscriber in step, so the cost grows with what changed, not
 * with viewers. A new subscriber gets the topic's history (if any) and a full snapshot first; a
 * client that cannot keep up misses ticks instead of being buffered for, and gets a full
 * snapshot once it has drained (so deltas never apply to a picture with a hole).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import type { LiveError, LiveHistory, LiveMessage, Topic } from '@stroom/protocol';
import { PROTOCOL_VERSION, decodeSubscribe, encode } from '@stroom/protocol';
import type { Logger } from 'pino';

/** One topic's messages: `next()` once per tick, `snapshot()` for subscribers out of step. */
export interface TopicFeed {
  /** Tick number of the last `next()` (0 before the first). */
  readonly seq: number;
  /** Advance one tick: the message for subscribers in step. */
  next(): LiveMessage;
  /** Everything a fresh subscriber needs, as of now, carrying the current `seq`. */
  snapshot(): LiveMessage;
  /** Recent history sent once on subscribing, if the topic has one. */
  history?(): LiveHistory;
}

/** Where feeds come from. */
export interface LiveSource {
  /** A feed for a topic, or why the topic cannot be served. */
  feed(topic: Topic): TopicFeed | string;
  /** Called once at the start of each tick, before any feed's `next()`: drop per-tick caches. */
  beginTick?(): void;
}

/** Options of the live endpoint. */
export interface LiveServerOptions {
  readonly source: LiveSource;
  readonly log: Logger;
  /** Push period in ms (default 1000). */
  readonly periodMs?: number;
  /**
   * When in each period to push, ms after a whole multiple of the period on the wall clock
   * (default half the period: 500 ms at 1 s). Agents sample on those multiples, so pushing a
   * little after them carries every node's newest sample out at once, rather than up to a
   * period late; the half period leaves room for a thousand nodes' batches to arrive and commit
   * (measured: bench/dashboard-latency).
   */
  readonly phaseMs?: number;
  /** Skip a client whose socket buffers more than this (default 1 MiB). */
  readonly maxBufferedBytes?: number;
  /**
   * Whether a connection's principal may watch a topic, asked at subscribe time; the default
   * lets everyone watch everything. The principal is what `upgrade` was given.
   */
  readonly mayWatch?: (principal: unknown, topic: Topic) => boolean;
  /** Most topics one connection may hold (default 64). */
  readonly maxTopicsPerClient?: number;
}

interface Subscriber {
  /** True when the next message must be a snapshot (new, or it missed a tick). */
  needsFull: boolean;
}

interface TopicState {
  readonly feed: TopicFeed;
  readonly subs: Map<WebSocket, Subscriber>;
  /** The snapshot's text for the current seq, shared by everyone who needs it this tick. */
  snapshot: { seq: number; text: string } | undefined;
}

/** The dashboard WebSocket endpoint. */
export class LiveServer {
  readonly #o: LiveServerOptions;
  readonly #wss: WebSocketServer;
  readonly #topics = new Map<Topic, TopicState>();
  readonly #principals = new WeakMap<WebSocket, unknown>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Messages not sent because a client was slow. */
  skipped = 0;
  /** Ticks pushed so far. */
  ticks = 0;

  constructor(options: LiveServerOptions) {
    this.#o = options;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false });
    this.#schedule();
  }

  /** Arm the next push at the next `phaseMs` past a whole period, at least half a period away. */
  #schedule(): void {
    if (this.#closed) return;
    const periodMs = this.#o.periodMs ?? 1000;
    const phaseMs = (this.#o.phaseMs ?? Math.round(periodMs * 0.5)) % periodMs;
    const now = Date.now();
    let due = Math.floor((now - phaseMs) / periodMs) * periodMs + periodMs + phaseMs;
    if (due - now < periodMs / 2) due += periodMs;
    this.#timer = setTimeout(() => {
      this.#schedule();
      this.push();
    }, due - now);
    this.#timer.unref();
  }

  /** Dashboard connections open now. */
  get clients(): number {
    return this.#wss.clients.size;
  }

  /** Topics with at least one subscriber now. */
  get topics(): number {
    return this.#topics.size;
  }

  /** Take over an HTTP upgrade on the live path; `principal` is who the caller authenticated (if anyone). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, principal?: unknown): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      if (principal !== undefined) this.#principals.set(ws, principal);
      this.#connection(ws);
    });
  }

  /** One tick: every topic's message once, to each of its subscribers. */
  push(): void {
    if (this.#topics.size === 0) return;
    this.ticks += 1;
    this.#o.source.beginTick?.();
    const limit = this.#o.maxBufferedBytes ?? 1024 * 1024;
    for (const t of this.#topics.values()) {
      // Advance once per tick whoever is in step, so a snapshot sent now carries this tick's seq
      // and the next delta follows it without a gap.
      const message = t.feed.next();
      let delta: string | undefined;
      for (const [ws, sub] of t.subs) {
        if (ws.bufferedAmount > limit) {
          this.skipped += 1;
          sub.needsFull = true;
          continue;
        }
        if (sub.needsFull) {
          this.#sendSnapshot(t, ws, sub);
          continue;
        }
        // Encoded once, and only when someone in step receives it.
        delta ??= encode(message);
        ws.send(delta);
      }
    }
  }

  #sendSnapshot(t: TopicState, ws: WebSocket, sub: Subscriber): void {
    if (t.snapshot?.seq !== t.feed.seq) t.snapshot = { seq: t.feed.seq, text: encode(t.feed.snapshot()) };
    ws.send(t.snapshot.text);
    sub.needsFull = false;
  }

  #connection(ws: WebSocket): void {
    const error = (message: string, topic?: string): void => {
      const e: LiveError = { v: PROTOCOL_VERSION, type: 'error', message, ...(topic === undefined ? {} : { topic }) };
      ws.send(encode(e));
    };
    ws.on('message', (data) => {
      const decoded = decodeSubscribe(data.toString());
      if (!decoded.ok) return error(`subscription refused: ${decoded.error}`);
      for (const topic of decoded.value.topics) {
        if (decoded.value.type === 'unsubscribe') {
          this.#leave(topic, ws);
          continue;
        }
        this.#join(topic, ws, error);
      }
    });
    ws.on('close', () => {
      for (const topic of [...this.#topics.keys()]) this.#leave(topic, ws);
    });
    ws.on('error', (err) => this.#o.log.debug({ err: err.message }, 'live socket error'));
  }

  /** Subscribe (or resubscribe, which resynchronises: history and a snapshot again). */
  #join(topic: Topic, ws: WebSocket, error: (message: string, topic?: string) => void): void {
    const mayWatch = this.#o.mayWatch;
    if (mayWatch !== undefined && !mayWatch(this.#principals.get(ws), topic)) {
      error(`topic "${topic}": not allowed for this login`, topic);
      return;
    }
    let t = this.#topics.get(topic);
    if (t === undefined) {
      let held = 0;
      for (const s of this.#topics.values()) if (s.subs.has(ws)) held += 1;
      if (held >= (this.#o.maxTopicsPerClient ?? 64)) {
        error(`topic "${topic}": at most ${this.#o.maxTopicsPerClient ?? 64} topics per connection`, topic);
        return;
      }
      const feed = this.#o.source.feed(topic);
      if (typeof feed === 'string') {
        error(feed, topic);
        return;
      }
      t = { feed, subs: new Map(), snapshot: undefined };
      this.#topics.set(topic, t);
    }
    const sub: Subscriber = { needsFull: true };
    t.subs.set(ws, sub);
    const history = t.feed.history?.();
    if (history !== undefined) ws.send(encode(history));
    this.#sendSnapshot(t, ws, sub);
  }

  #leave(topic: Topic, ws: WebSocket): void {
    const t = this.#topics.get(topic);
    if (t === undefined) return;
    t.subs.delete(ws);
    if (t.subs.size === 0) this.#topics.delete(topic);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const ws of this.#wss.clients) ws.close(1001, 'collector stopping');
    this.#wss.close();
  }
}
