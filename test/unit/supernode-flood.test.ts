// Floods: 100,000 bogus registrations and random datagrams leave the supernode's tables bounded; forged PACKETs go nowhere.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_NEW_EDGE_BURST as NEW_EDGE_BURST,
  DEFAULT_NEW_EDGES_PER_SECOND as NEW_EDGES_PER_SECOND,
} from '../../src/supernode/options.js';
import { fixedString } from '../../src/util/bytes.js';
import type { SockAddr } from '../../src/util/ip.js';
import { writeMac } from '../../src/util/mac.js';
import { communityBytes } from '../../src/wire/common.js';
import { encodeRegisterSuper } from '../../src/wire/messages.js';
import { encodePacket, PACKET_HEADER_BYTES } from '../../src/wire/packet.js';
import { MsgType } from '../../src/wire/types.js';
import { advance, makeEnv, SN_IP, SN_PORT, startSn, WireEdge } from './supernode-harness.js';

/** The built CLI (npm test builds before vitest runs). */
const CLI_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const FLOOD = 100_000;
const BATCH = 1000;
const SN: SockAddr = { family: 4, address: SN_IP, port: SN_PORT };
/** Offset of edgeMac in REGISTER_SUPER: common header + cookie. */
const EDGE_MAC_OFF = 24 + 4;

function registerSuper(community: string): Buffer {
  const buf = Buffer.alloc(128);
  const len = encodeRegisterSuper(
    { ttl: 2, type: MsgType.REGISTER_SUPER, flags: 0, community: communityBytes(community) },
    {
      cookie: 1,
      edgeMac: 0x020000000000,
      devAddr: { addr: 0x0a000000, bitlen: 24 },
      desc: fixedString('flood', 16),
      auth: { scheme: 1, token: new Uint8Array(16).fill(9) },
      keyTime: 0,
    },
    buf,
    0,
  );
  return buf.subarray(0, len);
}

function from(i: number): SockAddr {
  return {
    family: 4,
    address: `10.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`,
    port: 1024 + (i % 60000),
  };
}

describe('floods', () => {
  it(`${FLOOD} REGISTER_SUPER from distinct MACs: edges stay bounded, refusals are counted`, async () => {
    const env = makeEnv();
    const sn = await startSn(env);
    const legit = new WireEdge(env, '192.0.2.10', { community: 'victim', mac: 0x02aaaaaaaaaa });
    legit.registerSuper();
    env.net.flush();
    const heapBefore = process.memoryUsage().heapUsed;
    const msg = registerSuper('victim');
    for (let i = 0; i < FLOOD; i++) {
      writeMac(msg, EDGE_MAC_OFF, 0x020000000000 + i + 1);
      // distinct device addresses too, so none collides with another edge's
      msg.writeUInt32BE((0x0b000000 + i) >>> 0, EDGE_MAC_OFF + 6);
      env.net.inject(from(i), SN, msg);
      if (i % BATCH === BATCH - 1) env.net.flush();
    }
    env.net.flush();
    const heapAfter = process.memoryUsage().heapUsed;
    expect(sn.edgeCount).toBe(1024);
    expect(sn.stats.regSuper).toBe(FLOOD + 1);
    expect(sn.stats.drops.edge_limit_community).toBe(FLOOD + 1 - 1024);
    // The genuine edge is still registered and served.
    expect(
      sn
        .communityList()
        .find((c) => c.name === 'victim')
        ?.edges.has(0x02aaaaaaaaaa),
    ).toBe(true);
    legit.clear();
    legit.registerSuper();
    env.net.flush();
    expect(legit.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    // 1024 edges take well under a megabyte; allow generous slack for garbage not yet collected.
    expect(heapAfter - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it(`${FLOOD} REGISTER_SUPER for distinct communities: communities and edges stay bounded`, async () => {
    const env = makeEnv();
    const sn = await startSn(env, { maxCommunities: 500, maxEdges: 400 });
    for (let i = 0; i < FLOOD; i++) {
      const msg = registerSuper(`c${i}`);
      env.net.inject(from(i), SN, msg);
      if (i % BATCH === BATCH - 1) env.net.flush();
    }
    env.net.flush();
    expect(sn.edgeCount).toBe(400);
    // Communities are stored only with a successful registration (refused ones leave nothing behind).
    expect(sn.communityList().length - 1).toBe(400);
    expect(sn.stats.drops.edge_limit_total).toBe(FLOOD - 400);
  });

  it(`${FLOOD} random datagrams are dropped by reason and create nothing`, async () => {
    const env = makeEnv();
    env.files['/c'] = 'mynetwork\nnetleo\n';
    const sn = await startSn(env, { communityFile: '/c' });
    const buf = Buffer.alloc(200);
    for (let i = 0; i < FLOOD; i++) {
      const len = env.random.u32() % 200;
      env.random.fill(buf, 0, len);
      // Every fourth datagram looks like a plaintext header of a random type, so the decoders get exercised.
      if (i % 4 === 0 && len >= 24) {
        buf[0] = 3;
        buf[1] = 2;
        buf[2] = 0;
        buf[3] = env.random.u32() % 12;
        buf[23] = 0;
      }
      env.net.inject(from(i), SN, buf.subarray(0, len));
      if (i % BATCH === BATCH - 1) env.net.flush();
    }
    env.net.flush();
    const d = sn.stats.drops;
    expect(sn.stats.rx).toBe(FLOOD);
    expect(d.internal).toBe(0);
    expect(sn.edgeCount).toBe(0);
    expect(sn.communityList().map((c) => c.name)).toEqual(['*Federation', 'mynetwork', 'netleo']);
    expect(d.too_short + d.no_key + d.not_allowed + d.unknown_community + d.decode + d.ttl + d.ignored).toBe(
      FLOOD,
    );
    expect(d.too_short).toBeGreaterThan(0);
    expect(d.no_key).toBeGreaterThan(0);
  });
});

describe('flood hardening (issue 13)', () => {
  const payload = Uint8Array.from({ length: 100 }, (_, i) => i);

  it('PACKETs from MACs not registered at the sending socket are dropped, never relayed or broadcast', async () => {
    const env = makeEnv();
    const sn = await startSn(env);
    const a = new WireEdge(env, '192.0.2.10', { community: 'victim', mac: 0x02aaaaaaaaaa });
    const b = new WireEdge(env, '192.0.2.11', { community: 'victim', mac: 0x02bbbbbbbbbb });
    a.registerSuper();
    b.registerSuper();
    env.net.flush();
    b.clear();
    const FORGED = 1000;
    const pkt = Buffer.alloc(PACKET_HEADER_BYTES + payload.length);
    for (let i = 0; i < FORGED; i++) {
      // Random MACs (broadcast and unicast), and the genuine edge a's MAC from another socket.
      const src = i % 3 === 2 ? 0x02aaaaaaaaaa : 0x020000100000 + i;
      const dst = i % 3 === 0 ? 0xffff_ffff_ffff : 0x02bbbbbbbbbb;
      const common = { ttl: 2, type: MsgType.PACKET, flags: 0, community: communityBytes('victim') };
      const off = encodePacket(common, { srcMac: src, dstMac: dst, compression: 1, transform: 1 }, pkt, 0);
      pkt.set(payload, off);
      env.net.inject({ family: 4, address: '203.0.113.66', port: 20000 + (i % 8) }, SN, pkt);
      if (i % BATCH === BATCH - 1) env.net.flush();
    }
    env.net.flush();
    expect(sn.stats.drops.unregistered).toBe(FORGED);
    expect(b.ofType(MsgType.PACKET)).toHaveLength(0);
    expect(sn.stats.broadcast).toBe(0);
    // The genuine edge's own PACKETs still pass.
    a.packet(0x02bbbbbbbbbb, payload);
    a.packet(0xffff_ffff_ffff, payload);
    env.net.flush();
    expect(b.ofType(MsgType.PACKET)).toHaveLength(2);
  });

  it(`one address registers at most ${NEW_EDGE_BURST} new MACs at once, then ${NEW_EDGES_PER_SECOND}/s; others are not held up`, async () => {
    const env = makeEnv();
    const sn = await startSn(env);
    const msg = registerSuper('victim');
    const attacker: SockAddr = { family: 4, address: '203.0.113.66', port: 20000 };
    const FORGED = 1000;
    for (let i = 0; i < FORGED; i++) {
      writeMac(msg, EDGE_MAC_OFF, 0x020000000000 + i + 1);
      msg.writeUInt32BE((0x0b000000 + i) >>> 0, EDGE_MAC_OFF + 6);
      env.net.inject(attacker, SN, msg);
      if (i % BATCH === BATCH - 1) env.net.flush();
    }
    env.net.flush();
    expect(sn.edgeCount).toBe(NEW_EDGE_BURST);
    expect(sn.stats.drops.new_edge_rate).toBe(FORGED - NEW_EDGE_BURST);
    // A genuine edge from another address registers at once.
    const legit = new WireEdge(env, '192.0.2.10', { community: 'victim', mac: 0x02aaaaaaaaaa });
    legit.registerSuper();
    env.net.flush();
    expect(legit.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    // A second later the attacker's address has earned a few tokens back, no more.
    advance(env, 1);
    for (let i = 0; i < 100; i++) {
      writeMac(msg, EDGE_MAC_OFF, 0x020000100000 + i);
      msg.writeUInt32BE((0x0c000000 + i) >>> 0, EDGE_MAC_OFF + 6);
      env.net.inject(attacker, SN, msg);
    }
    env.net.flush();
    expect(sn.edgeCount).toBe(NEW_EDGE_BURST + 1 + NEW_EDGES_PER_SECOND);
  });

  it('--new-edges-per-address sets the burst and rate (a site with many edges behind one NAT address)', async () => {
    const BURST = 300;
    const RATE = 50;
    const env = makeEnv();
    const sn = await startSn(env, { newEdgeBurst: BURST, newEdgesPerSecond: RATE });
    const msg = registerSuper('site');
    const nat: SockAddr = { family: 4, address: '198.51.100.7', port: 30000 };
    const send = (n: number, base: number): void => {
      for (let i = 0; i < n; i++) {
        writeMac(msg, EDGE_MAC_OFF, base + i);
        msg.writeUInt32BE((0x0d000000 + (base & 0xf00000) + i) >>> 0, EDGE_MAC_OFF + 6);
        env.net.inject({ ...nat, port: nat.port + (i % 1000) }, SN, msg);
        if (i % BATCH === BATCH - 1) env.net.flush();
      }
      env.net.flush();
    };
    send(BURST + 100, 0x020000200000);
    expect(sn.edgeCount).toBe(BURST);
    advance(env, 1);
    send(100, 0x020000300000);
    expect(sn.edgeCount).toBe(BURST + RATE);
  });

  it('the CLI refuses a malformed --new-edges-per-address with one line and a non-zero exit', () => {
    for (const bad of ['0', '10/0', 'x', '5/']) {
      const r = spawnSync(process.execPath, [CLI_MAIN, 'supernode', '--new-edges-per-address', bad], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('--new-edges-per-address');
    }
  });
});
