/**
 * Pure layout maths of the GPU grid: no DOM, no canvas, so it is tested in Node.
 *
 * One row per node, one column per GPU. Rows are wrapped into side-by-side column blocks
 * so that a large cluster fits the available width and a target height; each block has its
 * own row labels. All coordinates are CSS pixels relative to the top-left of the canvas.
 *
 *   | label | gap | cell cell cell cell |  blockGap  | label | gap | cell cell ... |
 */

export interface GridLayoutInput {
  /** Number of node rows. */
  nodes: number;
  /** Columns per row: the largest GPU count of any node (at least 1). */
  cols: number;
  /** Width available, CSS px. */
  width: number;
  /** Height the grid should not exceed if it can help it, CSS px. */
  maxHeight: number;
  /** Width of the widest row label, CSS px (measured by the caller). */
  labelWidth: number;
  /** Largest cell edge, CSS px. */
  cellMax?: number;
  /** Smallest cell edge; below this the grid grows taller than maxHeight instead. */
  cellMin?: number;
  /** Smallest vertical distance between two row labels, CSS px (about the font's line height). */
  minLabelPitch?: number;
  /** Blocks are not made shorter than this many rows while the cluster has more nodes. */
  minRowsPerBlock?: number;
  /** Horizontal space between blocks, CSS px. */
  blockGap?: number;
  /** Space between a row label and its first cell, CSS px. */
  labelGap?: number;
  /** Height of the GPU-index header above each block, when cells are large enough for it. */
  headerHeight?: number;
}

export interface GridLayout {
  nodes: number;
  cols: number;
  /** Edge of one cell. */
  cell: number;
  /** Cell plus the gap after it: distance between neighbouring cells. */
  pitch: number;
  labelWidth: number;
  labelGap: number;
  /** Draw a label on every n-th row of a block (1 = every row). */
  labelEvery: number;
  blocks: number;
  rowsPerBlock: number;
  /** Width of one block including its labels, excluding blockGap. */
  blockWidth: number;
  blockGap: number;
  /** Space above the first row: the GPU-index header, or room for the first row's label. */
  top: number;
  /** Total size used. */
  width: number;
  height: number;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** What a point on the grid is over: a node's label (gpu null) or one of its GPU cells. */
export interface Hit {
  node: number;
  gpu: number | null;
}

const DEFAULTS = {
  cellMax: 28,
  cellMin: 3,
  minLabelPitch: 12,
  minRowsPerBlock: 8,
  blockGap: 16,
  labelGap: 6,
  headerHeight: 14,
};

function layoutFor(input: GridLayoutInput, cell: number): GridLayout {
  const o = { ...DEFAULTS, ...input };
  const nodes = Math.max(0, Math.floor(o.nodes));
  const cols = Math.max(1, Math.floor(o.cols));
  const gap = cell >= 10 ? 2 : 1;
  const pitch = cell + gap;
  const blockGap = cell >= 10 ? o.blockGap : Math.max(8, Math.round(o.blockGap / 2));
  const labelWidth = Math.ceil(Math.max(0, o.labelWidth));
  const blockWidth = labelWidth + o.labelGap + cols * pitch - gap;
  const fit = Math.max(1, Math.floor((o.width + blockGap) / (blockWidth + blockGap)));
  const wanted = Math.max(1, Math.ceil(nodes / Math.max(1, o.minRowsPerBlock)));
  let blocks = Math.min(fit, wanted);
  const rowsPerBlock = Math.max(1, Math.ceil(nodes / blocks));
  blocks = Math.max(1, Math.ceil(nodes / rowsPerBlock));
  // Row labels are about minLabelPitch tall and centred on their row: on rows shorter than
  // that, pad above the first row and below the last so the outer labels are not clipped.
  const labelPad = Math.max(0, Math.ceil((o.minLabelPitch - cell) / 2));
  const top = cell >= 12 ? Math.max(o.headerHeight, labelPad) : labelPad;
  return {
    nodes,
    cols,
    cell,
    pitch,
    labelWidth,
    labelGap: o.labelGap,
    labelEvery: Math.max(1, Math.ceil(o.minLabelPitch / pitch)),
    blocks,
    rowsPerBlock,
    blockWidth,
    blockGap,
    top,
    width: blocks * blockWidth + (blocks - 1) * blockGap,
    height: top + rowsPerBlock * pitch - gap + labelPad,
  };
}

/**
 * The largest cell size (from cellMax down to cellMin) whose layout fits both the width and
 * maxHeight. If none fits, the cellMin layout is returned and the grid is taller than asked.
 */
export function computeGridLayout(input: GridLayoutInput): GridLayout {
  const o = { ...DEFAULTS, ...input };
  const max = Math.max(1, Math.floor(o.cellMax));
  const min = Math.max(1, Math.min(max, Math.floor(o.cellMin)));
  let last: GridLayout | undefined;
  for (let cell = max; cell >= min; cell--) {
    const l = layoutFor(input, cell);
    last = l;
    if (l.blockWidth > o.width && cell > min) continue;
    if (l.height <= o.maxHeight) return l;
  }
  return last ?? layoutFor(input, min);
}

/** Block and row of a node. */
export function nodePosition(l: GridLayout, node: number): { block: number; row: number } {
  return { block: Math.floor(node / l.rowsPerBlock), row: node % l.rowsPerBlock };
}

/** Left edge of a block. */
export function blockX(l: GridLayout, block: number): number {
  return block * (l.blockWidth + l.blockGap);
}

/** Rectangle of one GPU cell. */
export function cellRect(l: GridLayout, node: number, gpu: number): Rect {
  const { block, row } = nodePosition(l, node);
  return {
    x: blockX(l, block) + l.labelWidth + l.labelGap + gpu * l.pitch,
    y: l.top + row * l.pitch,
    w: l.cell,
    h: l.cell,
  };
}

/** Rectangle of a whole node row (label excluded): where a "down" hatch is drawn. */
export function rowRect(l: GridLayout, node: number): Rect {
  const first = cellRect(l, node, 0);
  return { x: first.x, y: first.y, w: l.cols * l.pitch - (l.pitch - l.cell), h: l.cell };
}

/** Whether a node's row carries a label (labels thin out when rows are dense). */
export function showsLabel(l: GridLayout, node: number): boolean {
  return nodePosition(l, node).row % l.labelEvery === 0;
}

/** Right end (x) and vertical centre (y) of a node's row label. */
export function labelAnchor(l: GridLayout, node: number): { x: number; y: number } {
  const { block, row } = nodePosition(l, node);
  return { x: blockX(l, block) + l.labelWidth, y: l.top + row * l.pitch + l.cell / 2 };
}

/**
 * What is under a point: a GPU cell (the gap after a cell counts as that cell, so the
 * pointer never flickers between cells), a row label (gpu null), or nothing.
 */
export function hitTest(l: GridLayout, x: number, y: number): Hit | null {
  if (!Number.isFinite(x) || !Number.isFinite(y) || x < 0 || y < l.top) return null;
  const row = Math.floor((y - l.top) / l.pitch);
  if (row >= l.rowsPerBlock) return null;
  const stride = l.blockWidth + l.blockGap;
  const block = Math.floor(x / stride);
  if (block >= l.blocks) return null;
  const xb = x - block * stride;
  if (xb >= l.blockWidth) return null; // between blocks
  const node = block * l.rowsPerBlock + row;
  if (node >= l.nodes) return null;
  const xc = xb - l.labelWidth - l.labelGap;
  if (xc < 0) return { node, gpu: null };
  const gpu = Math.floor(xc / l.pitch);
  if (gpu >= l.cols) return null;
  return { node, gpu };
}

/**
 * Keyboard movement over cells: arrows move one cell (left/right wrap to the neighbouring
 * node), PageUp/PageDown a block's worth of rows, Home/End the first/last GPU of the grid.
 * `gpusOf(node)` gives each node's GPU count so the cursor never lands past a node's last
 * GPU. Returns null for keys it does not handle.
 */
export function moveCursor(
  l: GridLayout,
  at: { node: number; gpu: number },
  key: string,
  gpusOf: (node: number) => number,
): { node: number; gpu: number } | null {
  if (l.nodes === 0) return null;
  const clampGpu = (node: number, gpu: number): number => Math.max(0, Math.min(gpu, Math.max(0, gpusOf(node) - 1)));
  const clampNode = (n: number): number => Math.max(0, Math.min(l.nodes - 1, n));
  let { node, gpu } = at;
  switch (key) {
    case 'ArrowRight':
      if (gpu + 1 < gpusOf(node)) gpu += 1;
      else if (node + 1 < l.nodes) {
        node += 1;
        gpu = 0;
      }
      break;
    case 'ArrowLeft':
      if (gpu > 0) gpu -= 1;
      else if (node > 0) {
        node -= 1;
        gpu = Math.max(0, gpusOf(node) - 1);
      }
      break;
    case 'ArrowDown':
      node = clampNode(node + 1);
      break;
    case 'ArrowUp':
      node = clampNode(node - 1);
      break;
    case 'PageDown':
      node = clampNode(node + l.rowsPerBlock);
      break;
    case 'PageUp':
      node = clampNode(node - l.rowsPerBlock);
      break;
    case 'Home':
      node = 0;
      gpu = 0;
      break;
    case 'End':
      node = l.nodes - 1;
      gpu = Math.max(0, gpusOf(node) - 1);
      break;
    default:
      return null;
  }
  return { node, gpu: clampGpu(node, gpu) };
}
