// The n2n v3 wire codec: message model, common header, socks, every message's encoder/decoder, PACKET hot path.
export * from './common.js';
export * from './json.js';
export * from './messages.js';
export * from './packet.js';
export * from './sock.js';
export * from './types.js';
