// The 24-byte common header and the shared field codecs (community, dev_addr, desc, auth) of spec §2–§3.
import { cString, fixedString, Reader, writeU16 } from '../util/bytes.js';
import { WireError, WireErrorCode } from '../util/errors.js';
import {
  AUTH_MAX_TOKEN_BYTES,
  type Auth,
  COMMON_HEADER_BYTES,
  COMMUNITY_BYTES,
  COMMUNITY_MAX_CHARS,
  type Common,
  type DevAddr,
  Flags,
  MsgType,
  N2N_PKT_VERSION,
} from './types.js';

/** Offsets inside the common header (spec §3). */
export const COMMON_OFFSET_VERSION = 0;
export const COMMON_OFFSET_TTL = 1;
export const COMMON_OFFSET_FLAGS = 2;
export const COMMON_OFFSET_COMMUNITY = 4;
/** Flag bits kept in Common.flags: everything above the 5 type bits (wire.c: N2N_FLAGS_BITS_MASK). */
export const FLAGS_BITS_MASK = 0xffe0;
/** dev_addr on the wire: u32 address + u8 prefix length. */
export const DEV_ADDR_BYTES = 5;
/** auth on the wire before the token: u16 scheme + u16 token_size. */
export const AUTH_PREFIX_BYTES = 4;

const U8_MAX = 0xff;
const U16_MAX = 0xffff;

function unencodable(msg: string): WireError {
  return new WireError(WireErrorCode.UNENCODABLE, msg);
}

/** Message types that carry a body decoder here; PING(0), DEREGISTER(2), FEDERATION(9) and 13..31 have none. */
const KNOWN_TYPES: ReadonlySet<number> = new Set<number>([
  MsgType.REGISTER,
  MsgType.PACKET,
  MsgType.REGISTER_ACK,
  MsgType.REGISTER_SUPER,
  MsgType.UNREGISTER_SUPER,
  MsgType.REGISTER_SUPER_ACK,
  MsgType.REGISTER_SUPER_NAK,
  MsgType.PEER_INFO,
  MsgType.QUERY_PEER,
  MsgType.RE_REGISTER_SUPER,
]);

/** True for the types n2n 3.1.1 actually sends (and this codec decodes). */
export function isKnownMsgType(t: number): t is MsgType {
  return KNOWN_TYPES.has(t);
}

/** Encoders are given a buffer sized with encodedLength; a smaller one is a programming error, not bad input. */
export function ensureRoom(buf: Uint8Array, off: number, n: number): void {
  if (!(off >= 0) || off + n > buf.length) {
    throw new RangeError(`buffer of ${buf.length} bytes has no room for ${n} bytes at offset ${off}`);
  }
}

// ---------------------------------------------------------------- community

/** A community name as its 20-byte zero-padded field, truncated to 19 bytes like the C edge (spec §2 note A). */
export function communityBytes(name: string): Uint8Array {
  return fixedString(name, COMMUNITY_BYTES, COMMUNITY_MAX_CHARS);
}

/** The community field as text: bytes up to the first NUL (how the supernode looks it up). */
export function communityName(field: Uint8Array): string {
  return cString(field);
}

/** Compares the 20-byte community field at `buf[off + 4]` with a 20-byte field, without allocating. */
export function communityMatches(buf: Uint8Array, off: number, community: Uint8Array): boolean {
  const base = off + COMMON_OFFSET_COMMUNITY;
  for (let i = 0; i < COMMUNITY_BYTES; i++) if (buf[base + i] !== community[i]) return false;
  return true;
}

// ---------------------------------------------------------------- common header

/**
 * Writes the common header (wire.c: encode_common): version 3, TTL, flags word = (flags & 0xffe0) | type, the
 * 20-byte community. Returns the offset after it.
 */
export function writeCommon(
  buf: Uint8Array,
  off: number,
  ttl: number,
  type: number,
  flags: number,
  community: Uint8Array,
): number {
  if (community.length > COMMUNITY_BYTES) {
    throw unencodable(`community of ${community.length} bytes does not fit ${COMMUNITY_BYTES}`);
  }
  buf[off] = N2N_PKT_VERSION;
  buf[off + COMMON_OFFSET_TTL] = ttl & U8_MAX;
  writeU16(buf, off + COMMON_OFFSET_FLAGS, (flags & FLAGS_BITS_MASK) | (type & Flags.TYPE_MASK));
  const c = off + COMMON_OFFSET_COMMUNITY;
  buf.set(community, c);
  buf.fill(0, c + community.length, c + COMMUNITY_BYTES);
  return off + COMMON_HEADER_BYTES;
}

/** Writes `common` with its own type; see writeCommon. */
export function encodeCommon(common: Common, buf: Uint8Array, off: number): number {
  return writeCommon(buf, off, common.ttl, common.type, common.flags, common.community);
}

/**
 * Reads the common header (wire.c: decode_common). Throws BAD_VERSION for a version other than 3 and BAD_TYPE
 * for a type this codec has no body for. The community is copied.
 */
export function readCommon(r: Reader): Common {
  r.need(COMMON_HEADER_BYTES, 'common header');
  const b = r.buf;
  const p = r.pos;
  if (b[p] !== N2N_PKT_VERSION) {
    throw new WireError(WireErrorCode.BAD_VERSION, `version ${b[p]}, expected ${N2N_PKT_VERSION}`);
  }
  const ttl = b[p + COMMON_OFFSET_TTL];
  const word = (b[p + COMMON_OFFSET_FLAGS] << 8) | b[p + COMMON_OFFSET_FLAGS + 1];
  const type = word & Flags.TYPE_MASK;
  if (!isKnownMsgType(type)) throw new WireError(WireErrorCode.BAD_TYPE, `unknown message type ${type}`);
  r.pos = p + COMMON_OFFSET_COMMUNITY;
  const community = r.bytes(COMMUNITY_BYTES, 'community');
  return { ttl, type, flags: word & FLAGS_BITS_MASK, community };
}

/** Reads just the common header of `buf[offset, end)` (see readCommon), e.g. to route by community first. */
export function decodeCommon(buf: Uint8Array, offset = 0, end: number = buf.length): Common {
  return readCommon(new Reader(buf, offset, end));
}

/**
 * The message type of the datagram at `buf[off, end)` after checking length and version, without decoding
 * anything else. Throws WireError like readCommon.
 */
export function peekMessageType(buf: Uint8Array, off = 0, end: number = buf.length): MsgType {
  if (off < 0 || end > buf.length || end - off < COMMON_HEADER_BYTES) {
    throw new WireError(WireErrorCode.TRUNCATED, `common header: need ${COMMON_HEADER_BYTES} bytes`);
  }
  if (buf[off] !== N2N_PKT_VERSION) {
    throw new WireError(WireErrorCode.BAD_VERSION, `version ${buf[off]}, expected ${N2N_PKT_VERSION}`);
  }
  const type = buf[off + COMMON_OFFSET_FLAGS + 1] & Flags.TYPE_MASK;
  if (!isKnownMsgType(type)) throw new WireError(WireErrorCode.BAD_TYPE, `unknown message type ${type}`);
  return type;
}

// ---------------------------------------------------------------- dev_addr, fixed fields

export function writeDevAddr(buf: Uint8Array, off: number, d: DevAddr): number {
  const a = d.addr;
  buf[off] = a >>> 24;
  buf[off + 1] = (a >>> 16) & U8_MAX;
  buf[off + 2] = (a >>> 8) & U8_MAX;
  buf[off + 3] = a & U8_MAX;
  buf[off + 4] = d.bitlen & U8_MAX;
  return off + DEV_ADDR_BYTES;
}

/** dev_addr as read; like C, the prefix length is not range-checked (it is a raw u8). */
export function readDevAddr(r: Reader): DevAddr {
  const addr = r.u32('dev_addr');
  const bitlen = r.u8('dev_addr bitlen');
  return { addr, bitlen };
}

/** A fixed-width raw field (desc, version): shorter input is zero padded, longer is UNENCODABLE. */
export function writeField(
  buf: Uint8Array,
  off: number,
  src: Uint8Array,
  width: number,
  what: string,
): number {
  if (src.length > width) throw unencodable(`${what} of ${src.length} bytes does not fit ${width}`);
  buf.set(src, off);
  buf.fill(0, off + src.length, off + width);
  return off + width;
}

// ---------------------------------------------------------------- auth

export function authLength(a: Auth): number {
  return AUTH_PREFIX_BYTES + a.token.length;
}

/** auth = u16 scheme, u16 token_size, token. A token over 48 bytes is refused (C would overflow, spec §2 C). */
export function writeAuth(buf: Uint8Array, off: number, a: Auth): number {
  const n = a.token.length;
  if (n > AUTH_MAX_TOKEN_BYTES) throw unencodable(`auth token of ${n} bytes exceeds ${AUTH_MAX_TOKEN_BYTES}`);
  if (!Number.isInteger(a.scheme) || a.scheme < 0 || a.scheme > U16_MAX) {
    throw unencodable(`auth scheme ${a.scheme} is not a u16`);
  }
  off = writeU16(buf, off, a.scheme);
  off = writeU16(buf, off, n);
  buf.set(a.token, off);
  return off + n;
}

/** Reads an auth field; token_size > 48 is BAD_LENGTH (the C decoders do not check it; we must). */
export function readAuth(r: Reader): Auth {
  const scheme = r.u16('auth scheme');
  const size = r.u16('auth token_size');
  if (size > AUTH_MAX_TOKEN_BYTES) {
    throw new WireError(WireErrorCode.BAD_LENGTH, `auth token_size ${size} exceeds ${AUTH_MAX_TOKEN_BYTES}`);
  }
  return { scheme, token: r.bytes(size, 'auth token') };
}
