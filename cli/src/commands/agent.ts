/** `stroom agent`: run a node's agent. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
// Only the light configuration module at start-up; the agent itself loads in the action, so
// `stroom agent` never carries the collector's (or the CLI's other commands') modules.
import { AGENT_DEFAULTS, GPU_SOURCES, JOB_SOURCES } from '@stroom/agent/config';
import type { AgentConfig, GpuSourceName, JobSourceName } from '@stroom/agent/config';
import { LOG_LEVELS, makeLogger } from '../log.js';
import { intBetween, parseListen, positiveNumber } from '../options.js';
import type { Listen } from '../options.js';
import { onShutdown } from '../shutdown.js';

interface AgentCliOptions {
  collector?: string;
  node: string;
  token?: string;
  tokenFile?: string;
  ca?: string;
  gpu: GpuSourceName;
  jobs?: JobSourceName;
  rapl: boolean;
  host: boolean;
  nvmlLib: string;
  nvidiaSmi: string;
  sysfsRoot: string;
  procRoot: string;
  runDir: string;
  cgroupRoot: string;
  spoolDir?: string;
  intervalMs: number;
  gpus: number;
  seed: number;
  timeScale: number;
  print: boolean;
  once: boolean;
  metricsListen?: Listen;
  otlp?: string;
  otlpIntervalMs: number;
  logLevel: string;
}

const line = (value: unknown): void => {
  process.stdout.write(JSON.stringify(value) + '\n');
};

/** Read `--ca`; errors name the file and what is wrong. */
function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`--ca ${file}: ${(err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`--ca ${file}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)`);
  return pem;
}

/** The `agent` subcommand. */
export function agentCommand(): Command {
  const d = AGENT_DEFAULTS;
  return new Command('agent')
    .description("measure this node's devices and stream energy counters to the collector")
    .option('--collector <url>', 'collector URL, e.g. http://127.0.0.1:8080 (omit with --print)')
    .option('--node <name>', 'node name', hostname().split('.')[0] ?? 'node')
    .option('--token-file <file>', "file holding this node's bearer token")
    .addOption(new Option('--token <token>', "this node's bearer token (prefer --token-file)").env('STROOM_AGENT_TOKEN'))
    .option('--ca <file>', "PEM CA certificate the collector's (https) certificate must chain to; its name is checked too (default: the system's CAs)")
    .addOption(new Option('--gpu <source>', 'GPU source: auto is NVML, else nvidia-smi').choices(GPU_SOURCES).default(d.gpu))
    .addOption(new Option('--jobs <source>', 'job source (default: simulated with --gpu simulated, else slurm)').choices(JOB_SOURCES))
    .option('--no-rapl', 'do not read RAPL CPU/DRAM energy')
    .option('--no-host', 'do not read /proc host gauges')
    .option('--nvml-lib <path>', 'NVML library', d.nvmlLibrary)
    .option('--nvidia-smi <path>', 'nvidia-smi binary', d.nvidiaSmiPath)
    .option('--sysfs-root <dir>', 'sysfs root', d.sysfsRoot)
    .option('--proc-root <dir>', 'procfs root', d.procRoot)
    .option('--run-dir <dir>', 'where the Slurm prolog records jobs', d.runDir)
    .option('--cgroup-root <dir>', 'cgroup root, for per-job CPU shares', d.cgroupRoot)
    .option('--spool-dir <dir>', 'durable spool and counter state (default: in memory)')
    .option('--interval-ms <ms>', 'sampling and report interval', intBetween(50, 60_000), d.intervalMs)
    .option('--gpus <n>', 'simulated GPUs', intBetween(1, 64), d.simulated.gpus)
    .option('--seed <n>', 'seed of the simulated node', intBetween(0, 2 ** 31), d.simulated.seed)
    .option('--time-scale <s>', 'seconds per simulated job-time unit (jobs last 1-4 units)', positiveNumber, d.simulated.timeScale)
    .option('--print', "print the node's inventory, then every batch, as JSON lines on stdout", false)
    .option('--once', 'measure one interval, print the inventory and that batch, and exit', false)
    .addOption(new Option('--metrics-listen <host:port>', 'serve Prometheus /metrics here, e.g. 127.0.0.1:9464 (default: not served)').argParser(parseListen))
    .option('--otlp <url>', 'also push metrics by OTLP/HTTP, e.g. http://127.0.0.1:4318 (/v1/metrics is added when there is no path)')
    .option('--otlp-interval-ms <ms>', 'OTLP push interval', intBetween(1000, 3_600_000), 15_000)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .action(async (o: AgentCliOptions) => {
      const { Agent, MemorySpool, buildSources, startAgent } = await import('@stroom/agent');
      const log = makeLogger(o.logLevel, 'stroom-agent');
      const config: AgentConfig = {
        node: o.node,
        intervalMs: o.intervalMs,
        gpu: o.gpu,
        jobs: o.jobs ?? (o.gpu === 'simulated' ? 'simulated' : 'slurm'),
        rapl: o.rapl,
        host: o.host,
        nvmlLibrary: o.nvmlLib,
        nvidiaSmiPath: o.nvidiaSmi,
        sysfsRoot: o.sysfsRoot,
        procRoot: o.procRoot,
        runDir: o.runDir,
        cgroupRoot: o.cgroupRoot,
        ...(o.spoolDir === undefined ? {} : { spoolDir: o.spoolDir }),
        simulated: { gpus: o.gpus, seed: o.seed, timeScale: o.timeScale, nodeOrdinal: 1 },
      };
      if (o.once) {
        // Two ticks one interval apart: the first sets the baseline, the second measures.
        const sources = buildSources(config, log);
        const agent = new Agent({ node: o.node, intervalMs: o.intervalMs, ticksPerBatch: 2, devices: sources.devices, jobs: sources.jobs, spool: new MemorySpool(), log });
        const hello = await agent.probe();
        sources.setInventory(hello.inventory.gpus);
        line(hello);
        await agent.tick();
        await new Promise((r) => setTimeout(r, o.intervalMs));
        line(await agent.tick());
        await agent.sources.stop();
        await sources.jobs.stop?.();
        return;
      }
      if (o.collector === undefined && !o.print) throw new Error('give --collector URL, or --print to write batches to stdout');
      const token = o.tokenFile !== undefined ? readFileSync(o.tokenFile, 'utf8').trim() : o.token;
      const ca = o.ca === undefined ? undefined : readCa(o.ca);
      // The OpenTelemetry SDK is loaded only when metrics are asked for.
      const telemetry = o.metricsListen === undefined && o.otlp === undefined ? undefined : await (await import('@stroom/agent/telemetry')).AgentTelemetry.start({
        node: o.node,
        log,
        ...(o.metricsListen === undefined ? {} : { listen: o.metricsListen }),
        ...(o.otlp === undefined ? {} : { otlpUrl: o.otlp, otlpIntervalMs: o.otlpIntervalMs }),
      });
      const running = await startAgent(config, {
        log,
        ...(o.collector === undefined ? {} : { collectorUrl: o.collector }),
        ...(token === undefined ? {} : { token }),
        ...(ca === undefined ? {} : { ca }),
        ...(o.print ? { onHello: line, onBatch: line } : {}),
        ...(telemetry === undefined ? {} : { telemetry }),
      }).catch(async (err: unknown) => {
        // Its server would keep the process alive after the error.
        await telemetry?.close();
        throw err;
      });
      onShutdown(async () => {
        await running.stop(5000);
        await telemetry?.close();
      });
    });
}
