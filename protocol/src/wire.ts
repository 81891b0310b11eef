/**
 * The parts of the protocol an agent needs at run time, without zod: constants, units,
 * encoding, and the one frame an agent receives (Ack), checked by hand. zod adds ~15 MB to a
 * process; the agent runs on every GPU node and should stay small. The collector, which
 * receives untrusted frames of every kind, validates with the zod schemas in `codec.ts`.
 */
import type { Ack } from './messages.js';
import { PROTOCOL_VERSION } from './constants.js';

export * from './constants.js';
export * from './units.js';
export * from './semconv.js';
export * from './hw-metrics.js';

/** Encode any message as one JSON text frame. */
export function encode(message: object): string {
  return JSON.stringify(message);
}

/** Decode an Ack frame; the error names what was wrong, like the zod codec's. */
export function parseAck(text: string): { ok: true; value: Ack } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, error: '(message): expected object' };
  const m = raw as Record<string, unknown>;
  if (m['v'] !== PROTOCOL_VERSION) return { ok: false, error: `v: expected ${PROTOCOL_VERSION}` };
  if (m['type'] !== 'ack') return { ok: false, error: 'type: expected "ack"' };
  const seq = m['seq'];
  // Safe integers only, as the schema's `.int()`: 2^53 + 1 reads as 2^53, so an ack for it would drop the wrong batches.
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= 0) return { ok: false, error: 'seq: expected a positive safe integer' };
  return { ok: true, value: { v: PROTOCOL_VERSION, type: 'ack', seq } };
}
