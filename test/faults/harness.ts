/**
 * What every fault test needs: a real collector in this process, a logger whose lines the test
 * can read, what an operator's tools show (the live cluster picture over `/ws/live`, Prometheus
 * text from `/metrics`, `/healthz`), and the comparison of per-job energy in the API with a truth.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { JobAllocation, JobSummary, LiveProblem } from '@stroom/protocol';
import type { JobSource } from '@stroom/agent';
import { AgentTokens, startCollector } from '@stroom/collector';
import type { Collector } from '@stroom/collector';
import { getJson } from '../helpers.js';

/** The token of a node in these tests. */
export const tokenOf = (node: string): string => `fault-test-token-${node}-0123456789`;

/** A logger that keeps every line for the test to read (and prints them too with STROOM_TEST_LOG). */
export function capturedLog(): { log: Logger; lines: Array<{ level: number; msg: string; [k: string]: unknown }>; said: (text: string | RegExp, minLevel?: number) => string[] } {
  const lines: Array<{ level: number; msg: string }> = [];
  const echo = process.env['STROOM_TEST_LOG'] !== undefined;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text === '') continue;
        lines.push(JSON.parse(text) as { level: number; msg: string });
        if (echo) process.stderr.write(`${text}\n`);
      }
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  // Warnings and worse unless asked (pino levels: 30 info, 40 warn, 50 error).
  const said = (text: string | RegExp, minLevel = 40): string[] =>
    lines.filter((l) => l.level >= minLevel && (typeof text === 'string' ? l.msg.includes(text) : text.test(l.msg))).map((l) => l.msg);
  return { log, lines, said };
}

/** A collector on loopback with node tokens for `nodes` and a live picture every 200 ms. */
export async function collectorFor(nodes: readonly string[], dataDir: string, log: Logger, port = 0): Promise<Collector> {
  const tokens = new AgentTokens(nodes.map((n) => [n, tokenOf(n)] as const));
  return startCollector({ host: '127.0.0.1', port, dataDir, tokens, log, livePeriodMs: 200 });
}

/** Poll `check` until it holds; throws naming `what` after `timeoutMs` (a deadline, not a measurement). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await sleep(50);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The value of one Prometheus series (`name` with all of `labels`), or undefined when absent. */
export async function metric(metricsUrl: string, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await (await fetch(metricsUrl)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** `/healthz` of a collector. */
export async function health(url: string): Promise<{ counted: number; duplicates: number; resets: number; glitches: number; connections: number }> {
  return (await getJson<{ counted: number; duplicates: number; resets: number; glitches: number; connections: number }>(`${url}/healthz`)).body;
}

/**
 * An operator's dashboard: subscribed to the live cluster picture, keeping every problem it was
 * shown. Reconnects when the collector restarts.
 */
export class LiveWatch {
  readonly seen: Array<{ atMs: number; problems: LiveProblem[] }> = [];
  #socket: WebSocket | undefined;
  #closed = false;
  readonly #url: string;

  constructor(collectorUrl: string) {
    this.#url = `${collectorUrl.replace(/^http/, 'ws')}/ws/live`;
    this.#open();
  }

  /** Problems shown for `node` so far (every message), flattened to text like the dashboard's lines. */
  shown(node: string): string[] {
    const out: string[] = [];
    for (const m of this.seen) {
      for (const p of m.problems) {
        if (p.node !== node) continue;
        const parts = [p.agentUp ? '' : 'agent not reporting', ...p.sources.map((s) => `${s.name} ${s.state}: ${s.reason}`)].filter((s) => s !== '');
        out.push(parts.join('; '));
      }
    }
    return out;
  }

  /** The problems of the latest message, for `node`. */
  latest(node: string): LiveProblem | undefined {
    return this.seen[this.seen.length - 1]?.problems.find((p) => p.node === node);
  }

  close(): void {
    this.#closed = true;
    this.#socket?.terminate();
  }

  #open(): void {
    if (this.#closed) return;
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    socket.on('open', () => socket.send(JSON.stringify({ v: 1, type: 'subscribe', topics: ['cluster'] })));
    socket.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { type: string; problems?: LiveProblem[] };
      if (msg.type === 'cluster' && msg.problems !== undefined) this.seen.push({ atMs: Date.now(), problems: msg.problems });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!this.#closed) setTimeout(() => this.#open(), 200);
    });
  }
}

/** A job map that never changes: `job` holds `gpus` and `cpuCores` for the whole run. */
export function staticJobs(job: Omit<JobAllocation, 'startTs'> & { startTs?: number }): JobSource {
  const allocation: JobAllocation = { startTs: job.startTs ?? Date.now(), ...job };
  return { name: 'static', read: () => Promise.resolve([allocation]) };
}

/** One job's energy in the API against its truth. */
export interface JobCheck {
  readonly id: string;
  readonly apiJ: number;
  readonly truthJ: number;
  /** |api - truth| / truth. */
  readonly rel: number;
}

/** Per-job energy in the API next to the truth (J) of each job over `minJ` (tiny jobs' ratios say little). */
export async function jobChecks(url: string, truthJ: ReadonlyMap<string, number>, minJ = 1): Promise<JobCheck[]> {
  const { body } = await getJson<{ jobs: JobSummary[] }>(`${url}/api/v1/jobs?limit=1000`);
  const api = new Map(body.jobs.map((j) => [j.id, j]));
  const out: JobCheck[] = [];
  for (const [id, want] of truthJ) {
    if (want < minJ) continue;
    const got = api.get(id)?.energyJ.total ?? 0;
    out.push({ id, apiJ: got, truthJ: want, rel: Math.abs(got - want) / want });
  }
  return out;
}

/** Per-job truth of simulated nodes (GPU + CPU energy), J. */
export function simTruthJ(sims: Iterable<{ truth(): { jobsMj: Record<string, { gpuMj: number; cpuMj: number }> } }>): Map<string, number> {
  const out = new Map<string, number>();
  for (const sim of sims) for (const [id, mj] of Object.entries(sim.truth().jobsMj)) out.set(id, (mj.gpuMj + mj.cpuMj) / 1000);
  return out;
}
