// What every part of a supernode shares (wireguard-go's Device fields): config, counters, deps, identity, scratch.
import type { EventEmitter } from 'node:events';
import { HeaderSealer } from '../peer/seal.js';
import { AUTH_TRAILER_BYTES } from '../transform/header.js';
import { type Stamp, StampGenerator } from '../transform/stamp.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Mac } from '../util/mac.js';
import type { Random } from '../util/random.js';
import { type Community, HeState, type SnPeer } from './community.js';
import type { FastRelay } from './fastrelay.js';
import type { SupernodeConfig } from './options.js';
import { SupernodeStats } from './stats.js';
import type { SupernodeDeps, SupernodeEvents } from './types.js';

/** N2N_AUTH_ID_TOKEN_SIZE: the supernode's own random id token. */
const ID_TOKEN_BYTES = 16;
/** Room for the largest datagram we ever build: a relayed PACKET of a 64 KiB datagram plus the sock. */
const TX_BUFFER_BYTES = 65536 + 64;
const MS_PER_SECOND = 1000;

/**
 * One per supernode, handed to every part. Besides the read-only environment it holds the little state that
 * is everybody's: the lifecycle flags the facade writes, the time stamp and trailer hash of the datagram being
 * handled (written by receive.ts, checked by the handlers) and the two send buffers.
 */
export class SnContext {
  readonly config: SupernodeConfig;
  readonly deps: SupernodeDeps;
  readonly stats = new SupernodeStats();
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly stamps: StampGenerator;
  readonly sealer: HeaderSealer;
  /** Where the parts emit the public events (the Supernode itself). */
  readonly events: EventEmitter<SupernodeEvents>;
  /** The id token of our federation REGISTER_SUPERs (auth scheme 1). */
  readonly idToken: Uint8Array;
  /** The supernode's MAC (random unless configured). */
  readonly mac: Mac;

  /** Between start() and stop(). */
  running = false;
  /** The native relay in front of the main socket, while it is open (transport.ts), if the socket has one. */
  fastRelay: FastRelay | undefined;
  /** Unix second of start(): PONGs report the uptime from it. */
  startSec = 0;

  /** Time stamp of the datagram being handled, from its header decryption (receive.ts). */
  readonly rxStamp: Stamp = { hi: 0, lo: 0 };
  /** H128 of the datagram being handled, for the user/password trailer check (same decryption). */
  readonly trailerHash = new Uint8Array(AUTH_TRAILER_BYTES);
  /**
   * Send buffers. `tx` takes relayed PACKETs and REGISTER_SUPERs, `ctl` the control messages the supernode
   * writes itself. Each datagram is built and sent before anything else is built in the same buffer.
   */
  readonly tx = Buffer.allocUnsafe(TX_BUFFER_BYTES);
  readonly ctl = Buffer.allocUnsafe(TX_BUFFER_BYTES);

  constructor(config: SupernodeConfig, deps: SupernodeDeps, events: EventEmitter<SupernodeEvents>) {
    this.config = config;
    this.deps = deps;
    this.clock = deps.clock;
    this.random = deps.random;
    this.logger = deps.logger;
    this.events = events;
    this.stamps = deps.stamps ?? new StampGenerator(this.clock);
    this.sealer = new HeaderSealer(this.stamps, this.random);
    // The id token is drawn before the MAC: with a seeded Random the bytes of every test depend on the order.
    this.idToken = new Uint8Array(ID_TOKEN_BYTES);
    this.random.fill(this.idToken);
    if (config.mac !== undefined) {
      this.mac = config.mac;
    } else {
      const b = new Uint8Array(6);
      this.random.fill(b);
      b[0] = (b[0] & ~0x01) | 0x02;
      this.mac = (b[0] * 0x10000 + ((b[1] << 8) | b[2])) * 0x1000000 + ((b[3] << 16) | (b[4] << 8) | b[5]);
    }
  }

  /** Whole seconds of the injected clock (C's time(NULL)). */
  nowSec(): number {
    return Math.floor(this.clock.now() / MS_PER_SECOND);
  }

  log(level: number, msg: string): void {
    if (level <= this.logger.level) this.logger.log(level, msg);
  }

  /**
   * The received stamp against the sender's record (spec §6 table): the federation member's when it came
   * from one, else the edge's (in the federation community, "edges" are keyed "m<mac>").
   */
  stampOk(comm: Community, sn: SnPeer | undefined, mac: Mac, jitter: boolean): boolean {
    if (comm.he !== HeState.ENABLED) return true;
    if (sn !== undefined) return this.stamps.verify(this.rxStamp, sn.stamp, jitter);
    const e = comm.edges.get(comm.isFederation ? `m${mac}` : mac);
    const ok = this.stamps.verify(this.rxStamp, e?.stamp, jitter);
    // A record the native relay checks too (fastrelay.ts) follows.
    if (ok && e !== undefined && e.fastSlot >= 0) this.fastRelay?.stampAccepted(e);
    return ok;
  }
}
