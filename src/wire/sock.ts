// The n2n_sock_t wire encoding (8 bytes IPv4 / 20 bytes IPv6), IP text conversion and SockAddr bridging.
import type { Reader } from '../util/bytes.js';
import { WireError, WireErrorCode } from '../util/errors.js';
import type { SockAddr } from '../util/ip.js';
import { ipv4Text, ipv6Text, parseIpv4, parseIpv6Into } from '../util/ip.js';
import type { Sock } from './types.js';

/** Address bytes of an IPv4 / IPv6 address. */
export const IPV4_BYTES = 4;
export const IPV6_BYTES = 16;
/** Bytes before the address in a sock: u16 flags + u16 port (wire.c: encode_sock). */
const SOCK_PREFIX_BYTES = 4;
/** A whole encoded IPv4 sock: flags, port, 4 address bytes. */
export const SOCK_IPV4_BYTES = SOCK_PREFIX_BYTES + IPV4_BYTES;
/** A whole encoded IPv6 sock: flags, port, 16 address bytes. */
export const SOCK_IPV6_BYTES = SOCK_PREFIX_BYTES + IPV6_BYTES;
/** Bit 15 of the sock flags word marks IPv6; decode_sock looks at nothing else (spec §2). */
export const SOCK_FLAG_IPV6 = 0x8000;

const MAX_PORT = 0xffff;

function unencodable(msg: string): WireError {
  return new WireError(WireErrorCode.UNENCODABLE, msg);
}

// IPv4/IPv6 text conversion lives in util/ip.ts (shared with io/); re-exported here for the wire API.
export { ipv6Text, parseIpv4, parseIpv6Into } from '../util/ip.js';

// ---------------------------------------------------------------- Sock on the wire

/** Encoded size of a sock: 8 for IPv4, 20 for IPv6. */
export function sockLength(sock: Sock): number {
  return sock.family === 6 ? SOCK_IPV6_BYTES : SOCK_IPV4_BYTES;
}

/**
 * Writes `sock` at `buf[off]` (wire.c: encode_sock: flags 0x0000/0x8000, port BE, address bytes) and returns the
 * offset after it. Throws WireError(UNENCODABLE) for a bad port or address text.
 */
export function writeSock(buf: Uint8Array, off: number, sock: Sock): number {
  const port = sock.port;
  if (!Number.isInteger(port) || port < 0 || port > MAX_PORT) {
    throw unencodable(`sock port ${port} is not a u16`);
  }
  if (sock.family === 6) {
    if (!parseIpv6Into(sock.address, buf, off + SOCK_PREFIX_BYTES)) {
      throw unencodable(`'${sock.address}' is not an IPv6 address`);
    }
    buf[off] = SOCK_FLAG_IPV6 >>> 8;
    buf[off + 1] = 0;
  } else if (sock.family === 4) {
    const v4 = parseIpv4(sock.address);
    if (v4 < 0) throw unencodable(`'${sock.address}' is not an IPv4 address`);
    buf[off] = 0;
    buf[off + 1] = 0;
    buf[off + 4] = v4 >>> 24;
    buf[off + 5] = (v4 >>> 16) & 0xff;
    buf[off + 6] = (v4 >>> 8) & 0xff;
    buf[off + 7] = v4 & 0xff;
  } else {
    throw unencodable(`sock family ${String((sock as Sock).family)} is neither 4 nor 6`);
  }
  buf[off + 2] = port >>> 8;
  buf[off + 3] = port & 0xff;
  return off + sockLength(sock);
}

/** An IPv4 sock from its numeric parts, no text round trip: for hot paths that know the u32 address. */
export function writeSockIpv4(buf: Uint8Array, off: number, ipv4: number, port: number): number {
  buf[off] = 0;
  buf[off + 1] = 0;
  buf[off + 2] = (port >>> 8) & 0xff;
  buf[off + 3] = port & 0xff;
  buf[off + 4] = ipv4 >>> 24;
  buf[off + 5] = (ipv4 >>> 16) & 0xff;
  buf[off + 6] = (ipv4 >>> 8) & 0xff;
  buf[off + 7] = ipv4 & 0xff;
  return off + SOCK_IPV4_BYTES;
}

/** The encoded bytes of a sock, made once and cached by senders that put the same sock in many headers. */
export function sockBytes(sock: Sock): Uint8Array {
  const out = new Uint8Array(sockLength(sock));
  writeSock(out, 0, sock);
  return out;
}

/**
 * Reads a sock (wire.c: decode_sock). Like C, only bit 15 of the flags word is looked at; any other bits are
 * ignored, so they do not survive a re-encode.
 */
export function readSock(r: Reader): Sock {
  const flags = r.u16('sock flags');
  const port = r.u16('sock port');
  if (flags & SOCK_FLAG_IPV6) {
    r.need(IPV6_BYTES, 'sock IPv6 address');
    const address = ipv6Text(r.buf, r.pos);
    r.pos += IPV6_BYTES;
    return { family: 6, port, address };
  }
  r.need(IPV4_BYTES, 'sock IPv4 address');
  const address = ipv4Text(r.buf, r.pos);
  r.pos += IPV4_BYTES;
  return { family: 4, port, address };
}

// ---------------------------------------------------------------- conversions

/** The sock for a UDP endpoint as node:dgram reports it. */
export function sockFromAddr(a: SockAddr): Sock {
  return { family: a.family, port: a.port, address: a.address };
}

/** The UDP endpoint a sock names (for sending to it). */
export function sockToAddr(s: Sock): SockAddr {
  return { family: s.family, port: s.port, address: s.address };
}

/** `ip:port`, or `[ipv6]:port`. */
export function sockToString(s: Sock): string {
  return s.family === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
}

export function sockEquals(a: Sock, b: Sock): boolean {
  return a.port === b.port && a.family === b.family && a.address === b.address;
}

/** IPv4 sock → its address as u32, or -1 for IPv6 or unparsable text. */
export function sockIpv4(s: Sock): number {
  return s.family === 4 ? parseIpv4(s.address) : -1;
}
