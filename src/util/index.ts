// Lowest layer: bytes, errors, MAC/IP helpers, clock, randomness, logging. Imports nothing of ours.
export * from './bytes.js';
export * from './clock.js';
export * from './errors.js';
export * from './ip.js';
export * from './log.js';
export * from './mac.js';
export * from './random.js';
export * from './version.js';
