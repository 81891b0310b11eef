/** `stroom collector`: run the collector. */
import { Command, Option } from 'commander';
import { LOG_LEVELS, makeLogger } from '../log.js';
import { intBetween, parseListen, positiveNumber } from '../options.js';
import type { Listen } from '../options.js';
import { addSecurityOptions, securityOptions } from '../security-options.js';
import type { SecurityCliOptions } from '../security-options.js';
import { onShutdown } from '../shutdown.js';

/** The `collector` subcommand. */
export function collectorCommand(): Command {
  return addSecurityOptions(new Command('collector'))
    .description('receive agent streams, keep the books, serve the API, live feed and dashboard')
    .addOption(new Option('--listen <host:port>', 'address to serve HTTP and WebSockets on').default(parseListen('127.0.0.1:8080'), '127.0.0.1:8080').argParser(parseListen))
    .requiredOption('--data <dir>', 'data directory of the embedded store')
    .option('--tokens <file>', 'JSON file of agent tokens: {"<node>": "<token>", ...} (tokens made by `stroom token create --node` count too)')
    .option('--tz <zone>', 'IANA time zone that "today" is counted in', 'Europe/Amsterdam')
    .option('--base-power <rules...>', 'modelled base power per node (fans, NICs, disks) as PATTERN=WATTS, e.g. gcn*=600', [])
    .option('--otlp <url>', 'also push metrics by OTLP/HTTP, e.g. http://127.0.0.1:4318 (/v1/metrics is added when there is no path); /metrics is always served')
    .option('--otlp-interval-ms <ms>', 'OTLP push interval', intBetween(1000, 3_600_000), 15_000)
    .option('--job-metrics-limit <n>', 'most running jobs on stroom.job.* metrics, highest power first (0: none)', intBetween(0, 1_000_000), 1000)
    .option('--series-retention-days <days>', 'how long the embedded store keeps raw 10 s series before rolling them up into 1-minute buckets', intBetween(1, 36_500), 7)
    .option('--rollup-retention-days <days>', 'how long the embedded store keeps the 1-minute roll-ups', intBetween(1, 36_500), 400)
    .option('--influx <url>', 'use InfluxDB 1.x at this URL (e.g. http://127.0.0.1:8086) instead of the embedded SQLite store')
    .option('--influx-db <name>', 'InfluxDB database', 'stroom')
    .option('--influx-series-retention <duration>', 'how long InfluxDB keeps raw series (InfluxQL duration)', '30d')
    .option('--facility-meter <file>', 'CSV of facility meter periods (total facility energy, renewable and reused energy in kWh, water in m3) for the EU EED KPIs in reports; see collector/src/reports/README.md')
    .option('--live-phase-ms <ms>', 'when in each second the live dashboards get their update, ms after the whole second agents sample on', intBetween(0, 999), 500)
    .option('--grid-cap-kw <kW>', "the site's grid-connection cap; the dashboard shows cluster power against it (default: not configured)", positiveNumber)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .action(async (o: { facilityMeter?: string; gridCapKw?: number; listen: Listen; data: string; tokens?: string; tz: string; logLevel: string; basePower: string[]; otlp?: string; otlpIntervalMs: number; jobMetricsLimit: number; influx?: string; influxDb: string; influxSeriesRetention: string; seriesRetentionDays: number; rollupRetentionDays: number; livePhaseMs: number } & SecurityCliOptions) => {
      const { AgentTokens, basePowerOf, loadTls, parseBasePowerRule, startCollector } = await import('@stroom/collector');
      const security = securityOptions(o, loadTls);
      const log = makeLogger(o.logLevel, 'stroom-collector');
      const collector = await startCollector({ host: o.listen.host, port: o.listen.port, dataDir: o.data, tokens: o.tokens === undefined ? new AgentTokens() : AgentTokens.fromFile(o.tokens), ...security, timeZone: o.tz, log, basePowerW: basePowerOf(o.basePower.map(parseBasePowerRule)), jobMetricsLimit: o.jobMetricsLimit, seriesRetentionDays: o.seriesRetentionDays, rollupRetentionDays: o.rollupRetentionDays, livePhaseMs: o.livePhaseMs, ...(o.gridCapKw === undefined ? {} : { gridCapW: o.gridCapKw * 1000 }), ...(o.facilityMeter === undefined ? {} : { facilityMeterFile: o.facilityMeter }), ...(o.otlp === undefined ? {} : { otlpUrl: o.otlp, otlpIntervalMs: o.otlpIntervalMs }), ...(o.influx === undefined ? {} : { influx: { url: o.influx, database: o.influxDb, seriesRetention: o.influxSeriesRetention } }) });
      process.stderr.write(`stroom collector on ${collector.url}\n`);
      onShutdown(async () => {
        await collector.close();
      });
    });
}
