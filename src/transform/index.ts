// n2n framing on top of the primitives: time stamps, header encryption, auth key material, payload transforms.
export * from './auth.js';
export * from './compression.js';
export * from './header.js';
export * from './keys.js';
export * from './lzo.js';
export * from './n2nRandom.js';
export * from './payload.js';
export * from './stamp.js';
