// IPv6 underlay: socket-address and sock codecs at offsets, address parsing, and the supernode's rule that only
// edges on IPv6 are told IPv6 sockets (3.1.1 edges, on IPv4, never are).
import { describe, expect, it } from 'vitest';
import { parseEdgeArgs } from '../../src/cli/edge.js';
import { Edge } from '../../src/edge/index.js';
import { autoMss, maxTapIpPacket, n2nOverheadBytes, UNDERLAY_IPV6_EXTRA_BYTES } from '../../src/edge/mss.js';
import { resolveEdgeOptions } from '../../src/edge/options.js';
import { canonicalAddr, newSupernodeEntry, setSupernodeAddr } from '../../src/edge/supernodes.js';
import { MemoryTap } from '../../src/io/memory.js';
import { decodeSockAddr, encodeSockAddr, SOCKADDR_BYTES, SockAddrCache } from '../../src/io/sockaddr.js';
import { openUdp, openUdpAnyFamily } from '../../src/io/udp.js';
import { openNativeUdp, openNativeUdpAnyFamily } from '../../src/io/udp-native.js';
import { resolveSupernodeOptions } from '../../src/supernode/options.js';
import { Reader } from '../../src/util/bytes.js';
import { ConfigError } from '../../src/util/errors.js';
import { ipFamilyOf, parseHostPort, type SockAddr, splitBindSpec } from '../../src/util/ip.js';
import { communityBytes } from '../../src/wire/common.js';
import { decodeMessage, encodeMessage } from '../../src/wire/messages.js';
import { readSock, SOCK_IPV6_BYTES, writeSock } from '../../src/wire/sock.js';
import { Flags, MsgType, TransformId } from '../../src/wire/types.js';
import { FakeSupernode, ipv4Frame, makeWorld } from './edge-harness.js';
import { makeEnv, SN_IP, SN_PORT, startSn, WireEdge } from './supernode-harness.js';

const V6: SockAddr = { family: 6, address: '2001:db8::1:2', port: 7654 };
const V4: SockAddr = { family: 4, address: '192.0.2.7', port: 40000 };

describe('socket addresses as the addon reads them (io/sockaddr.ts)', () => {
  it('encodes and decodes IPv6 at a non-zero offset without touching the neighbours', () => {
    const buf = new Uint8Array(SOCKADDR_BYTES * 3 + 5).fill(0xee);
    const off = SOCKADDR_BYTES + 5;
    encodeSockAddr(V6, buf, off);
    expect(Array.from(buf.subarray(off, off + 4))).toEqual([6, 0, 0x1d, 0xe6]);
    expect(Buffer.from(buf.subarray(off + 4, off + 20)).toString('hex')).toBe(
      '20010db8000000000000000000010002',
    );
    expect(buf[off - 1]).toBe(0xee);
    expect(buf[off + SOCKADDR_BYTES]).toBe(0xee);
    expect(decodeSockAddr(buf, off)).toEqual(V6);
    encodeSockAddr({ family: 6, address: 'fe80::1%3', port: 1 }, buf, off);
    expect(decodeSockAddr(buf, off)).toEqual({ family: 6, address: 'fe80::1%3', port: 1 });
  });

  it('finds IPv6 senders again without decoding, and never confuses two of them', () => {
    const cache = new SockAddrCache(4);
    const buf = new Uint8Array(SOCKADDR_BYTES * 3);
    encodeSockAddr(V6, buf, 0);
    encodeSockAddr({ ...V6, port: 7655 }, buf, SOCKADDR_BYTES);
    encodeSockAddr(V6, buf, 2 * SOCKADDR_BYTES);
    const first = cache.get(buf, 0);
    expect(first).toEqual(V6);
    expect(cache.get(buf, 2 * SOCKADDR_BYTES)).toBe(first);
    expect(cache.get(buf, SOCKADDR_BYTES)).toEqual({ ...V6, port: 7655 });
    // The cached bytes are a copy: the slab being reused changes nothing.
    encodeSockAddr(V4, buf, 0);
    expect(cache.get(buf, 2 * SOCKADDR_BYTES)).toBe(first);
    expect(cache.get(buf, 0)).toEqual(V4);
  });
});

describe('n2n_sock_t with IPv6 (wire.c: encode_sock / decode_sock)', () => {
  it('writes flag 0x8000, port and 16 address bytes at a non-zero offset and reads them back', () => {
    const buf = new Uint8Array(7 + SOCK_IPV6_BYTES + 3).fill(0xaa);
    const end = writeSock(buf, 7, { family: 6, port: 7654, address: '1:203:405:607:809:a0b:c0d:e0f' });
    expect(end).toBe(7 + SOCK_IPV6_BYTES);
    // Spec §2 example.
    expect(Buffer.from(buf.subarray(7, end)).toString('hex')).toBe(
      '80001de6000102030405060708090a0b0c0d0e0f',
    );
    expect(buf[6]).toBe(0xaa);
    expect(buf[end]).toBe(0xaa);
    const r = new Reader(buf, 7, end);
    expect(readSock(r)).toEqual({ family: 6, port: 7654, address: '1:203:405:607:809:a0b:c0d:e0f' });
    expect(r.pos).toBe(end);
  });
});

describe('address parsing', () => {
  it('reads [ipv6]:port, host:port and IPv4', () => {
    expect(parseHostPort('[2001:db8::1]:7654')).toEqual({ host: '2001:db8::1', port: 7654 });
    expect(parseHostPort('sn.example.org:7654')).toEqual({ host: 'sn.example.org', port: 7654 });
    expect(parseHostPort('192.0.2.1:1')).toEqual({ host: '192.0.2.1', port: 1 });
    expect(ipFamilyOf('2001:db8::1')).toBe(6);
    expect(ipFamilyOf('::ffff:192.0.2.1')).toBe(6);
    expect(ipFamilyOf('192.0.2.1')).toBe(4);
    expect(ipFamilyOf('sn.example.org')).toBe(0);
  });

  it('refuses bad input with one line naming it', () => {
    for (const bad of [
      '2001:db8::1:7654',
      '[2001:db8::zz]:7654',
      '[2001:db8::1]:99999',
      '[2001:db8::1',
      '[]:7654',
    ]) {
      let msg = '';
      try {
        parseHostPort(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        msg = (e as Error).message;
      }
      expect(msg, bad).toContain(bad);
      expect(msg).not.toContain('\n');
    }
  });

  it('splits -p values: port, ip, ip:port, [ipv6]:port, a bare IPv6 address', () => {
    expect(splitBindSpec('7654')).toEqual({ address: undefined, port: '7654' });
    expect(splitBindSpec('192.0.2.1')).toEqual({ address: '192.0.2.1', port: undefined });
    expect(splitBindSpec('192.0.2.1:7654')).toEqual({ address: '192.0.2.1', port: '7654' });
    expect(splitBindSpec('[2001:db8::1]:7654')).toEqual({ address: '2001:db8::1', port: '7654' });
    expect(splitBindSpec('2001:db8::1')).toEqual({ address: '2001:db8::1', port: undefined });
    expect(() => splitBindSpec('[2001:db8::g]:1')).toThrow(/not an IPv6 address/);
    expect(() => splitBindSpec('nothost:1')).toThrow(/^invalid bind address 'nothost'/);
  });

  it('takes -l [ipv6]:port and -p [ipv6]:port on the edge, and -p [ipv6]:port on the supernode', () => {
    const c = resolveEdgeOptions(
      parseEdgeArgs(['-c', 'n', '-l', '[2001:db8::1]:7654', '-p', '[2001:db8::2]:5000']).options,
    );
    expect(c.supernodes).toEqual([{ host: '2001:db8::1', port: 7654, text: '[2001:db8::1]:7654' }]);
    expect(c.bindAddress).toBe('2001:db8::2');
    expect(c.localPort).toBe(5000);
    // 0.0.0.0 binds IPv4 only (as 3.1.1); no -p (or ::) is the dual-stack default.
    expect(
      resolveEdgeOptions(parseEdgeArgs(['-c', 'n', '-l', 'h:1', '-p', '0.0.0.0:1']).options).bindAddress,
    ).toBe('0.0.0.0');
    expect(resolveEdgeOptions(parseEdgeArgs(['-c', 'n', '-l', 'h:1']).options).bindAddress).toBeUndefined();
    expect(resolveSupernodeOptions({}).bindAddress).toBe('::');
    expect(resolveSupernodeOptions({ bindAddress: '2001:db8::1' }).bindAddress).toBe('2001:db8::1');
    expect(() => resolveSupernodeOptions({ bindAddress: 'nonsense' })).toThrow(ConfigError);
  });
});

const MAC4 = 0x02_00_00_00_00_04;
const MAC6 = 0x02_00_00_00_00_06;
const MAC6B = 0x02_00_00_00_00_0b;
const PAYLOAD = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

/** A supernode with an IPv4 edge (which may be 3.1.1) and two IPv6 edges in one community. */
async function mixed() {
  const env = makeEnv();
  const sn = await startSn(env);
  const supernode: SockAddr = { family: 4, address: SN_IP, port: SN_PORT };
  const e4 = new WireEdge(env, '192.0.2.4', { community: 'mix', mac: MAC4, port: 40004, supernode });
  const e6 = new WireEdge(env, '2001:db8::6', { community: 'mix', mac: MAC6, port: 40006, supernode });
  const e6b = new WireEdge(env, '2001:db8::b', { community: 'mix', mac: MAC6B, port: 40011, supernode });
  for (const e of [e4, e6, e6b]) e.registerSuper();
  env.net.flush();
  return { env, sn, e4, e6, e6b };
}

function query(from: WireEdge, target: number): void {
  from.send({
    type: MsgType.QUERY_PEER,
    common: from.common(MsgType.QUERY_PEER),
    body: { srcMac: from.mac, targetMac: target, aflags: 0 },
  });
}

describe('supernode: IPv6 sockets only to edges on IPv6', () => {
  it('acknowledges each edge with its own socket in its own family', async () => {
    const { e4, e6 } = await mixed();
    expect(e4.ofType(MsgType.REGISTER_SUPER_ACK)[0].body.sock).toEqual({
      family: 4,
      port: 40004,
      address: '192.0.2.4',
    });
    expect(e6.ofType(MsgType.REGISTER_SUPER_ACK)[0].body.sock).toEqual({
      family: 6,
      port: 40006,
      address: '2001:db8::6',
    });
  });

  it('answers PEER_INFO with an IPv6 socket to an IPv6 asker, and not at all to an IPv4 one', async () => {
    const { env, e4, e6, e6b } = await mixed();
    for (const e of [e4, e6, e6b]) e.clear();
    query(e4, MAC6);
    query(e6, MAC6B);
    query(e6, MAC4);
    env.net.flush();
    expect(e4.ofType(MsgType.PEER_INFO)).toHaveLength(0);
    const infos = e6.ofType(MsgType.PEER_INFO).map((m) => [m.body.mac, m.body.sock]);
    expect(infos).toEqual([
      [MAC6B, { family: 6, port: 40011, address: '2001:db8::b' }],
      [MAC4, { family: 4, port: 40004, address: '192.0.2.4' }],
    ]);
  });

  it('relays an IPv6 edge PACKET with its socket to IPv6 edges and without one to IPv4 edges', async () => {
    const { env, e4, e6, e6b } = await mixed();
    for (const e of [e4, e6, e6b]) e.clear();
    e6.packet(MAC4, PAYLOAD);
    e6.packet(MAC6B, PAYLOAD);
    // A broadcast reaches both kinds, each in its own variant.
    e6.packet(0xff_ff_ff_ff_ff_ff, PAYLOAD);
    env.net.flush();
    const to4 = e4.ofType(MsgType.PACKET);
    const to6 = e6b.ofType(MsgType.PACKET);
    expect(to4).toHaveLength(2);
    expect(to6).toHaveLength(2);
    for (const m of to4) {
      expect(m.common.flags & Flags.SOCKET).toBe(0);
      expect(m.body.sock).toBeUndefined();
      expect(m.body.srcMac).toBe(MAC6);
    }
    for (const m of to6) {
      expect(m.common.flags & Flags.SOCKET).toBe(Flags.SOCKET);
      expect(m.body.sock).toEqual({ family: 6, port: 40006, address: '2001:db8::6' });
    }
    // The payload is intact in both variants.
    for (const r of [...e4.received, ...e6b.received]) {
      expect(Array.from(r.raw.subarray(r.raw.length - PAYLOAD.length))).toEqual(Array.from(PAYLOAD));
    }
  });

  it('relays an IPv6 edge REGISTER without its socket to an IPv4 edge, with it to an IPv6 edge', async () => {
    const { env, e4, e6, e6b } = await mixed();
    for (const e of [e4, e6, e6b]) e.clear();
    for (const dst of [MAC4, MAC6B]) {
      e6.send({
        type: MsgType.REGISTER,
        common: e6.common(MsgType.REGISTER),
        body: {
          cookie: 1,
          srcMac: MAC6,
          dstMac: dst,
          devAddr: { addr: 0, bitlen: 0 },
          desc: new Uint8Array(16),
        },
      });
    }
    env.net.flush();
    const [r4] = e4.ofType(MsgType.REGISTER);
    const [r6] = e6b.ofType(MsgType.REGISTER);
    expect(r4.common.flags & Flags.SOCKET).toBe(0);
    expect(r4.body.sock).toBeUndefined();
    expect(r6.body.sock).toEqual({ family: 6, port: 40006, address: '2001:db8::6' });
  });

  it('hands an IPv4 edge PACKET to an IPv6 edge with the IPv4 socket, as before', async () => {
    const { env, e4, e6 } = await mixed();
    e6.clear();
    e4.packet(MAC6, PAYLOAD);
    env.net.flush();
    const [m] = e6.ofType(MsgType.PACKET);
    expect(m.body.sock).toEqual({ family: 4, port: 40004, address: '192.0.2.4' });
  });
});

describe('one dual-stack socket (io/udp-native.ts, io/udp.ts)', () => {
  const waitMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('native: IPv4 peers arrive as IPv4 entries, and batches (GSO runs too) go to both families', async () => {
    const ds = openNativeUdpAnyFamily({});
    const p4 = openNativeUdp({ family: 4, address: '127.0.0.1' });
    // A host (container) with IPv6 switched off has no ::1: then the IPv6 half is left out.
    let p6: ReturnType<typeof openNativeUdp> | undefined;
    try {
      p6 = openNativeUdp({ family: 6, address: '::1' });
    } catch {
      p6 = undefined;
    }
    const got: [string, number, SockAddr][] = [];
    ds.onDatagram((d, from) => got.push(['ds', d.length, from]));
    p4.onDatagram((d, from) => got.push(['p4', d.length, from]));
    p6?.onDatagram((d, from) => got.push(['p6', d.length, from]));
    try {
      p4.send(Buffer.alloc(3), 0, 3, { family: 4, address: '127.0.0.1', port: ds.local.port });
      const n = 6;
      const size = 1000;
      const buf = Buffer.alloc(n * size, 7);
      const offs = new Uint32Array(n);
      const lens = new Uint32Array(n).fill(size);
      const addrs = new Uint8Array(n * SOCKADDR_BYTES);
      for (let i = 0; i < n; i++) {
        offs[i] = i * size;
        const to: SockAddr =
          i < n / 2 || p6 === undefined
            ? { family: 4, address: '127.0.0.1', port: p4.local.port }
            : { family: 6, address: '::1', port: p6.local.port };
        encodeSockAddr(to, addrs, i * SOCKADDR_BYTES);
      }
      expect(ds.sendBatch(buf, offs, lens, addrs, n)).toBe(n);
      for (let i = 0; i < 50 && got.length < n + 1; i++) await waitMs(10);
      expect(got.filter((g) => g[0] === 'ds')).toEqual([
        ['ds', 3, { family: 4, address: '127.0.0.1', port: p4.local.port }],
      ]);
      const to4 = p6 === undefined ? n : n / 2;
      expect(got.filter((g) => g[0] === 'p4').map((g) => [g[1], g[2]])).toEqual(
        Array(to4).fill([size, { family: 4, address: '127.0.0.1', port: ds.local.port }]),
      );
      expect(got.filter((g) => g[0] === 'p6').map((g) => [g[1], g[2]])).toEqual(
        Array(n - to4).fill([size, { family: 6, address: '::1', port: ds.local.port }]),
      );
    } finally {
      ds.close();
      p4.close();
      p6?.close();
    }
  });

  it('node:dgram: an IPv4 peer of the dual-stack socket is reported as IPv4', async () => {
    const ds = await openUdpAnyFamily({});
    const p4 = await openUdp({ family: 4, address: '127.0.0.1' });
    const got: SockAddr[] = [];
    const back: SockAddr[] = [];
    ds.onDatagram((_d, from) => {
      got.push(from);
      ds.send(Buffer.from('x'), 0, 1, from);
    });
    p4.onDatagram((_d, from) => back.push(from));
    try {
      p4.send(Buffer.from('hi'), 0, 2, { family: 4, address: '127.0.0.1', port: ds.local.port });
      for (let i = 0; i < 50 && back.length === 0; i++) await waitMs(10);
      expect(got).toEqual([{ family: 4, address: '127.0.0.1', port: p4.local.port }]);
      expect(back).toEqual([{ family: 4, address: '127.0.0.1', port: ds.local.port }]);
    } finally {
      ds.close();
      p4.close();
    }
  });
});

describe('--mss-clamp=auto over an IPv6 underlay', () => {
  it('counts the 40-byte outer header and the 20-byte relayed sender socket', () => {
    const v6 = n2nOverheadBytes(TransformId.CHACHA20, false, true);
    // Relayed PACKET with an IPv6 sock: 24 + 12 + 20 + 2 = 58, the ChaCha20 IV 16, and the 20 bytes by which
    // the IPv6 header outgrows the IPv4 one (maxTapIpPacket subtracts IPv4/UDP's 28).
    expect(v6).toBe(58 + 16 + 20);
    expect(v6 - n2nOverheadBytes(TransformId.CHACHA20, false)).toBe(UNDERLAY_IPV6_EXTRA_BYTES);
    // Path 1500 − 40 IPv6 − 8 UDP − 74 − 14 Ethernet = 1364 for the inner IP packet.
    expect(maxTapIpPacket(1500, 1500, v6)).toBe(1364);
    expect(autoMss(1500, 1500, v6, false)).toBe(1324);
  });
});

describe('edge: supernode addresses', () => {
  it('keeps IPv6 text canonical, so datagrams from the supernode are matched to it', () => {
    const sn = newSupernodeEntry('[2001:DB8:6:0::1]:7654', '2001:DB8:6:0::1', 7654, false);
    setSupernodeAddr(sn, { family: 6, address: '2001:DB8:6:0::1', port: 7654 });
    expect(sn.addr).toEqual({ family: 6, address: '2001:db8:6::1', port: 7654 });
    expect(sn.ip4).toBe(-1);
    expect(canonicalAddr(V4)).toBe(V4);
  });
});

describe('edge: IPv4 fallback of a dual-stack edge', () => {
  it('sends the forwarded REGISTER through the supernode name’s IPv4 address only from the second query round', async () => {
    const w = makeWorld();
    const sn = new FakeSupernode(w, '2001:db8::1', SN_PORT, { community: 'dual' });
    // The same supernode's IPv4 address: here only a socket that records what reaches it.
    const seen: Buffer[] = [];
    const v4 = w.net.open('192.0.2.1', SN_PORT);
    v4.onDatagram((d) => seen.push(Buffer.from(d)));
    const tap = new MemoryTap();
    const deps = {
      ...w.deps('2001:db8::a', tap, 5),
      resolve: async (_h: string, family?: 0 | 4 | 6) => (family === 4 ? '192.0.2.1' : '2001:db8::1'),
    };
    const round = 3;
    const edge = new Edge(
      {
        community: 'dual',
        supernodes: [`sn.test:${SN_PORT}`],
        address: '10.1.0.1/24',
        mac: '02:00:00:00:00:0a',
        registerInterval: round,
      },
      deps,
    );
    await edge.start();
    try {
      await w.settle();
      expect(sn.edges.size).toBe(1);
      const peer = 0x02_00_00_00_00_0b;
      const registersFor = (): number =>
        seen.filter((d) => {
          const m = decodeMessage(d, 0, d.length);
          return m.type === MsgType.REGISTER && m.body.dstMac === peer;
        }).length;
      tap.inject(ipv4Frame(peer, 0x02_00_00_00_00_0a, '10.1.0.1', '10.1.0.2', 20));
      await w.settle();
      expect(registersFor()).toBe(0);
      await w.advance(round + 1);
      tap.inject(ipv4Frame(peer, 0x02_00_00_00_00_0a, '10.1.0.1', '10.1.0.2', 20));
      await w.settle();
      expect(registersFor()).toBe(1);
    } finally {
      await edge.stop();
    }
  });
});

describe('edge: IPv6 preferred between dual-stack peers', () => {
  it('a peer known over IPv6 is not moved by its datagrams over IPv4', async () => {
    const w = makeWorld();
    const sn = new FakeSupernode(w, '2001:db8::1', SN_PORT, { community: 'pref' });
    const base = { community: 'pref', supernodes: [`[2001:db8::1]:${SN_PORT}`] };
    const A_PORT = 50010;
    const a = w.edge('2001:db8::a', {
      ...base,
      address: '10.1.0.1/24',
      mac: '02:00:00:00:00:0a',
      localPort: A_PORT,
    });
    const b = w.edge('2001:db8::b', { ...base, address: '10.1.0.2/24', mac: '02:00:00:00:00:0b' });
    const MAC_A = 0x02_00_00_00_00_0a;
    const MAC_B = 0x02_00_00_00_00_0b;
    await a.edge.start();
    await b.edge.start();
    try {
      await w.settle();
      expect(sn.edges.size).toBe(2);
      const knownB = () => a.edge.peerTables().known.find((p) => p.mac === MAC_B);
      for (let i = 0; i < 5 && knownB() === undefined; i++) {
        a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 20));
        b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.1.0.2', '10.1.0.1', 20));
        await w.advance(1);
      }
      const bPort = knownB()?.addr.port ?? 0;
      expect(knownB()?.addr).toEqual({ family: 6, address: '2001:db8::b', port: bPort });
      // B's REGISTER as if it came over IPv4 (LAN discovery, an older path).
      const reg = Buffer.alloc(256);
      const len = encodeMessage(
        {
          type: MsgType.REGISTER,
          common: { ttl: 2, type: MsgType.REGISTER, flags: 0, community: communityBytes('pref') },
          body: {
            // Above every cookie kind, so the socket check runs within the same second.
            cookie: 0x7fff_ffff,
            srcMac: MAC_B,
            dstMac: MAC_A,
            devAddr: { addr: 0, bitlen: 0 },
            desc: new Uint8Array(16),
          },
        },
        reg,
        0,
      );
      w.net.inject(
        { family: 4, address: '192.0.2.11', port: 40000 },
        { family: 6, address: '2001:db8::a', port: A_PORT },
        reg.subarray(0, len),
      );
      await w.settle();
      expect(knownB()?.addr).toEqual({ family: 6, address: '2001:db8::b', port: bPort });
      expect(a.logger.lines.join('\n')).not.toMatch(/changed/);
    } finally {
      await a.edge.stop();
      await b.edge.stop();
    }
  });
});
