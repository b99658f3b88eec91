// The edge layer: the protocol engine, its options, dependencies and helpers (library API of `tsn2n edge`).
export * from './auth.js';
export * from './deps.js';
export * from './edge.js';
export * from './filter.js';
export * from './options.js';
export * from './payload.js';
export * from './peers.js';
export * from './stats.js';
export * from './supernodes.js';
export * from './system.js';
