// n2n framing on top of the primitives: time stamps, header encryption, auth key material, payload transforms.
export * from './auth.js';
export * from './header.js';
export * from './stamp.js';
