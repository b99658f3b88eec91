// Supernode flows over an in-memory network with wire-level edges: registration, relaying, queries, purge.
import { describe, expect, it } from 'vitest';
import { fixedString } from '../../src/util/bytes.js';
import { NULL_MAC } from '../../src/util/mac.js';
import { Flags, MsgType } from '../../src/wire/types.js';
import { advance, ip, makeEnv, SN_IP, startSn, WireEdge } from './supernode-harness.js';

const MAC_A = 0x02_00_00_00_00_aa;
const MAC_B = 0x02_00_00_00_00_bb;
const MAC_C = 0x02_00_00_00_00_cc;
const SN_MAC = 0x02_46_2f_21_00_8c;

async function twoEdges(options = {}) {
  const env = makeEnv();
  const sn = await startSn(env, { mac: SN_MAC, ...options });
  const a = new WireEdge(env, '10.9.1.2', { community: 'p2ptest', mac: MAC_A, port: 40001 });
  const b = new WireEdge(env, '10.9.2.2', { community: 'p2ptest', mac: MAC_B, port: 40002 });
  a.registerSuper();
  b.registerSuper();
  env.net.flush();
  return { env, sn, a, b };
}

describe('registration', () => {
  it('answers REGISTER_SUPER with an ACK echoing the cookie, the public socket and a zero auth', async () => {
    const env = makeEnv();
    const sn = await startSn(env, { mac: SN_MAC });
    const a = new WireEdge(env, '10.9.1.2', { community: 'p2ptest', mac: MAC_A, port: 40001 });
    const registered: string[] = [];
    sn.on('edgeRegistered', (e) => registered.push(`${e.community} ${e.mac} ${e.sockaddr}`));
    const cookie = a.registerSuper();
    env.net.flush();
    const [ack] = a.ofType(MsgType.REGISTER_SUPER_ACK);
    expect(ack.common.flags).toBe(Flags.FROM_SUPERNODE | Flags.SOCKET);
    expect(ack.common.ttl).toBe(2);
    expect(ack.body.cookie).toBe(cookie);
    expect(ack.body.srcMac).toBe(SN_MAC);
    expect(ack.body.lifetime).toBe(15);
    expect(ack.body.sock).toEqual({ family: 4, port: 40001, address: '10.9.1.2' });
    expect(ack.body.auth.scheme).toBe(0);
    expect(ack.body.auth.token.length).toBe(0);
    expect(ack.body.supernodes).toEqual([]);
    expect(ack.body.keyTime).toBe(0);
    expect(ack.body.devAddr).toEqual({ addr: 0, bitlen: 0 });
    expect(a.received[0].raw.length).toBe(58);
    expect(sn.edgeCount).toBe(1);
    expect(registered).toEqual(['p2ptest 02:00:00:00:00:AA 10.9.1.2:40001']);
    expect(sn.stats.regSuper).toBe(1);
  });

  it('answers the bootstrap address request (null MAC, 0.0.0.0/0) without registering', async () => {
    const env = makeEnv();
    const sn = await startSn(env);
    const a = new WireEdge(env, '10.9.1.2', { community: 'mynetwork', mac: NULL_MAC, desc: 'edgeA' });
    a.registerSuper({ edgeMac: NULL_MAC, devAddr: { addr: 0, bitlen: 0 } });
    env.net.flush();
    const [ack] = a.ofType(MsgType.REGISTER_SUPER_ACK);
    // spec §9.4: "mynetwork" → 10.164.148.0/24, desc "edgeA" → .69
    expect(ack.body.devAddr).toEqual({ addr: ip(10, 164, 148, 69), bitlen: 24 });
    expect(sn.edgeCount).toBe(0);
  });

  it('assigns an address to a registering edge that has none, avoiding used ones', async () => {
    const env = makeEnv();
    await startSn(env);
    const a = new WireEdge(env, '10.9.1.2', {
      community: 'netleo',
      mac: MAC_A,
      desc: 'logan',
      devAddr: { addr: 0, bitlen: 0 },
    });
    a.registerSuper();
    env.net.flush();
    // spec §9.4: "netleo" → 10.139.204.0/24, "logan" → .27
    expect(a.ofType(MsgType.REGISTER_SUPER_ACK)[0].body.devAddr).toEqual({
      addr: ip(10, 139, 204, 27),
      bitlen: 24,
    });
    // A second edge with the same desc holding .27 pushes the proposal downwards.
    const b = new WireEdge(env, '10.9.2.2', {
      community: 'netleo',
      mac: MAC_B,
      desc: 'logan',
      devAddr: { addr: ip(10, 139, 204, 27), bitlen: 24 },
    });
    b.registerSuper();
    const c = new WireEdge(env, '10.9.3.2', {
      community: 'netleo',
      mac: MAC_C,
      desc: 'logan',
      devAddr: { addr: 0, bitlen: 0 },
    });
    env.net.flush();
    c.registerSuper();
    env.net.flush();
    expect(c.ofType(MsgType.REGISTER_SUPER_ACK)[0].body.devAddr).toEqual({
      addr: ip(10, 139, 204, 26),
      bitlen: 24,
    });
  });

  it('keeps a MAC bound to its auth token: another token gets a NAK until the entry times out', async () => {
    const { env, sn, a } = await twoEdges();
    const spoof = new WireEdge(env, '203.0.113.9', { community: 'p2ptest', mac: MAC_A, port: 666 });
    const cookie = spoof.registerSuper();
    env.net.flush();
    const [nak] = spoof.ofType(MsgType.REGISTER_SUPER_NAK);
    expect(nak.body.cookie).toBe(cookie);
    expect(nak.body.srcMac).toBe(MAC_A);
    expect(nak.common.flags).toBe(0x60);
    expect(spoof.received[0].raw.length).toBe(38);
    expect(sn.stats.regSuperNak).toBe(1);
    expect(sn.stats.drops.auth).toBe(1);
    // The real edge keeps its socket.
    const edge = sn.communityList()[1].edges.get(MAC_A)!;
    expect(edge.addr).toEqual({ family: 4, address: '10.9.1.2', port: 40001 });
    // After the purge the MAC is free again.
    advance(env, 91);
    expect(
      sn
        .communityList()
        .find((c) => c.name === 'p2ptest')
        ?.edges.has(MAC_A) ?? false,
    ).toBe(false);
    spoof.registerSuper();
    env.net.flush();
    expect(spoof.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    void a;
  });

  it('refuses a new MAC that claims an address in use with another token (IP spoofing)', async () => {
    const { env, sn } = await twoEdges();
    const spoof = new WireEdge(env, '203.0.113.9', {
      community: 'p2ptest',
      mac: MAC_C,
      devAddr: { addr: 0x0a000001 + 0xaa, bitlen: 24 },
    });
    spoof.registerSuper();
    env.net.flush();
    expect(spoof.ofType(MsgType.REGISTER_SUPER_NAK)).toHaveLength(1);
    const comm = sn.communityList().find((c) => c.name === 'p2ptest')!;
    expect([...comm.edges.keys()].sort()).toEqual([MAC_A, MAC_B]);
  });

  it('-M turns the spoofing protection off', async () => {
    const { env, sn } = await twoEdges({ disableSpoofingProtection: true });
    const other = new WireEdge(env, '203.0.113.9', { community: 'p2ptest', mac: MAC_A, port: 666 });
    other.registerSuper();
    env.net.flush();
    expect(other.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    const comm = sn.communityList().find((c) => c.name === 'p2ptest')!;
    expect(comm.edges.get(MAC_A)?.addr?.address).toBe('203.0.113.9');
  });

  it('a re-registration from a new socket with the same token moves the edge', async () => {
    const { env, sn, a } = await twoEdges();
    const moved = new WireEdge(env, '10.9.1.3', { community: 'p2ptest', mac: MAC_A, port: 40011 });
    moved.token.set(a.token);
    moved.registerSuper();
    env.net.flush();
    expect(moved.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    const comm = sn.communityList().find((c) => c.name === 'p2ptest')!;
    expect(comm.edges.get(MAC_A)?.addr).toEqual({ family: 4, address: '10.9.1.3', port: 40011 });
  });

  it('UNREGISTER_SUPER removes the edge only with the right token', async () => {
    const { env, sn, a } = await twoEdges();
    const unreg = (token: Uint8Array) =>
      a.send({
        type: MsgType.UNREGISTER_SUPER,
        common: a.common(MsgType.UNREGISTER_SUPER),
        body: { auth: { scheme: 1, token }, srcMac: MAC_A },
      });
    unreg(new Uint8Array(16).fill(7));
    env.net.flush();
    expect(sn.edgeCount).toBe(2);
    expect(sn.stats.drops.auth).toBe(1);
    const gone: string[] = [];
    sn.on('edgeUnregistered', (e, why) => gone.push(`${e.mac} ${why}`));
    unreg(a.token);
    env.net.flush();
    expect(sn.edgeCount).toBe(1);
    expect(gone).toEqual(['02:00:00:00:00:AA unregister']);
  });

  it('purges edges not seen for 60 s on the 30 s pass, and the idle community with them', async () => {
    const { env, sn, b } = await twoEdges();
    const expired: string[] = [];
    sn.on('edgeExpired', (e) => expired.push(e.mac));
    advance(env, 45);
    b.registerSuper();
    env.net.flush();
    advance(env, 30);
    // At 60 s A was seen exactly 60 s ago: still kept (last_seen < now - 60 purges).
    expect(expired).toEqual([]);
    advance(env, 16);
    expect(expired).toEqual(['02:00:00:00:00:AA']);
    expect(sn.edgeCount).toBe(1);
    advance(env, 60);
    expect(sn.edgeCount).toBe(0);
    expect(sn.communityList().map((c) => c.name)).toEqual(['*Federation']);
  });
});

describe('forwarding', () => {
  const payload = Uint8Array.from({ length: 100 }, (_, i) => i);

  it('relays a unicast PACKET with FROM_SUPERNODE|SOCKET, TTL-1 and the sender socket', async () => {
    const { env, sn, a, b } = await twoEdges();
    b.clear();
    a.packet(MAC_B, payload);
    env.net.flush();
    const [p] = b.ofType(MsgType.PACKET);
    expect(p.common.flags).toBe(0x60);
    expect(p.common.ttl).toBe(1);
    expect(p.body.sock).toEqual({ family: 4, port: 40001, address: '10.9.1.2' });
    expect(p.body.srcMac).toBe(MAC_A);
    expect(p.body.dstMac).toBe(MAC_B);
    expect(b.received[0].raw.length).toBe(46 + 100);
    expect(b.received[0].raw.subarray(46)).toEqual(Buffer.from(payload));
    expect(b.received[0].from).toEqual({ family: 4, address: SN_IP, port: 7654 });
    expect(sn.stats.fwd).toBe(1);
    expect(sn.stats.lastFwd).toBe(sn.nowSec());
  });

  it('broadcasts and multicasts to every other edge of the community only', async () => {
    const { env, sn, a, b } = await twoEdges();
    const c = new WireEdge(env, '10.9.3.2', { community: 'p2ptest', mac: MAC_C });
    const other = new WireEdge(env, '10.9.4.2', { community: 'other', mac: 0x020000000011 });
    c.registerSuper();
    other.registerSuper();
    env.net.flush();
    for (const e of [a, b, c, other]) e.clear();
    a.packet(0xffff_ffff_ffff, payload);
    a.packet(0x01_00_5e_00_00_fb, payload);
    a.packet(0x33_33_00_00_00_01, payload);
    env.net.flush();
    expect(b.ofType(MsgType.PACKET)).toHaveLength(3);
    expect(c.ofType(MsgType.PACKET)).toHaveLength(3);
    expect(a.ofType(MsgType.PACKET)).toHaveLength(0);
    expect(other.ofType(MsgType.PACKET)).toHaveLength(0);
    expect(sn.stats.broadcast).toBe(6);
  });

  it('forwards a unicast REGISTER with the sender socket and drops one to a multicast MAC', async () => {
    const { env, sn, a, b } = await twoEdges();
    b.clear();
    const reg = {
      cookie: 0x1000,
      srcMac: MAC_A,
      dstMac: MAC_B,
      devAddr: { addr: ip(10, 0, 0, 1), bitlen: 24 },
      desc: fixedString('edgeA', 16),
    };
    a.send({ type: MsgType.REGISTER, common: a.common(MsgType.REGISTER), body: reg });
    a.send({
      type: MsgType.REGISTER,
      common: a.common(MsgType.REGISTER),
      body: { ...reg, dstMac: 0xffff_ffff_ffff },
    });
    env.net.flush();
    const regs = b.ofType(MsgType.REGISTER);
    expect(regs).toHaveLength(1);
    expect(regs[0].common.flags).toBe(0x60);
    expect(regs[0].body.sock).toEqual({ family: 4, port: 40001, address: '10.9.1.2' });
    expect(b.received[0].raw.length).toBe(69);
    expect(sn.stats.drops.no_route).toBe(1);
  });

  it('drops PACKETs of unknown communities and to unknown MACs is a no-op without federation', async () => {
    const { env, sn, a } = await twoEdges();
    const stranger = new WireEdge(env, '10.9.9.9', { community: 'nobody', mac: MAC_C });
    stranger.packet(MAC_A, payload);
    a.packet(0x02_00_00_00_00_99, payload);
    env.net.flush();
    expect(sn.stats.drops.unknown_community).toBe(1);
    expect(a.ofType(MsgType.PACKET)).toHaveLength(0);
  });
});

describe('QUERY_PEER', () => {
  it('answers a PING with a PONG carrying version, uptime and the load (little-endian)', async () => {
    const { env, sn, a } = await twoEdges({ version: 'tsn2n-test' });
    advance(env, 8);
    a.clear();
    a.send({
      type: MsgType.QUERY_PEER,
      common: a.common(MsgType.QUERY_PEER),
      body: { srcMac: MAC_A, targetMac: NULL_MAC, aflags: 0 },
    });
    env.net.flush();
    const [pong] = a.ofType(MsgType.PEER_INFO);
    expect(pong.common.flags).toBe(Flags.FROM_SUPERNODE);
    expect(pong.body.srcMac).toBe(sn.mac);
    expect(pong.body.mac).toBe(NULL_MAC);
    expect(pong.body.sock).toEqual({ family: 4, port: 40001, address: '10.9.1.2' });
    expect(pong.body.uptime).toBe(8);
    expect(Buffer.from(pong.body.version).toString('latin1').replace(/\0.*$/, '')).toBe('tsn2n-test');
    // federation (0 supernodes + 1, doubled: encrypted) + p2ptest (2 edges + 1) = 5, read little-endian by C edges
    expect(a.received[0].raw.readUInt32LE(24 + 2 + 6 + 6 + 8)).toBe(5);
    expect(a.received[0].raw.length).toBe(74);
  });

  it('answers a PING for a not-yet-known community in open mode', async () => {
    const env = makeEnv();
    await startSn(env);
    const a = new WireEdge(env, '10.9.1.2', { community: 'fresh', mac: MAC_A });
    a.send({
      type: MsgType.QUERY_PEER,
      common: a.common(MsgType.QUERY_PEER),
      body: { srcMac: MAC_A, targetMac: NULL_MAC, aflags: 0 },
    });
    env.net.flush();
    expect(a.ofType(MsgType.PEER_INFO)).toHaveLength(1);
  });

  it('answers a query with PEER_INFO naming the asker in srcMac, and the preferred socket when given', async () => {
    const { env, a, b } = await twoEdges();
    const c = new WireEdge(env, '10.9.3.2', { community: 'p2ptest', mac: MAC_C, port: 40003 });
    c.registerSuper({ sock: { family: 4, port: 40003, address: '192.168.77.3' } }, Flags.SOCKET);
    env.net.flush();
    a.clear();
    const q = (target: number) =>
      a.send({
        type: MsgType.QUERY_PEER,
        common: a.common(MsgType.QUERY_PEER),
        body: { srcMac: MAC_A, targetMac: target, aflags: 0 },
      });
    q(MAC_B);
    q(MAC_C);
    env.net.flush();
    const [pb, pc] = a.ofType(MsgType.PEER_INFO);
    expect(pb.common.flags).toBe(0x20);
    expect(pb.body.srcMac).toBe(MAC_A);
    expect(pb.body.mac).toBe(MAC_B);
    expect(pb.body.sock).toEqual({ family: 4, port: 40002, address: '10.9.2.2' });
    expect(pc.common.flags).toBe(0x60);
    expect(pc.body.preferredSock).toEqual({ family: 4, port: 40003, address: '192.168.77.3' });
    void b;
  });
});
