// --mss-clamp in the edge's packet paths: SYNs crossing an edge are clamped both ways (also inside VXLAN); other traffic is byte-identical.
import { afterEach, describe, expect, it } from 'vitest';
import { Edge } from '../../src/edge/edge.js';
import type { EdgeOptions } from '../../src/edge/index.js';
import { nativeCipherBackend } from '../../src/io/crypto-native.js';
import { MemoryTap } from '../../src/io/memory.js';
import { macToString } from '../../src/util/mac.js';
import { arpRequest, FakeSupernode, makeWorld, type TestNode, type World } from './edge-harness.js';

// ---------------------------------------------------------------- frames, checksums computed from scratch

type Bytes = Uint8Array;
const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;
const IP_A = [172, 29, 0, 1];
const IP_B = [172, 29, 0, 2];
const POD_A = [10, 244, 1, 2];
const POD_B = [10, 244, 2, 2];
const V6_A = [0xfd, 0x29, ...Array(13).fill(0), 1];
const V6_B = [0xfd, 0x29, ...Array(13).fill(0), 2];
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const VXLAN_PORT = 4789;
const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
/** The MSS Linux offers on a 1500-byte interface (IPv4) and the IPv6 one. */
const MSS_1500 = 1460;
const MSS6_1500 = 1440;
const ETH_BYTES = 14;
const IPV4_BYTES = 20;
const IPV6_BYTES = 40;
/** Outer IPv4 + UDP + VXLAN + inner Ethernet in front of the inner IP packet. */
const VXLAN_ENCAP_BYTES = 50;

const be16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];
const be32 = (v: number): number[] => [...be16(v >>> 16), ...be16(v & 0xffff)];
const macBytes = (m: number): number[] =>
  macToString(m)
    .split(':')
    .map((h) => Number.parseInt(h, 16));

function concat(...parts: (Bytes | number[])[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** RFC 1071, the plain way. */
function checksum(b: Bytes): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function pseudo(src: number[], dst: number[], proto: number, len: number): Bytes {
  return src.length === 4
    ? concat(src, dst, [0, proto], be16(len))
    : concat(src, dst, be32(len), [0, 0, 0, proto]);
}

/** A TCP segment from port 40000 to 5201; `mss` undefined: no MSS option. */
function tcp(
  src: number[],
  dst: number[],
  flags: number,
  mss: number | undefined,
  data: number[] = [],
): Bytes {
  const opts = mss === undefined ? [1, 1, 1, 1] : [2, 4, ...be16(mss), 1, 3, 3, 7];
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
  h.set(be16(checksum(concat(pseudo(src, dst, PROTO_TCP, h.length), h))), 16);
  return h;
}

function ipv4(src: number[], dst: number[], proto: number, payload: Bytes): Bytes {
  const h = concat(
    [0x45, 0],
    be16(IPV4_BYTES + payload.length),
    be16(0x1234),
    be16(0x4000),
    [64, proto, 0, 0],
    src,
    dst,
  );
  h.set(be16(checksum(h)), 10);
  return concat(h, payload);
}

function ipv6(src: number[], dst: number[], proto: number, payload: Bytes): Bytes {
  return concat([0x60, 0, 0, 0], be16(payload.length), [proto, 64], src, dst, payload);
}

function eth(dst: number, src: number, type: number, payload: Bytes): Bytes {
  return concat(macBytes(dst), macBytes(src), be16(type), payload);
}

/** A TCP frame between the edges' own overlay addresses (IPv4 or IPv6). */
function tcpFrame(
  from: 'a' | 'b',
  flags: number,
  mss: number | undefined,
  v6 = false,
  data: number[] = [],
): Bytes {
  const [sm, dm] = from === 'a' ? [MAC_A, MAC_B] : [MAC_B, MAC_A];
  if (v6) {
    const [s, d] = from === 'a' ? [V6_A, V6_B] : [V6_B, V6_A];
    return eth(dm, sm, ETHERTYPE_IPV6, ipv6(s, d, PROTO_TCP, tcp(s, d, flags, mss, data)));
  }
  const [s, d] = from === 'a' ? [IP_A, IP_B] : [IP_B, IP_A];
  return eth(dm, sm, ETHERTYPE_IPV4, ipv4(s, d, PROTO_TCP, tcp(s, d, flags, mss, data)));
}

/** A pod's TCP segment inside VXLAN between the nodes' overlay addresses (outer UDP checksum 0, as Linux sends it). */
function vxlanFrame(from: 'a' | 'b', flags: number, mss: number): Bytes {
  const [sm, dm] = from === 'a' ? [MAC_A, MAC_B] : [MAC_B, MAC_A];
  const [s, d] = from === 'a' ? [IP_A, IP_B] : [IP_B, IP_A];
  const [ps, pd] = from === 'a' ? [POD_A, POD_B] : [POD_B, POD_A];
  const inner = eth(
    0x02_00_0a_f5_00_02,
    0x02_00_0a_f5_00_01,
    ETHERTYPE_IPV4,
    ipv4(ps, pd, PROTO_TCP, tcp(ps, pd, flags, mss)),
  );
  const vx = concat([0x08, 0, 0, 0], [0, 0x10, 0, 0], inner);
  const udp = concat(be16(51234), be16(VXLAN_PORT), be16(8 + vx.length), [0, 0], vx);
  return eth(dm, sm, ETHERTYPE_IPV4, ipv4(s, d, PROTO_UDP, udp));
}

/** The MSS option of the TCP segment whose IP header starts at `ip`, and whether its checksum is right. */
function tcpAt(f: Bytes, ip: number): { mss: number | undefined; checksumOk: boolean } {
  const v6 = f[ip] >>> 4 === 6;
  const hl = v6 ? IPV6_BYTES : (f[ip] & 0x0f) * 4;
  const total = v6 ? IPV6_BYTES + ((f[ip + 4] << 8) | f[ip + 5]) : (f[ip + 2] << 8) | f[ip + 3];
  const seg = f.subarray(ip + hl, ip + total);
  const src = Array.from(f.subarray(v6 ? ip + 8 : ip + 12, v6 ? ip + 24 : ip + 16));
  const dst = Array.from(f.subarray(v6 ? ip + 24 : ip + 16, v6 ? ip + 40 : ip + 20));
  const checksumOk = checksum(concat(pseudo(src, dst, PROTO_TCP, seg.length), seg)) === 0;
  const optEnd = (seg[12] >>> 4) * 4;
  for (let i = 20; i < optEnd; ) {
    if (seg[i] === 0) break;
    if (seg[i] === 1) {
      i++;
      continue;
    }
    if (seg[i] === 2) return { mss: (seg[i + 2] << 8) | seg[i + 3], checksumOk };
    i += seg[i + 1];
  }
  return { mss: undefined, checksumOk };
}

const directTcp = (f: Bytes) => tcpAt(f, ETH_BYTES);
const vxlanTcp = (f: Bytes) => tcpAt(f, ETH_BYTES + VXLAN_ENCAP_BYTES);

// ---------------------------------------------------------------- two edges over a fake supernode

const COMMUNITY = 'k8s';
const SN = '198.51.100.1';
const SN_PORT = 7654;
/** TAP MTU 1500 over a 1500-byte route with ChaCha20: 1500 − 28 − 62 − 14 − 40 = 1356 (docs/kubernetes.md). */
const TAP_MTU = 1500;
const ROUTE_MTU = 1500;
const AUTO_MSS = 1356;
const AUTO_MSS6 = 1336;

let running: Edge[] = [];
afterEach(async () => {
  for (const e of running) await e.stop();
  running = [];
});

interface NodeOpts {
  clamp?: 'auto' | number;
  /** Give the edge a route MTU (deps.routeMtu); without, auto knows only the TAP MTU. */
  routeMtu?: number | (() => number);
  native?: boolean;
  mtu?: number;
}

function node(w: World, host: string, mac: string, addr: string, o: NodeOpts, seed: number): TestNode {
  const tap = new MemoryTap();
  const deps = w.deps(host, tap, seed);
  const options: EdgeOptions = {
    community: COMMUNITY,
    supernodes: [`${SN}:${SN_PORT}`],
    address: addr,
    mac,
    transform: 'chacha20',
    key: 'clamp test key',
    headerEncryption: true,
    mtu: o.mtu ?? TAP_MTU,
    mssClamp: o.clamp,
  };
  const backend = o.native ? nativeCipherBackend() : undefined;
  if (o.native && !backend) throw new Error('the addon (with its cipher cores) is not built: npm install');
  const edge = new Edge(options, {
    ...deps,
    ...(backend ? { cipherBackend: backend } : {}),
    ...(o.routeMtu === undefined
      ? {}
      : { routeMtu: async () => (typeof o.routeMtu === 'function' ? o.routeMtu() : o.routeMtu) }),
  });
  return { edge, tap, logger: deps.logger as never, host };
}

async function pair(
  a: NodeOpts,
  b: NodeOpts,
  batch = false,
): Promise<{ w: World; a: TestNode; b: TestNode }> {
  const w = makeWorld({ batch });
  new FakeSupernode(w, SN, SN_PORT, { community: COMMUNITY, headerEncryption: true });
  const na = node(w, '192.0.2.1', '02:00:00:00:00:0a', '172.29.0.1/16', { native: batch, ...a }, 11);
  const nb = node(w, '192.0.2.2', '02:00:00:00:00:0b', '172.29.0.2/16', { native: batch, ...b }, 13);
  for (const n of [na, nb]) {
    running.push(n.edge);
    await n.edge.start();
  }
  await w.settle();
  // Past the gratuitous ARPs and peer set-up.
  na.tap.takeWritten();
  nb.tap.takeWritten();
  return { w, a: na, b: nb };
}

/** Sends `frame` into `from`'s TAP and returns what `to`'s TAP was given. */
async function cross(w: World, from: TestNode, to: TestNode, frame: Bytes): Promise<Bytes[]> {
  from.tap.inject(frame.slice());
  await w.settle();
  return to.tap.takeWritten();
}

describe('--mss-clamp on the edge', () => {
  for (const batch of [false, true]) {
    const mode = batch ? 'batched sockets and native payload batches' : 'single datagrams, TS ciphers';
    it(`auto: a SYN and its SYN-ACK are clamped to what fits the route, both ways (${mode})`, async () => {
      const { w, a, b } = await pair(
        { clamp: 'auto', routeMtu: ROUTE_MTU },
        { clamp: 'auto', routeMtu: ROUTE_MTU },
        batch,
      );
      const [syn] = await cross(w, a, b, tcpFrame('a', SYN, MSS_1500));
      expect(directTcp(syn)).toEqual({ mss: AUTO_MSS, checksumOk: true });
      const [synAck] = await cross(w, b, a, tcpFrame('b', SYN | ACK, MSS_1500));
      expect(directTcp(synAck)).toEqual({ mss: AUTO_MSS, checksumOk: true });
      const [syn6] = await cross(w, a, b, tcpFrame('a', SYN, MSS6_1500, true));
      expect(directTcp(syn6)).toEqual({ mss: AUTO_MSS6, checksumOk: true });
      // Each edge lowered what came from its own TAP; the other found it small enough already.
      expect([a.edge.traffic.mssClampTx, a.edge.traffic.mssClampRx]).toEqual([2, 0]);
      expect([b.edge.traffic.mssClampTx, b.edge.traffic.mssClampRx]).toEqual([1, 0]);
    });

    it(`auto: a pod's SYN inside VXLAN gets the limit less 50 bytes (${mode})`, async () => {
      const { w, a, b } = await pair(
        { clamp: 'auto', routeMtu: ROUTE_MTU },
        { clamp: 'auto', routeMtu: ROUTE_MTU },
        batch,
      );
      const [syn] = await cross(w, a, b, vxlanFrame('a', SYN, 1410));
      expect(vxlanTcp(syn)).toEqual({ mss: AUTO_MSS - VXLAN_ENCAP_BYTES, checksumOk: true });
      const [synAck] = await cross(w, b, a, vxlanFrame('b', SYN | ACK, 1410));
      expect(vxlanTcp(synAck)).toEqual({ mss: AUTO_MSS - VXLAN_ENCAP_BYTES, checksumOk: true });
    });
  }

  it('clamps on receive too: a SYN from an edge without --mss-clamp is lowered before the TAP write', async () => {
    // Only A clamps; without a route MTU, auto takes the TAP MTU: 1400 − 40 = 1360.
    const { w, a, b } = await pair({ clamp: 'auto', mtu: 1400 }, {});
    const [fromB] = await cross(w, b, a, tcpFrame('b', SYN, MSS_1500));
    expect(directTcp(fromB)).toEqual({ mss: 1360, checksumOk: true });
    expect([a.edge.traffic.mssClampTx, a.edge.traffic.mssClampRx]).toEqual([0, 1]);
    const [fromA] = await cross(w, a, b, tcpFrame('a', SYN | ACK, MSS_1500));
    expect(directTcp(fromA)).toEqual({ mss: 1360, checksumOk: true });
    expect([a.edge.traffic.mssClampTx, a.edge.traffic.mssClampRx]).toEqual([1, 1]);
    expect([b.edge.traffic.mssClampTx, b.edge.traffic.mssClampRx]).toEqual([0, 0]);
  });

  it('--mss-clamp=N: N for IPv4, N − 20 for IPv6', async () => {
    const { w, a, b } = await pair({ clamp: 1200 }, { clamp: 1200 });
    expect(directTcp((await cross(w, a, b, tcpFrame('a', SYN, MSS_1500)))[0])).toEqual({
      mss: 1200,
      checksumOk: true,
    });
    expect(directTcp((await cross(w, a, b, tcpFrame('a', SYN, MSS6_1500, true)))[0])).toEqual({
      mss: 1180,
      checksumOk: true,
    });
  });

  it('leaves everything else byte-identical: data segments, SYNs within the limit or without MSS, UDP, ARP', async () => {
    const { w, a, b } = await pair(
      { clamp: 'auto', routeMtu: ROUTE_MTU },
      { clamp: 'auto', routeMtu: ROUTE_MTU },
    );
    const data = Array.from({ length: 1300 }, (_, i) => (i * 13) & 0xff);
    const frames: [string, Bytes][] = [
      ['TCP data', tcpFrame('a', ACK | PSH, undefined, false, data)],
      ['TCP ACK carrying an MSS-looking option', tcpFrame('a', ACK, MSS_1500)],
      ['SYN at the limit', tcpFrame('a', SYN, AUTO_MSS)],
      ['SYN without an MSS option', tcpFrame('a', SYN, undefined)],
      ['IPv6 data', tcpFrame('a', ACK, undefined, true, data)],
      ['VXLAN data', vxlanFrame('a', ACK | PSH, MSS_1500)],
      [
        'UDP',
        eth(
          MAC_B,
          MAC_A,
          ETHERTYPE_IPV4,
          ipv4(IP_A, IP_B, PROTO_UDP, concat(be16(1), be16(2), be16(12), [0, 0, 1, 2, 3, 4])),
        ),
      ],
      ['ARP', arpRequest(MAC_A, '172.29.0.1', '172.29.0.2')],
    ];
    for (const [name, f] of frames) {
      const got = await cross(w, a, b, f);
      expect(got.length, name).toBe(1);
      expect(Buffer.from(got[0]).equals(Buffer.from(f)), name).toBe(true);
    }
    expect([a.edge.traffic.mssClampTx, b.edge.traffic.mssClampRx]).toEqual([0, 0]);
  });

  it('off by default: a SYN crosses unchanged and nothing is counted', async () => {
    const { w, a, b } = await pair({}, {});
    const f = tcpFrame('a', SYN, MSS_1500);
    const [got] = await cross(w, a, b, f);
    expect(Buffer.from(got).equals(Buffer.from(f))).toBe(true);
    expect([a.edge.traffic.mssClampTx, b.edge.traffic.mssClampRx]).toEqual([0, 0]);
  });

  it('auto follows the route MTU: learned at start, recomputed on re-registration', async () => {
    let routeMtu = ROUTE_MTU;
    const { w, a, b } = await pair({ clamp: 'auto', routeMtu: () => routeMtu }, {});
    expect(directTcp((await cross(w, a, b, tcpFrame('a', SYN, MSS_1500)))[0]).mss).toBe(AUTO_MSS);
    // The uplink moves to a 1400-byte path (PPPoE, a tunnel): the next registration picks it up.
    routeMtu = 1400;
    await w.advance(a.edge.config.registerInterval + 1);
    b.tap.takeWritten();
    expect(directTcp((await cross(w, a, b, tcpFrame('a', SYN, MSS_1500)))[0]).mss).toBe(AUTO_MSS - 100);
  });
});
