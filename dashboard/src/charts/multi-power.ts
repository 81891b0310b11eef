/**
 * Several power series on one uPlot chart (a job's GPUs or nodes), coloured with the
 * Okabe-Ito palette (distinct with the common colour-vision deficiencies), dashed from the
 * ninth series on so more series than colours stay apart.
 */
import uPlot from 'uplot';
import { MISSING, formatClock, formatHm, formatPower, powerTick, powerUnitFor } from '../format.js';
import { THEME_EVENT } from '../theme.js';
import type { NamedColumns } from '../job-model.js';

export const OKABE_ITO = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#000000'];

export interface MultiPowerChart {
  set(c: NamedColumns): void;
  destroy(): void;
}

function axisColours(el: Element): { axis: string; grid: string } {
  const cs = getComputedStyle(el);
  return { axis: cs.getPropertyValue('--chart-axis').trim() || '#555', grid: cs.getPropertyValue('--chart-grid').trim() || 'rgba(0,0,0,.08)' };
}

export function createMultiPower(el: HTMLElement, label: (c: NamedColumns) => string): MultiPowerChart {
  let plot: uPlot | null = null;
  let names = '';
  let colours = axisColours(el);
  const font = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif';
  const make = (c: NamedColumns): uPlot => {
    const axis = (): uPlot.Axis => ({ stroke: () => colours.axis, grid: { stroke: () => colours.grid, width: 1 }, ticks: { stroke: () => colours.grid, width: 1, size: 4 }, font });
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 240,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1000] } },
      axes: [
        { ...axis(), space: 90, values: (_u, splits, _a, _s, incr) => splits.map((s) => (incr < 60 ? formatClock(s * 1000) : formatHm(s * 1000))) },
        { ...axis(), size: 70, values: (_u, splits) => {
          const unit = powerUnitFor(Math.max(...splits.map((s) => Math.abs(s))));
          return splits.map((s) => powerTick(s, unit));
        } },
      ],
      series: [
        { label: 'Time', value: (_u, v) => (v === null ? MISSING : formatClock(v * 1000)) },
        ...c.names.map((name, i): uPlot.Series => ({
          label: name === 'total' ? 'Total (incl. CPU, modelled other)' : name,
          stroke: name === 'total' ? colours.axis : (OKABE_ITO[i % OKABE_ITO.length] as string),
          width: name === 'total' ? 2 : 1.5,
          ...(i >= OKABE_ITO.length ? { dash: [6, 3] } : {}),
          spanGaps: false,
          points: { show: false },
          value: (_u, v) => formatPower(v),
        })),
      ],
    };
    return new uPlot(opts, c.columns as uPlot.AlignedData, el);
  };
  const ro = new ResizeObserver(() => {
    if (plot !== null) {
      const w = Math.max(200, Math.floor(el.clientWidth));
      if (w !== plot.width) plot.setSize({ width: w, height: 240 });
    }
  });
  ro.observe(el);
  const onTheme = (): void => {
    colours = axisColours(el);
    plot?.redraw(false, true);
  };
  window.addEventListener(THEME_EVENT, onTheme);
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', onTheme);
  return {
    set(c) {
      const key = c.names.join('\n');
      if (plot === null || key !== names) {
        plot?.destroy();
        plot = make(c);
        names = key;
      } else {
        plot.setData(c.columns as uPlot.AlignedData);
      }
      el.setAttribute('aria-label', label(c));
    },
    destroy() {
      ro.disconnect();
      window.removeEventListener(THEME_EVENT, onTheme);
      plot?.destroy();
    },
  };
}
