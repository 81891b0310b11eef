import { describe, expect, it } from 'vitest';
import { COLUMNS, jobCells, nodeList, sortJobs } from '../src/jobs-table.js';
import { job } from './fixtures.js';

describe('jobs table rows', () => {
  it('sorts by power, highest first, ties by id', () => {
    const jobs = [job('b', { powerW: 10 }), job('c', { powerW: 500 }), job('a', { powerW: 10 }), job('d', { powerW: 20 })];
    expect(sortJobs(jobs).map((j) => j.id)).toEqual(['c', 'd', 'a', 'b']);
    expect(jobs.map((j) => j.id)).toEqual(['b', 'c', 'a', 'd']); // input untouched
  });

  it('shortens long node lists', () => {
    expect(nodeList([])).toBe('');
    expect(nodeList(['n1', 'n2'])).toBe('n1, n2');
    expect(nodeList(['n1', 'n2', 'n3', 'n4'])).toBe('n1, n2 +2');
  });

  it('formats every column with units', () => {
    const start = 1_700_000_000_000;
    const j = job('12345', {
      user: 'bob',
      account: 'climate',
      startTs: start,
      nodes: ['n001', 'n002', 'n003'],
      gpus: 12,
      powerW: 8_450,
      energyJ: 3.6e6 * 42.37,
    });
    const cells = jobCells(j, start + (2 * 3600 + 5 * 60) * 1000);
    expect(cells).toHaveLength(COLUMNS.length);
    expect(cells.map((c) => c.text)).toEqual(['12345', 'bob', 'climate', '3 · n001, n002 +1', '12', '8.45 kW', '42.4 kWh', '2 h 05 min']);
    expect(cells[3]?.title).toBe('n001, n002, n003');
    expect(cells.map((c) => c.numeric)).toEqual([false, false, false, false, true, true, true, true]);
  });

  it('never shows a negative run time', () => {
    const j = job('x', { startTs: 2000 });
    expect(jobCells(j, 1000)[7]?.text).toBe('0 s');
  });
});
