/**
 * `/ws/live`: dashboards subscribe to topics and receive the cluster picture at most once a
 * second. One message is built per tick and the same string goes to every subscriber, so
 * the cost grows with what changed, not with viewers. A client that cannot keep up misses
 * ticks (its stale picture is replaced by the next one) instead of being buffered for.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import type { LiveCluster, LiveError, LiveHistory } from '@stroom/protocol';
import { PROTOCOL_VERSION, decodeSubscribe, encode } from '@stroom/protocol';
import type { Logger } from 'pino';

/** Builds the cluster picture and keeps its recent power history. */
export interface LiveSource {
  cluster(): LiveCluster;
  /** [tsUnixS[], powerW[]] for the last hour. */
  history(): LiveHistory['columns'];
}

/** Options of the live endpoint. */
export interface LiveServerOptions {
  readonly source: LiveSource;
  readonly log: Logger;
  /** Push period in ms (default 1000). */
  readonly periodMs?: number;
  /** Skip a client whose socket buffers more than this (default 1 MiB). */
  readonly maxBufferedBytes?: number;
}

/** The dashboard WebSocket endpoint. */
export class LiveServer {
  readonly #o: LiveServerOptions;
  readonly #wss: WebSocketServer;
  readonly #cluster = new Set<WebSocket>();
  readonly #timer: NodeJS.Timeout;
  /** Messages not sent because a client was slow. */
  skipped = 0;

  constructor(options: LiveServerOptions) {
    this.#o = options;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false });
    this.#timer = setInterval(() => this.push(), options.periodMs ?? 1000);
    this.#timer.unref();
  }

  /** Dashboard connections open now. */
  get clients(): number {
    return this.#wss.clients.size;
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connection(ws));
  }

  /** Send the current picture to every cluster subscriber. */
  push(): void {
    if (this.#cluster.size === 0) return;
    const frame = encode(this.#o.source.cluster());
    const limit = this.#o.maxBufferedBytes ?? 1024 * 1024;
    for (const ws of this.#cluster) {
      if (ws.bufferedAmount > limit) {
        this.skipped += 1;
        continue;
      }
      ws.send(frame);
    }
  }

  #connection(ws: WebSocket): void {
    const error = (message: string): void => {
      const e: LiveError = { v: PROTOCOL_VERSION, type: 'error', message };
      ws.send(encode(e));
    };
    ws.on('message', (data) => {
      const decoded = decodeSubscribe(data.toString());
      if (!decoded.ok) return error(`subscription refused: ${decoded.error}`);
      for (const topic of decoded.value.topics) {
        if (topic !== 'cluster') {
          error(`topic "${topic}": only "cluster" is served so far`);
          continue;
        }
        if (decoded.value.type === 'unsubscribe') {
          this.#cluster.delete(ws);
          continue;
        }
        this.#cluster.add(ws);
        const history: LiveHistory = { v: PROTOCOL_VERSION, type: 'history', topic: 'cluster', columns: this.#o.source.history() };
        ws.send(encode(history));
        ws.send(encode(this.#o.source.cluster()));
      }
    });
    ws.on('close', () => this.#cluster.delete(ws));
    ws.on('error', (err) => this.#o.log.debug({ err: err.message }, 'live socket error'));
  }

  close(): void {
    clearInterval(this.#timer);
    for (const ws of this.#wss.clients) ws.close(1001, 'collector stopping');
    this.#wss.close();
  }
}
