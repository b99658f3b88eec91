// The addon's fast path (native/src/fastpath.cc) against the JS packet format: a FIFO stands in for the TAP, real UDP sockets on 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEdgePayload } from '../../src/edge/payload.js';
import { loadAddon, PollKind } from '../../src/io/addon.js';
import { nativeCipherBackend } from '../../src/io/crypto-native.js';
import { type FastPathPort, openFastPath } from '../../src/io/fastpath.js';
import type { DatagramBatch, TapDevice } from '../../src/io/types.js';
import { openNativeUdp } from '../../src/io/udp-native.js';
import {
  asHeaderBackend,
  decryptHeader,
  encryptHeader,
  HeaderInfo,
  staticHeaderKeys,
} from '../../src/transform/header.js';
import { StampGenerator, stampToBigInt } from '../../src/transform/stamp.js';
import { SystemClock } from '../../src/util/clock.js';
import { readMac, writeMac } from '../../src/util/mac.js';
import { SeededRandom } from '../../src/util/random.js';
import {
  createPacketHeaderView,
  PACKET_HEADER_BYTES,
  readPacketHeader,
  writePacketHeader,
} from '../../src/wire/packet.js';
import { writeSockIpv4 } from '../../src/wire/sock.js';
import { CompressionId, Flags, N2N_DEFAULT_TTL, TransformId } from '../../src/wire/types.js';

const COMMUNITY = new Uint8Array(20);
COMMUNITY.set(new TextEncoder().encode('fifonet'));
const MAC_US = 0x02_00_00_00_00_01;
const MAC_PEER = 0x02_00_00_00_00_02;
const DEV_ADDR = 0x0a_01_00_01; // 10.1.0.1
const STAT_RX = 0;
const STAT_TX = 3;

/** An Ethernet + IPv4 frame from `src` to `dst` (addresses as u32) with `n` payload bytes. */
function frame(
  dstMac: number,
  srcMac: number,
  src: number,
  dst: number,
  n: number,
  seed: number,
): Uint8Array {
  const f = new Uint8Array(14 + 20 + n);
  writeMac(f, 0, dstMac);
  writeMac(f, 6, srcMac);
  f[12] = 0x08;
  f[14] = 0x45;
  for (let i = 0; i < 4; i++) {
    f[26 + i] = (src >>> (24 - 8 * i)) & 0xff;
    f[30 + i] = (dst >>> (24 - 8 * i)) & 0xff;
  }
  new SeededRandom(seed).fill(f, 34, n);
  return f;
}

function fifo(dir: string, name: string): number {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
}

const until = async (ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
};

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.reverse()) c();
  cleanup = [];
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tsn2n-fastpath-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const us = openNativeUdp({ family: 4, address: '127.0.0.1', port: 0 });
  const peer = openNativeUdp({ family: 4, address: '127.0.0.1', port: 0 });
  cleanup.push(
    () => us.close(),
    () => peer.close(),
  );
  const payload = createEdgePayload(
    TransformId.CHACHA20,
    'fifo key',
    CompressionId.NONE,
    new SeededRandom(5),
    nativeCipherBackend(),
  );
  return { dir, us, peer, payload };
}

/**
 * A fast path in front of `us` and of a FIFO read by a real TAP poller (frames it leaves to JS: their lengths to
 * `toJs`); the poller is started by the test.
 */
function polledPort(
  dir: string,
  us: ReturnType<typeof openNativeUdp>,
  payload: ReturnType<typeof createEdgePayload>,
  toJs: (length: number) => void,
) {
  const tapFd = fifo(dir, 'tap');
  const addon = loadAddon();
  const stride = 2048;
  const slab = new Uint8Array(stride * 8);
  const lengths = new Uint32Array(8);
  const poller = new addon.FdPoller(tapFd, PollKind.TAP, slab, stride, 64, lengths, null, (count) => {
    for (let i = 0; i < count; i++) toJs(lengths[i]);
  });
  cleanup.push(() => poller.close());
  const tap = {
    fastPathFd: () => tapFd,
    setFastPath: (f: never) => {
      poller.setFastPath?.(f);
      return true;
    },
  } as unknown as TapDevice;
  const ownMac = new Uint8Array(6);
  writeMac(ownMac, 0, MAC_US);
  const port = openFastPath(
    us,
    tap,
    payload.batch,
    COMMUNITY,
    ownMac,
    TransformId.CHACHA20,
    DEV_ADDR,
    false,
  ) as FastPathPort;
  cleanup.push(() => port.detach());
  return { tapFd, poller, port };
}

const LOOPBACK = [127, 0, 0, 1];

/** A batch handler that keeps a copy of every datagram in `into`. */
function collectInto(into: Uint8Array[]): (b: DatagramBatch) => void {
  return (b) => {
    for (let i = 0; i < b.count; i++) {
      const o = i * b.stride + b.headroom;
      into.push(Buffer.from(b.slab.subarray(o, o + b.lengths[i])));
    }
  };
}

/** A PACKET as send.ts builds it, from `srcMac` to us, carrying `f` (ChaCha20, no compression). */
function packetOf(payload: ReturnType<typeof createEdgePayload>, srcMac: number, f: Uint8Array): Uint8Array {
  const out = new Uint8Array(PACKET_HEADER_BYTES + 16 + f.length);
  const n = payload.encrypt(f, 0, f.length, out, PACKET_HEADER_BYTES);
  writePacketHeader(
    out,
    0,
    N2N_DEFAULT_TTL,
    0,
    COMMUNITY,
    srcMac,
    MAC_US,
    undefined,
    CompressionId.NONE,
    TransformId.CHACHA20,
  );
  return out.subarray(0, PACKET_HEADER_BYTES + n);
}

/** The 20-byte table entry: MAC, IPv4 and port, may-send flag, send-until (Unix s). */
function entry(mac: number, port: number, sendUntil: number, ip: readonly number[] = LOOPBACK): Uint8Array {
  const e = new Uint8Array(20);
  writeMac(e, 0, mac);
  e.set(ip, 6);
  e[10] = port >>> 8;
  e[11] = port & 0xff;
  e[12] = sendUntil > 0 ? 1 : 0;
  new DataView(e.buffer).setUint32(16, sendUntil);
  return e;
}

describe('native fast path', () => {
  it('receives a PACKET from the known peer as the JS path would, and leaves the rest to JS', async () => {
    const { dir, us, peer, payload } = setup();
    const tapFd = fifo(dir, 'tap');
    cleanup.push(() => closeSync(tapFd));
    const tap = { fastPathFd: () => tapFd, setFastPath: () => true } as unknown as TapDevice;
    const port = openFastPath(
      us,
      tap,
      payload.batch,
      COMMUNITY,
      new Uint8Array(6),
      TransformId.CHACHA20,
      DEV_ADDR,
      false,
    ) as FastPathPort;
    expect(port).toBeDefined();
    cleanup.push(() => port.detach());
    port.setPeers(entry(MAC_PEER, peer.local.port, 0), 1);
    port.setEnabled(true, false);
    const toJs: number[] = [];
    us.onDatagrams((b: DatagramBatch) => {
      for (let i = 0; i < b.count; i++) toJs.push(b.lengths[i]);
    });
    const packet = (srcMac: number, f: Uint8Array): Uint8Array => packetOf(payload, srcMac, f);
    const frames = [
      frame(MAC_US, MAC_PEER, 0x0a010002, DEV_ADDR, 100, 1),
      frame(MAC_US, MAC_PEER, 0x0a010002, DEV_ADDR, 1300, 2),
    ];
    for (const f of frames) peer.send(packet(MAC_PEER, f), 0, packet(MAC_PEER, f).length, us.local);
    await until(() => port.stats[STAT_RX] === 2 || toJs.length > 0);
    expect(toJs).toEqual([]);
    expect(port.stats[STAT_RX]).toBe(2);
    const got = new Uint8Array(4096);
    const n = readSync(tapFd, got);
    expect(Buffer.from(got.subarray(0, n)).toString('hex')).toBe(Buffer.concat(frames).toString('hex'));
    // An unknown sender MAC, a frame for another address (routing), a broadcast: JS gets each, untouched.
    const other = packet(0x02_00_00_00_00_09, frames[0]);
    const routed = packet(MAC_PEER, frame(MAC_US, MAC_PEER, 0x0a010002, 0x0a010063, 40, 3));
    const bcast = packet(MAC_PEER, frame(0xffff_ffff_ffff, MAC_PEER, 0x0a010002, DEV_ADDR, 40, 4));
    for (const p of [other, routed, bcast]) peer.send(p, 0, p.length, us.local);
    await until(() => toJs.length === 3);
    expect(toJs).toEqual([other.length, routed.length, bcast.length]);
    expect(port.stats[STAT_RX]).toBe(2);
    // Off: everything to JS.
    port.setEnabled(false, false);
    const again = packet(MAC_PEER, frames[0]);
    peer.send(again, 0, again.length, us.local);
    await until(() => toJs.length === 4);
    expect(toJs.length).toBe(4);
    expect(port.stats[STAT_RX]).toBe(2);
  });

  it('sends a TAP frame to the known peer as the JS path would, while it may; else leaves it to JS', async () => {
    const { dir, us, peer, payload } = setup();
    const toJs: number[] = [];
    const { tapFd, poller, port } = polledPort(dir, us, payload, (n) => toJs.push(n));
    const now = Math.floor(Date.now() / 1000);
    port.setPeers(entry(MAC_PEER, peer.local.port, now + 60), 1);
    port.setEnabled(false, true);
    poller.start();
    const received: Uint8Array[] = [];
    peer.onDatagrams(collectInto(received));
    const f = frame(MAC_PEER, MAC_US, DEV_ADDR, 0x0a010002, 500, 7);
    writeSync(tapFd, f);
    await until(() => received.length === 1);
    expect(port.stats[STAT_TX]).toBe(1);
    const d = received[0];
    const v = createPacketHeaderView();
    const off = readPacketHeader(d, 0, d.length, v);
    expect([v.ttl, v.flags, v.srcMac, v.dstMac, v.compression, v.transform, v.hasSock]).toEqual([
      N2N_DEFAULT_TTL,
      0,
      MAC_US,
      MAC_PEER,
      CompressionId.NONE,
      TransformId.CHACHA20,
      false,
    ]);
    expect(Buffer.from(d.subarray(4, 24)).equals(Buffer.from(COMMUNITY))).toBe(true);
    const plain = new Uint8Array(2048);
    const n = payload.decrypt(d, off, d.length - off, plain, 0);
    expect(Buffer.from(plain.subarray(0, n)).toString('hex')).toBe(Buffer.from(f).toString('hex'));
    // Not from our address (no -r), and past the peer's send-until second: both to JS.
    writeSync(tapFd, frame(MAC_PEER, MAC_US, 0x0a010063, 0x0a010002, 60, 8));
    await until(() => toJs.length === 1);
    port.setPeers(entry(MAC_PEER, peer.local.port, now - 5), 1);
    writeSync(tapFd, f);
    await until(() => toJs.length === 2);
    expect(toJs).toEqual([14 + 20 + 60, f.length]);
    expect(port.stats[STAT_TX]).toBe(1);
    expect(readMac(d, 24)).toBe(MAC_US);
  });

  it('-H: opens, checks the stamp against the shared record, and seals with the shared generator, as the JS path', async () => {
    const { dir, us, peer, payload } = setup();
    const { tapFd, poller, port } = polledPort(dir, us, payload, () => {});
    const keys = staticHeaderKeys(COMMUNITY, asHeaderBackend(nativeCipherBackend()));
    const ours = new StampGenerator(new SystemClock());
    const theirs = new StampGenerator(new SystemClock());
    expect(port.configureHeader(keys.core, ours.state)).toBe(true);
    // A JS key core is refused: the port then leaves -H to JS.
    expect(port.configureHeader({}, ours.state)).toBe(false);
    expect(port.configureHeader(keys.core, ours.state)).toBe(true);
    // Slot 0's record as a new peer's (initial_time_stamp: now − 16 s), as edge/fastpath.ts copies it down.
    const rec = theirs.initialRecord();
    port.records[0] = rec.hi;
    port.records[1] = rec.lo;
    const now = Math.floor(Date.now() / 1000);
    port.setPeers(entry(MAC_PEER, peer.local.port, now + 60), 1);
    port.setEnabled(true, true);
    const toJs: Buffer[] = [];
    us.onDatagrams(collectInto(toJs));
    const f = frame(MAC_US, MAC_PEER, 0x0a010002, DEV_ADDR, 300, 11);
    /** A PACKET as send.ts builds it with -H: header sealed with `stamp` over the 38 header bytes. */
    const sealed = (stamp: { hi: number; lo: number }): Buffer => {
      const out = packetOf(payload, MAC_PEER, f);
      encryptHeader(out, 0, out.length, PACKET_HEADER_BYTES, stamp, 0x1234_5678, keys);
      return Buffer.from(out);
    };
    const first = theirs.next({ hi: 0, lo: 0 });
    const d1 = sealed(first);
    peer.send(d1, 0, d1.length, us.local);
    await until(() => port.stats[STAT_RX] === 1 || toJs.length > 0);
    expect(toJs).toEqual([]);
    const got = new Uint8Array(4096);
    const n = readSync(tapFd, got);
    expect(Buffer.from(got.subarray(0, n)).equals(Buffer.from(f))).toBe(true);
    // The record took the stamp: newest, and one ring entry.
    expect([port.records[0], port.records[1], port.records[2], port.records[3]]).toEqual([
      first.hi,
      first.lo,
      1,
      1,
    ]);
    expect([port.records[4], port.records[5]]).toEqual([first.hi, first.lo]);
    // The same datagram again (a replay), another with the same stamp, one a second older than the newest
    // (beyond the 160 ms jitter), and a plaintext PACKET: each goes to JS exactly as it came, the record unchanged.
    const sameStamp = sealed({ hi: first.hi, lo: first.lo });
    const stale = { hi: first.hi - 1, lo: first.lo };
    const d3 = sealed(stale);
    const plain = Buffer.from(d1);
    const opened = new HeaderInfo();
    expect(decryptHeader(plain, 0, plain.length, keys, COMMUNITY, opened)).toBe(true);
    for (const d of [d1, sameStamp, d3, plain]) peer.send(d, 0, d.length, us.local);
    await until(() => toJs.length === 4);
    expect(toJs.map((d) => d.toString('hex'))).toEqual(
      [d1, sameStamp, d3, plain].map((d) => d.toString('hex')),
    );
    expect(port.stats[STAT_RX]).toBe(1);
    expect([port.records[0], port.records[1], port.records[2]]).toEqual([first.hi, first.lo, 1]);
    // A newer stamp is taken again.
    const d4 = sealed(theirs.next({ hi: 0, lo: 0 }));
    peer.send(d4, 0, d4.length, us.local);
    await until(() => port.stats[STAT_RX] === 2);
    expect(port.records[2]).toBe(2);
    readSync(tapFd, got);

    // Send: the header is sealed with the next stamp of the shared generator; JS's next one follows it.
    const received: Buffer[] = [];
    peer.onDatagrams(collectInto(received));
    poller.start();
    const before = ours.next({ hi: 0, lo: 0 });
    const out = frame(MAC_PEER, MAC_US, DEV_ADDR, 0x0a010002, 500, 12);
    writeSync(tapFd, out);
    await until(() => received.length === 1);
    expect(port.stats[STAT_TX]).toBe(1);
    const d = received[0];
    const info = new HeaderInfo();
    expect(decryptHeader(d, 0, d.length, keys, COMMUNITY, info)).toBe(true);
    expect(info.hl).toBe(PACKET_HEADER_BYTES);
    const stamp = { hi: info.hi, lo: info.lo };
    expect(stampToBigInt(stamp) > stampToBigInt(before)).toBe(true);
    expect([ours.state[0], ours.state[1]]).toEqual([stamp.hi, stamp.lo]);
    expect(new StampGenerator(new SystemClock()).verify(stamp, undefined, false)).toBe(true);
    expect(stampToBigInt(ours.next({ hi: 0, lo: 0 })) > stampToBigInt(stamp)).toBe(true);
    const v = createPacketHeaderView();
    const off = readPacketHeader(d, 0, d.length, v);
    expect([v.srcMac, v.dstMac, v.transform]).toEqual([MAC_US, MAC_PEER, TransformId.CHACHA20]);
    const back = new Uint8Array(2048);
    const m = payload.decrypt(d, off, d.length - off, back, 0);
    expect(Buffer.from(back.subarray(0, m)).equals(Buffer.from(out))).toBe(true);
  });

  it('relayed: takes the supernode’s PACKET from a pending peer at the socket it carries, sends to it via the supernode while no query is due', async () => {
    const { dir, us, peer, payload } = setup();
    const toJsTap: number[] = [];
    const { tapFd, poller, port } = polledPort(dir, us, payload, (n) => toJsTap.push(n));
    const sn = openNativeUdp({ family: 4, address: '127.0.0.1', port: 0 });
    cleanup.push(() => sn.close());
    const now = Math.floor(Date.now() / 1000);
    // The pending peer as the supernode reports it (its public socket), and the supernode's socket.
    const PEER_IP = [192, 0, 2, 7];
    const PEER_PORT = 40007;
    const snSock = new Uint8Array([127, 0, 0, 1, sn.local.port >>> 8, sn.local.port & 0xff]);
    port.setRelay(entry(MAC_PEER, PEER_PORT, now + 60, PEER_IP), 1, snSock);
    port.setEnabled(true, true);
    const toJs: Buffer[] = [];
    us.onDatagrams(collectInto(toJs));
    const f = frame(MAC_US, MAC_PEER, 0x0a010002, DEV_ADDR, 200, 21);
    /** A PACKET as the supernode relays it (relay.ts buildRelayed): FROM_SUPERNODE | SOCKET and the sender's sock. */
    const relayed = (opts: { ip?: readonly number[]; port?: number; dst?: number } = {}): Buffer => {
      const sock = new Uint8Array(8);
      const ip = opts.ip ?? PEER_IP;
      writeSockIpv4(
        sock,
        0,
        ((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0,
        opts.port ?? PEER_PORT,
      );
      const out = new Uint8Array(PACKET_HEADER_BYTES + 8 + 16 + f.length);
      const n = payload.encrypt(f, 0, f.length, out, PACKET_HEADER_BYTES + 8);
      writePacketHeader(
        out,
        0,
        N2N_DEFAULT_TTL,
        Flags.FROM_SUPERNODE,
        COMMUNITY,
        MAC_PEER,
        opts.dst ?? MAC_US,
        sock,
        CompressionId.NONE,
        TransformId.CHACHA20,
      );
      return Buffer.from(out.subarray(0, PACKET_HEADER_BYTES + 8 + n));
    };
    const d1 = relayed();
    sn.send(d1, 0, d1.length, us.local);
    await until(() => port.relayStats[0] === 1 || toJs.length > 0);
    expect(toJs).toEqual([]);
    expect([port.relayStats[0], port.relayStats[1], port.relayStats[4], port.relayStats[5]]).toEqual([
      1,
      d1.length,
      1,
      d1.length,
    ]);
    expect(port.stats[STAT_RX]).toBe(0);
    const got = new Uint8Array(4096);
    const n = readSync(tapFd, got);
    expect(Buffer.from(got.subarray(0, n)).equals(Buffer.from(f))).toBe(true);
    // Not from the supernode, another socket in the header, a broadcast: JS gets each as it came.
    const otherSock = relayed({ port: PEER_PORT + 1 });
    const bcast = relayed({ dst: 0xffff_ffff_ffff });
    peer.send(d1, 0, d1.length, us.local);
    for (const d of [otherSock, bcast]) sn.send(d, 0, d.length, us.local);
    await until(() => toJs.length === 3);
    expect(toJs.map((d) => d.toString('hex'))).toEqual([d1, otherSock, bcast].map((d) => d.toString('hex')));
    // The peer known directly at the socket the header names: the JS path's MAC-change case, so JS.
    port.setPeers(entry(0x02_00_00_00_00_07, PEER_PORT, now + 60, PEER_IP), 1);
    sn.send(d1, 0, d1.length, us.local);
    await until(() => toJs.length === 4);
    port.setPeers(new Uint8Array(20), 0);
    expect(port.relayStats[0]).toBe(1);

    // Send: a frame to the pending peer goes to the supernode as a plain PACKET (no sock, no flags).
    poller.start();
    const atSn: Buffer[] = [];
    sn.onDatagrams(collectInto(atSn));
    const out = frame(MAC_PEER, MAC_US, DEV_ADDR, 0x0a010002, 400, 22);
    writeSync(tapFd, out);
    await until(() => atSn.length === 1);
    expect([port.relayStats[2], port.relayStats[6]]).toEqual([1, 1]);
    expect(port.stats[STAT_TX]).toBe(0);
    const d = atSn[0];
    const v = createPacketHeaderView();
    const off = readPacketHeader(d, 0, d.length, v);
    expect([v.flags, v.srcMac, v.dstMac, v.hasSock, v.transform]).toEqual([
      0,
      MAC_US,
      MAC_PEER,
      false,
      TransformId.CHACHA20,
    ]);
    const back = new Uint8Array(2048);
    const m = payload.decrypt(d, off, d.length - off, back, 0);
    expect(Buffer.from(back.subarray(0, m)).equals(Buffer.from(out))).toBe(true);
    // Its query due (send-until passed), and no supernode: both to JS.
    port.setRelay(entry(MAC_PEER, PEER_PORT, now - 1, PEER_IP), 1, snSock);
    writeSync(tapFd, out);
    await until(() => toJsTap.length === 1);
    port.setRelay(entry(MAC_PEER, PEER_PORT, now + 60, PEER_IP), 1, null);
    writeSync(tapFd, out);
    await until(() => toJsTap.length === 2);
    expect(toJsTap).toEqual([out.length, out.length]);
    expect(port.relayStats[2]).toBe(1);

    // -H: the relayed header (hl 46) opens and its stamp is checked against the supernode's record.
    const keys = staticHeaderKeys(COMMUNITY, asHeaderBackend(nativeCipherBackend()));
    const relayStamps = new StampGenerator(new SystemClock());
    expect(port.configureHeader(keys.core, new StampGenerator(new SystemClock()).state)).toBe(true);
    const rec = relayStamps.initialRecord();
    port.snRecord.set([rec.hi, rec.lo, 0, 0]);
    port.setRelay(entry(MAC_PEER, PEER_PORT, now + 60, PEER_IP), 1, snSock);
    port.setEnabled(true, true);
    const stamp = relayStamps.next({ hi: 0, lo: 0 });
    const sealedRelayed = relayed();
    encryptHeader(sealedRelayed, 0, sealedRelayed.length, PACKET_HEADER_BYTES + 8, stamp, 7, keys);
    sn.send(sealedRelayed, 0, sealedRelayed.length, us.local);
    await until(() => port.relayStats[0] === 2);
    expect([port.snRecord[0], port.snRecord[1], port.snRecord[2]]).toEqual([stamp.hi, stamp.lo, 1]);
    // The frame went to the TAP, where the (started) poller reads it back as one leaving: to JS, not ours.
    await until(() => toJsTap.length === 3);
    expect(toJsTap[2]).toBe(f.length);
    // Replayed: JS gets it.
    const before = toJs.length;
    sn.send(sealedRelayed, 0, sealedRelayed.length, us.local);
    await until(() => toJs.length === before + 1);
    expect(port.relayStats[0]).toBe(2);
  });
});
