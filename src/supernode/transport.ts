// The supernode's sockets: the UDP socket, the TCP listener with its 2-byte framing (spec §1), and every send.
import { SOCKADDR_BYTES, SockAddrCache } from '../io/sockaddr.js';
import { type BatchUdpSocket, type DatagramBatch, isBatchUdpSocket, type UdpSocket } from '../io/types.js';
import { SystemClock } from '../util/clock.js';
import { numberToIpv4, type SockAddr } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
import type { Community, SnPeer } from './community.js';
import type { SnContext } from './context.js';
import { FastRelay } from './fastrelay.js';
import { DropReason } from './stats.js';
import { REGISTRATION_TIMEOUT_SECONDS } from './timers.js';
import type { TcpConn, TcpListener } from './types.js';

/** TCP frames carry a 2-byte big-endian length; 2 + length must not exceed N2N_SN_PKTBUF_SIZE (spec §1). */
const TCP_LENGTH_BYTES = 2;
const TCP_MAX_FRAME_BYTES = 2048;
/** Connections the supernode keeps (sn_utils.c accepts while fewer than FD_SETSIZE − 4 are open). */
const TCP_MAX_CONNECTIONS = 1020;
/**
 * Outgoing datagrams built per receive batch before a flush: one slot per relayed datagram, each large enough for
 * the largest datagram received (2,048 bytes, io/udp-native.ts) plus the 8-byte sender socket a relay adds.
 */
const TX_SLOTS = 64;
const TX_SLOT_BYTES = 2048 + 64;
/** Sends queued per flush (a broadcast queues one per member for the same slot). */
const TX_QUEUE_MAX = 256;
/** Senders remembered as SockAddr objects, so a batch decodes none it has seen (cleared when full). */
const ADDR_CACHE_MAX = 4096;
const PORT_SPACE = 0x10000;
const IPV4_OFF = 4;

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
  private readonly deliver: (buf: Buffer, off: number, len: number, from: SockAddr) => void;
  private readonly ownerClosed: (comm: Community, edge: SnPeer) => void;
  private socket: UdpSocket | undefined;
  private tcpListener: TcpListener | undefined;
  private readonly tcpPeers = new Map<TcpConn, TcpPeer>();
  /** The TCP connection the datagram being processed came from (answers go back on it). */
  private rxConn: TcpConn | undefined;

  /**
   * Where relayed datagrams are built (relay.ts: reserve a slot, write, send). With the batched socket the sends
   * of one receive batch queue here and leave in one sendmmsg when the batch ends (or a queue fills); with any
   * other socket each send goes at once and slot 0 is reused.
   */
  readonly txBuf: Buffer = Buffer.alloc(TX_SLOTS * TX_SLOT_BYTES);
  private batchSocket: BatchUdpSocket | undefined;
  /** True while a receive batch is handled: sends from txBuf are queued. */
  private batching = false;
  private txSlots = 0;
  private txCount = 0;
  private readonly txOffsets = new Uint32Array(TX_QUEUE_MAX);
  private readonly txLengths = new Uint32Array(TX_QUEUE_MAX);
  private readonly txAddrs = new Uint8Array(TX_QUEUE_MAX * SOCKADDR_BYTES);
  private readonly addrCache = new Map<number, SockAddr>();
  private readonly addr6Cache = new SockAddrCache(ADDR_CACHE_MAX);

  constructor(
    ctx: SnContext,
    deliver: (buf: Buffer, off: number, len: number, from: SockAddr) => void,
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
    if (isBatchUdpSocket(sock)) {
      this.batchSocket = sock;
      sock.onDatagrams(this.onBatch);
      const port = deps.openNativeRelay?.(sock);
      // -H too when stamps come from the system clock, which the addon reads.
      const stamps = this.ctx.clock instanceof SystemClock ? this.ctx.stamps : undefined;
      if (port !== undefined) this.ctx.fastRelay = new FastRelay(port, this.ctx.stats, stamps);
    } else {
      sock.onDatagram(this.onDatagram);
    }
    if (config.tcp) {
      try {
        // The UDP socket's own address: `::` became 0.0.0.0 on a host without IPv6.
        const tcpAddress =
          sock.local.family === 4 && config.bindAddress === '::' ? '0.0.0.0' : config.bindAddress;
        this.tcpListener = await deps.listenTcp(tcpAddress, sock.local.port, (c) => this.accept(c));
      } catch (e) {
        this.closeFastRelay();
        sock.close();
        this.socket = undefined;
        throw e;
      }
    }
    return sock.local;
  }

  close(): void {
    this.batchSocket = undefined;
    this.closeFastRelay();
    this.socket?.close();
    this.tcpListener?.close();
    this.tcpListener = undefined;
    for (const t of [...this.tcpPeers.values()]) t.conn.close();
    this.tcpPeers.clear();
  }

  private closeFastRelay(): void {
    this.ctx.fastRelay?.close();
    this.ctx.fastRelay = undefined;
  }

  // ---------------------------------------------------------------- receiving

  private readonly onDatagram = (data: Buffer, from: SockAddr): void => {
    this.deliver(data, 0, data.length, from);
  };

  /** A batch from recvmmsg: each datagram handled in place in the slab, the sends it causes flushed at the end. */
  private readonly onBatch = (b: DatagramBatch): void => {
    const addrs = b.addrs;
    this.ctx.fastRelay?.collect();
    this.batching = true;
    try {
      for (let i = 0; i < b.count; i++) {
        const a = i * SOCKADDR_BYTES;
        const from = addrs[a] === 4 ? this.cachedAddr(addrs, a) : this.addr6Cache.get(addrs, a);
        this.deliver(b.slab, i * b.stride + b.headroom, b.lengths[i], from);
      }
    } finally {
      this.batching = false;
      this.flushTx();
    }
  };

  /** The SockAddr of an IPv4 sender, shared between its datagrams (the objects are never mutated). */
  private cachedAddr(addrs: Uint8Array, a: number): SockAddr {
    const o = a + IPV4_OFF;
    const ip4 = ((addrs[o] << 24) | (addrs[o + 1] << 16) | (addrs[o + 2] << 8) | addrs[o + 3]) >>> 0;
    const port = (addrs[a + 2] << 8) | addrs[a + 3];
    const key = ip4 * PORT_SPACE + port;
    let from = this.addrCache.get(key);
    if (from === undefined) {
      if (this.addrCache.size >= ADDR_CACHE_MAX) this.addrCache.clear();
      from = { family: 4, address: numberToIpv4(ip4), port };
      this.addrCache.set(key, from);
    }
    return from;
  }

  // ---------------------------------------------------------------- sending

  /**
   * The offset in txBuf of a free slot (TX_SLOT_BYTES) for one outgoing datagram, or the first of `count`
   * consecutive ones. Queued sends of earlier slots leave first when too few are free; the slots stay valid until
   * the next reserve.
   */
  reserve(count = 1): number {
    if (!this.batching) return 0;
    if (this.txSlots + count > TX_SLOTS) this.flushTx();
    const slot = this.txSlots * TX_SLOT_BYTES;
    this.txSlots += count;
    return slot;
  }

  /** Bytes per slot: `reserve(n)` returns the first of n consecutive slots this far apart. */
  get slotBytes(): number {
    return TX_SLOT_BYTES;
  }

  /** To a registered edge: over its TCP connection if it registered over TCP, else UDP. */
  sendToPeer(e: SnPeer, buf: Uint8Array, len: number, off = 0): boolean {
    if (e.conn !== undefined) return this.sendTcp(e.conn, buf, off, len);
    if (e.addr === undefined) return false;
    if (this.batching && buf === this.txBuf) {
      if (e.ipv4 !== 0) return this.queue(off, len, e.ipv4, e.port);
      if (e.addr6 !== undefined) return this.queue6(off, len, e.addr6);
    }
    return this.sendTo(e.addr, buf, len, off);
  }

  /** An answer to the datagram being processed: back the way it came (sn_utils.c: sendto_sock with its fd). */
  reply(to: SockAddr, buf: Uint8Array, len: number): boolean {
    if (this.rxConn !== undefined) return this.sendTcp(this.rxConn, buf, 0, len);
    return this.sendTo(to, buf, len);
  }

  sendTo(to: SockAddr, buf: Uint8Array, len: number, off = 0): boolean {
    const s = this.socket;
    if (s === undefined) return false;
    // Keep the order of what is queued: it leaves before anything sent directly.
    this.flushTx();
    try {
      s.send(buf, off, len, to);
      return true;
    } catch (e) {
      this.ctx.stats.errors++;
      this.ctx.log(LogLevel.WARNING, `send to ${to.address}:${to.port} failed: ${(e as Error).message}`);
      return false;
    }
  }

  /** Queues txBuf[off, +len) for ip4:port (io/sockaddr.ts layout: family, 0, port BE, IPv4 BE, zeros). */
  private queue(off: number, len: number, ip4: number, port: number): boolean {
    if (this.txCount === TX_QUEUE_MAX) this.flushTx();
    const i = this.txCount++;
    this.txOffsets[i] = off;
    this.txLengths[i] = len;
    const a = i * SOCKADDR_BYTES;
    const addrs = this.txAddrs;
    addrs[a] = 4;
    addrs[a + 1] = 0;
    addrs[a + 2] = port >>> 8;
    addrs[a + 3] = port & 0xff;
    addrs[a + IPV4_OFF] = ip4 >>> 24;
    addrs[a + IPV4_OFF + 1] = (ip4 >>> 16) & 0xff;
    addrs[a + IPV4_OFF + 2] = (ip4 >>> 8) & 0xff;
    addrs[a + IPV4_OFF + 3] = ip4 & 0xff;
    for (let j = IPV4_OFF + 4; j < SOCKADDR_BYTES; j++) addrs[a + j] = 0;
    return true;
  }

  /** Queues txBuf[off, +len) for an IPv6 edge, its address entry encoded beforehand (SnPeer.addr6). */
  private queue6(off: number, len: number, addr6: Uint8Array): boolean {
    if (this.txCount === TX_QUEUE_MAX) this.flushTx();
    const i = this.txCount++;
    this.txOffsets[i] = off;
    this.txLengths[i] = len;
    this.txAddrs.set(addr6, i * SOCKADDR_BYTES);
    return true;
  }

  /** Sends what queue() collected in one sendmmsg; what the kernel refuses is counted like a failed send. */
  private flushTx(): void {
    const n = this.txCount;
    this.txSlots = 0;
    if (n === 0) return;
    this.txCount = 0;
    const sent =
      this.batchSocket?.sendBatch(this.txBuf, this.txOffsets, this.txLengths, this.txAddrs, n) ?? 0;
    if (sent < n) this.ctx.stats.errors += n - sent;
  }

  private sendTcp(conn: TcpConn, buf: Uint8Array, off: number, len: number): boolean {
    const t = this.tcpPeers.get(conn);
    if (t === undefined) {
      this.ctx.stats.errors++;
      return false;
    }
    try {
      t.header[0] = len >>> 8;
      t.header[1] = len & 0xff;
      conn.send(t.header, 0, TCP_LENGTH_BYTES);
      conn.send(buf, off, len);
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
      this.ctx.fastRelay?.collect();
      this.rxConn = t.conn;
      try {
        this.deliver(t.buf, TCP_LENGTH_BYTES, want - TCP_LENGTH_BYTES, t.conn.remote);
      } finally {
        this.rxConn = undefined;
      }
      if (!this.tcpPeers.has(t.conn)) return;
    }
  }
}
