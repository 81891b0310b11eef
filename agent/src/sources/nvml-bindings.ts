/**
 * Koffi declarations of the NVML calls the NVML source makes, and NVML return codes mapped to
 * names and messages. Nothing here decides what a reading is; `nvml.ts` does.
 *
 * Cost: every function is declared once at load. Scalar and hot-path struct outputs go through
 * one reused scratch buffer passed as `void *` (about 80 ns per call through koffi, against
 * about 290 ns for `_Out_ T *` with a JS array, measured on the fake library), and are decoded
 * with a DataView at offsets taken from koffi struct declarations that copy nvml.h.
 *
 * Each getter returns the value, or `undefined` when NVML did not return NVML_SUCCESS; the
 * code of the latest call is then in `rc`. A function the installed driver lacks (older NVML)
 * behaves as if it returned NVML_ERROR_FUNCTION_NOT_FOUND.
 */
import type { LibraryHandle, TypeObject } from 'koffi';

/** NVML_SUCCESS: the call worked and its outputs are valid. */
export const NVML_SUCCESS = 0;
/** NVML_ERROR_UNINITIALIZED: nvmlInit was not called, or nvmlShutdown already was. */
export const NVML_ERROR_UNINITIALIZED = 1;
/** NVML_ERROR_INVALID_ARGUMENT: a bad handle, index or buffer. */
export const NVML_ERROR_INVALID_ARGUMENT = 2;
/** NVML_ERROR_NOT_SUPPORTED: this GPU does not have the feature (e.g. no energy counter before Volta). */
export const NVML_ERROR_NOT_SUPPORTED = 3;
/** NVML_ERROR_NO_PERMISSION: the agent's user may not do this. */
export const NVML_ERROR_NO_PERMISSION = 4;
/** NVML_ERROR_NOT_FOUND: no such object (e.g. no MIG device at that index). */
export const NVML_ERROR_NOT_FOUND = 6;
/** NVML_ERROR_INSUFFICIENT_SIZE: the output buffer was too small; the count says how big. */
export const NVML_ERROR_INSUFFICIENT_SIZE = 7;
/** NVML_ERROR_DRIVER_NOT_LOADED: the NVIDIA kernel driver is not running. */
export const NVML_ERROR_DRIVER_NOT_LOADED = 9;
/** NVML_ERROR_FUNCTION_NOT_FOUND: the installed NVML is too old for this call. */
export const NVML_ERROR_FUNCTION_NOT_FOUND = 13;
/** NVML_ERROR_GPU_IS_LOST: the GPU fell off the bus or is otherwise inaccessible. */
export const NVML_ERROR_GPU_IS_LOST = 15;
/** NVML_ERROR_LIB_RM_VERSION_MISMATCH: libnvidia-ml and the kernel driver differ in version. */
export const NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18;

/** nvmlEnableState_t value of an enabled MIG mode. */
export const NVML_DEVICE_MIG_ENABLE = 1;
/** nvmlTemperatureSensors_t of the GPU die. */
export const NVML_TEMPERATURE_GPU = 0;
/** nvmlClockType_t of the SM clock. */
export const NVML_CLOCK_SM = 1;
/** Field id of the memory (HBM) temperature in nvmlDeviceGetFieldValues, in °C. */
export const NVML_FI_DEV_MEMORY_TEMP = 82;
/** One past the largest GPU instance profile index (NVML_GPU_INSTANCE_PROFILE_COUNT in CUDA 12.x). */
export const NVML_GPU_INSTANCE_PROFILE_COUNT = 0x11;

/** Names and meanings of nvmlReturn_t codes, from nvml.h. */
const RETURN_CODES: Readonly<Record<number, readonly [name: string, meaning: string]>> = {
  0: ['NVML_SUCCESS', 'success'],
  1: ['NVML_ERROR_UNINITIALIZED', 'NVML was not initialised'],
  2: ['NVML_ERROR_INVALID_ARGUMENT', 'invalid argument'],
  3: ['NVML_ERROR_NOT_SUPPORTED', 'not supported by this GPU'],
  4: ['NVML_ERROR_NO_PERMISSION', 'no permission'],
  5: ['NVML_ERROR_ALREADY_INITIALIZED', 'already initialised'],
  6: ['NVML_ERROR_NOT_FOUND', 'not found'],
  7: ['NVML_ERROR_INSUFFICIENT_SIZE', 'output buffer too small'],
  8: ['NVML_ERROR_INSUFFICIENT_POWER', 'power cables not connected properly'],
  9: ['NVML_ERROR_DRIVER_NOT_LOADED', 'the NVIDIA kernel driver is not loaded'],
  10: ['NVML_ERROR_TIMEOUT', 'timed out'],
  11: ['NVML_ERROR_IRQ_ISSUE', 'interrupt problem in the kernel driver'],
  12: ['NVML_ERROR_LIBRARY_NOT_FOUND', 'a shared library NVML needs was not found'],
  13: ['NVML_ERROR_FUNCTION_NOT_FOUND', 'this NVML version does not have the function'],
  14: ['NVML_ERROR_CORRUPTED_INFOROM', 'the GPU infoROM is corrupted'],
  15: ['NVML_ERROR_GPU_IS_LOST', 'the GPU fell off the bus or is otherwise inaccessible'],
  16: ['NVML_ERROR_RESET_REQUIRED', 'the GPU needs a reset'],
  17: ['NVML_ERROR_OPERATING_SYSTEM', 'the operating system or a cgroup blocked access to the GPU'],
  18: ['NVML_ERROR_LIB_RM_VERSION_MISMATCH', 'libnvidia-ml and the kernel driver have different versions'],
  19: ['NVML_ERROR_IN_USE', 'the GPU is in use'],
  20: ['NVML_ERROR_MEMORY', 'out of memory'],
  21: ['NVML_ERROR_NO_DATA', 'no data'],
  22: ['NVML_ERROR_VGPU_ECC_NOT_SUPPORTED', 'ECC is not supported with vGPU'],
  23: ['NVML_ERROR_INSUFFICIENT_RESOURCES', 'insufficient resources'],
  24: ['NVML_ERROR_FREQ_NOT_SUPPORTED', 'frequency not supported'],
  25: ['NVML_ERROR_ARGUMENT_VERSION_MISMATCH', 'struct version mismatch'],
  26: ['NVML_ERROR_DEPRECATED', 'deprecated'],
  27: ['NVML_ERROR_NOT_READY', 'not ready'],
  28: ['NVML_ERROR_GPU_NOT_FOUND', 'GPU not found'],
  29: ['NVML_ERROR_INVALID_STATE', 'invalid state'],
  999: ['NVML_ERROR_UNKNOWN', 'unknown driver error'],
};

/** Symbolic name of an NVML return code, e.g. `NVML_ERROR_GPU_IS_LOST`. */
export function nvmlReturnName(rc: number): string {
  return RETURN_CODES[rc]?.[0] ?? `NVML_ERROR_${rc}`;
}

/** An NVML return code as `NAME (code): meaning`, for logs and disable reasons. */
export function describeNvmlReturn(rc: number): string {
  const entry = RETURN_CODES[rc];
  return entry === undefined ? `NVML return code ${rc}` : `${entry[0]} (${rc}): ${entry[1]}`;
}

/** What an operator should do when nvmlInit fails with `rc`. */
export function nvmlInitFix(rc: number): string {
  switch (rc) {
    case NVML_ERROR_DRIVER_NOT_LOADED:
      return 'load the NVIDIA kernel driver (`nvidia-smi` must work on this node)';
    case NVML_ERROR_NO_PERMISSION:
      return "give the agent's user access to /dev/nvidia* (usually the video group)";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
      return 'the driver was upgraded without reloading it: reboot the node or reload the nvidia modules';
    default:
      return 'check that `nvidia-smi` works as the agent user';
  }
}

/** An opaque nvmlDevice_t handle of a GPU or of a MIG device. */
export type NvmlDevice = unknown;

/** Compute processes on one GPU from nvmlDeviceGetComputeRunningProcesses_v3. */
export interface NvmlProcesses {
  /** Number of compute processes. */
  readonly count: number;
  /** Their process ids (host PID namespace). */
  readonly pids: readonly number[];
}

/** Attributes of a MIG device from nvmlDeviceGetAttributes_v2. */
export interface NvmlMigAttributes {
  /** Compute slices of the GPU instance (the `3` of `3g.40gb`). */
  readonly gpuInstanceSlices: number;
  /** Memory of the MIG device in MiB. */
  readonly memoryMib: number;
}

type Koffi = typeof import('koffi').default;
type Fn = ReturnType<LibraryHandle['func']>;

/** nvmlDeviceGetUUID / nvmlDeviceGetName buffers (NVML_DEVICE_UUID_V2_BUFFER_SIZE, NVML_DEVICE_NAME_V2_BUFFER_SIZE). */
const STRING_BUFFER_BYTES = 96;
/** Byte value the process buffer is filled with, to see how many bytes NVML wrote per entry. */
const FILL_BYTE = 0xa5;

/**
 * Types copied from nvml.h (CUDA 12.x); struct offsets are read from these, never hand-counted.
 * Koffi type names are process-wide, so they are declared once and shared by every load.
 */
function declareTypes(koffi: Koffi) {
  const uint = 'unsigned int';
  const ull = 'unsigned long long';
  return {
    pciInfo: koffi.struct('nvmlPciInfo_t', {
      busIdLegacy: koffi.array('char', 16),
      domain: uint,
      bus: uint,
      device: uint,
      pciDeviceId: uint,
      pciSubSystemId: uint,
      busId: koffi.array('char', 32),
    }),
    memory: koffi.struct('nvmlMemory_t', { total: ull, free: ull, used: ull }),
    utilization: koffi.struct('nvmlUtilization_t', { gpu: uint, memory: uint }),
    attributes: koffi.struct('nvmlDeviceAttributes_t', {
      multiprocessorCount: uint,
      sharedCopyEngineCount: uint,
      sharedDecoderCount: uint,
      sharedEncoderCount: uint,
      sharedJpegCount: uint,
      sharedOfaCount: uint,
      gpuInstanceSliceCount: uint,
      computeInstanceSliceCount: uint,
      memorySizeMB: ull,
    }),
    gpuInstanceProfileInfo: koffi.struct('nvmlGpuInstanceProfileInfo_t', {
      id: uint,
      isP2pSupported: uint,
      sliceCount: uint,
      instanceCount: uint,
      multiprocessorCount: uint,
      copyEngineCount: uint,
      decoderCount: uint,
      encoderCount: uint,
      jpegCount: uint,
      ofaCount: uint,
      memorySizeMB: ull,
    }),
    fieldValue: koffi.struct('nvmlFieldValue_t', {
      fieldId: uint,
      scopeId: uint,
      timestamp: 'long long',
      latencyUsec: 'long long',
      valueType: 'int',
      nvmlReturn: 'int',
      value: ull,
    }),
    // nvmlProcessInfo_v2_t: what _v3 writes on drivers before R535 and after R550. The R535-era
    // drivers wrote a 32-byte entry (plus usedGpuCcProtectedMemory) under the same name.
    processInfo: koffi.struct('nvmlProcessInfo_t', { pid: uint, usedGpuMemory: ull, gpuInstanceId: uint, computeInstanceId: uint }),
    device: koffi.pointer('nvmlDevice_t', koffi.opaque('nvmlDevice_st')),
  };
}

type Types = ReturnType<typeof declareTypes>;
let declared: Types | undefined;

/** Unsigned 64-bit little-endian integer at `offset` as a number (exact below 2^53). */
function u64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 2 ** 32;
}

/** The NUL-terminated C string at `offset` of `bytes`, at most `max` bytes long. */
function cString(bytes: Uint8Array, offset = 0, max = bytes.length - offset): string {
  const end = bytes.indexOf(0, offset);
  const stop = end === -1 || end > offset + max ? offset + max : end;
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, stop - offset).toString('utf8');
}

/** One loaded libnvidia-ml with its functions declared and its output buffers allocated. */
export class NvmlLibrary {
  /** Return code of the latest call made through this object. */
  rc = NVML_SUCCESS;
  readonly #koffi: Koffi;
  readonly #structs: Types;
  readonly #fn: Record<string, Fn | undefined> = {};
  /** Output of scalar, string and struct calls; big enough for UUID and name strings (96 bytes). */
  readonly #scratch = new Uint8Array(128);
  readonly #view = new DataView(this.#scratch.buffer);
  /** Second scalar output (pending MIG mode) and the in/out process count. */
  readonly #second = new Uint32Array(1);
  readonly #field: Uint8Array;
  readonly #fieldView: DataView;
  #procs = new Uint8Array(0);
  readonly #off: {
    busId: number;
    memTotal: number;
    memUsed: number;
    utilGpu: number;
    fieldReturn: number;
    fieldType: number;
    fieldValue: number;
    procEntry: number;
  };

  private constructor(koffi: Koffi, lib: LibraryHandle) {
    this.#koffi = koffi;
    declared ??= declareTypes(koffi);
    const s = declared;
    this.#structs = s;
    this.#field = new Uint8Array(koffi.sizeof(s.fieldValue));
    this.#fieldView = new DataView(this.#field.buffer);
    this.#off = {
      busId: koffi.offsetof(s.pciInfo, 'busId'),
      memTotal: koffi.offsetof(s.memory, 'total'),
      memUsed: koffi.offsetof(s.memory, 'used'),
      utilGpu: koffi.offsetof(s.utilization, 'gpu'),
      fieldReturn: koffi.offsetof(s.fieldValue, 'nvmlReturn'),
      fieldType: koffi.offsetof(s.fieldValue, 'valueType'),
      fieldValue: koffi.offsetof(s.fieldValue, 'value'),
      procEntry: koffi.sizeof(s.processInfo),
    };
    const device = s.device;
    const out = (t: string | TypeObject) => koffi.out(koffi.pointer(t));
    const u = 'unsigned int';
    // Hot-path outputs are `void *` so a reused Uint8Array can be passed without marshalling.
    const decls: [string, string, (string | TypeObject | ReturnType<Koffi['out']>)[]][] = [
      ['nvmlInit_v2', 'int', []],
      ['nvmlShutdown', 'int', []],
      ['nvmlDeviceGetCount_v2', 'int', ['void *']],
      ['nvmlDeviceGetHandleByIndex_v2', 'int', [u, out(device)]],
      ['nvmlDeviceGetUUID', 'int', [device, 'void *', u]],
      ['nvmlDeviceGetName', 'int', [device, 'void *', u]],
      ['nvmlDeviceGetMinorNumber', 'int', [device, 'void *']],
      ['nvmlDeviceGetPciInfo_v3', 'int', [device, 'void *']],
      ['nvmlDeviceGetMemoryInfo', 'int', [device, 'void *']],
      ['nvmlDeviceGetEnforcedPowerLimit', 'int', [device, 'void *']],
      ['nvmlDeviceGetMigMode', 'int', [device, 'void *', 'void *']],
      ['nvmlDeviceGetMaxMigDeviceCount', 'int', [device, 'void *']],
      ['nvmlDeviceGetMigDeviceHandleByIndex', 'int', [device, u, out(device)]],
      ['nvmlDeviceGetAttributes_v2', 'int', [device, 'void *']],
      ['nvmlDeviceGetGpuInstanceProfileInfo', 'int', [device, u, 'void *']],
      ['nvmlDeviceGetTotalEnergyConsumption', 'int', [device, 'void *']],
      ['nvmlDeviceGetPowerUsage', 'int', [device, 'void *']],
      ['nvmlDeviceGetUtilizationRates', 'int', [device, 'void *']],
      ['nvmlDeviceGetTemperature', 'int', [device, 'int', 'void *']],
      ['nvmlDeviceGetClockInfo', 'int', [device, 'int', 'void *']],
      ['nvmlDeviceGetFieldValues', 'int', [device, 'int', 'void *']],
      ['nvmlDeviceGetComputeRunningProcesses_v3', 'int', [device, 'void *', 'void *']],
    ];
    for (const [name, result, args] of decls) {
      try {
        this.#fn[name] = lib.func(name, result, args);
      } catch {
        // An older driver's NVML lacks newer symbols; the call then reports FUNCTION_NOT_FOUND.
        this.#fn[name] = undefined;
      }
    }
  }

  /**
   * Loads libnvidia-ml through koffi. Throws when koffi or the library cannot be loaded (the
   * message is dlopen's), or when the library lacks nvmlInit_v2 (not an NVML).
   */
  static async load(libraryPath: string): Promise<NvmlLibrary> {
    // Imported here so a platform without a koffi build disables this source, not the agent.
    const koffi = (await import('koffi')).default;
    const lib = koffi.load(libraryPath);
    const nvml = new NvmlLibrary(koffi, lib);
    if (nvml.#fn['nvmlInit_v2'] === undefined) {
      lib.unload();
      throw new Error(`${libraryPath} has no nvmlInit_v2: not an NVML library`);
    }
    return nvml;
  }

  #call(name: string, ...args: unknown[]): number {
    const f = this.#fn[name];
    this.rc = f === undefined ? NVML_ERROR_FUNCTION_NOT_FOUND : (f(...args) as number);
    return this.rc;
  }

  #u32(name: string, ...args: unknown[]): number | undefined {
    return this.#call(name, ...args, this.#scratch) === NVML_SUCCESS ? this.#view.getUint32(0, true) : undefined;
  }

  #string(name: string, dev: NvmlDevice): string | undefined {
    this.#scratch[0] = 0;
    if (this.#call(name, dev, this.#scratch, STRING_BUFFER_BYTES) !== NVML_SUCCESS) return undefined;
    return cString(this.#scratch, 0, STRING_BUFFER_BYTES);
  }

  #handle(name: string, ...args: unknown[]): NvmlDevice | undefined {
    const out: unknown[] = [null];
    return this.#call(name, ...args, out) === NVML_SUCCESS && out[0] !== null ? out[0] : undefined;
  }

  /** nvmlInit_v2; returns the return code. */
  init(): number {
    return this.#call('nvmlInit_v2');
  }

  /** nvmlShutdown; returns the return code. */
  shutdown(): number {
    return this.#call('nvmlShutdown');
  }

  /** Number of physical GPUs NVML sees (nvmlDeviceGetCount_v2). */
  deviceCount(): number | undefined {
    return this.#u32('nvmlDeviceGetCount_v2');
  }

  /** Handle of the GPU at NVML index `index` (nvmlDeviceGetHandleByIndex_v2). */
  handleByIndex(index: number): NvmlDevice | undefined {
    return this.#handle('nvmlDeviceGetHandleByIndex_v2', index);
  }

  /** `GPU-…` or `MIG-…` UUID of a device. */
  uuid(dev: NvmlDevice): string | undefined {
    return this.#string('nvmlDeviceGetUUID', dev);
  }

  /** Product name, e.g. `NVIDIA H100 80GB HBM3`; a MIG device's ends in its profile (`… MIG 3g.40gb`). */
  name(dev: NvmlDevice): string | undefined {
    return this.#string('nvmlDeviceGetName', dev);
  }

  /** Minor number N of /dev/nvidiaN. */
  minorNumber(dev: NvmlDevice): number | undefined {
    return this.#u32('nvmlDeviceGetMinorNumber', dev);
  }

  /** PCI bus id `domain:bus:device.function`, e.g. `00000000:18:00.0` (nvmlPciInfo_t.busId). */
  pciBusId(dev: NvmlDevice): string | undefined {
    this.#scratch.fill(0);
    if (this.#call('nvmlDeviceGetPciInfo_v3', dev, this.#scratch) !== NVML_SUCCESS) return undefined;
    return cString(this.#scratch, this.#off.busId, 32);
  }

  /** Framebuffer memory in bytes (nvmlDeviceGetMemoryInfo). */
  memory(dev: NvmlDevice): { totalBytes: number; usedBytes: number } | undefined {
    if (this.#call('nvmlDeviceGetMemoryInfo', dev, this.#scratch) !== NVML_SUCCESS) return undefined;
    return { totalBytes: u64(this.#view, this.#off.memTotal), usedBytes: u64(this.#view, this.#off.memUsed) };
  }

  /** Power limit the driver enforces now, in mW. */
  enforcedPowerLimitMw(dev: NvmlDevice): number | undefined {
    return this.#u32('nvmlDeviceGetEnforcedPowerLimit', dev);
  }

  /** Current MIG mode (1 = enabled); NOT_SUPPORTED on GPUs without MIG. */
  migMode(dev: NvmlDevice): number | undefined {
    return this.#call('nvmlDeviceGetMigMode', dev, this.#scratch, this.#second) === NVML_SUCCESS ? this.#view.getUint32(0, true) : undefined;
  }

  /** Most MIG devices the GPU can hold (0 when MIG is off). */
  maxMigDeviceCount(dev: NvmlDevice): number | undefined {
    return this.#u32('nvmlDeviceGetMaxMigDeviceCount', dev);
  }

  /** Handle of the MIG device at `index` of a GPU; NOT_FOUND where that index is empty. */
  migDeviceHandleByIndex(dev: NvmlDevice, index: number): NvmlDevice | undefined {
    return this.#handle('nvmlDeviceGetMigDeviceHandleByIndex', dev, index);
  }

  /** Slices and memory of a MIG device (nvmlDeviceGetAttributes_v2; MIG handles only). */
  migAttributes(dev: NvmlDevice): NvmlMigAttributes | undefined {
    if (this.#call('nvmlDeviceGetAttributes_v2', dev, this.#scratch) !== NVML_SUCCESS) return undefined;
    const a = this.#koffi.decode(this.#scratch, this.#structs.attributes) as { gpuInstanceSliceCount: number; memorySizeMB: number | bigint };
    return { gpuInstanceSlices: a.gpuInstanceSliceCount, memoryMib: Number(a.memorySizeMB) };
  }

  /** Compute slices of GPU instance profile `profile` (an NVML_GPU_INSTANCE_PROFILE_* index) on a MIG-enabled GPU. */
  gpuInstanceProfileSlices(dev: NvmlDevice, profile: number): number | undefined {
    if (this.#call('nvmlDeviceGetGpuInstanceProfileInfo', dev, profile, this.#scratch) !== NVML_SUCCESS) return undefined;
    return (this.#koffi.decode(this.#scratch, this.#structs.gpuInstanceProfileInfo) as { sliceCount: number }).sliceCount;
  }

  /** Energy used by the GPU since the driver was loaded, in mJ (nvmlDeviceGetTotalEnergyConsumption). */
  totalEnergyMj(dev: NvmlDevice): number | undefined {
    return this.#call('nvmlDeviceGetTotalEnergyConsumption', dev, this.#scratch) === NVML_SUCCESS ? u64(this.#view, 0) : undefined;
  }

  /** Board power draw in mW (nvmlDeviceGetPowerUsage). */
  powerUsageMw(dev: NvmlDevice): number | undefined {
    return this.#u32('nvmlDeviceGetPowerUsage', dev);
  }

  /** Percent of the last sample period in which a kernel ran (nvmlUtilization_t.gpu), 0..100. */
  utilizationGpuPct(dev: NvmlDevice): number | undefined {
    return this.#call('nvmlDeviceGetUtilizationRates', dev, this.#scratch) === NVML_SUCCESS ? this.#view.getUint32(this.#off.utilGpu, true) : undefined;
  }

  /** GPU die temperature in °C. */
  temperatureC(dev: NvmlDevice): number | undefined {
    return this.#u32('nvmlDeviceGetTemperature', dev, NVML_TEMPERATURE_GPU);
  }

  /** Memory (HBM) temperature in °C, through nvmlDeviceGetFieldValues(NVML_FI_DEV_MEMORY_TEMP). */
  memoryTemperatureC(dev: NvmlDevice): number | undefined {
    this.#field.fill(0);
    this.#fieldView.setUint32(0, NVML_FI_DEV_MEMORY_TEMP, true);
    if (this.#call('nvmlDeviceGetFieldValues', dev, 1, this.#field) !== NVML_SUCCESS) return undefined;
    const rc = this.#fieldView.getInt32(this.#off.fieldReturn, true);
    if (rc !== NVML_SUCCESS) {
      this.rc = rc;
      return undefined;
    }
    return readValue(this.#fieldView, this.#off.fieldValue, this.#fieldView.getInt32(this.#off.fieldType, true));
  }

  /** SM clock in MHz. */
  smClockMhz(dev: NvmlDevice): number | undefined {
    return this.#u32('nvmlDeviceGetClockInfo', dev, NVML_CLOCK_SM);
  }

  /**
   * Compute processes on a GPU (nvmlDeviceGetComputeRunningProcesses_v3). The count is exact;
   * the entry size changed across drivers without a version bump (24 or 32 bytes), so the
   * buffer is pre-filled and the size NVML actually wrote decides how pids are read.
   */
  computeProcesses(dev: NvmlDevice): NvmlProcesses | undefined {
    const small = this.#off.procEntry;
    const large = small + 8;
    for (let attempt = 0; attempt < 3; attempt++) {
      const capacity = Math.floor(this.#procs.length / large);
      this.#procs.fill(FILL_BYTE);
      this.#second[0] = capacity;
      const rc = this.#call('nvmlDeviceGetComputeRunningProcesses_v3', dev, this.#second, capacity === 0 ? null : this.#procs);
      const count = this.#second[0] ?? 0;
      if (rc === NVML_ERROR_INSUFFICIENT_SIZE) {
        // Processes may start between calls: leave room for a few more.
        this.#procs = new Uint8Array((count + 8) * large);
        continue;
      }
      if (rc !== NVML_SUCCESS) return undefined;
      const wide = count > 0 && this.#procs.subarray(count * small, count * large).some((b) => b !== FILL_BYTE);
      const stride = wide ? large : small;
      const view = new DataView(this.#procs.buffer, this.#procs.byteOffset);
      const pids: number[] = [];
      for (let i = 0; i < count; i++) pids.push(view.getUint32(i * stride, true));
      return { count, pids };
    }
    return undefined;
  }
}

/** An nvmlValue_t union member per nvmlValueType_t (DOUBLE 0, UINT 1, ULONG 2, ULL 3, SLL 4, SINT 5, USHORT 6). */
function readValue(view: DataView, offset: number, type: number): number | undefined {
  switch (type) {
    case 0:
      return view.getFloat64(offset, true);
    case 1:
      return view.getUint32(offset, true);
    case 2:
    case 3:
      return u64(view, offset);
    case 4:
      return Number(view.getBigInt64(offset, true));
    case 5:
      return view.getInt32(offset, true);
    case 6:
      return view.getUint16(offset, true);
    default:
      return undefined;
  }
}
