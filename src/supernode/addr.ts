// Socket-address helpers of the supernode's parts: IPv4 as u32 without allocating, its text, equality.
import type { SockAddr } from '../util/ip.js';

const DOT = 46;
const ZERO = 48;

/** Dotted-quad u32 of a socket address without allocating (the relay path uses it); -1 when not IPv4. */
export function ipv4Of(addr: SockAddr): number {
  if (addr.family !== 4) return -1;
  const s = addr.address;
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || ++dots > 3) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
    } else {
      const d = c - ZERO;
      if (d < 0 || d > 9 || ++digits > 3) return -1;
      part = part * 10 + d;
      if (part > 255) return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return (v * 256 + part) >>> 0;
}

/** Dotted-quad text of a u32. */
export function ipText(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** Same address and port (an unresolved peer, `a` undefined, equals nothing). */
export function sameAddr(a: SockAddr | undefined, b: SockAddr): boolean {
  return a !== undefined && a.port === b.port && a.address === b.address;
}
