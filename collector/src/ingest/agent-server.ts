/**
 * `/ws/agent`: the token is checked at the handshake (wrong or missing: HTTP 401, never an
 * open socket); the first frame must be Hello for that node; every frame is validated and a
 * bad one closes the socket with 1008 and a reason naming the field.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import type { GpuInfo, Hello } from '@stroom/protocol';
import { CLOSE_GOING_AWAY, CLOSE_POLICY_VIOLATION, MAX_FRAME_BYTES, NODE_HEADER, PROTOCOL_VERSION, closeReason, decodeAgentMessage, encode } from '@stroom/protocol';
import type { Logger } from 'pino';
import type { NodeTokenCheck } from '../auth/agent-tokens.js';
import type { ClusterState } from '../live/cluster-state.js';
import type { NodeModel } from '../ledger/ledger.js';
import type { Committer } from './committer.js';
import { MAX_POWER_OVER_LIMIT, checkPhysics } from './physics.js';
import { TokenBucket } from './token-bucket.js';

/** Options of the agent endpoint. */
export interface AgentServerOptions {
  readonly tokens: NodeTokenCheck;
  readonly committer: Committer;
  readonly cluster: ClusterState;
  readonly log: Logger;
  /** Modelled base power of a node in W (fans, NICs, disks), by node name; 0 when not configured. */
  readonly basePowerW?: (node: string) => number;
  /** Ping interval in ms; a client that misses a pong is terminated (default 30 s). */
  readonly pingIntervalMs?: number;
  /**
   * Frames a connection may send per second (default 200); frames over it wait, in order,
   * while the socket is not read, so TCP slows the agent down and nothing is dropped.
   */
  readonly framesPerS?: number;
  /** Frames a connection may send at once before the rate applies (default 1000). */
  readonly frameBurst?: number;
}

/** Counters of rejected input, for self-metrics and tests. */
export interface AgentServerStats {
  refusedHandshakes: number;
  rejectedFrames: number;
  /** Single values refused for being outside physics; the rest of their batch was kept. */
  rejectedValues: number;
  /** Agent connections accepted since start (open now: `connected`). */
  connections: number;
  /** Frames held back by the per-connection rate limit (all handled later, in order). */
  delayedFrames: number;
}

/** The agent WebSocket endpoint, attached to an HTTP server's upgrade event. */
export class AgentServer {
  readonly #o: AgentServerOptions;
  readonly #wss: WebSocketServer;
  readonly #alive = new WeakMap<WebSocket, boolean>();
  readonly #ping: NodeJS.Timeout;
  /** Kinds of refused values already logged, per node: the log says each once, the count says all. */
  readonly #logged = new Set<string>();
  readonly stats: AgentServerStats = { refusedHandshakes: 0, rejectedFrames: 0, rejectedValues: 0, connections: 0, delayedFrames: 0 };

  constructor(options: AgentServerOptions) {
    this.#o = options;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
    this.#ping = setInterval(() => {
      for (const ws of this.#wss.clients) {
        if (this.#alive.get(ws) === false) {
          ws.terminate();
          continue;
        }
        this.#alive.set(ws, false);
        ws.ping();
      }
    }, options.pingIntervalMs ?? 30_000);
    this.#ping.unref();
  }

  /** Agent connections open now. */
  get connected(): number {
    return this.#wss.clients.size;
  }

  /** Handle an upgrade request for `/ws/agent`. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const node = req.headers[NODE_HEADER];
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (typeof node !== 'string' || node === '' || token === '' || !this.#o.tokens.check(node, token)) {
      this.stats.refusedHandshakes += 1;
      const why = typeof node !== 'string' || node === '' ? `missing ${NODE_HEADER} header` : token === '' ? 'missing bearer token' : `wrong token for node ${node}`;
      // The token itself is never logged.
      this.#o.log.warn({ node, remote: req.socket.remoteAddress }, `agent refused: ${why}`);
      socket.end(`HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Type: text/plain\r\nX-Stroom-Error: ${why}\r\nContent-Length: ${Buffer.byteLength(why)}\r\n\r\n${why}`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connection(ws, node));
  }

  #connection(ws: WebSocket, node: string): void {
    this.stats.connections += 1;
    this.#alive.set(ws, true);
    ws.on('pong', () => this.#alive.set(ws, true));
    let hello: Hello | undefined;
    let gpus = new Map<string, GpuInfo>();
    let model: NodeModel | undefined;
    let open = true;
    const reject = (error: string): void => {
      this.stats.rejectedFrames += 1;
      this.#o.log.warn({ node }, `frame rejected: ${error}`);
      open = false;
      ws.close(CLOSE_POLICY_VIOLATION, closeReason(error));
    };
    ws.on('close', () => {
      open = false;
    });
    ws.on('error', (err) => this.#o.log.warn({ node, err: err.message }, 'agent socket error'));
    const handle = (data: WebSocket.RawData, isBinary: boolean): void => {
      if (!open) return;
      if (isBinary) return reject('binary frames are not part of the protocol; send JSON text');
      const decoded = decodeAgentMessage(data.toString());
      if (!decoded.ok) return reject(decoded.error);
      const msg = decoded.value;
      if (msg.node !== node) return reject(`node: "${msg.node}" does not match the token's node "${node}"`);
      if (msg.type === 'hello') {
        hello = msg;
        gpus = new Map(msg.inventory.gpus.map((g) => [g.uuid, g]));
        model = { basePowerW: this.#o.basePowerW?.(node) ?? 0, gpus: msg.inventory.gpus.length, maxGapMs: 3 * msg.intervalMs };
        this.#o.cluster.hello(msg);
        this.#o.committer.nodeHello(msg);
        return;
      }
      if (hello === undefined) return reject('type: hello expected before the first batch');
      if (msg.epoch !== hello.epoch) return reject(`epoch: "${msg.epoch}" is not this connection's epoch "${hello.epoch}"`);
      const { batch, rejections } = checkPhysics(msg, gpus, Date.now());
      for (const r of rejections) {
        this.stats.rejectedValues += 1;
        const kind = `${node}\u0000${r.field.replace(/\[\d+\]/g, '[]')}\u0000${r.reason.split(' ')[0] ?? ''}`;
        if (this.#logged.has(kind)) continue;
        this.#logged.add(kind);
        this.#o.log.warn({ node, seq: msg.seq }, `value refused: ${r.field}: ${r.reason} (further ones of this kind are counted, not logged)`);
      }
      const limits = gpus;
      this.#o.committer.submit({
        batch,
        ...(model === undefined ? {} : { model }),
        limit: (id, dtMs) => {
          const w = limits.get(id)?.powerLimitW;
          return w === undefined ? undefined : MAX_POWER_OVER_LIMIT * w * dtMs;
        },
        done: () => {
          if (ws.readyState === ws.OPEN) ws.send(encode({ v: PROTOCOL_VERSION, type: 'ack', seq: msg.seq }));
        },
        failed: () => {
          // Not counted: close so the agent reconnects and resends from its spool.
          if (ws.readyState === ws.OPEN) ws.close(1011, 'collector could not store the batch; resend');
        },
      });
    };
    const bucket = new TokenBucket(this.#o.framesPerS ?? 200, this.#o.frameBurst ?? 1000);
    const held: Array<readonly [WebSocket.RawData, boolean]> = [];
    let drainTimer: NodeJS.Timeout | undefined;
    const drain = (): void => {
      drainTimer = undefined;
      while (held.length > 0 && bucket.take(Date.now())) {
        const [data, isBinary] = held.shift() ?? [];
        if (data !== undefined) handle(data, isBinary ?? false);
      }
      if (held.length > 0) drainTimer = setTimeout(drain, bucket.waitMs(Date.now()));
      else if (open) ws.resume();
    };
    ws.on('message', (data, isBinary) => {
      if (held.length === 0 && bucket.take(Date.now())) return handle(data, isBinary);
      // Over the rate: hold it (order matters to the ledger) and stop reading the socket.
      this.stats.delayedFrames += 1;
      if (held.length === 0) {
        ws.pause();
        this.#o.log.debug({ node }, 'agent over its frame rate; reading paused');
      }
      held.push([data, isBinary]);
      drainTimer ??= setTimeout(drain, bucket.waitMs(Date.now()));
    });
    ws.on('close', () => clearTimeout(drainTimer));
  }

  /** Close every agent connection (they reconnect to the next collector). */
  close(): void {
    clearInterval(this.#ping);
    for (const ws of this.#wss.clients) ws.close(CLOSE_GOING_AWAY, 'collector stopping');
    this.#wss.close();
  }
}
