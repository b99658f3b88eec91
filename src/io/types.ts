// The I/O contracts the protocol code is given: a UDP socket and a TAP device, both batch- and offset-aware.
import type { SockAddr } from '../util/ip.js';

/** Room reserved in front of every frame so the PACKET header and cipher preamble are written in place. */
export const FRAME_HEADROOM_BYTES = 128;
/** Largest Ethernet frame we carry (TAP MTU up to 9000 + 14-byte Ethernet header). */
export const MAX_FRAME_BYTES = 9014;

/**
 * A batch of frames read from the TAP device in one native call. Frame i lies at
 * `slab[i * stride + headroom, i * stride + headroom + lengths[i])`; the `headroom` bytes in front of it
 * belong to the receiver, who may write a header there. The slab is reused after the handler returns.
 */
export interface FrameBatch {
  slab: Buffer;
  count: number;
  stride: number;
  headroom: number;
  lengths: Uint32Array;
}

export interface TapInfo {
  name: string;
  mac: number;
  mtu: number;
  /** IPv4 as u32 and prefix, 0/0 when none. */
  addr: number;
  bitlen: number;
}

export interface TapDevice {
  readonly info: TapInfo;
  /** Sets the handler that receives every batch of frames read from the kernel. */
  onFrames(handler: (batch: FrameBatch) => void): void;
  /** Writes one frame `buf[offset, offset+length)` to the kernel; a full queue drops it and returns false. */
  write(buf: Uint8Array, offset: number, length: number): boolean;
  /**
   * Writes frames `buf[offsets[i], offsets[i]+lengths[i])` for i < count, in order; returns how many the kernel
   * accepted (the rest are dropped and counted).
   */
  writeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  /** Reconfigures the address after start (supernode-assigned or DHCP). */
  setAddress(addr: number, bitlen: number): void;
  close(): void;
}

/** One UDP socket. Node's dgram hands each datagram over in a fresh Buffer; we never keep it. */
export interface UdpSocket {
  /** The bound local address. */
  readonly local: SockAddr;
  onDatagram(handler: (data: Buffer, from: SockAddr) => void): void;
  /** Sends `buf[offset, offset+length)`; the buffer may be reused as soon as this returns. */
  send(buf: Uint8Array, offset: number, length: number, to: SockAddr): void;
  close(): void;
}

/**
 * Datagrams received in one native call (recvmmsg). Datagram i lies at
 * `slab[i * stride + headroom, … + lengths[i])`; its source address is encoded at
 * `addrs[i * SOCKADDR_BYTES, …)` (decode with `decodeSockAddr`, or key IPv4 peers with `ipv4SockAddrKey`).
 * The slab and addrs are reused after the handler returns.
 */
export interface DatagramBatch extends FrameBatch {
  addrs: Uint8Array;
}

/** The batch extension of UdpSocket, implemented by the native socket (not by node:dgram). */
export interface BatchUdpSocket extends UdpSocket {
  /** Receives every ready datagram in one call per batch; replaces any onDatagram handler. */
  onDatagrams(handler: (batch: DatagramBatch) => void): void;
  /**
   * Sends datagram i = `buf[offsets[i], offsets[i]+lengths[i])` to the address encoded at
   * `addrs[i * SOCKADDR_BYTES]` (see `encodeSockAddr`), for i < count, in one system call where possible.
   * Returns how many the kernel accepted; the rest are dropped and counted. `buf` may be reused on return.
   */
  sendBatch(
    buf: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    addrs: Uint8Array,
    count: number,
  ): number;
}

export function isBatchUdpSocket(s: UdpSocket): s is BatchUdpSocket {
  return typeof (s as Partial<BatchUdpSocket>).sendBatch === 'function';
}
