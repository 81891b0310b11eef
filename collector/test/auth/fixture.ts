/** A node with two GPUs running two jobs of two users, sent as raw agent frames (protocol/test/frames). */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { Batch, Hello } from '@stroom/protocol';

const frame = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../../../protocol/test/frames/${name}`, import.meta.url), 'utf8')) as T;

const GPU_A = 'GPU-2c6b5a44-1a6f-6f3e-9a9c-3b8e2d7f0a01';
const GPU_B = 'GPU-2c6b5a44-1a6f-6f3e-9a9c-3b8e2d7f0a02';

/** Job 101 is alice's (account proj1), job 202 bob's (proj2). */
export const JOBS = [
  { id: '101', user: 'alice', account: 'proj1', gpu: GPU_A },
  { id: '202', user: 'bob', account: 'proj2', gpu: GPU_B },
] as const;

export function hello(node: string): Hello {
  const h = frame<Hello>('hello-v1.json');
  const gpu = h.inventory.gpus[0];
  if (gpu === undefined) throw new Error('hello-v1.json has no GPU');
  return { ...h, node, epoch: 'e1', ts: Date.now(), inventory: { ...h.inventory, gpus: [{ ...gpu, uuid: GPU_A, index: 0 }, { ...gpu, uuid: GPU_B, index: 1 }] } };
}

/** Batch `seq`: each GPU and each job at 500 J per second so far. */
export function batch(node: string, seq: number): Batch {
  const b = frame<Batch>('batch-v1.json');
  const ts = Date.now() - 60_000 + seq * 1000;
  const sample = b.samples[0];
  const gauge = sample?.gpus[0];
  if (sample === undefined || gauge === undefined) throw new Error('batch-v1.json has no GPU sample');
  const mj = seq * 500_000;
  return {
    ...b,
    node,
    epoch: 'e1',
    seq,
    ts,
    samples: [{ ...sample, ts, gpus: [{ ...gauge, uuid: GPU_A, powerW: 500 }, { ...gauge, uuid: GPU_B, powerW: 500 }] }],
    counters: {
      devices: [{ id: GPU_A, kind: 'gpu', energyMj: mj }, { id: GPU_B, kind: 'gpu', energyMj: mj }],
      jobs: JOBS.map((j) => ({ id: j.id, gpuEnergyMj: mj, cpuEnergyMj: 0 })),
      idle: { gpuEnergyMj: 0, cpuEnergyMj: 0 },
    },
    jobs: JOBS.map((j) => ({ id: j.id, user: j.user, account: j.account, name: `job-${j.id}`, partition: 'gpu', startTs: ts - 60_000, gpus: [j.gpu], cpuCores: 1 })),
  };
}

/** Open an agent socket; rejects with `HTTP <status>: <reason>` when the handshake is refused. */
export function connectAgent(url: string, node: string, token: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws/agent`, { ...options, headers: { authorization: `Bearer ${token}`, 'x-stroom-node': node } });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}: ${String(res.headers['x-stroom-error'])}`)));
    ws.once('error', reject);
  });
}

/** Resolves with the acked seqs once `count` acks came. */
export function acks(ws: WebSocket, count: number): Promise<number[]> {
  const seen: number[] = [];
  return new Promise((resolve) => {
    ws.on('message', (data) => {
      seen.push((JSON.parse(data.toString()) as { seq: number }).seq);
      if (seen.length === count) resolve(seen);
    });
  });
}

/** Send Hello and batches 1..n and wait for their acks. */
export async function sendJobs(url: string, node: string, token: string, n = 3): Promise<void> {
  const ws = await connectAgent(url, node, token);
  const got = acks(ws, n);
  ws.send(JSON.stringify(hello(node)));
  for (let seq = 1; seq <= n; seq++) ws.send(JSON.stringify(batch(node, seq)));
  await got;
  ws.close();
}
