// Shared supernode types — the injected environment, TCP contracts and events — so no part imports supernode.ts.
import type { UdpSocket } from '../io/types.js';
import type { HeaderBackend } from '../transform/header.js';
import type { StampGenerator } from '../transform/stamp.js';
import type { Clock } from '../util/clock.js';
import type { SockAddr } from '../util/ip.js';
import type { Logger } from '../util/log.js';
import type { Random } from '../util/random.js';

/** One accepted TCP connection (spec §1: edges with `-S2`); bytes are a stream, framed by the supernode. */
export interface TcpConn {
  readonly remote: SockAddr;
  onData(handler: (chunk: Buffer) => void): void;
  onClose(handler: () => void): void;
  /** Queues buf[off, off+len) for sending; the buffer may be reused once this returns. */
  send(buf: Uint8Array, off: number, len: number): void;
  close(): void;
}

/** A listening TCP socket. */
export interface TcpListener {
  close(): void;
}

/**
 * The native relay in front of the main UDP socket (io/snrelay.ts SnRelayPort): it forwards the PACKETs of edges
 * it was taught, without JS (fastrelay.ts).
 */
export interface NativeRelay {
  /**
   * Datagrams it took, forwarded, the Unix second of its last forward, sends the socket refused; from word
   * `heOpenedWord` on, per -H community in the order they were first taught since `forget`, the datagrams opened
   * with its key (the reader zeroes them).
   */
  readonly stats: Float64Array;
  readonly heOpenedWord: number;
  /** -H: replay records (transform/stamp.ts RECORD_WORDS each) per slot, shared with the native side. */
  readonly records: Uint32Array;
  /** -H: 1 where the native side raised a slot's record since JS cleared it; the last byte: any raised. */
  readonly dirty: Uint8Array;
  /** Record slots. */
  readonly slots: number;
  /** What it holds at most: edges, communities, -H communities (whose keys each datagram may be tried with). */
  readonly maxEdges: number;
  readonly maxCommunities: number;
  readonly maxHeaderCommunities: number;
  setEnabled(on: boolean): void;
  /** -H with the process's stamp generator state (StampGenerator.state). */
  configureHeader(stampState: Uint32Array): void;
  /** Whether -H communities with this header core (HeaderKeys.core) can be taught. */
  takesHeader(core: unknown): boolean;
  /**
   * An edge: the 20-byte community field, its MAC, its IPv4 socket (6 bytes, big-endian), and for a -H community
   * its header core and record slot. True when the table was full and everything taught before is forgotten.
   */
  learn(community20: Uint8Array, mac: Uint8Array, socket: Uint8Array, core?: unknown, slot?: number): boolean;
  /** Every edge taught so far. */
  forget(): void;
  /** Off and away from the socket. */
  detach(): void;
}

/** Injected environment. */
export interface SupernodeDeps {
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Opens (binds) a UDP socket. */
  openUdp(address: string, port: number): UdpSocket | Promise<UdpSocket>;
  /** Resolves a host name to an address text (IPv4 preferred, else IPv6). */
  resolve(host: string): Promise<string>;
  /** Reads a text file (the community list). Throws an error with code ENOENT when missing. */
  readTextFile(path: string): string;
  /** Listens for TCP connections (used when options.tcp is set). */
  listenTcp(
    address: string,
    port: number,
    onConnection: (c: TcpConn) => void,
  ): TcpListener | Promise<TcpListener>;
  /** The process-wide stamp generator (share it when edge and supernode run in one process). */
  stamps?: StampGenerator;
  /** Header-encryption cores (-H) in native code (io/crypto-native.ts); without them the TS steps serve. */
  headerBackend?: HeaderBackend;
  /** The native relay for the main socket; undefined (or absent) when the socket is not the addon's. */
  openNativeRelay?: (udp: UdpSocket) => NativeRelay | undefined;
}

/** What the events carry about an edge. */
export interface EdgeInfo {
  community: string;
  mac: string;
  sockaddr: string;
  ip4addr: string;
  desc: string;
}

/** Why an edge left (event `edgeUnregistered`). */
export type UnregisterReason = 'unregister' | 'nak' | 'moved' | 'reload' | 'closed';

export interface SupernodeEvents {
  started: [];
  stopped: [];
  edgeRegistered: [EdgeInfo];
  edgeExpired: [EdgeInfo];
  edgeUnregistered: [EdgeInfo, UnregisterReason];
  supernodeAdded: [{ mac: string; sockaddr: string }];
  supernodeExpired: [{ mac: string; sockaddr: string }];
  communitiesReloaded: [number];
}
