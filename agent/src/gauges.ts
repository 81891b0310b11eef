/** Turns source readings into the wire's gauge records (absent stays absent). */
import type { CpuGauge, GpuGauge, Sample } from '@stroom/protocol';
import type { CpuReading, DeviceReadings, GpuReading } from './source.js';

const GPU_GAUGES = ['powerW', 'tempC', 'memTempC', 'utilRatio', 'memUsedBytes', 'smClockMHz'] as const;

/** Gauges of one GPU: only the fields the source reported. */
export function gpuGauge(r: GpuReading): GpuGauge {
  const out: { -readonly [K in keyof GpuGauge]: GpuGauge[K] } = { uuid: r.uuid };
  for (const key of GPU_GAUGES) {
    const value = r[key];
    if (value !== undefined && Number.isFinite(value)) out[key] = value;
  }
  return out;
}

/** Gauges of one CPU package. */
export function cpuGauge(r: CpuReading): CpuGauge {
  const out: { -readonly [K in keyof CpuGauge]: CpuGauge[K] } = { id: r.id };
  if (r.powerW !== undefined && Number.isFinite(r.powerW)) out.powerW = r.powerW;
  if (r.utilRatio !== undefined && Number.isFinite(r.utilRatio)) out.utilRatio = r.utilRatio;
  return out;
}

/** One sample for the wire from one tick's readings. DRAM domains carry no gauges of their own. */
export function toSample(ts: number, readings: DeviceReadings): Sample {
  const sample: Sample = {
    ts,
    gpus: readings.gpus.map(gpuGauge),
    cpus: readings.cpus.filter((c) => c.kind === 'cpu').map(cpuGauge),
  };
  return readings.host === undefined ? sample : { ...sample, host: readings.host };
}
