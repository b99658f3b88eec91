// The I/O layer: TAP device and UDP socket contracts, their in-memory doubles and the real implementations.
export * from './memory.js';
export * from './types.js';
