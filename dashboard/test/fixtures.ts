import type { LiveJob, LiveNode } from '@stroom/protocol';

/** A node with `n` GPUs; per-GPU fields can be overridden by index. */
export function node(name: string, n: number, over: Partial<LiveNode> = {}): LiveNode {
  return {
    name,
    up: true,
    lastSeenTs: 1_700_000_000_000,
    powerW: 2000,
    gpuUuids: Array.from({ length: n }, (_, i) => `GPU-${name}-${i}`),
    gpuPowerW: Array.from({ length: n }, () => 350),
    gpuPowerLimitW: Array.from({ length: n }, () => 700),
    gpuTempC: Array.from({ length: n }, () => 60),
    gpuUtilRatio: Array.from({ length: n }, () => 0.9),
    gpuJob: Array.from({ length: n }, () => null),
    ...over,
  };
}

export function job(id: string, over: Partial<LiveJob> = {}): LiveJob {
  return {
    id,
    user: 'alice',
    account: 'proj1',
    startTs: 1_700_000_000_000,
    nodes: ['n001'],
    gpus: 4,
    powerW: 1000,
    energyJ: 3.6e6,
    ...over,
  };
}
