// Supernode counters: 3.1.1's own (sn_stats_t) plus one counter per reason a datagram is dropped or refused.

/** Why a datagram was dropped, or a registration refused. Names appear as-is in the management output. */
export const DropReason = {
  /** Shorter than the 24-byte common header. */
  TOO_SHORT: 'too_short',
  /** A TCP frame announced more than 2048 bytes (the connection is closed). */
  TOO_LONG: 'too_long',
  /** No longer counted (the federation takes IPv6 members too); kept so the counter names stay the same. */
  NOT_IPV4: 'not_ipv4',
  /** Looked encrypted, but no community key decrypted it. */
  NO_KEY: 'no_key',
  /** Plaintext for a community that uses header encryption (downgrade attempt). */
  PLAINTEXT: 'plaintext',
  /** The body did not decode (WireError). */
  DECODE: 'decode',
  /** User/password community, but decrypted only with the static key and not a registration message. */
  STATIC_KEY: 'static_key',
  /** FROM_SUPERNODE from a socket that is not a federation member. */
  UNKNOWN_SUPERNODE: 'unknown_supernode',
  /** TTL 0. */
  TTL: 'ttl',
  /** Community unknown (and not creatable for this message type). */
  UNKNOWN_COMMUNITY: 'unknown_community',
  /** Community not allowed by the `-c` file. */
  NOT_ALLOWED: 'not_allowed',
  /** Time stamp outside ±16 s or not newer than the sender's last one (replay). */
  STAMP: 'stamp',
  /** User/password trailer E_SS(H128(...)) wrong. */
  TRAILER: 'trailer',
  /** REGISTER_SUPER carrying our own MAC. */
  SELF: 'self',
  /** Authentication failed (answered with a NAK). */
  AUTH: 'auth',
  /** Message type the supernode does not accept from this sender (e.g. NAK/PEER_INFO from an edge). */
  WRONG_SENDER: 'wrong_sender',
  /** Unicast destination not known (from a supernode), or a REGISTER to a multicast MAC. */
  NO_ROUTE: 'no_route',
  /** A new edge refused: its community is full. */
  EDGE_LIMIT_COMMUNITY: 'edge_limit_community',
  /** A new edge refused: the supernode is full. */
  EDGE_LIMIT_TOTAL: 'edge_limit_total',
  /** A new edge refused: its sender address registered too many new MACs lately (admission.ts). */
  NEW_EDGE_RATE: 'new_edge_rate',
  /** A PACKET from an edge that is not registered in its community from that socket. */
  UNREGISTERED: 'unregistered',
  /** A registered edge's socket changed again sooner than EDGE_MOVE_MIN_SECONDS after the last change. */
  MOVE_LIMIT: 'move_limit',
  /** A new community refused: too many communities. */
  COMMUNITY_LIMIT: 'community_limit',
  /** A new federation member or association not remembered: table full. */
  TABLE_LIMIT: 'table_limit',
  /** Message types the supernode ignores (REGISTER_ACK, RE_REGISTER_SUPER, ...). */
  IGNORED: 'ignored',
  /** An internal error while handling the datagram (a bug; logged). */
  INTERNAL: 'internal',
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export type DropCounters = Record<DropReason, number>;

/** Words of the native relay's counters (io/snrelay.ts SnRelayPort.stats). */
const NativeStat = { RX: 0, FWD: 1, LAST_FWD: 2, ERRORS: 3 } as const;

/**
 * Counters of one supernode. Times are Unix seconds, 0 = never. rx, fwd, lastFwd and errors include what the
 * native relay (fastrelay.ts) counted in `native`: reading them sums both, writing them keeps the native part.
 */
export class SupernodeStats {
  /** The native relay's counters while it runs (then folded into the fields: foldNative). */
  native: Float64Array | undefined;
  private rxJs = 0;
  private fwdJs = 0;
  private errorsJs = 0;
  private lastFwdJs = 0;
  /** Of `fwd`, what the native relay forwarded before its counters were folded in. */
  private nativeFwdFolded = 0;
  /** Copies sent by broadcasts to edges and supernodes (sn_stats_t.broadcast). */
  broadcast = 0;
  /** REGISTER_SUPER received (sn_stats_t.reg_super). */
  regSuper = 0;
  /** REGISTER_SUPER_NAK sent (3.1.1 never increments its counter; we do). */
  regSuperNak = 0;
  /** REGISTER_SUPER accepted: answered with an ACK, or (relayed by a federation member) taken note of. */
  regSuperOk = 0;
  lastRegSuper = 0;
  readonly drops: DropCounters;

  constructor() {
    const d = {} as DropCounters;
    for (const r of Object.values(DropReason)) d[r] = 0;
    this.drops = d;
  }

  /** Datagrams received on the main socket. */
  get rx(): number {
    return this.rxJs + (this.native?.[NativeStat.RX] ?? 0);
  }

  set rx(v: number) {
    this.rxJs = v - (this.native?.[NativeStat.RX] ?? 0);
  }

  /** Unicast forwards to a local edge (sn_stats_t.fwd). */
  get fwd(): number {
    return this.fwdJs + (this.native?.[NativeStat.FWD] ?? 0);
  }

  set fwd(v: number) {
    this.fwdJs = v - (this.native?.[NativeStat.FWD] ?? 0);
  }

  /** Failed sends (sn_stats_t.errors). */
  get errors(): number {
    return this.errorsJs + (this.native?.[NativeStat.ERRORS] ?? 0);
  }

  set errors(v: number) {
    this.errorsJs = v - (this.native?.[NativeStat.ERRORS] ?? 0);
  }

  get lastFwd(): number {
    return Math.max(this.lastFwdJs, this.native?.[NativeStat.LAST_FWD] ?? 0);
  }

  set lastFwd(v: number) {
    this.lastFwdJs = v;
  }

  /** Of `fwd`, the forwards the native relay made (fastrelay.ts). */
  get nativeFwd(): number {
    return this.nativeFwdFolded + (this.native?.[NativeStat.FWD] ?? 0);
  }

  /** The native relay stops: its counts stay in the fields. */
  foldNative(): void {
    const { rx, fwd, errors, lastFwd, nativeFwd } = this;
    this.nativeFwdFolded = nativeFwd;
    this.native = undefined;
    this.rxJs = rx;
    this.fwdJs = fwd;
    this.errorsJs = errors;
    this.lastFwdJs = lastFwd;
  }

  /** Sum of all drop counters. */
  get dropped(): number {
    let n = 0;
    for (const r of Object.values(DropReason)) n += this.drops[r];
    return n;
  }
}
