/**
 * Cluster power over the last hour, as a uPlot line chart. `create` draws it into an
 * element; `update` takes the `history` message's columns (keeping newer live points),
 * `append` adds one `cluster` reading. Colours follow the page's CSS custom properties and
 * switch with the colour scheme.
 */
import uPlot from 'uplot';
import { THEME_EVENT } from '../theme.js';
import { formatClock, formatHm, formatPower, powerTick, powerUnitFor } from '../format.js';
import { type PowerColumns, WINDOW_S, appendPoint, describeSeries, emptyColumns, mergeHistory } from './power-series.js';

export interface ClusterPowerOptions {
  /** Plot height in CSS px. */
  height?: number;
  /** Seconds of history to keep. */
  windowS?: number;
  /** Called with a one-line text alternative after every change. */
  onSummary?: (text: string) => void;
}

export interface ClusterPowerChart {
  /** Replace the series with history columns [tsUnixS[], powerW[]], keeping newer live points. */
  update(cols: PowerColumns): void;
  /** Add one reading (Unix seconds, W). */
  append(tsS: number, powerW: number | null): void;
  destroy(): void;
}

interface Colours {
  line: string;
  fill: string;
  axis: string;
  grid: string;
}

function readColours(el: Element): Colours {
  const cs = getComputedStyle(el);
  const v = (name: string, fallback: string): string => cs.getPropertyValue(name).trim() || fallback;
  return {
    line: v('--chart-line', '#2c728e'),
    fill: v('--chart-fill', 'rgba(44, 114, 142, 0.15)'),
    axis: v('--chart-axis', '#555'),
    grid: v('--chart-grid', 'rgba(0, 0, 0, 0.08)'),
  };
}

export function create(el: HTMLElement, opts: ClusterPowerOptions = {}): ClusterPowerChart {
  const windowS = opts.windowS ?? WINDOW_S;
  const height = opts.height ?? 220;
  let cols = emptyColumns();
  let colours = readColours(el);

  const at = (col: 0 | 1, v: number | null, idx: number | null, fmt: (x: number) => string): string => {
    const x = idx === null ? cols[col][cols[col].length - 1] : v;
    return x === null || x === undefined ? '—' : fmt(x);
  };
  const font = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif';
  const axis = (): uPlot.Axis => ({
    stroke: () => colours.axis,
    grid: { stroke: () => colours.grid, width: 1 },
    ticks: { stroke: () => colours.grid, width: 1, size: 4 },
    font,
  });
  const options: uPlot.Options = {
    width: Math.max(200, el.clientWidth),
    height,
    pxAlign: 0,
    // Data is replaced every second, which would undo a drag-zoom at once: no zoom.
    cursor: { y: false, points: { size: 7 }, drag: { x: false, y: false } },
    legend: { show: true, live: true },
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1000] },
    },
    axes: [
      {
        ...axis(),
        space: 90, // "HH:MM:SS" labels must not touch
        values: (_u, splits, _axis, _space, incr) =>
          splits.map((s) => (incr < 60 ? formatClock(s * 1000) : formatHm(s * 1000))),
      },
      {
        ...axis(),
        size: 70,
        values: (_u, splits) => {
          const unit = powerUnitFor(Math.max(...splits.map((s) => Math.abs(s))));
          return splits.map((s) => powerTick(s, unit));
        },
      },
    ],
    series: [
      // Legend values: the hovered point, or the newest one when the pointer is elsewhere.
      { label: 'Time', value: (_u, v, _s, idx) => at(0, v, idx, (x) => formatClock(x * 1000)) },
      {
        label: 'Cluster power',
        stroke: () => colours.line,
        width: 2,
        fill: (u) => {
          const { top, height: h } = u.bbox;
          // uPlot asks for the fill before its first layout, when bbox is not measured yet.
          if (!Number.isFinite(top) || !Number.isFinite(h) || h <= 0) return colours.fill;
          const g = u.ctx.createLinearGradient(0, top, 0, top + h);
          g.addColorStop(0, colours.fill);
          g.addColorStop(1, 'rgba(0, 0, 0, 0)');
          return g;
        },
        spanGaps: false,
        points: { show: false },
        value: (_u, v, _s, idx) => at(1, v, idx, formatPower),
      },
    ],
  };
  const plot = new uPlot(options, cols as uPlot.AlignedData, el);

  const summarise = (): void => opts.onSummary?.(describeSeries(cols));
  const redraw = (): void => {
    plot.setData(cols as uPlot.AlignedData);
    summarise();
  };

  const ro = new ResizeObserver(() => {
    const w = Math.max(200, Math.floor(el.clientWidth));
    if (w !== plot.width) plot.setSize({ width: w, height });
  });
  ro.observe(el);
  const mq = matchMedia('(prefers-color-scheme: dark)');
  const onScheme = (): void => {
    colours = readColours(el);
    plot.redraw(false, true);
  };
  mq.addEventListener('change', onScheme);
  window.addEventListener(THEME_EVENT, onScheme);

  return {
    update(history) {
      cols = mergeHistory(history, cols, windowS);
      redraw();
    },
    append(tsS, powerW) {
      appendPoint(cols, tsS, powerW, windowS);
      redraw();
    },
    destroy() {
      ro.disconnect();
      mq.removeEventListener('change', onScheme);
      window.removeEventListener(THEME_EVENT, onScheme);
      plot.destroy();
    },
  };
}
