/**
 * Each limit, tested: the per-connection agent frame rate (frames wait, in order; nothing
 * dropped or counted twice), the connection caps (HTTP 503 with the reason), `maxPayload` on
 * both WebSockets (close 1009), and slow dashboards (stale ticks dropped, never buffered
 * without bound, then a full snapshot, never a delta on a hole).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_FRAME_BYTES } from '@stroom/protocol';
import type { LiveMessage } from '@stroom/protocol';
import { AgentTokens } from '../../src/auth/agent-tokens.js';
import { startCollector } from '../../src/collector.js';
import type { Collector } from '../../src/collector.js';
import { LiveServer } from '../../src/live/live-server.js';
import type { TopicFeed } from '../../src/live/live-server.js';
import { acks, batch, connectAgent, hello } from '../auth/fixture.js';

const TOKEN = 'a-token-of-node-n1-0123456789';
const log = pino({ level: 'silent' });

function openLive(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws/live`);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}: ${String(res.headers['x-stroom-error'])}`)));
    ws.once('error', reject);
  });
}

const closeOf = (ws: WebSocket): Promise<{ code: number; reason: string }> => new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

describe('collector limits', () => {
  let collector: Collector | undefined;
  afterEach(async () => collector?.close());

  it('delays an agent over its frame rate, in order, and counts every batch once', async () => {
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens: new AgentTokens([['n1', TOKEN]]), log, limits: { agentFramesPerS: 20, agentFrameBurst: 2 } });
    const ws = await connectAgent(collector.url, 'n1', TOKEN);
    const got = acks(ws, 10);
    ws.send(JSON.stringify(hello('n1')));
    for (let seq = 1; seq <= 10; seq++) ws.send(JSON.stringify(batch('n1', seq)));
    expect(await got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(collector.agents.stats.delayedFrames).toBeGreaterThan(0);
    expect(collector.agents.stats.rejectedFrames).toBe(0);
    expect(collector.committer.stats.duplicates).toBe(0);
    // 500 J a second per job for 10 batches: all of it, once.
    expect(collector.store.job('101')?.energyMj.gpuMj).toBe(10 * 500_000);
    ws.close();
  });

  it('refuses agents and dashboards over the connection caps with HTTP 503 and the reason', async () => {
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens: new AgentTokens([['n1', TOKEN], ['n2', `${TOKEN}-2`]]), log, limits: { maxAgentConnections: 1, maxLiveConnections: 1 } });
    const first = await connectAgent(collector.url, 'n1', TOKEN);
    await expect(connectAgent(collector.url, 'n2', `${TOKEN}-2`)).rejects.toThrow('HTTP 503: agent connection limit (1) reached; retry later');
    const dash = await openLive(collector.url);
    await expect(openLive(collector.url)).rejects.toThrow('HTTP 503: dashboard connection limit (1) reached; retry later');
    first.close();
    dash.close();
  });

  it('closes a socket that sends a frame over maxPayload with 1009, on both endpoints', async () => {
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens: new AgentTokens([['n1', TOKEN]]), log });
    const dash = await openLive(collector.url);
    const dashClosed = closeOf(dash);
    dash.send('x'.repeat(64 * 1024 + 1));
    expect((await dashClosed).code).toBe(1009);
    const agent = await connectAgent(collector.url, 'n1', TOKEN);
    const agentClosed = closeOf(agent);
    agent.send('x'.repeat(MAX_FRAME_BYTES + 1));
    expect((await agentClosed).code).toBe(1009);
  });
});

describe('a slow dashboard', () => {
  /** A topic whose ticks are 64 KiB each and carry their seq. */
  class BigFeed implements TopicFeed {
    seq = 0;
    readonly #pad = 'x'.repeat(64 * 1024);
    next(): LiveMessage {
      this.seq += 1;
      return { type: 'test', topic: 'cluster', seq: this.seq, full: false, pad: this.#pad } as unknown as LiveMessage;
    }
    snapshot(): LiveMessage {
      return { type: 'test', topic: 'cluster', seq: this.seq, full: true, pad: this.#pad } as unknown as LiveMessage;
    }
  }

  it('misses stale ticks instead of being buffered for, then gets a full snapshot, never a delta on a hole', async () => {
    const feed = new BigFeed();
    const limitBytes = 256 * 1024;
    const live = new LiveServer({ source: { feed: () => feed }, log, periodMs: 3_600_000, maxBufferedBytes: limitBytes });
    const server = createServer();
    server.on('upgrade', (req, socket, head) => live.upgrade(req, socket, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/live`);
    const got: Array<{ seq: number; full: boolean }> = [];
    let onMessage = (): void => {};
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { seq: number; full: boolean };
      got.push({ seq: m.seq, full: m.full });
      onMessage();
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ v: 1, type: 'subscribe', topics: ['cluster'] }));
    await new Promise<void>((resolve) => (onMessage = resolve));
    // The client stops reading: the kernel's buffers fill, then the server's.
    ws.pause();
    const pushes = 400;
    for (let i = 0; i < pushes; i++) live.push();
    expect(live.skipped).toBeGreaterThan(0);
    ws.resume();
    // Keep ticking until the client is in step again with the newest tick.
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => live.push(), 20);
      onMessage = () => {
        if (got.at(-1)?.seq === feed.seq && got.length > 2) {
          clearInterval(tick);
          resolve();
        }
      };
    });
    // What was sent while it was slow stayed bounded: far fewer ticks than were made.
    expect(got.length).toBeLessThan(feed.seq);
    for (let i = 1; i < got.length; i++) {
      const prev = got[i - 1];
      const cur = got[i];
      if (prev === undefined || cur === undefined) continue;
      // A gap is only ever followed by a full snapshot.
      if (cur.seq !== prev.seq + 1) expect(cur, `message ${i} after seq ${prev.seq}`).toMatchObject({ full: true });
    }
    ws.close();
    live.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
