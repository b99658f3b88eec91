// Edges against the real Supernode (src/supernode) in memory: auto IP, every cipher ±-H, user/password, federation.
import { afterEach, describe, expect, it } from 'vitest';
import type { Edge, EdgeOptions } from '../../src/edge/index.js';
import type { Supernode } from '../../src/supernode/index.js';
import { ipv4ToNumber, numberToIpv4 } from '../../src/util/ip.js';
import { ipv4Frame, makeWorld, realSupernode, type TestNode, userLine, type World } from './edge-harness.js';

const COMMUNITY = 'realnet';
const CIPHERS = ['null', 'twofish', 'aes', 'chacha20', 'speck'] as const;

let edges: Edge[] = [];
let sns: Supernode[] = [];
afterEach(async () => {
  for (const e of edges) await e.stop();
  for (const s of sns) await s.stop();
  edges = [];
  sns = [];
});

async function sn(w: World, host: string, opts = {}, files: Record<string, string> = {}): Promise<Supernode> {
  const s = await realSupernode(w, host, 7654, opts, files);
  sns.push(s);
  return s;
}

async function edge(w: World, host: string, opts: EdgeOptions): Promise<TestNode> {
  const n = w.edge(host, opts);
  edges.push(n.edge);
  await n.edge.start();
  await w.settle();
  return n;
}

/** A → B and B → A once each; returns how many frames arrived intact on each side. */
async function pingPong(w: World, a: TestNode, b: TestNode, size = 400): Promise<[number, number]> {
  const ipA = numberToIpv4(a.edge.address.addr);
  const ipB = numberToIpv4(b.edge.address.addr);
  const ab = ipv4Frame(b.edge.mac, a.edge.mac, ipA, ipB, size);
  const ba = ipv4Frame(a.edge.mac, b.edge.mac, ipB, ipA, size);
  a.tap.takeWritten();
  b.tap.takeWritten();
  a.tap.inject(ab);
  b.tap.inject(ba);
  await w.settle();
  const atB = b.tap.takeWritten().filter((f) => Buffer.from(f).equals(Buffer.from(ab))).length;
  const atA = a.tap.takeWritten().filter((f) => Buffer.from(f).equals(Buffer.from(ba))).length;
  return [atB, atA];
}

describe('edge ⇄ real supernode', () => {
  it('gets an address from the supernode (auto IP) and reaches the other edge', async () => {
    const w = makeWorld();
    await sn(w, '198.51.100.1');
    const a = await edge(w, '192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654'],
      description: 'edgeA',
    });
    const b = await edge(w, '192.0.2.2', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654'],
      description: 'edgeB',
    });
    expect(a.edge.registered && b.edge.registered).toBe(true);
    const net = (a.edge.address.addr & 0xffffff00) >>> 0;
    expect(a.edge.address.bitlen).toBe(24);
    expect((b.edge.address.addr & 0xffffff00) >>> 0).toBe(net);
    expect(a.edge.address.addr).not.toBe(b.edge.address.addr);
    // 10.128.0.0 - 10.255.255.0 is the default auto-IP range.
    expect(net >= ipv4ToNumber('10.128.0.0') && net <= ipv4ToNumber('10.255.255.0')).toBe(true);
    expect(await pingPong(w, a, b)).toEqual([1, 1]);
  });

  for (const cipher of CIPHERS) {
    for (const he of [false, true]) {
      it(`${cipher}${he ? ' -H' : ''}: relayed through the supernode, then P2P`, async () => {
        const w = makeWorld();
        // -H needs the community in the supernode's community file.
        await sn(w, '198.51.100.1', he ? { communityFile: 'c.list' } : {}, { 'c.list': `${COMMUNITY}\n` });
        const key = cipher === 'null' ? undefined : 'secret key';
        const base = {
          community: COMMUNITY,
          supernodes: ['198.51.100.1:7654'],
          transform: cipher,
          key,
          headerEncryption: he,
        };
        const unblock = w.net.blackhole('192.0.2.1', '192.0.2.2');
        const a = await edge(w, '192.0.2.1', { ...base, address: '10.5.0.1/24' });
        const b = await edge(w, '192.0.2.2', { ...base, address: '10.5.0.2/24' });
        expect(a.edge.registered && b.edge.registered).toBe(true);
        expect(await pingPong(w, a, b)).toEqual([1, 1]);
        expect(b.edge.traffic.rxSup).toBeGreaterThan(0);
        unblock();
        await w.advance(21);
        await pingPong(w, a, b);
        await pingPong(w, a, b);
        expect(a.edge.peerTables().known.map((p) => p.mac)).toEqual([b.edge.mac]);
        const before = b.edge.traffic.rxP2p;
        expect(await pingPong(w, a, b, 1200)).toEqual([1, 1]);
        expect(b.edge.traffic.rxP2p).toBe(before + 1);
      });
    }
  }

  it('user/password authentication: registers, gets the dynamic key, carries traffic', async () => {
    const w = makeWorld();
    const list = `${COMMUNITY}\n${userLine('alice', 'pw-a')}\n${userLine('bob', 'pw-b')}\n`;
    await sn(w, '198.51.100.1', { communityFile: 'c.list' }, { 'c.list': list });
    const base = { community: COMMUNITY, supernodes: ['198.51.100.1:7654'], transform: 'chacha20', key: 'k' };
    const a = await edge(w, '192.0.2.1', {
      ...base,
      address: '10.5.0.1/24',
      description: 'alice',
      password: 'pw-a',
    });
    const b = await edge(w, '192.0.2.2', {
      ...base,
      address: '10.5.0.2/24',
      description: 'bob',
      password: 'pw-b',
    });
    expect(a.edge.registered && b.edge.registered).toBe(true);
    expect(await pingPong(w, a, b)).toEqual([1, 1]);
    expect(a.edge.drops.rxAuth + b.edge.drops.rxAuth).toBe(0);
  });

  it('a user the supernode does not know is refused', async () => {
    const w = makeWorld();
    await sn(
      w,
      '198.51.100.1',
      { communityFile: 'c.list' },
      { 'c.list': `${COMMUNITY}\n${userLine('alice', 'pw-a')}\n` },
    );
    const n = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654'],
      transform: 'speck',
      key: 'k',
      address: '10.5.0.1/24',
      description: 'mallory',
      password: 'x',
    });
    edges.push(n.edge);
    const refused: string[] = [];
    n.edge.on('refused', (r: string) => refused.push(r));
    await n.edge.start();
    await w.advance(5);
    expect(n.edge.registered).toBe(false);
    expect(refused.length).toBeGreaterThan(0);
  });

  it('edges on two federated supernodes reach each other, and an edge fails over between them', async () => {
    const w = makeWorld();
    await sn(w, '198.51.100.1', { peers: ['198.51.100.2:7654'] });
    const sn2 = await sn(w, '198.51.100.2', { peers: ['198.51.100.1:7654'] });
    await w.advance(12);
    const a = await edge(w, '192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654', '198.51.100.2:7654'],
      address: '10.5.0.1/24',
      selection: 'mac',
      p2p: false,
    });
    const b = await edge(w, '192.0.2.2', {
      community: COMMUNITY,
      supernodes: ['198.51.100.2:7654'],
      address: '10.5.0.2/24',
      p2p: false,
    });
    await w.advance(3);
    expect(a.edge.registered && b.edge.registered).toBe(true);
    expect(await pingPong(w, a, b)).toEqual([1, 1]);
    // Take down A's current supernode: A moves to the other one and traffic flows again.
    const first = a.edge.currentSupernode.text;
    const down = sns.find((s) => first.startsWith(s === sn2 ? '198.51.100.2' : '198.51.100.1'))!;
    await down.stop();
    await w.advance(45);
    expect(a.edge.currentSupernode.text).not.toBe(first);
    expect(a.edge.supernodeWait).toBe(0);
    if (down !== sn2) expect(await pingPong(w, a, b)).toEqual([1, 1]);
  });
});
