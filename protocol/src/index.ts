export * from './constants.js';
export * from './units.js';
export * from './messages.js';
export * from './codec.js';
