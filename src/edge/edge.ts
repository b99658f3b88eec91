// The n2n edge (spec §12): the public facade that wires the parts together and runs start / stop.
//
// The parts, each owning its state (after wireguard-go's device.go / peer.go / send.go / receive.go / timers.go):
//   context.ts       what they share: configuration, injected I/O, crypto set-up, identity, sockets, counters
//   mss-limits.ts    --mss-clamp: the MSS limits the packet paths clamp to (fixed, or from the route MTU)
//   control.ts       control messages out: encode, seal (-H), send
//   peer-table.ts    the other edges: pending / known tables, REGISTER / ACK / PEER_INFO, hole punching, purge
//   peer-watch.ts    those tables as events: a peer up / down / changing path (`peerState`)
//   fastpath.ts      the native fast path (steady-state P2P data in the addon): when, which peers, its counters
//   send.ts          TAP → UDP: checks, compression, encryption, PACKET header, (batched) send
//   receive.ts       UDP → TAP: header decryption, checks, peer bookkeeping, decryption, TAP writes; dispatch
//   registration.ts  the supernodes: bootstrap, REGISTER_SUPER / ACK / NAK, selection, failover, DNS, re-open
//   device.ts        the TAP device, our address, -e, -n routes, closing
//   timers.ts        the one coarse tick and every periodic action
// Each file imports only those before it in: constants, context, mss-limits, control, peer-table, peer-watch,
// fastpath, send, registration, receive, device, timers, edge. The Edge builds the parts in that order and hands each the ones it calls.
import { EventEmitter } from 'node:events';
import { isConnectionSocket } from '../io/tcp-framed.js';
import type { UdpSocket } from '../io/types.js';
import type { Logger } from '../util/log.js';
import type { Mac } from '../util/mac.js';
import { EdgeContext, EdgeState, nowSeconds, type PeerEvent, UnregisterReason } from './context.js';
import { Control } from './control.js';
import type { EdgeDeps } from './deps.js';
import { Device } from './device.js';
import { EdgeFastPath } from './fastpath.js';
import { MssLimits } from './mss-limits.js';
import type { EdgeConfig, EdgeOptions } from './options.js';
import { PeerTable } from './peer-table.js';
import { type PeerStateEvent, PeerWatch } from './peer-watch.js';
import type { Peer } from './peers.js';
import { ReceivePath } from './receive.js';
import { Registration } from './registration.js';
import { SendPath } from './send.js';
import type { EdgeDrops, EdgeTraffic } from './stats.js';
import type { SupernodeEntry } from './supernodes.js';
import { Timers } from './timers.js';

export { MAX_PEERS } from './constants.js';
export type { PeerChange, PeerEvent, RegisteredEvent, UnregisteredEvent } from './context.js';
export { EdgeState, PeerAction, UnregisterReason } from './context.js';
export type { PeerStateEvent } from './peer-watch.js';
export { PeerDownReason, PeerPath, PeerStateChange } from './peer-watch.js';

/**
 * An n2n 3.1.1 edge. Create it with options (and, for tests, injected I/O), `await start()`, `await stop()`.
 * Events: `registered` (RegisteredEvent, every ACK) / `unregistered` (UnregisteredEvent), `peerUp` / `peerDown`
 * (PeerChange: P2P confirmed / lost), `peerState` (PeerStateEvent: any peer up, down, changing path), `peer`
 * (PeerEvent, for the management port), `refused` (the supernode's reason), `stopped`.
 */
export class Edge extends EventEmitter {
  readonly config: EdgeConfig;
  readonly drops: EdgeDrops;
  readonly logger: Logger;
  /** Unix seconds of start(). */
  startTime = 0;

  private readonly ctx: EdgeContext;
  private readonly peers: PeerTable;
  private readonly watch: PeerWatch;
  private readonly send: SendPath;
  private readonly registration: Registration;
  private readonly receive: ReceivePath;
  private readonly device: Device;
  private readonly timers: Timers;
  private readonly mss: MssLimits;

  /**
   * Validates `options` (ConfigError on bad input). `deps` replaces the real I/O (kernel TAP, UDP, DNS, system
   * clock and randomness) in part or whole; tests pass in-memory ones.
   */
  constructor(options: EdgeOptions, deps: Partial<EdgeDeps> = {}) {
    super();
    const ctx = new EdgeContext(options, deps, this);
    this.ctx = ctx;
    this.config = ctx.config;
    this.drops = ctx.drops;
    this.logger = ctx.logger;
    this.mss = new MssLimits(ctx);
    const control = new Control(ctx);
    this.peers = new PeerTable(ctx, control);
    this.watch = new PeerWatch(
      this.peers,
      () => this.listenerCount('peerState') > 0,
      (ev: PeerStateEvent) => this.emit('peerState', ev),
    );
    this.on('peer', (ev: PeerEvent) => this.watch.onPeerEvent(ev));
    this.send = new SendPath(ctx, this.peers);
    this.registration = new Registration(ctx, control, this.peers, this.send, this.attachUdp, this.mss);
    this.receive = new ReceivePath(ctx, this.peers, this.registration);
    if (ctx.deps.openFastPath !== undefined)
      ctx.fastPath = new EdgeFastPath(ctx, this.peers, ctx.deps.openFastPath);
    this.device = new Device(ctx);
    this.timers = new Timers(ctx, this.registration, this.peers, this.device, () => this.watch.reconcile());
  }

  /** Makes `s` the main socket: the send path sends through it, the receive path listens on it. */
  private readonly attachUdp = (s: UdpSocket): void => {
    this.ctx.udp = s;
    this.send.useSocket(s);
    this.receive.listen(s);
    // -S2: the supernode forgets an edge whose connection closes, so register again at the fast-retry pace
    // (edge_utils.c sets sn_wait on every TCP disconnect).
    if (isConnectionSocket(s)) {
      s.onConnectionLost(() => {
        if (this.ctx.supernodes.wait === 0) this.ctx.supernodes.wait = 1;
      });
    }
  };

  // ------------------------------------------------------------------ public state

  get runState(): EdgeState {
    return this.ctx.state;
  }

  /** Our TAP MAC (0 before start). */
  get mac(): Mac {
    return this.ctx.ownMac;
  }

  /** Our overlay IPv4 address as u32 and prefix length (0/0 before the address is known). */
  get address(): { addr: number; bitlen: number } {
    return { addr: this.ctx.devAddr, bitlen: this.ctx.devBits };
  }

  /** Unix seconds of the last registration ACK (with our real MAC) or PACKET from a supernode; 0 = never. */
  get lastSup(): number {
    return this.ctx.lastSup;
  }
  set lastSup(v: number) {
    this.ctx.lastSup = v;
  }

  /** Unix seconds of the last direct PACKET; 0 = never. */
  get lastP2p(): number {
    return this.ctx.lastP2p;
  }
  set lastP2p(v: number) {
    this.ctx.lastP2p = v;
  }

  /** True once a supernode has acknowledged a registration with our real MAC. */
  get registered(): boolean {
    return this.ctx.lastSup !== 0;
  }

  /** 0 = registered, 1 = waiting for an ACK, 2 = re-registration requested. */
  get supernodeWait(): number {
    return this.ctx.supernodes.wait;
  }

  /**
   * The supernode (its -l text) whose last REGISTER_SUPER_ACK we hold, and our public socket as it reported it
   * (undefined when unknown); `supernode` is undefined while not registered.
   */
  get registrationState(): { supernode: string | undefined; publicAddr: string | undefined } {
    return { supernode: this.registration.registeredWith, publicAddr: this.registration.publicAddr };
  }

  /** Pending peers (reached via the supernode) and known peers (P2P), for the management port. */
  /** The traffic counters, with what the native fast path counted up to now. */
  get traffic(): EdgeTraffic {
    this.ctx.fastPath?.collectNow();
    return this.ctx.traffic;
  }

  peerTables(): { pending: readonly Peer[]; known: readonly Peer[] } {
    this.ctx.fastPath?.collectNow();
    return { pending: [...this.peers.pending.values()], known: [...this.peers.known.values()] };
  }

  /** The supernode list in its current order. */
  supernodeList(): readonly SupernodeEntry[] {
    return this.ctx.supernodes.list;
  }

  /** The supernode we register with. */
  get currentSupernode(): SupernodeEntry {
    return this.ctx.supernodes.cur;
  }

  /** Unix seconds by the edge's clock (management timestamps use it). */
  nowSeconds(): number {
    return nowSeconds(this.ctx.clock);
  }

  get headerEncryption(): boolean {
    return this.ctx.he;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Opens the sockets, runs the bootstrap (spec §12.1: PING several supernodes, ask for an address when
   * `-a` is absent), opens the TAP device, installs routes and starts registering. Resolves once the TAP
   * device is up; `registered` follows when the supernode answers. Rejects on I/O errors.
   */
  async start(): Promise<void> {
    const ctx = this.ctx;
    if (ctx.state !== EdgeState.NEW) throw new Error('Edge.start: already started');
    ctx.state = EdgeState.STARTING;
    const c = ctx.config;
    this.startTime = ctx.now();
    try {
      // The socket first: its family (dual-stack or IPv4 only) decides which addresses names resolve to.
      this.attachUdp(
        await ctx.deps.openUdp({
          address: c.bindAddress,
          port: c.localPort,
          tos: c.tos,
          pmtuDiscovery: c.pmtuDiscovery,
        }),
      );
      await this.registration.resolveSupernodes(true);
      if (c.p2p && c.preferredAddress === undefined) {
        ctx.mcast = await ctx.deps.openMulticast();
        ctx.mcast?.onDatagram(this.receive.onMulticast);
      }
      await this.device.detectPreferred();
      if (ctx.stopping()) return;
      await this.registration.bootstrap();
      if (ctx.stopping()) return;
      await this.device.openTap(this.registration.assignedAddr, this.registration.assignedBits);
      if (ctx.stopping()) return;
      await this.mss.update();
    } catch (err) {
      await this.device.teardown();
      ctx.state = EdgeState.STOPPED;
      throw err;
    }
    ctx.state = EdgeState.RUNNING;
    const now = ctx.now();
    this.registration.begin(now);
    this.timers.reset(now);
    ctx.tap!.onFrames(this.send.onTapFrames);
    this.timers.start();
    this.registration.updateSupernodeReg(now);
    ctx.fastPath?.refresh();
  }

  /** Sends UNREGISTER_SUPER (when registered), removes routes and closes everything. Idempotent. */
  async stop(): Promise<void> {
    const ctx = this.ctx;
    if (ctx.state === EdgeState.STOPPED) return;
    const wasRunning = ctx.state === EdgeState.RUNNING;
    ctx.state = EdgeState.STOPPED;
    this.registration.wake();
    this.timers.stop();
    if (wasRunning) this.registration.unregister();
    this.registration.lost(UnregisterReason.STOP);
    this.peers.clear();
    ctx.fastPath?.close();
    // Let sockets that deliver from a microtask (the in-memory network) take the goodbye before closing.
    await Promise.resolve();
    await this.device.teardown();
    this.emit('stopped');
  }
}
