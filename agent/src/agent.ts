/**
 * One node's agent: each tick reads the job map and the devices at the same instant, feeds
 * the meter, and every report interval appends a batch to the spool for the link to send.
 */
import type { Batch, Hello, JobAllocation, Sample } from '@stroom/protocol';
import { PROTOCOL_VERSION } from '@stroom/protocol/wire';
import type { Logger } from 'pino';
import { AGENT_VERSION } from './constants.js';
import { Meter } from './energy/meter.js';
import { bootId } from './epoch.js';
import type { StateStore } from './state/agent-state.js';
import { toSample } from './gauges.js';
import { SourceSet } from './source-set.js';
import type { DeviceSource, Inventory, JobSource, Tick } from './source.js';
import type { Spool } from './spool/spool.js';

/** Wall and monotonic clocks, injectable for tests. */
export interface Clock {
  /** ms since the Unix epoch. */
  nowMs(): number;
  /** Monotonic ms. */
  monoMs(): number;
}

/** The real clocks: `Date.now()` for timestamps, `process.hrtime` for intervals. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monoMs: () => Number(process.hrtime.bigint()) / 1e6,
};

/** Options of an agent. */
export interface AgentOptions {
  readonly node: string;
  readonly intervalMs: number;
  /** Ticks per batch (default 1: one batch per sampling interval). */
  readonly ticksPerBatch?: number;
  /** Device sources (GPU, RAPL, host); a disabled or failing one costs only its own data. */
  readonly devices: DeviceSource | readonly DeviceSource[];
  /** Longest a source read may take, ms (default 80 % of the interval). */
  readonly readDeadlineMs?: number;
  readonly jobs: JobSource;
  readonly spool: Spool;
  readonly log: Logger;
  readonly epoch?: string;
  readonly clock?: Clock;
  /** Persisted epoch, seq and meter; with it a restart on the same boot continues the counters. */
  readonly state?: StateStore;
  /** Save the state every this many batches, and at stop (default 10). */
  readonly stateEveryBatches?: number;
  /** Boot id (default: the kernel's); a different one than the persisted state's starts a new epoch. */
  readonly bootId?: string;
  /** Called with every batch appended to the spool (for `--print`). */
  readonly onBatch?: (batch: Batch) => void;
}

/** The agent's tick loop and batch builder. */
export class Agent {
  readonly #o: AgentOptions;
  readonly #clock: Clock;
  readonly #startTs: number;
  #epoch: string;
  readonly #bootId: string;
  #inventory: Inventory | undefined;
  readonly #sources: SourceSet;
  #meter: Meter | undefined;
  #seq = 0;
  #samples: Sample[] = [];
  #ticksSinceBatch = 0;
  #jobs: readonly JobAllocation[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #busy = false;
  #warned = new Set<string>();
  readonly #stateEvery: number;
  /** The previous tick, to notice the wall clock stepping against the monotonic one. */
  #lastTick: Tick | undefined;

  constructor(options: AgentOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#startTs = this.#clock.nowMs();
    this.#bootId = options.bootId ?? bootId();
    this.#stateEvery = options.stateEveryBatches ?? 10;
    this.#epoch = options.epoch ?? `${this.#bootId}:${this.#startTs}`;
    const devices = Array.isArray(options.devices) ? options.devices : [options.devices as DeviceSource];
    this.#sources = new SourceSet(devices, options.log, options.readDeadlineMs ?? Math.max(50, Math.floor(options.intervalMs * 0.8)));
  }

  /** The device sources and their read statistics. */
  get sources(): SourceSet {
    return this.#sources;
  }

  get epoch(): string {
    return this.#epoch;
  }

  /** Find the devices; must be called before ticking. */
  async probe(): Promise<Hello> {
    const inventory = await this.#sources.probe();
    this.#inventory = inventory;
    this.#meter = new Meter({
      intervalMs: this.#o.intervalMs,
      cpus: inventory.cpus,
      gpus: inventory.gpus,
      onCounterReset: (id) => this.#o.log.warn({ device: id }, 'energy counter went backwards (device reset?): new baseline, nothing counted for that interval'),
    });
    const saved = this.#o.state?.load();
    if (saved !== undefined && saved.bootId === this.#bootId && saved.node === this.#o.node) {
      this.#epoch = saved.epoch;
      // Up to stateEveryBatches batches may have gone out after the last save: skip past their
      // seqs rather than reuse them (a gap in seqs only widens the collector's next delta).
      this.#seq = saved.seq + this.#stateEvery - 1;
      this.#meter.restore(saved.meter);
      this.#o.log.info({ epoch: saved.epoch, seq: saved.seq }, 'continuing the counters of the previous run on this boot');
    }
    return this.hello();
  }

  /** The Hello message for this epoch. */
  hello(): Hello {
    const inventory = this.#inventory;
    if (inventory === undefined) throw new Error('agent: probe() first');
    return {
      v: PROTOCOL_VERSION,
      type: 'hello',
      node: this.#o.node,
      epoch: this.#epoch,
      agentVersion: AGENT_VERSION,
      ts: this.#startTs,
      intervalMs: this.#o.intervalMs,
      inventory: { gpus: [...inventory.gpus], cpus: [...inventory.cpus], ...(inventory.host === undefined ? {} : { host: inventory.host }) },
      sources: [...this.#sources.statuses],
    };
  }

  /** Read everything once; returns the batch when this tick completed a report interval. */
  async tick(): Promise<Batch | undefined> {
    const meter = this.#meter;
    if (meter === undefined) throw new Error('agent: probe() first');
    const tick: Tick = { ts: Math.round(this.#clock.nowMs()), monoMs: this.#clock.monoMs() };
    this.#checkClock(tick);
    // Job map first, then devices, with one instant for both: ownership changes at ticks.
    const jobs = await this.#read('jobs', () => this.#o.jobs.read(tick), this.#jobs);
    const readings = await this.#sources.read(tick);
    meter.update(tick, readings, jobs);
    this.#jobs = jobs;
    this.#samples.push(toSample(tick.ts, readings));
    this.#ticksSinceBatch += 1;
    if (this.#ticksSinceBatch < (this.#o.ticksPerBatch ?? 1)) return undefined;
    return this.#emit(tick.ts);
  }

  /** Run the tick loop on the monotonic clock until `stop()`. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    // Ticks fall on whole multiples of the interval on the wall clock (as Telegraf's
    // round_interval does), so every node samples at the same instants: the cluster's power is a
    // sum of readings taken together, and the collector can push its live picture just after each
    // instant instead of up to a whole interval later. Each tick is placed afresh from the wall
    // clock, so a stepped or slewed clock re-aligns by itself; intervals are still measured on
    // the monotonic clock by the meter.
    const interval = this.#o.intervalMs;
    let firedAtMs = this.#clock.nowMs();
    const schedule = (): void => {
      if (!this.#running) return;
      // The next instant at least half an interval after this tick fired: a timer that fires a
      // little early or late never gives two ticks for one instant; after a stall (suspended
      // process, overloaded node) the missed instants are skipped, and the meter counts the gap.
      const now = this.#clock.nowMs();
      let dueMs = Math.ceil((firedAtMs + interval / 2) / interval) * interval;
      if (dueMs < now) dueMs = Math.ceil(now / interval) * interval;
      const delayMs = Math.min(interval, Math.max(0, dueMs - now));
      this.#timer = setTimeout(() => {
        firedAtMs = this.#clock.nowMs();
        void this.#safeTick().finally(schedule);
      }, delayMs);
    };
    void this.#safeTick().finally(schedule);
  }

  /** Stop ticking; pending samples go out as a last batch. */
  async stop(): Promise<Batch | undefined> {
    this.#running = false;
    clearTimeout(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 5));
    const last = this.#samples.length > 0 && this.#meter !== undefined ? this.#emit(this.#samples[this.#samples.length - 1]?.ts ?? Date.now()) : undefined;
    this.#saveState();
    return last;
  }

  async #safeTick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.tick();
    } catch (err) {
      this.#o.log.error({ err }, 'tick failed');
    } finally {
      this.#busy = false;
    }
  }

  #emit(ts: number): Batch {
    const meter = this.#meter;
    if (meter === undefined) throw new Error('agent: probe() first');
    this.#seq += 1;
    const batch: Batch = {
      v: PROTOCOL_VERSION,
      type: 'batch',
      node: this.#o.node,
      epoch: this.#epoch,
      seq: this.#seq,
      ts,
      samples: this.#samples,
      counters: meter.snapshot(),
      jobs: [...this.#jobs],
      gaps: meter.gaps,
      sources: [...this.#sources.stats].map(([name, st]) => ({ name, lastReadMs: Math.round(st.lastDurationMs * 1000) / 1000, errors: st.errors, timeouts: st.timeouts })),
    };
    this.#samples = [];
    this.#ticksSinceBatch = 0;
    // Saved now and then, not every batch: with a hardware counter the difference after a
    // restart covers everything since the save; without one at most an interval is lost.
    if (this.#seq % this.#stateEvery === 0) this.#saveState();
    this.#o.spool.append(batch);
    this.#o.onBatch?.(batch);
    return batch;
  }

  /**
   * Warn when the wall clock stepped (NTP, an operator's `date -s`) by more than a second
   * against the monotonic clock. Nothing else changes: energy is measured on the monotonic
   * clock and batches are ordered by seq, so a step moves only the timestamps.
   */
  #checkClock(tick: Tick): void {
    const last = this.#lastTick;
    this.#lastTick = tick;
    if (last === undefined) return;
    const stepMs = tick.ts - last.ts - (tick.monoMs - last.monoMs);
    if (Math.abs(stepMs) < 1000) return;
    this.#o.log.warn({ stepMs: Math.round(stepMs), ts: tick.ts }, `wall clock stepped ${stepMs < 0 ? 'back' : 'forward'} by ${Math.round(Math.abs(stepMs) / 1000)} s; energy follows the monotonic clock and batches their seq, only timestamps move`);
  }

  #saveState(): void {
    const meter = this.#meter;
    if (meter === undefined || this.#o.state === undefined) return;
    try {
      this.#o.state.save({ v: 1, node: this.#o.node, bootId: this.#bootId, epoch: this.#epoch, seq: this.#seq, meter: meter.state() });
    } catch (err) {
      this.#warnOnce(`cannot save the agent state: ${(err as Error).message}`);
    }
  }

  #warnOnce(message: string): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    this.#o.log.warn(message);
  }

  /** Run one source read; a failure keeps the agent going with the fallback, logged once per message. */
  async #read<T>(what: string, read: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await read();
    } catch (err) {
      const message = `${what} source failed: ${(err as Error).message}`;
      if (!this.#warned.has(message)) {
        this.#warned.add(message);
        this.#o.log.warn(message);
      }
      return fallback;
    }
  }
}
