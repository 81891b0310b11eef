/**
 * Host gauges and inventory: CPU utilisation, memory and load from /proc each tick, and what
 * the machine is (hostname, CPU model, RAM, OS, kernel) from systeminformation once at probe.
 *
 * Is: cheap per tick (three small /proc reads, no child process). Is not: a user of
 * systeminformation in the tick loop, because several of its calls spawn shells (lsb_release,
 * dmidecode, sensors), which would cost more than the whole tick; CPU temperature is read once
 * at probe for the same reason.
 */
import os from 'node:os';
import { ProcFile } from './proc-file.js';
import { join } from 'node:path';
import type { HostGauge, HostInfo } from '@stroom/protocol';
import type { Logger } from 'pino';
import { SourceUnavailable, type DeviceReadings, type DeviceSource, type Inventory, type Tick } from '../source.js';
import { coreBusyRatios, cpuBusyRatio, parseLoadavg, parseMeminfo, parseProcStat, type ProcStat } from './proc-parse.js';

/** The parts of `systeminformation` the host source calls; injectable so tests need no shell. */
export interface SystemInfo {
  cpu(): Promise<{ manufacturer: string; brand: string; cores: number }>;
  mem(): Promise<{ total: number }>;
  osInfo(): Promise<{ hostname: string; distro: string; release: string; kernel: string }>;
  cpuTemperature(): Promise<{ main: number | null }>;
}

/** Options of `HostSource`. */
export interface HostSourceOptions {
  /** Root of procfs (default `/proc`); tests point it at captures. */
  readonly procRoot?: string;
  /** Where the one warning about a slow or failing inventory goes. */
  readonly log: Pick<Logger, 'warn'>;
  /** systeminformation or a stand-in (default: the real module, loaded at probe). */
  readonly si?: SystemInfo;
  /** Longest wait in ms for the inventory at probe (default `HOST_INVENTORY_TIMEOUT_MS`). */
  readonly inventoryTimeoutMs?: number;
}

/** Default longest wait for systeminformation at probe, in ms; its shell-outs can hang on odd hosts. */
export const HOST_INVENTORY_TIMEOUT_MS = 10_000;

/** Host CPU, memory and load gauges from /proc, with a systeminformation inventory at probe. */
export class HostSource implements DeviceSource {
  readonly name = 'host';
  readonly #files = new Map<string, ProcFile>();
  readonly #procRoot: string;
  readonly #log: HostSourceOptions['log'];
  readonly #si: SystemInfo | undefined;
  readonly #timeoutMs: number;
  #lastStat: ProcStat | undefined;
  #cpuTempC: number | undefined;

  constructor(options: HostSourceOptions) {
    this.#procRoot = options.procRoot ?? '/proc';
    this.#log = options.log;
    this.#si = options.si;
    this.#timeoutMs = options.inventoryTimeoutMs ?? HOST_INVENTORY_TIMEOUT_MS;
  }

  /** CPU package temperature in Cel read at probe, when the host exposes one. */
  get cpuTempC(): number | undefined {
    return this.#cpuTempC;
  }

  /** Checks /proc/stat is readable and collects the host inventory. */
  async probe(): Promise<Inventory> {
    const path = join(this.#procRoot, 'stat');
    const text = await this.#read('stat');
    if (text === undefined || parseProcStat(text).all === undefined) throw new SourceUnavailable(`cannot read CPU times from ${path}`);
    return { gpus: [], cpus: [], host: await this.#inventory() };
  }

  /** Host gauges at this tick; utilisation needs a previous tick, so the first read has none. */
  async read(_tick: Tick): Promise<DeviceReadings> {
    const [statText, memText, loadText] = await Promise.all([this.#read('stat'), this.#read('meminfo'), this.#read('loadavg')]);
    const host: HostGauge = {};
    if (statText !== undefined) {
      const stat = parseProcStat(statText);
      const prev = this.#lastStat;
      if (prev !== undefined) {
        const all = prev.all !== undefined && stat.all !== undefined ? cpuBusyRatio(prev.all, stat.all) : undefined;
        if (all !== undefined) host.cpuUtilRatio = all;
        const cores = coreBusyRatios(prev, stat);
        if (cores.length > 0) host.coreUtilRatio = cores;
      }
      this.#lastStat = stat;
    }
    if (memText !== undefined) {
      const mem = parseMeminfo(memText);
      if (mem.memUsedBytes !== undefined) host.memUsedBytes = mem.memUsedBytes;
      if (mem.memTotalBytes !== undefined) host.memTotalBytes = mem.memTotalBytes;
    }
    if (loadText !== undefined) {
      const load = parseLoadavg(loadText);
      if (load !== undefined) host.load1 = load.load1;
    }
    return { gpus: [], cpus: [], host };
  }

  async #read(file: string): Promise<string | undefined> {
    let f = this.#files.get(file);
    if (f === undefined) {
      f = new ProcFile(join(this.#procRoot, file));
      this.#files.set(file, f);
    }
    try {
      // /proc files are generated in memory and never block: a synchronous positional read
      // of a file kept open is one syscall, cheaper than the thread-pool round trip.
      return f.read();
    } catch {
      f.close();
      return undefined;
    }
  }

  /** Closes the /proc files kept open. */
  async stop(): Promise<void> {
    for (const f of this.#files.values()) f.close();
    this.#files.clear();
  }

  /** systeminformation's view of the host; node:os (no shell) fills in when it fails or is slow. */
  async #inventory(): Promise<HostInfo> {
    const fallback = nodeOsInfo();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#timeoutMs);
    });
    try {
      const si = this.#si ?? (await import('systeminformation')).default;
      // Temperature is best effort and must not hold up or fail the rest.
      const temp = si.cpuTemperature().then(
        (t) => t.main,
        () => null,
      );
      const got = await Promise.race([Promise.all([si.cpu(), si.mem(), si.osInfo()]), deadline]);
      if (got === 'timeout') {
        this.#log.warn({ source: this.name }, `host inventory: systeminformation did not answer within ${this.#timeoutMs} ms; using node:os (no OS distribution)`);
        return fallback;
      }
      const [cpu, mem, osi] = got;
      const tempC = await Promise.race([temp, deadline]);
      // si reports null (or -1 on older versions) when there is no sensor: absent, never 0.
      if (typeof tempC === 'number' && Number.isFinite(tempC) && tempC > 0) this.#cpuTempC = tempC;
      const info: HostInfo = { ...fallback };
      const str = (s: string): string | undefined => (s.trim() === '' ? undefined : s.trim().slice(0, 256));
      const hostname = str(osi.hostname);
      const cpuModel = str(`${cpu.manufacturer} ${cpu.brand}`);
      const distro = str(`${osi.distro} ${osi.release}`);
      const kernel = str(osi.kernel);
      if (hostname !== undefined) info.hostname = hostname;
      if (cpuModel !== undefined) info.cpuModel = cpuModel;
      if (Number.isInteger(cpu.cores) && cpu.cores > 0) info.logicalCpus = cpu.cores;
      if (Number.isFinite(mem.total) && mem.total > 0) info.memTotalBytes = mem.total;
      if (distro !== undefined) info.os = distro;
      if (kernel !== undefined) info.kernel = kernel;
      return info;
    } catch (err) {
      this.#log.warn({ source: this.name }, `host inventory: systeminformation failed (${(err as Error).message}); using node:os (no OS distribution)`);
      return fallback;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What node:os knows without spawning anything; it has no OS distribution name. */
function nodeOsInfo(): HostInfo {
  const model = os.cpus()[0]?.model.trim();
  return {
    hostname: os.hostname().slice(0, 256),
    ...(model === undefined || model === '' ? {} : { cpuModel: model.slice(0, 256) }),
    logicalCpus: os.availableParallelism(),
    memTotalBytes: os.totalmem(),
    kernel: os.release().slice(0, 256),
  };
}
