/** Builds the cluster picture (live message and `/api/v1/cluster`) from live state and the books. */
import type { ClusterSummary, LiveCluster, LiveHistory } from '@stroom/protocol';
import { PROTOCOL_VERSION, mjToJ } from '@stroom/protocol';
import type { Store } from '../store/store.js';
import { startOfDayMs } from '../time/day.js';
import type { ClusterState } from './cluster-state.js';
import type { LiveSource } from './live-server.js';

const HISTORY_POINTS = 3600;

/** The cluster picture, with one hour of 1 s power history. */
export class ClusterPicture implements LiveSource {
  readonly #cluster: ClusterState;
  readonly #store: Store;
  readonly #timeZone: string;
  readonly #now: () => number;
  readonly #tsS: number[] = [];
  readonly #powerW: number[] = [];
  readonly #timer: NodeJS.Timeout;
  #energyCache: { atMs: number; totalMj: number; todayMj: number } | undefined;

  constructor(cluster: ClusterState, store: Store, timeZone: string, now: () => number = Date.now) {
    this.#cluster = cluster;
    this.#store = store;
    this.#timeZone = timeZone;
    this.#now = now;
    this.#timer = setInterval(() => this.#record(), 1000);
    this.#timer.unref();
  }

  /** `GET /api/v1/cluster`. */
  summary(): ClusterSummary {
    const ts = this.#now();
    const energy = this.#energy(ts);
    return {
      ts,
      nodes: this.#cluster.nodeCount,
      gpus: this.#cluster.gpuCount,
      powerW: this.#cluster.powerW(),
      modelledPowerW: this.#cluster.modelledPowerW(),
      energyJ: mjToJ(energy.totalMj),
      energyTodayJ: mjToJ(energy.todayMj),
      jobsRunning: this.#cluster.runningJobs().length,
    };
  }

  cluster(): LiveCluster {
    const summary = this.summary();
    const running = this.#cluster.runningJobs();
    const energy = this.#store.jobEnergy(running.map((j) => j.allocation.id));
    return {
      v: PROTOCOL_VERSION,
      type: 'cluster',
      ...summary,
      grid: this.#cluster.grid(),
      jobs: running.map((j) => {
        const e = energy.get(j.allocation.id);
        return {
          id: j.allocation.id,
          user: j.allocation.user,
          account: j.allocation.account,
          startTs: j.allocation.startTs,
          nodes: j.nodes,
          gpus: j.gpus,
          powerW: j.powerW,
          energyJ: e === undefined ? 0 : mjToJ(e.gpuMj + e.cpuMj),
        };
      }),
    };
  }

  history(): LiveHistory['columns'] {
    return [[...this.#tsS], [...this.#powerW]];
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #record(): void {
    this.#tsS.push(Math.floor(this.#now() / 1000));
    this.#powerW.push(this.#cluster.powerW());
    if (this.#tsS.length > HISTORY_POINTS) {
      this.#tsS.shift();
      this.#powerW.shift();
    }
  }

  /** Energy totals, cached for a second: several readers per second share one query. */
  #energy(ts: number): { totalMj: number; todayMj: number } {
    const c = this.#energyCache;
    if (c !== undefined && ts - c.atMs < 1000) return c;
    const fresh = {
      atMs: ts,
      totalMj: this.#store.clusterEnergyMj(0, Number.MAX_SAFE_INTEGER),
      todayMj: this.#store.clusterEnergyMj(startOfDayMs(ts, this.#timeZone), Number.MAX_SAFE_INTEGER),
    };
    this.#energyCache = fresh;
    return fresh;
  }
}
