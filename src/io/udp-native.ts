// The batched UDP socket over the addon: recvmmsg into a reused slab, sendto/sendmmsg straight from caller buffers.
import type { SockAddr } from '../util/ip.js';
import type { NativeAddon, NativeFastPath, NativeFdPoller, NativeSnRelay } from './addon.js';
import { loadAddon, PollKind } from './addon.js';
import { sharedSlabs } from './pool.js';
import { decodeSockAddr, encodeSockAddr, SOCKADDR_BYTES } from './sockaddr.js';
import type { BatchUdpSocket, DatagramBatch } from './types.js';
import { FRAME_HEADROOM_BYTES } from './types.js';

/** Datagrams received per readiness event at most. */
export const DEFAULT_UDP_BATCH = 64;
/** Largest datagram received; n2n never sends more than N2N_PKT_BUF_SIZE (2048). Longer ones are dropped. */
export const DEFAULT_UDP_MAX_DATAGRAM_BYTES = 2048;
const CACHE_LINE_BYTES = 64;
const EAGAIN = 11;

export interface NativeUdpOptions {
  family?: 4 | 6;
  /** Local address (IP literal); default 0.0.0.0 or :: (dual-stack). */
  address?: string;
  port?: number;
  recvBufferBytes?: number;
  sendBufferBytes?: number;
  maxBatch?: number;
  headroom?: number;
  maxDatagramBytes?: number;
  /** IP TOS / traffic class byte (n2n -T). */
  tos?: number;
  /** true: set DF and discover the path MTU; false: never set DF (n2n's default, -D turns it on). */
  pmtuDiscovery?: boolean;
  /**
   * Kernel UDP offloads (default true): sendBatch hands runs of equal-size datagrams to one address to the
   * kernel as one GSO message, and the kernel may coalesce received datagrams (GRO), which the addon splits
   * again. The datagrams on the wire and those handed to the handler are the same either way.
   */
  offload?: boolean;
}

export interface NativeUdpStats {
  sent: number;
  received: number;
  batches: number;
  /** Datagrams the kernel refused (send buffer full, unreachable) or sent after close. */
  sendDropped: number;
  recvErrors: number;
  handlerErrors: number;
}

/**
 * A non-blocking UDP socket driven by the addon. Sends are synchronous system calls, so the caller's buffer is
 * free as soon as `send` returns, without a copy. `onDatagram` hands over a view into the receive slab, valid
 * only during the handler call (the contract: the receiver never keeps it).
 */
export class NativeUdpSocket implements BatchUdpSocket {
  readonly local: SockAddr;
  readonly stats: NativeUdpStats = {
    sent: 0,
    received: 0,
    batches: 0,
    sendDropped: 0,
    recvErrors: 0,
    handlerErrors: 0,
  };
  lastError: unknown;
  private readonly addon: NativeAddon;
  private readonly fd: number;
  private readonly family: 4 | 6;
  private readonly batch: DatagramBatch;
  private readonly poller: NativeFdPoller;
  /** Encoded destination of the last single send, reused while the same SockAddr object is sent to. */
  private readonly sendAddr = new Uint8Array(SOCKADDR_BYTES);
  private lastTo: SockAddr | undefined;
  private lastToAddress = '';
  private lastToPort = -1;
  private batchHandler: ((batch: DatagramBatch) => void) | undefined;
  private datagramHandler: ((data: Buffer, from: SockAddr) => void) | undefined;
  private polling = false;
  private closed = false;

  /** @internal Use openNativeUdp. */
  constructor(addon: NativeAddon, options: NativeUdpOptions) {
    this.addon = addon;
    if (addon.ADDR_STRIDE !== SOCKADDR_BYTES) {
      throw new Error(
        `addon ADDR_STRIDE ${addon.ADDR_STRIDE} != SOCKADDR_BYTES ${SOCKADDR_BYTES}: rebuild it`,
      );
    }
    const family = options.family ?? 4;
    const opened = addon.udpOpen(
      family,
      options.address ?? (family === 6 ? '::' : '0.0.0.0'),
      options.port ?? 0,
      options.recvBufferBytes ?? 0,
      options.sendBufferBytes ?? 0,
    );
    this.fd = opened.fd;
    this.family = family;
    this.local = { family, address: opened.address, port: opened.port };
    try {
      if (options.tos !== undefined) addon.udpSetOption(this.fd, family, 'tos', options.tos);
      if (options.pmtuDiscovery !== undefined) {
        addon.udpSetOption(this.fd, family, 'pmtud', options.pmtuDiscovery ? 1 : 0);
      }
      this.setOffload(options.offload ?? true);
    } catch (e) {
      addon.closeFd(this.fd);
      throw e;
    }
    const maxBatch = options.maxBatch ?? DEFAULT_UDP_BATCH;
    const headroom = options.headroom ?? FRAME_HEADROOM_BYTES;
    const stride =
      Math.ceil(
        (headroom + (options.maxDatagramBytes ?? DEFAULT_UDP_MAX_DATAGRAM_BYTES)) / CACHE_LINE_BYTES,
      ) * CACHE_LINE_BYTES;
    this.batch = {
      slab: sharedSlabs.take(stride * maxBatch),
      count: 0,
      stride,
      headroom,
      lengths: new Uint32Array(maxBatch),
      addrs: new Uint8Array(maxBatch * SOCKADDR_BYTES),
    };
    try {
      this.poller = new addon.FdPoller(
        this.fd,
        PollKind.UDP,
        this.batch.slab,
        stride,
        headroom,
        this.batch.lengths,
        this.batch.addrs,
        this.onBatch.bind(this),
      );
    } catch (e) {
      addon.closeFd(this.fd);
      throw e;
    }
  }

  onDatagram(handler: (data: Buffer, from: SockAddr) => void): void {
    this.datagramHandler = handler;
    this.batchHandler = undefined;
    this.startPolling();
  }

  /** @internal The socket's fd, for the native fast path (io/fastpath.ts). */
  fastPathFd(): number {
    return this.fd;
  }

  /** @internal The native fast path (io/fastpath.ts) sees each batch first; null detaches it. */
  setFastPath(fast: NativeFastPath | NativeSnRelay | null): boolean {
    if (this.closed || typeof this.poller.setFastPath !== 'function') return false;
    this.poller.setFastPath(fast);
    return true;
  }

  onDatagrams(handler: (batch: DatagramBatch) => void): void {
    this.batchHandler = handler;
    this.datagramHandler = undefined;
    this.startPolling();
  }

  send(buf: Uint8Array, offset: number, length: number, to: SockAddr): void {
    if (this.closed) {
      this.stats.sendDropped++;
      return;
    }
    if (to !== this.lastTo || to.address !== this.lastToAddress || to.port !== this.lastToPort) {
      try {
        encodeSockAddr(to, this.sendAddr, 0);
      } catch {
        this.stats.sendDropped++;
        this.lastTo = undefined;
        return;
      }
      this.lastTo = to;
      this.lastToAddress = to.address;
      this.lastToPort = to.port;
    }
    const n = this.addon.udpSend(this.fd, buf, offset, length, this.sendAddr, 0);
    if (n < 0) this.stats.sendDropped++;
    else this.stats.sent++;
  }

  sendBatch(
    buf: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    addrs: Uint8Array,
    count: number,
  ): number {
    if (this.closed) {
      this.stats.sendDropped += count;
      return 0;
    }
    const n = this.addon.udpSendBatch(this.fd, buf, offsets, lengths, addrs, count);
    this.stats.sent += n;
    this.stats.sendDropped += count - n;
    return n;
  }

  /**
   * Turns the kernel UDP offloads (GSO runs in sendBatch, GRO on receive) on or off. An addon built before
   * they existed refuses the options: the socket then works without them.
   */
  setOffload(on: boolean): void {
    if (this.closed) return;
    try {
      this.addon.udpSetOption(this.fd, this.family, 'gso', on ? 1 : 0);
      this.addon.udpSetOption(this.fd, this.family, 'gro', on ? 1 : 0);
    } catch {
      // Older addon: no offload options, nothing to turn off.
    }
  }

  /** Outgoing IP TTL / hop limit (n2n -L sends its port-prediction burst with a low TTL). */
  setTtl(ttl: number): void {
    if (!this.closed) this.addon.udpSetOption(this.fd, this.family, 'ttl', ttl);
  }

  /** IP TOS / traffic class byte. */
  setTos(tos: number): void {
    if (!this.closed) this.addon.udpSetOption(this.fd, this.family, 'tos', tos);
  }

  /** true: set DF and discover the path MTU; false: never set DF. */
  setPmtuDiscovery(on: boolean): void {
    if (!this.closed) this.addon.udpSetOption(this.fd, this.family, 'pmtud', on ? 1 : 0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.batchHandler = undefined;
    this.datagramHandler = undefined;
    this.poller.close();
    // The poller is closed and will never write into the slab again.
    sharedSlabs.give(this.batch.slab);
  }

  private startPolling(): void {
    if (this.polling || this.closed) return;
    this.poller.start();
    this.polling = true;
  }

  private onBatch(count: number, err: number): void {
    if (err !== 0 && -err !== EAGAIN) this.stats.recvErrors++;
    if (count === 0) return;
    const b = this.batch;
    b.count = count;
    this.stats.received += count;
    this.stats.batches++;
    if (this.batchHandler !== undefined) {
      try {
        this.batchHandler(b);
      } catch (e) {
        this.stats.handlerErrors++;
        this.lastError = e;
      }
      return;
    }
    const h = this.datagramHandler;
    if (h === undefined) return;
    for (let i = 0; i < count && !this.closed; i++) {
      const off = i * b.stride + b.headroom;
      try {
        h(b.slab.subarray(off, off + b.lengths[i]), decodeSockAddr(b.addrs, i * SOCKADDR_BYTES));
      } catch (e) {
        // Packet path: one bad datagram costs itself, not the rest of the batch.
        this.stats.handlerErrors++;
        this.lastError = e;
      }
    }
  }
}

/** Opens a native batched UDP socket (synchronous bind). Throws an Error with `code` (EADDRINUSE, …) on failure. */
export function openNativeUdp(options: NativeUdpOptions = {}): NativeUdpSocket {
  return new NativeUdpSocket(loadAddon(), options);
}

/** Errors of socket(AF_INET6) on a host without IPv6 (ipv6.disable=1, a kernel built without it). */
const NO_IPV6_CODES: ReadonlySet<string> = new Set(['EAFNOSUPPORT', 'EPROTONOSUPPORT', 'EADDRNOTAVAIL']);

/**
 * Opens the main socket of an edge or supernode. Without an address (or with `::`) it is one dual-stack
 * AF_INET6 socket, so IPv4 and IPv6 peers share one fd, one poller and one batch (IPv4 peers arrive as
 * IPv4 entries, see frames.cc EncodeAddr); on a host without IPv6 it falls back to AF_INET `0.0.0.0`. An
 * IPv4 literal binds AF_INET only (as 3.1.1 always does), an IPv6 literal AF_INET6.
 */
export function openNativeUdpAnyFamily(options: Omit<NativeUdpOptions, 'family'> = {}): NativeUdpSocket {
  const address = options.address;
  if (address !== undefined && address !== '::') {
    return openNativeUdp({ ...options, family: address.includes(':') ? 6 : 4 });
  }
  // An addon built before the IPv4-mapped handling would hand IPv4 peers over as IPv6 ones: IPv4 only then.
  if (loadAddon().ADDR_V4_MAPPED_AS_V4 !== true) {
    return openNativeUdp({ ...options, family: 4, address: '0.0.0.0' });
  }
  try {
    return openNativeUdp({ ...options, family: 6, address: '::' });
  } catch (e) {
    if (!NO_IPV6_CODES.has(String((e as { code?: unknown }).code))) throw e;
    return openNativeUdp({ ...options, family: 4, address: '0.0.0.0' });
  }
}
