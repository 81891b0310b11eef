/** The configuration file and environment overrides of `stroom agent` and `stroom collector`. */
export { CONFIG_SECTIONS, ConfigError, envName, fileKey, fileOptions, loadSection, readConfigFile } from './config-file.js';
export type { ConfigSection } from './config-file.js';
export { configurable } from './configurable.js';

/**
 * Options the file does not set, by command: run modes (`--print`, `--once`) and a secret that
 * belongs in a file of its own (`--token`; the file has `token_file`).
 */
export const NOT_IN_FILE = { agent: ['print', 'once', 'token'], collector: [] } as const satisfies Record<string, readonly string[]>;
