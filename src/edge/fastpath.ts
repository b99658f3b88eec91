// The native fast path's TS half: decides when it may run and for which peers, and turns its counters into the edge's bookkeeping.
//
// The addon (native/src/fastpath.cc via io/fastpath.ts) takes, before JS sees a batch, its leading packets that
// the JS path would only encrypt or decrypt, count and pass on: received PACKETs from a known P2P peer at its
// known socket in our community and transform, uncompressed, with a unicast frame for us (receive.ts); TAP frames
// from us to a known peer that send.ts would send directly. Everything that needs a decision stays in TS: this
// class pushes the known peers (MAC at IPv4:port, and until which second they may be sent to directly) and
// switches each direction on only in the states where the JS path would do just that (running, registered, no
// filter, no MSS clamping, -H only in a community without users and on the system clock; sending also without
// compression). With -H the peers' replay records live in the port's shared array while the native side may
// use them: copied down after every JS entry (refresh), copied back for the peers it took packets from
// (collect), so that JS and C++ check and raise one record. collectNow runs before JS code reads the
// peers or counters (batches, ticks, management) and applies what the native side counted, per peer what the JS
// path does per packet (the direct-packet bookkeeping, rxDirect / txDirect, the traffic counters) with the time
// of the collection; refresh runs after the JS entries that may change the peers (batches, ticks).

import { recordFromWords, recordToWords } from '../transform/stamp.js';
import { SystemClock } from '../util/clock.js';
import { LogLevel } from '../util/log.js';
import { writeMac } from '../util/mac.js';
import { CompressionId } from '../wire/types.js';
import { type EdgeContext, EdgeState, nowSeconds } from './context.js';
import type { FastPathPort, OpenFastPath } from './deps.js';
import type { PeerTable } from './peer-table.js';
import type { Peer } from './peers.js';
import type { SupernodeEntry } from './supernodes.js';

// FastPathPort.stats layout (native/src/fastpath.cc).
const STAT_RX_PACKETS = 0;
const STAT_RX_BYTES = 1;
const STAT_TAP_DROPS = 2;
const STAT_TX_PACKETS = 3;
const STAT_TX_BYTES = 4;
const STAT_SOCKET_DROPS = 5;
const STAT_TOTALS = 8;
const STATS_PER_PEER = 4;
// Peer table entries.
const PEER_BYTES = 20;
const MAC_BYTES = 6;
const PEER_IP = 6;
const PEER_PORT = 10;
const PEER_SEND = 12;
const PEER_UNTIL = 16;
// FastPathPort.relayStats layout: totals, then the same four per relay slot.
const RELAY_RX_PACKETS = 0;
const RELAY_RX_BYTES = 1;
const RELAY_TX_PACKETS = 2;
const RELAY_TX_BYTES = 3;
const RELAY_TOTALS = 4;
/** The supernode's socket for setRelay: IPv4 and port, big-endian. */
const SN_BYTES = 6;

export class EdgeFastPath {
  private port: FastPathPort | undefined;
  private portUdp: unknown;
  private portTap: unknown;
  private portDevAddr = 0;
  private portMac = 0;
  /** The table pushed down and the peers behind its slots. */
  private table = new Uint8Array(0);
  private next = new Uint8Array(0);
  private slots: Peer[] = [];
  /** pushPeers' scratch: the peers behind `next`'s entries. */
  private readonly nextSlots: Peer[] = [];
  private count = 0;
  /** The native counters already applied. */
  private readonly seen = new Float64Array(STAT_TOTALS);
  private seenPeers = new Float64Array(0);
  private rx = false;
  private tx = false;
  /** The header keys the port was configured with (-H), undefined without -H. */
  private portKeys: unknown;
  /** Header keys a port refused (not the addon's): -H stays on the JS path for them. */
  private refusedKeys: unknown;
  /** The relayed table pushed down (pending peers reached through the supernode) and the supernode's socket. */
  private relayTable = new Uint8Array(0);
  private relayNext = new Uint8Array(0);
  private relaySlots: Peer[] = [];
  private readonly relayNextSlots: Peer[] = [];
  private relayCount = 0;
  private readonly relaySn = new Uint8Array(SN_BYTES);
  private readonly relaySnNext = new Uint8Array(SN_BYTES);
  /** Known peers with an IPv4 socket at the last pushPeers (more than the table holds: no relaying). */
  private knownIpv4 = 0;
  private relaySnSet = false;
  /** The supernode behind relaySn (its replay record is mirrored in the port's snRecord with -H). */
  private relaySnEntry: SupernodeEntry | undefined;
  private readonly relaySeen = new Float64Array(RELAY_TOTALS);
  private relaySeenSlots = new Float64Array(0);

  constructor(
    private readonly ctx: EdgeContext,
    private readonly peers: PeerTable,
    private readonly open: OpenFastPath,
  ) {}

  /** Applies the native counters (before JS code reads the peers or the counters). Never throws. */
  readonly collectNow = (): void => {
    try {
      this.collect();
    } catch (err) {
      this.fail(err);
    }
  };

  /** Applies the native counters, then re-decides the table and the directions. Never throws. */
  readonly refresh = (): void => {
    try {
      this.collect();
      this.decide();
    } catch (err) {
      this.fail(err);
    }
  };

  /** Off and detached (the edge stops). */
  close(): void {
    if (this.port !== undefined) {
      this.collect();
      this.port.detach();
    }
    this.port = undefined;
    this.portUdp = undefined;
    this.portTap = undefined;
    this.rx = false;
    this.tx = false;
    this.count = 0;
    this.slots = [];
  }

  private fail(err: unknown): void {
    try {
      this.close();
    } catch {
      this.port = undefined;
    }
    this.ctx.log(LogLevel.WARNING, `native fast path off: ${(err as Error).message}`);
  }

  /** What the native side counted since the last call, as the JS path would have counted it packet by packet. */
  private collect(): void {
    const port = this.port;
    if (port === undefined) return;
    this.collectRelayed(port);
    const s = port.stats;
    const seen = this.seen;
    if (
      s[STAT_RX_PACKETS] === seen[STAT_RX_PACKETS] &&
      s[STAT_TX_PACKETS] === seen[STAT_TX_PACKETS] &&
      s[STAT_TAP_DROPS] === seen[STAT_TAP_DROPS] &&
      s[STAT_SOCKET_DROPS] === seen[STAT_SOCKET_DROPS]
    )
      return;
    const ctx = this.ctx;
    const t = ctx.traffic;
    const rxPackets = s[STAT_RX_PACKETS] - seen[STAT_RX_PACKETS];
    const rxBytes = s[STAT_RX_BYTES] - seen[STAT_RX_BYTES];
    const txPackets = s[STAT_TX_PACKETS] - seen[STAT_TX_PACKETS];
    const txBytes = s[STAT_TX_BYTES] - seen[STAT_TX_BYTES];
    ctx.drops.rxTapWrite += s[STAT_TAP_DROPS] - seen[STAT_TAP_DROPS];
    ctx.drops.txSocket += s[STAT_SOCKET_DROPS] - seen[STAT_SOCKET_DROPS];
    seen.set(s.subarray(0, STAT_TOTALS));
    t.fastRx += rxPackets;
    t.fastRxBytes += rxBytes;
    t.rxP2p += rxPackets;
    t.rxP2pBytes += rxBytes;
    t.transopRx += rxPackets;
    t.fastTx += txPackets;
    t.fastTxBytes += txBytes;
    t.txP2p += txPackets;
    t.txP2pBytes += txBytes;
    t.transopTx += txPackets;
    const now = nowSeconds(ctx.clock);
    if (rxPackets > 0) ctx.lastP2p = now;
    for (let i = 0; i < this.count; i++) {
      const o = STAT_TOTALS + STATS_PER_PEER * i;
      const q = STATS_PER_PEER * i;
      const rx = s[o] - this.seenPeers[q];
      const tx = s[o + 2] - this.seenPeers[q + 2];
      if (rx === 0 && tx === 0) continue;
      this.seenPeers.set(s.subarray(o, o + STATS_PER_PEER), q);
      const p = this.slots[i];
      if (rx > 0 && this.portKeys !== undefined) recordFromWords(port.records, i, p.stamp);
      // send.ts: sendPacket counts each direct send on the peer.
      p.txDirect += tx;
      if (rx > 0) {
        // receive.ts: rxPacket → PeerTable.directPacket for each; the table was pushed with p at this socket.
        this.peers.directPacket(false, p.mac, p.addr, p.ip4, now);
        const k = this.peers.known.get(p.mac);
        if (k !== undefined) k.rxDirect += rx - 1;
      }
    }
  }

  /**
   * What the native side relayed since the last call: as receive.ts / send.ts count a PACKET to or from a pending
   * peer through the supernode (rxSup / txSup, the supernode heard from, the peer seen at the socket it has).
   */
  private collectRelayed(port: FastPathPort): void {
    const r = port.relayStats;
    const seen = this.relaySeen;
    if (r[RELAY_RX_PACKETS] === seen[RELAY_RX_PACKETS] && r[RELAY_TX_PACKETS] === seen[RELAY_TX_PACKETS])
      return;
    const ctx = this.ctx;
    const t = ctx.traffic;
    const rxPackets = r[RELAY_RX_PACKETS] - seen[RELAY_RX_PACKETS];
    const rxBytes = r[RELAY_RX_BYTES] - seen[RELAY_RX_BYTES];
    const txPackets = r[RELAY_TX_PACKETS] - seen[RELAY_TX_PACKETS];
    const txBytes = r[RELAY_TX_BYTES] - seen[RELAY_TX_BYTES];
    seen.set(r.subarray(0, RELAY_TOTALS));
    t.fastRx += rxPackets;
    t.fastRxBytes += rxBytes;
    t.rxSup += rxPackets;
    t.rxSupBytes += rxBytes;
    t.transopRx += rxPackets;
    t.fastTx += txPackets;
    t.fastTxBytes += txBytes;
    t.txSup += txPackets;
    t.txSupBytes += txBytes;
    t.transopTx += txPackets;
    const now = nowSeconds(ctx.clock);
    if (rxPackets > 0) ctx.lastSup = now;
    if (rxPackets > 0 && this.portKeys !== undefined && this.relaySnEntry !== undefined)
      recordFromWords(port.snRecord, 0, this.relaySnEntry.stamp);
    for (let i = 0; i < this.relayCount; i++) {
      const o = RELAY_TOTALS + RELAY_TOTALS * i;
      const rx = r[o] - this.relaySeenSlots[RELAY_TOTALS * i];
      const tx = r[o + 2] - this.relaySeenSlots[RELAY_TOTALS * i + 2];
      if (rx === 0 && tx === 0) continue;
      this.relaySeenSlots.set(r.subarray(o, o + RELAY_TOTALS), RELAY_TOTALS * i);
      // peer-table.ts: checkPeerRegistration → registerWithNewPeer for a pending peer at the socket it has.
      if (rx > 0) this.relaySlots[i].lastSeen = now;
    }
  }

  /** Whether the JS path would take a steady-state PACKET at all in the current state. */
  private eligible(): boolean {
    const ctx = this.ctx;
    return (
      ctx.state === EdgeState.RUNNING &&
      ctx.lastSup !== 0 &&
      // -H: one key pair that never changes, and stamps on the clock the addon reads.
      (!ctx.he ||
        (!ctx.userPassword &&
          ctx.dynamicKeys?.core !== undefined &&
          ctx.dynamicKeys.core !== this.refusedKeys &&
          ctx.clock instanceof SystemClock)) &&
      ctx.filter === undefined &&
      ctx.mssV4 === 0 &&
      ctx.mssV6 === 0 &&
      ctx.udp !== undefined &&
      ctx.tap !== undefined &&
      ctx.payload.batch !== undefined
    );
  }

  private decide(): void {
    const ctx = this.ctx;
    if (!this.eligible()) {
      if (this.rx || this.tx) this.port?.setEnabled(false, false);
      this.rx = false;
      this.tx = false;
      if (ctx.state !== EdgeState.RUNNING) this.close();
      return;
    }
    if (
      this.port === undefined ||
      this.portUdp !== ctx.udp ||
      this.portTap !== ctx.tap ||
      this.portDevAddr !== ctx.devAddr ||
      this.portMac !== ctx.ownMac
    ) {
      this.close();
      const mac = new Uint8Array(MAC_BYTES);
      writeMac(mac, 0, ctx.ownMac);
      this.port = this.open(
        ctx.udp,
        ctx.tap,
        ctx.payload.batch,
        ctx.community,
        mac,
        ctx.payload.transformId,
        ctx.devAddr,
        ctx.config.allowRouting,
      );
      if (this.port === undefined) return;
      this.portUdp = ctx.udp;
      this.portTap = ctx.tap;
      this.portDevAddr = ctx.devAddr;
      this.portMac = ctx.ownMac;
      this.portKeys = undefined;
      this.seen.set(this.port.stats.subarray(0, STAT_TOTALS));
      this.relaySeen.set(this.port.relayStats.subarray(0, RELAY_TOTALS));
      this.relayCount = 0;
      this.relaySlots = [];
      this.relayTable = new Uint8Array(0);
      this.relaySnSet = false;
      this.relaySnEntry = undefined;
    }
    const keys = ctx.he ? ctx.dynamicKeys?.core : undefined;
    if (keys !== this.portKeys) {
      if (!this.port.configureHeader(keys, ctx.stamps.state)) {
        // Native -H is not to be had for these keys: the JS path keeps everything.
        this.refusedKeys = keys;
        this.close();
        return;
      }
      this.portKeys = keys;
      this.rx = false;
      this.tx = false;
    }
    this.pushPeers(this.port);
    this.pushRelayed(this.port);
    if (this.portKeys !== undefined) {
      this.recordsDown(this.port.records);
      if (this.relaySnEntry !== undefined) recordToWords(this.port.snRecord, 0, this.relaySnEntry.stamp);
    }
    const rx = this.count > 0 || this.relayCount > 0;
    const tx = rx && ctx.payload.compression === CompressionId.NONE;
    if (rx !== this.rx || tx !== this.tx) this.port.setEnabled(rx, tx);
    this.rx = rx;
    this.tx = tx;
  }

  /** The pushed peers' replay records, JS's (newest after a JS entry) into the port's shared array. */
  private recordsDown(records: Uint32Array): void {
    for (let i = 0; i < this.count; i++) recordToWords(records, i, this.slots[i].stamp);
  }

  /**
   * The pending peers the JS path would only relay to and from (send.ts sendPacket while checkQueryPeerInfo has
   * nothing due: until lastSentQuery + the registration interval; receive.ts rxPacket from the supernode with the
   * socket the peer has), and the current supernode when it has an IPv4 socket; pushed only when they differ.
   * Off when the direct table does not hold every known peer (the native side checks relayed sockets against it).
   */
  private pushRelayed(port: FastPathPort): void {
    const ctx = this.ctx;
    const cur = ctx.supernodes.cur;
    const snOk = cur.addr !== undefined && cur.ip4 >= 0 && this.knownIpv4 <= port.maxPeers;
    let n = 0;
    if (snOk) for (const p of this.peers.pending.values()) if (p.ip4 > 0 && p.lastSentQuery > 0) n++;
    if (n > port.maxPeers) n = 0;
    if (this.relayNext.length < Math.max(1, n) * PEER_BYTES)
      this.relayNext = new Uint8Array(Math.max(1, n) * PEER_BYTES);
    const next = this.relayNext;
    const nextSlots = this.relayNextSlots;
    let count = 0;
    let same = n === this.relayCount && snOk === this.relaySnSet;
    const interval = ctx.config.registerInterval;
    if (n > 0) {
      for (const p of this.peers.pending.values()) {
        if (!(p.ip4 > 0 && p.lastSentQuery > 0)) continue;
        const o = count * PEER_BYTES;
        writeEntry(next, o, p, true, p.lastSentQuery + interval);
        if (same && (this.relaySlots[count] !== p || !sameBytes(this.relayTable, next, o, PEER_BYTES)))
          same = false;
        nextSlots[count++] = p;
      }
    }
    if (snOk) {
      const ip = cur.ip4 >>> 0;
      const snPort = cur.addr!.port;
      const b = this.relaySnNext;
      b[0] = ip >>> 24;
      b[1] = (ip >>> 16) & 0xff;
      b[2] = (ip >>> 8) & 0xff;
      b[3] = ip & 0xff;
      b[4] = snPort >>> 8;
      b[5] = snPort & 0xff;
      if (!sameBytes(this.relaySn, b, 0, SN_BYTES)) same = false;
      this.relaySn.set(b);
    }
    if (same) return;
    const table = next.slice(0, Math.max(1, count) * PEER_BYTES);
    if (this.relaySeenSlots.length !== RELAY_TOTALS * port.maxPeers)
      this.relaySeenSlots = new Float64Array(RELAY_TOTALS * port.maxPeers);
    this.relaySeenSlots.set(
      port.relayStats.subarray(RELAY_TOTALS, RELAY_TOTALS + RELAY_TOTALS * port.maxPeers),
    );
    port.setRelay(table, count, snOk ? this.relaySn : null);
    this.relayTable = table;
    this.relaySlots = nextSlots.slice(0, count);
    this.relayCount = count;
    this.relaySnSet = snOk;
    this.relaySnEntry = snOk ? cur : undefined;
  }

  /** The known IPv4 peers, pushed down only when they differ from what the native side has. */
  private pushPeers(port: FastPathPort): void {
    let n = 0;
    for (const p of this.peers.known.values()) if (p.ip4 !== -1) n++;
    this.knownIpv4 = n;
    if (n > port.maxPeers) n = 0;
    // Built in scratch that only grows, compared with what was pushed; copied only when it differs.
    if (this.next.length < Math.max(1, n) * PEER_BYTES)
      this.next = new Uint8Array(Math.max(1, n) * PEER_BYTES);
    const next = this.next;
    const nextSlots = this.nextSlots;
    let count = 0;
    let same = n === this.count;
    if (n > 0) {
      for (const p of this.peers.known.values()) {
        if (p.ip4 === -1) continue;
        const o = count * PEER_BYTES;
        // send.ts: sendPacket goes direct while lastSeen > 0 and now − lastP2p < ⌊timeout / 2⌋.
        const send = p.lastSeen > 0;
        const until = send ? p.lastP2p + Math.floor(p.timeout / 2) - 1 : 0;
        writeEntry(next, o, p, send && until >= 0, until);
        if (same && (this.slots[count] !== p || !sameBytes(this.table, next, o, PEER_BYTES))) same = false;
        nextSlots[count++] = p;
      }
    }
    if (same) return;
    const table = next.slice(0, Math.max(1, count) * PEER_BYTES);
    // Slots start from the native counters as they stand (what was counted before is collected already); the
    // copy goes into one array kept for the port's life (8 KiB: a new one per change would churn under churn).
    if (this.seenPeers.length !== STATS_PER_PEER * port.maxPeers)
      this.seenPeers = new Float64Array(STATS_PER_PEER * port.maxPeers);
    this.seenPeers.set(port.stats.subarray(STAT_TOTALS, STAT_TOTALS + STATS_PER_PEER * port.maxPeers));
    port.setPeers(table, count);
    this.table = table;
    this.slots = nextSlots.slice(0, count);
    this.count = count;
  }
}

/** A 20-byte table entry for `p` at buf[o]: MAC, IPv4 and port, may-send flag, 3 zero bytes, send-until (s). */
function writeEntry(buf: Uint8Array, o: number, p: Peer, send: boolean, until: number): void {
  writeMac(buf, o, p.mac);
  const ip = p.ip4 >>> 0;
  buf[o + PEER_IP] = ip >>> 24;
  buf[o + PEER_IP + 1] = (ip >>> 16) & 0xff;
  buf[o + PEER_IP + 2] = (ip >>> 8) & 0xff;
  buf[o + PEER_IP + 3] = ip & 0xff;
  buf[o + PEER_PORT] = p.port >>> 8;
  buf[o + PEER_PORT + 1] = p.port & 0xff;
  buf[o + PEER_SEND] = send ? 1 : 0;
  buf[o + PEER_SEND + 1] = 0;
  buf[o + PEER_SEND + 2] = 0;
  buf[o + PEER_SEND + 3] = 0;
  const u = Math.max(0, until) >>> 0;
  buf[o + PEER_UNTIL] = u >>> 24;
  buf[o + PEER_UNTIL + 1] = (u >>> 16) & 0xff;
  buf[o + PEER_UNTIL + 2] = (u >>> 8) & 0xff;
  buf[o + PEER_UNTIL + 3] = u & 0xff;
}

/** Whether a[o, o+n) and b[o, o+n) hold the same bytes. */
function sameBytes(a: Uint8Array, b: Uint8Array, o: number, n: number): boolean {
  if (a.length < o + n) return false;
  for (let i = o; i < o + n; i++) if (a[i] !== b[i]) return false;
  return true;
}
