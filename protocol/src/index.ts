export * from './constants.js';
export * from './units.js';
export * from './messages.js';
export * from './codec.js';
export * from './semconv.js';
export * from './hw-metrics.js';
export * from './reports.js';
