/**
 * Property-based fuzzing of the codec: valid messages of every kind round-trip unchanged, and
 * hostile edits of them (structural and textual) never make a decoder throw; each rejection
 * names the field it is about or says what is wrong with the text. `npm run bench -- fuzz`
 * runs 100,000 such cases.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAck, decodeAgentMessage, decodeLiveMessage, decodeSubscribe, encode, parseAck } from '../src/codec.js';
import { batchArb, checkProtocolCase, helloArb, protocolCaseArb, subscribeArb, type ProtocolCase } from './arbitraries.js';

describe('fuzz: codec', () => {
  it('valid Hello, Batch and Subscribe messages round-trip through encode and decode unchanged', () => {
    fc.assert(fc.property(fc.oneof(helloArb, batchArb), (m) => {
      expect(decodeAgentMessage(encode(m))).toEqual({ ok: true, value: m });
    }), { numRuns: 300 });
    fc.assert(fc.property(subscribeArb, (m) => {
      expect(decodeSubscribe(encode(m))).toEqual({ ok: true, value: m });
    }), { numRuns: 300 });
  });

  it('hostile edits never throw; a rejection names the field or says what is wrong with the text', () => {
    fc.assert(
      fc.property(protocolCaseArb, (c: ProtocolCase) => {
        expect(checkProtocolCase(c)).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  }, 120_000);

  it('random text never makes any decoder throw', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        for (const decode of [decodeAgentMessage, decodeSubscribe, decodeAck, decodeLiveMessage]) {
          const out = decode(text);
          expect(out.ok || out.error.length > 0).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  describe('regressions found by fuzzing', () => {
    it('parseAck (the agent\'s zod-free decoder) refuses a seq past 2^53, as the schema does', () => {
      const text = '{"v":1,"type":"ack","seq":9007199254740992}';
      expect(parseAck(text)).toEqual({ ok: false, error: 'seq: expected a positive safe integer' });
      expect(decodeAck(text)).toEqual({ ok: false, error: 'seq: Too big: expected int to be <=9007199254740991' });
    });

    it('100,000 nested arrays where a field belongs are refused, naming the field, without a stack overflow', () => {
      const deep = '['.repeat(100_000) + ']'.repeat(100_000);
      expect(decodeSubscribe(`{"v":1,"type":"subscribe","topics":${deep}}`)).toEqual({ ok: false, error: 'topics[0]: Invalid input' });
    });
  });
});
