// The real UDP socket over node:dgram (IPv4 or IPv6); outgoing bytes are copied into pooled buffers.
import type { Socket } from 'node:dgram';
import { createSocket } from 'node:dgram';
import type { SockAddr } from '../util/ip.js';
import type { PooledBuffer } from './pool.js';
import { BufferPool } from './pool.js';
import type { UdpSocket } from './types.js';

/** Pooled send buffers are this large: n2n never builds a datagram above N2N_PKT_BUF_SIZE (2048). */
export const UDP_POOL_BUFFER_BYTES = 2048;
/** Buffers kept by a socket's own pool (a burst larger than this uses unpooled buffers). */
const UDP_POOL_MAX_BUFFERS = 1024;
const V4_MAPPED_PREFIX = '::ffff:';

export interface UdpOptions {
  /** 4 (default) or 6; an IPv6 socket is dual-stack unless ipv6Only. */
  family?: 4 | 6;
  /** Local address; default 0.0.0.0 or ::. */
  address?: string;
  /** Local port; 0 (default) picks one. */
  port?: number;
  ipv6Only?: boolean;
  recvBufferBytes?: number;
  sendBufferBytes?: number;
  /** Pool for outgoing copies; default a private pool. `false` copies with Buffer.allocUnsafe instead. */
  pool?: BufferPool | false;
}

export interface UdpStats {
  sent: number;
  received: number;
  /** Datagrams dropped because the socket was closed, or send threw synchronously. */
  sendDropped: number;
}

/**
 * dgram resolves every destination through `lookup`, by default dns.lookup, which answers even an IP literal
 * on the next tick. SockAddr always holds an IP literal, so this answers at once and the send starts now.
 */
function literalLookup(
  address: string,
  family: unknown,
  callback: (err: Error | null, address: string, family: number) => void,
): void {
  callback(null, address, typeof family === 'number' ? family : address.includes(':') ? 6 : 4);
}

/** A UdpSocket over node:dgram. Open it with `openUdp`. */
export class DgramUdpSocket implements UdpSocket {
  readonly local: SockAddr;
  readonly stats: UdpStats = { sent: 0, received: 0, sendDropped: 0 };
  private readonly socket: Socket;
  private readonly pool: BufferPool | undefined;
  private readonly family: 4 | 6;
  private closed = false;

  /** @internal Use openUdp. */
  constructor(socket: Socket, family: 4 | 6, pool: BufferPool | undefined) {
    this.socket = socket;
    this.family = family;
    this.pool = pool;
    const a = socket.address();
    this.local = { family: a.family === 'IPv6' ? 6 : 4, address: a.address, port: a.port };
  }

  onDatagram(handler: (data: Buffer, from: SockAddr) => void): void {
    this.socket.removeAllListeners('message');
    this.socket.on('message', (msg, rinfo) => {
      this.stats.received++;
      // An IPv4 peer of a dual-stack socket is reported as ::ffff:a.b.c.d: handed on as the IPv4 peer it is.
      if (
        rinfo.family === 'IPv6' &&
        rinfo.address.startsWith(V4_MAPPED_PREFIX) &&
        rinfo.address.includes('.')
      ) {
        handler(msg, { family: 4, address: rinfo.address.slice(V4_MAPPED_PREFIX.length), port: rinfo.port });
      } else {
        handler(msg, { family: rinfo.family === 'IPv6' ? 6 : 4, address: rinfo.address, port: rinfo.port });
      }
    });
  }

  send(buf: Uint8Array, offset: number, length: number, to: SockAddr): void {
    if (this.closed) {
      this.stats.sendDropped++;
      return;
    }
    // dgram may still hold the bytes after send returns (queued when the kernel buffer is full), and the
    // caller may reuse `buf` at once: send a copy.
    let copy: Buffer;
    let release: PooledBuffer['release'] | undefined;
    if (this.pool !== undefined && length <= this.pool.bufferBytes) {
      const p = this.pool.acquire();
      copy = p.buf;
      release = p.release;
    } else {
      copy = Buffer.allocUnsafe(length);
    }
    copy.set(buf.subarray(offset, offset + length));
    // An IPv4 destination on an IPv6 socket is written in its IPv4-mapped form.
    const address = this.family === 6 && to.family === 4 ? `::ffff:${to.address}` : to.address;
    try {
      this.socket.send(copy, 0, length, to.port, address, release ?? ignoreSendResult);
      this.stats.sent++;
    } catch {
      // Bad port or address: a packet-path drop, not an exception for the protocol code.
      this.stats.sendDropped++;
      release?.();
    }
  }

  /** Outgoing IP TTL (dgram setTTL); node:dgram offers no TOS or DF control — use the native socket for those. */
  setTtl(ttl: number): void {
    if (!this.closed) this.socket.setTTL(ttl);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.removeAllListeners('message');
    this.socket.close();
  }
}

/** Send errors (unreachable network, …) are per-datagram drops; with a callback dgram does not emit them. */
function ignoreSendResult(): void {}

/**
 * Binds the main socket over node:dgram like openNativeUdpAnyFamily: dual-stack `::` without an address
 * (AF_INET `0.0.0.0` on a host without IPv6), else the family of the literal.
 */
export async function openUdpAnyFamily(options: Omit<UdpOptions, 'family'> = {}): Promise<DgramUdpSocket> {
  const address = options.address;
  if (address !== undefined && address !== '::') {
    return openUdp({ ...options, family: address.includes(':') ? 6 : 4 });
  }
  try {
    return await openUdp({ ...options, family: 6, address: '::' });
  } catch (e) {
    const code = String((e as { code?: unknown }).code);
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL' && code !== 'EPROTONOSUPPORT') throw e;
    return openUdp({ ...options, family: 4, address: '0.0.0.0' });
  }
}

/** Binds a UDP socket over node:dgram. Rejects with the bind error (EADDRINUSE, EACCES, …). */
export function openUdp(options: UdpOptions = {}): Promise<DgramUdpSocket> {
  const family = options.family ?? 4;
  const socket = createSocket({
    type: family === 6 ? 'udp6' : 'udp4',
    ipv6Only: options.ipv6Only ?? false,
    recvBufferSize: options.recvBufferBytes,
    sendBufferSize: options.sendBufferBytes,
    lookup: literalLookup as never,
  });
  const pool =
    options.pool === false
      ? undefined
      : (options.pool ?? new BufferPool(UDP_POOL_BUFFER_BYTES, UDP_POOL_MAX_BUFFERS));
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(options.port ?? 0, options.address ?? (family === 6 ? '::' : '0.0.0.0'), () => {
      socket.removeListener('error', onError);
      // A later asynchronous socket error must not crash the process (send errors go to the send callback).
      socket.on('error', () => {});
      resolve(new DgramUdpSocket(socket, family, pool));
    });
  });
}
