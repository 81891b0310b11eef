/**
 * Per-node agent tokens. Kept as SHA-256 digests in memory and compared in constant time,
 * so neither a log line nor a timing difference gives a token away.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Anything that can say whether a token is a node's agent token. */
export interface NodeTokenCheck {
  check(node: string, token: string): boolean;
}

/** Which token each node must present (the JSON file of `--tokens`). */
export class AgentTokens implements NodeTokenCheck {
  readonly #byNode = new Map<string, Buffer>();

  constructor(tokens: Iterable<readonly [string, string]> = []) {
    for (const [node, token] of tokens) this.set(node, token);
  }

  /** Read `{"<node>": "<token>", ...}` from a JSON file; errors name the file and the entry. */
  static fromFile(path: string): AgentTokens {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`agent tokens file ${path}: ${(err as Error).message}`);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`agent tokens file ${path}: expected an object of node name to token`);
    const tokens = new AgentTokens();
    for (const [node, token] of Object.entries(raw)) {
      if (typeof token !== 'string' || token.length < 16) throw new Error(`agent tokens file ${path}: token of node "${node}" must be a string of at least 16 characters`);
      tokens.set(node, token);
    }
    return tokens;
  }

  set(node: string, token: string): void {
    this.#byNode.set(node, digest(token));
  }

  /** True when `token` is the one configured for `node`. */
  check(node: string, token: string): boolean {
    const want = this.#byNode.get(node);
    if (want === undefined) return false;
    return timingSafeEqual(want, digest(token));
  }
}
