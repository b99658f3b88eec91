// JSON views of a running edge or supernode: what the HTTP API, the status page, `tsn2n status` and the metrics read.
import type { Edge } from '../edge/edge.js';
import { PeerPath } from '../edge/peer-watch.js';
import { NO_RTT, type Peer } from '../edge/peers.js';
import { criterionText } from '../edge/supernodes.js';
import type { Community, SnPeer } from '../supernode/community.js';
import { DropReason } from '../supernode/stats.js';
import type { Supernode } from '../supernode/supernode.js';
import { numberToIpv4, sockAddrToString } from '../util/ip.js';
import { macToString, NULL_MAC } from '../util/mac.js';

/** The `kind` of a status view. */
export const DaemonKind = { EDGE: 'edge', SUPERNODE: 'supernode' } as const;
export type DaemonKind = (typeof DaemonKind)[keyof typeof DaemonKind];

/** One peer of an edge. Times are Unix seconds (0 = never); RTTs in milliseconds, null until measured. */
export interface PeerView {
  mac: string;
  /** Overlay address with prefix (`10.0.0.2/24`), '' while unknown. */
  ip: string;
  path: PeerPath;
  /** Where we send to it. */
  sockaddr: string;
  /** The LAN socket it advertised with -e, '' when none. */
  preferred: string;
  desc: string;
  /** Found by multicast discovery on our LAN. */
  local: boolean;
  lastSeen: number;
  lastP2p: number;
  rttMs: number | null;
  rttLastMs: number | null;
  rttAt: number;
}

/** One supernode in an edge's list. */
export interface EdgeSupernodeView {
  address: string;
  sockaddr: string;
  mac: string;
  version: string;
  /** The one we register with. */
  current: boolean;
  /** Given with -l (not learnt from an ACK). */
  configured: boolean;
  selection: string;
  lastSeen: number;
  uptime: number;
}

/** Packets and datagram bytes of one path. */
export interface PathTraffic {
  txPackets: number;
  rxPackets: number;
  txBytes: number;
  rxBytes: number;
}

export interface EdgeTrafficView {
  p2p: PathTraffic;
  relay: PathTraffic;
  /** Broadcast/multicast PACKETs among the relayed ones. */
  broadcast: { txPackets: number; rxPackets: number };
  /** Frames through the payload transform. */
  transform: { txPackets: number; rxPackets: number };
}

/** `GET /api/v1/status` of an edge. */
export interface EdgeStatusView {
  kind: 'edge';
  version: string;
  /** Null with header encryption: the name is the header key (the management port hides it too). */
  community: string | null;
  headerEncryption: boolean;
  device: string;
  mac: string;
  /** Our overlay address with prefix, '' while unknown. */
  ip: string;
  state: string;
  now: number;
  startTime: number;
  /** True while we hold an ACK of `supernode`. */
  registered: boolean;
  supernode: string | null;
  /** Our public socket as the supernode sees it; null when unknown. */
  publicAddr: string | null;
  lastSuper: number;
  lastP2p: number;
  supernodes: EdgeSupernodeView[];
  peers: PeerView[];
  traffic: EdgeTrafficView;
  /** Every drop reason with its count. */
  drops: Record<string, number>;
}

function mac(m: number): string {
  return m === NULL_MAC ? '' : macToString(m);
}

function cidr(addr: number, bits: number): string {
  return addr === 0 ? '' : `${numberToIpv4(addr)}/${bits}`;
}

/** RTTs are reported in ms with three decimals (µs resolution). */
const RTT_ROUNDING = 1000;

function rtt(v: number): number | null {
  return v === NO_RTT ? null : Math.round(v * RTT_ROUNDING) / RTT_ROUNDING;
}

function peerView(p: Peer, path: PeerPath): PeerView {
  return {
    mac: mac(p.mac),
    ip: cidr(p.devAddr, p.devBits),
    path,
    sockaddr: sockAddrToString(p.addr),
    preferred: p.preferred ? sockAddrToString(p.preferred) : '',
    desc: p.desc,
    local: p.local,
    lastSeen: p.lastSeen,
    lastP2p: p.lastP2p,
    rttMs: rtt(p.rttMs),
    rttLastMs: rtt(p.rttLastMs),
    rttAt: p.rttAt,
  };
}

/** The peers of an edge: direct ones first, then those reached via the supernode; each MAC once. */
export function edgePeerViews(edge: Edge): PeerView[] {
  const t = edge.peerTables();
  const out = t.known.map((p) => peerView(p, PeerPath.P2P));
  const known = new Set(t.known.map((p) => p.mac));
  for (const p of t.pending) if (!known.has(p.mac)) out.push(peerView(p, PeerPath.RELAY));
  return out;
}

export function edgeSupernodeViews(edge: Edge): EdgeSupernodeView[] {
  return edge.supernodeList().map((sn) => {
    const current = sn === edge.currentSupernode;
    return {
      address: sn.text,
      sockaddr: sn.addr ? sockAddrToString(sn.addr) : '',
      mac: mac(sn.mac),
      version: sn.version,
      current,
      configured: !sn.purgeable,
      selection: criterionText(sn, edge.config.selection, current),
      lastSeen: sn.lastSeen,
      uptime: sn.uptime,
    };
  });
}

export function edgeTrafficView(edge: Edge): EdgeTrafficView {
  const t = edge.traffic;
  return {
    p2p: { txPackets: t.txP2p, rxPackets: t.rxP2p, txBytes: t.txP2pBytes, rxBytes: t.rxP2pBytes },
    relay: { txPackets: t.txSup, rxPackets: t.rxSup, txBytes: t.txSupBytes, rxBytes: t.rxSupBytes },
    broadcast: { txPackets: t.txSupBroadcast, rxPackets: t.rxSupBroadcast },
    transform: { txPackets: t.transopTx, rxPackets: t.transopRx },
  };
}

/** Every drop counter of an edge by reason (EdgeDrops field names). */
export function edgeDropsView(edge: Edge): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [reason, count] of Object.entries(edge.drops))
    if (typeof count === 'number') out[reason] = count;
  return out;
}

export function edgeStatusView(edge: Edge, version: string): EdgeStatusView {
  const reg = edge.registrationState;
  const a = edge.address;
  return {
    kind: DaemonKind.EDGE,
    version,
    community: edge.headerEncryption ? null : edge.config.community,
    headerEncryption: edge.headerEncryption,
    device: edge.config.device,
    mac: mac(edge.mac),
    ip: cidr(a.addr, a.bitlen),
    state: edge.runState,
    now: edge.nowSeconds(),
    startTime: edge.startTime,
    registered: reg.supernode !== undefined,
    supernode: reg.supernode ?? null,
    publicAddr: reg.publicAddr ?? null,
    lastSuper: edge.lastSup,
    lastP2p: edge.lastP2p,
    supernodes: edgeSupernodeViews(edge),
    peers: edgePeerViews(edge),
    traffic: edgeTrafficView(edge),
    drops: edgeDropsView(edge),
  };
}

// ---------------------------------------------------------------- supernode

/** One edge registered at a supernode. */
export interface SnEdgeView {
  community: string;
  mac: string;
  ip: string;
  sockaddr: string;
  proto: 'UDP' | 'TCP';
  desc: string;
  lastSeen: number;
}

export interface SnCommunityView {
  name: string;
  /** Created by a registration rather than listed in the -c file. */
  purgeable: boolean;
  /** Auto-IP subnet, '' when none. */
  subnet: string;
  edges: number;
}

/** A member of the federation. */
export interface SnFederationPeerView {
  mac: string;
  sockaddr: string;
  /** Given with -l (never purged). */
  configured: boolean;
  lastSeen: number;
}

export interface SnStatsView {
  rxPackets: number;
  /** Unicast PACKETs relayed to an edge, and copies sent by broadcasts. */
  forwarded: number;
  broadcast: number;
  registrations: number;
  registrationsOk: number;
  registrationsNak: number;
  sendErrors: number;
  lastForward: number;
  lastRegistration: number;
}

/** `GET /api/v1/status` of a supernode. */
export interface SupernodeStatusView {
  kind: 'supernode';
  version: string;
  mac: string;
  listen: string;
  running: boolean;
  now: number;
  startTime: number;
  federation: { name: string; peers: SnFederationPeerView[] };
  communities: SnCommunityView[];
  edges: SnEdgeView[];
  stats: SnStatsView;
  drops: Record<string, number>;
}

function descText(p: SnPeer): string {
  let n = p.desc.indexOf(0);
  if (n < 0) n = p.desc.length;
  return Buffer.from(p.desc.buffer, p.desc.byteOffset, n).toString('latin1');
}

function snSock(p: SnPeer): string {
  return p.addr ? sockAddrToString(p.addr) : (p.hostSpec ?? '');
}

/** The communities (not the federation). */
export function snCommunities(sn: Supernode): Community[] {
  return sn.communityList().filter((c) => !c.isFederation);
}

export function snEdgeViews(sn: Supernode): SnEdgeView[] {
  const out: SnEdgeView[] = [];
  for (const c of snCommunities(sn)) {
    for (const p of c.edges.values()) {
      out.push({
        community: c.name,
        mac: mac(p.mac),
        ip: cidr(p.devAddr, p.devBits),
        sockaddr: snSock(p),
        proto: p.conn !== undefined ? 'TCP' : 'UDP',
        desc: descText(p),
        lastSeen: p.lastSeen,
      });
    }
  }
  return out;
}

export function snCommunityViews(sn: Supernode): SnCommunityView[] {
  return snCommunities(sn).map((c) => ({
    name: c.name,
    purgeable: c.purgeable,
    subnet: cidr(c.netAddr, c.netBits),
    edges: c.edges.size,
  }));
}

export function snFederationViews(sn: Supernode): SnFederationPeerView[] {
  return [...sn.federation.edges.values()].map((p) => ({
    mac: mac(p.mac),
    sockaddr: snSock(p),
    configured: !p.purgeable,
    lastSeen: p.lastSeen,
  }));
}

export function snStatsView(sn: Supernode): SnStatsView {
  const s = sn.stats;
  return {
    rxPackets: s.rx,
    forwarded: s.fwd,
    broadcast: s.broadcast,
    registrations: s.regSuper,
    registrationsOk: s.regSuperOk,
    registrationsNak: s.regSuperNak,
    sendErrors: s.errors,
    lastForward: s.lastFwd,
    lastRegistration: s.lastRegSuper,
  };
}

export function snDropsView(sn: Supernode): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of Object.values(DropReason)) out[r] = sn.stats.drops[r];
  return out;
}

export function supernodeStatusView(sn: Supernode, version: string): SupernodeStatusView {
  const a = sn.address;
  return {
    kind: DaemonKind.SUPERNODE,
    version,
    mac: mac(sn.mac),
    listen: a ? sockAddrToString(a) : '',
    running: sn.running,
    now: sn.nowSec(),
    startTime: sn.startTime,
    federation: { name: sn.federation.name, peers: snFederationViews(sn) },
    communities: snCommunityViews(sn),
    edges: snEdgeViews(sn),
    stats: snStatsView(sn),
    drops: snDropsView(sn),
  };
}
