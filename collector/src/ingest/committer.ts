/**
 * Group commit: batches from all agents are applied to the ledger and written in one
 * transaction every few milliseconds, and only then acked. An ack therefore means "counted
 * and durable"; a crash before it means the agent resends and the ledger drops what it had.
 */
import type { Batch, Hello } from '@stroom/protocol';
import type { Logger } from 'pino';
import { applyBatch, emptyLedger } from '../ledger/ledger.js';
import type { EnergyLimit, NodeModel } from '../ledger/ledger.js';
import type { BatchEffect, LedgerState, Store } from '../store/store.js';

/** A batch waiting for the next commit, and what to do once it is durable. */
export interface PendingBatch {
  readonly batch: Batch;
  /** Largest plausible energy of each device over an interval (from the node's Hello). */
  readonly limit?: EnergyLimit;
  /** The node's modelled base power and GPU count (from its Hello and the configuration). */
  readonly model?: NodeModel;
  /** Called after the commit (counted or duplicate). */
  readonly done: () => void;
  /** Called when the commit failed; the batch was not counted. */
  readonly failed: (err: Error) => void;
}

/** Called after each commit with the effects it made durable. */
export type CommitListener = (effects: ReadonlyArray<{ effect: BatchEffect; batch: Batch; previousTs: number }>) => void;

/** Options of the committer. */
export interface CommitterOptions {
  readonly store: Store;
  readonly log: Logger;
  /** Longest wait before a commit, in ms (default 20). */
  readonly maxDelayMs?: number;
  /** Commit at once when this many batches wait (default 2000). */
  readonly maxBatches?: number;
  readonly onCommit?: CommitListener;
}

/** Counters of what the committer did, for self-metrics and tests. */
export interface CommitterStats {
  counted: number;
  duplicates: number;
  resets: number;
  /** Intervals dropped because a counter jumped beyond physics. */
  glitches: number;
  commits: number;
  failures: number;
}

/** Queues batches and commits them in groups. */
export class Committer {
  readonly #o: CommitterOptions;
  readonly #ledgers = new Map<string, LedgerState>();
  #queue: PendingBatch[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #loggedResets = new Set<string>();
  readonly stats: CommitterStats = { counted: 0, duplicates: 0, resets: 0, glitches: 0, commits: 0, failures: 0 };

  constructor(options: CommitterOptions) {
    this.#o = options;
  }

  submit(pending: PendingBatch): void {
    this.#queue.push(pending);
    if (this.#queue.length >= (this.#o.maxBatches ?? 2000)) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#o.maxDelayMs ?? 20);
  }

  /** Commit everything queued now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const queue = this.#queue;
    this.#queue = [];
    if (queue.length === 0) return;
    const effects: Array<{ effect: BatchEffect; batch: Batch; previousTs: number }> = [];
    const touched = new Map<string, LedgerState>();
    let duplicates = 0;
    let resets = 0;
    let glitches = 0;
    for (const p of queue) {
      const key = `${p.batch.node}\u0000${p.batch.epoch}`;
      const state = touched.get(key) ?? this.#ledger(key, p.batch.node, p.batch.epoch);
      const outcome = applyBatch(state, p.batch, p.limit, p.model);
      if (outcome.kind === 'duplicate') {
        duplicates += 1;
        continue;
      }
      for (const r of outcome.resets) {
        resets += 1;
        const what = `${p.batch.node} ${p.batch.epoch} ${r}`;
        if (!this.#loggedResets.has(what)) {
          this.#loggedResets.add(what);
          this.#o.log.warn({ node: p.batch.node, epoch: p.batch.epoch, counter: r }, 'counter went backwards: new baseline, nothing counted for that interval');
        }
      }
      for (const g of outcome.glitches) {
        glitches += 1;
        this.#o.log.warn({ node: p.batch.node, epoch: p.batch.epoch, seq: p.batch.seq }, `counter rejected: ${g}`);
      }
      touched.set(key, outcome.effect.ledger);
      effects.push({ effect: outcome.effect, batch: p.batch, previousTs: state.lastTs });
    }
    try {
      this.#o.store.commit(effects.map((e) => e.effect));
    } catch (err) {
      this.stats.failures += 1;
      this.#o.log.error({ err }, `commit of ${queue.length} batches failed; they are not acked and will be resent`);
      for (const p of queue) p.failed(err as Error);
      return;
    }
    for (const [key, state] of touched) this.#ledgers.set(key, state);
    this.stats.commits += 1;
    this.stats.counted += effects.length;
    this.stats.duplicates += duplicates;
    this.stats.resets += resets;
    this.stats.glitches += glitches;
    this.#o.onCommit?.(effects);
    for (const p of queue) p.done();
  }

  /** Record a node's Hello (inventory); kept so jobs know their GPU models after a restart. */
  nodeHello(hello: Hello): void {
    try {
      this.#o.store.putNode(hello);
    } catch (err) {
      this.#o.log.error({ err, node: hello.node }, 'could not store the node inventory');
    }
  }

  close(): void {
    this.flush();
  }

  #ledger(key: string, node: string, epoch: string): LedgerState {
    return this.#ledgers.get(key) ?? this.#o.store.loadLedger(node, epoch) ?? emptyLedger(node, epoch);
  }
}
