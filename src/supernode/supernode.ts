// The supernode facade: builds the parts below, wires them together and keeps the public API (spec §7.7, §8, §9).
//
// Like wireguard-go's device, one file per concern, each owning its state (no I/O but through deps):
//   context.ts      what all parts share: config, stats, clock, randomness, identity, send buffers
//   timers.ts       the timing constants and the one coarse tick that runs all periodic work
//   communities.ts  the community table, `-c` patterns, header-key trial order
//   transport.ts    UDP socket, TCP listener and framing, every send
//   auth.ts         auth schemes, user/password, dynamic keys, RE_REGISTER_SUPER
//   federation.ts   federation members, re-registration, their ACKs, associations, key time
//   relay.ts        PACKET / REGISTER / QUERY_PEER / PEER_INFO forwarding and broadcasts
//   registry.ts     edge registration (REGISTER_SUPER → ACK/NAK), unregistration, expiry
//   receive.ts      the datagram pipeline (sn_utils.c: process_udp) dispatching to the three above
// A file imports only files above it in this list, plus the records and helpers (types, community,
// community-list, autoip, addr, options, stats). The ways back up are callbacks the facade wires once: the
// transport's (a datagram arrived; a TCP connection an edge registered over closed) and the timer's work.
import { EventEmitter } from 'node:events';
import { ConfigError } from '../util/errors.js';
import { type SockAddr, sockAddrToString } from '../util/ip.js';
import { type Logger, LogLevel } from '../util/log.js';
import { type Mac, macToString } from '../util/mac.js';
import { Authenticator } from './auth.js';
import { CommunityTable } from './communities.js';
import type { Community, SnPeer } from './community.js';
import { parseCommunityList } from './community-list.js';
import { SnContext } from './context.js';
import { defaultSupernodeDeps } from './deps.js';
import { Federation } from './federation.js';
import { resolveSupernodeOptions, type SupernodeConfig, type SupernodeOptions } from './options.js';
import { Receiver } from './receive.js';
import { edgeInfo, Registry } from './registry.js';
import { Relay } from './relay.js';
import type { SupernodeStats } from './stats.js';
import { Timers } from './timers.js';
import { Transport } from './transport.js';
import type { EdgeInfo, SupernodeDeps, SupernodeEvents } from './types.js';

export {
  ASSOCIATION_TIMEOUT_SECONDS,
  FEDERATION_PASS_SECONDS,
  PURGE_SECONDS,
  REG_LIFETIME_SECONDS,
  REGISTRATION_TIMEOUT_SECONDS,
  RESOLVE_RETRY_SECONDS,
  SN_ACTIVE_SECONDS,
  SN_INACTIVE_SECONDS,
  SN_NEW_SECONDS,
  SORT_SECONDS,
  SUPERNODE_TICK_MS,
} from './timers.js';
export type {
  EdgeInfo,
  SupernodeDeps,
  SupernodeEvents,
  TcpConn,
  TcpListener,
  UnregisterReason,
} from './types.js';

/**
 * An n2n 3.1.1 supernode. `start()` binds the UDP port and starts the one coarse timer; `stop()` releases
 * both. Management (src/management) and the CLI sit on top and read the public state below.
 */
export class Supernode extends EventEmitter<SupernodeEvents> {
  readonly config: SupernodeConfig;
  readonly stats: SupernodeStats;
  /** The supernode's MAC (random unless configured). */
  readonly mac: Mac;
  /** The federation, a community named '*<name>' whose "edges" are the other supernodes. */
  readonly federation: Community;
  readonly logger: Logger;

  private readonly ctx: SnContext;
  private readonly table: CommunityTable;
  private readonly transport: Transport;
  private readonly auth: Authenticator;
  private readonly fed: Federation;
  private readonly relay: Relay;
  private readonly registry: Registry;
  private readonly receiver: Receiver;
  private readonly timers: Timers;

  constructor(options: SupernodeOptions = {}, deps: Partial<SupernodeDeps> = {}) {
    super();
    const ctx = new SnContext(resolveSupernodeOptions(options), { ...defaultSupernodeDeps(), ...deps }, this);
    this.ctx = ctx;
    this.config = ctx.config;
    this.stats = ctx.stats;
    this.mac = ctx.mac;
    this.logger = ctx.logger;
    // Bottom up; the transport's two callbacks reach parts built after it (created once, not per datagram).
    this.table = new CommunityTable(ctx);
    this.federation = this.table.federation;
    this.transport = new Transport(
      ctx,
      (buf, off, len, from) => this.receiver.receive(buf, off, len, from),
      (comm, edge) => this.registry.deleteEdge(comm, edge, 'closed'),
    );
    this.auth = new Authenticator(ctx, this.table, this.transport);
    this.fed = new Federation(ctx, this.table, this.auth, this.transport);
    this.relay = new Relay(ctx, this.table, this.fed, this.transport);
    this.registry = new Registry(ctx, this.table, this.auth, this.fed, this.relay, this.transport);
    this.receiver = new Receiver(ctx, this.table, this.fed, this.relay, this.registry);
    this.timers = new Timers(ctx, {
      reRegisterFederation: (now) => this.fed.reRegister(false, now),
      closeIdleConnections: (now) => this.transport.closeIdle(now),
      purgeRegistrations: (now) => this.registry.purge(now),
      sortCommunities: () => {
        this.ctx.fastRelay?.countOpened();
        this.table.sort();
      },
      resolvePeers: () => this.fed.resolvePeers(),
    });
  }

  // ---------------------------------------------------------------- public state

  /** Whole seconds of the injected clock (C's time(NULL)). */
  nowSec(): number {
    return this.ctx.nowSec();
  }

  /** Unix second of start(). */
  get startTime(): number {
    return this.ctx.startSec;
  }

  /** The dynamic key time (0 without a community file). */
  get keyTime(): number {
    return this.auth.keyTime;
  }

  /** The bound main socket address (after start). */
  get address(): SockAddr | undefined {
    return this.transport.local;
  }

  get running(): boolean {
    return this.ctx.running;
  }

  /** True when a `-c` file restricts the communities. */
  get communitiesLocked(): boolean {
    return this.table.locked;
  }

  /** Registered edges over all communities. */
  get edgeCount(): number {
    return this.registry.edgeCount;
  }

  /** All communities in management order, the federation first. Read-only: do not modify. */
  communityList(): Community[] {
    return this.table.list();
  }

  /** Patterns loaded from the community file. */
  patternList(): string[] {
    return this.table.patternList();
  }

  /** The load figure sent in PONGs (sn_selection.c: sn_selection_criterion_gather_data). */
  load(): number {
    return this.table.load();
  }

  /** Event/management view of an edge. */
  edgeInfo(comm: Community, e: SnPeer): EdgeInfo {
    return edgeInfo(comm, e);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads the community file, resolves `-l` peers, binds the socket and starts the timer. */
  async start(): Promise<void> {
    const { ctx } = this;
    if (ctx.running) throw new Error('supernode already started');
    const now = ctx.nowSec();
    ctx.startSec = now;
    if (this.config.communityFile !== undefined) {
      const rc = this.loadCommunityFile(true);
      if (rc === -1) throw new ConfigError(`community file ${this.config.communityFile} not found`);
      if (rc === -2) {
        throw new ConfigError(
          `community file ${this.config.communityFile} has no valid community names or regular expressions`,
        );
      }
    }
    await this.fed.addConfiguredPeers();
    const local = await this.transport.open();
    ctx.running = true;
    this.timers.start(now);
    ctx.log(LogLevel.INFO, `supernode ${macToString(this.mac)} listening on UDP ${sockAddrToString(local)}`);
    this.emit('started');
  }

  /** Stops the timer and closes the socket. Idempotent. */
  async stop(): Promise<void> {
    if (!this.ctx.running) return;
    this.ctx.running = false;
    this.timers.stop();
    this.transport.close();
    this.ctx.log(LogLevel.NORMAL, 'supernode stopped');
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

  /** Handles one datagram from the main socket; never throws. */
  receive(data: Buffer, from: SockAddr): void {
    this.receiver.receive(data, 0, data.length, from);
  }

  /**
   * sn_utils.c: load_allowed_sn_community. It touches every part, in this order: edges of user/password
   * communities hear RE_REGISTER_SUPER under the old keys, the old communities go, a new key time starts
   * and the federation hears it, then the file's communities come in and get their dynamic keys.
   */
  private loadCommunityFile(initial: boolean): number {
    const { ctx } = this;
    const path = this.config.communityFile!;
    let text: string;
    try {
      text = ctx.deps.readTextFile(path);
    } catch (e) {
      // At start-up the caller turns this into a ConfigError; log only on reloads.
      if (!initial) ctx.log(LogLevel.WARNING, `community file ${path}: ${(e as Error).message}`);
      return -1;
    }
    const now = ctx.nowSec();
    if (!initial) this.auth.sendReRegisterSuper();
    this.registry.removeAllCommunities('reload');
    this.table.clearPatterns();
    this.auth.restartKeyTime(now);
    if (!initial) this.fed.reRegister(true, now);
    const list = parseCommunityList(text);
    this.table.loadList(list, path, (u) => this.auth.makeUser(u));
    if (list.communities.length + list.patterns.length === 0) return -2;
    this.auth.computeDynamicKeys();
    this.table.lock();
    ctx.log(
      LogLevel.NORMAL,
      `loaded ${list.communities.length} fixed-name communities and ${list.patterns.length} regular expressions from ${path}`,
    );
    return 0;
  }
}
