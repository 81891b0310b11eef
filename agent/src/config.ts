/**
 * What an agent runs with. Every filesystem and command root is a setting, so tests and
 * unusual nodes can point the agent elsewhere; the defaults are a Linux GPU node's.
 */
import { DEFAULT_INTERVAL_MS } from './constants.js';

export { AGENT_VERSION } from './constants.js';

/** Which GPU source to use; `auto` is NVML where the driver's library loads, else nvidia-smi. */
export const GPU_SOURCES = ['auto', 'nvml', 'nvidia-smi', 'simulated', 'none'] as const;
export type GpuSourceName = (typeof GPU_SOURCES)[number];

/** Which job source to use. */
export const JOB_SOURCES = ['slurm', 'simulated', 'none'] as const;
export type JobSourceName = (typeof JOB_SOURCES)[number];

/** The agent's settings. */
export interface AgentConfig {
  readonly node: string;
  readonly intervalMs: number;
  readonly gpu: GpuSourceName;
  readonly jobs: JobSourceName;
  /** RAPL CPU-package and DRAM energy. */
  readonly rapl: boolean;
  /** Host utilisation, memory and load from /proc. */
  readonly host: boolean;
  readonly nvmlLibrary: string;
  readonly nvidiaSmiPath: string;
  readonly sysfsRoot: string;
  readonly procRoot: string;
  /** Where the Slurm prolog writes job records and the agent writes its GPU map. */
  readonly runDir: string;
  readonly cgroupRoot: string;
  /** Durable spool and agent state; none keeps them in memory (a restart starts a new epoch). */
  readonly spoolDir?: string;
  readonly simulated: { readonly gpus: number; readonly seed: number; readonly timeScale: number; readonly nodeOrdinal: number };
}

/** Defaults of every setting but the node name. */
export const AGENT_DEFAULTS: Omit<AgentConfig, 'node'> = {
  intervalMs: DEFAULT_INTERVAL_MS,
  gpu: 'auto',
  jobs: 'slurm',
  rapl: true,
  host: true,
  nvmlLibrary: 'libnvidia-ml.so.1',
  nvidiaSmiPath: 'nvidia-smi',
  sysfsRoot: '/sys',
  procRoot: '/proc',
  runDir: '/run/stroom',
  cgroupRoot: '/sys/fs/cgroup',
  simulated: { gpus: 4, seed: 1, timeScale: 60, nodeOrdinal: 1 },
};
