/** A token bucket: `ratePerS` tokens a second, at most `burst` saved up. Pure; the caller passes the time. */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #lastMs: number | undefined;

  constructor(ratePerS: number, burst: number) {
    if (!(ratePerS > 0) || !Number.isFinite(ratePerS)) throw new Error(`rate: expected a positive number per second, got ${ratePerS}`);
    if (!Number.isInteger(burst) || burst < 1) throw new Error(`burst: expected a positive integer, got ${burst}`);
    this.#ratePerMs = ratePerS / 1000;
    this.#burst = burst;
    this.#tokens = burst;
  }

  #refill(nowMs: number): void {
    if (this.#lastMs !== undefined && nowMs > this.#lastMs) this.#tokens = Math.min(this.#burst, this.#tokens + (nowMs - this.#lastMs) * this.#ratePerMs);
    if (this.#lastMs === undefined || nowMs > this.#lastMs) this.#lastMs = nowMs;
  }

  /** Take one token if there is one. */
  take(nowMs: number): boolean {
    this.#refill(nowMs);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Ms until the next token (0 when one is there), at least 1 when none is. */
  waitMs(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - this.#tokens) / this.#ratePerMs));
  }
}
