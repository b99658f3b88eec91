// Crypto primitives (no n2n framing): Pearson-B hashes, Speck, X25519, and the payload ciphers.
export * from './pearson.js';
export * from './speck.js';
export * from './x25519.js';
