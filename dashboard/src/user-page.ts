/**
 * "My jobs" (`#/me`): asks for a token (kept in this tab's sessionStorage), then shows who the
 * collector says you are, your projects' totals this month, and your jobs, running and past;
 * running ones update live from their `job/<id>` topics. The collector decides what a token
 * may see: a user token gets only its own jobs and its accounts.
 */
import type { JobSummary, LiveMessage } from '@stroom/protocol';
import { apiGet, clearToken, getToken, liveProtocols, setToken } from './auth-token.js';
import { formatCount, formatDuration, formatEnergy, formatPower, sig3 } from './format.js';
import { LiveClient, liveUrl } from './live-client.js';

type Me = { role: string; name: string; accounts: string[] | null; via: string };
type Account = { account: string; jobs: number; gpuHours: number; energyJ: { total: number; gpu: number; cpu: number; other: number } };

/** Most running jobs followed live at once. */
const LIVE_JOBS_MAX = 50;

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page is missing #${id}`);
  return el as T;
}

function cell(text: string, numeric = false): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (numeric) td.className = 'num';
  return td;
}

function emptyRow(tbody: HTMLTableSectionElement, cols: number, text: string): void {
  const tr = document.createElement('tr');
  const td = cell(text);
  td.colSpan = cols;
  td.className = 'empty';
  tr.append(td);
  tbody.replaceChildren(tr);
}

/** Local midnight on the first of this month, ms. */
function monthStartMs(now = new Date()): number {
  return new Date(now.getFullYear(), now.getMonth(), 1).getTime();
}

export interface UserPage {
  show(): void;
  hide(): void;
}

export function createUserPage(onToken: () => void): UserPage {
  const view = byId('view-me');
  const error = byId('me-error');
  const form = byId<HTMLFormElement>('token-form');
  const input = byId<HTMLInputElement>('token-input');
  const jobsBody = byId<HTMLTableElement>('myjobs-table').tBodies[0] as HTMLTableSectionElement;
  const projBody = byId<HTMLTableElement>('projects-table').tBodies[0] as HTMLTableSectionElement;
  let client: LiveClient | null = null;
  let refresh: ReturnType<typeof setInterval> | null = null;
  let visible = false;

  const showError = (text: string | null): void => {
    error.hidden = text === null;
    error.textContent = text ?? '';
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    try {
      setToken(input.value);
      input.value = '';
      showError(null);
      onToken();
      void load();
    } catch (err) {
      showError((err as Error).message);
    }
  });
  byId('token-clear').addEventListener('click', () => {
    clearToken();
    onToken();
    void load();
  });

  const onLive = (m: LiveMessage): void => {
    if (m.type !== 'job') return;
    const tr = jobsBody.querySelector<HTMLTableRowElement>(`tr[data-job="${CSS.escape(m.id)}"]`);
    if (tr === null) return;
    const power = tr.cells[4];
    const energy = tr.cells[5];
    if (power !== undefined) power.textContent = m.state === 'running' ? formatPower(m.powerW) : formatPower(null);
    if (energy !== undefined && m.state === 'running') energy.textContent = formatEnergy(m.energyJ.total);
  };

  const follow = (running: readonly JobSummary[]): void => {
    client?.stop();
    client = null;
    const topics = running.slice(0, LIVE_JOBS_MAX).map((j) => `job/${j.id}`);
    if (topics.length === 0) return;
    client = new LiveClient({ url: liveUrl(location.href), topics, protocols: () => liveProtocols(), onMessage: onLive });
    client.start();
  };

  const renderJobs = (jobs: readonly JobSummary[], me: Me | null): void => {
    const now = Date.now();
    byId('myjobs-caption').textContent = `${formatCount(jobs.filter((j) => j.state === 'running').length)} running · ${formatCount(jobs.length)} shown${me?.role === 'operator' ? ' · operator: every user' : ''}`;
    if (jobs.length === 0) return emptyRow(jobsBody, 8, 'No jobs yet.');
    jobsBody.replaceChildren(
      ...jobs.map((j) => {
        const tr = document.createElement('tr');
        tr.dataset['job'] = j.id;
        const id = document.createElement('td');
        const a = document.createElement('a');
        a.href = `#/job/${encodeURIComponent(j.id)}`;
        a.textContent = j.id;
        id.append(a);
        tr.append(
          id,
          cell(j.state),
          cell(j.account),
          cell(formatCount(j.gpus), true),
          cell(j.state === 'running' ? '…' : formatPower(null), true),
          cell(formatEnergy(j.energyJ.total), true),
          cell(new Date(j.startTs).toISOString().slice(0, 16).replace('T', ' ') + ' UTC', true),
          cell(formatDuration((j.endTs ?? now) - j.startTs), true),
        );
        return tr;
      }),
    );
  };

  const renderProjects = (accounts: readonly Account[]): void => {
    if (accounts.length === 0) return emptyRow(projBody, 5, 'No energy booked this month.');
    projBody.replaceChildren(
      ...accounts.map((a) => {
        const tr = document.createElement('tr');
        tr.append(cell(a.account), cell(formatCount(a.jobs), true), cell(`${sig3(a.gpuHours)} GPU-h`, true), cell(formatEnergy(a.energyJ.total), true), cell(formatEnergy(a.energyJ.gpu), true));
        return tr;
      }),
    );
  };

  const load = async (): Promise<void> => {
    const token = getToken();
    const me = await apiGet<Me>('api/v1/me');
    if (!visible) return;
    const who = byId('whoami');
    if (!me.ok) {
      who.textContent = token === null ? 'no token' : 'token not accepted';
      showError(me.status === 401 ? (token === null ? 'The collector asks for a token.' : `The collector refused this token: ${me.error}`) : `Could not ask the collector who you are: ${me.error}`);
      emptyRow(jobsBody, 8, '—');
      emptyRow(projBody, 5, '—');
      follow([]);
      return;
    }
    showError(null);
    who.textContent =
      me.body.via === 'open'
        ? 'no token needed: this collector is open (everyone is an operator)'
        : `signed in as ${me.body.name} (${me.body.role}${me.body.accounts === null ? '' : `; accounts ${me.body.accounts.join(', ') || 'none'}`})`;
    const [jobs, accounts] = await Promise.all([
      apiGet<{ jobs: JobSummary[] }>('api/v1/jobs?limit=200'),
      apiGet<{ accounts: Account[] }>(`api/v1/accounts?from=${monthStartMs()}`),
    ]);
    if (!visible) return;
    if (jobs.ok) {
      renderJobs(jobs.body.jobs, me.body);
      follow(jobs.body.jobs.filter((j) => j.state === 'running'));
    } else {
      emptyRow(jobsBody, 8, `Could not list jobs: ${jobs.error}`);
    }
    if (accounts.ok) renderProjects(accounts.body.accounts);
    else emptyRow(projBody, 5, `Could not total projects: ${accounts.error}`);
  };

  return {
    show() {
      visible = true;
      view.hidden = false;
      document.title = 'My jobs · stroom';
      void load();
      refresh = setInterval(() => void load(), 15_000);
    },
    hide() {
      visible = false;
      view.hidden = true;
      if (refresh !== null) clearInterval(refresh);
      client?.stop();
      client = null;
    },
  };
}
