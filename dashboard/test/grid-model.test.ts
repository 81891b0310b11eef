import { describe, expect, it } from 'vitest';
import { IDLE_UTIL_RATIO, describeGrid, gpuCell, gpuCount, summariseGrid, tooltipLines } from '../src/charts/grid-model.js';
import { node } from './fixtures.js';

describe('gpu cells', () => {
  it('colours by power / limit and flags allocated-but-idle GPUs', () => {
    const n = node('n001', 4, {
      gpuPowerW: [350, null, 70, 700],
      gpuPowerLimitW: [700, 700, 700, null],
      gpuUtilRatio: [0.9, null, 0.01, 0.5],
      gpuJob: ['j1', 'j1', 'j2', null],
    });
    expect(gpuCell(n, 0)).toEqual({ ratio: 0.5, allocatedIdle: false, job: 'j1' });
    expect(gpuCell(n, 1)).toEqual({ ratio: null, allocatedIdle: false, job: 'j1' }); // unknown util is not idle
    expect(gpuCell(n, 2)).toEqual({ ratio: 0.1, allocatedIdle: true, job: 'j2' });
    expect(gpuCell(n, 3)).toEqual({ ratio: null, allocatedIdle: false, job: null });
    expect(IDLE_UTIL_RATIO).toBe(0.05);
  });

  it('an unallocated idle GPU is not marked', () => {
    const n = node('n001', 1, { gpuUtilRatio: [0], gpuJob: [null] });
    expect(gpuCell(n, 0).allocatedIdle).toBe(false);
  });

  it('counts GPUs from the widest column', () => {
    expect(gpuCount(node('a', 8))).toBe(8);
    expect(gpuCount(node('a', 0))).toBe(0);
  });
});

describe('grid summary', () => {
  it('summarises up nodes, allocation, idle and mean ratio', () => {
    const grid = [
      node('n001', 2, { gpuJob: ['j1', 'j1'], gpuUtilRatio: [0.9, 0.01] }),
      node('n002', 2, { gpuPowerW: [700, 0] }),
      node('n003', 2, { up: false, gpuJob: ['j2', null], gpuUtilRatio: [0, 0] }),
    ];
    const s = summariseGrid(grid);
    expect(s).toEqual({ nodes: 3, nodesUp: 2, gpus: 6, allocated: 3, allocatedIdle: 1, meanRatio: (0.5 + 0.5 + 1 + 0) / 4 });
    expect(describeGrid(s)).toBe(
      'GPU grid: 3 nodes, 2 up; 6 GPUs, 3 allocated to jobs; 1 allocated but idle; mean power 50 % of limit. Use the arrow keys to read single GPUs.',
    );
    expect(describeGrid(summariseGrid([]))).toBe('GPU grid: no nodes reported yet.');
  });
});

describe('tooltip', () => {
  const now = 1_700_000_000_000;
  it('shows a GPU with units', () => {
    const n = node('gpu-017', 4, { gpuJob: [null, null, 'job-42', null], gpuPowerW: [1, 2, 412.4, 4], gpuTempC: [1, 2, 63.2, 4], gpuUtilRatio: [1, 1, 0.874, 1] });
    expect(tooltipLines(n, 2, now)).toEqual({
      title: 'gpu-017 · GPU 2',
      lines: ['Power 412 W of 700 W (59 %)', 'Temp 63 °C · Util 87 %', 'Job job-42'],
    });
  });
  it('shows unknowns as dashes and a down node with its age', () => {
    const n = node('gpu-018', 1, {
      up: false,
      lastSeenTs: now - 180_000,
      gpuPowerW: [null],
      gpuPowerLimitW: [null],
      gpuTempC: [null],
      gpuUtilRatio: [0.01],
      gpuJob: ['j9'],
    });
    expect(tooltipLines(n, 0, now).lines).toEqual([
      'Node down · last seen 3 min ago',
      'Power — (limit unknown)',
      'Temp — · Util 1 %',
      'Job j9 · allocated but idle',
    ]);
  });
  it('describes a node from its row label', () => {
    const n = node('gpu-019', 8, { powerW: 5230, gpuJob: ['a', 'a', null, null, null, null, null, 'b'] });
    expect(tooltipLines(n, null, now)).toEqual({ title: 'gpu-019', lines: ['Node power 5.23 kW', '8 GPUs, 3 allocated'] });
  });
});
