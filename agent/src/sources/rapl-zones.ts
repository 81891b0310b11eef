/**
 * Pure RAPL zone discovery and selection: from the directories and `name` files found under
 * `/sys/class/powercap`, decide which zones to read so that nothing is counted twice.
 *
 * Is: the `intel-rapl` powercap control type, which the kernel also uses for AMD (Zen and
 * later, since Linux 5.8), in either layout: flat (`intel-rapl:0`, `intel-rapl:0:0` side by
 * side, as symlinks in the class folder) or nested (`intel-rapl/intel-rapl:0/intel-rapl:0:0`).
 * Is not: `intel-rapl-mmio` (the same package counter again through MMIO, so summing it would
 * double the package), and not the old `amd_energy` hwmon driver (removed from Linux 5.17).
 */

/** A zone directory found on disk: its zone id (the basename) and its path relative to the sysfs root. */
export interface ZoneDir {
  /** Directory basename, e.g. `intel-rapl:0:2`. */
  readonly zoneId: string;
  /** Path relative to the sysfs root, e.g. `class/powercap/intel-rapl:0:2`. */
  readonly dir: string;
}

/** A zone directory with the content of its `name` file (trimmed). */
export interface NamedZone extends ZoneDir {
  /** Content of `name`, e.g. `package-0`, `dram`, `core`, `uncore`, `psys`. */
  readonly name: string;
}

/** A zone whose counter is read and reported. */
export interface SelectedZone extends NamedZone {
  /** Reading id: `package-N` (or `package-N-die-M`) for packages, `dram-N` for DRAM. */
  readonly id: string;
  readonly kind: 'cpu' | 'dram';
  /** Physical package number the zone belongs to, from the package's `name`. */
  readonly packageIndex: number;
}

/** A zone that was found but is not read, with the reason (for a debug log). */
export interface IgnoredZone extends NamedZone {
  readonly reason: string;
}

/** Outcome of `selectZones`: zones to read, in id order, and zones left out. */
export interface ZoneSelection {
  readonly zones: readonly SelectedZone[];
  readonly ignored: readonly IgnoredZone[];
}

const ZONE_DIR = /^intel-rapl(?::[0-9a-f]+)+$/;
// Bounded digits: the name becomes the reading id, and a garbled 400-digit one is no package (nor an id the wire takes).
const PACKAGE_NAME = /^package-(\d{1,6})(?:-die-(\d{1,6}))?$/;

/**
 * Zone indexes of a powercap directory name, or undefined when it is not an `intel-rapl` zone.
 * The kernel formats indexes with `%x`, so `intel-rapl:a` is zone 10, not a parse error.
 */
export function parseZoneId(basename: string): readonly number[] | undefined {
  if (!ZONE_DIR.test(basename)) return undefined;
  return basename
    .split(':')
    .slice(1)
    .map((h) => Number.parseInt(h, 16));
}

/**
 * Unique zone directories from a list of paths relative to the sysfs root. The same zone is
 * reachable both flat and nested (the class folder's symlinks point into the nested tree);
 * the shortest path wins, so the result does not depend on readdir order.
 */
export function zoneDirs(paths: readonly string[]): ZoneDir[] {
  const byId = new Map<string, string>();
  for (const dir of paths) {
    const zoneId = dir.slice(dir.lastIndexOf('/') + 1);
    if (parseZoneId(zoneId) === undefined) continue;
    const seen = byId.get(zoneId);
    if (seen === undefined || dir.length < seen.length || (dir.length === seen.length && dir < seen)) byId.set(zoneId, dir);
  }
  return [...byId].map(([zoneId, dir]) => ({ zoneId, dir })).sort((a, b) => compareZoneIds(a.zoneId, b.zoneId));
}

/**
 * Choose the non-overlapping zones: every top-level `package-N` (all of the socket's cores,
 * caches and uncore) and every `dram` sub-zone (memory, outside the package). `core` and
 * `uncore` are parts of their package and would be counted twice. `psys` (platform, on client
 * machines) covers package, DRAM and more of the SoC at once, so adding it to the others
 * double-counts, and using it alone loses the per-socket split; it is left out.
 */
export function selectZones(found: readonly NamedZone[]): ZoneSelection {
  const zones: SelectedZone[] = [];
  const ignored: IgnoredZone[] = [];
  const parents = new Map<string, { name: string; packageIndex: number }>();
  const ids = new Set<string>();
  const sorted = [...found].sort((a, b) => compareZoneIds(a.zoneId, b.zoneId));
  const take = (z: NamedZone, id: string, kind: 'cpu' | 'dram', packageIndex: number): void => {
    if (ids.has(id)) {
      ignored.push({ ...z, reason: `duplicate id ${id}` });
      return;
    }
    ids.add(id);
    zones.push({ ...z, id, kind, packageIndex });
  };
  for (const z of sorted) {
    const idx = parseZoneId(z.zoneId);
    if (idx === undefined) {
      ignored.push({ ...z, reason: 'not an intel-rapl zone' });
      continue;
    }
    if (idx.length === 1) {
      const m = PACKAGE_NAME.exec(z.name);
      if (m === null) {
        ignored.push({ ...z, reason: z.name === 'psys' ? 'psys overlaps package and dram' : `unknown top-level zone ${z.name}` });
        continue;
      }
      const packageIndex = Number(m[1]);
      parents.set(z.zoneId, { name: z.name, packageIndex });
      take(z, z.name, 'cpu', packageIndex);
      continue;
    }
    if (z.name === 'core' || z.name === 'uncore') {
      ignored.push({ ...z, reason: `${z.name} is inside its package` });
      continue;
    }
    if (z.name !== 'dram') {
      ignored.push({ ...z, reason: `unknown sub-zone ${z.name}` });
      continue;
    }
    const parent = parents.get(z.zoneId.slice(0, z.zoneId.lastIndexOf(':')));
    if (parent === undefined) {
      ignored.push({ ...z, reason: 'dram without a package parent' });
      continue;
    }
    take(z, `dram${parent.name.slice('package'.length)}`, 'dram', parent.packageIndex);
  }
  return { zones, ignored };
}

/** Orders zone ids by their numeric indexes, so `intel-rapl:a` sorts after `intel-rapl:9`. */
function compareZoneIds(a: string, b: string): number {
  const x = parseZoneId(a) ?? [];
  const y = parseZoneId(b) ?? [];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
