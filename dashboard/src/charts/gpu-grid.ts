/**
 * Every GPU of the cluster as a cell on one <canvas>: a row per node, a column per GPU,
 * coloured by power / power limit. Layout and hit-testing live in grid-layout.ts (pure);
 * this file only draws and handles pointer and keyboard. There is no DOM node per GPU.
 */
import type { LiveNode } from '@stroom/protocol';
import { THEME_EVENT } from '../theme.js';
import { UNKNOWN_COLOUR, colourLut, lutIndex } from '../colour-scale.js';
import {
  type GridLayout,
  type Hit,
  cellRect,
  computeGridLayout,
  hitTest,
  labelAnchor,
  moveCursor,
  rowRect,
  showsLabel,
} from './grid-layout.js';
import { type GridMetric, describeGrid, gpuCell, gpuCount, summariseGrid, tooltipLines } from './grid-model.js';

const LUT_STEPS = 128;
const LABEL_FONT = '11px ui-monospace, "SF Mono", "Cascadia Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace';
const HEADER_FONT = '10px system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif';

interface Theme {
  label: string;
  labelDown: string;
  down: string;
  hatch: string;
  idleMark: string;
  idleRing: string;
  highlight: string;
  focus: string;
}

function readTheme(el: Element): Theme {
  const cs = getComputedStyle(el);
  const v = (name: string, fallback: string): string => cs.getPropertyValue(name).trim() || fallback;
  return {
    label: v('--grid-label', '#555'),
    labelDown: v('--grid-label-down', '#999'),
    down: v('--grid-down', '#ddd'),
    hatch: v('--grid-hatch', '#999'),
    idleMark: v('--grid-idle-mark', '#fff'),
    idleRing: v('--grid-idle-ring', '#000'),
    highlight: v('--grid-highlight', '#e8590c'),
    focus: v('--grid-focus', '#0b62d6'),
  };
}

export interface GpuGridOptions {
  /** Height the grid should fit in, CSS px; default 70 % of the window. */
  maxHeight?: () => number;
  /** Called with the text alternative whenever it changes. */
  onSummary?: (text: string) => void;
}

export class GpuGrid {
  private readonly root: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly tip: HTMLDivElement;
  private readonly announcer: HTMLDivElement;
  private readonly opts: GpuGridOptions;
  private readonly lut = colourLut(LUT_STEPS);
  private readonly cleanups: (() => void)[] = [];
  private grid: readonly LiveNode[] = [];
  private layout: GridLayout | null = null;
  private labelWidth = 0;
  private labelKey = '';
  private highlight: string | null = null;
  private cursor: { node: number; gpu: number } | null = null;
  private hover: Hit | null = null;
  private hoverAt: { x: number; y: number } | null = null;
  private summary = '';
  private frame = 0;
  private metric: GridMetric = 'power';
  /** Cell rectangles by colour bucket (LUT index; the last is unknown), reused between frames. */
  private readonly buckets: number[][] = Array.from({ length: LUT_STEPS + 1 }, () => []);
  /** Duration of the last draws, ms (newest last, at most 120), for the browser test and benchmark. */
  readonly drawMs: number[] = [];

  constructor(root: HTMLElement, opts: GpuGridOptions = {}) {
    this.root = root;
    this.opts = opts;
    root.classList.add('gpu-grid');
    this.canvas = document.createElement('canvas');
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'GPU grid: waiting for data.');
    const ctx = this.canvas.getContext('2d');
    if (ctx === null) throw new Error('canvas 2D context unavailable');
    this.ctx = ctx;
    this.tip = document.createElement('div');
    this.tip.className = 'grid-tip';
    this.tip.setAttribute('role', 'tooltip');
    this.tip.hidden = true;
    this.announcer = document.createElement('div');
    this.announcer.className = 'visually-hidden';
    this.announcer.setAttribute('aria-live', 'polite');
    root.append(this.canvas, this.tip, this.announcer);

    const ro = new ResizeObserver(() => this.schedule());
    ro.observe(root);
    this.cleanups.push(() => ro.disconnect());
    this.watchMedia('(prefers-color-scheme: dark)');
    const onTheme = (): void => this.schedule();
    window.addEventListener(THEME_EVENT, onTheme);
    this.cleanups.push(() => window.removeEventListener(THEME_EVENT, onTheme));
    this.watchDpr();

    const on = <K extends keyof HTMLElementEventMap>(k: K, f: (ev: HTMLElementEventMap[K]) => void): void => {
      this.canvas.addEventListener(k, f);
      this.cleanups.push(() => this.canvas.removeEventListener(k, f));
    };
    on('pointermove', (ev) => this.onPointer(ev));
    on('pointerleave', () => {
      this.hover = null;
      this.hoverAt = null;
      this.showTip();
    });
    on('keydown', (ev) => this.onKey(ev));
    on('focus', () => {
      if (this.cursor === null && this.grid.length > 0) this.cursor = { node: 0, gpu: 0 };
      this.schedule();
      this.showTip();
    });
    on('blur', () => {
      this.schedule();
      this.showTip();
    });
  }

  /** Draw a new picture of the cluster. */
  update(grid: readonly LiveNode[]): void {
    this.grid = grid;
    if (this.cursor !== null && this.cursor.node >= grid.length) this.cursor = grid.length > 0 ? { node: 0, gpu: 0 } : null;
    const text = describeGrid(summariseGrid(grid));
    if (text !== this.summary) {
      this.summary = text;
      this.canvas.setAttribute('aria-label', text);
      this.opts.onSummary?.(text);
    }
    this.draw();
    this.showTip();
  }

  /** Colour cells by power (share of limit), temperature or utilisation. */
  setMetric(metric: GridMetric): void {
    if (metric === this.metric) return;
    this.metric = metric;
    this.schedule();
  }

  /** Draw now (not at the next frame): the browser test times this. */
  redraw(): void {
    this.draw();
  }

  /** Outline the GPUs of one job (null: none). */
  highlightJob(jobId: string | null): void {
    if (jobId === this.highlight) return;
    this.highlight = jobId;
    this.schedule();
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    for (const f of this.cleanups) f();
    this.canvas.remove();
    this.tip.remove();
    this.announcer.remove();
  }

  private watchMedia(query: string): void {
    const mq = matchMedia(query);
    const f = (): void => this.schedule();
    mq.addEventListener('change', f);
    this.cleanups.push(() => mq.removeEventListener('change', f));
  }

  /** Redraw when the device pixel ratio changes (zoom, moving to another screen). */
  private watchDpr(): void {
    let mq: MediaQueryList | null = null;
    const f = (): void => {
      arm();
      this.schedule();
    };
    const arm = (): void => {
      mq?.removeEventListener('change', f);
      mq = matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`);
      mq.addEventListener('change', f);
    };
    arm();
    this.cleanups.push(() => mq?.removeEventListener('change', f));
  }

  private schedule(): void {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.draw());
  }

  private measureLabels(): number {
    const key = this.grid.map((n) => n.name).join('\n');
    if (key === this.labelKey) return this.labelWidth;
    this.ctx.font = LABEL_FONT;
    let w = 0;
    for (const n of this.grid) w = Math.max(w, this.ctx.measureText(n.name).width);
    this.labelKey = key;
    this.labelWidth = Math.min(160, Math.ceil(w));
    return this.labelWidth;
  }

  private draw(): void {
    const t0 = performance.now();
    this.drawFrame();
    this.drawMs.push(performance.now() - t0);
    if (this.drawMs.length > 120) this.drawMs.shift();
  }

  private drawFrame(): void {
    cancelAnimationFrame(this.frame);
    const width = Math.max(120, Math.floor(this.root.clientWidth));
    const cols = this.grid.reduce((m, n) => Math.max(m, gpuCount(n)), 1);
    const maxHeight = this.opts.maxHeight?.() ?? Math.max(240, Math.round(window.innerHeight * 0.7));
    const l = computeGridLayout({
      nodes: this.grid.length,
      cols,
      width,
      maxHeight,
      labelWidth: this.measureLabels(),
    });
    this.layout = l;
    const dpr = window.devicePixelRatio || 1;
    const cssW = Math.max(1, l.width);
    const cssH = Math.max(1, this.grid.length === 0 ? 0 : l.height);
    const pxW = Math.round(cssW * dpr);
    const pxH = Math.round(cssH * dpr);
    if (this.canvas.width !== pxW || this.canvas.height !== pxH) {
      this.canvas.width = pxW;
      this.canvas.height = pxH;
      this.canvas.style.width = `${cssW}px`;
      this.canvas.style.height = `${cssH}px`;
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    if (this.grid.length === 0) return;
    const theme = readTheme(this.root);

    if (l.top > 0) this.drawHeader(l, theme);
    ctx.font = LABEL_FONT;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let n = 0; n < this.grid.length; n++) {
      const node = this.grid[n] as LiveNode;
      if (showsLabel(l, n)) {
        const a = labelAnchor(l, n);
        ctx.fillStyle = node.up ? theme.label : theme.labelDown;
        ctx.fillText(node.name, a.x, a.y + 0.5, l.labelWidth);
      }
    }
    this.drawCells(l, theme);
    this.drawOverlays(l, theme);
  }

  /**
   * Every cell, batched by colour: rectangles are sorted into LUT buckets first, then each
   * bucket is filled with one fillStyle, so 8 000 cells cost ~130 style changes, not 8 000.
   * Marks (unknown slash, allocated-but-idle dot) are batched into one path each.
   */
  private drawCells(l: GridLayout, theme: Theme): void {
    const ctx = this.ctx;
    for (const b of this.buckets) b.length = 0;
    const unknown = this.buckets[LUT_STEPS] as number[];
    const idle: number[] = [];
    for (let n = 0; n < this.grid.length; n++) {
      const node = this.grid[n] as LiveNode;
      if (!node.up) {
        this.drawDownRow(l, n, node, theme);
        continue;
      }
      const count = gpuCount(node);
      for (let g = 0; g < count; g++) {
        const r = cellRect(l, n, g);
        const c = gpuCell(node, g, this.metric);
        const bucket = c.ratio === null ? unknown : (this.buckets[lutIndex(c.ratio, LUT_STEPS)] as number[]);
        bucket.push(r.x, r.y, r.w, r.h);
        if (c.allocatedIdle) idle.push(r.x, r.y, r.w, r.h);
      }
    }
    for (let i = 0; i <= LUT_STEPS; i++) {
      const b = this.buckets[i] as number[];
      if (b.length === 0) continue;
      ctx.fillStyle = i === LUT_STEPS ? UNKNOWN_COLOUR : (this.lut[i] as string);
      for (let k = 0; k < b.length; k += 4) ctx.fillRect(b[k] as number, b[k + 1] as number, b[k + 2] as number, b[k + 3] as number);
    }
    if (unknown.length > 0 && l.cell >= 5) {
      // Unknown: a diagonal slash, so it is not read as a mid value in greyscale.
      ctx.strokeStyle = theme.idleRing;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let k = 0; k < unknown.length; k += 4) {
        const x = unknown[k] as number;
        const y = unknown[k + 1] as number;
        ctx.moveTo(x + 1, y + (unknown[k + 3] as number) - 1);
        ctx.lineTo(x + (unknown[k + 2] as number) - 1, y + 1);
      }
      ctx.stroke();
    }
    if (idle.length > 0) this.drawIdleMarks(idle, l.cell, theme);
  }

  /** A down node: flat fill plus diagonal hatching over the whole row. */
  private drawDownRow(l: GridLayout, n: number, node: LiveNode, theme: Theme): void {
    const ctx = this.ctx;
    const count = gpuCount(node);
    ctx.fillStyle = theme.down;
    for (let g = 0; g < count; g++) {
      const r = cellRect(l, n, g);
      ctx.fillRect(r.x, r.y, r.w, r.h);
    }
    const row = rowRect(l, n);
    ctx.save();
    ctx.beginPath();
    ctx.rect(row.x, row.y, row.w, row.h);
    ctx.clip();
    ctx.strokeStyle = theme.hatch;
    ctx.lineWidth = 1;
    ctx.beginPath();
    const step = Math.max(3, Math.min(6, l.cell / 2));
    for (let x = row.x - row.h; x < row.x + row.w; x += step) {
      ctx.moveTo(x, row.y + row.h);
      ctx.lineTo(x + row.h, row.y);
    }
    ctx.stroke();
    ctx.restore();
  }

  /** Allocated but idle: a light dot with a dark ring in each cell's centre (a light square when small). */
  private drawIdleMarks(rects: number[], cell: number, theme: Theme): void {
    const ctx = this.ctx;
    ctx.fillStyle = theme.idleMark;
    if (cell < 7) {
      const s = Math.max(1, Math.round(cell * 0.45));
      for (let k = 0; k < rects.length; k += 4) {
        const cx = (rects[k] as number) + (rects[k + 2] as number) / 2;
        const cy = (rects[k + 1] as number) + (rects[k + 3] as number) / 2;
        ctx.fillRect(Math.round(cx - s / 2), Math.round(cy - s / 2), s, s);
      }
      return;
    }
    const rad = Math.max(2, cell * 0.2);
    ctx.beginPath();
    for (let k = 0; k < rects.length; k += 4) {
      const cx = (rects[k] as number) + (rects[k + 2] as number) / 2;
      const cy = (rects[k + 1] as number) + (rects[k + 3] as number) / 2;
      ctx.moveTo(cx + rad, cy);
      ctx.arc(cx, cy, rad, 0, Math.PI * 2);
    }
    ctx.fill();
    ctx.lineWidth = Math.max(1, cell * 0.06);
    ctx.strokeStyle = theme.idleRing;
    ctx.stroke();
  }

  private drawHeader(l: GridLayout, theme: Theme): void {
    const ctx = this.ctx;
    ctx.font = HEADER_FONT;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'alphabetic';
    ctx.fillStyle = theme.label;
    for (let b = 0; b < l.blocks; b++) {
      for (let g = 0; g < l.cols; g++) {
        const r = cellRect(l, b * l.rowsPerBlock, g);
        ctx.fillText(String(g), r.x + r.w / 2, l.top - 4);
      }
    }
  }

  private drawOverlays(l: GridLayout, theme: Theme): void {
    const ctx = this.ctx;
    if (this.highlight !== null) {
      ctx.strokeStyle = theme.highlight;
      ctx.lineWidth = l.cell >= 10 ? 2 : 1;
      const inset = ctx.lineWidth / 2;
      for (let n = 0; n < this.grid.length; n++) {
        const node = this.grid[n] as LiveNode;
        for (let g = 0; g < node.gpuJob.length; g++) {
          if (node.gpuJob[g] !== this.highlight) continue;
          const r = cellRect(l, n, g);
          ctx.strokeRect(r.x + inset, r.y + inset, r.w - 2 * inset, r.h - 2 * inset);
        }
      }
    }
    if (this.cursor !== null && document.activeElement === this.canvas) {
      const r = cellRect(l, this.cursor.node, this.cursor.gpu);
      ctx.strokeStyle = theme.focus;
      ctx.lineWidth = 2;
      ctx.strokeRect(r.x - 1.5, r.y - 1.5, r.w + 3, r.h + 3);
    }
  }

  private onPointer(ev: PointerEvent): void {
    if (this.layout === null) return;
    const rect = this.canvas.getBoundingClientRect();
    const x = ev.clientX - rect.left;
    const y = ev.clientY - rect.top;
    let hit = hitTest(this.layout, x, y);
    if (hit !== null && hit.gpu !== null) {
      const node = this.grid[hit.node];
      if (node === undefined || hit.gpu >= gpuCount(node)) hit = null;
    }
    this.hover = hit;
    this.hoverAt = { x, y };
    this.showTip();
  }

  private onKey(ev: KeyboardEvent): void {
    const l = this.layout;
    if (l === null || this.grid.length === 0) return;
    if (ev.key === 'Escape') {
      this.cursor = null;
      this.schedule();
      this.showTip();
      return;
    }
    const at = this.cursor ?? { node: 0, gpu: 0 };
    const next = moveCursor(l, at, ev.key, (n) => {
      const node = this.grid[n];
      return node === undefined ? 0 : gpuCount(node);
    });
    if (next === null) return;
    ev.preventDefault();
    this.cursor = next;
    this.schedule();
    this.showTip();
    const node = this.grid[next.node];
    if (node !== undefined) {
      const t = tooltipLines(node, next.gpu, Date.now());
      this.announcer.textContent = `${t.title}. ${t.lines.join('. ')}.`;
    }
  }

  /** Show the tooltip for the pointer, else for the keyboard cursor, else hide it. */
  private showTip(): void {
    const l = this.layout;
    let target: Hit | null = null;
    let anchor: { x: number; y: number } | null = null;
    if (l !== null && this.hover !== null && this.hoverAt !== null) {
      target = this.hover;
      anchor = this.hoverAt;
    } else if (l !== null && this.cursor !== null && document.activeElement === this.canvas) {
      target = this.cursor;
      const r = cellRect(l, this.cursor.node, this.cursor.gpu);
      anchor = { x: r.x + r.w, y: r.y + r.h };
    }
    const node = target === null ? undefined : this.grid[target.node];
    if (target === null || anchor === null || node === undefined) {
      this.tip.hidden = true;
      return;
    }
    const t = tooltipLines(node, target.gpu, Date.now());
    const title = document.createElement('strong');
    title.textContent = t.title;
    const rows = t.lines.map((line) => {
      const div = document.createElement('div');
      div.textContent = line;
      return div;
    });
    this.tip.replaceChildren(title, ...rows);
    this.tip.hidden = false;
    // Place right-below the point, flipped to stay inside the grid's box.
    const off = this.canvas.offsetLeft;
    const offTop = this.canvas.offsetTop;
    const tw = this.tip.offsetWidth;
    const th = this.tip.offsetHeight;
    let x = off + anchor.x + 14;
    let y = offTop + anchor.y + 14;
    if (x + tw > this.root.clientWidth) x = Math.max(0, off + anchor.x - tw - 14);
    if (y + th > offTop + this.canvas.offsetHeight + 40) y = Math.max(0, offTop + anchor.y - th - 14);
    this.tip.style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px)`;
  }
}
