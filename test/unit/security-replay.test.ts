// Security: replayed -H datagrams (same stamp, older than the jitter window, ±16 s frame) are dropped and counted by edges and supernodes.
import { afterEach, describe, expect, it } from 'vitest';
import type { Edge } from '../../src/edge/index.js';
import type { MemoryDatagram } from '../../src/io/memory.js';
import type { Supernode } from '../../src/supernode/index.js';
import { decryptHeader, encryptHeader, headerLength, staticHeaderKeys } from '../../src/transform/header.js';
import { STAMP_RECENT, type Stamp, StampGenerator, type StampRecord } from '../../src/transform/stamp.js';
import { FakeClock } from '../../src/util/clock.js';
import { communityBytes } from '../../src/wire/common.js';
import { createPacketHeaderView, readPacketHeader } from '../../src/wire/packet.js';
import { MsgType } from '../../src/wire/types.js';
import { ipv4Frame, makeWorld, realSupernode, type TestNode, type World } from './edge-harness.js';
import { advance, makeEnv, startSn, WireEdge } from './supernode-harness.js';

const COMMUNITY = 'replaynet';
const SN_HOST = '198.51.100.1';
const SN_PORT = 7654;
const A_HOST = '192.0.2.1';
const B_HOST = '192.0.2.2';
/** Beyond the ±16 s frame (TIME_STAMP_FRAME). */
const OUTSIDE_FRAME_S = 20;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

describe('stamp records: the jitter rule without replays', () => {
  function setup(): { gen: StampGenerator; rec: StampRecord; s: (dMicros: number) => Stamp } {
    const clock = new FakeClock(1_700_000_000_000);
    const gen = new StampGenerator(clock);
    const rec = gen.initialRecord();
    const base: Stamp = gen.current({ hi: 0, lo: 0 });
    // Stamps a few µs apart within one second (lo = µs << 12).
    const s = (dMicros: number): Stamp => ({ hi: base.hi, lo: (base.lo + (dMicros << 12)) >>> 0 });
    return { gen, rec, s };
  }

  it('takes a reordered stamp once, never a duplicate (C takes both within 160 ms)', () => {
    const { gen, rec, s } = setup();
    expect(gen.verify(s(10), rec, true)).toBe(true);
    expect(gen.verify(s(30), rec, true)).toBe(true);
    // s(20) was never seen: reordered, inside the jitter window.
    expect(gen.verify(s(20), rec, true)).toBe(true);
    expect(gen.verify(s(20), rec, true)).toBe(false);
    expect(gen.verify(s(30), rec, true)).toBe(false);
    expect(gen.verify(s(10), rec, true)).toBe(false);
    // Without jitter (registrations) nothing at or below the newest passes.
    expect(gen.verify(s(25), rec, false)).toBe(false);
    expect(gen.verify(s(31), rec, false)).toBe(true);
  });

  it('refuses a stamp older than the last STAMP_RECENT accepted ones (cannot tell whether it was seen)', () => {
    const { gen, rec, s } = setup();
    expect(gen.verify(s(1), rec, true)).toBe(true);
    for (let i = 0; i < STAMP_RECENT; i++) expect(gen.verify(s(100 + i), rec, true)).toBe(true);
    // s(50) is inside the 160 ms jitter and never seen, but older than everything remembered.
    expect(gen.verify(s(50), rec, true)).toBe(false);
    expect(gen.verify(s(1), rec, true)).toBe(false);
  });
});

// ---------------------------------------------------------------- supernode

// -H needs the supernode to know the community (its name is the key): a community file, as in C.
const LIST_PATH = '/etc/n2n/community.list';
const LIST = `${COMMUNITY}\n`;

describe('supernode: replayed -H datagrams', () => {
  async function heEdges() {
    const env = makeEnv();
    env.files[LIST_PATH] = LIST;
    const sn = await startSn(env, { communityFile: LIST_PATH });
    const a = new WireEdge(env, '10.2.0.1', {
      community: COMMUNITY,
      mac: 0x02_00_00_00_00_aa,
      he: true,
      port: 41001,
    });
    const b = new WireEdge(env, '10.2.0.2', {
      community: COMMUNITY,
      mac: 0x02_00_00_00_00_bb,
      he: true,
      port: 41002,
    });
    a.registerSuper();
    b.registerSuper();
    env.net.flush();
    b.clear();
    return { env, sn, a, b };
  }
  const payload = Uint8Array.from({ length: 64 }, (_, i) => i);

  it('drops an exact replay of a PACKET at once, an older one, and stamps outside ±16 s; fresh ones pass', async () => {
    const { env, sn, a, b } = await heEdges();
    const p1 = a.packet(b.mac, payload);
    env.net.flush();
    expect(b.ofType(MsgType.PACKET)).toHaveLength(1);
    // Same stamp, right away: C 3.1.1 relays it (within its 160 ms jitter); we do not.
    a.sendRaw(p1);
    env.net.flush();
    expect(b.ofType(MsgType.PACKET)).toHaveLength(1);
    expect(sn.stats.drops.stamp).toBe(1);
    advance(env, 1);
    a.packet(b.mac, payload);
    env.net.flush();
    expect(b.ofType(MsgType.PACKET)).toHaveLength(2);
    // Older than the newest by 1 s (> 160 ms): refused by C too.
    a.sendRaw(p1);
    env.net.flush();
    expect(sn.stats.drops.stamp).toBe(2);
    const now = sn.nowSec();
    a.packet(b.mac, payload, { stamp: { hi: now + OUTSIDE_FRAME_S, lo: 0 } });
    a.packet(b.mac, payload, { stamp: { hi: now - OUTSIDE_FRAME_S, lo: 0 } });
    env.net.flush();
    expect(sn.stats.drops.stamp).toBe(4);
    expect(b.ofType(MsgType.PACKET)).toHaveLength(2);
    a.packet(b.mac, payload);
    env.net.flush();
    expect(b.ofType(MsgType.PACKET)).toHaveLength(3);
  });

  it('drops a copy of the registration that created the edge (C starts the record at now − 16 s and takes it)', async () => {
    const env = makeEnv();
    env.files[LIST_PATH] = LIST;
    const sn = await startSn(env, { communityFile: LIST_PATH });
    const a = new WireEdge(env, '10.2.0.1', { community: COMMUNITY, mac: 0x02_00_00_00_00_aa, he: true });
    const first = a.send({
      type: MsgType.REGISTER_SUPER,
      common: a.common(MsgType.REGISTER_SUPER),
      body: a.registerSuperBody(),
    });
    a.sendRaw(first);
    env.net.flush();
    expect(a.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    expect(sn.stats.drops.stamp).toBe(1);
  });

  it('drops a replayed REGISTER_SUPER (no jitter for registrations) and keeps the edge where it is', async () => {
    const { env, sn, a } = await heEdges();
    const reg = a.send({
      type: MsgType.REGISTER_SUPER,
      common: a.common(MsgType.REGISTER_SUPER),
      body: a.registerSuperBody(),
    });
    env.net.flush();
    a.clear();
    const before = sn.stats.drops.stamp;
    // Replayed from the same socket and from another one (an attacker who captured it).
    a.sendRaw(reg);
    const spy = new WireEdge(env, '10.9.0.9', { community: COMMUNITY, mac: 0x02_00_00_00_00_ee, he: true });
    spy.sendRaw(reg);
    env.net.flush();
    expect(a.received).toHaveLength(0);
    expect(spy.received).toHaveLength(0);
    expect(sn.stats.drops.stamp).toBe(before + 2);
    const comm = sn.communityList().find((c) => c.name === COMMUNITY);
    expect(comm?.edges.get(a.mac)?.addr).toEqual({ family: 4, address: '10.2.0.1', port: 41001 });
  });
});

// ---------------------------------------------------------------- edge

const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;

async function heWorld(p2p: boolean): Promise<{ w: World; sn: Supernode; a: TestNode; b: TestNode }> {
  const w = makeWorld();
  const sn = await realSupernode(w, SN_HOST, SN_PORT, { communityFile: LIST_PATH }, { [LIST_PATH]: LIST });
  cleanup.push(() => sn.stop());
  const base = { community: COMMUNITY, supernodes: [`${SN_HOST}:${SN_PORT}`], headerEncryption: true };
  const a = w.edge(A_HOST, { ...base, address: '10.1.0.1/24', mac: '02:00:00:00:00:0a' });
  const b = w.edge(B_HOST, { ...base, address: '10.1.0.2/24', mac: '02:00:00:00:00:0b' });
  if (!p2p) w.net.blackhole(A_HOST, B_HOST);
  for (const n of [a, b]) {
    await n.edge.start();
    cleanup.push(() => (n.edge as Edge).stop());
  }
  await w.settle();
  for (let i = 0; i < 3; i++) {
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 40));
    b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.1.0.2', '10.1.0.1', 40));
    await w.settle();
  }
  expect(b.edge.peerTables().known.map((p) => p.mac)).toEqual(p2p ? [MAC_A] : []);
  a.tap.takeWritten();
  b.tap.takeWritten();
  return { w, sn, a, b };
}

/** Records (copies of) PACKET-sized datagrams delivered to `host` from `fromHost`. */
function capture(w: World, fromHost: string, host: string): MemoryDatagram[] {
  const got: MemoryDatagram[] = [];
  w.net.observe((d, dropped) => {
    if (!dropped && d.deliverTo.address === host && d.wireFrom.address === fromHost && d.data.length > 80)
      got.push({ ...d, data: Buffer.from(d.data) });
  });
  return got;
}

/** The captured -H PACKET opened and sealed again under `stamp` (what an attacker with the key could send). */
function resealed(d: MemoryDatagram, stamp: Stamp): Buffer {
  const buf = Buffer.from(d.data);
  const keys = staticHeaderKeys(communityBytes(COMMUNITY));
  expect(decryptHeader(buf, 0, buf.length, keys, communityBytes(COMMUNITY), { hi: 0, lo: 0 })).toBe(true);
  const payloadOff = readPacketHeader(buf, 0, buf.length, createPacketHeaderView());
  const hl = headerLength(MsgType.PACKET, payloadOff, buf.length - payloadOff, false);
  encryptHeader(buf, 0, buf.length, hl, stamp, 0x1234, keys);
  return buf;
}

describe('edge: replayed -H datagrams', () => {
  it('P2P: an exact replay, an older one and stamps outside ±16 s are dropped and counted; a fresh one passes', async () => {
    const { w, a, b } = await heWorld(true);
    const got = capture(w, A_HOST, B_HOST);
    const frame = ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 100);
    a.tap.inject(frame);
    await w.settle();
    expect(b.tap.takeWritten()).toHaveLength(1);
    expect(got).toHaveLength(1);
    const d1 = got[0];
    const stamps0 = b.edge.drops.rxStamp;
    // The same datagram again at once: C 3.1.1 takes it (160 ms jitter), we drop it.
    w.net.inject(d1.wireFrom, d1.deliverTo, d1.data);
    await w.settle();
    expect(b.tap.takeWritten()).toHaveLength(0);
    expect(b.edge.drops.rxStamp).toBe(stamps0 + 1);
    // A fresh datagram 1 s later passes; the first one replayed again is now too old.
    await w.advance(1);
    a.tap.inject(frame);
    await w.settle();
    expect(b.tap.takeWritten()).toHaveLength(1);
    w.net.inject(d1.wireFrom, d1.deliverTo, d1.data);
    await w.settle();
    expect(b.tap.takeWritten()).toHaveLength(0);
    expect(b.edge.drops.rxStamp).toBe(stamps0 + 2);
    // The same bytes sealed again with a stamp far in the future or past: refused by the ±16 s frame ...
    const now = w.stamps.current({ hi: 0, lo: 0 });
    for (const hi of [now.hi + OUTSIDE_FRAME_S, now.hi - OUTSIDE_FRAME_S]) {
      w.net.inject(d1.wireFrom, d1.deliverTo, resealed(d1, { hi, lo: 0 }));
      await w.settle();
    }
    expect(b.tap.takeWritten()).toHaveLength(0);
    expect(b.edge.drops.rxStamp).toBe(stamps0 + 4);
    // ... and with a fresh stamp the very same bytes are accepted: the drops above were the stamp's.
    w.net.inject(d1.wireFrom, d1.deliverTo, resealed(d1, w.stamps.next({ hi: 0, lo: 0 })));
    await w.settle();
    const [f] = b.tap.takeWritten();
    expect(Buffer.from(f).equals(Buffer.from(frame))).toBe(true);
    expect(b.edge.drops.rxStamp).toBe(stamps0 + 4);
  });

  it('relayed: a replay of the supernode’s datagram is dropped against the supernode’s record', async () => {
    const { w, a, b } = await heWorld(false);
    const got = capture(w, SN_HOST, B_HOST);
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 100));
    await w.settle();
    expect(b.tap.takeWritten()).toHaveLength(1);
    expect(got).toHaveLength(1);
    const stamps0 = b.edge.drops.rxStamp;
    w.net.inject(got[0].wireFrom, got[0].deliverTo, got[0].data);
    await w.settle();
    expect(b.tap.takeWritten()).toHaveLength(0);
    expect(b.edge.drops.rxStamp).toBe(stamps0 + 1);
    // Fresh traffic still flows.
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 100));
    await w.settle();
    expect(b.tap.takeWritten()).toHaveLength(1);
  });
});
