/**
 * The big numbers at the top of the page and the connection badge. Texts come from pure
 * functions (tested); the DOM part only writes them into elements found by id.
 */
import type { ClusterSummary } from '@stroom/protocol';
import { type GridSummary } from './charts/grid-model.js';
import { type Parts, MISSING, energyParts, formatAge, formatClock, formatCount, formatEnergy, formatPower, powerParts } from './format.js';
import { type LiveView } from './live-client.js';

export interface Kpi {
  value: string;
  unit: string;
  sub: string;
}

export interface KpiSet {
  power: Kpi;
  energyToday: Kpi;
  nodes: Kpi;
  gpus: Kpi;
  jobs: Kpi;
}

const kpi = (p: Parts, sub: string): Kpi => ({ value: p.value, unit: p.unit, sub });

/**
 * Texts of the big numbers. `grid` (from the live grid) adds up/down and allocation
 * detail and `users` the number of distinct users of the running jobs; without them (REST
 * summary only) those parts show as missing.
 */
export function kpiTexts(c: ClusterSummary, grid: GridSummary | null, users: number | null = null): KpiSet {
  const nodesUp = grid === null ? null : grid.nodesUp;
  const down = grid === null ? null : c.nodes - grid.nodesUp;
  return {
    // Modelled base power is labelled wherever it appears: it is an estimate, not a reading.
    power: kpi(powerParts(c.powerW), (c.modelledPowerW ?? 0) > 0 ? `at ${formatClock(c.ts)} · incl. ${formatPower(c.modelledPowerW)} modelled` : `at ${formatClock(c.ts)}`),
    energyToday: kpi(energyParts(c.energyTodayJ), `${formatEnergy(c.energyJ)} since records began${(c.modelledPowerW ?? 0) > 0 ? ' · incl. modelled base power' : ''}`),
    nodes: {
      value: nodesUp === null ? MISSING : formatCount(nodesUp),
      unit: `/ ${formatCount(c.nodes)} up`,
      sub: down === null ? `${formatCount(c.nodes)} known` : down > 0 ? `${formatCount(down)} down` : 'all up',
    },
    gpus: {
      value: formatCount(c.gpus),
      unit: 'GPUs',
      sub:
        grid === null
          ? MISSING
          : `${formatCount(grid.allocated)} allocated · ${formatCount(grid.allocatedIdle)} idle`,
    },
    jobs: {
      value: formatCount(c.jobsRunning),
      unit: c.jobsRunning === 1 ? 'job' : 'jobs',
      sub: users === null ? 'running now' : `running now · ${formatCount(users)} ${users === 1 ? 'user' : 'users'}`,
    },
  };
}

/** Header badge text for a live view state. */
export function statusText(view: LiveView, lastClusterAtMs: number | null, nowMs: number): { label: string; detail: string } {
  const age = lastClusterAtMs === null ? 'no data yet' : `last update ${formatAge(nowMs - lastClusterAtMs)}`;
  switch (view) {
    case 'live':
      return { label: 'Live', detail: age };
    case 'connecting':
      return { label: 'Connecting…', detail: age };
    case 'reconnecting':
      return { label: 'Reconnecting…', detail: age };
    case 'stale':
      return { label: 'Stale', detail: age };
    case 'closed':
      return { label: 'Disconnected', detail: age };
  }
}

/** Title of the browser tab: power first, so it reads in a row of tabs. */
export function pageTitle(powerW: number | null, view: LiveView): string {
  const p = powerW === null ? '' : `${formatPower(powerW)} · `;
  return `${view === 'live' || powerW === null ? '' : '(stale) '}${p}stroom`;
}

const IDS: Record<keyof KpiSet, string> = {
  power: 'kpi-power',
  energyToday: 'kpi-energy',
  nodes: 'kpi-nodes',
  gpus: 'kpi-gpus',
  jobs: 'kpi-jobs',
};

/** Write the big numbers into `#kpi-*` elements (`.kpi-value`, `.unit`, `.kpi-sub` inside). */
export function renderKpis(doc: Document, k: KpiSet): void {
  for (const key of Object.keys(IDS) as (keyof KpiSet)[]) {
    const el = doc.getElementById(IDS[key]);
    if (el === null) continue;
    const v = k[key];
    const set = (sel: string, text: string): void => {
      const t = el.querySelector(sel);
      if (t !== null && t.textContent !== text) t.textContent = text;
    };
    set('.kpi-number', v.value);
    set('.unit', v.unit);
    set('.kpi-sub', v.sub);
  }
}
