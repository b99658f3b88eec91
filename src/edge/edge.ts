// The n2n edge protocol engine (spec §12): bootstrap, supernode registration, P2P, and the TAP ⇄ UDP packet path.
//
// Packet path, TAP → network (edge_utils.c: edge_read_from_tap / edge_send_packet2net / send_packet):
//   1. multicast filter (-E), registered?, -R rules, routing check (-r)
//   2. optional LZO compression into a scratch buffer (kept only if shorter)
//   3. transform: the cipher writes preamble + ciphertext after the 38-byte PACKET header
//   4. header encryption (-H) in place, then one UDP send to the peer (P2P) or the supernode
// Network → TAP (edge_utils.c: process_udp / handle_PACKET):
//   1. header decryption in place (-H), common header checks, replay stamp
//   2. peer bookkeeping (hole punching, relay fallback)
//   3. transform decrypt into a reusable buffer, decompress, filters, one TAP write
// Nothing on these paths allocates per packet in steady state; every drop increments a counter in `drops`.
import { EventEmitter } from 'node:events';
import { decodeSockAddr, encodeSockAddr, SOCKADDR_BYTES } from '../io/sockaddr.js';
import type { BatchUdpSocket, DatagramBatch, FrameBatch, TapDevice, UdpSocket } from '../io/types.js';
import { FRAME_HEADROOM_BYTES, isBatchUdpSocket } from '../io/types.js';
import { HeaderSealer } from '../peer/seal.js';
import {
  AUTH_TRAILER_BYTES,
  decryptHeaderTryKeys,
  type HeaderKeys,
  HeaderKeyUsed,
  headerLength,
  staticHeaderKeys,
} from '../transform/header.js';
import { type Stamp, StampGenerator, type StampRecord } from '../transform/stamp.js';
import type { Clock } from '../util/clock.js';
import { numberToIpv4, type SockAddr, sockAddrToString } from '../util/ip.js';
import { type Logger, LogLevel, silentLogger } from '../util/log.js';
import {
  BROADCAST_MAC,
  isN2nMulticastOrBroadcast,
  type Mac,
  macToString,
  NULL_MAC,
  readMac,
  writeMac,
} from '../util/mac.js';
import type { Random } from '../util/random.js';
import { communityBytes, communityMatches } from '../wire/common.js';
import { decodeMessage, encodeMessage } from '../wire/messages.js';
import {
  createPacketHeaderView,
  PACKET_HEADER_BYTES,
  type PacketHeaderView,
  readPacketHeader,
  writePacketHeader,
} from '../wire/packet.js';
import { sockToAddr } from '../wire/sock.js';
import {
  AuthScheme,
  COMMON_HEADER_BYTES,
  CompressionId,
  Cookie,
  DESC_BYTES,
  Flags,
  type Message,
  MsgType,
  N2N_DEFAULT_TTL,
  N2N_PKT_VERSION,
  type PeerInfo,
  PKT_BUF_BYTES,
  type Register,
  type RegisterAck,
  type RegisterSuperAck,
  type RegisterSuperNak,
  type Sock,
} from '../wire/types.js';
import { createEdgeAuth, type EdgeAuth } from './auth.js';
import {
  ACK_SOCK_GRACE_S,
  ADDR_CACHE_MAX,
  BOOTSTRAP_TIMEOUT_S,
  CLOSE_SOCKET_COUNTER_MAX,
  DEFAULT_IP_TTL,
  ETH_HEADER_BYTES,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_OFFSET,
  GARP_BYTES,
  IFACE_UPDATE_S,
  IPV4_DST,
  IPV4_MIN_HEADER_BYTES,
  IPV4_SRC,
  isEthMulticast,
  LOCALHOST_V4,
  MAX_PEERS,
  MAX_SUPERNODE_ENTRIES,
  MS_PER_S,
  PEER_REFRESH_S,
  PINGS_INITIAL,
  PINGS_REGULAR,
  PORT_PREDICTION_BURST,
  PRIVILEGED_PORT_MAX,
  PURGE_INTERVAL_S,
  REGISTRATION_TIMEOUT_S,
  RESOLVE_INTERVAL_S,
  RESOLVE_RETRY_S,
  RX_BUF_BYTES,
  readU32,
  SUP_ATTEMPTS,
  SWEEP_TIME_S,
  TAP_BATCH_MAX,
  TAP_SLOT_BYTES,
  TICK_MS,
  TX_BATCH_MAX,
  TX_BUF_BYTES,
} from './constants.js';
import { canSetTtl, type EdgeDeps, MULTICAST_GROUP, MULTICAST_PORT, type RouteCleanup } from './deps.js';
import { TrafficFilter } from './filter.js';
import { AddressMode, type EdgeConfig, type EdgeOptions, resolveEdgeOptions } from './options.js';
import { BATCH_INVALID, createEdgePayload, type EdgePayload, MAX_BATCH_PLAINTEXT_BYTES } from './payload.js';
import {
  findPeerByAddr,
  ipv4Value,
  isValidPeerAddr,
  NO_COOKIE,
  newPeer,
  type Peer,
  sameAddr,
  setPeerAddr,
} from './peers.js';
import { EdgeDrops, EdgeTraffic } from './stats.js';
import {
  CRITERION_BAD,
  CRITERION_DEFAULT,
  CRITERION_GOOD,
  criterionFromPong,
  newSupernodeEntry,
  type SupernodeEntry,
  selectionCommonData,
  setSupernodeAddr,
  sortSupernodes,
} from './supernodes.js';
import { systemEdgeDeps } from './system.js';

export { MAX_PEERS } from './constants.js';

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

/** Argument of `registered`. */
export interface RegisteredEvent {
  supernode: string;
  /** The public socket the supernode sees us at. */
  publicAddr: string;
  /** True for the first registration (the edge starts carrying traffic). */
  first: boolean;
}

/** Run states. */
export const EdgeState = {
  NEW: 'new',
  STARTING: 'starting',
  RUNNING: 'running',
  STOPPED: 'stopped',
} as const;
export type EdgeState = (typeof EdgeState)[keyof typeof EdgeState];

function nowSeconds(clock: Clock): number {
  return Math.floor(clock.now() / MS_PER_S);
}

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

/**
 * An n2n 3.1.1 edge. Create it with options (and, for tests, injected I/O), `await start()`, `await stop()`.
 * Events: `registered` (RegisteredEvent), `peerUp` / `peerDown` (PeerChange), `peer` (PeerEvent, for the
 * management port), `stopped`.
 */
export class Edge extends EventEmitter {
  readonly config: EdgeConfig;
  readonly traffic = new EdgeTraffic();
  readonly drops = new EdgeDrops();
  readonly logger: Logger;
  /** Unix seconds of start(). */
  startTime = 0;
  /** Unix seconds of the last registration ACK (with our real MAC) or PACKET from a supernode; 0 = never. */
  lastSup = 0;
  /** Unix seconds of the last direct PACKET; 0 = never. */
  lastP2p = 0;

  private readonly deps: EdgeDeps;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly stamps: StampGenerator;
  /** Header encryption with the process's stamp generator (shared with the supernode code, src/peer). */
  private readonly sealer: HeaderSealer;
  private readonly community: Uint8Array;
  private readonly descBytes: Uint8Array;
  private readonly filter: TrafficFilter | undefined;
  private readonly payload: EdgePayload;
  private readonly auth: EdgeAuth;
  private readonly he: boolean;
  private readonly userPassword: boolean;
  private readonly staticKeys: HeaderKeys | undefined;
  private dynamicKeys: HeaderKeys | undefined;

  private state: EdgeState = EdgeState.NEW;
  private udp: UdpSocket | undefined;
  private mcast: UdpSocket | undefined;
  private tap: TapDevice | undefined;
  private routeCleanup: RouteCleanup | undefined;
  private cancelTick: (() => void) | undefined;
  private bootWake: (() => void) | undefined;
  private reopening = false;

  /** Our TAP MAC; 0 until the device is open (bootstrap messages carry the null MAC). */
  private ownMac: Mac = NULL_MAC;
  private devAddr = 0;
  private devBits = 0;
  /** Address the supernode assigned during bootstrap. */
  private assignedAddr = 0;
  private assignedBits = 0;
  /** Preferred local socket advertised in REGISTER_SUPER (-e); address resolved at start. */
  private preferred: Sock | undefined;

  // supernode state (edge_utils.c: eee->conf.supernodes, curr_sn, sn_wait, …)
  private readonly sns: SupernodeEntry[] = [];
  private cur!: SupernodeEntry;
  /** 0 = registered, 1 = waiting for an ACK, 2 = re-register now (RE_REGISTER_SUPER). */
  private snWait = 1;
  private snPong = false;
  private supAttempts = SUP_ATTEMPTS;
  private lastRegisterReq = 0;
  private lastSweep = 0;
  private maxPings = PINGS_INITIAL;
  private selectionCommon = 0;
  private closeSocketCounter = 0;
  private lastResolve = 0;
  private resolveRequested = false;
  private resolving = false;

  // peers
  private readonly pending = new Map<Mac, Peer>();
  private readonly known = new Map<Mac, Peer>();
  private lastPurgeKnown = 0;
  private lastPurgePending = 0;
  private lastIfaceCheck = 0;

  // packet path scratch, allocated once
  private readonly view: PacketHeaderView = createPacketHeaderView();
  private readonly rxStamp: Stamp = { hi: 0, lo: 0 };
  private readonly txStamp: Stamp = { hi: 0, lo: 0 };
  private readonly txBuf = Buffer.alloc(TX_BUF_BYTES);
  private readonly zBuf = Buffer.alloc(FRAME_HEADROOM_BYTES + RX_BUF_BYTES);
  // Plain Uint8Arrays: a TAP double that keeps `slice()`s of what it is given then gets copies, not views.
  private readonly rxBuf = new Uint8Array(RX_BUF_BYTES);
  private readonly unzBuf = new Uint8Array(RX_BUF_BYTES);
  private readonly ctrlBuf = Buffer.alloc(PKT_BUF_BYTES);
  private readonly trailerHash = new Uint8Array(16);
  private readonly garp = Buffer.alloc(FRAME_HEADROOM_BYTES + GARP_BYTES);
  private readonly mcastAddr: SockAddr = { family: 4, address: MULTICAST_GROUP, port: MULTICAST_PORT };
  // batched I/O: sendmmsg of the datagrams made from one TAP batch, one TAP write call per UDP batch
  private batchUdp: BatchUdpSocket | undefined;
  private txBatchBuf: Uint8Array | undefined;
  private txCount = 0;
  private readonly txOffsets = new Uint32Array(TX_BATCH_MAX);
  private readonly txLengths = new Uint32Array(TX_BATCH_MAX);
  private readonly txAddrs = new Uint8Array(TX_BATCH_MAX * SOCKADDR_BYTES);
  private rxBatching = false;
  private tapBatchCount = 0;
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
  private readonly tapSlab = new Uint8Array(TAP_BATCH_MAX * TAP_SLOT_BYTES);
  /** Unix seconds read once per TAP or UDP batch (-1 outside one): a clock read per frame showed in profiles. */
  private batchNow = -1;
  /** Slots of tapSlab taken in the current UDP batch (a frame may take one and then be dropped). */
  private tapSlots = 0;
  /** Payloads of the UDP batch waiting for decryption into their tapSlab slot (payload batch, one native call). */
  private decBuf: Uint8Array | undefined;
  private decCount = 0;
  private readonly decSrcOffs = new Uint32Array(TAP_BATCH_MAX);
  private readonly decLens = new Uint32Array(TAP_BATCH_MAX);
  private readonly decDstOffs = new Uint32Array(TAP_BATCH_MAX);
  private readonly decOutLens = new Uint32Array(TAP_BATCH_MAX);
  private readonly tapOffsets = new Uint32Array(TAP_BATCH_MAX);
  private readonly tapLengths = new Uint32Array(TAP_BATCH_MAX);
  private readonly addrCache = new Map<number, SockAddr>();
  /** The sender of the batched datagram being processed and its IPv4 as u32 (-1 for IPv6). */
  private rxFrom: SockAddr | undefined;
  private rxFromIp4 = -1;

  /**
   * Validates `options` (ConfigError on bad input). `deps` replaces the real I/O (kernel TAP, UDP, DNS, system
   * clock and randomness) in part or whole; tests pass in-memory ones.
   */
  constructor(options: EdgeOptions, deps: Partial<EdgeDeps> = {}) {
    super();
    this.config = resolveEdgeOptions(options);
    const full =
      deps.openUdp && deps.openTap && deps.openMulticast && deps.resolve && deps.clock && deps.random;
    deps = full ? deps : { ...systemEdgeDeps({ logger: deps.logger }), ...deps };
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
    this.payload = createEdgePayload(c.transform, c.key, c.compression, this.random, this.deps.cipherBackend);
    this.userPassword = c.password !== undefined;
    this.auth = createEdgeAuth(c, this.random);
    this.he = c.headerEncryption;
    if (this.he) {
      this.staticKeys = staticHeaderKeys(this.community);
      // edge_utils.c: edge_init: user/password edges start with a random dynamic key until the first ACK.
      this.dynamicKeys = this.userPassword ? this.auth.randomDynamicKeys() : this.staticKeys;
    }
    for (const s of c.supernodes) this.sns.push(newSupernodeEntry(s.text, s.host, s.port, false));
    this.cur = this.sns[0];
  }

  // ------------------------------------------------------------------ public state

  get runState(): EdgeState {
    return this.state;
  }

  /** Our TAP MAC (0 before start). */
  get mac(): Mac {
    return this.ownMac;
  }

  /** Our overlay IPv4 address as u32 and prefix length (0/0 before the address is known). */
  get address(): { addr: number; bitlen: number } {
    return { addr: this.devAddr, bitlen: this.devBits };
  }

  /** True once a supernode has acknowledged a registration with our real MAC. */
  get registered(): boolean {
    return this.lastSup !== 0;
  }

  /** 0 = registered, 1 = waiting for an ACK, 2 = re-registration requested. */
  get supernodeWait(): number {
    return this.snWait;
  }

  /** Pending peers (reached via the supernode) and known peers (P2P), for the management port. */
  peerTables(): { pending: readonly Peer[]; known: readonly Peer[] } {
    return { pending: [...this.pending.values()], known: [...this.known.values()] };
  }

  /** The supernode list in its current order. */
  supernodeList(): readonly SupernodeEntry[] {
    return this.sns;
  }

  /** The supernode we register with. */
  get currentSupernode(): SupernodeEntry {
    return this.cur;
  }

  /** Unix seconds by the edge's clock (management timestamps use it). */
  nowSeconds(): number {
    return nowSeconds(this.clock);
  }

  /** Unix seconds for the packet path: the batch's reading while one is handled, else the clock's. */
  private packetNow(): number {
    return this.batchNow >= 0 ? this.batchNow : nowSeconds(this.clock);
  }

  get headerEncryption(): boolean {
    return this.he;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Opens the sockets, runs the bootstrap (spec §12.1: PING several supernodes, ask for an address when
   * `-a` is absent), opens the TAP device, installs routes and starts registering. Resolves once the TAP
   * device is up; `registered` follows when the supernode answers. Rejects on I/O errors.
   */
  async start(): Promise<void> {
    if (this.state !== EdgeState.NEW) throw new Error('Edge.start: already started');
    this.state = EdgeState.STARTING;
    const c = this.config;
    this.startTime = nowSeconds(this.clock);
    try {
      await this.resolveSupernodes(true);
      this.udp = await this.deps.openUdp({
        address: c.bindAddress,
        port: c.localPort,
        tos: c.tos,
        pmtuDiscovery: c.pmtuDiscovery,
      });
      this.attachUdp(this.udp);
      if (c.p2p && c.preferredAddress === undefined) {
        this.mcast = await this.deps.openMulticast();
        this.mcast?.onDatagram(this.onMulticast);
      }
      await this.detectPreferred();
      if (this.stopping()) return;
      await this.bootstrap();
      if (this.stopping()) return;
      await this.openTap();
      if (this.stopping()) return;
    } catch (err) {
      await this.teardown();
      this.state = EdgeState.STOPPED;
      throw err;
    }
    this.state = EdgeState.RUNNING;
    const now = nowSeconds(this.clock);
    // edge.c: main, after the bootstrap: the current supernode is "good", the first sweep comes ~6 s later.
    this.maxPings = PINGS_INITIAL;
    for (const sn of this.sns) sn.selection = sn === this.cur ? CRITERION_GOOD : CRITERION_DEFAULT;
    sortSupernodes(this.sns);
    this.lastSweep = now - SWEEP_TIME_S + 2 * BOOTSTRAP_TIMEOUT_S;
    this.snWait = 1;
    this.lastRegisterReq = 0;
    this.lastPurgeKnown = now;
    this.lastPurgePending = now;
    this.lastIfaceCheck = now;
    this.tap!.onFrames(this.onTapFrames);
    this.cancelTick = this.clock.every(TICK_MS, this.onTick);
    this.updateSupernodeReg(now);
  }

  /** Sends UNREGISTER_SUPER (when registered), removes routes and closes everything. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === EdgeState.STOPPED) return;
    const wasRunning = this.state === EdgeState.RUNNING;
    this.state = EdgeState.STOPPED;
    this.bootWake?.();
    this.cancelTick?.();
    this.cancelTick = undefined;
    if (wasRunning) this.sendUnregisterSuper();
    for (const p of this.pending.values()) this.postPeer(PeerAction.CLEAR, p, false);
    for (const p of this.known.values()) this.postPeer(PeerAction.CLEAR, p, true);
    this.pending.clear();
    this.known.clear();
    // Let sockets that deliver from a microtask (the in-memory network) take the goodbye before closing.
    await Promise.resolve();
    await this.teardown();
    this.emit('stopped');
  }

  private stopping(): boolean {
    return this.state === EdgeState.STOPPED;
  }

  private async teardown(): Promise<void> {
    const cleanup = this.routeCleanup;
    this.routeCleanup = undefined;
    if (cleanup) {
      try {
        await cleanup();
      } catch (err) {
        this.log(LogLevel.WARNING, `route cleanup failed: ${(err as Error).message}`);
      }
    }
    this.tap?.close();
    this.udp?.close();
    this.mcast?.close();
    this.tap = undefined;
    this.udp = undefined;
    this.mcast = undefined;
  }

  private log(level: number, msg: string): void {
    if (level <= this.logger.level) this.logger.log(level, msg);
  }

  /** Resolves the supernode names (all of them when `all`, else only the unresolved ones). */
  private async resolveSupernodes(all: boolean): Promise<void> {
    if (this.resolving) return;
    this.resolving = true;
    this.lastResolve = nowSeconds(this.clock);
    let failed = false;
    try {
      for (const sn of this.sns) {
        if (!all && sn.addr !== undefined) continue;
        if (sn.purgeable) continue; // learned entries are numeric already
        try {
          const address = await this.deps.resolve(sn.host);
          if (sn.addr === undefined || sn.addr.address !== address) {
            setSupernodeAddr(sn, { family: 4, address, port: sn.port });
          }
        } catch (err) {
          failed = true;
          this.log(LogLevel.WARNING, `cannot resolve supernode '${sn.text}': ${(err as Error).message}`);
        }
      }
    } finally {
      this.resolving = false;
    }
    // Retry sooner after a failure (n2n: 30 s after an error, else 300 s).
    if (failed) this.lastResolve -= RESOLVE_INTERVAL_S - RESOLVE_RETRY_S;
  }

  /** `-e`: the preferred socket's address (fixed or auto-detected) and our local port. */
  private async detectPreferred(): Promise<void> {
    const pref = this.config.preferredAddress;
    if (pref === undefined) return;
    let address = typeof pref === 'number' ? numberToIpv4(pref) : '0.0.0.0';
    if (pref === 'auto') {
      const to = this.cur.addr;
      const detected = to && this.deps.localAddressFor ? await this.deps.localAddressFor(to) : undefined;
      if (detected) address = detected;
      else this.log(LogLevel.WARNING, '-e auto: could not detect the local address');
    }
    this.preferred = { family: 4, address, port: this.udp!.local.port };
  }

  /** Makes `s` the main socket, receiving in batches when it can. */
  private attachUdp(s: UdpSocket): void {
    this.udp = s;
    if (isBatchUdpSocket(s)) {
      this.batchUdp = s;
      s.onDatagrams(this.onUdpBatch);
    } else {
      this.batchUdp = undefined;
      s.onDatagram(this.onUdp);
    }
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
      const cancel = this.clock.after(seconds * MS_PER_S, finish);
      this.bootWake = () => {
        if (answered() || this.stopping()) finish();
      };
    });
  }

  /** edge.c: main, runlevels 0..3. */
  private async bootstrap(): Promise<void> {
    const c = this.config;
    // Find a live supernode first, unless there is only one (or user/password mode).
    if (this.sns.length > 1 && !this.userPassword) {
      for (;;) {
        this.snPong = false;
        this.maxPings = PINGS_INITIAL;
        this.sendPing();
        this.log(LogLevel.NORMAL, 'send PING to supernodes');
        await this.waitBoot(BOOTSTRAP_TIMEOUT_S, () => this.snPong);
        if (this.stopping()) return;
        if (this.snPong) {
          this.snPong = false;
          sortSupernodes(this.sns);
          this.cur = this.sns[0];
          this.log(LogLevel.NORMAL, `received first PONG from supernode [${this.cur.text}]`);
          break;
        }
        if (this.sns.some((s) => s.addr === undefined)) await this.resolveSupernodes(false);
      }
    }
    if (c.addressMode === AddressMode.SUPERNODE) {
      for (;;) {
        this.snWait = 1;
        this.sendRegisterSuper();
        this.log(
          LogLevel.NORMAL,
          `send REGISTER_SUPER to supernode [${this.cur.text}] asking for IP address`,
        );
        await this.waitBoot(BOOTSTRAP_TIMEOUT_S, () => this.snWait === 0);
        if (this.stopping()) return;
        if (this.snWait === 0) break;
        // Time out: try the next supernode.
        const i = this.sns.indexOf(this.cur);
        this.cur = this.sns[(i + 1) % this.sns.length];
        if (this.cur.addr === undefined) await this.resolveSupernodes(false);
      }
      if (this.assignedAddr === 0) {
        // edge.c goes on without one too; the device then has no IPv4 address.
        this.log(LogLevel.WARNING, 'the supernode did not assign an address (use -a)');
      } else {
        this.log(LogLevel.NORMAL, 'received REGISTER_SUPER_ACK from supernode for IP address assignment');
      }
    }
  }

  private async openTap(): Promise<void> {
    const c = this.config;
    let mac = c.mac;
    if (mac === undefined) {
      const b = new Uint8Array(6);
      this.random.fill(b);
      // Unicast, locally administered.
      b[0] = (b[0] & 0xfe) | 0x02;
      mac = readMac(b, 0);
    }
    let addr = 0;
    let bits = 0;
    if (c.addressMode === AddressMode.STATIC) {
      addr = c.address;
      bits = c.prefixBits;
    } else if (c.addressMode === AddressMode.SUPERNODE) {
      addr = this.assignedAddr;
      bits = this.assignedBits;
    }
    const tap = await this.deps.openTap({ name: c.device, mac, mtu: c.mtu, addr, bitlen: bits });
    this.tap = tap;
    this.ownMac = tap.info.mac || mac;
    this.devAddr = tap.info.addr || addr;
    this.devBits = tap.info.bitlen || bits;
    if (c.addressMode === AddressMode.DHCP) this.refreshDhcpAddress();
    this.log(
      LogLevel.NORMAL,
      `created local tap device IP: ${numberToIpv4(this.devAddr)}/${this.devBits}, MAC: ${macToString(this.ownMac)}`,
    );
    if (c.routes.length > 0) {
      if (!this.deps.addRoutes) throw new Error('-n: routes cannot be installed (no route support)');
      this.routeCleanup = await this.deps.addRoutes(c.routes, tap, this.cur.addr);
    }
  }

  private refreshDhcpAddress(): void {
    if (!this.tap || !this.deps.readTapAddress) return;
    const a = this.deps.readTapAddress(this.tap);
    if (a && (a.addr !== this.devAddr || a.bitlen !== this.devBits)) {
      this.log(LogLevel.NORMAL, `TAP address is now ${numberToIpv4(a.addr)}/${a.bitlen}`);
      this.devAddr = a.addr;
      this.devBits = a.bitlen;
    }
  }

  // ------------------------------------------------------------------ timer

  private readonly onTick = (): void => {
    if (this.state !== EdgeState.RUNNING) return;
    try {
      this.periodic(nowSeconds(this.clock));
    } catch (err) {
      this.log(LogLevel.ERROR, `edge timer: ${(err as Error).stack ?? err}`);
    }
  };

  /** What n2n's main loop does after every select (edge_utils.c: run_edge_loop). */
  private periodic(now: number): void {
    this.updateSupernodeReg(now);
    let purged = 0;
    // Known peers are kept while no supernode answers: they may be all that is left.
    if (!this.snWait && now - this.lastPurgeKnown >= PURGE_INTERVAL_S) {
      purged += this.purge(this.known, now, true);
      this.lastPurgeKnown = now;
    }
    if (now - this.lastPurgePending >= PURGE_INTERVAL_S) {
      purged += this.purge(this.pending, now, false);
      this.lastPurgePending = now;
    }
    if (purged > 0) {
      this.log(
        LogLevel.INFO,
        `${purged} peers removed. now: pending=${this.pending.size}, operational=${this.known.size}`,
      );
    }
    if (this.config.addressMode === AddressMode.DHCP && now - this.lastIfaceCheck > IFACE_UPDATE_S) {
      this.lastIfaceCheck = now;
      this.refreshDhcpAddress();
    }
    this.sweep(now);
    if (this.resolveRequested || now - this.lastResolve >= RESOLVE_INTERVAL_S) {
      this.resolveRequested = false;
      void this.resolveSupernodes(true);
    }
  }

  private purge(list: Map<Mac, Peer>, now: number, known: boolean): number {
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

  /** edge_utils.c: update_supernode_reg. */
  private updateSupernodeReg(now: number): void {
    const interval = this.config.registerInterval;
    if ((this.snWait !== 0 && now > this.lastRegisterReq + Math.floor(interval / 10)) || this.snWait === 2) {
      // fast retry, or re-register now
    } else if (now < this.lastRegisterReq + interval) {
      return;
    }
    let off = 0;
    if (this.snWait === 2) {
      // Spread the next regular registrations of all edges over ¾ of the interval.
      const span = Math.floor((interval * 3) / 4);
      off = span > 0 ? this.random.u32() % span : 0;
    }
    if (this.supAttempts === 0) {
      // Give up on this supernode and try the best other one.
      this.cur.selection = CRITERION_BAD;
      sortSupernodes(this.sns);
      this.cur = this.sns[0];
      this.log(LogLevel.WARNING, `supernode not responding, now trying [${this.cur.text}]`);
      this.supAttempts = SUP_ATTEMPTS;
      this.resolveRequested = true;
      const port = this.config.localPort;
      if (port === 0 || port > PRIVILEGED_PORT_MAX) {
        let outside = false;
        for (const p of this.known.values()) {
          if (!p.local) {
            outside = true;
            break;
          }
        }
        if (!outside && ++this.closeSocketCounter >= CLOSE_SOCKET_COUNTER_MAX) {
          this.closeSocketCounter = 0;
          this.reopenSocket();
        }
      }
    } else {
      this.supAttempts--;
    }
    this.sendRegisterSuper();
    this.registerWithLocalPeers();
    // Keep P2P paths alive while the supernode is silent.
    if (this.snWait === 1) {
      for (const p of this.known.values()) {
        if (now - p.lastSeen > PEER_REFRESH_S) this.sendRegister(p.addr, p.mac, p.lastCookie);
      }
    }
    this.snWait = 1;
    this.lastRegisterReq = now - off;
  }

  /** Closes and re-opens the main socket (multi-NAT set-ups can get stuck, edge_utils.c). */
  private reopenSocket(): void {
    if (this.reopening || !this.udp) return;
    this.reopening = true;
    const c = this.config;
    const old = this.udp;
    this.log(LogLevel.INFO, 're-opening the main UDP socket');
    void this.deps
      .openUdp({ address: c.bindAddress, port: 0, tos: c.tos, pmtuDiscovery: c.pmtuDiscovery })
      .then(
        (s) => {
          this.reopening = false;
          if (this.stopping()) {
            s.close();
            return;
          }
          this.flushTx();
          old.close();
          this.attachUdp(s);
          if (this.preferred) this.preferred.port = s.local.port;
        },
        (err: unknown) => {
          this.reopening = false;
          this.log(LogLevel.WARNING, `re-opening the UDP socket failed: ${(err as Error).message}`);
        },
      );
  }

  /** edge_utils.c: sort_supernodes (the periodic sweep). */
  private sweep(now: number): void {
    if (now - this.lastSweep <= SWEEP_TIME_S) return;
    if (!this.snWait) sortSupernodes(this.sns);
    if (this.cur !== this.sns[0]) {
      // A better supernode: leave the current one.
      this.sendUnregisterSuper();
      this.cur = this.sns[0];
      this.supAttempts = SUP_ATTEMPTS;
      this.log(LogLevel.INFO, `registering with supernode [${this.cur.text}]`);
      this.sendRegisterSuper();
      this.lastRegisterReq = now;
      this.snWait = 1;
    }
    for (const sn of this.sns) sn.selection = sn === this.cur ? CRITERION_GOOD : CRITERION_DEFAULT;
    this.selectionCommon = selectionCommonData(
      this.config.selection,
      this.pending.size,
      this.he,
      this.sns.length,
      this.stampLow32(),
    );
    this.sendPing();
    this.lastSweep = now;
    this.snPong = false;
  }

  private stampLow32(): number {
    return this.stamps.current(this.txStamp).lo;
  }

  // ------------------------------------------------------------------ sending control messages

  private common(type: number, flags: number): Message['common'] {
    return { ttl: N2N_DEFAULT_TTL, type: type as MsgType, flags, community: this.community };
  }

  /** Header-encrypts (when -H) the control message in ctrlBuf[0, len) and returns its final length. */
  private sealControl(len: number, useStatic: boolean, trailer: boolean): number {
    if (!this.he) return len;
    this.sealer.seal(this.ctrlBuf, 0, len, useStatic ? this.staticKeys! : this.dynamicKeys!);
    if (trailer && this.userPassword) return this.auth.appendTrailer(this.ctrlBuf, 0, len);
    return len;
  }

  private sendCtrl(len: number, to: SockAddr | undefined): void {
    if (to === undefined || this.udp === undefined) {
      this.drops.txNoRoute++;
      return;
    }
    this.udp.send(this.ctrlBuf, 0, len, to);
  }

  private encodeCtrl(msg: Message): number {
    return encodeMessage(msg, this.ctrlBuf, 0);
  }

  /** edge_utils.c: send_register_super. */
  private sendRegisterSuper(): void {
    const cookie = this.random.u32();
    this.cur.lastCookie = cookie;
    const len = this.encodeCtrl({
      type: MsgType.REGISTER_SUPER,
      common: this.common(MsgType.REGISTER_SUPER, this.preferred ? Flags.SOCKET : 0),
      body: {
        cookie,
        edgeMac: this.ownMac,
        sock: this.preferred,
        devAddr: { addr: this.devAddr, bitlen: this.devAddr === 0 ? 0 : this.devBits },
        desc: this.descBytes,
        auth: this.auth.localAuth(),
        keyTime: 0,
      },
    });
    this.sendCtrl(this.sealControl(len, true, true), this.cur.addr);
  }

  /** edge_utils.c: send_unregister_super. */
  private sendUnregisterSuper(): void {
    const len = this.encodeCtrl({
      type: MsgType.UNREGISTER_SUPER,
      common: this.common(MsgType.UNREGISTER_SUPER, 0),
      body: { auth: this.auth.localAuth(), srcMac: this.ownMac },
    });
    this.sendCtrl(this.sealControl(len, false, false), this.cur.addr);
  }

  /** A QUERY_PEER for `mac` to the current supernode (edge_utils.c: send_query_peer). */
  private sendQueryPeer(mac: Mac): void {
    const len = this.encodeCtrl({
      type: MsgType.QUERY_PEER,
      common: this.common(MsgType.QUERY_PEER, 0),
      body: { srcMac: this.ownMac, targetMac: mac, aflags: 0 },
    });
    this.sendCtrl(this.sealControl(len, false, false), this.cur.addr);
  }

  /** PINGs: the best ⌊n/2⌋ supernodes, skip a random number, then ⌈n/2⌉ more (edge_utils.c: send_query_peer). */
  private sendPing(): void {
    const len = this.sealControl(
      this.encodeCtrl({
        type: MsgType.QUERY_PEER,
        common: this.common(MsgType.QUERY_PEER, 0),
        body: { srcMac: this.ownMac, targetMac: NULL_MAC, aflags: 0 },
      }),
      false,
      false,
    );
    const n = this.maxPings;
    this.maxPings = PINGS_REGULAR;
    let top = n >> 1;
    let rest = (n + 1) >> 1;
    const skipMax = this.sns.length - n;
    let skip = skipMax < 0 ? 0 : randSqr(this.random, skipMax);
    for (const sn of this.sns) {
      if (top > 0) top--;
      else if (skip > 0) {
        skip--;
        continue;
      } else if (rest > 0) rest--;
      else break;
      this.sendCtrl(len, sn.addr);
    }
  }

  /** edge_utils.c: send_register. `peerMac` 0 for the multicast REGISTER. */
  private sendRegister(to: SockAddr, peerMac: Mac, cookie: number): void {
    if (!this.config.p2p) return;
    const len = this.encodeCtrl({
      type: MsgType.REGISTER,
      common: this.common(MsgType.REGISTER, 0),
      body: {
        cookie,
        srcMac: this.ownMac,
        dstMac: peerMac,
        devAddr: { addr: this.devAddr, bitlen: this.devAddr === 0 ? 0 : this.devBits },
        desc: this.descBytes,
      },
    });
    this.sendCtrl(this.sealControl(len, false, false), to);
  }

  /** edge_utils.c: send_register_ack. */
  private sendRegisterAck(to: SockAddr, reg: Register): void {
    if (!this.config.p2p) return;
    const len = this.encodeCtrl({
      type: MsgType.REGISTER_ACK,
      common: this.common(MsgType.REGISTER_ACK, 0),
      body: { cookie: reg.cookie, dstMac: reg.srcMac, srcMac: this.ownMac },
    });
    this.sendCtrl(this.sealControl(len, false, false), to);
  }

  /** The multicast REGISTER to 224.0.0.68:1968 (edge_utils.c: register_with_local_peers). */
  private registerWithLocalPeers(): void {
    if (this.mcast !== undefined && this.config.p2p && this.preferred === undefined) {
      this.sendRegister(this.mcastAddr, NULL_MAC, Cookie.MCAST);
    }
  }

  /** Two gratuitous ARP replies through the normal PACKET path (edge_utils.c: send_grat_arps). */
  private sendGratuitousArps(): void {
    for (let i = 0; i < 2; i++) {
      // Rebuilt each time: the send path encrypts the frame in place.
      const b = this.garp;
      const o = FRAME_HEADROOM_BYTES;
      b.fill(0, o, o + GARP_BYTES);
      writeMac(b, o, BROADCAST_MAC);
      writeMac(b, o + 6, this.ownMac);
      b[o + 12] = ETHERTYPE_ARP >>> 8;
      b[o + 13] = ETHERTYPE_ARP & 0xff;
      b[o + 15] = 0x01; // hardware: Ethernet
      b[o + 16] = 0x08; // protocol: IPv4
      b[o + 18] = 6;
      b[o + 19] = 4;
      b[o + 21] = 0x02; // ARP reply
      writeMac(b, o + 22, this.ownMac);
      b.writeUInt32BE(this.devAddr >>> 0, o + 28);
      writeMac(b, o + 32, BROADCAST_MAC);
      b.writeUInt32BE(this.devAddr >>> 0, o + 38);
      this.sendFrame(b, o, GARP_BYTES, FRAME_HEADROOM_BYTES);
    }
  }

  // ------------------------------------------------------------------ TAP → network

  private readonly onTapFrames = (batch: FrameBatch): void => {
    const slab = batch.slab;
    const n = batch.count;
    // Datagrams built in place in this slab are queued and leave in one sendmmsg at the end.
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
    }
  };

  /**
   * Sends buf[off, off+len) to `to` (`ip4` = its IPv4 as u32, or -1): queued for the batch send when `buf` is the
   * TAP slab being processed, else at once (after what is queued, to keep the order).
   */
  private udpSend(buf: Uint8Array, off: number, len: number, to: SockAddr, ip4: number): void {
    if (buf !== this.txBatchBuf || this.batchUdp === undefined) {
      this.flushTx();
      this.udp?.send(buf, off, len, to);
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
      try {
        encodeSockAddr(to, addrs, a);
      } catch {
        this.txCount--;
        this.drops.txNoRoute++;
      }
    }
  }

  /** Sends what udpSend queued, after encrypting (and sealing) the frames still waiting for it. */
  private flushTx(): void {
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
    if (this.he) {
      const keys = this.dynamicKeys!;
      for (let j = 0; j < n; j++)
        this.sealer.seal(buf, this.sealOffs[j], this.sealLens[j], keys, this.sealHls[j]);
    }
    return true;
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
    if (this.lastSup === 0) {
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
    if (
      !this.config.allowRouting &&
      ((buf[off + ETHERTYPE_OFFSET] << 8) | buf[off + ETHERTYPE_OFFSET + 1]) === ETHERTYPE_IPV4
    ) {
      // Only IPv4 we originate leaves without -r.
      if (len < ETH_HEADER_BYTES + IPV4_MIN_HEADER_BYTES || readU32(buf, off + IPV4_SRC) !== this.devAddr) {
        this.drops.txRouted++;
        return;
      }
    }
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
      this.ownMac,
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
        this.sealer.seal(out, hdrOff, total, this.dynamicKeys!, hl);
      }
    }
    this.sendPacket(dstMac, out, hdrOff, total);
  }

  /** edge_utils.c: send_packet with find_peer_destination. */
  private sendPacket(dstMac: Mac, out: Uint8Array, off: number, total: number): void {
    if (this.udp === undefined) {
      this.drops.txNoRoute++;
      return;
    }
    if (isN2nMulticastOrBroadcast(dstMac)) {
      this.traffic.txSup++;
      this.traffic.txSupBroadcast++;
      if (this.snWait !== 0) {
        // No supernode: hand broadcasts to every peer we reach directly.
        for (const p of this.known.values()) this.udpSend(out, off, total, p.addr, p.ip4);
        return;
      }
      const sn = this.cur.addr;
      if (sn === undefined) this.drops.txNoRoute++;
      else this.udpSend(out, off, total, sn, this.cur.ip4);
      return;
    }
    const now = this.packetNow();
    const peer = this.known.get(dstMac);
    if (peer !== undefined && peer.lastSeen > 0) {
      if (now - peer.lastP2p >= Math.floor(peer.timeout / 2)) {
        // Silent for too long: the path may be gone; go via the supernode and register again.
        this.known.delete(dstMac);
        this.postPeer(PeerAction.DEL_P2P, peer, true, 'stale');
      } else {
        this.traffic.txP2p++;
        this.udpSend(out, off, total, peer.addr, peer.ip4);
        return;
      }
    }
    this.traffic.txSup++;
    const sn = this.cur.addr;
    // Query first: it uses ctrlBuf, so the frame in `out` stays intact.
    this.checkQueryPeerInfo(now, dstMac);
    if (sn === undefined) this.drops.txNoRoute++;
    else this.udpSend(out, off, total, sn, this.cur.ip4);
  }

  /** edge_utils.c: check_query_peer_info — at most one query + relayed REGISTER per interval and MAC. */
  private checkQueryPeerInfo(now: number, mac: Mac): void {
    let p = this.pending.get(mac);
    if (p === undefined) {
      if (this.pending.size >= MAX_PEERS) {
        this.drops.peersFull++;
        return;
      }
      p = newPeer(mac, { family: 4, address: '0.0.0.0', port: 0 }, now, this.config.registerInterval);
      this.stamps.initialRecord(p.stamp);
      this.pending.set(mac, p);
    }
    if (now - p.lastSentQuery > this.config.registerInterval) {
      this.sendRegister(this.cur.addr ?? this.mcastAddr, mac, Cookie.FORWARDED);
      this.sendQueryPeer(mac);
      p.lastSentQuery = now;
    }
  }

  // ------------------------------------------------------------------ network → TAP

  private readonly onUdp = (data: Buffer, from: SockAddr): void => {
    this.processUdp(data, 0, data.length, from, false);
  };

  private readonly onMulticast = (data: Buffer, from: SockAddr): void => {
    this.processUdp(data, 0, data.length, from, true);
  };

  /**
   * A batch of datagrams from the batched UDP socket: processed in place in its slab, senders decoded through a
   * small cache (no allocation for known peers), and the resulting TAP frames written in one call.
   */
  private readonly onUdpBatch = (b: DatagramBatch): void => {
    const slab = b.slab;
    const addrs = b.addrs;
    this.rxBatching = true;
    this.batchNow = nowSeconds(this.clock);
    try {
      for (let i = 0; i < b.count; i++) {
        const a = i * SOCKADDR_BYTES;
        let from: SockAddr;
        if (addrs[a] === 4) {
          const ip4 =
            ((addrs[a + 4] << 24) | (addrs[a + 5] << 16) | (addrs[a + 6] << 8) | addrs[a + 7]) >>> 0;
          from = this.cachedAddr(ip4, (addrs[a + 2] << 8) | addrs[a + 3]);
        } else {
          from = decodeSockAddr(addrs, a);
        }
        this.rxFrom = from;
        this.rxFromIp4 =
          addrs[a] === 4
            ? ((addrs[a + 4] << 24) | (addrs[a + 5] << 16) | (addrs[a + 6] << 8) | addrs[a + 7]) >>> 0
            : -1;
        this.processUdp(slab, i * b.stride + b.headroom, b.lengths[i], from, false);
      }
    } finally {
      this.rxBatching = false;
      this.batchNow = -1;
      this.rxFrom = undefined;
      if (this.decCount > 0) this.runRxCrypto();
      this.tapSlots = 0;
      this.flushTapWrites();
    }
  };

  /** The SockAddr of an IPv4 sender, shared between datagrams from it (the objects are never mutated). */
  private cachedAddr(ip4: number, port: number): SockAddr {
    const key = ip4 * 0x10000 + port;
    let a = this.addrCache.get(key);
    if (a === undefined) {
      if (this.addrCache.size >= ADDR_CACHE_MAX) this.addrCache.clear();
      a = { family: 4, address: numberToIpv4(ip4), port };
      this.addrCache.set(key, a);
    }
    return a;
  }

  /** Finds the supernode that sent a datagram, by socket (no allocation). */
  private snByAddr(from: SockAddr): SupernodeEntry | undefined {
    const sns = this.sns;
    for (let i = 0; i < sns.length; i++) {
      const a = sns[i].addr;
      if (a !== undefined && a.port === from.port && a.address === from.address) return sns[i];
    }
    return undefined;
  }

  /** edge_utils.c: process_udp for the datagram buf[off, off+len). Never throws: every failure is a counted drop. */
  private processUdp(buf: Buffer, off: number, len: number, from: SockAddr, viaMcast: boolean): void {
    if (this.state !== EdgeState.RUNNING && this.state !== EdgeState.STARTING) return;
    if (len < COMMON_HEADER_BYTES) {
      this.drops.rxShort++;
      return;
    }
    let keyUsed: number = HeaderKeyUsed.DYNAMIC;
    if (this.he) {
      keyUsed = decryptHeaderTryKeys(
        buf,
        off,
        len,
        this.dynamicKeys!,
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
      sn = this.snByAddr(from);
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
      this.log(
        LogLevel.WARNING,
        `error handling ${MsgType[type as never] ?? type} from ${sockAddrToString(from)}: ${(err as Error).message}`,
      );
    }
  }

  /** The replay check (spec §6): against the supernode's record, else the peer's (pending, then known). */
  private stampOk(sn: SupernodeEntry | undefined, mac: Mac, jitter: boolean): boolean {
    if (!this.he) return true;
    let rec: StampRecord | undefined;
    if (sn !== undefined) rec = sn.stamp;
    else {
      const p = this.pending.get(mac) ?? this.known.get(mac);
      rec = p?.stamp;
    }
    if (this.stamps.verify(this.rxStamp, rec, jitter)) return true;
    this.drops.rxStamp++;
    return false;
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
    if (!this.stampOk(sn, v.srcMac, true)) return;
    if (this.lastSup === 0) {
      this.drops.rxNotRegistered++;
      return;
    }
    const now = this.packetNow();
    if (!fromSn) {
      // A direct packet: the path works, stop registering via the supernode.
      if (this.pending.size > 0) this.pending.delete(v.srcMac);
      this.checkPeerRegistration(false, viaMcast, v.srcMac, Cookie.REGULAR, from, -1, 0, now);
    } else if (v.hasSock && v.sockFamily === 4 && v.sockIpv4 !== LOCALHOST_V4) {
      // Relayed: the sender's public socket is in the header; built lazily to avoid allocating.
      this.checkPeerRegistration(
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
      this.checkPeerRegistration(true, viaMcast, v.srcMac, Cookie.FORWARDED, from, -1, 0, now);
    }
    this.handlePacket(buf, payloadOff, end, fromSn, now);
  }

  /** edge_utils.c: handle_PACKET, for the payload buf[payloadOff, end). */
  private handlePacket(buf: Buffer, payloadOff: number, end: number, fromSn: boolean, now: number): void {
    const v = this.view;
    const t = this.traffic;
    if (fromSn) {
      if (isN2nMulticastOrBroadcast(v.dstMac)) t.rxSupBroadcast++;
      t.rxSup++;
      this.lastSup = now;
    } else {
      t.rxP2p++;
      this.lastP2p = now;
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
    if (this.tap === undefined || !this.tap.write(frame, fOff, n)) this.drops.rxTapWrite++;
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

  /** edge_utils.c: handle_PACKET's checks on the plaintext frame[fOff, +n); a refused frame is counted. */
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
      readU32(frame, fOff + IPV4_DST) !== this.devAddr
    ) {
      this.drops.rxRouted++;
      return false;
    }
    if (this.filter !== undefined && !this.filter.accepts(frame, fOff, n)) {
      this.drops.rxFiltered++;
      return false;
    }
    return true;
  }

  /** Writes the frames collected from one UDP batch to the TAP device in one call. */
  private flushTapWrites(): void {
    const n = this.tapBatchCount;
    if (n === 0) return;
    this.tapBatchCount = 0;
    const written =
      this.tap === undefined ? 0 : this.tap.writeBatch(this.tapSlab, this.tapOffsets, this.tapLengths, n);
    if (written < n) this.drops.rxTapWrite += n - written;
  }

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
        this.rxRegister(msg.body, from, sn, fromSn, viaMcast, now);
        return;
      case MsgType.REGISTER_ACK:
        this.rxRegisterAck(msg.body, from, sn, now);
        return;
      case MsgType.REGISTER_SUPER_ACK:
        this.rxRegisterSuperAck(msg.body, raw, rawEnd, from, sn, now);
        return;
      case MsgType.REGISTER_SUPER_NAK:
        this.rxRegisterSuperNak(msg.body, sn);
        return;
      case MsgType.PEER_INFO:
        this.rxPeerInfo(msg.body, (msg.common.flags & Flags.SOCKET) !== 0, from, sn, now);
        return;
      case MsgType.RE_REGISTER_SUPER:
        if (!this.stampOk(sn, NULL_MAC, false)) return;
        // Only user/password edges need the new dynamic key at once; others re-register on schedule.
        if (!this.userPassword) {
          this.drops.rxIgnored++;
          return;
        }
        this.log(LogLevel.INFO, 'Rx RE_REGISTER_SUPER');
        this.snWait = 2;
        if (this.state === EdgeState.RUNNING) this.updateSupernodeReg(now);
        return;
      default:
        this.drops.rxIgnored++;
    }
  }

  /** Another edge registers with us (edge_utils.c: process_udp, MSG_TYPE_REGISTER). */
  private rxRegister(
    reg: Register,
    from: SockAddr,
    sn: SupernodeEntry | undefined,
    fromSn: boolean,
    viaMcast: boolean,
    now: number,
  ): void {
    viaMcast = viaMcast && reg.dstMac === NULL_MAC;
    if (!this.stampOk(sn, reg.srcMac, viaMcast)) return;
    let origin = from;
    if (reg.sock !== undefined) {
      const a = sockToAddr(reg.sock);
      if (isValidPeerAddr(a)) origin = a;
    }
    if (viaMcast && reg.srcMac === this.ownMac) return; // our own multicast REGISTER
    if (!viaMcast && reg.dstMac !== this.ownMac) {
      this.drops.rxIgnored++;
      return;
    }
    if (this.state !== EdgeState.RUNNING) return;
    if (!fromSn) {
      this.pending.delete(reg.srcMac);
      // Only direct REGISTERs are acknowledged.
      this.sendRegisterAck(origin, reg);
    }
    this.checkPeerRegistration(fromSn, viaMcast, reg.srcMac, reg.cookie, origin, -1, 0, now, reg);
  }

  /** A peer confirms our REGISTER: P2P works (edge_utils.c: peer_set_p2p_confirmed). */
  private rxRegisterAck(ra: RegisterAck, from: SockAddr, sn: SupernodeEntry | undefined, now: number): void {
    if (!this.stampOk(sn, ra.srcMac, false)) return;
    if (this.state !== EdgeState.RUNNING) return;
    let p = this.pending.get(ra.srcMac);
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
      this.drops.peersFull++;
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
    this.log(
      LogLevel.DEBUG,
      `p2p connection established: ${macToString(p.mac)} [${sockAddrToString(p.addr)}]`,
    );
  }

  /** edge_utils.c: process_udp, MSG_TYPE_REGISTER_SUPER_ACK (spec §12.2 "ACK acceptance"). */
  private rxRegisterSuperAck(
    ra: RegisterSuperAck,
    raw: Buffer,
    rawEnd: number,
    from: SockAddr,
    sn: SupernodeEntry | undefined,
    now: number,
  ): void {
    if (this.snWait === 0) {
      this.drops.rxUnexpected++;
      return;
    }
    if (sn === undefined) {
      this.drops.rxUnknownSupernode++;
      return;
    }
    if (!this.stampOk(sn, ra.srcMac, false)) return;
    if (this.userPassword && !this.auth.checkTrailer(this.trailerHash, raw, rawEnd)) {
      this.drops.rxAuth++;
      return;
    }
    if (ra.cookie !== this.cur.lastCookie) {
      this.drops.rxCookie++;
      return;
    }
    if (this.userPassword) {
      const dk = this.auth.handleAckAuth(ra.auth);
      if (dk === undefined) {
        this.drops.rxAuth++;
        this.log(
          LogLevel.NORMAL,
          'Rx REGISTER_SUPER_ACK with wrong response to challenge (wrong federation key -P?)',
        );
        return;
      }
      this.dynamicKeys = dk;
    } else if (ra.auth.scheme !== AuthScheme.NONE && ra.auth.scheme !== AuthScheme.ID) {
      this.drops.rxAuth++;
      return;
    }
    if (this.cur.mac === NULL_MAC) this.cur.mac = ra.srcMac;
    for (const e of ra.supernodes) {
      const addr = sockToAddr(e.sock);
      let known = false;
      for (const s of this.sns) {
        if ((e.mac !== NULL_MAC && s.mac === e.mac) || (s.addr !== undefined && sameAddr(s.addr, addr))) {
          if (s.mac === NULL_MAC) s.mac = e.mac;
          known = true;
          break;
        }
      }
      if (known || this.sns.length >= MAX_SUPERNODE_ENTRIES) continue;
      const text = sockAddrToString(addr);
      const entry = newSupernodeEntry(text, addr.address, addr.port, true);
      setSupernodeAddr(entry, addr);
      entry.mac = e.mac;
      this.sns.push(entry);
      this.log(LogLevel.NORMAL, `supernode '${text}' added to the list of supernodes.`);
    }
    if (
      this.config.addressMode === AddressMode.SUPERNODE &&
      ra.devAddr.addr !== 0 &&
      ra.devAddr.bitlen !== 0
    ) {
      this.assignedAddr = ra.devAddr.addr;
      this.assignedBits = ra.devAddr.bitlen;
    }
    this.snWait = 0;
    this.supAttempts = SUP_ATTEMPTS;
    if (this.ownMac !== NULL_MAC) {
      const first = this.lastSup === 0;
      if (first) {
        this.log(LogLevel.NORMAL, '[OK] edge <<< ================ >>> supernode');
        this.lastSup = now;
        this.sendGratuitousArps();
      }
      this.lastSup = now;
      const pub = isValidPeerAddr(sockToAddr(ra.sock)) ? sockToAddr(ra.sock) : from;
      this.emit('registered', {
        supernode: this.cur.text,
        publicAddr: sockAddrToString(pub),
        first,
      } satisfies RegisteredEvent);
    }
    this.bootWake?.();
  }

  /** A refusal: logged, never fatal (edge_utils.c: MSG_TYPE_REGISTER_SUPER_NAK). */
  private rxRegisterSuperNak(nak: RegisterSuperNak, sn: SupernodeEntry | undefined): void {
    if (this.snWait === 0) {
      this.drops.rxUnexpected++;
      return;
    }
    if (!this.stampOk(sn, nak.srcMac, false)) return;
    if (nak.cookie !== this.cur.lastCookie) {
      this.drops.rxCookie++;
      return;
    }
    if (nak.srcMac === this.ownMac) {
      const why = this.userPassword
        ? 'username or password not recognized by supernode'
        : 'MAC or IP address already in use or not released yet by supernode';
      this.log(LogLevel.ERROR, `authentication error, ${why}`);
      this.emit('refused', why);
    }
  }

  /** PONG or the answer to a QUERY_PEER (edge_utils.c: MSG_TYPE_PEER_INFO). */
  private rxPeerInfo(
    pi: PeerInfo,
    hasSock: boolean,
    from: SockAddr,
    sn: SupernodeEntry | undefined,
    now: number,
  ): void {
    if (!this.stampOk(sn, NULL_MAC, true)) return;
    const piAddr = sockToAddr(pi.sock);
    if (hasSock && !isValidPeerAddr(piAddr)) {
      this.drops.rxIgnored++;
      return;
    }
    if (pi.mac === NULL_MAC) {
      // PONG: find the supernode by MAC, else by socket (and learn its MAC).
      let s: SupernodeEntry | undefined;
      if (pi.srcMac !== NULL_MAC) s = this.sns.find((x) => x.mac === pi.srcMac);
      if (s === undefined) {
        s = this.snByAddr(from);
        if (s !== undefined && pi.srcMac !== NULL_MAC) s.mac = pi.srcMac;
      }
      if (s === undefined) {
        this.drops.rxUnknownSupernode++;
        return;
      }
      this.snPong = true;
      s.lastSeen = now;
      s.uptime = pi.uptime;
      const nul = pi.version.indexOf(0);
      s.version = Buffer.from(pi.version.subarray(0, nul < 0 ? pi.version.length : nul)).toString('latin1');
      s.selection = criterionFromPong(s, byteSwap32(pi.load), {
        strategy: this.config.selection,
        common: this.selectionCommon,
        isCurrent: s === this.cur,
        peerCount: this.known.size + this.pending.size,
        stampLow32: this.stampLow32(),
      });
      this.bootWake?.();
      return;
    }
    if (this.state !== EdgeState.RUNNING) return;
    const p = this.pending.get(pi.mac) ?? this.known.get(pi.mac);
    if (p === undefined) {
      this.drops.rxIgnored++;
      return;
    }
    if (!sameAddr(p.addr, piAddr)) setPeerAddr(p, piAddr);
    if (hasSock && pi.preferredSock !== undefined) {
      p.preferred = sockToAddr(pi.preferredSock);
      this.sendRegister(p.preferred, p.mac, Cookie.LOCAL);
    }
    this.sendRegister(p.addr, p.mac, Cookie.REGULAR);
  }

  // ------------------------------------------------------------------ peer state machine (spec §12.5)

  /**
   * edge_utils.c: check_peer_registration_needed. The sender's socket is `addr`, or (to spare an allocation
   * on the relayed data path) the IPv4 `ip4`:`port` when `addr` is undefined.
   */
  private checkPeerRegistration(
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
    if (this.state !== EdgeState.RUNNING) return;
    if (addr !== undefined) {
      // The sender of the datagram being processed already has its numeric form (no text parsing per packet).
      ip4 = addr === this.rxFrom ? this.rxFromIp4 : addr.family === 4 ? ipv4Value(addr.address) : -1;
      port = addr.port;
    }
    let p = this.known.get(mac);
    if (p === undefined) {
      // The same socket under another MAC: the peer changed its MAC.
      for (const q of this.known.values()) {
        if (addr !== undefined ? sameAddr(q.addr, addr) : q.ip4 === ip4 && q.port === port) {
          p = q;
          break;
        }
      }
      if (p !== undefined) {
        this.known.delete(p.mac);
        p.mac = mac;
        this.known.set(mac, p);
        p.lastCookie = NO_COOKIE;
      }
    }
    if (p === undefined) {
      this.registerWithNewPeer(fromSn, viaMcast, mac, addr, ip4, port, now, reg);
      return;
    }
    if (!fromSn) p.lastP2p = now;
    if (viaMcast) p.local = true;
    if (now - p.lastSeen > 0 || cookie > p.lastCookie) {
      // edge_utils.c: check_known_peer_sock_change.
      if (ip4 === 0 || isN2nMulticastOrBroadcast(mac)) return;
      if (p.ip4 === ip4 && p.port === port && (ip4 !== -1 || addr === undefined || sameAddr(p.addr, addr))) {
        p.lastSeen = now;
      } else if (!fromSn) {
        // A direct packet from a new socket: the peer moved; it is not reachable where we thought.
        const a = addr ?? this.addrOf(ip4, port);
        this.log(
          LogLevel.NORMAL,
          `peer ${macToString(mac)} changed [${sockAddrToString(p.addr)}] -> [${sockAddrToString(a)}]`,
        );
        this.known.delete(mac);
        this.postPeer(PeerAction.DEL_P2P, p, true, 'moved');
        this.registerWithNewPeer(fromSn, viaMcast, mac, a, ip4, port, now, reg);
      }
      // Relayed packets never change a known socket: the supernode may see another one.
    }
  }

  private addrOf(ip4: number, port: number): SockAddr {
    return { family: 4, address: numberToIpv4(ip4), port };
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
    let p = this.pending.get(mac);
    if (p === undefined) {
      if (this.pending.size >= MAX_PEERS) {
        this.drops.peersFull++;
        return;
      }
      const a = addr ?? this.addrOf(ip4, port);
      p = newPeer(mac, a, now, this.config.registerInterval);
      this.stamps.initialRecord(p.stamp);
      if (viaMcast) p.local = true;
      this.pending.set(mac, p);
      this.log(LogLevel.DEBUG, `new pending peer ${macToString(mac)} [${sockAddrToString(a)}]`);
      if (fromSn) {
        // Punch our NAT towards the peer, then ask the supernode to forward a REGISTER so it punches back.
        const ttl = this.config.registerTtl;
        if (ttl === 1) {
          // DMZ host: the peer's REGISTER will reach us; nothing to punch.
        } else if (ttl > 1) {
          const udp = this.udp;
          if (udp !== undefined && canSetTtl(udp)) udp.setTtl(ttl);
          for (let i = 0; i < PORT_PREDICTION_BURST; i++) {
            this.sendRegister(
              { family: a.family, address: a.address, port: (a.port + i) & 0xffff },
              mac,
              Cookie.PORT,
            );
          }
          if (udp !== undefined && canSetTtl(udp)) udp.setTtl(DEFAULT_IP_TTL);
        } else {
          this.sendRegister(a, mac, Cookie.REGULAR);
        }
        this.sendRegister(this.cur.addr ?? a, mac, Cookie.FORWARDED);
      } else {
        this.sendRegister(a, mac, Cookie.REGULAR);
      }
      this.registerWithLocalPeers();
    } else if (addr !== undefined ? !sameAddr(p.addr, addr) : p.ip4 !== ip4 || p.port !== port) {
      setPeerAddr(p, addr ?? this.addrOf(ip4, port));
    }
    p.lastSeen = now;
    if (reg !== undefined) {
      p.devAddr = reg.devAddr.addr;
      p.devBits = reg.devAddr.bitlen;
      const nul = reg.desc.indexOf(0);
      p.desc = Buffer.from(reg.desc.subarray(0, nul < 0 ? reg.desc.length : nul)).toString('latin1');
    }
  }

  /** Reports a peer table change: `peer` for the management port, `peerUp`/`peerDown` for known peers. */
  private postPeer(action: PeerAction, p: Peer, known: boolean, reason?: PeerChange['reason']): void {
    const sockaddr = sockAddrToString(p.addr);
    this.emit('peer', { action, mac: p.mac, sockaddr } satisfies PeerEvent);
    if (action === PeerAction.ADD_P2P) {
      this.emit('peerUp', { mac: macToString(p.mac), sockaddr } satisfies PeerChange);
    } else if (known) {
      const r =
        reason ?? (action === PeerAction.PURGE ? 'purge' : action === PeerAction.CLEAR ? 'clear' : 'moved');
      this.emit('peerDown', { mac: macToString(p.mac), sockaddr, reason: r } satisfies PeerChange);
    }
  }
}
