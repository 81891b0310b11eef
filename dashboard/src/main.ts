/**
 * Wiring of the page: the header (connection badge, theme toggle), and a hash router over the
 * three views: `#/` operator overview, `#/job/<id>` one job, `#/me` a user's own jobs. Behaviour
 * lives in the modules it imports.
 */
import { createJobPage } from './job-page.js';
import { createOverview } from './overview.js';
import { initTheme } from './theme.js';
import { createUserPage } from './user-page.js';

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page is missing #${id}`);
  return el as T;
}

/** The view a hash names. */
export function route(hash: string): { view: 'overview' } | { view: 'job'; id: string } | { view: 'me' } {
  const m = /^#\/job\/(.+)$/.exec(hash);
  if (m !== null) return { view: 'job', id: decodeURIComponent(m[1] ?? '') };
  if (hash === '#/me') return { view: 'me' };
  return { view: 'overview' };
}

function start(): void {
  initTheme(byId<HTMLButtonElement>('theme-toggle'));
  const status = byId('conn');
  const statusLabel = byId('conn-label');
  const statusDetail = byId('conn-detail');
  const overview = createOverview((view, label, detail) => {
    if (status.dataset['state'] !== view) {
      status.dataset['state'] = view;
      document.body.dataset['live'] = view;
    }
    statusLabel.textContent = label;
    statusDetail.textContent = detail;
  });
  const job = createJobPage();
  // A new token changes what the overview may show: reconnect it with the token.
  const me = createUserPage(() => undefined);
  (window as unknown as { stroomDebug?: unknown }).stroomDebug = { grid: overview.grid };

  let current = '';
  const go = (): void => {
    const r = route(location.hash);
    const key = r.view === 'job' ? `job:${r.id}` : r.view;
    if (key === current) return;
    current = key;
    overview.hide();
    job.hide();
    me.hide();
    status.hidden = r.view !== 'overview';
    for (const [id, on] of [['nav-overview', r.view === 'overview'], ['nav-me', r.view === 'me']] as const) {
      if (on) byId(id).setAttribute('aria-current', 'page');
      else byId(id).removeAttribute('aria-current');
    }
    document.body.dataset['view'] = r.view;
    if (r.view === 'overview') overview.show();
    else if (r.view === 'job') job.show(r.id);
    else me.show();
    window.scrollTo(0, 0);
  };
  window.addEventListener('hashchange', go);
  go();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
else start();
