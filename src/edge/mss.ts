// TCP MSS clamping of Ethernet frames in place (also inside IPIP, 6in4 and VXLAN), and the MSS that fits n2n's path.
import { TransformId } from '../wire/types.js';

/*
 * Why: a TCP connection picks its segment size once, from the MSS options of its SYN and SYN-ACK (RFC 9293
 * §3.7.1). When the overlay cannot carry a full segment in one underlay datagram and the path drops fragments or
 * ICMP "fragmentation needed" (RFC 1191), the connection stalls without an error. Lowering the MSS option of the
 * handshake as it crosses the TAP (what Linux's `iptables -j TCPMSS` does) keeps every later segment small enough.
 *
 * The limits. The caller passes, per family, the MSS a TCP segment may have when it is carried directly in the
 * frame: `mssV4 = P − 40` and `mssV6 = P − 60`, where P is the largest IP packet a TAP frame may carry (the TAP
 * MTU, or less when the underlay path is the tighter limit: `maxTapIpPacket`). A segment inside an encapsulation
 * belongs to an inner packet that must fit P together with the encapsulation, so its limit is the direct limit of
 * its own family minus E, the bytes between the outer IP header's start and the inner IP header's start:
 *   inner MSS = P − E − (inner IP header) − 20 = (direct limit of the inner family) − E
 * E is counted from the actual headers: IPIP / 6in4 with a plain outer IPv4 header: 20 (Calico's IPIP figure);
 * VXLAN over IPv4: 20 IPv4 + 8 UDP + 8 VXLAN + 14 inner Ethernet = 50 (Calico's and Flannel's VXLAN figure); over
 * IPv6: 70; outer IPv4 options and IPv6 extension headers add their length, inner 802.1Q tags 4 each. 802.1Q tags
 * of the TAP frame itself count into E too (4 each): they lengthen the n2n datagram without being part of P, so
 * counting them is the safe side.
 *
 * What is looked at: Ethernet II (up to two 802.1Q / 802.1ad tags) carrying IPv4 or IPv6; TCP with SYN set and
 * RST clear (SYN and SYN-ACK); IPv6 extension headers Hop-by-Hop, Routing, Destination Options and AH are skipped
 * (at most 8), a Fragment header or ESP ends the search. One level of encapsulation: IPv4 or IPv6 carrying IPv4
 * (protocol 4, RFC 2003) or IPv6 (protocol 41, RFC 4213), or UDP to port 4789 (IANA VXLAN, RFC 7348; Calico) or
 * 8472 (the Linux kernel's and Flannel's default VXLAN port) with the VXLAN I flag set, carrying an Ethernet frame.
 * Fragments (IPv4 MF or offset, any IPv6 Fragment header) are left alone: only a first fragment could hold the
 * TCP header, and rewriting it would need the whole datagram for the outer checksums. Every length is checked
 * against the frame and the IP and UDP length fields; anything malformed is left untouched. Nothing throws and
 * nothing is allocated.
 *
 * Checksums. The TCP checksum is updated incrementally (RFC 1624, eqn 3: HC' = ~(~HC + ~m + m')); an MSS value
 * at an odd offset from the TCP header straddles two 16-bit words and enters the sum byte-swapped (RFC 1071 §2(B)).
 * A VXLAN (or other) outer UDP checksum covers the inner bytes: when it is non-zero, both changed words (the MSS
 * and the inner TCP checksum) are folded into it the same way, and a result of 0 is sent as 0xFFFF (RFC 768). A
 * zero outer UDP checksum (IPv4: none; what the kernel's vxlan sends over IPv4 by default) stays zero.
 * The IP header checksum is not touched: no IP header byte changes.
 *
 * Frames must carry complete checksums (the TAP path of io/ completes offloaded ones before the edge sees them).
 */

/** What `clampMss` did. */
export const MssClamp = {
  /** Nothing changed: not a TCP SYN, no MSS option, MSS already small enough, a fragment, or malformed. */
  NONE: 0,
  /** The MSS of a TCP segment carried directly in the frame (IPv4 or IPv6) was lowered. */
  CLAMPED: 1,
  /** The MSS of a TCP segment inside IPIP, 6in4 or VXLAN was lowered. */
  CLAMPED_INNER: 2,
} as const;
export type MssClamp = (typeof MssClamp)[keyof typeof MssClamp];

// Ethernet, IEEE 802.3 / 802.1Q.
const ETH_HEADER_BYTES = 14;
const ETH_TYPE_OFFSET = 12;
const VLAN_TAG_BYTES = 4;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_8021Q = 0x8100;
const ETHERTYPE_8021AD = 0x88a8;
/** 802.1ad QinQ puts at most two tags in front of the payload. */
const MAX_VLAN_TAGS = 2;

// IPv4, RFC 791.
const IPV4_MIN_HEADER_BYTES = 20;
const IPV4_FRAGMENT_MASK = 0x3fff; // MF flag and the 13-bit fragment offset
// IPv6, RFC 8200.
const IPV6_HEADER_BYTES = 40;
const MAX_IPV6_EXT_HEADERS = 8;

// IP protocol numbers (IANA).
const PROTO_HOPOPT = 0;
const PROTO_IPV4 = 4;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_IPV6 = 41;
const PROTO_IPV6_ROUTE = 43;
const PROTO_AH = 51;
const PROTO_IPV6_OPTS = 60;

// TCP, RFC 9293.
const TCP_MIN_HEADER_BYTES = 20;
const TCP_FLAGS_OFFSET = 13;
const TCP_CHECKSUM_OFFSET = 16;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
const TCPOPT_MSS = 2;
const TCPOPT_MSS_BYTES = 4;

// UDP, RFC 768; VXLAN, RFC 7348.
const UDP_HEADER_BYTES = 8;
const UDP_CHECKSUM_OFFSET = 6;
const VXLAN_PORT_IANA = 4789;
const VXLAN_PORT_LINUX = 8472;
const VXLAN_HEADER_BYTES = 8;
const VXLAN_FLAG_I = 0x08;

/** Bytes of the TCP header (20) plus the IPv4 (20) or IPv6 (40) header: MSS = packet size − this. */
export const TCP_IPV4_HEADERS_BYTES = IPV4_MIN_HEADER_BYTES + TCP_MIN_HEADER_BYTES;
export const TCP_IPV6_HEADERS_BYTES = IPV6_HEADER_BYTES + TCP_MIN_HEADER_BYTES;

function u16(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

function swap16(v: number): number {
  return ((v & 0xff) << 8) | (v >>> 8);
}

/** RFC 1624 eqn 3: the checksum `hc` after a 16-bit word of the covered data changed from `m` to `m2`. */
function checksumReplace(hc: number, m: number, m2: number): number {
  let s = (~hc & 0xffff) + (~m & 0xffff) + m2;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * Folds the change of the 16-bit value at `at` (from `old` to `now`) into the checksum stored at `csumAt`, whose
 * sum starts at `base` (the value enters byte-swapped when it sits at an odd distance from `base`).
 */
function fixChecksum(
  b: Uint8Array,
  csumAt: number,
  base: number,
  at: number,
  old: number,
  now: number,
): number {
  const odd = ((at - base) & 1) === 1;
  return checksumReplace(u16(b, csumAt), odd ? swap16(old) : old, odd ? swap16(now) : now);
}

function write16(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 8;
  b[i + 1] = v & 0xff;
}

/**
 * Lowers a TCP SYN's MSS options above `limit` in the segment b[tcp, end). `udp` is the offset of an enclosing
 * UDP header whose non-zero checksum covers the segment, or −1. Returns true when something changed.
 */
function clampTcp(b: Uint8Array, tcp: number, end: number, limit: number, udp: number): boolean {
  if (!(limit >= 1) || tcp + TCP_MIN_HEADER_BYTES > end) return false;
  if ((b[tcp + TCP_FLAGS_OFFSET] & (TCP_SYN | TCP_RST)) !== TCP_SYN) return false;
  const optEnd = tcp + (b[tcp + 12] >>> 4) * 4;
  if (optEnd < tcp + TCP_MIN_HEADER_BYTES || optEnd > end) return false;
  // First pass: the whole option list must be well-formed before a byte is written.
  let wanted = false;
  let i = tcp + TCP_MIN_HEADER_BYTES;
  while (i < optEnd) {
    const kind = b[i];
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= optEnd) return false;
    const optLen = b[i + 1];
    if (optLen < 2 || i + optLen > optEnd) return false;
    if (kind === TCPOPT_MSS) {
      if (optLen !== TCPOPT_MSS_BYTES) return false;
      if (u16(b, i + 2) > limit) wanted = true;
    }
    i += optLen;
  }
  if (!wanted) return false;
  // Second pass: rewrite every oversized MSS option (Linux takes the last one it sees, so all must fit).
  const csumAt = tcp + TCP_CHECKSUM_OFFSET;
  i = tcp + TCP_MIN_HEADER_BYTES;
  while (i < optEnd) {
    const kind = b[i];
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (kind === TCPOPT_MSS) {
      const at = i + 2;
      const old = u16(b, at);
      if (old > limit) {
        const oldCsum = u16(b, csumAt);
        const newCsum = fixChecksum(b, csumAt, tcp, at, old, limit);
        if (udp >= 0) {
          const udpCsumAt = udp + UDP_CHECKSUM_OFFSET;
          let u = fixChecksum(b, udpCsumAt, udp, at, old, limit);
          write16(b, udpCsumAt, u);
          u = fixChecksum(b, udpCsumAt, udp, csumAt, oldCsum, newCsum);
          write16(b, udpCsumAt, u === 0 ? 0xffff : u);
        }
        write16(b, at, limit);
        write16(b, csumAt, newCsum);
      }
    }
    i += b[i + 1];
  }
  return true;
}

/**
 * Offset of the payload of the Ethernet frame b[off, end) after at most two VLAN tags, or −1. The ethertype of
 * the payload is the 16-bit value just in front of it.
 */
function ethPayload(b: Uint8Array, off: number, end: number): number {
  let p = off + ETH_TYPE_OFFSET;
  for (let tags = 0; ; tags++) {
    if (p + 2 > end) return -1;
    const type = u16(b, p);
    if ((type === ETHERTYPE_8021Q || type === ETHERTYPE_8021AD) && tags < MAX_VLAN_TAGS) {
      p += VLAN_TAG_BYTES;
      continue;
    }
    return type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6 ? p + 2 : -1;
  }
}

/** The result code for a successful clamp at encapsulation depth `depth`. */
function clamped(depth: number): MssClamp {
  return depth === 0 ? MssClamp.CLAMPED : MssClamp.CLAMPED_INNER;
}

/**
 * Clamps inside the IP packet starting at b[ip] (frame end `end`, IP version `version`). `encap`: bytes in front
 * of this IP header that count against its limit (see the file comment); `depth` 0 for the frame's own packet,
 * 1 inside an encapsulation; `udp`: an enclosing checksummed UDP header or −1.
 */
function clampIp(
  b: Uint8Array,
  ip: number,
  end: number,
  version: number,
  mssV4: number,
  mssV6: number,
  encap: number,
  depth: number,
  udp: number,
): MssClamp {
  let l4: number;
  let l4End: number;
  let proto: number;
  if (version === 4) {
    if (ip + IPV4_MIN_HEADER_BYTES > end || b[ip] >>> 4 !== 4) return MssClamp.NONE;
    const ihl = (b[ip] & 0x0f) * 4;
    const total = u16(b, ip + 2);
    if (ihl < IPV4_MIN_HEADER_BYTES || total < ihl || ip + total > end) return MssClamp.NONE;
    if ((u16(b, ip + 6) & IPV4_FRAGMENT_MASK) !== 0) return MssClamp.NONE;
    proto = b[ip + 9];
    l4 = ip + ihl;
    l4End = ip + total;
  } else {
    if (ip + IPV6_HEADER_BYTES > end || b[ip] >>> 4 !== 6) return MssClamp.NONE;
    const payload = u16(b, ip + 4);
    // Payload length 0 is a jumbogram (RFC 2675): never on a TAP, left alone.
    if (payload === 0 || ip + IPV6_HEADER_BYTES + payload > end) return MssClamp.NONE;
    l4End = ip + IPV6_HEADER_BYTES + payload;
    proto = b[ip + 6];
    l4 = ip + IPV6_HEADER_BYTES;
    for (let n = 0; ; n++) {
      let extLen: number;
      if (proto === PROTO_HOPOPT || proto === PROTO_IPV6_ROUTE || proto === PROTO_IPV6_OPTS) {
        if (l4 + 2 > l4End) return MssClamp.NONE;
        extLen = (b[l4 + 1] + 1) * 8; // RFC 8200 §4.3: in 8-octet units, not counting the first 8
      } else if (proto === PROTO_AH) {
        if (l4 + 2 > l4End) return MssClamp.NONE;
        extLen = (b[l4 + 1] + 2) * 4; // RFC 4302 §2.2: in 4-octet units, minus 2
      } else break;
      if (n >= MAX_IPV6_EXT_HEADERS || l4 + extLen > l4End) return MssClamp.NONE;
      proto = b[l4];
      l4 += extLen;
    }
  }
  if (proto === PROTO_TCP) {
    const limit = (version === 4 ? mssV4 : mssV6) - encap;
    return clampTcp(b, l4, l4End, limit, udp) ? clamped(depth) : MssClamp.NONE;
  }
  if (depth > 0) return MssClamp.NONE;
  if (proto === PROTO_IPV4 || proto === PROTO_IPV6) {
    const inner = proto === PROTO_IPV4 ? 4 : 6;
    return clampIp(b, l4, l4End, inner, mssV4, mssV6, encap + (l4 - ip), 1, -1);
  }
  if (proto === PROTO_UDP) {
    if (l4 + UDP_HEADER_BYTES > l4End) return MssClamp.NONE;
    const udpLen = u16(b, l4 + 4);
    if (udpLen < UDP_HEADER_BYTES || l4 + udpLen > l4End) return MssClamp.NONE;
    const port = u16(b, l4 + 2);
    if (port !== VXLAN_PORT_IANA && port !== VXLAN_PORT_LINUX) return MssClamp.NONE;
    const udpEnd = l4 + udpLen;
    const vxlan = l4 + UDP_HEADER_BYTES;
    if (vxlan + VXLAN_HEADER_BYTES > udpEnd || (b[vxlan] & VXLAN_FLAG_I) === 0) return MssClamp.NONE;
    const innerEth = vxlan + VXLAN_HEADER_BYTES;
    const innerIp = ethPayload(b, innerEth, udpEnd);
    if (innerIp < 0) return MssClamp.NONE;
    const innerVersion = u16(b, innerIp - 2) === ETHERTYPE_IPV4 ? 4 : 6;
    const csummed = u16(b, l4 + UDP_CHECKSUM_OFFSET) !== 0 ? l4 : -1;
    return clampIp(b, innerIp, udpEnd, innerVersion, mssV4, mssV6, encap + (innerIp - ip), 1, csummed);
  }
  return MssClamp.NONE;
}

/**
 * Lowers the MSS option of a TCP SYN or SYN-ACK in the Ethernet frame b[off, off + len) to the limit, in place,
 * with the checksums fixed. `mssV4` / `mssV6`: the largest MSS for a TCP segment carried directly in the frame
 * over IPv4 / IPv6 (`autoMss`, or TAP MTU − 40 / − 60); encapsulated segments get these minus the encapsulation
 * bytes (file comment). A limit that is not an integer ≥ 1 leaves that family alone. Malformed or out-of-range
 * input is left untouched; never throws.
 */
export function clampMss(b: Uint8Array, off: number, len: number, mssV4: number, mssV6: number): MssClamp {
  if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > b.length) {
    return MssClamp.NONE;
  }
  const end = off + len;
  const ip = ethPayload(b, off, end);
  if (ip < 0) return MssClamp.NONE;
  const version = u16(b, ip - 2) === ETHERTYPE_IPV4 ? 4 : 6;
  const v4 = Number.isInteger(mssV4) ? mssV4 : 0;
  const v6 = Number.isInteger(mssV6) ? mssV6 : 0;
  return clampIp(b, ip, end, version, v4, v6, ip - off - ETH_HEADER_BYTES, 0, -1);
}

// ---------------------------------------------------------------- the MSS that fits n2n's path

/** IPv4 (20) + UDP (8) header bytes of every n2n datagram over IPv4 (3.1.1 speaks UDP over IPv4 only, spec §1). */
export const UNDERLAY_IPV4_UDP_BYTES = 28;
/** PACKET header from an edge: common header 24 + two MACs 12 + compression and transform ids 2 (spec §4.2, §15.7). */
export const PACKET_HEADER_BYTES = 38;
/** PACKET header when a supernode relays it: + the 8-byte IPv4 sock of the sender (spec §4.2, §15.7). */
export const PACKET_HEADER_RELAYED_BYTES = 46;
/** Random block (AES, Twofish CBC-CTS) or IV (ChaCha20, Speck-CTR) in front of the ciphertext (spec §5.1, §5.5–§5.7). */
export const CIPHER_PREAMBLE_BYTES = 16;
/** Bytes `-H` adds to a PACKET: none, the header is encrypted in place (spec §5.9, §7.2). */
export const HEADER_ENCRYPTION_EXTRA_BYTES = 0;
/** The Ethernet header of the TAP frame, carried in the payload (spec §5.1: no FCS). */
export const TAP_ETH_HEADER_BYTES = ETH_HEADER_BYTES;

/**
 * Bytes n2n adds in front of a TAP frame inside the UDP payload, for the worst case of a frame relayed by the
 * supernode (a connection's MSS is fixed at its SYN, before the path is known, and a P2P path can fall back to
 * the supernode at any time):
 *   46 (relayed PACKET header, §4.2) + 16 (preamble of every cipher but null, §5.1; 0 for null).
 * No cipher pads: AES and Twofish use ciphertext stealing, the ciphertext is as long as the plaintext plus the
 * random block (§5.5); ChaCha20 and Speck are stream ciphers behind a 16-byte IV (§5.6, §5.7). Header encryption
 * (`-H`) encrypts the header in place and adds nothing, with user/password auth neither (§5.9, §7.2).
 * Compression is used only when it makes the frame shorter (§5.1), so it never adds either.
 */
export function n2nOverheadBytes(
  transform: TransformId,
  headerEncryption: boolean,
  ipv6Underlay = false,
): number {
  return (
    PACKET_HEADER_RELAYED_BYTES +
    (transform === TransformId.NULL ? 0 : CIPHER_PREAMBLE_BYTES) +
    (headerEncryption ? HEADER_ENCRYPTION_EXTRA_BYTES : 0) +
    (ipv6Underlay ? UNDERLAY_IPV6_EXTRA_BYTES : 0)
  );
}

/**
 * What an IPv6 underlay adds to the IPv4 figures above: the outer IPv6 header is 40 bytes, not 20, and the
 * sender socket a supernode puts in a relayed PACKET is 20 bytes, not 8 (spec §2). Counted with the overhead
 * so that `maxTapIpPacket` keeps subtracting the IPv4/UDP 28.
 */
export const UNDERLAY_IPV6_EXTRA_BYTES = 20 + 12;

/**
 * The largest IP packet a TAP frame may carry: the TAP MTU, or less when the underlay path MTU cannot take the
 * n2n datagram of a full frame without fragmentation (path MTU − 28 IPv4/UDP − `overheadBytes` − 14 Ethernet).
 * `pathMtu` undefined: only the TAP MTU counts.
 */
export function maxTapIpPacket(tapMtu: number, pathMtu: number | undefined, overheadBytes: number): number {
  if (pathMtu === undefined) return tapMtu;
  return Math.min(tapMtu, pathMtu - UNDERLAY_IPV4_UDP_BYTES - overheadBytes - TAP_ETH_HEADER_BYTES);
}

/**
 * `--mss-clamp=auto`: the MSS for a TCP segment carried directly in a TAP frame, the smaller of TAP MTU − 40
 * (− 60 for IPv6) and what fits the underlay path without fragmentation (`maxTapIpPacket`), never below 1.
 * E.g. TAP 1500, path 1500, ChaCha20: min(1500, 1500 − 28 − 62 − 14 = 1396) − 40 = 1356 for IPv4.
 */
export function autoMss(
  tapMtu: number,
  pathMtu: number | undefined,
  overheadBytes: number,
  ipv6: boolean,
): number {
  const headers = ipv6 ? TCP_IPV6_HEADERS_BYTES : TCP_IPV4_HEADERS_BYTES;
  return Math.max(1, maxTapIpPacket(tapMtu, pathMtu, overheadBytes) - headers);
}
