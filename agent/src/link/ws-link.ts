/**
 * The agent's WebSocket link to the collector. Sends Hello on every connection, then the
 * spool's batches in seq order; a batch leaves the spool only when the collector acks it.
 * Reconnects with jittered backoff and resends whatever was not acked (the collector drops
 * duplicates by node + epoch + seq).
 */
import WebSocket from 'ws';
import type { Hello } from '@stroom/protocol';
import { MAX_FRAME_BYTES, NODE_HEADER, encode, parseAck } from '@stroom/protocol/wire';
import type { Logger } from 'pino';
import type { Spool } from '../spool/spool.js';
import { backoffDelayMs } from './backoff.js';
import type { BackoffOptions } from './backoff.js';

/** Options of the link. */
export interface WsLinkOptions {
  /** Collector URL, e.g. `ws://127.0.0.1:8080/ws/agent`. */
  readonly url: string;
  /** This node's bearer token. */
  readonly token: string;
  readonly hello: Hello;
  readonly spool: Spool;
  readonly log: Logger;
  /** Stop sending while the socket buffers more than this many bytes (default 1 MiB). */
  readonly highWaterBytes?: number;
  /** Most batches sent and not yet acked (default 64). */
  readonly window?: number;
  /** Close a socket that has heard nothing from the collector for this long (default 75 s). */
  readonly silenceTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
  /** PEM CA certificate(s) the collector's certificate must chain to (wss); default: the system's. */
  readonly ca?: string;
}

/** TLS error codes of an untrusted or misnamed certificate, and what to do about each. */
const CERT_ERRORS: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'give --ca FILE with the CA that signed it',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'give --ca FILE with that certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'give --ca FILE with the CA that signed it',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'give --ca FILE with the CA that signed it',
  CERT_HAS_EXPIRED: "renew the collector's certificate",
  CERT_NOT_YET_VALID: "check the clocks, or the certificate's start date",
  ERR_TLS_CERT_ALTNAME_INVALID: "connect by a name the certificate lists, or add this name to the certificate's subjectAltName",
};

/** A connection error as an operator needs it: certificate problems named, with the fix. */
export function linkErrorMessage(err: Error & { code?: string }): string {
  const fix = err.code === undefined ? undefined : CERT_ERRORS[err.code];
  return fix === undefined ? err.message : `TLS: the collector's certificate is not accepted (${err.code}: ${err.message}); ${fix}`;
}

/** Connection state, for logs and self-metrics. */
export type LinkState = 'connecting' | 'open' | 'waiting' | 'closed';

/** Client side of `/ws/agent`. */
export class WsLink {
  readonly #o: WsLinkOptions;
  #socket: WebSocket | undefined;
  #state: LinkState = 'waiting';
  #attempt = 0;
  #lastSentSeq = 0;
  #lastAckedSeq = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #silenceTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #ackWaiters: Array<() => void> = [];
  #lastError: string | undefined;

  constructor(options: WsLinkOptions) {
    this.#o = options;
  }

  get state(): LinkState {
    return this.#state;
  }

  /** Highest seq the collector acknowledged. */
  get lastAckedSeq(): number {
    return this.#lastAckedSeq;
  }

  start(): void {
    this.#closing = false;
    this.#connect();
  }

  /** Send whatever the spool holds that has not been sent on this connection. */
  pump(): void {
    const socket = this.#socket;
    if (socket === undefined || this.#state !== 'open') return;
    const high = this.#o.highWaterBytes ?? 1024 * 1024;
    const window = this.#o.window ?? 64;
    while (socket.bufferedAmount < high && this.#lastSentSeq - this.#lastAckedSeq < window) {
      const next = this.#o.spool.next(this.#lastSentSeq);
      if (next === undefined) return;
      socket.send(next.frame);
      this.#lastSentSeq = next.seq;
    }
  }

  /** Resolves when the spool is empty (everything acked) or after `timeoutMs`; true if empty. */
  async drained(timeoutMs: number): Promise<boolean> {
    if (this.#o.spool.stats.batches === 0) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#ackWaiters = this.#ackWaiters.filter((w) => w !== check);
        resolve(false);
      }, timeoutMs);
      const check = (): void => {
        if (this.#o.spool.stats.batches > 0) return;
        clearTimeout(timer);
        this.#ackWaiters = this.#ackWaiters.filter((w) => w !== check);
        resolve(true);
      };
      this.#ackWaiters.push(check);
    });
  }

  /** Close for good: no reconnect. */
  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#silenceTimer);
    const socket = this.#socket;
    this.#state = 'closed';
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.terminate();
        resolve();
      }, 2000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.close(1000, 'agent stopping');
    });
  }

  #connect(): void {
    if (this.#closing) return;
    this.#state = 'connecting';
    const socket = new WebSocket(this.#o.url, {
      headers: { authorization: `Bearer ${this.#o.token}`, [NODE_HEADER]: this.#o.hello.node },
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
      ...(this.#o.ca === undefined ? {} : { ca: this.#o.ca }),
    });
    this.#socket = socket;
    socket.on('open', () => {
      this.#state = 'open';
      this.#lastSentSeq = this.#lastAckedSeq;
      if (this.#lastError !== undefined) this.#o.log.info({ url: this.#o.url }, 'connected to collector');
      this.#lastError = undefined;
      this.#heard();
      socket.send(encode(this.#o.hello));
      this.pump();
    });
    socket.on('message', (data) => {
      this.#heard();
      const decoded = parseAck(data.toString());
      if (!decoded.ok) {
        this.#o.log.warn({ error: decoded.error }, 'collector sent a frame that is not an ack; ignored');
        return;
      }
      this.#attempt = 0;
      const seq = decoded.value.seq;
      if (seq > this.#lastAckedSeq) {
        this.#lastAckedSeq = seq;
        this.#o.spool.ack(seq);
      }
      for (const waiter of [...this.#ackWaiters]) waiter();
      this.pump();
    });
    socket.on('ping', () => this.#heard());
    socket.on('unexpected-response', (_req, res) => {
      this.#fail(`collector refused the connection: HTTP ${res.statusCode} ${res.headers['x-stroom-error'] ?? ''}`.trim());
      socket.terminate();
    });
    socket.on('error', (err) => this.#fail(linkErrorMessage(err)));
    socket.on('close', (code, reason) => {
      clearTimeout(this.#silenceTimer);
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (code !== 1000 && code !== 1005 && code !== 1006) this.#fail(`collector closed the link: ${code} ${reason.toString()}`);
      if (this.#closing) {
        this.#state = 'closed';
        return;
      }
      this.#state = 'waiting';
      const delayMs = backoffDelayMs(this.#attempt++, this.#o.backoff);
      this.#retryTimer = setTimeout(() => this.#connect(), delayMs);
    });
  }

  /** Log a failure once per distinct message, so a long outage does not flood the log. */
  #fail(message: string): void {
    if (message === this.#lastError) return;
    this.#lastError = message;
    this.#o.log.warn({ url: this.#o.url }, message);
  }

  #heard(): void {
    clearTimeout(this.#silenceTimer);
    const timeoutMs = this.#o.silenceTimeoutMs ?? 75_000;
    this.#silenceTimer = setTimeout(() => {
      this.#fail(`no word from the collector for ${timeoutMs} ms; reconnecting`);
      this.#socket?.terminate();
    }, timeoutMs);
  }
}
