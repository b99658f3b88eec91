// The supernode side: bootstrap, REGISTER_SUPER and its ACK/NAK, PINGs and supernode selection, failover, DNS re-resolution, socket re-open.
//
// State: the supernode list, the current one and the wait state live in ctx.supernodes (the packet paths read
// them; only this file writes them); the rest — attempts, ping counts, the sweep and DNS times, the bootstrap
// wait, the address the supernode assigned — is kept here.
// Upstream: edge.c: main (runlevels 0..3) for the bootstrap; edge_utils.c: update_supernode_reg,
// sort_supernodes, send_register_super, process_udp (REGISTER_SUPER_ACK/NAK, PEER_INFO as PONG).
import { isConnectionSocket } from '../io/tcp-framed.js';
import type { UdpSocket } from '../io/types.js';
import type { Stamp } from '../transform/stamp.js';
import { ipFamilyOf, type SockAddr, sameSockAddr, sockAddrToString } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
import { NULL_MAC } from '../util/mac.js';
import type { Random } from '../util/random.js';
import { sockToAddr } from '../wire/sock.js';
import { AuthScheme, type PeerInfo, type RegisterSuperAck, type RegisterSuperNak } from '../wire/types.js';
import {
  BOOTSTRAP_TIMEOUT_S,
  CLOSE_SOCKET_COUNTER_MAX,
  MAX_SUPERNODE_ENTRIES,
  MS_PER_S,
  PINGS_INITIAL,
  PINGS_REGULAR,
  PRIVILEGED_PORT_MAX,
  RESOLVE_INTERVAL_S,
  RESOLVE_RETRY_S,
  SN_PROBE_TIMEOUT_MS,
  SN_SILENT_MS,
  SUP_ATTEMPTS,
  SUP_ATTEMPTS_TCP,
  SWEEP_TIME_S,
} from './constants.js';
import {
  type EdgeContext,
  EdgeState,
  type RegisteredEvent,
  type SupernodeSet,
  type UnregisteredEvent,
  UnregisterReason,
} from './context.js';
import type { Control } from './control.js';
import type { MssLimits } from './mss-limits.js';
import { AddressMode } from './options.js';
import type { PeerTable } from './peer-table.js';
import { isValidPeerAddr, sameAddr } from './peers.js';
import type { SendPath } from './send.js';
import { Silence } from './silence.js';
import {
  CRITERION_BAD,
  CRITERION_DEFAULT,
  CRITERION_GOOD,
  canonicalAddr,
  criterionFromPong,
  newSupernodeEntry,
  type SupernodeEntry,
  selectionCommonData,
  setSupernodeAddr,
  sortSupernodes,
} from './supernodes.js';

/** u32 read as its byte-swapped value: PEER_INFO `load` is effectively little-endian (spec §4.9). */
function byteSwap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** n2n_rand_sqr: a random number in [0, max], clustered around max/2 (random_numbers.c). */
function randSqr(random: Random, max: number): number {
  const rawMax = (max + 2) * (max + 2);
  const raw = random.u32() % rawMax;
  let r = Math.floor(Math.floor(Math.sqrt(raw)) / 2);
  r = raw & 1 ? r : -r;
  r = Math.floor(max / 2) + r;
  return Math.min(Math.max(r, 0), max);
}

export class Registration {
  /** The address the supernode assigned during bootstrap (no -a); 0 when none. */
  assignedAddr = 0;
  assignedBits = 0;
  /** Unix seconds of the last sweep and of the last DNS resolution (Timers decides from them). */
  lastSweep = 0;
  lastResolve = 0;
  /** Set on failover: the names are resolved again at the next tick. */
  resolveRequested = false;
  /**
   * The supernode (its -l text) whose last ACK we hold; undefined before the first one, after SUP_ATTEMPTS
   * unanswered REGISTER_SUPERs and after stop. A better supernode found by the sweep replaces it with its ACK.
   */
  registeredWith: string | undefined;
  /** Our public socket as the supernode reported it in its last ACK; undefined when unknown. */
  publicAddr: string | undefined;

  private readonly sns: SupernodeSet;
  /** A PONG arrived since the last PINGs. */
  private snPong = false;
  private supAttempts = SUP_ATTEMPTS;
  private lastRegisterReq = 0;
  private maxPings = PINGS_INITIAL;
  /** The selection criterion's common data of the current sweep (sn_selection_criterion_common_data). */
  private selectionCommon = 0;
  private closeSocketCounter = 0;
  private resolving = false;
  private reopening = false;
  /** Wakes the bootstrap's wait (set while it waits). */
  private bootWake: (() => void) | undefined;
  private readonly stamp: Stamp = { hi: 0, lo: 0 };
  /** Whether what we send to the supernode is answered (timers.ts: checkSilence). */
  private readonly snSilence = new Silence();
  /** Clock ms of the outstanding fast-detection REGISTER_SUPER, -1 = none; txSup when it left. */
  private probeAtMs = -1;
  private probeTx = 0;
  /** After a probe or failover: the ACK lets every pending peer be queried again at once. */
  private requeryOnAck = false;

  /** `attach` makes a newly opened socket the main one (the Edge wires it to the send and receive paths). */
  constructor(
    private readonly ctx: EdgeContext,
    private readonly control: Control,
    private readonly peers: PeerTable,
    private readonly send: SendPath,
    private readonly attach: (s: UdpSocket) => void,
    private readonly mss: MssLimits,
  ) {
    this.sns = ctx.supernodes;
    this.supAttempts = ctx.config.tcp ? SUP_ATTEMPTS_TCP : SUP_ATTEMPTS;
  }

  // ------------------------------------------------------------------ bootstrap

  /** Resolves the supernode names (all of them when `all`, else only the unresolved ones). */
  async resolveSupernodes(all: boolean): Promise<void> {
    if (this.resolving) return;
    const ctx = this.ctx;
    this.resolving = true;
    this.lastResolve = ctx.now();
    let failed = false;
    try {
      for (const sn of this.sns.list) {
        if (!all && sn.addr !== undefined) continue;
        if (sn.purgeable) continue; // learned entries are numeric already
        try {
          // A dual-stack socket takes either family (the system's order), an IPv4 one (or -S2) only IPv4.
          const family = ctx.udp?.local.family === 6 && !ctx.config.tcp ? 0 : 4;
          const address = await ctx.deps.resolve(sn.host, family);
          const addr: SockAddr = { family: address.includes(':') ? 6 : 4, address, port: sn.port };
          if (sn.addr === undefined || !sameSockAddr(sn.addr, canonicalAddr(addr)))
            setSupernodeAddr(sn, addr);
          sn.alt4 = undefined;
          if (family === 0 && sn.addr?.family === 6 && ipFamilyOf(sn.host) === 0) {
            // A name on IPv6: its IPv4 address too, for the IPv4 P2P fallback (none is no error).
            const a4 = await ctx.deps.resolve(sn.host, 4).catch(() => undefined);
            if (a4 !== undefined && ipFamilyOf(a4) === 4) sn.alt4 = { family: 4, address: a4, port: sn.port };
          }
        } catch (err) {
          failed = true;
          ctx.log(LogLevel.WARNING, `cannot resolve supernode '${sn.text}': ${(err as Error).message}`);
        }
      }
    } finally {
      this.resolving = false;
    }
    // Retry sooner after a failure (n2n: 30 s after an error, else 300 s).
    if (failed) this.lastResolve -= RESOLVE_INTERVAL_S - RESOLVE_RETRY_S;
  }

  /** Periodic re-resolution (timers.ts): the names may point elsewhere now. */
  reresolve(): void {
    this.resolveRequested = false;
    void this.resolveSupernodes(true);
  }

  /**
   * Waits until `answered()` holds (checked whenever a PONG or ACK arrives), the edge stops, or `seconds` pass
   * (edge.c: main, the select with BOOTSTRAP_TIMEOUT).
   */
  private waitBoot(seconds: number, answered: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        this.bootWake = undefined;
        cancel();
        resolve();
      };
      const cancel = this.ctx.clock.after(seconds * MS_PER_S, finish);
      this.bootWake = () => {
        if (answered() || this.ctx.stopping()) finish();
      };
    });
  }

  /** Lets a waiting bootstrap see that the edge stops. */
  wake(): void {
    this.bootWake?.();
  }

  /** edge.c: main, runlevels 0..3: find a live supernode, then (without -a) get an address from it. */
  async bootstrap(): Promise<void> {
    const ctx = this.ctx;
    const sns = this.sns;
    // Find a live supernode first, unless there is only one (or user/password mode).
    // edge.c skips it for -S2 too: a TCP edge never PINGs.
    if (sns.list.length > 1 && !ctx.userPassword && !ctx.config.tcp) {
      for (;;) {
        this.snPong = false;
        this.maxPings = PINGS_INITIAL;
        this.sendPing();
        ctx.log(LogLevel.NORMAL, 'send PING to supernodes');
        await this.waitBoot(BOOTSTRAP_TIMEOUT_S, () => this.snPong);
        if (ctx.stopping()) return;
        if (this.snPong) {
          this.snPong = false;
          sortSupernodes(sns.list);
          sns.cur = sns.list[0];
          ctx.log(LogLevel.NORMAL, `received first PONG from supernode [${sns.cur.text}]`);
          break;
        }
        if (sns.list.some((s) => s.addr === undefined)) await this.resolveSupernodes(false);
      }
    }
    if (ctx.config.addressMode === AddressMode.SUPERNODE) {
      for (;;) {
        sns.wait = 1;
        this.sendRegisterSuper();
        ctx.log(LogLevel.NORMAL, `send REGISTER_SUPER to supernode [${sns.cur.text}] asking for IP address`);
        await this.waitBoot(BOOTSTRAP_TIMEOUT_S, () => sns.wait === 0);
        if (ctx.stopping()) return;
        if (sns.wait === 0) break;
        // Time out: try the next supernode.
        const i = sns.list.indexOf(sns.cur);
        sns.cur = sns.list[(i + 1) % sns.list.length];
        if (sns.cur.addr === undefined) await this.resolveSupernodes(false);
      }
      if (this.assignedAddr === 0) {
        // edge.c goes on without one too; the device then has no IPv4 address.
        ctx.log(LogLevel.WARNING, 'the supernode did not assign an address (use -a)');
      } else {
        ctx.log(LogLevel.NORMAL, 'received REGISTER_SUPER_ACK from supernode for IP address assignment');
      }
    }
  }

  /** edge.c: main, after the bootstrap: the current supernode is "good", the first sweep comes ~6 s later. */
  begin(now: number): void {
    const sns = this.sns;
    this.maxPings = PINGS_INITIAL;
    for (const sn of sns.list) sn.selection = sn === sns.cur ? CRITERION_GOOD : CRITERION_DEFAULT;
    sortSupernodes(sns.list);
    this.lastSweep = now - SWEEP_TIME_S + 2 * BOOTSTRAP_TIMEOUT_S;
    sns.wait = 1;
    this.lastRegisterReq = 0;
  }

  // ------------------------------------------------------------------ registering and selecting

  /**
   * edge_utils.c: update_supernode_reg. Called every tick; it decides itself: every registration interval,
   * every tenth of it while no ACK came, at once after RE_REGISTER_SUPER. After SUP_ATTEMPTS unanswered
   * tries it fails over to the best other supernode.
   */
  updateSupernodeReg(now: number): void {
    const ctx = this.ctx;
    const sns = this.sns;
    const interval = ctx.config.registerInterval;
    if ((sns.wait !== 0 && now > this.lastRegisterReq + Math.floor(interval / 10)) || sns.wait === 2) {
      // fast retry, or re-register now
    } else if (now < this.lastRegisterReq + interval) {
      return;
    }
    let off = 0;
    if (sns.wait === 2) {
      // Spread the next regular registrations of all edges over ¾ of the interval.
      const span = Math.floor((interval * 3) / 4);
      off = span > 0 ? ctx.random.u32() % span : 0;
    }
    if (this.supAttempts === 0) {
      // Give up on this supernode and try the best other one.
      this.lost(UnregisterReason.TIMEOUT);
      this.failover();
    } else {
      this.supAttempts--;
    }
    this.sendRegisterSuper();
    this.peers.registerWithLocalPeers();
    // Keep P2P paths alive while the supernode is silent.
    if (sns.wait === 1) this.peers.refreshKnown(now);
    sns.wait = 1;
    this.lastRegisterReq = now - off;
  }

  /** Gives up on the current supernode and takes the best other one (edge_utils.c: update_supernode_reg). */
  private failover(): void {
    const ctx = this.ctx;
    const sns = this.sns;
    const old = sns.cur;
    old.selection = CRITERION_BAD;
    sortSupernodes(sns.list);
    // All of them bad: the stable sort would keep the one that just failed first; take the next.
    sns.cur = sns.list[0] === old && sns.list.length > 1 ? sns.list[1] : sns.list[0];
    ctx.log(LogLevel.WARNING, `supernode not responding, now trying [${sns.cur.text}]`);
    this.supAttempts = ctx.config.tcp ? SUP_ATTEMPTS_TCP : SUP_ATTEMPTS;
    this.resolveRequested = true;
    this.requeryOnAck = true;
    const port = ctx.config.localPort;
    // -S2: supernode_connect re-opens the TCP connection every time it gives up on a supernode.
    if (ctx.config.tcp && ctx.udp && isConnectionSocket(ctx.udp)) ctx.udp.reconnect();
    else if (port === 0 || port > PRIVILEGED_PORT_MAX) {
      if (!this.peers.hasOutsidePeer() && ++this.closeSocketCounter >= CLOSE_SOCKET_COUNTER_MAX) {
        this.closeSocketCounter = 0;
        this.reopenSocket();
      }
    }
  }

  // ------------------------------------------------------------------ fast detection (timers.ts, every tick)

  /**
   * Is traffic to the supernode answered (Silence over txSup against rxSup + answers)? Unanswered for
   * SN_SILENT_MS: REGISTER_SUPER now, instead of at the next -i interval. Unanswered for
   * SN_PROBE_TIMEOUT_MS while frames still go out: the next supernode, and so on each tick until one answers or
   * the traffic stops (then the regular retries of updateSupernodeReg go on). Nothing is sent while it answers.
   */
  checkSilence(now: number, nowMs: number): void {
    const ctx = this.ctx;
    const sns = this.sns;
    const t = ctx.traffic;
    const sl = this.snSilence;
    const silentMs = sl.observe(t.txSup, t.rxSup + ctx.snAnswers, nowMs);
    if (this.probeAtMs >= 0) {
      if (sns.wait === 0) {
        this.probeAtMs = -1;
        return;
      }
      if (nowMs - this.probeAtMs < SN_PROBE_TIMEOUT_MS) return;
      if (ctx.traffic.txSup === this.probeTx) {
        // Nobody is waiting for the supernode now: leave it to the regular retries.
        this.probeAtMs = -1;
        return;
      }
      if (sns.list.length > 1) this.failover();
      this.probe(now, nowMs);
      return;
    }
    // One-way traffic to a live supernode: the wait doubles with each silence only our probe ended.
    if (silentMs >= SN_SILENT_MS * sl.backoff() && !sl.probed) {
      ctx.log(LogLevel.INFO, `supernode [${sns.cur.text}] silent for ${silentMs} ms: registering again`);
      sl.probed = true;
      this.probe(now, nowMs);
    }
  }

  /** Our underlay address changed (timers.ts): register from the new one at once, and punch every peer anew. */
  onAddressChange(now: number, nowMs: number, from: string | undefined, to: string | undefined): void {
    const ctx = this.ctx;
    ctx.log(
      LogLevel.NORMAL,
      `local address towards the supernode changed: ${from ?? 'none'} -> ${to ?? 'none'}; registering again`,
    );
    this.peers.dropAllKnown();
    if (to !== undefined) this.probe(now, nowMs);
  }

  /** REGISTER_SUPER to the current supernode now, remembered as a probe whose ACK is awaited. */
  private probe(now: number, nowMs: number): void {
    this.sns.wait = 1;
    this.sendRegisterSuper();
    this.probeAtMs = nowMs;
    this.probeTx = this.ctx.traffic.txSup;
    this.requeryOnAck = true;
    this.lastRegisterReq = now;
  }

  /** Closes and re-opens the main socket (multi-NAT set-ups can get stuck, edge_utils.c). */
  private reopenSocket(): void {
    const ctx = this.ctx;
    if (this.reopening || !ctx.udp) return;
    this.reopening = true;
    const c = ctx.config;
    const old = ctx.udp;
    ctx.log(LogLevel.INFO, 're-opening the main UDP socket');
    void ctx.deps
      .openUdp({ address: c.bindAddress, port: 0, tos: c.tos, pmtuDiscovery: c.pmtuDiscovery })
      .then(
        (s) => {
          this.reopening = false;
          if (ctx.stopping()) {
            s.close();
            return;
          }
          this.send.flushTx();
          old.close();
          this.attach(s);
          if (ctx.preferred) ctx.preferred.port = s.local.port;
        },
        (err: unknown) => {
          this.reopening = false;
          ctx.log(LogLevel.WARNING, `re-opening the UDP socket failed: ${(err as Error).message}`);
        },
      );
  }

  /** edge_utils.c: sort_supernodes (the periodic sweep; timers.ts calls it every SWEEP_TIME_S). */
  sweep(now: number): void {
    const ctx = this.ctx;
    const sns = this.sns;
    if (!sns.wait) sortSupernodes(sns.list);
    if (sns.cur !== sns.list[0]) {
      // A better supernode: leave the current one.
      this.unregister();
      sns.cur = sns.list[0];
      this.supAttempts = this.ctx.config.tcp ? SUP_ATTEMPTS_TCP : SUP_ATTEMPTS;
      ctx.log(LogLevel.INFO, `registering with supernode [${sns.cur.text}]`);
      this.sendRegisterSuper();
      this.lastRegisterReq = now;
      sns.wait = 1;
    }
    for (const sn of sns.list) sn.selection = sn === sns.cur ? CRITERION_GOOD : CRITERION_DEFAULT;
    this.selectionCommon = selectionCommonData(
      ctx.config.selection,
      this.peers.pending.size,
      ctx.he,
      sns.list.length,
      this.stampLow32(),
    );
    this.sendPing();
    this.lastSweep = now;
    this.snPong = false;
  }

  private stampLow32(): number {
    return this.ctx.stamps.current(this.stamp).lo;
  }

  /** edge_utils.c: send_register_super, with a fresh cookie the ACK must echo. */
  private sendRegisterSuper(): void {
    const cookie = this.ctx.random.u32();
    const cur = this.sns.cur;
    cur.lastCookie = cookie;
    this.control.registerSuper(cookie, cur.addr);
  }

  /** UNREGISTER_SUPER to the current supernode (leaving it, or stopping). */
  unregister(): void {
    this.control.unregisterSuper(this.sns.cur.addr);
  }

  /** The registration is gone (no answer, or stopping): `unregistered`, once. */
  lost(reason: UnregisterReason): void {
    const sn = this.registeredWith;
    if (sn === undefined) return;
    this.registeredWith = undefined;
    this.publicAddr = undefined;
    this.ctx.events.emit('unregistered', { supernode: sn, reason } satisfies UnregisteredEvent);
  }

  /** PINGs: the best ⌊n/2⌋ supernodes, skip a random number, then ⌈n/2⌉ more (edge_utils.c: send_query_peer). */
  private sendPing(): void {
    if (this.ctx.config.tcp) return;
    const len = this.control.ping();
    const list = this.sns.list;
    const n = this.maxPings;
    this.maxPings = PINGS_REGULAR;
    let top = n >> 1;
    let rest = (n + 1) >> 1;
    const skipMax = list.length - n;
    let skip = skipMax < 0 ? 0 : randSqr(this.ctx.random, skipMax);
    for (const sn of list) {
      if (top > 0) top--;
      else if (skip > 0) {
        skip--;
        continue;
      } else if (rest > 0) rest--;
      else break;
      this.control.send(len, sn.addr);
    }
  }

  // ------------------------------------------------------------------ answers from supernodes

  /** edge_utils.c: process_udp, MSG_TYPE_REGISTER_SUPER_ACK (spec §12.2 "ACK acceptance"). */
  onRegisterSuperAck(
    ra: RegisterSuperAck,
    raw: Buffer,
    rawEnd: number,
    _from: SockAddr,
    sn: SupernodeEntry | undefined,
    now: number,
  ): void {
    const ctx = this.ctx;
    const sns = this.sns;
    if (sns.wait === 0) {
      ctx.drops.rxUnexpected++;
      return;
    }
    if (sn === undefined) {
      ctx.drops.rxUnknownSupernode++;
      return;
    }
    if (!this.peers.stampOk(sn, ra.srcMac, false)) return;
    if (ctx.userPassword && !ctx.auth.checkTrailer(ctx.trailerHash, raw, rawEnd)) {
      ctx.drops.rxAuth++;
      return;
    }
    if (ra.cookie !== sns.cur.lastCookie) {
      ctx.drops.rxCookie++;
      return;
    }
    if (ctx.userPassword) {
      const dk = ctx.auth.handleAckAuth(ra.auth);
      if (dk === undefined) {
        ctx.drops.rxAuth++;
        ctx.log(
          LogLevel.NORMAL,
          'Rx REGISTER_SUPER_ACK with wrong response to challenge (wrong federation key -P?)',
        );
        return;
      }
      ctx.dynamicKeys = dk;
    } else if (ra.auth.scheme !== AuthScheme.NONE && ra.auth.scheme !== AuthScheme.ID) {
      ctx.drops.rxAuth++;
      return;
    }
    if (sns.cur.mac === NULL_MAC) sns.cur.mac = ra.srcMac;
    // IPv6 members come only to an edge that registered over IPv6 (docs/supernode.md, IPv6); one whose socket
    // cannot reach them (IPv4-only, or -S2 over TCP, resolved as IPv4) leaves them out.
    const takesIpv6 = ctx.udp?.local.family === 6 && !ctx.config.tcp;
    for (const e of ra.supernodes) {
      if (e.sock.family === 6 && !takesIpv6) continue;
      const addr = sockToAddr(e.sock);
      let known = false;
      for (const s of sns.list) {
        if ((e.mac !== NULL_MAC && s.mac === e.mac) || (s.addr !== undefined && sameAddr(s.addr, addr))) {
          if (s.mac === NULL_MAC) s.mac = e.mac;
          known = true;
          break;
        }
      }
      if (known || sns.list.length >= MAX_SUPERNODE_ENTRIES) continue;
      const text = sockAddrToString(addr);
      const entry = newSupernodeEntry(text, addr.address, addr.port, true);
      setSupernodeAddr(entry, addr);
      entry.mac = e.mac;
      sns.list.push(entry);
      ctx.log(LogLevel.NORMAL, `supernode '${text}' added to the list of supernodes.`);
    }
    if (
      ctx.config.addressMode === AddressMode.SUPERNODE &&
      ra.devAddr.addr !== 0 &&
      ra.devAddr.bitlen !== 0
    ) {
      this.assignedAddr = ra.devAddr.addr;
      this.assignedBits = ra.devAddr.bitlen;
    }
    sns.wait = 0;
    this.supAttempts = this.ctx.config.tcp ? SUP_ATTEMPTS_TCP : SUP_ATTEMPTS;
    ctx.snAnswers++;
    this.probeAtMs = -1;
    if (this.requeryOnAck) {
      // A new or restarted supernode: ask it for the peers we still reach through it.
      this.requeryOnAck = false;
      this.peers.requery();
    }
    if (ctx.ownMac !== NULL_MAC) {
      const first = ctx.lastSup === 0;
      if (first) {
        ctx.log(LogLevel.NORMAL, '[OK] edge <<< ================ >>> supernode');
        ctx.lastSup = now;
        this.send.sendGratuitousArps();
      }
      ctx.lastSup = now;
      // --mss-clamp=auto: the route towards this supernode may have changed (failover, new uplink).
      void this.mss.update();
      // Without a usable socket in the ACK (a supernode on 127.0.0.1 sees us as 127.0.0.1) we do not know it:
      // the sender's address would be the supernode's own.
      const pub = sockToAddr(ra.sock);
      const usable = isValidPeerAddr(pub) && pub.port !== 0 && pub.address !== '0.0.0.0';
      this.publicAddr = usable ? sockAddrToString(pub) : undefined;
      this.registeredWith = sns.cur.text;
      ctx.events.emit('registered', {
        supernode: sns.cur.text,
        publicAddr: this.publicAddr,
        first,
      } satisfies RegisteredEvent);
    }
    this.bootWake?.();
  }

  /** A refusal: logged, never fatal (edge_utils.c: MSG_TYPE_REGISTER_SUPER_NAK). */
  onRegisterSuperNak(nak: RegisterSuperNak, sn: SupernodeEntry | undefined): void {
    const ctx = this.ctx;
    if (this.sns.wait === 0) {
      ctx.drops.rxUnexpected++;
      return;
    }
    if (!this.peers.stampOk(sn, nak.srcMac, false)) return;
    if (nak.cookie !== this.sns.cur.lastCookie) {
      ctx.drops.rxCookie++;
      return;
    }
    if (nak.srcMac === ctx.ownMac) {
      const why = ctx.userPassword
        ? 'username or password not recognized by supernode'
        : 'MAC or IP address already in use or not released yet by supernode';
      ctx.log(LogLevel.ERROR, `authentication error, ${why}`);
      ctx.events.emit('refused', why);
    }
  }

  /**
   * A PONG (PEER_INFO for the null MAC): the supernode's load and version, and its selection criterion. Found by
   * MAC, else by socket (then its MAC is learned). The replay and socket checks are done (receive.ts).
   */
  onPong(pi: PeerInfo, from: SockAddr, now: number): void {
    const ctx = this.ctx;
    const sns = this.sns;
    let s: SupernodeEntry | undefined;
    if (pi.srcMac !== NULL_MAC) s = sns.list.find((x) => x.mac === pi.srcMac);
    if (s === undefined) {
      s = sns.byAddr(from);
      if (s !== undefined && pi.srcMac !== NULL_MAC) s.mac = pi.srcMac;
    }
    if (s === undefined) {
      ctx.drops.rxUnknownSupernode++;
      return;
    }
    this.snPong = true;
    ctx.snAnswers++;
    s.lastSeen = now;
    s.uptime = pi.uptime;
    const nul = pi.version.indexOf(0);
    s.version = Buffer.from(pi.version.subarray(0, nul < 0 ? pi.version.length : nul)).toString('latin1');
    s.selection = criterionFromPong(s, byteSwap32(pi.load), {
      strategy: ctx.config.selection,
      common: this.selectionCommon,
      isCurrent: s === sns.cur,
      peerCount: this.peers.known.size + this.peers.pending.size,
      stampLow32: this.stampLow32(),
    });
    this.bootWake?.();
  }

  /** The supernode asks us to register again now (its keys changed; edge_utils.c: MSG_TYPE_RE_REGISTER_SUPER). */
  onReRegisterSuper(sn: SupernodeEntry | undefined, now: number): void {
    const ctx = this.ctx;
    if (!this.peers.stampOk(sn, NULL_MAC, false)) return;
    // Only user/password edges need the new dynamic key at once; others re-register on schedule.
    if (!ctx.userPassword) {
      ctx.drops.rxIgnored++;
      return;
    }
    ctx.log(LogLevel.INFO, 'Rx RE_REGISTER_SUPER');
    this.sns.wait = 2;
    if (ctx.state === EdgeState.RUNNING) this.updateSupernodeReg(now);
  }
}
