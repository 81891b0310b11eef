/** Reconnect delays: "full jitter" exponential backoff (AWS architecture blog), capped. */

/** Options of the backoff. */
export interface BackoffOptions {
  /** First delay ceiling in ms (default 500). */
  readonly baseMs?: number;
  /** Largest delay in ms (default 30 s). */
  readonly capMs?: number;
  /** Random source in [0, 1), injectable for tests. */
  readonly random?: () => number;
}

/** Delay in ms before reconnect attempt number `attempt` (0-based). */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const cap = options.capMs ?? 30_000;
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  // Full jitter spreads a thousand agents reconnecting after a collector restart.
  return Math.floor((options.random ?? Math.random)() * ceiling);
}
