/** `stroom demo`: a collector and simulated GPU nodes, each a real agent in its own worker. */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { Command, Option } from 'commander';
import type { DemoWorkerData } from '../demo-worker.js';
import { LOG_LEVELS, makeLogger } from '../log.js';
import { intBetween, parseListen, positiveNumber } from '../options.js';
import type { Listen } from '../options.js';
import { onShutdown } from '../shutdown.js';

interface DemoOptions {
  listen: Listen;
  data: string;
  nodes: number;
  gpus: number;
  intervalMs: number;
  timeScale: number;
  seed: number;
  logLevel: string;
  basePower: string[];
  gridCapKw?: number;
}

/** Node names like the cluster's: gcn1, gcn2, ... */
function nodeName(i: number): string {
  return `gcn${i + 1}`;
}

/** The `demo` subcommand. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('run a collector and simulated GPU nodes (real agent code, real WebSocket links) with the live dashboard')
    .addOption(new Option('--listen <host:port>', 'address of the collector and dashboard').default(parseListen('127.0.0.1:8080'), '127.0.0.1:8080').argParser(parseListen))
    .option('--data <dir>', 'data directory of the embedded store', '.stroom-data/demo')
    .option('--nodes <n>', 'simulated nodes', intBetween(1, 2000), 16)
    .option('--gpus <n>', 'GPUs per node', intBetween(1, 16), 4)
    .option('--interval-ms <ms>', "agents' sampling interval", intBetween(100, 60_000), 1000)
    .option('--time-scale <s>', 'seconds per simulated job-time unit (jobs last 1-4 units)', positiveNumber, 60)
    .option('--seed <n>', 'seed of the simulation', intBetween(0, 2 ** 31), 1)
    .option('--base-power <rules...>', 'modelled base power per node (fans, NICs, disks) as PATTERN=WATTS, e.g. gcn*=600', ['600'])
    .option('--grid-cap-kw <kW>', "the site's grid-connection cap shown against cluster power (default: not configured)", positiveNumber)
    .addOption(new Option('--log-level <level>', 'log level of the collector (agents log warnings only)').choices(LOG_LEVELS).default('warn'))
    .action(async (o: DemoOptions) => {
      const { AgentTokens, basePowerOf, parseBasePowerRule, startCollector } = await import('@stroom/collector');
      const log = makeLogger(o.logLevel, 'stroom-collector');
      const names = Array.from({ length: o.nodes }, (_, i) => nodeName(i));
      const secrets = new Map(names.map((n) => [n, randomBytes(24).toString('base64url')]));
      const collector = await startCollector({ host: o.listen.host, port: o.listen.port, dataDir: o.data, tokens: new AgentTokens(secrets), log, basePowerW: basePowerOf(o.basePower.map(parseBasePowerRule)), ...(o.gridCapKw === undefined ? {} : { gridCapW: o.gridCapKw * 1000 }) });
      const workers = names.map((node, i) => {
        const data: DemoWorkerData = {
          node,
          ordinal: i + 1,
          gpus: o.gpus,
          token: secrets.get(node) ?? '',
          collectorUrl: collector.url,
          intervalMs: o.intervalMs,
          timeScale: o.timeScale,
          seed: o.seed,
          logLevel: o.logLevel === 'silent' ? 'silent' : 'warn',
        };
        const worker = new Worker(new URL('../demo-worker.js', import.meta.url), { workerData: data });
        worker.on('error', (err) => log.error({ node, err: err.message }, 'simulated node failed'));
        return worker;
      });
      await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
      process.stdout.write(`stroom demo: ${o.nodes} simulated nodes x ${o.gpus} GPUs\n`);
      process.stdout.write(`dashboard: ${collector.url}/\n`);
      process.stdout.write(`API:       ${collector.url}/api/v1/cluster  ${collector.url}/api/v1/jobs\n`);
      process.stdout.write('Ctrl-C stops everything.\n');
      onShutdown(async () => {
        // Agents first, so their last batches are counted before the collector closes.
        await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
          const timer = setTimeout(() => void w.terminate().then(() => resolve()), 5000);
          w.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          w.postMessage({ type: 'stop' });
        })));
        await collector.close();
        process.stderr.write('stopped cleanly\n');
      });
    });
}
