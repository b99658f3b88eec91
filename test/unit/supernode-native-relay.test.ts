// The supernode's native relay (native/src/snrelay.cc, supernode/fastrelay.ts) over real loopback UDP: taught edge pairs are relayed byte for byte as the JS path does, everything else stays on it.
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { packetStatRows } from '../../src/management/supernode.js';
import { HeaderSealer } from '../../src/peer/seal.js';
import { Supernode } from '../../src/supernode/supernode.js';
import {
  decryptHeaderTryKeys,
  HeaderInfo,
  type HeaderKeys,
  HeaderKeyUsed,
  staticHeaderKeys,
} from '../../src/transform/header.js';
import { StampGenerator } from '../../src/transform/stamp.js';
import { SystemClock } from '../../src/util/clock.js';
import { ipv4ToNumber } from '../../src/util/ip.js';
import { SystemRandom } from '../../src/util/random.js';
import { communityBytes } from '../../src/wire/common.js';
import { encodeQueryPeer, encodeRegisterSuper, encodeUnregisterSuper } from '../../src/wire/messages.js';
import { writePacketHeader } from '../../src/wire/packet.js';
import { writeSockIpv4 } from '../../src/wire/sock.js';
import {
  AuthScheme,
  CompressionId,
  Flags,
  MsgType,
  N2N_DEFAULT_TTL,
  TransformId,
} from '../../src/wire/types.js';

const HOST = '127.0.0.1';
const COMMUNITY = 'fastnet';
const FIELD = communityBytes(COMMUNITY);
const HE_COMMUNITY = 'fastneth';
const HE_FIELD = communityBytes(HE_COMMUNITY);
/** StampGenerator.verify's jitter allowance (spec §6, TIME_STAMP_JITTER: 160 ms) with room. */
const PAST_JITTER_MS = 250;
const MAC_A = 0x02_0a_00_00_00_01;
const MAC_B = 0x02_0a_00_00_00_02;
const MAC_C = 0x02_0a_00_00_00_03;
const BROADCAST = 0xff_ff_ff_ff_ff_ff;
const DEV_A = 0x0a_0a_00_01;
const DEV_B = 0x0a_0a_00_02;
const TOKEN_BYTES = 16;
const PAYLOAD_BYTES = 100;
/** How long a datagram that should not arrive is waited for. */
const SILENCE_MS = 150;
const ARRIVAL_MS = 2000;
const NATIVE_RX = 0;
const NATIVE_FWD = 1;
/** io/snrelay.ts SN_RELAY_HE_OPENED_WORD: the first -H community's count. */
const NATIVE_HE_OPENED = 4;
/** Sealed PACKETs sent back to back in the burst test. */
const BURST = 24;
/** A relayed PACKET's header: the common part, the MACs, the sender's IPv4 sock, compression and transform. */
const RELAYED_HEADER_BYTES = 46;

/** A wire-level edge: a UDP socket and what it received. */
class WireEdge {
  readonly socket: Socket;
  readonly got: Buffer[] = [];
  private waiter: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (m) => {
      this.got.push(m);
      this.waiter?.();
    });
  }

  static async open(): Promise<WireEdge> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, HOST, r));
    return new WireEdge(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(b: Uint8Array, port: number): void {
    this.socket.send(b, port, HOST);
  }

  /** The next datagram, or undefined if none comes within `ms`. */
  async next(ms: number): Promise<Buffer | undefined> {
    if (this.got.length === 0) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, ms);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = undefined;
    }
    return this.got.shift();
  }

  close(): void {
    this.socket.close();
  }
}

function registerSuper(mac: number, dev: number, token: number, field = FIELD): Uint8Array {
  const b = new Uint8Array(256);
  const n = encodeRegisterSuper(
    { ttl: N2N_DEFAULT_TTL, type: MsgType.REGISTER_SUPER, flags: 0, community: field },
    {
      cookie: token,
      edgeMac: mac,
      devAddr: { addr: dev, bitlen: 24 },
      desc: new Uint8Array(16),
      auth: { scheme: AuthScheme.ID, token: new Uint8Array(TOKEN_BYTES).fill(token) },
      keyTime: 0,
    },
    b,
    0,
  );
  return b.subarray(0, n);
}

function unregisterSuper(mac: number, token: number): Uint8Array {
  const b = new Uint8Array(128);
  const n = encodeUnregisterSuper(
    { ttl: N2N_DEFAULT_TTL, type: MsgType.UNREGISTER_SUPER, flags: 0, community: FIELD },
    { auth: { scheme: AuthScheme.ID, token: new Uint8Array(TOKEN_BYTES).fill(token) }, srcMac: mac },
    b,
    0,
  );
  return b.subarray(0, n);
}

/** A PACKET as an edge sends it to the supernode (flags and TTL as given), with a payload made from `seed`. */
function packet(
  src: number,
  dst: number,
  seed: number,
  opts: { ttl?: number; flags?: number; field?: Uint8Array } = {},
): Uint8Array {
  const b = new Uint8Array(64 + PAYLOAD_BYTES);
  const hdr = writePacketHeader(
    b,
    0,
    opts.ttl ?? N2N_DEFAULT_TTL,
    opts.flags ?? 0,
    opts.field ?? FIELD,
    src,
    dst,
    undefined,
    CompressionId.NONE,
    TransformId.AES,
  );
  for (let i = 0; i < PAYLOAD_BYTES; i++) b[hdr + i] = (seed + i * 7) & 0xff;
  return b.subarray(0, hdr + PAYLOAD_BYTES);
}

/** What relay.ts makes of `p` from the edge at 127.0.0.1:`port` (spec §4.3: FROM_SUPERNODE|SOCKET, the sock). */
function relayedForm(p: Uint8Array, port: number): Uint8Array {
  const sock = new Uint8Array(8);
  writeSockIpv4(sock, 0, ipv4ToNumber(HOST), port);
  const out = new Uint8Array(p.length + sock.length);
  out.set(p.subarray(0, 36), 0);
  out[1] = p[1] - 1;
  out[3] = Flags.FROM_SUPERNODE | Flags.SOCKET | MsgType.PACKET;
  out.set(sock, 36);
  out.set(p.subarray(36), 44);
  return out;
}

/** An edge's header sealing (-H, static keys of HE_COMMUNITY, stamps on the system clock). */
class Sealer {
  readonly keys: HeaderKeys = staticHeaderKeys(HE_FIELD);
  private readonly sealer = new HeaderSealer(new StampGenerator(new SystemClock()), new SystemRandom());

  /** A sealed copy of `b` whose header is its first `hl` bytes. */
  seal(b: Uint8Array, hl = b.length): Uint8Array {
    const out = Buffer.from(b);
    this.sealer.seal(out, 0, out.length, this.keys, hl);
    return out;
  }

  /** The header length the last datagram opened was sealed with. */
  lastHl = 0;

  /** The opened copy of a datagram from the supernode, or undefined. */
  open(m: Buffer | undefined): Uint8Array | undefined {
    if (m === undefined) return undefined;
    const b = new Uint8Array(m);
    const info = new HeaderInfo();
    const used = decryptHeaderTryKeys(b, 0, b.length, this.keys, this.keys, HE_FIELD, info);
    this.lastHl = info.hl;
    return used === HeaderKeyUsed.NONE ? undefined : b;
  }
}

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(): Promise<{ sn: Supernode; a: WireEdge; b: WireEdge; port: number }> {
  const sn = new Supernode({ port: 0, bindAddress: HOST, tcp: false });
  await sn.start();
  cleanup.push(() => sn.stop());
  const port = sn.address!.port;
  const a = await WireEdge.open();
  const b = await WireEdge.open();
  cleanup.push(
    () => a.close(),
    () => b.close(),
  );
  a.send(registerSuper(MAC_A, DEV_A, 1), port);
  b.send(registerSuper(MAC_B, DEV_B, 2), port);
  for (const e of [a, b]) {
    const ack = await e.next(ARRIVAL_MS);
    expect(ack?.[3] && ack[3] & Flags.TYPE_MASK).toBe(MsgType.REGISTER_SUPER_ACK);
  }
  return { sn, a, b, port };
}

/** A supernode with the -H community HE_COMMUNITY and edges a, b registered in it, each with its sealer. */
async function startHe(): Promise<{
  sn: Supernode;
  port: number;
  native: Float64Array;
  a: WireEdge;
  b: WireEdge;
  sa: Sealer;
  sb: Sealer;
}> {
  const sn = new Supernode(
    { port: 0, bindAddress: HOST, tcp: false, communityFile: '/c.list' },
    { readTextFile: () => `${HE_COMMUNITY}\n` },
  );
  await sn.start();
  cleanup.push(() => sn.stop());
  const port = sn.address!.port;
  const native = sn.stats.native!;
  const a = await WireEdge.open();
  const b = await WireEdge.open();
  cleanup.push(
    () => a.close(),
    () => b.close(),
  );
  const sa = new Sealer();
  const sb = new Sealer();
  a.send(sa.seal(registerSuper(MAC_A, DEV_A, 1, HE_FIELD)), port);
  b.send(sb.seal(registerSuper(MAC_B, DEV_B, 2, HE_FIELD)), port);
  for (const [e, k] of [
    [a, sa],
    [b, sb],
  ] as const) {
    const ack = k.open(await e.next(ARRIVAL_MS));
    expect(ack?.[3] && ack[3] & Flags.TYPE_MASK).toBe(MsgType.REGISTER_SUPER_ACK);
  }
  return { sn, port, native, a, b, sa, sb };
}

describe('supernode native relay', () => {
  it('repeats a route the JS path took, byte for byte, and counts it in the supernode stats', async () => {
    const { sn, a, b, port } = await setup();
    const native = sn.stats.native;
    expect(native, 'the native relay is on with the default deps').toBeDefined();
    const p = packet(MAC_A, MAC_B, 1);
    a.send(p, port);
    const first = await b.next(ARRIVAL_MS);
    expect(first, 'the JS path relays it').toBeDefined();
    expect(new Uint8Array(first!)).toEqual(relayedForm(p, a.port));
    expect(native![NATIVE_RX]).toBe(0);
    const fwd0 = sn.stats.fwd;
    const rx0 = sn.stats.rx;
    a.send(p, port);
    const second = await b.next(ARRIVAL_MS);
    expect(new Uint8Array(second!)).toEqual(new Uint8Array(first!));
    expect(native![NATIVE_RX]).toBe(1);
    // Both directions, a run of them, one TTL from the end.
    for (let i = 0; i < 20; i++) b.send(packet(MAC_B, MAC_A, 100 + i, { ttl: 1 }), port);
    const back: Buffer[] = [];
    for (let i = 0; i < 20; i++) back.push((await a.next(ARRIVAL_MS))!);
    // B → A was never relayed by JS before, but teaching A → B taught both edges.
    expect(native![NATIVE_RX]).toBe(21);
    expect(back.map((m) => new Uint8Array(m))).toEqual(
      Array.from({ length: 20 }, (_, i) => relayedForm(packet(MAC_B, MAC_A, 100 + i, { ttl: 1 }), b.port)),
    );
    expect(sn.stats.fwd - fwd0).toBe(21);
    expect(sn.stats.rx - rx0).toBe(21);
    expect(sn.stats.lastFwd).toBeGreaterThanOrEqual(sn.nowSec() - 1);
    // Management shows the native part of `forward`.
    expect(packetStatRows(sn).find((r) => r.type === 'native_relay')).toEqual({
      type: 'native_relay',
      tx_pkt: 21,
    });
    // The counts stay once the relay is gone.
    const fwd = sn.stats.fwd;
    await sn.stop();
    expect(sn.stats.native).toBeUndefined();
    expect(sn.stats.fwd).toBe(fwd);
    expect(sn.stats.nativeFwd).toBe(21);
  });

  it('leaves to JS what it was not taught: another socket, a broadcast, an unknown MAC, flags, TTL 0', async () => {
    const { sn, a, b, port } = await setup();
    const native = sn.stats.native!;
    a.send(packet(MAC_A, MAC_B, 1), port);
    expect(await b.next(ARRIVAL_MS)).toBeDefined();
    const stranger = await WireEdge.open();
    cleanup.push(() => stranger.close());
    const drops = { ...sn.stats.drops };
    // A's MAC from a socket it did not register from: refused by JS (issue 13), never relayed.
    stranger.send(packet(MAC_A, MAC_B, 2), port);
    expect(await b.next(SILENCE_MS)).toBeUndefined();
    expect(sn.stats.drops.unregistered - drops.unregistered).toBe(1);
    // A broadcast: the JS path sends it to every other edge.
    const bc = packet(MAC_A, BROADCAST, 3);
    a.send(bc, port);
    expect(new Uint8Array((await b.next(ARRIVAL_MS))!)).toEqual(relayedForm(bc, a.port));
    // An unknown destination (the federation's business) and TTL 0: nothing arrives.
    a.send(packet(MAC_A, MAC_C, 4), port);
    a.send(packet(MAC_A, MAC_B, 5, { ttl: 0 }), port);
    expect(await b.next(SILENCE_MS)).toBeUndefined();
    expect(sn.stats.drops.ttl - drops.ttl).toBe(1);
    // Any flag but the type (here FROM_SUPERNODE from an edge's socket): not the plain edge PACKET it knows.
    a.send(packet(MAC_A, MAC_B, 6, { flags: Flags.FROM_SUPERNODE }), port);
    expect(await b.next(SILENCE_MS)).toBeUndefined();
    expect(native[NATIVE_RX]).toBe(0);
    expect(native[NATIVE_FWD]).toBe(0);
    // The taught route itself still goes natively.
    a.send(packet(MAC_A, MAC_B, 7), port);
    expect(await b.next(ARRIVAL_MS)).toBeDefined();
    expect(native[NATIVE_RX]).toBe(1);
  });

  it('forgets every route when an edge moves or leaves', async () => {
    const { sn, a, b, port } = await setup();
    const native = sn.stats.native!;
    // One at a time: in one receive batch, the first one's trip through JS would take the second along.
    a.send(packet(MAC_A, MAC_B, 1), port);
    expect(await b.next(ARRIVAL_MS)).toBeDefined();
    a.send(packet(MAC_A, MAC_B, 2), port);
    expect(await b.next(ARRIVAL_MS)).toBeDefined();
    expect(native[NATIVE_RX]).toBe(1);
    // A moves to a new socket: its old one is a stranger's now, for the native side too.
    const a2 = await WireEdge.open();
    cleanup.push(() => a2.close());
    a2.send(registerSuper(MAC_A, DEV_A, 1), port);
    expect(await a2.next(ARRIVAL_MS)).toBeDefined();
    a.send(packet(MAC_A, MAC_B, 3), port);
    expect(await b.next(SILENCE_MS)).toBeUndefined();
    const p = packet(MAC_A, MAC_B, 4);
    a2.send(p, port);
    expect(new Uint8Array((await b.next(ARRIVAL_MS))!)).toEqual(relayedForm(p, a2.port));
    a2.send(p, port);
    expect(new Uint8Array((await b.next(ARRIVAL_MS))!)).toEqual(relayedForm(p, a2.port));
    expect(native[NATIVE_RX]).toBe(2);
    // B leaves: nothing reaches its socket any more.
    b.send(unregisterSuper(MAC_B, 2), port);
    await new Promise((r) => setTimeout(r, SILENCE_MS));
    expect(sn.edgeCount).toBe(1);
    a2.send(packet(MAC_A, MAC_B, 5), port);
    expect(await b.next(SILENCE_MS)).toBeUndefined();
    expect(native[NATIVE_RX]).toBe(2);
  });

  it('-H: opens, checks the stamp against the record JS shares, re-seals; replays go to JS, which refuses them', async () => {
    const { sn, port, native, a, b, sa, sb } = await startHe();
    const hl = 38;
    const p = packet(MAC_A, MAC_B, 1, { field: HE_FIELD });
    a.send(sa.seal(p, hl), port);
    const first = sb.open(await b.next(ARRIVAL_MS));
    expect(first, 'the JS path relays and re-seals it').toEqual(relayedForm(p, a.port));
    expect(native[NATIVE_RX]).toBe(0);
    const second = sa.seal(p, hl);
    a.send(second, port);
    const raw = await b.next(ARRIVAL_MS);
    expect(sb.open(raw), 'the native relay opens, rebuilds and seals it the same way').toEqual(
      relayedForm(p, a.port),
    );
    expect(native[NATIVE_RX]).toBe(1);
    // The same datagram again: the native record refuses it, and JS (which took that record over) too.
    const stamps0 = sn.stats.drops.stamp;
    a.send(second, port);
    expect(await b.next(SILENCE_MS)).toBeUndefined();
    expect(sn.stats.drops.stamp - stamps0).toBe(1);
    expect(native[NATIVE_RX]).toBe(1);
    // A PACKET sealed now but sent after a PING that JS accepted more than the jitter later: JS's newer record
    // reached the native side, which refuses the older stamp.
    const late = sa.seal(packet(MAC_A, MAC_B, 2, { field: HE_FIELD }), hl);
    await new Promise((r) => setTimeout(r, PAST_JITTER_MS));
    const q = new Uint8Array(128);
    const qn = encodeQueryPeer(
      { ttl: N2N_DEFAULT_TTL, type: MsgType.QUERY_PEER, flags: 0, community: HE_FIELD },
      { aflags: 0, srcMac: MAC_A, targetMac: 0 },
      q,
      0,
    );
    a.send(sa.seal(q.subarray(0, qn)), port);
    expect(await a.next(ARRIVAL_MS), 'the PONG').toBeDefined();
    a.send(late, port);
    expect(await b.next(SILENCE_MS)).toBeUndefined();
    expect(sn.stats.drops.stamp - stamps0).toBe(2);
    // A fresh one still goes natively.
    a.send(sa.seal(packet(MAC_A, MAC_B, 3, { field: HE_FIELD }), hl), port);
    expect(sb.open(await b.next(ARRIVAL_MS))).toEqual(
      relayedForm(packet(MAC_A, MAC_B, 3, { field: HE_FIELD }), a.port),
    );
    expect(native[NATIVE_RX]).toBe(2);
    // What the native side opened counts for the community's place in the order of trial decryption (read at
    // each sort and at stop), on top of what the JS path opened.
    expect(native[NATIVE_HE_OPENED]).toBe(2);
    const comm = sn.communityList().find((c) => c.name === HE_COMMUNITY)!;
    const js = comm.encPackets;
    await sn.stop();
    expect(native[NATIVE_HE_OPENED]).toBe(0);
    expect(comm.encPackets).toBe(js + 2);
  });

  it('-H: a burst is opened and sealed in batches, in order; a replay inside it goes to JS, which refuses it', async () => {
    const { sn, port, native, a, b, sa, sb } = await startHe();
    const hl = 38;
    const first = packet(MAC_A, MAC_B, 100, { field: HE_FIELD });
    a.send(sa.seal(first, hl), port);
    expect(sb.open(await b.next(ARRIVAL_MS)), 'the JS path relays the first').toEqual(
      relayedForm(first, a.port),
    );
    expect(sb.lastHl).toBe(RELAYED_HEADER_BYTES);
    // Sent back to back, so that the supernode's reads take several at a time; one of them again in the middle.
    const burst = Array.from({ length: BURST }, (_, k) => packet(MAC_A, MAC_B, 200 + k, { field: HE_FIELD }));
    const sealed = burst.map((p) => sa.seal(p, hl));
    const stamps0 = sn.stats.drops.stamp;
    const fwd0 = sn.stats.fwd;
    for (let k = 0; k < BURST; k++) {
      a.send(sealed[k], port);
      if (k === BURST / 2) a.send(sealed[k - 1], port);
    }
    const got: (Uint8Array | undefined)[] = [];
    const hls = new Set<number>();
    for (let k = 0; k < BURST; k++) {
      got.push(sb.open(await b.next(ARRIVAL_MS)));
      hls.add(sb.lastHl);
    }
    // Sealed over the whole relayed header, the sender's sock included (as relay.ts and 3.1.1 do).
    expect([...hls]).toEqual([RELAYED_HEADER_BYTES]);
    expect(await b.next(SILENCE_MS), 'the replay is not relayed').toBeUndefined();
    for (let k = 0; k < BURST; k++) expect(got[k], `datagram ${k}`).toEqual(relayedForm(burst[k], a.port));
    expect(sn.stats.drops.stamp - stamps0).toBe(1);
    // Those before the replay went natively; the replay ends the native run, and JS takes the rest of its read.
    expect(native[NATIVE_RX]).toBeGreaterThanOrEqual(BURST / 2 + 1);
    expect(sn.stats.fwd - fwd0).toBe(BURST);
  });

  it('stays off without the deps that open it (TSN2N_NATIVE_RELAY=0)', async () => {
    const sn = new Supernode({ port: 0, bindAddress: HOST, tcp: false }, { openNativeRelay: undefined });
    await sn.start();
    cleanup.push(() => sn.stop());
    expect(sn.stats.native).toBeUndefined();
  });
});
