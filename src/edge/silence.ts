// Unanswered traffic on one path (the supernode, or one P2P peer): how long we have been sending without hearing back.
//
// The edge's fast failure detection reads only counters the packet paths already keep (datagrams sent on the
// path, answers received from it) once per tick (timers.ts): nothing is sent and nothing is timed per packet, so a
// healthy path costs one comparison a second and not one datagram.

/** At most 2^4 = 16 times the first wait between probes of one-way traffic. */
const MAX_BACKOFF_SHIFT = 4;

export class Silence {
  private tx = 0;
  private rx = 0;
  /** Clock ms of the tick that first saw traffic sent after the last answer; -1 = nothing unanswered. */
  private since = -1;
  /** Whether the caller probed the path during this silence (set by the caller, cleared by an answer). */
  probed = false;
  /**
   * Silences in a row that only the answer to a probe ended: one-way traffic on a live path (nothing else comes
   * back). Each doubles the waits (`backoff`), so such a stream costs a probe every few seconds, not every second.
   */
  private streak = 0;

  /**
   * Given the path's counters now, the ms we have been sending on it unanswered (0 when it answered since the
   * last look, or nothing was sent since its last answer). Measured from the first tick that saw the unanswered
   * send, so a datagram sent just before a tick is given at least one tick to be answered.
   */
  observe(tx: number, rx: number, nowMs: number): number {
    if (rx !== this.rx) {
      if (this.probed) this.streak = Math.min(this.streak + 1, MAX_BACKOFF_SHIFT);
      else this.streak = 0;
      this.probed = false;
      this.rx = rx;
      this.tx = tx;
      this.since = -1;
      return 0;
    }
    if (this.since < 0) {
      if (tx === this.tx) return 0;
      this.since = nowMs;
      return 0;
    }
    return nowMs - this.since;
  }

  /** The factor on the waits: 1, doubled for each one-way silence in a row (at most 16). */
  backoff(): number {
    return 1 << this.streak;
  }

  /** Forgets what was unanswered (a new path: re-registered, moved, re-punched). */
  reset(tx: number, rx: number): void {
    this.tx = tx;
    this.rx = rx;
    this.since = -1;
    this.probed = false;
    this.streak = 0;
  }
}
