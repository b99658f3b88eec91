// Security: claims on a registered edge's MAC from another socket — supernode (REGISTER_SUPER, PACKET; ID token, -M, users) and edge (forged direct PACKET).
import { afterEach, describe, expect, it } from 'vitest';
import { MOVE_CONFIRM_S } from '../../src/edge/constants.js';
import type { MemoryNat } from '../../src/io/memory.js';
import type { Supernode } from '../../src/supernode/index.js';
import { DropReason } from '../../src/supernode/stats.js';
import { EDGE_MOVE_MIN_SECONDS } from '../../src/supernode/timers.js';
import { binToAscii, generatePublicKey, userPrivateKey } from '../../src/transform/auth.js';
import { sockAddrToString } from '../../src/util/ip.js';
import { MsgType } from '../../src/wire/types.js';
import { ipv4Frame, makeWorld, realSupernode, type TestNode, type World } from './edge-harness.js';
import {
  advance,
  type Env,
  makeEnv,
  SN_IP,
  SN_IP2,
  SN_PORT,
  startSn,
  WireEdge,
} from './supernode-harness.js';

const MAC_A = 0x02_00_00_00_00_aa;
const MAC_B = 0x02_00_00_00_00_bb;
const A_SOCK = { family: 4 as const, address: '10.1.0.1', port: 41001 };
const THIEF_SOCK = { family: 4 as const, address: '10.66.0.66', port: 41066 };
const payload = Uint8Array.from({ length: 64 }, (_, i) => i);

/** Where the supernode has edge `mac` of `community`. */
function where(sn: Supernode, community: string, mac: number): unknown {
  return sn
    .communityList()
    .find((c) => c.name === community)
    ?.edges.get(mac)?.addr;
}

/** A registers, B registers; returns both and a thief on another socket claiming A's MAC. */
function trio(env: Env, community: string, tokenOfA = false) {
  const a = new WireEdge(env, A_SOCK.address, { community, mac: MAC_A, port: A_SOCK.port });
  const b = new WireEdge(env, '10.1.0.2', { community, mac: MAC_B, port: 41002 });
  a.registerSuper();
  b.registerSuper();
  env.net.flush();
  const thief = new WireEdge(env, THIEF_SOCK.address, { community, mac: MAC_A, port: THIEF_SOCK.port });
  if (tokenOfA) thief.token.set(a.token);
  a.clear();
  b.clear();
  return { a, b, thief };
}

describe('supernode: REGISTER_SUPER claiming a registered MAC from another socket', () => {
  it('default (edges send an ID token): refused with a NAK, the edge stays — as 3.1.1', async () => {
    const env = makeEnv();
    const sn = await startSn(env);
    const { a, b, thief } = trio(env, 'open');
    thief.registerSuper();
    env.net.flush();
    expect(thief.ofType(MsgType.REGISTER_SUPER_NAK)).toHaveLength(1);
    expect(sn.stats.drops[DropReason.AUTH]).toBe(1);
    expect(where(sn, 'open', MAC_A)).toEqual(A_SOCK);
    b.packet(MAC_A, payload);
    env.net.flush();
    expect(a.ofType(MsgType.PACKET)).toHaveLength(1);
    expect(thief.ofType(MsgType.PACKET)).toHaveLength(0);
  });

  it('the genuine edge (same token) roaming to a new socket is moved at once', async () => {
    const env = makeEnv();
    const sn = await startSn(env);
    const { a, b, thief: moved } = trio(env, 'open', true);
    moved.registerSuper();
    env.net.flush();
    expect(moved.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    expect(where(sn, 'open', MAC_A)).toEqual(THIEF_SOCK);
    b.packet(MAC_A, payload);
    env.net.flush();
    expect(moved.ofType(MsgType.PACKET)).toHaveLength(1);
    expect(a.ofType(MsgType.PACKET)).toHaveLength(0);
  });

  it('-M (no spoofing protection): anyone moves the edge, as in 3.1.1, but at most once per EDGE_MOVE_MIN_SECONDS', async () => {
    const env = makeEnv();
    const sn = await startSn(env, { disableSpoofingProtection: true });
    const { a, thief } = trio(env, 'open');
    // Edges would send scheme 1 (ID); -M stores them as scheme 0, so any token is taken.
    thief.registerSuper();
    env.net.flush();
    expect(thief.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    expect(where(sn, 'open', MAC_A)).toEqual(THIEF_SOCK);
    // Bounced straight back (the genuine edge, or the thief again from A's socket): not before the limit.
    for (let s = 0; s < EDGE_MOVE_MIN_SECONDS; s++) {
      a.registerSuper();
      env.net.flush();
      expect(where(sn, 'open', MAC_A)).toEqual(THIEF_SOCK);
      advance(env, 1);
    }
    expect(a.received).toHaveLength(0);
    expect(sn.stats.drops[DropReason.MOVE_LIMIT]).toBe(EDGE_MOVE_MIN_SECONDS);
    // Refreshing from where it is now is not a move.
    thief.registerSuper();
    env.net.flush();
    expect(thief.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(2);
    // Once the limit has passed, the next claim moves it again (C moves it on every claim).
    a.registerSuper();
    env.net.flush();
    expect(a.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    expect(where(sn, 'open', MAC_A)).toEqual(A_SOCK);
  });

  it('a flood of claims from many sockets moves an edge at most once per limit', async () => {
    const env = makeEnv();
    const sn = await startSn(env, { disableSpoofingProtection: true });
    trio(env, 'open');
    const thieves = Array.from(
      { length: 20 },
      (_, i) => new WireEdge(env, `10.66.1.${i + 1}`, { community: 'open', mac: MAC_A }),
    );
    let moves = 0;
    let at = where(sn, 'open', MAC_A);
    for (let s = 0; s < 10; s++) {
      for (const t of thieves) t.registerSuper();
      env.net.flush();
      const now = where(sn, 'open', MAC_A);
      if (JSON.stringify(now) !== JSON.stringify(at)) moves++;
      at = now;
      advance(env, 1);
    }
    // 10 s of 20 claims a second: 5 moves, not 200 (C would move it on each).
    expect(moves).toBe(10 / EDGE_MOVE_MIN_SECONDS);
    const acks = thieves.reduce((n, t) => n + t.ofType(MsgType.REGISTER_SUPER_ACK).length, 0);
    // Every claim was either a move, a refresh by the thief holding it, or refused.
    expect(sn.stats.drops[DropReason.MOVE_LIMIT]).toBe(200 - acks);
    expect(acks).toBeLessThan(2 * 10);
  });
});

describe('supernode: the move limit and the federation', () => {
  it('an edge that just moved and then goes to another supernode is handed over at once (relays are no claims)', async () => {
    const env = makeEnv();
    const sn1 = await startSn(env, {
      mac: 0x02_00_00_00_01_01,
      federation: 'fed',
      peers: [`${SN_IP2}:${SN_PORT}`],
    });
    const sn2 = await startSn(
      env,
      { mac: 0x02_00_00_00_02_02, federation: 'fed', peers: [`${SN_IP}:${SN_PORT}`] },
      SN_IP2,
    );
    advance(env, 11);
    const { thief: moved } = trio(env, 'open', true);
    moved.registerSuper();
    env.net.flush();
    expect(where(sn1, 'open', MAC_A)).toEqual(THIEF_SOCK);
    // Within the same second it registers at sn2, which relays the registration to sn1.
    moved.supernode = { family: 4, address: SN_IP2, port: SN_PORT };
    moved.registerSuper();
    env.net.flush();
    expect(moved.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(2);
    expect(where(sn1, 'open', MAC_A)).toBeUndefined();
    expect(where(sn2, 'open', MAC_A)).toEqual(THIEF_SOCK);
    expect(sn1.stats.drops[DropReason.MOVE_LIMIT]).toBe(0);
  });
});

describe('supernode: PACKET claiming a registered MAC from another socket', () => {
  it('never moves the edge; if relayed at all, the receiver sees the real sender', async () => {
    const env = makeEnv();
    const sn = await startSn(env);
    const { a, b, thief } = trio(env, 'open');
    thief.packet(MAC_B, payload);
    env.net.flush();
    // 3.1.1 (and this branch) relay it; a supernode that checks the sender's registered socket drops it
    // ('unregistered', the flood branch). Either way exactly one of the two happens.
    const relayed = b.ofType(MsgType.PACKET);
    const refused = (sn.stats.drops as Record<string, number>).unregistered ?? 0;
    expect(relayed.length + refused).toBe(1);
    // B learns the real sender's socket from the relayed header, not A's.
    for (const p of relayed) expect(p.body.sock).toEqual(THIEF_SOCK);
    expect(where(sn, 'open', MAC_A)).toEqual(A_SOCK);
    b.packet(MAC_A, payload);
    env.net.flush();
    expect(a.ofType(MsgType.PACKET)).toHaveLength(1);
    expect(thief.ofType(MsgType.PACKET)).toHaveLength(0);
  });
});

describe('supernode: user/password community (-c with users)', () => {
  const pub = (u: string, p: string): string => binToAscii(generatePublicKey(userPrivateKey(u, p)));
  const LIST = `netleo\n* logan ${pub('logan', '007')}\n* sister ${pub('sister', '008')}\n`;

  async function users() {
    const env = makeEnv();
    env.files['/c.list'] = LIST;
    const sn = await startSn(env, { communityFile: '/c.list' });
    const logan = { name: 'logan', password: '007' };
    const a = new WireEdge(env, A_SOCK.address, {
      community: 'netleo',
      mac: MAC_A,
      port: A_SOCK.port,
      user: logan,
    });
    a.registerSuper();
    env.net.flush();
    expect(where(sn, 'netleo', MAC_A)).toEqual(A_SOCK);
    // Later senders' stamps must be newer than A's (one fake clock for all).
    env.clock.advance(1);
    return { env, sn, logan };
  }

  it('refuses a claim under another listed user (3.1.1 takes any listed user), a wrong password, and no auth', async () => {
    const { env, sn } = await users();
    const sister = new WireEdge(env, THIEF_SOCK.address, {
      community: 'netleo',
      mac: MAC_A,
      port: THIEF_SOCK.port,
      user: { name: 'sister', password: '008' },
    });
    sister.registerSuper();
    // Each sender's stamp must be newer than the last one seen for this MAC (the same fake clock for all).
    env.clock.advance(1);
    const guess = new WireEdge(env, '10.66.0.67', {
      community: 'netleo',
      mac: MAC_A,
      user: { name: 'logan', password: 'guess' },
    });
    guess.registerSuper();
    env.clock.advance(1);
    // Knows the community name (the static key) but no password: cannot even be read.
    const anon = new WireEdge(env, '10.66.0.68', { community: 'netleo', mac: MAC_A, he: true });
    anon.registerSuper();
    env.net.flush();
    expect(sister.ofType(MsgType.REGISTER_SUPER_NAK)).toHaveLength(1);
    expect(guess.ofType(MsgType.REGISTER_SUPER_NAK)).toHaveLength(1);
    expect(anon.received).toHaveLength(0);
    expect(sn.stats.drops[DropReason.AUTH]).toBe(2);
    expect(sn.stats.drops[DropReason.NO_KEY]).toBe(1);
    expect(where(sn, 'netleo', MAC_A)).toEqual(A_SOCK);
  });

  it('moves the edge when the same user registers from a new socket (roaming)', async () => {
    const { env, sn, logan } = await users();
    const moved = new WireEdge(env, THIEF_SOCK.address, {
      community: 'netleo',
      mac: MAC_A,
      port: THIEF_SOCK.port,
      user: logan,
    });
    moved.registerSuper();
    env.net.flush();
    expect(moved.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    expect(where(sn, 'netleo', MAC_A)).toEqual(THIEF_SOCK);
  });
});

// ---------------------------------------------------------------- edge

const COMMUNITY = 'macnet';
const SN_HOST = SN_IP;
const EA = 0x02_00_00_00_00_0a;
const EB = 0x02_00_00_00_00_0b;
const A_HOST = '192.0.2.1';
const B_HOST = '192.0.2.2';
const FORGER = { family: 4 as const, address: '192.0.2.66', port: 50066 };
const NAT_PUBLIC = '198.51.100.77';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

/** A and B direct peers; with `natA`, A sits behind a NAT whose public address is NAT_PUBLIC. */
async function p2pPair(
  he: boolean,
  natA = false,
): Promise<{ w: World; a: TestNode; b: TestNode; nat: MemoryNat | undefined }> {
  const w = makeWorld();
  const nat = natA ? w.net.addNat('10.77.0.0/16', NAT_PUBLIC) : undefined;
  const files = { '/c.list': `${COMMUNITY}\n` };
  const sn = await realSupernode(w, SN_HOST, SN_PORT, he ? { communityFile: '/c.list' } : {}, files);
  cleanup.push(() => sn.stop());
  const base = { community: COMMUNITY, supernodes: [`${SN_HOST}:${SN_PORT}`], headerEncryption: he };
  const a = w.edge(natA ? '10.77.0.1' : A_HOST, {
    ...base,
    address: '10.1.0.1/24',
    mac: '02:00:00:00:00:0a',
  });
  const b = w.edge(B_HOST, { ...base, address: '10.1.0.2/24', mac: '02:00:00:00:00:0b' });
  for (const n of [a, b]) {
    await n.edge.start();
    cleanup.push(() => n.edge.stop());
  }
  await w.settle();
  for (let i = 0; i < 3; i++) {
    a.tap.inject(ipv4Frame(EB, EA, '10.1.0.1', '10.1.0.2', 40));
    b.tap.inject(ipv4Frame(EA, EB, '10.1.0.2', '10.1.0.1', 40));
    await w.settle();
  }
  expect(b.edge.peerTables().known.map((p) => p.mac)).toEqual([EA]);
  a.tap.takeWritten();
  b.tap.takeWritten();
  return { w, a, b, nat };
}

/** B's UDP socket, as A (no NAT in between) knows it. */
function bSock(a: TestNode) {
  return a.edge.peerTables().known[0].addr;
}

/** Datagrams the network delivers to the forger's socket. */
function forgerInbox(w: World): Buffer[] {
  const inbox: Buffer[] = [];
  const s = w.net.open(FORGER.address, FORGER.port);
  s.onDatagram((d) => inbox.push(Buffer.from(d)));
  return inbox;
}

/** A plaintext REGISTER_ACK claiming to come from A, to B. */
function forgedAck(): Buffer {
  const e = new WireEdge(makeEnv(), '203.0.113.1', { community: COMMUNITY, mac: EA });
  return Buffer.from(
    e.encode({
      type: MsgType.REGISTER_ACK,
      common: e.common(MsgType.REGISTER_ACK),
      body: { cookie: 1, dstMac: EB, srcMac: EA },
    }),
  );
}

/** A plaintext PACKET claiming to come from A, with a frame as payload (transform 1 = null, compression 1 = none). */
function forgedPacket(frame: Uint8Array): Buffer {
  const e = new WireEdge(makeEnv(), '203.0.113.1', { community: COMMUNITY, mac: EA });
  return Buffer.from(
    e.encode(
      {
        type: MsgType.PACKET,
        common: e.common(MsgType.PACKET),
        body: { srcMac: EA, dstMac: EB, compression: 1, transform: 1 },
        payloadOffset: 0,
        payloadLength: frame.length,
      },
      { payload: frame },
    ),
  );
}

describe('edge: a forged direct PACKET claiming a known peer’s MAC', () => {
  it('with -H and no key: never decrypts, the direct path to the peer is untouched', async () => {
    const { w, a, b } = await p2pPair(true);
    const inbox = forgerInbox(w);
    const before = b.edge.drops.rxHeaderCrypto;
    w.net.inject(FORGER, bSock(a), forgedPacket(ipv4Frame(EB, EA, '10.1.0.1', '10.1.0.2', 40)));
    await w.settle();
    expect(b.edge.drops.rxHeaderCrypto).toBe(before + 1);
    expect(b.tap.takeWritten()).toHaveLength(0);
    const [peer] = b.edge.peerTables().known;
    expect(peer.addr.address).toBe(A_HOST);
    b.tap.inject(ipv4Frame(EA, EB, '10.1.0.2', '10.1.0.1', 40));
    await w.settle();
    expect(a.tap.takeWritten()).toHaveLength(1);
    expect(inbox).toHaveLength(0);
  });

  it('without -H: the direct path stays; the claimed socket gets one REGISTER probe a second and never answers (3.1.1 drops the path at once)', async () => {
    const { w, a, b } = await p2pPair(false);
    const inbox = forgerInbox(w);
    // Within the second A was last seen, a socket change is not even looked at (edge_utils.c:
    // check_peer_registration_needed); one second later it is.
    w.net.inject(FORGER, bSock(a), forgedPacket(ipv4Frame(EB, EA, '10.1.0.1', '10.1.0.2', 40)));
    await w.settle();
    expect(b.tap.takeWritten()).toHaveLength(1);
    expect(b.edge.peerTables().known.map((p) => p.addr.address)).toEqual([A_HOST]);
    expect(inbox).toHaveLength(0);
    await w.advance(1);
    for (let i = 0; i < 20; i++)
      w.net.inject(FORGER, bSock(a), forgedPacket(ipv4Frame(EB, EA, '10.1.0.1', '10.1.0.2', 40)));
    await w.settle();
    // The frames themselves are delivered: without -H and -k nothing tells them from A's.
    expect(b.tap.takeWritten()).toHaveLength(20);
    // A stays known at its own socket; the claimed one got one REGISTER for twenty claims, and nothing moved.
    expect(b.edge.peerTables().known.map((p) => p.addr.address)).toEqual([A_HOST]);
    expect(b.edge.peerTables().pending).toHaveLength(0);
    expect(b.logger.lines.some((l) => l.includes('changed'))).toBe(false);
    b.tap.inject(ipv4Frame(EA, EB, '10.1.0.2', '10.1.0.1', 40));
    await w.settle();
    expect(a.tap.takeWritten()).toHaveLength(1);
    const types = inbox.map((d) => d[3] & 0x1f);
    expect(types).toEqual([MsgType.REGISTER]);
    // An unasked REGISTER_ACK from the forger moves nothing either.
    await w.advance(MOVE_CONFIRM_S + 1);
    w.net.inject(FORGER, bSock(a), forgedAck());
    await w.settle();
    expect(b.edge.peerTables().known.map((p) => p.addr.address)).toEqual([A_HOST]);
  });

  it('without -H: a known peer that really moved answers the probe from its new socket and is moved within the round trip', async () => {
    const { w, a, b, nat } = await p2pPair(false, true);
    const before = b.edge.peerTables().known.map((p) => sockAddrToString(p.addr));
    expect(before).toHaveLength(1);
    await w.advance(1);
    // A's NAT forgets its mapping (a router reboot): A's next datagram to B leaves from a new public port.
    nat!.clear();
    a.tap.inject(ipv4Frame(EB, EA, '10.1.0.1', '10.1.0.2', 40));
    await w.settle();
    expect(b.tap.takeWritten()).toHaveLength(1);
    const after = b.edge.peerTables().known.map((p) => sockAddrToString(p.addr));
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before[0]);
    expect(after[0].startsWith(`${NAT_PUBLIC}:`)).toBe(true);
    expect(b.logger.lines.some((l) => l.includes('changed'))).toBe(true);
    // B's answer reaches A at once, without a clock tick.
    b.tap.inject(ipv4Frame(EA, EB, '10.1.0.2', '10.1.0.1', 40));
    await w.settle();
    expect(a.tap.takeWritten()).toHaveLength(1);
  });
});

describe('edge: a forger that also answers the REGISTER (no -H)', () => {
  it('known limitation, as 3.1.1: it takes the direct path until the real peer’s next direct datagram', async () => {
    const { w, a, b } = await p2pPair(false);
    const s = w.net.open(FORGER.address, FORGER.port);
    const e = new WireEdge(makeEnv(), '203.0.113.2', { community: COMMUNITY, mac: EA });
    const inbox: Buffer[] = [];
    s.onDatagram((d, from) => {
      inbox.push(Buffer.from(d));
      if ((d[3] & 0x1f) !== MsgType.REGISTER) return;
      // REGISTER cookies are fixed priorities (spec §12.5), nothing secret: echo it.
      const ack = e.encode({
        type: MsgType.REGISTER_ACK,
        common: e.common(MsgType.REGISTER_ACK),
        body: { cookie: d.readUInt32BE(24), dstMac: EB, srcMac: EA },
      });
      s.send(ack, 0, ack.length, from);
    });
    await w.advance(1);
    w.net.inject(FORGER, bSock(a), forgedPacket(ipv4Frame(EB, EA, '10.1.0.1', '10.1.0.2', 40)));
    await w.settle();
    expect(b.edge.peerTables().known.map((p) => p.addr.address)).toEqual([FORGER.address]);
    b.tap.inject(ipv4Frame(EA, EB, '10.1.0.2', '10.1.0.1', 40));
    await w.settle();
    expect(a.tap.takeWritten()).toHaveLength(0);
    expect(inbox.filter((d) => (d[3] & 0x1f) === MsgType.PACKET)).toHaveLength(1);
    // A's own direct traffic (next second: one socket change per peer per second) takes it back.
    await w.advance(1);
    a.tap.inject(ipv4Frame(EB, EA, '10.1.0.1', '10.1.0.2', 40));
    await w.settle();
    await w.advance(1);
    expect(b.edge.peerTables().known.map((p) => p.addr.address)).toEqual([A_HOST]);
  });
});
