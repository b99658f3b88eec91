// Edge protocol engine over the in-memory network and TAP: registration, relay, P2P, timeouts, failover.
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { Edge, EdgeOptions, PeerChange, RegisteredEvent } from '../../src/edge/index.js';
import type { MemoryDatagram } from '../../src/io/memory.js';
import { ipv4ToNumber } from '../../src/util/ip.js';
import {
  arpRequest,
  FakeSupernode,
  ipv4Frame,
  makeWorld,
  type TestNode,
  type World,
} from './edge-harness.js';

const COMMUNITY = 'testnet';
const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;

let running: Edge[] = [];

afterEach(async () => {
  for (const e of running) await e.stop();
  running = [];
});

async function startAll(w: World, ...nodes: TestNode[]): Promise<void> {
  for (const n of nodes) {
    running.push(n.edge);
    await n.edge.start();
  }
  await w.settle();
}

describe('edge: registration and relayed traffic', () => {
  it('registers, sends gratuitous ARPs, relays unicast and broadcast via the supernode', async () => {
    const w = makeWorld();
    // Different LANs (no multicast between them): the hub only joins edges that ask, so use -S1-free
    // setups with blackholed direct paths to keep traffic relayed.
    const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY });
    const a = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654'],
      address: '10.1.0.1/24',
      mac: '02:00:00:00:00:0a',
    });
    const b = w.edge('192.0.2.2', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654'],
      address: '10.1.0.2/24',
      mac: '02:00:00:00:00:0b',
    });
    w.net.blackhole('192.0.2.1', '192.0.2.2');
    const regA = once(a.edge, 'registered');
    await startAll(w, a, b);
    const [ev] = (await regA) as [RegisteredEvent];
    expect(ev.first).toBe(true);
    expect(ev.publicAddr).toMatch(/^192\.0\.2\.1:\d+$/);
    expect(a.edge.registered).toBe(true);
    expect(b.edge.registered).toBe(true);
    expect(sn.edges.size).toBe(2);
    // B registered after A, so B's two gratuitous ARPs (broadcast, relayed) reached A's TAP.
    const garpsAtA = a.tap.takeWritten().filter((f) => f[12] === 0x08 && f[13] === 0x06);
    expect(garpsAtA.length).toBe(2);
    expect(Array.from(garpsAtA[0].subarray(28, 32))).toEqual([10, 1, 0, 2]);
    b.tap.takeWritten();

    // Broadcast ARP from A reaches B.
    a.tap.inject(arpRequest(MAC_A, '10.1.0.1', '10.1.0.2'));
    await w.settle();
    expect(b.tap.takeWritten().length).toBe(1);
    expect(a.edge.traffic.txSupBroadcast).toBeGreaterThan(0);

    // Unicast A → B goes via the supernode while P2P is impossible.
    const f = ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 100);
    a.tap.inject(f);
    await w.settle();
    const got = b.tap.takeWritten();
    expect(got.length).toBe(1);
    expect(Buffer.from(got[0]).equals(Buffer.from(f))).toBe(true);
    expect(b.edge.traffic.rxSup).toBeGreaterThan(0);
    expect(a.edge.peerTables().known.length).toBe(0);
  });

  it('upgrades to P2P by hole punching, then sends directly', async () => {
    const w = makeWorld();
    const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY });
    const a = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: [`${sn.host}:7654`],
      address: '10.1.0.1/24',
      mac: '02:00:00:00:00:0a',
    });
    const b = w.edge('192.0.2.2', {
      community: COMMUNITY,
      supernodes: [`${sn.host}:7654`],
      address: '10.1.0.2/24',
      mac: '02:00:00:00:00:0b',
    });
    const upA = once(a.edge, 'peerUp');
    await startAll(w, a, b);
    for (let i = 0; i < 3; i++) {
      a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 50));
      b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.1.0.2', '10.1.0.1', 50));
      await w.settle();
    }
    const [up] = (await upA) as [PeerChange];
    expect(up.mac).toBe('02:00:00:00:00:0b');
    expect(a.edge.peerTables().known.map((p) => p.mac)).toContain(MAC_B);
    expect(b.edge.peerTables().known.map((p) => p.mac)).toContain(MAC_A);
    const before = a.edge.traffic.txP2p;
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 50));
    await w.settle();
    expect(a.edge.traffic.txP2p).toBe(before + 1);
    expect(b.edge.traffic.rxP2p).toBeGreaterThan(0);
    b.tap.takeWritten();
  });

  it('drops frames before registration and counts the reason', async () => {
    const w = makeWorld();
    const a = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.9:7654'],
      address: '10.1.0.1/24',
    });
    await startAll(w, a);
    a.tap.inject(ipv4Frame(MAC_B, a.edge.mac, '10.1.0.1', '10.1.0.2'));
    expect(a.edge.drops.txNotRegistered).toBe(1);
    expect(a.edge.registered).toBe(false);
  });

  it('gets its address from the supernode when -a is absent', async () => {
    const w = makeWorld();
    new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY, subnet: '10.77.0.0' });
    const a = w.edge('192.0.2.1', { community: COMMUNITY, supernodes: ['198.51.100.1:7654'] });
    running.push(a.edge);
    await a.edge.start();
    await w.settle();
    expect(a.edge.address.addr).toBe(ipv4ToNumber('10.77.0.10'));
    expect(a.edge.address.bitlen).toBe(24);
    expect(a.tap.info.addr).toBe(ipv4ToNumber('10.77.0.10'));
    expect(a.edge.registered).toBe(true);
  });
});

/** Two edges A and B on one fake supernode, registered, with P2P established between them. */
async function p2pPair(
  w: World,
  extra: Partial<EdgeOptions> = {},
): Promise<{ sn: FakeSupernode; a: TestNode; b: TestNode }> {
  const sn = new FakeSupernode(w, '198.51.100.1', 7654, {
    community: COMMUNITY,
    headerEncryption: extra.headerEncryption,
  });
  const base = { community: COMMUNITY, supernodes: ['198.51.100.1:7654'], ...extra };
  const a = w.edge('192.0.2.1', { ...base, address: '10.1.0.1/24', mac: '02:00:00:00:00:0a' });
  const b = w.edge('192.0.2.2', { ...base, address: '10.1.0.2/24', mac: '02:00:00:00:00:0b' });
  await startAll(w, a, b);
  for (let i = 0; i < 3; i++) {
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 40));
    b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.1.0.2', '10.1.0.1', 40));
    await w.settle();
  }
  expect(a.edge.peerTables().known.map((p) => p.mac)).toEqual([MAC_B]);
  expect(b.edge.peerTables().known.map((p) => p.mac)).toEqual([MAC_A]);
  a.tap.takeWritten();
  b.tap.takeWritten();
  return { sn, a, b };
}

describe('edge: peer expiry, relay fallback, shutdown', () => {
  it('falls back to the supernode when the direct path goes silent, and recovers', async () => {
    const w = makeWorld();
    const { a, b } = await p2pPair(w);
    const unblock = w.net.blackhole('192.0.2.1', '192.0.2.2');
    const down = once(a.edge, 'peerDown');
    await w.advance(11);
    const txSup = a.edge.traffic.txSup;
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 60));
    await w.settle();
    const [ev] = (await down) as [PeerChange];
    expect(ev.reason).toBe('stale');
    expect(a.edge.traffic.txSup).toBe(txSup + 1);
    expect(b.tap.takeWritten().length).toBe(1);
    // Once the path works again, traffic goes direct again.
    unblock();
    for (let i = 0; i < 3; i++) {
      a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 40));
      b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.1.0.2', '10.1.0.1', 40));
      await w.settle();
    }
    expect(a.edge.peerTables().known.map((p) => p.mac)).toEqual([MAC_B]);
  });

  it('purges a peer that stopped, after the registration timeout', async () => {
    const w = makeWorld();
    const { sn, a, b } = await p2pPair(w);
    await b.edge.stop();
    running = running.filter((e) => e !== b.edge);
    await w.settle();
    // B said goodbye to its supernode.
    expect(sn.received.some((m) => m.type === 6)).toBe(true);
    expect(sn.edges.has(MAC_B)).toBe(false);
    const downs: PeerChange[] = [];
    a.edge.on('peerDown', (e: PeerChange) => downs.push(e));
    await w.advance(95);
    expect(downs.map((d) => d.reason)).toContain('purge');
    expect(a.edge.peerTables().known.length).toBe(0);
    expect(a.edge.registered).toBe(true);
  });

  it('works with header encryption (-H): registration, relay and P2P', async () => {
    const w = makeWorld();
    const { a, b } = await p2pPair(w, { headerEncryption: true });
    const f = ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 300);
    a.tap.inject(f);
    await w.settle();
    const got = b.tap.takeWritten();
    expect(got.length).toBe(1);
    expect(Buffer.from(got[0]).equals(Buffer.from(f))).toBe(true);
    expect(a.edge.drops.rxHeaderCrypto + b.edge.drops.rxHeaderCrypto).toBe(0);
    expect(a.edge.drops.rxStamp + b.edge.drops.rxStamp).toBe(0);
  });

  it('drops datagrams that fail header decryption, and replays', async () => {
    const w = makeWorld();
    const { a, b } = await p2pPair(w, { headerEncryption: true });
    const captured: MemoryDatagram[] = [];
    w.net.observe((d, dropped) => {
      // Copied now: the receiver decrypts the header in place.
      if (!dropped && d.deliverTo.address === '192.0.2.2' && d.data.length > 80)
        captured.push({ ...d, data: Buffer.from(d.data) });
    });
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 100));
    await w.settle();
    expect(b.tap.takeWritten().length).toBe(1);
    expect(captured.length).toBe(1);
    const { wireFrom: from, deliverTo: to } = captured[0];
    // A newer packet moves B's record on; the old datagram is then a replay (PACKETs get 160 ms of jitter).
    await w.advance(1);
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 100));
    await w.settle();
    expect(b.tap.takeWritten().length).toBe(1);
    w.net.inject(from, to, captured[0].data);
    await w.settle();
    expect(b.tap.takeWritten().length).toBe(0);
    expect(b.edge.drops.rxStamp).toBe(1);
    // Garbage never decrypts.
    w.net.inject(from, to, new Uint8Array(120).fill(0x41));
    await w.settle();
    expect(b.edge.drops.rxHeaderCrypto).toBe(1);
  });

  it('sends UNREGISTER_SUPER when stopped', async () => {
    const w = makeWorld();
    const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY });
    const a = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654'],
      address: '10.1.0.1/24',
    });
    await startAll(w, a);
    expect(sn.edges.size).toBe(1);
    await a.edge.stop();
    running = [];
    await w.settle();
    expect(sn.edges.size).toBe(0);
  });
});

describe('edge: several supernodes', () => {
  it('fails over to the next supernode after three unanswered registrations', async () => {
    const w = makeWorld();
    const sn1 = new FakeSupernode(w, '198.51.100.1', 7654, {
      community: COMMUNITY,
      mac: 0x02_00_00_00_5e_01,
    });
    const sn2 = new FakeSupernode(w, '198.51.100.2', 7654, {
      community: COMMUNITY,
      mac: 0x02_00_00_00_5e_02,
    });
    const a = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654', '198.51.100.2:7654'],
      address: '10.1.0.1/24',
      mac: '02:00:00:00:00:0a',
    });
    const b = w.edge('192.0.2.2', {
      community: COMMUNITY,
      supernodes: ['198.51.100.2:7654'],
      address: '10.1.0.2/24',
      mac: '02:00:00:00:00:0b',
      p2p: false,
    });
    await startAll(w, a, b);
    expect(a.edge.currentSupernode.text).toBe('198.51.100.1:7654');
    expect(sn1.edges.has(MAC_A)).toBe(true);
    sn1.dropAll = true;
    const regs: RegisteredEvent[] = [];
    a.edge.on('registered', (e: RegisteredEvent) => regs.push(e));
    await w.advance(40);
    expect(a.edge.currentSupernode.text).toBe('198.51.100.2:7654');
    expect(regs.some((r) => r.supernode === '198.51.100.2:7654')).toBe(true);
    expect(sn2.edges.has(MAC_A)).toBe(true);
    // Both edges now meet at sn2.
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 60));
    await w.settle();
    expect(b.tap.takeWritten().filter((f) => f.length === 14 + 28 + 60).length).toBe(1);
  });

  it('boots through the supernode that answers when the first one is down (PING phase, address request)', async () => {
    const w = makeWorld();
    const sn1 = new FakeSupernode(w, '198.51.100.1', 7654, {
      community: COMMUNITY,
      mac: 0x02_00_00_00_5e_01,
    });
    new FakeSupernode(w, '198.51.100.2', 7654, {
      community: COMMUNITY,
      mac: 0x02_00_00_00_5e_02,
      subnet: '10.42.0.0',
    });
    sn1.dropAll = true;
    const a = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654', '198.51.100.2:7654'],
    });
    running.push(a.edge);
    const started = a.edge.start();
    await w.advance(4);
    await started;
    await w.settle();
    expect(a.edge.currentSupernode.text).toBe('198.51.100.2:7654');
    expect(a.edge.address.addr).toBe(ipv4ToNumber('10.42.0.10'));
    expect(a.edge.registered).toBe(true);
  });

  it('selects by MAC with --select-mac after a sweep', async () => {
    const w = makeWorld();
    new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY, mac: 0x02_00_00_00_5e_09 });
    new FakeSupernode(w, '198.51.100.2', 7654, { community: COMMUNITY, mac: 0x02_00_00_00_5e_01 });
    const a = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654', '198.51.100.2:7654'],
      address: '10.1.0.1/24',
      selection: 'mac',
    });
    await startAll(w, a);
    await w.advance(70);
    expect(a.edge.currentSupernode.text).toBe('198.51.100.2:7654');
    expect(a.edge.registered).toBe(true);
  });
});

describe('edge: batched sockets', () => {
  it('a TAP batch leaves in one sendmmsg, arrives intact and in order, relayed and P2P', async () => {
    const w = makeWorld({ batch: true });
    const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY });
    const base = { community: COMMUNITY, supernodes: ['198.51.100.1:7654'], transform: 'speck', key: 'k' };
    const unblock = w.net.blackhole('192.0.2.1', '192.0.2.2');
    const a = w.edge('192.0.2.1', { ...base, address: '10.1.0.1/24', mac: '02:00:00:00:00:0a' });
    const b = w.edge('192.0.2.2', { ...base, address: '10.1.0.2/24', mac: '02:00:00:00:00:0b' });
    await startAll(w, a, b);
    b.tap.takeWritten();
    const frames = Array.from({ length: 20 }, (_, i) =>
      ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 100 + i),
    );
    a.tap.inject(frames);
    await w.settle();
    const got = b.tap.takeWritten();
    expect(got.map((f) => f.length)).toEqual(frames.map((f) => f.length));
    for (let i = 0; i < frames.length; i++)
      expect(Buffer.from(got[i]).equals(Buffer.from(frames[i]))).toBe(true);
    expect(sn.edges.size).toBe(2);
    // Direct path: the next query round upgrades to P2P; a second batch then goes directly.
    unblock();
    await w.advance(21);
    a.tap.inject(frames.slice(0, 2));
    b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.1.0.2', '10.1.0.1', 30));
    await w.settle();
    a.tap.inject(frames.slice(0, 2));
    b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.1.0.2', '10.1.0.1', 30));
    await w.settle();
    b.tap.takeWritten();
    const p2p = b.edge.traffic.rxP2p;
    a.tap.inject(frames);
    await w.settle();
    expect(b.tap.takeWritten().length).toBe(frames.length);
    expect(b.edge.traffic.rxP2p).toBe(p2p + frames.length);
  });
});
