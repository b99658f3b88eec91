// IPv4 addresses as unsigned 32-bit numbers (network order value) and socket address helpers.
import { ConfigError } from './errors.js';

/** A UDP endpoint as node:dgram reports it. */
export interface SockAddr {
  family: 4 | 6;
  address: string;
  port: number;
}

export function ipv4ToNumber(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) throw new ConfigError(`invalid IPv4 address '${s}'`);
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) throw new ConfigError(`invalid IPv4 address '${s}'`);
    const n = Number(p);
    if (n > 255) throw new ConfigError(`invalid IPv4 address '${s}'`);
    v = v * 256 + n;
  }
  return v >>> 0;
}

export function numberToIpv4(v: number): string {
  return `${(v >>> 24) & 0xff}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** Netmask for a prefix length 0..32 as u32. */
export function prefixToMask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

export function sockAddrToString(s: SockAddr): string {
  return s.family === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
}

export function sameSockAddr(a: SockAddr, b: SockAddr): boolean {
  return a.port === b.port && a.address === b.address && a.family === b.family;
}

/** Parses `host:port`, `[v6]:port` or `port`; the host is not resolved here. */
export function parseHostPort(s: string, defaultPort?: number): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  let host: string;
  let portStr: string | undefined;
  if (v6) {
    host = v6[1];
    portStr = v6[2];
    if (ipFamilyOf(host) !== 6) throw new ConfigError(`'${host}' in '${s}' is not an IPv6 address`);
  } else {
    if (s.startsWith('[')) throw new ConfigError(`invalid address '${s}' (expected [ipv6]:port)`);
    const i = s.lastIndexOf(':');
    if (i < 0) {
      host = s;
    } else {
      host = s.slice(0, i);
      portStr = s.slice(i + 1);
    }
    // 2001:db8::1:7654 would be ambiguous: the port of an IPv6 address follows brackets.
    if (host.includes(':')) throw new ConfigError(`IPv6 address in '${s}' needs brackets: [ipv6]:port`);
  }
  let port = defaultPort;
  if (portStr !== undefined) {
    if (!/^\d{1,5}$/.test(portStr) || Number(portStr) > 65535)
      throw new ConfigError(`invalid port in '${s}'`);
    port = Number(portStr);
  }
  if (port === undefined) throw new ConfigError(`missing port in '${s}' (expected host:port)`);
  if (host.length === 0) throw new ConfigError(`missing host in '${s}' (expected host:port)`);
  return { host, port };
}

/**
 * Splits a `-p` value: `port`, `ip`, `ip:port`, `[ipv6]:port`, `[ipv6]` or a bare IPv6 address. The address,
 * when present, is a checked IPv4 or IPv6 literal; the port text is returned unchecked (callers range it).
 * Throws ConfigError with a one-line message.
 */
export function splitBindSpec(v: string): { address?: string; port?: string } {
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(v);
  let address: string | undefined;
  let port: string | undefined;
  if (bracket) {
    address = bracket[1];
    port = bracket[2];
    if (ipFamilyOf(address) !== 6) throw new ConfigError(`'${address}' in '${v}' is not an IPv6 address`);
  } else if (v.indexOf(':') !== v.lastIndexOf(':')) {
    // Two or more colons without brackets: an IPv6 address alone.
    address = v;
  } else {
    const colon = v.indexOf(':');
    if (colon >= 0) {
      address = v.slice(0, colon);
      port = v.slice(colon + 1);
    } else if (v.includes('.')) address = v;
    else port = v;
  }
  if (address !== undefined && ipFamilyOf(address) === 0) {
    throw new ConfigError(
      `invalid bind address '${address}' in '${v}' (expected ip, ip:port or [ipv6]:port)`,
    );
  }
  return { address, port };
}

const IPV6_GROUPS = 8;

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

/** Four address bytes at `b[off]` as dotted text. */
export function ipv4Text(b: Uint8Array, off: number): string {
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

/** 4 for IPv4 text, 6 for IPv6 text (a `%zone` allowed), 0 for anything else (a host name). */
export function ipFamilyOf(s: string): 0 | 4 | 6 {
  if (parseIpv4(s) >= 0) return 4;
  if (s.includes(':') && parseIpv6Into(s, new Uint8Array(16), 0)) return 6;
  return 0;
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
