import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import pino from 'pino';
import type { Batch, Hello, JobSummary, LiveCluster, LiveJobTopic, LiveMessage, LiveNodeTopic } from '@stroom/protocol';
import { LiveMessageSchema } from '@stroom/protocol';
import { AgentTokens } from '../../src/auth/agent-tokens.js';
import { startCollector } from '../../src/collector.js';
import type { Collector } from '../../src/collector.js';

const log = pino({ level: 'silent' });
const frame = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../../../protocol/test/frames/${name}`, import.meta.url), 'utf8')) as T;
const NODES = ['n1', 'n2', 'n3'];
const token = (node: string): string => `a-token-of-node-${node}-0123456789`;
const PERIOD_MS = 150;

function hello(node: string): Hello {
  return { ...frame<Hello>('hello-v1.json'), node, epoch: 'e1', ts: Date.now() };
}

function batch(node: string, seq: number, gpuMj: number): Batch {
  const b = frame<Batch>('batch-v1.json');
  const ts = Date.now();
  return {
    ...b,
    node,
    epoch: 'e1',
    seq,
    ts,
    samples: b.samples.map((s) => ({ ...s, ts })),
    counters: {
      devices: [{ id: 'GPU-2c6b5a44-1a6f-6f3e-9a9c-3b8e2d7f0a01', kind: 'gpu', energyMj: gpuMj }],
      jobs: [{ id: `job-${node}`, gpuEnergyMj: gpuMj, cpuEnergyMj: 0 }],
      idle: { gpuEnergyMj: 0, cpuEnergyMj: 0 },
    },
    jobs: b.jobs.map((j) => ({ ...j, id: `job-${node}`, startTs: ts - 60_000 })),
  };
}

/** An agent socket; `send` resolves on the batch's ack (i.e. after its commit). */
async function agent(url: string, node: string): Promise<{ send: (b: Batch) => Promise<void>; close: () => void }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws/agent`, { headers: { authorization: `Bearer ${token(node)}`, 'x-stroom-node': node } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify(hello(node)));
  return {
    send: (b) => new Promise<void>((resolve) => {
      const onAck = (data: WebSocket.RawData): void => {
        if ((JSON.parse(data.toString()) as { seq: number }).seq === b.seq) {
          ws.off('message', onAck);
          resolve();
        }
      };
      ws.on('message', onAck);
      ws.send(JSON.stringify(b));
    }),
    close: () => ws.close(),
  };
}

/** A dashboard socket collecting every validated message and its raw text. */
async function viewer(url: string, topics: string[]): Promise<{ ws: WebSocket; messages: LiveMessage[]; raw: string[]; next: (pred: (m: LiveMessage) => boolean) => Promise<LiveMessage> }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws/live`);
  const messages: LiveMessage[] = [];
  const raw: string[] = [];
  // Several frames can arrive in one chunk: `next` first looks at what came and was not yet taken.
  let taken = 0;
  let waiter: { pred: (m: LiveMessage) => boolean; resolve: (m: LiveMessage) => void } | undefined;
  const take = (): void => {
    if (waiter === undefined) return;
    while (taken < messages.length) {
      const m = messages[taken++] as LiveMessage;
      if (waiter.pred(m)) {
        const w = waiter;
        waiter = undefined;
        w.resolve(m);
        return;
      }
    }
  };
  ws.on('message', (data) => {
    const text = data.toString();
    messages.push(LiveMessageSchema.parse(JSON.parse(text)));
    raw.push(text);
    take();
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ v: 1, type: 'subscribe', topics }));
  return {
    ws,
    messages,
    raw,
    next: (pred) => new Promise((resolve) => {
      waiter = { pred, resolve };
      take();
    }),
  };
}

describe('/ws/live topics', () => {
  let collector: Collector;
  const agents = new Map<string, Awaited<ReturnType<typeof agent>>>();
  const energyMj = new Map(NODES.map((n) => [n, 1_000_000]));
  const seqs = new Map(NODES.map((n) => [n, 0]));
  const tick = async (node: string): Promise<void> => {
    seqs.set(node, (seqs.get(node) ?? 0) + 1);
    energyMj.set(node, (energyMj.get(node) ?? 0) + 500_000);
    await agents.get(node)?.send(batch(node, seqs.get(node) ?? 1, energyMj.get(node) ?? 0));
  };

  beforeAll(async () => {
    collector = await startCollector({ host: '127.0.0.1', port: 0, dataDir: ':memory:', tokens: new AgentTokens(NODES.map((n) => [n, token(n)])), log, livePeriodMs: PERIOD_MS, gridCapW: 50_000 });
    for (const n of NODES) agents.set(n, await agent(collector.url, n));
    for (const n of NODES) {
      await tick(n);
      await tick(n);
    }
  });
  afterAll(async () => {
    for (const a of agents.values()) a.close();
    await collector.close();
  });

  it('sends a fresh subscriber the history and a full snapshot, then deltas with only the nodes that changed', async () => {
    const v = await viewer(collector.url, ['cluster']);
    const first = (await v.next((m) => m.type === 'cluster')) as LiveCluster;
    expect(v.messages[0]?.type).toBe('history');
    expect(first.full).toBe(true);
    expect(first.grid.map((n) => n.name)).toEqual(NODES);
    expect(first.gridCapW).toBe(50_000);
    expect(first.factors.map((f) => f.name)).toEqual(['pue', 'gridIntensityLocation', 'gridIntensityMarket', 'priceEurPerKwh']);
    expect(first.today.energyJ).toBeGreaterThan(0);
    expect(first.month.energyJ).toBeGreaterThanOrEqual(first.today.energyJ);
    // A tick with no batch carries no rows.
    const quiet = (await v.next((m) => m.type === 'cluster' && m.seq > first.seq)) as LiveCluster;
    expect(quiet.full).toBe(false);
    expect(quiet.seq).toBe(first.seq + 1);
    const settled = quiet.grid.length === 0 ? quiet : ((await v.next((m) => m.type === 'cluster' && m.seq > quiet.seq)) as LiveCluster);
    expect(settled.grid).toEqual([]);
    await tick('n2');
    const changed = (await v.next((m) => m.type === 'cluster' && !m.full && m.grid.length > 0)) as LiveCluster;
    expect(changed.grid.map((n) => n.name)).toEqual(['n2']);
    // The inventory columns did not change, so the delta leaves them out.
    expect(changed.grid[0]?.gpuUuids).toBeUndefined();
    expect(first.grid[1]?.gpuUuids).toEqual(['GPU-2c6b5a44-1a6f-6f3e-9a9c-3b8e2d7f0a01']);
    v.ws.close();
  });

  it('builds one frame per tick and topic: two subscribers in step get the same text', async () => {
    const a = await viewer(collector.url, ['cluster']);
    const b = await viewer(collector.url, ['cluster']);
    const aFirst = (await a.next((m) => m.type === 'cluster')) as LiveCluster;
    await b.next((m) => m.type === 'cluster');
    const target = aFirst.seq + 3;
    await Promise.all([a.next((m) => m.type === 'cluster' && m.seq === target), b.next((m) => m.type === 'cluster' && m.seq === target)]);
    const textAt = (raw: string[]): string | undefined => raw.find((t) => t.includes(`"seq":${target},`));
    expect(textAt(a.raw)).toBeDefined();
    expect(textAt(a.raw)).toBe(textAt(b.raw));
    a.ws.close();
    b.ws.close();
  });

  it('resynchronises on resubscribe: a full snapshot again', async () => {
    const v = await viewer(collector.url, ['cluster']);
    await v.next((m) => m.type === 'cluster' && !m.full);
    v.ws.send(JSON.stringify({ v: 1, type: 'subscribe', topics: ['cluster'] }));
    const again = (await v.next((m) => m.type === 'cluster' && m.full)) as LiveCluster;
    expect(again.grid).toHaveLength(NODES.length);
    v.ws.close();
  });

  it("serves job/<id> with the job's power per node and GPU and its energy as the API books it", async () => {
    const v = await viewer(collector.url, ['job/job-n1']);
    const m = (await v.next((x) => x.type === 'job')) as LiveJobTopic;
    expect(m).toMatchObject({ id: 'job-n1', topic: 'job/job-n1', state: 'running', user: 'u.devries', account: 'surf-llm' });
    expect(m.nodes.map((n) => n.name)).toEqual(['n1']);
    expect(m.gpus).toEqual([{ node: 'n1', index: 0, powerW: 612.4, utilRatio: 0.97 }]);
    const api = (await (await fetch(`${collector.url}/api/v1/jobs/job-n1`)).json()) as JobSummary;
    expect(m.energyJ.total).toBeCloseTo(api.energyJ.total, 6);
    const unknown = await viewer(collector.url, ['job/nope']);
    expect(((await unknown.next((x) => x.type === 'job')) as LiveJobTopic).state).toBe('unknown');
    v.ws.close();
    unknown.ws.close();
  });

  it('serves node/<name> with its row, CPU figures and jobs', async () => {
    const v = await viewer(collector.url, ['node/n3']);
    const m = (await v.next((x) => x.type === 'node')) as LiveNodeTopic;
    expect(m.node?.name).toBe('n3');
    expect(m.cpuPowerW).toBe(211.5);
    expect(m.jobs).toEqual(['job-n3']);
    expect(m.problem).toBeNull();
    v.ws.close();
  });

  it('refuses a topic that is not cluster, node/<name> or job/<id>, naming it', async () => {
    const v = await viewer(collector.url, ['weather']);
    const m = await v.next((x) => x.type === 'error');
    expect(m.type === 'error' && m.message).toMatch(/^subscription refused: topics\[0\]/);
    v.ws.close();
  });

  it('stops building a topic once its last subscriber left', async () => {
    const v = await viewer(collector.url, ['node/n1']);
    await v.next((x) => x.type === 'node');
    const before = collector.live.topics;
    v.ws.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(collector.live.topics).toBe(before - 1);
  });
});

describe('LiveServer.mayWatch', () => {
  it('asks at subscribe time with the principal given to upgrade, and refuses naming the topic', async () => {
    const { createServer } = await import('node:http');
    const { LiveServer } = await import('../../src/live/live-server.js');
    const { SnapshotFeed } = await import('../../src/live/feeds.js');
    const asked: Array<[unknown, string]> = [];
    const live = new LiveServer({
      log,
      periodMs: 100,
      source: { feed: (topic) => new SnapshotFeed((seq) => ({ v: 1, type: 'node', topic, seq, full: true, ts: Date.now(), node: null, cpuPowerW: null, cpuUtilRatio: null, problem: null, jobs: [] })) },
      mayWatch: (principal, topic) => {
        asked.push([principal, topic]);
        return topic === 'node/mine';
      },
    });
    const server = createServer();
    server.on('upgrade', (req, socket, head) => live.upgrade(req, socket, head, { user: 'alice' }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const v = await viewer(`http://127.0.0.1:${port}`, ['node/mine', 'node/theirs']);
    const refused = await v.next((m) => m.type === 'error');
    expect(refused).toMatchObject({ type: 'error', topic: 'node/theirs', message: 'topic "node/theirs": not allowed for this login' });
    expect(v.messages.some((m) => m.type === 'node' && m.topic === 'node/mine')).toBe(true);
    expect(asked).toEqual([[{ user: 'alice' }, 'node/mine'], [{ user: 'alice' }, 'node/theirs']]);
    v.ws.close();
    live.close();
    server.close();
  });
});
