// Federation in memory: supernodes registering with each other, relayed registrations, forwarding, queries.
import { describe, expect, it } from 'vitest';
import type { Supernode } from '../../src/supernode/index.js';
import { decryptHeader, staticHeaderKeys } from '../../src/transform/header.js';
import { NULL_MAC } from '../../src/util/mac.js';
import { communityBytes } from '../../src/wire/common.js';
import { decodeMessage } from '../../src/wire/messages.js';
import { MsgType } from '../../src/wire/types.js';
import {
  advance,
  type Env,
  makeEnv,
  SN_IP,
  SN_IP2,
  SN_PORT,
  startSn,
  WireEdge,
} from './supernode-harness.js';

const MAC_A = 0x02_00_00_00_00_aa;
const MAC_B = 0x02_00_00_00_00_bb;
const SN1_MAC = 0x02_00_00_00_01_01;
const SN2_MAC = 0x02_00_00_00_02_02;
const SN3_IP = '198.51.100.3';

const payload = Uint8Array.from({ length: 80 }, (_, i) => 255 - i);

async function pair(
  opts: { he?: boolean; federation?: string; federation2?: string; keyName?: string } = {},
) {
  const env = makeEnv();
  if (opts.he) env.files['/c.list'] = 'mynetwork\n';
  const common = { ...(opts.he ? { communityFile: '/c.list' } : {}), federationKeyName: opts.keyName };
  const sn1 = await startSn(
    env,
    { ...common, mac: SN1_MAC, federation: opts.federation ?? 'secretFed', peers: [`${SN_IP2}:${SN_PORT}`] },
    SN_IP,
  );
  const sn2 = await startSn(
    env,
    {
      ...common,
      mac: SN2_MAC,
      federation: opts.federation2 ?? opts.federation ?? 'secretFed',
      peers: [`${SN_IP}:${SN_PORT}`],
    },
    SN_IP2,
  );
  advance(env, 11);
  return { env, sn1, sn2 };
}

function edges(env: Env, he = false) {
  const community = he ? 'mynetwork' : 'fedtest';
  const a = new WireEdge(env, '10.5.0.1', { community, mac: MAC_A, he, port: 43001 });
  const b = new WireEdge(env, '10.6.0.1', {
    community,
    mac: MAC_B,
    he,
    port: 43002,
    supernode: { family: 4, address: SN_IP2, port: SN_PORT },
  });
  a.registerSuper();
  b.registerSuper();
  env.net.flush();
  return { a, b };
}

function members(sn: Supernode): string[] {
  return [...sn.federation.edges.values()].map((p) => `${p.mac.toString(16)}@${p.addr?.address}`).sort();
}

describe('federation', () => {
  it('supernodes given with -l register with each other and learn their MACs', async () => {
    const { sn1, sn2 } = await pair();
    expect(members(sn1)).toEqual([`${SN2_MAC.toString(16)}@${SN_IP2}`]);
    expect(members(sn2)).toEqual([`${SN1_MAC.toString(16)}@${SN_IP}`]);
    const p = [...sn1.federation.edges.values()][0];
    expect(p.purgeable).toBe(false);
    expect(p.lastSeen).toBeGreaterThan(0);
  });

  for (const he of [false, true]) {
    describe(he ? 'with -H' : 'plain', () => {
      it('edges learn the other supernode from the ACK list', async () => {
        const { env } = await pair({ he });
        const { a } = edges(env, he);
        const [ack] = a.ofType(MsgType.REGISTER_SUPER_ACK);
        expect(ack.body.supernodes).toEqual([
          { sock: { family: 4, address: SN_IP2, port: SN_PORT }, mac: SN2_MAC },
        ]);
      });

      it('relays registrations, so a PACKET reaches an edge at the other supernode', async () => {
        const { env, sn1, sn2 } = await pair({ he });
        const { a, b } = edges(env, he);
        const c1 = sn1.communityList().find((c) => c.name !== sn1.federation.name)!;
        const c2 = sn2.communityList().find((c) => c.name !== sn2.federation.name)!;
        expect(c1.assoc.get(MAC_B)?.addr.address).toBe(SN_IP2);
        expect(c2.assoc.get(MAC_A)?.addr.address).toBe(SN_IP);
        expect(sn1.edgeCount).toBe(1);
        expect(sn2.edgeCount).toBe(1);
        b.clear();
        a.packet(MAC_B, payload);
        env.net.flush();
        const [p] = b.ofType(MsgType.PACKET);
        expect(p.body.sock).toEqual({ family: 4, port: 43001, address: '10.5.0.1' });
        expect(b.received[0].from.address).toBe(SN_IP2);
        expect(b.received[0].raw.subarray(46)).toEqual(Buffer.from(payload));
        // and back
        a.clear();
        b.packet(MAC_A, payload);
        env.net.flush();
        expect(a.ofType(MsgType.PACKET)).toHaveLength(1);
      });

      it('broadcasts cross the federation once', async () => {
        const { env } = await pair({ he });
        const { a, b } = edges(env, he);
        b.clear();
        a.packet(0xffff_ffff_ffff, payload);
        env.net.flush();
        expect(b.ofType(MsgType.PACKET)).toHaveLength(1);
        expect(a.ofType(MsgType.PACKET)).toHaveLength(0);
      });

      it('answers QUERY_PEER for a remote edge through the other supernode', async () => {
        const { env } = await pair({ he });
        const { a } = edges(env, he);
        a.clear();
        a.send({
          type: MsgType.QUERY_PEER,
          common: a.common(MsgType.QUERY_PEER),
          body: { srcMac: MAC_A, targetMac: MAC_B, aflags: 0 },
        });
        env.net.flush();
        const [pi] = a.ofType(MsgType.PEER_INFO);
        expect(pi.body.srcMac).toBe(MAC_A);
        expect(pi.body.mac).toBe(MAC_B);
        expect(pi.body.sock).toEqual({ family: 4, port: 43002, address: '10.6.0.1' });
        expect(a.received[0].from.address).toBe(SN_IP);
      });
    });
  }

  it('an edge that moves to the other supernode is dropped locally and associated there', async () => {
    const { env, sn1, sn2 } = await pair();
    const { a } = edges(env);
    expect(sn1.edgeCount).toBe(1);
    a.supernode = { family: 4, address: SN_IP2, port: SN_PORT };
    a.registerSuper();
    env.net.flush();
    expect(sn2.edgeCount).toBe(2);
    expect(sn1.edgeCount).toBe(0);
    const c1 = sn1.communityList().find((c) => c.name === 'fedtest')!;
    expect(c1.assoc.get(MAC_A)?.addr.address).toBe(SN_IP2);
  });

  it('a MAC registered at one supernode cannot be taken over at another: the NAK travels back', async () => {
    const { env, sn1, sn2 } = await pair();
    const { a } = edges(env);
    const thief = new WireEdge(env, '10.66.0.1', {
      community: 'fedtest',
      mac: MAC_A,
      port: 43099,
      supernode: { family: 4, address: SN_IP2, port: SN_PORT },
    });
    thief.registerSuper();
    env.net.flush();
    // sn2 first accepted it (unknown there), relayed it, sn1 refused it with a NAK that sn2 forwarded.
    expect(thief.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    expect(thief.ofType(MsgType.REGISTER_SUPER_NAK)).toHaveLength(1);
    expect(sn1.stats.regSuperNak).toBe(1);
    const c2 = sn2.communityList().find((c) => c.name === 'fedtest')!;
    expect(c2.edges.has(MAC_A)).toBe(false);
    const c1 = sn1.communityList().find((c) => c.name === 'fedtest')!;
    expect(c1.edges.get(MAC_A)?.addr?.address).toBe('10.5.0.1');
    void a;
  });

  it('derives federation header keys from *Federation whatever -F says (the C quirk)', async () => {
    const env = makeEnv();
    const seen: Buffer[] = [];
    env.net.observe((d) => {
      if (d.to.address === SN_IP2) seen.push(Buffer.from(d.data));
    });
    await startSn(env, { mac: SN1_MAC, federation: 'secretFed', peers: [`${SN_IP2}:${SN_PORT}`] }, SN_IP);
    expect(seen).toHaveLength(1);
    const field = communityBytes('*secretFed');
    const stamp = { hi: 0, lo: 0 };
    expect(
      decryptHeader(
        Buffer.from(seen[0]),
        0,
        seen[0].length,
        staticHeaderKeys(communityBytes('*secretFed')),
        field,
        stamp,
      ),
    ).toBe(false);
    const buf = Buffer.from(seen[0]);
    expect(
      decryptHeader(buf, 0, buf.length, staticHeaderKeys(communityBytes('*Federation')), field, stamp),
    ).toBe(true);
    const m = decodeMessage(buf);
    expect(m.type).toBe(MsgType.REGISTER_SUPER);
    if (m.type !== MsgType.REGISTER_SUPER) return;
    expect(m.common.flags).toBe(0x20);
    expect(m.body.edgeMac).toBe(SN1_MAC);
    expect(m.body.auth.scheme).toBe(1);
    expect(m.body.auth.token.length).toBe(16);
    expect(buf.length).toBe(79);
  });

  it('federationKeyName selects N2N_FEDERATION-style keys; both sides must agree', async () => {
    const ok = await pair({ keyName: 'secretFed' });
    expect(members(ok.sn1)).toHaveLength(1);
    expect(ok.sn1.federation.edges.values().next().value?.mac).toBe(SN2_MAC);
    const mismatch = await pair({ federation: 'fedA', federation2: 'fedB' });
    const p = [...mismatch.sn1.federation.edges.values()][0];
    expect(p.mac).toBe(NULL_MAC);
    expect(mismatch.sn2.stats.drops.no_key).toBeGreaterThan(0);
  });

  it('learns further supernodes from ACK lists and purges learned ones after 90 s', async () => {
    const env = makeEnv();
    const sn2 = await startSn(env, { mac: SN2_MAC }, SN_IP2);
    const sn1 = await startSn(env, { mac: SN1_MAC, peers: [`${SN_IP2}:${SN_PORT}`] }, SN_IP);
    advance(env, 1);
    const sn3 = await startSn(env, { mac: 0x020000000303, peers: [`${SN_IP2}:${SN_PORT}`] }, SN3_IP);
    advance(env, 25);
    expect(members(sn1)).toContain(`20000000303@${SN3_IP}`);
    expect(members(sn3)).toContain(`${SN1_MAC.toString(16)}@${SN_IP}`);
    expect(sn2.federation.edges.size).toBe(2);
    await sn3.stop();
    advance(env, 120);
    expect(members(sn1)).toEqual([`${SN2_MAC.toString(16)}@${SN_IP2}`]);
  });

  it('adopts a larger key time from the federation', async () => {
    const env = makeEnv();
    env.files['/c.list'] = 'mynetwork\n';
    const sn1 = await startSn(
      env,
      { mac: SN1_MAC, communityFile: '/c.list', peers: [`${SN_IP2}:${SN_PORT}`] },
      SN_IP,
    );
    advance(env, 5);
    const sn2 = await startSn(
      env,
      { mac: SN2_MAC, communityFile: '/c.list', peers: [`${SN_IP}:${SN_PORT}`] },
      SN_IP2,
    );
    advance(env, 1);
    expect(sn2.keyTime).toBeGreaterThan(sn1.keyTime - 1);
    expect(sn1.keyTime).toBe(sn2.keyTime);
  });
});
