// New-edge admission per sender address: a token bucket per IP address, so one host cannot fill a community with forged MACs.
//
// Not in 3.1.1 (C stores every REGISTER_SUPER's MAC without limit). Genuine edges add one MAC per socket and then
// only refresh it; a flood of REGISTER_SUPERs with random MACs from one host would otherwise take every slot of the
// community (config.maxEdgesPerCommunity) and lock out the edges that come later. Refreshes of registered edges
// never take a token.

// The burst and rate come from the config (options.ts: DEFAULT_NEW_EDGE_BURST, DEFAULT_NEW_EDGES_PER_SECOND).

/** Addresses remembered; the table starts over when it is full (a flood of spoofed senders). */
const MAX_TRACKED = 65_536;

/** One bucket: tokens left at `at` (Unix seconds). */
interface Bucket {
  tokens: number;
  at: number;
}

export class Admission {
  /** By IPv4 as u32, or by IPv6 address text. */
  private readonly buckets = new Map<number | string, Bucket>();

  /** `burst` new edges at once per address, then `perSecond`. */
  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
  ) {}

  /**
   * Takes a token for a new edge from `key` (IPv4 as u32, or an IPv6 address as text) at `now` (Unix seconds);
   * false when none is left.
   */
  take(key: number | string, now: number): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= MAX_TRACKED) this.buckets.clear();
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perSecond);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  /** Addresses tracked now (for tests and the memory bound). */
  get size(): number {
    return this.buckets.size;
  }
}
