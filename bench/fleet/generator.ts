// Wire-level fleet generator: many simulated edges in one process register with a supernode over real UDP and send PACKETs through it.
//
// What a supernode keys an edge on is (community, MAC): the UDP source socket is only stored as where to send to
// (sn_utils.c: update_edge looks the edge up by MAC, then compares its socket). So edges may share a socket; each
// socket carries `edges / sockets` of them, and a relayed PACKET is matched to its edge by destination MAC. Every
// edge has its own MAC, its own dev_addr (the supernode's IP-spoofing check refuses two MACs on one address) and
// its own ID-scheme auth token, the same on each refresh.
//
// Registrations follow a schedule, not a window: edge i registers first at i / rampPerSec seconds and again every
// `intervalMs` after that (an edge's REGISTER_SUPER_INTERVAL), so a slow ramp never lets an early edge expire and
// the supernode sees an open-loop arrival rate: a slow answer shows as a long round trip instead of slowing the
// senders. Each REGISTER_SUPER carries a unique cookie, echoed by the ACK, which names its edge and send time.
import type { DatagramBatch } from '../../src/io/index.js';
import { encodeSockAddr, openNativeUdp, SOCKADDR_BYTES } from '../../src/io/index.js';
import type { NativeUdpSocket } from '../../src/io/udp-native.js';
import {
  decryptHeader,
  encryptHeader,
  HeaderInfo,
  type HeaderKeys,
  headerLength,
  staticHeaderKeys,
} from '../../src/transform/header.js';
import { StampGenerator } from '../../src/transform/stamp.js';
import { fixedString } from '../../src/util/bytes.js';
import { SystemClock } from '../../src/util/clock.js';
import { writeMac } from '../../src/util/mac.js';
import { SeededRandom } from '../../src/util/random.js';
import { communityBytes, peekMessageType } from '../../src/wire/common.js';
import { decodeRegisterSuper, decodeRegisterSuperAck, encodeRegisterSuper } from '../../src/wire/messages.js';
import { createPacketHeaderView, readPacketHeader, writePacketHeader } from '../../src/wire/packet.js';
import { AuthScheme, CompressionId, MsgType, N2N_DEFAULT_TTL, TransformId } from '../../src/wire/types.js';
import { Histogram } from './histogram.js';

/** First simulated MAC: locally administered, unicast (02:…). Edge i has FIRST_MAC + i. */
export const FIRST_MAC = 0x02_f1_00_00_00_00;
/** Edge i requests 10.0.0.0 + i + 1 /8 (unique per edge, so the spoofing check never merges two of them). */
const FIRST_DEV_ADDR = 0x0a_00_00_01;
const DEV_BITS = 8;
const ID_TOKEN_BYTES = 16;
/** Payload of a generated PACKET: u32 sequence, u32 source edge, f64 send time (ms); the rest zero. */
const SEQ_OFF = 0;
const SRC_OFF = 4;
const TIME_OFF = 8;
const MIN_PAYLOAD_BYTES = 16;
/** Send slots per socket and tick; a tick with more datagrams flushes in several batches. */
const SLOTS = 256;
/** Bytes per send slot: at least this, and room for the largest PACKET (header, sealing room, payload). */
const MIN_SLOT_BYTES = 256;
const PACKET_ROOM_BYTES = 64;
/** Cookies live in a ring this big (power of two): far more than can be outstanding at once. */
const COOKIE_RING = 1 << 21;
const COOKIE_MASK = COOKIE_RING - 1;
const SOCKET_BUFFER_BYTES = 8 << 20;
/** The schedule is checked this often. */
const TICK_MS = 1;
const NS_PER_MS = 1e6;

export interface FleetOptions {
  host: string;
  port: number;
  /** Simulated edges. */
  edges: number;
  /** UDP sockets the edges are spread over (edge i uses socket i mod sockets). */
  sockets: number;
  community: string;
  /** Header encryption (-H) with the community's static keys. */
  headerEncryption: boolean;
  /** Re-registration period of every edge (3.1.1 REGISTER_SUPER_INTERVAL: 20 s). */
  intervalMs: number;
  /** First registrations/s while the fleet comes up (default edges per interval). */
  rampPerSec?: number;
  /** PACKETs/s in total between random pairs of registered edges. */
  packetsPerSec: number;
  payloadBytes: number;
  /** Seed of the pair choice. */
  seed?: number;
}

/** Counters since start (or since the last `window()` for the windowed ones). */
export interface FleetCounts {
  regSent: number;
  regAnswered: number;
  regNaks: number;
  /** ACKs with a cookie not outstanding (duplicates, or late beyond the ring). */
  regStray: number;
  /** Edges with at least one answered registration. */
  edgesUp: number;
  pktSent: number;
  pktDelivered: number;
  /** Relayed PACKETs that arrived on a socket not carrying their destination edge, or with a bad payload. */
  pktMisrouted: number;
  /** Datagrams the kernel refused on send (generator side). */
  sendDropped: number;
  /** Datagrams received that decoded as nothing expected. */
  rxBad: number;
}

interface Slot {
  sock: NativeUdpSocket;
  buf: Buffer;
  offsets: Uint32Array;
  lengths: Uint32Array;
  addrs: Uint8Array;
  n: number;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / NS_PER_MS;
}

/** The fleet: open(), start(), read counters and histograms while it runs, stop(). */
export class Fleet {
  readonly opts: Readonly<FleetOptions>;
  readonly counts: FleetCounts = {
    regSent: 0,
    regAnswered: 0,
    regNaks: 0,
    regStray: 0,
    edgesUp: 0,
    pktSent: 0,
    pktDelivered: 0,
    pktMisrouted: 0,
    sendDropped: 0,
    rxBad: 0,
  };
  /** Registration round trips (ms) since start, and since the last takeWindow(). */
  readonly regRtt = new Histogram();
  regRttWindow = new Histogram();
  /** Relay latency of PACKETs edge → supernode → edge (ms). */
  readonly pktLatency = new Histogram();

  private readonly field: Uint8Array;
  private readonly keys: HeaderKeys | undefined;
  private readonly stamps = new StampGenerator(new SystemClock());
  private readonly stamp = { hi: 0, lo: 0 };
  private readonly rxInfo = new HeaderInfo();
  private readonly rnd: SeededRandom;
  private readonly pktView = createPacketHeaderView();
  private socks: NativeUdpSocket[] = [];
  private slots: Slot[] = [];
  /** The REGISTER_SUPER image; per send the cookie, MAC, dev_addr and token are patched in. */
  private readonly regTemplate: Buffer;
  private readonly off = { cookie: 0, mac: 0, dev: 0, token: 0 };
  private readonly sentAt = new Float64Array(COOKIE_RING);
  private readonly outstanding = new Uint8Array(COOKIE_RING);
  private readonly slotBytes: number;
  private readonly up: Uint8Array;
  /** Indices of edges that are up, for the pair choice. */
  private readonly upList: Uint32Array;
  private regSeq = 0;
  /** Edge of each outstanding cookie. */
  private readonly cookieEdge = new Uint32Array(COOKIE_RING);
  /** Next edge of each pass (pass k: every edge's k-th registration); passes below firstPass are complete. */
  private readonly passCursor: number[] = [];
  private firstPass = 0;
  private t0 = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly payload: Buffer;
  private running = false;

  constructor(opts: FleetOptions) {
    if (opts.edges < 2 || opts.sockets < 1 || opts.payloadBytes < MIN_PAYLOAD_BYTES) {
      throw new RangeError('fleet: need ≥ 2 edges, ≥ 1 socket and a payload of ≥ 16 bytes');
    }
    this.opts = { ...opts, sockets: Math.min(opts.sockets, opts.edges) };
    this.field = communityBytes(opts.community);
    this.keys = opts.headerEncryption ? staticHeaderKeys(this.field) : undefined;
    this.rnd = new SeededRandom(opts.seed ?? 1);
    this.up = new Uint8Array(opts.edges);
    this.upList = new Uint32Array(opts.edges);
    this.payload = Buffer.alloc(opts.payloadBytes);
    this.slotBytes = Math.max(MIN_SLOT_BYTES, PACKET_ROOM_BYTES + opts.payloadBytes);
    this.regTemplate = this.buildTemplate();
  }

  /**
   * Encodes one REGISTER_SUPER with the project's codec and finds where its per-edge fields lie by encoding a
   * second one with other values; the patched image is checked by decoding it.
   */
  private buildTemplate(): Buffer {
    const enc = (cookie: number, mac: number, dev: number, tok: number): Buffer => {
      const b = Buffer.alloc(MIN_SLOT_BYTES);
      const n = encodeRegisterSuper(
        { ttl: N2N_DEFAULT_TTL, type: MsgType.REGISTER_SUPER, flags: 0, community: this.field },
        {
          cookie,
          edgeMac: mac,
          devAddr: { addr: dev, bitlen: DEV_BITS },
          desc: fixedString('fleet', 16),
          auth: { scheme: AuthScheme.ID, token: new Uint8Array(ID_TOKEN_BYTES).fill(tok) },
          keyTime: 0,
        },
        b,
        0,
      );
      return b.subarray(0, n);
    };
    const a = enc(0x11111111, 0x111111111111, 0x11111111, 0x11);
    const b = enc(0x22222222, 0x222222222222, 0x22222222, 0x22);
    const firstDiff = (from: number): number => {
      for (let i = from; i < a.length; i++) if (a[i] !== b[i]) return i;
      throw new Error('fleet: REGISTER_SUPER template has no such field');
    };
    this.off.cookie = firstDiff(0);
    this.off.mac = firstDiff(this.off.cookie + 4);
    this.off.dev = firstDiff(this.off.mac + 6);
    this.off.token = firstDiff(this.off.dev + 4);
    const t = Buffer.from(a);
    this.patchRegister(t, 0, 7, 3);
    const d = decodeRegisterSuper(t, 0, t.length).body;
    if (d.cookie !== 7 || d.edgeMac !== FIRST_MAC + 3 || d.devAddr.addr !== FIRST_DEV_ADDR + 3) {
      throw new Error('fleet: patched REGISTER_SUPER does not decode to what was patched in');
    }
    return t;
  }

  private patchRegister(buf: Buffer, at: number, cookie: number, edge: number): void {
    buf.writeUInt32BE(cookie >>> 0, at + this.off.cookie);
    writeMac(buf, at + this.off.mac, FIRST_MAC + edge);
    buf.writeUInt32BE((FIRST_DEV_ADDR + edge) >>> 0, at + this.off.dev);
    // A token derived from the index: the same on every refresh, different between edges.
    buf.writeUInt32BE(edge >>> 0, at + this.off.token);
    buf.writeUInt32BE(Math.imul(edge, 0x9e3779b1) >>> 0, at + this.off.token + 4);
  }

  /** Opens the sockets (bound to loopback or any; the supernode sees one source port per socket). */
  open(localAddress = '0.0.0.0'): void {
    const to = new Uint8Array(SOCKADDR_BYTES);
    encodeSockAddr({ family: 4, address: this.opts.host, port: this.opts.port }, to, 0);
    for (let s = 0; s < this.opts.sockets; s++) {
      const sock = openNativeUdp({
        address: localAddress,
        recvBufferBytes: SOCKET_BUFFER_BYTES,
        sendBufferBytes: SOCKET_BUFFER_BYTES,
        offload: false,
      });
      const addrs = new Uint8Array(SLOTS * SOCKADDR_BYTES);
      for (let i = 0; i < SLOTS; i++) addrs.set(to, i * SOCKADDR_BYTES);
      this.slots.push({
        sock,
        buf: Buffer.alloc(SLOTS * this.slotBytes),
        offsets: Uint32Array.from({ length: SLOTS }, (_, i) => i * this.slotBytes),
        lengths: new Uint32Array(SLOTS),
        addrs,
        n: 0,
      });
      this.socks.push(sock);
      sock.onDatagrams((b) => this.onBatch(s, b));
    }
  }

  /** Starts the schedule (registrations at once, PACKETs between edges that are up). */
  start(): void {
    this.t0 = nowMs();
    this.running = true;
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops sending; answers still arriving are counted until close(). */
  stopSending(): void {
    this.running = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stopSending();
    for (const s of this.socks) s.close();
    this.socks = [];
    this.slots = [];
  }

  /** The registration window histogram since the last call, replaced by an empty one. */
  takeWindow(): Histogram {
    const w = this.regRttWindow;
    this.regRttWindow = new Histogram();
    return w;
  }

  /** Edges whose pass-k registration is due `sincePassStartMs` after pass k began (edge i: i / rampPerSec later). */
  private passDue(sincePassStartMs: number): number {
    if (sincePassStartMs < 0) return 0;
    const ramp = this.opts.rampPerSec ?? (this.opts.edges * 1000) / this.opts.intervalMs;
    return Math.min(this.opts.edges, Math.floor((sincePassStartMs * ramp) / 1000) + 1);
  }

  /** Sends every registration due by `elapsedMs`, pass by pass (passes overlap when the ramp is slow). */
  private sendDueRegistrations(elapsedMs: number): void {
    const n = this.opts.edges;
    for (let k = this.firstPass; k * this.opts.intervalMs <= elapsedMs; k++) {
      if (this.passCursor.length === k) this.passCursor.push(0);
      const due = this.passDue(elapsedMs - k * this.opts.intervalMs);
      while (this.passCursor[k] < due) this.sendRegister(this.regSeq++, this.passCursor[k]++);
      if (k === this.firstPass && this.passCursor[k] === n) this.firstPass++;
    }
  }

  private pktDue(elapsedMs: number): number {
    return Math.floor((elapsedMs * this.opts.packetsPerSec) / 1000);
  }

  private tick(): void {
    if (!this.running) return;
    const elapsed = nowMs() - this.t0;
    this.sendDueRegistrations(elapsed);
    const pdue = this.pktDue(elapsed);
    while (this.counts.pktSent < pdue && this.counts.edgesUp >= 2) this.sendPacket();
    this.flushAll();
  }

  private slotFor(edge: number): { s: Slot; at: number } {
    const s = this.slots[edge % this.slots.length];
    if (s.n === SLOTS) this.flush(s);
    const at = s.n * this.slotBytes;
    return { s, at };
  }

  private seal(buf: Buffer, at: number, len: number, hl: number): void {
    if (this.keys === undefined) return;
    encryptHeader(buf, at, len, hl, this.stamps.next(this.stamp), this.rnd.u32(), this.keys);
  }

  private sendRegister(seq: number, edge: number): void {
    const { s, at } = this.slotFor(edge);
    const len = this.regTemplate.length;
    this.regTemplate.copy(s.buf, at);
    const cookie = seq & COOKIE_MASK;
    this.patchRegister(s.buf, at, seq, edge);
    this.seal(s.buf, at, len, headerLength(MsgType.REGISTER_SUPER, len, 0, false));
    s.lengths[s.n++] = len;
    this.outstanding[cookie] = 1;
    this.cookieEdge[cookie] = edge;
    this.sentAt[cookie] = nowMs();
    this.counts.regSent++;
  }

  private sendPacket(): void {
    const up = this.counts.edgesUp;
    const a = this.upList[this.rnd.u32() % up];
    let b = this.upList[this.rnd.u32() % up];
    if (b === a) b = this.upList[(this.upList.indexOf(a) + 1) % up];
    const { s, at } = this.slotFor(a);
    const hdr =
      writePacketHeader(
        s.buf,
        at,
        N2N_DEFAULT_TTL,
        0,
        this.field,
        FIRST_MAC + a,
        FIRST_MAC + b,
        undefined,
        CompressionId.NONE,
        TransformId.NULL,
      ) - at;
    const p = this.payload;
    p.writeUInt32BE(this.counts.pktSent >>> 0, SEQ_OFF);
    p.writeUInt32BE(a, SRC_OFF);
    p.writeDoubleBE(nowMs(), TIME_OFF);
    p.copy(s.buf, at + hdr);
    const len = hdr + p.length;
    this.seal(s.buf, at, len, headerLength(MsgType.PACKET, hdr, p.length, false));
    s.lengths[s.n++] = len;
    this.counts.pktSent++;
  }

  private flush(s: Slot): void {
    if (s.n === 0) return;
    const sent = s.sock.sendBatch(s.buf, s.offsets, s.lengths, s.addrs, s.n);
    this.counts.sendDropped += s.n - sent;
    s.n = 0;
  }

  private flushAll(): void {
    for (const s of this.slots) this.flush(s);
  }

  private onBatch(sockIndex: number, b: DatagramBatch): void {
    const t = nowMs();
    for (let i = 0; i < b.count; i++)
      this.onDatagram(sockIndex, b.slab, i * b.stride + b.headroom, b.lengths[i], t);
  }

  private onDatagram(sockIndex: number, buf: Buffer, off: number, len: number, t: number): void {
    if (this.keys !== undefined && !decryptHeader(buf, off, len, this.keys, this.field, this.rxInfo)) {
      this.counts.rxBad++;
      return;
    }
    let type: number;
    try {
      type = peekMessageType(buf, off, off + len);
    } catch {
      this.counts.rxBad++;
      return;
    }
    if (type === MsgType.REGISTER_SUPER_ACK) {
      let cookie: number;
      try {
        cookie = decodeRegisterSuperAck(buf, off, off + len).body.cookie;
      } catch {
        this.counts.rxBad++;
        return;
      }
      const c = cookie & COOKIE_MASK;
      if (this.outstanding[c] !== 1) {
        this.counts.regStray++;
        return;
      }
      this.outstanding[c] = 0;
      const rtt = t - this.sentAt[c];
      this.regRtt.add(rtt);
      this.regRttWindow.add(rtt);
      this.counts.regAnswered++;
      const edge = this.cookieEdge[c];
      if (this.up[edge] === 0) {
        this.up[edge] = 1;
        this.upList[this.counts.edgesUp++] = edge;
      }
      return;
    }
    if (type === MsgType.REGISTER_SUPER_NAK) {
      this.counts.regNaks++;
      return;
    }
    if (type === MsgType.PACKET) {
      const v = this.pktView;
      let p: number;
      try {
        p = readPacketHeader(buf, off, off + len, v);
      } catch {
        this.counts.rxBad++;
        return;
      }
      const dst = v.dstMac - FIRST_MAC;
      const src = v.srcMac - FIRST_MAC;
      if (
        dst < 0 ||
        dst >= this.opts.edges ||
        dst % this.slots.length !== sockIndex ||
        off + len - p < MIN_PAYLOAD_BYTES ||
        buf.readUInt32BE(p + SRC_OFF) !== src
      ) {
        this.counts.pktMisrouted++;
        return;
      }
      this.counts.pktDelivered++;
      this.pktLatency.add(t - buf.readDoubleBE(p + TIME_OFF));
      return;
    }
    this.counts.rxBad++;
  }
}
