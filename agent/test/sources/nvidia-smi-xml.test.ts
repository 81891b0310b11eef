import { describe, expect, it } from 'vitest';
import { GpuInfoSchema } from '@stroom/protocol';
import {
  migSlicesOf,
  parseListGpus,
  parseQueryXml,
  slicesFromProfile,
  type ListedGpu,
  type XmlInventory,
} from '../../src/sources/nvidia-smi-xml.js';
import { fixtureText } from '../fixture.js';

const MiB = 1_048_576;

describe('parseQueryXml', () => {
  describe('real captures (nvidia-smi -q -x)', () => {
    // One row per capture; every value is read off the capture by hand (see fixtures README).
    const cases: ReadonlyArray<{ file: string; want: XmlInventory }> = [
      {
        // v12, driver 535: <gpu_power_readings> with current_power_limit; MIG on but no MIG UUIDs.
        file: 'linux-x86_64__nvidia-a100-sxm4-80gb__535.54.03__mig.xml',
        want: {
          gpus: [
            {
              uuid: 'GPU-513536b6-7d19-9063-b049-1e69664bb298',
              index: 0,
              name: 'NVIDIA A100-SXM4-80GB',
              minor: 1,
              pciBusId: '00000000:01:00.0',
              memTotalBytes: 81920 * MiB,
              powerLimitW: 500,
              migSlices: 7,
              migDevices: [],
              hasEnergyCounter: false,
            },
          ],
          schemaVersion: 12,
          driverVersion: '535.54.03',
          warnings: [
            'GPU GPU-513536b6-7d19-9063-b049-1e69664bb298: MIG is on with 4 devices, but -q -x prints no MIG UUIDs; MIG devices are left out (nvidia-smi -L lists them)',
          ],
        },
      },
      {
        // v11: old <power_readings> with enforced_power_limit.
        file: 'linux-x86_64__nvidia-a10g__515.105.01__idle.xml',
        want: {
          gpus: [
            {
              uuid: 'GPU-9a9a6c50-2a47-2f51-a902-b82c3b127e94',
              index: 0,
              name: 'NVIDIA A10G',
              minor: 0,
              pciBusId: '00000000:00:1E.0',
              memTotalBytes: 23028 * MiB,
              powerLimitW: 300,
              hasEnergyCounter: false,
            },
          ],
          schemaVersion: 11,
          driverVersion: '515.105.01',
          warnings: [],
        },
      },
      {
        // No DOCTYPE; every power value N/A, so no limit at all (absent, not 0).
        file: 'linux-x86_64__nvidia-quadro-p400__418.43__idle.xml',
        want: {
          gpus: [
            {
              uuid: 'GPU-8f750be4-dfbc-23b9-b33f-da729a536494',
              index: 0,
              name: 'Quadro P400',
              minor: 0,
              pciBusId: '00000000:43:00.0',
              memTotalBytes: 1998 * MiB,
              hasEnergyCounter: false,
            },
          ],
          driverVersion: '418.43',
          warnings: [],
        },
      },
      {
        // v12 with average/instant power and current_power_limit; tab indentation.
        file: 'linux-x86_64__nvidia-geforce-rtx-3060__570.124.04__idle.xml',
        want: {
          gpus: [
            {
              uuid: 'GPU-d6889ff6-2523-9142-ca3c-1ca3f396a625',
              index: 0,
              name: 'NVIDIA GeForce RTX 3060',
              minor: 0,
              pciBusId: '00000000:2D:00.0',
              memTotalBytes: 12288 * MiB,
              powerLimitW: 170,
              hasEnergyCounter: false,
            },
          ],
          schemaVersion: 12,
          driverVersion: '570.124.04',
          warnings: [],
        },
      },
      {
        // v13 under load; "Requested functionality has been deprecated" in several fields.
        file: 'linux-x86_64__nvidia-geforce-rtx-3080__595.58.03__load.xml',
        want: {
          gpus: [
            {
              uuid: 'GPU-19d6d965-2acc-f646-00f8-4c76979aabb4',
              index: 0,
              name: 'NVIDIA GeForce RTX 3080',
              minor: 0,
              pciBusId: '00000000:0C:00.0',
              memTotalBytes: 10240 * MiB,
              powerLimitW: 320,
              hasEnergyCounter: false,
            },
          ],
          schemaVersion: 13,
          driverVersion: '595.58.03',
          warnings: [],
        },
      },
      {
        // v12 DTD but the old <power_readings> block; capped at 200 W (default 350 W).
        file: 'linux-x86_64__nvidia-geforce-rtx-3090__525.147.05__idle.xml',
        want: {
          gpus: [
            {
              uuid: 'GPU-12345678-aaaa-bbbb-cccc-0123456789ab',
              index: 0,
              name: 'NVIDIA GeForce RTX 3090',
              minor: 0,
              pciBusId: '00000000:00:10.0',
              memTotalBytes: 24576 * MiB,
              powerLimitW: 200,
              hasEnergyCounter: false,
            },
          ],
          schemaVersion: 12,
          driverVersion: '525.147.05',
          warnings: [],
        },
      },
      {
        // Two GPUs: index is document order, minor_number is not (1 then 0).
        file: 'linux-x86_64__nvidia-rtx-a5000-x2__590.44.01__load.xml',
        want: {
          gpus: [
            {
              uuid: 'GPU-12345678-aaaa-bbbb-cccc-0123456789ab',
              index: 0,
              name: 'NVIDIA RTX A5000',
              minor: 1,
              pciBusId: '00000000:81:00.0',
              memTotalBytes: 24564 * MiB,
              powerLimitW: 230,
              hasEnergyCounter: false,
            },
            {
              uuid: 'GPU-12345678-aaaa-bbbb-cccc-0123456789cd',
              index: 1,
              name: 'NVIDIA RTX A5000',
              minor: 0,
              pciBusId: '00000000:C1:00.0',
              memTotalBytes: 24564 * MiB,
              powerLimitW: 230,
              hasEnergyCounter: false,
            },
          ],
          schemaVersion: 13,
          driverVersion: '590.44.01',
          warnings: [],
        },
      },
      {
        // Blackwell; some text values carry trailing spaces.
        file: 'linux-x86_64__nvidia-rtx-pro-6000-blackwell-max-q__590.44.01__idle.xml',
        want: {
          gpus: [
            {
              uuid: 'GPU-12345678-aaaa-bbbb-cccc-0123456789ab',
              index: 0,
              name: 'NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition',
              minor: 0,
              pciBusId: '00000000:61:00.0',
              memTotalBytes: 97887 * MiB,
              powerLimitW: 300,
              hasEnergyCounter: false,
            },
          ],
          schemaVersion: 13,
          driverVersion: '590.44.01',
          warnings: [],
        },
      },
    ];

    it.each(cases)('$file', ({ file, want }) => {
      const got = parseQueryXml(fixtureText(`nvidia-smi/${file}`));
      expect(got).toStrictEqual(want);
      for (const g of got.gpus) expect(GpuInfoSchema.parse(g)).toStrictEqual(g);
    });
  });

  it('reads an unknown DTD version with the newest rules and returns one warning', () => {
    const xml = fixtureText('nvidia-smi/linux-x86_64__nvidia-geforce-rtx-3080__595.58.03__load.xml').replace('nvsmi_device_v13.dtd', 'nvsmi_device_v14.dtd');
    const got = parseQueryXml(xml);
    expect(got.schemaVersion).toBe(14);
    expect(got.warnings).toStrictEqual(['nvidia-smi -q -x: unknown schema nvsmi_device_v14.dtd, read as v13']);
    expect(got.gpus.map((g) => [g.uuid, g.powerLimitW])).toStrictEqual([['GPU-19d6d965-2acc-f646-00f8-4c76979aabb4', 320]]);
  });

  it('does not expand DTD entities, and decodes the predefined escapes', () => {
    const xml = `<?xml version="1.0"?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v13.dtd" [<!ENTITY x "EXPANDED">]>
<nvidia_smi_log><gpu id="0000:01:00.0"><product_name> A&amp;B &x; </product_name><uuid>GPU-1</uuid></gpu></nvidia_smi_log>`;
    expect(parseQueryXml(xml).gpus).toStrictEqual([{ uuid: 'GPU-1', index: 0, name: 'A&B &x;', pciBusId: '0000:01:00.0', hasEnergyCounter: false }]);
  });

  it('skips a GPU without a UUID with a warning', () => {
    const xml = '<nvidia_smi_log><gpu id="00000000:01:00.0"><uuid>N/A</uuid></gpu></nvidia_smi_log>';
    expect(parseQueryXml(xml)).toStrictEqual({ gpus: [], warnings: ['nvidia-smi -q -x: GPU 00000000:01:00.0 has no UUID; skipped'] });
  });

  it('takes MIG UUIDs and profiles from -L, and slices from the SM count when the profile has no slice count', () => {
    // The A100 capture's own GPU with a listing written for it (the capture holds four 14-SM devices).
    const uuid = 'GPU-513536b6-7d19-9063-b049-1e69664bb298';
    const listing: ListedGpu[] = [
      {
        index: 0,
        name: 'NVIDIA A100-SXM4-80GB',
        uuid,
        mig: [
          { index: 1, profile: '1g.20gb', uuid: 'MIG-11111111-0000-0000-0000-000000000001' },
          { index: 0, profile: '1g.20gb', uuid: 'MIG-11111111-0000-0000-0000-000000000000' },
          { index: 3, profile: 'custom', uuid: 'MIG-11111111-0000-0000-0000-000000000003' },
          { index: 9, profile: 'custom', uuid: 'MIG-11111111-0000-0000-0000-000000000009' },
        ],
      },
    ];
    const got = parseQueryXml(fixtureText('nvidia-smi/linux-x86_64__nvidia-a100-sxm4-80gb__535.54.03__mig.xml'), listing);
    expect(got.gpus[0]?.migDevices).toStrictEqual([
      { uuid: 'MIG-11111111-0000-0000-0000-000000000000', index: 0, profile: '1g.20gb', slices: 1 },
      { uuid: 'MIG-11111111-0000-0000-0000-000000000001', index: 1, profile: '1g.20gb', slices: 1 },
      { uuid: 'MIG-11111111-0000-0000-0000-000000000003', index: 3, profile: 'custom', slices: 1 },
    ]);
    expect(got.warnings).toStrictEqual([`GPU ${uuid}: MIG device 9 (custom) has no readable slice count; left out`]);
  });
});

describe('parseListGpus', () => {
  it('reads the H200 MIG listing (nvidia-smi -L)', () => {
    expect(parseListGpus(fixtureText('nvidia-smi/linux-x86_64__nvidia-h200-mig__590.48.01__list.txt'))).toStrictEqual([
      {
        index: 0,
        name: 'NVIDIA H200',
        uuid: 'GPU-00000000-0000-0000-0000-000000000000',
        mig: [
          { index: 0, profile: '1c.3g.71gb', uuid: 'MIG-00000000-0000-0000-0000-000000000000' },
          { index: 1, profile: '2c.3g.71gb', uuid: 'MIG-00000001-0000-0000-0000-000000000001' },
          { index: 2, profile: '2g.35gb', uuid: 'MIG-00000002-0000-0000-0000-000000000002' },
          { index: 3, profile: '1g.18gb', uuid: 'MIG-00000003-0000-0000-0000-000000000003' },
          { index: 4, profile: '1g.18gb', uuid: 'MIG-00000004-0000-0000-0000-000000000004' },
        ],
      },
    ]);
  });

  it('gives the H200 listing 7 slices in all, the GPU total', () => {
    const [gpu] = parseListGpus(fixtureText('nvidia-smi/linux-x86_64__nvidia-h200-mig__590.48.01__list.txt'));
    const slices = (gpu?.mig ?? []).map((m) => slicesFromProfile(m.profile));
    expect(slices).toStrictEqual([1, 2, 2, 1, 1]);
    expect(migSlicesOf(gpu?.name ?? '')).toBe(7);
  });

  it('reads the old MIG-GPU-… UUID form', () => {
    const text = 'GPU 0: A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)\n  MIG 3g.20gb Device 0: (UUID: MIG-GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77/1/0)\n';
    expect(parseListGpus(text)).toStrictEqual([
      {
        index: 0,
        name: 'A100-SXM4-40GB',
        uuid: 'GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77',
        mig: [{ index: 0, profile: '3g.20gb', uuid: 'MIG-GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77/1/0' }],
      },
    ]);
  });
});

describe('slicesFromProfile', () => {
  it.each([
    { profile: '1g.10gb', want: 1 },
    { profile: '3g.40gb', want: 3 },
    { profile: '7g.80gb', want: 7 },
    { profile: '1c.3g.71gb', want: 1 },
    { profile: '2c.3g.71gb', want: 2 },
    { profile: '1g.18gb+me', want: 1 },
    { profile: 'custom', want: undefined },
  ])('$profile → $want', ({ profile, want }) => {
    expect(slicesFromProfile(profile)).toBe(want);
  });
});
