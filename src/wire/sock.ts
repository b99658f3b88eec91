// The n2n_sock_t wire encoding (8 bytes IPv4 / 20 bytes IPv6), IP text conversion and SockAddr bridging.
import type { Reader } from '../util/bytes.js';
import { WireError, WireErrorCode } from '../util/errors.js';
import type { SockAddr } from '../util/ip.js';
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

const IPV6_GROUPS = 8;
const MAX_PORT = 0xffff;

function unencodable(msg: string): WireError {
  return new WireError(WireErrorCode.UNENCODABLE, msg);
}

// ---------------------------------------------------------------- IPv4 / IPv6 text

/** Dotted quad → u32, or -1 when the text is not an IPv4 address (no exception: callers choose the error). */
export function parseIpv4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) return -1;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return -1;
    const n = Number(p);
    if (n > 255) return -1;
    v = v * 256 + n;
  }
  return v >>> 0;
}

function ipv4Text(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/**
 * Parses IPv6 text (with `::`, an embedded dotted quad, an optional `%zone` which is dropped) into 16 bytes at
 * `out[off]`. Returns false when the text is not an IPv6 address.
 */
export function parseIpv6Into(s: string, out: Uint8Array, off: number): boolean {
  const zone = s.indexOf('%');
  const text = zone >= 0 ? s.slice(0, zone) : s;
  const groups: number[] = [];
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const parseHalf = (h: string, acc: number[], last: boolean): boolean => {
    if (h === '') return true;
    const items = h.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (last && i === items.length - 1 && it.includes('.')) {
        const v4 = parseIpv4(it);
        if (v4 < 0) return false;
        acc.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return false;
        acc.push(Number.parseInt(it, 16));
      }
    }
    return true;
  };
  const head: number[] = [];
  const tail: number[] = [];
  if (halves.length === 2) {
    if (!parseHalf(halves[0], head, false) || !parseHalf(halves[1], tail, true)) return false;
    // `::` stands for at least one zero group.
    if (head.length + tail.length > IPV6_GROUPS - 1) return false;
    groups.push(...head);
    for (let i = head.length + tail.length; i < IPV6_GROUPS; i++) groups.push(0);
    groups.push(...tail);
  } else {
    if (!parseHalf(text, groups, true) || groups.length !== IPV6_GROUPS) return false;
  }
  for (let i = 0; i < IPV6_GROUPS; i++) {
    out[off + 2 * i] = groups[i] >>> 8;
    out[off + 2 * i + 1] = groups[i] & 0xff;
  }
  return true;
}

/** 16 address bytes → RFC 5952 text (lower case, longest zero run as `::`, IPv4-mapped as ::ffff:a.b.c.d). */
export function ipv6Text(b: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < IPV6_GROUPS; i++) g.push((b[off + 2 * i] << 8) | b[off + 2 * i + 1]);
  // RFC 5952 §5: ::ffff:0:0/96 is written with the IPv4 part dotted, as node:dgram reports it.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${ipv4Text(b, off + 12)}`;
  }
  // RFC 5952 §4.2: compress the longest run (first on a tie) of two or more zero groups.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < IPV6_GROUPS; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < IPV6_GROUPS && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, IPV6_GROUPS);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, IPV6_GROUPS)}`;
}

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
