// The federation (spec §9.3): member supernodes, re-registration with them, their ACKs, associations, key time.
import { ipFamilyOf, type SockAddr, sockAddrToString } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
import { type Mac, macToString, NULL_MAC } from '../util/mac.js';
import type { Random } from '../util/random.js';
import { decodeMessage, encodeRegisterSuper } from '../wire/messages.js';
import { ipv6Text, parseIpv4, parseIpv6Into } from '../wire/sock.js';
import {
  AuthScheme,
  type Common,
  DESC_BYTES,
  Flags,
  MsgType,
  N2N_DEFAULT_TTL,
  type RegisterSuper,
  SN_ENTRIES_MAX,
  type SnEntry,
} from '../wire/types.js';
import { ipText, ipv4Of, sameAddr } from './addr.js';
import type { Authenticator } from './auth.js';
import type { CommunityTable } from './communities.js';
import { type Community, SnPeer } from './community.js';
import type { SnContext } from './context.js';
import { DropReason } from './stats.js';
import {
  ASSOCIATION_TIMEOUT_SECONDS,
  SN_ACTIVE_SECONDS,
  SN_INACTIVE_SECONDS,
  SN_NEW_SECONDS,
} from './timers.js';
import type { Transport } from './transport.js';

const ZERO_DESC = new Uint8Array(DESC_BYTES);
const IPV6_BYTES = 16;

/** random_numbers.c: n2n_rand_sqr — a value in [0, max], centred, from one random draw. */
function randSqr(random: Random, max: number): number {
  const rawMax = (max + 2) * (max + 2);
  const raw = random.u32() % rawMax;
  let r = Math.floor(Math.sqrt(raw)) >> 1;
  r = raw & 1 ? r : -r;
  r = Math.floor(max / 2) + r;
  return Math.min(Math.max(r, 0), max);
}

/** Event view of a federation member. */
function snInfo(p: SnPeer): { mac: string; sockaddr: string } {
  return {
    mac: p.mac === NULL_MAC ? '' : macToString(p.mac).toUpperCase(),
    sockaddr: p.addr ? sockAddrToString(p.addr) : (p.hostSpec ?? ''),
  };
}

/**
 * Owns the federation community's member list (its "edges", keyed "m<mac>", or "s<serial>" while the MAC is
 * unknown) and the associations "edge MAC → supernode" of every community, with their total. relay.ts reads
 * both to route; registrations (registry.ts) and PEER_INFOs (relay.ts) add to them through this class.
 */
export class Federation {
  /** The federation community (created by the table, which lists it first). */
  readonly community: Community;
  private readonly ctx: SnContext;
  private readonly auth: Authenticator;
  private readonly transport: Transport;
  /** Associations over all communities (bounded by config.maxAssociations). */
  private assocTotal = 0;

  constructor(ctx: SnContext, table: CommunityTable, auth: Authenticator, transport: Transport) {
    this.ctx = ctx;
    this.community = table.federation;
    this.auth = auth;
    this.transport = transport;
  }

  // ---------------------------------------------------------------- members

  /** The `-l` peers: never purged, resolved now and retried by the timer while they do not resolve. */
  async addConfiguredPeers(): Promise<void> {
    for (const spec of this.ctx.config.peers) {
      const p = new SnPeer(NULL_MAC, this.ctx.stamps.initialRecord());
      p.purgeable = false;
      p.hostSpec = spec.text;
      this.community.edges.set(fedKey(p), p);
      await this.resolvePeer(p);
    }
  }

  /** The timer's retry of `-l` peers that have no address yet. */
  resolvePeers(): void {
    for (const p of this.community.edges.values()) if (p.addr === undefined) void this.resolvePeer(p);
  }

  /** Resolves a `-l` peer's host; failures are logged and retried by the timer. */
  private async resolvePeer(p: SnPeer): Promise<void> {
    const spec = this.ctx.config.peers.find((s) => s.text === p.hostSpec);
    if (spec === undefined) return;
    try {
      const ip = await this.ctx.deps.resolve(spec.host);
      const addr = memberAddr(ip, spec.port);
      if (addr === undefined) throw new Error(`not an IP address: ${ip}`);
      p.setAddr(addr, ipv4Of(addr));
    } catch (e) {
      this.ctx.log(LogLevel.WARNING, `cannot resolve supernode ${spec.text}: ${(e as Error).message}`);
    }
  }

  /** The member a FROM_SUPERNODE datagram came from (receive.ts), by socket. */
  bySock(from: SockAddr): SnPeer | undefined {
    for (const p of this.community.edges.values()) if (sameAddr(p.addr, from)) return p;
    return undefined;
  }

  /** n2n.c: add_sn_to_list_by_mac_or_sock — by MAC, else by socket (adopting the MAC), else add if asked. */
  peer(addr: SockAddr, mac: Mac, add: boolean): SnPeer | undefined {
    const fed = this.community.edges;
    if (mac !== NULL_MAC) {
      const p = fed.get(`m${mac}`);
      if (p !== undefined) return p;
    }
    for (const [k, p] of fed) {
      if (sameAddr(p.addr, addr)) {
        if (mac !== NULL_MAC) {
          fed.delete(k);
          p.mac = mac;
          fed.set(fedKey(p), p);
        }
        return p;
      }
    }
    if (!add) return undefined;
    if (fed.size >= this.ctx.config.maxSupernodes) {
      this.ctx.stats.drops[DropReason.TABLE_LIMIT]++;
      return undefined;
    }
    const own = memberAddr(addr.address, addr.port);
    if (own === undefined || own.family !== addr.family) return undefined;
    const p = new SnPeer(mac, this.ctx.stamps.initialRecord());
    p.setAddr(own, ipv4Of(own));
    fed.set(fedKey(p), p);
    this.ctx.events.emit('supernodeAdded', snInfo(p));
    return p;
  }

  /**
   * sn_utils.c: re_register_and_purge_supernodes. Unless forced: purge peers not seen for 90 s and skip those
   * seen within 20 s. Sends each remaining (resolved) peer a federation REGISTER_SUPER with a fresh cookie.
   */
  reRegister(forced: boolean, now: number): void {
    const { ctx } = this;
    const fed = this.community;
    if (!forced) {
      for (const [k, p] of fed.edges) {
        if (p.purgeable && p.lastSeen < now - SN_INACTIVE_SECONDS) {
          fed.edges.delete(k);
          ctx.events.emit('supernodeExpired', snInfo(p));
        }
      }
    }
    if (!ctx.running) return;
    for (const p of fed.edges.values()) {
      if (!forced && now - p.lastSeen <= SN_ACTIVE_SECONDS) continue;
      if (p.addr === undefined) continue;
      const cookie = ctx.random.u32();
      p.lastCookie = cookie;
      const common: Common = {
        ttl: N2N_DEFAULT_TTL,
        type: MsgType.REGISTER_SUPER,
        flags: Flags.FROM_SUPERNODE,
        community: fed.field,
      };
      const reg: RegisterSuper = {
        cookie,
        edgeMac: ctx.mac,
        devAddr: { addr: 0, bitlen: 0 },
        desc: ZERO_DESC,
        auth: { scheme: AuthScheme.ID, token: ctx.idToken },
        keyTime: this.auth.keyTime,
      };
      const len = encodeRegisterSuper(common, reg, ctx.ctl, 0);
      ctx.sealer.seal(ctx.ctl, 0, len, fed.staticKeys!);
      this.transport.sendTo(p.addr, ctx.ctl, len);
    }
  }

  /**
   * sn_utils.c: REGISTER_SUPER_ACK payload (spec §4.7): skip a random number of entries, then up to 44
   * resolved, recently seen supernodes other than the requester itself. Members on IPv6 only to a requester
   * on IPv6 (edge or supernode): one on IPv4 may be 3.1.1, which cannot use them (docs/supernode.md, IPv6).
   */
  supernodeList(requester: SockAddr, now: number): SnEntry[] {
    const out: SnEntry[] = [];
    const fed = this.community.edges;
    let skip = fed.size - 1;
    skip = skip < 0 ? 0 : randSqr(this.ctx.random, skip);
    for (const p of fed.values()) {
      if (skip > 0) {
        skip--;
        continue;
      }
      if (p.addr === undefined) continue;
      if (p.addr.family === 6 && requester.family !== 6) continue;
      if (sameAddr(p.addr, requester)) continue;
      if (now - p.lastSeen >= SN_NEW_SECONDS) continue;
      if (out.length >= SN_ENTRIES_MAX) break;
      out.push({ sock: { family: p.addr.family, port: p.addr.port, address: p.addr.address }, mac: p.mac });
    }
    return out;
  }

  /**
   * sn_utils.c: REGISTER_SUPER_ACK from a member we registered with — it is alive (when the cookie is ours,
   * its supernode list teaches us new members, and its key time may be newer than ours).
   */
  onRegisterSuperAck(
    buf: Buffer,
    from: SockAddr,
    comm: Community | undefined,
    sn: SnPeer | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    if (!fromSn || !comm.isFederation) return DropReason.WRONG_SENDER;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.REGISTER_SUPER_ACK) return DropReason.DECODE;
    const ack = m.body;
    if (!this.ctx.stampOk(comm, sn, ack.srcMac, false)) return DropReason.STAMP;
    const now = this.ctx.nowSec();
    const p = this.peer(from, ack.srcMac, false);
    if (p === undefined) return DropReason.UNKNOWN_SUPERNODE;
    p.lastSeen = now;
    if (ack.cookie !== p.lastCookie) return DropReason.IGNORED;
    const fed = this.community.edges;
    for (const entry of ack.supernodes) {
      if (entry.mac === this.ctx.mac) continue;
      const addr: SockAddr = {
        family: entry.sock.family,
        address: entry.sock.address,
        port: entry.sock.port,
      };
      const before = fed.size;
      const q = this.peer(addr, entry.mac, true);
      if (q !== undefined && fed.size > before) q.lastSeen = now - SN_NEW_SECONDS;
    }
    this.adoptKeyTime(ack.keyTime, now);
    return undefined;
  }

  /**
   * sn_utils.c: a later key_time from a member is adopted — the user/password edges are told to re-register
   * under the old keys, the keys change, and every member hears the new time at once.
   */
  adoptKeyTime(keyTime: number, now: number): void {
    if (keyTime <= this.auth.keyTime) return;
    this.ctx.log(LogLevel.INFO, `adopting key time ${keyTime} from the federation`);
    this.auth.sendReRegisterSuper();
    this.auth.setKeyTime(keyTime);
    this.reRegister(true, now);
  }

  // ---------------------------------------------------------------- associations

  /** "edge MAC → supernode socket" from a relayed registration or PEER_INFO; bounded by maxAssociations. */
  associate(comm: Community, mac: Mac, from: SockAddr, now: number): void {
    const a = comm.assoc.get(mac);
    if (a !== undefined) {
      a.addr = { family: from.family, address: from.address, port: from.port };
      a.lastSeen = now;
      return;
    }
    if (this.assocTotal >= this.ctx.config.maxAssociations) {
      this.ctx.stats.drops[DropReason.TABLE_LIMIT]++;
      return;
    }
    comm.assoc.set(mac, {
      addr: { family: from.family, address: from.address, port: from.port },
      lastSeen: now,
    });
    this.assocTotal++;
  }

  /** sn_utils.c: purge_expired_communities — associations older than 3 × the registration timeout. */
  purgeAssociations(comm: Community, now: number): void {
    for (const [mac, a] of comm.assoc) {
      if (a.lastSeen < now - ASSOCIATION_TIMEOUT_SECONDS) {
        comm.assoc.delete(mac);
        this.assocTotal--;
      }
    }
  }

  /** A community is going away with its associations. */
  forgetAssociations(comm: Community): void {
    this.assocTotal -= comm.assoc.size;
  }
}

/**
 * A member's socket from an address text: IPv4 as dotted quad, IPv6 in the canonical text (RFC 5952) the
 * transport reports senders in, so bySock finds the member again; undefined when the text is neither.
 */
function memberAddr(ip: string, port: number): SockAddr | undefined {
  const family = ipFamilyOf(ip);
  if (family === 4) {
    const v4 = parseIpv4(ip);
    return v4 < 0 ? undefined : { family: 4, address: ipText(v4), port };
  }
  if (family !== 6) return undefined;
  const b = new Uint8Array(IPV6_BYTES);
  return parseIpv6Into(ip, b, 0) ? { family: 6, address: ipv6Text(b, 0), port } : undefined;
}

/** Map key of a federation member: its MAC, or a serial number while the MAC is unknown. */
function fedKey(p: SnPeer): string {
  return p.mac !== NULL_MAC ? `m${p.mac}` : `s${p.serial}`;
}
