/**
 * Builds what the live feed and `/api/v1/cluster` show, from live state and the books: the
 * cluster summary, its footprint today and this month, the grid, running jobs, one job, one
 * node. Per-tick work shared by several topics (running jobs, their energy) is computed once
 * per tick. Is not: the subscription bookkeeping (live-server.ts) or the deltas (feeds.ts).
 */
import type { ClusterSummary, LiveCluster, LiveHistory, LiveJob, LiveJobTopic, LiveNodeTopic, Topic } from '@stroom/protocol';
import { PROTOCOL_VERSION, mjToJ } from '@stroom/protocol';
import type { FootprintFactors } from '../accounting/factors.js';
import { DEFAULT_FACTORS } from '../accounting/factors.js';
import type { SplitMj, Store } from '../store/store.js';
import { startOfDayMs } from '../time/day.js';
import type { ClusterState, LiveJobFigures } from './cluster-state.js';
import { ClusterFeed, SnapshotFeed } from './feeds.js';
import type { LiveSource, TopicFeed } from './live-server.js';
import { PeriodFootprints } from './periods.js';

const HISTORY_POINTS = 3600;
/** Most running jobs a cluster message lists (highest power first); `jobsRunning` counts all. */
export const LIVE_JOBS_MAX = 500;

/** Options of the cluster picture. */
export interface PictureOptions {
  /** Footprint factors in force (default: `DEFAULT_FACTORS`). */
  readonly factors?: FootprintFactors;
  /** The site's grid-connection cap, W (default: none). */
  readonly gridCapW?: number;
  readonly now?: () => number;
}

/** Work shared by every topic within one tick. */
interface TickData {
  readonly jobs: LiveJobFigures[];
  readonly byId: Map<string, LiveJobFigures>;
  readonly energy: Map<string, SplitMj>;
}

/** The whole picture without the grid, as a cluster message carries it. */
export type ClusterHead = Omit<LiveCluster, 'seq' | 'full' | 'grid'>;

/** The cluster picture, with one hour of 1 s power history. */
export class ClusterPicture implements LiveSource {
  readonly #cluster: ClusterState;
  readonly #store: Store;
  readonly #timeZone: string;
  readonly #now: () => number;
  readonly #gridCapW: number | null;
  readonly #periods: PeriodFootprints;
  readonly #tsS: number[] = [];
  readonly #powerW: number[] = [];
  readonly #timer: NodeJS.Timeout;
  #energyCache: { atMs: number; totalMj: number; todayMj: number } | undefined;
  #periodCache: { atMs: number; value: ReturnType<PeriodFootprints['periods']> } | undefined;
  /** Running jobs and their energy, computed at most once per tick. */
  #tick: TickData | undefined;

  constructor(cluster: ClusterState, store: Store, timeZone: string, options: PictureOptions = {}) {
    this.#cluster = cluster;
    this.#store = store;
    this.#timeZone = timeZone;
    this.#now = options.now ?? Date.now;
    this.#gridCapW = options.gridCapW ?? null;
    this.#periods = new PeriodFootprints(store, options.factors ?? DEFAULT_FACTORS, timeZone);
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

  /** Forget per-tick results; the live server calls this once before each push. */
  beginTick(): void {
    this.#tick = undefined;
  }

  feed(topic: Topic): TopicFeed | string {
    if (topic === 'cluster') return new ClusterFeed(this.#cluster, () => this.head(), () => this.history());
    if (topic.startsWith('job/')) {
      const id = topic.slice(4);
      return new SnapshotFeed((seq) => this.job(id, topic, seq));
    }
    if (topic.startsWith('node/')) {
      const name = topic.slice(5);
      return new SnapshotFeed((seq) => this.node(name, topic, seq));
    }
    return `topic "${topic}" is not one of cluster, node/<name>, job/<id>`;
  }

  /** Everything of a cluster message but the grid. */
  head(): ClusterHead {
    const summary = this.summary();
    const t = this.#perTick();
    const periods = this.#periodsAt(summary.ts);
    const top = [...t.jobs].sort((a, b) => b.powerW - a.powerW || (a.allocation.id < b.allocation.id ? -1 : 1)).slice(0, LIVE_JOBS_MAX);
    return {
      v: PROTOCOL_VERSION,
      type: 'cluster',
      ...summary,
      modelledPowerW: summary.modelledPowerW ?? 0,
      today: periods.today,
      month: periods.month,
      gridCapW: this.#gridCapW,
      factors: this.#periods.factorsNow(summary.ts),
      problems: this.#cluster.problems(),
      jobs: top.map((j): LiveJob => {
        const e = t.energy.get(j.allocation.id);
        return {
          id: j.allocation.id,
          user: j.allocation.user,
          account: j.allocation.account,
          startTs: j.allocation.startTs,
          nodes: j.nodes,
          gpus: j.gpus,
          powerW: j.powerW,
          energyJ: e === undefined ? 0 : mjToJ(e.gpuMj + e.cpuMj + e.otherMj),
        };
      }),
    };
  }

  /** The full cluster message (all rows). */
  cluster(): LiveCluster {
    return { ...this.head(), seq: 0, full: true, grid: this.#cluster.grid() };
  }

  /** One job live: running figures from the nodes that hold it, energy and state from the books. */
  job(id: string, topic: Topic, seq: number): LiveJobTopic {
    const ts = this.#now();
    const t = this.#perTick();
    const running = t.byId.get(id);
    const record = this.#store.job(id);
    const mj = running === undefined ? record?.energyMj : (t.energy.get(id) ?? record?.energyMj);
    const nodes: LiveJobTopic['nodes'] = [];
    const gpus: LiveJobTopic['gpus'] = [];
    for (const name of running?.nodes ?? []) {
      const row = this.#cluster.gridRow(name);
      if (row === undefined) continue;
      let nodePowerW: number | null = null;
      row.gpuJob.forEach((owner, i) => {
        if (owner !== id) return;
        const w = row.gpuPowerW[i] ?? null;
        gpus.push({ node: name, index: i, powerW: w, utilRatio: row.gpuUtilRatio[i] ?? null });
      });
      nodePowerW = this.#cluster.jobPowerW(name, id);
      nodes.push({ name, powerW: nodePowerW, lastSeenTs: row.lastSeenTs });
    }
    const alloc = running?.allocation;
    return {
      v: PROTOCOL_VERSION,
      type: 'job',
      topic,
      seq,
      full: true,
      ts,
      id,
      state: running !== undefined ? 'running' : (record?.state ?? 'unknown'),
      user: alloc?.user ?? record?.user ?? '',
      account: alloc?.account ?? record?.account ?? '',
      startTs: alloc?.startTs ?? record?.startTs ?? null,
      endTs: running !== undefined ? null : (record?.endTs ?? null),
      powerW: running === undefined ? null : running.powerW,
      nodes,
      gpus,
      energyJ: mj === undefined
        ? { total: 0, gpu: 0, cpu: 0, other: 0 }
        : { total: mjToJ(mj.gpuMj + mj.cpuMj + mj.otherMj), gpu: mjToJ(mj.gpuMj), cpu: mjToJ(mj.cpuMj), other: mjToJ(mj.otherMj) },
    };
  }

  /** One node live. */
  node(name: string, topic: Topic, seq: number): LiveNodeTopic {
    const cpu = this.#cluster.cpu(name);
    return {
      v: PROTOCOL_VERSION,
      type: 'node',
      topic,
      seq,
      full: true,
      ts: this.#now(),
      node: this.#cluster.gridRow(name) ?? null,
      cpuPowerW: cpu.powerW,
      cpuUtilRatio: cpu.utilRatio,
      problem: this.#cluster.problem(name),
      jobs: this.#cluster.nodeLive(name)?.jobs ?? [],
    };
  }

  history(): LiveHistory['columns'] {
    return [[...this.#tsS], [...this.#powerW]];
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #perTick(): TickData {
    if (this.#tick === undefined) {
      const jobs = this.#cluster.runningJobs();
      this.#tick = { jobs, byId: new Map(jobs.map((j) => [j.allocation.id, j])), energy: this.#store.jobEnergy(jobs.map((j) => j.allocation.id)) };
    }
    return this.#tick;
  }

  #record(): void {
    this.#tsS.push(Math.floor(this.#now() / 1000));
    this.#powerW.push(this.#cluster.powerW());
    if (this.#tsS.length > HISTORY_POINTS) {
      this.#tsS.shift();
      this.#powerW.shift();
    }
  }

  /** Period footprints, cached for a second like the energy totals. */
  #periodsAt(ts: number): ReturnType<PeriodFootprints['periods']> {
    const c = this.#periodCache;
    if (c !== undefined && ts - c.atMs < 1000) return c.value;
    const value = this.#periods.periods(ts);
    this.#periodCache = { atMs: ts, value };
    return value;
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
