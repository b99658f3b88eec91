// Encoders and decoders of every n2n v3 message (spec §4), and the generic decodeMessage/encodeMessage.
import { Reader, writeU16, writeU32 } from '../util/bytes.js';
import { WireError, WireErrorCode } from '../util/errors.js';
import { readMac, writeMac } from '../util/mac.js';
import {
  authLength,
  DEV_ADDR_BYTES,
  ensureRoom,
  readAuth,
  readCommon,
  readDevAddr,
  writeAuth,
  writeCommon,
  writeDevAddr,
  writeField,
} from './common.js';
import { encodedLengthPacket, encodePacket, readPacketBody } from './packet.js';
import { ipv6Text, parseIpv4, parseIpv6Into, readSock, sockLength, writeSock } from './sock.js';
import {
  COMMON_HEADER_BYTES,
  type Common,
  DESC_BYTES,
  Flags,
  type Message,
  MSG_TYPE_NAMES,
  MsgType,
  type PeerInfo,
  type QueryPeer,
  type Register,
  type RegisterAck,
  type RegisterSuper,
  type RegisterSuperAck,
  type RegisterSuperNak,
  SN_ENTRIES_MAX,
  SN_ENTRY_BYTES,
  type SnEntry,
  type Sock,
  type UnregisterSuper,
  VERSION_BYTES,
} from './types.js';

const MAC_BYTES = 6;
const COOKIE_BYTES = 4;
/** Where a REGISTER's dstMac starts, from the start of the message (wire.c: decode_REGISTER: cookie, srcMac, dstMac). */
export const REGISTER_DST_MAC_OFFSET = COMMON_HEADER_BYTES + COOKIE_BYTES + MAC_BYTES;
/** The end of that dstMac: a datagram shorter than this is no REGISTER. */
export const REGISTER_DST_MAC_END = REGISTER_DST_MAC_OFFSET + MAC_BYTES;
const U16_BYTES = 2;
const U32_BYTES = 4;
const U8_BYTES = 1;

/** A decoded message of a known type plus the bytes its decoder read (trailing bytes are not counted). */
export interface Decoded<B> {
  common: Common;
  body: B;
  /** Bytes read from `offset`: the whole message for control types, the header for PACKET. */
  consumed: number;
}

/** What decodeMessage returns: a Message plus `consumed`. */
export type DecodedMessage = Message & { consumed: number };

/** How one message body is laid out; the common header is handled once for all of them. */
interface BodyCodec<B> {
  type: MsgType;
  /** Body length in bytes (without the common header). */
  length(b: B): number;
  write(buf: Uint8Array, off: number, b: B): number;
  read(r: Reader, common: Common): B;
  /**
   * For types with an optional sock: whether the SOCKET flag must be set for this body. Absent: the flags are
   * written as given (REGISTER_SUPER_ACK always carries its sock; the others have none).
   */
  socketFlag?(b: B): boolean;
}

function optSockLength(s: Sock | undefined): number {
  return s ? sockLength(s) : 0;
}

// ---------------------------------------------------------------- REGISTER (type 1)

const REGISTER: BodyCodec<Register> = {
  type: MsgType.REGISTER,
  length: (b) => COOKIE_BYTES + 2 * MAC_BYTES + optSockLength(b.sock) + DEV_ADDR_BYTES + DESC_BYTES,
  write(buf, p, b) {
    p = writeU32(buf, p, b.cookie);
    p = writeMac(buf, p, b.srcMac);
    p = writeMac(buf, p, b.dstMac);
    if (b.sock) p = writeSock(buf, p, b.sock);
    p = writeDevAddr(buf, p, b.devAddr);
    return writeField(buf, p, b.desc, DESC_BYTES, 'REGISTER desc');
  },
  read(r, common) {
    const cookie = r.u32('REGISTER cookie');
    const srcMac = r.mac('REGISTER srcMac');
    const dstMac = r.mac('REGISTER dstMac');
    const sock = common.flags & Flags.SOCKET ? readSock(r) : undefined;
    const devAddr = readDevAddr(r);
    const desc = r.bytes(DESC_BYTES, 'REGISTER desc');
    const body: Register = { cookie, srcMac, dstMac, devAddr, desc };
    if (sock) body.sock = sock;
    return body;
  },
  socketFlag: (b) => b.sock !== undefined,
};

// ---------------------------------------------------------------- REGISTER_ACK (type 4)

const REGISTER_ACK: BodyCodec<RegisterAck> = {
  type: MsgType.REGISTER_ACK,
  length: (b) => COOKIE_BYTES + 2 * MAC_BYTES + optSockLength(b.sock),
  write(buf, p, b) {
    p = writeU32(buf, p, b.cookie);
    // Order trap (spec §4.3): the ACK's recipient (dstMac) comes first.
    p = writeMac(buf, p, b.dstMac);
    p = writeMac(buf, p, b.srcMac);
    if (b.sock) p = writeSock(buf, p, b.sock);
    return p;
  },
  read(r, common) {
    const cookie = r.u32('REGISTER_ACK cookie');
    const dstMac = r.mac('REGISTER_ACK dstMac');
    const srcMac = r.mac('REGISTER_ACK srcMac');
    const body: RegisterAck = { cookie, dstMac, srcMac };
    if (common.flags & Flags.SOCKET) body.sock = readSock(r);
    return body;
  },
  socketFlag: (b) => b.sock !== undefined,
};

// ---------------------------------------------------------------- REGISTER_SUPER (type 5)

const REGISTER_SUPER: BodyCodec<RegisterSuper> = {
  type: MsgType.REGISTER_SUPER,
  length: (b) =>
    COOKIE_BYTES +
    MAC_BYTES +
    optSockLength(b.sock) +
    DEV_ADDR_BYTES +
    DESC_BYTES +
    authLength(b.auth) +
    U32_BYTES,
  write(buf, p, b) {
    p = writeU32(buf, p, b.cookie);
    p = writeMac(buf, p, b.edgeMac);
    if (b.sock) p = writeSock(buf, p, b.sock);
    p = writeDevAddr(buf, p, b.devAddr);
    p = writeField(buf, p, b.desc, DESC_BYTES, 'REGISTER_SUPER desc');
    p = writeAuth(buf, p, b.auth);
    return writeU32(buf, p, b.keyTime);
  },
  read(r, common) {
    const cookie = r.u32('REGISTER_SUPER cookie');
    const edgeMac = r.mac('REGISTER_SUPER edgeMac');
    const sock = common.flags & Flags.SOCKET ? readSock(r) : undefined;
    const devAddr = readDevAddr(r);
    const desc = r.bytes(DESC_BYTES, 'REGISTER_SUPER desc');
    const auth = readAuth(r);
    const keyTime = r.u32('REGISTER_SUPER key_time');
    const body: RegisterSuper = { cookie, edgeMac, devAddr, desc, auth, keyTime };
    if (sock) body.sock = sock;
    return body;
  },
  socketFlag: (b) => b.sock !== undefined,
};

// ---------------------------------------------------------------- UNREGISTER_SUPER (type 6)

const UNREGISTER_SUPER: BodyCodec<UnregisterSuper> = {
  type: MsgType.UNREGISTER_SUPER,
  length: (b) => authLength(b.auth) + MAC_BYTES,
  write(buf, p, b) {
    p = writeAuth(buf, p, b.auth);
    return writeMac(buf, p, b.srcMac);
  },
  read(r) {
    const auth = readAuth(r);
    const srcMac = r.mac('UNREGISTER_SUPER srcMac');
    return { auth, srcMac };
  },
};

// ---------------------------------------------------------------- REGISTER_SUPER_ACK (type 7)

/** Family byte of a supernode entry: the C constant AF_INET (spec §2). */
export const SN_ENTRY_AF_INET = 2;
/**
 * Family byte of an IPv6 entry: AF_INET6 as Linux defines it, the image a C struct would have there. 3.1.1 never
 * sends one (it has no IPv6 sockets); tsn2n sends it only to edges and supernodes that reached it over IPv6,
 * which are not 3.1.1 (docs/supernode.md, IPv6).
 */
export const SN_ENTRY_AF_INET6 = 10;
const SN_ENTRY_OFF_PORT = 2;
const SN_ENTRY_OFF_ADDR = 4;
const SN_ENTRY_OFF_MAC = 20;

/**
 * Writes one 26-byte supernode entry: the little-endian C struct image of 3.1.1 (family, pad, port LE,
 * 16 address bytes, MAC). IPv4 as 3.1.1 writes it; IPv6 with the Linux AF_INET6 (see SN_ENTRY_AF_INET6).
 */
export function writeSnEntry(buf: Uint8Array, off: number, e: SnEntry): number {
  const v4 = e.sock.family === 4 ? parseIpv4(e.sock.address) : -1;
  const port = e.sock.port;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new WireError(WireErrorCode.UNENCODABLE, `supernode entry port ${port} is not a u16`);
  }
  buf.fill(0, off, off + SN_ENTRY_BYTES);
  if (v4 >= 0) {
    buf[off] = SN_ENTRY_AF_INET;
    writeU32(buf, off + SN_ENTRY_OFF_ADDR, v4);
  } else if (e.sock.family === 6 && parseIpv6Into(e.sock.address, buf, off + SN_ENTRY_OFF_ADDR)) {
    buf[off] = SN_ENTRY_AF_INET6;
  } else {
    throw new WireError(WireErrorCode.UNENCODABLE, `supernode entry '${e.sock.address}' is not an address`);
  }
  // sn_utils.c copies the host struct: the port is little-endian here, unlike every other sock.
  buf[off + SN_ENTRY_OFF_PORT] = port & 0xff;
  buf[off + SN_ENTRY_OFF_PORT + 1] = port >>> 8;
  writeMac(buf, off + SN_ENTRY_OFF_MAC, e.mac);
  return off + SN_ENTRY_BYTES;
}

/** Reads one entry; returns undefined (entry skipped, spec §2) when the family is neither AF_INET nor AF_INET6. */
export function readSnEntry(r: Reader): SnEntry | undefined {
  r.need(SN_ENTRY_BYTES, 'supernode entry');
  const b = r.buf;
  const p = r.pos;
  r.pos = p + SN_ENTRY_BYTES;
  const family = b[p];
  if (family !== SN_ENTRY_AF_INET && family !== SN_ENTRY_AF_INET6) return undefined;
  const port = b[p + SN_ENTRY_OFF_PORT] | (b[p + SN_ENTRY_OFF_PORT + 1] << 8);
  const a = p + SN_ENTRY_OFF_ADDR;
  const mac = readMac(b, p + SN_ENTRY_OFF_MAC);
  if (family === SN_ENTRY_AF_INET6) return { sock: { family: 6, port, address: ipv6Text(b, a) }, mac };
  const address = `${b[a]}.${b[a + 1]}.${b[a + 2]}.${b[a + 3]}`;
  return { sock: { family: 4, port, address }, mac };
}

const REGISTER_SUPER_ACK: BodyCodec<RegisterSuperAck> = {
  type: MsgType.REGISTER_SUPER_ACK,
  length: (b) =>
    COOKIE_BYTES +
    MAC_BYTES +
    DEV_ADDR_BYTES +
    U16_BYTES +
    sockLength(b.sock) +
    authLength(b.auth) +
    U8_BYTES +
    SN_ENTRY_BYTES * b.supernodes.length +
    U32_BYTES,
  write(buf, p, b) {
    if (b.supernodes.length > SN_ENTRIES_MAX) {
      // A 3.1.1 decoder copies num_sn·26 bytes into a fixed buffer (spec §4.7).
      throw new WireError(
        WireErrorCode.UNENCODABLE,
        `${b.supernodes.length} supernode entries exceed ${SN_ENTRIES_MAX}`,
      );
    }
    p = writeU32(buf, p, b.cookie);
    p = writeMac(buf, p, b.srcMac);
    p = writeDevAddr(buf, p, b.devAddr);
    p = writeU16(buf, p, b.lifetime);
    p = writeSock(buf, p, b.sock);
    p = writeAuth(buf, p, b.auth);
    buf[p++] = b.supernodes.length;
    for (const e of b.supernodes) p = writeSnEntry(buf, p, e);
    return writeU32(buf, p, b.keyTime);
  },
  read(r) {
    const cookie = r.u32('REGISTER_SUPER_ACK cookie');
    const srcMac = r.mac('REGISTER_SUPER_ACK srcMac');
    const devAddr = readDevAddr(r);
    const lifetime = r.u16('REGISTER_SUPER_ACK lifetime');
    // wire.c: decode_REGISTER_SUPER_ACK reads the sock whatever the flags say.
    const sock = readSock(r);
    const auth = readAuth(r);
    const numSn = r.u8('REGISTER_SUPER_ACK num_sn');
    if (numSn > SN_ENTRIES_MAX) {
      throw new WireError(WireErrorCode.BAD_LENGTH, `num_sn ${numSn} exceeds ${SN_ENTRIES_MAX}`);
    }
    r.need(numSn * SN_ENTRY_BYTES, 'supernode entries');
    const supernodes: SnEntry[] = [];
    for (let i = 0; i < numSn; i++) {
      const e = readSnEntry(r);
      if (e) supernodes.push(e);
    }
    const keyTime = r.u32('REGISTER_SUPER_ACK key_time');
    return { cookie, srcMac, devAddr, lifetime, sock, auth, supernodes, keyTime };
  },
};

// ---------------------------------------------------------------- REGISTER_SUPER_NAK (type 8)

const REGISTER_SUPER_NAK: BodyCodec<RegisterSuperNak> = {
  type: MsgType.REGISTER_SUPER_NAK,
  length: (b) => COOKIE_BYTES + MAC_BYTES + authLength(b.auth),
  write(buf, p, b) {
    p = writeU32(buf, p, b.cookie);
    p = writeMac(buf, p, b.srcMac);
    return writeAuth(buf, p, b.auth);
  },
  read(r) {
    const cookie = r.u32('REGISTER_SUPER_NAK cookie');
    const srcMac = r.mac('REGISTER_SUPER_NAK srcMac');
    const auth = readAuth(r);
    return { cookie, srcMac, auth };
  },
};

// ---------------------------------------------------------------- PEER_INFO (type 10)

const PEER_INFO: BodyCodec<PeerInfo> = {
  type: MsgType.PEER_INFO,
  length: (b) =>
    U16_BYTES +
    2 * MAC_BYTES +
    sockLength(b.sock) +
    optSockLength(b.preferredSock) +
    2 * U32_BYTES +
    VERSION_BYTES,
  write(buf, p, b) {
    p = writeU16(buf, p, b.aflags);
    p = writeMac(buf, p, b.srcMac);
    p = writeMac(buf, p, b.mac);
    p = writeSock(buf, p, b.sock);
    if (b.preferredSock) p = writeSock(buf, p, b.preferredSock);
    p = writeU32(buf, p, b.load);
    p = writeU32(buf, p, b.uptime);
    return writeField(buf, p, b.version, VERSION_BYTES, 'PEER_INFO version');
  },
  read(r, common) {
    const aflags = r.u16('PEER_INFO aflags');
    const srcMac = r.mac('PEER_INFO srcMac');
    const mac = r.mac('PEER_INFO mac');
    const sock = readSock(r);
    const preferredSock = common.flags & Flags.SOCKET ? readSock(r) : undefined;
    const load = r.u32('PEER_INFO load');
    const uptime = r.u32('PEER_INFO uptime');
    const version = r.bytes(VERSION_BYTES, 'PEER_INFO version');
    const body: PeerInfo = { aflags, srcMac, mac, sock, load, uptime, version };
    if (preferredSock) body.preferredSock = preferredSock;
    return body;
  },
  socketFlag: (b) => b.preferredSock !== undefined,
};

// ---------------------------------------------------------------- QUERY_PEER (type 11)

const QUERY_PEER: BodyCodec<QueryPeer> = {
  type: MsgType.QUERY_PEER,
  length: () => 2 * MAC_BYTES + U16_BYTES,
  write(buf, p, b) {
    p = writeMac(buf, p, b.srcMac);
    p = writeMac(buf, p, b.targetMac);
    // Order trap (spec §4.10): aflags last here, first in PEER_INFO.
    return writeU16(buf, p, b.aflags);
  },
  read(r) {
    const srcMac = r.mac('QUERY_PEER srcMac');
    const targetMac = r.mac('QUERY_PEER targetMac');
    const aflags = r.u16('QUERY_PEER aflags');
    return { srcMac, targetMac, aflags };
  },
};

// ---------------------------------------------------------------- RE_REGISTER_SUPER (type 12)

type Empty = Record<string, never>;
const RE_REGISTER_SUPER: BodyCodec<Empty> = {
  type: MsgType.RE_REGISTER_SUPER,
  length: () => 0,
  write: (_buf, p) => p,
  read: () => ({}),
};

// ---------------------------------------------------------------- generic machinery

function flagsFor<B>(codec: BodyCodec<B>, common: Common, body: B): number {
  if (!codec.socketFlag) return common.flags;
  return codec.socketFlag(body) ? common.flags | Flags.SOCKET : common.flags & ~Flags.SOCKET;
}

function encodeWith<B>(
  codec: BodyCodec<B>,
  common: Common,
  body: B,
  buf: Uint8Array,
  offset: number,
): number {
  ensureRoom(buf, offset, COMMON_HEADER_BYTES + codec.length(body));
  const p = writeCommon(buf, offset, common.ttl, codec.type, flagsFor(codec, common, body), common.community);
  return codec.write(buf, p, body);
}

function decodeWith<B>(codec: BodyCodec<B>, buf: Uint8Array, offset: number, end: number): Decoded<B> {
  const r = new Reader(buf, offset, end);
  const common = readCommon(r);
  if (common.type !== codec.type) {
    throw new WireError(
      WireErrorCode.BAD_TYPE,
      `type ${MSG_TYPE_NAMES[common.type]} where ${MSG_TYPE_NAMES[codec.type]} was expected`,
    );
  }
  const body = codec.read(r, common);
  return { common, body, consumed: r.pos - offset };
}

// ---------------------------------------------------------------- per-message API
// encodeX writes the common header with X's type (common.type is not consulted) and returns the end offset;
// the SOCKET flag follows the body's optional sock. decodeX throws BAD_TYPE for another type. Trailing bytes
// (the 16-byte user/password trailer, garbage) are tolerated; `consumed` says where the message ended.

export function encodedLengthRegister(_common: Common, body: Register): number {
  return COMMON_HEADER_BYTES + REGISTER.length(body);
}
export function encodeRegister(common: Common, body: Register, buf: Uint8Array, offset: number): number {
  return encodeWith(REGISTER, common, body, buf, offset);
}
export function decodeRegister(buf: Uint8Array, offset = 0, end: number = buf.length): Decoded<Register> {
  return decodeWith(REGISTER, buf, offset, end);
}

export function encodedLengthRegisterAck(_common: Common, body: RegisterAck): number {
  return COMMON_HEADER_BYTES + REGISTER_ACK.length(body);
}
export function encodeRegisterAck(
  common: Common,
  body: RegisterAck,
  buf: Uint8Array,
  offset: number,
): number {
  return encodeWith(REGISTER_ACK, common, body, buf, offset);
}
export function decodeRegisterAck(
  buf: Uint8Array,
  offset = 0,
  end: number = buf.length,
): Decoded<RegisterAck> {
  return decodeWith(REGISTER_ACK, buf, offset, end);
}

export function encodedLengthRegisterSuper(_common: Common, body: RegisterSuper): number {
  return COMMON_HEADER_BYTES + REGISTER_SUPER.length(body);
}
export function encodeRegisterSuper(
  common: Common,
  body: RegisterSuper,
  buf: Uint8Array,
  offset: number,
): number {
  return encodeWith(REGISTER_SUPER, common, body, buf, offset);
}
export function decodeRegisterSuper(
  buf: Uint8Array,
  offset = 0,
  end: number = buf.length,
): Decoded<RegisterSuper> {
  return decodeWith(REGISTER_SUPER, buf, offset, end);
}

export function encodedLengthUnregisterSuper(_common: Common, body: UnregisterSuper): number {
  return COMMON_HEADER_BYTES + UNREGISTER_SUPER.length(body);
}
export function encodeUnregisterSuper(
  common: Common,
  body: UnregisterSuper,
  buf: Uint8Array,
  offset: number,
): number {
  return encodeWith(UNREGISTER_SUPER, common, body, buf, offset);
}
export function decodeUnregisterSuper(
  buf: Uint8Array,
  offset = 0,
  end: number = buf.length,
): Decoded<UnregisterSuper> {
  return decodeWith(UNREGISTER_SUPER, buf, offset, end);
}

export function encodedLengthRegisterSuperAck(_common: Common, body: RegisterSuperAck): number {
  return COMMON_HEADER_BYTES + REGISTER_SUPER_ACK.length(body);
}
/** The sock is always written; the flags are written exactly as given (spec §4.6). */
export function encodeRegisterSuperAck(
  common: Common,
  body: RegisterSuperAck,
  buf: Uint8Array,
  offset: number,
): number {
  return encodeWith(REGISTER_SUPER_ACK, common, body, buf, offset);
}
/** Entries whose family byte is not AF_INET are skipped, so `supernodes.length` may be below num_sn. */
export function decodeRegisterSuperAck(
  buf: Uint8Array,
  offset = 0,
  end: number = buf.length,
): Decoded<RegisterSuperAck> {
  return decodeWith(REGISTER_SUPER_ACK, buf, offset, end);
}

export function encodedLengthRegisterSuperNak(_common: Common, body: RegisterSuperNak): number {
  return COMMON_HEADER_BYTES + REGISTER_SUPER_NAK.length(body);
}
export function encodeRegisterSuperNak(
  common: Common,
  body: RegisterSuperNak,
  buf: Uint8Array,
  offset: number,
): number {
  return encodeWith(REGISTER_SUPER_NAK, common, body, buf, offset);
}
export function decodeRegisterSuperNak(
  buf: Uint8Array,
  offset = 0,
  end: number = buf.length,
): Decoded<RegisterSuperNak> {
  return decodeWith(REGISTER_SUPER_NAK, buf, offset, end);
}

export function encodedLengthPeerInfo(_common: Common, body: PeerInfo): number {
  return COMMON_HEADER_BYTES + PEER_INFO.length(body);
}
/** The SOCKET flag follows `preferredSock`. */
export function encodePeerInfo(common: Common, body: PeerInfo, buf: Uint8Array, offset: number): number {
  return encodeWith(PEER_INFO, common, body, buf, offset);
}
export function decodePeerInfo(buf: Uint8Array, offset = 0, end: number = buf.length): Decoded<PeerInfo> {
  return decodeWith(PEER_INFO, buf, offset, end);
}

export function encodedLengthQueryPeer(_common: Common, body: QueryPeer): number {
  return COMMON_HEADER_BYTES + QUERY_PEER.length(body);
}
export function encodeQueryPeer(common: Common, body: QueryPeer, buf: Uint8Array, offset: number): number {
  return encodeWith(QUERY_PEER, common, body, buf, offset);
}
export function decodeQueryPeer(buf: Uint8Array, offset = 0, end: number = buf.length): Decoded<QueryPeer> {
  return decodeWith(QUERY_PEER, buf, offset, end);
}

export function encodedLengthReRegisterSuper(_common: Common, _body?: Empty): number {
  return COMMON_HEADER_BYTES;
}
export function encodeReRegisterSuper(common: Common, body: Empty, buf: Uint8Array, offset: number): number {
  return encodeWith(RE_REGISTER_SUPER, common, body, buf, offset);
}
export function decodeReRegisterSuper(buf: Uint8Array, offset = 0, end: number = buf.length): Decoded<Empty> {
  return decodeWith(RE_REGISTER_SUPER, buf, offset, end);
}

// ---------------------------------------------------------------- any message

/**
 * Decodes the datagram `buf[offset, end)`. Malformed input throws only WireError: TRUNCATED, BAD_VERSION,
 * BAD_TYPE (PING, DEREGISTER, FEDERATION and unassigned types have no body in 3.x and are reported as BAD_TYPE),
 * BAD_LENGTH (auth token > 48, num_sn > 44). Trailing bytes are allowed; see `consumed`. For PACKET the
 * payload is `buf[payloadOffset, payloadOffset + payloadLength)` (absolute offsets, nothing copied).
 */
export function decodeMessage(buf: Uint8Array, offset = 0, end: number = buf.length): DecodedMessage {
  const r = new Reader(buf, offset, end);
  const common = readCommon(r);
  switch (common.type) {
    case MsgType.PACKET: {
      const body = readPacketBody(r, common);
      const consumed = r.pos - offset;
      return { type: common.type, common, body, payloadOffset: r.pos, payloadLength: end - r.pos, consumed };
    }
    case MsgType.REGISTER:
      return { type: common.type, common, body: REGISTER.read(r, common), consumed: r.pos - offset };
    case MsgType.REGISTER_ACK:
      return { type: common.type, common, body: REGISTER_ACK.read(r, common), consumed: r.pos - offset };
    case MsgType.REGISTER_SUPER:
      return { type: common.type, common, body: REGISTER_SUPER.read(r, common), consumed: r.pos - offset };
    case MsgType.UNREGISTER_SUPER:
      return { type: common.type, common, body: UNREGISTER_SUPER.read(r, common), consumed: r.pos - offset };
    case MsgType.REGISTER_SUPER_ACK:
      return {
        type: common.type,
        common,
        body: REGISTER_SUPER_ACK.read(r, common),
        consumed: r.pos - offset,
      };
    case MsgType.REGISTER_SUPER_NAK:
      return {
        type: common.type,
        common,
        body: REGISTER_SUPER_NAK.read(r, common),
        consumed: r.pos - offset,
      };
    case MsgType.PEER_INFO:
      return { type: common.type, common, body: PEER_INFO.read(r, common), consumed: r.pos - offset };
    case MsgType.QUERY_PEER:
      return { type: common.type, common, body: QUERY_PEER.read(r, common), consumed: r.pos - offset };
    case MsgType.RE_REGISTER_SUPER:
      return { type: common.type, common, body: {}, consumed: r.pos - offset };
    default:
      // readCommon already refused every other type.
      throw new WireError(WireErrorCode.BAD_TYPE, `unknown message type ${common.type}`);
  }
}

/**
 * Encodes `msg` at `buf[offset]` (the type comes from `msg.type`) and returns the end offset. For PACKET only the
 * header is written and the returned offset is where the caller puts the payload.
 */
export function encodeMessage(msg: Message, buf: Uint8Array, offset: number): number {
  switch (msg.type) {
    case MsgType.REGISTER:
      return encodeRegister(msg.common, msg.body, buf, offset);
    case MsgType.PACKET:
      return encodePacket(msg.common, msg.body, buf, offset);
    case MsgType.REGISTER_ACK:
      return encodeRegisterAck(msg.common, msg.body, buf, offset);
    case MsgType.REGISTER_SUPER:
      return encodeRegisterSuper(msg.common, msg.body, buf, offset);
    case MsgType.UNREGISTER_SUPER:
      return encodeUnregisterSuper(msg.common, msg.body, buf, offset);
    case MsgType.REGISTER_SUPER_ACK:
      return encodeRegisterSuperAck(msg.common, msg.body, buf, offset);
    case MsgType.REGISTER_SUPER_NAK:
      return encodeRegisterSuperNak(msg.common, msg.body, buf, offset);
    case MsgType.PEER_INFO:
      return encodePeerInfo(msg.common, msg.body, buf, offset);
    case MsgType.QUERY_PEER:
      return encodeQueryPeer(msg.common, msg.body, buf, offset);
    case MsgType.RE_REGISTER_SUPER:
      return encodeReRegisterSuper(msg.common, msg.body, buf, offset);
    default:
      throw new WireError(WireErrorCode.UNENCODABLE, `cannot encode message type ${(msg as Message).type}`);
  }
}

/** Bytes encodeMessage writes (for PACKET: the header length). */
export function encodedLengthMessage(msg: Message): number {
  switch (msg.type) {
    case MsgType.REGISTER:
      return encodedLengthRegister(msg.common, msg.body);
    case MsgType.PACKET:
      return encodedLengthPacket(msg.common, msg.body);
    case MsgType.REGISTER_ACK:
      return encodedLengthRegisterAck(msg.common, msg.body);
    case MsgType.REGISTER_SUPER:
      return encodedLengthRegisterSuper(msg.common, msg.body);
    case MsgType.UNREGISTER_SUPER:
      return encodedLengthUnregisterSuper(msg.common, msg.body);
    case MsgType.REGISTER_SUPER_ACK:
      return encodedLengthRegisterSuperAck(msg.common, msg.body);
    case MsgType.REGISTER_SUPER_NAK:
      return encodedLengthRegisterSuperNak(msg.common, msg.body);
    case MsgType.PEER_INFO:
      return encodedLengthPeerInfo(msg.common, msg.body);
    case MsgType.QUERY_PEER:
      return encodedLengthQueryPeer(msg.common, msg.body);
    case MsgType.RE_REGISTER_SUPER:
      return encodedLengthReRegisterSuper(msg.common, msg.body);
    default:
      throw new WireError(WireErrorCode.UNENCODABLE, `cannot encode message type ${(msg as Message).type}`);
  }
}

/** Sizes of the fixed-size messages without sock (spec §15.7), for callers that size buffers up front. */
export const WireSize = {
  REGISTER: COMMON_HEADER_BYTES + COOKIE_BYTES + 2 * MAC_BYTES + DEV_ADDR_BYTES + DESC_BYTES,
  REGISTER_ACK: COMMON_HEADER_BYTES + COOKIE_BYTES + 2 * MAC_BYTES,
  QUERY_PEER: COMMON_HEADER_BYTES + 2 * MAC_BYTES + U16_BYTES,
  RE_REGISTER_SUPER: COMMON_HEADER_BYTES,
} as const;
