/**
 * The table of sources: every device and job source the agent can run, how to build it from
 * the configuration, and whether it is on by default. The CLI and the README follow it.
 */
import type { GpuInfo } from '@stroom/protocol';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config.js';
import { SlurmJobSource } from '../jobs/slurm-jobs.js';
import type { DeviceReadings, DeviceSource, Inventory, JobSource, Tick } from '../source.js';
import { SourceUnavailable } from '../source.js';
import { HostSource } from './host.js';
import { NvidiaSmiSource } from './nvidia-smi.js';
import { NvmlSource } from './nvml.js';
import { RaplSource } from './rapl.js';
import { SimulatedNode } from './simulated.js';

/** One row of the table. */
export interface SourceEntry {
  readonly kind: 'gpu' | 'cpu' | 'host' | 'jobs';
  readonly description: string;
  readonly defaultEnabled: boolean;
}

/** Every source, for help texts and the README. */
export const SOURCE_TABLE: Readonly<Record<string, SourceEntry>> = {
  nvml: { kind: 'gpu', description: 'NVML (libnvidia-ml.so.1) through FFI: the GPU energy counter, power, utilisation, temperatures, clocks, MIG', defaultEnabled: true },
  'nvidia-smi': { kind: 'gpu', description: 'one long-lived nvidia-smi --query-gpu stream, integrated at 10 Hz (or its 1 s average); where NVML cannot be loaded', defaultEnabled: true },
  rapl: { kind: 'cpu', description: 'RAPL powercap energy of CPU packages and DRAM', defaultEnabled: true },
  host: { kind: 'host', description: 'CPU utilisation, memory and load from /proc; inventory from systeminformation', defaultEnabled: true },
  slurm: { kind: 'jobs', description: 'job map from the Slurm prolog records, reconciled with squeue/scontrol every 30 s', defaultEnabled: true },
  simulated: { kind: 'gpu', description: 'a simulated H100 node with its own scheduler (demo and tests)', defaultEnabled: false },
};

/**
 * NVML where the driver's library loads, else the nvidia-smi stream: the probe decides, and
 * the source then reads as whichever answered.
 */
export class AutoGpuSource implements DeviceSource {
  #chosen: DeviceSource | undefined;
  readonly #candidates: readonly DeviceSource[];

  constructor(candidates: readonly DeviceSource[]) {
    this.#candidates = candidates;
  }

  get name(): string {
    return this.#chosen?.name ?? 'gpu';
  }

  async probe(): Promise<Inventory> {
    const reasons: string[] = [];
    for (const c of this.#candidates) {
      try {
        const inventory = await c.probe();
        this.#chosen = c;
        return inventory;
      } catch (err) {
        reasons.push(`${c.name}: ${(err as Error).message}`);
      }
    }
    throw new SourceUnavailable(`no GPU source answered (${reasons.join('; ')})`);
  }

  read(tick: Tick): Promise<DeviceReadings> {
    return this.#chosen === undefined ? Promise.resolve({ gpus: [], cpus: [] }) : this.#chosen.read(tick);
  }

  async stop(): Promise<void> {
    await this.#chosen?.stop?.();
  }
}

/** The sources a configuration asks for. */
export interface BuiltSources {
  readonly devices: DeviceSource[];
  readonly jobs: JobSource;
  /** Give the job source the GPU inventory once the device sources probed. */
  setInventory(gpus: readonly GpuInfo[]): void;
}

const NO_JOBS: JobSource = { name: 'none', read: async () => [] };

/** Build the sources of `config`. */
export function buildSources(config: AgentConfig, log: Logger): BuiltSources {
  const devices: DeviceSource[] = [];
  let gpus: readonly GpuInfo[] = [];
  let sim: SimulatedNode | undefined;
  const nvml = (): NvmlSource => new NvmlSource({ libraryPath: config.nvmlLibrary, log });
  const smi = (): NvidiaSmiSource => new NvidiaSmiSource({ nvidiaSmiPath: config.nvidiaSmiPath, intervalMs: config.intervalMs, log });
  switch (config.gpu) {
    case 'auto':
      devices.push(new AutoGpuSource([nvml(), smi()]));
      break;
    case 'nvml':
      devices.push(nvml());
      break;
    case 'nvidia-smi':
      devices.push(smi());
      break;
    case 'simulated':
      sim = new SimulatedNode({ node: config.node, nodeOrdinal: config.simulated.nodeOrdinal, gpus: config.simulated.gpus, seed: config.simulated.seed, timeScale: config.simulated.timeScale });
      devices.push(sim);
      break;
    case 'none':
      break;
  }
  // The simulated node simulates its CPUs too; real RAPL would double them.
  if (config.rapl && sim === undefined) devices.push(new RaplSource({ sysfsRoot: config.sysfsRoot, log }));
  if (config.host) devices.push(new HostSource({ procRoot: config.procRoot, log }));
  let jobs: JobSource = NO_JOBS;
  if (config.jobs === 'simulated') {
    if (sim === undefined) throw new Error('jobs "simulated" needs gpu "simulated": the simulated scheduler places jobs on simulated GPUs');
    jobs = sim.jobs;
  } else if (config.jobs === 'slurm') {
    jobs = new SlurmJobSource({ runDir: config.runDir, nodeName: config.node, gpuInventory: () => gpus, cgroupRoot: config.cgroupRoot, log });
  }
  return {
    devices,
    jobs,
    setInventory(inventory) {
      gpus = inventory;
    },
  };
}
