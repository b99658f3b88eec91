// TAP → UDP: the frame checks, compression, encryption (batched), the PACKET header, the -H seal and the (batched) send.
//
// edge_utils.c: edge_read_from_tap / edge_send_packet2net / send_packet, per frame of a TAP batch:
//   1. tapFrame: length, multicast filter (-E), registered?, -R rules
//   2. sendFrame: routing check (-r), TCP MSS clamping (--mss-clamp, in place), optional LZO into zBuf (kept only if shorter), then the transform writes
//      preamble + ciphertext in place after the 38-byte PACKET header in the frame's headroom — or, with the
//      native payload batch, the frame is queued and the whole batch is encrypted in one call by flushTx
//   3. sendPacket: the destination (known peer P2P, else the supernode, which also triggers a QUERY_PEER)
//   4. udpSend queues the datagram; flushTx encrypts and seals what waits, then one sendmmsg sends the batch
// Nothing here allocates per frame; every drop increments a counter in `drops`.
import { encodeSockAddr, SOCKADDR_BYTES } from '../io/sockaddr.js';
import type { BatchUdpSocket, FrameBatch, UdpSocket } from '../io/types.js';
import { FRAME_HEADROOM_BYTES, isBatchUdpSocket } from '../io/types.js';
import type { HeaderSealer } from '../peer/seal.js';
import { headerLength } from '../transform/header.js';
import type { Clock } from '../util/clock.js';
import type { SockAddr } from '../util/ip.js';
import { BROADCAST_MAC, isN2nMulticastOrBroadcast, type Mac, readMac, writeMac } from '../util/mac.js';
import { PACKET_HEADER_BYTES, writePacketHeader } from '../wire/packet.js';
import { CompressionId, MsgType, N2N_DEFAULT_TTL } from '../wire/types.js';
import {
  ETH_HEADER_BYTES,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_OFFSET,
  GARP_BYTES,
  IPV4_MIN_HEADER_BYTES,
  IPV4_SRC,
  isEthMulticast,
  RX_BUF_BYTES,
  readU32,
  TX_BATCH_MAX,
  TX_BUF_BYTES,
} from './constants.js';
import { type EdgeContext, nowSeconds, type SupernodeSet } from './context.js';
import type { TrafficFilter } from './filter.js';
import { clampMss, MssClamp } from './mss.js';
import type { EdgeConfig } from './options.js';
import { type EdgePayload, MAX_BATCH_PLAINTEXT_BYTES } from './payload.js';
import type { PeerTable } from './peer-table.js';
import type { Peer } from './peers.js';
import type { EdgeDrops, EdgeTraffic } from './stats.js';

export class SendPath {
  // Fixed references, loaded once per use instead of through the context.
  private readonly config: EdgeConfig;
  private readonly clock: Clock;
  private readonly filter: TrafficFilter | undefined;
  private readonly payload: EdgePayload;
  private readonly sealer: HeaderSealer;
  private readonly community: Uint8Array;
  private readonly he: boolean;
  private readonly userPassword: boolean;
  private readonly traffic: EdgeTraffic;
  private readonly drops: EdgeDrops;
  private readonly supernodes: SupernodeSet;
  private readonly known: Map<Mac, Peer>;

  // scratch, allocated once
  private readonly txBuf = Buffer.alloc(TX_BUF_BYTES);
  private readonly zBuf = Buffer.alloc(FRAME_HEADROOM_BYTES + RX_BUF_BYTES);
  private readonly garp = Buffer.alloc(FRAME_HEADROOM_BYTES + GARP_BYTES);
  /** Unix seconds read once per TAP batch (-1 outside one): a clock read per frame showed in profiles. */
  private batchNow = -1;

  // batched sends: sendmmsg of the datagrams made from one TAP batch
  private batchUdp: BatchUdpSocket | undefined;
  /** The TAP slab being processed: datagrams built in place in it are queued, others leave at once. */
  private txBatchBuf: Uint8Array | undefined;
  private txCount = 0;
  private readonly txOffsets = new Uint32Array(TX_BATCH_MAX);
  private readonly txLengths = new Uint32Array(TX_BATCH_MAX);
  private readonly txAddrs = new Uint8Array(TX_BATCH_MAX * SOCKADDR_BYTES);
  /** Encoded IPv6 destinations by SockAddr object (a peer's address object lives as long as the address). */
  private readonly encoded6 = new WeakMap<SockAddr, Uint8Array>();
  /**
   * Frames of the TAP batch waiting for encryption (payload batch, one native call) and, with -H, for their header
   * seal, which checksums the finished datagram. Run by flushTx before anything queued leaves.
   */
  private encBuf: Uint8Array | undefined;
  private encCount = 0;
  private readonly encSrcOffs = new Uint32Array(TX_BATCH_MAX);
  private readonly encLens = new Uint32Array(TX_BATCH_MAX);
  private readonly encDstOffs = new Uint32Array(TX_BATCH_MAX);
  private readonly encOutLens = new Uint32Array(TX_BATCH_MAX);
  private readonly sealOffs = new Uint32Array(TX_BATCH_MAX);
  private readonly sealLens = new Uint32Array(TX_BATCH_MAX);
  private readonly sealHls = new Uint32Array(TX_BATCH_MAX);

  constructor(
    private readonly ctx: EdgeContext,
    private readonly peers: PeerTable,
  ) {
    this.config = ctx.config;
    this.clock = ctx.clock;
    this.filter = ctx.filter;
    this.payload = ctx.payload;
    this.sealer = ctx.sealer;
    this.community = ctx.community;
    this.he = ctx.he;
    this.userPassword = ctx.userPassword;
    this.traffic = ctx.traffic;
    this.drops = ctx.drops;
    this.supernodes = ctx.supernodes;
    this.known = peers.known;
  }

  /** Sends through `s` from now on, in batches when it can. */
  useSocket(s: UdpSocket): void {
    this.batchUdp = isBatchUdpSocket(s) ? s : undefined;
  }

  /** The TAP device's callback: one batch of frames, each with headroom in front. */
  readonly onTapFrames = (batch: FrameBatch): void => {
    const slab = batch.slab;
    const n = batch.count;
    // Datagrams built in place in this slab are queued and leave in one sendmmsg at the end.
    this.ctx.fastPath?.collectNow();
    this.txBatchBuf = this.batchUdp !== undefined ? slab : undefined;
    this.batchNow = nowSeconds(this.clock);
    try {
      for (let i = 0; i < n; i++) {
        const off = i * batch.stride + batch.headroom;
        this.tapFrame(slab, off, batch.lengths[i], batch.headroom);
      }
    } finally {
      this.flushTx();
      this.txBatchBuf = undefined;
      this.batchNow = -1;
      this.ctx.fastPath?.refresh();
    }
  };

  /** Two gratuitous ARP replies through the normal PACKET path (edge_utils.c: send_grat_arps). */
  sendGratuitousArps(): void {
    const ctx = this.ctx;
    for (let i = 0; i < 2; i++) {
      // Rebuilt each time: the send path encrypts the frame in place.
      const b = this.garp;
      const o = FRAME_HEADROOM_BYTES;
      b.fill(0, o, o + GARP_BYTES);
      writeMac(b, o, BROADCAST_MAC);
      writeMac(b, o + 6, ctx.ownMac);
      b[o + 12] = ETHERTYPE_ARP >>> 8;
      b[o + 13] = ETHERTYPE_ARP & 0xff;
      b[o + 15] = 0x01; // hardware: Ethernet
      b[o + 16] = 0x08; // protocol: IPv4
      b[o + 18] = 6;
      b[o + 19] = 4;
      b[o + 21] = 0x02; // ARP reply
      writeMac(b, o + 22, ctx.ownMac);
      b.writeUInt32BE(ctx.devAddr >>> 0, o + 28);
      writeMac(b, o + 32, BROADCAST_MAC);
      b.writeUInt32BE(ctx.devAddr >>> 0, o + 38);
      this.sendFrame(b, o, GARP_BYTES, FRAME_HEADROOM_BYTES);
    }
  }

  /** Unix seconds for the packet path: the batch's reading while one is handled, else the clock's. */
  private packetNow(): number {
    return this.batchNow >= 0 ? this.batchNow : nowSeconds(this.clock);
  }

  /** edge_utils.c: edge_read_from_tap for one frame. */
  private tapFrame(buf: Buffer, off: number, len: number, headroom: number): void {
    if (len < ETH_HEADER_BYTES) {
      this.drops.txShort++;
      return;
    }
    if (!this.config.acceptMulticast && isEthMulticast(buf, off)) {
      this.drops.txMulticast++;
      return;
    }
    if (this.ctx.lastSup === 0) {
      this.drops.txNotRegistered++;
      return;
    }
    if (this.filter !== undefined && !this.filter.accepts(buf, off, len)) {
      this.drops.txFiltered++;
      return;
    }
    this.sendFrame(buf, off, len, headroom);
  }

  /**
   * edge_utils.c: edge_send_packet2net + send_packet. The frame buf[off, off+len) has `headroom` free bytes in
   * front: the PACKET header and the cipher preamble are written there and the frame is encrypted in place.
   */
  private sendFrame(buf: Uint8Array, off: number, len: number, headroom: number): void {
    const ctx = this.ctx;
    if (
      !this.config.allowRouting &&
      ((buf[off + ETHERTYPE_OFFSET] << 8) | buf[off + ETHERTYPE_OFFSET + 1]) === ETHERTYPE_IPV4
    ) {
      // Only IPv4 we originate leaves without -r.
      if (len < ETH_HEADER_BYTES + IPV4_MIN_HEADER_BYTES || readU32(buf, off + IPV4_SRC) !== ctx.devAddr) {
        this.drops.txRouted++;
        return;
      }
    }
    if (ctx.mssV4 !== 0 && clampMss(buf, off, len, ctx.mssV4, ctx.mssV6) !== MssClamp.NONE)
      this.traffic.mssClampTx++;
    const p = this.payload;
    const dstMac = readMac(buf, off);
    let src = buf;
    let srcOff = off;
    let srcLen = len;
    let room = headroom;
    let compression: number = CompressionId.NONE;
    if (p.compression !== CompressionId.NONE) {
      const z = p.compress(buf, off, len, this.zBuf, FRAME_HEADROOM_BYTES);
      if (z > 0) {
        src = this.zBuf;
        srcOff = FRAME_HEADROOM_BYTES;
        srcLen = z;
        room = FRAME_HEADROOM_BYTES;
        compression = p.compression;
      }
    }
    let out = src;
    let payloadOff = srcOff - p.overhead;
    if (room < PACKET_HEADER_BYTES + p.overhead) {
      // Not enough headroom (never with our TAP devices): encrypt into the scratch buffer instead.
      out = this.txBuf;
      payloadOff = PACKET_HEADER_BYTES;
    }
    // A frame of the TAP batch (whose datagrams leave together) is encrypted with the rest of the batch in
    // flushTx; any other at once, after the waiting ones (their seals must keep the send order).
    const deferred = p.batch !== undefined && out === this.txBatchBuf && srcLen <= MAX_BATCH_PLAINTEXT_BYTES;
    let n: number;
    if (deferred) {
      if (this.encCount === TX_BATCH_MAX) this.flushTx();
      const j = this.encCount++;
      this.encBuf = out;
      this.encSrcOffs[j] = srcOff;
      this.encLens[j] = srcLen;
      this.encDstOffs[j] = payloadOff;
      n = srcLen + p.overhead;
    } else {
      if (this.encCount > 0) this.flushTx();
      n = p.encrypt(src, srcOff, srcLen, out, payloadOff);
      if (n < 0) {
        this.drops.txTransform++;
        return;
      }
    }
    this.traffic.transopTx++;
    const hdrOff = payloadOff - PACKET_HEADER_BYTES;
    writePacketHeader(
      out,
      hdrOff,
      N2N_DEFAULT_TTL,
      0,
      this.community,
      ctx.ownMac,
      dstMac,
      undefined,
      compression,
      p.transformId,
    );
    const total = PACKET_HEADER_BYTES + n;
    if (this.he) {
      const hl = headerLength(MsgType.PACKET, PACKET_HEADER_BYTES, n, this.userPassword);
      if (deferred) {
        const j = this.encCount - 1;
        this.sealOffs[j] = hdrOff;
        this.sealLens[j] = total;
        this.sealHls[j] = hl;
      } else {
        this.sealer.seal(out, hdrOff, total, ctx.dynamicKeys!, hl);
      }
    }
    this.sendPacket(dstMac, out, hdrOff, total);
  }

  /** edge_utils.c: send_packet with find_peer_destination. */
  private sendPacket(dstMac: Mac, out: Uint8Array, off: number, total: number): void {
    if (this.ctx.udp === undefined) {
      this.drops.txNoRoute++;
      return;
    }
    const sns = this.supernodes;
    if (isN2nMulticastOrBroadcast(dstMac)) {
      this.traffic.txSup++;
      this.traffic.txSupBytes += total;
      this.traffic.txSupBroadcast++;
      if (sns.wait !== 0) {
        // No supernode: hand broadcasts to every peer we reach directly.
        for (const p of this.known.values()) this.udpSend(out, off, total, p.addr, p.ip4);
        return;
      }
      const sn = sns.cur.addr;
      if (sn === undefined) this.drops.txNoRoute++;
      else this.udpSend(out, off, total, sn, sns.cur.ip4);
      return;
    }
    const now = this.packetNow();
    const peer = this.known.get(dstMac);
    if (peer !== undefined && peer.lastSeen > 0) {
      if (now - peer.lastP2p >= Math.floor(peer.timeout / 2)) {
        // Silent for too long: the path may be gone; go via the supernode and register again.
        this.peers.dropStale(peer);
      } else {
        this.traffic.txP2p++;
        this.traffic.txP2pBytes += total;
        peer.txDirect++;
        this.udpSend(out, off, total, peer.addr, peer.ip4);
        return;
      }
    }
    this.traffic.txSup++;
    this.traffic.txSupBytes += total;
    const sn = sns.cur.addr;
    // Query first: it uses the control buffer, so the frame in `out` stays intact.
    this.peers.checkQueryPeerInfo(now, dstMac);
    if (sn === undefined) this.drops.txNoRoute++;
    else this.udpSend(out, off, total, sn, sns.cur.ip4);
  }

  /**
   * Sends buf[off, off+len) to `to` (`ip4` = its IPv4 as u32, or -1): queued for the batch send when `buf` is the
   * TAP slab being processed, else at once (after what is queued, to keep the order).
   */
  private udpSend(buf: Uint8Array, off: number, len: number, to: SockAddr, ip4: number): void {
    if (buf !== this.txBatchBuf || this.batchUdp === undefined) {
      this.flushTx();
      this.ctx.udp?.send(buf, off, len, to);
      return;
    }
    if (this.txCount === TX_BATCH_MAX) this.flushTx();
    const i = this.txCount++;
    this.txOffsets[i] = off;
    this.txLengths[i] = len;
    const a = i * SOCKADDR_BYTES;
    const addrs = this.txAddrs;
    if (ip4 >= 0) {
      // io/sockaddr.ts layout: family, 0, port BE, IPv4 BE; the rest stays zero.
      addrs[a] = 4;
      addrs[a + 1] = 0;
      addrs[a + 2] = to.port >>> 8;
      addrs[a + 3] = to.port & 0xff;
      addrs[a + 4] = ip4 >>> 24;
      addrs[a + 5] = (ip4 >>> 16) & 0xff;
      addrs[a + 6] = (ip4 >>> 8) & 0xff;
      addrs[a + 7] = ip4 & 0xff;
      for (let j = 8; j < SOCKADDR_BYTES; j++) addrs[a + j] = 0;
    } else {
      // IPv6: encoded once per SockAddr object (peers and supernodes keep theirs), then copied.
      let enc = this.encoded6.get(to);
      if (enc === undefined) {
        enc = new Uint8Array(SOCKADDR_BYTES);
        try {
          encodeSockAddr(to, enc, 0);
        } catch {
          this.txCount--;
          this.drops.txNoRoute++;
          return;
        }
        this.encoded6.set(to, enc);
      }
      addrs.set(enc, a);
    }
  }

  /** Sends what udpSend queued, after encrypting (and sealing) the frames still waiting for it. */
  flushTx(): void {
    if (this.encCount > 0 && !this.runTxCrypto()) {
      // Never send what was not encrypted: everything queued goes.
      this.drops.txTransform += this.txCount;
      this.txCount = 0;
      return;
    }
    const n = this.txCount;
    if (n === 0) return;
    this.txCount = 0;
    const sent =
      this.batchUdp?.sendBatch(this.txBatchBuf!, this.txOffsets, this.txLengths, this.txAddrs, n) ?? 0;
    // The kernel refused the rest (send buffer full, unreachable): dropped like any lost datagram.
    if (sent < n) this.drops.txSocket += n - sent;
  }

  /** Encrypts the frames sendFrame left for the batch in one call, then seals their headers (-H), in order. */
  private runTxCrypto(): boolean {
    const n = this.encCount;
    const buf = this.encBuf!;
    this.encCount = 0;
    this.encBuf = undefined;
    try {
      this.payload.batch!.encrypt(
        buf,
        this.encSrcOffs,
        this.encLens,
        buf,
        this.encDstOffs,
        n,
        this.encOutLens,
      );
    } catch {
      // Only a wrong range throws, which sendFrame rules out; the frames are lost, never sent in clear.
      return false;
    }
    if (this.he)
      this.sealer.sealBatch(buf, this.sealOffs, this.sealLens, this.sealHls, n, this.ctx.dynamicKeys!);
    return true;
  }
}
