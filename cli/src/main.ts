#!/usr/bin/env node
/** `stroom`: one command for the agent, the collector and the demo. */
import { Command } from 'commander';
import { AGENT_VERSION } from '@stroom/agent/config';
import { agentCommand } from './commands/agent.js';
import { collectorCommand } from './commands/collector.js';
import { demoCommand } from './commands/demo.js';
import { jobCommand } from './commands/job.js';
import { tokenCommand } from './commands/token.js';
import { reportCommand } from './commands/report.js';
import { configurable, NOT_IN_FILE } from './config/index.js';

const program = new Command('stroom')
  .description('energy and telemetry for GPU supercomputers: per-job kWh, CO2e and cost, live')
  .version(AGENT_VERSION)
  .showHelpAfterError()
  .addCommand(demoCommand())
  .addCommand(configurable(agentCommand(), 'agent', { except: NOT_IN_FILE.agent }))
  .addCommand(configurable(collectorCommand(), 'collector', { except: NOT_IN_FILE.collector }))
  .addCommand(jobCommand())
  .addCommand(tokenCommand())
  .addCommand(reportCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`stroom: ${(err as Error).message}\n`);
  process.exit(1);
}
