import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// As users run it: the built JavaScript, in a child process.
const MAIN = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` (npm test does it first)`);

function stroom(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('stroom token', { timeout: 120_000 }, () => {
  const data = mkdtempSync(join(tmpdir(), 'stroom-cli-token-'));
  afterAll(() => rmSync(data, { recursive: true, force: true }));

  it('prints a new token alone on stdout, once; list and revoke show ids, never tokens', () => {
    const made = stroom('token', 'create', '--data', data, '--user', 'alice', '--accounts', 'proj1,proj2');
    expect(made.status).toBe(0);
    expect(made.stdout).toMatch(/^stroom_[A-Za-z0-9_-]{43}\n$/);
    const token = made.stdout.trim();
    const id = /created (tok_[0-9a-f]{12}) user alice \(accounts proj1, proj2\)/.exec(made.stderr)?.[1];
    expect(id).toBeDefined();
    const list = stroom('token', 'list', '--data', data, '--json');
    expect(list.status).toBe(0);
    expect(list.stdout).not.toContain(token.slice('stroom_'.length));
    expect(JSON.parse(list.stdout.trim())).toMatchObject({ id, kind: 'user', name: 'alice', accounts: ['proj1', 'proj2'], revokedTs: null });
    expect(stroom('token', 'revoke', id ?? '', '--data', data)).toMatchObject({ status: 0, stderr: `revoked ${id} user alice (accounts proj1, proj2)\n` });
    expect(stroom('token', 'revoke', id ?? '', '--data', data)).toMatchObject({ status: 1, stderr: expect.stringContaining(`token ${id}: already revoked at `) });
  });

  it('says what is wrong with bad options', () => {
    expect(stroom('token', 'create', '--data', data)).toMatchObject({ status: 1, stderr: 'stroom: give exactly one of --node NAME, --user NAME or --operator NAME\n' });
    expect(stroom('token', 'create', '--data', data, '--node', 'n1', '--accounts', 'a')).toMatchObject({ status: 1, stderr: 'stroom: --accounts goes with --user\n' });
    expect(stroom('collector', '--data', data, '--tls-cert', '/x.crt')).toMatchObject({ status: 1, stderr: 'stroom: --tls-cert and --tls-key go together: give both or neither\n' });
    expect(stroom('collector', '--data', data, '--trusted-proxy-header', 'X-Remote-User')).toMatchObject({ status: 1, stderr: expect.stringContaining('--trusted-proxy-header X-Remote-User needs --trusted-proxy ADDRESSES') });
    expect(stroom('agent', '--collector', 'https://127.0.0.1:1', '--token', 'x', '--ca', '/does/not/exist.pem', '--gpu', 'simulated')).toMatchObject({ status: 1, stderr: expect.stringContaining('--ca /does/not/exist.pem: ENOENT') });
  });
});
