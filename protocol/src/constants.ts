/** Wire protocol version carried as `v` in every message. Bump only for breaking changes. */
export const PROTOCOL_VERSION = 1 as const;

/** WebSocket path where agents stream batches to the collector. */
export const AGENT_WS_PATH = '/ws/agent';

/** WebSocket path where dashboards subscribe to live topics. */
export const LIVE_WS_PATH = '/ws/live';

/** HTTP header naming the node in the agent's WebSocket handshake (the token is checked against it). */
export const NODE_HEADER = 'x-stroom-node';

/**
 * WebSocket close codes used by the collector. 1008 is RFC 6455 "policy violation":
 * the frame was understood as JSON but broke the contract; the reason names the field.
 */
export const CLOSE_POLICY_VIOLATION = 1008;
/** Close code when the collector shuts down; the agent reconnects with backoff. */
export const CLOSE_GOING_AWAY = 1001;

/** Largest frame either side accepts, in bytes. A 64-GPU batch with 60 samples is ~200 KiB. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/**
 * A GPU allocated to a job whose utilisation is below this ratio counts as allocated but idle
 * (dashboard marks, idle GPU-hours in job figures and reports): 5 % is what an interactive
 * session or a job stuck waiting on data shows, while real work keeps it well above.
 */
export const IDLE_GPU_UTIL_RATIO = 0.05;

/** What an energy report can be grouped by (zod-free, so a CLI can offer them without loading zod). */
export const REPORT_GROUP_BY = ['account', 'user', 'job', 'node', 'partition'] as const;

/** The file formats of an energy report. */
export const REPORT_FORMATS = ['csv', 'json', 'html', 'pdf'] as const;
