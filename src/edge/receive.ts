// UDP → TAP: header decryption and checks, the replay stamp, peer bookkeeping, payload decryption (batched), TAP writes; control dispatch.
//
// edge_utils.c: process_udp / handle_PACKET, per datagram of a UDP batch:
//   1. processUdp: header decryption in place (-H, trying the dynamic then the static key), version,
//      user/password key rule, FROM_SUPERNODE sender, community; control messages are decoded and dispatched
//   2. rxPacket: PACKET header view, replay stamp, registered?, peer bookkeeping (hole punching, relay fallback)
//   3. handlePacket: transform id, then the payload is decrypted into its slot of the TAP slab — with the native
//      payload batch, all of the UDP batch's in one call (runRxCrypto) — decompressed, checked and its TCP MSS
//      clamped (acceptRxFrame, --mss-clamp)
//   4. flushTapWrites: one TAP write call for the batch's frames
// Nothing here allocates per packet in steady state; every drop increments a counter in `drops`.
import { SOCKADDR_BYTES, SockAddrCache } from '../io/sockaddr.js';
import type { DatagramBatch, UdpSocket } from '../io/types.js';
import { isBatchUdpSocket } from '../io/types.js';
import {
  AUTH_TRAILER_BYTES,
  decryptHeader,
  decryptHeaderBatch,
  decryptHeaderTryKeys,
  HeaderInfo,
  type HeaderKeys,
  HeaderKeyUsed,
  OPEN_BATCH_WORDS,
} from '../transform/header.js';
import type { Stamp } from '../transform/stamp.js';
import type { Clock } from '../util/clock.js';
import { numberToIpv4, type SockAddr, sockAddrToString } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
import { BROADCAST_MAC, isN2nMulticastOrBroadcast, NULL_MAC, readMac } from '../util/mac.js';
import { communityMatches } from '../wire/common.js';
import { decodeMessage, REGISTER_DST_MAC_END, REGISTER_DST_MAC_OFFSET } from '../wire/messages.js';
import { createPacketHeaderView, type PacketHeaderView, readPacketHeader } from '../wire/packet.js';
import { sockToAddr } from '../wire/sock.js';
import {
  COMMON_HEADER_BYTES,
  CompressionId,
  Cookie,
  Flags,
  type Message,
  MsgType,
  N2N_PKT_VERSION,
  type PeerInfo,
} from '../wire/types.js';
import {
  ADDR_CACHE_MAX,
  ETH_HEADER_BYTES,
  ETHERTYPE_IPV4,
  ETHERTYPE_OFFSET,
  IPV4_DST,
  IPV4_MIN_HEADER_BYTES,
  isEthMulticast,
  LOCALHOST_V4,
  RX_BUF_BYTES,
  readU32,
  TAP_BATCH_MAX,
  TAP_SLOT_BYTES,
} from './constants.js';
import { type EdgeContext, EdgeState, nowSeconds, type SupernodeSet } from './context.js';
import type { TrafficFilter } from './filter.js';
import { clampMss, MssClamp } from './mss.js';
import type { EdgeConfig } from './options.js';
import { BATCH_INVALID, type EdgePayload } from './payload.js';
import type { PeerTable } from './peer-table.js';
import { ipv4Value, isValidPeerAddr } from './peers.js';
import type { Registration } from './registration.js';
import type { EdgeDrops, EdgeTraffic } from './stats.js';
import type { SupernodeEntry } from './supernodes.js';

/** Control message types rxControl handles, indexed by type (edge_utils.c: process_udp's switch). */
const EDGE_RX_TYPES: readonly boolean[] = (() => {
  const t = new Array<boolean>(Flags.TYPE_MASK + 1).fill(false);
  for (const m of [
    MsgType.REGISTER,
    MsgType.REGISTER_ACK,
    MsgType.REGISTER_SUPER_ACK,
    MsgType.REGISTER_SUPER_NAK,
    MsgType.PEER_INFO,
    MsgType.RE_REGISTER_SUPER,
  ])
    t[m] = true;
  return t;
})();

export class ReceivePath {
  // Fixed references, loaded once per use instead of through the context.
  private readonly config: EdgeConfig;
  private readonly clock: Clock;
  private readonly filter: TrafficFilter | undefined;
  private readonly payload: EdgePayload;
  private readonly community: Uint8Array;
  private readonly he: boolean;
  private readonly userPassword: boolean;
  private readonly staticKeys: HeaderKeys | undefined;
  private readonly traffic: EdgeTraffic;
  private readonly drops: EdgeDrops;
  private readonly supernodes: SupernodeSet;
  /** The shared scratch of the datagram being handled (context.ts), written by header decryption. */
  private readonly rxStamp: Stamp;
  private readonly trailerHash: Uint8Array;

  // scratch, allocated once
  private readonly view: PacketHeaderView = createPacketHeaderView();
  // Plain Uint8Arrays: a TAP double that keeps `slice()`s of what it is given then gets copies, not views.
  private readonly rxBuf = new Uint8Array(RX_BUF_BYTES);
  private readonly unzBuf = new Uint8Array(RX_BUF_BYTES);
  /** Unix seconds read once per UDP batch (-1 outside one): a clock read per frame showed in profiles. */
  private batchNow = -1;
  private readonly addrCache = new Map<number, SockAddr>();
  /** The sender cachedAddr returned last: a run of datagrams from one socket skips the map (its key is a boxed double). */
  private lastIp4 = -1;
  private lastPort = -1;
  private lastAddr: SockAddr | undefined;
  /** IPv6 senders' SockAddr objects, found again without decoding (io/sockaddr.ts). */
  private readonly addr6Cache = new SockAddrCache(ADDR_CACHE_MAX);
  /** The sender of the batched datagram being processed and its IPv4 as u32 (-1 for IPv6). */
  private rxFrom: SockAddr | undefined;
  private rxFromIp4 = -1;

  /**
   * -H without users: the UDP batch's headers opened with the (one) key pair in a pre-pass (four checksums side
   * by side), datagram i's result at heOut[4i..] (processUdp's `opened`).
   */
  private heOffs = new Uint32Array(0);
  private heOut = new Uint32Array(0);

  // batched TAP writes: the frames of one UDP batch, written in one call
  private rxBatching = false;
  private readonly tapSlab = new Uint8Array(TAP_BATCH_MAX * TAP_SLOT_BYTES);
  /** Slots of tapSlab taken in the current UDP batch (a frame may take one and then be dropped). */
  private tapSlots = 0;
  private tapBatchCount = 0;
  private readonly tapOffsets = new Uint32Array(TAP_BATCH_MAX);
  private readonly tapLengths = new Uint32Array(TAP_BATCH_MAX);
  /** Payloads of the UDP batch waiting for decryption into their tapSlab slot (payload batch, one native call). */
  private decBuf: Uint8Array | undefined;
  private decCount = 0;
  private readonly decSrcOffs = new Uint32Array(TAP_BATCH_MAX);
  private readonly decLens = new Uint32Array(TAP_BATCH_MAX);
  private readonly decDstOffs = new Uint32Array(TAP_BATCH_MAX);
  private readonly decOutLens = new Uint32Array(TAP_BATCH_MAX);

  constructor(
    private readonly ctx: EdgeContext,
    private readonly peers: PeerTable,
    private readonly registration: Registration,
  ) {
    this.config = ctx.config;
    this.clock = ctx.clock;
    this.filter = ctx.filter;
    this.payload = ctx.payload;
    this.community = ctx.community;
    this.he = ctx.he;
    this.userPassword = ctx.userPassword;
    this.staticKeys = ctx.staticKeys;
    this.traffic = ctx.traffic;
    this.drops = ctx.drops;
    this.supernodes = ctx.supernodes;
    this.rxStamp = ctx.rxStamp;
    this.trailerHash = ctx.trailerHash;
  }

  /** Receives from `s`, in batches when it can. */
  listen(s: UdpSocket): void {
    if (isBatchUdpSocket(s)) s.onDatagrams(this.onUdpBatch);
    else s.onDatagram(this.onUdp);
  }

  readonly onUdp = (data: Buffer, from: SockAddr): void => {
    // The fast path's counters and -H replay records first: this datagram is checked against the same ones.
    this.ctx.fastPath?.collectNow();
    this.processUdp(data, 0, data.length, from, false);
    this.ctx.fastPath?.refresh();
  };

  /** The local-discovery socket's datagrams (REGISTERs from edges on our LAN). */
  readonly onMulticast = (data: Buffer, from: SockAddr): void => {
    this.ctx.fastPath?.collectNow();
    this.processUdp(data, 0, data.length, from, true);
    this.ctx.fastPath?.refresh();
  };

  /**
   * A batch of datagrams from the batched UDP socket: processed in place in its slab, senders decoded through a
   * small cache (no allocation for known peers), and the resulting TAP frames written in one call.
   */
  readonly onUdpBatch = (b: DatagramBatch): void => {
    const slab = b.slab;
    const addrs = b.addrs;
    this.ctx.fastPath?.collectNow();
    this.rxBatching = true;
    this.batchNow = nowSeconds(this.clock);
    try {
      const prepass = this.he && !this.userPassword;
      if (prepass) this.openHeaders(b);
      for (let i = 0; i < b.count; i++) {
        const a = i * SOCKADDR_BYTES;
        let from: SockAddr;
        if (addrs[a] === 4) {
          const ip4 =
            ((addrs[a + 4] << 24) | (addrs[a + 5] << 16) | (addrs[a + 6] << 8) | addrs[a + 7]) >>> 0;
          from = this.cachedAddr(ip4, (addrs[a + 2] << 8) | addrs[a + 3]);
        } else {
          from = this.addr6Cache.get(addrs, a);
        }
        this.rxFrom = from;
        this.rxFromIp4 =
          addrs[a] === 4
            ? ((addrs[a + 4] << 24) | (addrs[a + 5] << 16) | (addrs[a + 6] << 8) | addrs[a + 7]) >>> 0
            : -1;
        this.processUdp(slab, i * b.stride + b.headroom, b.lengths[i], from, false, prepass ? i : -1);
      }
    } finally {
      this.rxBatching = false;
      this.batchNow = -1;
      this.rxFrom = undefined;
      if (this.decCount > 0) this.runRxCrypto();
      this.tapSlots = 0;
      this.flushTapWrites();
      this.ctx.fastPath?.refresh();
    }
  };

  /**
   * The pre-pass of a -H batch in a community without users, where the dynamic and static keys are one pair
   * that never changes: the first attempt of decryptHeaderTryKeys (those keys over the whole length) for every
   * datagram of the batch in one call; processUdp takes each result in turn and makes the second attempt
   * (len − 16) itself for a datagram that did not open, so the outcome is the one-by-one one.
   */
  private openHeaders(b: DatagramBatch): void {
    const n = b.count;
    if (this.heOffs.length < n) {
      this.heOffs = new Uint32Array(n);
      this.heOut = new Uint32Array(n * OPEN_BATCH_WORDS);
    }
    for (let i = 0; i < n; i++) this.heOffs[i] = i * b.stride + b.headroom;
    decryptHeaderBatch(b.slab, this.heOffs, b.lengths, n, this.ctx.dynamicKeys!, this.community, this.heOut);
  }

  /** decryptHeaderTryKeys for datagram i of the batch, from the pre-pass's result (openHeaders). */
  private openedHeader(buf: Buffer, off: number, len: number, i: number): HeaderKeyUsed {
    const o = i * OPEN_BATCH_WORDS;
    const out = this.heOut;
    const stamp = this.rxStamp;
    if (out[o] === 1) {
      stamp.hi = out[o + 1];
      stamp.lo = out[o + 2];
      if (stamp instanceof HeaderInfo) stamp.hl = out[o + 3];
      return HeaderKeyUsed.DYNAMIC;
    }
    const shortLen = Math.max(0, len - AUTH_TRAILER_BYTES);
    return decryptHeader(buf, off, shortLen, this.staticKeys!, this.community, stamp)
      ? HeaderKeyUsed.STATIC
      : HeaderKeyUsed.NONE;
  }

  /** The SockAddr of an IPv4 sender, shared between datagrams from it (the objects are never mutated). */
  private cachedAddr(ip4: number, port: number): SockAddr {
    if (ip4 === this.lastIp4 && port === this.lastPort && this.lastAddr !== undefined) return this.lastAddr;
    const key = ip4 * 0x10000 + port;
    let a = this.addrCache.get(key);
    if (a === undefined) {
      if (this.addrCache.size >= ADDR_CACHE_MAX) this.addrCache.clear();
      a = { family: 4, address: numberToIpv4(ip4), port };
      this.addrCache.set(key, a);
    }
    this.lastIp4 = ip4;
    this.lastPort = port;
    this.lastAddr = a;
    return a;
  }

  /** `from`'s IPv4 as u32 (-1 for IPv6): the batch already has it for the datagram being processed. */
  private senderIp4(from: SockAddr): number {
    if (from === this.rxFrom) return this.rxFromIp4;
    return from.family === 4 ? ipv4Value(from.address) : -1;
  }

  /** Unix seconds for the packet path: the batch's reading while one is handled, else the clock's. */
  private packetNow(): number {
    return this.batchNow >= 0 ? this.batchNow : nowSeconds(this.clock);
  }

  /**
   * edge_utils.c: process_udp for the datagram buf[off, off+len); `opened` is its index in a batch whose headers
   * the pre-pass opened (openHeaders), else -1. Never throws: every failure is a counted drop.
   */
  private processUdp(
    buf: Buffer,
    off: number,
    len: number,
    from: SockAddr,
    viaMcast: boolean,
    opened = -1,
  ): void {
    const state = this.ctx.state;
    if (state !== EdgeState.RUNNING && state !== EdgeState.STARTING) return;
    if (len < COMMON_HEADER_BYTES) {
      this.drops.rxShort++;
      return;
    }
    let keyUsed: number = HeaderKeyUsed.DYNAMIC;
    if (opened >= 0) {
      keyUsed = this.openedHeader(buf, off, len, opened);
      if (keyUsed === HeaderKeyUsed.NONE) {
        this.drops.rxHeaderCrypto++;
        return;
      }
    } else if (this.he) {
      keyUsed = decryptHeaderTryKeys(
        buf,
        off,
        len,
        this.ctx.dynamicKeys!,
        this.staticKeys!,
        this.community,
        this.rxStamp,
        this.userPassword ? this.trailerHash : undefined,
      );
      if (keyUsed === HeaderKeyUsed.NONE) {
        this.drops.rxHeaderCrypto++;
        return;
      }
    }
    if (buf[off] !== N2N_PKT_VERSION) {
      this.drops.rxDecode++;
      return;
    }
    const word = (buf[off + 2] << 8) | buf[off + 3];
    const type = word & Flags.TYPE_MASK;
    if (
      this.userPassword &&
      type !== MsgType.REGISTER_SUPER_ACK &&
      type !== MsgType.REGISTER_SUPER_NAK &&
      keyUsed !== HeaderKeyUsed.DYNAMIC
    ) {
      this.drops.rxStaticKey++;
      return;
    }
    let sn: SupernodeEntry | undefined;
    if (word & Flags.FROM_SUPERNODE) {
      sn = this.supernodes.byAddr(from);
      if (sn === undefined) {
        this.drops.rxUnknownSupernode++;
        return;
      }
    }
    if (!communityMatches(buf, off, this.community)) {
      this.drops.rxCommunity++;
      return;
    }
    if (type === MsgType.PACKET) {
      this.rxPacket(buf, off, off + len, from, sn, viaMcast);
      return;
    }
    // Types an edge never takes (REGISTER_SUPER, QUERY_PEER, …: most of a flood's well-formed junk) are dropped
    // before their body is decoded.
    if (!EDGE_RX_TYPES[type]) {
      this.drops.rxIgnored++;
      return;
    }
    // A REGISTER for another edge (not LAN discovery) is dropped before its body is decoded: a flood of forged
    // ones costs no allocation (PeerTable.onRegister drops it after decoding alike).
    if (
      type === MsgType.REGISTER &&
      !viaMcast &&
      len >= REGISTER_DST_MAC_END &&
      readMac(buf, off + REGISTER_DST_MAC_OFFSET) !== this.ctx.ownMac
    ) {
      this.drops.rxIgnored++;
      return;
    }
    // The user/password trailer is not part of the message.
    const msgLen = keyUsed === HeaderKeyUsed.STATIC && this.userPassword ? len - AUTH_TRAILER_BYTES : len;
    let msg: Message;
    try {
      msg = decodeMessage(buf, off, off + msgLen);
    } catch {
      this.drops.rxDecode++;
      return;
    }
    try {
      this.rxControl(msg, buf, off + len, from, sn, viaMcast);
    } catch (err) {
      this.drops.rxDecode++;
      this.ctx.log(
        LogLevel.WARNING,
        `error handling ${MsgType[type as never] ?? type} from ${sockAddrToString(from)}: ${(err as Error).message}`,
      );
    }
  }

  /** A PACKET in buf[off, end): peer bookkeeping, then the payload to TAP (edge_utils.c: process_udp + handle_PACKET). */
  private rxPacket(
    buf: Buffer,
    off: number,
    end: number,
    from: SockAddr,
    sn: SupernodeEntry | undefined,
    viaMcast: boolean,
  ): void {
    const v = this.view;
    let payloadOff: number;
    try {
      payloadOff = readPacketHeader(buf, off, end, v);
    } catch {
      this.drops.rxDecode++;
      return;
    }
    const fromSn = (v.flags & Flags.FROM_SUPERNODE) !== 0;
    const peers = this.peers;
    if (!peers.stampOk(sn, v.srcMac, true)) return;
    if (this.ctx.lastSup === 0) {
      this.drops.rxNotRegistered++;
      return;
    }
    const now = this.packetNow();
    if (!fromSn) {
      // A direct packet: the path works.
      peers.directPacket(viaMcast, v.srcMac, from, this.senderIp4(from), now);
    } else if (v.hasSock && v.sockFamily === 4 && v.sockIpv4 !== LOCALHOST_V4) {
      // Relayed: the sender's public socket is in the header; built lazily to avoid allocating.
      peers.checkPeerRegistration(
        true,
        viaMcast,
        v.srcMac,
        Cookie.FORWARDED,
        undefined,
        v.sockIpv4,
        v.sockPort,
        now,
      );
    } else {
      peers.checkPeerRegistration(
        true,
        viaMcast,
        v.srcMac,
        Cookie.FORWARDED,
        from,
        this.senderIp4(from),
        from.port,
        now,
      );
    }
    if (fromSn) this.traffic.rxSupBytes += end - off;
    else this.traffic.rxP2pBytes += end - off;
    this.handlePacket(buf, payloadOff, end, fromSn, now);
  }

  /** edge_utils.c: handle_PACKET, for the payload buf[payloadOff, end). */
  private handlePacket(buf: Buffer, payloadOff: number, end: number, fromSn: boolean, now: number): void {
    const v = this.view;
    const t = this.traffic;
    if (fromSn) {
      if (isN2nMulticastOrBroadcast(v.dstMac)) t.rxSupBroadcast++;
      t.rxSup++;
      this.ctx.lastSup = now;
    } else {
      t.rxP2p++;
      this.ctx.lastP2p = now;
    }
    if (v.transform !== this.payload.transformId) {
      this.drops.rxTransform++;
      return;
    }
    // Frames of a UDP batch are decrypted straight into the TAP batch slab, with the payload batch in one call
    // at the end of the UDP batch (runRxCrypto) when the native backend offers it; single datagrams into rxBuf.
    // (Payloads larger than a slot take the single path; the transform refuses what rxBuf cannot hold.)
    const len = end - payloadOff;
    const batched = this.rxBatching && this.tapSlots < TAP_BATCH_MAX && len <= TAP_SLOT_BYTES;
    const compressed = v.compression !== CompressionId.NONE;
    t.transopRx++;
    if (batched && !compressed && this.payload.batch !== undefined) {
      const j = this.decCount++;
      this.decBuf = buf;
      this.decSrcOffs[j] = payloadOff;
      this.decLens[j] = len;
      this.decDstOffs[j] = this.tapSlots++ * TAP_SLOT_BYTES;
      return;
    }
    // Frames waiting for the batch go to the TAP first: the order stays.
    if (this.decCount > 0) this.runRxCrypto();
    // Compressed payloads are decrypted into rxBuf first, then inflated into the frame's place.
    const frame = batched ? this.tapSlab : compressed ? this.unzBuf : this.rxBuf;
    const fOff = batched ? this.tapSlots++ * TAP_SLOT_BYTES : 0;
    let n = this.payload.decrypt(
      buf,
      payloadOff,
      len,
      compressed ? this.rxBuf : frame,
      compressed ? 0 : fOff,
    );
    if (n < 0) {
      this.drops.rxPayloadCrypto++;
      return;
    }
    if (compressed) {
      const m = this.payload.decompress(v.compression, this.rxBuf, 0, n, frame, fOff);
      if (m < 0) {
        this.drops.rxCompression++;
        return;
      }
      n = m;
    }
    if (!this.acceptRxFrame(frame, fOff, n)) return;
    if (batched) {
      const i = this.tapBatchCount++;
      this.tapOffsets[i] = fOff;
      this.tapLengths[i] = n;
      return;
    }
    const tap = this.ctx.tap;
    if (tap === undefined || !tap.write(frame, fOff, n)) this.drops.rxTapWrite++;
  }

  /** Decrypts the payloads handlePacket left for the batch into their slots, then checks and queues each frame. */
  private runRxCrypto(): void {
    const n = this.decCount;
    const src = this.decBuf!;
    this.decCount = 0;
    this.decBuf = undefined;
    try {
      this.payload.batch!.decrypt(
        src,
        this.decSrcOffs,
        this.decLens,
        this.tapSlab,
        this.decDstOffs,
        n,
        this.decOutLens,
      );
    } catch {
      // Only a wrong range throws, which handlePacket rules out.
      this.drops.rxPayloadCrypto += n;
      return;
    }
    for (let j = 0; j < n; j++) {
      const m = this.decOutLens[j];
      if (m === BATCH_INVALID) {
        this.drops.rxPayloadCrypto++;
        continue;
      }
      const fOff = this.decDstOffs[j];
      if (!this.acceptRxFrame(this.tapSlab, fOff, m)) continue;
      const i = this.tapBatchCount++;
      this.tapOffsets[i] = fOff;
      this.tapLengths[i] = m;
    }
  }

  /**
   * edge_utils.c: handle_PACKET's checks on the plaintext frame[fOff, +n); a refused frame is counted. An
   * accepted one gets its TCP MSS clamped in place (--mss-clamp) on its way to the TAP.
   */
  private acceptRxFrame(frame: Uint8Array, fOff: number, n: number): boolean {
    if (n < ETH_HEADER_BYTES) {
      this.drops.rxDecode++;
      return false;
    }
    if (isEthMulticast(frame, fOff)) {
      if (!this.config.acceptMulticast) {
        this.drops.rxMulticast++;
        return false;
      }
    } else if (
      !this.config.allowRouting &&
      ((frame[fOff + ETHERTYPE_OFFSET] << 8) | frame[fOff + ETHERTYPE_OFFSET + 1]) === ETHERTYPE_IPV4 &&
      n >= ETH_HEADER_BYTES + IPV4_MIN_HEADER_BYTES &&
      readMac(frame, fOff) !== BROADCAST_MAC &&
      readU32(frame, fOff + IPV4_DST) !== this.ctx.devAddr
    ) {
      this.drops.rxRouted++;
      return false;
    }
    if (this.filter !== undefined && !this.filter.accepts(frame, fOff, n)) {
      this.drops.rxFiltered++;
      return false;
    }
    const ctx = this.ctx;
    if (ctx.mssV4 !== 0 && clampMss(frame, fOff, n, ctx.mssV4, ctx.mssV6) !== MssClamp.NONE)
      this.traffic.mssClampRx++;
    return true;
  }

  /** Writes the frames collected from one UDP batch to the TAP device in one call. */
  private flushTapWrites(): void {
    const n = this.tapBatchCount;
    if (n === 0) return;
    this.tapBatchCount = 0;
    const tap = this.ctx.tap;
    const written = tap === undefined ? 0 : tap.writeBatch(this.tapSlab, this.tapOffsets, this.tapLengths, n);
    if (written < n) this.drops.rxTapWrite += n - written;
  }

  // ------------------------------------------------------------------ control messages

  /** Hands a decoded control message to its owner: the peer table or the registration (edge_utils.c: process_udp). */
  private rxControl(
    msg: Message,
    raw: Buffer,
    rawEnd: number,
    from: SockAddr,
    sn: SupernodeEntry | undefined,
    viaMcast: boolean,
  ): void {
    const fromSn = (msg.common.flags & Flags.FROM_SUPERNODE) !== 0;
    const now = nowSeconds(this.clock);
    switch (msg.type) {
      case MsgType.REGISTER:
        this.peers.onRegister(msg.body, from, this.senderIp4(from), sn, fromSn, viaMcast, now);
        return;
      case MsgType.REGISTER_ACK:
        this.peers.onRegisterAck(msg.body, from, sn, now);
        return;
      case MsgType.REGISTER_SUPER_ACK:
        this.registration.onRegisterSuperAck(msg.body, raw, rawEnd, from, sn, now);
        return;
      case MsgType.REGISTER_SUPER_NAK:
        this.registration.onRegisterSuperNak(msg.body, sn);
        return;
      case MsgType.PEER_INFO:
        this.rxPeerInfo(msg.body, (msg.common.flags & Flags.SOCKET) !== 0, from, sn, now);
        return;
      case MsgType.RE_REGISTER_SUPER:
        this.registration.onReRegisterSuper(sn, now);
        return;
      default:
        this.drops.rxIgnored++;
    }
  }

  /** A PONG (no MAC: supernode selection) or the answer to a QUERY_PEER (edge_utils.c: MSG_TYPE_PEER_INFO). */
  private rxPeerInfo(
    pi: PeerInfo,
    hasSock: boolean,
    from: SockAddr,
    sn: SupernodeEntry | undefined,
    now: number,
  ): void {
    if (!this.peers.stampOk(sn, NULL_MAC, true)) return;
    const piAddr = sockToAddr(pi.sock);
    if (hasSock && !isValidPeerAddr(piAddr)) {
      this.drops.rxIgnored++;
      return;
    }
    if (pi.mac === NULL_MAC) this.registration.onPong(pi, from, now);
    else this.peers.onPeerInfo(pi, piAddr, hasSock);
  }
}
