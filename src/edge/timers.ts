// The edge's one coarse tick and every periodic action it drives: reading this file tells every timeout.
//
// n2n's main loop runs these after every select, which wakes at least every 10 s (edge_utils.c: run_edge_loop);
// we tick every TICK_MS (1 s). Per tick, in this order:
//   registration      update_supernode_reg decides itself: every -i interval (20 s) while registered, every
//                     tenth of it while waiting for an ACK, at once after RE_REGISTER_SUPER; failover after
//                     SUP_ATTEMPTS (3) unanswered REGISTER_SUPERs
//   known peers       purged every PURGE_INTERVAL_S (30 s) when silent for REGISTRATION_TIMEOUT_S (60 s);
//                     kept while no supernode answers (they may be all that is left)
//   pending peers     the same, always
//   DHCP address      re-read every IFACE_UPDATE_S (30 s) with -a dhcp:…
//   supernode sweep   every SWEEP_TIME_S (30 s): re-sort by criterion, switch to a better one, PING them
//   DNS               the -l names again every RESOLVE_INTERVAL_S (300 s; 30 s after a failure), and on failover
//   peer watch        every tick: the tables compared with what `peerState` reported (peer-watch.ts)
// Elsewhere, not on this tick: the bootstrap waits BOOTSTRAP_TIMEOUT_S (3 s) per try (registration.ts), and a
// known peer silent for half its timeout is dropped when we next send to it (send.ts: sendPacket).
import type { Cancel } from '../util/clock.js';
import { LogLevel } from '../util/log.js';
import { IFACE_UPDATE_S, PURGE_INTERVAL_S, RESOLVE_INTERVAL_S, SWEEP_TIME_S, TICK_MS } from './constants.js';
import { type EdgeContext, EdgeState } from './context.js';
import type { Device } from './device.js';
import { AddressMode } from './options.js';
import type { PeerTable } from './peer-table.js';
import type { Registration } from './registration.js';

export class Timers {
  private cancelTick: Cancel | undefined;
  private lastPurgeKnown = 0;
  private lastPurgePending = 0;
  private lastIfaceCheck = 0;

  constructor(
    private readonly ctx: EdgeContext,
    private readonly registration: Registration,
    private readonly peers: PeerTable,
    private readonly device: Device,
    private readonly afterTick: () => void = () => {},
  ) {}

  /** Counts every interval from `now`. */
  reset(now: number): void {
    this.lastPurgeKnown = now;
    this.lastPurgePending = now;
    this.lastIfaceCheck = now;
  }

  start(): void {
    this.cancelTick = this.ctx.clock.every(TICK_MS, this.onTick);
  }

  stop(): void {
    this.cancelTick?.();
    this.cancelTick = undefined;
  }

  private readonly onTick = (): void => {
    const ctx = this.ctx;
    if (ctx.state !== EdgeState.RUNNING) return;
    try {
      this.periodic(ctx.now());
    } catch (err) {
      ctx.log(LogLevel.ERROR, `edge timer: ${(err as Error).stack ?? err}`);
    }
  };

  /** What n2n's main loop does after every select (edge_utils.c: run_edge_loop). */
  private periodic(now: number): void {
    const ctx = this.ctx;
    const reg = this.registration;
    const peers = this.peers;
    reg.updateSupernodeReg(now);
    let purged = 0;
    // Known peers are kept while no supernode answers: they may be all that is left.
    if (!ctx.supernodes.wait && now - this.lastPurgeKnown >= PURGE_INTERVAL_S) {
      purged += peers.purge(true, now);
      this.lastPurgeKnown = now;
    }
    if (now - this.lastPurgePending >= PURGE_INTERVAL_S) {
      purged += peers.purge(false, now);
      this.lastPurgePending = now;
    }
    if (purged > 0) {
      ctx.log(
        LogLevel.INFO,
        `${purged} peers removed. now: pending=${peers.pending.size}, operational=${peers.known.size}`,
      );
    }
    if (ctx.config.addressMode === AddressMode.DHCP && now - this.lastIfaceCheck > IFACE_UPDATE_S) {
      this.lastIfaceCheck = now;
      this.device.refreshDhcpAddress();
    }
    // edge_utils.c: sort_supernodes.
    if (now - reg.lastSweep > SWEEP_TIME_S) reg.sweep(now);
    if (reg.resolveRequested || now - reg.lastResolve >= RESOLVE_INTERVAL_S) reg.reresolve();
    this.afterTick();
  }
}
