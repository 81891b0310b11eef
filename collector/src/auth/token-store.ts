/**
 * Tokens for agents (one per node), users and operators, kept in `auth.db` (SQLite, WAL) in
 * the collector's data directory. Only a SHA-256 digest of each token is stored: a token is
 * 32 random bytes, so a digest cannot be reversed or guessed, and a stolen database grants
 * nothing. `stroom token create|list|revoke` write the same file while the collector runs;
 * the collector looks every token up in it when presented, so a revocation holds from the
 * next request or handshake on, without a restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** Who a token speaks for: an agent of one node, a user, or an operator. */
export type TokenKind = 'node' | 'user' | 'operator';
export const TOKEN_KINDS: readonly TokenKind[] = ['node', 'user', 'operator'];

/** What is kept about a token; never the token itself. */
export interface TokenInfo {
  /** Public handle for `list` and `revoke`, e.g. `tok_3f9a0c1d2e4b`. */
  readonly id: string;
  readonly kind: TokenKind;
  /** Node name (kind node), user name (user) or operator name (operator). */
  readonly name: string;
  /** Accounts whose totals a user may see (user tokens only). */
  readonly accounts: readonly string[];
  readonly createdTs: number;
  /** When it was revoked, ms since the Unix epoch; null while valid. */
  readonly revokedTs: number | null;
}

/** What may be created. */
export interface NewToken {
  readonly kind: TokenKind;
  readonly name: string;
  readonly accounts?: readonly string[];
}

/** Prefix of every token this store hands out, so secret scanners and people can tell one. */
export const TOKEN_PREFIX = 'stroom_';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  sha256 BLOB NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('node', 'user', 'operator')),
  name TEXT NOT NULL,
  accounts TEXT NOT NULL DEFAULT '[]',
  created_ts INTEGER NOT NULL,
  revoked_ts INTEGER
);
`;

interface Row {
  id: string;
  kind: TokenKind;
  name: string;
  accounts: string;
  created_ts: number;
  revoked_ts: number | null;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function info(row: Row): TokenInfo {
  return { id: row.id, kind: row.kind, name: row.name, accounts: JSON.parse(row.accounts) as string[], createdTs: row.created_ts, revokedTs: row.revoked_ts };
}

// Names end up in logs, headers and SQL parameters: printable, no separators that confuse them.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

function checkName(what: string, value: string): void {
  if (!NAME.test(value)) throw new Error(`${what} "${value}": expected 1-128 characters of letters, digits and . _ @ + - (starting with a letter or digit)`);
}

/** The token database. */
export class TokenStore {
  readonly #db: Database.Database;
  readonly #stmt;

  /** Open (and create) `auth.db` in `dataDir`; `:memory:` for a throwaway store. */
  static open(dataDir: string): TokenStore {
    if (dataDir === ':memory:') return new TokenStore(':memory:');
    mkdirSync(dataDir, { recursive: true });
    return new TokenStore(join(dataDir, 'auth.db'));
  }

  /** The file `open(dataDir)` uses. */
  static file(dataDir: string): string {
    return join(dataDir, 'auth.db');
  }

  constructor(file: string) {
    const fresh = file !== ':memory:' && !existsSync(file);
    this.#db = new Database(file);
    // Digests only, but still nobody else's business.
    if (fresh) chmodSync(file, 0o600);
    this.#db.pragma('journal_mode = WAL');
    // The CLI writes while the collector reads.
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(SCHEMA);
    const db = this.#db;
    this.#stmt = {
      insert: db.prepare<[string, Buffer, string, string, string, number]>('INSERT INTO tokens (id, sha256, kind, name, accounts, created_ts) VALUES (?, ?, ?, ?, ?, ?)'),
      byDigest: db.prepare<[Buffer], Row>('SELECT id, kind, name, accounts, created_ts, revoked_ts FROM tokens WHERE sha256 = ?'),
      byId: db.prepare<[string], Row>('SELECT id, kind, name, accounts, created_ts, revoked_ts FROM tokens WHERE id = ?'),
      all: db.prepare<[], Row>('SELECT id, kind, name, accounts, created_ts, revoked_ts FROM tokens ORDER BY created_ts, rowid'),
      revoke: db.prepare<[number, string]>('UPDATE tokens SET revoked_ts = ? WHERE id = ? AND revoked_ts IS NULL'),
      people: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM tokens WHERE kind IN ('user', 'operator')"),
      revokedAmong: db.prepare<[string], { id: string }>('SELECT id FROM tokens WHERE id IN (SELECT value FROM json_each(?)) AND revoked_ts IS NOT NULL'),
    };
  }

  /** Make a token; the token is in the answer and nowhere else, so show it once and forget it. */
  create(spec: NewToken, nowTs = Date.now()): { token: string; info: TokenInfo } {
    if (!TOKEN_KINDS.includes(spec.kind)) throw new Error(`token kind "${String(spec.kind)}": expected one of ${TOKEN_KINDS.join(', ')}`);
    checkName(spec.kind === 'node' ? 'node name' : `${spec.kind} name`, spec.name);
    const accounts = [...new Set(spec.accounts ?? [])];
    if (accounts.length > 0 && spec.kind !== 'user') throw new Error(`accounts: only user tokens carry accounts (operators see every account; agents none)`);
    for (const a of accounts) checkName('account', a);
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const id = `tok_${randomBytes(6).toString('hex')}`;
    this.#stmt.insert.run(id, digest(token), spec.kind, spec.name, JSON.stringify(accounts), nowTs);
    return { token, info: { id, kind: spec.kind, name: spec.name, accounts, createdTs: nowTs, revokedTs: null } };
  }

  /** Every token ever made, oldest first, revoked ones included (with when). */
  list(): TokenInfo[] {
    return this.#stmt.all.all().map(info);
  }

  /** Revoke by id; errors say whether the id is unknown or was revoked already. */
  revoke(id: string, nowTs = Date.now()): TokenInfo {
    const row = this.#stmt.byId.get(id);
    if (row === undefined) throw new Error(`token ${id}: no such token (see \`stroom token list\`)`);
    if (row.revoked_ts !== null) throw new Error(`token ${id}: already revoked at ${new Date(row.revoked_ts).toISOString()}`);
    this.#stmt.revoke.run(nowTs, id);
    return { ...info(row), revokedTs: nowTs };
  }

  /**
   * The valid token `token` is, if any. Looked up by digest: the digest of a guess says
   * nothing about how close the guess was, so an indexed lookup leaks no timing worth having.
   */
  lookup(token: string): TokenInfo | undefined {
    if (token === '') return undefined;
    const row = this.#stmt.byDigest.get(digest(token));
    return row === undefined || row.revoked_ts !== null ? undefined : info(row);
  }

  /** True when `token` is a valid agent token of `node`. */
  checkNode(node: string, token: string): boolean {
    const found = this.lookup(token);
    return found !== undefined && found.kind === 'node' && found.name === node;
  }

  /**
   * True once a user or operator token was ever made, revoked ones included: revoking the
   * last one must not open the API again.
   */
  hasPeople(): boolean {
    return (this.#stmt.people.get()?.n ?? 0) > 0;
  }

  /** Which of `ids` are revoked now. */
  revokedAmong(ids: readonly string[]): Set<string> {
    if (ids.length === 0) return new Set();
    return new Set(this.#stmt.revokedAmong.all(JSON.stringify(ids)).map((r) => r.id));
  }

  close(): void {
    this.#db.close();
  }
}
