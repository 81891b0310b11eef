/** The open mode of the demo, its end at the first person token, and the trusted reverse proxy. */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentTokens } from '../../src/auth/agent-tokens.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { startCollector } from '../../src/collector.js';
import type { Collector } from '../../src/collector.js';
import type { AuthOptions } from '../../src/auth/gate.js';
import { sendJobs } from './fixture.js';

const lines: string[] = [];
const log = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const jobIds = (body: Record<string, unknown>): string[] => (body['jobs'] as Array<{ id: string }>).map((j) => j.id).sort();

describe('open mode and trusted proxy', () => {
  let collector: Collector | undefined;
  let tokens: TokenStore | undefined;
  afterEach(async () => {
    await collector?.close();
    tokens?.close();
    lines.length = 0;
  });

  async function start(auth: AuthOptions): Promise<Collector> {
    tokens = TokenStore.open(':memory:');
    const node = tokens.create({ kind: 'node', name: 'n1' }).token;
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens: new AgentTokens(), log, auth: { ...auth, tokenStore: tokens } });
    await sendJobs(collector.url, 'n1', node);
    return collector;
  }

  it('is open with one warning while no user or operator token exists, and closes at the first one', async () => {
    const c = await start({});
    const warnings = lines.filter((l) => l.includes('OPEN to anyone'));
    expect(warnings).toHaveLength(1);
    expect((await get(`${c.url}/api/v1/cluster`)).status).toBe(200);
    expect(jobIds((await get(`${c.url}/api/v1/jobs`)).body)).toEqual(['101', '202']);
    expect((await get(`${c.url}/api/v1/me`)).body).toEqual({ role: 'operator', name: 'anonymous', accounts: null, via: 'open' });
    tokens?.create({ kind: 'user', name: 'alice' });
    expect((await get(`${c.url}/api/v1/jobs`)).status).toBe(401);
  });

  it('believes the proxy header only from the proxy, and maps operators and accounts', async () => {
    const c = await start({ trustedProxy: { header: 'X-Remote-User', addresses: ['127.0.0.1'], operators: ['root-op'], accountsHeader: 'X-Remote-Groups' } });
    expect(lines.some((l) => l.includes('OPEN to anyone'))).toBe(false);
    expect((await get(`${c.url}/api/v1/jobs`)).status).toBe(401);
    const alice = { 'x-remote-user': 'alice', 'x-remote-groups': 'proj1, other' };
    expect(jobIds((await get(`${c.url}/api/v1/jobs`, alice)).body)).toEqual(['101']);
    expect((await get(`${c.url}/api/v1/jobs/202`, alice)).status).toBe(404);
    expect((await get(`${c.url}/api/v1/cluster`, alice)).status).toBe(403);
    expect((await get(`${c.url}/api/v1/me`, alice)).body).toEqual({ role: 'user', name: 'alice', accounts: ['proj1', 'other'], via: 'proxy' });
    const accounts = (await get(`${c.url}/api/v1/accounts`, alice)).body['accounts'] as Array<{ account: string }>;
    expect(accounts.map((a) => a.account)).toEqual(['proj1']);
    expect((await get(`${c.url}/api/v1/cluster`, { 'x-remote-user': 'root-op' })).status).toBe(200);
    expect((await get(`${c.url}/api/v1/jobs`, { 'x-remote-user': 'not a name' })).status).toBe(401);
  });

  it('ignores the proxy header from any other address', async () => {
    const c = await start({ trustedProxy: { header: 'X-Remote-User', addresses: ['10.9.9.9', '192.168.0.0/16'], operators: ['root-op'] } });
    expect(await get(`${c.url}/api/v1/cluster`, { 'x-remote-user': 'root-op' })).toEqual({ status: 401, body: { error: expect.stringMatching(/^a bearer token is required/) as unknown } });
  });

  it('refuses a proxy configuration it cannot trust, naming what is wrong', async () => {
    await expect(start({ trustedProxy: { header: 'X-Remote-User', addresses: [] } })).rejects.toThrow('give the proxy\'s addresses (--trusted-proxy)');
    await expect(start({ trustedProxy: { header: 'X-Remote-User', addresses: ['proxy.example'] } })).rejects.toThrow('trusted proxy "proxy.example": expected an IP address or a CIDR range');
  });
});
