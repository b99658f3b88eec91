// The I/O layer: TAP device and UDP socket contracts, their in-memory doubles and the real implementations.
export type { NativeAddon, NativeFdPoller, NativeIfInfo } from './addon.js';
export { AddonMissingError, addonAvailable, loadAddon } from './addon.js';
export {
  INVALID_PAYLOAD,
  NativeCipherBackend,
  NativePayloadBatch,
  nativeCipherBackend,
} from './crypto-native.js';
export * from './fastpath.js';
export * from './memory.js';
export * from './notify.js';
export * from './pool.js';
export * from './sockaddr.js';
export * from './tap.js';
export * from './tcp-framed.js';
export * from './types.js';
export * from './udp.js';
export * from './udp-native.js';
export * from './zstd.js';
