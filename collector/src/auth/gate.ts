/**
 * The collector's door: node tokens for agents (the JSON file and `auth.db`), principals for
 * the API and `/ws/live`, the connection caps, and cutting sockets whose token was revoked.
 * One object, so `collector.ts` only wires it.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { NODE_HEADER } from '@stroom/protocol';
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { mayWatch } from './access.js';
import type { NodeTokenCheck } from './agent-tokens.js';
import { Authenticator, bearerToken, stripBearerSubprotocol } from './authenticator.js';
import type { AuthResult, TrustedProxy } from './authenticator.js';
import { isPrincipal } from './principal.js';
import type { Principal } from './principal.js';
import { TokenSessions } from './sessions.js';
import { TokenStore } from './token-store.js';
import { refuseUpgrade } from './upgrade.js';

/** Authentication settings of a collector. */
export interface AuthOptions {
  /** Token database; default `auth.db` in the data directory (in memory for `:memory:`). */
  readonly tokenStore?: TokenStore;
  readonly trustedProxy?: TrustedProxy;
  /** Serve `/metrics` without a token. */
  readonly publicMetrics?: boolean;
  /** How often open sockets are checked for revoked tokens, ms (default 5000). */
  readonly revocationCheckMs?: number;
}

/** Connection caps; over a cap the handshake gets HTTP 503 with the reason. */
export interface ConnectionLimits {
  /** Agent connections at once (default 20 000). */
  readonly maxAgentConnections?: number;
  /** Dashboard connections at once (default 1000). */
  readonly maxLiveConnections?: number;
}

/** Options of the gate. */
export interface GateOptions {
  readonly dataDir: string;
  /** Node tokens of the JSON file (`--tokens`). */
  readonly fileTokens: NodeTokenCheck;
  readonly store: Store;
  readonly log: Logger;
  readonly auth?: AuthOptions;
  readonly limits?: ConnectionLimits;
}

/** Authentication, authorisation and connection caps of one collector. */
export class Gate {
  readonly tokens: TokenStore;
  readonly #ownsTokens: boolean;
  readonly #o: GateOptions;
  readonly #auth: Authenticator;
  readonly #sessions: TokenSessions;
  /** Node tokens from the JSON file or `auth.db`. */
  readonly nodeTokens: NodeTokenCheck;
  /** For the HTTP API. */
  readonly access: { readonly authenticate: (req: IncomingMessage) => AuthResult; readonly publicMetrics?: boolean };

  constructor(o: GateOptions) {
    this.#o = o;
    this.#ownsTokens = o.auth?.tokenStore === undefined;
    this.tokens = o.auth?.tokenStore ?? TokenStore.open(o.dataDir);
    try {
      this.#auth = new Authenticator({ tokens: this.tokens, log: o.log, ...(o.auth?.trustedProxy === undefined ? {} : { proxy: o.auth.trustedProxy }) });
    } catch (err) {
      if (this.#ownsTokens) this.tokens.close();
      throw err;
    }
    this.#sessions = new TokenSessions(this.tokens, o.log, o.auth?.revocationCheckMs);
    const tokens = this.tokens;
    this.nodeTokens = { check: (node, token) => o.fileTokens.check(node, token) || tokens.checkNode(node, token) };
    this.access = { authenticate: (req) => this.#auth.authenticate(req), ...(o.auth?.publicMetrics === undefined ? {} : { publicMetrics: o.auth.publicMetrics }) };
    if (this.#auth.open) {
      o.log.warn('the API and live feed are OPEN to anyone who can reach them: no user or operator token exists (create one with `stroom token create --operator NAME`) and no trusted proxy is configured');
    }
  }

  /** True while the API is open (no person tokens, no proxy). */
  get open(): boolean {
    return this.#auth.open;
  }

  /**
   * Admit an agent handshake past the cap; the token itself is checked by the agent server.
   * A node token from `auth.db` is remembered, so its socket closes when it is revoked.
   */
  admitAgent(req: IncomingMessage, socket: Duplex, connected: number): boolean {
    const max = this.#o.limits?.maxAgentConnections ?? 20_000;
    if (connected >= max) {
      this.#o.log.warn({ node: req.headers[NODE_HEADER], max }, 'agent refused: connection limit reached');
      refuseUpgrade(socket, 503, `agent connection limit (${max}) reached; retry later`, { 'Retry-After': '10' });
      return false;
    }
    const found = this.tokens.lookup(bearerToken(req) ?? '');
    if (found?.kind === 'node') this.#sessions.track(found.id, socket);
    return true;
  }

  /** The principal of a dashboard handshake past the cap, or undefined after refusing it. */
  admitLive(req: IncomingMessage, socket: Duplex, connected: number): Principal | undefined {
    const auth = this.#auth.authenticate(req);
    // Whatever happens next, the token does not travel further with the request.
    stripBearerSubprotocol(req);
    if (!auth.ok) {
      refuseUpgrade(socket, auth.status, auth.error, { 'WWW-Authenticate': 'Bearer realm="stroom"' });
      return undefined;
    }
    const max = this.#o.limits?.maxLiveConnections ?? 1000;
    if (connected >= max) {
      this.#o.log.warn({ max }, 'dashboard refused: connection limit reached');
      refuseUpgrade(socket, 503, `dashboard connection limit (${max}) reached; retry later`, { 'Retry-After': '10' });
      return undefined;
    }
    if (auth.principal.tokenId !== undefined) this.#sessions.track(auth.principal.tokenId, socket);
    return auth.principal;
  }

  /** May `p` (what `admitLive` gave the live server) subscribe to `topic` on `/ws/live`? */
  mayWatch(p: unknown, topic: string): boolean {
    return isPrincipal(p) && mayWatch(p, topic, (id) => this.#o.store.job(id)?.user);
  }

  /** Cut sockets of revoked tokens now rather than at the next check. */
  sweep(): void {
    this.#sessions.sweep();
  }

  close(): void {
    this.#sessions.close();
    if (this.#ownsTokens) this.tokens.close();
  }
}
