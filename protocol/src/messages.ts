/**
 * The wire contract between agent, collector and dashboard: zod schemas and the types
 * inferred from them. Units are in field names. Unknown fields are stripped (so a newer
 * agent can talk to an older collector); wrong types are rejected by the codec.
 */
import { z } from 'zod';
import { PROTOCOL_VERSION } from './constants.js';

const v = z.literal(PROTOCOL_VERSION);
/** Milliseconds since the Unix epoch, UTC. */
const tsMs = z.number().int().nonnegative();
const name = z.string().min(1).max(256);
/** A cumulative counter in whole millijoules; integers keep differences exact up to 2^53 mJ. */
const counterMj = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const ratio = z.number().min(0).max(1);

/** One MIG device (a slice of a physical GPU) as the agent found it at start. */
export const MigDeviceInfoSchema = z.object({
  /** `MIG-...` UUID, what Slurm and CUDA_VISIBLE_DEVICES name. */
  uuid: name,
  /** MIG device index within its parent GPU. */
  index: z.number().int().nonnegative(),
  /** Profile, e.g. `3g.40gb`. */
  profile: z.string().max(64).optional(),
  /** Compute slices of the parent this device holds (the `3` of `3g.40gb`); energy is shared by it. */
  slices: z.number().int().positive(),
});
export type MigDeviceInfo = z.infer<typeof MigDeviceInfoSchema>;

/** One GPU as the agent found it at start. */
export const GpuInfoSchema = z.object({
  uuid: name,
  index: z.number().int().nonnegative(),
  name: z.string().max(256),
  /** Minor number of /dev/nvidiaN, what Slurm's gres.conf and cgroups know the GPU by. */
  minor: z.number().int().nonnegative().optional(),
  pciBusId: z.string().max(64).optional(),
  /** MIG devices when MIG mode is on; power and energy stay per physical GPU. */
  migDevices: z.array(MigDeviceInfoSchema).max(64).optional(),
  /** Total compute slices of the GPU in MIG mode (7 on A100/H100/H200). */
  migSlices: z.number().int().positive().optional(),
  memTotalBytes: z.number().nonnegative().optional(),
  powerLimitW: z.number().positive().optional(),
  /** True when the GPU has a hardware energy counter (NVML total energy, Volta and newer). */
  hasEnergyCounter: z.boolean().optional(),
});
export type GpuInfo = z.infer<typeof GpuInfoSchema>;

/** One CPU package (socket) as the agent found it at start. */
export const CpuInfoSchema = z.object({
  id: name,
  model: z.string().max(256).optional(),
  cores: z.number().int().positive(),
});

/** The host as the agent found it at start. */
export const HostInfoSchema = z.object({
  hostname: z.string().max(256).optional(),
  cpuModel: z.string().max(256).optional(),
  logicalCpus: z.number().int().positive().optional(),
  memTotalBytes: z.number().nonnegative().optional(),
  os: z.string().max(256).optional(),
  kernel: z.string().max(256).optional(),
});
export type HostInfo = z.infer<typeof HostInfoSchema>;
export type CpuInfo = z.infer<typeof CpuInfoSchema>;

/** First message on every agent connection: who the node is and what it has. */
export const HelloSchema = z.object({
  v,
  type: z.literal('hello'),
  node: name,
  /** Counter epoch: boot id + agent start. Counters restart from 0 in a new epoch. */
  epoch: name,
  agentVersion: z.string().max(64),
  ts: tsMs,
  intervalMs: z.number().int().positive(),
  inventory: z.object({
    gpus: z.array(GpuInfoSchema).max(1024),
    cpus: z.array(CpuInfoSchema).max(1024),
    host: HostInfoSchema.optional(),
  }),
  /** Device sources that are running, and those disabled with the reason (shown to operators). */
  sources: z.array(z.object({ name, state: z.enum(['ok', 'disabled']), reason: z.string().max(512).optional() })).max(64).optional(),
});
export type Hello = z.infer<typeof HelloSchema>;

/** Gauges of one GPU at one sample. Absent means the driver did not report it, never 0. */
export const GpuGaugeSchema = z.object({
  uuid: name,
  powerW: z.number().optional(),
  tempC: z.number().optional(),
  memTempC: z.number().optional(),
  utilRatio: ratio.optional(),
  memUsedBytes: z.number().nonnegative().optional(),
  smClockMHz: z.number().nonnegative().optional(),
});
export type GpuGauge = z.infer<typeof GpuGaugeSchema>;

/** Gauges of one CPU package at one sample. */
export const CpuGaugeSchema = z.object({
  id: name,
  powerW: z.number().optional(),
  utilRatio: ratio.optional(),
});
export type CpuGauge = z.infer<typeof CpuGaugeSchema>;

/** Host gauges at one sample (from /proc). */
export const HostGaugeSchema = z.object({
  /** Busy fraction of all logical CPUs, 0..1. */
  cpuUtilRatio: ratio.optional(),
  /** Busy fraction per logical CPU, in CPU number order. */
  coreUtilRatio: z.array(ratio).max(4096).optional(),
  memUsedBytes: z.number().nonnegative().optional(),
  memTotalBytes: z.number().nonnegative().optional(),
  /** 1-minute load average. */
  load1: z.number().nonnegative().optional(),
});
export type HostGauge = z.infer<typeof HostGaugeSchema>;

/** Everything read at one tick of the agent's clock. */
export const SampleSchema = z.object({
  ts: tsMs,
  gpus: z.array(GpuGaugeSchema).max(1024),
  cpus: z.array(CpuGaugeSchema).max(1024),
  host: HostGaugeSchema.optional(),
});
export type Sample = z.infer<typeof SampleSchema>;

/** Kind of metered device; `gpu` and `cpu` feed the per-job split, `dram` counts as cpu. */
export const DeviceKindSchema = z.enum(['gpu', 'cpu', 'dram']);
export type DeviceKind = z.infer<typeof DeviceKindSchema>;

/** Cumulative energy of one device since the epoch began. */
export const DeviceCounterSchema = z.object({
  id: name,
  kind: DeviceKindSchema,
  energyMj: counterMj,
});
export type DeviceCounter = z.infer<typeof DeviceCounterSchema>;

/** Cumulative energy charged to one job (or to idle) on this node since the epoch began. */
export const EnergySplitSchema = z.object({
  gpuEnergyMj: counterMj,
  cpuEnergyMj: counterMj,
});
export type EnergySplit = z.infer<typeof EnergySplitSchema>;

export const JobCounterSchema = EnergySplitSchema.extend({ id: name });
export type JobCounter = z.infer<typeof JobCounterSchema>;

/** A job that holds devices on this node now. */
export const JobAllocationSchema = z.object({
  id: name,
  user: z.string().max(256),
  account: z.string().max(256),
  name: z.string().max(256).optional(),
  partition: z.string().max(256).optional(),
  startTs: tsMs,
  /** GPU UUIDs allocated to the job on this node. */
  gpus: z.array(name).max(1024),
  /** CPU cores allocated to the job on this node. */
  cpuCores: z.number().int().nonnegative(),
  /**
   * Share of the node's CPU time the job used over the last interval, 0..1, from its cgroup.
   * When every job on the node has it, CPU energy is split by it instead of by cores.
   */
  cpuShareRatio: ratio.optional(),
});
export type JobAllocation = z.infer<typeof JobAllocationSchema>;

/**
 * One report interval from one node. Counters are cumulative within `epoch`, so the
 * collector takes differences: a lost, repeated or late batch changes chart resolution,
 * never a job's energy.
 */
export const BatchSchema = z.object({
  v,
  type: z.literal('batch'),
  node: name,
  epoch: name,
  /** Increases by one per batch within an epoch, starting at 1. */
  seq: z.number().int().positive(),
  /** Time of the sample the counters were read at. */
  ts: tsMs,
  samples: z.array(SampleSchema).max(3600),
  counters: z.object({
    devices: z.array(DeviceCounterSchema).max(4096),
    jobs: z.array(JobCounterSchema).max(4096),
    idle: EnergySplitSchema,
  }),
  /** The node's job map at `ts`. */
  jobs: z.array(JobAllocationSchema).max(4096),
  /** Sampling intervals longer than the gap limit, not integrated, since the epoch began. */
  gaps: z.number().int().nonnegative(),
  /** Each device source's health: last read time and cumulative errors and timeouts. */
  sources: z.array(z.object({
    name,
    lastReadMs: z.number().nonnegative(),
    errors: z.number().int().nonnegative(),
    timeouts: z.number().int().nonnegative(),
  })).max(64).optional(),
});
export type Batch = z.infer<typeof BatchSchema>;

/** The collector's receipt: the agent may drop batches up to and including `seq`. */
export const AckSchema = z.object({ v, type: z.literal('ack'), seq: z.number().int().positive() });
export type Ack = z.infer<typeof AckSchema>;

/** Any message an agent may send. */
export const AgentMessageSchema = z.discriminatedUnion('type', [HelloSchema, BatchSchema]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;

/** Live topics a dashboard may subscribe to. */
export const TopicSchema = z.union([
  z.literal('cluster'),
  z.string().regex(/^node\/.+$/),
  z.string().regex(/^job\/.+$/),
]);
export type Topic = z.infer<typeof TopicSchema>;

/** Dashboard -> collector on `/ws/live`. */
export const SubscribeSchema = z.object({
  v,
  type: z.enum(['subscribe', 'unsubscribe']),
  topics: z.array(TopicSchema).max(256),
});
export type Subscribe = z.infer<typeof SubscribeSchema>;

/** Power and state of every GPU of one node, as columns (index order) for canvas drawing. */
export const LiveNodeSchema = z.object({
  name,
  /** False when no batch arrived for 3 report intervals. */
  up: z.boolean(),
  lastSeenTs: tsMs,
  powerW: z.number(),
  gpuUuids: z.array(z.string()),
  gpuPowerW: z.array(z.number().nullable()),
  gpuPowerLimitW: z.array(z.number().nullable()),
  gpuTempC: z.array(z.number().nullable()),
  gpuUtilRatio: z.array(z.number().nullable()),
  /** Job owning each GPU, or null. */
  gpuJob: z.array(z.string().nullable()),
});
export type LiveNode = z.infer<typeof LiveNodeSchema>;

/**
 * A grid row as a cluster message carries it: a delta may leave out the inventory columns
 * (`gpuUuids`, `gpuPowerLimitW`) when they did not change since the previous message; the
 * client keeps the ones it has. Full snapshots always carry them.
 */
export const LiveNodeRowSchema = LiveNodeSchema.extend({
  gpuUuids: LiveNodeSchema.shape.gpuUuids.optional(),
  gpuPowerLimitW: LiveNodeSchema.shape.gpuPowerLimitW.optional(),
});
export type LiveNodeRow = z.infer<typeof LiveNodeRowSchema>;

/** A running job as the live page shows it. */
export const LiveJobSchema = z.object({
  id: name,
  user: z.string(),
  account: z.string(),
  startTs: tsMs,
  nodes: z.array(z.string()),
  gpus: z.number().int().nonnegative(),
  powerW: z.number(),
  energyJ: z.number(),
});
export type LiveJob = z.infer<typeof LiveJobSchema>;

/** Energy, facility energy, CO2e and cost of the whole cluster since `fromTs` (today, this month). */
export const LivePeriodSchema = z.object({
  /** Start of the period (local midnight, first of the month) in ms. */
  fromTs: tsMs,
  /** IT energy: measured plus modelled base power, J. */
  energyJ: z.number(),
  /** Facility energy (IT energy x PUE, J), operational CO2e (g) and cost; null when a factor has no value for some hour. */
  footprint: z.object({
    facilityEnergyJ: z.number(),
    co2eG: z.object({ location: z.number(), market: z.number() }),
    costEur: z.number(),
  }).nullable(),
  /** Why `footprint` is null. */
  note: z.string().optional(),
});
export type LivePeriod = z.infer<typeof LivePeriodSchema>;

/** A footprint factor in force now (`pue`, `gridIntensityLocation`, ...), with where it comes from. */
export const LiveFactorSchema = z.object({
  name: z.string(),
  unit: z.string(),
  value: z.number(),
  source: z.string(),
  quality: z.string(),
});
export type LiveFactor = z.infer<typeof LiveFactorSchema>;

/** A node whose agent or one of whose sources is not reporting. */
export const LiveProblemSchema = z.object({
  node: name,
  /** False when the agent sent nothing for 3 report intervals. */
  agentUp: z.boolean(),
  lastSeenTs: tsMs,
  /** Sources that are disabled (said at agent start) or failing (their errors or timeouts grew in the last batch). */
  sources: z.array(z.object({ name: z.string(), state: z.enum(['disabled', 'failing']), reason: z.string() })),
});
export type LiveProblem = z.infer<typeof LiveProblemSchema>;

/**
 * Collector -> dashboard: the whole-cluster picture, at most once a second. A `full` message
 * (the first after subscribing, or after a client fell behind) carries every node in `grid`;
 * the others carry only the nodes that changed since the previous tick, to be merged by name.
 * `jobs` (highest power first, at most 500) and `problems` are always complete.
 */
export const LiveClusterSchema = z.object({
  v,
  type: z.literal('cluster'),
  /** Tick number of this topic; a gap means the client missed a delta and should resubscribe. */
  seq: z.number().int().nonnegative(),
  full: z.boolean(),
  ts: tsMs,
  nodes: z.number().int().nonnegative(),
  gpus: z.number().int().nonnegative(),
  powerW: z.number(),
  /** The part of `powerW` that is modelled base power, W. */
  modelledPowerW: z.number(),
  energyJ: z.number(),
  energyTodayJ: z.number(),
  jobsRunning: z.number().int().nonnegative(),
  today: LivePeriodSchema,
  month: LivePeriodSchema,
  /** The site's grid-connection cap, W; null when not configured. */
  gridCapW: z.number().positive().nullable(),
  /** PUE, carbon intensities and price in force this hour. */
  factors: z.array(LiveFactorSchema),
  problems: z.array(LiveProblemSchema),
  grid: z.array(LiveNodeRowSchema),
  jobs: z.array(LiveJobSchema),
});
export type LiveCluster = z.infer<typeof LiveClusterSchema>;

/** Collector -> dashboard once per subscription: recent cluster power as uPlot columns. */
export const LiveHistorySchema = z.object({
  v,
  type: z.literal('history'),
  topic: TopicSchema,
  /** [tsUnixS[], powerW[]], ascending, ready for uPlot.setData. */
  columns: z.tuple([z.array(z.number()), z.array(z.number().nullable())]),
});
export type LiveHistory = z.infer<typeof LiveHistorySchema>;

/** One GPU of a job on one node, live. */
export const LiveJobGpuSchema = z.object({
  node: name,
  index: z.number().int().nonnegative(),
  powerW: z.number().nullable(),
  utilRatio: z.number().nullable(),
});
export type LiveJobGpu = z.infer<typeof LiveJobGpuSchema>;

/**
 * Collector -> dashboard on `job/<id>`, at most once a second: the job's power now, per node
 * and per GPU, and its energy so far. Small, so every message is complete (`full` is true).
 */
export const LiveJobTopicSchema = z.object({
  v,
  type: z.literal('job'),
  topic: TopicSchema,
  seq: z.number().int().nonnegative(),
  full: z.boolean(),
  ts: tsMs,
  id: name,
  /** `running` while a node that is up holds it, else what the books say; `unknown` if never seen. */
  state: z.enum(['running', 'completed', 'unknown']),
  user: z.string(),
  account: z.string(),
  startTs: tsMs.nullable(),
  endTs: tsMs.nullable(),
  /** Power now including modelled base power, W; null when not running. */
  powerW: z.number().nullable(),
  nodes: z.array(z.object({ name, powerW: z.number().nullable(), lastSeenTs: tsMs })),
  gpus: z.array(LiveJobGpuSchema),
  /** Energy so far, J (gpu + cpu + modelled other). */
  energyJ: z.object({ total: z.number(), gpu: z.number(), cpu: z.number(), other: z.number() }),
});
export type LiveJobTopic = z.infer<typeof LiveJobTopicSchema>;

/** Collector -> dashboard on `node/<name>`, at most once a second; always complete. */
export const LiveNodeTopicSchema = z.object({
  v,
  type: z.literal('node'),
  topic: TopicSchema,
  seq: z.number().int().nonnegative(),
  full: z.boolean(),
  ts: tsMs,
  /** Null when the node never said hello to this collector. */
  node: LiveNodeSchema.nullable(),
  cpuPowerW: z.number().nullable(),
  cpuUtilRatio: z.number().nullable(),
  problem: LiveProblemSchema.nullable(),
  jobs: z.array(z.string()),
});
export type LiveNodeTopic = z.infer<typeof LiveNodeTopicSchema>;

/** Collector -> dashboard when a request on `/ws/live` was refused. */
export const LiveErrorSchema = z.object({ v, type: z.literal('error'), message: z.string(), topic: z.string().optional() });
export type LiveError = z.infer<typeof LiveErrorSchema>;

export const LiveMessageSchema = z.discriminatedUnion('type', [LiveClusterSchema, LiveJobTopicSchema, LiveNodeTopicSchema, LiveHistorySchema, LiveErrorSchema]);
export type LiveMessage = z.infer<typeof LiveMessageSchema>;

/** `GET /api/v1/cluster`. */
export const ClusterSummarySchema = z.object({
  ts: tsMs,
  nodes: z.number().int().nonnegative(),
  gpus: z.number().int().nonnegative(),
  /** Power now: measured devices plus the modelled base power of nodes, when configured. */
  powerW: z.number(),
  /** Energy of the whole cluster since the store began: measured, plus modelled base power when configured. */
  energyJ: z.number(),
  /** Energy since midnight in the collector's time zone (same scope as `energyJ`). */
  energyTodayJ: z.number(),
  /** The part of `powerW` that is modelled base power (fans, NICs, disks), not measured; 0 when none is configured. */
  modelledPowerW: z.number().optional(),
  jobsRunning: z.number().int().nonnegative(),
});
export type ClusterSummary = z.infer<typeof ClusterSummarySchema>;

export const JobStateSchema = z.enum(['running', 'completed']);
export type JobState = z.infer<typeof JobStateSchema>;

/** `GET /api/v1/jobs/{id}` and the rows of `GET /api/v1/jobs`. Energy in J. */
export const JobSummarySchema = z.object({
  id: name,
  user: z.string(),
  account: z.string(),
  state: JobStateSchema,
  startTs: tsMs,
  endTs: tsMs.nullable(),
  nodes: z.array(z.string()),
  gpus: z.number().int().nonnegative(),
  energyJ: z.object({ total: z.number(), gpu: z.number(), cpu: z.number(), other: z.number() }),
  /** GPUs allocated × time, on all the job's nodes. */
  gpuHours: z.number().nonnegative(),
  /** Mean utilisation of the job's GPUs while they reported it, 0..1; null when they never did. */
  meanGpuUtilRatio: ratio.nullable(),
  /** Allocated GPU-hours with utilisation below IDLE_GPU_UTIL_RATIO (allocated but idle). */
  idleGpuHours: z.number().nonnegative(),
});
export type JobSummary = z.infer<typeof JobSummarySchema>;

/** One factor a footprint used, with its source and validity, so a figure can be traced back. */
export const FactorUseSchema = z.object({
  name: z.string(),
  unit: z.string(),
  value: z.union([z.number(), z.object({ min: z.number(), max: z.number() })]),
  source: z.string(),
  quality: z.string(),
  validity: z.object({ fromTs: z.number().nullable(), toTs: z.number().nullable() }),
  note: z.string().optional(),
  derivation: z.string().optional(),
  appliedFromTs: z.number(),
  appliedToTs: z.number(),
  outsideValidity: z.boolean(),
});
export type FactorUse = z.infer<typeof FactorUseSchema>;

/** `GET /api/v1/jobs/{id}`: the job with its footprint. CO2e in g, cost in EUR, energy in J. */
export const JobDetailSchema = JobSummarySchema.extend({
  facilityEnergyJ: z.number(),
  co2eG: z.object({ location: z.number(), market: z.number() }),
  embodiedCo2eG: z.number(),
  costEur: z.number(),
  gpuHours: z.number(),
  /** `energyJ.other` is modelled base power, not measured. */
  otherEnergyModelled: z.literal(true),
  factors: z.array(FactorUseSchema),
  method: z.string(),
  warnings: z.array(z.string()),
});
export type JobDetail = z.infer<typeof JobDetailSchema>;

/** `GET /api/v1/nodes` rows and `GET /api/v1/nodes/{name}`. */
export const NodeSummarySchema = z.object({
  name,
  up: z.boolean(),
  lastSeenTs: tsMs.nullable(),
  epoch: z.string(),
  agentVersion: z.string(),
  gpus: z.array(GpuInfoSchema),
  cpus: z.array(CpuInfoSchema),
  host: HostInfoSchema.optional(),
  sources: HelloSchema.shape.sources,
  powerW: z.number().nullable(),
  jobs: z.array(z.string()),
});
export type NodeSummary = z.infer<typeof NodeSummarySchema>;

/** Body of every HTTP error response. */
export const ApiErrorSchema = z.object({ error: z.string() });
export type ApiError = z.infer<typeof ApiErrorSchema>;
