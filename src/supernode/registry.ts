// Edge registration (spec §9.1): REGISTER_SUPER → ACK/NAK, UNREGISTER_SUPER, relayed NAKs, expiry, auto-IP glue.
import type { HeaderKeyUsed } from '../transform/header.js';
import { type SockAddr, sockAddrToString } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
import { type Mac, macToString, NULL_MAC } from '../util/mac.js';
import { communityBytes, communityName } from '../wire/common.js';
import { decodeMessage, encodeRegisterSuperAck, encodeRegisterSuperNak } from '../wire/messages.js';
import {
  type Auth,
  AuthScheme,
  type Common,
  Flags,
  MsgType,
  N2N_DEFAULT_TTL,
  type RegisterSuper,
  type Sock,
} from '../wire/types.js';
import { ipText, ipv4Of, sameAddr } from './addr.js';
import { Admission } from './admission.js';
import { type Authenticator, ZERO_AUTH } from './auth.js';
import { assignCommunitySubnet, assignEdgeAddress, wantsAutoIp } from './autoip.js';
import type { CommunityTable } from './communities.js';
import { Community, HeState, SnPeer } from './community.js';
import type { SnContext } from './context.js';
import type { Federation } from './federation.js';
import type { Relay } from './relay.js';
import { DropReason } from './stats.js';
import { EDGE_MOVE_MIN_SECONDS, REG_LIFETIME_SECONDS, REGISTRATION_TIMEOUT_SECONDS } from './timers.js';
import type { Transport } from './transport.js';
import type { EdgeInfo, UnregisterReason } from './types.js';

/** Outcome of update_edge (sn_utils.c). */
const Update = {
  NEW: 0,
  CHANGED: 1,
  SAME: 2,
  AUTH_FAIL: 3,
  LIMIT_COMMUNITY: 4,
  LIMIT_TOTAL: 5,
  MOVE_LIMIT: 6,
  LIMIT_RATE: 7,
} as const;
type Update = (typeof Update)[keyof typeof Update];

/** Event/management view of an edge. */
export function edgeInfo(comm: Community, e: SnPeer): EdgeInfo {
  return {
    community: comm.isFederation ? '-/-' : comm.name,
    mac: e.mac === NULL_MAC ? '' : macToString(e.mac).toUpperCase(),
    sockaddr: e.addr ? sockAddrToString(e.addr) : '',
    ip4addr: e.devAddr === 0 ? '' : `${ipText(e.devAddr)}/${e.devBits}`,
    desc: communityName(e.desc),
  };
}

/**
 * Owns the registered edges of every community (Community.edges / byAddr outside the federation) and their
 * total, and with them the life of created communities: a community is stored once a registration in it
 * succeeded and dropped when its last edge is gone. Nothing is stored for a sender before that.
 */
export class Registry {
  private readonly ctx: SnContext;
  private readonly table: CommunityTable;
  private readonly auth: Authenticator;
  private readonly federation: Federation;
  private readonly relay: Relay;
  private readonly transport: Transport;
  /** Registered edges over all communities (bounded by config.maxEdges). */
  private edgeTotal = 0;
  /** New edges per sender address (a flood of forged MACs from one host fills no community). */
  private readonly admission: Admission;

  constructor(
    ctx: SnContext,
    table: CommunityTable,
    auth: Authenticator,
    federation: Federation,
    relay: Relay,
    transport: Transport,
  ) {
    this.ctx = ctx;
    this.table = table;
    this.auth = auth;
    this.federation = federation;
    this.relay = relay;
    this.transport = transport;
    this.admission = new Admission(ctx.config.newEdgeBurst, ctx.config.newEdgesPerSecond);
  }

  /** Registered edges over all communities. */
  get edgeCount(): number {
    return this.edgeTotal;
  }

  // ---------------------------------------------------------------- REGISTER_SUPER

  /**
   * sn_utils.c: MSG_TYPE_REGISTER_SUPER. From an edge: authenticate, store or refresh it, relay the
   * registration to the federation, ACK (or NAK). From a member of the federation: the same ACK, and it
   * becomes (or stays) a member. Relayed by another supernode: the edge lives there now — associate it and
   * forget our own entry.
   */
  onRegisterSuper(
    buf: Buffer,
    from: SockAddr,
    known: Community | undefined,
    flags: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
    keyUsed: HeaderKeyUsed,
  ): DropReason | undefined {
    const { ctx, table } = this;
    const now = ctx.nowSec();
    ctx.stats.lastRegSuper = now;
    ctx.stats.regSuper++;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.REGISTER_SUPER) return DropReason.DECODE;
    const reg = m.body;
    if (known !== undefined && !ctx.stampOk(known, sn, reg.edgeMac, false)) return DropReason.STAMP;
    // Stricter than C: a relayed edge registration (FROM_SUPERNODE|SOCKET) must come from a federation member.
    if (fromSn && flags & Flags.SOCKET && sn === undefined && !known?.isFederation) {
      return DropReason.UNKNOWN_SUPERNODE;
    }
    let comm = known;
    let isNew = false;
    if (comm === undefined) {
      const name = communityName(m.common.community);
      if (table.locked && !table.allows(name)) return DropReason.NOT_ALLOWED;
      if (table.count >= ctx.config.maxCommunities) return DropReason.COMMUNITY_LIMIT;
      // Refuse early what could not be stored anyway, before spending a subnet search on it.
      if (!fromSn && reg.edgeMac !== NULL_MAC && this.edgeTotal >= ctx.config.maxEdges) {
        return DropReason.EDGE_LIMIT_TOTAL;
      }
      // Not stored until the registration succeeds (an unauthenticated datagram creates nothing).
      comm = new Community(name, communityBytes(name), { purgeable: true, he: HeState.NONE });
      assignCommunitySubnet(comm, table.values(), ctx.config.autoIp);
      isNew = true;
    }
    const user = this.auth.registeringUser(comm, reg.auth);
    if (user !== undefined && !this.auth.trailerOk(buf, keyUsed, user)) return DropReason.TRAILER;
    if (reg.edgeMac === ctx.mac) return DropReason.SELF;

    // The edge's own public socket, in the family it came over (an IPv6 one only ever goes to an IPv6 edge).
    const ackSock: Sock = { family: from.family, port: from.port, address: from.address };
    let assigned = { addr: 0, bitlen: 0 };
    if (!comm.isFederation && wantsAutoIp(reg.devAddr.addr, reg.devAddr.bitlen)) {
      const a = assignEdgeAddress(comm, reg.desc);
      if (a !== 0) assigned = { addr: a, bitlen: comm.netBits };
    }
    if (comm.isFederation) {
      const p = this.federation.peer(from, reg.edgeMac, true);
      if (p !== undefined) p.lastSeen = now;
    }
    const supernodes = this.federation.supernodeList(from, now);

    let answer: Auth = ZERO_AUTH;
    let status: Update = Update.SAME;
    if (!comm.isFederation) {
      const skipAdd = fromSn || reg.edgeMac === NULL_MAC;
      const r = this.updateEdge(comm, reg, flags, from, skipAdd, now, isNew);
      status = r.status;
      answer = r.answer;
    }
    if (status === Update.LIMIT_COMMUNITY) return DropReason.EDGE_LIMIT_COMMUNITY;
    if (status === Update.LIMIT_TOTAL) return DropReason.EDGE_LIMIT_TOTAL;
    if (status === Update.MOVE_LIMIT) return DropReason.MOVE_LIMIT;
    if (status === Update.LIMIT_RATE) return DropReason.NEW_EDGE_RATE;
    if (status === Update.AUTH_FAIL) {
      this.sendNak(comm, m.common.community, reg.cookie, reg.edgeMac, from);
      return DropReason.AUTH;
    }
    if (isNew) table.add(comm);

    if (!fromSn || (flags & Flags.SOCKET) === 0) {
      if (reg.edgeMac !== NULL_MAC && !fromSn)
        this.relay.relayRegisterSuper(comm, m.common.community, reg, from, user, now);
      let keyTime = 0;
      if (comm.isFederation) {
        this.federation.adoptKeyTime(reg.keyTime, now);
        keyTime = this.auth.keyTime;
      }
      const common: Common = {
        ttl: N2N_DEFAULT_TTL,
        type: MsgType.REGISTER_SUPER_ACK,
        flags: Flags.SOCKET | Flags.FROM_SUPERNODE,
        community: m.common.community,
      };
      let len = encodeRegisterSuperAck(
        common,
        {
          cookie: reg.cookie,
          srcMac: ctx.mac,
          devAddr: assigned,
          lifetime: REG_LIFETIME_SECONDS,
          sock: ackSock,
          auth: answer,
          supernodes,
          keyTime,
        },
        ctx.ctl,
        0,
      );
      if (comm.he === HeState.ENABLED) {
        ctx.sealer.seal(ctx.ctl, 0, len, comm.staticKeys!);
        if (comm.hasUsers && user !== undefined) len = ctx.sealer.appendTrailer(ctx.ctl, 0, len, user.secret);
      }
      this.transport.reply(from, ctx.ctl, len);
    } else {
      // A registration relayed by another supernode: the edge lives there now.
      this.federation.associate(comm, reg.edgeMac, from, now);
      const e = comm.edges.get(reg.edgeMac);
      if (e !== undefined) this.deleteEdge(comm, e, 'moved');
    }
    ctx.stats.regSuperOk++;
    return undefined;
  }

  /** The REGISTER_SUPER_NAK to `to` (4.8): static key, 16 meaningless bytes in user/password communities. */
  private sendNak(comm: Community, field: Uint8Array, cookie: number, mac: Mac, to: SockAddr): void {
    const { ctx } = this;
    ctx.stats.regSuperNak++;
    const common: Common = {
      ttl: N2N_DEFAULT_TTL,
      type: MsgType.REGISTER_SUPER_NAK,
      flags: Flags.SOCKET | Flags.FROM_SUPERNODE,
      community: field,
    };
    let len = encodeRegisterSuperNak(common, { cookie, srcMac: mac, auth: ZERO_AUTH }, ctx.ctl, 0);
    if (comm.he === HeState.ENABLED) {
      ctx.sealer.seal(ctx.ctl, 0, len, comm.staticKeys!);
      if (comm.hasUsers) len = ctx.sealer.appendJunkTrailer(ctx.ctl, 0, len);
    }
    this.transport.reply(to, ctx.ctl, len);
  }

  /**
   * sn_utils.c: update_edge. Finds the edge by MAC, else by its requested address; a known edge must present
   * the same auth, a new one a valid one. The edge is created only when everything passed (and not for
   * relayed registrations or address requests).
   */
  private updateEdge(
    comm: Community,
    reg: RegisterSuper,
    flags: number,
    from: SockAddr,
    skipAdd: boolean,
    now: number,
    isNewCommunity: boolean,
  ): { status: Update; answer: Auth } {
    const { ctx } = this;
    let e = comm.edges.get(reg.edgeMac);
    let rekey = false;
    if (e === undefined && reg.edgeMac !== NULL_MAC && reg.devAddr.addr !== 0) {
      // Same address under another MAC: it must prove it is the same edge (IP spoofing protection). The MAC
      // is only replaced after the auth check passed (C replaces it first).
      const x = comm.byAddr.get(reg.devAddr.addr);
      if (x !== undefined) {
        e = x;
        rekey = true;
      }
    }
    if (e === undefined) {
      const answer = this.auth.remoteAuth(comm, reg.auth);
      if (answer === undefined) return { status: Update.AUTH_FAIL, answer: ZERO_AUTH };
      if (skipAdd) return { status: Update.NEW, answer };
      if (comm.edges.size >= ctx.config.maxEdgesPerCommunity)
        return { status: Update.LIMIT_COMMUNITY, answer };
      if (this.edgeTotal >= ctx.config.maxEdges) return { status: Update.LIMIT_TOTAL, answer };
      if (!this.admission.take(from.family === 4 ? ipv4Of(from) : from.address, now))
        return { status: Update.LIMIT_RATE, answer };
      const n = new SnPeer(reg.edgeMac, ctx.stamps.initialRecord());
      // Stricter than C (which starts from now − 16 s): the creating registration's stamp is the first one
      // seen, so a copy of it replayed at once is refused too.
      if (comm.he === HeState.ENABLED) ctx.stamps.verify(ctx.rxStamp, n.stamp, false);
      // The sender's SockAddr is never mutated (transport.ts shares one per source): kept, not copied (48 bytes per edge).
      n.setAddr(from, ipv4Of(from));
      n.devAddr = reg.devAddr.addr;
      n.devBits = reg.devAddr.bitlen;
      n.desc = reg.desc.slice();
      n.lastCookie = reg.cookie;
      n.preferredSock = flags & Flags.SOCKET ? reg.sock : undefined;
      n.authScheme =
        reg.auth.scheme === AuthScheme.ID && ctx.config.disableSpoofingProtection
          ? AuthScheme.NONE
          : reg.auth.scheme;
      n.authToken = reg.auth.token.slice();
      n.lastSeen = now;
      this.transport.bindConn(comm, n);
      if (isNewCommunity) this.table.add(comm);
      comm.edges.set(n.mac, n);
      if (n.devAddr !== 0 && !comm.byAddr.has(n.devAddr)) comm.byAddr.set(n.devAddr, n);
      this.edgeTotal++;
      ctx.log(
        LogLevel.INFO,
        `created edge ${macToString(n.mac)} ==> ${from.address}:${from.port} in '${comm.name}'`,
      );
      ctx.events.emit('edgeRegistered', edgeInfo(comm, n));
      return { status: Update.NEW, answer };
    }
    const answer = this.auth.knownAuth(comm, e, reg.auth);
    if (answer === undefined) return { status: Update.AUTH_FAIL, answer: ZERO_AUTH };
    const moving = !sameAddr(e.addr, from);
    // Stricter than C (no limit there): a registered edge changes its socket at most once per
    // EDGE_MOVE_MIN_SECONDS. Without authentication (-M, or scheme 0) anyone may move an edge — that is how
    // roaming works — so this bounds how often a flood of claims can bounce its traffic around; a genuine
    // address change is one move. Refused silently: the edge retries, and a NAK would say "MAC in use".
    // Registrations relayed by a federation member (skipAdd) are not claims: the edge went to that supernode.
    if (moving && !skipAdd && now - e.lastMove < EDGE_MOVE_MIN_SECONDS)
      return { status: Update.MOVE_LIMIT, answer };
    // A taught route (fastrelay.ts) would keep the old MAC or socket: the native relay forgets them all.
    if (rekey || moving) ctx.fastRelay?.reset();
    if (rekey) {
      comm.edges.delete(e.mac);
      e.mac = reg.edgeMac;
      comm.edges.set(e.mac, e);
    }
    let status: Update = Update.SAME;
    if (moving) {
      e.lastMove = now;
      e.setAddr(from, ipv4Of(from));
      e.preferredSock = flags & Flags.SOCKET ? reg.sock : undefined;
      this.transport.bindConn(comm, e);
      status = Update.CHANGED;
    }
    e.lastCookie = reg.cookie;
    e.lastSeen = now;
    return { status, answer };
  }

  // ---------------------------------------------------------------- leaving

  /** sn_utils.c: MSG_TYPE_UNREGISTER_SUPER — an edge leaves, presenting the auth it registered with. */
  onUnregisterSuper(buf: Buffer, comm: Community | undefined, fromSn: boolean): DropReason | undefined {
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    if (fromSn || comm.isFederation) return DropReason.WRONG_SENDER;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.UNREGISTER_SUPER) return DropReason.DECODE;
    if (!this.ctx.stampOk(comm, undefined, m.body.srcMac, false)) return DropReason.STAMP;
    const e = comm.edges.get(m.body.srcMac);
    if (e === undefined) return undefined;
    if (this.auth.knownAuth(comm, e, m.body.auth) === undefined) return DropReason.AUTH;
    this.deleteEdge(comm, e, 'unregister');
    return undefined;
  }

  /**
   * sn_utils.c: MSG_TYPE_REGISTER_SUPER_NAK — another supernode refused one of our edges (its registration
   * relayed there failed): pass the NAK on to the edge and forget it.
   */
  onRegisterSuperNak(
    buf: Buffer,
    comm: Community | undefined,
    ttl: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    // Stricter than C: only another supernode may NAK on an edge's behalf (C lets any edge kick another).
    if (!fromSn) return DropReason.WRONG_SENDER;
    const { ctx } = this;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.REGISTER_SUPER_NAK) return DropReason.DECODE;
    const nak = m.body;
    if (!ctx.stampOk(comm, sn, nak.srcMac, false)) return DropReason.STAMP;
    if (comm.isFederation) return undefined;
    const e = comm.edges.get(nak.srcMac);
    if (e === undefined || e.addr === undefined) return undefined;
    let len = encodeRegisterSuperNak({ ...m.common, ttl }, nak, ctx.ctl, 0);
    if (comm.he === HeState.ENABLED) {
      ctx.sealer.seal(ctx.ctl, 0, len, comm.staticKeys!);
      if (comm.hasUsers) len = ctx.sealer.appendJunkTrailer(ctx.ctl, 0, len);
    }
    this.transport.sendToPeer(e, ctx.ctl, len);
    this.deleteEdge(comm, e, 'nak');
    return undefined;
  }

  /** Forgets an edge (closing its TCP connection, if any) and says why. */
  deleteEdge(comm: Community, e: SnPeer, reason: UnregisterReason): void {
    if (comm.edges.get(e.mac) !== e) return;
    if (e.conn !== undefined) {
      const c = e.conn;
      e.conn = undefined;
      this.transport.closeTcp(c, false);
    }
    comm.edges.delete(e.mac);
    this.ctx.fastRelay?.reset();
    if (comm.byAddr.get(e.devAddr) === e) comm.byAddr.delete(e.devAddr);
    this.edgeTotal--;
    if (this.ctx.events.listenerCount('edgeUnregistered') > 0)
      this.ctx.events.emit('edgeUnregistered', edgeInfo(comm, e), reason);
  }

  /** Drops a community with its edges and associations (`reason` given: each edge is reported leaving). */
  removeCommunity(comm: Community, reason?: UnregisterReason): void {
    if (reason !== undefined)
      for (const e of comm.edges.values())
        this.ctx.events.emit('edgeUnregistered', edgeInfo(comm, e), reason);
    this.edgeTotal -= comm.edges.size;
    this.ctx.fastRelay?.reset();
    this.federation.forgetAssociations(comm);
    this.table.remove(comm);
  }

  /** A reloaded community file replaces every community but the federation. */
  removeAllCommunities(reason: UnregisterReason): void {
    for (const c of this.table.list()) if (!c.isFederation) this.removeCommunity(c, reason);
  }

  /** sn_utils.c: purge_expired_communities — edges, associations, idle created communities. */
  purge(now: number): void {
    for (const comm of this.table.list()) {
      if (comm.isFederation) continue;
      for (const [mac, e] of comm.edges) {
        if (e.lastSeen < now - REGISTRATION_TIMEOUT_SECONDS) {
          if (e.conn !== undefined) this.transport.closeTcp(e.conn, false);
          comm.edges.delete(mac);
          this.ctx.fastRelay?.reset();
          if (comm.byAddr.get(e.devAddr) === e) comm.byAddr.delete(e.devAddr);
          this.edgeTotal--;
          if (this.ctx.events.listenerCount('edgeExpired') > 0)
            this.ctx.events.emit('edgeExpired', edgeInfo(comm, e));
        }
      }
      this.federation.purgeAssociations(comm, now);
      if (comm.edges.size === 0 && comm.purgeable) this.removeCommunity(comm);
    }
  }
}
