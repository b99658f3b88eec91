// What the supernode teaches its native relay (io/snrelay.ts): the edges its JS path has relayed PACKETs between.
import { recordFromWords, recordToWords, type StampGenerator } from '../transform/stamp.js';
import { writeMac } from '../util/mac.js';
import { COMMUNITY_BYTES } from '../wire/types.js';
import { type Community, HeState, type SnPeer } from './community.js';
import type { SupernodeStats } from './stats.js';
import type { NativeRelay } from './types.js';

const MAC_BYTES = 6;
/** An IPv4 socket as the native relay takes it: address, then port, big-endian. */
const SOCKET_BYTES = 6;
const IPV4_BYTES = 4;
/** SnPeer.fastSlot of an edge without a record slot. */
const NO_SLOT = -1;

/**
 * The JS path decides every route; the native relay repeats the ones it has seen. After relay.ts forwarded a
 * PACKET from one registered UDP edge to another of a community with plain headers, or with -H and no users (one
 * header key pair), both edges are taught (once per teaching round: SnPeer.fastEpoch); from then on the native
 * side forwards that pair's PACKETs itself, re-encoded exactly as relay.ts would. Any change of the registry that
 * could make a taught route wrong — an edge deleted, expired, moved, renamed, or a community removed — starts a new
 * round with nothing taught (`reset`), and the next JS relay teaches again. IPv6 and TCP edges, broadcasts,
 * user/password communities and the federation stay on the JS path.
 *
 * -H: a taught edge's replay record lives in two places, its SnPeer (JS) and a record slot (native). Each side
 * copies the other's newer state before it checks a stamp: JS takes the slots the native side raised at the start
 * of every batch (`collect`), and copies a record down whenever the JS path accepts a stamp (`stampAccepted`).
 */
export class FastRelay {
  private readonly port: NativeRelay;
  private readonly stats: SupernodeStats;
  private readonly header: boolean;
  /** The current teaching round (SnPeer.fastEpoch of the edges taught in it). */
  private epoch = 1;
  /** -H: the edge in each record slot handed out this round. */
  private readonly slotPeers: SnPeer[] = [];
  /** Edges taught this round (an edge may count twice), communities, and those of them with -H in the order they
   * were taught (which is the order of the native side's -H counts). */
  private taught = 0;
  private readonly communities = new Set<Community>();
  private readonly heCommunities: Community[] = [];
  private readonly mac = new Uint8Array(MAC_BYTES);
  private readonly socket = new Uint8Array(SOCKET_BYTES);

  /** `stamps` (the supernode's generator, on the system clock the addon reads): -H communities too. */
  constructor(port: NativeRelay, stats: SupernodeStats, stamps: StampGenerator | undefined) {
    this.port = port;
    this.stats = stats;
    stats.native = port.stats;
    if (stamps !== undefined) port.configureHeader(stamps.state);
    this.header = stamps !== undefined;
    port.setEnabled(true);
  }

  /** Whether relay.ts should tell us of a PACKET it relayed in `comm`. */
  takes(comm: Community): boolean {
    if (comm.field.length !== COMMUNITY_BYTES) return false;
    if (comm.he === HeState.NONE) return true;
    return (
      this.header &&
      comm.he === HeState.ENABLED &&
      !comm.hasUsers &&
      !comm.isFederation &&
      this.port.takesHeader(comm.dynamicKeys?.core)
    );
  }

  /** relay.ts forwarded a PACKET of `comm` from `src` (which sent it over UDP from its socket) to `dst`. */
  relayed(comm: Community, src: SnPeer, dst: SnPeer): void {
    if (src.fastEpoch === this.epoch && dst.fastEpoch === this.epoch) return;
    if (!eligible(src) || !eligible(dst)) return;
    this.teach(comm, src);
    this.teach(comm, dst);
  }

  /** -H: the records the native side raised, into their edges (before JS checks a stamp of this batch). */
  collect(): void {
    const dirty = this.port.dirty;
    const n = this.slotPeers.length;
    if (dirty[this.port.slots] === 0) return;
    dirty[this.port.slots] = 0;
    const records = this.port.records;
    for (let i = 0; i < n; i++) {
      if (dirty[i] === 0) continue;
      dirty[i] = 0;
      recordFromWords(records, i, this.slotPeers[i].stamp);
    }
  }

  /** -H: the JS path accepted a stamp from `e`: the native side checks the next one against the same record. */
  stampAccepted(e: SnPeer): void {
    if (e.fastSlot !== NO_SLOT && e.fastEpoch === this.epoch)
      recordToWords(this.port.records, e.fastSlot, e.stamp);
  }

  /**
   * -H: the datagrams the native side opened with each community's key, added to the community's `encPackets` (the
   * busiest-first order of trial decryption, communities.ts sort) — before that order is made, and before a reset.
   */
  countOpened(): void {
    const stats = this.port.stats;
    const base = this.port.heOpenedWord;
    for (let i = 0; i < this.heCommunities.length; i++) {
      const n = stats[base + i];
      if (n === 0) continue;
      this.heCommunities[i].encPackets += n;
      stats[base + i] = 0;
    }
  }

  /** Something in the registry changed: nothing taught so far may be used any more. */
  reset(): void {
    this.collect();
    this.countOpened();
    this.epoch++;
    this.port.forget();
    for (const e of this.slotPeers) e.fastSlot = NO_SLOT;
    this.slotPeers.length = 0;
    this.taught = 0;
    this.communities.clear();
    this.heCommunities.length = 0;
  }

  /** Off (before the socket closes); the counts and records stay in the supernode's. */
  close(): void {
    this.collect();
    this.countOpened();
    this.port.detach();
    this.stats.foldNative();
  }

  private teach(comm: Community, e: SnPeer): void {
    const he = comm.he === HeState.ENABLED;
    // Within the native table's bounds: a new round before it would overflow, so that what JS holds of this round
    // (the communities in their order, the slots) is what the native side holds.
    const known = this.communities.has(comm);
    if (
      (!known &&
        (this.communities.size === this.port.maxCommunities ||
          (he && this.heCommunities.length === this.port.maxHeaderCommunities))) ||
      this.taught === this.port.maxEdges ||
      (he && e.fastSlot === NO_SLOT && this.slotPeers.length === this.port.slots)
    )
      this.reset();
    if (!this.communities.has(comm)) {
      this.communities.add(comm);
      if (he) this.heCommunities.push(comm);
    }
    writeMac(this.mac, 0, e.mac);
    const s = this.socket;
    const ip = e.ipv4;
    s[0] = ip >>> 24;
    s[1] = (ip >>> 16) & 0xff;
    s[2] = (ip >>> 8) & 0xff;
    s[3] = ip & 0xff;
    s[IPV4_BYTES] = e.port >>> 8;
    s[IPV4_BYTES + 1] = e.port & 0xff;
    let slot = NO_SLOT;
    if (he) {
      if (e.fastSlot === NO_SLOT) {
        e.fastSlot = this.slotPeers.length;
        this.slotPeers.push(e);
      }
      slot = e.fastSlot;
      recordToWords(this.port.records, slot, e.stamp);
      this.port.dirty[slot] = 0;
    }
    this.taught++;
    if (this.port.learn(comm.field, this.mac, s, he ? comm.dynamicKeys?.core : undefined, slot)) {
      // The native table emptied itself (the bounds above keep it from happening): start afresh.
      this.reset();
      return;
    }
    e.fastEpoch = this.epoch;
  }
}

/** A registered edge reached over UDP at an IPv4 socket. */
function eligible(e: SnPeer): boolean {
  return e.conn === undefined && e.ipv4 !== 0 && e.addr?.family === 4;
}
