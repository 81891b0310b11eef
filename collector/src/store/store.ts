/**
 * The collector's books. One interface, so the embedded SQLite store and (later) InfluxDB
 * run the same contract tests. Energies are integer millijoules; times ms since the epoch.
 */
import type { Hello, JobAllocation, JobState, Sample } from '@stroom/protocol';
import type { GpuBucket } from './gpu-buckets.js';

export type { GpuBucket } from './gpu-buckets.js';

/** Energy split of one delta or total, in mJ. `otherMj` is modelled (base power), not measured. */
export interface SplitMj {
  gpuMj: number;
  cpuMj: number;
  otherMj: number;
}

/** What the ledger remembers per node and epoch, so a restart neither loses nor doubles. */
export interface LedgerState {
  readonly node: string;
  readonly epoch: string;
  lastSeq: number;
  lastTs: number;
  /** Last counter value per key: `d:<device>`, `j:<job>`, `i:gpu`, `i:cpu`. */
  counters: Record<string, number>;
}

/** Everything one accepted batch changes in the books. */
export interface BatchEffect {
  readonly node: string;
  readonly ts: number;
  readonly ledger: LedgerState;
  /** Energy of the node's devices in this batch's interval. */
  readonly nodeMj: SplitMj;
  readonly idleMj: SplitMj;
  readonly jobsMj: ReadonlyMap<string, SplitMj>;
  /** GPU-seconds each job held on this node in this batch's interval (for embodied carbon). */
  readonly gpuSeconds: ReadonlyMap<string, number>;
  /** How busy each job's GPUs were in this interval (only jobs whose GPUs reported utilisation). */
  readonly gpuUse: ReadonlyMap<string, GpuUse>;
  /** The batch's gauge samples, for the per-GPU series. */
  readonly samples: readonly Sample[];
  /** The node's job map at `ts`; jobs on the node before and missing now have ended there. */
  readonly jobs: readonly JobAllocation[];
}

/**
 * A job's GPU utilisation over some time, in GPU-seconds. Mean utilisation is
 * `utilS / utilKnownS`; `idleS` is allocated GPU time with utilisation below
 * IDLE_GPU_UTIL_RATIO (allocated but idle). GPUs that report no utilisation count in none.
 */
export interface GpuUse {
  /** Σ utilisation ratio × seconds over the job's GPUs. */
  utilS: number;
  /** GPU-seconds for which utilisation was reported. */
  utilKnownS: number;
  /** GPU-seconds allocated to the job with utilisation below the idle threshold. */
  idleS: number;
}

/** A job's row, with its energy so far. */
export interface JobRecord {
  readonly id: string;
  readonly user: string;
  readonly account: string;
  readonly name: string | null;
  readonly partition: string | null;
  readonly state: JobState;
  readonly startTs: number;
  readonly endTs: number | null;
  readonly nodes: string[];
  readonly gpus: number;
  readonly energyMj: SplitMj;
  /** GPU-seconds held on all its nodes (allocation × time). */
  readonly gpuSeconds: number;
  readonly gpuUse: GpuUse;
}

/** Filter of a job listing; `after` continues a listing after that job (keyset pagination). */
export interface JobQuery {
  readonly state?: JobState;
  readonly user?: string;
  readonly account?: string;
  /** Jobs that ran at some time in [fromTs, toTs). */
  readonly fromTs?: number;
  readonly toTs?: number;
  readonly limit?: number;
  readonly after?: { readonly startTs: number; readonly id: string };
}

/** Energy of one node over a period, for the balance check: jobs + idle = node. */
export interface NodeBalance {
  readonly node: string;
  /** Measured device energy plus modelled other energy. */
  readonly deviceMj: number;
  readonly otherMj: number;
  readonly jobsMj: number;
  readonly idleMj: number;
}

/** Energy of one job on one node in one stored series bucket. */
export interface SeriesPoint {
  readonly node: string;
  readonly bucketTs: number;
  readonly energyMj: number;
  /** Width of the bucket, ms: the raw 10 s, or 60 s once rolled up; absent means 10 s. */
  readonly bucketMs?: number;
}

/** A job's energy in one UTC hour on one node, for footprint by the hour. */
export interface JobHour {
  readonly node: string;
  readonly hourTs: number;
  readonly energyMj: SplitMj;
  readonly gpuSeconds: number;
  readonly gpuUse: GpuUse;
}

/** What a report's rows are grouped by (the job's account, user, id or partition, or the node). */
export type ReportGroupBy = 'account' | 'user' | 'job' | 'node' | 'partition';

/**
 * One report group's books in one UTC hour on nodes of one GPU model, summed over its jobs and
 * nodes. `group` is '' where the job's user, account or partition is not known.
 */
export interface ReportHour {
  readonly group: string;
  readonly hourTs: number;
  /**
   * GPU model of the nodes (first GPU of their Hello), 'unknown' without one: embodied factors
   * are per model. The embedded store keeps by account, user and partition the model the node
   * had in that hour (its Hellos' history); otherwise it is the model of the node's latest Hello.
   */
  readonly gpuModel: string;
  readonly energyMj: SplitMj;
  readonly gpuSeconds: number;
  /** Σ utilisation ratio × GPU-seconds, GPU-seconds with utilisation reported, and those under the idle threshold. */
  readonly utilSeconds: number;
  readonly utilKnownSeconds: number;
  readonly idleGpuSeconds: number;
}

/**
 * One report group's books on nodes of one GPU model over a period (its `ReportHour`s summed),
 * with hour by hour what a footprint needs: job energy (mJ, all parts) and GPU-seconds. Columns,
 * not a row per hour: a year by account is 1.7M group-hours, and rows cost more to read and hold
 * than the report takes to compute.
 */
export interface ReportSlice extends Omit<ReportHour, 'hourTs'> {
  /** Start (ms) of each hour with books, ascending; the same index in the next two is that hour's figures. */
  readonly hourTs: readonly number[];
  readonly hourEnergyMj: readonly number[];
  readonly hourGpuSeconds: readonly number[];
}

/** A node's measured hours in a report period: runs of consecutive hours with data, [fromTs, toTs). */
export interface NodeCoverage {
  readonly node: string;
  /** Start of the first hour the node ever had data or its Hello was stored, ms; null if neither. */
  readonly firstSeenTs: number | null;
  readonly measured: ReadonlyArray<{ readonly fromTs: number; readonly toTs: number }>;
}

/** What an energy report is built from, all within [fromTs, toTs) on UTC hours. */
export interface EnergyReportData {
  /** Job books by group and GPU model, hour by hour (ordered by group, then model, in code-point order). */
  readonly slices: ReportSlice[];
  /** Energy no job was charged with (idle devices, their modelled share), all nodes, per UTC hour. */
  readonly unallocated: ReadonlyArray<{ readonly hourTs: number; readonly energyMj: SplitMj }>;
  /** Every node known (inventory or energy books), by name. */
  readonly nodes: NodeCoverage[];
}

/** The collector's storage. */
export interface Store {
  loadLedger(node: string, epoch: string): LedgerState | undefined;
  /** Apply the effects of many batches atomically (one transaction). */
  commit(effects: readonly BatchEffect[]): void;
  /** The epilog said the job ended on `node` at `endTs`; false when it is not running there. */
  endJob(id: string, node: string, endTs: number): boolean;
  job(id: string): JobRecord | undefined;
  /** A job's energy per node in stored buckets within [fromTs, toTs) (InfluxDB: what its memory holds). */
  jobSeries(id: string, fromTs: number, toTs: number): SeriesPoint[];
  /** The same over everything the store keeps (InfluxDB: its whole retention, by a query). */
  queryJobSeries(id: string, fromTs: number, toTs: number): Promise<SeriesPoint[]>;
  /**
   * Raw-series retention: roll the 10 s series older than `beforeTs` up into 1-minute buckets
   * and drop them; the books stay. Returns raw rows removed.
   */
  pruneSeries(beforeTs: number): number;
  /** Roll-up retention: drop 1-minute buckets older than `beforeTs`. Returns rows removed. */
  pruneRollups(beforeTs: number): number;
  /** A node's per-GPU gauges in stored buckets starting in [fromTs, toTs), oldest first. */
  gpuSeries(node: string, fromTs: number, toTs: number): Promise<GpuBucket[]>;
  /** The GPUs (UUIDs) a job was last given on each of its nodes. */
  jobGpus(id: string): Map<string, string[]>;
  /** Remember a node's latest Hello (inventory, sources). */
  putNode(hello: Hello): void;
  /** Every node's latest Hello, by name. */
  nodes(): Map<string, Hello>;
  /** The job's energy per node and UTC hour. */
  jobHours(id: string): JobHour[];
  jobs(query: JobQuery): JobRecord[];
  /** Energy of the given jobs, in one query. */
  jobEnergy(ids: readonly string[]): Map<string, SplitMj>;
  /** Cluster energy in mJ measured in [fromTs, toTs). */
  clusterEnergyMj(fromTs: number, toTs: number): number;
  /** Per-node device, job and idle energy in [fromTs, toTs). */
  nodeBalance(fromTs: number, toTs: number): NodeBalance[];
  /** A report's aggregates over the UTC hours starting in [fromTs, toTs), grouped in the store (SQL on SQLite). */
  energyReport(by: ReportGroupBy, fromTs: number, toTs: number): EnergyReportData;
  close(): void;
}
