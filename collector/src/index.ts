export { startCollector, defaultDashboardDir } from './collector.js';
export type { Collector, CollectorOptions } from './collector.js';
export { AgentTokens } from './auth/agent-tokens.js';
export type { Store, NodeBalance, JobRecord } from './store/store.js';
export { basePowerOf, parseBasePowerRule } from './base-power.js';
export type { BasePowerRule } from './base-power.js';
export { CollectorTelemetry, DEFAULT_JOB_METRICS_LIMIT, DEFAULT_OTLP_INTERVAL_MS, otlpMetricsUrl } from './telemetry.js';
export type { CollectorTelemetryOptions, CollectorSources } from './telemetry.js';
