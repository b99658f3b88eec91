// The real supernode on batched sockets (recvmmsg/sendmmsg path): relayed unicast and broadcast, plain and -H, bursts in order.
import { afterEach, describe, expect, it } from 'vitest';
import type { Edge } from '../../src/edge/index.js';
import type { Supernode } from '../../src/supernode/index.js';
import { ipv4Frame, makeWorld, realSupernode, type TestNode, type World } from './edge-harness.js';

const COMMUNITY = 'batchnet';
const SN_HOST = '198.51.100.1';
const SN_PORT = 7654;
const MACS = [0x02_00_00_00_00_0a, 0x02_00_00_00_00_0b, 0x02_00_00_00_00_0c] as const;
const BROADCAST = 0xff_ff_ff_ff_ff_ff;
/** Frames injected before the network runs: they reach the supernode as one receive batch. */
const BURST = 100;

let stopAll: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stopAll) await s();
  stopAll = [];
});

async function world(he: boolean): Promise<{ w: World; sn: Supernode; nodes: TestNode[] }> {
  const w = makeWorld({ batch: true });
  const files: Record<string, string> = he ? { '/c.list': `${COMMUNITY}\n` } : {};
  const sn = await realSupernode(w, SN_HOST, SN_PORT, he ? { communityFile: '/c.list' } : {}, files);
  stopAll.push(() => sn.stop());
  const nodes: TestNode[] = [];
  for (let i = 0; i < MACS.length; i++) {
    const n = w.edge(`192.0.2.${i + 1}`, {
      community: COMMUNITY,
      supernodes: [`${SN_HOST}:${SN_PORT}`],
      address: `10.7.0.${i + 1}/24`,
      mac: `02:00:00:00:00:0${(0xa + i).toString(16)}`,
      transform: 'aes',
      key: 'batch key',
      headerEncryption: he,
      // -S1: never P2P, everything through the supernode.
      p2p: false,
    });
    nodes.push(n);
    stopAll.push(() => (n.edge as Edge).stop());
    await n.edge.start();
  }
  await w.settle();
  return { w, sn, nodes };
}

describe('supernode on batched sockets', () => {
  for (const he of [false, true]) {
    it(`relays a burst in order, unicast and broadcast${he ? ' (-H)' : ''}`, async () => {
      const { w, sn, nodes } = await world(he);
      const [a, b, c] = nodes;
      expect(nodes.every((n) => n.edge.registered)).toBe(true);
      const fwd0 = sn.stats.fwd;
      b.tap.takeWritten();
      const sent: Uint8Array[] = [];
      for (let i = 0; i < BURST; i++) {
        const f = ipv4Frame(MACS[1], MACS[0], '10.7.0.1', '10.7.0.2', 60 + i * 13);
        sent.push(f);
      }
      a.tap.inject(sent);
      await w.settle();
      const got = b.tap.takeWritten().filter((f) => f.length >= 60);
      expect(got.map((f) => Buffer.from(f).toString('hex'))).toEqual(
        sent.map((f) => Buffer.from(f).toString('hex')),
      );
      expect(sn.stats.fwd - fwd0).toBe(BURST);

      // A broadcast reaches every other edge once, none back to the sender.
      for (const n of nodes) n.tap.takeWritten();
      const bc = ipv4Frame(BROADCAST, MACS[2], '10.7.0.3', '10.7.0.255', 80);
      c.tap.inject(bc);
      await w.settle();
      const hex = Buffer.from(bc).toString('hex');
      for (const [n, want] of [
        [a, 1],
        [b, 1],
        [c, 0],
      ] as const) {
        expect(n.tap.takeWritten().filter((f) => Buffer.from(f).toString('hex') === hex).length).toBe(want);
      }
      expect(sn.stats.errors).toBe(0);
    });
  }
});
