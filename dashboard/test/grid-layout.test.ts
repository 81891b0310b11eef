import { describe, expect, it } from 'vitest';
import {
  type GridLayout,
  cellRect,
  computeGridLayout,
  hitTest,
  labelAnchor,
  moveCursor,
  rowRect,
  showsLabel,
} from '../src/charts/grid-layout.js';

const base = { labelWidth: 60, cellMax: 28, cellMin: 3, minRowsPerBlock: 8, blockGap: 16, labelGap: 6, headerHeight: 14 };

describe('computeGridLayout', () => {
  it('uses big cells and two blocks for 16 nodes x 4 GPUs', () => {
    const l = computeGridLayout({ ...base, nodes: 16, cols: 4, width: 600, maxHeight: 600 });
    expect(l.cell).toBe(28);
    expect(l.pitch).toBe(30);
    expect(l.blocks).toBe(2);
    expect(l.rowsPerBlock).toBe(8);
    expect(l.top).toBe(14);
    expect(l.labelEvery).toBe(1);
    // block = label 60 + gap 6 + 4 cells * 30 - trailing gap 2
    expect(l.blockWidth).toBe(184);
    expect(l.width).toBe(2 * 184 + 16);
    expect(l.height).toBe(14 + 8 * 30 - 2);
  });

  it('keeps one block when the width allows only one', () => {
    const l = computeGridLayout({ ...base, nodes: 16, cols: 4, width: 200, maxHeight: 2000 });
    expect(l.blocks).toBe(1);
    expect(l.rowsPerBlock).toBe(16);
    expect(l.width).toBeLessThanOrEqual(200);
  });

  it('shrinks cells and wraps 1000 nodes x 8 GPUs into several blocks to fit', () => {
    const l = computeGridLayout({ ...base, nodes: 1000, cols: 8, width: 1400, maxHeight: 700 });
    expect(l.height).toBeLessThanOrEqual(700);
    expect(l.width).toBeLessThanOrEqual(1400);
    expect(l.blocks).toBeGreaterThan(1);
    expect(l.blocks * l.rowsPerBlock).toBeGreaterThanOrEqual(1000);
    expect((l.blocks - 1) * l.rowsPerBlock).toBeLessThan(1000); // no empty block
    expect(l.cell).toBeGreaterThanOrEqual(3);
    expect(l.cell).toBeLessThan(10);
    // no header on tiny cells, only room for the first label (11 px text on a 12 px pitch)
    expect(l.top).toBe(Math.ceil((12 - l.cell) / 2));
    expect(l.height).toBe(2 * l.top + l.rowsPerBlock * l.pitch - (l.pitch - l.cell));
    expect(l.labelEvery).toBeGreaterThan(1); // labels thinned out
    expect(l.labelEvery * l.pitch).toBeGreaterThanOrEqual(12);
  });

  it('chooses the largest cell that fits', () => {
    const input = { ...base, nodes: 1000, cols: 8, width: 1400, maxHeight: 700 };
    const l = computeGridLayout(input);
    const bigger = computeGridLayout({ ...input, cellMax: l.cell + 1, cellMin: l.cell + 1 });
    expect(bigger.height > 700 || bigger.width > 1400).toBe(true);
  });

  it('falls back to the smallest cell and grows taller when nothing fits', () => {
    const l = computeGridLayout({ ...base, nodes: 20_000, cols: 8, width: 800, maxHeight: 300 });
    expect(l.cell).toBe(3);
    expect(l.height).toBeGreaterThan(300);
  });

  it('shrinks cells when even one block is wider than the space', () => {
    const l = computeGridLayout({ ...base, nodes: 4, cols: 64, width: 500, maxHeight: 1000 });
    expect(l.blockWidth).toBeLessThanOrEqual(500);
  });

  it('handles an empty grid', () => {
    const l = computeGridLayout({ ...base, nodes: 0, cols: 0, width: 500, maxHeight: 500 });
    expect(l.blocks).toBe(1);
    expect(l.nodes).toBe(0);
    expect(hitTest(l, 100, 20)).toBeNull();
  });
});

describe('geometry and hit-testing', () => {
  const l: GridLayout = computeGridLayout({ ...base, nodes: 20, cols: 4, width: 420, maxHeight: 400 });

  it('places cells by block and row', () => {
    expect(l.blocks).toBe(2);
    expect(l.rowsPerBlock).toBe(10);
    expect(cellRect(l, 0, 0)).toEqual({ x: 66, y: l.top, w: l.cell, h: l.cell });
    const r = cellRect(l, 13, 2); // block 1, row 3
    expect(r.x).toBe(l.blockWidth + l.blockGap + 66 + 2 * l.pitch);
    expect(r.y).toBe(l.top + 3 * l.pitch);
    expect(rowRect(l, 13).w).toBe(4 * l.cell + 3 * (l.pitch - l.cell));
    expect(labelAnchor(l, 13)).toEqual({ x: l.blockWidth + l.blockGap + 60, y: l.top + 3 * l.pitch + l.cell / 2 });
  });

  it('maps every cell centre back to its node and GPU', () => {
    for (let n = 0; n < l.nodes; n++) {
      for (let g = 0; g < l.cols; g++) {
        const r = cellRect(l, n, g);
        expect(hitTest(l, r.x + r.w / 2, r.y + r.h / 2)).toEqual({ node: n, gpu: g });
        expect(hitTest(l, r.x, r.y)).toEqual({ node: n, gpu: g });
        expect(hitTest(l, r.x + r.w - 0.01, r.y + r.h - 0.01)).toEqual({ node: n, gpu: g });
        // the gap after a cell belongs to it (no flicker), except after the last column
        if (g < l.cols - 1) expect(hitTest(l, r.x + l.pitch - 0.01, r.y + l.pitch - 0.01)).toEqual({ node: n, gpu: g });
      }
    }
  });

  it('reports the row label, and nothing outside the grid', () => {
    expect(hitTest(l, 10, l.top + 1)).toEqual({ node: 0, gpu: null });
    expect(hitTest(l, l.blockWidth + l.blockGap + 5, l.top + l.pitch + 1)).toEqual({ node: 11, gpu: null });
    expect(hitTest(l, l.blockWidth + 2, l.top + 1)).toBeNull(); // between blocks
    expect(hitTest(l, 80, 2)).toBeNull(); // header
    expect(hitTest(l, 80, l.top + l.rowsPerBlock * l.pitch + 1)).toBeNull(); // below
    expect(hitTest(l, -1, 30)).toBeNull();
    expect(hitTest(l, l.width + 100, 30)).toBeNull();
    expect(hitTest(l, Number.NaN, 30)).toBeNull();
  });

  it('does not hit rows past the last node in a short last block', () => {
    const odd = computeGridLayout({ ...base, nodes: 19, cols: 4, width: 420, maxHeight: 400 });
    const r = cellRect(odd, 9, 0); // row 9 of block 1 would be node 19
    expect(hitTest(odd, r.x + odd.blockWidth + odd.blockGap, r.y + 1)).toBeNull();
  });

  it('thins out labels on dense rows', () => {
    const dense = computeGridLayout({ ...base, nodes: 1000, cols: 8, width: 1400, maxHeight: 700 });
    const labelled = Array.from({ length: dense.rowsPerBlock }, (_, i) => showsLabel(dense, i)).filter(Boolean).length;
    expect(labelled).toBe(Math.ceil(dense.rowsPerBlock / dense.labelEvery));
    expect(showsLabel(dense, 0)).toBe(true);
    expect(showsLabel(dense, dense.rowsPerBlock)).toBe(true); // first row of the next block
  });
});

describe('keyboard cursor', () => {
  const l = computeGridLayout({ ...base, nodes: 20, cols: 4, width: 420, maxHeight: 400 });
  const gpus = (n: number): number => (n === 5 ? 2 : 4);

  it('moves by cell and wraps across nodes', () => {
    expect(moveCursor(l, { node: 0, gpu: 0 }, 'ArrowRight', gpus)).toEqual({ node: 0, gpu: 1 });
    expect(moveCursor(l, { node: 0, gpu: 3 }, 'ArrowRight', gpus)).toEqual({ node: 1, gpu: 0 });
    expect(moveCursor(l, { node: 1, gpu: 0 }, 'ArrowLeft', gpus)).toEqual({ node: 0, gpu: 3 });
    expect(moveCursor(l, { node: 0, gpu: 0 }, 'ArrowLeft', gpus)).toEqual({ node: 0, gpu: 0 });
    expect(moveCursor(l, { node: 19, gpu: 3 }, 'ArrowRight', gpus)).toEqual({ node: 19, gpu: 3 });
  });

  it('clamps to a node with fewer GPUs and to the grid', () => {
    expect(moveCursor(l, { node: 4, gpu: 3 }, 'ArrowDown', gpus)).toEqual({ node: 5, gpu: 1 });
    expect(moveCursor(l, { node: 0, gpu: 2 }, 'ArrowUp', gpus)).toEqual({ node: 0, gpu: 2 });
    expect(moveCursor(l, { node: 15, gpu: 0 }, 'PageDown', gpus)).toEqual({ node: 19, gpu: 0 });
    expect(moveCursor(l, { node: 12, gpu: 0 }, 'PageUp', gpus)).toEqual({ node: 2, gpu: 0 });
    expect(moveCursor(l, { node: 7, gpu: 1 }, 'Home', gpus)).toEqual({ node: 0, gpu: 0 });
    expect(moveCursor(l, { node: 7, gpu: 1 }, 'End', gpus)).toEqual({ node: 19, gpu: 3 });
    expect(moveCursor(l, { node: 7, gpu: 1 }, 'x', gpus)).toBeNull();
  });
});
