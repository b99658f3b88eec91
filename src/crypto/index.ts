// Crypto primitives (no n2n framing): Pearson-B hashes, Speck, X25519, and the payload ciphers.

export * from './aes.js';
export type * from './backend.js';
export * from './chacha20.js';
export * from './pearson.js';
export * from './speck.js';
export * from './twofish.js';
export * from './x25519.js';
