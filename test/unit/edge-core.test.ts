// Edge protocol engine over the in-memory network and TAP: registration, relay, P2P, timeouts, failover.
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { Edge, PeerChange, RegisteredEvent } from '../../src/edge/index.js';
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
