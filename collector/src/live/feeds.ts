/**
 * One feed per subscribed topic, shared by all its subscribers. Each tick the live server asks
 * the feed for the tick's message once and sends the same text to every subscriber in step; a
 * new (or resynchronising) subscriber gets `snapshot()`, complete, instead.
 *
 * The cluster feed sends deltas: the grid rows whose signature changed since the previous
 * tick. Rows replace rows by node name, so applying a delta twice, or after a snapshot taken
 * between two ticks, gives the same picture: a snapshot plus every later delta is the state.
 */
import type { LiveCluster, LiveHistory, LiveMessage, LiveNode, LiveNodeRow } from '@stroom/protocol';
import { PROTOCOL_VERSION } from '@stroom/protocol';
import type { ClusterState } from './cluster-state.js';
import type { ClusterHead } from './picture.js';
import type { TopicFeed } from './live-server.js';

function inventoryKey(row: LiveNode): string {
  return `${row.gpuUuids.join(',')}|${row.gpuPowerLimitW.join(',')}`;
}

/** The `cluster` topic: the head each tick, and the grid rows that changed. */
export class ClusterFeed implements TopicFeed {
  readonly #cluster: ClusterState;
  readonly #head: () => ClusterHead;
  readonly #history: () => LiveHistory['columns'];
  /** Row signatures as of the last tick. */
  #sigs = new Map<string, string>();
  /** Inventory columns (uuids and power limits) as last sent, to leave them out of deltas when unchanged. */
  #inventory = new Map<string, string>();
  #seq = 0;

  constructor(cluster: ClusterState, head: () => ClusterHead, history: () => LiveHistory['columns']) {
    this.#cluster = cluster;
    this.#head = head;
    this.#history = history;
  }

  get seq(): number {
    return this.#seq;
  }

  next(): LiveCluster {
    this.#seq += 1;
    const sigs = new Map<string, string>();
    const changed: LiveNodeRow[] = [];
    for (const name of this.#cluster.names()) {
      const sig = this.#cluster.rowSignature(name) ?? '';
      sigs.set(name, sig);
      if (this.#sigs.get(name) === sig) continue;
      const row = this.#cluster.gridRow(name);
      if (row !== undefined) changed.push(this.#lean(row));
    }
    this.#sigs = sigs;
    return { ...this.#head(), seq: this.#seq, full: false, grid: changed };
  }

  snapshot(): LiveCluster {
    // Before the first tick the snapshot is the baseline, so the first delta is not every row again.
    if (this.#seq === 0) for (const name of this.#cluster.names()) this.#sigs.set(name, this.#cluster.rowSignature(name) ?? '');
    const grid = this.#cluster.grid();
    for (const row of grid) this.#inventory.set(row.name, inventoryKey(row));
    return { ...this.#head(), seq: this.#seq, full: true, grid };
  }

  /**
   * A delta row without the inventory columns when they are as last sent: with 8 GPUs they are
   * ~45 % of a row, and they change only when a node says hello with other GPUs.
   */
  #lean(row: LiveNode): LiveNodeRow {
    const key = inventoryKey(row);
    if (this.#inventory.get(row.name) !== key) {
      this.#inventory.set(row.name, key);
      return row;
    }
    const { gpuUuids: _uuids, gpuPowerLimitW: _limits, ...rest } = row;
    return rest;
  }

  history(): LiveHistory {
    return { v: PROTOCOL_VERSION, type: 'history', topic: 'cluster', columns: this.#history() };
  }
}

/** A topic whose message is small enough to send whole every tick (`job/<id>`, `node/<name>`). */
export class SnapshotFeed implements TopicFeed {
  readonly #build: (seq: number) => LiveMessage;
  #seq = 0;

  constructor(build: (seq: number) => LiveMessage) {
    this.#build = build;
  }

  get seq(): number {
    return this.#seq;
  }

  next(): LiveMessage {
    this.#seq += 1;
    return this.#build(this.#seq);
  }

  snapshot(): LiveMessage {
    return this.#build(this.#seq);
  }
}
