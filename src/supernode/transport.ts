// The supernode's sockets: the UDP socket, the TCP listener with its 2-byte framing (spec §1), and every send.
import type { UdpSocket } from '../io/types.js';
import type { SockAddr } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
import type { Community, SnPeer } from './community.js';
import type { SnContext } from './context.js';
import { DropReason } from './stats.js';
import { REGISTRATION_TIMEOUT_SECONDS } from './timers.js';
import type { TcpConn, TcpListener } from './types.js';

/** TCP frames carry a 2-byte big-endian length; 2 + length must not exceed N2N_SN_PKTBUF_SIZE (spec §1). */
const TCP_LENGTH_BYTES = 2;
const TCP_MAX_FRAME_BYTES = 2048;
/** Connections the supernode keeps (sn_utils.c accepts while fewer than FD_SETSIZE − 4 are open). */
const TCP_MAX_CONNECTIONS = 1020;

/** Per-connection reassembly state. */
class TcpPeer {
  readonly buf = Buffer.allocUnsafe(TCP_MAX_FRAME_BYTES);
  /** The edge registered over this connection, if any (sn_utils.c: close_tcp_connection deletes it). */
  owner: { comm: Community; edge: SnPeer } | undefined;
  fill = 0;
  lastActivity: number;
  readonly header = Buffer.allocUnsafe(TCP_LENGTH_BYTES);
  constructor(
    readonly conn: TcpConn,
    now: number,
  ) {
    this.lastActivity = now;
  }
}

/**
 * Owns the sockets and the TCP connections, and which connection the datagram being handled came from, so
 * that answers go back the way the question came (sn_utils.c: sendto_sock with the receiving fd). Datagrams
 * and frames go to `deliver` (receive.ts); when a connection an edge registered over closes, `ownerClosed`
 * (registry.ts) deletes the edge.
 */
export class Transport {
  private readonly ctx: SnContext;
  private readonly deliver: (data: Buffer, from: SockAddr) => void;
  private readonly ownerClosed: (comm: Community, edge: SnPeer) => void;
  private socket: UdpSocket | undefined;
  private tcpListener: TcpListener | undefined;
  private readonly tcpPeers = new Map<TcpConn, TcpPeer>();
  /** The TCP connection the datagram being processed came from (answers go back on it). */
  private rxConn: TcpConn | undefined;

  constructor(
    ctx: SnContext,
    deliver: (data: Buffer, from: SockAddr) => void,
    ownerClosed: (comm: Community, edge: SnPeer) => void,
  ) {
    this.ctx = ctx;
    this.deliver = deliver;
    this.ownerClosed = ownerClosed;
  }

  /** The bound main socket address (after open). */
  get local(): SockAddr | undefined {
    return this.socket?.local;
  }

  /** Binds the UDP socket and, with options.tcp, listens on the same port number (spec §1). */
  async open(): Promise<SockAddr> {
    const { config, deps } = this.ctx;
    const sock = await deps.openUdp(config.bindAddress, config.port);
    this.socket = sock;
    sock.onDatagram(this.deliver);
    if (config.tcp) {
      try {
        this.tcpListener = await deps.listenTcp(config.bindAddress, sock.local.port, (c) => this.accept(c));
      } catch (e) {
        sock.close();
        this.socket = undefined;
        throw e;
      }
    }
    return sock.local;
  }

  close(): void {
    this.socket?.close();
    this.tcpListener?.close();
    this.tcpListener = undefined;
    for (const t of [...this.tcpPeers.values()]) t.conn.close();
    this.tcpPeers.clear();
  }

  // ---------------------------------------------------------------- sending

  /** To a registered edge: over its TCP connection if it registered over TCP, else UDP. */
  sendToPeer(e: SnPeer, buf: Uint8Array, len: number): boolean {
    if (e.conn !== undefined) return this.sendTcp(e.conn, buf, len);
    return e.addr !== undefined && this.sendTo(e.addr, buf, len);
  }

  /** An answer to the datagram being processed: back the way it came (sn_utils.c: sendto_sock with its fd). */
  reply(to: SockAddr, buf: Uint8Array, len: number): boolean {
    if (this.rxConn !== undefined) return this.sendTcp(this.rxConn, buf, len);
    return this.sendTo(to, buf, len);
  }

  sendTo(to: SockAddr, buf: Uint8Array, len: number): boolean {
    const s = this.socket;
    if (s === undefined) return false;
    try {
      s.send(buf, 0, len, to);
      return true;
    } catch (e) {
      this.ctx.stats.errors++;
      this.ctx.log(LogLevel.WARNING, `send to ${to.address}:${to.port} failed: ${(e as Error).message}`);
      return false;
    }
  }

  private sendTcp(conn: TcpConn, buf: Uint8Array, len: number): boolean {
    const t = this.tcpPeers.get(conn);
    if (t === undefined) {
      this.ctx.stats.errors++;
      return false;
    }
    try {
      t.header[0] = len >>> 8;
      t.header[1] = len & 0xff;
      conn.send(t.header, 0, TCP_LENGTH_BYTES);
      conn.send(buf, 0, len);
      return true;
    } catch {
      this.ctx.stats.errors++;
      this.closeTcp(conn);
      return false;
    }
  }

  // ---------------------------------------------------------------- TCP connections

  /** An edge registered (or moved) from the datagram being handled: it is reached the same way from now on. */
  bindConn(comm: Community, e: SnPeer): void {
    e.conn = this.rxConn;
    if (this.rxConn !== undefined) {
      const t = this.tcpPeers.get(this.rxConn);
      if (t !== undefined) t.owner = { comm, edge: e };
    }
  }

  /** Closes a connection and (unless told otherwise) deletes the edge that registered over it. */
  closeTcp(conn: TcpConn, deleteEdge = true): void {
    const t = this.tcpPeers.get(conn);
    if (t === undefined) return;
    this.tcpPeers.delete(conn);
    conn.close();
    const o = t.owner;
    if (deleteEdge && o !== undefined && o.edge.conn === conn) {
      o.edge.conn = undefined;
      this.ownerClosed(o.comm, o.edge);
    }
  }

  /** Not in 3.1.1: a TCP connection that carried nothing for the registration timeout is closed. */
  closeIdle(now: number): void {
    for (const t of [...this.tcpPeers.values()]) {
      if (t.lastActivity < now - REGISTRATION_TIMEOUT_SECONDS) this.closeTcp(t.conn);
    }
  }

  private accept(conn: TcpConn): void {
    if (!this.ctx.running || this.tcpPeers.size >= TCP_MAX_CONNECTIONS) {
      conn.close();
      return;
    }
    const t = new TcpPeer(conn, this.ctx.nowSec());
    this.tcpPeers.set(conn, t);
    conn.onData((chunk) => this.tcpData(t, chunk));
    conn.onClose(() => this.closeTcp(conn));
  }

  /** Reassembles 2-byte-length-prefixed frames without concatenating chunks. */
  private tcpData(t: TcpPeer, chunk: Buffer): void {
    if (!this.tcpPeers.has(t.conn)) return;
    t.lastActivity = this.ctx.nowSec();
    let off = 0;
    while (off < chunk.length) {
      const want = t.fill < TCP_LENGTH_BYTES ? TCP_LENGTH_BYTES : TCP_LENGTH_BYTES + t.buf.readUInt16BE(0);
      const n = Math.min(want - t.fill, chunk.length - off);
      chunk.copy(t.buf, t.fill, off, off + n);
      t.fill += n;
      off += n;
      if (t.fill < want) break;
      if (want === TCP_LENGTH_BYTES) {
        const total = TCP_LENGTH_BYTES + t.buf.readUInt16BE(0);
        if (total > TCP_MAX_FRAME_BYTES) {
          // sn_utils.c: "too many bytes in tcp packet expected" closes the connection.
          this.ctx.stats.drops[DropReason.TOO_LONG]++;
          this.closeTcp(t.conn);
          return;
        }
        if (total === TCP_LENGTH_BYTES) t.fill = 0;
        continue;
      }
      t.fill = 0;
      this.rxConn = t.conn;
      try {
        this.deliver(t.buf.subarray(TCP_LENGTH_BYTES, want), t.conn.remote);
      } finally {
        this.rxConn = undefined;
      }
      if (!this.tcpPeers.has(t.conn)) return;
    }
  }
}
