// The one loader of the native addon (native/build/Release/tsn2n_io.node) and the typed surface of everything it exports.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `ifGetInfo` reads back from the kernel. */
export interface NativeIfInfo {
  index: number;
  /** 48-bit MAC as a number. */
  mac: number;
  mtu: number;
  /** IFF_* flags (IFF_UP = 1). */
  flags: number;
  txQueueLen: number;
  /** IPv4 address and netmask as u32, 0 when the interface has none. */
  addr: number;
  netmask: number;
}

/**
 * Owns a non-blocking fd (closed by `close`). When the fd is readable it reads every ready frame (TAP) or
 * datagram (UDP, recvmmsg) into the slab given at construction, then calls `onBatch(count, err)` once.
 * `err` is 0 or a negative errno. No call happens after `close()`.
 */
export interface NativeFdPoller {
  readonly fd: number;
  readonly closed: boolean;
  start(): void;
  stop(): void;
  close(): void;
  /**
   * Offer each batch first to the edge's native fast path or (UDP) the supernode's native relay (null: no longer);
   * absent in older builds.
   */
  setFastPath?(fast: NativeFastPath | NativeSnRelay | null): void;
}

/** The supernode's native relay (native/src/snrelay.cc); io/snrelay.ts wraps it. */
export interface NativeSnRelay {
  configure(udpFd: number): void;
  setEnabled(on: boolean): void;
  /**
   * An edge: its community's 20-byte field, its MAC, its IPv4 socket (address and port big-endian), the community's
   * header key (null: plain headers) and the edge's replay record slot (-H; else -1). True when the table was full
   * and everything taught before was forgotten first.
   */
  learn(
    community20: Uint8Array,
    mac: Uint8Array,
    socket: Uint8Array,
    headerKey: NativeHeaderKey | null,
    slot: number,
  ): boolean;
  /** Every edge and community taught so far. */
  forget(): void;
  /** -H: the stamp generator's state, the replay records (36 words a slot) and a raised flag per slot, plus one. */
  configureHeader(stampState: Uint32Array, records: Uint32Array, dirty: Uint8Array): void;
}

/** The edge's native fast path (native/src/fastpath.cc); io/fastpath.ts wraps it. */
export interface NativeFastPath {
  configure(
    tapFd: number,
    udpFd: number,
    community20: Uint8Array,
    ownMac: Uint8Array,
    transform: number,
    key: NativeCipherKey,
    devAddr: number,
    allowRouting: boolean,
  ): void;
  /** 20 bytes a peer (io/fastpath.ts FastPathPort.setPeers). */
  setPeers(table: Uint8Array, count: number): void;
  /** The relayed peers (20 bytes each, as setPeers), the supernode's IPv4 and port (6 bytes; null: off), counters. */
  setRelay(
    table: Uint8Array,
    count: number,
    supernode: Uint8Array | null,
    stats: Float64Array,
    snRecord?: Uint32Array,
  ): void;
  /** -H on with a headerKey handle (null: off), the stamp generator's state and the replay records (shared). */
  configureHeader(key: NativeHeaderKey | null, stampState?: Uint32Array, records?: Uint32Array): void;
  setEnabled(rx: boolean, tx: boolean): void;
}

export const PollKind = { TAP: 0, UDP: 1 } as const;
export type PollKind = (typeof PollKind)[keyof typeof PollKind];

/** Cipher kinds of `cipherKey` (the n2n transform ids, spec §5.1). */
export const CipherKind = { TWOFISH: 2, AES: 3, CHACHA20: 4, SPECK: 5 } as const;
export type CipherKind = (typeof CipherKind)[keyof typeof CipherKind];

/** An opaque key handle made by `cipherKey` (an External); freed by the garbage collector. */
export type NativeCipherKey = { readonly __nativeCipherKey: unique symbol };

/** An opaque header-encryption key pair made by `headerKey`; freed by the garbage collector. */
export type NativeHeaderKey = { readonly __nativeHeaderKey: unique symbol };

export interface NativeAddon {
  /**
   * Opens /dev/net/tun as TAP (IFF_TAP|IFF_NO_PI, O_NONBLOCK); name "" or with %d lets the kernel pick. With
   * `offload` the fd carries a virtio-net header and the device takes checksum offload and TSO; reads then cut TSO
   * frames into MTU frames and writes merge TCP runs, inside the addon (frames in JS look the same either way).
   * `offload` in the result: whether the kernel took the offloads.
   */
  tapOpen(name: string, offload?: boolean): { fd: number; name: string; offload: boolean };
  ifSetMac(name: string, mac: number): void;
  ifSetMtu(name: string, mtu: number): void;
  ifSetTxQueueLen(name: string, frames: number): void;
  /** Sets the IPv4 address, netmask and broadcast; 0/0 removes the address. */
  ifSetIpv4(name: string, addr: number, bitlen: number): void;
  ifSetUp(name: string, up: boolean): void;
  ifGetInfo(name: string): NativeIfInfo;
  /** setns(fd, CLONE_NEWNET) for the calling thread; root tests use it to work inside a fresh namespace. */
  setNetns(fd: number): void;
  closeFd(fd: number): void;

  /** One write(); returns bytes written or a negative errno (-EAGAIN: queue full). */
  writeFrame(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** One write() per frame i = buf[offsets[i], +lengths[i]); returns how many the kernel accepted. */
  writeFrames(fd: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  /** Synchronous batch read into the slab layout; returns the frame count or a negative errno. */
  readFrames(fd: number, slab: Uint8Array, stride: number, headroom: number, lengths: Uint32Array): number;
  /** Bytes per encoded socket address (see encodeSockAddr in udp-native.ts). */
  readonly ADDR_STRIDE: number;
  /** True when IPv4-mapped sources of a dual-stack socket arrive as IPv4 entries (absent in older builds). */
  readonly ADDR_V4_MAPPED_AS_V4?: boolean;

  /**
   * setsockopt for IP TTL / TOS / path-MTU discovery (DF), on IPv6 sockets the IPv6 twin and, best effort, IPv4;
   * 'gso' 0/1: send runs of equal-size datagrams of a batch as one UDP GSO message (on by default where the
   * kernel has it); 'gro' 0/1: let the kernel coalesce received datagrams (split again by the poller; best effort).
   */
  udpSetOption(fd: number, family: 4 | 6, name: 'ttl' | 'tos' | 'pmtud' | 'gso' | 'gro', value: number): void;
  /** Binds a non-blocking UDP socket (IPv6 dual-stack); buffer sizes 0 keep the kernel default. */
  udpOpen(
    family: 4 | 6,
    address: string,
    port: number,
    rcvbufBytes: number,
    sndbufBytes: number,
  ): { fd: number; address: string; port: number };
  /** sendto() of buf[offset, +length) to the address entry `index` of `addrs`; bytes or a negative errno. */
  udpSend(
    fd: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    addrs: Uint8Array,
    index: number,
  ): number;
  /**
   * sendmmsg() of datagram i = buf[offsets[i], +lengths[i]) to address entry i; returns how many were accepted.
   * Consecutive datagrams to one address with equal lengths (the last may be shorter) go as one UDP GSO message.
   */
  udpSendBatch(
    fd: number,
    buf: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    addrs: Uint8Array,
    count: number,
  ): number;

  /**
   * Keys a cipher core (native/src/crypto.cc). material[off, +len): Speck a 16/32-byte key; Twofish the expanded
   * key of crypto/twofish.ts (40 subkey words, then the 4 x 256 table words, LE32: 4256 bytes); AES a 16/24/32-byte
   * key; ChaCha20 a 32-byte key. RangeError for another length.
   */
  cipherKey(kind: CipherKind, material: Uint8Array, off: number, len: number): NativeCipherKey;
  /**
   * CBC over src[srcOff, +len) (len a multiple of 16) into dst[dstOff, +len) with the IV iv[ivOff, +16), for a
   * Twofish or AES key. dst is exactly the input range or does not overlap it. Throws RangeError / TypeError.
   */
  cbcEncrypt(
    key: NativeCipherKey,
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv: Uint8Array,
    ivOff: number,
  ): void;
  cbcDecrypt(
    key: NativeCipherKey,
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv: Uint8Array,
    ivOff: number,
  ): void;
  /**
   * XORs the keystream for the 16-byte IV iv[ivOff..] into dst, for a Speck key (n2n CTR: the low LE64 word of the
   * IV counts, no carry) or a ChaCha20 key (n2n: LE32 block counter || nonce, the counter wraps without carry).
   * The IV is read before anything is written.
   */
  streamXor(
    key: NativeCipherKey,
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv: Uint8Array,
    ivOff: number,
  ): void;
  /**
   * The n2n payload transform of a Speck, ChaCha20, Twofish or AES key (spec §5.5-§5.7, the framing of
   * transform/payload.ts) over a batch: payload i = src[srcOffs[i], +lens[i]) (at most 2048 bytes) becomes
   * random[16 i, +16) (the IV, or the random first block of CBC) || ciphertext at dst[dstOffs[i]], and
   * outLens[i] = 16 + lens[i]. Output in place (16 bytes in front of the input) or apart. Throws RangeError /
   * TypeError before writing anything when a range or argument is wrong.
   */
  payloadEncrypt(
    key: NativeCipherKey,
    src: Uint8Array,
    srcOffs: Uint32Array,
    lens: Uint32Array,
    dst: Uint8Array,
    dstOffs: Uint32Array,
    count: number,
    random: Uint8Array,
    outLens: Uint32Array,
  ): void;
  /**
   * The inverse over a batch: outLens[i] = the plaintext length written at dst[dstOffs[i]] (lens[i] − 16), or
   * 0xffffffff when payload i is invalid (shorter than 16 bytes, over 2048 + 16, bad CTS padding). Output in place
   * (16 bytes behind the input) or apart.
   */
  payloadDecrypt(
    key: NativeCipherKey,
    src: Uint8Array,
    srcOffs: Uint32Array,
    lens: Uint32Array,
    dst: Uint8Array,
    dstOffs: Uint32Array,
    count: number,
    random: null,
    outLens: Uint32Array,
  ): void;
  /**
   * Which Speck path runs ('avx2' or 'portable'), the -H hash's ('avx512' or 'portable'), the AES encryption lanes
   * ('vaes', 'aesni' or 'openssl') and the OpenSSL version behind AES and ChaCha20.
   */
  cryptoInfo(): { speck: string; pearson: string; aesLanes: string; openssl: string };

  /** Expands the header-encryption key pair Kh, Kiv (16 bytes each, Speck128/128; native/src/header.cc). */
  headerKey?(kh: Uint8Array, kiv: Uint8Array): NativeHeaderKey;
  /** Encrypts the header of buf[off, +len) in place (spec §7.3); hl in [24, len]. Throws RangeError / TypeError. */
  headerSeal?(
    key: NativeHeaderKey,
    buf: Uint8Array,
    off: number,
    len: number,
    hl: number,
    stampHi: number,
    stampLo: number,
    rand: number,
  ): void;
  /**
   * Tries to decrypt the header of buf[off, +len) in place (spec §7.4): true with out = {stamp hi, stamp lo, hl};
   * false leaves the buffer byte-identical.
   */
  headerOpen?(
    key: NativeHeaderKey,
    buf: Uint8Array,
    off: number,
    len: number,
    community20: Uint8Array,
    out: Uint32Array,
  ): boolean;
  /**
   * Seals datagram i = buf[offs[i], +lens[i]) for i < count like headerSeal with hls[i], stamp (stamps[2i],
   * stamps[2i+1]) and rands[i]; up to 32 datagrams' checksums and header blocks are computed together. Every range
   * is checked first.
   */
  headerSealBatch?(
    key: NativeHeaderKey,
    buf: Uint8Array,
    offs: Uint32Array,
    lens: Uint32Array,
    hls: Uint32Array,
    stamps: Uint32Array,
    rands: Uint32Array,
    count: number,
  ): void;
  /**
   * headerOpen for datagram i = buf[offs[i], +lens[i]) (ranges not overlapping), i < count: out[4i] = 1 and
   * out[4i+1..3] = {stamp hi, stamp lo, hl} when it opens, out[4i] = 0 and the datagram untouched when not; up to 32
   * datagrams' checksums and header blocks together. Every range is checked first.
   */
  headerOpenBatch?(
    key: NativeHeaderKey,
    buf: Uint8Array,
    offs: Uint32Array,
    lens: Uint32Array,
    community20: Uint8Array,
    out: Uint32Array,
    count: number,
  ): void;
  /** The fast path over `stats` (8 totals, then 4 per peer slot); absent in older builds. */
  FastPath?: new (
    stats: Float64Array,
  ) => NativeFastPath;
  /** The supernode's relay over `stats` (taken, forwarded, last forward Unix s, send drops); absent in older builds. */
  SnRelay?: new (
    stats: Float64Array,
  ) => NativeSnRelay;
  /** Pearson-B 64 of buf[off, +len) into out = {hi, lo} (tests and benchmarks). */
  pearson64?(buf: Uint8Array, off: number, len: number, out: Uint32Array): void;

  /**
   * One datagram `state` to the AF_UNIX SOCK_DGRAM socket `path` (a file system path, or `@name` in the abstract
   * namespace), from a fresh non-blocking socket: systemd's notify protocol (sd_notify(3)). Returns the bytes sent
   * or a negative errno; TypeError for a path that is not absolute or `@…`, or too long for sun_path.
   */
  notifySocket(path: string, state: string): number;

  /** FdPoller objects constructed and not yet garbage-collected (leak checks). */
  livePollers(): number;
  FdPoller: new (
    fd: number,
    kind: PollKind,
    slab: Uint8Array,
    stride: number,
    headroom: number,
    lengths: Uint32Array,
    addrs: Uint8Array | null,
    onBatch: (count: number, err: number) => void,
  ) => NativeFdPoller;
}

/** Thrown when the addon was not built (e.g. `npm install --ignore-scripts`). */
export class AddonMissingError extends Error {
  readonly code = 'ERR_TSN2N_ADDON_MISSING';
  constructor(path: string) {
    super(
      `the native addon is not built (${path} is missing): run \`npm rebuild tsn2n\` or ` +
        '`node-gyp rebuild --directory=native` (needs g++, make and python3)',
    );
    this.name = 'AddonMissingError';
  }
}

const ADDON_RELATIVE = 'native/build/Release/tsn2n_io.node';
/** How far above this file the package root may be: src/io, dist/io, dist-bench/src/io. */
const MAX_LEVELS_UP = 4;

/** The package root is the nearest ancestor holding native/binding.gyp. */
function findAddonPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < MAX_LEVELS_UP; i++) {
    dir = dirname(dir);
    if (existsSync(resolve(dir, 'native/binding.gyp'))) return resolve(dir, ADDON_RELATIVE);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '../..', ADDON_RELATIVE);
}

const ADDON_PATH = findAddonPath();

let cached: NativeAddon | undefined;

/** Loads the addon on first use, so code that only needs the in-memory doubles never requires a build. */
export function loadAddon(): NativeAddon {
  if (cached !== undefined) return cached;
  if (!existsSync(ADDON_PATH)) throw new AddonMissingError(ADDON_PATH);
  const require = createRequire(import.meta.url);
  cached = require(ADDON_PATH) as NativeAddon;
  return cached;
}

/** True when the addon file exists (it may still fail to load on a foreign platform). */
export function addonAvailable(): boolean {
  return existsSync(ADDON_PATH);
}
