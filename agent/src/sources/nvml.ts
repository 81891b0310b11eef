/**
 * NVML device source: reads every NVIDIA GPU of the node in-process through libnvidia-ml (via
 * koffi), with no child process: seven library calls per GPU per tick, about 1 µs of Node-side
 * cost per GPU (measured against the fake library; the driver's own time comes on top).
 *
 * Is: the driver's cumulative energy counter (`nvmlDeviceGetTotalEnergyConsumption`, Volta and
 * newer) passed through exactly, plus power, utilisation, temperatures, SM clock and memory as
 * gauges; the inventory with minor numbers, PCI bus ids, power limits and MIG devices. A field
 * NVML does not report is absent, never 0; a field that answers NOT_SUPPORTED at probe is not
 * polled again. A GPU that answers NVML_ERROR_GPU_IS_LOST is left out of the tick (one warning
 * per loss) and read again on the next tick with the same handle; when it comes back, its
 * counter continues, or restarts after a reset, which the meter treats as a new baseline.
 *
 * Is not: per-MIG-device power (NVML reports power and energy per physical GPU only; the meter
 * splits it by slices), and not a process accountant (`processes()` is exposed for later use).
 *
 * MIG slices come from `nvmlDeviceGetAttributes_v2` on the MIG handle (gpuInstanceSliceCount),
 * else from the profile in the MIG device's name (`… MIG 3g.40gb` → 3). The GPU-instance route
 * (`nvmlDeviceGetGpuInstanceId` + `nvmlDeviceGetGpuInstanceById` + `nvmlGpuInstanceGetInfo`)
 * is documented to answer NO_PERMISSION to users without MIG management rights, and the agent
 * does not run as root. The GPU's total
 * slices are the largest GPU instance profile it supports (7 on A100/H100/H200, 4 on A30).
 */
import type { Logger } from 'pino';
import type { GpuInfo, MigDeviceInfo } from '@stroom/protocol';
import { percentToRatio } from '@stroom/protocol/wire';
import { SourceUnavailable, type DeviceReadings, type DeviceSource, type GpuReading, type Inventory, type Tick } from '../source.js';
import {
  NVML_DEVICE_MIG_ENABLE,
  NVML_ERROR_GPU_IS_LOST,
  NVML_ERROR_NOT_SUPPORTED,
  NVML_GPU_INSTANCE_PROFILE_COUNT,
  NVML_SUCCESS,
  NvmlLibrary,
  describeNvmlReturn,
  nvmlInitFix,
  type NvmlDevice,
  type NvmlProcesses,
} from './nvml-bindings.js';

/** Default library name, resolved by the dynamic loader like the driver's own tools do. */
export const NVML_DEFAULT_LIBRARY = 'libnvidia-ml.so.1';

/** Options of the NVML source. */
export interface NvmlSourceOptions {
  /** Path or soname of libnvidia-ml (default `libnvidia-ml.so.1`); `--nvml-lib` sets it. */
  readonly libraryPath?: string;
  /** Logger for the one-per-event warnings (lost GPU, GPU skipped at probe). */
  readonly log: Logger;
}

/** Counters of the NVML source since its probe, for self-metrics and tests. */
export interface NvmlStats {
  /** Calls of `read()`. */
  reads: number;
  /** GPU readings left out of a tick because the GPU answered NVML_ERROR_GPU_IS_LOST. */
  lostReadings: number;
  /** Times a GPU went from answering to lost (each logged once). */
  lostEvents: number;
  /** Field reads that failed with anything but NOT_SUPPORTED or GPU_IS_LOST; the field was left absent. */
  fieldErrors: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Which per-tick fields a GPU is polled for (false: NOT_SUPPORTED at probe). */
interface Polled {
  energy: boolean;
  power: boolean;
  util: boolean;
  temp: boolean;
  memTemp: boolean;
  smClock: boolean;
  memory: boolean;
}

interface Gpu {
  readonly uuid: string;
  readonly index: number;
  readonly handle: NvmlDevice;
  readonly polled: Polled;
  lost: boolean;
}

/** Milliwatts (NVML power) to watts. */
function mwToW(mw: number): number {
  // Not yet in protocol/src/units.ts; kept to this one function so moving it is an import change.
  return mw / 1000;
}

/** The profile at the end of a MIG device's name, e.g. `3g.40gb` from `NVIDIA H100 80GB HBM3 MIG 3g.40gb`. */
function migProfile(name: string | undefined): string | undefined {
  return name === undefined ? undefined : /\bMIG\s+(\d+g\.\S+)\s*$/.exec(name)?.[1];
}

/** GPUs read through NVML. */
export class NvmlSource implements DeviceSource {
  readonly name = 'nvml';
  /** Counters since the latest probe. */
  readonly stats: NvmlStats = { reads: 0, lostReadings: 0, lostEvents: 0, fieldErrors: 0 };
  readonly #libraryPath: string;
  readonly #log: Logger;
  #lib: NvmlLibrary | undefined;
  #gpus: Gpu[] = [];

  constructor(options: NvmlSourceOptions) {
    this.#libraryPath = options.libraryPath ?? NVML_DEFAULT_LIBRARY;
    this.#log = options.log;
  }

  /** Loads and initialises NVML and lists the GPUs; throws SourceUnavailable saying how to fix it. */
  async probe(): Promise<Inventory> {
    await this.stop();
    let lib: NvmlLibrary;
    try {
      lib = await NvmlLibrary.load(this.#libraryPath);
    } catch (err) {
      throw new SourceUnavailable(
        `cannot load ${this.#libraryPath} (${(err as Error).message.split('\n')[0]}): install the NVIDIA driver, or set --nvml-lib to the path of libnvidia-ml.so.1`,
      );
    }
    const rc = lib.init();
    if (rc !== NVML_SUCCESS) throw new SourceUnavailable(`nvmlInit_v2 failed with ${describeNvmlReturn(rc)}: ${nvmlInitFix(rc)}`);
    this.#lib = lib;
    Object.assign(this.stats, { reads: 0, lostReadings: 0, lostEvents: 0, fieldErrors: 0 });
    const count = lib.deviceCount();
    if (count === undefined || count === 0) {
      const countRc = lib.rc;
      await this.stop();
      const why = count === undefined ? `nvmlDeviceGetCount_v2 failed with ${describeNvmlReturn(countRc)}` : 'NVML found no GPU on this node';
      throw new SourceUnavailable(`${why}: ${nvmlInitFix(countRc)}`);
    }
    const infos: GpuInfo[] = [];
    for (let index = 0; index < count; index++) {
      const info = this.#probeGpu(lib, index);
      if (info !== undefined) infos.push(info);
    }
    if (infos.length === 0) {
      await this.stop();
      throw new SourceUnavailable(`NVML lists ${count} GPU(s) but none could be read: check that \`nvidia-smi\` works as the agent user`);
    }
    return { gpus: infos, cpus: [] };
  }

  /** Readings of every GPU that answered this tick; lost GPUs are left out. */
  async read(_tick: Tick): Promise<DeviceReadings> {
    const lib = this.#lib;
    if (lib === undefined) return { gpus: [], cpus: [] };
    this.stats.reads += 1;
    const gpus: GpuReading[] = [];
    for (const gpu of this.#gpus) {
      const reading = this.#readGpu(lib, gpu);
      if (reading !== undefined) {
        gpus.push(reading);
        if (gpu.lost) {
          gpu.lost = false;
          this.#log.info({ gpu: gpu.uuid }, `GPU ${gpu.index} (${gpu.uuid}) answers again`);
        }
        continue;
      }
      this.stats.lostReadings += 1;
      this.#markLost(gpu);
    }
    return { gpus, cpus: [] };
  }

  /** Readings lost to a lost GPU, one per GPU per tick: operators see the source failing while a GPU is off the bus. */
  faults(): number {
    return this.stats.lostReadings;
  }

  /** Compute processes on the GPU with `uuid` now, or undefined when NVML cannot say. */
  processes(uuid: string): NvmlProcesses | undefined {
    const gpu = this.#gpus.find((g) => g.uuid === uuid);
    if (gpu === undefined || this.#lib === undefined) return undefined;
    return this.#lib.computeProcesses(gpu.handle);
  }

  /** Shuts NVML down (nvmlShutdown); a later probe starts over. */
  async stop(): Promise<void> {
    const lib = this.#lib;
    this.#lib = undefined;
    this.#gpus = [];
    if (lib !== undefined) lib.shutdown();
  }

  #probeGpu(lib: NvmlLibrary, index: number): GpuInfo | undefined {
    const handle = lib.handleByIndex(index);
    const uuid = handle === undefined ? undefined : lib.uuid(handle);
    if (handle === undefined || uuid === undefined) {
      this.#log.warn({ index }, `GPU ${index} skipped: NVML gave no ${handle === undefined ? 'handle' : 'UUID'} (${describeNvmlReturn(lib.rc)})`);
      return undefined;
    }
    const info: Mutable<GpuInfo> = { uuid, index, name: lib.name(handle) ?? 'NVIDIA GPU' };
    const gpu: Gpu = { uuid, index, handle, lost: false, polled: { energy: true, power: true, util: true, temp: true, memTemp: true, smClock: true, memory: true } };
    let lost = false;
    // One read of every per-tick field: NOT_SUPPORTED is a property of the GPU, so such a
    // field is never polled again; any other outcome keeps it polled.
    const check = <T>(key: keyof Polled, value: T | undefined): T | undefined => {
      if (value === undefined && lib.rc === NVML_ERROR_NOT_SUPPORTED) gpu.polled[key] = false;
      if (value === undefined && lib.rc === NVML_ERROR_GPU_IS_LOST) lost = true;
      return value;
    };
    const minor = lib.minorNumber(handle);
    if (minor !== undefined) info.minor = minor;
    const pciBusId = lib.pciBusId(handle);
    if (pciBusId !== undefined) info.pciBusId = pciBusId;
    const memory = check('memory', lib.memory(handle));
    if (memory !== undefined) info.memTotalBytes = memory.totalBytes;
    const limitMw = lib.enforcedPowerLimitMw(handle);
    if (limitMw !== undefined && limitMw > 0) info.powerLimitW = mwToW(limitMw);
    const energy = check('energy', lib.totalEnergyMj(handle));
    if (energy !== undefined) info.hasEnergyCounter = true;
    else if (!gpu.polled.energy) info.hasEnergyCounter = false;
    check('power', lib.powerUsageMw(handle));
    check('util', lib.utilizationGpuPct(handle));
    check('temp', lib.temperatureC(handle));
    check('memTemp', lib.memoryTemperatureC(handle));
    check('smClock', lib.smClockMhz(handle));
    this.#probeMig(lib, handle, info);
    this.#gpus.push(gpu);
    if (lost) this.#markLost(gpu);
    return info;
  }

  /** MIG devices and total slices of a GPU in MIG mode; nothing when MIG is off or absent. */
  #probeMig(lib: NvmlLibrary, handle: NvmlDevice, info: Mutable<GpuInfo>): void {
    if (lib.migMode(handle) !== NVML_DEVICE_MIG_ENABLE) return;
    const migs: MigDeviceInfo[] = [];
    const max = lib.maxMigDeviceCount(handle) ?? 0;
    for (let i = 0; i < max; i++) {
      // Indices without a MIG device answer NOT_FOUND; MIG devices need not be contiguous.
      const mig = lib.migDeviceHandleByIndex(handle, i);
      if (mig === undefined) continue;
      const uuid = lib.uuid(mig);
      if (uuid === undefined) continue;
      const profile = migProfile(lib.name(mig));
      const slices = lib.migAttributes(mig)?.gpuInstanceSlices || Number(profile?.split('g.')[0] ?? 0);
      if (!(slices > 0)) {
        this.#log.warn({ gpu: info.uuid, mig: uuid }, `MIG device ${uuid} on GPU ${info.index} skipped: NVML gave neither its slices nor its profile`);
        continue;
      }
      const entry: Mutable<MigDeviceInfo> = { uuid, index: i, slices };
      if (profile !== undefined) entry.profile = profile;
      migs.push(entry);
    }
    info.migDevices = migs;
    let total = 0;
    for (let p = 0; p < NVML_GPU_INSTANCE_PROFILE_COUNT; p++) total = Math.max(total, lib.gpuInstanceProfileSlices(handle, p) ?? 0);
    if (total > 0) info.migSlices = total;
  }

  /** One GPU's reading, or undefined when the GPU is lost. */
  #readGpu(lib: NvmlLibrary, gpu: Gpu): GpuReading | undefined {
    const h = gpu.handle;
    const p = gpu.polled;
    const r: Mutable<GpuReading> = { uuid: gpu.uuid };
    // The counter goes first, and the first call that answers GPU_IS_LOST ends the GPU's tick,
    // so a lost GPU costs one call per tick.
    if (p.energy) {
      const v = lib.totalEnergyMj(h);
      if (v !== undefined) r.energyCounterMj = v;
      else if (this.#isLost(lib.rc)) return undefined;
    }
    if (p.power) {
      const v = lib.powerUsageMw(h);
      if (v !== undefined) r.powerW = mwToW(v);
      else if (this.#isLost(lib.rc)) return undefined;
    }
    if (p.temp) {
      const v = lib.temperatureC(h);
      if (v !== undefined) r.tempC = v;
      else if (this.#isLost(lib.rc)) return undefined;
    }
    if (p.memTemp) {
      const v = lib.memoryTemperatureC(h);
      if (v !== undefined) r.memTempC = v;
      else if (this.#isLost(lib.rc)) return undefined;
    }
    if (p.util) {
      // Only nvmlUtilization_t.gpu: `.memory` is memory-bus busy time, not memory use.
      const v = lib.utilizationGpuPct(h);
      if (v !== undefined) r.utilRatio = percentToRatio(v);
      else if (this.#isLost(lib.rc)) return undefined;
    }
    if (p.memory) {
      const v = lib.memory(h);
      if (v !== undefined) r.memUsedBytes = v.usedBytes;
      else if (this.#isLost(lib.rc)) return undefined;
    }
    if (p.smClock) {
      const v = lib.smClockMhz(h);
      if (v !== undefined) r.smClockMHz = v;
      else if (this.#isLost(lib.rc)) return undefined;
    }
    return r;
  }

  /** True when `rc` says the GPU is lost; other failures count as field errors. */
  #isLost(rc: number): boolean {
    if (rc === NVML_ERROR_GPU_IS_LOST) return true;
    if (rc !== NVML_ERROR_NOT_SUPPORTED) this.stats.fieldErrors += 1;
    return false;
  }

  #markLost(gpu: Gpu): void {
    if (gpu.lost) return;
    gpu.lost = true;
    this.stats.lostEvents += 1;
    this.#log.warn({ gpu: gpu.uuid }, `GPU ${gpu.index} (${gpu.uuid}) is lost (${describeNvmlReturn(NVML_ERROR_GPU_IS_LOST)}); its readings are left out until it answers again`);
  }
}
