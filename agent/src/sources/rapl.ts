/**
 * CPU package and DRAM energy from the kernel's RAPL powercap counters
 * (`/sys/class/powercap/intel-rapl*`), on Intel and on AMD Zen (which the kernel exposes
 * through the same `intel-rapl` control type).
 *
 * Is: a hardware counter. Each zone's `energy_uj` wraps at `max_energy_range_uj`; this source
 * unwraps it and keeps its own cumulative counter per zone, in whole millijoules with the
 * microjoule remainder carried, starting at 0 on the first read, so the meter sees a monotonic
 * counter. Power is that energy over the monotonic time between reads. Is not: a reader of
 * `core`, `uncore` or `psys` (they overlap the package; see rapl-zones.ts), and not able to see
 * more than one wrap between two reads (about 262 kJ, minutes at full load, far above a tick).
 */
import { readdir, readFile as fsReadFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { CpuInfo } from '@stroom/protocol';
import { ujToMj } from '@stroom/protocol/wire';
import type { Logger } from 'pino';
import { SourceUnavailable, type CpuReading, type DeviceReadings, type DeviceSource, type Inventory, type Tick } from '../source.js';
import { selectZones, zoneDirs, type NamedZone, type SelectedZone } from './rapl-zones.js';

/** Options of `RaplSource`. */
export interface RaplSourceOptions {
  /** Root of sysfs (default `/sys`); tests point it at a materialised tree. */
  readonly sysfsRoot?: string;
  /** Warnings for zones that stop reading or reset; zones left out go to debug. */
  readonly log: Pick<Logger, 'warn' | 'info' | 'debug'>;
  /**
   * Reads a file as UTF-8 (default `fs.readFile`). Injectable because tests may run as root,
   * where `chmod 000` does not deny reads, so EACCES has to be simulated.
   */
  readonly readFile?: (path: string) => Promise<string>;
}

/**
 * Above this power in W for one zone, a backwards counter is taken as a reset (package power
 * loss, e.g. resume from suspend, during which the monotonic clock stops) rather than a wrap:
 * the wrap formula would otherwise add up to a whole counter range (~262 kJ) in one tick.
 */
export const RAPL_MAX_PLAUSIBLE_W = 10_000;

/**
 * Energy in µJ between two reads of a RAPL counter that wraps at `maxUj`, or undefined when the
 * counter went backwards and its range is unknown (no `max_energy_range_uj`).
 */
export function raplDeltaUj(lastUj: number, curUj: number, maxUj: number | undefined): number | undefined {
  if (curUj >= lastUj) return curUj - lastUj;
  // A range below the last reading is not the counter's range (a garbled file): a wrap over it would be negative.
  if (maxUj === undefined || maxUj < lastUj) return undefined;
  return maxUj - lastUj + curUj;
}

interface ZoneState {
  readonly zone: SelectedZone;
  readonly energyPath: string;
  readonly maxUj: number | undefined;
  lastUj?: number;
  lastMonoMs?: number;
  /** Cumulative energy in whole mJ since the first read. */
  counterMj: number;
  /** Energy in µJ not yet a whole mJ, carried so rounding loses nothing. */
  remainderUj: number;
  /** Whether the last read failed; warn once per failure streak. */
  failing: boolean;
}

const ACCESS_CODES = new Set(['EACCES', 'EPERM']);

/** RAPL powercap energy counters of every CPU package and DRAM domain. */
export class RaplSource implements DeviceSource {
  readonly name = 'rapl';
  readonly #root: string;
  readonly #log: RaplSourceOptions['log'];
  readonly #readFile: (path: string) => Promise<string>;
  #zones: ZoneState[] = [];

  constructor(options: RaplSourceOptions) {
    this.#root = options.sysfsRoot ?? '/sys';
    this.#log = options.log;
    this.#readFile = options.readFile ?? ((p) => fsReadFile(p, 'utf8'));
  }

  /** Finds the zones, checks `energy_uj` is readable, and reports one CpuInfo per package. */
  async probe(): Promise<Inventory> {
    const base = join(this.#root, 'class/powercap');
    const none = new SourceUnavailable(`no RAPL powercap zones under ${base} (no RAPL on this CPU or VM, or the intel_rapl_msr module is not loaded)`);
    const dirs = await listZoneDirs(this.#root, 'class/powercap');
    if (dirs === undefined) throw none;
    const named: NamedZone[] = [];
    for (const d of zoneDirs(dirs)) {
      const name = await this.#readText(join(this.#root, d.dir, 'name'));
      if (name !== undefined) named.push({ ...d, name });
    }
    const { zones, ignored } = selectZones(named);
    for (const z of ignored) this.#log.debug({ source: this.name, zone: z.zoneId, zoneName: z.name }, `rapl zone not read: ${z.reason}`);
    const states: ZoneState[] = [];
    for (const zone of zones) {
      const energyPath = join(this.#root, zone.dir, 'energy_uj');
      try {
        parseUj(await this.#readFile(energyPath));
      } catch (err) {
        if (ACCESS_CODES.has((err as NodeJS.ErrnoException).code ?? '')) {
          // energy_uj is root-only since the Platypus fix (CVE-2020-8694): a side channel on the
          // counter leaked secrets. Say how to grant read access instead of running as root.
          throw new SourceUnavailable(
            `permission denied reading ${energyPath}: RAPL energy_uj is root-only since CVE-2020-8694 (Platypus). ` +
              'Fix without running the agent as root: add AmbientCapabilities=CAP_DAC_READ_SEARCH to its systemd unit, ' +
              'or make energy_uj readable with a udev rule (chmod o+r, or a group the agent is in)',
          );
        }
        this.#log.warn({ source: this.name, zone: zone.zoneId }, `rapl zone ${zone.id} not read: ${(err as Error).message}`);
        continue;
      }
      const max = await this.#readText(join(this.#root, zone.dir, 'max_energy_range_uj'));
      const maxUj = max === undefined ? undefined : parseUjOrUndefined(max);
      states.push({ zone, energyPath, maxUj, counterMj: 0, remainderUj: 0, failing: false });
    }
    if (states.length === 0) throw none;
    this.#zones = states;
    const packages = states.filter((s) => s.zone.kind === 'cpu').map((s) => s.zone);
    return { gpus: [], cpus: await this.#cpuInfo(packages) };
  }

  /** Every zone's cumulative counter (mJ) and its power (W) since the previous read. */
  async read(tick: Tick): Promise<DeviceReadings> {
    const values = await Promise.all(this.#zones.map(async (z) => this.#readZone(z)));
    const cpus: CpuReading[] = [];
    this.#zones.forEach((z, i) => {
      const cur = values[i];
      if (cur === undefined) return;
      let powerW: number | undefined;
      if (z.lastUj !== undefined && z.lastMonoMs !== undefined) {
        const deltaUj = raplDeltaUj(z.lastUj, cur, z.maxUj);
        const dtMs = tick.monoMs - z.lastMonoMs;
        // µJ per ms is mW; a backwards counter beyond any real power is a reset, not a wrap.
        if (deltaUj === undefined || (dtMs > 0 && deltaUj / dtMs / 1000 > RAPL_MAX_PLAUSIBLE_W)) {
          this.#log.warn({ source: this.name, zone: z.zone.zoneId }, `rapl counter of ${z.zone.id} went backwards (reset?): new baseline, nothing counted for that interval`);
        } else {
          const totalUj = z.remainderUj + deltaUj;
          const mj = ujToMj(totalUj);
          z.counterMj += mj;
          z.remainderUj = totalUj - mj * 1000;
          if (dtMs > 0) powerW = deltaUj / dtMs / 1000;
        }
      }
      z.lastUj = cur;
      z.lastMonoMs = tick.monoMs;
      cpus.push({ id: z.zone.id, kind: z.zone.kind, energyCounterMj: z.counterMj, ...(powerW === undefined ? {} : { powerW }) });
    });
    return { gpus: [], cpus };
  }

  /** Current `energy_uj` of a zone, or undefined (warned once) when it cannot be read. */
  async #readZone(z: ZoneState): Promise<number | undefined> {
    try {
      const uj = parseUj(await this.#readFile(z.energyPath));
      if (z.failing) this.#log.info({ source: this.name, zone: z.zone.zoneId }, `rapl zone ${z.zone.id} reads again`);
      z.failing = false;
      return uj;
    } catch (err) {
      if (!z.failing) this.#log.warn({ source: this.name, zone: z.zone.zoneId }, `rapl zone ${z.zone.id} not read: ${(err as Error).message}`);
      z.failing = true;
      return undefined;
    }
  }

  async #readText(path: string): Promise<string | undefined> {
    try {
      return (await this.#readFile(path)).trim();
    } catch {
      return undefined;
    }
  }

  /**
   * Logical CPUs per package zone: counted from each CPU's `topology/physical_package_id`;
   * without topology, the online CPUs split evenly. Zones of one package (multi-die parts,
   * `package-0-die-1`) share its CPUs evenly.
   */
  async #cpuInfo(packages: readonly SelectedZone[]): Promise<CpuInfo[]> {
    if (packages.length === 0) return [];
    const cpuDir = join(this.#root, 'devices/system/cpu');
    const perPackage = new Map<number, number>();
    let names: string[] = [];
    try {
      names = (await readdir(cpuDir)).filter((n) => /^cpu\d+$/.test(n));
    } catch {
      // no topology under this root: fall back below
    }
    for (const n of names) {
      const id = await this.#readText(join(cpuDir, n, 'topology/physical_package_id'));
      if (id === undefined || !/^\d+$/.test(id)) continue;
      perPackage.set(Number(id), (perPackage.get(Number(id)) ?? 0) + 1);
    }
    const zonesPerPackage = new Map<number, number>();
    for (const p of packages) zonesPerPackage.set(p.packageIndex, (zonesPerPackage.get(p.packageIndex) ?? 0) + 1);
    let evenly: number | undefined;
    if (packages.some((p) => !perPackage.has(p.packageIndex))) {
      const online = await this.#readText(join(cpuDir, 'online'));
      const logical = (online === undefined ? undefined : countCpuList(online)) ?? availableParallelism();
      evenly = logical / packages.length;
    }
    return packages.map((p) => {
      const counted = perPackage.get(p.packageIndex);
      const cores = counted === undefined ? (evenly ?? 1) : counted / (zonesPerPackage.get(p.packageIndex) ?? 1);
      return { id: p.id, cores: Math.max(1, Math.floor(cores)) };
    });
  }
}

/**
 * Paths (relative to `root`) of every `intel-rapl` zone directory under `start`, following the
 * class folder's symlinks; undefined when `start` does not exist. Only `intel-rapl` and
 * `intel-rapl:*` entries are entered, which also keeps the walk out of the `device` and
 * `subsystem` symlinks that point back up the tree.
 */
async function listZoneDirs(root: string, start: string): Promise<string[] | undefined> {
  const found: string[] = [];
  let level = [start];
  for (let depth = 0; depth < 4 && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      let entries: string[];
      try {
        entries = await readdir(join(root, dir));
      } catch {
        // A missing start means no powercap at all; deeper, a non-directory is simply skipped.
        if (depth === 0) return undefined;
        continue;
      }
      for (const e of entries) {
        if (e !== 'intel-rapl' && !e.startsWith('intel-rapl:')) continue;
        const rel = `${dir}/${e}`;
        if (e !== 'intel-rapl') found.push(rel);
        next.push(rel);
      }
    }
    level = next;
  }
  return found;
}

function parseUj(text: string): number {
  const v = parseUjOrUndefined(text);
  if (v === undefined) throw new Error(`not a counter: ${JSON.stringify(text.slice(0, 40))}`);
  return v;
}

function parseUjOrUndefined(text: string): number | undefined {
  const t = text.trim();
  // Real counters stay far below 2^53 µJ (the range is ~2.6e11); 400 digits would read as
  // Infinity and make the zone's cumulative counter -Infinity on the next wrap.
  return /^\d+$/.test(t) && Number.isSafeInteger(Number(t)) ? Number(t) : undefined;
}

/** Number of CPUs in a kernel CPU list such as `0-3,8-11`, or undefined when it is malformed. */
function countCpuList(list: string): number | undefined {
  let n = 0;
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) return undefined;
    n += (m[2] === undefined ? 0 : Number(m[2]) - Number(m[1])) + 1;
  }
  return n > 0 ? n : undefined;
}
