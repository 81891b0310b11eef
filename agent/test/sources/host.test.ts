import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { HostGaugeSchema, HostInfoSchema } from '@stroom/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SourceUnavailable, type Tick } from '../../src/source.js';
import { HostSource, type SystemInfo } from '../../src/sources/host.js';
import { materialiseSysfs, removeSysfs } from '../sysfs.js';

const capture = (name: string): string => readFileSync(new URL(`../fixtures/proc/${name}`, import.meta.url), 'utf8');
const tick = (monoMs: number): Tick => ({ ts: 1_764_496_800_000 + monoMs, monoMs });

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map(removeSysfs));
});
async function procTree(files: Record<string, string>): Promise<string> {
  const root = await materialiseSysfs(files);
  roots.push(root);
  return root;
}

/** systeminformation stand-in with the values of an H100 node (synthetic). */
function fakeSi(overrides: Partial<SystemInfo> = {}): SystemInfo {
  return {
    cpu: async () => ({ manufacturer: 'Intel', brand: 'Xeon® Platinum 8480+', cores: 224 }),
    mem: async () => ({ total: 2_164_154_781_696 }),
    osInfo: async () => ({ hostname: 'gcn12', distro: 'Rocky Linux', release: '9.4 (Blue Onyx)', kernel: '5.14.0-427.13.1.el9_4.x86_64' }),
    cpuTemperature: async () => ({ main: 41.5 }),
    ...overrides,
  };
}
const hang = <T>(): Promise<T> => new Promise<T>(() => {});
const nodeOs = () => ({
  hostname: os.hostname(),
  ...(os.cpus()[0]?.model ? { cpuModel: os.cpus()[0]?.model.trim() } : {}),
  logicalCpus: os.availableParallelism(),
  memTotalBytes: os.totalmem(),
  kernel: os.release(),
});

describe('HostSource', () => {
  describe('#read', () => {
    it('real captures: memory and load on every tick, utilisation from the second tick on', async () => {
      const root = await procTree({ stat: capture('stat-t0.txt'), meminfo: capture('meminfo.txt'), loadavg: capture('loadavg.txt') });
      const host = new HostSource({ procRoot: root, log: { warn: vi.fn() }, si: fakeSi() });
      const mem = { memUsedBytes: 1_473_286_144, memTotalBytes: 25_276_026_880, load1: 81.24 };
      expect(await host.read(tick(0))).toEqual({ gpus: [], cpus: [], host: mem });
      await writeFile(join(root, 'stat'), capture('stat-t1.txt'));
      // Δtotal 405, Δidle 0 → 1; cpu0 202 busy of 202; cpu1 201 of 202
      const r = await host.read(tick(2000));
      expect(r).toEqual({ gpus: [], cpus: [], host: { cpuUtilRatio: 1, coreUtilRatio: [1, 201 / 202], ...mem } });
      expect(HostGaugeSchema.parse(r.host)).toEqual(r.host);
    });

    it('missing files cost only their fields, never the read', async () => {
      const root = await procTree({ loadavg: '0.50 0.40 0.30 1/2 3\n' });
      const host = new HostSource({ procRoot: root, log: { warn: vi.fn() }, si: fakeSi() });
      expect(await host.read(tick(0))).toEqual({ gpus: [], cpus: [], host: { load1: 0.5 } });
      expect(await host.read(tick(1000))).toEqual({ gpus: [], cpus: [], host: { load1: 0.5 } });
    });
  });

  describe('#probe', () => {
    it('inventory from systeminformation, CPU temperature kept aside', async () => {
      const root = await procTree({ stat: capture('stat-t0.txt') });
      const log = { warn: vi.fn() };
      const host = new HostSource({ procRoot: root, log, si: fakeSi() });
      const inv = await host.probe();
      expect(inv).toEqual({
        gpus: [],
        cpus: [],
        host: {
          hostname: 'gcn12',
          cpuModel: 'Intel Xeon® Platinum 8480+',
          logicalCpus: 224,
          memTotalBytes: 2_164_154_781_696,
          os: 'Rocky Linux 9.4 (Blue Onyx)',
          kernel: '5.14.0-427.13.1.el9_4.x86_64',
        },
      });
      expect(HostInfoSchema.parse(inv.host)).toEqual(inv.host);
      expect(host.cpuTempC).toBe(41.5);
      expect(log.warn).not.toHaveBeenCalled();
    });

    it.each([
      { case: 'no sensor (null)', temp: async () => ({ main: null }) },
      { case: 'old sentinel -1', temp: async () => ({ main: -1 }) },
      { case: 'sensors fail', temp: async () => Promise.reject(new Error('sensors: not found')) },
      { case: 'sensors hang past the timeout', temp: () => hang<{ main: number | null }>() },
    ])('CPU temperature absent when $case; the rest of the inventory stands', async ({ temp }) => {
      const root = await procTree({ stat: capture('stat-t0.txt') });
      const host = new HostSource({ procRoot: root, log: { warn: vi.fn() }, si: fakeSi({ cpuTemperature: temp }), inventoryTimeoutMs: 50 });
      const inv = await host.probe();
      expect(inv.host?.hostname).toBe('gcn12');
      expect(host.cpuTempC).toBeUndefined();
    });

    it.each([
      {
        case: 'systeminformation hangs',
        si: fakeSi({ osInfo: () => hang() }),
        warning: 'host inventory: systeminformation did not answer within 50 ms; using node:os (no OS distribution)',
      },
      {
        case: 'systeminformation fails',
        si: fakeSi({ cpu: async () => Promise.reject(new Error('spawn ENOENT')) }),
        warning: 'host inventory: systeminformation failed (spawn ENOENT); using node:os (no OS distribution)',
      },
    ])('$case: one warning, inventory from node:os', async ({ si, warning }) => {
      const root = await procTree({ stat: capture('stat-t0.txt') });
      const log = { warn: vi.fn() };
      const host = new HostSource({ procRoot: root, log, si, inventoryTimeoutMs: 50 });
      expect(await host.probe()).toEqual({ gpus: [], cpus: [], host: nodeOs() });
      expect(log.warn.mock.calls.map((c) => c[1])).toEqual([warning]);
    });

    it('no /proc/stat: SourceUnavailable', async () => {
      const root = await procTree({ meminfo: capture('meminfo.txt') });
      const host = new HostSource({ procRoot: root, log: { warn: vi.fn() }, si: fakeSi() });
      await expect(host.probe()).rejects.toEqual(new SourceUnavailable(`cannot read CPU times from ${root}/stat`));
    });
  });

  describe('this machine', () => {
    it('reads the real /proc (values in range) and the real systeminformation inventory once', { timeout: 30_000 }, async () => {
      const log = { warn: vi.fn() };
      const host = new HostSource({ log, inventoryTimeoutMs: 20_000 });
      const inv = await host.probe();
      expect(HostInfoSchema.parse(inv.host)).toEqual(inv.host);
      expect(inv.host?.hostname).toBe(os.hostname());
      expect(inv.host?.kernel).toBe(os.release());
      expect(inv.host?.logicalCpus).toBeGreaterThan(0);
      expect(inv.host?.memTotalBytes).toBeGreaterThan(0);

      const first = await host.read(tick(0));
      expect(first.host?.cpuUtilRatio).toBeUndefined();
      await new Promise((r) => setTimeout(r, 300));
      const { host: g } = await host.read(tick(300));
      expect(HostGaugeSchema.parse(g)).toEqual(g);
      expect(g?.cpuUtilRatio).toBeGreaterThanOrEqual(0);
      expect(g?.cpuUtilRatio).toBeLessThanOrEqual(1);
      expect(g?.coreUtilRatio?.length).toBeGreaterThan(0);
      expect(g?.coreUtilRatio?.length).toBeLessThanOrEqual(os.cpus().length);
      expect(g?.memTotalBytes).toBeGreaterThan(0);
      expect(g?.memUsedBytes).toBeGreaterThan(0);
      expect(g?.memUsedBytes).toBeLessThanOrEqual(g?.memTotalBytes ?? 0);
      // /proc/meminfo and sysinfo(2) count the same pages; allow 1 % for odd kernels
      expect(Math.abs((g?.memTotalBytes ?? 0) - os.totalmem()) / os.totalmem()).toBeLessThan(0.01);
      expect(g?.load1).toBeGreaterThanOrEqual(0);
    });
  });
});
