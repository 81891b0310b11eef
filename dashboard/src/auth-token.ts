/**
 * The token plumbing of the page, in one place: the token lives in sessionStorage (gone when
 * the tab closes), goes to the API as `Authorization: Bearer <token>` and to `/ws/live` as the
 * subprotocol `stroom.bearer.<token>` next to `stroom.v1` (browsers cannot set headers on a
 * WebSocket; the collector strips the entry before anything else sees it).
 */
const KEY = 'stroom.token';

/** Subprotocol the live feed answers with. */
export const LIVE_SUBPROTOCOL = 'stroom.v1';
/** Prefix of the subprotocol entry that carries the token. */
export const BEARER_SUBPROTOCOL_PREFIX = 'stroom.bearer.';

/** Where the token is kept; sessionStorage in the page, a Map in tests. */
export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function storage(): TokenStorage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null; // storage disabled by the browser
  }
}

export function getToken(s: TokenStorage | null = storage()): string | null {
  const t = s?.getItem(KEY) ?? null;
  return t === null || t.trim() === '' ? null : t.trim();
}

/** Keep a token; refuses one that could not travel in a header or a subprotocol. */
export function setToken(token: string, s: TokenStorage | null = storage()): void {
  const t = token.trim();
  if (!/^[\x21-\x7e]+$/.test(t) || /[,;\s"]/.test(t)) throw new Error('a token is one word of printable ASCII without commas, semicolons or quotes');
  s?.setItem(KEY, t);
}

export function clearToken(s: TokenStorage | null = storage()): void {
  s?.removeItem(KEY);
}

/** Request headers for the API. */
export function authHeaders(token: string | null = getToken()): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json' };
  if (token !== null) h['authorization'] = `Bearer ${token}`;
  return h;
}

/** Subprotocols for `/ws/live`. */
export function liveProtocols(token: string | null = getToken()): string[] {
  return token === null ? [LIVE_SUBPROTOCOL] : [LIVE_SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${token}`];
}

/** An API answer: the parsed body, or the status and the server's error text. */
export type ApiResult<T> = { ok: true; body: T } | { ok: false; status: number; error: string };

/** GET a JSON document from the API (a path relative to the page), with the token. */
export async function apiGet<T>(path: string): Promise<ApiResult<T>> {
  let res: Response;
  try {
    res = await fetch(path, { headers: authHeaders() });
  } catch (err) {
    return { ok: false, status: 0, error: `collector unreachable: ${(err as Error).message}` };
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (res.ok) return { ok: true, body: body as T };
  const error = typeof (body as { error?: unknown } | undefined)?.error === 'string' ? (body as { error: string }).error : `HTTP ${res.status}`;
  return { ok: false, status: res.status, error };
}
