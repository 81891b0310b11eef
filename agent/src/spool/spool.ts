/**
 * The spool holds batches until the collector acknowledges them. Counters are cumulative,
 * so dropping the oldest batch under the byte cap loses chart resolution, never energy.
 */
import type { Batch } from '@stroom/protocol';

/** Size and losses of a spool. */
export interface SpoolStats {
  /** Batches held, not yet acknowledged. */
  readonly batches: number;
  /** Bytes held (encoded JSON). */
  readonly bytes: number;
  /** Batches dropped, oldest first, because the byte cap was reached. */
  readonly dropped: number;
}

/** A batch with its encoded frame, so it is serialised once however often it is resent. */
export interface SpooledBatch {
  readonly seq: number;
  readonly frame: string;
}

/** Batches awaiting acknowledgement, oldest first. */
export interface Spool {
  /** Keep a batch; its `seq` must be greater than every seq appended before. */
  append(batch: Batch): void;
  /** The oldest held batch with seq greater than `afterSeq`, if any. */
  next(afterSeq: number): SpooledBatch | undefined;
  /** Remove every batch with seq up to and including `uptoSeq`. */
  ack(uptoSeq: number): void;
  readonly stats: SpoolStats;
  close(): void;
}
