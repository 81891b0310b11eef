import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LiveCluster, LiveMessage } from '@stroom/protocol';
import { cluster as clusterFixture } from './fixtures.js';
import {
  BACKOFF_CAP_MS,
  type ConnectionState,
  LiveClient,
  type SocketLike,
  backoffDelayMs,
  liveUrl,
  liveView,
  subscribeFrame,
} from '../src/live-client.js';

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  closed = false;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.closed = true;
    this.readyState = 3;
  }
  // test helpers: what the server side does
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  deliver(data: unknown): void {
    this.onmessage?.({ data });
  }
  drop(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }
}

const cluster: LiveCluster = clusterFixture({ powerW: 1234 });

function setup(over: { random?: () => number; idleTimeoutMs?: number } = {}) {
  const sockets: FakeSocket[] = [];
  const messages: LiveMessage[] = [];
  const states: ConnectionState[] = [];
  const errors: string[] = [];
  const client = new LiveClient({
    url: 'ws://host/ws/live',
    onMessage: (m) => messages.push(m),
    onState: (s) => states.push(s),
    onProtocolError: (e) => errors.push(e),
    connect: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    random: over.random ?? (() => 0.5),
    idleTimeoutMs: over.idleTimeoutMs ?? 0,
  });
  return { client, sockets, messages, states, errors };
}

describe('backoff', () => {
  it('doubles from the base, with jitter in [d/2, d), capped at ~10 s', () => {
    expect(backoffDelayMs(0, () => 0)).toBe(250);
    expect(backoffDelayMs(0, () => 0.999)).toBe(500);
    expect(backoffDelayMs(1, () => 0)).toBe(500);
    expect(backoffDelayMs(3, () => 0.5)).toBe(3000);
    for (let a = 0; a < 50; a++) {
      for (const r of [0, 0.3, 0.999]) {
        const d = backoffDelayMs(a, () => r);
        expect(d).toBeGreaterThan(0);
        expect(d).toBeLessThanOrEqual(BACKOFF_CAP_MS);
      }
    }
    expect(backoffDelayMs(20, () => 0)).toBe(BACKOFF_CAP_MS / 2);
  });
});

describe('liveUrl', () => {
  it('uses the page host and ws/wss', () => {
    expect(liveUrl('http://collector:8080/')).toBe('ws://collector:8080/ws/live');
    expect(liveUrl('https://energy.example.org/index.html?x=1#top')).toBe('wss://energy.example.org/ws/live');
    // behind a path prefix the feed is relative to the page
    expect(liveUrl('https://proxy.example.org/stroom/')).toBe('wss://proxy.example.org/stroom/ws/live');
  });
});

describe('LiveClient', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('subscribes to the cluster topic on open and delivers valid messages', () => {
    const t = setup();
    t.client.start();
    expect(t.states).toEqual(['connecting']);
    expect(t.sockets).toHaveLength(1);
    expect(t.sockets[0]?.url).toBe('ws://host/ws/live');
    t.sockets[0]?.open();
    expect(t.client.state).toBe('open');
    expect(t.sockets[0]?.sent).toEqual([subscribeFrame(['cluster'])]);
    expect(JSON.parse(t.sockets[0]?.sent[0] ?? '')).toEqual({ v: 1, type: 'subscribe', topics: ['cluster'] });
    t.sockets[0]?.deliver(JSON.stringify(cluster));
    expect(t.messages).toEqual([cluster]);
    expect(t.client.lastMessageAt).not.toBeNull();
  });

  it('reports invalid frames and collector errors', () => {
    const t = setup();
    t.client.start();
    t.sockets[0]?.open();
    t.sockets[0]?.deliver('not json');
    t.sockets[0]?.deliver(JSON.stringify({ ...cluster, powerW: 'lots' }));
    t.sockets[0]?.deliver(new Uint8Array([1]));
    t.sockets[0]?.deliver(JSON.stringify({ v: 1, type: 'error', message: 'unknown topic' }));
    expect(t.errors).toHaveLength(4);
    expect(t.errors[1]).toContain('powerW');
    expect(t.errors[3]).toBe('unknown topic');
    expect(t.messages.map((m) => m.type)).toEqual(['error']);
  });

  it('reconnects with growing delays and resubscribes', () => {
    const t = setup({ random: () => 0 });
    t.client.start();
    t.sockets[0]?.drop(); // never opened
    expect(t.client.state).toBe('reconnecting');
    vi.advanceTimersByTime(249);
    expect(t.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(t.sockets).toHaveLength(2); // after 250 ms
    t.sockets[1]?.drop();
    vi.advanceTimersByTime(499);
    expect(t.sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(t.sockets).toHaveLength(3); // after 500 ms
    t.sockets[2]?.open();
    expect(t.sockets[2]?.sent).toEqual([subscribeFrame(['cluster'])]);
    expect(t.states).toEqual(['connecting', 'reconnecting', 'open']);
  });

  it('starts the backoff over only after a valid message', () => {
    const t = setup({ random: () => 0 });
    t.client.start();
    for (let i = 0; i < 3; i++) {
      t.sockets[i]?.open(); // accepted, then dropped at once
      t.sockets[i]?.drop();
      vi.advanceTimersByTime(BACKOFF_CAP_MS);
    }
    expect(t.client.failures).toBe(3);
    const s = t.sockets[3];
    s?.open();
    s?.deliver(JSON.stringify(cluster));
    expect(t.client.failures).toBe(0);
    s?.drop();
    vi.advanceTimersByTime(250);
    expect(t.sockets).toHaveLength(5);
  });

  it('caps the delay at ~10 s', () => {
    const t = setup({ random: () => 0.999 });
    t.client.start();
    for (let i = 0; i < 12; i++) {
      t.sockets[i]?.drop();
      vi.advanceTimersByTime(BACKOFF_CAP_MS);
      expect(t.sockets).toHaveLength(i + 2);
    }
  });

  it('stop() closes the socket and cancels reconnects', () => {
    const t = setup();
    t.client.start();
    t.sockets[0]?.open();
    t.client.stop();
    expect(t.sockets[0]?.closed).toBe(true);
    expect(t.client.state).toBe('closed');
    t.sockets[0]?.drop(); // late close event of the old socket is ignored
    vi.advanceTimersByTime(60_000);
    expect(t.sockets).toHaveLength(1);
  });

  it('reconnects a silent socket after the idle timeout', () => {
    const t = setup({ idleTimeoutMs: 30_000 });
    t.client.start();
    t.sockets[0]?.open();
    vi.advanceTimersByTime(20_000);
    t.sockets[0]?.deliver(JSON.stringify(cluster));
    vi.advanceTimersByTime(29_000);
    expect(t.sockets[0]?.closed).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(t.sockets[0]?.closed).toBe(true);
    expect(t.client.state).toBe('reconnecting');
    vi.advanceTimersByTime(BACKOFF_CAP_MS);
    expect(t.sockets).toHaveLength(2);
  });

  it('reconnectNow skips the remaining backoff', () => {
    const t = setup({ random: () => 0.999 });
    t.client.start();
    t.sockets[0]?.drop();
    t.client.reconnectNow();
    expect(t.sockets).toHaveLength(2);
    t.sockets[1]?.open();
    t.client.reconnectNow(); // no-op while open
    expect(t.sockets).toHaveLength(2);
  });

  it('survives a connect that throws', () => {
    let calls = 0;
    const errors: string[] = [];
    const client = new LiveClient({
      url: 'ws://x/ws/live',
      onMessage: () => undefined,
      onProtocolError: (e) => errors.push(e),
      connect: () => {
        calls++;
        throw new Error('bad url');
      },
      random: () => 0,
    });
    client.start();
    expect(client.state).toBe('reconnecting');
    vi.advanceTimersByTime(250);
    expect(calls).toBe(2);
    expect(errors[0]).toContain('bad url');
    client.stop();
  });
});

describe('liveView', () => {
  const now = 1_000_000;
  it('is live while cluster messages keep coming, stale after 3 s', () => {
    expect(liveView({ state: 'open', openedAtMs: now - 60_000, lastClusterAtMs: now - 1000, nowMs: now })).toBe('live');
    expect(liveView({ state: 'open', openedAtMs: now - 60_000, lastClusterAtMs: now - 3000, nowMs: now })).toBe('live');
    expect(liveView({ state: 'open', openedAtMs: now - 60_000, lastClusterAtMs: now - 3001, nowMs: now })).toBe('stale');
  });
  it('gives a fresh connection 3 s for its first message', () => {
    expect(liveView({ state: 'open', openedAtMs: now - 1000, lastClusterAtMs: null, nowMs: now })).toBe('connecting');
    expect(liveView({ state: 'open', openedAtMs: now - 5000, lastClusterAtMs: null, nowMs: now })).toBe('stale');
  });
  it('follows the socket while it is down', () => {
    expect(liveView({ state: 'reconnecting', openedAtMs: null, lastClusterAtMs: now, nowMs: now })).toBe('reconnecting');
    expect(liveView({ state: 'connecting', openedAtMs: null, lastClusterAtMs: null, nowMs: now })).toBe('connecting');
    expect(liveView({ state: 'idle', openedAtMs: null, lastClusterAtMs: null, nowMs: now })).toBe('connecting');
    expect(liveView({ state: 'closed', openedAtMs: null, lastClusterAtMs: now, nowMs: now })).toBe('closed');
  });
});
