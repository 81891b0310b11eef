/** `stroom agent`: run a node's agent. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { DEFAULT_INTERVAL_MS, SimulatedNode, runAgent } from '@stroom/agent';
import { LOG_LEVELS, makeLogger } from '../log.js';
import { intBetween, positiveNumber } from '../options.js';
import { onShutdown } from '../shutdown.js';

interface AgentCliOptions {
  collector?: string;
  node: string;
  token?: string;
  tokenFile?: string;
  source: 'simulated';
  intervalMs: number;
  gpus: number;
  seed: number;
  timeScale: number;
  print: boolean;
  once: boolean;
  logLevel: string;
}

/** The `agent` subcommand. */
export function agentCommand(): Command {
  return new Command('agent')
    .description("measure this node's devices and stream energy counters to the collector")
    .option('--collector <url>', 'collector URL, e.g. http://127.0.0.1:8080 (omit with --print)')
    .option('--node <name>', 'node name', hostname().split('.')[0] ?? 'node')
    .option('--token-file <file>', "file holding this node's bearer token")
    .addOption(new Option('--token <token>', "this node's bearer token (prefer --token-file)").env('STROOM_AGENT_TOKEN'))
    .addOption(new Option('--source <name>', 'device source').choices(['simulated']).makeOptionMandatory())
    .option('--interval-ms <ms>', 'sampling interval', intBetween(50, 60_000), DEFAULT_INTERVAL_MS)
    .option('--gpus <n>', 'simulated GPUs', intBetween(1, 64), 4)
    .option('--seed <n>', 'seed of the simulated node', intBetween(0, 2 ** 31), 1)
    .option('--time-scale <s>', 'seconds per simulated job-time unit (jobs last 1-4 units)', positiveNumber, 60)
    .option('--print', 'print every batch as one JSON line on stdout', false)
    .option('--once', 'take one measured interval, print its batch and exit (implies --print)', false)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .action(async (o: AgentCliOptions) => {
      const log = makeLogger(o.logLevel, 'stroom-agent');
      const sim = new SimulatedNode({ node: o.node, nodeOrdinal: 1, gpus: o.gpus, seed: o.seed, timeScale: o.timeScale });
      if (o.once) {
        // Two ticks one interval apart: the first sets the baseline, the second measures.
        const { Agent, MemorySpool } = await import('@stroom/agent');
        const agent = new Agent({ node: o.node, intervalMs: o.intervalMs, ticksPerBatch: 2, devices: sim, jobs: sim.jobs, spool: new MemorySpool(), log });
        await agent.probe();
        await agent.tick();
        await new Promise((r) => setTimeout(r, o.intervalMs));
        const batch = await agent.tick();
        process.stdout.write(JSON.stringify(batch) + '\n');
        return;
      }
      if (o.collector === undefined && !o.print) throw new Error('give --collector URL, or --print to write batches to stdout');
      const token = o.tokenFile !== undefined ? readFileSync(o.tokenFile, 'utf8').trim() : o.token;
      const running = await runAgent({
        node: o.node,
        devices: sim,
        jobs: sim.jobs,
        intervalMs: o.intervalMs,
        log,
        ...(o.collector === undefined ? {} : { collectorUrl: o.collector }),
        ...(token === undefined ? {} : { token }),
        ...(o.print ? { onBatch: (b) => process.stdout.write(JSON.stringify(b) + '\n') } : {}),
      });
      onShutdown(async () => {
        await running.stop(5000);
      });
    });
}
