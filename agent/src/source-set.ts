/**
 * The device sources of one node, read together each tick. A source that is missing its
 * hardware or permission is disabled at probe with one warning; a read that fails or hangs
 * costs that source's data for that tick, never the tick: a hung read is abandoned at the
 * deadline and not started again until it returns.
 */
import type { Hello } from '@stroom/protocol';
import type { Logger } from 'pino';
import type { CpuReading, DeviceReadings, DeviceSource, GpuReading, Inventory, Tick } from './source.js';

/** Read statistics of one source, for self-metrics and operators. */
export interface SourceStats {
  reads: number;
  errors: number;
  /** Reads abandoned at the deadline, or skipped because the previous one still hung. */
  timeouts: number;
  lastDurationMs: number;
}

type Status = NonNullable<Hello['sources']>[number];

interface Entry {
  readonly source: DeviceSource;
  readonly stats: SourceStats;
  inFlight: Promise<DeviceReadings> | undefined;
  lastError: string | undefined;
  /** The source's own fault count already added to `stats.errors`. */
  faultsSeen: number;
}

const EMPTY: DeviceReadings = { gpus: [], cpus: [] };

/** Several device sources behind one read. */
export class SourceSet {
  readonly #all: readonly DeviceSource[];
  readonly #log: Logger;
  readonly #deadlineMs: number;
  #active: Entry[] = [];
  #statuses: Status[] = [];

  /** `deadlineMs`: longest a read may take before its data is given up for the tick. */
  constructor(sources: readonly DeviceSource[], log: Logger, deadlineMs: number) {
    this.#all = sources;
    this.#log = log;
    this.#deadlineMs = deadlineMs;
  }

  /** Which sources run and which were disabled, and why. */
  get statuses(): readonly Status[] {
    return this.#statuses;
  }

  /** Per-source read statistics. */
  get stats(): ReadonlyMap<string, SourceStats> {
    return new Map(this.#active.map((e) => [e.source.name, e.stats]));
  }

  /** Probe every source; the inventory is what the ones that answered found. */
  async probe(): Promise<Inventory> {
    const gpus: Array<Inventory['gpus'][number]> = [];
    const cpus: Array<Inventory['cpus'][number]> = [];
    let host: Inventory['host'];
    this.#active = [];
    this.#statuses = [];
    for (const source of this.#all) {
      try {
        const inv = await source.probe();
        gpus.push(...inv.gpus);
        cpus.push(...inv.cpus);
        host = { ...host, ...inv.host };
        this.#active.push({ source, stats: { reads: 0, errors: 0, timeouts: 0, lastDurationMs: 0 }, inFlight: undefined, lastError: undefined, faultsSeen: 0 });
        this.#statuses.push({ name: source.name, state: 'ok' });
      } catch (err) {
        const reason = (err as Error).message;
        this.#log.warn({ source: source.name }, `source ${source.name} disabled: ${reason}`);
        this.#statuses.push({ name: source.name, state: 'disabled', reason: reason.slice(0, 512) });
      }
    }
    return host === undefined ? { gpus, cpus } : { gpus, cpus, host };
  }

  /** Read every active source at `tick`, merged. */
  async read(tick: Tick): Promise<DeviceReadings> {
    const parts = await Promise.all(this.#active.map((e) => this.#readOne(e, tick)));
    const gpus: GpuReading[] = [];
    const cpus: CpuReading[] = [];
    let host: DeviceReadings['host'];
    for (const p of parts) {
      gpus.push(...p.gpus);
      cpus.push(...p.cpus);
      if (p.host !== undefined) host = { ...host, ...p.host };
    }
    return host === undefined ? { gpus, cpus } : { gpus, cpus, host };
  }

  async stop(): Promise<void> {
    await Promise.all(this.#all.map(async (s) => s.stop?.()));
  }

  async #readOne(e: Entry, tick: Tick): Promise<DeviceReadings> {
    if (e.inFlight !== undefined) {
      e.stats.timeouts += 1;
      return EMPTY;
    }
    const started = performance.now();
    e.stats.reads += 1;
    const read = e.source.read(tick);
    e.inFlight = read;
    const settle = read.then(
      (r) => {
        e.inFlight = undefined;
        e.stats.lastDurationMs = performance.now() - started;
        const faults = e.source.faults?.() ?? 0;
        if (faults > e.faultsSeen) e.stats.errors += faults - e.faultsSeen;
        e.faultsSeen = Math.max(e.faultsSeen, faults);
        if (e.lastError !== undefined) this.#log.info({ source: e.source.name }, `source ${e.source.name} reads again`);
        e.lastError = undefined;
        return r;
      },
      (err: unknown) => {
        e.inFlight = undefined;
        e.stats.errors += 1;
        e.stats.lastDurationMs = performance.now() - started;
        this.#warn(e, `source ${e.source.name} failed: ${(err as Error).message}`);
        return EMPTY;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<DeviceReadings>((resolve) => {
      timer = setTimeout(() => {
        e.stats.timeouts += 1;
        this.#warn(e, `source ${e.source.name} did not answer within ${this.#deadlineMs} ms; its data is skipped until it does`);
        resolve(EMPTY);
      }, this.#deadlineMs);
    });
    try {
      return await Promise.race([settle, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Warn once per distinct message until the source recovers. */
  #warn(e: Entry, message: string): void {
    if (e.lastError === message) return;
    e.lastError = message;
    this.#log.warn({ source: e.source.name }, message);
  }
}
