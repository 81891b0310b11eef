import { describe, expect, it } from 'vitest';
import { type PowerColumns, appendPoint, describeSeries, emptyColumns, mergeHistory, trimWindow } from '../src/charts/power-series.js';

describe('power series', () => {
  it('appends ascending points and keeps the window', () => {
    const c = emptyColumns();
    for (let t = 0; t <= 100; t += 10) appendPoint(c, t, t * 10, 50);
    expect(c[0]).toEqual([50, 60, 70, 80, 90, 100]);
    expect(c[1]).toEqual([500, 600, 700, 800, 900, 1000]);
  });

  it('replaces a point at the same time and ignores older ones', () => {
    const c: PowerColumns = [[1, 2], [10, 20]];
    appendPoint(c, 2, 25);
    appendPoint(c, 1.5, 99);
    appendPoint(c, Number.NaN, 99);
    expect(c).toEqual([[1, 2], [10, 25]]);
  });

  it('merges history with newer live points', () => {
    const live: PowerColumns = [[95, 100, 105], [1, 2, 3]];
    const history: PowerColumns = [[80, 90, 100], [8, null, 10]];
    expect(mergeHistory(history, live)).toEqual([[80, 90, 100, 105], [8, null, 10, 3]]);
    expect(mergeHistory(history, emptyColumns())).toEqual(history);
    expect(mergeHistory(emptyColumns(), live)).toEqual(live);
    // the history arrays are not aliased
    const merged = mergeHistory(history, live);
    merged[0].push(1);
    expect(history[0]).toHaveLength(3);
  });

  it('trims on merge too', () => {
    expect(mergeHistory([[0, 10, 20], [1, 2, 3]], [[30], [4]], 15)).toEqual([[20, 30], [3, 4]]);
    expect(trimWindow(emptyColumns())).toEqual([[], []]);
  });

  it('describes the series for screen readers', () => {
    expect(describeSeries(emptyColumns())).toBe('Cluster power chart: no data yet.');
    expect(describeSeries([[0, 1800, 3600], [1.2e6, null, 1.25e6]])).toBe(
      'Cluster power chart: now 1.25 MW, lowest 1.20 MW, highest 1.25 MW over the last 60 min.',
    );
  });
});
