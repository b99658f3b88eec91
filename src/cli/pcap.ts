// Classic libpcap file reader for `tsn2n decode`: the UDP payloads of Ethernet, Linux SLL/SLL2 and raw IP captures.
import { ipv6Text } from '../wire/sock.js';

/** Where one UDP datagram came from in the capture. */
export interface PcapDatagram {
  /** 1-based record number, as Wireshark numbers frames. */
  frame: number;
  /** Capture time in seconds since the epoch (fractional). */
  time: number;
  src: string;
  dst: string;
  /** The UDP payload (a view into the file buffer), or undefined when `error` says why there is none. */
  payload?: Uint8Array;
  error?: string;
}

/** libpcap magic numbers (pcap-savefile(5)): microsecond and nanosecond resolution. */
const MAGIC_USEC = 0xa1b2c3d4;
const MAGIC_NSEC = 0xa1b23c4d;
const GLOBAL_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;
const OFF_LINKTYPE = 20;

/** Link-layer header types (https://www.tcpdump.org/linktypes.html). */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW_OPENBSD: 12,
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERNET_HEADER_BYTES = 14;
const VLAN_TAG_BYTES = 4;
const SLL_HEADER_BYTES = 16;
const SLL_OFF_PROTOCOL = 14;
const SLL2_HEADER_BYTES = 20;
/** BSD loopback family values for IPv6 differ per OS (24, 28, 30); IPv4 is 2 everywhere. */
const NULL_HEADER_BYTES = 4;
const BSD_AF_INET = 2;
const BSD_AF_INET6 = new Set([24, 28, 30]);

const IPV4_MIN_HEADER_BYTES = 20;
const IPV6_HEADER_BYTES = 40;
const IP_PROTO_UDP = 17;
const IPV4_FRAG_OFFSET_MASK = 0x1fff;
const IPV4_MORE_FRAGMENTS = 0x2000;
const UDP_HEADER_BYTES = 8;

/** Thrown when the file is not a classic pcap or its link type is not supported. */
export class PcapFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PcapFormatError';
  }
}

function be16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function ipv4Text(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** Parses the IP packet at `b[o, end)` into `d` (src/dst/payload or error); false when it is not UDP at all. */
function parseIp(b: Uint8Array, o: number, end: number, d: PcapDatagram): boolean {
  if (end - o < 1) return false;
  const version = b[o] >>> 4;
  let udp: number;
  let udpEnd: number;
  let srcIp: string;
  let dstIp: string;
  if (version === 4) {
    if (end - o < IPV4_MIN_HEADER_BYTES) return false;
    const ihl = (b[o] & 0x0f) * 4;
    if (b[o + 9] !== IP_PROTO_UDP || ihl < IPV4_MIN_HEADER_BYTES) return false;
    const frag = be16(b, o + 6);
    srcIp = ipv4Text(b, o + 12);
    dstIp = ipv4Text(b, o + 16);
    // Later fragments carry no UDP header; the first one is reported as an error below.
    if ((frag & IPV4_FRAG_OFFSET_MASK) !== 0) return false;
    udp = o + ihl;
    udpEnd = Math.min(end, o + be16(b, o + 2));
    if (frag & IPV4_MORE_FRAGMENTS) {
      d.error = 'fragmented IPv4 datagram (not reassembled)';
    }
  } else if (version === 6) {
    if (end - o < IPV6_HEADER_BYTES || b[o + 6] !== IP_PROTO_UDP) return false;
    srcIp = `[${ipv6Text(b, o + 8)}]`;
    dstIp = `[${ipv6Text(b, o + 24)}]`;
    udp = o + IPV6_HEADER_BYTES;
    udpEnd = Math.min(end, udp + be16(b, o + 4));
  } else {
    return false;
  }
  if (udpEnd - udp < UDP_HEADER_BYTES) {
    d.src = srcIp;
    d.dst = dstIp;
    d.error = 'truncated UDP header';
    return true;
  }
  d.src = `${srcIp}:${be16(b, udp)}`;
  d.dst = `${dstIp}:${be16(b, udp + 2)}`;
  if (d.error) return true;
  const udpLen = be16(b, udp + 4);
  const payloadEnd = Math.min(udpEnd, udp + Math.max(udpLen, UDP_HEADER_BYTES));
  d.payload = b.subarray(udp + UDP_HEADER_BYTES, payloadEnd);
  if (udp + udpLen > end) d.error = 'datagram truncated by the capture snap length';
  return true;
}

/** Offset of the IP header inside a link-layer frame, or -1 when the frame carries no IP. */
function ipOffset(linkType: number, b: Uint8Array, o: number, end: number, littleEndian: boolean): number {
  switch (linkType) {
    case LinkType.ETHERNET: {
      let p = o + ETHERNET_HEADER_BYTES - 2;
      if (end - o < ETHERNET_HEADER_BYTES) return -1;
      let type = be16(b, p);
      while ((type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) && p + VLAN_TAG_BYTES + 2 <= end) {
        p += VLAN_TAG_BYTES;
        type = be16(b, p);
      }
      return type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6 ? p + 2 : -1;
    }
    case LinkType.LINUX_SLL: {
      if (end - o < SLL_HEADER_BYTES) return -1;
      const type = be16(b, o + SLL_OFF_PROTOCOL);
      return type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6 ? o + SLL_HEADER_BYTES : -1;
    }
    case LinkType.LINUX_SLL2: {
      if (end - o < SLL2_HEADER_BYTES) return -1;
      const type = be16(b, o);
      return type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6 ? o + SLL2_HEADER_BYTES : -1;
    }
    case LinkType.NULL: {
      if (end - o < NULL_HEADER_BYTES) return -1;
      // The family is in the capturing host's byte order, the same order as the file header.
      const fam = littleEndian ? b[o] | (b[o + 1] << 8) : (b[o + 2] << 8) | b[o + 3];
      return fam === BSD_AF_INET || BSD_AF_INET6.has(fam) ? o + NULL_HEADER_BYTES : -1;
    }
    case LinkType.RAW:
    case LinkType.RAW_OPENBSD:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return o;
    default:
      return -1;
  }
}

/**
 * Every UDP datagram of a classic pcap file, in file order. Throws PcapFormatError when the file header is not
 * pcap or the link type is unsupported. A record cut short at the end of the file yields one error entry.
 */
export function* readPcap(file: Uint8Array): Generator<PcapDatagram> {
  if (file.length < GLOBAL_HEADER_BYTES) throw new PcapFormatError('not a pcap file (too short)');
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let le: boolean;
  const magicLe = dv.getUint32(0, true);
  if (magicLe === MAGIC_USEC || magicLe === MAGIC_NSEC) le = true;
  else {
    const magicBe = dv.getUint32(0, false);
    if (magicBe !== MAGIC_USEC && magicBe !== MAGIC_NSEC) {
      throw new PcapFormatError(
        'not a classic pcap file (pcapng is not supported: convert with editcap -F pcap)',
      );
    }
    le = false;
  }
  const nanos = dv.getUint32(0, le) === MAGIC_NSEC;
  const linkType = dv.getUint32(OFF_LINKTYPE, le) & 0xffff;
  if (!(Object.values(LinkType) as number[]).includes(linkType)) {
    throw new PcapFormatError(`unsupported pcap link type ${linkType}`);
  }
  let pos = GLOBAL_HEADER_BYTES;
  let frame = 0;
  while (pos < file.length) {
    frame++;
    if (file.length - pos < RECORD_HEADER_BYTES) {
      yield { frame, time: 0, src: '', dst: '', error: 'pcap record header truncated' };
      return;
    }
    const sec = dv.getUint32(pos, le);
    const frac = dv.getUint32(pos + 4, le);
    const incl = dv.getUint32(pos + 8, le);
    const time = sec + frac / (nanos ? 1e9 : 1e6);
    const start = pos + RECORD_HEADER_BYTES;
    if (file.length - start < incl) {
      yield { frame, time, src: '', dst: '', error: 'pcap record truncated' };
      return;
    }
    const end = start + incl;
    pos = end;
    const ip = ipOffset(linkType, file, start, end, le);
    if (ip < 0) continue;
    const d: PcapDatagram = { frame, time, src: '', dst: '' };
    if (parseIp(file, ip, end, d)) yield d;
  }
}

/** Builds a pcap file (Ethernet link type) holding the given UDP datagrams: used by tests and fixtures. */
export function writePcap(
  datagrams: readonly { src: [string, number]; dst: [string, number]; payload: Uint8Array }[],
): Uint8Array {
  const parts: Uint8Array[] = [];
  const hdr = new DataView(new ArrayBuffer(GLOBAL_HEADER_BYTES));
  hdr.setUint32(0, MAGIC_USEC, true);
  hdr.setUint16(4, 2, true);
  hdr.setUint16(6, 4, true);
  hdr.setUint32(16, 0xffff, true);
  hdr.setUint32(OFF_LINKTYPE, LinkType.ETHERNET, true);
  parts.push(new Uint8Array(hdr.buffer));
  let t = 0;
  for (const g of datagrams) {
    const ipLen = IPV4_MIN_HEADER_BYTES + UDP_HEADER_BYTES + g.payload.length;
    const frame = new Uint8Array(ETHERNET_HEADER_BYTES + ipLen);
    frame.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
    frame[12] = ETHERTYPE_IPV4 >>> 8;
    frame[13] = ETHERTYPE_IPV4 & 0xff;
    const ip = ETHERNET_HEADER_BYTES;
    frame[ip] = 0x45;
    frame[ip + 2] = ipLen >>> 8;
    frame[ip + 3] = ipLen & 0xff;
    frame[ip + 8] = 64;
    frame[ip + 9] = IP_PROTO_UDP;
    frame.set(g.src[0].split('.').map(Number), ip + 12);
    frame.set(g.dst[0].split('.').map(Number), ip + 16);
    const udp = ip + IPV4_MIN_HEADER_BYTES;
    const udpLen = UDP_HEADER_BYTES + g.payload.length;
    frame.set(
      [g.src[1] >>> 8, g.src[1] & 0xff, g.dst[1] >>> 8, g.dst[1] & 0xff, udpLen >>> 8, udpLen & 0xff],
      udp,
    );
    frame.set(g.payload, udp + UDP_HEADER_BYTES);
    const rec = new DataView(new ArrayBuffer(RECORD_HEADER_BYTES));
    rec.setUint32(0, 1_700_000_000 + Math.floor(t / 1e6), true);
    rec.setUint32(4, t % 1e6, true);
    rec.setUint32(8, frame.length, true);
    rec.setUint32(12, frame.length, true);
    parts.push(new Uint8Array(rec.buffer), frame);
    t += 1000;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
