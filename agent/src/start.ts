/** Start an agent from its configuration: the sources of the table, a spool, the link. */
import { join } from 'node:path';
import type { Batch, Hello } from '@stroom/protocol';
import type { Logger } from 'pino';
import type { AgentConfig } from './config.js';
import { writeGpuMap } from './jobs/job-records.js';
import { runAgent } from './run.js';
import type { RunningAgent } from './run.js';
import { buildSources } from './sources/index.js';
import { DiskSpool } from './spool/disk-spool.js';
import { FileStateStore } from './state/agent-state.js';
import type { AgentTelemetry } from './telemetry.js';

/** Where the agent sends, and what it prints. */
export interface StartOptions {
  readonly log: Logger;
  readonly collectorUrl?: string;
  readonly token?: string;
  /** PEM CA the collector's certificate must chain to (`--ca`). */
  readonly ca?: string;
  /** Called once with the node's Hello (inventory), then with every batch. */
  readonly onHello?: (hello: Hello) => void;
  readonly onBatch?: (batch: Batch) => void;
  /** Metrics to feed (`/metrics`, OTLP); built by the caller, which also closes it. */
  readonly telemetry?: AgentTelemetry;
}

/** Build the configured sources and run the agent. */
export async function startAgent(config: AgentConfig, o: StartOptions): Promise<RunningAgent> {
  const sources = buildSources(config, o.log);
  const durable = config.spoolDir === undefined ? {} : {
    spool: new DiskSpool({ dir: join(config.spoolDir, 'spool'), log: o.log }),
    state: new FileStateStore(join(config.spoolDir, 'state.json'), (m) => o.log.warn(m)),
  };
  return runAgent({
    node: config.node,
    devices: sources.devices,
    jobs: sources.jobs,
    intervalMs: config.intervalMs,
    log: o.log,
    ...durable,
    ...(o.collectorUrl === undefined ? {} : { collectorUrl: o.collectorUrl }),
    ...(o.token === undefined ? {} : { token: o.token }),
    ...(o.ca === undefined ? {} : { ca: o.ca }),
    ...(o.onBatch === undefined ? {} : { onBatch: o.onBatch }),
    ...(o.telemetry === undefined ? {} : { telemetry: o.telemetry }),
    afterProbe: async (hello) => {
      sources.setInventory(hello.inventory.gpus);
      o.onHello?.(hello);
      if (config.jobs === 'slurm') {
        // The prolog resolves Slurm's GPU indices to UUIDs from this map, once per job.
        try {
          await writeGpuMap(config.runDir, hello.inventory.gpus);
        } catch (err) {
          o.log.warn(`cannot write the GPU map to ${config.runDir}: ${(err as Error).message}; the Slurm prolog will fall back to nvidia-smi`);
        }
      }
    },
  });
}
