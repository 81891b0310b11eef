import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { GpuInfo } from '@stroom/protocol';
import {
  allocationOn,
  expandHostList,
  gpusInIdxOrder,
  parseGresIdx,
  parseRangeList,
  parseScontrolJobs,
  parseSlurmTime,
  parseSqueue,
  parseSqueueJobs,
  type ScontrolJob,
  type SqueueJob,
} from '../../src/jobs/slurm-parse.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/slurm/', import.meta.url));
const fixture = (name: string): string => readFileSync(`${FIXTURES}${name}`, 'utf8');
/** Slurm prints local time; the parser reads it in the test process's own time zone. */
const local = (y: number, mo: number, d: number, h: number, mi: number, s: number): number => new Date(y, mo - 1, d, h, mi, s).getTime();

const detail = (nodes: string[], cpuIds: number[], gpuIdx: number[] = [], cpuIdsTruncated = false) => ({ nodes, cpuIds, cpuIdsTruncated, gpuIdx });

describe('slurm-parse', () => {
  describe('#parseRangeList', () => {
    it.each([
      ['0-1', [0, 1], false],
      ['0,2-3,5', [0, 2, 3, 5], false],
      ['7', [7], false],
      ['', [], false],
      ['10-11,15,21', [10, 11, 15, 21], false],
      ['112,115-', [112], true],
      ['N/A', [], true],
    ])('%j → %j (truncated %j)', (text, values, truncated) => {
      expect(parseRangeList(text)).toEqual({ values, truncated });
    });
  });

  describe('#expandHostList', () => {
    it.each([
      ['vm', ['vm']],
      ['node-[63-65]', ['node-63', 'node-64', 'node-65']],
      ['omni[1,10-12]', ['omni1', 'omni10', 'omni11', 'omni12']],
      ['omni[19,21]', ['omni19', 'omni21']],
      ['gcn[008-010]', ['gcn008', 'gcn009', 'gcn010']],
      ['a100gpu2,v100gpu[10-11]', ['a100gpu2', 'v100gpu10', 'v100gpu11']],
      ['rack[1-2]-n[1-2]', ['rack1-n1', 'rack1-n2', 'rack2-n1', 'rack2-n2']],
      ['', []],
    ])('%j → %j', (text, hosts) => {
      expect(expandHostList(text)).toEqual(hosts);
    });
  });

  describe('#parseGresIdx', () => {
    it.each([
      ['gpu:2(IDX:0-1)', [0, 1]],
      ['gpu(IDX:0,2-3)', [0, 2, 3]],
      ['gpu(IDX:0,2-3,5)', [0, 2, 3, 5]],
      ['gpu:h100:2(IDX:4,6)', [4, 6]],
      ['gpu:a100_3g.40gb:1(IDX:2)', [2]],
      ['gpu:rtx2080:1(IDX:1),gg:g0(CNT:1)', [1]],
      ['gg:g0(CNT:1),gpu:1(IDX:3)', [3]],
      ['gpu:h100:1(IDX:0),gpu:a100:1(IDX:5)', [0, 5]],
      ['gpu:0(IDX:N/A)', []],
      ['shard:2(IDX:0)', []],
      ['', []],
    ])('%j → %j', (text, idx) => {
      expect(parseGresIdx(text)).toEqual(idx);
    });
  });

  describe('#parseSlurmTime', () => {
    it.each([
      ['2019-01-31T10:35:53', local(2019, 1, 31, 10, 35, 53)],
      ['2026-11-30T11:36:55', local(2026, 11, 30, 11, 36, 55)],
      ['Unknown', undefined],
      ['N/A', undefined],
      ['None', undefined],
      ['Mon Nov 30', undefined],
    ])('%j → %j', (text, ts) => {
      expect(parseSlurmTime(text)).toBe(ts);
    });
  });

  describe('#parseScontrolJobs', () => {
    const cases: { file: string; jobs: ScontrolJob[] }[] = [
      {
        file: 'scontrol-show-job-d-gres-idx-multiversion-2019-2025.txt',
        jobs: [
          {
            id: '1', name: 'name1', user: 'user1', uid: 100, account: 'account1', state: 'RUNNING', partition: 'long', startTs: local(2019, 1, 31, 10, 35, 53),
            nodes: ['node-63', 'node-64', 'node-65'], numCpus: 8, numNodes: 3,
            details: [detail(['node-63'], [22, 23]), detail(['node-64'], [0, 4, 5, 6, 7]), detail(['node-65'], [20, 21])],
          },
          {
            id: '2398617', arrayJobId: '2398463', arrayTaskId: '150', name: 'parallel.sh', user: 'user2', uid: 200, account: 'account1', state: 'COMPLETED', partition: 'long',
            startTs: local(2019, 1, 31, 12, 26, 8), nodes: ['node-44'], numCpus: 2, numNodes: 1, details: [detail(['node-44'], [2, 3])],
          },
          {
            id: '153291', name: 'name3', user: 'user3', uid: 300, account: 'oabend', state: 'RUNNING', partition: 'medium', startTs: local(2019, 2, 7, 16, 5, 9),
            nodes: ['node-06'], numCpus: 4, numNodes: 1, details: [detail(['node-06'], [10, 11, 15, 21], [0, 2, 3, 5])],
          },
          { id: '134238037', name: 'wrap', user: 'user3', uid: 300, account: 'irush', state: 'PENDING', partition: 'long,other', nodes: [], numCpus: 4, numNodes: 1, details: [] },
          {
            id: '2423559', arrayJobId: '2423430', arrayTaskId: '72', name: 'tsn', user: 'user4', uid: 400, account: 'account4', state: 'RUNNING', partition: 'short',
            startTs: local(2019, 12, 2, 15, 28, 10), nodes: ['cortex-08'], numCpus: 1, numNodes: 1, details: [detail(['cortex-08'], [20], [5])],
          },
          {
            id: '20547', name: 'test', user: 'user5', uid: 500, account: 'account5', state: 'PENDING', partition: 'short,long,other', startTs: local(2020, 1, 21, 12, 22, 42),
            nodes: [], numCpus: 2, numNodes: 2, details: [],
          },
          {
            id: '1306093', name: 'test_06112019.sh', user: 'user6', uid: 600, account: 'account6', state: 'RUNNING', partition: 'medium', startTs: local(2022, 2, 8, 16, 2, 28),
            nodes: ['node-12'], numCpus: 64, numNodes: 1,
            details: [
              detail(
                ['node-12'],
                [2, 3, 6, 7, 10, 12, 13, 16, 18, 19, 28, 31, 33, 34, 35, 36, 40, 41, 42, 44, 47, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 66, 68, 69, 72, 73, 76, 77, 78, 81, 84, 86, 87, 88, 90, 91, 99, 100, 103, 105, 107, 108, 109, 112],
                [],
                true,
              ),
            ],
          },
          {
            id: '25686416', name: 'test', user: 'user6', uid: 600, account: 'account6', state: 'RUNNING', partition: 'interactive', startTs: local(2025, 3, 19, 15, 41, 19),
            nodes: ['node-005'], numCpus: 2, numNodes: 1, details: [detail(['node-005'], [14, 15], [3])],
          },
          {
            id: '25687666', name: 'test', user: 'user6', uid: 600, account: 'system', state: 'RUNNING', partition: 'interactive', startTs: local(2025, 3, 19, 16, 31, 1),
            nodes: ['node-001'], numCpus: 2, numNodes: 1, details: [detail(['node-001'], [2, 3], [1])],
          },
        ],
      },
      {
        file: 'slurm-22.05.8__scontrol-d-show-job__all.txt',
        jobs: [
          { id: '1', name: 'train', user: 'root', uid: 0, account: '', state: 'COMPLETED', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 23), nodes: ['vm'], numCpus: 1, numNodes: 1, details: [detail(['vm'], [0])] },
          { id: '2', name: 'my infer', user: 'root', uid: 0, account: '', state: 'COMPLETED', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 23), nodes: ['vm'], numCpus: 1, numNodes: 1, details: [detail(['vm'], [1])] },
          { id: '3', name: 'train llm', user: 'root', uid: 0, account: '', state: 'CANCELLED', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 41), nodes: ['vm'], numCpus: 1, numNodes: 1, details: [detail(['vm'], [0])] },
          { id: '5', arrayJobId: '4', arrayTaskId: '0', name: 'sweep', user: 'root', uid: 0, account: '', state: 'CANCELLED', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 44), nodes: ['vm'], numCpus: 1, numNodes: 1, details: [detail(['vm'], [1])] },
          { id: '4', arrayJobId: '4', arrayTaskId: '1', name: 'sweep', user: 'root', uid: 0, account: '', state: 'CANCELLED', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 44), nodes: [], numCpus: 1, numNodes: 1, details: [] },
          { id: '6', name: 'train llm', user: 'root', uid: 0, account: '', state: 'CANCELLED', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 47), nodes: ['vm'], numCpus: 1, numNodes: 1, details: [detail(['vm'], [0])] },
          { id: '8', arrayJobId: '7', arrayTaskId: '0', name: 'sweep', user: 'root', uid: 0, account: '', state: 'CANCELLED', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 47), nodes: ['vm'], numCpus: 1, numNodes: 1, details: [detail(['vm'], [1])] },
          { id: '7', arrayJobId: '7', arrayTaskId: '1', name: 'sweep', user: 'root', uid: 0, account: '', state: 'CANCELLED', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 47), nodes: [], numCpus: 1, numNodes: 1, details: [] },
          { id: '9', name: 'train llm', user: 'root', uid: 0, account: '', state: 'RUNNING', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 55), nodes: ['vm'], numCpus: 1, numNodes: 1, details: [detail(['vm'], [0], [0, 1])] },
          { id: '11', arrayJobId: '10', arrayTaskId: '0', name: 'sweep', user: 'root', uid: 0, account: '', state: 'RUNNING', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 55), nodes: ['vm'], numCpus: 1, numNodes: 1, details: [detail(['vm'], [1], [2])] },
          { id: '10', arrayJobId: '10', arrayTaskId: '1', name: 'sweep', user: 'root', uid: 0, account: '', state: 'PENDING', partition: 'debug', nodes: [], numCpus: 1, numNodes: 1, details: [] },
        ],
      },
      {
        file: 'slurm-22.05.8__scontrol-d-o-show-job__one.txt',
        jobs: [
          { id: '9', name: 'train llm', user: 'root', uid: 0, account: '', state: 'RUNNING', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 55), nodes: ['vm'], numCpus: 1, numNodes: 1, details: [detail(['vm'], [0], [0, 1])] },
        ],
      },
    ];
    it.each(cases)('$file', ({ file, jobs }) => {
      expect(parseScontrolJobs(fixture(file))).toEqual(jobs);
    });

    it('reads the one-line form the same as the multi-line form', () => {
      const multi = parseScontrolJobs(fixture('slurm-22.05.8__scontrol-d-show-job__all.txt')).find((j) => j.id === '9');
      expect(parseScontrolJobs(fixture('slurm-22.05.8__scontrol-d-o-show-job__one.txt'))).toEqual([multi]);
    });

    it('reads typed GRES, N/A account and an array task in one-line form', () => {
      const text =
        'JobId=1235 ArrayJobId=1234 ArrayTaskId=5 JobName=sweep lr=0.1 UserId=alice(1001) GroupId=alice(1001) Account=N/A JobState=RUNNING ' +
        'StartTime=2025-06-01T08:00:00 Partition=gpu_h100 NodeList=gcn[1-2] NumNodes=2 NumCPUs=32 JOB_GRES=gpu:h100:8 ' +
        'Nodes=gcn1 CPU_IDs=0-15 Mem=0 GRES=gpu:h100:4(IDX:0-3) Nodes=gcn2 CPU_IDs=16-31 Mem=0 GRES=gpu:h100:4(IDX:4-7) MinCPUsNode=16\n';
      expect(parseScontrolJobs(text)).toEqual([
        {
          id: '1235', arrayJobId: '1234', arrayTaskId: '5', name: 'sweep lr=0.1', user: 'alice', uid: 1001, account: '', state: 'RUNNING', partition: 'gpu_h100',
          startTs: local(2025, 6, 1, 8, 0, 0), nodes: ['gcn1', 'gcn2'], numCpus: 32, numNodes: 2,
          details: [
            detail(['gcn1'], Array.from({ length: 16 }, (_, i) => i), [0, 1, 2, 3]),
            detail(['gcn2'], Array.from({ length: 16 }, (_, i) => 16 + i), [4, 5, 6, 7]),
          ],
        },
      ]);
    });

    it('gives nothing for an error message or empty output', () => {
      expect(parseScontrolJobs('slurm_load_jobs error: Invalid job id specified\n')).toEqual([]);
      expect(parseScontrolJobs('')).toEqual([]);
    });
  });

  describe('#allocationOn', () => {
    const jobs = parseScontrolJobs(fixture('scontrol-show-job-d-gres-idx-multiversion-2019-2025.txt'));
    const job = (id: string): ScontrolJob => jobs.find((j) => j.id === id) as ScontrolJob;
    it.each([
      ['1', 'node-64', { gpuIdx: [], cpus: 5 }],
      ['1', 'node-65', { gpuIdx: [], cpus: 2 }],
      ['1', 'node-99', undefined],
      ['153291', 'node-06', { gpuIdx: [0, 2, 3, 5], cpus: 4 }],
      ['25687666', 'node-001', { gpuIdx: [1], cpus: 2 }],
      // The cut CPU list lists 54 CPUs; the job has 64 on its one node.
      ['1306093', 'node-12', { gpuIdx: [], cpus: 64 }],
      ['134238037', 'node-06', undefined],
    ])('job %s on %s → %j', (id, node, alloc) => {
      expect(allocationOn(job(id), node)).toEqual(alloc);
    });
  });

  describe('#parseSqueue', () => {
    it('splits a format with two separators, a free-text reason and an array task id (Habrok capture)', () => {
      const rows = parseSqueue(fixture('squeue-format-jobid-dependency-reason-cpus-habrok.txt'), '%i|%E;%R;%C');
      expect(rows).toEqual([
        { i: '7219441', E: 'afterany:7219440(unfulfilled)', R: '(Dependency)', C: '384' },
        { i: '7635166', E: 'afterany:7635165(unfulfilled)', R: '(Dependency)', C: '256' },
        { i: '8094007', E: 'afterany:8094006(unfulfilled)', R: '(Dependency)', C: '256' },
        { i: '7859587', E: '(null)', R: '(Priority)', C: '128' },
        { i: '8323312', E: '(null)', R: '(Priority)', C: '1' },
        { i: '8322514_33', E: '(null)', R: 'gelifes3', C: '8' },
        { i: '8326038', E: '(null)', R: '(Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions)', C: '1' },
        { i: '8208860', E: '(null)', R: '(Priority)', C: '256' },
        { i: '8298012', E: '(null)', R: 'v100gpu21', C: '8' },
        { i: '8202099', E: '(null)', R: 'a100gpu3', C: '8' },
      ]);
    });

    it('ignores field widths and lets the last field keep the separator', () => {
      expect(parseSqueue('  42|a|b|c\n\n', '%.6i|%j')).toEqual([{ i: '42', j: 'a|b|c' }]);
    });

    it('skips lines that lack a separator', () => {
      expect(parseSqueue('squeue: error: Invalid node name specified\n', '%A|%j')).toEqual([]);
    });
  });

  describe('#parseSqueueJobs', () => {
    const cases: { file: string; jobs: SqueueJob[] }[] = [
      {
        file: 'slurm-22.05.8__squeue-stroom-format__running.txt',
        jobs: [
          { id: '9', displayId: '9', state: 'RUNNING', uid: 0, user: 'root', account: '', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 55), cpus: 1, nodeCount: 1, nodes: ['vm'], name: 'train llm' },
          { id: '11', displayId: '10_0', state: 'RUNNING', uid: 0, user: 'root', account: '', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 55), cpus: 1, nodeCount: 1, nodes: ['vm'], name: 'sweep' },
        ],
      },
      {
        file: 'slurm-22.05.8__squeue-stroom-format__all.txt',
        jobs: [
          { id: '10', displayId: '10_1', state: 'PENDING', uid: 0, user: 'root', account: '', partition: 'debug', cpus: 1, nodeCount: 1, nodes: [], name: 'sweep' },
          { id: '9', displayId: '9', state: 'RUNNING', uid: 0, user: 'root', account: '', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 55), cpus: 1, nodeCount: 1, nodes: ['vm'], name: 'train llm' },
          { id: '11', displayId: '10_0', state: 'RUNNING', uid: 0, user: 'root', account: '', partition: 'debug', startTs: local(2026, 11, 30, 11, 36, 55), cpus: 1, nodeCount: 1, nodes: ['vm'], name: 'sweep' },
        ],
      },
    ];
    it.each(cases)('$file', ({ file, jobs }) => {
      expect(parseSqueueJobs(fixture(file))).toEqual(jobs);
    });

    it('reads an array task, an N/A account and a name holding the separator', () => {
      expect(parseSqueueJobs('1240|1234_5|RUNNING|1001|alice|N/A|gpu_h100|2025-06-01T08:00:00|64|2|gcn[1-2]|a|b\n')).toEqual([
        { id: '1240', displayId: '1234_5', state: 'RUNNING', uid: 1001, user: 'alice', account: '', partition: 'gpu_h100', startTs: local(2025, 6, 1, 8, 0, 0), cpus: 64, nodeCount: 2, nodes: ['gcn1', 'gcn2'], name: 'a|b' },
      ]);
    });
  });

  describe('#gpusInIdxOrder', () => {
    // Minor numbers out of PCI order, as on the dual RTX A5000 capture (minor 1 at index 0).
    const gpus: GpuInfo[] = [
      { uuid: 'GPU-a', index: 0, minor: 1, name: 'x' },
      { uuid: 'GPU-b', index: 1, minor: 0, name: 'x' },
      { uuid: 'GPU-c', index: 2, minor: 2, name: 'x' },
    ];
    it.each([
      ['minor' as const, gpus, ['GPU-b', 'GPU-a', 'GPU-c']],
      ['index' as const, gpus, ['GPU-a', 'GPU-b', 'GPU-c']],
      ['minor' as const, [{ uuid: 'GPU-a', index: 1, name: 'x' }, { uuid: 'GPU-b', index: 0, minor: 0, name: 'x' }], ['GPU-b', 'GPU-a']],
    ])('%s order', (order, list, uuids) => {
      expect(gpusInIdxOrder(list, order).map((g) => g.uuid)).toEqual(uuids);
    });
  });
});
