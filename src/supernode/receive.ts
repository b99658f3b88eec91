// The datagram pipeline (sn_utils.c: process_udp): length → header decryption trial → checks → handler per type.
import { decryptHeaderTryKeys, HeaderKeyUsed } from '../transform/header.js';
import { WireError } from '../util/errors.js';
import type { SockAddr } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
import { COMMON_HEADER_BYTES, Flags, MsgType, N2N_PKT_VERSION } from '../wire/types.js';
import type { CommunityTable } from './communities.js';
import { type Community, HeState, type SnPeer } from './community.js';
import type { SnContext } from './context.js';
import type { Federation } from './federation.js';
import type { Registry } from './registry.js';
import type { Relay } from './relay.js';
import { DropReason } from './stats.js';

/** 7.7 plaintext heuristic: byte 23 = 0, version 3, type ≤ 11, flags word < 0x80. */
function looksPlain(b: Uint8Array, off: number): boolean {
  const word = (b[off + 2] << 8) | b[off + 3];
  return (
    b[off + 23] === 0 &&
    b[off] === N2N_PKT_VERSION &&
    (word & Flags.TYPE_MASK) <= MsgType.QUERY_PEER &&
    word < Flags.OPTIONS
  );
}

/**
 * Every datagram (UDP, or a TCP frame from transport.ts) passes here. Each check that fails returns a
 * DropReason, counted in stats.drops; nothing is stored for a sender before a handler accepted it. The
 * pipeline owns no state of its own: it writes the datagram's stamp and trailer hash into the context and
 * locks communities to plaintext or encrypted headers (spec §7.7) on first sight.
 */
export class Receiver {
  private readonly ctx: SnContext;
  private readonly table: CommunityTable;
  private readonly federation: Federation;
  private readonly relay: Relay;
  private readonly registry: Registry;

  constructor(
    ctx: SnContext,
    table: CommunityTable,
    federation: Federation,
    relay: Relay,
    registry: Registry,
  ) {
    this.ctx = ctx;
    this.table = table;
    this.federation = federation;
    this.relay = relay;
    this.registry = registry;
  }

  /** Handles the datagram buf[off, off+len) in place; never throws. */
  receive(buf: Buffer, off: number, len: number, from: SockAddr): void {
    const { stats } = this.ctx;
    stats.rx++;
    let reason: DropReason | undefined;
    try {
      reason = this.process(buf, off, len, from);
    } catch (e) {
      if (e instanceof WireError) {
        reason = DropReason.DECODE;
      } else {
        reason = DropReason.INTERNAL;
        this.ctx.log(
          LogLevel.ERROR,
          `internal error on a datagram from ${from.address}:${from.port}: ${(e as Error).stack ?? e}`,
        );
      }
    }
    if (reason !== undefined) stats.drops[reason]++;
  }

  /**
   * Plaintext heuristic or trial decryption with every header-encrypted community (busiest first) →
   * user/password key rule → federation-sender check → TTL → the handler of the message type.
   */
  private process(buf: Buffer, off: number, len: number, from: SockAddr): DropReason | undefined {
    const { ctx } = this;
    if (len < COMMON_HEADER_BYTES) return DropReason.TOO_SHORT;
    let comm: Community | undefined;
    let keyUsed: HeaderKeyUsed = HeaderKeyUsed.NONE;
    if (looksPlain(buf, off)) {
      comm = this.table.plain(buf, off);
      if (comm !== undefined) {
        if (comm.he === HeState.ENABLED) return DropReason.PLAINTEXT;
        if (comm.he === HeState.UNKNOWN) {
          this.table.lockPlaintext(comm);
          ctx.log(LogLevel.INFO, `locked community '${comm.name}' to unencrypted headers`);
        }
      }
    } else {
      for (const c of this.table.heOrder) {
        keyUsed = decryptHeaderTryKeys(
          buf,
          off,
          len,
          c.dynamicKeys!,
          c.staticKeys!,
          c.field,
          ctx.rxStamp,
          c.hasUsers ? ctx.trailerHash : undefined,
        );
        if (keyUsed !== HeaderKeyUsed.NONE) {
          comm = c;
          if (c.he === HeState.UNKNOWN) {
            c.he = HeState.ENABLED;
            ctx.log(LogLevel.INFO, `locked community '${c.name}' to encrypted headers`);
          }
          c.encPackets++;
          break;
        }
      }
      if (comm === undefined) return DropReason.NO_KEY;
      if (buf[off] !== N2N_PKT_VERSION) return DropReason.DECODE;
    }
    const word = (buf[off + 2] << 8) | buf[off + 3];
    const type = word & Flags.TYPE_MASK;
    const flags = word & 0xffe0;
    // sn_utils.c: user/password communities take only registrations under the static key.
    if (
      comm?.hasUsers &&
      type !== MsgType.REGISTER_SUPER &&
      type !== MsgType.REGISTER_SUPER_ACK &&
      type !== MsgType.REGISTER_SUPER_NAK &&
      keyUsed !== HeaderKeyUsed.DYNAMIC
    ) {
      return DropReason.STATIC_KEY;
    }
    const fromSn = (flags & Flags.FROM_SUPERNODE) !== 0;
    let sn: SnPeer | undefined;
    // Members are known by socket in either family (IPv6 federation: docs/supernode.md); only a federation
    // REGISTER_SUPER may come from a stranger, and registry.ts checks that it is not a relayed one.
    if (fromSn) {
      sn = this.federation.bySock(from);
      if (sn === undefined && type !== MsgType.REGISTER_SUPER) return DropReason.UNKNOWN_SUPERNODE;
    }
    const ttl = buf[off + 1];
    if (ttl < 1) return DropReason.TTL;
    const ttlOut = ttl - 1;
    // The relay path works in place; the control messages (rare) get a view of their own.
    if (type === MsgType.PACKET)
      return this.relay.onPacket(buf, off, len, from, comm, ttlOut, flags, sn, fromSn);
    if (off !== 0 || len !== buf.length) buf = buf.subarray(off, off + len);
    switch (type) {
      case MsgType.REGISTER:
        return this.relay.onRegister(buf, from, comm, ttlOut, flags, sn, fromSn);
      case MsgType.REGISTER_SUPER:
        return this.registry.onRegisterSuper(buf, from, comm, flags, sn, fromSn, keyUsed);
      case MsgType.UNREGISTER_SUPER:
        return this.registry.onUnregisterSuper(buf, comm, fromSn);
      case MsgType.REGISTER_SUPER_ACK:
        return this.federation.onRegisterSuperAck(buf, from, comm, sn, fromSn);
      case MsgType.REGISTER_SUPER_NAK:
        return this.registry.onRegisterSuperNak(buf, comm, ttlOut, sn, fromSn);
      case MsgType.QUERY_PEER:
        return this.relay.onQueryPeer(buf, from, comm, ttlOut, sn, fromSn);
      case MsgType.PEER_INFO:
        return this.relay.onPeerInfo(buf, from, comm, ttlOut, sn, fromSn);
      default:
        // REGISTER_ACK (never via a supernode), RE_REGISTER_SUPER, PING/DEREGISTER/FEDERATION, unassigned.
        return DropReason.IGNORED;
    }
  }
}
