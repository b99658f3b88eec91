// The other edges: the pending and known tables, REGISTER / REGISTER_ACK / PEER_INFO, hole punching, the replay check, purge.
//
// A peer starts pending (reached via the supernode) when we first send to it or hear from it; we then punch our
// NAT towards it with REGISTERs, and a REGISTER_ACK from it moves it to known (direct). Known peers that fall
// silent go back to the supernode path (spec §12.5; edge_utils.c: check_peer_registration_needed,
// register_with_new_peer, peer_set_p2p_confirmed).
import type { StampRecord } from '../transform/stamp.js';
import { numberToIpv4, type SockAddr, sockAddrToString } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
import { isN2nMulticastOrBroadcast, type Mac, macToString, NULL_MAC } from '../util/mac.js';
import { sockToAddr } from '../wire/sock.js';
import { Cookie, type PeerInfo, type Register, type RegisterAck } from '../wire/types.js';
import {
  ACK_SOCK_GRACE_S,
  DEFAULT_IP_TTL,
  MAC_CHANGE_INTERVAL_S,
  MAX_PEERS,
  MOVE_CONFIRM_S,
  MOVE_PROBE_INTERVAL_S,
  NEW_PEER_BURST,
  NEW_PEERS_PER_SECOND,
  P2P_DEAD_MS,
  P2P_PROBE_MS,
  PEER_REFRESH_S,
  PORT_PREDICTION_BURST,
  REGISTRATION_TIMEOUT_S,
} from './constants.js';
import { type EdgeContext, EdgeState, PeerAction, type PeerChange, type PeerEvent } from './context.js';
import type { Control } from './control.js';
import { canSetTtl } from './deps.js';
import {
  findPeerByAddr,
  ipv4Value,
  isValidPeerAddr,
  NO_COOKIE,
  newPeer,
  noteRegisterSent,
  type Peer,
  sameAddr,
  sampleRtt,
  setPeerAddr,
} from './peers.js';
import type { SupernodeEntry } from './supernodes.js';

export class PeerTable {
  /** Peers reached via the supernode while we try to reach them directly (edge_utils.c: pending_peers). */
  readonly pending = new Map<Mac, Peer>();
  /** Peers confirmed reachable directly (edge_utils.c: known_peers). */
  readonly known = new Map<Mac, Peer>();

  /** Token bucket of new pending peers (NEW_PEER_BURST, NEW_PEERS_PER_SECOND): tokens left at newPeerAt (s). */
  private newPeerTokens = NEW_PEER_BURST;
  private newPeerAt = 0;

  constructor(
    private readonly ctx: EdgeContext,
    private readonly control: Control,
  ) {}

  private takeNewPeerToken(now: number): boolean {
    if (now > this.newPeerAt) {
      this.newPeerTokens = Math.min(
        NEW_PEER_BURST,
        this.newPeerTokens + (now - this.newPeerAt) * NEW_PEERS_PER_SECOND,
      );
      this.newPeerAt = now;
    }
    if (this.newPeerTokens < 1) return false;
    this.newPeerTokens--;
    return true;
  }

  // ------------------------------------------------------------------ checks on what arrives

  /**
   * The replay check (spec §6) of the datagram being handled (its stamp in ctx.rxStamp): against the
   * supernode's record when it came from one, else the peer's (pending, then known). Always true without -H.
   */
  stampOk(sn: SupernodeEntry | undefined, mac: Mac, jitter: boolean): boolean {
    const ctx = this.ctx;
    if (!ctx.he) return true;
    let rec: StampRecord | undefined;
    if (sn !== undefined) rec = sn.stamp;
    else {
      const p = this.pending.get(mac) ?? this.known.get(mac);
      rec = p?.stamp;
    }
    if (ctx.stamps.verify(ctx.rxStamp, rec, jitter)) return true;
    ctx.drops.rxStamp++;
    return false;
  }

  /** A PACKET straight from a peer: the path works, stop registering via the supernode (edge_utils.c: process_udp). */
  directPacket(viaMcast: boolean, mac: Mac, from: SockAddr, ip4: number, now: number): void {
    if (this.pending.size > 0) this.pending.delete(mac);
    this.checkPeerRegistration(false, viaMcast, mac, Cookie.REGULAR, from, ip4, from.port, now);
  }

  /**
   * edge_utils.c: check_peer_registration_needed. The sender's socket is `addr` with its numeric form
   * `ip4` (IPv4 as u32, -1 for IPv6) and `port`; `addr` may be undefined (to spare an allocation on the relayed
   * data path), then ip4:port is all there is.
   */
  checkPeerRegistration(
    fromSn: boolean,
    viaMcast: boolean,
    mac: Mac,
    cookie: number,
    addr: SockAddr | undefined,
    ip4: number,
    port: number,
    now: number,
    reg?: Register,
  ): void {
    if (this.ctx.state !== EdgeState.RUNNING) return;
    let p = this.known.get(mac);
    if (p === undefined) {
      // The same socket under another MAC: the peer changed its MAC (at most once per MAC_CHANGE_INTERVAL_S).
      for (const q of this.known.values()) {
        if (addr !== undefined ? sameAddr(q.addr, addr) : q.ip4 === ip4 && q.port === port) {
          if (q.macChangedAt === 0 || now - q.macChangedAt >= MAC_CHANGE_INTERVAL_S) p = q;
          break;
        }
      }
      if (p !== undefined) {
        this.known.delete(p.mac);
        p.mac = mac;
        p.macChangedAt = now;
        this.known.set(mac, p);
        p.lastCookie = NO_COOKIE;
      }
    }
    if (p === undefined) {
      this.registerWithNewPeer(fromSn, viaMcast, mac, addr, ip4, port, now, reg);
      return;
    }
    // A dual-stack peer known over IPv6 may also reach us over IPv4 (LAN discovery, an older path): IPv6 is
    // preferred while it works, so such a packet neither moves the peer nor counts as life on the IPv6 path
    // (if that path dies, checkSilence notices and the peer is found again, over IPv4 if need be).
    if (!fromSn && ip4 >= 0 && p.addr.family === 6) return;
    if (!fromSn) {
      p.lastP2p = now;
      p.rxDirect++;
    }
    if (viaMcast) p.local = true;
    if (now - p.lastSeen > 0 || cookie > p.lastCookie) {
      // edge_utils.c: check_known_peer_sock_change.
      if (ip4 === 0 || isN2nMulticastOrBroadcast(mac)) return;
      if (p.ip4 === ip4 && p.port === port && (ip4 !== -1 || addr === undefined || sameAddr(p.addr, addr))) {
        p.lastSeen = now;
      } else if (!fromSn && now - p.moveProbeAt >= MOVE_PROBE_INTERVAL_S) {
        // A direct datagram from a new socket says the peer moved. Without -H anybody can say so, so the direct
        // path stays and the new socket is asked first; the peer's REGISTER_ACK from there moves it
        // (onRegisterAck). A peer that really roamed answers within a round trip.
        const a = addr ?? addrOf(ip4, port);
        p.moveTo = a;
        p.moveProbeAt = now;
        this.registerTo(p, a, Cookie.REGULAR);
      }
      // Relayed packets never change a known socket: the supernode may see another one.
    }
  }

  /** edge_utils.c: register_with_new_peer. */
  private registerWithNewPeer(
    fromSn: boolean,
    viaMcast: boolean,
    mac: Mac,
    addr: SockAddr | undefined,
    ip4: number,
    port: number,
    now: number,
    reg?: Register,
  ): void {
    const ctx = this.ctx;
    let p = this.pending.get(mac);
    if (p === undefined) {
      if (this.pending.size >= MAX_PEERS) {
        ctx.drops.peersFull++;
        return;
      }
      if (!this.takeNewPeerToken(now)) {
        ctx.drops.peersRate++;
        return;
      }
      const a = addr ?? addrOf(ip4, port);
      p = newPeer(mac, a, now, ctx.config.registerInterval);
      ctx.stamps.initialRecord(p.stamp);
      if (viaMcast) p.local = true;
      this.pending.set(mac, p);
      ctx.log(LogLevel.DEBUG, `new pending peer ${macToString(mac)} [${sockAddrToString(a)}]`);
      if (fromSn) {
        // Punch our NAT towards the peer, then ask the supernode to forward a REGISTER so it punches back.
        const ttl = ctx.config.registerTtl;
        if (ttl === 1) {
          // DMZ host: the peer's REGISTER will reach us; nothing to punch.
        } else if (ttl > 1) {
          const udp = ctx.udp;
          if (udp !== undefined && canSetTtl(udp)) udp.setTtl(ttl);
          noteRegisterSent(p, Cookie.PORT, ctx.clock.now());
          for (let i = 0; i < PORT_PREDICTION_BURST; i++) {
            this.control.register(
              { family: a.family, address: a.address, port: (a.port + i) & 0xffff },
              mac,
              Cookie.PORT,
            );
          }
          if (udp !== undefined && canSetTtl(udp)) udp.setTtl(DEFAULT_IP_TTL);
        } else {
          this.registerTo(p, a, Cookie.REGULAR);
        }
        this.control.register(ctx.supernodes.cur.addr ?? a, mac, Cookie.FORWARDED);
      } else {
        this.registerTo(p, a, Cookie.REGULAR);
      }
      this.registerWithLocalPeers();
    } else if (addr !== undefined ? !sameAddr(p.addr, addr) : p.ip4 !== ip4 || p.port !== port) {
      setPeerAddr(p, addr ?? addrOf(ip4, port));
    }
    p.lastSeen = now;
    if (reg !== undefined) {
      p.devAddr = reg.devAddr.addr;
      p.devBits = reg.devAddr.bitlen;
      const nul = reg.desc.indexOf(0);
      p.desc = Buffer.from(reg.desc.subarray(0, nul < 0 ? reg.desc.length : nul)).toString('latin1');
    }
  }

  // ------------------------------------------------------------------ control messages from peers

  /**
   * Another edge registers with us (edge_utils.c: process_udp, MSG_TYPE_REGISTER). `fromIp4` is `from`'s
   * IPv4 as u32 (-1 for IPv6).
   */
  onRegister(
    reg: Register,
    from: SockAddr,
    fromIp4: number,
    sn: SupernodeEntry | undefined,
    fromSn: boolean,
    viaMcast: boolean,
    now: number,
  ): void {
    const ctx = this.ctx;
    viaMcast = viaMcast && reg.dstMac === NULL_MAC;
    if (!this.stampOk(sn, reg.srcMac, viaMcast)) return;
    let origin = from;
    if (reg.sock !== undefined) {
      const a = sockToAddr(reg.sock);
      if (isValidPeerAddr(a)) origin = a;
    }
    if (viaMcast && reg.srcMac === ctx.ownMac) return; // our own multicast REGISTER
    if (!viaMcast && reg.dstMac !== ctx.ownMac) {
      ctx.drops.rxIgnored++;
      return;
    }
    if (ctx.state !== EdgeState.RUNNING) return;
    if (!fromSn) {
      this.pending.delete(reg.srcMac);
      // Only direct REGISTERs are acknowledged.
      this.control.registerAck(origin, reg);
    }
    const ip4 = origin === from ? fromIp4 : origin.family === 4 ? ipv4Value(origin.address) : -1;
    if (fromSn && origin !== from) {
      // A dual-stack peer's IPv4 fallback (checkQueryPeerInfo): its socket in the other family than the one we
      // try. Punch towards it at once, so its ACK or REGISTER can come back that way.
      const p = this.pending.get(reg.srcMac);
      if (p !== undefined && p.addr.family !== origin.family) this.registerTo(p, origin, Cookie.REGULAR);
    }
    this.checkPeerRegistration(fromSn, viaMcast, reg.srcMac, reg.cookie, origin, ip4, origin.port, now, reg);
  }

  /** A peer confirms our REGISTER: P2P works (edge_utils.c: peer_set_p2p_confirmed). */
  onRegisterAck(ra: RegisterAck, from: SockAddr, sn: SupernodeEntry | undefined, now: number): void {
    if (!this.stampOk(sn, ra.srcMac, false)) return;
    if (this.ctx.state !== EdgeState.RUNNING) return;
    // The round trip of the REGISTER it answers (known peers too: their ACK changes nothing else).
    const timed = this.pending.get(ra.srcMac) ?? this.known.get(ra.srcMac);
    if (timed !== undefined) sampleRtt(timed, ra.cookie, this.ctx.clock.now(), now);
    let p = this.pending.get(ra.srcMac);
    if (p === undefined && sn === undefined) {
      // The answer to a probe of a known peer's direct path (checkSilence): the path works.
      const k = this.known.get(ra.srcMac);
      if (k !== undefined && sameAddr(k.addr, from)) {
        k.rxDirect++;
        k.lastP2p = now;
        k.lastSeen = now;
        return;
      }
      if (k !== undefined && k.moveTo !== undefined && sameAddr(k.moveTo, from)) {
        if (now - k.moveProbeAt <= MOVE_CONFIRM_S) this.confirmMove(k, from, now);
        return;
      }
    }
    if (p === undefined) {
      p = findPeerByAddr(this.pending, from);
      if (p !== undefined) p.lastCookie = NO_COOKIE;
    }
    if (p === undefined) return;
    if (
      this.known.size >= MAX_PEERS &&
      !this.known.has(p.mac) &&
      findPeerByAddr(this.known, from) === undefined
    ) {
      this.ctx.drops.peersFull++;
      return;
    }
    this.pending.delete(p.mac);
    const existing = findPeerByAddr(this.known, from);
    if (existing !== undefined) {
      // Same socket under another MAC: the peer changed its MAC; keep the known entry.
      this.known.delete(existing.mac);
      this.postPeer(PeerAction.DEL_P2P, p, false);
      p = existing;
      p.mac = ra.srcMac;
      p.lastCookie = NO_COOKIE;
    } else if (now - p.lastSeen > ACK_SOCK_GRACE_S || ra.cookie > p.lastCookie) {
      // A lower-ranked path may not move a fresh peer's socket (cookie priority, spec §12.5).
      if (!sameAddr(p.addr, from)) setPeerAddr(p, from);
      p.lastCookie = ra.cookie;
    }
    this.known.set(p.mac, p);
    p.lastP2p = now;
    p.lastSeen = now;
    this.postPeer(PeerAction.ADD_P2P, p, true);
    this.ctx.log(
      LogLevel.DEBUG,
      `p2p connection established: ${macToString(p.mac)} [${sockAddrToString(p.addr)}]`,
    );
  }

  /**
   * The supernode's answer to our QUERY_PEER: the peer's public socket (and -e one), where we send REGISTERs
   * (edge_utils.c: MSG_TYPE_PEER_INFO). The replay and socket checks are done (receive.ts).
   */
  onPeerInfo(pi: PeerInfo, piAddr: SockAddr, hasSock: boolean): void {
    if (this.ctx.state !== EdgeState.RUNNING) return;
    this.ctx.snAnswers++;
    const pend = this.pending.get(pi.mac);
    const p = pend ?? this.known.get(pi.mac);
    if (p === undefined) {
      this.ctx.drops.rxIgnored++;
      return;
    }
    // A direct path in the other family (the IPv4 fallback) is not moved by a late answer about the first one.
    if (pend === undefined && p.addr.family !== piAddr.family) return;
    if (!sameAddr(p.addr, piAddr)) setPeerAddr(p, piAddr);
    if (hasSock && pi.preferredSock !== undefined) {
      p.preferred = sockToAddr(pi.preferredSock);
      this.registerTo(p, p.preferred, Cookie.LOCAL);
    }
    this.registerTo(p, p.addr, Cookie.REGULAR);
  }

  // ------------------------------------------------------------------ what we send for peers

  /** edge_utils.c: check_query_peer_info — at most one query + relayed REGISTER per interval and MAC. */
  checkQueryPeerInfo(now: number, mac: Mac): void {
    const ctx = this.ctx;
    let p = this.pending.get(mac);
    if (p === undefined) {
      if (this.pending.size >= MAX_PEERS) {
        ctx.drops.peersFull++;
        return;
      }
      p = newPeer(mac, { family: 4, address: '0.0.0.0', port: 0 }, now, ctx.config.registerInterval);
      ctx.stamps.initialRecord(p.stamp);
      this.pending.set(mac, p);
    }
    if (now - p.lastSentQuery > ctx.config.registerInterval) {
      const cur = ctx.supernodes.cur;
      const sn = cur.addr;
      this.control.register(sn ?? ctx.mcastAddr, mac, Cookie.FORWARDED);
      // IPv6 first: only when a whole round passed without a direct path does the REGISTER also go through
      // the supernode's IPv4 address, which hands the peer our IPv4 socket to punch back to (onRegister).
      if (cur.alt4 !== undefined && p.queryRounds > 0) this.control.register(cur.alt4, mac, Cookie.FORWARDED);
      this.control.queryPeer(mac, sn);
      p.lastSentQuery = now;
      p.queryRounds++;
    }
  }

  /** The multicast REGISTER to 224.0.0.68:1968 (edge_utils.c: register_with_local_peers). */
  registerWithLocalPeers(): void {
    const ctx = this.ctx;
    if (ctx.mcast !== undefined && ctx.config.p2p && ctx.preferred === undefined) {
      this.control.register(ctx.mcastAddr, NULL_MAC, Cookie.MCAST);
    }
  }

  /** Keeps P2P paths alive while the supernode is silent: REGISTER to known peers not seen for a while. */
  refreshKnown(now: number): void {
    for (const p of this.known.values()) {
      if (now - p.lastSeen > PEER_REFRESH_S) this.registerTo(p, p.addr, p.lastCookie);
    }
  }

  /** A REGISTER straight to peer `p`, timed for its RTT (sampleRtt when the ACK comes). */
  /** A known peer answered our probe from the socket it was heard from: the direct path is there now. */
  private confirmMove(p: Peer, to: SockAddr, now: number): void {
    this.ctx.log(
      LogLevel.NORMAL,
      `peer ${macToString(p.mac)} changed [${sockAddrToString(p.addr)}] -> [${sockAddrToString(to)}]`,
    );
    this.postPeer(PeerAction.DEL_P2P, p, true, 'moved');
    setPeerAddr(p, to);
    p.moveTo = undefined;
    p.lastCookie = NO_COOKIE;
    p.rxDirect++;
    p.lastP2p = now;
    p.lastSeen = now;
    this.postPeer(PeerAction.ADD_P2P, p, true);
  }

  private registerTo(p: Peer, to: SockAddr, cookie: number): void {
    noteRegisterSent(p, cookie, this.ctx.clock.now());
    this.control.register(to, p.mac, cookie);
  }

  /** True when a known peer is outside our LAN (then the socket works and is not re-opened). */
  hasOutsidePeer(): boolean {
    for (const p of this.known.values()) if (!p.local) return true;
    return false;
  }

  // ------------------------------------------------------------------ dead paths (timers.ts, every tick)

  /**
   * Known peers we send to directly without hearing from them: after P2P_PROBE_MS one REGISTER (a C peer answers
   * it with REGISTER_ACK, edge_utils.c: process_udp), after P2P_DEAD_MS back to the supernode path, where the next
   * frame asks for the peer again (QUERY_PEER) and punches anew. A path that answers costs nothing here.
   */
  checkSilence(nowMs: number): void {
    for (const p of this.known.values()) {
      const sl = p.silence;
      const ms = sl.observe(p.txDirect, p.rxDirect, nowMs);
      if (ms === 0) continue;
      // One-way traffic on a live path: the waits double with each silence only our probe ended.
      const probeMs = P2P_PROBE_MS * sl.backoff();
      if (ms >= probeMs + P2P_DEAD_MS - P2P_PROBE_MS) {
        this.ctx.log(
          LogLevel.NORMAL,
          `peer ${macToString(p.mac)} [${sockAddrToString(p.addr)}] silent for ${ms} ms: via the supernode again`,
        );
        this.dropStale(p);
        this.requery(p.mac);
      } else if (ms >= probeMs && !sl.probed) {
        sl.probed = true;
        this.control.register(p.addr, p.mac, Cookie.REGULAR);
      }
    }
  }

  /** Lets the next relayed frame to `mac` (every pending peer when undefined) query the supernode at once. */
  requery(mac?: Mac): void {
    if (mac !== undefined) {
      const p = this.pending.get(mac);
      if (p !== undefined) p.lastSentQuery = Number.NEGATIVE_INFINITY;
      return;
    }
    for (const p of this.pending.values()) p.lastSentQuery = Number.NEGATIVE_INFINITY;
  }

  /** Our own underlay address changed: no direct path holds any more; every peer goes via the supernode. */
  dropAllKnown(): void {
    for (const p of this.known.values()) this.dropStale(p);
    this.requery();
  }

  // ------------------------------------------------------------------ removal

  /** A known peer silent for half its timeout: the path may be gone; traffic goes via the supernode again. */
  dropStale(p: Peer): void {
    this.known.delete(p.mac);
    this.postPeer(PeerAction.DEL_P2P, p, true, 'stale');
  }

  /** Removes the peers of one table not heard from for REGISTRATION_TIMEOUT; returns how many. */
  purge(known: boolean, now: number): number {
    const list = known ? this.known : this.pending;
    let n = 0;
    for (const p of list.values()) {
      if (p.lastSeen < now - REGISTRATION_TIMEOUT_S) {
        list.delete(p.mac);
        this.postPeer(PeerAction.PURGE, p, known);
        n++;
      }
    }
    return n;
  }

  /** Empties both tables (stop). */
  clear(): void {
    for (const p of this.pending.values()) this.postPeer(PeerAction.CLEAR, p, false);
    for (const p of this.known.values()) this.postPeer(PeerAction.CLEAR, p, true);
    this.pending.clear();
    this.known.clear();
  }

  /** Reports a peer table change: `peer` for the management port, `peerUp`/`peerDown` for known peers. */
  private postPeer(action: PeerAction, p: Peer, known: boolean, reason?: PeerChange['reason']): void {
    const events = this.ctx.events;
    const sockaddr = sockAddrToString(p.addr);
    events.emit('peer', { action, mac: p.mac, sockaddr } satisfies PeerEvent);
    if (action === PeerAction.ADD_P2P) {
      events.emit('peerUp', { mac: macToString(p.mac), sockaddr } satisfies PeerChange);
    } else if (known) {
      const r =
        reason ?? (action === PeerAction.PURGE ? 'purge' : action === PeerAction.CLEAR ? 'clear' : 'moved');
      events.emit('peerDown', { mac: macToString(p.mac), sockaddr, reason: r } satisfies PeerChange);
    }
  }
}

function addrOf(ip4: number, port: number): SockAddr {
  return { family: 4, address: numberToIpv4(ip4), port };
}
