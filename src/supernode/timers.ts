// The supernode's timing constants (n2n_define.h, spec §9.5) and the one coarse tick that runs all periodic work.
import { LogLevel } from '../util/log.js';
import type { SnContext } from './context.js';

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
/**
 * A registered edge's socket changes at most once in this many seconds (whole-second clock: moves at least
 * 1 s apart). Not in 3.1.1 (docs/reliability.md, Security). A refused edge is not answered, and its next
 * REGISTER_SUPER (the silence probe a second later, or the -i interval) gets through.
 */
export const EDGE_MOVE_MIN_SECONDS = 2;
/** reg_lifetime(): the ACK's lifetime field, ignored by edges. */
export const REG_LIFETIME_SECONDS = 15;

/**
 * Every periodic job, each done by the part that owns the state it touches (the facade wires them). The
 * tick below is the one place that says what runs when and in which order.
 */
export interface PeriodicWork {
  /** federation.ts: drop silent federation members, re-register with quiet ones. */
  reRegisterFederation(now: number): void;
  /** transport.ts: close TCP connections idle for the registration timeout. */
  closeIdleConnections(now: number): void;
  /** registry.ts: expire edges and associations, drop empty created communities. */
  purgeRegistrations(now: number): void;
  /** communities.ts: busiest header-encrypted communities first in the decryption order. */
  sortCommunities(): void;
  /** federation.ts: retry resolving `-l` peers whose names did not resolve yet. */
  resolvePeers(): void;
}

/**
 * supernode.c: run_sn_loop's timestamps (last_purge_edges, last_sort_communities, last_re_reg_and_purge) on one
 * coarse clock.every() tick instead of a select() timeout.
 */
export class Timers {
  private readonly ctx: SnContext;
  private readonly work: PeriodicWork;
  private readonly onTick = (): void => this.tick();
  private cancel: (() => void) | undefined;
  private lastFederationPass = 0;
  private lastPurge = 0;
  private lastSort = 0;
  private lastResolve = 0;

  constructor(ctx: SnContext, work: PeriodicWork) {
    this.ctx = ctx;
    this.work = work;
  }

  /** Starts the tick; the federation is registered with at once (C's last_re_reg_and_purge starts at 0). */
  start(now: number): void {
    this.lastPurge = now;
    this.lastSort = now;
    this.lastResolve = now;
    this.lastFederationPass = now;
    this.work.reRegisterFederation(now);
    this.cancel = this.ctx.clock.every(SUPERNODE_TICK_MS, this.onTick);
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  private tick(): void {
    if (!this.ctx.running) return;
    const now = this.ctx.nowSec();
    const w = this.work;
    try {
      if (now - this.lastFederationPass >= FEDERATION_PASS_SECONDS) {
        this.lastFederationPass = now;
        w.reRegisterFederation(now);
      }
      if (now - this.lastPurge >= PURGE_SECONDS) {
        this.lastPurge = now;
        w.closeIdleConnections(now);
        w.purgeRegistrations(now);
      }
      if (now - this.lastSort >= SORT_SECONDS) {
        this.lastSort = now;
        w.sortCommunities();
      }
      if (now - this.lastResolve >= RESOLVE_RETRY_SECONDS) {
        this.lastResolve = now;
        w.resolvePeers();
      }
    } catch (e) {
      this.ctx.log(LogLevel.ERROR, `timer: ${(e as Error).stack ?? e}`);
    }
  }
}
