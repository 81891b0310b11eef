import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isExactBatch } from '../src/batch-check.js';
import { decodeAgentMessage } from '../src/codec.js';
import { BatchSchema } from '../src/messages.js';
import { applyJsonMutation, batchArb, jsonMutationArb } from './arbitraries.js';

/** The fast path may only ever say yes where zod says yes and hands back the very same value. */
function agreesWithSchema(raw: unknown): void {
  if (!isExactBatch(raw)) return;
  const parsed = BatchSchema.safeParse(raw);
  expect(parsed.success).toBe(true);
  expect(parsed.data).toEqual(raw);
}

describe('isExactBatch (the collector fast path for Batch frames)', () => {
  it('accepts every valid batch without unknown fields, exactly as the schema returns it', () => {
    fc.assert(fc.property(batchArb, (batch) => {
      const raw = JSON.parse(JSON.stringify(batch)) as unknown;
      expect(isExactBatch(raw)).toBe(true);
      agreesWithSchema(raw);
    }), { numRuns: 500 });
  });

  it('never accepts what the schema refuses or would change, whatever the edit', () => {
    fc.assert(fc.property(batchArb, jsonMutationArb, (batch, mutation) => {
      const edited = applyJsonMutation(batch, mutation);
      let raw: unknown;
      try {
        raw = JSON.parse(edited.text);
      } catch {
        return;
      }
      agreesWithSchema(raw);
      if (edited.mustReject) expect(isExactBatch(raw)).toBe(false);
    }), { numRuns: 300 });
  }, 60_000);

  it('leaves a batch with an extra field to the schema, which strips it', () => {
    const batch = fc.sample(batchArb, { seed: 7, numRuns: 1 })[0]!;
    const newer = { ...JSON.parse(JSON.stringify(batch)), fromTheFuture: 1, counters: { ...batch.counters, extra: [] } } as unknown;
    expect(isExactBatch(newer)).toBe(false);
    const decoded = decodeAgentMessage(JSON.stringify(newer));
    expect(decoded).toEqual({ ok: true, value: JSON.parse(JSON.stringify(batch)) });
  });

  it('still names the field when the fast path declines a broken batch', () => {
    const batch = fc.sample(batchArb, { seed: 3, numRuns: 1 })[0]!;
    const broken = { ...batch, counters: { ...batch.counters, idle: { gpuEnergyMj: -1, cpuEnergyMj: 0 } } };
    expect(decodeAgentMessage(JSON.stringify(broken))).toEqual({ ok: false, error: 'counters.idle.gpuEnergyMj: Too small: expected number to be >=0' });
  });
});
