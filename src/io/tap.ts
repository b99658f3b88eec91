// The real TAP device: created and configured through the addon, frames read in batches into a reused slab.
import { ConfigError } from '../util/errors.js';
import type { NativeAddon, NativeFastPath, NativeFdPoller, NativeIfInfo } from './addon.js';
import { loadAddon, PollKind } from './addon.js';
import { sharedSlabs } from './pool.js';
import type { FrameBatch, TapDevice, TapInfo } from './types.js';
import { FRAME_HEADROOM_BYTES, MAX_FRAME_BYTES } from './types.js';

/** Frames read per readiness event at most; one JS call per batch. */
export const DEFAULT_TAP_BATCH = 64;
/** Default MTU of an n2n edge's TAP device (n2n.h DEFAULT_MTU). */
export const DEFAULT_TAP_MTU = 1290;
const ETHERNET_HEADER_BYTES = 14;
/** Ethernet header plus one 802.1Q tag. */
const ETHERNET_VLAN_HEADER_BYTES = 18;
/** C n2n's packet buffer (n2n.h N2N_PKT_BUF_SIZE): the smallest frame room we use. */
const MIN_FRAME_ROOM_BYTES = 2048;
/** Smallest MTU Linux accepts for IPv4 (RFC 791), largest the frame layout supports (MAX_FRAME_BYTES − 14). */
const MIN_MTU = 68;
const MAX_MTU = 9000;
/** IFF_UP in the interface flags (linux/if.h). */
const IFF_UP = 0x1;
const EAGAIN = 11;
/** Read errors that mean the fd or the device is gone for good: stop polling. */
const FATAL_READ_ERRNOS: ReadonlySet<number> = new Set([9 /* EBADF */, 77 /* EBADFD */, 19 /* ENODEV */]);
/** Slab rows are aligned to a cache line. */
const CACHE_LINE_BYTES = 64;

export interface TapOptions {
  /** Interface name (max 15 bytes); omitted or '' lets the kernel pick (tapN). */
  name?: string;
  /** 48-bit MAC; omitted keeps the kernel's random one. */
  mac?: number;
  /** Default 1290 (n2n). */
  mtu?: number;
  /** IPv4 address as u32 and prefix length; omitted or 0 leaves the device without an address. */
  addr?: number;
  bitlen?: number;
  /** Bring the link up (default true). */
  up?: boolean;
  /** Kernel transmit queue length of the device in frames (kernel default 500 for TAP). */
  txQueueLen?: number;
  /** Frames per batch (default 64). */
  maxBatch?: number;
  /** Bytes in front of each frame for the receiver's header (default FRAME_HEADROOM_BYTES). */
  headroom?: number;
  /**
   * Largest frame read (longer ones are dropped); default max(MTU + 18, 2048): the MTU plus Ethernet and VLAN
   * headers, and never below the 2048-byte packet buffer C n2n reads into (n2n.h N2N_PKT_BUF_SIZE).
   */
  maxFrameBytes?: number;
  /**
   * Device offloads (default true): the kernel hands over TCP super-frames and leaves checksums to the device;
   * the addon cuts and checksums them, and merges runs of TCP segments written back. Frames seen and written by
   * JS are the same plain Ethernet frames either way; the kernel does far less work per frame.
   */
  offload?: boolean;
}

export interface TapStats {
  framesRead: number;
  batches: number;
  /** Frames read while no handler was set. */
  framesUnhandled: number;
  framesWritten: number;
  /** Frames the kernel refused (queue full or invalid). */
  writeDropped: number;
  readErrors: number;
  /** Batches whose handler threw; the error is kept in `lastError`. */
  handlerErrors: number;
}

function popcount32(v: number): number {
  let n = 0;
  for (let x = v >>> 0; x !== 0; x = (x & (x - 1)) >>> 0) n++;
  return n;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Reads the kernel's view of an interface (index, MAC, MTU, flags, IPv4) through the addon. */
export function readInterface(name: string): NativeIfInfo & { bitlen: number; up: boolean } {
  const i = loadAddon().ifGetInfo(name);
  return { ...i, bitlen: popcount32(i.netmask), up: (i.flags & IFF_UP) !== 0 };
}

/** A kernel TAP device. Create it with `openTap`. */
export class LinuxTap implements TapDevice {
  readonly info: TapInfo;
  readonly stats: TapStats = {
    framesRead: 0,
    batches: 0,
    framesUnhandled: 0,
    framesWritten: 0,
    writeDropped: 0,
    readErrors: 0,
    handlerErrors: 0,
  };
  /** The last error a handler threw or a fatal read error, for diagnostics. */
  lastError: unknown;
  /** Whether the kernel took the device offloads (TapOptions.offload). */
  readonly offload: boolean;
  private readonly addon: NativeAddon;
  private readonly fdNumber: number;
  private readonly batch: FrameBatch;
  private readonly poller: NativeFdPoller;
  private handler: ((batch: FrameBatch) => void) | undefined;
  private polling = false;
  private closed = false;

  /** @internal Use openTap. Takes ownership of `fd`. */
  constructor(addon: NativeAddon, fd: number, name: string, options: TapOptions, offload = false) {
    this.addon = addon;
    this.fdNumber = fd;
    this.offload = offload;
    const maxBatch = options.maxBatch ?? DEFAULT_TAP_BATCH;
    const headroom = options.headroom ?? FRAME_HEADROOM_BYTES;
    const mtu = options.mtu ?? DEFAULT_TAP_MTU;
    const room = options.maxFrameBytes ?? Math.max(mtu + ETHERNET_VLAN_HEADER_BYTES, MIN_FRAME_ROOM_BYTES);
    if (room > MAX_FRAME_BYTES + ETHERNET_VLAN_HEADER_BYTES - ETHERNET_HEADER_BYTES) {
      throw new ConfigError(`frames above ${MAX_FRAME_BYTES} bytes are not supported (asked for ${room})`);
    }
    const stride = roundUp(headroom + room, CACHE_LINE_BYTES);
    this.batch = {
      slab: sharedSlabs.take(stride * maxBatch),
      count: 0,
      stride,
      headroom,
      lengths: new Uint32Array(maxBatch),
    };
    this.poller = new addon.FdPoller(
      fd,
      PollKind.TAP,
      this.batch.slab,
      stride,
      headroom,
      this.batch.lengths,
      null,
      this.onBatch.bind(this),
    );
    this.info = { name, mac: 0, mtu: 0, addr: 0, bitlen: 0 };
  }

  /** @internal The native fast path (io/fastpath.ts) sees each batch first; null detaches it. */
  setFastPath(fast: NativeFastPath | null): boolean {
    if (this.closed || typeof this.poller.setFastPath !== 'function') return false;
    this.poller.setFastPath(fast);
    return true;
  }

  /** @internal The TAP fd, for the native fast path (io/fastpath.ts). */
  fastPathFd(): number {
    return this.fdNumber;
  }

  /** The TAP fd (for benchmarks comparing against fs.read/fs.write); owned by this object. */
  get fd(): number {
    return this.fdNumber;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onFrames(handler: (batch: FrameBatch) => void): void {
    if (this.closed) return;
    this.handler = handler;
    if (!this.polling) {
      this.poller.start();
      this.polling = true;
    }
  }

  /** Stops reading from the kernel (frames queue there, then drop) until `resume`: back-pressure. */
  pause(): void {
    if (!this.polling || this.closed) return;
    this.poller.stop();
    this.polling = false;
  }

  /** Reads again after `pause` (only once a handler is set). */
  resume(): void {
    if (this.polling || this.closed || this.handler === undefined) return;
    this.poller.start();
    this.polling = true;
  }

  write(buf: Uint8Array, offset: number, length: number): boolean {
    if (this.closed) {
      this.stats.writeDropped++;
      return false;
    }
    const n = this.addon.writeFrame(this.fdNumber, buf, offset, length);
    if (n < 0) {
      this.stats.writeDropped++;
      return false;
    }
    this.stats.framesWritten++;
    return true;
  }

  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    if (this.closed) {
      this.stats.writeDropped += count;
      return 0;
    }
    const n = this.addon.writeFrames(this.fdNumber, buf, offsets, lengths, count);
    this.stats.framesWritten += n;
    this.stats.writeDropped += count - n;
    return n;
  }

  setAddress(addr: number, bitlen: number): void {
    if (!Number.isInteger(bitlen) || bitlen < 0 || bitlen > 32) {
      throw new ConfigError(`IPv4 prefix length must be 0..32, got ${bitlen}`);
    }
    this.addon.ifSetIpv4(this.info.name, addr >>> 0, bitlen);
    this.info.addr = addr >>> 0;
    this.info.bitlen = bitlen;
  }

  /** Re-reads name, MAC, MTU and IPv4 from the kernel into `info`. */
  refreshInfo(): TapInfo {
    const k = readInterface(this.info.name);
    this.info.mac = k.mac;
    this.info.mtu = k.mtu;
    this.info.addr = k.addr;
    this.info.bitlen = k.bitlen;
    return this.info;
  }

  /** Stops reading and closes the fd (the kernel removes the device). Idempotent; no handler call afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.poller.close();
    // The poller is closed and will never write into the slab again.
    sharedSlabs.give(this.batch.slab);
  }

  private onBatch(count: number, err: number): void {
    if (err !== 0 && -err !== EAGAIN) {
      this.stats.readErrors++;
      if (FATAL_READ_ERRNOS.has(-err)) {
        this.lastError = new Error(`reading TAP device ${this.info.name} failed: errno ${-err}`);
        this.poller.stop();
        this.polling = false;
      }
    }
    if (count === 0) return;
    const b = this.batch;
    b.count = count;
    this.stats.framesRead += count;
    const h = this.handler;
    if (h === undefined) {
      this.stats.framesUnhandled += count;
      return;
    }
    this.stats.batches++;
    try {
      h(b);
    } catch (e) {
      // Packet path: a throwing handler costs the batch, not the device.
      this.stats.handlerErrors++;
      this.lastError = e;
    }
  }
}

/**
 * Creates a TAP device, sets MAC, MTU and IPv4, brings it up, and reads the result back into `info`.
 * Without root/CAP_NET_ADMIN it throws an Error whose message says so and whose `code` is EPERM.
 */
export function openTap(options: TapOptions = {}): LinuxTap {
  const addon = loadAddon();
  const name = options.name ?? '';
  const mtu = options.mtu ?? DEFAULT_TAP_MTU;
  const bitlen = options.bitlen ?? 0;
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new ConfigError(`TAP MTU must be ${MIN_MTU}..${MAX_MTU}, got ${mtu}`);
  }
  if (!Number.isInteger(bitlen) || bitlen < 0 || bitlen > 32) {
    throw new ConfigError(`IPv4 prefix length must be 0..32, got ${bitlen}`);
  }
  if (options.maxFrameBytes !== undefined && options.maxFrameBytes < mtu + ETHERNET_HEADER_BYTES) {
    throw new ConfigError(`maxFrameBytes ${options.maxFrameBytes} is below MTU ${mtu} + Ethernet header`);
  }
  const opened = addon.tapOpen(name, options.offload ?? true);
  let tap: LinuxTap | undefined;
  try {
    tap = new LinuxTap(addon, opened.fd, opened.name, options, opened.offload === true);
    const ifname = opened.name;
    if (options.mac !== undefined) addon.ifSetMac(ifname, options.mac);
    addon.ifSetMtu(ifname, mtu);
    if (options.txQueueLen !== undefined) addon.ifSetTxQueueLen(ifname, options.txQueueLen);
    if (options.addr !== undefined && options.addr !== 0) addon.ifSetIpv4(ifname, options.addr >>> 0, bitlen);
    if (options.up ?? true) addon.ifSetUp(ifname, true);
    tap.refreshInfo();
    return tap;
  } catch (e) {
    if (tap !== undefined) tap.close();
    else addon.closeFd(opened.fd);
    throw e;
  }
}
