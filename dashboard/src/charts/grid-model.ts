/**
 * Pure reading of the live grid: what each GPU cell shows and a one-line summary for
 * screen readers. Shared by the canvas drawing and the tests.
 */
import { IDLE_GPU_UTIL_RATIO } from '@stroom/protocol';
import type { LiveNode } from '@stroom/protocol';
import { powerRatio } from '../colour-scale.js';
import { formatAge, formatCount, formatPercent, formatPower, formatTemp } from '../format.js';

/** Utilisation below which an allocated GPU counts as idle: the collector's figure, so the marks and idle GPU-hours agree. */
export const IDLE_UTIL_RATIO = IDLE_GPU_UTIL_RATIO;

/** What the cells' colour shows. */
export type GridMetric = 'power' | 'temp' | 'util';

/** Temperatures mapped onto the colour scale, °C: below the first is the bottom, above the second the top. */
export const TEMP_SCALE_C: readonly [number, number] = [20, 90];

/** Legend ends for each metric. */
export const METRIC_LEGEND: Record<GridMetric, { low: string; high: string; label: string }> = {
  power: { low: '0', high: '100 % of power limit', label: 'Power' },
  temp: { low: `${TEMP_SCALE_C[0]} °C`, high: `${TEMP_SCALE_C[1]} °C`, label: 'Temperature' },
  util: { low: '0 %', high: '100 % utilisation', label: 'Utilisation' },
};

/** Position 0..1 of one GPU on the colour scale for `metric`, or null when unknown. */
export function metricRatio(node: LiveNode, i: number, metric: GridMetric): number | null {
  if (metric === 'power') return powerRatio(node.gpuPowerW[i] ?? null, node.gpuPowerLimitW[i] ?? null);
  if (metric === 'util') {
    const u = node.gpuUtilRatio[i] ?? null;
    return u === null || !Number.isFinite(u) ? null : Math.min(1, Math.max(0, u));
  }
  const t = node.gpuTempC[i] ?? null;
  if (t === null || !Number.isFinite(t)) return null;
  return Math.min(1, Math.max(0, (t - TEMP_SCALE_C[0]) / (TEMP_SCALE_C[1] - TEMP_SCALE_C[0])));
}

export interface GpuCell {
  /** Position on the colour scale (power as a share of the limit by default), null when unknown. */
  ratio: number | null;
  /** Held by a job but doing (almost) nothing. */
  allocatedIdle: boolean;
  job: string | null;
}

export function gpuCell(node: LiveNode, i: number, metric: GridMetric = 'power'): GpuCell {
  const job = node.gpuJob[i] ?? null;
  const util = node.gpuUtilRatio[i] ?? null;
  return {
    ratio: metricRatio(node, i, metric),
    allocatedIdle: job !== null && util !== null && util < IDLE_UTIL_RATIO,
    job,
  };
}

/** GPU count of a node, from its widest column. */
export function gpuCount(node: LiveNode): number {
  return Math.max(node.gpuUuids.length, node.gpuPowerW.length);
}

export interface GridSummary {
  nodes: number;
  nodesUp: number;
  gpus: number;
  allocated: number;
  allocatedIdle: number;
  /** Mean power/limit over GPUs of up nodes with a known ratio, or null. */
  meanRatio: number | null;
}

export function summariseGrid(grid: readonly LiveNode[]): GridSummary {
  let nodesUp = 0;
  let gpus = 0;
  let allocated = 0;
  let allocatedIdle = 0;
  let ratioSum = 0;
  let ratioN = 0;
  for (const node of grid) {
    if (node.up) nodesUp++;
    const n = gpuCount(node);
    gpus += n;
    for (let i = 0; i < n; i++) {
      const c = gpuCell(node, i);
      if (c.job !== null) allocated++;
      if (!node.up) continue;
      if (c.allocatedIdle) allocatedIdle++;
      if (c.ratio !== null) {
        ratioSum += Math.min(1, c.ratio);
        ratioN++;
      }
    }
  }
  return { nodes: grid.length, nodesUp, gpus, allocated, allocatedIdle, meanRatio: ratioN > 0 ? ratioSum / ratioN : null };
}

/** Text alternative of the grid canvas. */
export function describeGrid(s: GridSummary): string {
  if (s.nodes === 0) return 'GPU grid: no nodes reported yet.';
  const parts = [
    `GPU grid: ${formatCount(s.nodes)} nodes, ${formatCount(s.nodesUp)} up`,
    `${formatCount(s.gpus)} GPUs, ${formatCount(s.allocated)} allocated to jobs`,
    `${formatCount(s.allocatedIdle)} allocated but idle`,
    `mean power ${formatPercent(s.meanRatio)} of limit`,
  ];
  return `${parts.join('; ')}. Use the arrow keys to read single GPUs.`;
}

/**
 * Tooltip text of one GPU (gpu set) or of a node's row label (gpu null): a title line and
 * detail lines, every number with its unit.
 */
export function tooltipLines(node: LiveNode, gpu: number | null, nowMs: number): { title: string; lines: string[] } {
  const lines: string[] = [];
  if (!node.up) lines.push(`Node down · last seen ${formatAge(nowMs - node.lastSeenTs)}`);
  if (gpu === null) {
    const n = gpuCount(node);
    let busy = 0;
    for (let i = 0; i < n; i++) if ((node.gpuJob[i] ?? null) !== null) busy++;
    lines.push(`Node power ${formatPower(node.powerW)}`);
    lines.push(`${formatCount(n)} GPUs, ${formatCount(busy)} allocated`);
    return { title: node.name, lines };
  }
  const c = gpuCell(node, gpu);
  const power = node.gpuPowerW[gpu] ?? null;
  const limit = node.gpuPowerLimitW[gpu] ?? null;
  lines.push(
    limit === null
      ? `Power ${formatPower(power)} (limit unknown)`
      : `Power ${formatPower(power)} of ${formatPower(limit)} (${formatPercent(c.ratio)})`,
  );
  lines.push(`Temp ${formatTemp(node.gpuTempC[gpu] ?? null)} · Util ${formatPercent(node.gpuUtilRatio[gpu] ?? null)}`);
  lines.push(c.job === null ? 'No job' : `Job ${c.job}${c.allocatedIdle ? ' · allocated but idle' : ''}`);
  return { title: `${node.name} · GPU ${gpu}`, lines };
}
