/**
 * Metric and attribute names. The `hw.*`, `host.*` and `service.*` constants are copied from
 * the OpenTelemetry semantic conventions (`@opentelemetry/semantic-conventions` 1.45.0,
 * `experimental_metrics` / `experimental_attributes` / `stable_attributes`) with their TSDoc,
 * so the agent does not carry that package; our own figures start with {@link STROOM_PREFIX}.
 *
 * `METRICS` is the catalogue: every name either process records must be in it (a test fails
 * otherwise), and `docs/metrics.md` lists each with its Prometheus name.
 *
 * Never put a job id, user or PID on an `hw.*` series: job figures go on `stroom.job.*` only,
 * under a cardinality cap.
 */

// ---------------------------------------------------------------------------------------------
// OpenTelemetry hardware metrics (copied)

/**
 * Instantaneous power consumed by the component.
 *
 * @note It is recommended to report `hw.energy` instead of `hw.power` when possible.
 *
 * @experimental This metric is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const METRIC_HW_POWER = 'hw.power' as const;

/**
 * Energy consumed by the component.
 *
 * @experimental This metric is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const METRIC_HW_ENERGY = 'hw.energy' as const;

/**
 * Temperature in degrees Celsius.
 *
 * @experimental This metric is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const METRIC_HW_TEMPERATURE = 'hw.temperature' as const;

/**
 * Fraction of time spent in a specific task.
 *
 * @experimental This metric is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const METRIC_HW_GPU_UTILIZATION = 'hw.gpu.utilization' as const;

/**
 * GPU memory used.
 *
 * @experimental This metric is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const METRIC_HW_GPU_MEMORY_USAGE = 'hw.gpu.memory.usage' as const;

/**
 * Size of the GPU memory.
 *
 * @experimental This metric is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const METRIC_HW_GPU_MEMORY_LIMIT = 'hw.gpu.memory.limit' as const;

/**
 * Fraction of GPU memory used.
 *
 * @experimental This metric is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const METRIC_HW_GPU_MEMORY_UTILIZATION = 'hw.gpu.memory.utilization' as const;

/**
 * Total energy consumed by the entire physical host, in joules.
 *
 * @note The overall energy usage of a host **MUST** be reported using the specific `hw.host.energy` and `hw.host.power` metrics **only**, instead of the generic `hw.energy` and `hw.power` described in the previous section, to prevent summing up overlapping values.
 *
 * @experimental This metric is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const METRIC_HW_HOST_ENERGY = 'hw.host.energy' as const;

/**
 * Instantaneous power consumed by the entire physical host in Watts (`hw.host.energy` is preferred).
 *
 * @note The overall energy usage of a host **MUST** be reported using the specific `hw.host.energy` and `hw.host.power` metrics **only**, instead of the generic `hw.energy` and `hw.power` described in the previous section, to prevent summing up overlapping values.
 *
 * @experimental This metric is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const METRIC_HW_HOST_POWER = 'hw.host.power' as const;

// ---------------------------------------------------------------------------------------------
// OpenTelemetry attributes (copied)

/**
 * An identifier for the hardware component, unique within the monitored host
 *
 * @example win32battery_battery_testsysa33_1
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_HW_ID = 'hw.id' as const;

/**
 * An easily-recognizable name for the hardware component
 *
 * @example eth0
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_HW_NAME = 'hw.name' as const;

/**
 * Descriptive model name of the hardware component
 *
 * @example PERC H740P
 * @example Intel(R) Core(TM) i7-10700K
 * @example Dell XPS 15 Battery
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_HW_MODEL = 'hw.model' as const;

/**
 * Vendor name of the hardware component
 *
 * @example Dell
 * @example HP
 * @example Intel
 * @example AMD
 * @example LSI
 * @example Lenovo
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_HW_VENDOR = 'hw.vendor' as const;

/**
 * Type of the component
 *
 * @note Describes the category of the hardware component for which `hw.state` is being reported. For example, `hw.type=temperature` along with `hw.state=degraded` would indicate that the temperature of the hardware component has been reported as `degraded`.
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_HW_TYPE = 'hw.type' as const;

/**
 * Unique identifier of the parent component (typically the `hw.id` attribute of the enclosure, or disk controller)
 *
 * @example dellStorage_perc_0
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_HW_PARENT = 'hw.parent' as const;

/**
 * Location of the sensor
 *
 * @example cpu0
 * @example ps1
 * @example INLET
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_HW_SENSOR_LOCATION = 'hw.sensor_location' as const;

/**
 * Type of task the GPU is performing
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_HW_GPU_TASK = 'hw.gpu.task' as const;

/**
 * Enum value "cpu" for attribute {@link ATTR_HW_TYPE}.
 *
 * CPU
 *
 * @experimental This enum value is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const HW_TYPE_VALUE_CPU = 'cpu' as const;

/**
 * Enum value "gpu" for attribute {@link ATTR_HW_TYPE}.
 *
 * GPU
 *
 * @experimental This enum value is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const HW_TYPE_VALUE_GPU = 'gpu' as const;

/**
 * Enum value "memory" for attribute {@link ATTR_HW_TYPE}.
 *
 * Memory
 *
 * @experimental This enum value is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const HW_TYPE_VALUE_MEMORY = 'memory' as const;

/**
 * Enum value "general" for attribute {@link ATTR_HW_GPU_TASK}.
 *
 * General
 *
 * @experimental This enum value is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const HW_GPU_TASK_VALUE_GENERAL = 'general' as const;

/**
 * Name of the host. On UNIX systems, it may contain what the hostname command returns, or the fully qualified hostname, or another name specified by the user.
 *
 * @example opentelemetry-test
 *
 * @experimental This attribute is experimental and is subject to breaking changes in minor releases of `@opentelemetry/semantic-conventions`.
 */
export const ATTR_HOST_NAME = 'host.name' as const;

/**
 * Logical name of the service.
 *
 * @example shoppingcart
 */
export const ATTR_SERVICE_NAME = 'service.name' as const;

/**
 * The version string of the service component. The format is not defined by these conventions.
 *
 * @example 2.0.0
 */
export const ATTR_SERVICE_VERSION = 'service.version' as const;

// ---------------------------------------------------------------------------------------------
// Our own names

/** The one prefix of every metric and attribute of our own. */
export const STROOM_PREFIX = 'stroom' as const;

/** Name of a device source (`nvml`, `nvidia-smi`, `rapl`, `simulated`, ...). */
export const ATTR_STROOM_SOURCE_NAME = 'stroom.source.name' as const;
/** State of the agent's link to the collector: `connecting`, `open`, `waiting` or `closed`. */
export const ATTR_STROOM_LINK_STATE = 'stroom.link.state' as const;
/** Whether a node reported recently: `up` or `down`. */
export const ATTR_STROOM_NODE_STATE = 'stroom.node.state' as const;
/** Scheduler job id. Only ever on `stroom.job.*` series. */
export const ATTR_STROOM_JOB_ID = 'stroom.job.id' as const;
/** User who owns the job. Only ever on `stroom.job.*` series. */
export const ATTR_STROOM_JOB_USER = 'stroom.job.user' as const;
/** Account (project) the job is charged to. Only ever on `stroom.job.*` series. */
export const ATTR_STROOM_JOB_ACCOUNT = 'stroom.job.account' as const;

/** Per-source read duration of the agent, s (histogram, `stroom.source.name`). */
export const METRIC_STROOM_AGENT_SOURCE_DURATION = 'stroom.agent.source.duration' as const;
/** Failed reads per source since the agent started (`stroom.source.name`). */
export const METRIC_STROOM_AGENT_SOURCE_ERRORS = 'stroom.agent.source.errors' as const;
/** Reads given up at the deadline per source since the agent started (`stroom.source.name`). */
export const METRIC_STROOM_AGENT_SOURCE_TIMEOUTS = 'stroom.agent.source.timeouts' as const;
/** Bytes held by the agent's spool, not yet acknowledged. */
export const METRIC_STROOM_AGENT_SPOOL_SIZE = 'stroom.agent.spool.size' as const;
/** Batches held by the agent's spool, not yet acknowledged. */
export const METRIC_STROOM_AGENT_SPOOL_BATCHES = 'stroom.agent.spool.batches' as const;
/** Batches the spool dropped: oldest first at its byte cap, or a new one it could not write (disk full). */
export const METRIC_STROOM_AGENT_SPOOL_DROPPED = 'stroom.agent.spool.dropped' as const;
/** 1 for the link's current state, 0 for the others (`stroom.link.state`), like `hw.status`. */
export const METRIC_STROOM_AGENT_LINK_STATE = 'stroom.agent.link.state' as const;
/** Batches the agent made since it started. */
export const METRIC_STROOM_AGENT_BATCHES = 'stroom.agent.batches' as const;
/** Sampling intervals longer than the gap limit, not integrated, in this counter epoch. */
export const METRIC_STROOM_AGENT_GAPS = 'stroom.agent.gaps' as const;

/** Batches counted into the books since the collector started. */
export const METRIC_STROOM_COLLECTOR_BATCHES = 'stroom.collector.batches' as const;
/** Batches received again and dropped (already counted), since the collector started. */
export const METRIC_STROOM_COLLECTOR_BATCHES_DUPLICATE = 'stroom.collector.batches.duplicate' as const;
/** Counters that went backwards (device or agent restart): a new baseline, nothing counted for that interval. */
export const METRIC_STROOM_COLLECTOR_COUNTER_RESETS = 'stroom.collector.counter.resets' as const;
/** Intervals dropped because a counter jumped beyond physics. */
export const METRIC_STROOM_COLLECTOR_COUNTER_GLITCHES = 'stroom.collector.counter.glitches' as const;
/** Single gauge values refused for being outside physics (the rest of the batch was kept). */
export const METRIC_STROOM_COLLECTOR_VALUES_REJECTED = 'stroom.collector.values.rejected' as const;
/** Frames that broke the protocol (the socket was closed with 1008). */
export const METRIC_STROOM_COLLECTOR_FRAMES_REJECTED = 'stroom.collector.frames.rejected' as const;
/** Agent handshakes refused (missing or wrong token). */
export const METRIC_STROOM_COLLECTOR_HANDSHAKES_REFUSED = 'stroom.collector.handshakes.refused' as const;
/** Group commits made durable. */
export const METRIC_STROOM_COLLECTOR_COMMITS = 'stroom.collector.commits' as const;
/** Group commits that failed (their batches were not acked and will be resent). */
export const METRIC_STROOM_COLLECTOR_COMMIT_FAILURES = 'stroom.collector.commit.failures' as const;
/** Duration of one group commit (the store transaction), s. */
export const METRIC_STROOM_COLLECTOR_COMMIT_DURATION = 'stroom.collector.commit.duration' as const;
/** Agent WebSocket connections open now. */
export const METRIC_STROOM_COLLECTOR_AGENTS_CONNECTED = 'stroom.collector.agents.connected' as const;
/** Dashboard WebSocket connections open now. */
export const METRIC_STROOM_COLLECTOR_LIVE_CLIENTS = 'stroom.collector.live.clients' as const;
/** Live messages not sent to a dashboard that could not keep up. */
export const METRIC_STROOM_COLLECTOR_LIVE_SKIPPED = 'stroom.collector.live.skipped' as const;
/** Running jobs left out of `stroom.job.*` by the cardinality cap (the lowest-power ones). */
export const METRIC_STROOM_COLLECTOR_JOBS_OMITTED = 'stroom.collector.jobs.omitted' as const;

/** Cluster power now: sum over the nodes that are up, W. */
export const METRIC_STROOM_CLUSTER_POWER = 'stroom.cluster.power' as const;
/** Energy measured on the whole cluster since the store began, J. */
export const METRIC_STROOM_CLUSTER_ENERGY = 'stroom.cluster.energy' as const;
/** Nodes known to the collector, by `stroom.node.state`. */
export const METRIC_STROOM_CLUSTER_NODES = 'stroom.cluster.nodes' as const;
/** GPUs in the inventories of the known nodes. */
export const METRIC_STROOM_CLUSTER_GPUS = 'stroom.cluster.gpus' as const;
/** Jobs running on nodes that are up. */
export const METRIC_STROOM_CLUSTER_JOBS_RUNNING = 'stroom.cluster.jobs.running' as const;

/** Power of one running job summed over its nodes (GPU + CPU, from counters), W. Capped. */
export const METRIC_STROOM_JOB_POWER = 'stroom.job.power' as const;
/** Measured energy (GPU + CPU) of one running job so far, J. Capped. */
export const METRIC_STROOM_JOB_ENERGY = 'stroom.job.energy' as const;

// ---------------------------------------------------------------------------------------------
// The catalogue

/** OpenTelemetry instrument kind of a metric. */
export type InstrumentKind = 'gauge' | 'counter' | 'updowncounter' | 'histogram';

/** What a metric is: instrument, UCUM unit, description. */
export interface MetricInfo {
  readonly instrument: InstrumentKind;
  readonly unit: string;
  readonly description: string;
}

/** Every metric stroom records, by name. */
export const METRICS = {
  [METRIC_HW_POWER]: { instrument: 'gauge', unit: 'W', description: 'Instantaneous power consumed by the component.' },
  [METRIC_HW_ENERGY]: { instrument: 'counter', unit: 'J', description: "Energy consumed by the component since the agent's counter epoch began." },
  [METRIC_HW_TEMPERATURE]: { instrument: 'gauge', unit: 'Cel', description: 'Temperature in degrees Celsius.' },
  [METRIC_HW_GPU_UTILIZATION]: { instrument: 'gauge', unit: '1', description: 'Fraction of time spent in a specific task.' },
  [METRIC_HW_GPU_MEMORY_USAGE]: { instrument: 'updowncounter', unit: 'By', description: 'GPU memory used.' },
  [METRIC_HW_GPU_MEMORY_LIMIT]: { instrument: 'updowncounter', unit: 'By', description: 'Size of the GPU memory.' },
  [METRIC_HW_GPU_MEMORY_UTILIZATION]: { instrument: 'gauge', unit: '1', description: 'Fraction of GPU memory used.' },
  [METRIC_HW_HOST_POWER]: { instrument: 'gauge', unit: 'W', description: 'Power of the whole host (sum of its metered, non-overlapping components).' },
  [METRIC_HW_HOST_ENERGY]: { instrument: 'counter', unit: 'J', description: "Energy of the whole host (sum of its metered, non-overlapping components) since the agent's counter epoch began." },
  [METRIC_STROOM_AGENT_SOURCE_DURATION]: { instrument: 'histogram', unit: 's', description: 'Duration of one device source read.' },
  [METRIC_STROOM_AGENT_SOURCE_ERRORS]: { instrument: 'counter', unit: '{error}', description: 'Device source faults: failed reads, and faults the source healed itself (nvidia-smi restarts and junk lines, NVML lost readings).' },
  [METRIC_STROOM_AGENT_SOURCE_TIMEOUTS]: { instrument: 'counter', unit: '{timeout}', description: 'Device source reads given up at the deadline.' },
  [METRIC_STROOM_AGENT_SPOOL_SIZE]: { instrument: 'updowncounter', unit: 'By', description: 'Bytes held by the spool, not yet acknowledged.' },
  [METRIC_STROOM_AGENT_SPOOL_BATCHES]: { instrument: 'updowncounter', unit: '{batch}', description: 'Batches held by the spool, not yet acknowledged.' },
  [METRIC_STROOM_AGENT_SPOOL_DROPPED]: { instrument: 'counter', unit: '{batch}', description: 'Batches dropped by the spool: oldest first at its byte cap, or one it could not write (disk full).' },
  [METRIC_STROOM_AGENT_LINK_STATE]: { instrument: 'updowncounter', unit: '1', description: "1 for the collector link's current state, 0 for the others." },
  [METRIC_STROOM_AGENT_BATCHES]: { instrument: 'counter', unit: '{batch}', description: 'Batches made by the agent.' },
  [METRIC_STROOM_AGENT_GAPS]: { instrument: 'counter', unit: '{gap}', description: 'Sampling intervals longer than the gap limit, not integrated.' },
  [METRIC_STROOM_COLLECTOR_BATCHES]: { instrument: 'counter', unit: '{batch}', description: 'Batches counted into the books.' },
  [METRIC_STROOM_COLLECTOR_BATCHES_DUPLICATE]: { instrument: 'counter', unit: '{batch}', description: 'Batches received again and dropped.' },
  [METRIC_STROOM_COLLECTOR_COUNTER_RESETS]: { instrument: 'counter', unit: '{reset}', description: 'Energy counters that went backwards (new baseline).' },
  [METRIC_STROOM_COLLECTOR_COUNTER_GLITCHES]: { instrument: 'counter', unit: '{interval}', description: 'Intervals dropped because a counter jumped beyond physics.' },
  [METRIC_STROOM_COLLECTOR_VALUES_REJECTED]: { instrument: 'counter', unit: '{value}', description: 'Gauge values refused for being outside physics.' },
  [METRIC_STROOM_COLLECTOR_FRAMES_REJECTED]: { instrument: 'counter', unit: '{frame}', description: 'Agent frames that broke the protocol.' },
  [METRIC_STROOM_COLLECTOR_HANDSHAKES_REFUSED]: { instrument: 'counter', unit: '{handshake}', description: 'Agent handshakes refused (missing or wrong token).' },
  [METRIC_STROOM_COLLECTOR_COMMITS]: { instrument: 'counter', unit: '{commit}', description: 'Group commits made durable.' },
  [METRIC_STROOM_COLLECTOR_COMMIT_FAILURES]: { instrument: 'counter', unit: '{commit}', description: 'Group commits that failed.' },
  [METRIC_STROOM_COLLECTOR_COMMIT_DURATION]: { instrument: 'histogram', unit: 's', description: 'Duration of one group commit (store transaction).' },
  [METRIC_STROOM_COLLECTOR_AGENTS_CONNECTED]: { instrument: 'updowncounter', unit: '{connection}', description: 'Agent WebSocket connections open now.' },
  [METRIC_STROOM_COLLECTOR_LIVE_CLIENTS]: { instrument: 'updowncounter', unit: '{connection}', description: 'Dashboard WebSocket connections open now.' },
  [METRIC_STROOM_COLLECTOR_LIVE_SKIPPED]: { instrument: 'counter', unit: '{message}', description: 'Live messages not sent to a slow dashboard.' },
  [METRIC_STROOM_COLLECTOR_JOBS_OMITTED]: { instrument: 'gauge', unit: '{job}', description: 'Running jobs left out of stroom.job.* by the cardinality cap.' },
  [METRIC_STROOM_CLUSTER_POWER]: { instrument: 'gauge', unit: 'W', description: 'Cluster power now: sum over the nodes that are up.' },
  [METRIC_STROOM_CLUSTER_ENERGY]: { instrument: 'counter', unit: 'J', description: 'Energy measured on the whole cluster since the store began.' },
  [METRIC_STROOM_CLUSTER_NODES]: { instrument: 'updowncounter', unit: '{node}', description: 'Nodes known to the collector, by state.' },
  [METRIC_STROOM_CLUSTER_GPUS]: { instrument: 'updowncounter', unit: '{gpu}', description: 'GPUs in the inventories of the known nodes.' },
  [METRIC_STROOM_CLUSTER_JOBS_RUNNING]: { instrument: 'updowncounter', unit: '{job}', description: 'Jobs running on nodes that are up.' },
  [METRIC_STROOM_JOB_POWER]: { instrument: 'gauge', unit: 'W', description: 'Power of a running job (GPU + CPU, from counters), summed over its nodes.' },
  [METRIC_STROOM_JOB_ENERGY]: { instrument: 'counter', unit: 'J', description: 'Measured energy (GPU + CPU) of a running job so far.' },
} as const satisfies Record<string, MetricInfo>;

/** A metric name of the catalogue. */
export type MetricName = keyof typeof METRICS;

/** True when `name` is in the catalogue. */
export function isMetricName(name: string): name is MetricName {
  return Object.prototype.hasOwnProperty.call(METRICS, name);
}
