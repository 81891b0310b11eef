/**
 * In-memory spool. Is: bounded by bytes, drops oldest first and counts it. Is not: durable
 * across agent restarts (a restart starts a new epoch anyway, and the collector keeps what
 * it already counted).
 */
import type { Batch } from '@stroom/protocol';
import { encode } from '@stroom/protocol/wire';
import type { Spool, SpooledBatch, SpoolStats } from './spool.js';

/** Options of the in-memory spool. */
export interface MemorySpoolOptions {
  /** Most bytes held before the oldest batches are dropped (default 64 MiB). */
  readonly maxBytes?: number;
}

/** Spool kept in a queue in memory. */
export class MemorySpool implements Spool {
  readonly #maxBytes: number;
  #queue: SpooledBatch[] = [];
  #head = 0;
  #bytes = 0;
  #dropped = 0;

  constructor(options: MemorySpoolOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  append(batch: Batch): void {
    const last = this.#queue[this.#queue.length - 1];
    if (last !== undefined && this.#queue.length > this.#head && batch.seq <= last.seq) {
      throw new Error(`spool: seq ${batch.seq} is not after ${last.seq}`);
    }
    const item = { seq: batch.seq, frame: encode(batch) };
    this.#queue.push(item);
    this.#bytes += item.frame.length;
    while (this.#bytes > this.#maxBytes && this.#queue.length - this.#head > 1) {
      this.#shift();
      this.#dropped += 1;
    }
  }

  next(afterSeq: number): SpooledBatch | undefined {
    // Batches are held in seq order: binary search for the first one after `afterSeq`.
    let lo = this.#head;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#queue[mid]?.seq ?? Infinity) <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    return this.#queue[lo];
  }

  ack(uptoSeq: number): void {
    while (this.#head < this.#queue.length && (this.#queue[this.#head]?.seq ?? Infinity) <= uptoSeq) this.#shift();
  }

  get stats(): SpoolStats {
    return { batches: this.#queue.length - this.#head, bytes: this.#bytes, dropped: this.#dropped };
  }

  close(): void {
    this.#queue = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #shift(): void {
    const item = this.#queue[this.#head];
    if (item === undefined) return;
    this.#bytes -= item.frame.length;
    this.#head += 1;
    // Compact now and then so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
