/**
 * Wiring only: sources -> agent (meter) -> spool -> link. Used by `stroom agent` and by each
 * simulated node of `stroom demo`.
 */
import type { Batch, Hello } from '@stroom/protocol';
import { AGENT_WS_PATH } from '@stroom/protocol/wire';
import type { Logger } from 'pino';
import { Agent } from './agent.js';
import type { Clock } from './agent.js';
import { WsLink } from './link/ws-link.js';
import type { WsLinkOptions } from './link/ws-link.js';
import type { DeviceSource, JobSource } from './source.js';
import { MemorySpool } from './spool/memory-spool.js';
import type { Spool } from './spool/spool.js';
import type { StateStore } from './state/agent-state.js';
import type { AgentTelemetry } from './telemetry.js';

/** Options of a running agent. */
export interface RunAgentOptions {
  readonly node: string;
  readonly devices: DeviceSource | readonly DeviceSource[];
  readonly jobs: JobSource;
  readonly intervalMs: number;
  readonly log: Logger;
  /** Collector base URL (`http://host:port` or `ws://host:port`); none: keep batches local. */
  readonly collectorUrl?: string;
  readonly token?: string;
  /** PEM CA the collector's certificate must chain to (`--ca`). */
  readonly ca?: string;
  readonly onBatch?: (batch: Batch) => void;
  /** Spool byte cap of the default in-memory spool (default 64 MiB). */
  readonly spoolMaxBytes?: number;
  /** A spool to use instead (the durable disk spool). */
  readonly spool?: Spool;
  /** Persisted epoch and counters, so a restart on the same boot continues them. */
  readonly state?: StateStore;
  /** Called once the sources probed, before the first tick. */
  readonly afterProbe?: (hello: Hello) => Promise<void> | void;
  /** Metrics (`/metrics`, OTLP) fed with this agent's inventory, batches, sources, spool and link. */
  readonly telemetry?: AgentTelemetry;
  /** Wall and monotonic clocks (default: the system's); fault tests step the wall clock. */
  readonly clock?: Clock;
  /** Link timings (silence timeout, reconnect backoff; defaults in WsLink). */
  readonly link?: Pick<WsLinkOptions, 'silenceTimeoutMs' | 'backoff'>;
}

/** A started agent. */
export interface RunningAgent {
  readonly agent: Agent;
  readonly link: WsLink | undefined;
  /** Stop ticking, send the last batch, wait up to `drainMs` for its ack, close. Resolves true when all was acked. */
  stop(drainMs?: number): Promise<boolean>;
}

/** `http://h:p` or `ws://h:p` (with or without the path) to the agent endpoint URL. */
export function agentEndpoint(collectorUrl: string): string {
  const url = new URL(collectorUrl);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.pathname === '/' || url.pathname === '') url.pathname = AGENT_WS_PATH;
  return url.toString();
}

/** Probe the sources, connect, and start the tick loop. */
export async function runAgent(o: RunAgentOptions): Promise<RunningAgent> {
  const spool = o.spool ?? new MemorySpool(o.spoolMaxBytes === undefined ? {} : { maxBytes: o.spoolMaxBytes });
  let link: WsLink | undefined;
  const agent = new Agent({
    node: o.node,
    intervalMs: o.intervalMs,
    devices: o.devices,
    jobs: o.jobs,
    spool,
    log: o.log,
    ...(o.state === undefined ? {} : { state: o.state }),
    ...(o.clock === undefined ? {} : { clock: o.clock }),
    onBatch: (batch) => {
      o.telemetry?.batch(batch);
      o.onBatch?.(batch);
      if (link === undefined) spool.ack(batch.seq);
      else link.pump();
    },
  });
  const hello = await agent.probe();
  o.telemetry?.observe({ hello, sources: agent.sources, spool, link: () => link });
  await o.afterProbe?.(hello);
  if (o.collectorUrl !== undefined) {
    if (o.token === undefined) throw new Error('agent: a token is needed to connect to the collector');
    link = new WsLink({ url: agentEndpoint(o.collectorUrl), token: o.token, hello, spool, log: o.log, ...o.link, ...(o.ca === undefined ? {} : { ca: o.ca }) });
    link.start();
  }
  agent.start();
  o.log.info({ node: o.node, epoch: agent.epoch, gpus: hello.inventory.gpus.length, collector: o.collectorUrl }, 'agent started');
  return {
    agent,
    link,
    async stop(drainMs = 5000) {
      await agent.stop();
      let drained = true;
      if (link !== undefined) {
        link.pump();
        drained = await link.drained(drainMs);
        await link.close();
      }
      await agent.sources.stop();
      await o.jobs.stop?.();
      return drained;
    },
  };
}
