// Federation over IPv6: `-l [v6]:port` members, relayed registrations, PACKET and PEER_INFO across, and the
// supernode list of REGISTER_SUPER_ACK holding IPv6 members only for requesters on IPv6.
import { describe, expect, it } from 'vitest';
import { defaultSupernodeDeps } from '../../src/supernode/deps.js';
import type { Supernode } from '../../src/supernode/index.js';
import { parsePeerSpec } from '../../src/supernode/options.js';
import { Reader } from '../../src/util/bytes.js';
import type { SockAddr } from '../../src/util/ip.js';
import { readSnEntry, SN_ENTRY_AF_INET6, writeSnEntry } from '../../src/wire/messages.js';
import { MsgType, SN_ENTRY_BYTES } from '../../src/wire/types.js';
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

const SN1_V6 = '2001:db8::1';
const SN2_V6 = '2001:db8::2';
const SN3_IP = '198.51.100.3';
const SN1_MAC = 0x02_00_00_00_01_01;
const SN2_MAC = 0x02_00_00_00_02_02;
const SN3_MAC = 0x02_00_00_00_03_03;
const MAC_A6 = 0x02_00_00_00_00_a6;
const MAC_B6 = 0x02_00_00_00_00_b6;
const MAC_A4 = 0x02_00_00_00_00_a4;
const MAC_B4 = 0x02_00_00_00_00_b4;
const PAYLOAD = Uint8Array.from({ length: 40 }, (_, i) => i * 3);
/** The federation pass (10 s) and one more second for the answers. */
const SETTLE_SECONDS = 11;

/**
 * sn1 and sn2 on dual-stack sockets (IPv6 address, IPv4 alias), federated over IPv6 only: sn2 names sn1 with a
 * non-canonical text, which must still match the sender address sn1's datagrams arrive with. Optionally sn3,
 * an IPv4-only supernode that joins sn1 over IPv4 (as a 3.1.1 one would).
 */
async function fed6(
  withSn3 = false,
): Promise<{ env: Env; sn1: Supernode; sn2: Supernode; sn3: Supernode | undefined }> {
  const env = makeEnv();
  const sn1 = await startSn(env, { mac: SN1_MAC, peers: [`[${SN2_V6}]:${SN_PORT}`] }, SN1_V6);
  env.net.alias(SN_IP, SN_PORT, env.net.socketAt(SN1_V6, SN_PORT)!);
  const sn2 = await startSn(env, { mac: SN2_MAC, peers: [`[2001:DB8:0:0::1]:${SN_PORT}`] }, SN2_V6);
  env.net.alias(SN_IP2, SN_PORT, env.net.socketAt(SN2_V6, SN_PORT)!);
  const sn3 = withSn3
    ? await startSn(env, { mac: SN3_MAC, peers: [`${SN_IP}:${SN_PORT}`] }, SN3_IP)
    : undefined;
  advance(env, SETTLE_SECONDS);
  return { env, sn1, sn2, sn3 };
}

const at = (address: string): SockAddr => ({ family: address.includes(':') ? 6 : 4, address, port: SN_PORT });

/** One edge on each family at each supernode, registered (and relayed to the other supernode). */
function edges(env: Env) {
  const community = 'fed6';
  const a6 = new WireEdge(env, '2001:db8:a::1', {
    community,
    mac: MAC_A6,
    port: 41001,
    supernode: at(SN1_V6),
  });
  const b6 = new WireEdge(env, '2001:db8:b::1', {
    community,
    mac: MAC_B6,
    port: 41002,
    supernode: at(SN2_V6),
  });
  const a4 = new WireEdge(env, '192.0.2.41', { community, mac: MAC_A4, port: 41003, supernode: at(SN_IP) });
  const b4 = new WireEdge(env, '192.0.2.42', { community, mac: MAC_B4, port: 41004, supernode: at(SN_IP2) });
  for (const e of [a6, b6, a4, b4]) e.registerSuper();
  env.net.flush();
  return { a6, b6, a4, b4 };
}

function members(sn: Supernode): string[] {
  return [...sn.federation.edges.values()].map((p) => `${p.mac.toString(16)}@${p.addr?.address}`).sort();
}

function query(from: WireEdge, target: number): void {
  from.send({
    type: MsgType.QUERY_PEER,
    common: from.common(MsgType.QUERY_PEER),
    body: { srcMac: from.mac, targetMac: target, aflags: 0 },
  });
}

describe('federation over IPv6', () => {
  it('takes -l [ipv6]:port', () => {
    expect(parsePeerSpec(`[${SN2_V6}]:7655`)).toMatchObject({ host: SN2_V6, port: 7655 });
  });

  it('members given as IPv6 literals register with each other and learn their MACs', async () => {
    const { sn1, sn2 } = await fed6();
    expect(members(sn1)).toEqual([`${SN2_MAC.toString(16)}@${SN2_V6}`]);
    expect(members(sn2)).toEqual([`${SN1_MAC.toString(16)}@${SN1_V6}`]);
    for (const sn of [sn1, sn2]) {
      expect(sn.stats.drops.unknown_supernode).toBe(0);
      expect(sn.stats.drops.not_ipv4).toBe(0);
    }
  });

  it('relays registrations over IPv6, so PACKETs reach edges at the other supernode', async () => {
    const { env, sn1, sn2 } = await fed6();
    const { a6, b6, a4, b4 } = edges(env);
    const c1 = sn1.communityList().find((c) => c.name === 'fed6')!;
    const c2 = sn2.communityList().find((c) => c.name === 'fed6')!;
    for (const mac of [MAC_B6, MAC_B4]) expect(c1.assoc.get(mac)?.addr).toEqual(at(SN2_V6));
    for (const mac of [MAC_A6, MAC_A4]) expect(c2.assoc.get(mac)?.addr).toEqual(at(SN1_V6));
    for (const e of [a6, b6, a4, b4]) e.clear();
    a6.packet(MAC_B6, PAYLOAD);
    a4.packet(MAC_B4, PAYLOAD);
    a6.packet(MAC_B4, PAYLOAD);
    env.net.flush();
    const [p66] = b6.ofType(MsgType.PACKET);
    // An IPv6 sender's socket never enters the federation (the far edge may be 3.1.1).
    expect(p66.body.srcMac).toBe(MAC_A6);
    expect(p66.body.sock).toBeUndefined();
    expect(b6.received[0].from).toEqual(at(SN2_V6));
    expect(b6.received[0].raw.subarray(b6.received[0].raw.length - PAYLOAD.length)).toEqual(
      Buffer.from(PAYLOAD),
    );
    const to4 = b4.ofType(MsgType.PACKET);
    expect(to4.map((m) => m.body.srcMac)).toEqual([MAC_A4, MAC_A6]);
    expect(to4[0].body.sock).toEqual({ family: 4, port: 41003, address: '192.0.2.41' });
    expect(to4[1].body.sock).toBeUndefined();
    // and back, by broadcast too
    a6.clear();
    a4.clear();
    b6.packet(MAC_A6, PAYLOAD);
    b4.packet(0xff_ff_ff_ff_ff_ff, PAYLOAD);
    env.net.flush();
    expect(a6.ofType(MsgType.PACKET).map((m) => m.body.srcMac)).toEqual([MAC_B6, MAC_B4]);
    expect(a4.ofType(MsgType.PACKET).map((m) => m.body.srcMac)).toEqual([MAC_B4]);
  });

  it('answers queries across: IPv6 sockets only to the edge on IPv6', async () => {
    const { env } = await fed6();
    const { a6, a4 } = edges(env);
    a6.clear();
    a4.clear();
    query(a6, MAC_B6);
    query(a6, MAC_B4);
    query(a4, MAC_B6);
    query(a4, MAC_B4);
    env.net.flush();
    const to6 = a6.ofType(MsgType.PEER_INFO).map((m) => [m.body.mac, m.body.sock]);
    expect(to6).toEqual([
      [MAC_B6, { family: 6, port: 41002, address: '2001:db8:b::1' }],
      [MAC_B4, { family: 4, port: 41004, address: '192.0.2.42' }],
    ]);
    const to4 = a4.ofType(MsgType.PEER_INFO).map((m) => [m.body.mac, m.body.sock]);
    expect(to4).toEqual([[MAC_B4, { family: 4, port: 41004, address: '192.0.2.42' }]]);
  });

  it('lists an IPv6 member only to requesters on IPv6', async () => {
    const { env, sn1, sn3 } = await fed6(true);
    expect(members(sn1)).toEqual([`${SN2_MAC.toString(16)}@${SN2_V6}`, `${SN3_MAC.toString(16)}@${SN3_IP}`]);
    // A member on IPv4 (it may be 3.1.1) is not told of the one on IPv6.
    expect(members(sn3!)).toEqual([`${SN1_MAC.toString(16)}@${SN_IP}`]);
    const { a6, a4 } = edges(env);
    // The list starts at a random member: register a few times and look at every list.
    for (let i = 0; i < 7; i++) {
      a6.registerSuper();
      a4.registerSuper();
      env.net.flush();
    }
    const text = (s: { family: number; address: string; port: number }, mac: number): string =>
      `${s.family} [${s.address}]:${s.port} ${mac.toString(16)}`;
    const listed = (e: WireEdge): Set<string> =>
      new Set(
        e
          .ofType(MsgType.REGISTER_SUPER_ACK)
          .flatMap((m) => m.body.supernodes.map((s) => text(s.sock, s.mac))),
      );
    const v6Entry = text(at(SN2_V6), SN2_MAC);
    const v4Entry = text(at(SN3_IP), SN3_MAC);
    expect(listed(a6)).toEqual(new Set([v6Entry, v4Entry]));
    expect(listed(a4)).toEqual(new Set([v4Entry]));
  });
});

describe('resolving -l names (supernode/deps.ts)', () => {
  it('gives IPv4 when there is an A record, and an IPv6 literal as it is', async () => {
    const { resolve } = defaultSupernodeDeps();
    expect(await resolve('127.0.0.1')).toBe('127.0.0.1');
    expect(await resolve('localhost')).toBe('127.0.0.1');
    expect(await resolve('2001:db8::2')).toBe('2001:db8::2');
  });
});

describe('supernode list entries with IPv6', () => {
  it('writes the Linux AF_INET6 struct image and reads it back at an offset', () => {
    const b = new Uint8Array(3 + SN_ENTRY_BYTES);
    const entry = { sock: { family: 6 as const, port: 7654, address: '2001:db8::2' }, mac: SN2_MAC };
    expect(writeSnEntry(b, 3, entry)).toBe(3 + SN_ENTRY_BYTES);
    expect(b[3]).toBe(SN_ENTRY_AF_INET6);
    expect(Buffer.from(b.subarray(5, 7)).toString('hex')).toBe('e61d'); // port little-endian, as for IPv4
    expect(Buffer.from(b.subarray(7, 23)).toString('hex')).toBe('20010db8000000000000000000000002');
    const r = new Reader(b, 3);
    expect(readSnEntry(r)).toEqual(entry);
  });
});
