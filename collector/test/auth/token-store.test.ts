import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../../src/auth/token-store.js';

describe('TokenStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stroom-tokens-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('hands out a high-entropy token once and keeps only its digest on disk', () => {
    const store = TokenStore.open(dir);
    const { token, info } = store.create({ kind: 'user', name: 'alice', accounts: ['proj1', 'proj1', 'proj2'] });
    expect(token).toMatch(/^stroom_[A-Za-z0-9_-]{43}$/);
    expect(info).toMatchObject({ kind: 'user', name: 'alice', accounts: ['proj1', 'proj2'], revokedTs: null });
    expect(store.lookup(token)).toEqual(info);
    store.close();
    const bytes = readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('');
    expect(bytes).toContain(info.id);
    expect(bytes).not.toContain(token.slice('stroom_'.length));
  });

  it('checks node tokens against their node only', () => {
    const store = TokenStore.open(':memory:');
    const { token } = store.create({ kind: 'node', name: 'gcn1' });
    expect(store.checkNode('gcn1', token)).toBe(true);
    expect(store.checkNode('gcn2', token)).toBe(false);
    expect(store.checkNode('gcn1', `${token}x`)).toBe(false);
    store.close();
  });

  it('revokes by id, says why a revoke cannot be done, and stays closed after the last person token goes', () => {
    const store = TokenStore.open(':memory:');
    expect(store.hasPeople()).toBe(false);
    store.create({ kind: 'node', name: 'gcn1' });
    expect(store.hasPeople()).toBe(false);
    const op = store.create({ kind: 'operator', name: 'ops' });
    expect(store.hasPeople()).toBe(true);
    const revoked = store.revoke(op.info.id, 1_764_496_800_000);
    expect(revoked.revokedTs).toBe(1_764_496_800_000);
    expect(store.lookup(op.token)).toBeUndefined();
    expect(store.revokedAmong([op.info.id, 'tok_000000000000'])).toEqual(new Set([op.info.id]));
    // Revoking every person token must not open the API again.
    expect(store.hasPeople()).toBe(true);
    expect(() => store.revoke(op.info.id)).toThrow(`token ${op.info.id}: already revoked at 2025-11-30T10:00:00.000Z`);
    expect(() => store.revoke('tok_nope')).toThrow('token tok_nope: no such token (see `stroom token list`)');
    expect(store.list().map((t) => [t.kind, t.name, t.revokedTs !== null])).toEqual([['node', 'gcn1', false], ['operator', 'ops', true]]);
    store.close();
  });

  it('refuses bad names and accounts on anything but users, naming what is wrong', () => {
    const store = TokenStore.open(':memory:');
    expect(() => store.create({ kind: 'user', name: 'bad name' })).toThrow('user name "bad name": expected 1-128 characters');
    expect(() => store.create({ kind: 'node', name: '' })).toThrow('node name "": expected');
    expect(() => store.create({ kind: 'operator', name: 'ops', accounts: ['a'] })).toThrow('accounts: only user tokens carry accounts');
    expect(() => store.create({ kind: 'user', name: 'u', accounts: ['a,b'] })).toThrow('account "a,b": expected');
    store.close();
  });
});
