/**
 * Encode and decode wire messages. Pure: no I/O. A rejection names the first field that
 * was wrong, so a close reason or a log line tells an operator what to fix.
 */
import type { z } from 'zod';
import { AgentMessageSchema, AckSchema, LiveMessageSchema, SubscribeSchema } from './messages.js';
import type { Ack, AgentMessage, LiveMessage, Subscribe } from './messages.js';
import { isExactBatch } from './batch-check.js';
export { parseAck } from './wire.js';

/** Result of decoding one frame. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

/** Dotted path of a zod issue, e.g. `samples[0].gpus[2].powerW`. */
function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(message)' : out;
}

/** Parse JSON text and validate it; never throws. */
function decodeWith<T>(schema: z.ZodType<T>, text: string, fast?: (raw: unknown) => raw is T): Decoded<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  if (fast?.(raw) === true) return { ok: true, value: raw };
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  if (issue === undefined) return { ok: false, error: 'invalid message' };
  return { ok: false, error: `${pathOf(issue.path)}: ${issue.message}` };
}

/** Decode an agent -> collector frame (hello or batch). */
export function decodeAgentMessage(text: string): Decoded<AgentMessage> {
  return decodeWith(AgentMessageSchema, text, isExactBatch);
}

/** Decode a collector -> agent frame. */
export function decodeAck(text: string): Decoded<Ack> {
  return decodeWith(AckSchema, text);
}

/** Decode a dashboard -> collector frame. */
export function decodeSubscribe(text: string): Decoded<Subscribe> {
  return decodeWith(SubscribeSchema, text);
}

/** Decode a collector -> dashboard frame. */
export function decodeLiveMessage(text: string): Decoded<LiveMessage> {
  return decodeWith(LiveMessageSchema, text);
}

export { encode } from './wire.js';

/** UTF-8 length of a string in bytes (protocol has no DOM or Node globals). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** Truncate a close reason to the 123 bytes RFC 6455 allows. */
export function closeReason(text: string): string {
  if (utf8Length(text) <= 123) return text;
  let cut = [...text].slice(0, 120);
  while (utf8Length(cut.join('') + '...') > 123) cut = cut.slice(0, -1);
  return cut.join('') + '...';
}
