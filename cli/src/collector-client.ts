/**
 * The CLI's side of the collector's HTTP API, shared by `stroom job` and `stroom report`: the
 * base URL, the bearer token, one GET with a timeout, and answers checked against the protocol
 * schema. Every failure says what to check, naming the collector it asked.
 */
import { readFileSync } from 'node:fs';

/** Where `stroom job` and `stroom report` look when not told. */
export const DEFAULT_COLLECTOR_URL = 'http://127.0.0.1:8080';

/** The token in a `--token-file`; the error names the file. */
export function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`--token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The `--collector` URL, checked. */
export function collectorBase(raw: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw new Error(`--collector: expected a URL such as ${DEFAULT_COLLECTOR_URL}, got "${raw}"`);
  }
}

/** An API path under the collector's URL (which may itself have a path, behind a proxy). */
export function apiUrl(base: URL, path: string): URL {
  return new URL(path, base.href.endsWith('/') ? base : `${base.href}/`);
}

/** GET `url`; an unreachable collector or a timeout becomes an error that says what to check. */
export async function getFromCollector(url: URL, base: URL, o: { readonly token: string | undefined; readonly timeoutMs: number; readonly runsHint?: string }): Promise<Response> {
  try {
    return await fetch(url, { headers: o.token === undefined ? {} : { authorization: `Bearer ${o.token}` }, signal: AbortSignal.timeout(o.timeoutMs) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new Error(`cannot reach the collector at ${base.origin} (${why}): check that it runs there${o.runsHint ?? ''}, and the URL (--collector or STROOM_COLLECTOR_URL)`);
  }
}

/** The error an API answer carries (`{ error }`), or the start of a body that is not one. */
export function errorText(text: string): string {
  try {
    const e = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof e === 'string') return e;
  } catch {
    // not JSON: show the start of it
  }
  return text.slice(0, 200);
}

/** A zod schema as far as this module uses it (so the CLI loads zod only when it checks an answer). */
interface Checker<T> {
  safeParse(x: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
}

/** Parse an answer's JSON and check it against `schema`; `what` names it in the error ("a job"). */
export function checkedAnswer<T>(text: string, base: URL, schema: Checker<T>, what: string): T {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`the collector at ${base.origin} answered with something that is not JSON (is ${base.origin} a stroom collector?)`);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`the collector at ${base.origin} sent ${what} this stroom cannot read (${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}); are the collector and this stroom the same version?`);
  }
  return parsed.data;
}
