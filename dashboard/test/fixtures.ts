import type { LiveCluster, LiveJob, LiveNode, LivePeriod } from '@stroom/protocol';

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

const period = (fromTs: number, energyJ: number): LivePeriod => ({
  fromTs,
  energyJ,
  footprint: { facilityEnergyJ: energyJ * 1.58, co2eG: { location: (energyJ * 1.58 / 3.6e6) * 267.6, market: 0 }, costEur: (energyJ * 1.58 / 3.6e6) * 0.15 },
});

/** A full cluster message with the given grid. */
export function cluster(over: Partial<LiveCluster> = {}): LiveCluster {
  return {
    v: 1,
    type: 'cluster',
    seq: 1,
    full: true,
    ts: 1_700_000_000_000,
    nodes: 0,
    gpus: 0,
    powerW: 1234,
    modelledPowerW: 0,
    energyJ: 0,
    energyTodayJ: 0,
    jobsRunning: 0,
    today: period(1_699_999_000_000, 7.2e6),
    month: period(1_698_000_000_000, 3.6e9),
    gridCapW: null,
    factors: [],
    problems: [],
    grid: [],
    jobs: [],
    ...over,
  };
}
