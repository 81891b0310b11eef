/**
 * The operator overview: big numbers, grid headroom, cluster power chart, today's and this
 * month's footprint with the factors in force, nodes with problems, the GPU heatmap and the
 * top jobs by power. Fed by the `cluster` topic (a full snapshot, then deltas merged by
 * ClusterModel); a delta out of sequence asks the collector for a fresh snapshot.
 */
import { ClusterSummarySchema } from '@stroom/protocol';
import type { ClusterSummary, LiveCluster, LiveMessage } from '@stroom/protocol';
import { apiGet } from './auth-token.js';
import { liveProtocols } from './auth-token.js';
import { create as createPowerChart } from './charts/cluster-power.js';
import { GpuGrid } from './charts/gpu-grid.js';
import { type GridMetric, type GridSummary, METRIC_LEGEND, gpuCount, summariseGrid } from './charts/grid-model.js';
import { ClusterModel } from './cluster-model.js';
import { legendGradient } from './colour-scale.js';
import { formatCount, formatEnergy } from './format.js';
import { JobsTable } from './jobs-table.js';
import { kpiTexts, pageTitle, renderKpis, statusText } from './kpis.js';
import { type ConnectionState, LiveClient, liveUrl, liveView } from './live-client.js';
import { factorLines, headroom, periodTexts, problemLines } from './overview-model.js';

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page is missing #${id}`);
  return el as T;
}

/** Grids up to this many cells sit beside the jobs table; larger ones get the full width. */
const SMALL_GRID_CELLS = 512;

function setKpi(id: string, value: string, unit: string, sub: string | null): void {
  const el = byId(id);
  const set = (sel: string, text: string): void => {
    const t = el.querySelector(sel);
    if (t !== null && t.textContent !== text) t.textContent = text;
  };
  set('.kpi-number', value);
  set('.unit', unit);
  if (sub !== null) set('.kpi-sub', sub);
}

/** "12.3 kg CO2e" -> ["12.3", "kg CO2e"]. */
function split(text: string): [string, string] {
  const i = text.indexOf(' ');
  return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + 1)];
}

export interface Overview {
  show(): void;
  hide(): void;
  /** For the browser test and benchmark: the grid and the time each message was painted. */
  readonly grid: GpuGrid;
}

export function createOverview(onStatus: (view: ReturnType<typeof liveView>, label: string, detail: string) => void): Overview {
  const notice = byId('notice');
  const gridPanel = byId('panel-grid');
  const chartEl = byId('power-chart');
  const alertEl = byId('grid-alert');
  byId('legend-bar').style.background = legendGradient();

  const chart = createPowerChart(chartEl, { onSummary: (t) => chartEl.setAttribute('aria-label', t) });
  const grid = new GpuGrid(byId('gpu-grid'), { maxHeight: () => Math.max(260, Math.round(window.innerHeight * 0.72)) });
  const jobs = new JobsTable(byId<HTMLTableElement>('jobs-table'), byId('jobs-caption'), { onHover: (id) => grid.highlightJob(id), linkJobs: true });
  const model = new ClusterModel();

  const metricSelect = byId<HTMLSelectElement>('grid-metric');
  metricSelect.addEventListener('change', () => {
    const metric = metricSelect.value as GridMetric;
    grid.setMetric(metric);
    byId('legend-low').textContent = METRIC_LEGEND[metric].low;
    byId('legend-high').textContent = METRIC_LEGEND[metric].high;
  });

  let lastClusterAt: number | null = null;
  let lastPowerW: number | null = null;
  let connState: ConnectionState = 'idle';
  let visible = false;

  const showNotice = (text: string | null): void => {
    notice.hidden = text === null;
    notice.textContent = text ?? '';
  };

  const renderStatus = (): void => {
    if (!visible) return;
    const now = Date.now();
    const view = liveView({ state: connState, openedAtMs: client.openedAt, lastClusterAtMs: lastClusterAt, nowMs: now });
    const t = statusText(view, lastClusterAt, now);
    onStatus(view, t.label, t.detail);
    const title = pageTitle(lastPowerW, view);
    if (document.title !== title) document.title = title;
  };

  const renderAdditions = (m: LiveCluster): void => {
    const today = periodTexts(m.today);
    const month = periodTexts(m.month);
    byId('kpi-energy-month').textContent = `${month.energy} this month`;
    setKpi('kpi-co2e', ...split(today.co2e), `${month.co2e} this month · location-based`);
    setKpi('kpi-cost', ...split(today.cost), `${month.cost} this month`);
    for (const [key, texts] of [['today', today], ['month', month]] as const) {
      for (const field of ['energy', 'co2e', 'co2eMarket', 'cost'] as const) {
        const cell = document.querySelector(`#period-table [data-k="${key}-${field}"]`);
        if (cell !== null && cell.textContent !== texts[field]) cell.textContent = texts[field];
      }
    }
    const h = headroom(m.powerW, m.gridCapW);
    const tile = byId('kpi-headroom');
    tile.dataset['state'] = h.state;
    setKpi('kpi-headroom', h.value, h.unit, h.sub);
    const fill = tile.querySelector<HTMLElement>('.meter-fill');
    if (fill !== null) fill.style.width = `${Math.min(100, Math.max(0, (h.ratio ?? 0) * 100)).toFixed(1)}%`;
    alertEl.hidden = h.alert === null;
    alertEl.dataset['state'] = h.state;
    if (alertEl.textContent !== (h.alert ?? '')) alertEl.textContent = h.alert ?? '';

    const factors = byId('factors');
    const lines = factorLines(m.factors);
    factors.replaceChildren(
      ...lines.map((f) => {
        const li = document.createElement('li');
        const label = document.createElement('span');
        label.className = 'factor-label';
        label.textContent = f.label;
        const value = document.createElement('strong');
        value.textContent = f.value;
        const src = document.createElement('span');
        src.className = 'factor-source';
        src.textContent = `${f.quality} · ${f.source}`;
        li.append(label, value, src);
        return li;
      }),
    );
    const problems = problemLines(m.problems);
    byId('problems-caption').textContent = problems.length === 0 ? 'none' : `${formatCount(problems.length)} of ${formatCount(m.nodes)} nodes`;
    const list = byId('problems');
    const shown = problems.slice(0, 100);
    list.replaceChildren(
      ...(shown.length === 0
        ? [Object.assign(document.createElement('li'), { className: 'muted', textContent: 'Every agent and source is reporting.' })]
        : shown.map((p) => {
            const li = document.createElement('li');
            li.dataset['severity'] = p.severity;
            const name = document.createElement('strong');
            name.textContent = p.node;
            li.append(name, document.createTextNode(` ${p.text}`));
            return li;
          })),
    );
  };

  const onCluster = (m: LiveCluster): void => {
    if (model.apply(m) === 'resync') {
      client.resubscribe();
      return;
    }
    lastClusterAt = Date.now();
    lastPowerW = m.powerW;
    const rows = model.rows;
    const summary: GridSummary = summariseGrid(rows);
    const users = new Set(m.jobs.map((j) => j.user)).size;
    renderKpis(document, kpiTexts(m, summary, users));
    renderAdditions(m);
    const cells = rows.reduce((n, node) => n + gpuCount(node), 0);
    gridPanel.dataset['size'] = cells <= SMALL_GRID_CELLS ? 'small' : 'large';
    chart.append(m.ts / 1000, m.powerW);
    grid.update(rows);
    jobs.update(m.jobs, m.ts, m.jobsRunning);
    showNotice(null);
    renderStatus();
    paintMark(m);
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
        showNotice(
          /not allowed/.test(m.message)
            ? 'The cluster overview is for operators. Use an operator token on "My jobs", or see your own jobs there.'
            : `The collector refused a request: ${m.message}`,
        );
        break;
      default:
        break;
    }
  };

  const client = new LiveClient({
    url: liveUrl(location.href),
    topics: ['cluster'],
    protocols: () => liveProtocols(),
    onMessage,
    onState: (s) => {
      connState = s;
      if (s === 'reconnecting') model.reset();
      renderStatus();
    },
    onProtocolError: (e) => console.warn('stroom live:', e),
  });
  setInterval(renderStatus, 500);
  window.addEventListener('online', () => client.reconnectNow());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && visible) client.reconnectNow();
  });

  const fillFromRest = (): void => {
    // The REST summary fills the big numbers before the first live message arrives.
    void apiGet<unknown>('api/v1/cluster').then((r) => {
      if (!r.ok) {
        if (r.status === 401 || r.status === 403) showNotice('The cluster overview needs an operator token: enter it under "My jobs".');
        return;
      }
      const parsed = ClusterSummarySchema.safeParse(r.body);
      if (parsed.success && lastClusterAt === null) {
        const c: ClusterSummary = parsed.data;
        lastPowerW = c.powerW;
        renderKpis(document, kpiTexts(c, null));
        byId('kpi-energy-month').textContent = `${formatEnergy(null)} this month`;
      }
    });
  };

  return {
    grid,
    show() {
      visible = true;
      byId('view-overview').hidden = false;
      client.start();
      fillFromRest();
      renderStatus();
    },
    hide() {
      visible = false;
      byId('view-overview').hidden = true;
      client.stop();
      model.reset();
      showNotice(null);
    },
  };
}

/**
 * Paint marks for the latency benchmark: after a message is applied, the next animation
 * frame is when it is on screen; each changed row's `lastSeenTs` is its agent's sample time.
 * Kept on `window.stroomPaint` (at most the last 500 000) only when the page was opened with
 * `?paintlog`, so ordinary pages do no extra work.
 */
function paintMark(m: LiveCluster): void {
  if (!PAINT_LOG) return;
  const sampleTs = m.grid.map((n) => n.lastSeenTs);
  requestAnimationFrame(() => {
    const paintedMs = Date.now();
    const w = window as unknown as { stroomPaint?: number[]; stroomPaintSinceBuild?: number[] };
    const log = (w.stroomPaint ??= []);
    for (const ts of sampleTs) log.push(paintedMs - ts);
    if (log.length > 500_000) log.splice(0, log.length - 500_000);
    // From the collector building the message (m.ts) to paint: encoding, transfer, parse, draw.
    (w.stroomPaintSinceBuild ??= []).push(paintedMs - m.ts);
  });
}

const PAINT_LOG = typeof location !== 'undefined' && new URLSearchParams(location.search).has('paintlog');
