// Hostile input at a running edge: random and mutated datagrams never crash it; each drop is counted by reason.
import { afterEach, describe, expect, it } from 'vitest';
import { type Edge, type EdgeDrops, MAX_PEERS } from '../../src/edge/index.js';
import type { MemoryDatagram } from '../../src/io/memory.js';
import type { SockAddr } from '../../src/util/ip.js';
import { SeededRandom } from '../../src/util/random.js';
import { communityBytes } from '../../src/wire/common.js';
import { encodeMessage } from '../../src/wire/messages.js';
import { Flags, MsgType } from '../../src/wire/types.js';
import { FakeSupernode, ipv4Frame, makeWorld, type TestNode, type World } from './edge-harness.js';

const COMMUNITY = 'fuzznet';
const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;

let edges: Edge[] = [];
afterEach(async () => {
  for (const e of edges) await e.stop();
  edges = [];
});

function totalDrops(d: EdgeDrops): number {
  let n = 0;
  for (const v of Object.values(d)) n += v as number;
  return n;
}

async function pair(w: World, he: boolean): Promise<{ a: TestNode; b: TestNode; sn: FakeSupernode }> {
  const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY, headerEncryption: he });
  const base = {
    community: COMMUNITY,
    supernodes: ['198.51.100.1:7654'],
    transform: 'aes',
    key: 'k',
    headerEncryption: he,
    compression: 'lzo' as const,
  };
  const a = w.edge('192.0.2.1', { ...base, address: '10.1.0.1/24', mac: '02:00:00:00:00:0a' });
  const b = w.edge('192.0.2.2', { ...base, address: '10.1.0.2/24', mac: '02:00:00:00:00:0b' });
  for (const n of [a, b]) {
    edges.push(n.edge);
    await n.edge.start();
  }
  await w.settle();
  return { a, b, sn };
}

describe('edge: hostile datagrams', () => {
  for (const he of [false, true]) {
    it(`random and mutated datagrams are dropped and counted${he ? ' (-H)' : ''}`, async () => {
      const w = makeWorld();
      const { a, b } = await pair(w, he);
      // Capture real traffic to B to mutate.
      const seen: MemoryDatagram[] = [];
      const stop = w.net.observe((d, dropped) => {
        if (!dropped && d.deliverTo.address === '192.0.2.2') seen.push({ ...d, data: Buffer.from(d.data) });
      });
      for (let i = 0; i < 5; i++) {
        a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 200 + i));
        await w.settle();
      }
      stop();
      expect(seen.length).toBeGreaterThan(0);
      const to = seen[0].deliverTo;
      const rnd = new SeededRandom(he ? 77 : 78);
      const N = 2000;
      const inject = async (make: () => Uint8Array): Promise<void> => {
        for (let i = 0; i < N; i++) {
          const from: SockAddr = {
            family: 4,
            address: `203.0.113.${1 + (i % 200)}`,
            port: 1000 + (i % 5000),
          };
          w.net.inject(from, to, make());
          if (i % 500 === 0) await w.settle();
        }
        await w.settle();
      };
      // Random bytes: (almost) all dropped and counted.
      let before = totalDrops(b.edge.drops);
      await inject(() => {
        const d = new Uint8Array(rnd.u32() % 200);
        rnd.fill(d);
        return d;
      });
      expect(totalDrops(b.edge.drops) - before).toBeGreaterThan(N * 0.99);
      // Bit flips and truncations of real datagrams: without -H some still parse (n2n's ciphers are not
      // authenticated), the rest is counted; none throws (the in-memory network would rethrow it).
      before = totalDrops(b.edge.drops);
      await inject(() => {
        const base = seen[rnd.u32() % seen.length];
        let data = Uint8Array.from(base.data);
        const flips = 1 + (rnd.u32() % 4);
        for (let f = 0; f < flips; f++) data[rnd.u32() % data.length] ^= 1 << (rnd.u32() % 8);
        if (rnd.u32() % 2 === 0) data = data.subarray(0, rnd.u32() % data.length);
        return data;
      });
      const mutatedDrops = totalDrops(b.edge.drops) - before;
      expect(mutatedDrops).toBeGreaterThan(he ? N * 0.99 : N * 0.4);
      if (he) expect(b.edge.drops.rxHeaderCrypto + b.edge.drops.rxShort).toBeGreaterThan(N * 1.99);
      // The edge still works.
      b.tap.takeWritten();
      a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 99));
      await w.settle();
      expect(b.tap.takeWritten().some((f) => f.length === 14 + 28 + 99)).toBe(true);
    });
  }

  it('FROM_SUPERNODE traffic from an unknown address is dropped as rxUnknownSupernode', async () => {
    const w = makeWorld();
    const { b } = await pair(w, false);
    const buf = Buffer.alloc(256);
    const len = encodeMessage(
      {
        type: MsgType.RE_REGISTER_SUPER,
        common: {
          ttl: 2,
          type: MsgType.RE_REGISTER_SUPER,
          flags: Flags.FROM_SUPERNODE,
          community: communityBytes(COMMUNITY),
        },
        body: {},
      },
      buf,
      0,
    );
    const bPort = [...Array(20).keys()].map((i) => 49152 + i).find((p) => w.net.socketAt('192.0.2.2', p));
    w.net.inject(
      { family: 4, address: '203.0.113.66', port: 7654 },
      { family: 4, address: '192.0.2.2', port: bPort! },
      buf.subarray(0, len),
    );
    await w.settle();
    expect(b.edge.drops.rxUnknownSupernode).toBe(1);
  });

  it('another community is dropped as rxCommunity', async () => {
    const w = makeWorld();
    const { b } = await pair(w, false);
    const buf = Buffer.alloc(256);
    const len = encodeMessage(
      {
        type: MsgType.REGISTER,
        common: { ttl: 2, type: MsgType.REGISTER, flags: 0, community: communityBytes('other') },
        body: {
          cookie: 1,
          srcMac: 0x02_99,
          dstMac: MAC_B,
          devAddr: { addr: 0, bitlen: 0 },
          desc: new Uint8Array(16),
        },
      },
      buf,
      0,
    );
    const bPort = [...Array(20).keys()].map((i) => 49152 + i).find((p) => w.net.socketAt('192.0.2.2', p));
    w.net.inject(
      { family: 4, address: '203.0.113.5', port: 999 },
      { family: 4, address: '192.0.2.2', port: bPort! },
      buf.subarray(0, len),
    );
    await w.settle();
    expect(b.edge.drops.rxCommunity).toBe(1);
  });

  it('forged REGISTERs from 10,000 MACs cannot grow the peer tables past MAX_PEERS', async () => {
    const w = makeWorld();
    const { b } = await pair(w, false);
    const bPort = [...Array(20).keys()].map((i) => 49152 + i).find((p) => w.net.socketAt('192.0.2.2', p));
    const buf = Buffer.alloc(256);
    const FORGED = 10_000;
    for (let i = 0; i < FORGED; i++) {
      const len = encodeMessage(
        {
          type: MsgType.REGISTER,
          common: { ttl: 2, type: MsgType.REGISTER, flags: 0, community: communityBytes(COMMUNITY) },
          body: {
            cookie: 0x10000,
            srcMac: 0x02_00_10_00_00_00 + i,
            dstMac: MAC_B,
            devAddr: { addr: 0, bitlen: 0 },
            desc: new Uint8Array(16),
          },
        },
        buf,
        0,
      );
      w.net.inject(
        { family: 4, address: `203.0.113.${1 + (i % 250)}`, port: 1000 + i },
        { family: 4, address: '192.0.2.2', port: bPort! },
        buf.subarray(0, len),
      );
      if (i % 500 === 0) await w.settle();
    }
    await w.settle();
    const t = b.edge.peerTables();
    expect(t.pending.length).toBeLessThanOrEqual(MAX_PEERS);
    expect(t.known.length).toBeLessThanOrEqual(MAX_PEERS);
    // New peers come from a token bucket (constants.ts: NEW_PEER_BURST): most forged MACs cost no REGISTER.
    expect(b.edge.drops.peersRate).toBeGreaterThan(FORGED / 2);
    expect(b.edge.drops.peersFull + b.edge.drops.peersRate).toBeGreaterThanOrEqual(
      FORGED - MAX_PEERS - t.known.length,
    );
  });
});
