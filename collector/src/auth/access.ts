/**
 * What each role may read. Operators: everything. Users: their own jobs (list, detail,
 * series), the totals of their accounts, who they are (`/api/v1/me`), and on `/ws/live`
 * their own `job/<id>` and `user/<name>` topics. The cluster picture and nodes are
 * operator-only: node pages and the cluster grid name every job running on a GPU. A job
 * that is not the user's answers exactly as an unknown one (404), so ids do not leak.
 */
import type { Principal } from './principal.js';

/** Outcome of an access check on an endpoint. */
export type EndpointAccess = 'public' | 'principal' | 'operator';

/** Options that make more public. */
export interface AccessOptions {
  /** Serve `/metrics` without a token (for a scraper on a trusted network). */
  readonly publicMetrics?: boolean;
}

/** Who may call `path` (GET); `POST /jobs/{id}/end` is the agents' and checks a node token itself. */
export function endpointAccess(path: string, o: AccessOptions = {}): EndpointAccess {
  if (path === '/healthz') return 'public';
  if (path === '/metrics') return o.publicMetrics === true ? 'public' : 'operator';
  if (path === '/api/v1/me' || path === '/api/v1/accounts') return 'principal';
  if (path === '/api/v1/jobs' || /^\/api\/v1\/jobs\/[^/]+(\/series)?$/.test(path)) return 'principal';
  if (path.startsWith('/api/')) return 'operator';
  // The dashboard's static files: the page itself asks for a token.
  return 'public';
}

/** May `p` see this job? */
export function maySeeJob(p: Principal, job: { readonly user: string }): boolean {
  return p.role === 'operator' || job.user === p.name;
}

/**
 * The user filter a jobs query runs with: operators keep theirs, users get their own name,
 * and a user asking for someone else's jobs gets none (`null`).
 */
export function jobsUserFilter(p: Principal, asked: string | undefined): string | undefined | null {
  if (p.role === 'operator') return asked;
  if (asked !== undefined && asked !== p.name) return null;
  return p.name;
}

/** May `p` see the totals of `account`? */
export function maySeeAccount(p: Principal, account: string): boolean {
  return p.role === 'operator' || p.accounts.includes(account);
}

/**
 * May `p` subscribe to `topic` on `/ws/live`? `jobUser` names a job's user, undefined when
 * the job is unknown (refused like someone else's, so ids do not leak).
 */
export function mayWatch(p: Principal, topic: string, jobUser: (id: string) => string | undefined): boolean {
  if (p.role === 'operator') return true;
  if (topic.startsWith('job/')) return jobUser(topic.slice(4)) === p.name;
  if (topic.startsWith('user/')) return topic.slice(5) === p.name;
  return false;
}

/** What `/api/v1/me` answers. */
export function whoami(p: Principal): { role: string; name: string; accounts: readonly string[] | null; via: string } {
  return { role: p.role, name: p.name, accounts: p.role === 'user' ? p.accounts : null, via: p.via };
}
