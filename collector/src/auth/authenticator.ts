/**
 * Who a request to the API or `/ws/live` comes from: a user or operator token (as
 * `Authorization: Bearer`, or for browsers' WebSockets, which cannot set headers, as the
 * subprotocol `stroom.bearer.<token>` next to `stroom.v1`), or a user name set by a trusted
 * reverse proxy, only when one is configured and only from its addresses. While no user or
 * operator token was ever made and no proxy is configured, the API is open (the demo).
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { Logger } from 'pino';
import { OPEN_PRINCIPAL } from './principal.js';
import type { Principal } from './principal.js';
import type { TokenStore } from './token-store.js';

/** The subprotocol a dashboard asks for; the server answers with it. */
export const LIVE_SUBPROTOCOL = 'stroom.v1';
/** Prefix of the subprotocol entry that carries a token on `/ws/live`. */
export const BEARER_SUBPROTOCOL_PREFIX = 'stroom.bearer.';

/** A reverse proxy that authenticates people and passes their name on. */
export interface TrustedProxy {
  /** Header with the user name, e.g. `X-Remote-User`. */
  readonly header: string;
  /** Addresses (or CIDR ranges) the proxy connects from; the header is ignored from anywhere else. */
  readonly addresses: readonly string[];
  /** Proxy users who are operators; everyone else is a user. */
  readonly operators?: readonly string[];
  /** Header with the user's accounts, comma-separated, e.g. `X-Remote-Groups`. */
  readonly accountsHeader?: string;
}

/** A principal, or why not. */
export type AuthResult = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly status: 401; readonly error: string };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** Build the proxy address list; a bad entry is an error naming it. */
export function proxyAddresses(addresses: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of addresses) {
    const [address = '', prefix] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : isIP(address) === 4 ? 'ipv4' : undefined;
    if (type === undefined) throw new Error(`trusted proxy "${entry}": expected an IP address or a CIDR range such as 10.0.0.0/24`);
    if (prefix === undefined) {
      list.addAddress(address, type);
      continue;
    }
    const bits = Number(prefix);
    if (!Number.isInteger(bits) || bits < 0 || bits > (type === 'ipv4' ? 32 : 128)) throw new Error(`trusted proxy "${entry}": bad prefix length "${prefix}"`);
    list.addSubnet(address, bits, type);
  }
  return list;
}

function fromList(list: BlockList, remote: string | undefined): boolean {
  if (remote === undefined) return false;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(remote)?.[1];
  if (v4 !== undefined) return list.check(v4, 'ipv4') || list.check(remote, 'ipv6');
  return list.check(remote, isIP(remote) === 6 ? 'ipv6' : 'ipv4');
}

/** The bearer token of a request: header first, then the WebSocket subprotocol entry. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined) return /^Bearer (\S+)$/i.exec(auth.trim())?.[1] ?? '';
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols === undefined) return undefined;
  for (const p of protocols.split(',')) {
    const entry = p.trim();
    if (entry.startsWith(BEARER_SUBPROTOCOL_PREFIX)) return entry.slice(BEARER_SUBPROTOCOL_PREFIX.length);
  }
  return undefined;
}

/**
 * Drop the token entry from `Sec-WebSocket-Protocol` before the WebSocket server sees it, so
 * it can never be chosen and echoed back, and nothing downstream holds it.
 */
export function stripBearerSubprotocol(req: IncomingMessage): void {
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols === undefined) return;
  const kept = protocols.split(',').map((p) => p.trim()).filter((p) => p !== '' && !p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  if (kept.length === 0) delete req.headers['sec-websocket-protocol'];
  else req.headers['sec-websocket-protocol'] = kept.join(', ');
}

/** Options of the authenticator. */
export interface AuthenticatorOptions {
  readonly tokens: TokenStore;
  readonly proxy?: TrustedProxy;
  readonly log: Logger;
}

/** Resolves requests to principals. */
export class Authenticator {
  readonly #o: AuthenticatorOptions;
  readonly #proxyFrom: BlockList | undefined;
  readonly #proxyHeader: string | undefined;
  readonly #accountsHeader: string | undefined;
  readonly #operators: ReadonlySet<string>;
  /** Once closed, closed for good: the first user or operator token ends the open mode. */
  #closed: boolean;

  constructor(options: AuthenticatorOptions) {
    this.#o = options;
    const proxy = options.proxy;
    if (proxy !== undefined) {
      if (!/^[A-Za-z0-9-]+$/.test(proxy.header)) throw new Error(`trusted proxy header "${proxy.header}": expected a header name such as X-Remote-User`);
      if (proxy.addresses.length === 0) throw new Error(`trusted proxy header ${proxy.header}: give the proxy's addresses (--trusted-proxy), or the header could come from anyone`);
      if (proxy.accountsHeader !== undefined && !/^[A-Za-z0-9-]+$/.test(proxy.accountsHeader)) throw new Error(`trusted proxy accounts header "${proxy.accountsHeader}": expected a header name such as X-Remote-Groups`);
    }
    this.#proxyFrom = proxy === undefined ? undefined : proxyAddresses(proxy.addresses);
    this.#proxyHeader = proxy?.header.toLowerCase();
    this.#accountsHeader = proxy?.accountsHeader?.toLowerCase();
    this.#operators = new Set(proxy?.operators ?? []);
    this.#closed = proxy !== undefined || options.tokens.hasPeople();
  }

  /** True while anyone may use the API as an operator (no person tokens, no proxy). */
  get open(): boolean {
    if (!this.#closed && this.#o.tokens.hasPeople()) {
      this.#closed = true;
      this.#o.log.warn('first user or operator token found: the API and live feed now require a token');
    }
    return !this.#closed;
  }

  /** The principal of a request, or why it is refused (never echoing the token). */
  authenticate(req: IncomingMessage): AuthResult {
    if (this.open) return { ok: true, principal: OPEN_PRINCIPAL };
    const remote = req.socket.remoteAddress;
    if (this.#proxyHeader !== undefined && this.#proxyFrom !== undefined) {
      const user = req.headers[this.#proxyHeader];
      if (user !== undefined && fromList(this.#proxyFrom, remote)) {
        if (typeof user !== 'string' || !NAME.test(user)) return { ok: false, status: 401, error: `trusted proxy header ${this.#proxyHeader}: not a valid user name` };
        if (this.#operators.has(user)) return { ok: true, principal: { role: 'operator', name: user, via: 'proxy' } };
        const raw = this.#accountsHeader === undefined ? undefined : req.headers[this.#accountsHeader];
        const accounts = typeof raw === 'string' ? raw.split(',').map((a) => a.trim()).filter((a) => NAME.test(a)) : [];
        return { ok: true, principal: { role: 'user', name: user, accounts, via: 'proxy' } };
      }
    }
    const token = bearerToken(req);
    if (token === undefined) return { ok: false, status: 401, error: 'a bearer token is required (Authorization: Bearer <token>; on /ws/live the subprotocol stroom.bearer.<token>)' };
    const found = this.#o.tokens.lookup(token);
    if (found === undefined) {
      this.#o.log.info({ remote }, 'request refused: unknown or revoked token');
      return { ok: false, status: 401, error: 'token not valid (unknown or revoked)' };
    }
    if (found.kind === 'node') return { ok: false, status: 401, error: `token ${found.id} is an agent token of node ${found.name}; the API needs a user or operator token` };
    if (found.kind === 'operator') return { ok: true, principal: { role: 'operator', name: found.name, via: 'token', tokenId: found.id } };
    return { ok: true, principal: { role: 'user', name: found.name, accounts: found.accounts, via: 'token', tokenId: found.id } };
  }
}
