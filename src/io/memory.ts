// In-memory doubles of the I/O contracts: a UDP switchboard with drop rules and NAT, and a TAP device, for protocol tests.
import type { SockAddr } from '../util/ip.js';
import { ipv4ToNumber, prefixToMask, sockAddrToString } from '../util/ip.js';
import { decodeSockAddr, encodeSockAddr, SOCKADDR_BYTES } from './sockaddr.js';
import type { BatchUdpSocket, DatagramBatch, FrameBatch, TapDevice, TapInfo, UdpSocket } from './types.js';
import { FRAME_HEADROOM_BYTES, MAX_FRAME_BYTES } from './types.js';

/** First port handed out when `open` is called without one (the IANA dynamic range starts here). */
const FIRST_EPHEMERAL_PORT = 49152;
/** First public port a NAT hands out; distinct from the ephemeral range so tests can tell them apart. */
const FIRST_NAT_PORT = 20000;
const MAX_PORT = 65535;
/** Largest UDP payload over IPv4 (65535 − 20 IP − 8 UDP). */
const MAX_UDP_PAYLOAD_BYTES = 65507;
/** Guards against two handlers that answer each other forever: one drain delivers at most this many datagrams. */
const MAX_DELIVERIES_PER_DRAIN = 1_000_000;
/** Byte written over a MemoryTap slab after the handler returns, so code that keeps a view into it fails loudly. */
const POISON_BYTE = 0xee;
/** Datagrams per batch of MemoryBatchSocket (the native socket's default, io/udp-native.ts) and their slot size. */
const MEMORY_UDP_BATCH = 64;
const MAX_BATCH_DATAGRAM_BYTES = 2048;

/** What a drop rule or a packet observer sees of one datagram. */
export interface MemoryDatagram {
  /** The sender's local address (private, before any NAT). */
  readonly from: SockAddr;
  /** The destination the sender addressed (public, before any inbound NAT). */
  readonly to: SockAddr;
  /** The source the receiver sees (after source NAT; equal to `from` without NAT). */
  readonly wireFrom: SockAddr;
  /** The socket the datagram is delivered to (after inbound NAT; equal to `to` without NAT). */
  readonly deliverTo: SockAddr;
  readonly data: Uint8Array;
}

/** Returns true to drop the datagram. */
export type DropRule = (d: MemoryDatagram) => boolean;

/** Why a datagram did not arrive, as counted in `MemoryNetwork.stats.dropped`. */
export const DropReason = {
  /** A drop rule or blackhole matched. */
  RULE: 'rule',
  /** No socket is bound at the destination (after NAT). */
  NO_SOCKET: 'noSocket',
  /** Arrived at a NAT's public address with no mapping for the port, or filtered as unsolicited. */
  NAT: 'nat',
  /** Larger than `maxDatagramBytes`. */
  TOO_BIG: 'tooBig',
  /** Sent from, or queued for, a socket that was closed. */
  CLOSED: 'closed',
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export interface MemoryNetworkStats {
  sent: number;
  delivered: number;
  dropped: Record<DropReason, number>;
}

export interface MemoryNetworkOptions {
  /**
   * `microtask` (default): `send` only queues; the queue is drained, in send order, by one microtask, so a
   * handler runs after the sender's synchronous code — as with a real socket. `manual`: nothing is delivered
   * until the test calls `flush()`.
   */
  delivery?: 'microtask' | 'manual';
  /** Datagrams longer than this are dropped (reason `tooBig`); default 65507. */
  maxDatagramBytes?: number;
  /** A drain that delivers more than this many datagrams throws (two handlers answering each forever). */
  maxDeliveriesPerDrain?: number;
}

export interface NatOptions {
  /** A new public port per (private endpoint, remote endpoint) instead of per private endpoint. Default false. */
  symmetric?: boolean;
  /**
   * Drop inbound datagrams from remote endpoints (address and port) the mapping has not sent to
   * (a port-restricted cone, or a symmetric NAT). Default false (full cone).
   */
  filterUnsolicited?: boolean;
}

interface NatMapping {
  readonly publicPort: number;
  readonly privateAddr: SockAddr;
  /** Remote endpoints this mapping sent to, as `addr:port` strings (only kept when filtering). */
  readonly allowed: Set<string>;
}

/** A NAT router in front of an IPv4 prefix, created by `MemoryNetwork.addNat`. */
export class MemoryNat {
  readonly publicAddress: string;
  readonly symmetric: boolean;
  readonly filterUnsolicited: boolean;
  private readonly net: number;
  private readonly mask: number;
  private nextPort = FIRST_NAT_PORT;
  /** Outbound key (private endpoint, plus the remote one when symmetric) → mapping. */
  private readonly byPrivate = new Map<string, NatMapping>();
  private readonly byPublicPort = new Map<number, NatMapping>();

  constructor(privatePrefix: string, publicAddress: string, options: NatOptions = {}) {
    const slash = privatePrefix.indexOf('/');
    if (slash < 0) throw new TypeError(`Usage: addNat('a.b.c.d/len', publicAddress): got '${privatePrefix}'`);
    const bits = Number(privatePrefix.slice(slash + 1));
    if (!Number.isInteger(bits) || bits < 0 || bits > 32) {
      throw new RangeError(`NAT prefix length must be 0..32: '${privatePrefix}'`);
    }
    this.mask = prefixToMask(bits);
    this.net = (ipv4ToNumber(privatePrefix.slice(0, slash)) & this.mask) >>> 0;
    ipv4ToNumber(publicAddress);
    this.publicAddress = publicAddress;
    this.symmetric = options.symmetric ?? false;
    this.filterUnsolicited = options.filterUnsolicited ?? false;
  }

  /** Number of live mappings. */
  get mappings(): number {
    return this.byPublicPort.size;
  }

  /** Forgets every mapping, as if they had all timed out. */
  clear(): void {
    this.byPrivate.clear();
    this.byPublicPort.clear();
  }

  /** True when `address` is an IPv4 address inside the private prefix. */
  isInside(address: string): boolean {
    if (address.includes(':')) return false;
    return (ipv4ToNumber(address) & this.mask) >>> 0 === this.net;
  }

  /** Source NAT for a datagram leaving the prefix: the public endpoint it appears to come from. */
  outbound(from: SockAddr, to: SockAddr): SockAddr {
    const remote = sockAddrToString(to);
    const key = this.symmetric ? `${sockAddrToString(from)}>${remote}` : sockAddrToString(from);
    let m = this.byPrivate.get(key);
    if (m === undefined) {
      m = { publicPort: this.allocatePort(), privateAddr: { ...from }, allowed: new Set() };
      this.byPrivate.set(key, m);
      this.byPublicPort.set(m.publicPort, m);
    }
    if (this.filterUnsolicited) m.allowed.add(remote);
    return { family: 4, address: this.publicAddress, port: m.publicPort };
  }

  /** Destination NAT for a datagram arriving at the public address; undefined means drop. */
  inbound(from: SockAddr, to: SockAddr): SockAddr | undefined {
    const m = this.byPublicPort.get(to.port);
    if (m === undefined) return undefined;
    if (this.filterUnsolicited && !m.allowed.has(sockAddrToString(from))) return undefined;
    return { ...m.privateAddr };
  }

  private allocatePort(): number {
    if (this.nextPort > MAX_PORT) throw new RangeError(`NAT ${this.publicAddress} ran out of ports`);
    return this.nextPort++;
  }
}

interface Queued {
  from: SockAddr;
  to: SockAddr;
  data: Buffer;
  /** The sending socket, or undefined for injected datagrams. */
  sender: MemorySocket | undefined;
}

function endpointKey(address: string, port: number): string {
  return `${address}|${port}`;
}

function familyOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/**
 * A UDP switchboard: sockets opened on it reach each other by address and port. Deterministic: datagrams are
 * delivered one at a time in the order they were sent (FIFO, from a queue, never by recursion).
 */
export class MemoryNetwork {
  readonly stats: MemoryNetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: { rule: 0, noSocket: 0, nat: 0, tooBig: 0, closed: 0 },
  };
  maxDatagramBytes: number;
  private readonly maxDeliveries: number;
  private readonly delivery: 'microtask' | 'manual';
  private readonly sockets = new Map<string, MemorySocket>();
  private readonly nats: MemoryNat[] = [];
  /** Second endpoints of dual-stack sockets (see alias). */
  private readonly aliases = new Map<MemorySocket, SockAddr>();
  private readonly rules: DropRule[] = [];
  private readonly observers: ((d: MemoryDatagram, dropped: DropReason | undefined) => void)[] = [];
  private readonly queue: Queued[] = [];
  private queueHead = 0;
  private scheduled = false;
  private draining = false;
  private nextEphemeral = FIRST_EPHEMERAL_PORT;
  private idleWaiters: (() => void)[] = [];

  constructor(options: MemoryNetworkOptions = {}) {
    this.delivery = options.delivery ?? 'microtask';
    this.maxDatagramBytes = options.maxDatagramBytes ?? MAX_UDP_PAYLOAD_BYTES;
    this.maxDeliveries = options.maxDeliveriesPerDrain ?? MAX_DELIVERIES_PER_DRAIN;
  }

  /**
   * Binds a socket at `address:port`; port 0 or omitted picks a free one. Throws when the endpoint is taken.
   * With `{ batch: true }` the socket also implements BatchUdpSocket (each datagram arrives as a batch of one; with
   * `coalesce` too, what arrives in one drain comes as one batch).
   */
  open(address: string, port?: number): MemorySocket;
  open(
    address: string,
    port: number | undefined,
    options: { batch: true; coalesce?: boolean },
  ): MemoryBatchSocket;
  open(address: string, port?: number, options?: { batch?: boolean; coalesce?: boolean }): MemorySocket;
  open(address: string, port = 0, options: { batch?: boolean; coalesce?: boolean } = {}): MemorySocket {
    if (port === 0) port = this.freePort(address);
    if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) {
      throw new RangeError(`port must be 1..65535, got ${port}`);
    }
    const key = endpointKey(address, port);
    if (this.sockets.has(key)) {
      const e = new Error(`bind EADDRINUSE ${address}:${port}`) as Error & { code: string };
      e.code = 'EADDRINUSE';
      throw e;
    }
    const local: SockAddr = { family: familyOf(address), address, port };
    const s = options.batch
      ? new MemoryBatchSocket(this, local, options.coalesce === true)
      : new MemorySocket(this, local);
    this.sockets.set(key, s);
    return s;
  }

  /**
   * Makes `s` reachable at a second endpoint of the other family too, as a dual-stack socket is over IPv4 and
   * IPv6; what it sends to that family leaves from there. Throws when the endpoint is taken.
   */
  alias(address: string, port: number, s: MemorySocket): void {
    const key = endpointKey(address, port);
    if (this.sockets.has(key)) throw new Error(`bind EADDRINUSE ${address}:${port}`);
    this.sockets.set(key, s);
    this.aliases.set(s, { family: familyOf(address), address, port });
  }

  /** The socket bound at an endpoint, if any. */
  socketAt(address: string, port: number): MemorySocket | undefined {
    return this.sockets.get(endpointKey(address, port));
  }

  /** Puts the IPv4 prefix `a.b.c.d/len` behind a NAT whose public address is `publicAddress`. */
  addNat(privatePrefix: string, publicAddress: string, options: NatOptions = {}): MemoryNat {
    const nat = new MemoryNat(privatePrefix, publicAddress, options);
    this.nats.push(nat);
    return nat;
  }

  /** Adds a drop rule; returns a function that removes it. */
  addDropRule(rule: DropRule): () => void {
    this.rules.push(rule);
    return () => {
      const i = this.rules.indexOf(rule);
      if (i >= 0) this.rules.splice(i, 1);
    };
  }

  /**
   * Drops everything between two hosts (addresses, any port, both directions). An address matches a datagram
   * when it is the sender's private or translated address, or the addressed or delivered destination.
   */
  blackhole(a: string, b: string): () => void {
    const has = (addr: string, x: SockAddr, y: SockAddr): boolean => x.address === addr || y.address === addr;
    return this.addDropRule(
      (d) =>
        (has(a, d.from, d.wireFrom) && has(b, d.to, d.deliverTo)) ||
        (has(b, d.from, d.wireFrom) && has(a, d.to, d.deliverTo)),
    );
  }

  /** Sees every datagram after routing, with the reason when it was dropped. Returns a remover. */
  observe(fn: (d: MemoryDatagram, dropped: DropReason | undefined) => void): () => void {
    this.observers.push(fn);
    return () => {
      const i = this.observers.indexOf(fn);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  /** Queues a raw datagram as if it arrived from `from` at `to` (inbound NAT and drop rules apply). */
  inject(from: SockAddr, to: SockAddr, data: Uint8Array): void {
    this.enqueue({ from: { ...from }, to: { ...to }, data: Buffer.from(data), sender: undefined });
  }

  /** Datagrams queued and not yet delivered. */
  get pending(): number {
    return this.queue.length - this.queueHead;
  }

  /** Delivers every queued datagram now, including the ones handlers send meanwhile. */
  flush(): void {
    if (this.draining) return;
    this.draining = true;
    let firstError: unknown;
    let n = 0;
    try {
      while (this.queueHead < this.queue.length) {
        if (++n > this.maxDeliveries) {
          throw new Error(`MemoryNetwork: more than ${this.maxDeliveries} datagrams in one drain (a loop?)`);
        }
        const q = this.queue[this.queueHead];
        this.queue[this.queueHead++] = undefined as unknown as Queued;
        try {
          this.route(q);
        } catch (e) {
          firstError ??= e;
        }
      }
    } finally {
      this.queue.length = 0;
      this.queueHead = 0;
      this.draining = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    if (firstError !== undefined) throw firstError;
  }

  /** Resolves once the queue is empty (in microtask mode). Handy as `await net.settle()`. */
  settle(): Promise<void> {
    if (this.pending === 0 && !this.draining) return Promise.resolve();
    if (this.delivery === 'manual') {
      this.flush();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** @internal Called by MemorySocket.send. */
  sendFrom(sender: MemorySocket, buf: Uint8Array, offset: number, length: number, to: SockAddr): void {
    // The caller may reuse its buffer once send returns, so the bytes are copied now.
    const data = Buffer.allocUnsafe(length);
    data.set(buf.subarray(offset, offset + length));
    this.enqueue({ from: sender.local, to: { ...to }, data, sender });
  }

  /** @internal Called by MemorySocket.close. */
  unbind(s: MemorySocket): void {
    const key = endpointKey(s.local.address, s.local.port);
    if (this.sockets.get(key) === s) this.sockets.delete(key);
    const alias = this.aliases.get(s);
    if (alias !== undefined) {
      this.sockets.delete(endpointKey(alias.address, alias.port));
      this.aliases.delete(s);
    }
  }

  private enqueue(q: Queued): void {
    this.stats.sent++;
    this.queue.push(q);
    if (this.delivery === 'microtask' && !this.scheduled && !this.draining) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  private route(q: Queued): void {
    let wireFrom = q.from;
    const alias = q.sender === undefined ? undefined : this.aliases.get(q.sender);
    if (alias !== undefined && alias.family === familyOf(q.to.address)) wireFrom = { ...alias };
    let deliverTo: SockAddr | undefined = q.to;
    let reason: DropReason | undefined;
    if (q.sender?.closed) reason = DropReason.CLOSED;
    if (q.data.length > this.maxDatagramBytes) reason ??= DropReason.TOO_BIG;
    if (q.sender !== undefined) {
      for (const nat of this.nats) {
        if (nat.isInside(q.from.address) && !nat.isInside(q.to.address)) {
          wireFrom = nat.outbound(q.from, q.to);
          break;
        }
      }
    }
    for (const nat of this.nats) {
      if (nat.publicAddress === q.to.address) {
        deliverTo = nat.inbound(wireFrom, q.to);
        if (deliverTo === undefined) reason ??= DropReason.NAT;
        break;
      }
    }
    const d: MemoryDatagram = {
      from: q.from,
      to: q.to,
      wireFrom,
      deliverTo: deliverTo ?? q.to,
      data: q.data,
    };
    if (reason === undefined) {
      for (const rule of this.rules) {
        if (rule(d)) {
          reason = DropReason.RULE;
          break;
        }
      }
    }
    const target =
      reason === undefined ? this.sockets.get(endpointKey(d.deliverTo.address, d.deliverTo.port)) : undefined;
    if (reason === undefined && target === undefined) reason = DropReason.NO_SOCKET;
    for (const o of this.observers) o(d, reason);
    if (reason !== undefined || target === undefined) {
      this.stats.dropped[reason ?? DropReason.NO_SOCKET]++;
      return;
    }
    this.stats.delivered++;
    target.receive(q.data, wireFrom);
  }

  private freePort(address: string): number {
    for (let tries = 0; tries <= MAX_PORT - FIRST_EPHEMERAL_PORT; tries++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p >= MAX_PORT ? FIRST_EPHEMERAL_PORT : p + 1;
      if (!this.sockets.has(endpointKey(address, p))) return p;
    }
    throw new RangeError(`no free port on ${address}`);
  }
}

/** A UDP socket on a MemoryNetwork. `from` objects given to the handler are fresh and may be kept. */
export class MemorySocket implements UdpSocket {
  readonly local: SockAddr;
  readonly stats = { sent: 0, received: 0, receivedWithoutHandler: 0, sendAfterClose: 0 };
  closed = false;
  private handler: ((data: Buffer, from: SockAddr) => void) | undefined;
  private readonly network: MemoryNetwork;

  constructor(network: MemoryNetwork, local: SockAddr) {
    this.network = network;
    this.local = local;
  }

  onDatagram(handler: (data: Buffer, from: SockAddr) => void): void {
    this.handler = handler;
  }

  send(buf: Uint8Array, offset: number, length: number, to: SockAddr): void {
    if (this.closed) {
      this.stats.sendAfterClose++;
      return;
    }
    this.stats.sent++;
    this.network.sendFrom(this, buf, offset, length, to);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.network.unbind(this);
  }

  /** @internal Called by the network for a datagram routed here. */
  receive(data: Buffer, from: SockAddr): void {
    if (this.handler === undefined) {
      this.stats.receivedWithoutHandler++;
      return;
    }
    this.stats.received++;
    this.handler(data, { family: from.family, address: from.address, port: from.port });
  }
}

/** A MemorySocket with the batch extension, for testing protocol code's BatchUdpSocket path. */
export class MemoryBatchSocket extends MemorySocket implements BatchUdpSocket {
  private batchHandler: ((batch: DatagramBatch) => void) | undefined;
  private readonly batch: DatagramBatch;
  /** Datagrams routed here and not yet handed over: like recvmmsg, everything that arrived together goes as one batch. */
  private readonly pending: { data: Buffer; from: SockAddr }[] = [];
  private scheduled = false;
  private readonly coalesce: boolean;

  /**
   * `coalesce`: datagrams that arrive in one network drain are handed over together (up to 64 a batch, as recvmmsg
   * does under load); otherwise each datagram is a batch of its own, at once.
   */
  constructor(network: MemoryNetwork, local: SockAddr, coalesce = false) {
    super(network, local);
    this.coalesce = coalesce;
    const stride = FRAME_HEADROOM_BYTES + MAX_BATCH_DATAGRAM_BYTES;
    this.batch = {
      slab: Buffer.alloc(stride * MEMORY_UDP_BATCH),
      count: 0,
      stride,
      headroom: FRAME_HEADROOM_BYTES,
      lengths: new Uint32Array(MEMORY_UDP_BATCH),
      addrs: new Uint8Array(SOCKADDR_BYTES * MEMORY_UDP_BATCH),
    };
  }

  onDatagrams(handler: (batch: DatagramBatch) => void): void {
    this.batchHandler = handler;
    super.onDatagram((data, from) => {
      if (!this.coalesce) {
        this.deliverOne(data, from);
        return;
      }
      this.pending.push({ data, from });
      if (this.scheduled) return;
      this.scheduled = true;
      queueMicrotask(this.drain);
    });
  }

  /** Hands the pending datagrams over in batches of up to MEMORY_UDP_BATCH (larger ones alone, in a slab of their own). */
  private readonly drain = (): void => {
    this.scheduled = false;
    while (this.pending.length > 0 && this.batchHandler !== undefined) {
      const b = this.batch;
      let n = 0;
      while (n < MEMORY_UDP_BATCH && this.pending.length > 0) {
        const d = this.pending[0];
        if (d.data.length > MAX_BATCH_DATAGRAM_BYTES) {
          if (n > 0) break;
          this.pending.shift();
          this.deliverLarge(d.data, d.from);
          continue;
        }
        this.pending.shift();
        b.slab.set(d.data, n * b.stride + b.headroom);
        b.lengths[n] = d.data.length;
        encodeSockAddr(d.from, b.addrs, n * SOCKADDR_BYTES);
        n++;
      }
      if (n === 0) continue;
      b.count = n;
      try {
        this.batchHandler(b);
      } finally {
        b.count = 0;
        b.slab.fill(POISON_BYTE);
      }
    }
    this.pending.length = 0;
  };

  /** One datagram as a batch of one, at once. */
  private deliverOne(data: Buffer, from: SockAddr): void {
    if (data.length > MAX_BATCH_DATAGRAM_BYTES) {
      this.deliverLarge(data, from);
      return;
    }
    const b = this.batch;
    b.slab.set(data, b.headroom);
    b.lengths[0] = data.length;
    encodeSockAddr(from, b.addrs, 0);
    b.count = 1;
    try {
      this.batchHandler?.(b);
    } finally {
      b.count = 0;
      b.slab.fill(POISON_BYTE, 0, b.headroom + data.length);
    }
  }

  /** A datagram larger than a slot (tests of oversized input): a one-datagram batch in a slab of its own. */
  private deliverLarge(data: Buffer, from: SockAddr): void {
    const slab = Buffer.alloc(FRAME_HEADROOM_BYTES + data.length);
    slab.set(data, FRAME_HEADROOM_BYTES);
    const addrs = new Uint8Array(SOCKADDR_BYTES);
    encodeSockAddr(from, addrs, 0);
    this.batchHandler?.({
      slab,
      count: 1,
      stride: slab.length,
      headroom: FRAME_HEADROOM_BYTES,
      lengths: Uint32Array.of(data.length),
      addrs,
    });
  }

  override onDatagram(handler: (data: Buffer, from: SockAddr) => void): void {
    this.batchHandler = undefined;
    super.onDatagram(handler);
  }

  sendBatch(
    buf: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    addrs: Uint8Array,
    count: number,
  ): number {
    for (let i = 0; i < count; i++)
      this.send(buf, offsets[i], lengths[i], decodeSockAddr(addrs, i * SOCKADDR_BYTES));
    return this.closed ? 0 : count;
  }
}

export interface MemoryTapOptions {
  name?: string;
  mac?: number;
  mtu?: number;
  addr?: number;
  bitlen?: number;
  /** Frames per batch handed to the handler; longer injections are split. Default 64. */
  maxBatch?: number;
  /** Overwrite the slab after each handler call, to catch code that keeps views into it. Default true. */
  poison?: boolean;
  /** Keep copies of the frames written (takeWritten); false only counts them, allocating nothing. Default true. */
  keep?: boolean;
}

/** Default MTU of an n2n edge's TAP device (n2n.h DEFAULT_MTU). */
const DEFAULT_TAP_MTU = 1290;
const DEFAULT_MAX_BATCH = 64;

/**
 * A TAP device in memory. `inject` hands frames to the protocol as one batch, synchronously, exactly as the
 * real device lays them out (fixed stride, headroom in front); `written` collects what the protocol wrote.
 */
export class MemoryTap implements TapDevice {
  readonly info: TapInfo;
  /** Copies of every frame the protocol wrote, in order. */
  readonly written: Uint8Array[] = [];
  /** Called with each written frame (after it is added to `written`). */
  onWrite: ((frame: Uint8Array) => void) | undefined;
  /** When false, `write` behaves like a full kernel queue: drops and returns false. */
  writable = true;
  readonly stats = { injected: 0, batches: 0, droppedWithoutHandler: 0, written: 0, writeDropped: 0 };
  closed = false;
  private handler: ((batch: FrameBatch) => void) | undefined;
  private readonly batch: FrameBatch;
  private readonly poison: boolean;
  private readonly keep: boolean;
  private readonly maxBatch: number;

  constructor(options: MemoryTapOptions = {}) {
    this.info = {
      name: options.name ?? 'mem0',
      mac: options.mac ?? 0,
      mtu: options.mtu ?? DEFAULT_TAP_MTU,
      addr: options.addr ?? 0,
      bitlen: options.bitlen ?? 0,
    };
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.poison = options.poison ?? true;
    this.keep = options.keep ?? true;
    const stride = FRAME_HEADROOM_BYTES + MAX_FRAME_BYTES;
    this.batch = {
      slab: Buffer.alloc(stride * this.maxBatch),
      count: 0,
      stride,
      headroom: FRAME_HEADROOM_BYTES,
      lengths: new Uint32Array(this.maxBatch),
    };
  }

  onFrames(handler: (batch: FrameBatch) => void): void {
    this.handler = handler;
  }

  /** Delivers frames to the handler as if the kernel had queued them; one batch per `maxBatch` frames. */
  inject(frames: Uint8Array | readonly Uint8Array[]): void {
    const list = frames instanceof Uint8Array ? [frames] : frames;
    for (let start = 0; start < list.length; start += this.maxBatch) {
      if (this.closed) return;
      const b = this.batch;
      const n = Math.min(this.maxBatch, list.length - start);
      for (let i = 0; i < n; i++) {
        const f = list[start + i];
        if (f.length > MAX_FRAME_BYTES)
          throw new RangeError(`frame of ${f.length} bytes > ${MAX_FRAME_BYTES}`);
        b.slab.set(f, i * b.stride + b.headroom);
        b.lengths[i] = f.length;
      }
      b.count = n;
      this.stats.injected += n;
      if (this.handler === undefined) {
        this.stats.droppedWithoutHandler += n;
        continue;
      }
      this.stats.batches++;
      try {
        this.handler(b);
      } finally {
        if (this.poison) b.slab.fill(POISON_BYTE, 0, n * b.stride);
        b.count = 0;
      }
    }
  }

  write(buf: Uint8Array, offset: number, length: number): boolean {
    if (this.closed || !this.writable) {
      this.stats.writeDropped++;
      return false;
    }
    if (!this.keep) {
      this.stats.written++;
      return true;
    }
    // A copy: Buffer#slice would be a view into the caller's reusable buffer.
    const frame = Uint8Array.prototype.slice.call(buf, offset, offset + length);
    this.written.push(frame);
    this.stats.written++;
    this.onWrite?.(frame);
    return true;
  }

  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    let n = 0;
    for (let i = 0; i < count; i++) if (this.write(buf, offsets[i], lengths[i])) n++;
    return n;
  }

  /** Removes and returns everything written so far. */
  takeWritten(): Uint8Array[] {
    return this.written.splice(0, this.written.length);
  }

  setAddress(addr: number, bitlen: number): void {
    this.info.addr = addr >>> 0;
    this.info.bitlen = bitlen;
  }

  close(): void {
    this.closed = true;
    this.handler = undefined;
  }
}
