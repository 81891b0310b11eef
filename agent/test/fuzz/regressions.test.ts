/**
 * Bugs the fuzz runs found in the agent's parsers, each pinned by the smallest input that
 * showed it (issue 7, hostile input).
 */
import { describe, expect, it } from 'vitest';
import { GpuGaugeSchema, GpuInfoSchema } from '@stroom/protocol';
import { expandHostList, MAX_RANGE_VALUES, parseGresIdx, parseRangeList, parseScontrolJobs, parseSqueueJobs } from '../../src/jobs/slurm-parse.js';
import { parseQueryGpuCsv, parseQueryGpuLine, whyNotRow } from '../../src/sources/nvidia-smi-csv.js';
import { parseQueryXml } from '../../src/sources/nvidia-smi-xml.js';
import { raplDeltaUj } from '../../src/sources/rapl.js';
import { selectZones } from '../../src/sources/rapl-zones.js';
import { removeSysfs } from '../sysfs.js';
import { raplTarget } from './targets.js';

const COLUMNS = ['uuid', 'power.draw.average', 'utilization.gpu', 'memory.used', 'temperature.gpu'];
const UUID = 'GPU-00000000-0000-0000-0000-000000000000';

describe('fuzz regressions', () => {
  describe('nvidia-smi CSV', () => {
    it('a power of 400 digits (Infinity) is absent, not an infinite energy counter', () => {
      expect(parseQueryGpuLine(`${UUID}, ${'9'.repeat(400)}, 50, 1024, 40`, COLUMNS)).toEqual({ uuid: UUID, utilRatio: 0.5, memUsedBytes: 1024 * 1048576, tempC: 40 });
    });

    it('values outside their physical range (utilisation 150 %, negative power or memory) are absent, so the wire takes the row', () => {
      const row = parseQueryGpuLine(`${UUID}, -5, 150, -1, ${'9'.repeat(400)}`, COLUMNS);
      expect(row).toEqual({ uuid: UUID });
      expect(GpuGaugeSchema.safeParse(row).success).toBe(true);
    });

    it('a UUID longer than the wire takes (256) is not a row, and the reason says so', () => {
      const line = `GPU-${'a'.repeat(300)}, 100, 50, 1024, 40`;
      expect(parseQueryGpuLine(line, COLUMNS)).toBeUndefined();
      expect(whyNotRow(line, COLUMNS)).toMatch(/^the uuid cell "GPU-a+" is not a GPU UUID \(GPU-…, at most 256 characters\)$/);
    });

    it('every garbage line has a reason', () => {
      const parsed = parseQueryGpuCsv(`uuid, power.draw.average\n${UUID}\nUnable to determine the device handle, x\n`);
      expect(parsed.garbage.map((l) => whyNotRow(l, parsed.columns))).toEqual([
        '1 comma-separated cells where 2 columns were expected',
        'the uuid cell "Unable to determine the device handle" is not a GPU UUID (GPU-…, at most 256 characters)',
      ]);
      expect(whyNotRow('a, b', [])).toBe('2 comma-separated cells where 0 columns were expected');
      expect(whyNotRow('a', ['power.draw'])).toBe('no uuid column among the 1 columns (no header line, and uuid was not queried)');
    });
  });

  describe('nvidia-smi XML', () => {
    const xml = (gpu: string): string => `<?xml version="1.0" ?><nvidia_smi_log><driver_version>1</driver_version><gpu id="00000000:01:00.0">${gpu}</gpu></nvidia_smi_log>`;

    it('a character reference past U+10FFFF reads as U+FFFD instead of throwing a RangeError', () => {
      const inv = parseQueryXml(xml(`<uuid>${UUID}</uuid><product_name>A&#x110000;B&#99999999999;</product_name>`));
      expect(inv.gpus.map((g) => g.name)).toEqual(['A\uFFFDB\uFFFD']);
    });

    it('a minor number past 2^53 is absent (the full 100k fuzz run found it accepted)', () => {
      const inv = parseQueryXml(xml(`<uuid>${UUID}</uuid><minor_number>9007199254740993</minor_number>`));
      expect(inv.gpus[0]?.minor).toBeUndefined();
      expect(GpuInfoSchema.safeParse(inv.gpus[0]).success).toBe(true);
    });

    it('XML that is not well formed is an Error that says so, not the XML library\'s bare message', () => {
      expect(() => parseQueryXml('<nvidia_smi_log><!-- cut')).toThrow(new Error('nvidia-smi -q -x: not well-formed XML: Comment is not closed.'));
    });

    it('a negative or infinite memory size and an infinite power limit are left out, a long name cut to 256, a long UUID skipped with a warning', () => {
      const inv = parseQueryXml(
        xml(
          `<uuid>${UUID}</uuid><product_name>${'N'.repeat(300)}</product_name><fb_memory_usage><total>-5 MiB</total></fb_memory_usage>` +
            `<gpu_power_readings><current_power_limit>${'9'.repeat(400)} W</current_power_limit></gpu_power_readings>`,
        ),
      );
      expect(inv.gpus).toEqual([{ uuid: UUID, index: 0, name: 'N'.repeat(256), pciBusId: '00000000:01:00.0', hasEnergyCounter: false }]);
      expect(inv.gpus.every((g) => GpuInfoSchema.safeParse(g).success)).toBe(true);
      expect(parseQueryXml(xml(`<uuid>GPU-${'b'.repeat(300)}</uuid>`)).warnings).toEqual([
        'nvidia-smi -q -x: GPU 00000000:01:00.0 has a UUID of 304 characters (at most 256); skipped',
      ]);
    });
  });

  describe('RAPL', () => {
    it('a range below the last reading gives no delta (a wrap over it would be negative energy)', () => {
      expect(raplDeltaUj(1000, 500, 100)).toBeUndefined();
      expect(raplDeltaUj(1000, 500, 2000)).toBe(1500);
    });

    it('a package name with more digits than any machine has is no package (its id would be too long for the wire)', () => {
      const { zones, ignored } = selectZones([{ zoneId: 'intel-rapl:0', dir: 'class/powercap/intel-rapl:0', name: `package-${'9'.repeat(400)}` }]);
      expect(zones).toEqual([]);
      expect(ignored.map((z) => z.reason)).toEqual([`unknown top-level zone package-${'9'.repeat(400)}`]);
    });

    it('an energy_uj of 400 digits is not a counter (it read as Infinity, then the counter went to -Infinity)', async () => {
      const rapl = await raplTarget();
      try {
        // Fixture 0's slots: every file's content in path order, then two more energy_uj reads.
        const lines = (rapl.target.corpus[0] as string).split('\n');
        const first = lines.findIndex((l) => /^\d{6,}$/.test(l));
        lines[first] = '9'.repeat(400);
        const outcome = await rapl.target.run(lines.join('\n'), 0);
        expect(outcome.kind).toBe('accepted');
        expect(outcome.kind !== 'crash' && outcome.reasons.some((r) => r.includes('not a counter: "999'))).toBe(true);
      } finally {
        for (const root of rapl.roots) await removeSysfs(root);
      }
    });
  });

  describe('Slurm', () => {
    it('a huge CPU range is cut at MAX_RANGE_VALUES and marked truncated instead of hanging', () => {
      expect(parseRangeList('0-99999999999')).toEqual({ values: [], truncated: true });
      expect(parseRangeList(`${'9'.repeat(400)}`)).toEqual({ values: [], truncated: true });
      const many = parseRangeList(Array.from({ length: 5 }, () => '0-65535').join(','));
      expect(many).toEqual({ values: [...Array.from({ length: 65536 }, (_, i) => i), ...Array.from({ length: 65536 }, (_, i) => i)], truncated: true });
      expect(parseGresIdx('gpu(IDX:0-4294967295)')).toEqual([]);
    });

    it('a host list stops at MAX_RANGE_VALUES names, however it is nested, and takes thousands of bracket groups without recursion', () => {
      expect(expandHostList('n[0-99999999999]')).toHaveLength(MAX_RANGE_VALUES);
      expect(expandHostList('n[1-9][1-9][1-9][1-9][1-9][1-9][1-9][1-9][1-9][1-9]')).toHaveLength(MAX_RANGE_VALUES);
      expect(expandHostList(`a${'[1]'.repeat(50_000)}`)).toEqual([`a${'1'.repeat(50_000)}`]);
      expect(expandHostList('gcn[001-003],b[9-10]x')).toEqual(['gcn001', 'gcn002', 'gcn003', 'b9x', 'b10x']);
    });

    it('a uid, CPU count or node count of 400 digits (Infinity) is absent', () => {
      const big = '9'.repeat(400);
      const [job] = parseSqueueJobs(`5|5|RUNNING|${big}|u|a|p|N/A|${big}|${big}|vm|name\n`);
      expect(job).toEqual({ id: '5', displayId: '5', state: 'RUNNING', user: 'u', account: 'a', partition: 'p', nodes: ['vm'], name: 'name' });
    });

    it('scontrol with a garbled CPU_IDs range reads the job, its CPU list marked cut', () => {
      const [job] = parseScontrolJobs('JobId=7 JobName=x\n   Nodes=vm CPU_IDs=0-99999999999 Mem=0 GRES=gpu:1(IDX:0)\n');
      expect(job?.details).toEqual([{ nodes: ['vm'], cpuIds: [], cpuIdsTruncated: true, gpuIdx: [0] }]);
    });
  });
});
