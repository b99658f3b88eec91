// The edge's supernode list and its selection criteria (load, RTT, MAC), after sn_selection.c.
import { StampRecord } from '../transform/stamp.js';
import { ipv6Text, parseIpv6Into, type SockAddr } from '../util/ip.js';
import { type Mac, NULL_MAC } from '../util/mac.js';
import { Selection } from './options.js';
import { ipv4Value } from './peers.js';

/**
 * Selection criteria are 64-bit in C with three reserved top values (sn_selection.c). Only their order
 * matters, so we keep them as doubles just below 2^53 where every integer is exact.
 */
export const CRITERION_BAD = 2 ** 53 - 1;
export const CRITERION_DEFAULT = 2 ** 53 - 2;
export const CRITERION_GOOD = 2 ** 53 - 3;
/** Criteria at or above this are "undetermined" and not shown (sn_selection.c: UINT64_MAX >> 2). */
const CRITERION_SHOWN_BELOW = 2 ** 52;
const TWO_POW_32 = 0x1_0000_0000;
/** RTT criterion: the low 32 bits of the stamp shifted right by 22 (sn_selection.c). */
const RTT_SHIFT = 2 ** 22;
const IPV6_BYTES = 16;

/** One supernode the edge knows: from `-l` (permanent) or from a REGISTER_SUPER_ACK list. */
export interface SupernodeEntry {
  /** `host:port` as given with -l, or `ip:port` for learned ones (edge_utils.c: sn->ip_addr). */
  text: string;
  host: string;
  port: number;
  /** Resolved UDP address; undefined until DNS resolution succeeds. Set it with setSupernodeAddr. */
  addr: SockAddr | undefined;
  /** `addr` as IPv4 u32 (-1 for none or IPv6), for allocation-free sends. */
  ip4: number;
  /**
   * The same supernode's IPv4 address when `addr` is IPv6 and the name has an A record too: a dual-stack edge
   * sends its forwarded REGISTERs there as well when IPv6 P2P did not come up (peer-table.ts: the IPv4 fallback).
   */
  alt4: SockAddr | undefined;
  mac: Mac;
  /** False for `-l` entries (n2n: SN_UNPURGEABLE). */
  purgeable: boolean;
  selection: number;
  /** Unix seconds of the last PONG, 0 = never. */
  lastSeen: number;
  uptime: number;
  version: string;
  /** Cookie of our last REGISTER_SUPER to it. */
  lastCookie: number;
  /** Replay record for header-encrypted traffic from it: the last valid stamp. */
  stamp: StampRecord;
}

export function newSupernodeEntry(
  text: string,
  host: string,
  port: number,
  purgeable: boolean,
): SupernodeEntry {
  return {
    text,
    host,
    port,
    addr: undefined,
    ip4: -1,
    alt4: undefined,
    mac: NULL_MAC,
    purgeable,
    selection: CRITERION_DEFAULT,
    lastSeen: 0,
    uptime: 0,
    version: '',
    lastCookie: 0,
    stamp: new StampRecord(),
  };
}

/**
 * `addr` with IPv6 text made canonical (RFC 5952, as received addresses are decoded): datagrams are matched to
 * their supernode by address text (byAddr), and a resolver hands a literal back as it was written.
 */
export function canonicalAddr(addr: SockAddr): SockAddr {
  if (addr.family !== 6) return addr;
  const b = new Uint8Array(IPV6_BYTES);
  return parseIpv6Into(addr.address, b, 0) ? { ...addr, address: ipv6Text(b, 0) } : addr;
}

/** Sets the resolved address (canonical, see canonicalAddr) and its numeric form. */
export function setSupernodeAddr(sn: SupernodeEntry, addr: SockAddr): void {
  addr = canonicalAddr(addr);
  sn.addr = addr;
  sn.ip4 = addr.family === 4 ? ipv4Value(addr.address) : -1;
}

/** Sorts in place by ascending criterion; stable, like uthash's merge sort. */
export function sortSupernodes(list: SupernodeEntry[]): void {
  list.sort((a, b) => a.selection - b.selection);
}

/** What the criterion computation needs to know about the edge. */
export interface SelectionContext {
  strategy: Selection;
  /** The common data of the current sweep (sn_selection_criterion_common_data). */
  common: number;
  isCurrent: boolean;
  /** Known plus pending peers, for the load stickiness factor. */
  peerCount: number;
  /** Low 32 bits of the local stamp now (RTT). */
  stampLow32: number;
}

/** The criterion from a PONG (sn_selection.c: sn_selection_criterion_calculate). `load` is read little-endian. */
export function criterionFromPong(sn: SupernodeEntry, load: number, ctx: SelectionContext): number {
  switch (ctx.strategy) {
    case Selection.LOAD: {
      let c = load + ctx.common;
      // Stickiness: the current supernode looks a little less loaded than it is.
      if (ctx.isCurrent) c = Math.floor((c * ctx.peerCount) / (ctx.peerCount + 1));
      return c;
    }
    case Selection.RTT: {
      // (uint32 stamp >> 22) now minus the value when the PINGs went out, as an unsigned 64-bit difference.
      const now = Math.floor(ctx.stampLow32 / RTT_SHIFT);
      const d = now - ctx.common;
      return d >= 0 ? d : d + TWO_POW_32 / RTT_SHIFT;
    }
    case Selection.MAC:
      return sn.mac;
    default:
      return CRITERION_DEFAULT;
  }
}

/** The common data at the start of a sweep (sn_selection_criterion_common_data_default). */
export function selectionCommonData(
  strategy: Selection,
  pendingPeers: number,
  headerEncryption: boolean,
  supernodes: number,
  stampLow32: number,
): number {
  switch (strategy) {
    case Selection.LOAD:
      return Math.floor(((headerEncryption ? 2 : 1) * pendingPeers) / Math.max(1, supernodes));
    case Selection.RTT:
      return Math.floor(stampLow32 / RTT_SHIFT);
    default:
      return 0;
  }
}

/** The criterion as the management port shows it (sn_selection.c: sn_selection_criterion_str). */
export function criterionText(sn: SupernodeEntry, strategy: Selection, isCurrent: boolean): string {
  if (sn.selection >= CRITERION_SHOWN_BELOW) return '';
  switch (strategy) {
    case Selection.LOAD:
      return `load = ${String(sn.selection).padStart(8)}`;
    case Selection.RTT:
      return `rtt = ${String(sn.selection).padStart(6)} ms`;
    case Selection.MAC:
      return sn.selection > 0 ? (isCurrent ? 'active' : 'standby') : '';
    default:
      return '';
  }
}
