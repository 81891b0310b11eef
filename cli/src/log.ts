/** The CLI's logger: JSON lines on stderr, so stdout stays clean for `--print` and `--json`. */
import pino from 'pino';
import type { Logger } from 'pino';

/** Log levels a user may pick. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A logger on stderr at `level`. */
export function makeLogger(level: string, name: string): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}
