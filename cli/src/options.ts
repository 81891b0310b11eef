/** Parsers for option values; each error names the option and what was wrong. */
import { InvalidArgumentError } from 'commander';

/** `host:port` (IPv6 as `[::1]:8080`). */
export interface Listen {
  readonly host: string;
  readonly port: number;
}

/** Parse `--listen`. */
export function parseListen(value: string): Listen {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (m === null || !Number.isInteger(port) || port > 65_535) {
    throw new InvalidArgumentError(`expected HOST:PORT such as 127.0.0.1:8080, got "${value}"`);
  }
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

/** A positive integer option within [min, max]. */
export function intBetween(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };
}

/** A positive number option. */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}
