// What the edge tells an observer: peer RTT from REGISTER/ACK, `peerState`, `unregistered`, the public address, bytes.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Edge,
  NO_RTT,
  newPeer,
  noteRegisterSent,
  type PeerStateEvent,
  type RegisteredEvent,
  sampleRtt,
  type UnregisteredEvent,
} from '../../src/edge/index.js';
import type { Supernode } from '../../src/supernode/index.js';
import { Cookie, MsgType } from '../../src/wire/types.js';
import { ipv4Frame, makeWorld, realSupernode, type TestNode, type World } from './edge-harness.js';

const COMMUNITY = 'obsnet';
const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;
/** Latency added in front of every REGISTER_ACK in the RTT test. */
const ACK_DELAY_MS = 7;
/** Byte 3 of the common header holds the message type in its low 5 bits. */
const TYPE_BYTE = 3;
const TYPE_MASK = 0x1f;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function pair(w: World, snHost = '198.51.100.1'): Promise<{ sn: Supernode; a: TestNode; b: TestNode }> {
  const sn = await realSupernode(w, snHost, 7654);
  cleanup.push(() => sn.stop());
  const base = { community: COMMUNITY, supernodes: [`${snHost}:7654`] };
  const a = w.edge('192.0.2.1', { ...base, address: '10.7.0.1/24', mac: '02:00:00:00:00:0a' });
  const b = w.edge('192.0.2.2', { ...base, address: '10.7.0.2/24', mac: '02:00:00:00:00:0b' });
  return { sn, a, b };
}

async function start(w: World, ...nodes: TestNode[]): Promise<void> {
  for (const n of nodes) {
    await n.edge.start();
    cleanup.push(() => n.edge.stop());
  }
  await w.settle();
}

/** Unicast both ways a few times: the edges find each other and punch through. */
async function talk(w: World, a: TestNode, b: TestNode, rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.7.0.1', '10.7.0.2', 40));
    b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.7.0.2', '10.7.0.1', 40));
    await w.settle();
  }
}

function record(edge: Edge): PeerStateEvent[] {
  const out: PeerStateEvent[] = [];
  edge.on('peerState', (ev: PeerStateEvent) => out.push(ev));
  return out;
}

describe('peer RTT (REGISTER → REGISTER_ACK)', () => {
  it('matches the ACK to the REGISTER of its cookie kind and smooths the samples', () => {
    const p = newPeer(MAC_B, { family: 4, address: '192.0.2.2', port: 5000 }, 0, 20);
    expect(p.rttMs).toBe(NO_RTT);
    noteRegisterSent(p, Cookie.REGULAR, 1000);
    noteRegisterSent(p, Cookie.LOCAL, 1002);
    // An ACK for a kind never sent, or with the forwarded cookie, measures nothing.
    expect(sampleRtt(p, Cookie.PORT, 1010, 1)).toBeUndefined();
    expect(sampleRtt(p, Cookie.FORWARDED, 1010, 1)).toBeUndefined();
    expect(sampleRtt(p, Cookie.REGULAR, 1010, 1)).toBe(10);
    expect(p.rttMs).toBe(10);
    // The same ACK again (duplicate) has nothing outstanding left.
    expect(sampleRtt(p, Cookie.REGULAR, 1020, 1)).toBeUndefined();
    expect(sampleRtt(p, Cookie.LOCAL, 1004, 2)).toBe(2);
    expect(p.rttLastMs).toBe(2);
    // EWMA with gain 1/8: 10 + (2 - 10) / 8 = 9.
    expect(p.rttMs).toBe(9);
    expect(p.rttAt).toBe(2);
    // Clock steps backwards or answers after 10 s are not round trips.
    noteRegisterSent(p, Cookie.REGULAR, 5000);
    expect(sampleRtt(p, Cookie.REGULAR, 4000, 3)).toBeUndefined();
    noteRegisterSent(p, Cookie.REGULAR, 5000);
    expect(sampleRtt(p, Cookie.REGULAR, 16_000, 3)).toBeUndefined();
    expect(p.rttMs).toBe(9);
  });

  it('measures the delay of the ACKs between two edges that punched through', async () => {
    const w = makeWorld();
    const { a, b } = await pair(w);
    // Only the ACKs that travel to A are late: A measures the delay, B (whose ACKs arrive at once) none.
    w.net.observe((d, dropped) => {
      const ack = (d.data[TYPE_BYTE] & TYPE_MASK) === MsgType.REGISTER_ACK;
      if (dropped === undefined && ack && d.to.address === '192.0.2.1') w.clock.advance(ACK_DELAY_MS);
    });
    await start(w, a, b);
    await talk(w, a, b);
    const peerOfA = a.edge.peerTables().known.find((p) => p.mac === MAC_B);
    const peerOfB = b.edge.peerTables().known.find((p) => p.mac === MAC_A);
    expect(peerOfA?.rttLastMs).toBe(ACK_DELAY_MS);
    expect(peerOfA?.rttMs).toBe(ACK_DELAY_MS);
    expect(peerOfB?.rttLastMs).toBe(0);
    expect(peerOfA?.rttAt).toBeGreaterThan(0);
  });
});

describe('peerState events', () => {
  it('reports a peer up (relayed), its path turning p2p, and down with the reason when the edge stops', async () => {
    const w = makeWorld();
    const { a, b } = await pair(w);
    // Keep the first exchange relayed: no direct path until the blackhole is lifted.
    const open = w.net.blackhole('192.0.2.1', '192.0.2.2');
    const events = record(a.edge);
    await start(w, a, b);
    await talk(w, a, b, 2);
    await w.advance(1);
    expect(events.map((e) => [e.change, e.path])).toEqual([['up', 'relay']]);
    expect(events[0].mac).toBe('02:00:00:00:00:0b');
    open();
    // B's next REGISTERs (every registration interval while pending) now get through.
    for (let i = 0; i < 25 && !events.some((e) => e.change === 'path'); i++) {
      await talk(w, a, b, 1);
      await w.advance(1);
    }
    const path = events.find((e) => e.change === 'path');
    expect(path).toMatchObject({ path: 'p2p', previousPath: 'relay', mac: '02:00:00:00:00:0b' });
    // The overlay address came with B's REGISTER, by the time of the path change or in an update.
    expect(events.filter((e) => e.ip === '10.7.0.2').length).toBeGreaterThan(0);
    const before = events.length;
    await a.edge.stop();
    await w.settle();
    expect(events.slice(before)).toEqual([
      {
        change: 'down',
        mac: '02:00:00:00:00:0b',
        ip: '10.7.0.2',
        sockaddr: expect.stringMatching(/^192\.0\.2\.2:\d+$/),
        desc: '',
        path: 'p2p',
        reason: 'stop',
      },
    ]);
  });

  it('reports nothing and keeps no state while nobody listens', async () => {
    const w = makeWorld();
    const { a, b } = await pair(w);
    await start(w, a, b);
    await talk(w, a, b);
    expect(a.edge.peerTables().known.length).toBe(1);
    // A listener that joins late hears the current state on the next tick.
    const events = record(a.edge);
    await w.advance(1);
    expect(events.map((e) => [e.change, e.path, e.ip])).toEqual([['up', 'p2p', '10.7.0.2']]);
  });
});

describe('registration state', () => {
  it('reports unregistered when the supernode stops answering, and registered again when it is back', async () => {
    const w = makeWorld();
    const { a } = await pair(w);
    const regs: RegisteredEvent[] = [];
    const unregs: UnregisteredEvent[] = [];
    a.edge.on('registered', (e: RegisteredEvent) => regs.push(e));
    a.edge.on('unregistered', (e: UnregisteredEvent) => unregs.push(e));
    await start(w, a);
    expect(a.edge.registrationState).toEqual({
      supernode: '198.51.100.1:7654',
      publicAddr: expect.stringMatching(/^192\.0\.2\.1:\d+$/),
    });
    const open = w.net.blackhole('192.0.2.1', '198.51.100.1');
    // One registration interval (20 s) plus SUP_ATTEMPTS retries a tenth of it apart.
    await w.advance(40);
    expect(unregs).toEqual([{ supernode: '198.51.100.1:7654', reason: 'timeout' }]);
    expect(a.edge.registrationState.supernode).toBeUndefined();
    const n = regs.length;
    open();
    await w.advance(5);
    expect(regs.length).toBeGreaterThan(n);
    expect(a.edge.registrationState.supernode).toBe('198.51.100.1:7654');
    await a.edge.stop();
    expect(unregs.at(-1)).toEqual({ supernode: '198.51.100.1:7654', reason: 'stop' });
  });

  it('reports the public address as unknown when the ACK carries only 127.0.0.1', async () => {
    const w = makeWorld();
    const sn = await realSupernode(w, '127.0.0.1', 7654);
    cleanup.push(() => sn.stop());
    const a = w.edge('127.0.0.1', {
      community: COMMUNITY,
      supernodes: ['127.0.0.1:7654'],
      address: '10.7.0.1/24',
    });
    const regs: RegisteredEvent[] = [];
    a.edge.on('registered', (e: RegisteredEvent) => regs.push(e));
    await start(w, a);
    expect(regs[0]).toEqual({ supernode: '127.0.0.1:7654', publicAddr: undefined, first: true });
    expect(a.edge.registrationState).toEqual({ supernode: '127.0.0.1:7654', publicAddr: undefined });
  });
});

describe('byte counters', () => {
  it('count datagram bytes per path, the same on both ends of a direct path', async () => {
    const w = makeWorld();
    const { a, b } = await pair(w);
    await start(w, a, b);
    await talk(w, a, b);
    expect(a.edge.traffic.txSupBytes).toBeGreaterThan(0);
    const txBefore = a.edge.traffic.txP2pBytes;
    const rxBefore = b.edge.traffic.rxP2pBytes;
    const p2pBefore = a.edge.traffic.txP2p;
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.7.0.1', '10.7.0.2', 100));
    await w.settle();
    expect(a.edge.traffic.txP2p).toBe(p2pBefore + 1);
    const sent = a.edge.traffic.txP2pBytes - txBefore;
    // 142-byte frame + PACKET header + cipher overhead.
    expect(sent).toBeGreaterThan(142);
    expect(b.edge.traffic.rxP2pBytes - rxBefore).toBe(sent);
  });
});
