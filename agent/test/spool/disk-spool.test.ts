import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { DiskSpool } from '../../src/spool/disk-spool.js';
import { batchOf, describeSpool } from './spool.contract.js';

const root = mkdtempSync(join(tmpdir(), 'stroom-spool-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `s${n++}`);
const log = pino({ level: 'silent' });

describeSpool('DiskSpool', (maxBytes) => new DiskSpool({ dir: fresh(), log, segmentBytes: 600, ...(maxBytes === undefined ? {} : { maxBytes }) }));

describe('DiskSpool', () => {
  describe('#restart', () => {
    it('replays unacked batches in order after a restart', () => {
      const dir = fresh();
      const a = new DiskSpool({ dir, log, segmentBytes: 700 });
      for (let seq = 1; seq <= 10; seq++) a.append(batchOf(seq));
      a.ack(4);
      const b = new DiskSpool({ dir, log, segmentBytes: 700 });
      const seen: number[] = [];
      for (let item = b.next(0); item !== undefined; item = b.next(item.seq)) seen.push(item.seq);
      expect(seen).toEqual([5, 6, 7, 8, 9, 10]);
      expect(b.lastSeq).toBe(10);
    });

    it('cuts a torn last record with one warning and keeps the rest', () => {
      const dir = fresh();
      const a = new DiskSpool({ dir, log });
      for (let seq = 1; seq <= 3; seq++) a.append(batchOf(seq));
      const file = join(dir, readdirSync(dir)[0] ?? '');
      appendFileSync(file, JSON.stringify(batchOf(4)).slice(0, 40));
      const warnings: string[] = [];
      const b = new DiskSpool({ dir, log: pino({ level: 'warn' }, { write: (l: string) => warnings.push((JSON.parse(l) as { msg: string }).msg) }) });
      expect(b.stats.batches).toBe(3);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^spool: cut a torn or corrupt record at byte \d+ of seg-0000000000000001\.jsonl/);
      b.append(batchOf(4));
      expect(new DiskSpool({ dir, log }).stats.batches).toBe(4);
    });

    it('removes segment files once every batch in them is acked', () => {
      const dir = fresh();
      const a = new DiskSpool({ dir, log, segmentBytes: 300 });
      for (let seq = 1; seq <= 6; seq++) a.append(batchOf(seq));
      const before = readdirSync(dir).length;
      a.ack(6);
      expect(before).toBeGreaterThan(1);
      expect(readdirSync(dir)).toEqual([]);
      expect(a.stats).toEqual({ batches: 0, bytes: 0, dropped: 0 });
    });
  });
});
