/**
 * The page's copy of the cluster grid, kept from `cluster` messages: a full message replaces
 * it, a delta replaces the rows it carries (by node name). A delta whose `seq` does not follow
 * the last one means a message was missed; the caller then resubscribes for a full snapshot.
 * Pure (no DOM), tested in Node.
 */
import type { LiveCluster, LiveNode, LiveNodeRow } from '@stroom/protocol';

const byName = (a: LiveNode, b: LiveNode): number => a.name.localeCompare(b.name, 'en', { numeric: true });

/** A row with its inventory columns, from the message or the previous row; null when neither has them. */
function complete(r: LiveNodeRow, prev: LiveNode | undefined): LiveNode | null {
  const gpuUuids = r.gpuUuids ?? prev?.gpuUuids;
  const gpuPowerLimitW = r.gpuPowerLimitW ?? prev?.gpuPowerLimitW;
  if (gpuUuids === undefined || gpuPowerLimitW === undefined) return null;
  return { ...r, gpuUuids, gpuPowerLimitW };
}

export class ClusterModel {
  #rows: LiveNode[] = [];
  #index = new Map<string, number>();
  #seq: number | null = null;

  /** Rows in node-name order. */
  get rows(): readonly LiveNode[] {
    return this.#rows;
  }

  get seq(): number | null {
    return this.#seq;
  }

  /** Forget everything (e.g. on reconnect, before the snapshot arrives). */
  reset(): void {
    this.#rows = [];
    this.#index.clear();
    this.#seq = null;
  }

  /** Apply a message; `resync` when a delta does not follow the last seq (it is not applied). */
  apply(m: LiveCluster): 'ok' | 'resync' {
    if (m.full) {
      const rows: LiveNode[] = [];
      for (const r of m.grid) {
        const row = complete(r, undefined);
        if (row === null) return 'resync';
        rows.push(row);
      }
      this.#rows = rows.sort(byName);
      this.#reindex();
      this.#seq = m.seq;
      return 'ok';
    }
    if (this.#seq === null || m.seq !== this.#seq + 1) return 'resync';
    // Check every row first, so a delta is applied whole or not at all.
    const rows: Array<[LiveNode, number | undefined]> = [];
    for (const r of m.grid) {
      const i = this.#index.get(r.name);
      const row = complete(r, i === undefined ? undefined : this.#rows[i]);
      if (row === null) return 'resync';
      rows.push([row, i]);
    }
    this.#seq = m.seq;
    let added = false;
    for (const [row, i] of rows) {
      if (i === undefined) {
        this.#rows.push(row);
        added = true;
      } else {
        this.#rows[i] = row;
      }
    }
    if (added) {
      this.#rows.sort(byName);
      this.#reindex();
    }
    return 'ok';
  }

  #reindex(): void {
    this.#index = new Map(this.#rows.map((r, i) => [r.name, i]));
  }
}
