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
