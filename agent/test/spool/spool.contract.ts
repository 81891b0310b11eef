/** The contract every Spool implementation must keep; each implementation's test calls it. */
import { describe, expect, it } from 'vitest';
import type { Batch } from '@stroom/protocol';
import type { Spool } from '../../src/spool/spool.js';

/** A small valid batch with the given seq. */
export function batchOf(seq: number): Batch {
  return {
    v: 1, type: 'batch', node: 'n1', epoch: 'e1', seq, ts: 1_764_496_800_000 + seq * 1000, samples: [],
    counters: { devices: [{ id: 'GPU-a', kind: 'gpu', energyMj: seq * 1000 }], jobs: [], idle: { gpuEnergyMj: seq * 1000, cpuEnergyMj: 0 } },
    jobs: [], gaps: 0,
  };
}

/** Run the Spool contract against `make(maxBytes)`. */
export function describeSpool(name: string, make: (maxBytes?: number) => Spool): void {
  describe(name, () => {
    describe('#next', () => {
      it('gives batches oldest first, after a seq', () => {
        const spool = make();
        for (const seq of [1, 2, 3]) spool.append(batchOf(seq));
        expect(spool.next(0)?.seq).toBe(1);
        expect(spool.next(1)?.seq).toBe(2);
        expect(spool.next(3)).toBeUndefined();
        expect(JSON.parse(spool.next(2)?.frame ?? '')).toEqual(batchOf(3));
      });
    });
    describe('#ack', () => {
      it('removes batches up to and including the seq, and only those', () => {
        const spool = make();
        for (const seq of [1, 2, 3, 4]) spool.append(batchOf(seq));
        spool.ack(2);
        expect(spool.stats.batches).toBe(2);
        expect(spool.next(0)?.seq).toBe(3);
        spool.ack(10);
        expect(spool.stats).toEqual({ batches: 0, bytes: 0, dropped: 0 });
      });
    });
    describe('#append', () => {
      it('refuses a seq that does not increase', () => {
        const spool = make();
        spool.append(batchOf(5));
        expect(() => spool.append(batchOf(5))).toThrow('spool: seq 5 is not after 5');
      });
      it('drops the oldest batches at the byte cap and counts them', () => {
        const size = JSON.stringify(batchOf(1)).length;
        const spool = make(size * 3 + 10);
        for (let seq = 1; seq <= 10; seq++) spool.append(batchOf(seq));
        // Implementations may drop in units (a disk segment), but never newer before older.
        const { batches, dropped, bytes } = spool.stats;
        expect(batches).toBeGreaterThanOrEqual(1);
        expect(batches).toBeLessThanOrEqual(3);
        expect(bytes).toBeLessThanOrEqual(size * 3 + 10);
        expect(batches + dropped).toBe(10);
        expect(spool.next(0)?.seq).toBe(11 - batches);
      });
      it('holds many batches and finds the next one quickly', () => {
        const spool = make();
        for (let seq = 1; seq <= 5000; seq++) spool.append(batchOf(seq));
        spool.ack(2500);
        expect(spool.next(4000)?.seq).toBe(4001);
        expect(spool.stats.batches).toBe(2500);
      });
    });
  });
}
