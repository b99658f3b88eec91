// --mss-clamp in the edge: the MSS limits both packet paths clamp to, fixed, or (auto) from the TAP MTU and the route MTU towards the supernode.
import { sockAddrToString } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
import type { TransformId } from '../wire/types.js';
import type { EdgeContext } from './context.js';
import { autoMss, n2nOverheadBytes, TCP_IPV4_HEADERS_BYTES, TCP_IPV6_HEADERS_BYTES } from './mss.js';

/** `--mss-clamp=N` limits IPv4 TCP to N; IPv6 gets the same packet size, N − this (the longer IPv6 header). */
const IPV6_EXTRA_HEADER_BYTES = TCP_IPV6_HEADERS_BYTES - TCP_IPV4_HEADERS_BYTES;

/**
 * Owns `ctx.mssV4` / `ctx.mssV6` (0 = no clamping). A fixed `--mss-clamp=N` sets them once, here. `auto` sets
 * them at once from the TAP MTU alone, then `update()` (at start, after the TAP is open, and on every
 * REGISTER_SUPER_ACK) takes the underlay into account too: the MTU of the interface the route towards the
 * current supernode leaves through (`deps.routeMtu`), minus n2n's encapsulation for the cipher in use
 * (`autoMss`). The supernode's path stands for every path: P2P datagrams are never larger than relayed ones,
 * and a host has one uplink in the set-ups this is for (docs/edge.md).
 */
export class MssLimits {
  /** Path MTU the current limits were computed with (undefined: TAP MTU only). */
  private pathMtu: number | undefined;
  private updating = false;

  constructor(private readonly ctx: EdgeContext) {
    const clamp = ctx.config.mssClamp;
    if (clamp === undefined) return;
    if (clamp === 'auto') this.set(this.tapMtu(), undefined);
    else {
      ctx.mssV4 = clamp;
      ctx.mssV6 = clamp - IPV6_EXTRA_HEADER_BYTES;
    }
  }

  private tapMtu(): number {
    return this.ctx.tap?.info.mtu || this.ctx.config.mtu;
  }

  private set(tapMtu: number, pathMtu: number | undefined): void {
    const ctx = this.ctx;
    // Registered over IPv6, the edge's paths (relayed and P2P) may be IPv6; over IPv4 they are all IPv4.
    const ipv6Underlay = ctx.supernodes.cur.addr?.family === 6;
    const overhead = n2nOverheadBytes(ctx.payload.transformId as TransformId, ctx.he, ipv6Underlay);
    const v4 = autoMss(tapMtu, pathMtu, overhead, false);
    const v6 = autoMss(tapMtu, pathMtu, overhead, true);
    this.pathMtu = pathMtu;
    if (v4 === ctx.mssV4 && v6 === ctx.mssV6) return;
    ctx.mssV4 = v4;
    ctx.mssV6 = v6;
    const sn = ctx.supernodes.cur.addr;
    ctx.log(
      LogLevel.NORMAL,
      `--mss-clamp: TCP MSS at most ${v4} (IPv6 ${v6}; inside IPIP/VXLAN less the encapsulation) from TAP MTU ` +
        `${tapMtu}${pathMtu === undefined ? '' : ` and route MTU ${pathMtu} towards supernode ${sn ? sockAddrToString(sn) : '?'}`}` +
        ` with ${overhead} bytes of n2n overhead`,
    );
  }

  /** `auto`: recomputes the limits from the route MTU towards the current supernode. Never throws. */
  async update(): Promise<void> {
    const ctx = this.ctx;
    if (ctx.config.mssClamp !== 'auto' || this.updating) return;
    const to = ctx.supernodes.cur.addr;
    const routeMtu = ctx.deps.routeMtu;
    this.updating = true;
    try {
      const pathMtu = to && routeMtu ? await routeMtu(to).catch(() => undefined) : this.pathMtu;
      if (!ctx.stopping()) this.set(this.tapMtu(), pathMtu);
    } finally {
      this.updating = false;
    }
  }
}
