// Edge traffic with every cipher, with and without header encryption, LZO, and user/password authentication.
import { afterEach, describe, expect, it } from 'vitest';
import type { Edge, EdgeOptions } from '../../src/edge/index.js';
import { FakeSupernode, ipv4Frame, makeWorld, type TestNode, type World } from './edge-harness.js';

const COMMUNITY = 'ciphernet';
const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;
const CIPHERS = ['null', 'twofish', 'aes', 'chacha20', 'speck'] as const;

let running: Edge[] = [];
afterEach(async () => {
  for (const e of running) await e.stop();
  running = [];
});

async function pair(
  w: World,
  extra: Partial<EdgeOptions>,
  sn: FakeSupernode,
  optsB: Partial<EdgeOptions> = {},
): Promise<{ a: TestNode; b: TestNode }> {
  const base = { community: COMMUNITY, supernodes: [`${sn.host}:${sn.port}`], ...extra };
  const a = w.edge('192.0.2.1', { ...base, address: '10.1.0.1/24', mac: '02:00:00:00:00:0a' });
  const b = w.edge('192.0.2.2', { ...base, address: '10.1.0.2/24', mac: '02:00:00:00:00:0b', ...optsB });
  for (const n of [a, b]) {
    running.push(n.edge);
    await n.edge.start();
  }
  await w.settle();
  return { a, b };
}

/** Sends A → B `count` times and returns what B's TAP got. */
async function exchange(w: World, a: TestNode, b: TestNode, size: number, count = 1): Promise<Uint8Array[]> {
  b.tap.takeWritten();
  const sent: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const f = ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', size);
    sent.push(f);
    a.tap.inject(f);
    // Replies keep B's side of the P2P handshake going.
    b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.1.0.2', '10.1.0.1', 20));
    await w.settle();
  }
  const got = b.tap.takeWritten().filter((f) => f.length === sent[0].length);
  for (let i = 0; i < got.length; i++) expect(Buffer.from(got[i]).equals(Buffer.from(sent[i]))).toBe(true);
  return got;
}

describe('edge: every cipher, with and without -H', () => {
  for (const cipher of CIPHERS) {
    for (const he of [false, true]) {
      // Alternate between the plain and the batched (recvmmsg/sendmmsg) socket paths.
      const batch = (cipher.length + (he ? 1 : 0)) % 2 === 0;
      it(`${cipher}${he ? ' -H' : ''}: relayed, then P2P${batch ? ' (batched sockets)' : ''}`, async () => {
        const w = makeWorld({ batch });
        const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY, headerEncryption: he });
        const key = cipher === 'null' ? undefined : 'a secret key';
        // No direct path (and no shared LAN): everything is relayed by the supernode.
        const unblock = w.net.blackhole('192.0.2.1', '192.0.2.2');
        const { a, b } = await pair(w, { transform: cipher, key, headerEncryption: he }, sn);
        expect(a.edge.registered && b.edge.registered).toBe(true);
        expect((await exchange(w, a, b, 500, 2)).length).toBe(2);
        expect(b.edge.traffic.rxSup).toBeGreaterThanOrEqual(2);
        expect(a.edge.peerTables().known.length).toBe(0);
        // With a direct path, the next query round (one registration interval later) punches through.
        unblock();
        await w.advance(21);
        expect((await exchange(w, a, b, 500, 4)).length).toBe(4);
        expect(a.edge.peerTables().known.map((p) => p.mac)).toEqual([MAC_B]);
        const p2p = b.edge.traffic.rxP2p;
        expect((await exchange(w, a, b, 1200, 2)).length).toBe(2);
        expect(b.edge.traffic.rxP2p).toBe(p2p + 2);
        expect(b.edge.drops.rxPayloadCrypto + b.edge.drops.rxHeaderCrypto + b.edge.drops.rxStamp).toBe(0);
      });
    }
  }

  it('drops PACKETs of another cipher and counts them', async () => {
    const w = makeWorld();
    const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY });
    const { a, b } = await pair(w, { transform: 'aes', key: 'k1' }, sn, { transform: 'speck', key: 'k1' });
    await exchange(w, a, b, 100, 1);
    expect(b.edge.drops.rxTransform).toBeGreaterThan(0);
  });

  it('drops PACKETs encrypted with another key (payload does not decrypt into anything useful)', async () => {
    const w = makeWorld();
    const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY });
    const { a, b } = await pair(w, { transform: 'aes', key: 'key-one' }, sn, { key: 'key-two' });
    const f = ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 100);
    a.tap.inject(f);
    await w.settle();
    // n2n ciphers are unauthenticated: B decrypts garbage (or drops it on bad CTS padding), never the frame.
    expect(b.tap.takeWritten().some((x) => Buffer.from(x).equals(Buffer.from(f)))).toBe(false);
    expect(b.edge.traffic.transopRx).toBeGreaterThan(0);
  });
});

describe('edge: LZO compression (-z1)', () => {
  it('compresses compressible frames and passes incompressible ones unchanged', async () => {
    const w = makeWorld({ batch: true });
    const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY });
    const { a, b } = await pair(w, { transform: 'chacha20', key: 'k', compression: 'lzo' }, sn);
    const sizes: number[] = [];
    w.net.observe((d) => {
      if (d.deliverTo.address === '192.0.2.2' && d.data[3] === 3) sizes.push(d.data.length);
    });
    // ipv4Frame's payload is a repeating pattern: compressible.
    const got = await exchange(w, a, b, 1200, 3);
    expect(got.length).toBe(3);
    expect(Math.max(...sizes)).toBeLessThan(1200);
    // Random bytes do not compress: sent as is (compression id NONE) and still delivered.
    b.tap.takeWritten();
    const f = ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 800);
    for (let i = 42; i < f.length; i++) f[i] = (i * 2654435761) >>> 24;
    a.tap.inject(f);
    await w.settle();
    const out = b.tap.takeWritten();
    expect(out.some((x) => Buffer.from(x).equals(Buffer.from(f)))).toBe(true);
  });
});

describe('edge: user/password authentication (-I -J, -A4/-A5)', () => {
  for (const cipher of ['chacha20', 'speck'] as const) {
    it(`${cipher}: registers with the dynamic key and carries traffic`, async () => {
      const w = makeWorld();
      const sn = new FakeSupernode(w, '198.51.100.1', 7654, {
        community: COMMUNITY,
        users: { alice: 'pw-a', bob: 'pw-b' },
      });
      const { a, b } = await pair(
        w,
        { transform: cipher, key: 'payload key', description: 'alice', password: 'pw-a' },
        sn,
        { description: 'bob', password: 'pw-b' },
      );
      expect(a.edge.registered && b.edge.registered).toBe(true);
      const got = await exchange(w, a, b, 700, 4);
      expect(got.length).toBe(4);
      expect(a.edge.peerTables().known.map((p) => p.mac)).toEqual([MAC_B]);
      // (A datagram from A that arrives before B has its dynamic key fails header decryption: that is expected.)
      expect(a.edge.drops.rxAuth + b.edge.drops.rxAuth).toBe(0);
    });
  }

  it('a wrong password is refused (NAK) and the edge keeps trying without crashing', async () => {
    const w = makeWorld();
    const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY, users: { alice: 'pw-a' } });
    const a = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654'],
      address: '10.1.0.1/24',
      transform: 'speck',
      key: 'k',
      description: 'alice',
      password: 'wrong',
    });
    running.push(a.edge);
    const refused: string[] = [];
    a.edge.on('refused', (why: string) => refused.push(why));
    await a.edge.start();
    await w.settle();
    expect(a.edge.registered).toBe(false);
    expect(refused[0]).toMatch(/password/);
    await w.advance(25);
    expect(a.edge.registered).toBe(false);
    expect(sn.received.filter((m) => m.type === 5).length).toBeGreaterThan(1);
  });
});
