import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SourceSet } from '../../src/source-set.js';
import { SourceUnavailable, type Tick } from '../../src/source.js';
import { RAPL_MAX_PLAUSIBLE_W, RaplSource, raplDeltaUj, type RaplSourceOptions } from '../../src/sources/rapl.js';
import { parseZoneId, selectZones, zoneDirs, type NamedZone } from '../../src/sources/rapl-zones.js';
import { materialiseSysfs, removeSysfs, sysfsFixture, type SysfsTree } from '../sysfs.js';

const MAX = 262_143_328_850;
const tick = (monoMs: number): Tick => ({ ts: 1_764_496_800_000 + monoMs, monoMs });

function fakeLog() {
  return { warn: vi.fn(), info: vi.fn(), debug: vi.fn() };
}
const messages = (fn: ReturnType<typeof vi.fn>): unknown[] => fn.mock.calls.map((c) => c[1]);

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map(removeSysfs));
});
async function tree(t: SysfsTree): Promise<string> {
  const root = await materialiseSysfs(t);
  roots.push(root);
  return root;
}
function source(root: string, extra: Partial<RaplSourceOptions> = {}) {
  const log = fakeLog();
  return { log, rapl: new RaplSource({ sysfsRoot: root, log, ...extra }) };
}
const setUj = (root: string, path: string, uj: number): Promise<void> => writeFile(join(root, path), `${uj}\n`);

/** A zone directory's files (synthetic). */
function zone(dir: string, name: string, uj: number, max: number | undefined = MAX): SysfsTree {
  return { [`${dir}/name`]: `${name}\n`, [`${dir}/energy_uj`]: `${uj}\n`, ...(max === undefined ? {} : { [`${dir}/max_energy_range_uj`]: `${max}\n` }) };
}
/** CPU topology files (synthetic): `packages[i]` is the physical package of cpu i. */
function topology(packages: readonly number[]): SysfsTree {
  return Object.fromEntries(packages.map((p, i) => [`devices/system/cpu/cpu${i}/topology/physical_package_id`, `${p}\n`]));
}

describe('rapl-zones', () => {
  describe('#parseZoneId', () => {
    it.each([
      ['intel-rapl:0', [0]],
      ['intel-rapl:0:2', [0, 2]],
      ['intel-rapl:a', [10]],
      ['intel-rapl:1f:3', [31, 3]],
      ['intel-rapl', undefined],
      ['intel-rapl:', undefined],
      ['intel-rapl:g', undefined],
      ['intel-rapl-mmio:0', undefined],
      ['dram', undefined],
    ])('%s → %j', (name, expected) => {
      expect(parseZoneId(name)).toEqual(expected);
    });
  });

  describe('#zoneDirs', () => {
    it('keeps one directory per zone, the shortest, in numeric (hex) order', () => {
      expect(
        zoneDirs([
          'class/powercap/intel-rapl/intel-rapl:a',
          'class/powercap/intel-rapl/intel-rapl:0',
          'class/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0',
          'class/powercap/intel-rapl:0:0',
          'class/powercap/intel-rapl:0',
          'class/powercap/intel-rapl:9',
          'class/powercap/intel-rapl-mmio:0',
        ]),
      ).toEqual([
        { zoneId: 'intel-rapl:0', dir: 'class/powercap/intel-rapl:0' },
        { zoneId: 'intel-rapl:0:0', dir: 'class/powercap/intel-rapl:0:0' },
        { zoneId: 'intel-rapl:9', dir: 'class/powercap/intel-rapl:9' },
        { zoneId: 'intel-rapl:a', dir: 'class/powercap/intel-rapl/intel-rapl:a' },
      ]);
    });
  });

  describe('#selectZones', () => {
    const z = (zoneId: string, name: string): NamedZone => ({ zoneId, name, dir: `class/powercap/${zoneId}` });
    const pick = (found: NamedZone[]) => {
      const s = selectZones(found);
      return { zones: s.zones.map((x) => [x.zoneId, x.id, x.kind, x.packageIndex]), ignored: s.ignored.map((x) => [x.zoneId, x.reason]) };
    };

    it.each([
      {
        case: 'Intel client: package with core, uncore, dram; psys',
        found: [z('intel-rapl:1', 'psys'), z('intel-rapl:0:2', 'dram'), z('intel-rapl:0', 'package-0'), z('intel-rapl:0:0', 'core'), z('intel-rapl:0:1', 'uncore')],
        zones: [
          ['intel-rapl:0', 'package-0', 'cpu', 0],
          ['intel-rapl:0:2', 'dram-0', 'dram', 0],
        ],
        ignored: [
          ['intel-rapl:0:0', 'core is inside its package'],
          ['intel-rapl:0:1', 'uncore is inside its package'],
          ['intel-rapl:1', 'psys overlaps package and dram'],
        ],
      },
      {
        case: 'two sockets, dram per socket; the package name decides N, not the zone index',
        found: [z('intel-rapl:0', 'package-1'), z('intel-rapl:0:0', 'dram'), z('intel-rapl:1', 'package-0'), z('intel-rapl:1:0', 'dram')],
        zones: [
          ['intel-rapl:0', 'package-1', 'cpu', 1],
          ['intel-rapl:0:0', 'dram-1', 'dram', 1],
          ['intel-rapl:1', 'package-0', 'cpu', 0],
          ['intel-rapl:1:0', 'dram-0', 'dram', 0],
        ],
        ignored: [],
      },
      {
        case: 'hex index: intel-rapl:a is package-10 and sorts after intel-rapl:9',
        found: [z('intel-rapl:a', 'package-10'), z('intel-rapl:9', 'package-9')],
        zones: [
          ['intel-rapl:9', 'package-9', 'cpu', 9],
          ['intel-rapl:a', 'package-10', 'cpu', 10],
        ],
        ignored: [],
      },
      {
        case: 'multi-die packages (package-N-die-M) and their dram',
        found: [z('intel-rapl:0', 'package-0-die-0'), z('intel-rapl:0:0', 'dram'), z('intel-rapl:1', 'package-0-die-1'), z('intel-rapl:1:0', 'dram')],
        zones: [
          ['intel-rapl:0', 'package-0-die-0', 'cpu', 0],
          ['intel-rapl:0:0', 'dram-0-die-0', 'dram', 0],
          ['intel-rapl:1', 'package-0-die-1', 'cpu', 0],
          ['intel-rapl:1:0', 'dram-0-die-1', 'dram', 0],
        ],
        ignored: [],
      },
      {
        case: 'odd zones: unknown names, orphan dram, duplicate package name',
        found: [z('intel-rapl:0', 'package-0'), z('intel-rapl:1', 'package-0'), z('intel-rapl:0:0', 'gpu'), z('intel-rapl:2:0', 'dram'), z('intel-rapl:3', 'mystery')],
        zones: [['intel-rapl:0', 'package-0', 'cpu', 0]],
        ignored: [
          ['intel-rapl:0:0', 'unknown sub-zone gpu'],
          ['intel-rapl:1', 'duplicate id package-0'],
          ['intel-rapl:2:0', 'dram without a package parent'],
          ['intel-rapl:3', 'unknown top-level zone mystery'],
        ],
      },
    ])('$case', ({ found, zones, ignored }) => {
      expect(pick(found)).toEqual({ zones, ignored });
    });
  });
});

describe('raplDeltaUj', () => {
  it.each([
    { last: 100, cur: 250, max: MAX, delta: 150 },
    { last: 100, cur: 100, max: MAX, delta: 0 },
    // wrap: (max − last) + cur
    { last: 262_143_000_000, cur: 500_000, max: MAX, delta: 828_850 },
    { last: MAX, cur: 0, max: MAX, delta: 0 },
    { last: 100, cur: 50, max: undefined, delta: undefined },
  ])('$last → $cur (max $max) = $delta', ({ last, cur, max, delta }) => {
    expect(raplDeltaUj(last, cur, max)).toBe(delta);
  });
});

describe('RaplSource', () => {
  describe('fixture trees', () => {
    it.each([
      {
        fixture: 'codecarbon-intel-rapl-laptop-nested',
        // synthetic addition: the origin has no CPU topology; 8 CPUs online
        extra: { 'devices/system/cpu/online': '0-7\n' } as SysfsTree,
        cpus: [{ id: 'package-0', cores: 8 }],
        first: [
          { id: 'package-0', kind: 'cpu', energyCounterMj: 0 },
          { id: 'dram-0', kind: 'dram', energyCounterMj: 0 },
        ],
        dtMs: 1000,
        // 52649883221 + 12345678 and 10642772192 + 1500250; core, uncore and psys move too but are not read
        next: {
          'class/powercap/intel-rapl/intel-rapl:0/energy_uj': 52_662_228_899,
          'class/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:2/energy_uj': 10_644_272_442,
          'class/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0/energy_uj': 46_233_947_890,
          'class/powercap/intel-rapl/intel-rapl:1/energy_uj': 217_870_082_040,
        },
        second: [
          { id: 'package-0', kind: 'cpu', energyCounterMj: 12_345, powerW: expect.closeTo(12.345678, 9) },
          { id: 'dram-0', kind: 'dram', energyCounterMj: 1_500, powerW: expect.closeTo(1.50025, 9) },
        ],
      },
      {
        fixture: 'prometheus-procfs-intel-rapl-flat',
        // synthetic addition: cpu0-3 on package 0, cpu4-5 on package 10
        extra: topology([0, 0, 0, 0, 10, 10]),
        cpus: [
          { id: 'package-0', cores: 4 },
          { id: 'package-10', cores: 2 },
        ],
        first: [
          { id: 'package-0', kind: 'cpu', energyCounterMj: 0 },
          { id: 'package-10', kind: 'cpu', energyCounterMj: 0 },
        ],
        dtMs: 100_000,
        // package-0: + 20000123456 µJ; package-10 wraps: 240422366267 + 25e9 − 262143328850 = 3279037417
        next: {
          'class/powercap/intel-rapl:0/energy_uj': 260_422_489_723,
          'class/powercap/intel-rapl:a/energy_uj': 3_279_037_417,
        },
        second: [
          { id: 'package-0', kind: 'cpu', energyCounterMj: 20_000_123, powerW: expect.closeTo(200.00123456, 9) },
          { id: 'package-10', kind: 'cpu', energyCounterMj: 25_000_000, powerW: 250 },
        ],
      },
    ])('$fixture', async ({ fixture, extra, cpus, first, dtMs, next, second }) => {
      const root = await tree({ ...(await sysfsFixture(fixture)), ...extra });
      const { rapl, log } = source(root);
      expect(await rapl.probe()).toEqual({ gpus: [], cpus });
      expect(await rapl.read(tick(5000))).toEqual({ gpus: [], cpus: first });
      for (const [path, uj] of Object.entries(next)) await setUj(root, path, uj);
      expect(await rapl.read(tick(5000 + dtMs))).toEqual({ gpus: [], cpus: second });
      expect(log.warn).not.toHaveBeenCalled();
    });
  });

  describe('layouts (synthetic)', () => {
    it('two-socket server: class symlinks into the nested tree are read once; intel-rapl-mmio is not read', async () => {
      const dev = 'devices/virtual/powercap/intel-rapl';
      const root = await tree({
        ...zone(`${dev}/intel-rapl:0`, 'package-0', 1_000_000),
        ...zone(`${dev}/intel-rapl:0/intel-rapl:0:0`, 'dram', 2_000_000),
        ...zone(`${dev}/intel-rapl:1`, 'package-1', 3_000_000),
        ...zone(`${dev}/intel-rapl:1/intel-rapl:1:0`, 'dram', 4_000_000),
        ...zone('devices/virtual/powercap/intel-rapl-mmio/intel-rapl-mmio:0', 'package-0', 9_000_000),
        // links back up the tree, as in real sysfs; the walk must not loop through them
        [`${dev}/intel-rapl:0/intel-rapl:0:0/device`]: { symlink: '..' },
        [`${dev}/intel-rapl:0/subsystem`]: { symlink: '../../../../../class/powercap' },
        'class/powercap/intel-rapl': { symlink: `../../${dev}` },
        'class/powercap/intel-rapl:0': { symlink: `../../${dev}/intel-rapl:0` },
        'class/powercap/intel-rapl:0:0': { symlink: `../../${dev}/intel-rapl:0/intel-rapl:0:0` },
        'class/powercap/intel-rapl:1': { symlink: `../../${dev}/intel-rapl:1` },
        'class/powercap/intel-rapl:1:0': { symlink: `../../${dev}/intel-rapl:1/intel-rapl:1:0` },
        'class/powercap/intel-rapl-mmio:0': { symlink: '../../devices/virtual/powercap/intel-rapl-mmio/intel-rapl-mmio:0' },
        ...topology([0, 1, 0, 1, 0, 1]),
        'devices/system/cpu/online': '0-63\n',
      });
      const { rapl } = source(root);
      expect(await rapl.probe()).toEqual({
        gpus: [],
        cpus: [
          { id: 'package-0', cores: 3 },
          { id: 'package-1', cores: 3 },
        ],
      });
      await rapl.read(tick(0));
      await setUj(root, `${dev}/intel-rapl:0/energy_uj`, 1_000_000 + 150_000_000);
      await setUj(root, `${dev}/intel-rapl:0/intel-rapl:0:0/energy_uj`, 2_000_000 + 20_000_000);
      await setUj(root, `${dev}/intel-rapl:1/energy_uj`, 3_000_000 + 160_000_000);
      await setUj(root, `${dev}/intel-rapl:1/intel-rapl:1:0/energy_uj`, 4_000_000 + 30_000_000);
      expect(await rapl.read(tick(1000))).toEqual({
        gpus: [],
        cpus: [
          { id: 'package-0', kind: 'cpu', energyCounterMj: 150_000, powerW: 150 },
          { id: 'dram-0', kind: 'dram', energyCounterMj: 20_000, powerW: 20 },
          { id: 'package-1', kind: 'cpu', energyCounterMj: 160_000, powerW: 160 },
          { id: 'dram-1', kind: 'dram', energyCounterMj: 30_000, powerW: 30 },
        ],
      });
    });

    it('AMD-style: packages with only a core sub-zone and no dram; CPUs split evenly without topology', async () => {
      const root = await tree({
        ...zone('class/powercap/intel-rapl:0', 'package-0', 7_000),
        ...zone('class/powercap/intel-rapl:0:0', 'core', 5_000),
        ...zone('class/powercap/intel-rapl:1', 'package-1', 9_000),
        ...zone('class/powercap/intel-rapl:1:0', 'core', 6_000),
        'devices/system/cpu/online': '0-127,128-255\n',
      });
      const { rapl } = source(root);
      expect(await rapl.probe()).toEqual({
        gpus: [],
        cpus: [
          { id: 'package-0', cores: 128 },
          { id: 'package-1', cores: 128 },
        ],
      });
      expect(await rapl.read(tick(0))).toEqual({
        gpus: [],
        cpus: [
          { id: 'package-0', kind: 'cpu', energyCounterMj: 0 },
          { id: 'package-1', kind: 'cpu', energyCounterMj: 0 },
        ],
      });
    });

    it('multi-die package: its CPUs are shared by its die zones', async () => {
      const root = await tree({
        ...zone('class/powercap/intel-rapl:0', 'package-0-die-0', 1),
        ...zone('class/powercap/intel-rapl:1', 'package-0-die-1', 1),
        ...topology([0, 0, 0, 0, 0, 0, 0, 0]),
      });
      const { rapl } = source(root);
      expect(await rapl.probe()).toEqual({
        gpus: [],
        cpus: [
          { id: 'package-0-die-0', cores: 4 },
          { id: 'package-0-die-1', cores: 4 },
        ],
      });
    });

    it('without topology or an online list, the logical CPUs of this machine are split evenly', async () => {
      const root = await tree({ ...zone('class/powercap/intel-rapl:0', 'package-0', 1), ...zone('class/powercap/intel-rapl:1', 'package-1', 1) });
      const { rapl } = source(root);
      const cores = Math.max(1, Math.floor(availableParallelism() / 2));
      expect(await rapl.probe()).toEqual({
        gpus: [],
        cpus: [
          { id: 'package-0', cores },
          { id: 'package-1', cores },
        ],
      });
    });
  });

  describe('counters (synthetic)', () => {
    const PKG = 'class/powercap/intel-rapl:0/energy_uj';

    it('wrap-around at max_energy_range_uj is exact, and the µJ remainder carries into the next tick', async () => {
      const root = await tree(zone('class/powercap/intel-rapl:0', 'package-0', 262_143_000_000));
      const { rapl } = source(root);
      await rapl.probe();
      await rapl.read(tick(0));
      // (262143328850 − 262143000000) + 500000 = 828850 µJ: 828 mJ, 850 µJ carried
      await setUj(root, PKG, 500_000);
      expect(await rapl.read(tick(1000))).toEqual({ gpus: [], cpus: [{ id: 'package-0', kind: 'cpu', energyCounterMj: 828, powerW: expect.closeTo(0.82885, 12) }] });
      // + 150 µJ: 850 + 150 = 1000 µJ, so exactly one more mJ
      await setUj(root, PKG, 500_150);
      expect(await rapl.read(tick(2000))).toEqual({ gpus: [], cpus: [{ id: 'package-0', kind: 'cpu', energyCounterMj: 829, powerW: expect.closeTo(0.00015, 12) }] });
    });

    it('loses nothing to rounding: 1000 ticks of 999 µJ are exactly 999 mJ', async () => {
      const root = await tree(zone('class/powercap/intel-rapl:0', 'package-0', 0));
      let uj = 0;
      // counter served from memory: 1000 file writes would only slow the test down
      const { rapl } = source(root, { readFile: async (p) => (p.endsWith('/energy_uj') ? `${uj}\n` : readFile(p, 'utf8')) });
      await rapl.probe();
      await rapl.read(tick(0));
      let last;
      for (let i = 1; i <= 1000; i++) {
        uj = i * 999;
        last = await rapl.read(tick(i * 10));
      }
      expect(last?.cpus[0]?.energyCounterMj).toBe(999);
    });

    it('a backwards counter beyond any real power is a reset: new baseline, one warning, nothing counted', async () => {
      const root = await tree(zone('class/powercap/intel-rapl:0', 'package-0', 200_000_000_000));
      const { rapl, log } = source(root);
      await rapl.probe();
      await rapl.read(tick(0));
      await setUj(root, PKG, 200_050_000_000);
      expect(await rapl.read(tick(1000))).toEqual({ gpus: [], cpus: [{ id: 'package-0', kind: 'cpu', energyCounterMj: 50_000, powerW: 50 }] });
      // wrap formula would give 62093328850 µJ in 1 s (62 kW > RAPL_MAX_PLAUSIBLE_W)
      expect(RAPL_MAX_PLAUSIBLE_W).toBe(10_000);
      await setUj(root, PKG, 1_000);
      expect(await rapl.read(tick(2000))).toEqual({ gpus: [], cpus: [{ id: 'package-0', kind: 'cpu', energyCounterMj: 50_000 }] });
      await setUj(root, PKG, 41_000);
      expect(await rapl.read(tick(3000))).toEqual({ gpus: [], cpus: [{ id: 'package-0', kind: 'cpu', energyCounterMj: 50_040, powerW: 0.04 }] });
      expect(messages(log.warn)).toEqual(['rapl counter of package-0 went backwards (reset?): new baseline, nothing counted for that interval']);
    });

    it('a backwards counter without max_energy_range_uj starts a new baseline', async () => {
      const root = await tree(zone('class/powercap/intel-rapl:0', 'package-0', 5_000, undefined));
      const { rapl, log } = source(root);
      await rapl.probe();
      await rapl.read(tick(0));
      await setUj(root, PKG, 4_000);
      expect(await rapl.read(tick(1000))).toEqual({ gpus: [], cpus: [{ id: 'package-0', kind: 'cpu', energyCounterMj: 0 }] });
      expect(log.warn).toHaveBeenCalledTimes(1);
    });

    it('a zone that stops reading is left out (one warning), and counts across the gap when it is back', async () => {
      const root = await tree({ ...zone('class/powercap/intel-rapl:0', 'package-0', 1_000_000), ...zone('class/powercap/intel-rapl:0:0', 'dram', 0) });
      const { rapl, log } = source(root);
      await rapl.probe();
      await rapl.read(tick(0));
      await rm(join(root, PKG));
      await setUj(root, 'class/powercap/intel-rapl:0:0/energy_uj', 2_000);
      expect(await rapl.read(tick(1000))).toEqual({ gpus: [], cpus: [{ id: 'dram-0', kind: 'dram', energyCounterMj: 2, powerW: 0.002 }] });
      expect(await rapl.read(tick(2000))).toEqual({ gpus: [], cpus: [{ id: 'dram-0', kind: 'dram', energyCounterMj: 2, powerW: 0 }] });
      await setUj(root, PKG, 4_000_000);
      expect(await rapl.read(tick(3000))).toEqual({
        gpus: [],
        cpus: [
          { id: 'package-0', kind: 'cpu', energyCounterMj: 3_000, powerW: 1 },
          { id: 'dram-0', kind: 'dram', energyCounterMj: 2, powerW: 0 },
        ],
      });
      expect(log.warn).toHaveBeenCalledTimes(1);
      expect(messages(log.info)).toEqual(['rapl zone package-0 reads again']);
    });
  });

  describe('#probe failures', () => {
    const eaccesMessage = (root: string): string =>
      `permission denied reading ${root}/class/powercap/intel-rapl:0/energy_uj: RAPL energy_uj is root-only since CVE-2020-8694 (Platypus). ` +
      'Fix without running the agent as root: add AmbientCapabilities=CAP_DAC_READ_SEARCH to its systemd unit, ' +
      'or make energy_uj readable with a udev rule (chmod o+r, or a group the agent is in)';

    it('EACCES on energy_uj (simulated through readFile, since tests may run as root): disabled with one warning that names the fix', async () => {
      const root = await tree(await sysfsFixture('prometheus-procfs-intel-rapl-flat'));
      const denied = async (p: string): Promise<string> => {
        if (p.endsWith('/energy_uj')) throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
        return readFile(p, 'utf8');
      };
      const { rapl } = source(root, { readFile: denied });
      await expect(rapl.probe()).rejects.toEqual(new SourceUnavailable(eaccesMessage(root)));

      const log = fakeLog();
      const set = new SourceSet([rapl], log as unknown as Logger, 100);
      expect(await set.probe()).toEqual({ gpus: [], cpus: [] });
      expect(messages(log.warn)).toEqual([`source rapl disabled: ${eaccesMessage(root)}`]);
      expect(set.statuses).toEqual([{ name: 'rapl', state: 'disabled', reason: eaccesMessage(root).slice(0, 512) }]);
    });

    it.skipIf(process.getuid?.() === 0)('EACCES on energy_uj through chmod 000 (non-root only)', async () => {
      const root = await tree(await sysfsFixture('prometheus-procfs-intel-rapl-flat'));
      await chmod(join(root, 'class/powercap/intel-rapl:0/energy_uj'), 0o000);
      const { rapl } = source(root);
      await expect(rapl.probe()).rejects.toEqual(new SourceUnavailable(eaccesMessage(root)));
    });

    it.each([
      { case: 'no powercap folder', t: { 'devices/system/cpu/online': '0-3\n' } as SysfsTree },
      { case: 'powercap without intel-rapl zones (only intel-rapl-mmio)', t: zone('class/powercap/intel-rapl-mmio:0', 'package-0', 1) },
      { case: 'only zones that are not read (psys)', t: zone('class/powercap/intel-rapl:0', 'psys', 1) },
    ])('$case: SourceUnavailable', async ({ t }) => {
      const root = await tree(t);
      const { rapl } = source(root);
      await expect(rapl.probe()).rejects.toEqual(
        new SourceUnavailable(`no RAPL powercap zones under ${root}/class/powercap (no RAPL on this CPU or VM, or the intel_rapl_msr module is not loaded)`),
      );
    });
  });

  // Real RAPL is a device check: it runs only where the host has powercap zones.
  it.skipIf(!existsSync('/sys/class/powercap/intel-rapl'))('reads this machine’s /sys once (values in range)', async () => {
    const { rapl } = source('/sys');
    let inv;
    try {
      inv = await rapl.probe();
    } catch (err) {
      // Non-root without the capability: the one EACCES message is the expected outcome.
      expect(err).toBeInstanceOf(SourceUnavailable);
      return;
    }
    expect(inv.cpus.length).toBeGreaterThan(0);
    const first = await rapl.read(tick(0));
    await new Promise((r) => setTimeout(r, 200));
    const second = await rapl.read(tick(200));
    expect(second.cpus.map((c) => c.id)).toEqual(first.cpus.map((c) => c.id));
    for (const c of second.cpus) {
      expect(c.energyCounterMj).toBeGreaterThanOrEqual(0);
      expect(c.powerW).toBeGreaterThanOrEqual(0);
      expect(c.powerW).toBeLessThan(2000);
    }
  });
});
