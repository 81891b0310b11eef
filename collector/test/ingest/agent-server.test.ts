import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import pino from 'pino';
import type { Batch, Hello } from '@stroom/protocol';
import { AgentTokens } from '../../src/auth/agent-tokens.js';
import { startCollector } from '../../src/collector.js';
import type { Collector } from '../../src/collector.js';

const TOKEN = 'a-token-of-node-n1-0123456789';
const log = pino({ level: 'silent' });
const frame = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../../../protocol/test/frames/${name}`, import.meta.url), 'utf8')) as T;

function hello(): Hello {
  return { ...frame<Hello>('hello-v1.json'), node: 'n1', epoch: 'e1' };
}

function batch(seq: number, gpuMj: number): Batch {
  const b = frame<Batch>('batch-v1.json');
  return {
    ...b,
    node: 'n1',
    epoch: 'e1',
    seq,
    ts: 1_764_496_800_000 + seq * 1000,
    counters: {
      devices: [{ id: 'GPU-2c6b5a44-1a6f-6f3e-9a9c-3b8e2d7f0a01', kind: 'gpu', energyMj: gpuMj }],
      jobs: [{ id: '4242', gpuEnergyMj: gpuMj, cpuEnergyMj: 0 }],
      idle: { gpuEnergyMj: 0, cpuEnergyMj: 0 },
    },
  };
}

/** Open an agent socket; resolves once open, or rejects with the HTTP status of a refusal. */
function connect(url: string, headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws/agent`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}: ${String(res.headers['x-stroom-error'])}`)));
    ws.once('error', reject);
  });
}

function nextClose(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

function acks(ws: WebSocket, count: number): Promise<number[]> {
  const seen: number[] = [];
  return new Promise((resolve) => {
    ws.on('message', (data) => {
      seen.push((JSON.parse(data.toString()) as { seq: number }).seq);
      if (seen.length === count) resolve(seen);
    });
  });
}

describe('AgentServer', () => {
  let collector: Collector;
  beforeAll(async () => {
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens: new AgentTokens([['n1', TOKEN]]), log });
  });
  afterAll(async () => collector.close());
  const good = { authorization: `Bearer ${TOKEN}`, 'x-stroom-node': 'n1' };

  describe('handshake', () => {
    it('refuses a missing token', async () => {
      await expect(connect(collector.url, { 'x-stroom-node': 'n1' })).rejects.toThrow('HTTP 401: missing bearer token');
    });
    it('refuses a wrong token', async () => {
      await expect(connect(collector.url, { authorization: 'Bearer nope', 'x-stroom-node': 'n1' })).rejects.toThrow('HTTP 401: wrong token for node n1');
    });
    it("refuses another node's token", async () => {
      await expect(connect(collector.url, { authorization: `Bearer ${TOKEN}`, 'x-stroom-node': 'n2' })).rejects.toThrow('HTTP 401: wrong token for node n2');
    });
  });

  describe('frames', () => {
    it('closes with 1008 and names the field of a bad frame', async () => {
      const ws = await connect(collector.url, good);
      const closed = nextClose(ws);
      ws.send(JSON.stringify(hello()));
      const bad = batch(1, 10) as unknown as { samples: Array<{ gpus: Array<{ powerW: unknown }> }> };
      (bad.samples[0]?.gpus[0] ?? { powerW: 0 }).powerW = 'lots';
      ws.send(JSON.stringify(bad));
      expect(await closed).toEqual({ code: 1008, reason: 'samples[0].gpus[0].powerW: Invalid input: expected number, received string' });
    });

    it('wants hello before a batch', async () => {
      const ws = await connect(collector.url, good);
      const closed = nextClose(ws);
      ws.send(JSON.stringify(batch(1, 10)));
      expect(await closed).toEqual({ code: 1008, reason: 'type: hello expected before the first batch' });
    });

    it("refuses a batch for another node than the token's", async () => {
      const ws = await connect(collector.url, good);
      const closed = nextClose(ws);
      ws.send(JSON.stringify({ ...hello(), node: 'n9' }));
      expect(await closed).toEqual({ code: 1008, reason: 'node: "n9" does not match the token\'s node "n1"' });
    });

    it('acks every batch, counts duplicates once, and survives a counter going backwards', async () => {
      const ws = await connect(collector.url, good);
      const got = acks(ws, 6);
      ws.send(JSON.stringify(hello()));
      for (const [seq, mj] of [[1, 1000], [2, 3000], [2, 3000], [1, 1000], [3, 500], [4, 1500]] as const) ws.send(JSON.stringify(batch(seq, mj)));
      expect(await got).toEqual([1, 2, 2, 1, 3, 4]);
      // 1000 + 2000, then a reset (new baseline at 500), then +1000: 4000 mJ, never negative.
      expect(collector.store.job('4242')?.energyMj).toEqual({ gpuMj: 4000, cpuMj: 0, otherMj: 0 });
      expect(collector.committer.stats).toMatchObject({ duplicates: 2, resets: 2 });
      ws.close();
    });
  });
});

describe('POST /api/v1/jobs/{id}/end', () => {
  let collector: Collector;
  beforeAll(async () => {
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens: new AgentTokens([['n1', TOKEN]]), log });
    collector.store.commit([{
      node: 'n1', ts: 1_764_496_801_000, ledger: { node: 'n1', epoch: 'e1', lastSeq: 1, lastTs: 1_764_496_801_000, counters: {} },
      nodeMj: { gpuMj: 0, cpuMj: 0, otherMj: 0 }, idleMj: { gpuMj: 0, cpuMj: 0, otherMj: 0 }, jobsMj: new Map(), gpuSeconds: new Map(), gpuUse: new Map(), samples: [],
      jobs: [{ id: '99', user: 'u', account: 'a', startTs: 1_764_496_800_000, gpus: ['GPU-x'], cpuCores: 1 }],
    }]);
  });
  afterAll(async () => collector.close());
  const post = (id: string, body: unknown, token = TOKEN) =>
    fetch(`${collector.url}/api/v1/jobs/${id}/end`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) })
      .then(async (r) => ({ status: r.status, body: (await r.json()) as unknown }));

  it("ends the job on the node, authorised by the node's token", async () => {
    expect(await post('99', { node: 'n1', endTs: 1_764_496_805_000 }, 'wrong')).toEqual({ status: 401, body: { error: 'a valid bearer token of node n1 is required' } });
    expect(await post('99', { endTs: 1 })).toEqual({ status: 400, body: { error: 'body.node (or the x-stroom-node header): the node the job ended on is required' } });
    expect(await post('99', { node: 'n1', endTs: 'soon' })).toEqual({ status: 400, body: { error: 'body.endTs: expected ms since the Unix epoch, not in the future' } });
    expect(await post('99', { node: 'n1', endTs: 1_764_496_805_000 })).toEqual({ status: 200, body: { id: '99', node: 'n1', endTs: 1_764_496_805_000, state: 'completed' } });
    expect(collector.store.job('99')).toMatchObject({ state: 'completed', endTs: 1_764_496_805_000 });
    // A repeat is fine; an unknown job is a 404.
    expect((await post('99', { node: 'n1', endTs: 1_764_496_806_000 })).status).toBe(200);
    expect(await post('nope', { node: 'n1' })).toEqual({ status: 404, body: { error: 'job nope is not known on node n1' } });
  });

  it('does not bring an ended job back when an older batch arrives late', () => {
    collector.store.commit([{
      node: 'n1', ts: 1_764_496_804_000, ledger: { node: 'n1', epoch: 'e1', lastSeq: 2, lastTs: 1_764_496_804_000, counters: {} },
      nodeMj: { gpuMj: 0, cpuMj: 0, otherMj: 0 }, idleMj: { gpuMj: 0, cpuMj: 0, otherMj: 0 }, jobsMj: new Map(), gpuSeconds: new Map(), gpuUse: new Map(), samples: [],
      jobs: [{ id: '99', user: 'u', account: 'a', startTs: 1_764_496_800_000, gpus: ['GPU-x'], cpuCores: 1 }],
    }]);
    expect(collector.store.job('99')?.state).toBe('completed');
  });
});
