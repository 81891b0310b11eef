import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import pino from 'pino';
import type { Hello } from '@stroom/protocol';
import { WsLink } from '../../src/link/ws-link.js';
import { backoffDelayMs } from '../../src/link/backoff.js';
import { MemorySpool } from '../../src/spool/memory-spool.js';
import { batchOf } from '../spool/spool.contract.js';

const hello: Hello = { v: 1, type: 'hello', node: 'n1', epoch: 'e1', agentVersion: 't', ts: 0, intervalMs: 100, inventory: { gpus: [], cpus: [] } };
const log = pino({ level: 'silent' });

describe('backoff', () => {
  it('grows exponentially with full jitter up to the cap', () => {
    expect(backoffDelayMs(0, { random: () => 0.999 })).toBe(499);
    expect(backoffDelayMs(3, { random: () => 0.5 })).toBe(2000);
    expect(backoffDelayMs(40, { random: () => 0.999, capMs: 30_000 })).toBe(29_970);
    expect(backoffDelayMs(5, { random: () => 0 })).toBe(0);
  });
});

describe('WsLink', () => {
  let server: WebSocketServer | undefined;
  afterEach(() => server?.close());

  async function listen(onFrame: (frame: { type: string; seq?: number }, reply: (seq: number) => void, close: () => void) => void, headers: Array<Record<string, unknown>> = []): Promise<string> {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (ws, req) => {
      headers.push(req.headers);
      ws.on('message', (data) => onFrame(JSON.parse(data.toString()) as { type: string; seq?: number }, (seq) => ws.send(JSON.stringify({ v: 1, type: 'ack', seq })), () => ws.terminate()));
    });
    await once(server, 'listening');
    return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws/agent`;
  }

  it('sends hello with the token, then batches; drops a batch from the spool only when acked', async () => {
    const frames: string[] = [];
    const headers: Array<Record<string, unknown>> = [];
    const url = await listen((f, reply) => {
      frames.push(f.type === 'batch' ? `batch ${f.seq}` : f.type);
      if (f.type === 'batch' && f.seq !== 3) reply(f.seq ?? 0);
    }, headers);
    const spool = new MemorySpool();
    const link = new WsLink({ url, token: 'secret-token', hello, spool, log });
    for (const seq of [1, 2, 3]) spool.append(batchOf(seq));
    link.start();
    expect(await link.drained(500)).toBe(false);
    expect(frames).toEqual(['hello', 'batch 1', 'batch 2', 'batch 3']);
    expect(headers[0]).toMatchObject({ authorization: 'Bearer secret-token', 'x-stroom-node': 'n1' });
    expect(spool.stats.batches).toBe(1);
    expect(link.lastAckedSeq).toBe(2);
    await link.close();
  });

  it('reconnects after the collector drops it and resends what was not acked', async () => {
    const frames: string[] = [];
    let dropped = false;
    const url = await listen((f, reply, close) => {
      frames.push(f.type === 'batch' ? `batch ${f.seq}` : f.type);
      if (f.type !== 'batch') return;
      if (f.seq === 2 && !dropped) {
        dropped = true;
        close();
        return;
      }
      reply(f.seq ?? 0);
    });
    const spool = new MemorySpool();
    const link = new WsLink({ url, token: 't', hello, spool, log, backoff: { baseMs: 10, capMs: 20 } });
    for (const seq of [1, 2, 3]) spool.append(batchOf(seq));
    link.start();
    expect(await link.drained(3000)).toBe(true);
    // Batch 3 may or may not have been sent before the drop; 2 and 3 are resent after hello.
    const afterReconnect = frames.slice(frames.lastIndexOf('hello'));
    expect(afterReconnect).toEqual(['hello', 'batch 2', 'batch 3']);
    expect(frames.filter((f) => f === 'hello')).toHaveLength(2);
    await link.close();
  });

  it('keeps retrying while no collector listens, then delivers', async () => {
    const probe = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    const spool = new MemorySpool();
    spool.append(batchOf(1));
    const link = new WsLink({ url: `ws://127.0.0.1:${port}/ws/agent`, token: 't', hello, spool, log, backoff: { baseMs: 20, capMs: 50 } });
    link.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(link.state === 'waiting' || link.state === 'connecting').toBe(true);
    server = new WebSocketServer({ host: '127.0.0.1', port });
    server.on('connection', (ws) => ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as { type: string; seq: number };
      if (f.type === 'batch') ws.send(JSON.stringify({ v: 1, type: 'ack', seq: f.seq }));
    }));
    expect(await link.drained(3000)).toBe(true);
    await link.close();
  });
});
