/**
 * Wiring of the live page: finds the page's elements, creates the chart, grid and table,
 * and routes live messages to them. Behaviour lives in the modules it imports.
 */
import { ClusterSummarySchema } from '@stroom/protocol';
import type { ClusterSummary, LiveCluster, LiveMessage } from '@stroom/protocol';
import { create as createPowerChart } from './charts/cluster-power.js';
import { GpuGrid } from './charts/gpu-grid.js';
import { type GridSummary, gpuCount, summariseGrid } from './charts/grid-model.js';
import { legendGradient } from './colour-scale.js';
import { JobsTable } from './jobs-table.js';
import { kpiTexts, pageTitle, renderKpis, statusText } from './kpis.js';
import { type ConnectionState, LiveClient, liveUrl, liveView } from './live-client.js';

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page is missing #${id}`);
  return el as T;
}

/** Grids up to this many cells sit beside the jobs table; larger ones get the full width. */
const SMALL_GRID_CELLS = 512;

function start(): void {
  const status = byId('conn');
  const statusLabel = byId('conn-label');
  const statusDetail = byId('conn-detail');
  const notice = byId('notice');
  const gridPanel = byId('panel-grid');
  const chartEl = byId('power-chart');
  byId('legend-bar').style.background = legendGradient();

  const chart = createPowerChart(chartEl, { onSummary: (t) => chartEl.setAttribute('aria-label', t) });
  const grid = new GpuGrid(byId('gpu-grid'), {
    maxHeight: () => Math.max(260, Math.round(window.innerHeight * 0.72)),
  });
  const jobs = new JobsTable(byId<HTMLTableElement>('jobs-table'), byId('jobs-caption'), {
    onHover: (id) => grid.highlightJob(id),
  });

  let lastClusterAt: number | null = null;
  let lastPowerW: number | null = null;
  let connState: ConnectionState = 'idle';

  const showNotice = (text: string | null): void => {
    notice.hidden = text === null;
    notice.textContent = text ?? '';
  };

  const renderStatus = (): void => {
    const now = Date.now();
    const view = liveView({ state: connState, openedAtMs: client.openedAt, lastClusterAtMs: lastClusterAt, nowMs: now });
    const t = statusText(view, lastClusterAt, now);
    if (status.dataset['state'] !== view) {
      status.dataset['state'] = view;
      document.body.dataset['live'] = view;
    }
    statusLabel.textContent = t.label;
    statusDetail.textContent = t.detail;
    const title = pageTitle(lastPowerW, view);
    if (document.title !== title) document.title = title;
  };

  const onCluster = (m: LiveCluster): void => {
    lastClusterAt = Date.now();
    lastPowerW = m.powerW;
    const summary: GridSummary = summariseGrid(m.grid);
    const users = new Set(m.jobs.map((j) => j.user)).size;
    renderKpis(document, kpiTexts(m, summary, users));
    const cells = m.grid.reduce((n, node) => n + gpuCount(node), 0);
    gridPanel.dataset['size'] = cells <= SMALL_GRID_CELLS ? 'small' : 'large';
    chart.append(m.ts / 1000, m.powerW);
    grid.update(m.grid);
    jobs.update(m.jobs, m.ts);
    showNotice(null);
    renderStatus();
  };

  const onMessage = (m: LiveMessage): void => {
    switch (m.type) {
      case 'cluster':
        onCluster(m);
        break;
      case 'history':
        if (m.topic === 'cluster') chart.update(m.columns);
        break;
      case 'error':
        showNotice(`The collector refused a request: ${m.message}`);
        break;
    }
  };

  const client = new LiveClient({
    url: liveUrl(location.href),
    topics: ['cluster'],
    onMessage,
    onState: (s) => {
      connState = s;
      renderStatus();
    },
    onProtocolError: (e) => console.warn('stroom live:', e),
  });
  client.start();
  setInterval(renderStatus, 500);
  window.addEventListener('online', () => client.reconnectNow());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') client.reconnectNow();
  });

  // The REST summary fills the big numbers before the first live message arrives.
  void fetch('api/v1/cluster', { headers: { accept: 'application/json' } })
    .then(async (res) => (res.ok ? ClusterSummarySchema.safeParse(await res.json()) : null))
    .then((parsed) => {
      if (parsed?.success === true && lastClusterAt === null) {
        const c: ClusterSummary = parsed.data;
        lastPowerW = c.powerW;
        renderKpis(document, kpiTexts(c, null));
      }
    })
    .catch(() => undefined);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
else start();
