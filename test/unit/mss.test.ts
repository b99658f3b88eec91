// TCP MSS clamping (edge/mss.ts) on frames built here with a from-scratch checksum, and the n2n overhead arithmetic.
import { describe, expect, it } from 'vitest';
import { autoMss, clampMss, MssClamp, maxTapIpPacket, n2nOverheadBytes } from '../../src/edge/mss.js';
import { SeededRandom } from '../../src/util/random.js';
import { TransformId } from '../../src/wire/types.js';

// ---------------------------------------------------------------- reference builders (RFC 791, 8200, 9293, 768, 7348)

type Bytes = Uint8Array;
interface Addrs {
  family: 4 | 6;
  src: number[];
  dst: number[];
}

const POD4: Addrs = { family: 4, src: [10, 244, 1, 2], dst: [10, 244, 2, 3] };
const NODE4: Addrs = { family: 4, src: [172, 29, 0, 5], dst: [172, 29, 0, 6] };
const POD6: Addrs = {
  family: 6,
  src: [0xfd, 0, ...Array(13).fill(0), 1],
  dst: [0xfd, 0, ...Array(13).fill(0), 2],
};
const NODE6: Addrs = {
  family: 6,
  src: [0xfd, 0x29, ...Array(13).fill(0), 5],
  dst: [0xfd, 0x29, ...Array(13).fill(0), 6],
};

const SYN = 0x02;
const ACK = 0x10;
const RST = 0x04;
const PROTO = {
  HOPOPT: 0,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTE: 43,
  FRAG: 44,
  AH: 51,
  DSTOPTS: 60,
} as const;
const ETHERTYPE = { IPV4: 0x0800, IPV6: 0x86dd, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8 } as const;

function concat(...parts: (Bytes | number[])[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const be16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];
const be32 = (v: number): number[] => [...be16(v >>> 16), ...be16(v & 0xffff)];

/** The Internet checksum the plain way (RFC 1071): sum of 16-bit words, carries folded, complemented. */
function checksum(b: Bytes): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function pseudoHeader(a: Addrs, proto: number, length: number): Bytes {
  return a.family === 4
    ? concat(a.src, a.dst, [0, proto], be16(length))
    : concat(a.src, a.dst, be32(length), [0, 0, 0, proto]);
}

const mssOption = (v: number): number[] => [2, 4, ...be16(v)];
const SACK_PERM = [4, 2];
const WSCALE = [3, 3, 7];
const NOP = 1;

/** A TCP segment; the options are padded with EOL to a multiple of 4. */
function tcp(a: Addrs, flags: number, options: number[], data: number[] = []): Bytes {
  const opts = [...options];
  while (opts.length % 4 !== 0) opts.push(0);
  const h = concat(
    be16(40000),
    be16(5201),
    be32(0x11223344),
    be32(flags & ACK ? 0x55667788 : 0),
    [((20 + opts.length) / 4) << 4, flags],
    be16(64240),
    [0, 0, 0, 0],
    opts,
    data,
  );
  h.set(be16(checksum(concat(pseudoHeader(a, PROTO.TCP, h.length), h))), 16);
  return h;
}

function udp(a: Addrs, dport: number, payload: Bytes, withChecksum: boolean): Bytes {
  const h = concat(be16(51234), be16(dport), be16(8 + payload.length), [0, 0], payload);
  if (withChecksum) {
    const c = checksum(concat(pseudoHeader(a, PROTO.UDP, h.length), h));
    h.set(be16(c === 0 ? 0xffff : c), 6);
  }
  return h;
}

function ipv4(a: Addrs, proto: number, payload: Bytes, options: number[] = [], fragment = 0x4000): Bytes {
  const ihl = 20 + options.length;
  const h = concat(
    [0x40 | (ihl / 4), 0],
    be16(ihl + payload.length),
    be16(0x1234),
    be16(fragment),
    [64, proto, 0, 0],
    a.src,
    a.dst,
    options,
  );
  h.set(be16(checksum(h)), 10);
  return concat(h, payload);
}

/** IPv6 with minimal extension headers of the given types in front of `proto`. */
function ipv6(a: Addrs, proto: number, payload: Bytes, exts: number[] = []): Bytes {
  let next = proto;
  let body = payload;
  for (let i = exts.length - 1; i >= 0; i--) {
    const t = exts[i];
    let ext: number[];
    if (t === PROTO.AH)
      ext = [next, 1, 0, 0, ...be32(0x100), ...be32(1)]; // (1 + 2) * 4 = 12 bytes
    else if (t === PROTO.FRAG)
      ext = [next, 0, ...be16(0x0001), ...be32(0xabcd)]; // first fragment, M set
    else ext = [next, 0, 1, 4, 0, 0, 0, 0]; // one PadN option: 8 bytes
    body = concat(ext, body);
    next = t;
  }
  return concat([0x60, 0, 0, 0], be16(body.length), [next, 64], a.src, a.dst, body);
}

function eth(type: number, payload: Bytes, vlanTypes: number[] = []): Bytes {
  const tags = vlanTypes.flatMap((t, i) => [...be16(t), ...be16(100 + i)]);
  return concat([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1], tags, be16(type), payload);
}

function vxlan(outer: Addrs, port: number, inner: Bytes, withChecksum: boolean, flags = 0x08): Bytes {
  const v = concat([flags, 0, 0, 0], [0x00, 0x10, 0x01, 0], inner);
  return udp(outer, port, v, withChecksum);
}

const ip = (a: Addrs, proto: number, payload: Bytes): Bytes =>
  a.family === 4 ? ipv4(a, proto, payload) : ipv6(a, proto, payload);
const ipFrame = (a: Addrs, proto: number, payload: Bytes): Bytes =>
  eth(a.family === 4 ? ETHERTYPE.IPV4 : ETHERTYPE.IPV6, ip(a, proto, payload));
const synOptions = (mss: number): number[] => [...mssOption(mss), NOP, ...WSCALE, ...SACK_PERM];

// ---------------------------------------------------------------- the cases

/** TAP MTU 1500 over a 1500-byte path with ChaCha20: what `autoMss` gives (asserted below). */
const MSS4 = 1356;
const MSS6 = 1336;

interface ClampCase {
  name: string;
  /** The frame with the given MSS in the TCP SYN. */
  frame(mss: number): Bytes;
  /** The MSS the segment must end with when it offered more. */
  limit: number;
  code: MssClamp;
  /** Ethernet padding behind the IP packet: cutting it off leaves a whole packet. */
  padding?: number;
}

const CASES: ClampCase[] = [
  {
    name: 'IPv4 SYN',
    frame: (m) => ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m))),
    limit: MSS4,
    code: MssClamp.CLAMPED,
  },
  {
    name: 'IPv4 SYN-ACK',
    frame: (m) => ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN | ACK, synOptions(m))),
    limit: MSS4,
    code: MssClamp.CLAMPED,
  },
  {
    name: 'IPv4 with IP options (IHL 7)',
    frame: (m) =>
      eth(ETHERTYPE.IPV4, ipv4(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m)), [1, 1, 1, 1, 1, 1, 1, 0])),
    limit: MSS4,
    code: MssClamp.CLAMPED,
  },
  {
    name: 'IPv4 SYN padded to the 60-byte Ethernet minimum',
    frame: (m) => concat(ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, mssOption(m))), [0, 0]),
    limit: MSS4,
    code: MssClamp.CLAMPED,
    padding: 2,
  },
  {
    name: 'MSS value at an odd offset from the TCP header',
    frame: (m) => ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, [NOP, ...mssOption(m), NOP, ...SACK_PERM])),
    limit: MSS4,
    code: MssClamp.CLAMPED,
  },
  {
    name: 'two MSS options (both lowered)',
    frame: (m) => ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, [...mssOption(m), NOP, ...mssOption(m)])),
    limit: MSS4,
    code: MssClamp.CLAMPED,
  },
  {
    name: 'IPv4 SYN with data',
    frame: (m) => ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m), [1, 2, 3, 4, 5])),
    limit: MSS4,
    code: MssClamp.CLAMPED,
  },
  {
    name: 'IPv6 SYN',
    frame: (m) => ipFrame(POD6, PROTO.TCP, tcp(POD6, SYN, synOptions(m))),
    limit: MSS6,
    code: MssClamp.CLAMPED,
  },
  {
    name: 'IPv6 SYN-ACK behind Hop-by-Hop, Routing, AH and Destination Options headers',
    frame: (m) =>
      eth(
        ETHERTYPE.IPV6,
        ipv6(POD6, PROTO.TCP, tcp(POD6, SYN | ACK, synOptions(m)), [
          PROTO.HOPOPT,
          PROTO.ROUTE,
          PROTO.AH,
          PROTO.DSTOPTS,
        ]),
      ),
    limit: MSS6,
    code: MssClamp.CLAMPED,
  },
  {
    name: '802.1Q-tagged IPv4 (the tag counts: −4)',
    frame: (m) => eth(ETHERTYPE.IPV4, ipv4(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m))), [ETHERTYPE.VLAN]),
    limit: MSS4 - 4,
    code: MssClamp.CLAMPED,
  },
  {
    name: '802.1ad + 802.1Q (QinQ) IPv6 (−8)',
    frame: (m) =>
      eth(ETHERTYPE.IPV6, ipv6(POD6, PROTO.TCP, tcp(POD6, SYN, synOptions(m))), [
        ETHERTYPE.QINQ,
        ETHERTYPE.VLAN,
      ]),
    limit: MSS6 - 8,
    code: MssClamp.CLAMPED,
  },
  {
    name: 'IPIP (Calico): IPv4 in IPv4, −20',
    frame: (m) => ipFrame(NODE4, PROTO.IPIP, ipv4(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m)))),
    limit: MSS4 - 20,
    code: MssClamp.CLAMPED_INNER,
  },
  {
    name: 'IPIP with outer IP options (IHL 6): −24',
    frame: (m) =>
      eth(
        ETHERTYPE.IPV4,
        ipv4(NODE4, PROTO.IPIP, ipv4(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m))), [1, 1, 1, 0]),
      ),
    limit: MSS4 - 24,
    code: MssClamp.CLAMPED_INNER,
  },
  {
    name: '6in4 (protocol 41): IPv6 in IPv4, −20 from the IPv6 limit',
    frame: (m) => ipFrame(NODE4, PROTO.IPV6, ipv6(POD6, PROTO.TCP, tcp(POD6, SYN | ACK, synOptions(m)))),
    limit: MSS6 - 20,
    code: MssClamp.CLAMPED_INNER,
  },
  {
    name: 'IPv4 in IPv6: −40',
    frame: (m) => ipFrame(NODE6, PROTO.IPIP, ipv4(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m)))),
    limit: MSS4 - 40,
    code: MssClamp.CLAMPED_INNER,
  },
  {
    name: 'VXLAN over IPv4, outer UDP checksum 0 (the kernel default): −50',
    frame: (m) =>
      ipFrame(
        NODE4,
        PROTO.UDP,
        vxlan(NODE4, 4789, ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m))), false),
      ),
    limit: MSS4 - 50,
    code: MssClamp.CLAMPED_INNER,
  },
  {
    name: 'VXLAN over IPv4 with an outer UDP checksum: −50',
    frame: (m) =>
      ipFrame(
        NODE4,
        PROTO.UDP,
        vxlan(NODE4, 4789, ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN | ACK, synOptions(m))), true),
      ),
    limit: MSS4 - 50,
    code: MssClamp.CLAMPED_INNER,
  },
  {
    name: 'VXLAN with an outer UDP checksum and the MSS at an odd offset',
    frame: (m) =>
      ipFrame(
        NODE4,
        PROTO.UDP,
        vxlan(NODE4, 4789, ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, [NOP, NOP, NOP, ...mssOption(m)])), true),
      ),
    limit: MSS4 - 50,
    code: MssClamp.CLAMPED_INNER,
  },
  {
    name: 'VXLAN on the Linux/Flannel port 8472',
    frame: (m) =>
      ipFrame(
        NODE4,
        PROTO.UDP,
        vxlan(NODE4, 8472, ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m))), true),
      ),
    limit: MSS4 - 50,
    code: MssClamp.CLAMPED_INNER,
  },
  {
    name: 'VXLAN carrying IPv6: −50 from the IPv6 limit',
    frame: (m) =>
      ipFrame(
        NODE4,
        PROTO.UDP,
        vxlan(NODE4, 4789, ipFrame(POD6, PROTO.TCP, tcp(POD6, SYN, synOptions(m))), true),
      ),
    limit: MSS6 - 50,
    code: MssClamp.CLAMPED_INNER,
  },
  {
    name: 'VXLAN over IPv6 (checksummed): −70',
    frame: (m) =>
      ipFrame(
        NODE6,
        PROTO.UDP,
        vxlan(NODE6, 4789, ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m))), true),
      ),
    limit: MSS4 - 70,
    code: MssClamp.CLAMPED_INNER,
  },
  {
    name: 'VXLAN with a tagged inner frame: −54',
    frame: (m) =>
      ipFrame(
        NODE4,
        PROTO.UDP,
        vxlan(
          NODE4,
          4789,
          eth(ETHERTYPE.IPV4, ipv4(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m))), [ETHERTYPE.VLAN]),
          true,
        ),
      ),
    limit: MSS4 - 54,
    code: MssClamp.CLAMPED_INNER,
  },
];

/** A copy of `frame` at `off` in a buffer with `pad` random-looking bytes around it. */
function embed(frame: Bytes, off: number, pad = 7): Bytes {
  const b = new Uint8Array(off + frame.length + pad);
  for (let i = 0; i < b.length; i++) b[i] = (i * 151 + 89) & 0xff;
  b.set(frame, off);
  return b;
}

/**
 * The clamped frame must equal the frame built from scratch with the limit as its MSS: the same bytes mean the
 * incrementally updated TCP (and outer UDP) checksums are the ones the reference computes.
 */
function expectBuiltWithLimit(c: ClampCase, clamped: Bytes): void {
  expect(Array.from(clamped)).toEqual(Array.from(c.frame(c.limit)));
}

function caseNamed(prefix: string): ClampCase {
  const c = CASES.find((x) => x.name.startsWith(prefix));
  if (c === undefined) throw new Error(`no case ${prefix}`);
  return c;
}

describe('clampMss: SYN and SYN-ACK lowered, checksums as computed from scratch', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const frame = c.frame(1460);
      for (const off of [0, 1, 3, 14]) {
        const buf = embed(frame, off);
        const before = buf.slice();
        expect(clampMss(buf, off, frame.length, MSS4, MSS6)).toBe(c.code);
        expectBuiltWithLimit(c, buf.subarray(off, off + frame.length));
        // Nothing outside the frame moved.
        expect(Array.from(buf.subarray(0, off))).toEqual(Array.from(before.subarray(0, off)));
        expect(Array.from(buf.subarray(off + frame.length))).toEqual(
          Array.from(before.subarray(off + frame.length)),
        );
        // Once clamped, a second pass changes nothing.
        expect(clampMss(buf, off, frame.length, MSS4, MSS6)).toBe(MssClamp.NONE);
      }
      // An unaligned view (odd byteOffset into its ArrayBuffer).
      const backing = new Uint8Array(frame.length + 5);
      const view = backing.subarray(3, 3 + frame.length);
      view.set(frame);
      expect(clampMss(view, 0, frame.length, MSS4, MSS6)).toBe(c.code);
      expectBuiltWithLimit(c, view);
    });
  }

  it('leaves an MSS at or below the limit alone (both ways: the frame built with the limit is a fixed point)', () => {
    for (const c of CASES) {
      for (const mss of [c.limit, c.limit - 1, 536]) {
        const frame = c.frame(mss);
        const copy = frame.slice();
        expect(clampMss(frame, 0, frame.length, MSS4, MSS6), c.name).toBe(MssClamp.NONE);
        expect(frame).toEqual(copy);
      }
    }
  });

  it('leaves every truncation of every case untouched, without throwing', () => {
    for (const c of CASES) {
      const frame = c.frame(1460);
      for (let len = 0; len < frame.length - (c.padding ?? 0); len++) {
        const buf = embed(frame, 5);
        const copy = buf.slice();
        expect(clampMss(buf, 5, len, MSS4, MSS6), `${c.name} at ${len}`).toBe(MssClamp.NONE);
        expect(buf).toEqual(copy);
      }
    }
  });

  it('keeps a non-zero outer UDP checksum non-zero: 0xFFFF stays 0xFFFF (RFC 768)', () => {
    // Pick the VNI so that the outer UDP checksum of the frame is 0xFFFF (a computed 0, sent as all ones).
    const inner = (m: number): Bytes => ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(m)));
    const build = (m: number, vniHigh: number): Bytes => {
      const v = concat([0x08, 0, 0, 0], [...be16(vniHigh), 0, 0], inner(m));
      return ipFrame(NODE4, PROTO.UDP, udp(NODE4, 4789, v, true));
    };
    const udpCsumAt = 14 + 20 + 6;
    let vni = 0;
    while (vni < 0x10000 && ((build(1460, vni)[udpCsumAt] << 8) | build(1460, vni)[udpCsumAt + 1]) !== 0xffff)
      vni++;
    expect(vni).toBeLessThan(0x10000);
    const frame = build(1460, vni);
    expect(clampMss(frame, 0, frame.length, MSS4, MSS6)).toBe(MssClamp.CLAMPED_INNER);
    expect((frame[udpCsumAt] << 8) | frame[udpCsumAt + 1]).toBe(0xffff);
    expect(Array.from(frame)).toEqual(Array.from(build(MSS4 - 50, vni)));
  });

  it('treats a limit that is not an integer ≥ 1 as "leave this family alone"', () => {
    const v4 = caseNamed('IPv4 SYN').frame(1460);
    const v6 = caseNamed('IPv6 SYN').frame(1460);
    for (const [limit4, limit6] of [
      [0, 0],
      [-5, -5],
      [Number.NaN, Number.NaN],
      [1300.5, 1300.5],
    ]) {
      expect(clampMss(v4.slice(), 0, v4.length, limit4, MSS6)).toBe(MssClamp.NONE);
      expect(clampMss(v6.slice(), 0, v6.length, MSS4, limit6)).toBe(MssClamp.NONE);
    }
    // Only the IPv6 limit given: IPv4 passes, IPv6 is clamped.
    expect(clampMss(v4.slice(), 0, v4.length, 0, MSS6)).toBe(MssClamp.NONE);
    expect(clampMss(v6.slice(), 0, v6.length, 0, MSS6)).toBe(MssClamp.CLAMPED);
    // An encapsulation eating the whole limit leaves the inner segment alone.
    const ipip = caseNamed('IPIP (Calico)').frame(1460);
    expect(clampMss(ipip, 0, ipip.length, 20, MSS6)).toBe(MssClamp.NONE);
    expect(clampMss(ipip, 0, ipip.length, 21, MSS6)).toBe(MssClamp.CLAMPED_INNER);
  });
});

describe('clampMss: what it leaves alone', () => {
  const untouched: [string, Bytes][] = [
    ['ARP', eth(ETHERTYPE.ARP, new Uint8Array(28))],
    ['a bare ACK', ipFrame(POD4, PROTO.TCP, tcp(POD4, ACK, synOptions(1460)))],
    ['SYN with RST', ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN | RST, synOptions(1460)))],
    ['a SYN without MSS option', ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, [NOP, ...WSCALE, ...SACK_PERM]))],
    ['a SYN without options', ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, []))],
    ['an MSS after EOL', ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, [0, 0, 0, 0, ...mssOption(1460)]))],
    ['an option of length 0', ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, [...mssOption(1460), 8, 0, 0, 0]))],
    [
      'an option running past the header',
      ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, [...mssOption(1460), 8, 9])),
    ],
    [
      'an option kind as the last header byte',
      ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, [...mssOption(1460), NOP, NOP, NOP, 30])),
    ],
    ['an MSS option of length 3', ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, [2, 3, 5, NOP]))],
    ['an MSS option of length 6', ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, [2, 6, 5, 0xb4, 0, 0]))],
    ['UDP', ipFrame(POD4, PROTO.UDP, udp(POD4, 53, new Uint8Array(20), true))],
    [
      'an IPv4 first fragment (MF)',
      eth(ETHERTYPE.IPV4, ipv4(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(1460)), [], 0x2000)),
    ],
    [
      'an IPv4 fragment with an offset',
      eth(ETHERTYPE.IPV4, ipv4(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(1460)), [], 0x0010)),
    ],
    [
      'IPv6 with a Fragment header',
      eth(ETHERTYPE.IPV6, ipv6(POD6, PROTO.TCP, tcp(POD6, SYN, synOptions(1460)), [PROTO.FRAG])),
    ],
    [
      'IPv6 behind nine extension headers',
      eth(
        ETHERTYPE.IPV6,
        ipv6(POD6, PROTO.TCP, tcp(POD6, SYN, synOptions(1460)), Array(9).fill(PROTO.DSTOPTS)),
      ),
    ],
    [
      'an IPv6 packet in an IPv4 ethertype',
      eth(ETHERTYPE.IPV4, ipv6(POD6, PROTO.TCP, tcp(POD6, SYN, synOptions(1460)))),
    ],
    [
      'protocol 4 carrying IPv6',
      ipFrame(NODE4, PROTO.IPIP, ipv6(POD6, PROTO.TCP, tcp(POD6, SYN, synOptions(1460)))),
    ],
    [
      'VXLAN without the I flag',
      ipFrame(
        NODE4,
        PROTO.UDP,
        vxlan(NODE4, 4789, ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(1460))), true, 0),
      ),
    ],
    [
      'VXLAN-like UDP to another port',
      ipFrame(
        NODE4,
        PROTO.UDP,
        vxlan(NODE4, 4790, ipFrame(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(1460))), true),
      ),
    ],
    [
      'VXLAN carrying ARP',
      ipFrame(NODE4, PROTO.UDP, vxlan(NODE4, 4789, eth(ETHERTYPE.ARP, new Uint8Array(28)), false)),
    ],
    [
      'IPIP inside VXLAN (one level of encapsulation only)',
      ipFrame(
        NODE4,
        PROTO.UDP,
        vxlan(
          NODE4,
          4789,
          ipFrame(NODE4, PROTO.IPIP, ipv4(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(1460)))),
          false,
        ),
      ),
    ],
    [
      'IPIP inside IPIP',
      ipFrame(
        NODE4,
        PROTO.IPIP,
        ipv4(NODE4, PROTO.IPIP, ipv4(POD4, PROTO.TCP, tcp(POD4, SYN, synOptions(1460)))),
      ),
    ],
  ];

  for (const [name, frame] of untouched) {
    it(name, () => {
      const buf = embed(frame, 3);
      const copy = buf.slice();
      expect(clampMss(buf, 3, frame.length, MSS4, MSS6)).toBe(MssClamp.NONE);
      expect(buf).toEqual(copy);
    });
  }

  it('checks the header length fields against the frame', () => {
    const base = caseNamed('IPv4 SYN').frame(1460);
    const mutate = (at: number, v: number): Bytes => {
      const f = base.slice();
      f[at] = v;
      return f;
    };
    const bad: [string, Bytes][] = [
      ['IHL 4', mutate(14, 0x44)],
      ['IHL past the packet', mutate(14, 0x4f)],
      ['version 6 in IPv4', mutate(14, 0x65)],
      ['total length past the frame', mutate(17, base[17] + 1)],
      [
        'total length below the IHL',
        (() => {
          const f = base.slice();
          f[16] = 0;
          f[17] = 16;
          return f;
        })(),
      ],
      ['TCP data offset 4', mutate(14 + 20 + 12, 0x40)],
      ['TCP data offset past the segment', mutate(14 + 20 + 12, 0xf0)],
    ];
    for (const [name, f] of bad) {
      const copy = f.slice();
      expect(clampMss(f, 0, f.length, MSS4, MSS6), name).toBe(MssClamp.NONE);
      expect(f, name).toEqual(copy);
    }
    const v6 = caseNamed('IPv6 SYN').frame(1460);
    const longPayload = v6.slice();
    longPayload[19] += 1;
    expect(clampMss(longPayload, 0, longPayload.length, MSS4, MSS6)).toBe(MssClamp.NONE);
    const jumbo = v6.slice();
    jumbo[18] = 0;
    jumbo[19] = 0;
    expect(clampMss(jumbo, 0, jumbo.length, MSS4, MSS6)).toBe(MssClamp.NONE);
    const vx = caseNamed('VXLAN over IPv4 with').frame(1460);
    const udpLen = vx.slice();
    udpLen[14 + 20 + 5] += 1; // UDP length past the IP packet
    expect(clampMss(udpLen, 0, udpLen.length, MSS4, MSS6)).toBe(MssClamp.NONE);
  });

  it('refuses ranges outside the buffer', () => {
    const f = caseNamed('IPv4 SYN').frame(1460);
    const copy = f.slice();
    for (const [off, len] of [
      [-1, f.length],
      [0, f.length + 1],
      [1, f.length],
      [0.5, 10],
      [0, Number.NaN],
      [f.length + 1, 0],
    ]) {
      expect(clampMss(f, off, len, MSS4, MSS6)).toBe(MssClamp.NONE);
    }
    expect(f).toEqual(copy);
  });
});

describe('clampMss on random bytes', () => {
  const ITERATIONS = 30_000;
  const rnd = new SeededRandom(0x6d737321);
  const codes = new Set<number>([MssClamp.NONE, MssClamp.CLAMPED, MssClamp.CLAMPED_INNER]);

  function check(buf: Bytes, off: number, len: number): number {
    const copy = buf.slice();
    const code = clampMss(buf, off, len, MSS4, MSS6);
    expect(codes.has(code)).toBe(true);
    // Bytes outside the frame never change; the frame only when something was clamped.
    for (let i = 0; i < buf.length; i++) {
      if ((i < off || i >= off + len || code === MssClamp.NONE) && buf[i] !== copy[i]) {
        throw new Error(`byte ${i} changed (off ${off}, len ${len}, code ${code})`);
      }
    }
    return code;
  }

  it('never throws and only writes inside the frame, for noise with IP-looking headers', () => {
    for (let n = 0; n < ITERATIONS; n++) {
      const len = rnd.u32() % 160;
      const off = rnd.u32() % 5;
      const buf = new Uint8Array(off + len + 3);
      rnd.fill(buf);
      // Steer half of them past the first checks: an IP ethertype and a matching version nibble.
      if (len > 15 && n % 2 === 0) {
        const v6 = n % 4 === 0;
        buf[off + 12] = v6 ? 0x86 : 0x08;
        buf[off + 13] = v6 ? 0xdd : 0x00;
        buf[off + 14] = v6 ? 0x60 : 0x45;
      }
      check(buf, off, len);
    }
  });

  it('never throws on mutated case frames and writes only inside them', () => {
    let clampedCount = 0;
    for (let n = 0; n < ITERATIONS; n++) {
      const c = CASES[n % CASES.length];
      const frame = c.frame(1460 + (rnd.u32() % 100));
      const flips = 1 + (rnd.u32() % 3);
      for (let k = 0; k < flips; k++) frame[rnd.u32() % frame.length] ^= 1 << (rnd.u32() % 8);
      if (check(frame, 0, frame.length) !== MssClamp.NONE) clampedCount++;
    }
    // Flips in the payload or addresses keep the frame clampable: many of them must still be clamped.
    expect(clampedCount).toBeGreaterThan(ITERATIONS / 10);
  });
});

describe('the MSS that fits n2n (spec §4.2, §5.1, §5.5–§5.9, §7.2)', () => {
  it('adds 46 header bytes (relayed) plus 16 for every cipher but null; -H adds nothing', () => {
    expect(n2nOverheadBytes(TransformId.NULL, false)).toBe(46);
    expect(n2nOverheadBytes(TransformId.NULL, true)).toBe(46);
    for (const t of [TransformId.TWOFISH, TransformId.AES, TransformId.CHACHA20, TransformId.SPECK]) {
      expect(n2nOverheadBytes(t, false)).toBe(62);
      expect(n2nOverheadBytes(t, true)).toBe(62);
    }
  });

  it('takes the smaller of the TAP MTU and what fits the path', () => {
    const chacha = n2nOverheadBytes(TransformId.CHACHA20, true);
    // TAP 1500 over a 1500-byte path: 1500 − 28 − 62 − 14 = 1396-byte IP packets, MSS 1356 / 1336.
    expect(maxTapIpPacket(1500, 1500, chacha)).toBe(1396);
    expect(autoMss(1500, 1500, chacha, false)).toBe(MSS4);
    expect(autoMss(1500, 1500, chacha, true)).toBe(MSS6);
    // The default TAP MTU 1290 fits a 1400-byte path (spec §5.9): the TAP MTU decides.
    expect(maxTapIpPacket(1290, 1400, chacha)).toBe(1290);
    expect(autoMss(1290, 1400, chacha, false)).toBe(1250);
    expect(autoMss(1290, undefined, chacha, true)).toBe(1230);
    // Null cipher: 16 bytes more room.
    expect(autoMss(1500, 1500, n2nOverheadBytes(TransformId.NULL, false), false)).toBe(1372);
    // A path too small for anything still yields a positive MSS.
    expect(autoMss(1500, 100, chacha, false)).toBe(1);
  });
});
