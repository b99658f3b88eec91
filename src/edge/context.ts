// What every part of the edge shares: configuration, injected I/O, crypto set-up, who we are, open sockets, counters, events.
//
// The parts (control, peer-table, send, receive, registration, device, timers) each own their own state and get
// this one object; a field here is either fixed at construction or names its writers in its comment. It plays
// the role of n2n's n2n_edge_t for what crosses concerns (edge_utils.c), and of wireguard-go's Device.
import type { EventEmitter } from 'node:events';
import type { TapDevice, UdpSocket } from '../io/types.js';
import { HeaderSealer } from '../peer/seal.js';
import { asHeaderBackend, type HeaderKeys, staticHeaderKeys } from '../transform/header.js';
import { type Stamp, StampGenerator } from '../transform/stamp.js';
import type { Clock } from '../util/clock.js';
import { ConfigError } from '../util/errors.js';
import type { SockAddr } from '../util/ip.js';
import { type Logger, silentLogger } from '../util/log.js';
import { type Mac, NULL_MAC } from '../util/mac.js';
import type { Random } from '../util/random.js';
import { communityBytes } from '../wire/common.js';
import { DESC_BYTES, type Sock } from '../wire/types.js';
import { createEdgeAuth, type EdgeAuth } from './auth.js';
import { MS_PER_S } from './constants.js';
import { type EdgeDeps, MULTICAST_GROUP, MULTICAST_PORT } from './deps.js';
import { TrafficFilter } from './filter.js';
import { type EdgeConfig, type EdgeOptions, resolveEdgeOptions } from './options.js';
import { createEdgePayload, type EdgePayload } from './payload.js';
import { EdgeDrops, EdgeTraffic } from './stats.js';
import { newSupernodeEntry, type SupernodeEntry } from './supernodes.js';
import { systemEdgeDeps } from './system.js';

/** Run states. */
export const EdgeState = {
  NEW: 'new',
  STARTING: 'starting',
  RUNNING: 'running',
  STOPPED: 'stopped',
} as const;
export type EdgeState = (typeof EdgeState)[keyof typeof EdgeState];

/** Peer event actions as the management port reports them (n2n_define.h: N2N_EVENT_PEER_*). */
export const PeerAction = { PURGE: 1, CLEAR: 2, DEL_P2P: 3, ADD_P2P: 4 } as const;
export type PeerAction = (typeof PeerAction)[keyof typeof PeerAction];

/** Argument of the `peer` event (every change of the peer tables the management port reports). */
export interface PeerEvent {
  action: PeerAction;
  mac: Mac;
  sockaddr: string;
}

/** Argument of `peerUp` / `peerDown`: a peer that became / stopped being directly reachable. */
export interface PeerChange {
  mac: string;
  sockaddr: string;
  reason?: 'purge' | 'clear' | 'moved' | 'stale';
}

/** Argument of `registered` (every REGISTER_SUPER_ACK). */
export interface RegisteredEvent {
  supernode: string;
  /**
   * The public socket the supernode sees us at; undefined when the ACK carries none we can use (a supernode on
   * 127.0.0.1 reports 127.0.0.1).
   */
  publicAddr: string | undefined;
  /** True for the first registration (the edge starts carrying traffic). */
  first: boolean;
}

/** Why a registration ended (`unregistered`). */
export const UnregisterReason = { TIMEOUT: 'timeout', STOP: 'stop' } as const;
export type UnregisterReason = (typeof UnregisterReason)[keyof typeof UnregisterReason];

/** Argument of `unregistered`: the supernode we were registered with stopped answering, or we stop. */
export interface UnregisteredEvent {
  supernode: string;
  reason: UnregisterReason;
}

export function nowSeconds(clock: Clock): number {
  return Math.floor(clock.now() / MS_PER_S);
}

/**
 * The supernode list and the one we register with (edge_utils.c: conf.supernodes, curr_sn, sn_wait).
 * Registration is its only writer; the packet paths read it to route relayed traffic and to recognise senders.
 */
export class SupernodeSet {
  /** The -l entries, then those learned from REGISTER_SUPER_ACKs; sorted by selection criterion. */
  readonly list: SupernodeEntry[] = [];
  cur: SupernodeEntry;
  /** 0 = registered, 1 = waiting for an ACK, 2 = re-register now (RE_REGISTER_SUPER). */
  wait = 1;

  constructor(config: EdgeConfig) {
    for (const s of config.supernodes) this.list.push(newSupernodeEntry(s.text, s.host, s.port, false));
    this.cur = this.list[0];
  }

  /** The supernode that sent a datagram, by socket (no allocation). */
  byAddr(from: SockAddr): SupernodeEntry | undefined {
    const sns = this.list;
    for (let i = 0; i < sns.length; i++) {
      const a = sns[i].addr;
      if (a !== undefined && a.port === from.port && a.address === from.address) return sns[i];
    }
    return undefined;
  }
}

export class EdgeContext {
  readonly config: EdgeConfig;
  readonly deps: EdgeDeps;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly stamps: StampGenerator;
  /** Header encryption with the process's stamp generator (shared with the supernode code, src/peer). */
  readonly sealer: HeaderSealer;
  readonly community: Uint8Array;
  readonly descBytes: Uint8Array;
  readonly filter: TrafficFilter | undefined;
  readonly payload: EdgePayload;
  readonly auth: EdgeAuth;
  /** -H. */
  readonly he: boolean;
  /** User/password authentication (-I/-J/-P). */
  readonly userPassword: boolean;
  readonly staticKeys: HeaderKeys | undefined;
  /** Written by Registration (the user/password key arrives with the REGISTER_SUPER_ACK). */
  dynamicKeys: HeaderKeys | undefined;
  readonly traffic = new EdgeTraffic();
  readonly drops = new EdgeDrops();
  /** The Edge: `peer`, `peerUp`, `peerDown`, `registered`, `refused` are emitted on it. */
  readonly events: EventEmitter;
  readonly supernodes: SupernodeSet;

  /** Written by the Edge's start/stop only. */
  state: EdgeState = EdgeState.NEW;
  /** The main socket: set by the Edge at start and by Registration when it re-opens the socket. */
  udp: UdpSocket | undefined;
  /** The local-discovery socket (224.0.0.68:1968), opened at start when P2P is on and -e is not given. */
  mcast: UdpSocket | undefined;
  /** Set by Device. */
  tap: TapDevice | undefined;
  readonly mcastAddr: SockAddr = { family: 4, address: MULTICAST_GROUP, port: MULTICAST_PORT };

  /** Our TAP MAC; 0 until the device is open (bootstrap messages carry the null MAC). Set by Device. */
  ownMac: Mac = NULL_MAC;
  /** Our overlay address and prefix; set by Device (at open and on the DHCP re-check). */
  devAddr = 0;
  devBits = 0;
  /** Preferred local socket advertised in REGISTER_SUPER (-e); set by Device, its port by Registration. */
  preferred: Sock | undefined;
  /**
   * --mss-clamp: the largest MSS of TCP carried directly in a TAP frame over IPv4 / IPv6 (edge/mss.ts: clampMss);
   * 0 = no clamping (the default: one compare per frame). Written by MssLimits only; read by both packet paths.
   */
  mssV4 = 0;
  mssV6 = 0;

  /**
   * Unix seconds of the last registration ACK (with our real MAC) or PACKET from a supernode; 0 = never.
   * Written by Registration (ACK) and ReceivePath (PACKET); 0 keeps the send path closed.
   */
  lastSup = 0;
  /** Unix seconds of the last direct PACKET; 0 = never. Written by ReceivePath. */
  lastP2p = 0;
  /**
   * Control answers from supernodes (accepted REGISTER_SUPER_ACK, PONG, PEER_INFO); with traffic.rxSup what tells
   * timers.ts the supernode answers. Written by Registration and PeerTable.
   */
  snAnswers = 0;

  /** The datagram being handled: its time stamp and user/password trailer hash, written by header decryption. */
  readonly rxStamp: Stamp = { hi: 0, lo: 0 };
  readonly trailerHash = new Uint8Array(16);
  /**
   * The native receive fast path (edge/fastpath.ts), set by the Edge when the deps offer one: the packet paths and
   * timers call collectNow before they read peers or counters and refresh after they may have changed them.
   */
  fastPath: { collectNow(): void; refresh(): void; close(): void } | undefined;

  constructor(options: EdgeOptions, deps: Partial<EdgeDeps>, events: EventEmitter) {
    this.events = events;
    const full =
      deps.openUdp && deps.openTap && deps.openMulticast && deps.resolve && deps.clock && deps.random;
    deps = full ? deps : { ...systemEdgeDeps({ logger: deps.logger }), ...deps };
    this.config = resolveEdgeOptions(options, { zstd: deps.zstd !== undefined });
    const openTcp = deps.openTcp;
    if (this.config.tcp) {
      if (openTcp === undefined) throw new ConfigError('-S2: TCP to the supernode is not available here');
      // -S2: the main socket is the framed TCP connection to the supernode; the protocol code is unchanged.
      deps = { ...deps, openUdp: openTcp };
    }
    this.deps = deps as EdgeDeps;
    this.clock = this.deps.clock;
    this.random = this.deps.random;
    this.logger = this.deps.logger ?? silentLogger;
    this.stamps = this.deps.stamps ?? new StampGenerator(this.clock);
    this.sealer = new HeaderSealer(this.stamps, this.random);
    const c = this.config;
    this.community = communityBytes(c.community);
    this.descBytes = new Uint8Array(DESC_BYTES);
    this.descBytes.set(Buffer.from(c.description).subarray(0, DESC_BYTES - 1));
    this.filter = c.rules.length > 0 ? new TrafficFilter(c.rules) : undefined;
    this.payload = createEdgePayload(
      c.transform,
      c.key,
      c.compression,
      this.random,
      this.deps.cipherBackend,
      this.deps.zstd,
    );
    this.userPassword = c.password !== undefined;
    const headerBackend = asHeaderBackend(this.deps.cipherBackend);
    this.auth = createEdgeAuth(c, this.random, headerBackend);
    this.he = c.headerEncryption;
    if (this.he) {
      this.staticKeys = staticHeaderKeys(this.community, headerBackend);
      // edge_utils.c: edge_init: user/password edges start with a random dynamic key until the first ACK.
      this.dynamicKeys = this.userPassword ? this.auth.randomDynamicKeys() : this.staticKeys;
    }
    this.supernodes = new SupernodeSet(c);
  }

  log(level: number, msg: string): void {
    if (level <= this.logger.level) this.logger.log(level, msg);
  }

  /** Unix seconds by the edge's clock. */
  now(): number {
    return nowSeconds(this.clock);
  }

  stopping(): boolean {
    return this.state === EdgeState.STOPPED;
  }
}
