// Peer records of the edge (pending_peers / known_peers of edge_utils.c) and socket helpers for them.
import { StampRecord } from '../transform/stamp.js';
import type { SockAddr } from '../util/ip.js';
import type { Mac } from '../util/mac.js';
import { Cookie } from '../wire/types.js';
import { RTT_EWMA_WEIGHT, RTT_MAX_SAMPLE_MS } from './constants.js';
import { Silence } from './silence.js';

/** No cookie recorded yet (n2n_define.h: N2N_NO_REG_COOKIE). */
export const NO_COOKIE = 0;

/** One other edge of the community, pending (relayed) or known (P2P confirmed). */
export interface Peer {
  mac: Mac;
  /** Where we send to it: its public socket, or the one it answered from. */
  addr: SockAddr;
  /** `addr` as numbers for allocation-free comparison: IPv4 u32 (-1 for IPv6) and port. */
  ip4: number;
  port: number;
  /** The LAN socket it advertised with `-e`, if any. */
  preferred: SockAddr | undefined;
  /** Unix seconds. */
  lastSeen: number;
  lastP2p: number;
  lastSentQuery: number;
  /** Query rounds (checkQueryPeerInfo) while pending: from the second on, the IPv4 fallback is tried too. */
  queryRounds: number;
  /** Cookie of the path that confirmed it; a higher one may replace the socket (spec §12.5). */
  lastCookie: number;
  /** Its overlay address (from REGISTER), 0 when unknown. */
  devAddr: number;
  devBits: number;
  desc: string;
  /** Seen via multicast discovery (on our LAN). */
  local: boolean;
  /** Registration timeout in seconds (the registration interval). */
  timeout: number;
  /** Replay record: the last valid stamp from it (header encryption only). */
  stamp: StampRecord;
  /**
   * Clock milliseconds of the last direct REGISTER sent to it, per cookie kind (RTT_COOKIES order); 0 = none
   * outstanding. The REGISTER_ACK echoes the cookie, so the kinds of a hole-punching round are told apart.
   */
  regSentMs: Float64Array;
  /** Round-trip time in ms: smoothed (EWMA) and the last sample; -1 = not measured yet. */
  rttMs: number;
  rttLastMs: number;
  /** Unix seconds of the last RTT sample, 0 = never. */
  rttAt: number;
  /** PACKETs sent to it directly, and datagrams (PACKET, REGISTER, REGISTER_ACK) received from it directly. */
  txDirect: number;
  rxDirect: number;
  /** Whether its direct path answers (timers.ts: PeerTable.checkSilence). */
  silence: Silence;
  /** The socket it was last heard from directly other than `addr`, asked with a REGISTER at moveProbeAt (s). */
  moveTo: SockAddr | undefined;
  moveProbeAt: number;
  /** Unix seconds it last took another MAC at its socket (PeerTable.checkPeerRegistration), 0 = never. */
  macChangedAt: number;
}

/** The cookies of REGISTERs sent straight to one peer, whose ACKs give an RTT sample (index = slot). */
const RTT_COOKIES: readonly number[] = [Cookie.REGULAR, Cookie.PORT, Cookie.LOCAL];
/** No RTT measured (Peer.rttMs / rttLastMs). */
export const NO_RTT = -1;

/** IPv4 text → u32, or -1 (IPv6 or not an address); no exceptions, no regex. */
export function ipv4Value(address: string): number {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part > 255) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      part = part * 10 + (c - 0x30);
      if (++digits > 3) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return v * 256 + part;
}

export function newPeer(mac: Mac, addr: SockAddr, now: number, timeout: number): Peer {
  return {
    mac,
    addr,
    ip4: addr.family === 4 ? ipv4Value(addr.address) : -1,
    port: addr.port,
    preferred: undefined,
    lastSeen: now,
    lastP2p: 0,
    lastSentQuery: 0,
    queryRounds: 0,
    lastCookie: NO_COOKIE,
    devAddr: 0,
    devBits: 0,
    desc: '',
    local: false,
    timeout,
    stamp: new StampRecord(),
    regSentMs: new Float64Array(RTT_COOKIES.length),
    rttMs: NO_RTT,
    rttLastMs: NO_RTT,
    rttAt: 0,
    txDirect: 0,
    rxDirect: 0,
    silence: new Silence(),
    moveTo: undefined,
    moveProbeAt: 0,
    macChangedAt: 0,
  };
}

/** Notes a REGISTER to `p` with `cookie` sent at clock time `nowMs` (only the kinds a peer acknowledges). */
export function noteRegisterSent(p: Peer, cookie: number, nowMs: number): void {
  const i = RTT_COOKIES.indexOf(cookie);
  if (i >= 0) p.regSentMs[i] = nowMs;
}

/**
 * A REGISTER_ACK with `cookie` from `p` at clock time `nowMs`: one RTT sample against the last REGISTER of that
 * kind (a resent one counts from its latest send, so a late answer to an earlier one reads short, never long),
 * folded into the EWMA. Returns the sample in ms, or undefined when there was nothing to match.
 */
export function sampleRtt(p: Peer, cookie: number, nowMs: number, nowS: number): number | undefined {
  const i = RTT_COOKIES.indexOf(cookie);
  if (i < 0) return undefined;
  const sent = p.regSentMs[i];
  if (sent === 0) return undefined;
  p.regSentMs[i] = 0;
  const rtt = nowMs - sent;
  if (rtt < 0 || rtt > RTT_MAX_SAMPLE_MS) return undefined;
  p.rttLastMs = rtt;
  p.rttMs = p.rttMs === NO_RTT ? rtt : p.rttMs + (rtt - p.rttMs) * RTT_EWMA_WEIGHT;
  p.rttAt = nowS;
  return rtt;
}

/** Sets the peer's socket (keeps the numeric copy in step). */
export function setPeerAddr(p: Peer, addr: SockAddr): void {
  p.addr = addr;
  p.ip4 = addr.family === 4 ? ipv4Value(addr.address) : -1;
  p.port = addr.port;
}

export function sameAddr(a: SockAddr, b: SockAddr): boolean {
  return a.port === b.port && a.address === b.address && a.family === b.family;
}

/** The peer whose socket equals `addr` (edge_utils.c: find_peer_by_sock). */
export function findPeerByAddr(list: Map<Mac, Peer>, addr: SockAddr): Peer | undefined {
  for (const p of list.values()) if (sameAddr(p.addr, addr)) return p;
  return undefined;
}

/** 127.0.0.1 is never a usable peer socket: it shows up when an edge runs next to the supernode. */
export function isValidPeerAddr(addr: SockAddr): boolean {
  if (addr.family === 6) return addr.address !== '::1';
  return addr.address !== '127.0.0.1';
}
