/**
 * Open WebSockets by the token that opened them. A revocation must not leave a dashboard
 * or an agent streaming until it happens to reconnect: every few seconds the ids of open
 * sockets are checked against the token store, and a socket whose token was revoked is
 * cut; its reconnect then meets a 401.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { TokenStore } from './token-store.js';

/** Tracks sockets by token id and cuts those whose token is revoked. */
export class TokenSessions {
  readonly #tokens: TokenStore;
  readonly #log: Logger;
  readonly #byId = new Map<string, Set<Duplex>>();
  readonly #timer: NodeJS.Timeout;

  constructor(tokens: TokenStore, log: Logger, checkIntervalMs = 5000) {
    this.#tokens = tokens;
    this.#log = log;
    this.#timer = setInterval(() => this.sweep(), checkIntervalMs);
    this.#timer.unref();
  }

  /** Remember that `socket` was opened with token `id`. */
  track(id: string, socket: Duplex): void {
    let set = this.#byId.get(id);
    if (set === undefined) {
      set = new Set();
      this.#byId.set(id, set);
    }
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && this.#byId.get(id) === set) this.#byId.delete(id);
    });
  }

  /** Cut every socket whose token was revoked since it opened. */
  sweep(): void {
    const revoked = this.#tokens.revokedAmong([...this.#byId.keys()]);
    for (const id of revoked) {
      const sockets = this.#byId.get(id);
      if (sockets === undefined) continue;
      this.#log.warn({ tokenId: id, sockets: sockets.size }, 'token revoked: closing its open connections');
      for (const s of sockets) s.destroy();
      this.#byId.delete(id);
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
