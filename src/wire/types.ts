// The n2n v3 message model: constants and the TypeScript shape of every message (spec §2–§4).
import type { Mac } from '../util/mac.js';

/** include/n2n_define.h: N2N_PKT_VERSION. */
export const N2N_PKT_VERSION = 3;
/** include/n2n_define.h: N2N_DEFAULT_TTL. */
export const N2N_DEFAULT_TTL = 2;
/** Size of the common header in bytes (spec §3). */
export const COMMON_HEADER_BYTES = 24;
/** Community field width; 19 usable characters plus a NUL (N2N_COMMUNITY_SIZE). */
export const COMMUNITY_BYTES = 20;
export const COMMUNITY_MAX_CHARS = 19;
/** Device description width (N2N_DESC_SIZE); 15 usable characters. */
export const DESC_BYTES = 16;
/** Version string width in PEER_INFO. */
export const VERSION_BYTES = 20;
/** N2N_AUTH_MAX_TOKEN_SIZE. */
export const AUTH_MAX_TOKEN_BYTES = 48;
/** One REGISTER_SUPER_ACK supernode entry (C struct image, spec §2). */
export const SN_ENTRY_BYTES = 26;
/** The most entries a 3.1.1 decoder accepts (spec §4.7). */
export const SN_ENTRIES_MAX = 44;
/** N2N_PKT_BUF_SIZE: receive buffer, and the largest datagram n2n handles. */
export const PKT_BUF_BYTES = 2048;

/** Message types (`pc`), spec §3. */
export const MsgType = {
  PING: 0,
  REGISTER: 1,
  DEREGISTER: 2,
  PACKET: 3,
  REGISTER_ACK: 4,
  REGISTER_SUPER: 5,
  UNREGISTER_SUPER: 6,
  REGISTER_SUPER_ACK: 7,
  REGISTER_SUPER_NAK: 8,
  FEDERATION: 9,
  PEER_INFO: 10,
  QUERY_PEER: 11,
  RE_REGISTER_SUPER: 12,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

/** Name of a message type for logs and the decode tool. */
export const MSG_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(MsgType).map(([k, v]) => [v, k]),
);

/** Flag bits of the 16-bit flags word (spec §3). */
export const Flags = {
  TYPE_MASK: 0x001f,
  FROM_SUPERNODE: 0x0020,
  SOCKET: 0x0040,
  OPTIONS: 0x0080,
} as const;

/** REGISTER cookies, also a priority ranking (spec §4.1, §12.5). */
export const Cookie = {
  FORWARDED: 0x0000_1000,
  PORT: 0x0000_4000,
  REGULAR: 0x0001_0000,
  MCAST: 0x0040_0000,
  LOCAL: 0x0100_0000,
} as const;

/** Transform ids (spec §5.1). */
export const TransformId = { INVALID: 0, NULL: 1, TWOFISH: 2, AES: 3, CHACHA20: 4, SPECK: 5 } as const;
export type TransformId = (typeof TransformId)[keyof typeof TransformId];

/** Compression ids (spec §5.1). */
export const CompressionId = { INVALID: 0, NONE: 1, LZO: 2, ZSTD: 3 } as const;
export type CompressionId = (typeof CompressionId)[keyof typeof CompressionId];

/** Auth schemes (spec §8). */
export const AuthScheme = { NONE: 0, ID: 1, USER_PASSWORD: 2 } as const;

/** A socket inside a message (`n2n_sock_t`): 8 bytes for IPv4, 20 for IPv6. */
export interface Sock {
  family: 4 | 6;
  port: number;
  /** Dotted IPv4 or canonical IPv6 text. */
  address: string;
}

/** dev_addr: IPv4 address as u32 (0x0a000005 = 10.0.0.5) and prefix length. */
export interface DevAddr {
  addr: number;
  bitlen: number;
}

export interface Auth {
  scheme: number;
  /** token.length is the token_size field; at most AUTH_MAX_TOKEN_BYTES. */
  token: Uint8Array;
}

/** The 24-byte common header. `flags` holds bits 5..15 only; the type lives in `type`. */
export interface Common {
  ttl: number;
  type: MsgType;
  flags: number;
  /** Exactly COMMUNITY_BYTES raw bytes, zero padded. */
  community: Uint8Array;
}

export interface Register {
  cookie: number;
  srcMac: Mac;
  dstMac: Mac;
  /** Present iff the SOCKET flag is set. */
  sock?: Sock;
  devAddr: DevAddr;
  /** Exactly DESC_BYTES raw bytes. */
  desc: Uint8Array;
}

export interface RegisterAck {
  cookie: number;
  /** MAC of the edge that sent the REGISTER (first on the wire). */
  dstMac: Mac;
  /** MAC of the acknowledging edge. */
  srcMac: Mac;
  sock?: Sock;
}

export interface RegisterSuper {
  cookie: number;
  edgeMac: Mac;
  sock?: Sock;
  devAddr: DevAddr;
  desc: Uint8Array;
  auth: Auth;
  keyTime: number;
}

export interface UnregisterSuper {
  auth: Auth;
  srcMac: Mac;
}

/** One entry of the supernode list in REGISTER_SUPER_ACK (C struct image, port little-endian). */
export interface SnEntry {
  sock: Sock;
  mac: Mac;
}

export interface RegisterSuperAck {
  cookie: number;
  srcMac: Mac;
  devAddr: DevAddr;
  lifetime: number;
  /** Always on the wire, whatever the flags say. */
  sock: Sock;
  auth: Auth;
  supernodes: SnEntry[];
  keyTime: number;
}

export interface RegisterSuperNak {
  cookie: number;
  srcMac: Mac;
  auth: Auth;
}

export interface PeerInfo {
  aflags: number;
  srcMac: Mac;
  mac: Mac;
  sock: Sock;
  /** Present iff the SOCKET flag is set. */
  preferredSock?: Sock;
  /** Raw u32 as read BE; C edges read it little-endian (spec §4.9). */
  load: number;
  uptime: number;
  /** Exactly VERSION_BYTES raw bytes; compare only up to the NUL. */
  version: Uint8Array;
}

export interface QueryPeer {
  srcMac: Mac;
  targetMac: Mac;
  aflags: number;
}

/** PACKET header fields; the payload follows at `payloadOffset` of the decoded datagram. */
export interface PacketHeader {
  srcMac: Mac;
  dstMac: Mac;
  sock?: Sock;
  compression: number;
  transform: number;
}

/** Any decoded message, tagged by its type. */
export type Message =
  | { type: typeof MsgType.REGISTER; common: Common; body: Register }
  | {
      type: typeof MsgType.PACKET;
      common: Common;
      body: PacketHeader;
      payloadOffset: number;
      payloadLength: number;
    }
  | { type: typeof MsgType.REGISTER_ACK; common: Common; body: RegisterAck }
  | { type: typeof MsgType.REGISTER_SUPER; common: Common; body: RegisterSuper }
  | { type: typeof MsgType.UNREGISTER_SUPER; common: Common; body: UnregisterSuper }
  | { type: typeof MsgType.REGISTER_SUPER_ACK; common: Common; body: RegisterSuperAck }
  | { type: typeof MsgType.REGISTER_SUPER_NAK; common: Common; body: RegisterSuperNak }
  | { type: typeof MsgType.PEER_INFO; common: Common; body: PeerInfo }
  | { type: typeof MsgType.QUERY_PEER; common: Common; body: QueryPeer }
  | { type: typeof MsgType.RE_REGISTER_SUPER; common: Common; body: Record<string, never> };
