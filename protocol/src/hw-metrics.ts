/**
 * One node's inventory, latest sample and cumulative counters as OpenTelemetry `hw.*` points.
 * Pure and shared: the agent exports its own node with it, the collector every node of the
 * cluster, so both name, unit and label a GPU the same way. Never takes job data: `hw.*`
 * series carry no job id, user or PID.
 */
import type { CpuInfo, DeviceCounter, GpuInfo, Sample } from './messages.js';
import {
  ATTR_HOST_NAME,
  ATTR_HW_GPU_TASK,
  ATTR_HW_ID,
  ATTR_HW_MODEL,
  ATTR_HW_NAME,
  ATTR_HW_PARENT,
  ATTR_HW_SENSOR_LOCATION,
  ATTR_HW_TYPE,
  ATTR_HW_VENDOR,
  HW_GPU_TASK_VALUE_GENERAL,
  HW_TYPE_VALUE_CPU,
  HW_TYPE_VALUE_GPU,
  HW_TYPE_VALUE_MEMORY,
  METRIC_HW_ENERGY,
  METRIC_HW_GPU_MEMORY_LIMIT,
  METRIC_HW_GPU_MEMORY_USAGE,
  METRIC_HW_GPU_MEMORY_UTILIZATION,
  METRIC_HW_GPU_UTILIZATION,
  METRIC_HW_HOST_ENERGY,
  METRIC_HW_HOST_POWER,
  METRIC_HW_POWER,
  METRIC_HW_TEMPERATURE,
} from './semconv.js';
import type { MetricName } from './semconv.js';
import { mjToJ } from './units.js';

/** Attributes of one point; string values only, so every exporter renders them alike. */
export type PointAttributes = Readonly<Record<string, string>>;

/** One value of one metric with its attributes. */
export interface MetricPoint {
  readonly name: MetricName;
  readonly value: number;
  readonly attributes: PointAttributes;
}

/** What is known of one node now. */
export interface NodeSnapshot {
  /** Node name; becomes `host.name` on every point (`hw.id` is only unique within a host). */
  readonly node: string;
  readonly gpus: readonly GpuInfo[];
  readonly cpus?: readonly CpuInfo[];
  /** Latest sample; gauges come from it. Without one, no gauge points. */
  readonly sample?: Sample;
  /** Cumulative device counters of the current epoch (integer mJ). */
  readonly devices?: readonly DeviceCounter[];
  /** Mean host power over the last interval from counter differences, W; else the gauges are summed. */
  readonly hostPowerW?: number;
}

/** Every GPU source stroom has (NVML, nvidia-smi, the simulated H100s) is NVIDIA's. */
const GPU_VENDOR = 'nvidia';

/** `hw.*` points of one node: per-GPU and per-CPU-package gauges and counters, and host totals. */
export function hwPoints(s: NodeSnapshot): MetricPoint[] {
  const host = { [ATTR_HOST_NAME]: s.node };
  const gpuInfo = new Map(s.gpus.map((g) => [g.uuid, g]));
  const cpuInfo = new Map((s.cpus ?? []).map((c) => [c.id, c]));
  const gpuAttrs = (uuid: string): Record<string, string> => {
    const g = gpuInfo.get(uuid);
    const out: Record<string, string> = { ...host, [ATTR_HW_ID]: uuid };
    if (g !== undefined) {
      out[ATTR_HW_NAME] = `gpu${g.index}`;
      if (g.name !== '') out[ATTR_HW_MODEL] = g.name;
    }
    out[ATTR_HW_VENDOR] = GPU_VENDOR;
    return out;
  };
  const cpuAttrs = (id: string, type: string): Record<string, string> => {
    const model = cpuInfo.get(id)?.model;
    return { ...host, [ATTR_HW_ID]: id, [ATTR_HW_NAME]: id, [ATTR_HW_TYPE]: type, ...(model === undefined || model === '' ? {} : { [ATTR_HW_MODEL]: model }) };
  };
  const out: MetricPoint[] = [];
  const push = (name: MetricName, value: number | undefined, attributes: PointAttributes): void => {
    if (value !== undefined && Number.isFinite(value)) out.push({ name, value, attributes });
  };

  const sample = s.sample;
  if (sample !== undefined) {
    for (const g of sample.gpus) {
      const attrs = gpuAttrs(g.uuid);
      push(METRIC_HW_POWER, g.powerW, { ...attrs, [ATTR_HW_TYPE]: HW_TYPE_VALUE_GPU });
      push(METRIC_HW_GPU_UTILIZATION, g.utilRatio, { ...attrs, [ATTR_HW_GPU_TASK]: HW_GPU_TASK_VALUE_GENERAL });
      push(METRIC_HW_GPU_MEMORY_USAGE, g.memUsedBytes, attrs);
      const total = gpuInfo.get(g.uuid)?.memTotalBytes;
      push(METRIC_HW_GPU_MEMORY_LIMIT, total, attrs);
      // Used over total, never nvidia-smi's utilization.memory (memory-bus busy time).
      if (g.memUsedBytes !== undefined && total !== undefined && total > 0) push(METRIC_HW_GPU_MEMORY_UTILIZATION, g.memUsedBytes / total, attrs);
      for (const [location, value] of [['gpu', g.tempC], ['memory', g.memTempC]] as const) {
        push(METRIC_HW_TEMPERATURE, value, { ...host, [ATTR_HW_ID]: `${g.uuid}/${location}`, [ATTR_HW_PARENT]: g.uuid, [ATTR_HW_SENSOR_LOCATION]: location });
      }
    }
    for (const c of sample.cpus) push(METRIC_HW_POWER, c.powerW, cpuAttrs(c.id, HW_TYPE_VALUE_CPU));
  }

  let hostMj: number | undefined;
  for (const d of s.devices ?? []) {
    const attrs = d.kind === 'gpu' ? { ...gpuAttrs(d.id), [ATTR_HW_TYPE]: HW_TYPE_VALUE_GPU } : cpuAttrs(d.id, d.kind === 'cpu' ? HW_TYPE_VALUE_CPU : HW_TYPE_VALUE_MEMORY);
    push(METRIC_HW_ENERGY, mjToJ(d.energyMj), attrs);
    // Devices are non-overlapping (RAPL package and dram, never core or uncore), so they add up.
    hostMj = (hostMj ?? 0) + d.energyMj;
  }
  const hostAttrs = { ...host, [ATTR_HW_ID]: s.node };
  if (hostMj !== undefined) push(METRIC_HW_HOST_ENERGY, mjToJ(hostMj), hostAttrs);
  let hostPowerW = s.hostPowerW;
  if (hostPowerW === undefined && sample !== undefined) {
    const parts = [...sample.gpus.map((g) => g.powerW), ...sample.cpus.map((c) => c.powerW)].filter((w): w is number => w !== undefined);
    if (parts.length > 0) hostPowerW = parts.reduce((a, b) => a + b, 0);
  }
  push(METRIC_HW_HOST_POWER, hostPowerW, hostAttrs);
  return out;
}
