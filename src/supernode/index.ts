// Supernode layer: the protocol state machine and its options, stats and community-file parser.
export * from './community.js';
export * from './community-list.js';
export * from './deps.js';
export * from './options.js';
export * from './regex.js';
export * from './stats.js';
export * from './supernode.js';
