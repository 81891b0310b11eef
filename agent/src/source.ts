/**
 * What every telemetry source gives the agent. A source reads devices (GPUs, CPU packages)
 * or the node's job map; the meter, spool and link are the same whichever source is used.
 */
import type { CpuInfo, GpuInfo, HostGauge, HostInfo, JobAllocation } from '@stroom/protocol';

/** One tick of the agent's clock: both sources and the meter see the same instant. */
export interface Tick {
  /** Wall-clock time, ms since the Unix epoch (UTC); goes on the wire. */
  readonly ts: number;
  /** Monotonic time in ms (from `process.hrtime`); the only clock intervals are taken from. */
  readonly monoMs: number;
}

/** One GPU at one tick. Absent fields were not reported and are never 0. */
export interface GpuReading {
  readonly uuid: string;
  /** Board power in W (prefer a 1 s average when the driver has one). */
  readonly powerW?: number;
  /**
   * The driver's cumulative energy counter in mJ (NVML total energy consumption), when the GPU
   * has one. It may restart from 0 after a GPU reset; the meter handles that.
   */
  readonly energyCounterMj?: number;
  readonly tempC?: number;
  readonly memTempC?: number;
  /** GPU busy fraction, 0..1. */
  readonly utilRatio?: number;
  readonly memUsedBytes?: number;
  readonly smClockMHz?: number;
}

/** One CPU package or DRAM domain at one tick. */
export interface CpuReading {
  /** Stable id, e.g. `package-0` or `dram-0`. */
  readonly id: string;
  readonly kind: 'cpu' | 'dram';
  readonly powerW?: number;
  /** Cumulative energy counter in mJ (RAPL), when there is one; may wrap or restart. */
  readonly energyCounterMj?: number;
  /** Busy fraction of the package's cores, 0..1. */
  readonly utilRatio?: number;
}

/** Everything a device source read at one tick. A source fills only what it reads. */
export interface DeviceReadings {
  readonly gpus: readonly GpuReading[];
  readonly cpus: readonly CpuReading[];
  readonly host?: HostGauge;
}

/** What a device source found at start. */
export interface Inventory {
  readonly gpus: readonly GpuInfo[];
  readonly cpus: readonly CpuInfo[];
  readonly host?: HostInfo;
}

/** Thrown by `probe()` to disable one source with a message that says why and how to fix it. */
export class SourceUnavailable extends Error {
  override readonly name = 'SourceUnavailable';
}

/** A source of device readings (GPUs, CPU packages). */
export interface DeviceSource {
  /** Stable id used in config, logs and self-metrics, e.g. `simulated`, `nvidia-smi`. */
  readonly name: string;
  /** Cheap start-up check that returns the inventory; throws SourceUnavailable to disable it. */
  probe(): Promise<Inventory>;
  /** Readings for one tick. No data gives empty lists; it never throws for missing data. */
  read(tick: Tick): Promise<DeviceReadings>;
  /** Stops child processes and timers. */
  stop?(): Promise<void>;
  /**
   * Faults the source met and got over by itself since it started (a restarted child, skipped
   * lines, a GPU that answered "lost"), cumulative. `read()` does not throw for these, so the
   * agent adds them to the source's errors, which batches carry and operators see.
   */
  faults?(): number;
}

/** A source of the node's job map (Slurm prolog records, a simulated scheduler). */
export interface JobSource {
  readonly name: string;
  /** The jobs holding devices on this node at `tick`. */
  read(tick: Tick): Promise<readonly JobAllocation[]>;
  stop?(): Promise<void>;
}
