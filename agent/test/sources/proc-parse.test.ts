import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coreBusyRatios, cpuBusyRatio, parseLoadavg, parseMeminfo, parseProcStat } from '../../src/sources/proc-parse.js';

const capture = (name: string): string => readFileSync(new URL(`../fixtures/proc/${name}`, import.meta.url), 'utf8');

// Synthetic, written by hand: two CPUs with guest time (fields: user nice system idle iowait irq
// softirq steal guest guest_nice). Between A and B, cpu0 runs 60 user ticks of which 40 are
// guest, 20 system, 10 idle and 10 iowait; cpu1 is mostly idle.
const STAT_A = `cpu  1000 100 500 8000 400 50 50 10 200 20
cpu0 600 50 300 3000 100 25 25 5 100 10
cpu1 400 50 200 5000 300 25 25 5 100 10
intr 12345 0 0
ctxt 999
`;
const STAT_B = `cpu  1065 100 520 8100 415 50 50 10 240 20
cpu0 660 50 320 3010 110 25 25 5 140 10
cpu1 405 50 200 5090 305 25 25 5 100 10
intr 12400 0 0
`;
// Synthetic: cpu1 went offline and cpu2 is new, so only cpu0 is in both readings.
const STAT_HOTPLUG = `cpu  1100 100 530 8110 420 50 50 10 240 20
cpu0 700 50 330 3020 110 25 25 5 140 10
cpu2 10 0 10 100 0 0 0 0 0 0
`;

describe('proc-parse', () => {
  describe('#parseProcStat', () => {
    it.each([
      {
        case: 'real capture stat-t0 (2 vCPUs)',
        text: capture('stat-t0.txt'),
        // all: 79044+292+32799+158195+898+0+1113+0; idle 158195+898
        all: { totalTicks: 272_341, idleTicks: 159_093 },
        cpus: [
          [0, { totalTicks: 136_433, idleTicks: 78_742 }],
          [1, { totalTicks: 135_906, idleTicks: 80_349 }],
        ],
      },
      {
        case: 'real capture stat-t1',
        text: capture('stat-t1.txt'),
        all: { totalTicks: 272_746, idleTicks: 159_093 },
        cpus: [
          [0, { totalTicks: 136_635, idleTicks: 78_742 }],
          [1, { totalTicks: 136_108, idleTicks: 80_350 }],
        ],
      },
      {
        case: 'synthetic with guest time: guest and guest_nice are left out of the total',
        text: STAT_A,
        all: { totalTicks: 10_110, idleTicks: 8_400 },
        cpus: [
          [0, { totalTicks: 4_105, idleTicks: 3_100 }],
          [1, { totalTicks: 6_005, idleTicks: 5_300 }],
        ],
      },
      {
        case: 'synthetic old kernel with 7 fields (no steal/guest)',
        text: 'cpu  100 0 50 850 0 0 0\ncpu0 100 0 50 850 0 0 0\n',
        all: { totalTicks: 1_000, idleTicks: 850 },
        cpus: [[0, { totalTicks: 1_000, idleTicks: 850 }]],
      },
      { case: 'malformed lines are skipped', text: 'cpu  a b c d\ncpu0 1 2\ncpuX 1 2 3 4\n', all: undefined, cpus: [] },
      { case: 'empty', text: '', all: undefined, cpus: [] },
    ])('$case', ({ text, all, cpus }) => {
      const s = parseProcStat(text);
      expect(s.all).toEqual(all);
      expect([...s.cpus]).toEqual(cpus);
    });
  });

  describe('#cpuBusyRatio and #coreBusyRatios', () => {
    it.each([
      {
        case: 'real captures 2 s apart: all busy; cpu1 had one idle tick',
        a: capture('stat-t0.txt'),
        b: capture('stat-t1.txt'),
        // Δtotal 405, Δidle 0; cpu0 Δ202/0; cpu1 Δ202/1
        all: 1,
        cores: [1, 201 / 202],
      },
      {
        case: 'synthetic with guest: all 85/200, cpu0 80/100, cpu1 5/100',
        a: STAT_A,
        b: STAT_B,
        all: 0.425,
        cores: [0.8, 0.05],
      },
      {
        case: 'synthetic hotplug: only CPUs in both readings',
        a: STAT_B,
        b: STAT_HOTPLUG,
        // all: Δ user 35, system 10, idle 10, iowait 5 = 60; busy 45. cpu0: Δ 40+10+10 = 60, idle 10
        all: 0.75,
        cores: [50 / 60],
      },
      { case: 'no time passed', a: STAT_A, b: STAT_A, all: undefined, cores: [] },
      { case: 'counters went backwards', a: STAT_B, b: STAT_A, all: undefined, cores: [] },
    ])('$case', ({ a, b, all, cores }) => {
      const pa = parseProcStat(a);
      const pb = parseProcStat(b);
      expect(pa.all !== undefined && pb.all !== undefined ? cpuBusyRatio(pa.all, pb.all) : undefined).toBe(all);
      expect(coreBusyRatios(pa, pb)).toEqual(cores);
    });
  });

  describe('#parseMeminfo', () => {
    it.each([
      {
        case: 'real capture: MemTotal 24683620 kB, MemAvailable 23244864 kB',
        text: capture('meminfo.txt'),
        // × 1024; used = (24683620 − 23244864) × 1024
        expected: { memTotalBytes: 25_276_026_880, memAvailableBytes: 23_802_740_736, memUsedBytes: 1_473_286_144 },
      },
      {
        case: 'synthetic pre-3.14 kernel: used = total − (free + buffers + cached)',
        text: 'MemTotal:        1000 kB\nMemFree:          100 kB\nBuffers:           50 kB\nCached:           250 kB\nHugePages_Total:       0\n',
        expected: { memTotalBytes: 1_024_000, memUsedBytes: 614_400 },
      },
      { case: 'synthetic without MemTotal', text: 'MemAvailable:  2 kB\n', expected: { memAvailableBytes: 2_048 } },
      { case: 'empty', text: '', expected: {} },
    ])('$case', ({ text, expected }) => {
      expect(parseMeminfo(text)).toEqual(expected);
    });
  });

  describe('#parseLoadavg', () => {
    it.each([
      { case: 'real capture', text: capture('loadavg.txt'), expected: { load1: 81.24, load5: 52.08, load15: 21.58 } },
      { case: 'idle machine', text: '0.00 0.01 0.05 1/100 1\n', expected: { load1: 0, load5: 0.01, load15: 0.05 } },
      { case: 'malformed', text: 'load: high\n', expected: undefined },
      { case: 'empty', text: '', expected: undefined },
    ])('$case', ({ text, expected }) => {
      expect(parseLoadavg(text)).toEqual(expected);
    });
  });
});
