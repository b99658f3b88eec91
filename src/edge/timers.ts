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
// and, tsn2n's fast failure detection (docs/reliability.md), on a second tick every DETECT_TICK_MS (250 ms),
// from counters only (silence.ts):
//   supernode silent  frames sent to it, nothing back for SN_SILENT_MS (1 s): REGISTER_SUPER at once; that
//                     unanswered SN_PROBE_TIMEOUT_MS (1 s) while frames still go out: the next supernode
//   P2P peer silent   frames sent to it, nothing direct back for P2P_PROBE_MS (1 s): one REGISTER; for
//                     P2P_DEAD_MS (2 s): back to the supernode path, QUERY_PEER and punching anew
//                     (one-way traffic, answered only by our probes: each wait doubles, up to 16 times)
// and on the 1 s tick:
//   own address       every ADDR_CHECK_S (1 s) the local address the kernel picks towards the supernode; when it
//                     changes or goes: every P2P peer via the supernode, REGISTER_SUPER at once from the new one
// Elsewhere, not on this tick: the bootstrap waits BOOTSTRAP_TIMEOUT_S (3 s) per try (registration.ts), and a
// known peer silent for half its timeout is dropped when we next send to it (send.ts: sendPacket).
import type { Cancel } from '../util/clock.js';
import { LogLevel } from '../util/log.js';
import {
  ADDR_CHECK_S,
  DETECT_TICK_MS,
  IFACE_UPDATE_S,
  PURGE_INTERVAL_S,
  RESOLVE_INTERVAL_S,
  SWEEP_TIME_S,
  TICK_MS,
} from './constants.js';
import { type EdgeContext, EdgeState } from './context.js';
import type { Device } from './device.js';
import { AddressMode } from './options.js';
import type { PeerTable } from './peer-table.js';
import type { Registration } from './registration.js';

/** `localAddress` before the first lookup answered. */
const UNKNOWN = '?';

export class Timers {
  private cancelTick: Cancel | undefined;
  private cancelDetect: Cancel | undefined;
  private lastPurgeKnown = 0;
  private lastPurgePending = 0;
  private lastIfaceCheck = 0;
  private lastAddrCheck = 0;
  private addrChecking = false;
  /** The local address the kernel picked towards `addrTarget` at the last check (undefined: none, no route). */
  private localAddress: string | undefined = UNKNOWN;
  private addrTarget = '';

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
    this.cancelDetect = this.ctx.clock.every(DETECT_TICK_MS, this.onDetectTick);
  }

  stop(): void {
    this.cancelTick?.();
    this.cancelTick = undefined;
    this.cancelDetect?.();
    this.cancelDetect = undefined;
  }

  /** Fast failure detection: is what we send to the supernode and to each P2P peer answered? */
  private readonly onDetectTick = (): void => {
    const ctx = this.ctx;
    if (ctx.state !== EdgeState.RUNNING) return;
    ctx.fastPath?.collectNow();
    const nowMs = ctx.clock.now();
    this.registration.checkSilence(ctx.now(), nowMs);
    this.peers.checkSilence(nowMs);
    ctx.fastPath?.refresh();
  };

  private readonly onTick = (): void => {
    const ctx = this.ctx;
    if (ctx.state !== EdgeState.RUNNING) return;
    ctx.fastPath?.collectNow();
    try {
      this.periodic(ctx.now());
    } catch (err) {
      ctx.log(LogLevel.ERROR, `edge timer: ${(err as Error).stack ?? err}`);
    }
    ctx.fastPath?.refresh();
  };

  /**
   * The local address the kernel picks towards the current supernode (a route lookup through the `localAddressFor`
   * dep; nothing is sent). A change, or its loss, means our socket's source address is gone: NAT mappings and
   * P2P paths made from it are useless.
   */
  private checkAddress(): void {
    const ctx = this.ctx;
    const lookup = ctx.deps.localAddressFor;
    const sn = ctx.supernodes.cur.addr;
    if (lookup === undefined || sn === undefined || this.addrChecking) return;
    const target = `${sn.address}:${sn.port}`;
    this.addrChecking = true;
    lookup(sn).then(
      (a) => {
        this.addrChecking = false;
        if (ctx.state !== EdgeState.RUNNING) return;
        const before = this.localAddress;
        const sameTarget = target === this.addrTarget;
        this.localAddress = a;
        this.addrTarget = target;
        // A new supernode may be reached from another address; that is no move of ours.
        if (!sameTarget || before === UNKNOWN || before === a) return;
        this.registration.onAddressChange(ctx.now(), ctx.clock.now(), before, a);
      },
      () => {
        this.addrChecking = false;
      },
    );
  }

  /** What n2n's main loop does after every select (edge_utils.c: run_edge_loop). */
  private periodic(now: number): void {
    const ctx = this.ctx;
    const reg = this.registration;
    const peers = this.peers;
    reg.updateSupernodeReg(now);
    if (now - this.lastAddrCheck >= ADDR_CHECK_S) {
      this.lastAddrCheck = now;
      this.checkAddress();
    }
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
