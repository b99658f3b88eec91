// Security: community isolation — an edge in X never gets Y's frames (unicast, broadcast, multicast), open mode or -H, through the supernode or sent to it directly.
import { afterEach, describe, expect, it } from 'vitest';
import { DropReason } from '../../src/supernode/stats.js';
import { MsgType } from '../../src/wire/types.js';
import { ipv4Frame, makeWorld, realSupernode, type TestNode } from './edge-harness.js';
import { type Env, makeEnv, startSn, WireEdge } from './supernode-harness.js';

const X1 = 0x02_00_00_00_01_01;
const X2 = 0x02_00_00_00_01_02;
const Y1 = 0x02_00_00_00_02_01;
const Y2 = 0x02_00_00_00_02_02;
const BROADCAST = 0xff_ff_ff_ff_ff_ff;
const MULTICAST = 0x01_00_5e_00_00_fb;
const payload = Uint8Array.from({ length: 64 }, (_, i) => i);

/** X = {x1, x2}, Y = {y1, y2}; the same MAC (X1) also registered in Y, so a MAC alone routes nothing across. */
function fourEdges(env: Env, he: boolean) {
  // Distinct overlay addresses: the same address under another MAC would be refused (spoofing protection).
  const mk = (addr: string, community: string, mac: number, port: number) =>
    new WireEdge(env, addr, {
      community,
      mac,
      he,
      port,
      devAddr: { addr: 0x0a070000 + (port & 0xff), bitlen: 24 },
    });
  const x1 = mk('10.1.0.1', 'X', X1, 40001);
  const x2 = mk('10.1.0.2', 'X', X2, 40002);
  const y1 = mk('10.2.0.1', 'Y', Y1, 40003);
  const y2 = mk('10.2.0.2', 'Y', Y2, 40004);
  const yTwin = mk('10.2.0.3', 'Y', X1, 40005);
  for (const e of [x1, x2, y1, y2, yTwin]) e.registerSuper();
  env.net.flush();
  for (const e of [x1, x2, y1, y2, yTwin]) {
    expect(e.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    e.clear();
  }
  return { x1, x2, y1, y2, yTwin };
}

for (const mode of ['open mode (no community file), plaintext', 'community file, -H'] as const) {
  describe(`supernode: ${mode}`, () => {
    const he = mode !== 'open mode (no community file), plaintext';
    async function setup() {
      const env = makeEnv();
      if (he) env.files['/c.list'] = 'X\nY\n';
      const sn = await startSn(env, he ? { communityFile: '/c.list' } : {});
      return { env, sn, ...fourEdges(env, he) };
    }

    it("Y's unicast, broadcast and multicast reach Y only, even for a MAC registered in both", async () => {
      const { env, x1, x2, y1, y2, yTwin } = await setup();
      y1.packet(X1, payload);
      y1.packet(X2, payload);
      y1.packet(BROADCAST, payload);
      y1.packet(MULTICAST, payload);
      env.net.flush();
      expect(x1.received).toHaveLength(0);
      expect(x2.received).toHaveLength(0);
      // Y's own: the unicast to X1 goes to Y's X1, the broadcast and multicast to every other Y edge.
      expect(yTwin.ofType(MsgType.PACKET)).toHaveLength(3);
      expect(y2.ofType(MsgType.PACKET)).toHaveLength(2);
      // And the other way round.
      x2.packet(BROADCAST, payload);
      x2.packet(Y1, payload);
      env.net.flush();
      expect(x1.ofType(MsgType.PACKET)).toHaveLength(1);
      expect(y1.received).toHaveLength(0);
    });

    it("a PACKET from Y's edge carrying X's name", async () => {
      const { env, sn, x1, y1 } = await setup();
      // y1 knows X's name: in plaintext that is all X's edges check (as 3.1.1) — the name is the credential.
      // With -H the name is the key: sealed under Y's key, X's name does not decrypt under any key.
      const forger = new WireEdge(env, '10.2.0.1', { community: 'X', mac: Y1, port: 40013 });
      const yKeyXName = y1.encode(
        {
          type: MsgType.PACKET,
          common: { ...forger.common(MsgType.PACKET) },
          body: { srcMac: Y1, dstMac: X1, compression: 1, transform: 1 },
          payloadOffset: 0,
          payloadLength: payload.length,
        },
        { payload },
      );
      y1.sendRaw(yKeyXName);
      env.net.flush();
      if (he) {
        expect(x1.received).toHaveLength(0);
        expect(sn.stats.drops[DropReason.NO_KEY]).toBe(1);
      } else {
        // Relayed to X as in 3.1.1, unless the supernode checks that the sender is registered in X from that
        // socket ('unregistered', the flood branch) — then dropped. Exactly one of the two.
        const refused = (sn.stats.drops as Record<string, number>).unregistered ?? 0;
        expect(x1.ofType(MsgType.PACKET).length + refused).toBe(1);
      }
    });
  });
}

// ---------------------------------------------------------------- edges

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

describe('edges in two communities on one supernode (open mode), the same overlay subnet', () => {
  async function setup(he: boolean) {
    const w = makeWorld();
    const files = { '/c.list': 'X\nY\n' };
    const sn = await realSupernode(w, '198.51.100.1', 7654, he ? { communityFile: '/c.list' } : {}, files);
    cleanup.push(() => sn.stop());
    const mk = (host: string, community: string, ip: string, mac: string): TestNode => {
      const n = w.edge(host, {
        community,
        supernodes: ['198.51.100.1:7654'],
        address: `${ip}/24`,
        mac,
        headerEncryption: he,
      });
      return n;
    };
    const x1 = mk('192.0.2.1', 'X', '10.7.0.1', '02:00:00:00:01:01');
    const x2 = mk('192.0.2.2', 'X', '10.7.0.2', '02:00:00:00:01:02');
    const y1 = mk('192.0.2.3', 'Y', '10.7.0.3', '02:00:00:00:02:01');
    for (const n of [x1, x2, y1]) {
      await n.edge.start();
      cleanup.push(() => n.edge.stop());
    }
    await w.settle();
    for (const n of [x1, x2, y1]) n.tap.takeWritten();
    return { w, sn, x1, x2, y1 };
  }

  for (const he of [false, true]) {
    it(`${he ? '-H' : 'plaintext'}: Y's frames never reach X's TAPs; X's own still flow; a Y datagram sent straight to an X edge is dropped`, async () => {
      const { w, sn, x1, x2, y1 } = await setup(he);
      // Broadcast ARP, multicast and unicast to X's MACs, from Y.
      y1.tap.inject(ipv4Frame(0xff_ff_ff_ff_ff_ff, y1.edge.mac, '10.7.0.3', '10.7.0.255', 40));
      y1.tap.inject(ipv4Frame(MULTICAST, y1.edge.mac, '10.7.0.3', '224.0.0.251', 40));
      y1.tap.inject(ipv4Frame(x1.edge.mac, y1.edge.mac, '10.7.0.3', '10.7.0.1', 40));
      await w.settle();
      expect(x1.tap.takeWritten()).toHaveLength(0);
      expect(x2.tap.takeWritten()).toHaveLength(0);
      expect(y1.edge.traffic.txSup).toBeGreaterThanOrEqual(3);
      // X's own broadcast reaches X.
      x2.tap.inject(ipv4Frame(0xff_ff_ff_ff_ff_ff, x2.edge.mac, '10.7.0.2', '10.7.0.255', 40));
      await w.settle();
      expect(x1.tap.takeWritten()).toHaveLength(1);
      // Y's datagrams sent straight to X's socket (bypassing the supernode): wrong community (or key) field.
      const captured: Buffer[] = [];
      const stop = w.net.observe((d) => {
        if (d.wireFrom.address === '192.0.2.3' && d.data.length > 60) captured.push(Buffer.from(d.data));
      });
      y1.tap.inject(ipv4Frame(x1.edge.mac, y1.edge.mac, '10.7.0.3', '10.7.0.1', 40));
      await w.settle();
      stop();
      expect(captured.length).toBeGreaterThan(0);
      // X1's socket as the supernode has it (no NAT in the memory network).
      const x1Sock = sn
        .communityList()
        .find((c) => c.name === 'X')
        ?.edges.get(x1.edge.mac)?.addr;
      expect(x1Sock?.address).toBe('192.0.2.1');
      const before = he ? x1.edge.drops.rxHeaderCrypto : x1.edge.drops.rxCommunity;
      for (const d of captured) w.net.inject({ family: 4, address: '192.0.2.3', port: 40000 }, x1Sock!, d);
      await w.settle();
      expect(x1.tap.takeWritten()).toHaveLength(0);
      const after = he ? x1.edge.drops.rxHeaderCrypto : x1.edge.drops.rxCommunity;
      expect(after - before).toBe(captured.length);
    });
  }
});
