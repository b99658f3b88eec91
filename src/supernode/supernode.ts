// The supernode protocol state machine (spec §7.7, §8, §9): registrations, relaying, federation, timers.
//
// Datagram pipeline (sn_utils.c: process_udp): length check → plaintext heuristic or trial decryption with
// every header-encrypted community → user/password key rule → federation-sender check → TTL → per type.
// Every failure returns a DropReason that is counted; nothing is stored for a sender before it has
// registered successfully. No I/O here: sockets, clock, randomness, DNS and files come in through deps.
import { EventEmitter } from 'node:events';
import type { UdpSocket } from '../io/types.js';
import { HeaderSealer } from '../peer/seal.js';
import {
  AUTH_KEY_BYTES,
  AUTH_PW_TOKEN_BYTES,
  AuthSecret,
  buildAckToken,
  checkTrailer,
  dynamicKey,
  federationPrivateKey,
  generateSharedSecret,
} from '../transform/auth.js';
import {
  AUTH_TRAILER_BYTES,
  decryptHeaderTryKeys,
  dynamicHeaderKeys,
  HE_PAYLOAD_IV_BYTES,
  HeaderKeyUsed,
  staticHeaderKeys,
} from '../transform/header.js';
import { type Stamp, StampGenerator } from '../transform/stamp.js';
import type { Clock } from '../util/clock.js';
import { ConfigError, WireError } from '../util/errors.js';
import type { SockAddr } from '../util/ip.js';
import { type Logger, LogLevel } from '../util/log.js';
import { isN2nMulticastOrBroadcast, type Mac, macToString, NULL_MAC } from '../util/mac.js';
import type { Random } from '../util/random.js';
import { communityBytes, communityName } from '../wire/common.js';
import {
  decodeMessage,
  encodePeerInfo,
  encodeQueryPeer,
  encodeRegister,
  encodeRegisterSuper,
  encodeRegisterSuperAck,
  encodeRegisterSuperNak,
  encodeReRegisterSuper,
} from '../wire/messages.js';
import { createPacketHeaderView, readPacketHeader, writePacketHeader } from '../wire/packet.js';
import { parseIpv4, writeSockIpv4 } from '../wire/sock.js';
import {
  type Auth,
  AuthScheme,
  COMMON_HEADER_BYTES,
  type Common,
  DESC_BYTES,
  Flags,
  MsgType,
  N2N_DEFAULT_TTL,
  N2N_PKT_VERSION,
  type RegisterSuper,
  SN_ENTRIES_MAX,
  type SnEntry,
  type Sock,
  VERSION_BYTES,
} from '../wire/types.js';
import { assignCommunitySubnet, assignEdgeAddress, wantsAutoIp } from './autoip.js';
import { Community, HeState, keyId, SnPeer, type SnUser } from './community.js';
import { parseCommunityList } from './community-list.js';
import { defaultSupernodeDeps } from './deps.js';
import {
  federationField,
  resolveSupernodeOptions,
  type SupernodeConfig,
  type SupernodeOptions,
} from './options.js';
import { DropReason, SupernodeStats } from './stats.js';
import type {
  EdgeInfo,
  SupernodeDeps,
  SupernodeEvents,
  TcpConn,
  TcpListener,
  UnregisterReason,
} from './types.js';

export type {
  EdgeInfo,
  SupernodeDeps,
  SupernodeEvents,
  TcpConn,
  TcpListener,
  UnregisterReason,
} from './types.js';

// ---------------------------------------------------------------- timers (include/n2n_define.h, spec §9.5)

/** The one coarse timer: everything below is checked on this tick. */
export const SUPERNODE_TICK_MS = 1000;
/** RE_REG_AND_PURGE_FREQUENCY: federation re-registration and purge. */
export const FEDERATION_PASS_SECONDS = 10;
/** LAST_SEEN_SN_ACTIVE: peers seen more recently are not re-registered with. */
export const SN_ACTIVE_SECONDS = 20;
/** LAST_SEEN_SN_INACTIVE: peers not seen for this long are purged and no longer broadcast to. */
export const SN_INACTIVE_SECONDS = 90;
/** LAST_SEEN_SN_NEW: entries older than this are left out of REGISTER_SUPER_ACK lists. */
export const SN_NEW_SECONDS = SN_INACTIVE_SECONDS - 3 * FEDERATION_PASS_SECONDS;
/** PURGE_REGISTRATION_FREQUENCY. */
export const PURGE_SECONDS = 30;
/** REGISTRATION_TIMEOUT: edges not seen for this long are purged. */
export const REGISTRATION_TIMEOUT_SECONDS = 60;
/** Associations older than 3 × REGISTRATION_TIMEOUT are purged. */
export const ASSOCIATION_TIMEOUT_SECONDS = 3 * REGISTRATION_TIMEOUT_SECONDS;
/** SORT_COMMUNITIES_INTERVAL. */
export const SORT_SECONDS = 90;
/** Unresolved `-l` names are retried this often. */
export const RESOLVE_RETRY_SECONDS = 30;
/** reg_lifetime(): the ACK's lifetime field, ignored by edges. */
export const REG_LIFETIME_SECONDS = 15;
/** N2N_AUTH_ID_TOKEN_SIZE: the supernode's own random id token. */
const ID_TOKEN_BYTES = 16;
/** Room for the largest datagram we ever build: a relayed PACKET of a 64 KiB datagram plus the sock. */
const TX_BUFFER_BYTES = 65536 + 64;
const MS_PER_SECOND = 1000;
/** TCP frames carry a 2-byte big-endian length; 2 + length must not exceed N2N_SN_PKTBUF_SIZE (spec §1). */
const TCP_LENGTH_BYTES = 2;
const TCP_MAX_FRAME_BYTES = 2048;
/** Connections the supernode keeps (sn_utils.c accepts while fewer than FD_SETSIZE − 4 are open). */
const TCP_MAX_CONNECTIONS = 1020;

/** Per-connection reassembly state. */
class TcpPeer {
  readonly buf = Buffer.allocUnsafe(TCP_MAX_FRAME_BYTES);
  /** The edge registered over this connection, if any (sn_utils.c: close_tcp_connection deletes it). */
  owner: { comm: Community; edge: SnPeer } | undefined;
  fill = 0;
  lastActivity: number;
  readonly header = Buffer.allocUnsafe(TCP_LENGTH_BYTES);
  constructor(
    readonly conn: TcpConn,
    now: number,
  ) {
    this.lastActivity = now;
  }
}

/** Outcome of update_edge (sn_utils.c). */
const Update = { NEW: 0, CHANGED: 1, SAME: 2, AUTH_FAIL: 3, LIMIT_COMMUNITY: 4, LIMIT_TOTAL: 5 } as const;
type Update = (typeof Update)[keyof typeof Update];

const ZERO_AUTH: Auth = { scheme: AuthScheme.NONE, token: new Uint8Array(0) };
const ZERO_DESC = new Uint8Array(DESC_BYTES);

/** C-string name of a desc/community field. */
function fieldText(b: Uint8Array): string {
  return communityName(b);
}

const DOT = 46;
const ZERO = 48;

/** Dotted-quad u32 of a socket address without allocating; -1 when not IPv4. */
function ipv4Of(addr: SockAddr): number {
  if (addr.family !== 4) return -1;
  const s = addr.address;
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || ++dots > 3) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
    } else {
      const d = c - ZERO;
      if (d < 0 || d > 9 || ++digits > 3) return -1;
      part = part * 10 + d;
      if (part > 255) return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return (v * 256 + part) >>> 0;
}

function ipText(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

function sameAddr(a: SockAddr | undefined, b: SockAddr): boolean {
  return a !== undefined && a.port === b.port && a.address === b.address;
}

function bytesEqual(a: Uint8Array, b: Uint8Array, len = a.length): boolean {
  if (a.length < len || b.length < len) return false;
  for (let i = 0; i < len; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** 3.1.1 edges read the PEER_INFO load field little-endian (spec §4.9): byte-swap it for the BE encoder. */
function swap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** random_numbers.c: n2n_rand_sqr — a value in [0, max], centred, from one random draw. */
function randSqr(random: Random, max: number): number {
  const rawMax = (max + 2) * (max + 2);
  const raw = random.u32() % rawMax;
  let r = Math.floor(Math.sqrt(raw)) >> 1;
  r = raw & 1 ? r : -r;
  r = Math.floor(max / 2) + r;
  return Math.min(Math.max(r, 0), max);
}

/**
 * An n2n 3.1.1 supernode. `start()` binds the UDP port and starts the one coarse timer; `stop()` releases
 * both. Management (src/management) and the CLI sit on top and read the public state below.
 */
export class Supernode extends EventEmitter<SupernodeEvents> {
  readonly config: SupernodeConfig;
  readonly stats = new SupernodeStats();
  /** The supernode's MAC (random unless configured). */
  readonly mac: Mac;
  /** The federation, a community named '*<name>' whose "edges" are the other supernodes. */
  readonly federation: Community;
  readonly logger: Logger;

  private readonly clock: Clock;
  private readonly random: Random;
  private readonly deps: SupernodeDeps;
  private readonly stamps: StampGenerator;
  private readonly sealer: HeaderSealer;
  private readonly idToken: Uint8Array;
  /** All communities, the federation first (uthash insertion order in C). */
  private readonly communities = new Map<string, Community>();
  /** Communities whose keys are tried on encrypted datagrams, busiest first. */
  private heOrder: Community[] = [];
  private patterns = parseCommunityList('').patterns;
  private locked = false;
  private federationPrivKey: Uint8Array | undefined;
  private federationField: Uint8Array;
  private socket: UdpSocket | undefined;
  private tcpListener: TcpListener | undefined;
  private readonly tcpPeers = new Map<TcpConn, TcpPeer>();
  /** The TCP connection the datagram being processed came from (answers go back on it). */
  private rxConn: TcpConn | undefined;
  private cancelTimer: (() => void) | undefined;
  private edgeTotal = 0;
  private assocTotal = 0;
  private started = false;
  private startSec = 0;
  private dynamicKeyTime = 0;
  private lastFederationPass = 0;
  private lastPurge = 0;
  private lastSort = 0;
  private lastResolve = 0;
  private lastPlain: Community | undefined;

  // Scratch state reused for every datagram.
  private readonly rxStamp: Stamp = { hi: 0, lo: 0 };
  private readonly trailerHash = new Uint8Array(AUTH_TRAILER_BYTES);
  private readonly pktView = createPacketHeaderView();
  private readonly sockScratch = new Uint8Array(8);
  private readonly tx = Buffer.allocUnsafe(TX_BUFFER_BYTES);
  private readonly ctl = Buffer.allocUnsafe(TX_BUFFER_BYTES);

  constructor(options: SupernodeOptions = {}, deps: Partial<SupernodeDeps> = {}) {
    super();
    this.config = resolveSupernodeOptions(options);
    this.deps = { ...defaultSupernodeDeps(), ...deps };
    this.clock = this.deps.clock;
    this.random = this.deps.random;
    this.logger = this.deps.logger;
    this.stamps = deps.stamps ?? new StampGenerator(this.clock);
    this.sealer = new HeaderSealer(this.stamps, this.random);
    this.idToken = new Uint8Array(ID_TOKEN_BYTES);
    this.random.fill(this.idToken);
    if (this.config.mac !== undefined) {
      this.mac = this.config.mac;
    } else {
      const b = new Uint8Array(6);
      this.random.fill(b);
      b[0] = (b[0] & ~0x01) | 0x02;
      this.mac = (b[0] * 0x10000 + ((b[1] << 8) | b[2])) * 0x1000000 + ((b[3] << 16) | (b[4] << 8) | b[5]);
    }
    // The federation: header keys from federationKeyName (the -F quirk, spec §9.3); the field, which the
    // checksum and the dynamic key cover, holds the -F name printed over the key name, as in C.
    this.federationField = federationField(this.config.federationKeyName, this.config.federationName);
    const fed = new Community(this.config.federationName, this.federationField, {
      federation: true,
      purgeable: false,
      he: HeState.ENABLED,
    });
    fed.staticKeys = staticHeaderKeys(communityBytes(this.config.federationKeyName));
    fed.dynamicKeys = fed.staticKeys;
    this.federation = fed;
    this.communities.set(fed.name, fed);
    this.heOrder.push(fed);
  }

  // ---------------------------------------------------------------- public state

  /** Whole seconds of the injected clock (C's time(NULL)). */
  nowSec(): number {
    return Math.floor(this.clock.now() / MS_PER_SECOND);
  }

  /** Unix second of start(). */
  get startTime(): number {
    return this.startSec;
  }

  /** The dynamic key time (0 without a community file). */
  get keyTime(): number {
    return this.dynamicKeyTime;
  }

  /** The bound main socket address (after start). */
  get address(): SockAddr | undefined {
    return this.socket?.local;
  }

  get running(): boolean {
    return this.started;
  }

  /** True when a `-c` file restricts the communities. */
  get communitiesLocked(): boolean {
    return this.locked;
  }

  /** Registered edges over all communities. */
  get edgeCount(): number {
    return this.edgeTotal;
  }

  /** All communities in management order, the federation first. Read-only: do not modify. */
  communityList(): Community[] {
    return [...this.communities.values()];
  }

  /** Patterns loaded from the community file. */
  patternList(): string[] {
    return this.patterns.map((p) => p.source);
  }

  /** The load figure sent in PONGs (sn_selection.c: sn_selection_criterion_gather_data). */
  load(): number {
    let n = 0;
    for (const c of this.communities.values()) n += (c.edges.size + 1) * (c.he === HeState.ENABLED ? 2 : 1);
    return n;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads the community file, resolves `-l` peers, binds the socket and starts the timer. */
  async start(): Promise<void> {
    if (this.started) throw new Error('supernode already started');
    const now = this.nowSec();
    this.startSec = now;
    if (this.config.communityFile !== undefined) {
      const rc = this.loadCommunityFile(true);
      if (rc === -1) throw new ConfigError(`community file ${this.config.communityFile} not found`);
      if (rc === -2) {
        throw new ConfigError(
          `community file ${this.config.communityFile} has no valid community names or regular expressions`,
        );
      }
    }
    for (const spec of this.config.peers) {
      const p = new SnPeer(NULL_MAC, this.stamps.initialRecord());
      p.purgeable = false;
      p.hostSpec = spec.text;
      this.federation.edges.set(this.fedKey(p), p);
      await this.resolvePeer(p);
    }
    const sock = await this.deps.openUdp(this.config.bindAddress, this.config.port);
    this.socket = sock;
    sock.onDatagram((data, from) => this.receive(data, from));
    if (this.config.tcp) {
      try {
        // TCP listens on the same port number as UDP (spec §1).
        this.tcpListener = await this.deps.listenTcp(this.config.bindAddress, sock.local.port, (c) =>
          this.accept(c),
        );
      } catch (e) {
        sock.close();
        this.socket = undefined;
        throw e;
      }
    }
    this.started = true;
    this.lastPurge = now;
    this.lastSort = now;
    this.lastResolve = now;
    this.lastFederationPass = now;
    this.federationPass(false, now);
    this.cancelTimer = this.clock.every(SUPERNODE_TICK_MS, () => this.tick());
    this.log(
      LogLevel.INFO,
      `supernode ${macToString(this.mac)} listening on UDP ${sock.local.address}:${sock.local.port}`,
    );
    this.emit('started');
  }

  /** Stops the timer and closes the socket. Idempotent. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.socket?.close();
    this.tcpListener?.close();
    this.tcpListener = undefined;
    for (const t of [...this.tcpPeers.values()]) t.conn.close();
    this.tcpPeers.clear();
    this.log(LogLevel.NORMAL, 'supernode stopped');
    this.emit('stopped');
  }

  /**
   * Re-reads the community file (management `reload_communities`). Returns 0 on success, -1 when there is
   * no file or it cannot be read, -2 when it has no valid entry (then no community is allowed), like C.
   */
  reloadCommunities(): number {
    if (this.config.communityFile === undefined) return -1;
    const rc = this.loadCommunityFile(false);
    this.emit('communitiesReloaded', rc);
    return rc;
  }

  // ---------------------------------------------------------------- timer

  private tick(): void {
    if (!this.started) return;
    const now = this.nowSec();
    try {
      if (now - this.lastFederationPass >= FEDERATION_PASS_SECONDS) {
        this.lastFederationPass = now;
        this.federationPass(false, now);
      }
      if (now - this.lastPurge >= PURGE_SECONDS) {
        this.lastPurge = now;
        this.purge(now);
      }
      if (now - this.lastSort >= SORT_SECONDS) {
        this.lastSort = now;
        this.sortCommunities();
      }
      if (now - this.lastResolve >= RESOLVE_RETRY_SECONDS) {
        this.lastResolve = now;
        for (const p of this.federation.edges.values()) if (p.addr === undefined) void this.resolvePeer(p);
      }
    } catch (e) {
      this.log(LogLevel.ERROR, `timer: ${(e as Error).stack ?? e}`);
    }
  }

  /** Resolves a `-l` peer's host; failures are logged and retried by the timer. */
  private async resolvePeer(p: SnPeer): Promise<void> {
    const spec = this.config.peers.find((s) => s.text === p.hostSpec);
    if (spec === undefined) return;
    try {
      const ip = await this.deps.resolve(spec.host);
      const v4 = parseIpv4(ip);
      if (v4 < 0) throw new Error(`not an IPv4 address: ${ip}`);
      p.setAddr({ family: 4, address: ipText(v4), port: spec.port }, v4);
    } catch (e) {
      this.log(LogLevel.WARNING, `cannot resolve supernode ${spec.text}: ${(e as Error).message}`);
    }
  }

  /**
   * sn_utils.c: re_register_and_purge_supernodes. Unless forced: purge peers not seen for 90 s and skip those
   * seen within 20 s. Sends each remaining (resolved) peer a federation REGISTER_SUPER with a fresh cookie.
   */
  private federationPass(forced: boolean, now: number): void {
    const fed = this.federation;
    if (!forced) {
      for (const [k, p] of fed.edges) {
        if (p.purgeable && p.lastSeen < now - SN_INACTIVE_SECONDS) {
          fed.edges.delete(k);
          this.emit('supernodeExpired', this.snInfo(p));
        }
      }
    }
    if (!this.started) return;
    for (const p of fed.edges.values()) {
      if (!forced && now - p.lastSeen <= SN_ACTIVE_SECONDS) continue;
      if (p.addr === undefined) continue;
      const cookie = this.random.u32();
      p.lastCookie = cookie;
      const common: Common = {
        ttl: N2N_DEFAULT_TTL,
        type: MsgType.REGISTER_SUPER,
        flags: Flags.FROM_SUPERNODE,
        community: this.federationField,
      };
      const reg: RegisterSuper = {
        cookie,
        edgeMac: this.mac,
        devAddr: { addr: 0, bitlen: 0 },
        desc: ZERO_DESC,
        auth: { scheme: AuthScheme.ID, token: this.idToken },
        keyTime: this.dynamicKeyTime,
      };
      const len = encodeRegisterSuper(common, reg, this.ctl, 0);
      this.sealer.seal(this.ctl, 0, len, fed.staticKeys!);
      this.sendTo(p.addr, this.ctl, len);
    }
  }

  /** sn_utils.c: purge_expired_communities — edges, associations, idle purgeable communities. */
  private purge(now: number): void {
    // Not in 3.1.1: a TCP connection that carried nothing for the registration timeout is closed.
    for (const t of [...this.tcpPeers.values()]) {
      if (t.lastActivity < now - REGISTRATION_TIMEOUT_SECONDS) this.closeTcp(t.conn);
    }
    for (const comm of [...this.communities.values()]) {
      if (comm.isFederation) continue;
      for (const [mac, e] of comm.edges) {
        if (e.lastSeen < now - REGISTRATION_TIMEOUT_SECONDS) {
          if (e.conn !== undefined) this.closeTcp(e.conn, false);
          comm.edges.delete(mac);
          if (comm.byAddr.get(e.devAddr) === e) comm.byAddr.delete(e.devAddr);
          this.edgeTotal--;
          if (this.listenerCount('edgeExpired') > 0) this.emit('edgeExpired', this.edgeInfo(comm, e));
        }
      }
      for (const [mac, a] of comm.assoc) {
        if (a.lastSeen < now - ASSOCIATION_TIMEOUT_SECONDS) {
          comm.assoc.delete(mac);
          this.assocTotal--;
        }
      }
      if (comm.edges.size === 0 && comm.purgeable) this.removeCommunity(comm);
    }
  }

  /** sn_utils.c: sort_communities — busiest encrypted communities are tried first. */
  private sortCommunities(): void {
    this.heOrder.sort((a, b) => b.encPackets - a.encPackets);
    for (const c of this.communities.values()) c.encPackets = 0;
  }

  // ---------------------------------------------------------------- community file

  /** sn_utils.c: load_allowed_sn_community. */
  private loadCommunityFile(initial: boolean): number {
    const path = this.config.communityFile!;
    let text: string;
    try {
      text = this.deps.readTextFile(path);
    } catch (e) {
      // At start-up the caller turns this into a ConfigError; log only on reloads.
      if (!initial) this.log(LogLevel.WARNING, `community file ${path}: ${(e as Error).message}`);
      return -1;
    }
    const now = this.nowSec();
    if (!initial) this.sendReRegisterSuper();
    for (const c of [...this.communities.values()]) if (!c.isFederation) this.removeCommunity(c, 'reload');
    this.patterns = [];
    this.dynamicKeyTime = now;
    if (!initial) this.federationPass(true, now);
    const list = parseCommunityList(text);
    for (const w of list.warnings) this.log(LogLevel.WARNING, `community file ${path}: ${w}`);
    this.patterns = list.patterns;
    this.federationPrivKey ??= federationPrivateKey(this.config.federationName);
    for (const entry of list.communities) {
      const field = communityBytes(entry.name);
      const comm = new Community(entry.name, field, { purgeable: false, he: HeState.UNKNOWN });
      comm.staticKeys = staticHeaderKeys(field);
      comm.dynamicKeys = comm.staticKeys;
      for (const u of entry.users) {
        try {
          const secret = new AuthSecret(generateSharedSecret(this.federationPrivKey, u.publicKey));
          comm.users.set(keyId(u.publicKey), {
            name: u.name,
            publicKey: u.publicKey,
            id: keyId(u.publicKey),
            secret,
          });
        } catch (e) {
          this.log(LogLevel.WARNING, `community '${entry.name}', user '${u.name}': ${(e as Error).message}`);
        }
      }
      if (comm.hasUsers) comm.he = HeState.ENABLED;
      this.communities.set(comm.name, comm);
      this.heOrder.push(comm);
      if (entry.subnet) {
        comm.netAddr = entry.subnet.addr;
        comm.netBits = entry.subnet.bitlen;
      } else {
        assignCommunitySubnet(comm, this.communities.values(), this.config.autoIp);
      }
    }
    if (list.communities.length + list.patterns.length === 0) return -2;
    this.computeDynamicKeys();
    this.locked = true;
    this.lastPlain = undefined;
    this.log(
      LogLevel.NORMAL,
      `loaded ${list.communities.length} fixed-name communities and ${list.patterns.length} regular expressions from ${path}`,
    );
    return 0;
  }

  /** sn_utils.c: calculate_dynamic_keys — user/password communities only. */
  private computeDynamicKeys(): void {
    for (const c of this.communities.values()) {
      if (c.isFederation || !c.hasUsers) continue;
      c.dynamicKey = dynamicKey(this.dynamicKeyTime, c.field, this.federationField);
      c.dynamicKeys = dynamicHeaderKeys(c.dynamicKey);
    }
  }

  /** sn_utils.c: send_re_register_super — under the current (old) dynamic key, to user/password edges. */
  private sendReRegisterSuper(): void {
    for (const c of this.communities.values()) {
      if (c.isFederation || !c.hasUsers || c.edges.size === 0) continue;
      const common: Common = {
        ttl: N2N_DEFAULT_TTL,
        type: MsgType.RE_REGISTER_SUPER,
        flags: Flags.FROM_SUPERNODE,
        community: c.field,
      };
      for (const e of c.edges.values()) {
        const len = encodeReRegisterSuper(common, {}, this.ctl, 0);
        this.sealer.seal(this.ctl, 0, len, c.dynamicKeys!);
        this.sendToPeer(e, this.ctl, len);
      }
    }
  }

  private adoptKeyTime(keyTime: number, now: number): void {
    if (keyTime <= this.dynamicKeyTime) return;
    this.log(LogLevel.INFO, `adopting key time ${keyTime} from the federation`);
    this.sendReRegisterSuper();
    this.dynamicKeyTime = keyTime;
    this.computeDynamicKeys();
    this.federationPass(true, now);
  }

  private removeCommunity(comm: Community, reason?: UnregisterReason): void {
    if (reason !== undefined)
      for (const e of comm.edges.values()) this.emit('edgeUnregistered', this.edgeInfo(comm, e), reason);
    this.edgeTotal -= comm.edges.size;
    this.assocTotal -= comm.assoc.size;
    this.communities.delete(comm.name);
    const i = this.heOrder.indexOf(comm);
    if (i >= 0) this.heOrder.splice(i, 1);
    if (this.lastPlain === comm) this.lastPlain = undefined;
  }

  private get communityCount(): number {
    return this.communities.size - 1;
  }

  // ---------------------------------------------------------------- TCP (spec §1)

  private accept(conn: TcpConn): void {
    if (!this.started || this.tcpPeers.size >= TCP_MAX_CONNECTIONS) {
      conn.close();
      return;
    }
    const t = new TcpPeer(conn, this.nowSec());
    this.tcpPeers.set(conn, t);
    conn.onData((chunk) => this.tcpData(t, chunk));
    conn.onClose(() => this.closeTcp(conn));
  }

  /** Reassembles 2-byte-length-prefixed frames without concatenating chunks. */
  private tcpData(t: TcpPeer, chunk: Buffer): void {
    if (!this.tcpPeers.has(t.conn)) return;
    t.lastActivity = this.nowSec();
    let off = 0;
    while (off < chunk.length) {
      const want = t.fill < TCP_LENGTH_BYTES ? TCP_LENGTH_BYTES : TCP_LENGTH_BYTES + t.buf.readUInt16BE(0);
      const n = Math.min(want - t.fill, chunk.length - off);
      chunk.copy(t.buf, t.fill, off, off + n);
      t.fill += n;
      off += n;
      if (t.fill < want) break;
      if (want === TCP_LENGTH_BYTES) {
        const total = TCP_LENGTH_BYTES + t.buf.readUInt16BE(0);
        if (total > TCP_MAX_FRAME_BYTES) {
          // sn_utils.c: "too many bytes in tcp packet expected" closes the connection.
          this.stats.drops[DropReason.TOO_LONG]++;
          this.closeTcp(t.conn);
          return;
        }
        if (total === TCP_LENGTH_BYTES) t.fill = 0;
        continue;
      }
      t.fill = 0;
      this.rxConn = t.conn;
      try {
        this.receive(t.buf.subarray(TCP_LENGTH_BYTES, want), t.conn.remote);
      } finally {
        this.rxConn = undefined;
      }
      if (!this.tcpPeers.has(t.conn)) return;
    }
  }

  /** Closes a connection and (unless told otherwise) deletes the edge that registered over it. */
  private closeTcp(conn: TcpConn, deleteEdge = true): void {
    const t = this.tcpPeers.get(conn);
    if (t === undefined) return;
    this.tcpPeers.delete(conn);
    conn.close();
    const o = t.owner;
    if (deleteEdge && o !== undefined && o.edge.conn === conn) {
      o.edge.conn = undefined;
      this.deleteEdge(o.comm, o.edge, 'closed');
    }
  }

  private bindConn(comm: Community, e: SnPeer): void {
    e.conn = this.rxConn;
    if (this.rxConn !== undefined) {
      const t = this.tcpPeers.get(this.rxConn);
      if (t !== undefined) t.owner = { comm, edge: e };
    }
  }

  // ---------------------------------------------------------------- receive path

  /** Handles one datagram from the main socket; never throws. */
  receive(data: Buffer, from: SockAddr): void {
    this.stats.rx++;
    let reason: DropReason | undefined;
    try {
      reason = this.process(data, from);
    } catch (e) {
      if (e instanceof WireError) {
        reason = DropReason.DECODE;
      } else {
        reason = DropReason.INTERNAL;
        this.log(
          LogLevel.ERROR,
          `internal error on a datagram from ${from.address}:${from.port}: ${(e as Error).stack ?? e}`,
        );
      }
    }
    if (reason !== undefined) this.stats.drops[reason]++;
  }

  /** 7.7 plaintext heuristic: byte 23 = 0, version 3, type ≤ 11, flags word < 0x80. */
  private static looksPlain(b: Uint8Array): boolean {
    const word = (b[2] << 8) | b[3];
    return (
      b[23] === 0 &&
      b[0] === N2N_PKT_VERSION &&
      (word & Flags.TYPE_MASK) <= MsgType.QUERY_PEER &&
      word < Flags.OPTIONS
    );
  }

  /** The community named by a plaintext header (C-string lookup), with a one-entry cache. */
  private plainCommunity(b: Uint8Array): Community | undefined {
    const last = this.lastPlain;
    if (last !== undefined) {
      let same = true;
      const f = last.field;
      for (let i = 0; i < 20; i++) {
        if (b[4 + i] !== f[i]) {
          same = false;
          break;
        }
      }
      if (same) return last;
    }
    const c = this.communities.get(fieldText(b.subarray(4, COMMON_HEADER_BYTES)));
    if (c !== undefined && !c.isFederation) this.lastPlain = c;
    return c;
  }

  private process(buf: Buffer, from: SockAddr): DropReason | undefined {
    const len = buf.length;
    if (len < COMMON_HEADER_BYTES) return DropReason.TOO_SHORT;
    if (from.family !== 4) return DropReason.NOT_IPV4;
    let comm: Community | undefined;
    let keyUsed: HeaderKeyUsed = HeaderKeyUsed.NONE;
    if (Supernode.looksPlain(buf)) {
      comm = this.plainCommunity(buf);
      if (comm !== undefined) {
        if (comm.he === HeState.ENABLED) return DropReason.PLAINTEXT;
        if (comm.he === HeState.UNKNOWN) {
          comm.he = HeState.NONE;
          const i = this.heOrder.indexOf(comm);
          if (i >= 0) this.heOrder.splice(i, 1);
          this.log(LogLevel.INFO, `locked community '${comm.name}' to unencrypted headers`);
        }
      }
    } else {
      for (const c of this.heOrder) {
        keyUsed = decryptHeaderTryKeys(
          buf,
          0,
          len,
          c.dynamicKeys!,
          c.staticKeys!,
          c.field,
          this.rxStamp,
          c.hasUsers ? this.trailerHash : undefined,
        );
        if (keyUsed !== HeaderKeyUsed.NONE) {
          comm = c;
          if (c.he === HeState.UNKNOWN) {
            c.he = HeState.ENABLED;
            this.log(LogLevel.INFO, `locked community '${c.name}' to encrypted headers`);
          }
          c.encPackets++;
          break;
        }
      }
      if (comm === undefined) return DropReason.NO_KEY;
      if (buf[0] !== N2N_PKT_VERSION) return DropReason.DECODE;
    }
    const word = (buf[2] << 8) | buf[3];
    const type = word & Flags.TYPE_MASK;
    const flags = word & 0xffe0;
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
    if (fromSn) {
      sn = this.federationBySock(from);
      if (sn === undefined && type !== MsgType.REGISTER_SUPER) return DropReason.UNKNOWN_SUPERNODE;
    }
    const ttl = buf[1];
    if (ttl < 1) return DropReason.TTL;
    const ttlOut = ttl - 1;
    switch (type) {
      case MsgType.PACKET:
        return this.onPacket(buf, from, comm, ttlOut, flags, sn, fromSn);
      case MsgType.REGISTER:
        return this.onRegister(buf, from, comm, ttlOut, flags, sn, fromSn);
      case MsgType.REGISTER_SUPER:
        return this.onRegisterSuper(buf, from, comm, flags, sn, fromSn, keyUsed);
      case MsgType.UNREGISTER_SUPER:
        return this.onUnregisterSuper(buf, comm, fromSn);
      case MsgType.REGISTER_SUPER_ACK:
        return this.onRegisterSuperAck(buf, from, comm, sn, fromSn);
      case MsgType.REGISTER_SUPER_NAK:
        return this.onRegisterSuperNak(buf, comm, ttlOut, sn, fromSn);
      case MsgType.QUERY_PEER:
        return this.onQueryPeer(buf, from, comm, ttlOut, sn, fromSn);
      case MsgType.PEER_INFO:
        return this.onPeerInfo(buf, from, comm, ttlOut, sn, fromSn);
      default:
        // REGISTER_ACK (never via a supernode), RE_REGISTER_SUPER, PING/DEREGISTER/FEDERATION, unassigned.
        return DropReason.IGNORED;
    }
  }

  /** Stamp check against the federation peer's record or the edge's (spec §6 table). */
  private stampOk(comm: Community, sn: SnPeer | undefined, mac: Mac, jitter: boolean): boolean {
    if (comm.he !== HeState.ENABLED) return true;
    const rec = sn !== undefined ? sn.stamp : comm.edges.get(comm.isFederation ? `m${mac}` : mac)?.stamp;
    return this.stamps.verify(this.rxStamp, rec, jitter);
  }

  // ---------------------------------------------------------------- PACKET / REGISTER

  private onPacket(
    buf: Buffer,
    from: SockAddr,
    comm: Community | undefined,
    ttl: number,
    flags: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    const now = this.nowSec();
    this.stats.lastFwd = now;
    const v = this.pktView;
    const len = buf.length;
    const payloadOff = readPacketHeader(buf, 0, len, v);
    if (!this.stampOk(comm, sn, v.srcMac, true)) return DropReason.STAMP;
    const payloadLen = len - payloadOff;
    const ivExtra = comm.hasUsers ? Math.min(HE_PAYLOAD_IV_BYTES, payloadLen) : 0;
    let out: Buffer;
    let outLen: number;
    if (!fromSn) {
      // Re-encode with FROM_SUPERNODE|SOCKET and the sender's public socket; the payload is copied as is.
      writeSockIpv4(this.sockScratch, 0, ipv4Of(from), from.port);
      out = this.tx;
      const hdr = writePacketHeader(
        out,
        0,
        ttl,
        flags | Flags.FROM_SUPERNODE | Flags.SOCKET,
        comm.field,
        v.srcMac,
        v.dstMac,
        this.sockScratch,
        v.compression,
        v.transform,
      );
      buf.copy(out, hdr, payloadOff, len);
      outLen = hdr + payloadLen;
      if (comm.he === HeState.ENABLED) this.sealer.seal(out, 0, outLen, comm.dynamicKeys!, hdr + ivExtra);
    } else {
      // Already relayed once: forwarded unchanged, only the header encryption is redone.
      out = buf;
      outLen = len;
      if (comm.he === HeState.ENABLED)
        this.sealer.seal(out, 0, outLen, comm.dynamicKeys!, payloadOff + ivExtra);
    }
    if (!isN2nMulticastOrBroadcast(v.dstMac)) return this.forward(comm, v.dstMac, fromSn, out, outLen, now);
    this.broadcast(comm, v.srcMac, fromSn, out, outLen, now);
    return undefined;
  }

  private onRegister(
    buf: Buffer,
    from: SockAddr,
    comm: Community | undefined,
    ttl: number,
    flags: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    const now = this.nowSec();
    this.stats.lastFwd = now;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.REGISTER) return DropReason.DECODE;
    const reg = m.body;
    if (!this.stampOk(comm, sn, reg.srcMac, false)) return DropReason.STAMP;
    if (isN2nMulticastOrBroadcast(reg.dstMac)) return DropReason.NO_ROUTE;
    let out: Buffer;
    let len: number;
    if (!fromSn) {
      reg.sock = { family: 4, port: from.port, address: from.address };
      const common: Common = { ...m.common, ttl, flags: flags | Flags.FROM_SUPERNODE | Flags.SOCKET };
      out = this.ctl;
      len = encodeRegister(common, reg, out, 0);
    } else {
      out = buf;
      len = buf.length;
    }
    if (comm.he === HeState.ENABLED) this.sealer.seal(out, 0, len, comm.dynamicKeys!);
    return this.forward(comm, reg.dstMac, fromSn, out, len, now);
  }

  /** sn_utils.c: try_forward. */
  private forward(
    comm: Community,
    dst: Mac,
    fromSn: boolean,
    out: Uint8Array,
    len: number,
    now: number,
  ): DropReason | undefined {
    const e = comm.edges.get(dst);
    if (e !== undefined) {
      if (this.sendToPeer(e, out, len)) this.stats.fwd++;
      return undefined;
    }
    if (fromSn) return DropReason.NO_ROUTE;
    const a = comm.assoc.get(dst);
    if (a !== undefined) this.sendTo(a.addr, out, len);
    else this.broadcastFederation(out, len, now);
    return undefined;
  }

  /** sn_utils.c: try_broadcast — federation first (unless relayed), then every local edge but the sender. */
  private broadcast(
    comm: Community | undefined,
    srcMac: Mac,
    fromSn: boolean,
    out: Uint8Array,
    len: number,
    now: number,
  ): void {
    if (!fromSn) this.broadcastFederation(out, len, now);
    if (comm === undefined) return;
    for (const e of comm.edges.values()) {
      if (e.mac !== srcMac && this.sendToPeer(e, out, len)) this.stats.broadcast++;
    }
  }

  private broadcastFederation(out: Uint8Array, len: number, now: number): void {
    for (const p of this.federation.edges.values()) {
      if (p.lastSeen + SN_INACTIVE_SECONDS > now && p.addr !== undefined && this.sendTo(p.addr, out, len)) {
        this.stats.broadcast++;
      }
    }
  }

  /** To a registered edge: over its TCP connection if it registered over TCP, else UDP. */
  private sendToPeer(e: SnPeer, buf: Uint8Array, len: number): boolean {
    if (e.conn !== undefined) return this.sendTcp(e.conn, buf, len);
    return e.addr !== undefined && this.sendTo(e.addr, buf, len);
  }

  /** An answer to the datagram being processed: back the way it came (sn_utils.c: sendto_sock with its fd). */
  private reply(to: SockAddr, buf: Uint8Array, len: number): boolean {
    if (this.rxConn !== undefined) return this.sendTcp(this.rxConn, buf, len);
    return this.sendTo(to, buf, len);
  }

  private sendTcp(conn: TcpConn, buf: Uint8Array, len: number): boolean {
    const t = this.tcpPeers.get(conn);
    if (t === undefined) {
      this.stats.errors++;
      return false;
    }
    try {
      t.header[0] = len >>> 8;
      t.header[1] = len & 0xff;
      conn.send(t.header, 0, TCP_LENGTH_BYTES);
      conn.send(buf, 0, len);
      return true;
    } catch {
      this.stats.errors++;
      this.closeTcp(conn);
      return false;
    }
  }

  private sendTo(to: SockAddr, buf: Uint8Array, len: number): boolean {
    const s = this.socket;
    if (s === undefined) return false;
    try {
      s.send(buf, 0, len, to);
      return true;
    } catch (e) {
      this.stats.errors++;
      this.log(LogLevel.WARNING, `send to ${to.address}:${to.port} failed: ${(e as Error).message}`);
      return false;
    }
  }

  // ---------------------------------------------------------------- REGISTER_SUPER

  private onRegisterSuper(
    buf: Buffer,
    from: SockAddr,
    known: Community | undefined,
    flags: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
    keyUsed: HeaderKeyUsed,
  ): DropReason | undefined {
    const now = this.nowSec();
    this.stats.lastRegSuper = now;
    this.stats.regSuper++;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.REGISTER_SUPER) return DropReason.DECODE;
    const reg = m.body;
    if (known !== undefined && !this.stampOk(known, sn, reg.edgeMac, false)) return DropReason.STAMP;
    // Stricter than C: a relayed edge registration (FROM_SUPERNODE|SOCKET) must come from a federation member.
    if (fromSn && flags & Flags.SOCKET && sn === undefined && !known?.isFederation) {
      return DropReason.UNKNOWN_SUPERNODE;
    }
    let comm = known;
    let isNew = false;
    if (comm === undefined) {
      const name = communityName(m.common.community);
      if (this.locked && !this.patterns.some((p) => p.matchesWhole(name))) return DropReason.NOT_ALLOWED;
      if (this.communityCount >= this.config.maxCommunities) return DropReason.COMMUNITY_LIMIT;
      // Refuse early what could not be stored anyway, before spending a subnet search on it.
      if (!fromSn && reg.edgeMac !== NULL_MAC && this.edgeTotal >= this.config.maxEdges) {
        return DropReason.EDGE_LIMIT_TOTAL;
      }
      // Not stored until the registration succeeds (an unauthenticated datagram creates nothing).
      comm = new Community(name, communityBytes(name), { purgeable: true, he: HeState.NONE });
      assignCommunitySubnet(comm, this.communities.values(), this.config.autoIp);
      isNew = true;
    }
    let user: SnUser | undefined;
    if (comm.hasUsers) {
      if (reg.auth.token.length >= AUTH_KEY_BYTES)
        user = comm.users.get(keyId(reg.auth.token, 0, AUTH_KEY_BYTES));
      if (user !== undefined) {
        const n = buf.length;
        if (
          keyUsed !== HeaderKeyUsed.STATIC ||
          !checkTrailer(this.trailerHash, buf, n - AUTH_TRAILER_BYTES, user.secret)
        ) {
          return DropReason.TRAILER;
        }
      }
    }
    if (reg.edgeMac === this.mac) return DropReason.SELF;

    const ackSock: Sock = { family: 4, port: from.port, address: from.address };
    let assigned = { addr: 0, bitlen: 0 };
    if (!comm.isFederation && wantsAutoIp(reg.devAddr.addr, reg.devAddr.bitlen)) {
      const a = assignEdgeAddress(comm, reg.desc);
      if (a !== 0) assigned = { addr: a, bitlen: comm.netBits };
    }
    if (comm.isFederation) {
      const p = this.federationPeer(from, reg.edgeMac, true);
      if (p !== undefined) p.lastSeen = now;
    }
    const supernodes = this.supernodeList(from, now);

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
    if (status === Update.AUTH_FAIL) {
      this.sendNak(comm, m.common.community, reg.cookie, reg.edgeMac, from);
      return DropReason.AUTH;
    }
    if (isNew) this.addCommunity(comm);

    if (!fromSn || (flags & Flags.SOCKET) === 0) {
      if (reg.edgeMac !== NULL_MAC && !fromSn)
        this.relayRegisterSuper(comm, m.common.community, reg, from, user, now);
      let keyTime = 0;
      if (comm.isFederation) {
        this.adoptKeyTime(reg.keyTime, now);
        keyTime = this.dynamicKeyTime;
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
          srcMac: this.mac,
          devAddr: assigned,
          lifetime: REG_LIFETIME_SECONDS,
          sock: ackSock,
          auth: answer,
          supernodes,
          keyTime,
        },
        this.ctl,
        0,
      );
      if (comm.he === HeState.ENABLED) {
        this.sealer.seal(this.ctl, 0, len, comm.staticKeys!);
        if (comm.hasUsers && user !== undefined)
          len = this.sealer.appendTrailer(this.ctl, 0, len, user.secret);
      }
      this.reply(from, this.ctl, len);
    } else {
      // A registration relayed by another supernode: the edge lives there now.
      this.associate(comm, reg.edgeMac, from, now);
      const e = comm.edges.get(reg.edgeMac);
      if (e !== undefined) this.deleteEdge(comm, e, 'moved');
    }
    return undefined;
  }

  private addCommunity(comm: Community): void {
    if (this.communities.has(comm.name)) return;
    this.communities.set(comm.name, comm);
    if (this.logger.level >= LogLevel.INFO) this.log(LogLevel.INFO, `new community: ${comm.name}`);
  }

  /** The REGISTER_SUPER_NAK to `to` (4.8): static key, 16 meaningless bytes in user/password communities. */
  private sendNak(comm: Community, field: Uint8Array, cookie: number, mac: Mac, to: SockAddr): void {
    this.stats.regSuperNak++;
    const common: Common = {
      ttl: N2N_DEFAULT_TTL,
      type: MsgType.REGISTER_SUPER_NAK,
      flags: Flags.SOCKET | Flags.FROM_SUPERNODE,
      community: field,
    };
    let len = encodeRegisterSuperNak(common, { cookie, srcMac: mac, auth: ZERO_AUTH }, this.ctl, 0);
    if (comm.he === HeState.ENABLED) {
      this.sealer.seal(this.ctl, 0, len, comm.staticKeys!);
      if (comm.hasUsers) len = this.sealer.appendJunkTrailer(this.ctl, 0, len);
    }
    this.reply(to, this.ctl, len);
  }

  /** Relays an edge's REGISTER_SUPER to the active federation with flags 0x60 and its public socket. */
  private relayRegisterSuper(
    comm: Community,
    field: Uint8Array,
    reg: RegisterSuper,
    from: SockAddr,
    user: SnUser | undefined,
    now: number,
  ): void {
    if (this.federation.edges.size === 0) return;
    const common: Common = {
      ttl: N2N_DEFAULT_TTL,
      type: MsgType.REGISTER_SUPER,
      flags: Flags.SOCKET | Flags.FROM_SUPERNODE,
      community: field,
    };
    let len = encodeRegisterSuper(
      common,
      { ...reg, sock: { family: 4, port: from.port, address: from.address } },
      this.tx,
      0,
    );
    if (comm.he === HeState.ENABLED) {
      this.sealer.seal(this.tx, 0, len, comm.staticKeys!);
      if (comm.hasUsers && user !== undefined) len = this.sealer.appendTrailer(this.tx, 0, len, user.secret);
    }
    this.broadcastFederation(this.tx, len, now);
  }

  /**
   * sn_utils.c: REGISTER_SUPER_ACK payload (spec §4.7): skip a random number of entries, then up to 44
   * resolved, recently seen supernodes other than the requester itself.
   */
  private supernodeList(requester: SockAddr, now: number): SnEntry[] {
    const out: SnEntry[] = [];
    const fed = this.federation.edges;
    let skip = fed.size - 1;
    skip = skip < 0 ? 0 : randSqr(this.random, skip);
    for (const p of fed.values()) {
      if (skip > 0) {
        skip--;
        continue;
      }
      if (p.addr === undefined) continue;
      if (sameAddr(p.addr, requester)) continue;
      if (now - p.lastSeen >= SN_NEW_SECONDS) continue;
      if (out.length >= SN_ENTRIES_MAX) break;
      out.push({ sock: { family: 4, port: p.addr.port, address: p.addr.address }, mac: p.mac });
    }
    return out;
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
      const answer = this.remoteAuth(comm, reg.auth);
      if (answer === undefined) return { status: Update.AUTH_FAIL, answer: ZERO_AUTH };
      if (skipAdd) return { status: Update.NEW, answer };
      if (comm.edges.size >= this.config.maxEdgesPerCommunity)
        return { status: Update.LIMIT_COMMUNITY, answer };
      if (this.edgeTotal >= this.config.maxEdges) return { status: Update.LIMIT_TOTAL, answer };
      const n = new SnPeer(reg.edgeMac, this.stamps.initialRecord());
      n.setAddr({ family: 4, address: from.address, port: from.port }, ipv4Of(from));
      n.devAddr = reg.devAddr.addr;
      n.devBits = reg.devAddr.bitlen;
      n.desc = reg.desc.slice();
      n.lastCookie = reg.cookie;
      n.preferredSock = flags & Flags.SOCKET ? reg.sock : undefined;
      n.authScheme =
        reg.auth.scheme === AuthScheme.ID && this.config.disableSpoofingProtection
          ? AuthScheme.NONE
          : reg.auth.scheme;
      n.authToken = reg.auth.token.slice();
      n.lastSeen = now;
      this.bindConn(comm, n);
      if (isNewCommunity) this.addCommunity(comm);
      comm.edges.set(n.mac, n);
      if (n.devAddr !== 0 && !comm.byAddr.has(n.devAddr)) comm.byAddr.set(n.devAddr, n);
      this.edgeTotal++;
      this.log(
        LogLevel.INFO,
        `created edge ${macToString(n.mac)} ==> ${from.address}:${from.port} in '${comm.name}'`,
      );
      this.emit('edgeRegistered', this.edgeInfo(comm, n));
      return { status: Update.NEW, answer };
    }
    const answer = this.knownAuth(comm, e, reg.auth);
    if (answer === undefined) return { status: Update.AUTH_FAIL, answer: ZERO_AUTH };
    if (rekey) {
      comm.edges.delete(e.mac);
      e.mac = reg.edgeMac;
      comm.edges.set(e.mac, e);
    }
    let status: Update = Update.SAME;
    if (!sameAddr(e.addr, from)) {
      e.setAddr({ family: 4, address: from.address, port: from.port }, ipv4Of(from));
      e.preferredSock = flags & Flags.SOCKET ? reg.sock : undefined;
      this.bindConn(comm, e);
      status = Update.CHANGED;
    }
    e.lastCookie = reg.cookie;
    e.lastSeen = now;
    return { status, answer };
  }

  /**
   * sn_utils.c: handle_remote_auth — a new edge. Communities with users accept only scheme 2 with a listed
   * key, the others anything but scheme 2. Returns the ACK's auth, or undefined when refused.
   */
  private remoteAuth(comm: Community, auth: Auth): Auth | undefined {
    if (comm.hasUsers !== (auth.scheme === AuthScheme.USER_PASSWORD)) return undefined;
    if (auth.scheme === AuthScheme.NONE || auth.scheme === AuthScheme.ID) return ZERO_AUTH;
    if (auth.scheme === AuthScheme.USER_PASSWORD) return this.userAnswer(comm, auth);
    return undefined;
  }

  /** sn_utils.c: auth_edge — a known edge must present what it registered with. */
  private knownAuth(comm: Community, e: SnPeer, auth: Auth): Auth | undefined {
    if (e.authScheme === AuthScheme.NONE) return ZERO_AUTH;
    if (e.authScheme === AuthScheme.ID && auth.scheme === AuthScheme.ID) {
      return auth.token.length === e.authToken.length && bytesEqual(auth.token, e.authToken)
        ? ZERO_AUTH
        : undefined;
    }
    if (e.authScheme === AuthScheme.USER_PASSWORD && auth.scheme === AuthScheme.USER_PASSWORD) {
      // Stricter than C: the same user key as at registration (C accepts any listed user).
      if (!bytesEqual(auth.token, e.authToken, AUTH_KEY_BYTES)) return undefined;
      return this.userAnswer(comm, auth);
    }
    return undefined;
  }

  /** The answer token for a listed user (8.3 step 3), or undefined when the key is not listed. */
  private userAnswer(comm: Community, auth: Auth): Auth | undefined {
    if (auth.token.length !== AUTH_PW_TOKEN_BYTES || comm.dynamicKey === undefined) return undefined;
    const user = comm.users.get(keyId(auth.token, 0, AUTH_KEY_BYTES));
    if (user === undefined) return undefined;
    return {
      scheme: AuthScheme.USER_PASSWORD,
      token: buildAckToken(auth.token, 0, comm.dynamicKey, user.secret),
    };
  }

  private deleteEdge(comm: Community, e: SnPeer, reason: UnregisterReason): void {
    if (comm.edges.get(e.mac) !== e) return;
    if (e.conn !== undefined) {
      const c = e.conn;
      e.conn = undefined;
      this.closeTcp(c, false);
    }
    comm.edges.delete(e.mac);
    if (comm.byAddr.get(e.devAddr) === e) comm.byAddr.delete(e.devAddr);
    this.edgeTotal--;
    if (this.listenerCount('edgeUnregistered') > 0)
      this.emit('edgeUnregistered', this.edgeInfo(comm, e), reason);
  }

  private associate(comm: Community, mac: Mac, from: SockAddr, now: number): void {
    const a = comm.assoc.get(mac);
    if (a !== undefined) {
      a.addr = { family: 4, address: from.address, port: from.port };
      a.lastSeen = now;
      return;
    }
    if (this.assocTotal >= this.config.maxAssociations) {
      this.stats.drops[DropReason.TABLE_LIMIT]++;
      return;
    }
    comm.assoc.set(mac, { addr: { family: 4, address: from.address, port: from.port }, lastSeen: now });
    this.assocTotal++;
  }

  // ---------------------------------------------------------------- federation membership

  /** Map key of a federation member: its MAC, or a serial number while the MAC is unknown. */
  private fedKey(p: SnPeer): string {
    return p.mac !== NULL_MAC ? `m${p.mac}` : `s${p.serial}`;
  }

  private federationBySock(from: SockAddr): SnPeer | undefined {
    for (const p of this.federation.edges.values()) if (sameAddr(p.addr, from)) return p;
    return undefined;
  }

  /** n2n.c: add_sn_to_list_by_mac_or_sock — by MAC, else by socket (adopting the MAC), else add if asked. */
  private federationPeer(addr: SockAddr, mac: Mac, add: boolean): SnPeer | undefined {
    const fed = this.federation.edges;
    if (mac !== NULL_MAC) {
      const p = fed.get(`m${mac}`);
      if (p !== undefined) return p;
    }
    for (const [k, p] of fed) {
      if (sameAddr(p.addr, addr)) {
        if (mac !== NULL_MAC) {
          fed.delete(k);
          p.mac = mac;
          fed.set(this.fedKey(p), p);
        }
        return p;
      }
    }
    if (!add) return undefined;
    if (fed.size >= this.config.maxSupernodes) {
      this.stats.drops[DropReason.TABLE_LIMIT]++;
      return undefined;
    }
    const v4 = ipv4Of(addr);
    if (v4 < 0) return undefined;
    const p = new SnPeer(mac, this.stamps.initialRecord());
    p.setAddr({ family: 4, address: ipText(v4), port: addr.port }, v4);
    fed.set(this.fedKey(p), p);
    this.emit('supernodeAdded', this.snInfo(p));
    return p;
  }

  // ---------------------------------------------------------------- other message types

  private onUnregisterSuper(
    buf: Buffer,
    comm: Community | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    if (fromSn || comm.isFederation) return DropReason.WRONG_SENDER;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.UNREGISTER_SUPER) return DropReason.DECODE;
    if (!this.stampOk(comm, undefined, m.body.srcMac, false)) return DropReason.STAMP;
    const e = comm.edges.get(m.body.srcMac);
    if (e === undefined) return undefined;
    if (this.knownAuth(comm, e, m.body.auth) === undefined) return DropReason.AUTH;
    this.deleteEdge(comm, e, 'unregister');
    return undefined;
  }

  private onRegisterSuperAck(
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
    if (!this.stampOk(comm, sn, ack.srcMac, false)) return DropReason.STAMP;
    const now = this.nowSec();
    const p = this.federationPeer(from, ack.srcMac, false);
    if (p === undefined) return DropReason.UNKNOWN_SUPERNODE;
    p.lastSeen = now;
    if (ack.cookie !== p.lastCookie) return DropReason.IGNORED;
    for (const entry of ack.supernodes) {
      if (entry.mac === this.mac) continue;
      const addr: SockAddr = { family: 4, address: entry.sock.address, port: entry.sock.port };
      const before = this.federation.edges.size;
      const q = this.federationPeer(addr, entry.mac, true);
      if (q !== undefined && this.federation.edges.size > before) q.lastSeen = now - SN_NEW_SECONDS;
    }
    this.adoptKeyTime(ack.keyTime, now);
    return undefined;
  }

  private onRegisterSuperNak(
    buf: Buffer,
    comm: Community | undefined,
    ttl: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    // Stricter than C: only another supernode may NAK on an edge's behalf (C lets any edge kick another).
    if (!fromSn) return DropReason.WRONG_SENDER;
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.REGISTER_SUPER_NAK) return DropReason.DECODE;
    const nak = m.body;
    if (!this.stampOk(comm, sn, nak.srcMac, false)) return DropReason.STAMP;
    if (comm.isFederation) return undefined;
    const e = comm.edges.get(nak.srcMac);
    if (e === undefined || e.addr === undefined) return undefined;
    let len = encodeRegisterSuperNak({ ...m.common, ttl }, nak, this.ctl, 0);
    if (comm.he === HeState.ENABLED) {
      this.sealer.seal(this.ctl, 0, len, comm.staticKeys!);
      if (comm.hasUsers) len = this.sealer.appendJunkTrailer(this.ctl, 0, len);
    }
    this.sendToPeer(e, this.ctl, len);
    this.deleteEdge(comm, e, 'nak');
    return undefined;
  }

  private onQueryPeer(
    buf: Buffer,
    from: SockAddr,
    comm: Community | undefined,
    ttl: number,
    sn: SnPeer | undefined,
    fromSn: boolean,
  ): DropReason | undefined {
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.QUERY_PEER) return DropReason.DECODE;
    if (comm === undefined && this.locked) {
      const name = communityName(m.common.community);
      if (!this.patterns.some((p) => p.matchesWhole(name))) return DropReason.NOT_ALLOWED;
    }
    const q = m.body;
    if (comm !== undefined && !this.stampOk(comm, sn, q.srcMac, true)) return DropReason.STAMP;
    const now = this.nowSec();
    if (q.targetMac === NULL_MAC) {
      // PING → PONG with our MAC, the asker's public socket, load, uptime and version.
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
          srcMac: this.mac,
          mac: NULL_MAC,
          sock: { family: 4, port: from.port, address: from.address },
          load: swap32(this.load()),
          uptime: now - this.startSec,
          version: this.versionField(),
        },
        this.ctl,
        0,
      );
      if (comm?.he === HeState.ENABLED) this.sealer.seal(this.ctl, 0, len, comm.dynamicKeys!);
      this.reply(from, this.ctl, len);
      return undefined;
    }
    if (comm === undefined) return DropReason.UNKNOWN_COMMUNITY;
    const target = comm.edges.get(q.targetMac);
    if (target?.addr !== undefined) {
      const common: Common = {
        ttl: N2N_DEFAULT_TTL,
        type: MsgType.PEER_INFO,
        flags: Flags.FROM_SUPERNODE | (target.preferredSock ? Flags.SOCKET : 0),
        community: m.common.community,
      };
      const len = encodePeerInfo(
        common,
        {
          aflags: 0,
          srcMac: q.srcMac,
          mac: q.targetMac,
          sock: { family: 4, port: target.addr.port, address: target.addr.address },
          preferredSock: target.preferredSock,
          load: swap32(this.load()),
          uptime: now - this.startSec,
          version: this.versionField(),
        },
        this.ctl,
        0,
      );
      if (comm.he === HeState.ENABLED) this.sealer.seal(this.ctl, 0, len, comm.dynamicKeys!);
      this.reply(from, this.ctl, len);
      return undefined;
    }
    if (fromSn) return DropReason.NO_ROUTE;
    const common: Common = { ...m.common, ttl, flags: m.common.flags | Flags.FROM_SUPERNODE };
    const len = encodeQueryPeer(common, q, this.ctl, 0);
    if (comm.he === HeState.ENABLED) this.sealer.seal(this.ctl, 0, len, comm.dynamicKeys!);
    this.broadcastFederation(this.ctl, len, now);
    return undefined;
  }

  private onPeerInfo(
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
    const m = decodeMessage(buf, 0, buf.length);
    if (m.type !== MsgType.PEER_INFO) return DropReason.DECODE;
    const pi = m.body;
    if (!this.stampOk(comm, sn, pi.srcMac, false)) return DropReason.STAMP;
    const e = comm.edges.get(pi.srcMac);
    if (e?.addr === undefined || comm.isFederation || pi.srcMac === NULL_MAC) return undefined;
    this.associate(comm, pi.mac, from, this.nowSec());
    const len = encodePeerInfo({ ...m.common, ttl }, pi, this.ctl, 0);
    if (comm.he === HeState.ENABLED) this.sealer.seal(this.ctl, 0, len, comm.dynamicKeys!);
    this.sendToPeer(e, this.ctl, len);
    return undefined;
  }

  private versionCache: Uint8Array | undefined;

  private versionField(): Uint8Array {
    if (this.versionCache === undefined) {
      const v = new Uint8Array(VERSION_BYTES);
      v.set(new TextEncoder().encode(this.config.version).subarray(0, VERSION_BYTES - 1));
      this.versionCache = v;
    }
    return this.versionCache;
  }

  // ---------------------------------------------------------------- helpers

  /** Event/management view of an edge. */
  edgeInfo(comm: Community, e: SnPeer): EdgeInfo {
    return {
      community: comm.isFederation ? '-/-' : comm.name,
      mac: e.mac === NULL_MAC ? '' : macToString(e.mac).toUpperCase(),
      sockaddr: e.addr ? `${e.addr.address}:${e.addr.port}` : '',
      ip4addr: e.devAddr === 0 ? '' : `${ipText(e.devAddr)}/${e.devBits}`,
      desc: fieldText(e.desc),
    };
  }

  private snInfo(p: SnPeer): { mac: string; sockaddr: string } {
    return {
      mac: p.mac === NULL_MAC ? '' : macToString(p.mac).toUpperCase(),
      sockaddr: p.addr ? `${p.addr.address}:${p.addr.port}` : (p.hostSpec ?? ''),
    };
  }

  private log(level: number, msg: string): void {
    if (level <= this.logger.level) this.logger.log(level, msg);
  }
}
