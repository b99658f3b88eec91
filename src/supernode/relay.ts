// Forwarding (sn_utils.c: try_forward, try_broadcast): PACKET, REGISTER, federation REGISTER_SUPER, QUERY_PEER, PEER_INFO.
import { HE_PAYLOAD_IV_BYTES } from '../transform/header.js';
import type { SockAddr } from '../util/ip.js';
import { isN2nMulticastOrBroadcast, type Mac, NULL_MAC } from '../util/mac.js';
import { communityName } from '../wire/common.js';
import {
  decodeMessage,
  encodePeerInfo,
  encodeQueryPeer,
  encodeRegister,
  encodeRegisterSuper,
} from '../wire/messages.js';
import { createPacketHeaderView, readPacketHeader, writePacketHeader } from '../wire/packet.js';
import { SOCK_IPV4_BYTES, SOCK_IPV6_BYTES, writeSock, writeSockIpv4 } from '../wire/sock.js';
import {
  type Common,
  Flags,
  MsgType,
  N2N_DEFAULT_TTL,
  type RegisterSuper,
  VERSION_BYTES,
} from '../wire/types.js';
import { ipv4Of, sameAddr } from './addr.js';
import type { CommunityTable } from './communities.js';
import { type Community, HeState, type SnPeer, type SnUser } from './community.js';
import type { SnContext } from './context.js';
import type { Federation } from './federation.js';
import { DropReason } from './stats.js';
import { SN_INACTIVE_SECONDS } from './timers.js';
import type { Transport } from './transport.js';

/** 3.1.1 edges read the PEER_INFO load field little-endian (spec §4.9): byte-swap it for the BE encoder. */
function swap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/**
 * Moves traffic between edges, and between this supernode and the federation: to a local edge, else to the
 * supernode an association names, else to every active federation member. Owns nothing but its PACKET header
 * view and the PONG version field; reads the edge tables (registry.ts) and associations (federation.ts).
 * The PACKET path allocates nothing.
 */
export class Relay {
  private readonly ctx: SnContext;
  private readonly table: CommunityTable;
  private readonly federation: Federation;
  private readonly transport: Transport;
  private readonly pktView = createPacketHeaderView();
  private readonly sockScratch = new Uint8Array(SOCK_IPV4_BYTES);
  /** The encoded socket of the last IPv6 sender (transport.ts hands the same SockAddr object per peer). */
  private readonly sock6Scratch = new Uint8Array(SOCK_IPV6_BYTES);
  private lastFrom6: SockAddr | undefined;
  /** Length of what buildRelayed wrote last. */
  private builtLen = 0;
  private versionCache: Uint8Array | undefined;

  constructor(ctx: SnContext, table: CommunityTable, federation: Federation, transport: Transport) {
    this.ctx = ctx;
    this.table = table;
    this.federation = federation;
    this.transport = transport;
  }

  // ---------------------------------------------------------------- PACKET / REGISTER

  /**
   * sn_utils.c: MSG_TYPE_PACKET. From an edge: re-encoded with FROM_SUPERNODE|SOCKET and its public socket
   * (the payload copied as is); from a supernode: forwarded unchanged. The header is sealed again either way.
   */
  onPacket(
    buf: Buffer,
    off: number,
    len: number,
    from: SockAddr,
    comm: Community | undefined,
    ttl: number,
    flags: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    const { ctx } = this;
    const now = ctx.nowSec();
    ctx.stats.lastFwd = now;
    const v = this.pktView;
    const end = off + len;
    const payloadOff = readPacketHeader(buf, off, end, v);
    if (!ctx.stampOk(comm, sn, v.srcMac, true)) return DropReason.STAMP;
    // Not in 3.1.1 (it relays any PACKET): an edge's PACKET must come from the socket (or TCP connection) the
    // edge registered from. Forged PACKETs would otherwise be relayed as coming from the supernode, which edges
    // trust more than a stranger; with random MACs each broadcast one went to the whole community (a flood
    // amplifier) and taught every edge a new peer at the attacker's socket. An edge that moved registers again
    // before anything can reach it here anyway.
    let src: SnPeer | undefined;
    if (!fromSn) {
      src = comm.edges.get(v.srcMac);
      if (src === undefined || (src.conn === undefined && !sameAddr(src.addr, from)))
        return DropReason.UNREGISTERED;
    }
    const payloadLen = end - payloadOff;
    const ivExtra = comm.hasUsers ? Math.min(HE_PAYLOAD_IV_BYTES, payloadLen) : 0;
    if (fromSn) {
      // Already relayed once: forwarded unchanged, only the header encryption is redone.
      const slot = this.transport.reserve();
      const out = this.transport.txBuf;
      buf.copy(out, slot, off, end);
      if (comm.he === HeState.ENABLED) {
        ctx.sealer.seal(out, slot, len, comm.dynamicKeys!, payloadOff - off + ivExtra);
      }
      if (!isN2nMulticastOrBroadcast(v.dstMac))
        return this.forward(comm, v.dstMac, true, out, slot, len, now);
      this.broadcast(comm, v.srcMac, true, out, slot, len, now);
      return undefined;
    }
    // From an edge: re-encoded with FROM_SUPERNODE|SOCKET and the sender's public socket, the payload copied
    // as is. The socket of an IPv6 sender goes only to IPv6 edges (SnPeer.takesIpv6); everyone else (IPv4
    // edges, maybe 3.1.1, and the federation) gets the datagram without a socket, as 3.1.1 would mishandle it.
    let sock: Uint8Array | undefined = this.sockScratch;
    if (from.family === 6) {
      if (from !== this.lastFrom6) {
        writeSock(this.sock6Scratch, 0, { family: 6, port: from.port, address: from.address });
        this.lastFrom6 = from;
      }
      sock = this.sock6Scratch;
    } else {
      writeSockIpv4(this.sockScratch, 0, ipv4Of(from), from.port);
    }
    const bothFamilies = from.family === 6;
    if (!isN2nMulticastOrBroadcast(v.dstMac)) {
      const e = comm.edges.get(v.dstMac);
      if (bothFamilies && e?.takesIpv6 !== true) sock = undefined;
      const slot = this.transport.reserve();
      this.buildRelayed(slot, buf, payloadOff, end, ttl, flags, comm, v.srcMac, v.dstMac, sock, ivExtra);
      const r = this.forward(comm, v.dstMac, false, this.transport.txBuf, slot, this.builtLen, now);
      // Edge to edge over UDP in a plain community: the native relay may repeat this route (fastrelay.ts).
      const fast = ctx.fastRelay;
      if (fast !== undefined && e !== undefined && src !== undefined && from.family === 4 && fast.takes(comm))
        fast.relayed(comm, src, e);
      return r;
    }
    // Two consecutive slots when an IPv6 sender's broadcast needs both variants.
    const slot = this.transport.reserve(bothFamilies ? 2 : 1);
    this.buildRelayed(slot, buf, payloadOff, end, ttl, flags, comm, v.srcMac, v.dstMac, sock, ivExtra);
    const len1 = this.builtLen;
    if (!bothFamilies) {
      this.broadcast(comm, v.srcMac, false, this.transport.txBuf, slot, len1, now);
      return undefined;
    }
    // An IPv6 sender's broadcast: with its socket to IPv6 edges, without to the rest and the federation.
    const slot4 = slot + this.transport.slotBytes;
    this.buildRelayed(slot4, buf, payloadOff, end, ttl, flags, comm, v.srcMac, v.dstMac, undefined, ivExtra);
    const len4 = this.builtLen;
    const out = this.transport.txBuf;
    this.broadcastFederation(out, slot4, len4, now);
    for (const e of comm.edges.values()) {
      if (e.mac === v.srcMac) continue;
      const sent = e.takesIpv6
        ? this.transport.sendToPeer(e, out, len1, slot)
        : this.transport.sendToPeer(e, out, len4, slot4);
      if (sent) ctx.stats.broadcast++;
    }
    return undefined;
  }

  /**
   * Writes the relayed PACKET (header with `sock`, or none, then the payload) into the transport slot at `slot`
   * and seals it; its length is left in builtLen.
   */
  private buildRelayed(
    slot: number,
    buf: Buffer,
    payloadOff: number,
    end: number,
    ttl: number,
    flags: number,
    comm: Community,
    srcMac: Mac,
    dstMac: Mac,
    sock: Uint8Array | undefined,
    ivExtra: number,
  ): void {
    const out = this.transport.txBuf;
    const v = this.pktView;
    const hdrEnd = writePacketHeader(
      out,
      slot,
      ttl,
      flags | Flags.FROM_SUPERNODE | Flags.SOCKET,
      comm.field,
      srcMac,
      dstMac,
      sock,
      v.compression,
      v.transform,
    );
    buf.copy(out, hdrEnd, payloadOff, end);
    const outLen = hdrEnd - slot + (end - payloadOff);
    if (comm.he === HeState.ENABLED) {
      this.ctx.sealer.seal(out, slot, outLen, comm.dynamicKeys!, hdrEnd - slot + ivExtra);
    }
    this.builtLen = outLen;
  }

  /** sn_utils.c: MSG_TYPE_REGISTER — an edge's hole-punching REGISTER to another edge, unicast only. */
  onRegister(
    buf: Buffer,
    from: SockAddr,
    comm: Community | undefined,
    ttl: number,
    flags: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    const { ctx } = this;
    const now = ctx.nowSec();
    ctx.stats.lastFwd = now;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.REGISTER) return DropReason.DECODE;
    const reg = m.body;
    if (!ctx.stampOk(comm, sn, reg.srcMac, false)) return DropReason.STAMP;
    if (isN2nMulticastOrBroadcast(reg.dstMac)) return DropReason.NO_ROUTE;
    let out: Buffer;
    let len: number;
    if (!fromSn) {
      // An IPv6 sender's socket only to an IPv6 edge (see onPacket); without it 3.1.1 answers the supernode.
      const withSock = from.family === 4 || comm.edges.get(reg.dstMac)?.takesIpv6 === true;
      reg.sock = withSock ? { family: from.family, port: from.port, address: from.address } : undefined;
      const sockFlag = withSock ? Flags.SOCKET : 0;
      const common: Common = {
        ...m.common,
        ttl,
        flags: (flags & ~Flags.SOCKET) | Flags.FROM_SUPERNODE | sockFlag,
      };
      out = ctx.ctl;
      len = encodeRegister(common, reg, out, 0);
    } else {
      out = buf;
      len = buf.length;
    }
    if (comm.he === HeState.ENABLED) ctx.sealer.seal(out, 0, len, comm.dynamicKeys!);
    return this.forward(comm, reg.dstMac, fromSn, out, 0, len, now);
  }

  /**
   * sn_utils.c: try_forward — to the local edge; else (only what came from an edge) to the supernode an
   * association names, else to the whole federation.
   */
  private forward(
    comm: Community,
    dst: Mac,
    fromSn: boolean,
    out: Uint8Array,
    off: number,
    len: number,
    now: number,
  ): DropReason | undefined {
    const e = comm.edges.get(dst);
    if (e !== undefined) {
      if (this.transport.sendToPeer(e, out, len, off)) this.ctx.stats.fwd++;
      return undefined;
    }
    if (fromSn) return DropReason.NO_ROUTE;
    const a = comm.assoc.get(dst);
    if (a !== undefined) this.transport.sendTo(a.addr, out, len, off);
    else this.broadcastFederation(out, off, len, now);
    return undefined;
  }

  /** sn_utils.c: try_broadcast — federation first (unless relayed), then every local edge but the sender. */
  private broadcast(
    comm: Community | undefined,
    srcMac: Mac,
    fromSn: boolean,
    out: Uint8Array,
    off: number,
    len: number,
    now: number,
  ): void {
    if (!fromSn) this.broadcastFederation(out, off, len, now);
    if (comm === undefined) return;
    for (const e of comm.edges.values()) {
      if (e.mac !== srcMac && this.transport.sendToPeer(e, out, len, off)) this.ctx.stats.broadcast++;
    }
  }

  /** To every federation member seen within LAST_SEEN_SN_INACTIVE (only those on IPv6 when `ipv6Only`). */
  private broadcastFederation(
    out: Uint8Array,
    off: number,
    len: number,
    now: number,
    ipv6Only = false,
  ): void {
    for (const p of this.federation.community.edges.values()) {
      if (
        p.lastSeen + SN_INACTIVE_SECONDS > now &&
        p.addr !== undefined &&
        (!ipv6Only || p.addr.family === 6) &&
        this.transport.sendTo(p.addr, out, len, off)
      ) {
        this.ctx.stats.broadcast++;
      }
    }
  }

  /** Relays an edge's REGISTER_SUPER to the active federation with flags 0x60 and its public socket. */
  relayRegisterSuper(
    comm: Community,
    field: Uint8Array,
    reg: RegisterSuper,
    from: SockAddr,
    user: SnUser | undefined,
    now: number,
  ): void {
    if (this.federation.community.edges.size === 0) return;
    const { ctx } = this;
    const common: Common = {
      ttl: N2N_DEFAULT_TTL,
      type: MsgType.REGISTER_SUPER,
      flags: Flags.SOCKET | Flags.FROM_SUPERNODE,
      community: field,
    };
    let len = encodeRegisterSuper(
      common,
      { ...reg, sock: { family: from.family, port: from.port, address: from.address } },
      ctx.tx,
      0,
    );
    if (comm.he === HeState.ENABLED) {
      ctx.sealer.seal(ctx.tx, 0, len, comm.staticKeys!);
      if (comm.hasUsers && user !== undefined) len = ctx.sealer.appendTrailer(ctx.tx, 0, len, user.secret);
    }
    // An IPv6 edge's socket only to members on IPv6: one on IPv4 may be 3.1.1 (docs/supernode.md, IPv6).
    this.broadcastFederation(ctx.tx, 0, len, now, from.family === 6);
  }

  // ---------------------------------------------------------------- QUERY_PEER / PEER_INFO

  /**
   * sn_utils.c: MSG_TYPE_QUERY_PEER. A null target is a PING, answered with a PONG (our MAC, the asker's
   * public socket, load, uptime, version); a local target is answered with its PEER_INFO; otherwise an
   * edge's query goes on to the federation.
   */
  onQueryPeer(
    buf: Buffer,
    from: SockAddr,
    comm: Community | undefined,
    ttl: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    const { ctx } = this;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.QUERY_PEER) return DropReason.DECODE;
    if (comm === undefined && this.table.locked) {
      if (!this.table.allows(communityName(m.common.community))) return DropReason.NOT_ALLOWED;
    }
    const q = m.body;
    if (comm !== undefined && !ctx.stampOk(comm, sn, q.srcMac, true)) return DropReason.STAMP;
    const now = ctx.nowSec();
    if (q.targetMac === NULL_MAC) {
      const common: Common = {
        ttl: N2N_DEFAULT_TTL,
        type: MsgType.PEER_INFO,
        flags: Flags.FROM_SUPERNODE,
        community: m.common.community,
      };
      const len = encodePeerInfo(
        common,
        {
          aflags: 0,
          srcMac: ctx.mac,
          mac: NULL_MAC,
          sock: { family: from.family, port: from.port, address: from.address },
          load: swap32(this.table.load()),
          uptime: now - ctx.startSec,
          version: this.versionField(),
        },
        ctx.ctl,
        0,
      );
      if (comm?.he === HeState.ENABLED) ctx.sealer.seal(ctx.ctl, 0, len, comm.dynamicKeys!);
      this.transport.reply(from, ctx.ctl, len);
      return undefined;
    }
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    const target = comm.edges.get(q.targetMac);
    if (target?.addr !== undefined) {
      // IPv6 sockets only to an asker on IPv6 (SnPeer.takesIpv6): an IPv4 asker (maybe 3.1.1) is not told
      // where an IPv6-only target is, and keeps reaching it through us.
      const askerIpv6 = from.family === 6;
      if (target.addr.family === 6 && !askerIpv6) return undefined;
      const preferredSock =
        target.preferredSock?.family === 6 && !askerIpv6 ? undefined : target.preferredSock;
      const common: Common = {
        ttl: N2N_DEFAULT_TTL,
        type: MsgType.PEER_INFO,
        flags: Flags.FROM_SUPERNODE | (preferredSock ? Flags.SOCKET : 0),
        community: m.common.community,
      };
      const len = encodePeerInfo(
        common,
        {
          aflags: 0,
          srcMac: q.srcMac,
          mac: q.targetMac,
          sock: { family: target.addr.family, port: target.addr.port, address: target.addr.address },
          preferredSock,
          load: swap32(this.table.load()),
          uptime: now - ctx.startSec,
          version: this.versionField(),
        },
        ctx.ctl,
        0,
      );
      if (comm.he === HeState.ENABLED) ctx.sealer.seal(ctx.ctl, 0, len, comm.dynamicKeys!);
      this.transport.reply(from, ctx.ctl, len);
      return undefined;
    }
    if (fromSn) return DropReason.NO_ROUTE;
    const common: Common = { ...m.common, ttl, flags: m.common.flags | Flags.FROM_SUPERNODE };
    const len = encodeQueryPeer(common, q, ctx.ctl, 0);
    if (comm.he === HeState.ENABLED) ctx.sealer.seal(ctx.ctl, 0, len, comm.dynamicKeys!);
    this.broadcastFederation(ctx.ctl, 0, len, now);
    return undefined;
  }

  /**
   * sn_utils.c: MSG_TYPE_PEER_INFO — another supernode's answer to a query we relayed: it teaches an
   * association and goes on to the asking edge.
   */
  onPeerInfo(
    buf: Buffer,
    from: SockAddr,
    comm: Community | undefined,
    ttl: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    // Stricter than C: a PEER_INFO must come from a federation member (C would relay one from any edge).
    if (!fromSn) return DropReason.WRONG_SENDER;
    const { ctx } = this;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.PEER_INFO) return DropReason.DECODE;
    const pi = m.body;
    if (!ctx.stampOk(comm, sn, pi.srcMac, false)) return DropReason.STAMP;
    const e = comm.edges.get(pi.srcMac);
    if (e?.addr === undefined || comm.isFederation || pi.srcMac === NULL_MAC) return undefined;
    this.federation.associate(comm, pi.mac, from, ctx.nowSec());
    // A member on IPv6 answers in either family (it sees us on IPv6); the asking edge gets an IPv6 socket only
    // when it is on IPv6 itself, as in onQueryPeer.
    if (!e.takesIpv6) {
      if (pi.sock.family === 6) return undefined;
      if (pi.preferredSock?.family === 6) pi.preferredSock = undefined;
    }
    const len = encodePeerInfo({ ...m.common, ttl }, pi, ctx.ctl, 0);
    if (comm.he === HeState.ENABLED) ctx.sealer.seal(ctx.ctl, 0, len, comm.dynamicKeys!);
    this.transport.sendToPeer(e, ctx.ctl, len);
    return undefined;
  }

  /** The `-V` text as the 20-byte version field of PONGs (built once). */
  private versionField(): Uint8Array {
    if (this.versionCache === undefined) {
      const v = new Uint8Array(VERSION_BYTES);
      v.set(new TextEncoder().encode(this.ctx.config.version).subarray(0, VERSION_BYTES - 1));
      this.versionCache = v;
    }
    return this.versionCache;
  }
}
