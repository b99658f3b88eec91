// Supernode with a community file: header encryption, replay stamps, patterns, user/password auth, reloads.
import { describe, expect, it } from 'vitest';
import { HeState } from '../../src/supernode/index.js';
import { binToAscii, dynamicKey, generatePublicKey, userPrivateKey } from '../../src/transform/auth.js';
import { HeaderKeyUsed } from '../../src/transform/header.js';
import { communityBytes } from '../../src/wire/common.js';
import { MsgType } from '../../src/wire/types.js';
import { advance, makeEnv, startSn, WireEdge } from './supernode-harness.js';

const MAC_A = 0x02_00_00_00_00_aa;
const MAC_B = 0x02_00_00_00_00_bb;
const MAC_C = 0x02_00_00_00_00_cc;
const LOGAN = 'nHWum+r42k1qDXdIeH-WFKeylK5UyLStRzxofRNAgpG';
const SISTER = binToAscii(generatePublicKey(userPrivateKey('sister', '007')));

const COMMUNITY_LIST = `#
# test communities
mynetwork
netleo
* logan ${LOGAN}
* sister ${SISTER}
ntop[0-1][0-9]
home 192.168.168.0/24
`;

async function setup(extra = {}) {
  const env = makeEnv();
  env.files['/etc/n2n/community.list'] = COMMUNITY_LIST;
  const sn = await startSn(env, { communityFile: '/etc/n2n/community.list', ...extra });
  return { env, sn };
}

const payload = Uint8Array.from({ length: 64 }, (_, i) => i * 3);

describe('community file', () => {
  it('loads fixed names (with subnets), users and patterns; the federation comes first', async () => {
    const { sn } = await setup();
    const list = sn.communityList();
    expect(list.map((c) => c.name)).toEqual(['*Federation', 'mynetwork', 'netleo', 'home']);
    expect(sn.patternList()).toEqual(['ntop[0-1][0-9]']);
    const home = list[3];
    expect([home.netAddr, home.netBits]).toEqual([0xc0a8a800, 24]);
    expect(list[1].netAddr >>> 0).toBe(0x0aa49400); // 10.164.148.0
    expect(list[2].he).toBe(HeState.ENABLED);
    expect(list[1].he).toBe(HeState.UNKNOWN);
    expect(sn.keyTime).toBe(sn.nowSec());
    expect(sn.communitiesLocked).toBe(true);
  });

  it('admits names that fully match a pattern and refuses everything else silently', async () => {
    const { env, sn } = await setup();
    const ok = new WireEdge(env, '10.1.0.1', { community: 'ntop15', mac: MAC_A });
    const no1 = new WireEdge(env, '10.1.0.2', { community: 'ntop25', mac: MAC_B });
    const no2 = new WireEdge(env, '10.1.0.3', { community: 'ntop1', mac: MAC_C });
    const no3 = new WireEdge(env, '10.1.0.4', { community: 'random', mac: MAC_C });
    for (const e of [ok, no1, no2, no3]) e.registerSuper();
    env.net.flush();
    expect(ok.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    for (const e of [no1, no2, no3]) expect(e.received).toHaveLength(0);
    expect(sn.stats.drops.not_allowed).toBe(3);
    const c = sn.communityList().find((x) => x.name === 'ntop15')!;
    expect(c.purgeable).toBe(true);
    expect(c.he).toBe(HeState.NONE);
  });

  it('fails start-up with a clear error for a missing or empty file', async () => {
    const env = makeEnv();
    await expect(startSn(env, { communityFile: '/nope' })).rejects.toThrow(/community file \/nope not found/);
    env.files['/empty'] = '# nothing\n\n';
    await expect(startSn(env, { communityFile: '/empty' })).rejects.toThrow(/no valid community/);
  });

  it('reload_communities replaces communities and drops their edges', async () => {
    const { env, sn } = await setup();
    const a = new WireEdge(env, '10.1.0.1', { community: 'home', mac: MAC_A });
    a.registerSuper();
    env.net.flush();
    expect(sn.edgeCount).toBe(1);
    env.files['/etc/n2n/community.list'] = 'other\n';
    advance(env, 5);
    expect(sn.reloadCommunities()).toBe(0);
    expect(sn.communityList().map((c) => c.name)).toEqual(['*Federation', 'other']);
    expect(sn.edgeCount).toBe(0);
    expect(sn.keyTime).toBe(sn.nowSec());
    env.files['/etc/n2n/community.list'] = '#\n';
    expect(sn.reloadCommunities()).toBe(-2);
    delete env.files['/etc/n2n/community.list'];
    expect(sn.reloadCommunities()).toBe(-1);
  });
});

describe('header encryption (-H)', () => {
  async function heEdges() {
    const { env, sn } = await setup();
    const a = new WireEdge(env, '10.2.0.1', { community: 'mynetwork', mac: MAC_A, he: true, port: 41001 });
    const b = new WireEdge(env, '10.2.0.2', { community: 'mynetwork', mac: MAC_B, he: true, port: 41002 });
    a.registerSuper();
    b.registerSuper();
    env.net.flush();
    return { env, sn, a, b };
  }

  it('registers encrypted edges, locks the community and relays re-encrypted PACKETs', async () => {
    const { env, sn, a, b } = await heEdges();
    const ack = a.received[0];
    expect(ack.keyUsed).toBe(HeaderKeyUsed.DYNAMIC); // static == dynamic without users
    expect(ack.msg?.type).toBe(MsgType.REGISTER_SUPER_ACK);
    expect(sn.communityList()[1].he).toBe(HeState.ENABLED);
    b.clear();
    a.packet(MAC_B, payload);
    env.net.flush();
    const [p] = b.ofType(MsgType.PACKET);
    expect(p.body.sock).toEqual({ family: 4, port: 41001, address: '10.2.0.1' });
    expect(b.received[0].raw.subarray(46)).toEqual(Buffer.from(payload));
    // The relayed header carries the supernode's own fresh stamp.
    expect(b.received[0].stamp.hi).toBe(sn.nowSec());
  });

  it('drops a plaintext datagram for a community locked to encryption (no downgrade)', async () => {
    const { env, sn, b } = await heEdges();
    const plain = new WireEdge(env, '10.2.0.9', { community: 'mynetwork', mac: MAC_C });
    plain.registerSuper();
    plain.packet(MAC_B, payload);
    b.clear();
    env.net.flush();
    expect(plain.received).toHaveLength(0);
    expect(b.received).toHaveLength(0);
    expect(sn.stats.drops.plaintext).toBe(2);
  });

  it('drops datagrams under a key it does not have (wrong community key)', async () => {
    const { env, sn } = await heEdges();
    const wrong = new WireEdge(env, '10.2.0.8', { community: 'notlisted', mac: MAC_C, he: true });
    wrong.registerSuper();
    env.net.flush();
    expect(wrong.received).toHaveLength(0);
    expect(sn.stats.drops.no_key).toBe(1);
  });

  it('drops replayed datagrams and stamps outside ±16 s', async () => {
    const { env, sn, a, b } = await heEdges();
    // Registrations are checked without jitter: an exact replay is refused at once.
    const reg = a.send({
      type: MsgType.REGISTER_SUPER,
      common: a.common(MsgType.REGISTER_SUPER),
      body: a.registerSuperBody(),
    });
    env.net.flush();
    a.clear();
    a.sendRaw(reg);
    env.net.flush();
    expect(a.received).toHaveLength(0);
    expect(sn.stats.drops.stamp).toBe(1);
    // PACKETs get 160 ms of jitter: a replay fails once a newer stamp from the sender was seen.
    b.clear();
    const p1 = a.packet(MAC_B, payload);
    env.net.flush();
    advance(env, 1);
    a.packet(MAC_B, payload);
    env.net.flush();
    a.sendRaw(p1);
    env.net.flush();
    expect(b.ofType(MsgType.PACKET)).toHaveLength(2);
    expect(sn.stats.drops.stamp).toBe(2);
    const now = sn.nowSec();
    a.packet(MAC_B, payload, { stamp: { hi: now - 20, lo: 0 } });
    a.packet(MAC_B, payload, { stamp: { hi: now + 20, lo: 0 } });
    env.net.flush();
    expect(sn.stats.drops.stamp).toBe(4);
    expect(b.ofType(MsgType.PACKET)).toHaveLength(2);
    // Stale stamps from a peer whose clock is off by more than 16 s are refused even for a new edge.
    const skewed = new WireEdge(env, '10.2.0.7', { community: 'mynetwork', mac: MAC_C, he: true });
    const body = skewed.registerSuperBody();
    skewed.send(
      { type: MsgType.REGISTER_SUPER, common: skewed.common(MsgType.REGISTER_SUPER), body },
      { stamp: { hi: now - 17, lo: 0 } },
    );
    env.net.flush();
    expect(skewed.received).toHaveLength(0);
    expect(sn.stats.drops.stamp).toBe(5);
  });

  it('serves plaintext and encrypted communities side by side', async () => {
    const { env, sn, a } = await heEdges();
    const p1 = new WireEdge(env, '10.3.0.1', { community: 'home', mac: MAC_A });
    const p2 = new WireEdge(env, '10.3.0.2', { community: 'home', mac: MAC_B });
    p1.registerSuper();
    p2.registerSuper();
    env.net.flush();
    expect(sn.communityList().find((c) => c.name === 'home')?.he).toBe(HeState.NONE);
    p2.clear();
    p1.packet(MAC_B, payload);
    a.packet(MAC_B, payload);
    env.net.flush();
    expect(p2.ofType(MsgType.PACKET)).toHaveLength(1);
    // Once plaintext, encrypted datagrams for it are not even tried.
    const enc = new WireEdge(env, '10.3.0.3', { community: 'home', mac: MAC_C, he: true });
    enc.registerSuper();
    env.net.flush();
    expect(enc.received).toHaveLength(0);
    expect(sn.stats.drops.no_key).toBe(1);
  });
});

describe('user/password (scheme 2)', () => {
  async function users() {
    const { env, sn } = await setup();
    const a = new WireEdge(env, '10.4.0.1', {
      community: 'netleo',
      mac: MAC_A,
      user: { name: 'logan', password: '007' },
      port: 42001,
    });
    const b = new WireEdge(env, '10.4.0.2', {
      community: 'netleo',
      mac: MAC_B,
      user: { name: 'sister', password: '007' },
      port: 42002,
    });
    a.registerSuper();
    b.registerSuper();
    env.net.flush();
    return { env, sn, a, b };
  }

  it('answers with a token that hands over the community dynamic key', async () => {
    const { sn, a } = await users();
    const [ack] = a.ofType(MsgType.REGISTER_SUPER_ACK);
    expect(a.received[0].keyUsed).toBe(HeaderKeyUsed.STATIC);
    expect(ack.body.auth.scheme).toBe(2);
    expect(ack.body.auth.token.length).toBe(48);
    // 58-byte ACK + 48-byte token + 16-byte trailer
    expect(a.received[0].raw.length).toBe(58 + 48 + 16);
    const dk = dynamicKey(sn.keyTime, communityBytes('netleo'), communityBytes('*Federation'));
    expect(Buffer.from(sn.communityList()[2].dynamicKey!)).toEqual(Buffer.from(dk));
    expect(sn.edgeCount).toBe(2);
  });

  it('relays PACKETs under the dynamic key (IV inside hl) and refuses static-key ones', async () => {
    const { env, sn, a, b } = await users();
    b.clear();
    a.packet(MAC_B, payload);
    env.net.flush();
    expect(b.ofType(MsgType.PACKET)).toHaveLength(1);
    expect(b.received[0].keyUsed).toBe(HeaderKeyUsed.DYNAMIC);
    expect(b.received[0].raw.subarray(46 + 16)).toEqual(Buffer.from(payload.subarray(16)));
    a.packet(MAC_B, payload, { key: 'static' });
    env.net.flush();
    expect(sn.stats.drops.static_key).toBe(1);
  });

  it('a wrong password gets a NAK (static key, 16 junk bytes) and no registration', async () => {
    const { env, sn } = await users();
    const bad = new WireEdge(env, '10.4.0.9', {
      community: 'netleo',
      mac: MAC_C,
      user: { name: 'logan', password: 'wrong' },
    });
    bad.registerSuper();
    env.net.flush();
    const naks = bad.ofType(MsgType.REGISTER_SUPER_NAK);
    expect(naks).toHaveLength(1);
    expect(bad.received[0].raw.length).toBe(38 + 16);
    expect(sn.edgeCount).toBe(2);
    expect(sn.stats.regSuperNak).toBe(1);
  });

  it('drops a registration whose trailer does not verify', async () => {
    const { env, sn } = await users();
    const c = new WireEdge(env, '10.4.0.7', {
      community: 'netleo',
      mac: MAC_C,
      user: { name: 'logan', password: '007' },
    });
    const b = c.encode({
      type: MsgType.REGISTER_SUPER,
      common: c.common(MsgType.REGISTER_SUPER),
      body: c.registerSuperBody(),
    });
    b[b.length - 1] ^= 1;
    c.sendRaw(b);
    env.net.flush();
    expect(c.received).toHaveLength(0);
    expect(sn.stats.drops.trailer).toBe(1);
  });

  it('refuses a scheme-1 edge in a user community', async () => {
    const { env, sn } = await users();
    const c = new WireEdge(env, '10.4.0.6', { community: 'netleo', mac: MAC_C, he: true });
    c.registerSuper();
    env.net.flush();
    // Without a trailer the static attempt over n-16 fails, and the dynamic key is unknown to it.
    expect(c.received).toHaveLength(0);
    expect(sn.stats.drops.no_key).toBe(1);
  });

  it('sends RE_REGISTER_SUPER under the old dynamic key before a reload', async () => {
    const { env, sn, a } = await users();
    const oldKeyTime = sn.keyTime;
    a.clear();
    advance(env, 3);
    expect(sn.reloadCommunities()).toBe(0);
    env.net.flush();
    const rereg = a.received.filter((r) => r.msg?.type === MsgType.RE_REGISTER_SUPER);
    expect(rereg).toHaveLength(1);
    expect(rereg[0].keyUsed).toBe(HeaderKeyUsed.DYNAMIC);
    expect(rereg[0].raw.length).toBe(24);
    expect(sn.keyTime).toBe(oldKeyTime + 3);
    expect(sn.edgeCount).toBe(0);
  });
});
