import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GpuInfoSchema } from '@stroom/protocol';
import { Meter } from '../../src/energy/meter.js';
import { SourceUnavailable, type DeviceReadings, type Tick } from '../../src/source.js';
import { NvmlSource } from '../../src/sources/nvml.js';
import { buildFakeNvml } from '../fixtures/fake-nvml/build.js';

const fake = buildFakeNvml();
const CI = process.env['CI'] === 'true';
// Without a compiler the fake-library tests are skipped locally; in CI they run and fail.
const itFake = it.skipIf(fake.libraryPath === undefined && !CI);

function libraryPath(): string {
  if (fake.libraryPath === undefined) throw new Error(fake.reason);
  return fake.libraryPath;
}

const T0 = 1_764_496_800_000;
const tick = (ms: number): Tick => ({ ts: T0 + ms, monoMs: ms });

const GPU0 = 'GPU-5a2f0c1e-7b3d-4e8a-9c61-0d2e4f6a8b10';
const GPU1 = 'GPU-9e1d2c3b-4a5f-6e7d-8c9b-0a1b2c3d4e5f';
const GPU2 = 'GPU-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6';
const MIG0 = 'MIG-2b3c4d5e-6f70-5182-93a4-b5c6d7e8f901';
const MIG1 = 'MIG-3c4d5e6f-7081-5293-a4b5-c6d7e8f90a12';
const MIG3 = 'MIG-4d5e6f70-8192-53a4-b5c6-d7e8f90a1b23';

/**
 * GPU 0: H100 with an energy counter, lost at 2 s and 3 s, back at 4 s with its counter
 * continued, no temperature at 5 s. GPU 1: P100, no energy counter and no memory temperature.
 * GPU 2: H100 in MIG mode (3g + 2g + 1g, MIG index 2 empty) whose counter restarts at 3 s;
 * as on real MIG GPUs, it has no utilisation (NOT_SUPPORTED).
 */
const TRACE = `# three GPUs, one row per GPU per second
gpu 0 ${GPU0} 0 00000000:18:00.0 700000 85520809984 0 NVIDIA H100 80GB HBM3
gpu 1 ${GPU1} 4 00000000:3B:00.0 250000 17071734784 - Tesla P100-PCIE-16GB
gpu 2 ${GPU2} 2 00000000:9A:00.0 700000 85520809984 7 NVIDIA H100 80GB HBM3
mig 2 0 ${MIG0} 3 40192 NVIDIA H100 80GB HBM3 MIG 3g.40gb
mig 2 1 ${MIG1} 2 20096 NVIDIA H100 80GB HBM3 MIG 2g.20gb
mig 2 3 ${MIG3} 1 10048 NVIDIA H100 80GB HBM3 MIG 1g.10gb
#   t_ms gpu state power_mW energy_mJ util mem_util temp mem_temp sm_MHz mem_used_B pids
row 0    0 ok   312500 1000000000 87 41 55 62 1980 42949672960 4242,4243
row 1000 0 ok   330000 1000321250 91 44 56 63 1980 42949672960 4242,4243
row 2000 0 lost -      -          -  -  -  -  -    -           -
row 3000 0 lost -      -          -  -  -  -  -    -           -
row 4000 0 ok   120000 1001100000 0  0  50 60 345  0           none
row 5000 0 ok   118000 1001219000 0  0  -  59 345  0           none
row 0    1 ok   35000  -          0   0  33 - 1328 0          none
row 1000 1 ok   140000 -          100 12 41 - 1328 8589934592 5151
row 2000 1 ok   250000 -          100 14 52 - 1328 8589934592 5151
row 3000 1 ok   249000 -          100 14 60 - 1328 8589934592 5151
row 4000 1 ok   90000  -          30  3  58 - 1328 0          none
row 5000 1 ok   36000  -          0   0  50 - 1328 0          none
row 0    2 ok   410000 52000000   -   -  61 70 1755 60129542144 7001,7002,7003
row 1000 2 ok   415000 52412345   -   -  62 71 1755 60129542144 7001,7002,7003
row 2000 2 ok   420000 52830000   -   -  63 72 1755 60129542144 7001,7002,7003
row 3000 2 ok   65000  1500       -   -  45 50 345  0           none
row 4000 2 ok   405000 402000     -   -  55 60 1755 60129542144 7004
row 5000 2 ok   395000 801234     -   -  60 68 1755 60129542144 7004
`;

/** What the source must return at each second of TRACE, every field written out. */
const EXPECTED: ReadonlyArray<{ ms: number; gpus: DeviceReadings['gpus'] }> = [
  {
    ms: 0,
    gpus: [
      { uuid: GPU0, energyCounterMj: 1_000_000_000, powerW: 312.5, utilRatio: 0.87, tempC: 55, memTempC: 62, smClockMHz: 1980, memUsedBytes: 42_949_672_960 },
      { uuid: GPU1, powerW: 35, utilRatio: 0, tempC: 33, smClockMHz: 1328, memUsedBytes: 0 },
      { uuid: GPU2, energyCounterMj: 52_000_000, powerW: 410, tempC: 61, memTempC: 70, smClockMHz: 1755, memUsedBytes: 60_129_542_144 },
    ],
  },
  {
    ms: 1000,
    gpus: [
      { uuid: GPU0, energyCounterMj: 1_000_321_250, powerW: 330, utilRatio: 0.91, tempC: 56, memTempC: 63, smClockMHz: 1980, memUsedBytes: 42_949_672_960 },
      { uuid: GPU1, powerW: 140, utilRatio: 1, tempC: 41, smClockMHz: 1328, memUsedBytes: 8_589_934_592 },
      { uuid: GPU2, energyCounterMj: 52_412_345, powerW: 415, tempC: 62, memTempC: 71, smClockMHz: 1755, memUsedBytes: 60_129_542_144 },
    ],
  },
  {
    ms: 2000,
    gpus: [
      { uuid: GPU1, powerW: 250, utilRatio: 1, tempC: 52, smClockMHz: 1328, memUsedBytes: 8_589_934_592 },
      { uuid: GPU2, energyCounterMj: 52_830_000, powerW: 420, tempC: 63, memTempC: 72, smClockMHz: 1755, memUsedBytes: 60_129_542_144 },
    ],
  },
  {
    ms: 3000,
    gpus: [
      { uuid: GPU1, powerW: 249, utilRatio: 1, tempC: 60, smClockMHz: 1328, memUsedBytes: 8_589_934_592 },
      { uuid: GPU2, energyCounterMj: 1500, powerW: 65, tempC: 45, memTempC: 50, smClockMHz: 345, memUsedBytes: 0 },
    ],
  },
  {
    ms: 4000,
    gpus: [
      { uuid: GPU0, energyCounterMj: 1_001_100_000, powerW: 120, utilRatio: 0, tempC: 50, memTempC: 60, smClockMHz: 345, memUsedBytes: 0 },
      { uuid: GPU1, powerW: 90, utilRatio: 0.3, tempC: 58, smClockMHz: 1328, memUsedBytes: 0 },
      { uuid: GPU2, energyCounterMj: 402_000, powerW: 405, tempC: 55, memTempC: 60, smClockMHz: 1755, memUsedBytes: 60_129_542_144 },
    ],
  },
  {
    ms: 5000,
    gpus: [
      { uuid: GPU0, energyCounterMj: 1_001_219_000, powerW: 118, utilRatio: 0, memTempC: 59, smClockMHz: 345, memUsedBytes: 0 },
      { uuid: GPU1, powerW: 36, utilRatio: 0, tempC: 50, smClockMHz: 1328, memUsedBytes: 0 },
      { uuid: GPU2, energyCounterMj: 801_234, powerW: 395, tempC: 60, memTempC: 68, smClockMHz: 1755, memUsedBytes: 60_129_542_144 },
    ],
  },
];

const EXPECTED_INVENTORY = {
  gpus: [
    { uuid: GPU0, index: 0, name: 'NVIDIA H100 80GB HBM3', minor: 0, pciBusId: '00000000:18:00.0', memTotalBytes: 85_520_809_984, powerLimitW: 700, hasEnergyCounter: true },
    { uuid: GPU1, index: 1, name: 'Tesla P100-PCIE-16GB', minor: 4, pciBusId: '00000000:3B:00.0', memTotalBytes: 17_071_734_784, powerLimitW: 250, hasEnergyCounter: false },
    {
      uuid: GPU2,
      index: 2,
      name: 'NVIDIA H100 80GB HBM3',
      minor: 2,
      pciBusId: '00000000:9A:00.0',
      memTotalBytes: 85_520_809_984,
      powerLimitW: 700,
      hasEnergyCounter: true,
      migDevices: [
        { uuid: MIG0, index: 0, profile: '3g.40gb', slices: 3 },
        { uuid: MIG1, index: 1, profile: '2g.20gb', slices: 2 },
        { uuid: MIG3, index: 3, profile: '1g.10gb', slices: 1 },
      ],
      migSlices: 7,
    },
  ],
  cpus: [],
};

interface LogLine {
  level: number;
  msg: string;
}

let dir: string;
let setTimeMs: (ms: number) => void = () => undefined;
const sources: NvmlSource[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stroom-nvml-test-'));
  if (fake.libraryPath !== undefined) {
    // Same path as the source loads, so the same loaded copy: this pins the fake's clock.
    setTimeMs = koffi.load(fake.libraryPath).func('void fakeNvmlSetTimeMs(long long ms)') as (ms: number) => void;
  }
});

afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
  delete process.env['FAKE_NVML_LOG'];
  delete process.env['FAKE_NVML_TRACE'];
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A source over `trace`, with the fake's clock at 0 and its log lines captured. */
function open(trace: string, name: string): { source: NvmlSource; logs: LogLine[] } {
  const path = join(dir, `${name}.trace`);
  writeFileSync(path, trace);
  process.env['FAKE_NVML_TRACE'] = path;
  setTimeMs(0);
  const logs: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as LogLine) });
  const source = new NvmlSource({ libraryPath: libraryPath(), log });
  sources.push(source);
  return { source, logs };
}

async function readAt(source: NvmlSource, ms: number): Promise<DeviceReadings> {
  setTimeMs(ms);
  return source.read(tick(ms));
}

describe('NvmlSource', () => {
  it('has a C compiler to build the fake libnvidia-ml', (ctx) => {
    if (fake.libraryPath !== undefined) return;
    if (CI) throw new Error(`${fake.reason} (CI=true: the NVML tests must not be skipped)`);
    ctx.skip(fake.reason);
  });

  describe('#probe', () => {
    itFake('returns the whole inventory: minor, PCI bus id, limits, counters and MIG devices', async () => {
      const { source } = open(TRACE, 'inventory');
      const inventory = await source.probe();
      expect(inventory).toEqual(EXPECTED_INVENTORY);
      // Nothing beyond the wire schema: parsing strips unknown keys and must change nothing.
      for (const gpu of inventory.gpus) expect(GpuInfoSchema.parse(gpu)).toEqual(gpu);
    });

    it('throws SourceUnavailable naming the fix when the library is missing', async () => {
      const log = pino({ level: 'silent' });
      const source = new NvmlSource({ libraryPath: join(tmpdir(), 'no-such-dir', 'libnvidia-ml.so.1'), log });
      const err = await source.probe().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SourceUnavailable);
      expect((err as Error).message).toMatch(/^cannot load .*libnvidia-ml\.so\.1 \(.+\): install the NVIDIA driver, or set --nvml-lib to the path of libnvidia-ml\.so\.1$/);
    });

    itFake('throws SourceUnavailable with the return code and the fix when nvmlInit fails', async () => {
      const { source } = open(`option init_rc 9\n${TRACE}`, 'init-fails');
      await expect(source.probe()).rejects.toThrow(
        new SourceUnavailable('nvmlInit_v2 failed with NVML_ERROR_DRIVER_NOT_LOADED (9): the NVIDIA kernel driver is not loaded: load the NVIDIA kernel driver (`nvidia-smi` must work on this node)'),
      );
    });

    itFake('throws SourceUnavailable when NVML sees no GPU', async () => {
      const { source } = open('# no gpu lines\n', 'no-gpus');
      await expect(source.probe()).rejects.toThrow(SourceUnavailable);
      await expect(source.probe()).rejects.toThrow(/NVML found no GPU on this node/);
    });
  });

  describe('#read', () => {
    itFake('returns every field of every tick as the trace has it, energy counters exactly', async () => {
      const { source } = open(TRACE, 'ticks');
      await source.probe();
      const got: Array<{ ms: number; gpus: DeviceReadings['gpus'] }> = [];
      for (const { ms } of EXPECTED) got.push({ ms, gpus: (await readAt(source, ms)).gpus });
      expect(got).toEqual(EXPECTED);
    });

    itFake('leaves out a GPU without an energy counter from energyCounterMj and never reads it as 0', async () => {
      const { source } = open(TRACE, 'no-counter');
      const inventory = await source.probe();
      expect(inventory.gpus.find((g) => g.uuid === GPU1)?.hasEnergyCounter).toBe(false);
      for (const { ms } of EXPECTED) {
        const gpu1 = (await readAt(source, ms)).gpus.find((g) => g.uuid === GPU1);
        expect(gpu1).toBeDefined();
        expect(gpu1).not.toHaveProperty('energyCounterMj');
        expect(gpu1).not.toHaveProperty('memTempC');
      }
    });

    itFake('omits a lost GPU with one warning, counts it, and takes it back with its counter', async () => {
      const { source, logs } = open(TRACE, 'lost');
      await source.probe();
      const seen: Array<{ ms: number; gpu0: number | undefined }> = [];
      for (const { ms } of EXPECTED) {
        const gpu0 = (await readAt(source, ms)).gpus.find((g) => g.uuid === GPU0);
        seen.push({ ms, gpu0: gpu0?.energyCounterMj });
      }
      expect(seen).toEqual([
        { ms: 0, gpu0: 1_000_000_000 },
        { ms: 1000, gpu0: 1_000_321_250 },
        { ms: 2000, gpu0: undefined },
        { ms: 3000, gpu0: undefined },
        { ms: 4000, gpu0: 1_001_100_000 },
        { ms: 5000, gpu0: 1_001_219_000 },
      ]);
      expect(logs.map(({ level, msg }) => ({ level, msg }))).toEqual([
        { level: 40, msg: `GPU 0 (${GPU0}) is lost (NVML_ERROR_GPU_IS_LOST (15): the GPU fell off the bus or is otherwise inaccessible); its readings are left out until it answers again` },
        { level: 30, msg: `GPU 0 (${GPU0}) answers again` },
      ]);
      expect(source.stats).toEqual({ reads: 6, lostReadings: 2, lostEvents: 1, fieldErrors: 0 });
    });

    itFake('leaves out a field that fails with another error, counts it, and drops the GPU when any call says lost', async () => {
      const trace = `gpu 0 ${GPU0} 0 00000000:18:00.0 700000 85520809984 0 NVIDIA H100 80GB HBM3
row 0    0 ok 312500 1000000000 87 41 55  62   1980 42949672960 none
row 1000 0 ok !17    1000321250 91 44 56  !999 1980 42949672960 none
row 2000 0 ok 330000 1000642500 91 44 !15 63   1980 42949672960 none
`;
      const { source, logs } = open(trace, 'field-errors');
      await source.probe();
      expect([(await readAt(source, 1000)).gpus, (await readAt(source, 2000)).gpus]).toEqual([
        [{ uuid: GPU0, energyCounterMj: 1_000_321_250, utilRatio: 0.91, tempC: 56, smClockMHz: 1980, memUsedBytes: 42_949_672_960 }],
        [],
      ]);
      expect(source.stats).toEqual({ reads: 2, lostReadings: 1, lostEvents: 1, fieldErrors: 2 });
      expect(logs.map((l) => l.level)).toEqual([40]);
    });

    itFake('returns no readings after stop', async () => {
      const { source } = open(TRACE, 'after-stop');
      await source.probe();
      await source.stop();
      expect(await source.read(tick(0))).toEqual({ gpus: [], cpus: [] });
    });
  });

  describe('#processes', () => {
    itFake('lists compute processes per GPU, nothing for a lost GPU', async () => {
      const { source } = open(TRACE, 'processes');
      await source.probe();
      setTimeMs(0);
      expect([GPU0, GPU1, GPU2].map((u) => source.processes(u))).toEqual([
        { count: 2, pids: [4242, 4243] },
        { count: 0, pids: [] },
        { count: 3, pids: [7001, 7002, 7003] },
      ]);
      setTimeMs(2000);
      expect(source.processes(GPU0)).toBeUndefined();
      expect(source.processes('GPU-not-here')).toBeUndefined();
    });

    itFake('reads pids from the 32-byte entries of R535-era drivers', async () => {
      const { source } = open(`option proc_stride 32\n${TRACE}`, 'processes-wide');
      await source.probe();
      setTimeMs(0);
      expect(source.processes(GPU2)).toEqual({ count: 3, pids: [7001, 7002, 7003] });
    });
  });

  describe('#stop', () => {
    itFake('calls nvmlShutdown once after nvmlInit_v2', async () => {
      const log = join(dir, 'calls.log');
      process.env['FAKE_NVML_LOG'] = log;
      const { source } = open(TRACE, 'shutdown');
      await source.probe();
      await source.read(tick(0));
      await source.stop();
      await source.stop();
      expect(readFileSync(log, 'utf8').split('\n').filter(Boolean)).toEqual(['nvmlInit_v2', 'nvmlShutdown']);
    });
  });

  describe('with the Meter', () => {
    itFake('gives GPU energy equal to the trace counter differences, and the trapezoid without a counter', async () => {
      const { source } = open(TRACE, 'meter');
      const inventory = await source.probe();
      const resets: string[] = [];
      const meter = new Meter({ intervalMs: 1000, cpus: [], gpus: inventory.gpus, onCounterReset: (id) => resets.push(id) });
      for (const { ms } of EXPECTED) meter.update(tick(ms), await readAt(source, ms), []);
      expect(meter.snapshot().devices).toEqual([
        // Lost at 2 s and 3 s: the difference 1 s → 4 s holds the energy of the loss.
        { id: GPU0, kind: 'gpu', energyMj: 1_001_219_000 - 1_000_000_000 },
        // (35+140)/2 + (140+250)/2 + (250+249)/2 + (249+90)/2 + (90+36)/2 W over 1 s each.
        { id: GPU1, kind: 'gpu', energyMj: 87_500 + 195_000 + 249_500 + 169_500 + 63_000 },
        // Restarted at 3 s: 0 → 2 s, then 3 s → 5 s from the new baseline.
        { id: GPU2, kind: 'gpu', energyMj: 52_830_000 - 52_000_000 + (801_234 - 1500) },
      ]);
      expect(resets).toEqual([GPU2]);
      expect(meter.gaps).toBe(0);
    });
  });
});
