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
  } else {
    const i = s.lastIndexOf(':');
    if (i < 0) {
      host = s;
    } else {
      host = s.slice(0, i);
      portStr = s.slice(i + 1);
    }
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
