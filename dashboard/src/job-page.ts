/**
 * One job's page (`#/job/<id>`): its footprint from `GET /api/v1/jobs/{id}`, power per GPU and
 * per node from the books' 10 s series (`&by=gpu` when the collector has it, else per node
 * only), then live points and figures from the `job/<id>` topic while it runs.
 */
import type { JobDetail, LiveJobTopic, LiveMessage } from '@stroom/protocol';
import { apiGet, liveProtocols } from './auth-token.js';
import { type MultiPowerChart, createMultiPower } from './charts/multi-power.js';
import { formatClock, formatCount, formatDuration, formatEnergy, formatPercent, formatPower, sig3 } from './format.js';
import { type NamedColumns, appendNamed, carEquivalent, efficiency, energySplit, fromApiSeries, isPerGpu, liveValues } from './job-model.js';
import { LiveClient, liveUrl } from './live-client.js';
import { formatCo2e, formatEur } from './overview-model.js';

type SeriesBody = { step: number; series: string[]; columns: Array<Array<number | null>> };

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page is missing #${id}`);
  return el as T;
}

function setKpi(id: string, text: string, sub?: string): void {
  const el = byId(id);
  const i = text.indexOf(' ');
  const [value, unit] = i < 0 || text.startsWith('EUR') ? [text, ''] : [text.slice(0, i), text.slice(i + 1)];
  (el.querySelector('.kpi-number') as HTMLElement).textContent = value;
  (el.querySelector('.unit') as HTMLElement).textContent = unit;
  if (sub !== undefined) (el.querySelector('.kpi-sub') as HTMLElement).textContent = sub;
}

function rows(tbody: HTMLTableSectionElement, data: Array<[string, string]>): void {
  tbody.replaceChildren(
    ...data.map(([k, v]) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = k;
      const td = document.createElement('td');
      td.className = 'num';
      td.textContent = v;
      tr.append(th, td);
      return tr;
    }),
  );
}

const describe = (what: string) => (c: NamedColumns): string => {
  const n = c.names.filter((x) => x !== 'total').length;
  return `${what}: ${formatCount(n)} series, ${formatCount((c.columns[0] ?? []).length)} points.`;
};

export interface JobPage {
  show(id: string): void;
  hide(): void;
}

export function createJobPage(): JobPage {
  const view = byId('view-job');
  const error = byId('job-error');
  let gpuChart: MultiPowerChart | null = null;
  let nodeChart: MultiPowerChart | null = null;
  let client: LiveClient | null = null;
  let gpuCols: NamedColumns = { names: [], columns: [[]] };
  let nodeCols: NamedColumns = { names: [], columns: [[]] };
  let current: string | null = null;

  const showError = (text: string | null): void => {
    error.hidden = text === null;
    error.textContent = text ?? '';
  };

  const renderEnergy = (e: { total: number; gpu: number; cpu: number; other: number }, live: boolean): void => {
    const el = byId('job-energy');
    el.dataset['energyJ'] = String(e.total);
    setKpi('job-energy', formatEnergy(e.total), live ? 'so far (live) · GPU + CPU + modelled other' : 'IT energy · GPU + CPU + modelled other');
    const split = energySplit(e);
    const bar = byId('split-bar');
    bar.replaceChildren(
      ...split.map((s) => {
        const span = document.createElement('span');
        span.className = `seg seg-${s.key}`;
        span.style.width = `${(s.share * 100).toFixed(2)}%`;
        return span;
      }),
    );
    rows(byId<HTMLTableElement>('split-table').tBodies[0] as HTMLTableSectionElement, [
      ...split.map((s): [string, string] => [s.label, `${s.text} (${formatPercent(s.share)})`]),
      ['Total', formatEnergy(e.total)],
    ]);
  };

  const renderDetail = (job: JobDetail): void => {
    byId('job-title').textContent = `Job ${job.id}`;
    byId('job-crumb').textContent = job.id;
    const runMs = (job.endTs ?? Date.now()) - job.startTs;
    byId('job-meta').textContent =
      `${job.state} · user ${job.user} · account ${job.account} · ${formatCount(job.gpus)} GPUs on ${formatCount(job.nodes.length)} node${job.nodes.length === 1 ? '' : 's'} (${job.nodes.slice(0, 8).join(', ')}${job.nodes.length > 8 ? ', …' : ''})` +
      ` · started ${new Date(job.startTs).toISOString().replace('T', ' ').slice(0, 19)} UTC · ${job.endTs === null ? 'running for' : 'ran'} ${formatDuration(runMs)}`;
    renderEnergy(job.energyJ, false);
    setKpi('job-co2e', formatCo2e(job.co2eG.location), `location-based · market-based ${formatCo2e(job.co2eG.market)} · facility energy ${formatEnergy(job.facilityEnergyJ)}`);
    setKpi('job-embodied', formatCo2e(job.embodiedCo2eG), 'GPU manufacturing, amortised per GPU-hour');
    setKpi('job-cost', formatEur(job.costEur), 'facility energy × price by the hour');
    if (job.state !== 'running') setKpi('job-power', formatPower(null), 'not running');
    const eff = efficiency(job);
    rows(byId<HTMLTableElement>('eff-table').tBodies[0] as HTMLTableSectionElement, [
      ['GPU-hours allocated', eff.gpuHours],
      ['Energy per GPU-hour', eff.energyPerGpuHour],
      ['Mean GPU utilisation', eff.meanUtil],
      ['Allocated but idle', eff.idleGpuHours],
    ]);
    const eq = carEquivalent(job.co2eG.location);
    const p = byId('equivalent');
    p.replaceChildren(document.createTextNode(`${formatCo2e(job.co2eG.location)} (location-based) ${eq.text}.`), Object.assign(document.createElement('small'), { textContent: ` Source: ${eq.source}.` }));
    const tbody = byId<HTMLTableElement>('job-factors').tBodies[0] as HTMLTableSectionElement;
    tbody.replaceChildren(
      ...job.factors.map((f) => {
        const tr = document.createElement('tr');
        const value = typeof f.value === 'number' ? `${sig3(f.value)} ${f.unit === '1' ? '' : f.unit}` : `${sig3(f.value.min)}–${sig3(f.value.max)} ${f.unit}`;
        for (const [text, cls] of [[f.name, ''], [value.trim(), 'num'], [f.quality + (f.outsideValidity ? ' (outside validity)' : ''), ''], [f.source, 'wrap']] as const) {
          const td = document.createElement('td');
          td.textContent = text;
          if (cls !== '') td.className = cls;
          tr.append(td);
        }
        return tr;
      }),
    );
    byId('job-method').textContent = job.method;
  };

  const onLive = (m: LiveMessage): void => {
    if (m.type !== 'job' || m.id !== current) {
      if (m.type === 'error' && m.topic === `job/${current ?? ''}`) showError(`Live updates refused: ${m.message}`);
      return;
    }
    const job: LiveJobTopic = m;
    if (job.state !== 'running') {
      setKpi('job-power', formatPower(null), job.state === 'completed' ? 'ended' : 'not running');
      return;
    }
    setKpi('job-power', formatPower(job.powerW), `at ${formatClock(job.ts)} · incl. modelled other`);
    renderEnergy(job.energyJ, true);
    const v = liveValues(job);
    const tsS = Math.floor(job.ts / 1000);
    gpuChart?.set(appendNamed(gpuCols, tsS, v.gpus));
    nodeChart?.set(appendNamed(nodeCols, tsS, v.nodes));
  };

  const load = async (id: string): Promise<void> => {
    const enc = encodeURIComponent(id);
    const detail = await apiGet<JobDetail>(`api/v1/jobs/${enc}`);
    if (current !== id) return;
    if (!detail.ok) {
      showError(detail.status === 404 ? `Job ${id} was not found, or it is not yours.` : detail.status === 401 ? 'This page needs a token: enter it under "My jobs".' : `Could not load job ${id}: ${detail.error}`);
      return;
    }
    renderDetail(detail.body);
    const [byGpu, byNode] = await Promise.all([apiGet<SeriesBody>(`api/v1/jobs/${enc}/series?step=10s&by=gpu`), apiGet<SeriesBody>(`api/v1/jobs/${enc}/series?step=10s`)]);
    if (current !== id) return;
    if (byNode.ok) nodeCols = fromApiSeries(byNode.body, true);
    if (byGpu.ok && isPerGpu(byGpu.body)) {
      gpuCols = fromApiSeries(byGpu.body, false);
      byId('gpu-chart-note').textContent = '10 s means from the books, then live';
    } else {
      byId('gpu-chart-note').textContent = 'this collector keeps no per-GPU series: live points only while the page is open';
    }
    nodeChart?.set(nodeCols);
    gpuChart?.set(gpuCols);
    if (detail.body.state === 'running') {
      client = new LiveClient({ url: liveUrl(location.href), topics: [`job/${id}`], protocols: () => liveProtocols(), onMessage: onLive });
      client.start();
    }
  };

  return {
    show(id) {
      current = id;
      view.hidden = false;
      showError(null);
      document.title = `Job ${id} · stroom`;
      gpuCols = { names: [], columns: [[]] };
      nodeCols = { names: [], columns: [[]] };
      gpuChart ??= createMultiPower(byId('job-gpu-chart'), describe('Power per GPU'));
      nodeChart ??= createMultiPower(byId('job-node-chart'), describe('Power per node'));
      void load(id);
    },
    hide() {
      current = null;
      view.hidden = true;
      client?.stop();
      client = null;
    },
  };
}
