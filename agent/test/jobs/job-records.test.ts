import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  formatGpuMap,
  formatJobRecord,
  parseGpuMap,
  parseJobRecord,
  readJobRecords,
  recordField,
  removeJobRecord,
  writeGpuMap,
  writeJobRecord,
  type JobRecord,
} from '../../src/jobs/job-records.js';

const GPU0 = 'GPU-00000000-0000-4000-8000-000000000000';
const GPU1 = 'GPU-11111111-1111-4111-8111-111111111111';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'stroom-job-records-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('job-records', () => {
  describe('#parseJobRecord', () => {
    it.each<[string, JobRecord | undefined]>([
      ['4242 1001 u.devries surf-llm 1764496800123 gpu_h100\n', { gpu: GPU0, jobId: '4242', uid: 1001, user: 'u.devries', account: 'surf-llm', startTs: 1764496800123, partition: 'gpu_h100' }],
      // The prolog writes `-` for what it did not know (no accounting: no account).
      ['1 0 root - 1796038583961 debug\n', { gpu: GPU0, jobId: '1', uid: 0, user: 'root', account: '', startTs: 1796038583961, partition: 'debug' }],
      ['7 - - - 1000 -\n', { gpu: GPU0, jobId: '7', user: '', account: '', startTs: 1000 }],
      // Extra fields from a later prolog version are ignored.
      ['7 5 bob acct 1000 p extra fields\n', { gpu: GPU0, jobId: '7', uid: 5, user: 'bob', account: 'acct', startTs: 1000, partition: 'p' }],
      ['7 5 bob acct 1000', { gpu: GPU0, jobId: '7', uid: 5, user: 'bob', account: 'acct', startTs: 1000 }],
      ['', undefined],
      ['garbage\n', undefined],
      ['7 5 bob acct notatime p\n', undefined],
      ['../x 5 bob acct 1000 p\n', undefined],
    ])('%j', (text, record) => {
      expect(parseJobRecord(GPU0, text)).toEqual(record);
    });
  });

  describe('#formatJobRecord', () => {
    it('writes six fields, replacing whitespace and marking unknowns with -', () => {
      expect(formatJobRecord({ jobId: '4242', uid: 1001, user: 'u de vries', account: '', startTs: 1764496800123, partition: 'gpu\th100' })).toBe('4242 1001 u_de_vries - 1764496800123 gpu_h100\n');
      expect(formatJobRecord({ jobId: '7', user: '', account: 'a\nb', startTs: 5 })).toBe('7 - - a_b 5 -\n');
    });

    it('round-trips through parseJobRecord', () => {
      const r: JobRecord = { gpu: GPU1, jobId: '99', uid: 7, user: 'alice', account: 'proj', startTs: 123, partition: 'gpu' };
      expect(parseJobRecord(GPU1, formatJobRecord(r))).toEqual(r);
    });

    it.each([
      ['', '-'],
      [undefined, '-'],
      [12, '12'],
      ['a b\tc\u0001d', 'a_b_c_d'],
    ])('recordField(%j) → %j', (v, out) => {
      expect(recordField(v)).toBe(out);
    });
  });

  describe('#readJobRecords', () => {
    it('reads every record, skipping temporary files and listing bad ones', async () => {
      const run = tmp();
      mkdirSync(join(run, 'jobs'));
      writeFileSync(join(run, 'jobs', GPU1), '12 1001 alice proj 2000 gpu\n');
      writeFileSync(join(run, 'jobs', GPU0), '11 1002 bob - 1000 gpu\n');
      writeFileSync(join(run, 'jobs', `.${GPU0}.Xa81k2`), '13 1 half');
      writeFileSync(join(run, 'jobs', 'GPU-broken'), 'nonsense\n');
      expect(await readJobRecords(run)).toEqual({
        records: [
          { gpu: GPU0, jobId: '11', uid: 1002, user: 'bob', account: '', startTs: 1000, partition: 'gpu' },
          { gpu: GPU1, jobId: '12', uid: 1001, user: 'alice', account: 'proj', startTs: 2000, partition: 'gpu' },
        ],
        bad: ['GPU-broken'],
      });
    });

    it('gives no records when the directory does not exist', async () => {
      expect(await readJobRecords(join(tmp(), 'nope'))).toEqual({ records: [], bad: [] });
    });
  });

  describe('#writeJobRecord / #removeJobRecord', () => {
    it('writes atomically (no temporary file left) and removes only the named job', async () => {
      const run = tmp();
      const r: JobRecord = { gpu: GPU0, jobId: '5', uid: 1, user: 'u', account: 'a', startTs: 10, partition: 'p' };
      await writeJobRecord(run, r);
      expect(readdirSync(join(run, 'jobs'))).toEqual([GPU0]);
      expect(readFileSync(join(run, 'jobs', GPU0), 'utf8')).toBe('5 1 u a 10 p\n');
      expect(await removeJobRecord(run, GPU0, '6')).toBe(false);
      expect(readdirSync(join(run, 'jobs'))).toEqual([GPU0]);
      expect(await removeJobRecord(run, GPU0, '5')).toBe(true);
      expect(readdirSync(join(run, 'jobs'))).toEqual([]);
      expect(await removeJobRecord(run, GPU0)).toBe(true);
    });
  });

  describe('GPU map', () => {
    const gpus = [
      { uuid: GPU1, index: 1, minor: 0, name: 'NVIDIA RTX A5000' },
      { uuid: GPU0, index: 0, minor: 1, name: 'NVIDIA RTX A5000' },
      { uuid: 'GPU-2', index: 2, name: 'no minor' },
    ];
    it('formats one `index minor uuid` line per GPU in index order', () => {
      expect(formatGpuMap(gpus)).toBe(`# index minor uuid (written by stroom-agent at start; read by the Slurm prolog)\n0 1 ${GPU0}\n1 0 ${GPU1}\n2 - GPU-2\n`);
    });

    it('round-trips through parseGpuMap and skips junk', () => {
      expect(parseGpuMap(`${formatGpuMap(gpus)}junk\n3\n`)).toEqual([
        { index: 0, minor: 1, uuid: GPU0 },
        { index: 1, minor: 0, uuid: GPU1 },
        { index: 2, uuid: 'GPU-2' },
      ]);
    });

    it('writeGpuMap writes <runDir>/gpus, creating the run dir', async () => {
      const run = join(tmp(), 'run');
      await writeGpuMap(run, gpus);
      expect(readdirSync(run)).toEqual(['gpus']);
      expect(readFileSync(join(run, 'gpus'), 'utf8')).toBe(formatGpuMap(gpus));
    });
  });
});
