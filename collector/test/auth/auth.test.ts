/**
 * Roles on the HTTP API and `/ws/live`, both ways: a user sees their own jobs and accounts
 * only, an operator everything; a revoked token is refused, and its open socket is cut; no
 * token ever reaches the log.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AgentTokens } from '../../src/auth/agent-tokens.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { startCollector } from '../../src/collector.js';
import type { Collector } from '../../src/collector.js';
import { connectAgent, sendJobs } from './fixture.js';

/** Every log line the collector writes, at every level. */
const logLines: string[] = [];
const log = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });

async function get(url: string, token?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, { headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text }, headers: res.headers };
}

const jobIds = (body: Record<string, unknown>): string[] => (body['jobs'] as Array<{ id: string }>).map((j) => j.id).sort();

/** A live socket and every message it receives, in order. */
interface LiveClient {
  ws: WebSocket;
  messages: Array<Record<string, unknown>>;
  /** Resolves with the first message (from now on, or already received) matching `pred`. */
  next(pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

function openLive(url: string, o: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<LiveClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws/live`, o.protocols ?? [], { headers: o.headers ?? {} });
    const messages: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    ws.on('message', (data) => {
      messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
      for (const w of [...waiters]) w();
    });
    const next = (pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => new Promise((res) => {
      let from = 0;
      const check = (): void => {
        for (; from < messages.length; from++) {
          const m = messages[from];
          if (m !== undefined && pred(m)) {
            waiters.splice(waiters.indexOf(check), 1);
            res(m);
            return;
          }
        }
      };
      waiters.push(check);
      check();
    });
    ws.once('open', () => resolve({ ws, messages, next }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}: ${String(res.headers['x-stroom-error'])}`)));
    ws.once('error', reject);
  });
}

const subscribe = (ws: WebSocket, topic: string): void => ws.send(JSON.stringify({ v: 1, type: 'subscribe', topics: [topic] }));
/** The answer to subscribing `topic`: the first message for it, an error or data. */
const answerTo = (c: LiveClient, topic: string): Promise<Record<string, unknown>> => c.next((m) => m['type'] !== 'history' && (m['topic'] === topic || (m['type'] === 'cluster' && topic === 'cluster')));

describe('authentication and roles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stroom-auth-'));
  const www = mkdtempSync(join(tmpdir(), 'stroom-www-'));
  writeFileSync(join(www, 'index.html'), '<!doctype html><title>stroom</title>');
  // A second handle on auth.db, as `stroom token` uses while the collector runs.
  let cli: TokenStore;
  let collector: Collector;
  const t = { operator: '', alice: '', bob: '', node: '' };
  const secrets: string[] = [];

  beforeAll(async () => {
    cli = TokenStore.open(dir);
    t.operator = cli.create({ kind: 'operator', name: 'ops' }).token;
    t.alice = cli.create({ kind: 'user', name: 'alice', accounts: ['proj1'] }).token;
    t.bob = cli.create({ kind: 'user', name: 'bob', accounts: ['proj2'] }).token;
    t.node = cli.create({ kind: 'node', name: 'n1' }).token;
    secrets.push(...Object.values(t));
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: dir, tokens: new AgentTokens(), log, dashboardDir: www, auth: { revocationCheckMs: 50 } });
    await sendJobs(collector.url, 'n1', t.node);
  });
  afterAll(async () => {
    await collector.close();
    cli.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(www, { recursive: true, force: true });
  });

  describe('HTTP API', () => {
    it('keeps /healthz and the dashboard files public, and asks for a token everywhere else', async () => {
      expect((await get(`${collector.url}/healthz`)).status).toBe(200);
      expect((await get(`${collector.url}/`)).status).toBe(200);
      for (const path of ['/api/v1/jobs', '/api/v1/jobs/101', '/api/v1/cluster', '/api/v1/nodes', '/api/v1/accounts', '/api/v1/me', '/metrics']) {
        const r = await get(`${collector.url}${path}`);
        expect(r.status, path).toBe(401);
        expect(r.headers.get('www-authenticate')).toBe('Bearer realm="stroom"');
        expect(r.body['error']).toMatch(/^a bearer token is required/);
      }
    });

    it('shows a user only their own jobs; someone else\'s job is a 404 like an unknown one', async () => {
      expect(jobIds((await get(`${collector.url}/api/v1/jobs`, t.alice)).body)).toEqual(['101']);
      expect(jobIds((await get(`${collector.url}/api/v1/jobs?user=bob`, t.alice)).body)).toEqual([]);
      expect(jobIds((await get(`${collector.url}/api/v1/jobs?account=proj2`, t.alice)).body)).toEqual([]);
      expect((await get(`${collector.url}/api/v1/jobs/101`, t.alice)).status).toBe(200);
      const theirs = await get(`${collector.url}/api/v1/jobs/202`, t.alice);
      const unknown = await get(`${collector.url}/api/v1/jobs/999`, t.alice);
      expect([theirs.status, theirs.body]).toEqual([404, { error: 'job 202 not found' }]);
      expect([unknown.status, unknown.body]).toEqual([404, { error: 'job 999 not found' }]);
      expect((await get(`${collector.url}/api/v1/jobs/202/series`, t.alice)).status).toBe(404);
      expect((await get(`${collector.url}/api/v1/jobs/101/series`, t.alice)).status).toBe(200);
      expect(jobIds((await get(`${collector.url}/api/v1/jobs`, t.bob)).body)).toEqual(['202']);
      expect((await get(`${collector.url}/api/v1/jobs/101`, t.bob)).status).toBe(404);
    });

    it("shows a user only their accounts' totals, and keeps the cluster, nodes and metrics for operators", async () => {
      const accounts = (await get(`${collector.url}/api/v1/accounts`, t.alice)).body['accounts'] as Array<{ account: string; jobs: number }>;
      expect(accounts.map((a) => [a.account, a.jobs])).toEqual([['proj1', 1]]);
      for (const path of ['/api/v1/cluster', '/api/v1/nodes', '/api/v1/nodes/n1', '/metrics']) {
        const r = await get(`${collector.url}${path}`, t.alice);
        expect([path, r.status, r.body['error']]).toEqual([path, 403, `${path}: operators only`]);
      }
      expect((await get(`${collector.url}/api/v1/me`, t.alice)).body).toEqual({ role: 'user', name: 'alice', accounts: ['proj1'], via: 'token' });
    });

    it('shows an operator everything', async () => {
      expect(jobIds((await get(`${collector.url}/api/v1/jobs`, t.operator)).body)).toEqual(['101', '202']);
      expect((await get(`${collector.url}/api/v1/jobs/202`, t.operator)).status).toBe(200);
      const accounts = (await get(`${collector.url}/api/v1/accounts`, t.operator)).body['accounts'] as Array<{ account: string }>;
      expect(accounts.map((a) => a.account).sort()).toEqual(['proj1', 'proj2']);
      for (const path of ['/api/v1/cluster', '/api/v1/nodes', '/api/v1/nodes/n1', '/metrics']) expect((await get(`${collector.url}${path}`, t.operator)).status, path).toBe(200);
    });

    it('refuses unknown tokens and agent tokens on the API', async () => {
      const bogus = 'stroom_not-a-token-0123456789abcdefghijklmnopq';
      secrets.push(bogus);
      expect(await get(`${collector.url}/api/v1/jobs`, bogus)).toMatchObject({ status: 401, body: { error: 'token not valid (unknown or revoked)' } });
      const r = await get(`${collector.url}/api/v1/jobs`, t.node);
      expect(r.status).toBe(401);
      expect(r.body['error']).toMatch(/^token tok_[0-9a-f]{12} is an agent token of node n1; the API needs a user or operator token$/);
    });

    it('refuses a token revoked while the collector runs, at the next request', async () => {
      const carol = cli.create({ kind: 'user', name: 'carol' });
      secrets.push(carol.token);
      expect((await get(`${collector.url}/api/v1/jobs`, carol.token)).status).toBe(200);
      cli.revoke(carol.info.id);
      expect(await get(`${collector.url}/api/v1/jobs`, carol.token)).toMatchObject({ status: 401, body: { error: 'token not valid (unknown or revoked)' } });
    });
  });

  describe('/ws/live', () => {
    const bearer = (token: string): string[] => ['stroom.v1', `stroom.bearer.${token}`];

    it('refuses a handshake without a valid token', async () => {
      await expect(openLive(collector.url)).rejects.toThrow('HTTP 401: a bearer token is required');
      await expect(openLive(collector.url, { protocols: bearer('stroom_nope0123456789') })).rejects.toThrow('HTTP 401: token not valid (unknown or revoked)');
    });

    it('takes the token as a subprotocol, answers with stroom.v1 only, and lets a user watch only their own job', async () => {
      const c = await openLive(collector.url, { protocols: bearer(t.alice) });
      expect(c.ws.protocol).toBe('stroom.v1');
      subscribe(c.ws, 'job/101');
      const mine = await answerTo(c, 'job/101');
      expect(mine['type']).not.toBe('error');
      for (const topic of ['job/202', 'job/999', 'cluster', 'node/n1']) {
        subscribe(c.ws, topic);
        const answer = await c.next((m) => m['type'] === 'error' && m['topic'] === topic);
        expect(answer['message']).toBe(`topic "${topic}": not allowed for this login`);
      }
      c.ws.close();
    });

    it('lets an operator watch the cluster and anyone\'s job (token as a header, as non-browser clients send it)', async () => {
      const c = await openLive(collector.url, { headers: { authorization: `Bearer ${t.operator}` } });
      subscribe(c.ws, 'cluster');
      expect((await answerTo(c, 'cluster'))['type']).toBe('cluster');
      subscribe(c.ws, 'job/202');
      expect((await answerTo(c, 'job/202'))['type']).not.toBe('error');
      c.ws.close();
    });

    it('cuts an open dashboard and an open agent link when their tokens are revoked, and refuses them after', async () => {
      const dave = cli.create({ kind: 'user', name: 'dave' });
      const n2 = cli.create({ kind: 'node', name: 'n2' });
      secrets.push(dave.token, n2.token);
      const c = await openLive(collector.url, { protocols: bearer(dave.token) });
      const agent = await connectAgent(collector.url, 'n2', n2.token);
      const closed = Promise.all([c.ws, agent].map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve()))));
      cli.revoke(dave.info.id);
      cli.revoke(n2.info.id);
      await closed;
      await expect(openLive(collector.url, { protocols: bearer(dave.token) })).rejects.toThrow('HTTP 401: token not valid (unknown or revoked)');
      await expect(connectAgent(collector.url, 'n2', n2.token)).rejects.toThrow('HTTP 401: wrong token for node n2');
    });
  });

  it('never writes a token to the log', () => {
    const text = logLines.join('');
    // The log did record the refusals and revocations the tests caused.
    expect(text).toContain('unknown or revoked token');
    expect(text).toContain('token revoked: closing its open connections');
    for (const s of secrets) {
      expect(text).not.toContain(s);
      // Nor the random part alone (a prefix-stripping logger would still leak it).
      expect(text).not.toContain(s.slice('stroom_'.length));
    }
  });
});
