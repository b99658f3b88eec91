// PACKET header codec (spec §4.2): an allocation-free reader/writer for the data path and the structured form.
import { Reader } from '../util/bytes.js';
import { WireError, WireErrorCode } from '../util/errors.js';
import { type Mac, readMac, writeMac } from '../util/mac.js';
import {
  COMMON_OFFSET_COMMUNITY,
  COMMON_OFFSET_FLAGS,
  COMMON_OFFSET_TTL,
  ensureRoom,
  FLAGS_BITS_MASK,
  readCommon,
  writeCommon,
} from './common.js';
import { readSock, SOCK_FLAG_IPV6, SOCK_IPV4_BYTES, SOCK_IPV6_BYTES, sockLength, writeSock } from './sock.js';
import {
  COMMON_HEADER_BYTES,
  COMMUNITY_BYTES,
  type Common,
  Flags,
  MsgType,
  N2N_PKT_VERSION,
  type PacketHeader,
} from './types.js';

const MAC_BYTES = 6;
/** compression id + transform id. */
const PACKET_IDS_BYTES = 2;
/** PACKET header without sock: common + srcMac + dstMac + compression + transform = 38 (spec §15.7). */
export const PACKET_HEADER_BYTES = COMMON_HEADER_BYTES + 2 * MAC_BYTES + PACKET_IDS_BYTES;
/** PACKET header relayed by a supernode, with an IPv4 sock: 46. */
export const PACKET_HEADER_SOCK_BYTES = PACKET_HEADER_BYTES + SOCK_IPV4_BYTES;
/** Largest PACKET header (IPv6 sock): 58. */
export const PACKET_HEADER_MAX_BYTES = PACKET_HEADER_BYTES + SOCK_IPV6_BYTES;

const OFF_SRC_MAC = COMMON_HEADER_BYTES;
const OFF_DST_MAC = OFF_SRC_MAC + MAC_BYTES;
const OFF_SOCK = OFF_DST_MAC + MAC_BYTES;
const SOCK_PORT_OFFSET = 2;
const SOCK_ADDR_OFFSET = 4;

/** What readPacketHeader fills in; one instance per receive loop, reused for every datagram. */
export interface PacketHeaderView {
  ttl: number;
  /** Flag bits 5..15 (FROM_SUPERNODE, SOCKET, …), type bits masked off. */
  flags: number;
  srcMac: Mac;
  dstMac: Mac;
  /** True when the SOCKET flag is set and the sock fields below are valid. */
  hasSock: boolean;
  /** 4 or 6 when hasSock, else 0. */
  sockFamily: number;
  sockPort: number;
  /** IPv4 address as u32 (0 for IPv6: read the 16 bytes at sockOffset + 4). */
  sockIpv4: number;
  /** Offset of the raw encoded sock inside the buffer, -1 without sock. */
  sockOffset: number;
  compression: number;
  transform: number;
}

/** A zeroed view to pass to readPacketHeader. */
export function createPacketHeaderView(): PacketHeaderView {
  return {
    ttl: 0,
    flags: 0,
    srcMac: 0,
    dstMac: 0,
    hasSock: false,
    sockFamily: 0,
    sockPort: 0,
    sockIpv4: 0,
    sockOffset: -1,
    compression: 0,
    transform: 0,
  };
}

function truncatedPacket(have: number, need: number): WireError {
  return new WireError(WireErrorCode.TRUNCATED, `PACKET header: need ${need} bytes, have ${have}`);
}

/**
 * Reads the PACKET header of `buf[off, end)` into `out` and returns the absolute payload offset. Allocates nothing
 * on success; a malformed header throws WireError (TRUNCATED, BAD_VERSION, BAD_TYPE). The community is not
 * copied: compare it in place with communityMatches().
 */
export function readPacketHeader(buf: Uint8Array, off: number, end: number, out: PacketHeaderView): number {
  if (off < 0 || end > buf.length || end - off < PACKET_HEADER_BYTES) {
    throw truncatedPacket(end - off, PACKET_HEADER_BYTES);
  }
  if (buf[off] !== N2N_PKT_VERSION) {
    throw new WireError(WireErrorCode.BAD_VERSION, `version ${buf[off]}, expected ${N2N_PKT_VERSION}`);
  }
  const word = (buf[off + COMMON_OFFSET_FLAGS] << 8) | buf[off + COMMON_OFFSET_FLAGS + 1];
  if ((word & Flags.TYPE_MASK) !== MsgType.PACKET) {
    throw new WireError(WireErrorCode.BAD_TYPE, `type ${word & Flags.TYPE_MASK} is not PACKET`);
  }
  out.ttl = buf[off + COMMON_OFFSET_TTL];
  out.flags = word & FLAGS_BITS_MASK;
  out.srcMac = readMac(buf, off + OFF_SRC_MAC);
  out.dstMac = readMac(buf, off + OFF_DST_MAC);
  let p = off + OFF_SOCK;
  if (word & Flags.SOCKET) {
    const v6 = (buf[p] & (SOCK_FLAG_IPV6 >>> 8)) !== 0;
    const sockBytes = v6 ? SOCK_IPV6_BYTES : SOCK_IPV4_BYTES;
    if (end - off < PACKET_HEADER_BYTES + sockBytes) {
      throw truncatedPacket(end - off, PACKET_HEADER_BYTES + sockBytes);
    }
    out.hasSock = true;
    out.sockFamily = v6 ? 6 : 4;
    out.sockOffset = p;
    out.sockPort = (buf[p + SOCK_PORT_OFFSET] << 8) | buf[p + SOCK_PORT_OFFSET + 1];
    const a = p + SOCK_ADDR_OFFSET;
    out.sockIpv4 = v6 ? 0 : ((buf[a] << 24) | (buf[a + 1] << 16) | (buf[a + 2] << 8) | buf[a + 3]) >>> 0;
    p += sockBytes;
  } else {
    out.hasSock = false;
    out.sockFamily = 0;
    out.sockPort = 0;
    out.sockIpv4 = 0;
    out.sockOffset = -1;
  }
  out.compression = buf[p];
  out.transform = buf[p + 1];
  return p + PACKET_IDS_BYTES;
}

/**
 * Writes a PACKET header at `buf[off]` and returns the payload offset. `sock` is a pre-encoded 8/20-byte sock
 * (see sockBytes) or undefined; the SOCKET flag is set iff it is given. `flags` supplies the other bits
 * (FROM_SUPERNODE). `community` must be the 20-byte field (communityBytes). No allocation, no checks: the caller
 * sizes the buffer (PACKET_HEADER_MAX_BYTES is always enough).
 */
export function writePacketHeader(
  buf: Uint8Array,
  off: number,
  ttl: number,
  flags: number,
  community: Uint8Array,
  srcMac: Mac,
  dstMac: Mac,
  sock: Uint8Array | undefined,
  compression: number,
  transform: number,
): number {
  const f = sock === undefined ? flags & ~Flags.SOCKET : flags | Flags.SOCKET;
  const word = (f & FLAGS_BITS_MASK) | MsgType.PACKET;
  buf[off] = N2N_PKT_VERSION;
  buf[off + COMMON_OFFSET_TTL] = ttl;
  buf[off + COMMON_OFFSET_FLAGS] = word >>> 8;
  buf[off + COMMON_OFFSET_FLAGS + 1] = word & 0xff;
  // Byte loops instead of buf.set(): for 20 and 8 bytes the call overhead dominates (~1.7x faster here).
  const c = off + COMMON_OFFSET_COMMUNITY;
  for (let i = 0; i < COMMUNITY_BYTES; i++) buf[c + i] = community[i];
  let p = writeMac(buf, off + OFF_SRC_MAC, srcMac);
  p = writeMac(buf, p, dstMac);
  if (sock !== undefined) {
    const n = sock.length;
    for (let i = 0; i < n; i++) buf[p + i] = sock[i];
    p += n;
  }
  buf[p] = compression;
  buf[p + 1] = transform;
  return p + PACKET_IDS_BYTES;
}

// ---------------------------------------------------------------- structured form

/** Header length of a PACKET with this header (the payload starts there). */
export function encodedLengthPacket(_common: Common, body: PacketHeader): number {
  return PACKET_HEADER_BYTES + (body.sock ? sockLength(body.sock) : 0);
}

/** Writes the PACKET header (common + body) and returns the payload offset; the payload is the caller's. */
export function encodePacket(common: Common, body: PacketHeader, buf: Uint8Array, off: number): number {
  ensureRoom(buf, off, encodedLengthPacket(common, body));
  const f = body.sock ? common.flags | Flags.SOCKET : common.flags & ~Flags.SOCKET;
  let p = writeCommon(buf, off, common.ttl, MsgType.PACKET, f, common.community);
  p = writeMac(buf, p, body.srcMac);
  p = writeMac(buf, p, body.dstMac);
  if (body.sock) p = writeSock(buf, p, body.sock);
  buf[p] = body.compression;
  buf[p + 1] = body.transform;
  return p + PACKET_IDS_BYTES;
}

export interface DecodedPacket {
  common: Common;
  body: PacketHeader;
  /** Header bytes read (= payloadOffset - offset). */
  consumed: number;
  /** Absolute offset of the payload in the buffer. */
  payloadOffset: number;
  payloadLength: number;
}

/** Reads the body of a PACKET whose common header was already read (wire.c: decode_PACKET). */
export function readPacketBody(r: Reader, common: Common): PacketHeader {
  const srcMac = r.mac('PACKET srcMac');
  const dstMac = r.mac('PACKET dstMac');
  const body: PacketHeader = { srcMac, dstMac, compression: 0, transform: 0 };
  if (common.flags & Flags.SOCKET) body.sock = readSock(r);
  body.compression = r.u8('PACKET compression');
  body.transform = r.u8('PACKET transform');
  return body;
}

/** Structured PACKET decode (allocates; the data path uses readPacketHeader). */
export function decodePacket(buf: Uint8Array, offset = 0, end: number = buf.length): DecodedPacket {
  const r = new Reader(buf, offset, end);
  const common = readCommon(r);
  if (common.type !== MsgType.PACKET) {
    throw new WireError(WireErrorCode.BAD_TYPE, `type ${common.type} is not PACKET`);
  }
  const body = readPacketBody(r, common);
  return { common, body, consumed: r.pos - offset, payloadOffset: r.pos, payloadLength: end - r.pos };
}
