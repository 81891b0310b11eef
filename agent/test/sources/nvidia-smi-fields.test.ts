import { describe, expect, it } from 'vitest';
import { chooseFields, parseHelpQueryGpu, type FieldChoice } from '../../src/sources/nvidia-smi-fields.js';
import { fixtureText } from '../fixture.js';

const HELP_590 = fixtureText('nvidia-smi/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__help-query-gpu.txt');

/** The 590 help text without the blocks naming `fields` (an older or smaller driver). */
function helpWithout(...fields: string[]): string {
  const blocks = HELP_590.split(/\n\s*\n/);
  return blocks.filter((b) => !fields.some((f) => b.trimStart().startsWith(`"${f}"`))).join('\n\n');
}

describe('parseHelpQueryGpu', () => {
  it('reads every field of the 590.48.01 help text, canonical names first', () => {
    const help = parseHelpQueryGpu(HELP_590);
    // 212 field blocks (the H100 capture queried with them has 212 columns) and 41 distinct aliases.
    expect(help.fields.length).toBe(212);
    expect(help.canonical.size).toBe(253);
    expect(help.fields.slice(0, 4)).toStrictEqual(['timestamp', 'driver_version', 'vgpu_driver_capability.heterogenous_multivGPU', 'count']);
    expect(
      ['clocks.sm', 'gpu_uuid', 'gpu.power.draw.average', 'clocks_throttle_reasons.hw_thermal_slowdown', 'power.draw.instant'].map((n) => help.canonical.get(n)),
    ).toStrictEqual(['clocks.current.sm', 'uuid', 'power.draw.average', 'clocks_event_reasons.hw_thermal_slowdown', 'power.draw.instant']);
    // Lines such as `"0: Default" means …` are descriptions, not fields.
    expect(help.canonical.has('0:')).toBe(false);
    expect(help.fields.some((f) => /energy/i.test(f))).toBe(false);
  });

  it('reads nothing from text that is not a help listing', () => {
    expect(parseHelpQueryGpu('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.')).toStrictEqual({ fields: [], canonical: new Map() });
  });
});

describe('chooseFields', () => {
  const cases: ReadonlyArray<{ name: string; help: string; desired?: string[]; want: FieldChoice }> = [
    {
      name: 'driver 590: everything, average first with both fallbacks',
      help: HELP_590,
      want: {
        fields: ['timestamp', 'uuid', 'power.draw.average', 'power.draw', 'power.draw.instant', 'temperature.gpu', 'temperature.memory', 'utilization.gpu', 'memory.used', 'clocks.current.sm'],
        unsupported: [],
        averagePower: true,
        power: true,
      },
    },
    {
      name: 'no average: power.draw and instant',
      help: helpWithout('power.draw.average'),
      want: {
        fields: ['timestamp', 'uuid', 'power.draw', 'power.draw.instant', 'temperature.gpu', 'temperature.memory', 'utilization.gpu', 'memory.used', 'clocks.current.sm'],
        unsupported: ['power.draw.average'],
        averagePower: false,
        power: true,
      },
    },
    {
      name: 'old driver: power.draw only, no memory temperature',
      help: helpWithout('power.draw.average', 'power.draw.instant', 'temperature.memory'),
      want: {
        fields: ['timestamp', 'uuid', 'power.draw', 'temperature.gpu', 'utilization.gpu', 'memory.used', 'clocks.current.sm'],
        unsupported: ['power.draw.average', 'temperature.memory'],
        averagePower: false,
        power: true,
      },
    },
    {
      name: 'aliases are requested by their canonical name; a wanted non-power field brings no power',
      help: HELP_590,
      desired: ['gpu_uuid', 'clocks.sm', 'no.such.field', 'uuid'],
      want: { fields: ['uuid', 'clocks.current.sm'], unsupported: ['no.such.field'], averagePower: false, power: false },
    },
    {
      name: 'asking for power.draw alone still brings the other supported power fields',
      help: HELP_590,
      desired: ['uuid', 'power.draw'],
      want: { fields: ['uuid', 'power.draw.average', 'power.draw', 'power.draw.instant'], unsupported: [], averagePower: true, power: true },
    },
  ];

  it.each(cases)('$name', ({ help, desired, want }) => {
    expect(chooseFields(parseHelpQueryGpu(help), desired)).toStrictEqual(want);
  });
});
