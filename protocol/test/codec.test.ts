import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { closeReason, decodeAck, decodeAgentMessage, decodeSubscribe, encode } from '../src/codec.js';

function frame(name: string): string {
  return readFileSync(new URL(`./frames/${name}`, import.meta.url), 'utf8').trim();
}

describe('codec', () => {
  describe('round trip of checked-in frames', () => {
    for (const name of ['hello-v1.json', 'batch-v1.json']) {
      it(name, () => {
        const text = frame(name);
        const decoded = decodeAgentMessage(text);
        expect(decoded).toEqual({ ok: true, value: JSON.parse(text) });
        if (!decoded.ok) return;
        expect(JSON.parse(encode(decoded.value))).toEqual(JSON.parse(text));
      });
    }
    it('ack-v1.json', () => {
      expect(decodeAck(frame('ack-v1.json'))).toEqual({ ok: true, value: { v: 1, type: 'ack', seq: 42 } });
    });
  });

  it('ignores fields it does not know (a newer agent talks to an older collector)', () => {
    const decoded = decodeAgentMessage(frame('batch-from-newer-agent.json'));
    expect(decoded.ok).toBe(true);
    expect(decoded.ok && 'futureField' in decoded.value).toBe(false);
  });

  describe('rejection names the field', () => {
    const batch = (): Record<string, unknown> => JSON.parse(frame('batch-v1.json')) as Record<string, unknown>;
    const cases: Array<[string, (b: any) => void, string]> = [
      ['power as a string', (b) => { b.samples[0].gpus[0].powerW = '612'; }, 'samples[0].gpus[0].powerW: Invalid input: expected number, received string'],
      ['negative counter', (b) => { b.counters.devices[1].energyMj = -5; }, 'counters.devices[1].energyMj: Too small: expected number to be >=0'],
      ['fractional counter', (b) => { b.counters.jobs[0].gpuEnergyMj = 1.5; }, 'counters.jobs[0].gpuEnergyMj: Invalid input: expected int, received number'],
      ['seq zero', (b) => { b.seq = 0; }, 'seq: Too small: expected number to be >0'],
      ['utilisation as percent', (b) => { b.samples[0].gpus[0].utilRatio = 97; }, 'samples[0].gpus[0].utilRatio: Too big: expected number to be <=1'],
      ['missing node', (b) => { delete b.node; }, 'node: Invalid input: expected string, received undefined'],
      ['unknown version', (b) => { b.v = 2; }, 'v: Invalid input: expected 1'],
      ['unknown device kind', (b) => { b.counters.devices[0].kind = 'fpga'; }, 'counters.devices[0].kind: Invalid option: expected one of "gpu"|"cpu"|"dram"'],
    ];
    for (const [what, mutate, error] of cases) {
      it(what, () => {
        const b = batch();
        mutate(b);
        expect(decodeAgentMessage(JSON.stringify(b))).toEqual({ ok: false, error });
      });
    }
    it('unknown message type', () => {
      const out = decodeAgentMessage('{"v":1,"type":"hullo"}');
      expect(out.ok).toBe(false);
      expect(!out.ok && out.error).toMatch(/^type: /);
    });
    it('not JSON', () => {
      const out = decodeAgentMessage('{"v":1,');
      expect(out.ok).toBe(false);
      expect(!out.ok && out.error).toMatch(/^not JSON: /);
    });
    it('subscribe to a topic that does not exist', () => {
      const out = decodeSubscribe('{"v":1,"type":"subscribe","topics":["everything"]}');
      expect(out.ok).toBe(false);
      expect(!out.ok && out.error).toMatch(/^topics\[0\]: /);
    });
  });

  describe('closeReason', () => {
    it('keeps a reason within the 123 bytes a close frame allows', () => {
      expect(closeReason('short')).toBe('short');
      const long = 'é'.repeat(200);
      const cut = closeReason(long);
      // UTF-8 length without Node's Buffer: protocol tests run with no Node types.
      expect(encodeURIComponent(cut).replace(/%[0-9A-F]{2}/g, 'x').length).toBeLessThanOrEqual(123);
      expect(cut.endsWith('...')).toBe(true);
    });
  });
});
