// Peers as an observer sees them: up / down / path change / address learnt, derived from the two peer tables.
//
// A peer is "up" while it is in either table: known = direct (p2p), pending = via the supernode (relay). The
// tables change on many paths; rather than hook each one, the watch compares them with what it reported last,
// after every `peer` event (deferred to a microtask, so a known peer that drops back to pending in the same
// datagram batch reads as a path change, not down + up) and on every timer tick (pending peers appear without
// an event). It does nothing while nobody listens for `peerState`.
import { numberToIpv4, sockAddrToString } from '../util/ip.js';
import { type Mac, macToString } from '../util/mac.js';
import { PeerAction, type PeerEvent } from './context.js';
import type { PeerTable } from './peer-table.js';
import type { Peer } from './peers.js';

/** How we reach a peer: straight (P2P confirmed) or through the supernode. */
export const PeerPath = { P2P: 'p2p', RELAY: 'relay' } as const;
export type PeerPath = (typeof PeerPath)[keyof typeof PeerPath];

/** What changed (`peerState` events). */
export const PeerStateChange = { UP: 'up', DOWN: 'down', PATH: 'path', UPDATE: 'update' } as const;
export type PeerStateChange = (typeof PeerStateChange)[keyof typeof PeerStateChange];

/** Why a peer went down. */
export const PeerDownReason = { PURGE: 'purge', STOP: 'stop', LOST: 'lost' } as const;
export type PeerDownReason = (typeof PeerDownReason)[keyof typeof PeerDownReason];

/** Argument of `peerState`. */
export interface PeerStateEvent {
  change: PeerStateChange;
  /** Lower-case `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** Its overlay IPv4 address (no prefix), '' while unknown. */
  ip: string;
  /** Where we send to it. */
  sockaddr: string;
  /** Its description (-I), '' while unknown. */
  desc: string;
  /** The path now (for `down`: the last one). */
  path: PeerPath;
  /** For `path`: the path before. */
  previousPath?: PeerPath;
  /** For `down`. */
  reason?: PeerDownReason;
}

interface Seen {
  path: PeerPath;
  ip: number;
  sockaddr: string;
  desc: string;
  /** The reconcile pass that last saw it. */
  pass: number;
}

function reasonOf(action: number): PeerDownReason | undefined {
  if (action === PeerAction.PURGE) return PeerDownReason.PURGE;
  if (action === PeerAction.CLEAR) return PeerDownReason.STOP;
  return undefined;
}

export class PeerWatch {
  private readonly seen = new Map<Mac, Seen>();
  /** Removal reasons reported by `peer` events since the last pass. */
  private readonly reasons = new Map<Mac, PeerDownReason>();
  private pass = 0;
  private scheduled = false;

  /** `active()` says whether anyone listens; `emit` reports a change. */
  constructor(
    private readonly peers: PeerTable,
    private readonly active: () => boolean,
    private readonly emit: (ev: PeerStateEvent) => void,
  ) {}

  /** A `peer` event: remember a removal's reason and compare once the current work is done. */
  onPeerEvent(ev: PeerEvent): void {
    if (!this.active()) return;
    const r = reasonOf(ev.action);
    if (r !== undefined) this.reasons.set(ev.mac, r);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.reconcile();
    });
  }

  /** Compares the tables with what was reported and reports the differences. */
  reconcile(): void {
    if (!this.active()) {
      this.seen.clear();
      this.reasons.clear();
      return;
    }
    const pass = ++this.pass;
    for (const p of this.peers.known.values()) this.visit(p, PeerPath.P2P, pass);
    for (const p of this.peers.pending.values()) {
      if (!this.peers.known.has(p.mac)) this.visit(p, PeerPath.RELAY, pass);
    }
    for (const [mac, s] of this.seen) {
      if (s.pass === pass) continue;
      this.seen.delete(mac);
      this.emit({
        change: PeerStateChange.DOWN,
        mac: macToString(mac),
        ip: s.ip === 0 ? '' : numberToIpv4(s.ip),
        sockaddr: s.sockaddr,
        desc: s.desc,
        path: s.path,
        reason: this.reasons.get(mac) ?? PeerDownReason.LOST,
      });
    }
    this.reasons.clear();
  }

  private visit(p: Peer, path: PeerPath, pass: number): void {
    const s = this.seen.get(p.mac);
    if (s !== undefined && s.path === path && s.ip === p.devAddr) {
      s.pass = pass;
      return;
    }
    const sockaddr = sockAddrToString(p.addr);
    const ev: PeerStateEvent = {
      change: PeerStateChange.UP,
      mac: macToString(p.mac),
      ip: p.devAddr === 0 ? '' : numberToIpv4(p.devAddr),
      sockaddr,
      desc: p.desc,
      path,
    };
    if (s === undefined) {
      this.seen.set(p.mac, { path, ip: p.devAddr, sockaddr, desc: p.desc, pass });
    } else {
      if (s.path !== path) {
        ev.change = PeerStateChange.PATH;
        ev.previousPath = s.path;
      } else {
        ev.change = PeerStateChange.UPDATE;
      }
      s.path = path;
      s.ip = p.devAddr;
      s.sockaddr = sockaddr;
      s.desc = p.desc;
      s.pass = pass;
    }
    this.emit(ev);
  }
}
