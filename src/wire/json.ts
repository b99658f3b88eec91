// Message → plain JSON object with n2n field names (as in the golden vectors' `decoded`), for the decode tool.
import { cString, toHex } from '../util/bytes.js';
import { numberToIpv4 } from '../util/ip.js';
import { macToString } from '../util/mac.js';
import { communityName } from './common.js';
import { sockToString } from './sock.js';
import { type Auth, type DevAddr, type Message, MSG_TYPE_NAMES, MsgType } from './types.js';

/** A JSON-ready value: strings, numbers, booleans, null, arrays and objects of those. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

const FLAGS_HEX_DIGITS = 4;
const COOKIE_HEX_DIGITS = 8;

/** The flag bits (type masked off) as `0x0060`, as the reference decoder of the golden vectors prints them. */
export function flagsHex(flags: number): string {
  return `0x${(flags & 0xffe0).toString(16).padStart(FLAGS_HEX_DIGITS, '0')}`;
}

export function cookieHex(cookie: number): string {
  return (cookie >>> 0).toString(16).padStart(COOKIE_HEX_DIGITS, '0');
}

/** `a.b.c.d/n`. */
export function devAddrToString(d: DevAddr): string {
  return `${numberToIpv4(d.addr)}/${d.bitlen}`;
}

function putAuth(o: JsonObject, a: Auth): void {
  o.auth_scheme = a.scheme;
  o.auth_token = toHex(a.token);
}

/**
 * The JSON form of a decoded message: `type` (n2n name), `ttl`, `flags` (flag bits, hex), `community`, then the
 * body fields in wire order with snake_case names. MACs are `aa:bb:cc:dd:ee:ff`, socks `ip:port`, cookies and
 * tokens hex. Optional socks are omitted when absent. PACKET adds `payload_offset` and `payload_length` (the
 * caller decides whether to add the payload itself).
 */
export function messageToJson(msg: Message): JsonObject {
  const c = msg.common;
  const o: JsonObject = {
    type: MSG_TYPE_NAMES[msg.type] ?? String(msg.type),
    ttl: c.ttl,
    flags: flagsHex(c.flags),
    community: communityName(c.community),
  };
  switch (msg.type) {
    case MsgType.REGISTER: {
      const b = msg.body;
      o.cookie = cookieHex(b.cookie);
      o.src_mac = macToString(b.srcMac);
      o.dst_mac = macToString(b.dstMac);
      if (b.sock) o.sock = sockToString(b.sock);
      o.dev_addr = devAddrToString(b.devAddr);
      o.dev_desc = cString(b.desc);
      break;
    }
    case MsgType.PACKET: {
      const b = msg.body;
      o.src_mac = macToString(b.srcMac);
      o.dst_mac = macToString(b.dstMac);
      if (b.sock) o.sock = sockToString(b.sock);
      o.compression = b.compression;
      o.transform = b.transform;
      o.payload_offset = msg.payloadOffset;
      o.payload_length = msg.payloadLength;
      break;
    }
    case MsgType.REGISTER_ACK: {
      const b = msg.body;
      o.cookie = cookieHex(b.cookie);
      o.dst_mac = macToString(b.dstMac);
      o.src_mac = macToString(b.srcMac);
      if (b.sock) o.sock = sockToString(b.sock);
      break;
    }
    case MsgType.REGISTER_SUPER: {
      const b = msg.body;
      o.cookie = cookieHex(b.cookie);
      o.edge_mac = macToString(b.edgeMac);
      if (b.sock) o.sock = sockToString(b.sock);
      o.dev_addr = devAddrToString(b.devAddr);
      o.dev_desc = cString(b.desc);
      putAuth(o, b.auth);
      o.key_time = b.keyTime;
      break;
    }
    case MsgType.UNREGISTER_SUPER: {
      const b = msg.body;
      putAuth(o, b.auth);
      o.src_mac = macToString(b.srcMac);
      break;
    }
    case MsgType.REGISTER_SUPER_ACK: {
      const b = msg.body;
      o.cookie = cookieHex(b.cookie);
      o.src_mac = macToString(b.srcMac);
      o.dev_addr = devAddrToString(b.devAddr);
      o.lifetime = b.lifetime;
      o.sock = sockToString(b.sock);
      putAuth(o, b.auth);
      o.num_sn = b.supernodes.length;
      o.supernodes = b.supernodes.map((e) => ({ sock: sockToString(e.sock), mac: macToString(e.mac) }));
      o.key_time = b.keyTime;
      break;
    }
    case MsgType.REGISTER_SUPER_NAK: {
      const b = msg.body;
      o.cookie = cookieHex(b.cookie);
      o.src_mac = macToString(b.srcMac);
      putAuth(o, b.auth);
      break;
    }
    case MsgType.PEER_INFO: {
      const b = msg.body;
      o.aflags = b.aflags;
      o.src_mac = macToString(b.srcMac);
      o.mac = macToString(b.mac);
      o.sock = sockToString(b.sock);
      if (b.preferredSock) o.preferred_sock = sockToString(b.preferredSock);
      o.load = b.load;
      o.uptime = b.uptime;
      o.sn_version = cString(b.version);
      break;
    }
    case MsgType.QUERY_PEER: {
      const b = msg.body;
      o.src_mac = macToString(b.srcMac);
      o.target_mac = macToString(b.targetMac);
      o.aflags = b.aflags;
      break;
    }
    case MsgType.RE_REGISTER_SUPER:
      break;
  }
  return o;
}
