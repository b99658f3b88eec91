// edge -S2: a UdpSocket whose datagrams travel on one TCP connection to the supernode, each behind a 2-byte length.
//
// Wire form (spec §1, as 3.1.1's edge and supernode frame it): every datagram is written as its length, 16-bit
// big-endian, then its bytes, on one connection to the supernode. A receiver that reads a length whose frame
// (2 + length) would pass N2N_PKT_BUF_SIZE gives up on the connection. The protocol code above sees a UdpSocket:
// `send(…, to)` goes to the connection towards `to` (opened on demand, re-opened after a close with a growing
// pause, replaced when `to` changes — the edge switched supernode), and every frame received is handed over as a
// datagram from that supernode.
import { connect, type Socket } from 'node:net';
import type { SockAddr } from '../util/ip.js';
import type { UdpSocket } from './types.js';

/** Bytes of the big-endian length in front of each frame. */
export const TCP_LENGTH_BYTES = 2;
/** n2n_define.h: N2N_PKT_BUF_SIZE: 2 + length may not pass it, either way. */
export const TCP_MAX_FRAME_BYTES = 2048;
/** Largest datagram that fits one frame. */
export const TCP_MAX_DATAGRAM_BYTES = TCP_MAX_FRAME_BYTES - TCP_LENGTH_BYTES;
/** Bytes the connection may hold unsent (in Node and connecting); a send beyond it is dropped and counted. */
export const TCP_WRITE_QUEUE_BYTES = 256 * 1024;
/** Pause before re-connecting after a failed or closed connection; doubles per failure up to the max. */
export const TCP_RECONNECT_MIN_MS = 500;
export const TCP_RECONNECT_MAX_MS = 16_000;
/** How long a connection closed here may take to send what it still holds before it is cut. */
const TCP_LINGER_MS = 1000;

export interface TcpFramedStats {
  sent: number;
  received: number;
  /** Datagrams not sent: queue full, too large, waiting to re-connect, or closed. */
  sendDropped: number;
  /** Connections opened (the first and every re-connect). */
  connects: number;
  /** Connections lost: errors, closes by the peer, and a length that breaks the frame limit. */
  disconnects: number;
  /** Connections given up because a received length passed TCP_MAX_FRAME_BYTES. */
  badLength: number;
}

export interface TcpFramedOptions {
  /** Local address to bind before connecting; default any. */
  address?: string;
  /** Milliseconds clock for the re-connect pause (default Date.now). */
  now?: () => number;
  /** Told about each connection change (logging); `err` when it closed with one. */
  onState?: (state: 'connected' | 'closed', to: SockAddr, err?: Error) => void;
}

function sameAddr(a: SockAddr, b: SockAddr): boolean {
  return a.port === b.port && a.address === b.address;
}

/** One connection and its receive state: a frame split across chunks is gathered in `frame`. */
class Link {
  readonly frame = Buffer.allocUnsafe(TCP_MAX_FRAME_BYTES);
  /** Bytes of the current frame (length included) gathered in `frame`. */
  fill = 0;
  /** Length of the current frame's body once both length bytes are in; -1 before. */
  want = -1;
  connected = false;
  /** Frames received on this connection. */
  frames = 0;
  constructor(
    readonly socket: Socket,
    readonly to: SockAddr,
  ) {}
}

/**
 * The `-S2` transport as a UdpSocket (see the file comment). Datagrams from any other source never arrive here,
 * and a send to another destination moves the connection there.
 */
export class TcpFramedSocket implements UdpSocket {
  readonly stats: TcpFramedStats = {
    sent: 0,
    received: 0,
    sendDropped: 0,
    connects: 0,
    disconnects: 0,
    badLength: 0,
  };
  private handler: ((data: Buffer, from: SockAddr) => void) | undefined;
  private lostHandler: (() => void) | undefined;
  private link: Link | undefined;
  private closed = false;
  private failures = 0;
  private retryAt = 0;
  private readonly now: () => number;
  private localAddr: SockAddr;

  constructor(private readonly options: TcpFramedOptions = {}) {
    this.now = options.now ?? Date.now;
    this.localAddr = { family: 4, address: options.address ?? '0.0.0.0', port: 0 };
  }

  /** The local end of the current connection (port 0 before the first one is up). */
  get local(): SockAddr {
    return this.localAddr;
  }

  /** True while a connection is established. */
  get connected(): boolean {
    return this.link?.connected === true;
  }

  onDatagram(handler: (data: Buffer, from: SockAddr) => void): void {
    this.handler = handler;
  }

  /** Sets the handler told when a connection is lost (not when it is replaced or closed here). */
  onConnectionLost(handler: () => void): void {
    this.lostHandler = handler;
  }

  send(buf: Uint8Array, offset: number, length: number, to: SockAddr): void {
    if (this.closed || length > TCP_MAX_DATAGRAM_BYTES || length < 0) {
      this.stats.sendDropped++;
      return;
    }
    let link = this.link;
    if (link !== undefined && !sameAddr(link.to, to)) {
      // The edge moved to another supernode: this connection has no more use.
      this.drop(link, undefined, false);
      link = undefined;
      this.failures = 0;
      this.retryAt = 0;
    }
    if (link === undefined) {
      if (this.now() < this.retryAt) {
        this.stats.sendDropped++;
        return;
      }
      link = this.open(to);
    }
    if (link.socket.writableLength + TCP_LENGTH_BYTES + length > TCP_WRITE_QUEUE_BYTES) {
      this.stats.sendDropped++;
      return;
    }
    // One buffer per frame (length and bytes together): Node may hold it after write returns, the caller's not.
    const out = Buffer.allocUnsafe(TCP_LENGTH_BYTES + length);
    out.writeUInt16BE(length, 0);
    out.set(buf.subarray(offset, offset + length), TCP_LENGTH_BYTES);
    link.socket.write(out);
    this.stats.sent++;
  }

  /** Drops the current connection; the next send opens a new one at once. */
  reconnect(): void {
    if (this.link !== undefined) this.drop(this.link, undefined, false);
    this.retryAt = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.link !== undefined) this.drop(this.link, undefined, false);
  }

  private open(to: SockAddr): Link {
    const socket = connect({
      host: to.address,
      port: to.port,
      family: to.family,
      localAddress: this.options.address,
      noDelay: true,
    });
    const link = new Link(socket, to);
    this.link = link;
    this.stats.connects++;
    socket.on('connect', () => {
      link.connected = true;
      const a = socket.address();
      if ('port' in a)
        this.localAddr = { family: a.family === 'IPv6' ? 6 : 4, address: a.address, port: a.port };
      this.options.onState?.('connected', to);
    });
    socket.on('data', (chunk: Buffer) => this.onChunk(link, chunk));
    socket.on('error', (err) => this.drop(link, err));
    socket.on('close', () => this.drop(link, undefined));
    return link;
  }

  /** Ends `link` (if still current) and sets the pause before the next connection. */
  private drop(link: Link, err: Error | undefined, lost = true): void {
    if (this.link !== link) return;
    this.link = undefined;
    this.stats.disconnects++;
    // A connection that carried frames resets the pause; one that failed or died silently lengthens it.
    this.failures = link.frames > 0 ? 0 : this.failures + 1;
    const pause = Math.min(TCP_RECONNECT_MIN_MS * 2 ** Math.max(0, this.failures - 1), TCP_RECONNECT_MAX_MS);
    this.retryAt = this.failures === 0 ? 0 : this.now() + pause;
    link.socket.removeAllListeners('data');
    link.socket.on('error', () => {});
    if (lost) link.socket.destroy();
    else {
      // Replaced or closed here: what is queued (an UNREGISTER_SUPER, say) still goes out before the FIN.
      link.socket.end();
      setTimeout(() => link.socket.destroy(), TCP_LINGER_MS).unref();
    }
    if (!this.closed) this.options.onState?.('closed', link.to, err);
    if (lost && !this.closed) this.lostHandler?.();
  }

  /**
   * Cuts a chunk into frames. A frame that lies whole inside the chunk is handed over as a view of it; only a
   * frame split across chunks is gathered (copied) into the link's frame buffer first.
   */
  private onChunk(link: Link, chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n && this.link === link) {
      if (link.fill === 0 && n - i >= TCP_LENGTH_BYTES) {
        const len = chunk.readUInt16BE(i);
        if (!this.checkLength(link, len)) return;
        if (n - i - TCP_LENGTH_BYTES >= len) {
          this.deliver(link, chunk.subarray(i + TCP_LENGTH_BYTES, i + TCP_LENGTH_BYTES + len));
          i += TCP_LENGTH_BYTES + len;
          continue;
        }
      }
      // Gather: first the length bytes, then the body, into link.frame.
      if (link.want < 0) {
        const take = Math.min(TCP_LENGTH_BYTES - link.fill, n - i);
        chunk.copy(link.frame, link.fill, i, i + take);
        link.fill += take;
        i += take;
        if (link.fill < TCP_LENGTH_BYTES) return;
        const len = link.frame.readUInt16BE(0);
        if (!this.checkLength(link, len)) return;
        link.want = len;
      }
      const total = TCP_LENGTH_BYTES + link.want;
      const take = Math.min(total - link.fill, n - i);
      chunk.copy(link.frame, link.fill, i, i + take);
      link.fill += take;
      i += take;
      if (link.fill === total) {
        link.fill = 0;
        link.want = -1;
        this.deliver(link, link.frame.subarray(TCP_LENGTH_BYTES, total));
      }
    }
  }

  private checkLength(link: Link, len: number): boolean {
    if (TCP_LENGTH_BYTES + len <= TCP_MAX_FRAME_BYTES) return true;
    // As 3.1.1: a length past the buffer means the stream is out of step; the connection is given up.
    this.stats.badLength++;
    this.drop(link, new Error(`frame length ${len} exceeds ${TCP_MAX_DATAGRAM_BYTES}`));
    return false;
  }

  private deliver(link: Link, data: Buffer): void {
    if (data.length === 0) return;
    this.stats.received++;
    link.frames++;
    this.handler?.(data, link.to);
  }
}

/** A TcpFramedSocket; it connects on its first send. */
export function openTcpFramed(options: TcpFramedOptions = {}): Promise<TcpFramedSocket> {
  return Promise.resolve(new TcpFramedSocket(options));
}

/** A main socket that can tell when its connection to the supernode is lost (the -S2 socket). */
export interface ConnectionSocket {
  onConnectionLost(handler: () => void): void;
  /** Ends the current connection; the next send opens a new one at once. */
  reconnect(): void;
}

export function isConnectionSocket(s: UdpSocket): s is UdpSocket & ConnectionSocket {
  return typeof (s as Partial<ConnectionSocket>).onConnectionLost === 'function';
}
