/**
 * The nvidia-smi source end to end against test/bin/fake-nvidia-smi, which replays real
 * captures through the same command lines a real nvidia-smi answers, and plays known power
 * traces so energy can be checked against an exact integral.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, it } from 'vitest';
import { SourceUnavailable, type DeviceReadings, type GpuReading } from '../../src/source.js';
import { NvidiaSmiSource, type NvidiaSmiSourceOptions } from '../../src/sources/nvidia-smi.js';
import { fixture, fixtureText } from '../fixture.js';

const FAKE = fileURLToPath(new URL('../bin/fake-nvidia-smi', import.meta.url));
const MiB = 1_048_576;
const HELP = 'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__help-query-gpu.txt';
const H100_CSV = 'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.csv';
const A5000_XML = 'linux-x86_64__nvidia-rtx-a5000-x2__590.44.01__load.xml';
const RTX3080_XML = 'linux-x86_64__nvidia-geforce-rtx-3080__595.58.03__load.xml';
const RTX3080 = 'GPU-19d6d965-2acc-f646-00f8-4c76979aabb4';
const A5000 = ['GPU-12345678-aaaa-bbbb-cccc-0123456789ab', 'GPU-12345678-aaaa-bbbb-cccc-0123456789cd'];
const tick = { ts: 0, monoMs: 0 };

const dirs: string[] = [];
const sources: NvidiaSmiSource[] = [];

// Tests run concurrently (most of their time is waiting on child processes), so cleanup is at the end.
afterAll(async () => {
  await Promise.all(sources.map((s) => s.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A folder for the fake: captures copied under the names it reads, plus an optional trace. */
function fakeDir(xml: string, csv: string, trace?: object, list?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fake-nvidia-smi-'));
  dirs.push(dir);
  copyFileSync(fixture(`nvidia-smi/${HELP}`), join(dir, 'help-query-gpu.txt'));
  copyFileSync(fixture(`nvidia-smi/${xml}`), join(dir, 'q-x.xml'));
  copyFileSync(fixture(`nvidia-smi/${csv}`), join(dir, 'query-gpu.csv'));
  if (trace !== undefined) writeFileSync(join(dir, 'trace.json'), JSON.stringify(trace));
  if (list !== undefined) writeFileSync(join(dir, 'list.txt'), list);
  return dir;
}

interface Logged {
  readonly warnings: string[];
}

function makeSource(dir: string, env: Record<string, string> = {}, opts: Partial<NvidiaSmiSourceOptions> = {}): NvidiaSmiSource & Logged {
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (l: string) => warnings.push((JSON.parse(l) as { msg: string }).msg) });
  const s = Object.assign(
    new NvidiaSmiSource({ nvidiaSmiPath: FAKE, intervalMs: 1000, log, spawnTimeoutMs: 10_000, env: { FAKE_NVIDIA_SMI_DIR: dir, ...env }, ...opts }),
    { warnings },
  );
  sources.push(s);
  return s;
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface TraceGpu {
  readonly baseW: number;
  readonly dipW: number;
  readonly periodS: number;
  readonly dipS: number;
}

/** Seconds spent in dips between the trace start and `x` s after it (x may be negative). */
function dipSeconds(g: TraceGpu, x: number): number {
  const k = Math.floor(x / g.periodS);
  return k * g.dipS + Math.min(x - k * g.periodS, g.dipS);
}

/** Exact energy in mJ of the trace between two epoch-ms instants: base power minus what the dips take away. */
function exactMj(g: TraceGpu, startMs: number, fromMs: number, toMs: number): number {
  const a = (fromMs - startMs) / 1000;
  const b = (toMs - startMs) / 1000;
  return 1000 * (g.baseW * (b - a) - (g.baseW - g.dipW) * (dipSeconds(g, b) - dipSeconds(g, a)));
}

describe.concurrent('NvidiaSmiSource', { timeout: 15_000 }, () => {
  describe('#probe', () => {
    it('returns the -q -x inventory and streams at the report interval when the average is filled', async ({ expect }) => {
      const src = makeSource(fakeDir(A5000_XML, H100_CSV), {}, { intervalMs: 200 });
      expect(await src.probe()).toStrictEqual({
        gpus: [
          { uuid: A5000[0], index: 0, name: 'NVIDIA RTX A5000', minor: 1, pciBusId: '00000000:81:00.0', memTotalBytes: 24564 * MiB, powerLimitW: 230, hasEnergyCounter: false },
          { uuid: A5000[1], index: 1, name: 'NVIDIA RTX A5000', minor: 0, pciBusId: '00000000:C1:00.0', memTotalBytes: 24564 * MiB, powerLimitW: 230, hasEnergyCounter: false },
        ],
        cpus: [],
      });
      expect(src.childIntervalMs).toBe(200);
      expect(src.childArgs).toStrictEqual([
        '--query-gpu=timestamp,uuid,power.draw.average,power.draw,power.draw.instant,temperature.gpu,temperature.memory,utilization.gpu,memory.used,clocks.current.sm',
        '--format=csv,noheader,nounits',
        '-lms',
        '200',
      ]);
      expect(src.warnings).toStrictEqual([]);
    });

    it('samples at 10 Hz when power.draw.average is listed but not filled (Turing)', async ({ expect }) => {
      const src = makeSource(fakeDir(RTX3080_XML, 'linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04__load.csv'));
      await src.probe();
      expect(src.childIntervalMs).toBe(100);
      expect(src.childArgs.slice(2)).toStrictEqual(['-lms', '100']);
    });

    it('takes MIG UUIDs and profiles from -L when -q -x shows MIG on', async ({ expect }) => {
      // The H200 MIG listing, re-addressed to the A100 of the MIG -q -x capture so the two describe one node.
      const a100 = 'GPU-513536b6-7d19-9063-b049-1e69664bb298';
      const list = fixtureText('nvidia-smi/linux-x86_64__nvidia-h200-mig__590.48.01__list.txt').replace('GPU-00000000-0000-0000-0000-000000000000', a100);
      const src = makeSource(fakeDir('linux-x86_64__nvidia-a100-sxm4-80gb__535.54.03__mig.xml', H100_CSV, undefined, list));
      const inv = await src.probe();
      expect(inv.gpus.map((g) => ({ uuid: g.uuid, migSlices: g.migSlices, migDevices: g.migDevices }))).toStrictEqual([
        {
          uuid: a100,
          migSlices: 7,
          migDevices: [
            { uuid: 'MIG-00000000-0000-0000-0000-000000000000', index: 0, profile: '1c.3g.71gb', slices: 1 },
            { uuid: 'MIG-00000001-0000-0000-0000-000000000001', index: 1, profile: '2c.3g.71gb', slices: 2 },
            { uuid: 'MIG-00000002-0000-0000-0000-000000000002', index: 2, profile: '2g.35gb', slices: 2 },
            { uuid: 'MIG-00000003-0000-0000-0000-000000000003', index: 3, profile: '1g.18gb', slices: 1 },
            { uuid: 'MIG-00000004-0000-0000-0000-000000000004', index: 4, profile: '1g.18gb', slices: 1 },
          ],
        },
      ]);
      expect(src.warnings).toStrictEqual([]);
    });

    it('is unavailable, naming the fix, when the binary is missing', async ({ expect }) => {
      const src = makeSource(fakeDir(RTX3080_XML, H100_CSV), {}, { nvidiaSmiPath: '/nonexistent/nvidia-smi' });
      const err = await src.probe().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SourceUnavailable);
      expect((err as Error).message).toBe('"/nonexistent/nvidia-smi" not found: install the NVIDIA driver utilities, or set nvidiaSmiPath to the binary');
    });

    it('is unavailable, quoting nvidia-smi, when the driver does not answer', async ({ expect }) => {
      const src = makeSource(fakeDir(RTX3080_XML, H100_CSV), { FAKE_NVIDIA_SMI_MODE: 'fail' });
      const err = await src.probe().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SourceUnavailable);
      expect((err as Error).message).toBe(
        `"${FAKE} --help-query-gpu" failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. ` +
          'Make sure that the latest NVIDIA driver is installed and running.; check that the NVIDIA driver is loaded and that nvidia-smi works as the agent user',
      );
    });
  });

  describe('#read', () => {
    it('returns the streamed gauges and an energy counter integrated from every row', async ({ expect }) => {
      const src = makeSource(fakeDir(A5000_XML, H100_CSV), {}, { intervalMs: 200 });
      await src.probe();
      await waitFor('3 rows per GPU', () => A5000.every((u) => (src.stats.gpus[u]?.samples ?? 0) >= 3));
      const readings = await src.read(tick);
      const stats = src.stats;
      const want: GpuReading[] = A5000.map((uuid) => {
        const g = stats.gpus[uuid];
        // Constant 631.95 W from the capture: the integral is power × elapsed row time.
        expect(Math.abs((g?.energyMj ?? 0) - 631.95 * ((g?.lastTsMs ?? 0) - (g?.firstTsMs ?? 0)))).toBeLessThan(1e-6);
        return { uuid, powerW: 631.95, tempC: 59, memTempC: 54, utilRatio: 1, memUsedBytes: 19818 * MiB, smClockMHz: 1980, energyCounterMj: Math.floor(g?.energyMj ?? 0) };
      });
      expect(readings).toStrictEqual({ gpus: want, cpus: [] });
      expect(readings.gpus.every((g) => (g.energyCounterMj ?? 0) > 0)).toBe(true);
      expect(stats).toMatchObject({ garbageLines: 0, childExits: 0, spawnErrors: 0 });
    });

    it('kills the child on stop()', async ({ expect }) => {
      const src = makeSource(fakeDir(RTX3080_XML, H100_CSV));
      await src.probe();
      const pid = src.childPid;
      expect(pid !== undefined && alive(pid)).toBe(true);
      await src.stop();
      expect(alive(pid ?? -1)).toBe(false);
      expect(src.childPid).toBeUndefined();
    });
  });

  describe('faults', () => {
    const steady = { startMs: 0, gpus: [{ baseW: 300, dipW: 300, periodS: 1, dipS: 0 }] };

    it('restarts a child that goes silent for 3 intervals (hang)', async ({ expect }) => {
      const dir = fakeDir(RTX3080_XML, H100_CSV, steady);
      const src = makeSource(dir, { FAKE_NVIDIA_SMI_MODE: 'hang', FAKE_NVIDIA_SMI_TRACE: join(dir, 'trace.json') }, { intervalMs: 100 });
      await src.probe();
      await waitFor('two watchdog kills', () => src.stats.watchdogKills >= 2 && src.stats.lines >= 7);
      const s = src.stats;
      expect(s.childStarts).toBeGreaterThanOrEqual(3);
      expect(s.childExits).toBe(0);
      // The silent stretch is a gap, not integrated; the restarted child's rows are.
      expect(s.gpus[RTX3080]?.gaps).toBeGreaterThanOrEqual(1);
      expect(src.warnings.filter((w) => w.includes('printed nothing'))).toHaveLength(1);
      const [r] = (await src.read(tick)).gpus;
      expect(r?.energyCounterMj).toBeGreaterThan(0);
    });

    it('counts and restarts a child that exits, and never reports zero power', async ({ expect }) => {
      const dir = fakeDir(RTX3080_XML, H100_CSV, steady);
      const src = makeSource(dir, { FAKE_NVIDIA_SMI_MODE: 'exit', FAKE_NVIDIA_SMI_TRACE: join(dir, 'trace.json') }, { intervalMs: 100 });
      await src.probe();
      const seen: DeviceReadings[] = [];
      await waitFor('two exits and a restart', () => {
        void src.read(tick).then((r) => seen.push(r));
        return src.stats.childExits >= 2 && src.stats.childStarts >= 3;
      });
      expect(seen.flatMap((r) => r.gpus.map((g) => g.powerW))).not.toContain(0);
      expect(seen.flatMap((r) => r.gpus.map((g) => g.powerW)).filter((w) => w !== undefined)).toContain(300);
      expect(src.warnings.filter((w) => w.includes('streaming child ended'))).toStrictEqual([
        'nvidia-smi streaming child ended (exit code 15): Unable to determine the device handle for GPU 00000000:01:00.0: Unknown Error; restarting',
      ]);
    });

    it('skips and counts garbage lines, joins rows split across writes, and keeps integrating', async ({ expect }) => {
      const dir = fakeDir(RTX3080_XML, H100_CSV, steady);
      const src = makeSource(dir, { FAKE_NVIDIA_SMI_MODE: 'garbage', FAKE_NVIDIA_SMI_TRACE: join(dir, 'trace.json') }, { intervalMs: 100 });
      await src.probe();
      const counters: number[] = [];
      const powers: Array<number | undefined> = [];
      await waitFor('4 garbage lines', () => {
        void src.read(tick).then((r) => {
          powers.push(r.gpus[0]?.powerW);
          counters.push(r.gpus[0]?.energyCounterMj ?? -1);
        });
        return src.stats.garbageLines >= 4;
      });
      const s = src.stats;
      expect(s.lines).toBeGreaterThanOrEqual(8);
      expect(s.childExits).toBe(0);
      // Absent (a row older than 3 intervals on a loaded machine) is allowed; 0 never is.
      expect(powers).not.toContain(0);
      expect(new Set(powers.filter((p) => p !== undefined))).toStrictEqual(new Set([300]));
      expect(counters).toStrictEqual([...counters].sort((a, b) => a - b));
      expect(counters[counters.length - 1]).toBeGreaterThan(0);
      expect(src.warnings.filter((w) => w.includes('not a GPU row'))).toHaveLength(1);
    });
  });

  describe('energy accuracy', () => {
    it('integrates a bursty load (0.3 s dips every 2 s) within 0.5 % with instantaneous power only', { timeout: 25_000 }, async ({ expect }) => {
      const gpu: TraceGpu = { baseW: 600, dipW: 150, periodS: 2, dipS: 0.3 };
      const startMs = Date.now();
      const dir = fakeDir(RTX3080_XML, H100_CSV, { startMs, gpus: [gpu] });
      const src = makeSource(dir, {
        FAKE_NVIDIA_SMI_TRACE: join(dir, 'trace.json'),
        FAKE_NVIDIA_SMI_DROP_FIELDS: 'power.draw.average',
        // The fake prints local time, as nvidia-smi does; in UTC its timestamps are epoch ms.
        TZ: 'UTC',
      });
      await src.probe();
      expect(src.childIntervalMs).toBe(100);
      await waitFor('the first rows', () => (src.stats.gpus[RTX3080]?.samples ?? 0) >= 2);

      // Read in the middle of a 600 W stretch (1.15 s into a period), three whole periods apart,
      // so the window holds exactly three dips and starts and ends away from a power step.
      const snapshot = async (): Promise<{ counterMj: number; tsMs: number; gaps: number }> => {
        const r = await src.read(tick);
        const s = src.stats.gpus[RTX3080];
        return { counterMj: r.gpus[0]?.energyCounterMj ?? Number.NaN, tsMs: s?.lastTsMs ?? Number.NaN, gaps: s?.gaps ?? Number.NaN };
      };
      const phaseMs = (Date.now() - startMs + 300) % 2000;
      await new Promise((r) => setTimeout(r, 300 + ((1150 - phaseMs + 2000) % 2000)));
      const a = await snapshot();
      await new Promise((r) => setTimeout(r, 6000));
      const b = await snapshot();

      const exact = exactMj(gpu, startMs, a.tsMs, b.tsMs);
      const measured = b.counterMj - a.counterMj;
      expect(b.gaps).toBe(0);
      expect(b.tsMs - a.tsMs).toBeGreaterThan(5500);
      expect(Math.abs(measured - exact) / exact).toBeLessThan(0.005);
    });
  });
});
