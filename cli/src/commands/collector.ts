/** `stroom collector`: run the collector. */
import { Command, Option } from 'commander';
import { LOG_LEVELS, makeLogger } from '../log.js';
import { parseListen } from '../options.js';
import type { Listen } from '../options.js';
import { onShutdown } from '../shutdown.js';

/** The `collector` subcommand. */
export function collectorCommand(): Command {
  return new Command('collector')
    .description('receive agent streams, keep the books, serve the API, live feed and dashboard')
    .addOption(new Option('--listen <host:port>', 'address to serve HTTP and WebSockets on').default(parseListen('127.0.0.1:8080'), '127.0.0.1:8080').argParser(parseListen))
    .requiredOption('--data <dir>', 'data directory of the embedded store')
    .requiredOption('--tokens <file>', 'JSON file of agent tokens: {"<node>": "<token>", ...}')
    .option('--tz <zone>', 'IANA time zone that "today" is counted in', 'Europe/Amsterdam')
    .option('--base-power <rules...>', 'modelled base power per node (fans, NICs, disks) as PATTERN=WATTS, e.g. gcn*=600', [])
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .action(async (o: { listen: Listen; data: string; tokens: string; tz: string; logLevel: string; basePower: string[] }) => {
      const { AgentTokens, basePowerOf, parseBasePowerRule, startCollector } = await import('@stroom/collector');
      const log = makeLogger(o.logLevel, 'stroom-collector');
      const collector = await startCollector({ host: o.listen.host, port: o.listen.port, dataDir: o.data, tokens: AgentTokens.fromFile(o.tokens), timeZone: o.tz, log, basePowerW: basePowerOf(o.basePower.map(parseBasePowerRule)) });
      process.stderr.write(`stroom collector on ${collector.url}\n`);
      onShutdown(async () => {
        await collector.close();
      });
    });
}
