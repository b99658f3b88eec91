// Fixed-size binary socket addresses (24 bytes) as the native batch UDP path reads and writes them, and IPv6 text.
import type { SockAddr } from '../util/ip.js';
import { ipv4ToNumber, ipv6Text, numberToIpv4, parseIpv6Into } from '../util/ip.js';

/**
 * Bytes per encoded address: [0] family 4|6, [1] 0, [2..3] port big-endian, [4..7] IPv4 or [4..19] IPv6 in
 * network order, [20..23] IPv6 scope id little-endian. Must equal the addon's ADDR_STRIDE (frames.h kAddrStride).
 */
export const SOCKADDR_BYTES = 24;

const IPV6_BYTES = 16;
const ADDR_OFFSET = 4;
const SCOPE_OFFSET = 20;

/** Parses IPv6 text (with `::`, an embedded dotted IPv4 tail, and an optional `%scope`) into 16 bytes. */
export function parseIpv6(
  text: string,
  out: Uint8Array = new Uint8Array(IPV6_BYTES),
  offset = 0,
): Uint8Array {
  if (!parseIpv6Into(text, out, offset)) throw new TypeError(`not an IPv6 address: '${text}'`);
  return out;
}

/** Formats 16 bytes as IPv6 text the way inet_ntop and node:dgram do (RFC 5952, IPv4-mapped as ::ffff:a.b.c.d). */
export function formatIpv6(b: Uint8Array, offset = 0): string {
  return ipv6Text(b, offset);
}

/** Writes `a` as one SOCKADDR_BYTES entry at `offset`. Throws TypeError on an unparsable address. */
export function encodeSockAddr(a: SockAddr, out: Uint8Array, offset: number): void {
  out.fill(0, offset, offset + SOCKADDR_BYTES);
  out[offset + 2] = (a.port >>> 8) & 0xff;
  out[offset + 3] = a.port & 0xff;
  if (a.family === 4) {
    out[offset] = 4;
    const v = ipv4ToNumber(a.address);
    out[offset + ADDR_OFFSET] = v >>> 24;
    out[offset + ADDR_OFFSET + 1] = (v >>> 16) & 0xff;
    out[offset + ADDR_OFFSET + 2] = (v >>> 8) & 0xff;
    out[offset + ADDR_OFFSET + 3] = v & 0xff;
  } else {
    out[offset] = 6;
    parseIpv6(a.address, out, offset + ADDR_OFFSET);
    const pct = a.address.indexOf('%');
    const scope = pct >= 0 ? Number(a.address.slice(pct + 1)) : 0;
    if (Number.isInteger(scope) && scope > 0) {
      out[offset + SCOPE_OFFSET] = scope & 0xff;
      out[offset + SCOPE_OFFSET + 1] = (scope >>> 8) & 0xff;
      out[offset + SCOPE_OFFSET + 2] = (scope >>> 16) & 0xff;
      out[offset + SCOPE_OFFSET + 3] = (scope >>> 24) & 0xff;
    }
  }
}

/** Reads one entry into a fresh SockAddr (the caller may keep it). */
export function decodeSockAddr(buf: Uint8Array, offset: number): SockAddr {
  const port = (buf[offset + 2] << 8) | buf[offset + 3];
  if (buf[offset] === 4) {
    const o = offset + ADDR_OFFSET;
    const v = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
    return { family: 4, address: numberToIpv4(v), port };
  }
  const scope =
    (buf[offset + SCOPE_OFFSET] |
      (buf[offset + SCOPE_OFFSET + 1] << 8) |
      (buf[offset + SCOPE_OFFSET + 2] << 16) |
      (buf[offset + SCOPE_OFFSET + 3] << 24)) >>>
    0;
  const text = formatIpv6(buf, offset + ADDR_OFFSET);
  return { family: 6, address: scope === 0 ? text : `${text}%${scope}`, port };
}

/**
 * A number identifying an IPv4 entry (address × 65536 + port, exact below 2^48), for Map lookups without
 * building strings on the packet path; -1 for IPv6 entries (decode those).
 */
export function ipv4SockAddrKey(buf: Uint8Array, offset: number): number {
  if (buf[offset] !== 4) return -1;
  const o = offset + ADDR_OFFSET;
  const v = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
  return v * 0x10000 + ((buf[offset + 2] << 8) | buf[offset + 3]);
}

/** FNV-1a 32-bit parameters (the hash only spreads entries over buckets; a hit is confirmed byte by byte). */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

interface CachedEntry {
  bytes: Uint8Array;
  addr: SockAddr;
}

/**
 * Decoded SockAddr objects of recently seen entries, so a batch of datagrams from known IPv6 peers decodes
 * none of them again: the lookup hashes the 24 bytes and compares them with the cached entry, allocating
 * nothing on a hit. The returned objects are shared and must not be mutated. Cleared when full.
 */
export class SockAddrCache {
  private readonly map = new Map<number, CachedEntry>();

  constructor(private readonly maxEntries: number) {}

  get(buf: Uint8Array, offset: number): SockAddr {
    let h = FNV_OFFSET;
    for (let i = 0; i < SOCKADDR_BYTES; i++) h = Math.imul(h ^ buf[offset + i], FNV_PRIME);
    const hit = this.map.get(h);
    if (hit !== undefined) {
      const b = hit.bytes;
      let same = true;
      for (let i = 0; i < SOCKADDR_BYTES; i++) {
        if (b[i] !== buf[offset + i]) {
          same = false;
          break;
        }
      }
      if (same) return hit.addr;
    }
    const addr = decodeSockAddr(buf, offset);
    if (this.map.size >= this.maxEntries) this.map.clear();
    this.map.set(h, { bytes: buf.slice(offset, offset + SOCKADDR_BYTES), addr });
    return addr;
  }
}
